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
