"""What the report and comparison pages draw for a fluid-tier run, worked by hand on ``tiers_pool``'s
deterministic server (1 s a request, one at a time, ``$2`` a GPU-hour, one GPU a replica) at a Poisson
rate of ``RHO`` = 0.5 a second: the fluid tier serves each step's expected arrivals, ``RHO`` a second,
and keeps ``RHO`` sequences running on average (Little's law on the server: ``L = λ E[S] = ρ``); a pool of
``scale: 3`` identical shards bills 3 GPUs, ``$6`` an hour.

* ``timeseries.csv`` keeps a fluid step's means (0.5 sequences running), where a cast to integers wrote 0;
* the report page draws a fluid run's rows over the steps they end, says why it has no latency CDFs and
  says its end backlog as the terminal does;
* the comparison page's fleet over time draws a fluid run's served requests per second (from
  ``usage.npz``, per shard), its means over the steps each bin covers (not a sample a step late), and
  every folder's compute cost per hour (the area under it the compute cost row), and says which panels a
  fluid run lacks and why.
"""
from __future__ import annotations

import html
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import sim
import sim.api
from sim.errors import ScenarioError
from sim.commands.compare import comparison_text
from sim.report.comparison import compare
from sim.report.tier_settings import NotRead
from sim.report.comparison_figures import figures_section, read_usages
from sim.report.comparison_page import folders_section
from sim.report.comparison_over_time import over_time_chart, spread_sums
from sim.report.result_folder import read_summary, read_timeseries, read_usage_columns
from sim.report.run_figures import NO_FLUID_CDF, timeseries_chart, write_run_figures
from tiers_pool import PRICE, pool

RHO = 0.5
HOUR = 3600.0
STEP = 600.0
SCALE = 3


#: each run's result, by its folder's name (what the terminal prints from)
RESULTS: dict[str, sim.api.Result] = {}


def _run(out: Path, fidelity: str, scale: int = 1) -> Path:
    sc = pool(fidelity, {"process": "poisson", "rate": RHO}, duration=HOUR, step_s=STEP)
    sc["fleet"]["pools"][0]["scale"] = scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        RESULTS[out.name] = sim.run(sc)
    RESULTS[out.name].write(out, figures="none")
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("fluid_pages")
    monkeypatch_module.setenv("FLEETSIM_CACHE", str(tmp_path_factory.getbasetemp() / "fleetsim-cache"))
    return {"request": _run(root / "request", "request"), "fluid": _run(root / "fluid", "fluid"),
            "sharded": _run(root / "sharded", "fluid", SCALE)}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_a_fluid_time_series_keeps_its_steps_means(runs):
    ts = read_timeseries(runs["fluid"])
    assert ts["time_s"].tolist() == [STEP * k for k in range(1, 7)]
    np.testing.assert_allclose(ts["running"], RHO, rtol=1e-9)              # L = rho, not int(0.5) = 0
    assert ts["replicas"].tolist() == [1] * 6
    assert (ts["queue_len"] > 0).all()                                      # a mean wait: a fraction waiting


def test_the_report_draws_a_fluid_run_over_its_steps(runs):
    folder = runs["fluid"]
    notes: list[str] = []
    write_run_figures(folder, notes, formats=("svg",))
    assert NO_FLUID_CDF in notes and not any("latency CDFs skipped" in n for n in notes)
    chart = timeseries_chart(read_timeseries(folder), read_summary(folder)["fidelity"]["step_s"])
    running = next(p for p in chart.panels if p.title.startswith("running sequences"))
    assert running.title == "running sequences, mean per step, pool servers"
    line = running.series[0]
    # each step's mean from the step's start (the first from 0, not from its end at 10 min), the last held
    assert np.asarray(line.x).tolist() == [k * STEP for k in range(7)]
    np.testing.assert_allclose(line.y, RHO, rtol=1e-9)


def test_the_report_says_a_fluid_runs_end_backlog_as_the_terminal_does(runs):
    from sim.report.html_report import metrics_section

    fluid = metrics_section(read_summary(runs["fluid"]))
    assert "<td>requests waiting at the end (backlog)</td>" in fluid and "in flight at the end" not in fluid
    assert "<td>requests in flight at the end</td>" in metrics_section(read_summary(runs["request"]))


