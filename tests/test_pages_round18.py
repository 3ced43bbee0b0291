"""What a planner reads, round 18: a plan varying a pool's replicas shows them once; ``--columns`` on the
capacity band's table of the plan page; the Pareto chart's log axis labelled between decades; the
terminal statement's period column as wide as its labels."""
import argparse
import html as html_lib
import re

import yaml

from conftest import mmc_scenario_file
from sim.commands import plan as plan_cmd
from sim.report import write_report


def _run(cmd, argv):
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    return cmd.main(parser.parse_args(argv))


def _tables(page: str) -> list[list[list[str]]]:
    return [[[html_lib.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
             for r in re.findall(r"<tr>(.*?)</tr>", body)]
            for body in re.findall(r"<table class='plan'>(.*?)</table>", page)]


def test_a_plan_varying_a_pools_replicas_shows_them_once(tmp_path, capsys, monkeypatch):
    """Two GPUs a replica (tensor_parallel 2), so GPUs = 2 x replicas and the planner's replicas column
    would read exactly as the knob's: the terminal and the page show the replicas once, the GPUs twice
    the replicas."""
    monkeypatch.delenv("COLUMNS", raising=False)        # stdout is captured: no width limit
    path = mmc_scenario_file(tmp_path, 2.0, seed=3, duration="5m")
    data = yaml.safe_load(path.read_text())
    data["fleet"]["pools"][0]["tensor_parallel"] = 2
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "plan"
    assert _run(plan_cmd, [str(path), "--vary", "fleet.pools.0.replicas=1..8", "--constraint",
                           "latency.queue.mean<=0.5", "--out", str(out), "--quiet", "--no-figures"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("fleet.pools.0.replicas"))
    words = lines[head].split()
    assert "replicas" not in words and words.count("fleet.pools.0.replicas") == 1
    row = lines[head + 2].split()
    assert int(row[words.index("GPUs")]) == 2 * int(row[0])
    main = _tables(write_report(out).read_text())[0]
    assert main[0].count("replicas") == 1 and not any("replicas" in h for h in main[0][1:])
    assert [int(r[main[0].index("GPUs")]) for r in main[1:]] == [2 * int(r[0]) for r in main[1:]]


def test_the_capacity_band_table_shows_the_columns_named_too(tmp_path):
    """``--columns latency.ttft.p99,$/hour`` with ``--capacity-band 3``: the page's second table (the same
    configurations at 3 % less capacity) shows the named summary key before the constraint's metric, as the
    first table does, and not the planner column (its money does not change with the capacity). In the
    M/M/c model a server 3 % slower serves in 1/0.97 s, so no TTFT p99 there is below its point value."""
    from sim.planning import MMcRunner, plan

    out = tmp_path / "plan"
    plan({"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}},
         ["fleet.pools.0.replicas=1..32"], constraints=["latency.queue.mean<=0.1"], executor="serial", out=out,
         columns="latency.ttft.p99,$/hour", capacity_band=3,
         runner=MMcRunner(service_s=1.0, duration_s=3600.0, price_per_gpu_hour_usd={"a": 2.7}))
    main, slower = _tables(write_report(out).read_text())[:2]
    assert main[0][2:4] == ["TTFT p99", "$/hour"]
    assert slower[0][2:] == ["feasible at −3\u00a0%", "TTFT p99 at −3\u00a0%", "queue wait mean at −3\u00a0%"]
    seconds = lambda cell: float(cell.split("\u00a0")[0])
    assert [r[0] for r in slower[1:]] == [r[0] for r in main[1:]]
    assert all(seconds(s[3]) > seconds(m[2]) for s, m in zip(slower[1:], main[1:]))


def test_a_log_axis_over_less_than_three_decades_is_labelled_between_them():
    """30 to 300 ms holds one power of ten (0.1 s), which was the only label; the 1-2-5 multiples inside
    it are 0.05, 0.1 and 0.2 (by hand). Over three decades or more, the decades alone."""
    from sim.report.axis import log_label, log_ticks

    assert log_ticks(0.03, 0.3) == [0.05, 0.1, 0.2]
    assert [log_label(t) for t in log_ticks(0.03, 0.3)] == ["0.05", "0.1", "0.2"]
    assert log_ticks(0.003, 0.3) == [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
    assert log_ticks(0.002, 3.0) == [0.01, 0.1, 1.0]


def test_the_pareto_figures_log_axis_reads_at_least_three_plain_labels(tmp_path, monkeypatch):
    """p99 TTFT from 5 to 300 ms (a log axis: more than 50-fold): each label is the number its tick
    stands at, in plain digits, and there are at least three inside the axis (there were two: 0.01, 0.1)."""
    from sim.report import sweep_figures

    figs = []
    real = sweep_figures.save_figure
    monkeypatch.setattr(sweep_figures, "save_figure", lambda fig, stem, *a, **k: figs.append(fig) or real(fig, stem, *a, **k))
    ys = [0.005, 0.03, 0.045, 0.07, 0.11, 0.18, 0.30]
    rows = [{"r": i, "cost.compute_usd.mean": 10.0 / (i + 1) + i, "latency.ttft.p99.mean": y} for i, y in enumerate(ys)]
    sweep_figures.pareto_figure(rows, tmp_path / "pareto", label_keys=["r"])
    ax = figs[0].axes[0]
    assert ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    ticks = [(t.get_position()[1], t.get_text()) for t in ax.yaxis.get_ticklabels() if lo <= t.get_position()[1] <= hi]
    shown = [(v, text) for v, text in ticks if text]
    assert len(shown) >= 3 and all(float(text) == v for v, text in shown) and "e" not in "".join(t for _, t in shown)
    assert [text for _, text in shown] == ["0.005", "0.01", "0.02", "0.05", "0.1", "0.2"]


def _statement_rows():
    zero = dict.fromkeys(("revenue_usd", "compute_usd", "training_usd", "credits_applied_usd", "revenue_share_paid_usd",
                          "revenue_share_received_usd", "net_usd", "cash_net_usd", "cumulative_cash_usd"), 0.0)
    return [{**zero, "period": "2024-03", "partial": False, "after_horizon": False, "revenue_usd": 1200.0,
             "net_usd": 1200.0, "cash_net_usd": 1000.0, "cumulative_cash_usd": 1000.0},
            {**zero, "period": "2024-04", "partial": True, "after_horizon": False, "revenue_usd": 400.0,
             "net_usd": 400.0, "cash_net_usd": 300.0, "cumulative_cash_usd": 1300.0},
            {**zero, "period": "2024-05", "partial": False, "after_horizon": True, "cash_net_usd": 300.0,
             "cumulative_cash_usd": 1600.0}]


def test_the_terminal_statements_period_column_is_as_wide_as_its_periods():
    """A run ending mid-April whose last cash lands in May: the period column is as wide as
    "2024-04 (partial)" (17), not "2024-05 after the end †" (23); May's row comes under a line saying it
    is after the end, with its cash and nothing accrued; each row's cumulative cash is the running sum
    of its net (cash): 1,000, 1,300, 1,600."""
    from sim.economics.statement import format_statement

    lines = format_statement(_statement_rows()).splitlines()
    assert len(lines[2].split("  ")[0]) == len("2024-04 (partial)") == 17
    assert [line[:17].rstrip() for line in lines[3:7]] == ["2024-03", "2024-04 (partial)", "after the end †", "2024-05"]
    assert lines[5].rstrip() == "after the end †"
    assert lines[6].split() == ["2024-05", "300.00", "1.60k"]
    assert lines[7].startswith("† after the horizon")


def test_a_costs_only_statement_says_what_its_row_after_the_end_is(tmp_path, capsys, monkeypatch):
    """Training invoiced monthly, net 30 days, on a 10-minute run: January's invoice is paid in March,
    after the horizon. The costs-only table (accrual) shows that row under 'after the end †' with only the
    cumulative cost carried on, and says what the † means."""
    from pathlib import Path

    from sim.cli import main

    monkeypatch.delenv("COLUMNS", raising=False)
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    assert main(["run", str(scenario), "--set", "duration=10m", "--set", "warmup=1m", "--set",
                 "economics.training={usd_per_month: 100, terms: {invoice: month, net: 30d}}",
                 "--out", str(tmp_path / "run"), "--figures", "none"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Costs per month"))
    head, _, jan, after, march, note = lines[at + 1:at + 7]
    assert head.split() == ["period", "compute", "training", "total", "cumulative"]
    assert jan.startswith("2025-01 (partial)") and after == "after the end †"
    assert march.split() == ["2025-03", jan.split()[-1]]          # nothing accrues; the cumulative cost stays
    assert note.startswith("† after the horizon")
    assert head.index("compute") == len("2025-01 (partial)") + 2      # the period column: its longest period


def _kept_figures(monkeypatch):
    from sim.report import sweep_figures

    figs = []
    real = sweep_figures.save_figure
    monkeypatch.setattr(sweep_figures, "save_figure", lambda fig, stem, *a, **k: figs.append(fig) or real(fig, stem, *a, **k))
    return figs


def test_the_pareto_figure_draws_a_plans_bound_on_its_axis(tmp_path, monkeypatch):
    """A plan bounding TTFT p99 at 0.5 s: a dashed line at 0.5 on the y axis, named "TTFT p99 ≤ 500 ms" in
    the legend, so the points just above it read as just missing; a bound on another metric draws nothing."""
    from sim.report import sweep_figures

    figs = _kept_figures(monkeypatch)
    rows = [{"r": i, "cost.compute_usd.mean": float(i), "latency.ttft.p99.mean": 2.0 / i} for i in range(1, 6)]
    sweep_figures.pareto_figure(rows, tmp_path / "p", label_keys=["r"], feasible=[2.0 / i <= 0.5 for i in range(1, 6)],
                                constraints=["latency.ttft.p99<=0.5", "slo.attainment>=0.99"])
    ax = figs[0].axes[0]
    flat = [line for line in ax.get_lines() if len(set(line.get_ydata())) == 1 and line.get_linestyle() == "--"]
    assert [list(line.get_ydata()) for line in flat] == [[0.5, 0.5]]
    assert flat[0].get_label() == "TTFT p99 ≤ 500 ms"
    assert "TTFT p99 ≤ 500 ms" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_a_sweep_figures_latency_spread_over_minutes_and_milliseconds_is_drawn_on_a_log_axis(tmp_path, monkeypatch):
    """One overloaded configuration's TTFT p99 of 166 s beside others of 0.14-0.74 s (more than 50-fold):
    on a linear axis every other point sat at 0; on the log axis each reads; the attainment stays linear."""
    from types import SimpleNamespace

    from sim.report import sweep_figures

    figs = _kept_figures(monkeypatch)
    ttft = {(1, "a"): 166.0, (1, "b"): 0.21, (2, "a"): 0.74, (2, "b"): 0.15, (4, "a"): 0.48, (4, "b"): 0.14}
    rows = [{"n": r, "g": g, "latency.ttft.p99.mean": v, "slo.attainment.mean": 0.0 if v > 2 else 1.0}
            for (r, g), v in ttft.items()]
    view = SimpleNamespace(configurations=rows, seeds=1,
                           knobs=[SimpleNamespace(path="fleet.pools.0.replicas"), SimpleNamespace(path="fleet.pools.0.gpu")])
    for r in rows:
        r["fleet.pools.0.replicas"], r["fleet.pools.0.gpu"] = r.pop("n"), r.pop("g")
    sweep_figures.write_sweep_figures(tmp_path, view)
    ttft_ax, slo_ax = figs[0].axes[:2]
    assert ttft_ax.get_yscale() == "log" and slo_ax.get_yscale() == "linear"
    assert [t.get_text() for t in ttft_ax.get_legend().get_texts()] == ["gpu=a", "gpu=b"]    # not pools_0_gpu=a


def test_a_mean_whose_replications_all_agree_is_said_without_a_zero_interval():
    """Two seeds that both attain 100 % (or cost the same $0.42) have an interval of no width: the mean
    alone, not "100.0% ± 0.0%"; a real interval keeps its half-width."""
    from sim.humanize import interval

    assert interval(1.0, 1.0, 1.0, lambda v: f"{v:.1%}") == "100.0%"
    assert interval(0.42, 0.42, 0.42, lambda v: f"${v:.2f}") == "$0.42"
    assert interval(0.212, 0.026, 0.398, lambda v: f"{v * 1000:.0f} ms") == "212 ms ± 186 ms"


def test_only_the_why_not_column_of_a_plan_page_is_left_aligned_as_words(tmp_path):
    """The capacity band's table ended with a metric column, which the style sheet set left like the
    main table's "why not" sentences; now only cells marked as words are."""
    from sim.planning import MMcRunner, plan

    out = tmp_path / "plan"
    plan({"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}},
         ["fleet.pools.0.replicas=1..32"], constraints=["latency.queue.mean<=0.1"], executor="serial", out=out,
         capacity_band=3, runner=MMcRunner(service_s=1.0, duration_s=3600.0, price_per_gpu_hour_usd={"a": 2.7}))
    page = write_report(out).read_text()
    tables = re.findall(r"<table class='plan'>(.*?)</table>", page)
    last_cells = [re.findall(r"<td([^>]*)>[^<]*</td></tr>", t) for t in tables]
    assert set(last_cells[1]) == {' class="wrap"'}                  # queue wait mean at −3 %: a number
    assert "td.words{text-align:left" in page and "wrap:last-child" not in page
    assert ' class="wrap words"' in tables[2] and "why not" in tables[2]   # every configuration: one misses


def test_settings_that_differ_carry_their_units():
    """The comparison's settings listed a run's length in bare seconds (duration 3600 → 1800) and an
    arrival rate without its unit; a name without a number unit stays as it was."""
    from sim.report.comparison_words import setting

    assert [setting(v, "duration") for v in (3600.0, 1800)] == ["1 h", "30 m"]
    assert setting(300, "warmup") == "5 m" and setting(0.08, "slo.tpot_s") == "0.08 s"
    assert setting(12.0, "workload.arrival.rate") == "12 req/s"
    assert setting(4, "fleet.pools.0.replicas") == "4" and setting("1h", "duration") == "1h"


def test_a_plan_table_too_wide_for_the_terminal_after_leaving_columns_out_comes_in_blocks():
    """A plan with the capacity band and a --columns key kept 102 characters at 80 columns: what it may not
    leave out is set in blocks no wider than the terminal, each led by the two knob columns, every value
    still there once; a heading line a block's headings do not reach is not printed blank."""
    from sim.planning.table import fit_table

    knobs = ["fleet.pools.0.replicas", "fleet.pools.0.gpu"]
    kept = ["latency.ttft.p99 (ms)", "latency.tpot.p99 (ms)", "latency.ttft.p99 (ms) at -3 %",
            "latency.tpot.p99 (ms) at -3 %", "GPUs", "$/month"]
    rows = [{knobs[0]: str(r), knobs[1]: g, **{c: f"{r * 100 + i}.5" for i, c in enumerate(kept)}}
            for r, g in ((2, "h100-sxm"), (8, "a100-80gb"))]
    text, dropped = fit_table(rows, [*knobs, *kept], None, 40, droppable=["GPUs"], lead=2)
    lines = text.splitlines()
    assert dropped == ["GPUs"] and all(len(line) <= 40 for line in lines)
    blocks = text.split("\n\n")
    assert len(blocks) > 1 and all(b.startswith("fleet.    fleet.") for b in blocks)
    assert all(line.strip() for b in blocks for line in b.splitlines())
    for r in rows:
        cells = [line.split() for line in lines if line.split()[:2] == [r[knobs[0]], r[knobs[1]]]]
        assert sorted(c for row in cells for c in row[2:]) == sorted(r[c] for c in kept if c != "GPUs")


def test_a_rate_too_small_per_second_is_said_per_hour_or_per_day():
    """Ten requests over 120 days: 10 / (120 × 86,400 s) = 9.645e-07 req/s, which the metrics table printed in
    scientific notation; per day it is 10 / 120 = 0.08333 req/day. A rate of 0.002 tok/s is 7.2 tok/h."""
    from sim.report.html_report import _value_unit

    rate = 10 / (120 * 86400)
    assert _value_unit({"throughput": {"requests_per_s": rate}}, "throughput.requests_per_s", "req/s") == [
        "0.08333", "req/day"]
    assert _value_unit({"t": 0.002}, "t", "tok/s") == ["7.2", "tok/h"]
    assert _value_unit({"t": 12.02}, "t", "req/s") == ["12.02", "req/s"]


def test_the_saturation_answer_says_its_attainment_target_as_the_table_does(tmp_path):
    """The table says attainment in per cent (100.0%); the sentence above it said the target as 0.99."""
    import json

    from sim.report import write_report

    (tmp_path / "saturation.json").write_text(json.dumps({
        "rate": 84.0, "upper": 85.5, "attainment": 0.99, "rate_path": "workload.arrival.rate",
        "probes": [{"rate": 84.0, "feasible": True, "slo.attainment.mean": 1.0, "latency.ttft.p99.mean": 0.67}]}))
    page = write_report(tmp_path, regenerate=False).read_text()
    assert "SLO attainment ≥ 99.0%)" in page and "≥ 0.99" not in page
