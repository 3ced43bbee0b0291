"""Reports: latencies from the request table, figures from a result folder, self-contained HTML."""
import argparse
import base64
import csv
import gzip
import json
import html as html_lib
import re

import numpy as np
import pytest

from sim.commands import report as report_cmd
from sim.errors import ScenarioError
from sim.planning import MMcRunner, plan, sweep
from sim.report import write_report, write_run_figures
from sim.report.result_folder import read_requests, request_latencies, time_weighted_mean

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_folder(path):
    """A hand-made result folder: three requests, two pools sampled twice."""
    path.mkdir(parents=True, exist_ok=True)
    rows = [  # arrival, first token, completion, output tokens, class, pool
        (0.0, 0.5, 2.5, 5, "chat", "a"),
        (1.0, 1.2, 1.2, 1, "batch", "b"),
        (2.0, "", "", 4, "chat", "a"),         # still waiting when the run ended
    ]
    with gzip.open(path / "requests.csv.gz", "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arrival_s", "first_token_s", "completion_s", "prompt_tokens", "output_tokens",
                    "queue_s", "pool", "replica", "class"])
        for a, f, c, n, cls, pool in rows:
            w.writerow([a, f, c, 100, n, 0.1, pool, 0, cls])
    with open(path / "timeseries.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time_s", "pool", "queue_len", "running", "kv_blocks_used", "busy_frac", "replicas"])
        for t, pool, busy in ((10, "a", 0.5), (10, "b", 1.0), (20, "a", 0.25), (20, "b", 0.0)):
            w.writerow([t, pool, 1, 2, 30, busy, 2])
    return path


def tiny_scenario(duration: str, replicas: int = 1) -> dict:
    """A small simulated run with economics: 2 requests/s of 200/20 tokens on H100s."""
    return {"name": "tiny", "seed": 2, "duration": duration, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "poisson", "rate": 2.0},
                         "prompt_tokens": {"dist": "fixed", "value": 200},
                         "output_tokens": {"dist": "fixed", "value": 20}},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": replicas}]},
            "economics": {"gpu_hour_usd": 2.0}}


def test_latencies_from_the_request_table_match_hand_arithmetic(tmp_path):
    lat = request_latencies(read_requests(write_folder(tmp_path / "run")))
    assert lat["ttft"].tolist() == pytest.approx([0.5, 0.2])            # unfinished request left out
    assert lat["e2e"].tolist() == pytest.approx([2.5, 0.2])
    assert lat["tpot"].tolist() == pytest.approx([(2.5 - 0.5) / 4])    # one-token request has no TPOT


def test_time_weighted_mean_of_a_step_series():
    # values 1, 0, 1 held for 10 s, 20 s and (median spacing) 15 s
    assert time_weighted_mean(np.array([0.0, 10.0, 30.0]), np.array([1.0, 0.0, 1.0])) == pytest.approx(25 / 45)


def test_run_figures_are_written_as_png_and_svg(tmp_path):
    folder = write_folder(tmp_path / "run")
    notes = []
    paths = write_run_figures(folder, notes)
    names = {p.name for p in paths}
    for stem in ("latency_cdf", "timeseries", "utilization"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths if p.suffix == ".png")
    assert any("cash-flow" in n for n in notes)                       # no cashflow: skipped, said why
    assert sorted(p.name for p in (folder / "figures").iterdir()) == sorted(names)   # no temporaries left
    first = [p.read_bytes() for p in paths]
    assert [p.read_bytes() for p in write_run_figures(folder)] == first   # same data, same bytes


def assert_self_contained(html: str):
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", html)   # nothing fetched from elsewhere
    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert imgs
    for b64 in imgs:
        assert base64.b64decode(b64)[:8] == PNG_MAGIC
    return imgs


def test_report_of_a_simulated_run_embeds_figures_and_key_numbers(tmp_path):
    from sim.api import run

    scn = tiny_scenario("3m", replicas=2)
    scn["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 0.0001}
    out = tmp_path / "run"
    run(scn).write(out)
    stems = ["cashflow", "latency_cdf", "timeseries", "utilization"]
    assert sorted(p.name for p in (out / "figures").iterdir()) == [f"{s}.svg" for s in stems]   # quick-look
    html = write_report(out).read_text()                    # redrawn with matplotlib: PNG and SVG
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        [f"{s}.png" for s in stems] + [f"{s}.svg" for s in stems])
    imgs = assert_self_contained(html)
    assert len(imgs) == 4
    summary = json.loads((out / "summary.json").read_text())
    assert f"{summary['latency']['ttft']['p99']:.4g}" in html
    assert "compute cost" in html