def _chart(runs, *names):
    comparison = compare([runs[n] for n in names])
    from sim.report.comparison_figures import read_tables

    requests, series = read_tables(comparison, [])
    usages = read_usages(comparison, [])
    summaries = [f.summary for f in comparison.folders]
    chart, width = over_time_chart(list(names), requests, series, [HOUR] * len(names), summaries=summaries,
                                   usages=usages)
    return {p.title.split(" (")[0].split(",")[0]: p for p in chart.panels}, width, summaries


def _drawn(panel, name):
    """A folder's line in a panel: the bins' starts and values (without the point that holds the last)."""
    s = next(s for s in panel.series if s.label == name)
    return np.asarray(s.x[:-1]), np.asarray(s.y[:-1])


def test_the_fleet_over_time_of_fluid_runs_is_worked_by_hand(runs):
    panels, width, summaries = _chart(runs, "fluid", "sharded")
    assert width == 60.0            # 80 bins of 45 s, in round numbers: a step covers ten
    assert list(panels) == ["requests completed per second", "requests waiting", "sequences running",
                            "replicas provisioned", "compute cost per hour"]
    for name, scale in (("fluid", 1), ("sharded", SCALE)):
        x, rate = _drawn(panels["requests completed per second"], name)
        assert x.tolist() == [width * k for k in range(60)]                  # (seconds: an hour's run)
        np.testing.assert_allclose(rate, RHO, rtol=1e-9)                      # one shard's, the whole fleet's / 3
        np.testing.assert_allclose(_drawn(panels["sequences running"], name)[1], RHO, rtol=1e-9)
        assert _drawn(panels["replicas provisioned"], name)[1].tolist() == [1.0] * 60
        np.testing.assert_allclose(_drawn(panels["compute cost per hour"], name)[1], PRICE * scale, rtol=1e-12)
    for s, name in zip(summaries, ("fluid", "sharded")):                      # the area: the compute cost row
        x, cost = _drawn(panels["compute cost per hour"], name)
        assert math.fsum(cost * width / HOUR) == pytest.approx(s["cost"]["compute_usd"], rel=1e-12)
        assert s["cost"]["compute_usd"] == PRICE * (SCALE if name == "sharded" else 1)
        x, rate = _drawn(panels["requests completed per second"], name)
        assert math.fsum(rate * width) == pytest.approx(s["requests"]["completed"], rel=1e-12)


def test_a_fluid_run_beside_a_request_level_one_draws_what_both_have(runs):
    panels, width, summaries = _chart(runs, "request", "fluid")
    for title, panel in panels.items():
        assert {s.label for s in panel.series} == {"request", "fluid"}, title
    # the request level's completions counted from its request table, a bin's worth each
    x, rate = _drawn(panels["requests completed per second"], "request")
    assert math.fsum(rate * width) == pytest.approx(summaries[0]["requests"]["completed"], rel=1e-12)
    # the bins the request level's minute samples allow (80 samples' span: 80 min / 80), the fluid run's
    # 10-minute steps drawn over them, not widening them
    assert width == 60.0
    x, running = _drawn(panels["sequences running"], "fluid")
    assert x.tolist() == [width * k for k in range(60)]
    np.testing.assert_allclose(running, RHO, rtol=1e-9)
    # the request level's running sequences: its one sample in each minute's bin, as its CSV has them
    ts = read_timeseries(runs["request"])
    x, running = _drawn(panels["sequences running"], "request")
    assert running.tolist() == [float(v) for t, v in zip(ts["time_s"], ts["running"]) if t < HOUR][:len(x)]


def test_the_page_says_what_a_fluid_run_lacks_and_why(runs):
    page = figures_section(compare([runs["request"], runs["fluid"]]))
    notes = [html.unescape(n.split("</p>")[0]) for n in page.split('<p class="note">')[1:]]
    assert notes == [f"B ({runs['fluid']}) is a fluid-tier run: it follows the load as flows in steps of 10 m and "
                     "keeps no request records, so it has no latency distributions (its latency percentiles are in "
                     "the metrics table; the fluid tier writes none per step); its requests completed per second are "
                     "those its steps served (usage.npz), each step's spread evenly over it; its time series' rows "
                     "are its steps' means, a step at capacity for part of it included (its full batches over that "
                     "part only)."]
    both = figures_section(compare([runs["fluid"], runs["sharded"]]))
    assert f"A ({html.escape(str(runs['fluid']))}) and B ({html.escape(str(runs['sharded']))}) are fluid-tier " \
           "runs: each follows" in both
    assert "No folder has a request table with rows: no latency distributions." in both


