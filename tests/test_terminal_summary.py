"""The terminal summary: the report's header first, then numbers formatted for people."""
import re

import pytest

import sim
from sim.report_text import format_summary, net_share


@pytest.fixture(scope="module")
def sharded():
    scn = {"name": "shards", "seed": 3, "duration": "2m", "model": "llama-3-8b",
           "workload": {"arrival": {"process": "poisson", "rate": 2.0},
                        "prompt_tokens": {"dist": "fixed", "value": 200},
                        "output_tokens": {"dist": "fixed", "value": 20}},
           "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 2, "scale": 250000}]},
           "economics": {"gpu_hour_usd": 2.0}}
    return sim.run(scn)


def test_summary_opens_with_what_was_simulated_and_the_verdict(sharded):
    text = format_summary(sharded)
    lines = text.splitlines()
    assert lines[0] == "shards · llama-3-8b · h100-sxm"
    head = " ".join(" ".join(lines[:12]).split())          # the paragraphs are wrapped
    assert "2 × h100-sxm serving llama-3-8b (one of 250,000 identical shards)" in head
    assert "Poisson arrivals at 2 req/s for 2 m" in head
    assert "SLO met" in head and "per million output tokens" in head
    # the shard explained before the verdict, which uses it: 2 replicas of 1 GPU in each of 250,000 shards
    assert "note: Sharded pool main: the pool described is one of 250,000 identical shards (500,000 replicas, " \
           "500,000 GPUs in all)" in head
    assert head.index("note: Sharded") < head.index("SLO met")
    # said once: the statement's own shard note (the economics' caveat) would repeat the header's
    assert sharded.economics.notes == ("pool main simulated as 1 shard x 250000",)
    assert "simulated as 1 shard" not in text and text.count("Sharded pool") == 1
    slo = sharded.summary["slo"]
    assert slo["ttft_s"] >= 1 > slo["tpot_s"]                 # one bound in seconds, one in milliseconds
    bounds = f"SLO (TTFT <= {slo['ttft_s']:g} s, TPOT <= {slo['tpot_s'] * 1000:g} ms)"
    assert bounds in text, text                                  # written as the header writes them


def test_sharded_numbers_say_per_shard_or_whole_fleet_and_never_run_together(sharded):
    text = format_summary(sharded)
    assert "throughput (per shard)" in text and "GPU-hours (whole fleet)" in text
    # 2 replicas x 250,000 shards x 2 min = 16,667 GPU-hours, $33,333.33 at $2/h
    assert "provisioned 16.7k" in text and "compute $33,333.33" in text
    row = next(line for line in text.splitlines() if line.startswith("main "))
    assert row.split() == ["main", "h100-sxm", "2", "250,000", "2.00", "16.7k",
                           row.split()[6], row.split()[7]]
    assert not re.search(r"\d\.\d+e[+-]\d", text)              # no scientific notation anywhere


def test_net_revenue_share_on_both_bases():
    cf = {"revenue_share_net": -491_505_592.29, "cash_revenue_share_net": -321_243_855.86,
          "revenue_share_outstanding": -170_261_736.43}
    assert net_share(cf) == ("paid $492M accrual, paid $321M cash "
                             "(owed to the partner at the end: $170M)")
    assert net_share({"revenue_share_net": 1200.0, "cash_revenue_share_net": 0.0}) == \
        "received $1,200.00 accrual, received $0.00 cash"


def test_net_share_line_appears_only_with_a_revenue_share(sharded):
    assert "revenue share, net" not in format_summary(sharded)
    sharded.summary["cashflow"].update(revenue_share_paid=300.0, revenue_share_received=100.0,
                                       revenue_share_net=-200.0, cash_revenue_share_net=-150.0)
    try:
        assert "revenue share, net  paid $200.00 accrual, paid $150.00 cash" in format_summary(sharded)
    finally:
        sharded.summary["cashflow"].update(revenue_share_paid=0.0, revenue_share_received=0.0,
                                           revenue_share_net=0.0, cash_revenue_share_net=0.0)


def test_the_cost_line_gives_the_cost_per_token_of_both_kinds_and_per_thousand_requests():
    """Every request of 200 prompt and 20 output tokens, all served (``drain``): the bill over the GPU-hours at
    $2 is spread by hand over 20, 220 tokens and 1 request each, labelled so on one line."""
    scn = {"name": "fixed", "seed": 5, "duration": "2m", "warmup": 0, "drain": True, "model": "llama-3-8b",
           "workload": {"arrival": {"process": "poisson", "rate": 2.0},
                        "prompt_tokens": {"dist": "fixed", "value": 200},
                        "output_tokens": {"dist": "fixed", "value": 20}},
           "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]},
           "economics": {"gpu_hour_usd": 2.0}}
    result = sim.run(scn)
    s = result.summary
    n = s["requests"]["completed"]
    assert n == s["requests"]["arrived"] > 100
    bill = 2.0 * s["gpu_hours"]["provisioned"]
    (line,) = [ln for ln in format_summary(result).splitlines() if ln.startswith("cost  ")]
    money = dict((what, float(v)) for v, what in re.findall(
        r"\$([\d.]+) per (million output tokens|million tokens in \+ out|1,000 requests)", line))
    assert money == {"million output tokens": pytest.approx(bill / (20 * n) * 1e6, abs=0.005),
                     "million tokens in + out": pytest.approx(bill / (220 * n) * 1e6, abs=0.005),
                     "1,000 requests": pytest.approx(bill / n * 1000, abs=0.005)}, line


def test_a_fluid_runs_requests_left_at_the_end_read_as_waiting(sharded):
    """The fluid tier counts a request served in a step as completed in it, so its ``requests.in_flight`` is the
    backlog still waiting at the end, where the stability line's "at the end" adds the running ones: "in flight 0"
    beside "(2 at the end)" read as a contradiction; the fluid line says "waiting"."""
    import dataclasses

    line = next(ln for ln in format_summary(sharded).splitlines() if ln.startswith("requests"))
    assert f"in flight {sharded.summary['requests']['in_flight']:,}" in line and "waiting" not in line
    fluid = dataclasses.replace(sharded, summary={**sharded.summary, "engine": "fluid",
                                                  "requests": {**sharded.summary["requests"], "in_flight": 7}})
    line = next(ln for ln in format_summary(fluid).splitlines() if ln.startswith("requests"))
    assert "waiting 7" in line and "in flight" not in line