def test_report_without_regenerating_embeds_the_quick_look_svgs_of_a_run(tmp_path):
    from sim.api import run

    scn = tiny_scenario("2m")
    out = tmp_path / "run"
    run(scn).write(out)                                          # SVG figures only
    html = write_report(out, regenerate=False).read_text()
    svgs = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(svgs) == 4 and all(base64.b64decode(b).startswith(b"<?xml") for b in svgs)
    assert not list((out / "figures").glob("*.png"))             # nothing redrawn
    # in the order a redrawn page has them (latency first, the money last), not by file name
    assert re.findall(r'<img alt="(\w+)"', html) == ["latency_cdf", "timeseries", "utilization", "cashflow"]


def test_report_of_a_sweep_and_of_a_plan(tmp_path):
    base = {"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}}
    sweep(base, ["fleet.pools.0.replicas=11..13"], seeds=2, runner=MMcRunner(service_s=1.0, noise_cv=0.1),
          executor="serial", out=tmp_path / "sweep")
    html = write_report(tmp_path / "sweep").read_text()
    assert_self_contained(html)
    assert "Sweep: 3 configurations × 2 seed(s)" in html and "±" in html
    plan(base, ["fleet.pools.0.replicas=1..32"], constraints=["latency.queue.mean<=0.1"],
         runner=MMcRunner(service_s=1.0), executor="serial", out=tmp_path / "plan")
    html = write_report(tmp_path / "plan").read_text()
    assert_self_contained(html)
    assert "fleet.pools.0.replicas=13" in html                          # Erlang C answer at 10 req/s


@pytest.mark.parametrize("module", ["sim.report.html_page", "sim.report.search_pages", "sim.report.sweep_figures"])
def test_the_examples_in_the_report_page_modules_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_report_command_on_a_folder_without_results_exits_2(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report_cmd.add_arguments(parser)
    assert report_cmd.main(parser.parse_args([str(tmp_path)])) == 2
    assert "no summary.json" in capsys.readouterr().err


def test_cash_flow_chart_is_redrawn_from_the_statement_csv(tmp_path):
    folder = write_folder(tmp_path / "run")
    (folder / "cashflow.csv").write_text(
        "period,start,end,covered_s,partial,after_horizon,revenue_usd,compute_usd,training_usd,"
        "credits_applied_usd,revenue_share_paid_usd,revenue_share_received_usd,cumulative_cash_usd\n"
        "2025-01,2025-01-01,2025-02-01,86400.0,True,False,100.0,40.0,0.0,0.0,20.0,0.0,40.0\n"
        "2025-02,2025-02-01,2025-03-01,86400.0,True,False,100.0,40.0,0.0,0.0,20.0,0.0,80.0\n")
    notes = []
    paths = write_run_figures(folder, notes)
    chart = folder / "figures" / "cashflow.png"
    assert chart in paths and chart.read_bytes()[:8] == PNG_MAGIC and not notes


def test_yearly_cash_flow_is_redrawn_and_a_broken_chart_costs_no_other_figure(tmp_path):
    folder = write_folder(tmp_path / "run")
    header = ("period,start,end,covered_s,partial,after_horizon,revenue_usd,compute_usd,training_usd,"
              "credits_applied_usd,revenue_share_paid_usd,revenue_share_received_usd,cumulative_cash_usd\n")
    (folder / "cashflow.csv").write_text(   # a yearly period's label looks like a number
        header + "2025,2025-01-01,2026-01-01,86400.0,True,False,100.0,40.0,0.0,0.0,20.0,0.0,40.0\n")
    notes = []
    paths = write_run_figures(folder, notes, renderer="svg")
    assert sorted(p.name for p in paths) == ["cashflow.svg", "latency_cdf.svg", "timeseries.svg",
                                             "utilization.svg"] and not notes
    assert ">2025*</text>" in (folder / "figures" / "cashflow.svg").read_text()
    (folder / "cashflow.csv").write_text("period,revenue_usd\n2025-01,1.0\n")    # columns missing
    notes = []
    paths = write_run_figures(folder, notes, renderer="svg")
    assert sorted(p.name for p in paths) == ["latency_cdf.svg", "timeseries.svg", "utilization.svg"]
    assert len(notes) == 1 and notes[0].startswith("cashflow figure not drawn: KeyError")


def test_figures_of_an_earlier_result_are_replaced_and_a_truncated_table_is_named(tmp_path):
    from sim.api import run

    scn = tiny_scenario("2m")
    out = tmp_path / "run"
    result = run(scn)
    result.write(out, figures="png")
    result.write(out)                                   # svg: no PNG of the earlier write is left
    assert sorted(p.suffix for p in (out / "figures").iterdir()) == [".svg"] * 4
    result.write(out, figures="none")
    assert not (out / "figures").exists()               # the folder is replaced whole: no figure left
    # a truncated requests.csv.gz is not drawn from: the error names it (tests/test_report_bad_folder.py)
    data = (out / "requests.csv.gz").read_bytes()
    (out / "requests.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ScenarioError, match=r"requests\.csv\.gz: cannot be read \(EOFError"):
        write_run_figures(out, renderer="svg")


# ------------------------------------------------------------------------------ the report's header
def _summary(**extra):
    s = {"scenario": "tiny", "seed": 2, "simulated_seconds": 7200.0,
         "slo": {"attainment": 0.995, "ttft_s": 2.0, "tpot_s": 0.1},
         "cost": {"compute_usd": 20.0, "per_million_output_tokens": 1.5},
         "utilization": {"gpu_busy": 0.5, "kv_cache_mean": 0.1, "mfu": 0.05},
         "pools": {"main": {"gpu": "h100-sxm", "replicas": 4, "tensor_parallel": 2, "scale": 1.0}}}
    s.update(extra)
    return s


def test_verdict_without_the_new_utilization_keys_says_nothing_of_headroom():
    from sim.report.overview import overview

    o = overview(_summary())
    assert o.met is True
    assert "SLO met: 99.5%" in o.verdict and "load factor" not in o.verdict.lower()
    # $20 for 2 h of simulated time -> $10/h x 730 h a month (365 x 24 / 12)
    assert "$1.50 per million output tokens" in o.verdict and "$7,300 per month" in o.verdict
    assert "4 × 2 h100-sxm (TP 2)" in o.paragraph          # from the summary alone (no scenario.json)


def test_a_replica_of_several_gpus_is_never_read_as_gpus():
    """Two replicas of TP 4 × PP 2 are 16 GPUs: the overview says replicas × GPUs per replica (TP × PP),
    as ``fleetsim validate`` does, and one-GPU replicas keep the short form."""
    from sim.report.overview import overview

    pools = {"moe": {"gpu": "h100-sxm", "replicas": 2, "tensor_parallel": 4, "pipeline_parallel": 2,
                     "expert_parallel": 4, "gpus_per_replica": 8, "scale": 1.0},
             "small": {"gpu": "l40s", "replicas": 3, "tensor_parallel": 1, "gpus_per_replica": 1, "scale": 1.0}}
    o = overview(_summary(pools=pools))
    assert "2 × 8 h100-sxm (TP 4 × PP 2, EP 4)" in o.paragraph
    assert "3 × l40s;" in o.paragraph or "3 × l40s," in o.paragraph


def test_verdict_reads_load_factor_and_a_growing_backlog_when_present():
    from sim.report.overview import overview

    o = overview(_summary(utilization={"gpu_busy": 0.5, "load_factor": 0.8},
                          stability={"stable": False, "backlog_growth_per_s": 0.25}))
    assert o.met is False                         # attainment alone would pass; the backlog fails it
    assert "SLO NOT met" in o.verdict and "backlog grows by 0.25 req/s" in o.verdict
    # a fleet that does not keep up has no headroom, whatever share of its capacity got through
    assert "more traffic" not in o.verdict
    over = overview(_summary(utilization={"gpu_busy": 1.0, "load_factor": 0.91},
                             stability={"stable": False, "backlog_growth_per_s": 914.0, "offered_load_factor": 11.22}))
    assert "offered load factor 11.22: about 11.2x the work the batch limits serve" in over.verdict.lower()
    assert "more traffic" not in over.verdict and "Near saturation" not in over.verdict
    ok = overview(_summary(utilization={"gpu_busy": 0.5, "load_factor": 0.8}, stability={"stable": True}))
    assert "load factor 0.80" in ok.verdict.lower() and "25% more traffic" in ok.verdict   # 1/0.8 - 1
    low = overview(_summary(slo={"attainment": 0.9, "ttft_s": 1.0}))
    assert low.met is False and "90.0%" in low.verdict


def test_sharded_pool_is_labelled_per_shard_and_whole_fleet():
    from sim.report.overview import overview

    o = overview(_summary(pools={"a100": {"gpu": "a100-80gb", "replicas": 4, "tensor_parallel": 8,
                                          "gpus_per_replica": 8, "scale": 10316.0}}))
    assert "4 × 8 a100-80gb (TP 8), one of 10,316 identical shards" in o.paragraph, o.paragraph  # summary alone
    (note,) = o.notes
    assert "simulated shard" in note and "whole fleet" in note
    assert "(41,264 replicas, 330,112 GPUs in all)" in note          # 4 replicas x 8 GPUs in each of 10,316


def test_report_html_opens_with_what_was_simulated_the_verdict_and_the_statement(tmp_path):
    import sim

    folder = sim.run(tiny_scenario("10m", replicas=2)).write(tmp_path / "run")
    assert json.loads((folder / "scenario.json").read_text())["model"] == "llama-3-8b"
    page = write_report(folder).read_text()
    head = page[:page.index("<h2>Figures")]
    assert "llama-3-8b" in head and "2 × h100-sxm" in head and "Poisson arrivals at 2 req/s" in head
    assert 'class="verdict met"' in head and "per million output tokens" in head
    assert page.index("<h2>Figures") < page.index("<h2>Costs per month") < page.index("<h2>Metrics")   # no revenue
    assert "<figcaption>Latency distributions" in page and "<figcaption>latency cdf" not in page
    assert not re.search(r"\d\.\d+e[+-]\d", page[:page.index("<details>")])   # no scientific notation
    assert "$0.67" in page          # 2 GPUs x 10 min x $2/h = $0.67 in the statement and the metrics


def test_saturation_report_draws_the_curve_and_lists_probes_by_rate(tmp_path):
    folder = tmp_path / "sat"
    folder.mkdir()
    probes = [  # probe order of a bisection: 12, 24, 48, 36, 30
        {"rate": r, "feasible": ok, "slo.attainment.mean": a, "latency.ttft.p99.mean": t}
        for r, ok, a, t in ((12, True, 1.0, 0.1), (24, True, 0.999, 0.2), (48, False, 0.2, 30.0),
                            (36, False, 0.9, 3.0), (30, True, 0.995, 0.9))]
    (folder / "saturation.json").write_text(json.dumps(
        {"scenario": "x.yaml", "rate_path": "workload.arrival.rate", "seeds": 1, "rate": 30,
         "upper": 36, "attainment": 0.99, "probes": probes}))
    page = write_report(folder).read_text()
    assert (folder / "figures" / "saturation.png").read_bytes()[:8] == PNG_MAGIC
    assert "<figcaption>Saturation search" in page
    table = page[page.index("<h2>Saturation"):]
    rates = [int(m) for m in re.findall(r"<tr><td>(\d+)</td>", table)]
    assert rates == [12, 24, 30, 36, 48]                  # sorted by rate, not in probe order


def test_sweep_report_names_what_was_simulated_with_the_commands_overrides(tmp_path):
    out = tmp_path / "sw"
    sweep(tiny_scenario("2m"), {"fleet.pools.0.replicas": [1, 2]}, seeds=1, out=out, executor="serial")
    page = write_report(out).read_text()
    head = page[:page.index("<h2>Sweep")]
    assert "llama-3-8b" in head and "h100-sxm" in head and "for 2 m" in head
    assert "fleet.pools.0.replicas = 1, 2" in head
    # the caption names the field as the sweep's grid did, not the figure's file name
    assert "<figcaption>Sweep over fleet.pools.0.replicas: each metric against the field&#x27;s value" in page
    assert "pools 0 replicas" not in page


def test_sweep_caption_names_fields_moved_together(tmp_path):
    base = tiny_scenario("2m")
    out = tmp_path / "joint"
    sweep(base, ["fleet.pools.0.replicas&economics.gpu_hour_usd=11&2,12&3"], seeds=1,
          runner=MMcRunner(service_s=1.0, noise_cv=0.1), executor="serial", out=out)
    page = write_report(out).read_text()
    assert "<figcaption>Sweep over fleet.pools.0.replicas with economics.gpu_hour_usd: each metric" in page


def test_header_describes_autoscaling_and_per_class_attainment():
    from sim.report.overview import overview

    scn = {"name": "auto", "model": "llama-3-70b", "duration": 604800.0,
           "workload": {"arrival": {"process": "diurnal", "mean_rate": 0.2, "peak_to_trough": 4.0,
                                    "peak_hour": 15.0}},
           "fleet": {"pools": [{"name": "a100", "gpu": "a100-80gb", "replicas": 1, "tensor_parallel": 4,
                                "autoscale": {"metric": "utilization", "target": 0.6, "min": 1, "max": 8}}]}}
    summary = _summary(pools={"a100": {"gpu": "a100-80gb", "replicas": 1, "replicas_mean": 2.52}},
                       classes={"chat": {"slo": {"attainment": 0.995}}, "batch": {"slo": {"attainment": 1.0}}})
    o = overview(summary, scn)
    assert "1–8 × 4 a100-80gb (TP 4), autoscaled (utilization target 0.6; mean 2.52 replicas)" in o.paragraph
    assert "diurnal arrivals averaging 0.2 req/s" in o.paragraph and "for 7 d" in o.paragraph
    assert "Per class, within its own SLO: chat 99.5%, batch 100.0%." in o.verdict
    # replica counts as a person reads them (the derived 2024-25 scenario autoscales up to a million)
    scn["fleet"]["pools"][0].update(replicas=2000, autoscale={"metric": "load_factor", "target": 0.9,
                                                              "min": 1, "max": 1000000})
    assert "1–1,000,000 × 4 a100-80gb" in overview(summary, scn).paragraph
    del scn["fleet"]["pools"][0]["autoscale"]
    assert "2,000 × 4 a100-80gb (TP 4)" in overview(summary, scn).paragraph


def test_a_run_without_requests_still_gets_a_header_report_and_summary(tmp_path):
    import sim
    from sim.report_text import format_summary

    scn = tiny_scenario("5s")
    scn["workload"]["arrival"]["rate"] = 0.001
    result = sim.run(scn)
    text = format_summary(result)
    words = " ".join(text.split())
    assert "SLO attainment unknown (no measured requests)." in words and "Compute $0.00 for 5 s" in words
    page = write_report(result.write(tmp_path / "empty")).read_text()
    assert 'class="verdict unknown"' in page and "latency CDFs skipped" in page


def test_metrics_section_shows_the_new_utilization_and_stability_keys_only_when_present():
    from sim.report.html_report import metrics_section

    old = metrics_section(_summary())
    assert "MBU" not in old and "load factor" not in old and "stable" not in old
    new = metrics_section(_summary(
        utilization={"gpu_busy": 0.5, "mbu": 0.42, "load_factor": 0.8},
        stability={"stable": False, "backlog_growth_per_s": 0.25},
        pools={"main": {"gpu": "h100-sxm", "replicas": 4, "mbu": 0.4, "load_factor": 0.75}}))
    assert "<td>MBU</td><td>42.0%</td>" in new
    assert "<td>load factor</td><td>0.8</td>" in new
    assert "<td>stable (no growing backlog)</td><td>no</td>" in new
    assert "<th>MBU</th>" in new and "<td>40.0%</td>" in new          # per pool too


def test_money_axes_of_sweep_figures_read_as_money():
    from sim.report.sweep_figures import MONEY_TICKS

    assert [MONEY_TICKS(v, 0) for v in (0.25, 302_400.0, 1.5e6)] == ["$0.25", "$302k", "$1.50M"]


def test_money_ticks_say_where_they_are():
    # a tick between cents was labelled with its neighbour's cents ($0.225 as "$0.23", beside a $0.23
    # tick that was really 0.23 elsewhere); the label carries the decimals, and the axis prefers
    # steps of 1, 2 and 5 so that it rarely needs them
    import matplotlib

    matplotlib.use("Agg")
    from sim.report.render import new_figure
    from sim.report.sweep_figures import money_axis, money_tick

    assert [money_tick(v) for v in (0.175, 0.2, 0.225, -0.5, 1999.0)] == ["$0.175", "$0.20", "$0.225", "-$0.50", "$2.00k"]
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot([0.171, 0.342], [1, 2])
    money_axis(ax.xaxis)
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 0.171 <= t <= 0.342]
    labels = [money_tick(t) for t in ticks]
    assert all(float(label.lstrip("$")) == pytest.approx(t) for label, t in zip(labels, ticks))
    assert len(set(labels)) == len(labels) >= 3


@pytest.mark.parametrize("text", ["{bad", '{"fleet": 3}', "[]"])
def test_a_broken_scenario_json_falls_back_on_the_summary(tmp_path, text):
    from sim.report.overview import read_scenario

    folder = write_folder(tmp_path / "run")
    (folder / "summary.json").write_text(json.dumps(_summary()))
    (folder / "scenario.json").write_text(text)
    assert read_scenario(folder) is None
    page = write_report(folder).read_text()
    assert "4 × 2 h100-sxm (TP 2)" in page and 'class="verdict met"' in page


def test_sweep_page_says_the_varied_fields_values_not_the_base_scenarios(tmp_path):
    """The base scenario runs 4 replicas at 2 requests/s; the sweep varies replicas 1..3 and, jointly,
    the GPU and its price: "What was simulated" says 1–3 replicas of h100-sxm or b200, not 4 × h100-sxm."""
    out = tmp_path / "sw"
    sweep(tiny_scenario("2m", replicas=4),
          ["fleet.pools.0.replicas=1..3", "fleet.pools.0.gpu&economics.gpu_hour_usd=h100-sxm&2,b200&5"],
          seeds=1, runner=MMcRunner(service_s=1.0, noise_cv=0.1), executor="serial", out=out)
    page = write_report(out).read_text()
    head = page[page.index("What was simulated"):page.index("<h2>Sweep")]
    assert "1–3 × h100-sxm, b200 serving llama-3-8b" in head, head
    assert "4 × h100-sxm" not in head and "4 × " not in head
    assert "Poisson arrivals at 2 req/s" in head                  # what the sweep does not vary stays
    assert "fleet.pools.0.replicas = 1, 2, 3" in head              # the Varied line, as before


def test_plan_page_says_the_values_the_plan_evaluated_not_the_base_scenarios(tmp_path):
    """The base scenario runs 4 replicas; the plan bisects replicas over 1..8 for each GPU of a joint
    knob. Each evaluated replica count comes from plan.json's evaluated rows; "What was simulated"
    says those counts and both GPUs, not 4 × h100-sxm."""
    out = tmp_path / "plan"
    plan(tiny_scenario("2m", replicas=4),
         ["fleet.pools.0.replicas=1..8", "fleet.pools.0.gpu&economics.gpu_hour_usd=h100-sxm&2,b200&5"],
         constraints=["latency.queue.mean<=0.5"], runner=MMcRunner(service_s=1.0), executor="serial", out=out)
    evaluated = json.loads((out / "plan.json").read_text())["evaluated"]
    replicas = sorted({r["fleet.pools.0.replicas"] for r in evaluated})
    assert 4 in replicas and len(replicas) < 8                   # a bisection: not every count of 1..8
    page = write_report(out).read_text()
    head = page[page.index("What was simulated"):page.index("<h2>Plan")]
    assert f"{', '.join(map(str, replicas))} × h100-sxm, b200 serving llama-3-8b" in head, head
    assert "4 × h100-sxm" not in head
    assert "Poisson arrivals at 2 req/s" in head                  # what the plan does not vary stays


def test_saturation_page_says_the_rates_probed_not_the_base_rate(tmp_path):
    """The base scenario offers 2 requests/s; the search probed 12..48 (and 6 on the slower side of
    its capacity band): "What was simulated" says the span probed, marked searched."""
    folder = tmp_path / "sat"
    folder.mkdir()
    (folder / "scenario.json").write_text(json.dumps(tiny_scenario("2m", replicas=4)))
    probes = [{"rate": r, "feasible": r < 36} for r in (12, 24, 48, 36, 30)]
    band = {"pct": 20, "slower": {"capacity": 0.8, "rate": 6, "upper": 12, "probes": [{"rate": 6.5}]},
            "faster": {"capacity": 1.2, "rate": 36, "upper": 40, "probes": [{"rate": 40}]}}
    (folder / "saturation.json").write_text(json.dumps(
        {"scenario": "x.yaml", "rate_path": "workload.arrival.rate", "seeds": 1, "rate": 30,
         "upper": 36, "attainment": 0.99, "probes": probes, "capacity_band": band}))
    page = write_report(folder, regenerate=False).read_text()
    head = page[page.index("What was simulated"):page.index("<h2>Saturation")]
    assert "Poisson arrivals at 6.5–48 req/s (searched)" in head, head
    assert "at 2 req/s" not in head and "4 × h100-sxm serving llama-3-8b" in head


def _plan_tables(page: str) -> list[list[list[str]]]:
    """Every ``table.plan`` of a page as rows of cell texts (headings first)."""
    import re

    out = []
    for body in re.findall(r"<table class='plan'>(.*?)</table>", page):
        rows = re.findall(r"<tr>(.*?)</tr>", body)
        out.append([[html_lib.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
                    for r in rows])
    return out


def test_plan_page_compares_the_candidates_with_their_money(tmp_path):
    """Two GPU types, the same M/M/c servers at different prices: Erlang C puts both answers at 13
    servers at 10 req/s (12 leaves a mean wait over 0.1 s). The page ranks the two answers by cost and
    prices them by hand: 13 x $2.70 = $35.10 an hour, x 730 = $25,623 a month; 13 x $6.16 = $80.08,
    $58,458; then the nearest miss (12 servers of the cheaper GPU), and why it misses."""
    from sim.planning.erlang import mean_wait_s

    base = {"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}}
    runner = MMcRunner(service_s=1.0, price_per_gpu_hour_usd={"h100-sxm": 6.16, "a100-80gb": 2.70})
    plan(base, ["fleet.pools.0.replicas=1..32", "fleet.pools.0.gpu=h100-sxm,a100-80gb"],
         constraints=["latency.queue.mean<=0.1"], runner=runner, executor="serial", out=tmp_path / "plan")
    assert mean_wait_s(13, 10.0, 1.0) <= 0.1 < mean_wait_s(12, 10.0, 1.0)
    page = write_report(tmp_path / "plan").read_text()
    assert "fleet.pools.0.replicas=13, fleet.pools.0.gpu=a100-80gb (13 GPUs, $25,623/month)" in page
    main, *_, every = _plan_tables(page)
    assert main[0] == ["replicas", "gpu", "verdict", "GPUs", "$/hour", "$/month", "queue wait mean",
                       "load factor", "headroom"]
    assert [r[:6] for r in main[1:]] == [["13", "a100-80gb", "answer", "13", "$35.10", "$25,623"],
                                         ["13", "h100-sxm", "meets", "13", "$80.08", "$58,458"],
                                         ["12", "a100-80gb", "nearest miss", "12", "$32.40", "$23,652"]]
    wait = mean_wait_s(12, 10.0, 1.0)
    assert f"<li>replicas=12, gpu=a100-80gb (nearest miss): queue wait mean {wait * 1000:,.4g} ms, needs ≤ 100 ms</li>" \
        in page
    # every configuration evaluated: those meeting the constraints first, each by cost; the misses say why
    costs = [float(r[4].strip("$").replace(",", "")) for r in every[1:]]
    feasible = [r[2] in ("answer", "meets") for r in every[1:]]
    assert feasible == sorted(feasible, reverse=True) and every[0][-1] == "why not"
    n = feasible.count(True)
    assert costs[:n] == sorted(costs[:n]) and costs[n:] == sorted(costs[n:])
    assert len(every) - 1 == len(json.loads((tmp_path / "plan" / "plan.json").read_text())["evaluated"])


def test_plan_page_title_names_every_gpu_tried(tmp_path):
    # the title named the GPU of the first point file (a100-80gb sorts first), not the GPUs tried
    out = tmp_path / "plan"
    plan(tiny_scenario("1m"), ["fleet.pools.0.gpu=h100-sxm,a100-80gb"], executor="serial", out=out)
    page = write_report(out).read_text()
    assert "<h1>fleetsim report: tiny · llama-3-8b · h100-sxm, a100-80gb</h1>" in page


def test_a_scenario_without_revenue_shows_its_costs_not_a_statement_of_zeros(tmp_path):
    """Two H100s for 10 minutes at $2.00 an hour: 2 x 10/60 x 2.00 = $0.67 of compute, the only money;
    the terminal says in one line that there is no revenue and lists the costs per month, and so does
    the page. A revenue line (even at a price of zero) keeps the full statement."""
    import sim
    from sim.report_text import format_summary

    result = sim.run(tiny_scenario("10m", replicas=2))
    text = format_summary(result)
    assert "cash flow  costs only, net -$0.67: the scenario has no revenue or agreement terms" in text
    lines = text.splitlines()
    table = lines[lines.index("Costs per month (USD, accrual)") + 1:]
    assert table[0].split() == ["period", "compute", "cumulative"]
    assert table[2].split() == ["2025-01", "(partial)", "$0.67", "$0.67"]
    assert "revenue" not in table[0] and "share" not in text.split("cash flow")[1]
    page = write_report(result.write(tmp_path / "run")).read_text()
    section = page[page.index("<h2>Costs per month</h2>"):]
    section = section[:section.index("</table>")]
    assert "no revenue or agreement terms" in section and "<th>revenue</th>" not in section
    assert "<td>$0.67</td><td>$0.67</td>" in section
    # nor does the Metrics table list revenue and revenue-share rows of $0.00: one line says why not
    metrics = page[page.index("<h2>Metrics</h2>"):page.index("<h3>Per pool</h3>")]
    labels = re.findall(r"<tr><td>([^<]*)</td>", metrics)
    assert "compute cost" in labels and "net (accrual)" in labels
    assert not [m for m in labels if "revenue" in m]
    assert "no revenue or agreement terms: its revenue and revenue-share rows (zero) are left out" in metrics
    priced = tiny_scenario("10m", replicas=2)
    priced["economics"]["revenue"] = [{"name": "api", "usd_per_million_output_tokens": 0.0}]
    earned = sim.run(priced)
    assert "Cash-flow statement" in format_summary(earned) and "costs only" not in format_summary(earned)
    page = write_report(earned.write(tmp_path / "earned")).read_text()
    metrics = page[page.index("<h2>Metrics</h2>"):page.index("<h3>Per pool</h3>")]
    assert "<tr><td>revenue</td><td>$0.00</td>" in metrics and "are left out" not in metrics


def test_plan_page_of_a_plan_json_with_odd_fields_is_still_written(tmp_path):
    # fields the folder check does not type (columns, a row's n and headroom) read as absent, no traceback
    base = {"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}}
    out = tmp_path / "plan"
    plan(base, ["fleet.pools.0.replicas=10..14"], constraints=["latency.queue.mean<=0.1"],
         runner=MMcRunner(service_s=1.0), executor="serial", out=out)
    data = json.loads((out / "plan.json").read_text())
    data["columns"] = 7
    for r in data["evaluated"] + data["groups"]:
        r.update({"n": "x", "headroom": "x", "headroom.text": 3})
    (out / "plan.json").write_text(json.dumps(data))
    page = write_report(out, regenerate=False).read_text()
    assert "<h2>Plan</h2>" in page and "<td>nearest miss</td>" not in page      # no row ran, as far as it says


def test_control_characters_in_names_and_the_folder_are_escaped_on_the_page_and_in_the_figures(tmp_path):
    """A result folder written by hand (or by another tool) whose scenario, pool and class names and
    folder name hold markup, control characters and a bidirectional override: the markup is text and
    the controls are written as the terminal writes them (``\\x1b``, ``\\u202e``), on report.html and
    in the figures' titles and legends; none reaches them raw, where they hid or reordered text."""
    from sim.api import run

    scn = tiny_scenario("3m")
    scn["workload"]["classes"] = [{"name": "chat", "share": 0.5}, {"name": "batch", "share": 0.5}]
    plain = tmp_path / "plain"
    run(scn).write(plain)
    hostile = "<i>x</i>\x1b[31m\u202e"
    out = tmp_path / "h\x07\u2066"
    out.mkdir()
    for f in ("summary.json", "scenario.json"):
        text = (plain / f).read_text()
        for name in ("tiny", "chat", "main"):
            text = text.replace(f'"{name}"', f'"{name}{json.dumps(hostile)[1:]}')
        (out / f).write_text(text)
    for f in ("requests.csv.gz", "timeseries.csv"):
        opener = gzip.open if f.endswith(".gz") else open
        with opener(plain / f, "rt", newline="") as fh:
            text = fh.read().replace(",chat,", f",chat{hostile},").replace(",main,", f",main{hostile},")
        with opener(out / f, "wt", newline="") as fh:
            fh.write(text)
    controls = ("\x1b", "\x07", "\u202e", "\u2066")
    page = write_report(out).read_text()
    assert "<i>" not in page and not any(c in page for c in controls)
    assert "tiny&lt;i&gt;x&lt;/i&gt;\\x1b[31m\\u202e" in page          # the scenario's name, in the title
    assert "h\\x07\\u2066" in page                                     # the folder's
    assert "main&lt;i&gt;x&lt;/i&gt;\\x1b[31m\\u202e" in page          # the pool's, in the settings
    write_run_figures(out, renderer="svg")
    svgs = {p.stem: p.read_text() for p in (out / "figures").glob("*.svg")}
    assert not any(c in svg for svg in svgs.values() for c in controls)
    assert "chat&lt;i&gt;x&lt;/i&gt;\\x1b[31m\\u202e" in svgs["latency_cdf"]      # the class, in the legend
    assert "main&lt;i&gt;x&lt;/i&gt;\\x1b[31m\\u202e" in svgs["timeseries"]       # the pool, in the titles


def test_a_table_read_in_blocks_is_the_table_read_at_once_and_names_each_bad_cell(tmp_path, monkeypatch):
    """Numeric columns are converted a block of lines at a time (CHUNK_ROWS): with blocks of 2 lines
    the hand-made table reads as the csv module gives it, and a cell that is not a number in the
    second and third blocks is named with its line, as are all of them, in line order."""
    from sim.report import csv_columns

    monkeypatch.setattr(csv_columns, "CHUNK_ROWS", 2)
    folder = write_folder(tmp_path / "run")
    with gzip.open(folder / "requests.csv.gz", "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    req = read_requests(folder)
    assert req["arrival_s"].tolist() == [0.0, 1.0, 2.0] and req["class"].tolist() == ["chat", "batch", "chat"]
    assert np.isnan(req["first_token_s"][2]) and req["output_tokens"].tolist() == [float(r["output_tokens"]) for r in rows]
    text = gzip.open(folder / "requests.csv.gz", "rt").read().splitlines()
    text[3] = text[3].replace(",4,", ",four,")                   # line 4: output_tokens
    text[2] = text[2].replace("1.2,1.2", "x,1.2")                # line 3: first_token_s
    with gzip.open(folder / "requests.csv.gz", "wt", newline="") as fh:
        fh.write("\n".join(text) + "\n")
    with pytest.raises(ScenarioError) as exc:
        read_requests(folder)
    assert exc.value.problems[:2] == [("line 3, column first_token_s", "'x' is not a number"),
                                      ("line 4, column output_tokens", "'four' is not a number")]


def test_the_page_explains_a_shard_right_under_the_paragraph_that_names_it():
    """The paragraph names the shard; its note followed the settings table and the verdict (whose load factor is
    the shard's), so the word was met twice before it was explained."""
    from sim.report.html_report import run_header
    from sim.report.overview import overview

    o = overview(_summary(pools={"a100": {"gpu": "a100-80gb", "replicas": 4, "scale": 10316.0}}))
    page = run_header(o)
    first = page.index("identical shards")
    assert first < page.index('<p class="note">Sharded pool a100') < page.index("<table") < page.index("verdict")
    assert page.count('class="note"') == 1


def test_a_sharded_runs_page_says_which_numbers_are_the_shards_once(tmp_path):
    """The note (which numbers are one shard's, which the fleet's) sits under the paragraph that names the
    shard; the metrics table repeated it word for word, so the page said it twice."""
    import sim

    scn = tiny_scenario("20s")
    scn["fleet"]["pools"][0]["scale"] = 25
    page = write_report(sim.run(scn).write(tmp_path / "sharded")).read_text()
    assert page.count("Sharded pool") == 1 and page.count("identical shards (") == 1
    assert page.index("Sharded pool") < page.index('id="verdict"') < page.index("<h2>Metrics</h2>")
