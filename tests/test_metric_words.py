"""One table of metric words (sim.metrics.names.METRICS): the run page, the terminal summary and the
planner's sentences say a summary key alike, and a backlog growth within the noise the stability
verdict allows reads as none measured, on the page as in the terminal."""
import html
import re

import numpy as np
import pytest

import sim
from sim.metrics.names import METRICS, POOL_KEYS, heading, name_of, unit_of
from sim.metrics.stability import growth_words, noise_rate, stability
from sim.report import write_report
from sim.report.html_report import RUN_KEYS, RUN_ROWS
from sim.report_text import format_summary


def test_no_two_keys_are_said_alike_and_every_page_row_is_in_the_table():
    words = [w for w, _ in METRICS.values()]
    assert len(set(words)) == len(words)
    assert set(RUN_KEYS) <= set(METRICS) and set(POOL_KEYS.values()) <= set(METRICS)
    assert RUN_ROWS[RUN_KEYS.index("utilization.kv_cache_mean")] == (
        "utilization.kv_cache_mean", "KV cache use (mean)", "%")


def test_the_words_a_planner_reads():
    assert [name_of(k) for k in ("latency.e2e.p99", "utilization.mbu", "cost.per_million_output_tokens",
                                 "pools.main.kv_cache_mean", "classes.chat.latency.queue.p99")] == [
        "end-to-end p99", "MBU", "cost per million output tokens", "KV cache use (mean) of pool main",
        "queue wait p99 of class chat"]
    assert [unit_of(k) for k in ("throughput.output_tokens_per_s", "gpu_hours.busy", "pools.a.gpu_hours_provisioned",
                                 "classes.x.slo.goodput_rps", "latency.itl.mean")] == ["tok/s", "h", "h", "req/s", "s"]
    assert heading("latency.e2e.p99") == "end-to-end p99 (s)" and heading("slo.attainment") == "SLO attainment"


def test_growth_within_the_allowance_reads_none_measurable_and_beyond_it_the_number():
    """Tail window 1,000..2,000 s with 10,000 arrivals in it: the allowance is max(3 sqrt(10,000),
    2 % x 10,000) = 300 requests, 0.3 requests/s over the window. A slope of 0.29/s is within it
    (stable), 0.31/s beyond it (unstable)."""
    t = np.arange(0.0, 2001.0, 10.0)
    below = stability(t, 0.29 * t, arrived=20_000, end_s=2000.0, warmup_s=0.0, in_flight_at_end=580)
    above = stability(t, 0.31 * t, arrived=20_000, end_s=2000.0, warmup_s=0.0, in_flight_at_end=620)
    assert noise_rate(below) == pytest.approx(0.3, rel=1e-12)
    assert (below["verdict"], above["verdict"]) == ("stable", "unstable")
    assert growth_words(below) == "none measurable (< 0.30 req/s)"
    assert growth_words(above) == "0.31 req/s"
    # a drained backlog beyond the noise is a number too, with its sign; one exactly flat is none
    assert growth_words({**below, "backlog_growth_per_s": -0.5}) == "-0.5 req/s"
    assert growth_words({**below, "backlog_growth_per_s": 0.0}) == "none"
    # a summary written before the allowance was reported: the number (this small, per hour: 0.000123 x 3600)
    assert growth_words({"verdict": "stable", "backlog_growth_per_s": 0.000123}) == "0.4428 req/h"


def _run(tmp_path, name: str, rate: float, output: int):
    scn = {"name": name, "seed": 2, "duration": "2m", "warmup": "0s", "model": "llama-3-8b",
           "workload": {"arrival": {"process": "poisson", "rate": rate},
                        "prompt_tokens": {"dist": "fixed", "value": 200},
                        "output_tokens": {"dist": "fixed", "value": output}},
           "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]},
           "economics": {"gpu_hour_usd": 2.0}}
    result = sim.run(scn)
    folder = result.write(tmp_path / name)
    page = html.unescape((write_report(folder, regenerate=False)).read_text(encoding="utf-8"))
    return result, format_summary(result), page


@pytest.mark.parametrize("name, rate, output, stable", [("light", 2.0, 20, True), ("overloaded", 60.0, 2000, False)])
def test_the_page_and_the_terminal_say_the_same(tmp_path, name, rate, output, stable):
    result, text, page = _run(tmp_path, name, rate, output)
    block = result.summary["stability"]
    assert block["stable"] is stable, block
    words = growth_words(block)
    assert (words.startswith("none measurable (< ") and words.endswith(" req/s)")) is stable
    assert f"<td>backlog growth</td><td>{words}</td><td></td>" in page
    peak = f"peak {block['in_flight_peak']:,} in system ({block['in_flight_at_end']:,} at the end)"
    assert f"stability  {block['verdict']}  backlog growth {words}  {peak}" in text.splitlines()
    # every metrics row the page shows is said in the table's words, and the terminal's utilization too
    shown = re.findall(r"<tr><td>([^<]*)</td>", page)
    assert [w for w in (name_of(k) for k in RUN_KEYS) if w in shown] == [w for w in shown if w in
                                                                         {name_of(k) for k in RUN_KEYS}]
    assert {"KV cache use (mean)", "TTFT p99", "end-to-end p99", "cost per million output tokens"} <= set(shown)
    util = next(ln for ln in text.splitlines() if ln.startswith("utilization  "))
    assert "KV cache use (mean) " in util and "GPU busy " in util
    assert "per million output tokens" in next(ln for ln in text.splitlines() if ln.startswith("cost  "))
