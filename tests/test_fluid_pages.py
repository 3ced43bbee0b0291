"""What the report and comparison pages draw for a fluid-tier run, worked by hand on ``tiers_pool``'s
deterministic server (1 s a request, one at a time, ``$2`` a GPU-hour, one GPU a replica) at a Poisson
rate of ``RHO`` = 0.5 a second: the fluid tier serves each step's expected arrivals, ``RHO`` a second,
and keeps ``RHO`` sequences running on average (Little's law on the server: ``L = λ E[S] = ρ``); a pool of
``scale: 3`` identical shards bills 3 GPUs, ``$6`` an hour.

* ``timeseries.csv`` keeps a fluid step's means (0.5 sequences running), where a cast to integers wrote 0;
* the report page draws a fluid run's rows over the steps they end, says why it has no latency CDFs and
  says its end backlog as the terminal does.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.report.result_folder import read_summary, read_timeseries
from sim.report.run_figures import NO_FLUID_CDF, timeseries_chart, write_run_figures
from tiers_pool import pool

RHO = 0.5
HOUR = 3600.0
STEP = 600.0
SCALE = 3


def _run(out: Path, fidelity: str, scale: int = 1) -> Path:
    sc = pool(fidelity, {"process": "poisson", "rate": RHO}, duration=HOUR, step_s=STEP)
    sc["fleet"]["pools"][0]["scale"] = scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(sc).write(out, figures="none")
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