def test_a_damaged_usage_file_costs_its_panels_only(runs, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(runs["fluid"], bad)
    (bad / "usage.npz").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ScenarioError, match="usage.npz"):
        read_usage_columns(bad)
    notes: list[str] = []
    assert read_usages(compare([runs["request"], bad]), notes)[1] is None
    assert notes == [f"B ({bad}): its usage.npz could not be read (not a NumPy .npz archive fleetsim can read "
                     "(File is not a zip file)); its compute cost over time is left out, and its requests completed "
                     "per second"]
    # the fluid run's own note does not then say the file is absent
    page = html.unescape(figures_section(compare([runs["request"], bad])))
    assert "its usage.npz could not be read" in page and "no usage.npz" not in page
    assert "no requests completed per second (its usage.npz could not be read)" in page


def test_spreading_over_bins_agrees_with_each_interval_cut_by_hand():
    rng = np.random.default_rng(5)
    start = rng.uniform(0, 90, 200)
    end = start + np.where(rng.random(200) < 0.1, 0.0, rng.uniform(0, 40, 200))
    amount = rng.uniform(0, 5, 200)
    edges = np.array([0.0, 7.0, 30.0, 31.0, 64.0, 100.0])
    by_hand = np.zeros(edges.size - 1)
    for s, e, a in zip(start, end, amount):
        for k in range(edges.size - 1):
            if e > s:
                by_hand[k] += a * max(0.0, min(e, edges[k + 1]) - max(s, edges[k])) / (e - s)
            elif edges[k] <= s < edges[k + 1]:
                by_hand[k] += a
    np.testing.assert_allclose(spread_sums(start, end, amount, edges), by_hand, rtol=1e-9, atol=1e-9)


def test_a_comparison_across_the_tiers_says_so(runs):
    note = compare([runs["request"], runs["fluid"]]).notes
    assert note == ["A ran at request level and B in the fluid tier: their differences are the fluid tier's "
                    "approximation (each step's mean load served through capacity curves measured by short "
                    "request-level runs: docs/scaling.md, 'What each tier models') as well as their scenarios'"]
    assert not any("fluid tier" in n for n in compare([runs["fluid"], runs["sharded"]]).notes)
    assert not any("fluid tier" in n for n in compare([runs["request"], runs["request"]]).notes)


def test_the_terminal_says_no_preemption_count_the_fluid_summary_does_not_have(runs):
    from sim.report_text import format_summary

    fluid, request = RESULTS["fluid"], RESULTS["request"]
    assert fluid.summary["requests"]["preemptions"] is None          # (inside the fluid tier's curves)
    assert "preemptions" not in format_summary(fluid)
    assert f"preemptions {request.summary['requests']['preemptions']:,}" in format_summary(request)


def test_a_step_behind_a_backlog_holds_its_mean_queue_as_the_request_levels_rows_average(runs, tmp_path):
    """A fluid row holds its step's means, the queue of a step behind a backlog too: at 1.5 requests a second
    for the half hour after 30 min on the one-request-a-second server, the fluid queue grows by 0.5 a second,
    900 waiting at 60 min, its mean over that half hour 450 (a straight rise; the curve's own queue at capacity,
    about 11 under it, adds its triangle ``11^2 / 1,800``, 0.07), and it drains to 0 by 90 min: the row at 60 min
    reads 450, where it read the end's 900 before, drawn over the half hour. The request level's rows, a sample
    every 60 s, average over that half hour to what samples of the rise add up to, ``0.5 x 60 x (1 + ... + 30)
    / 30 = 465`` by hand (seeds 1-3: 465.7, 471.1, 436.2), so the two tiers' waiting panels agree (before, 900
    against 458). The page says the rows are the steps' means, a backlog's end holding its running only."""
    arrival = {"process": "piecewise", "times": [0, 1800, 3600], "rates": [RHO, 3 * RHO, RHO]}
    sc = pool("fluid", arrival, duration=2 * HOUR, step_s=1800.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(sc).write(tmp_path / "surge", figures="none")
    ts = read_timeseries(tmp_path / "surge")
    assert ts["time_s"].tolist() == [1800.0, 3600.0, 5400.0, 7200.0]
    rise = (3 * RHO - 1.0) * 1800.0                                          # 900 at the step's end
    assert ts["queue_len"][1] == pytest.approx(rise / 2, abs=0.1)           # 450: the half hour's mean
    sampled = []
    for seed in (1, 2, 3):
        req = pool("request", arrival, duration=2 * HOUR, step_s=1800.0)
        req["seed"] = seed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = sim.run(req).timeseries
        half = (t[:, 0] > 1800.0) & (t[:, 0] <= 3600.0)
        sampled.append(float(np.mean(t[half, 3] + t[half, 4])))
    assert np.mean(sampled) == pytest.approx(0.5 * 60 * 31 / 2, rel=0.05)   # 465: 60 s samples of the rise
    assert ts["queue_len"][1] == pytest.approx(np.mean(sampled), rel=0.05)
    page = html.unescape(figures_section(compare([tmp_path / "surge"])))
    assert "its time series' rows are its steps' means, a step at capacity for part of it included (its full " \
           "batches over that part only)." in page
    assert "a fluid-tier run's rows are its steps' means, each drawn over the step it ends)" in page


def test_a_usage_file_whose_intervals_end_before_they_start_is_refused(runs, tmp_path):
    """An interval that ends before it starts (fleetsim writes none) is a damaged file: read as it is, its
    negative length would draw negative GPUs, a compute cost per hour below zero."""
    import shutil

    bad = tmp_path / "swapped"
    shutil.copytree(runs["fluid"], bad)
    with np.load(bad / "usage.npz", allow_pickle=False) as z:
        members = {name: z[name] for name in z.files}
    members["interval_start_s"], members["interval_end_s"] = members["interval_end_s"], members["interval_start_s"]
    np.savez(bad / "usage.npz", **members)
    with pytest.raises(ScenarioError) as err:
        read_usage_columns(bad)
    assert str(err.value) == f"{bad / 'usage.npz'}: interval_end_s: before its interval_start_s in 1 row of 1"
    notes: list[str] = []
    assert read_usages(compare([bad]), notes) == [None] and "could not be read" in notes[0]


def test_a_setting_only_the_fluid_tier_reads_is_said_unread_in_a_request_level_run(runs, tmp_path, capsys):
    """The request level never reads ``fluid.*``: its scenario's default step (1 h) is no setting it ran with,
    so the terminal, the page and ``--json`` say it unread rather than ``fluid.step: 3600 → 600``."""
    both = compare([runs["request"], runs["fluid"]])
    assert dict(both.differences)["fluid.step"] == [NotRead(HOUR), STEP]
    assert dict(both.differences)["fidelity"] == ["request", "fluid"]       # the tier itself is a difference
    assert "  fluid.step: not read (fluid tier only) → 10 m" in comparison_text(both, None).splitlines()
    assert "<tr><td>fluid.step</td><td>not read (fluid tier only)</td><td>10 m</td></tr>" in folders_section(both)
    said = next(d for d in both.as_json()["differences"] if d["key"] == "fluid.step")
    assert said == {"key": "fluid.step", "values": [HOUR, STEP], "not_read": [0], "read_by": "fluid tier"}
    # two request-level runs whose scenarios differ in fluid.step alone: neither run read it
    sc = pool("request", {"process": "poisson", "rate": RHO}, duration=HOUR)
    sc["fluid"] = {"step": 1800.0}
    sim.run(sc).write(tmp_path / "request-1800", figures="none")
    neither = compare([runs["request"], tmp_path / "request-1800"])
    assert neither.differences == []
    assert neither.notes == ["fluid.step differs in the scenarios but is read by the fluid tier only, and no "
                             "folder ran in it: not listed among the settings that differ"]
