"""The fluid tier's two queues for the steps a capacity curve replays (:mod:`sim.fluid.run`; docs/scaling.md,
"A surge inside a replayed step"): the pool's queue builds on the trace's own sub-step counts (backlog, requests in
flight, time series, billing), while the latencies and SLO attainment read a queue of their own on each replayed
step's even reading (:func:`sim.fluid.replay.held_spread`). Both are one pool: one fleet, one replica trajectory.

The trace, made here: one H100 serving Llama-3-8B (prompts of 1,000 tokens, 400 out: ``max_rps`` 16.0/s per
replica), background arrivals at 4.8/s in clumps of 3 (index of dispersion about 3 at 1 s, so the curves replay the
trace), and 100 s at 48/s (3 times one replica's capacity) in the last 100 s of the second of three 600 s steps. On
the trace's counts the surge leaves a backlog at that step's end; read evenly (12/s over the step) it leaves none.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import sim
import sim.fluid.run as fluid_run
from test_fluid_replay_surge import _trace as surge_trace     # the same surge, placed elsewhere

STEP = 600.0


def _trace(path, start: float = 1100.0, clump: int = 3) -> None:
    """Background at 0.3 of one replica's capacity plus 100 s at 3 times it from ``start``, in clumps of
    ``clump`` requests 1 ms apart (the surge test's trace)."""
    surge_trace(path, clump, start=start)


def _scenario(path, pool: dict | None = None, duration: float = 1800.0, step: float = STEP) -> dict:
    return {"name": "surge", "seed": 1, "duration": duration, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "trace", "path": str(path), "format": "fleetsim"}},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1, **(pool or {})}]},
            "perf": {"model": "roofline"}, "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "fluid": {"step": step}}


def _fluid(sc: dict, monkeypatch) -> tuple[dict, np.ndarray, list]:
    """The fluid run's summary, time series and every pool queue it built (in order)."""
    built = []
    real = fluid_run.fluid_queue

    def recording(*args, **kwargs):
        q = real(*args, **kwargs)
        built.append(q)
        return q

    monkeypatch.setattr(fluid_run, "fluid_queue", recording)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sim.run(sc, overrides=["fidelity=fluid"])
    return res.summary, res.timeseries, built


def test_an_autoscaled_replayed_pool_prices_its_latencies_on_the_replicas_it_bills(tmp_path, monkeypatch):
    """Autoscaled on ``queue`` (20 per replica, 1 to 3 replicas, no stabilization window): the surge's backlog at
    the second step's end keeps 3 replicas in the third step on the trace's counts, where the even reading's queue
    (no backlog) would settle at about 2. Before, each queue ran its own autoscaler and the latencies were read on
    2.1 replicas in that step while 3.0 were billed; now the latencies' queue runs the billed replicas."""
    path = tmp_path / "surge.csv"
    _trace(path)
    sc = _scenario(path, {"autoscale": {"metric": "queue", "target": 20, "min": 1, "max": 3, "cooldown": 0}})
    s, ts, built = _fluid(sc, monkeypatch)
    assert s["fidelity"]["arrival_dispersion"]["modelled"] == "trace"
    counts, latency = built                     # the replayed pool's two queues
    assert counts.b_end[1] > 40 and latency.b_end[1] == 0    # the surge's backlog: on the counts only
    # billed: the time series' replicas, whose replica-seconds are the GPU-hours (one GPU per replica)
    billed = ts[:, 2]
    assert s["gpu_hours"]["provisioned"] == pytest.approx(float(np.sum(billed * STEP)) / 3600.0)
    assert billed[2] > billed[1] - 1e-9 > 1.0    # the backlog kept the pool scaled up in the third step
    np.testing.assert_array_equal(counts.n, billed)
    # the replicas behind the latencies: the billed ones, provisioned and serving
    np.testing.assert_array_equal(latency.n, counts.n)
    np.testing.assert_array_equal(latency.serving, counts.serving)
    assert latency.provisioned_total == counts.provisioned_total == s["pools"]["main"]["replicas_provisioned_total"]
    # one pool, the same arrivals: every request arrived is completed, refused or in flight on the counts, and
    # both queues complete them all over the run (both end empty), the throughput counting them (no warm-up)
    req = s["requests"]
    assert req["arrived"] == req["completed"] + req["rejected"] + req["in_flight"] and req["in_flight"] == 0
    assert counts.served.sum() == pytest.approx(latency.served.sum()) == pytest.approx(req["arrived"])
    assert s["throughput"]["requests_per_s"] * 1800.0 == pytest.approx(req["completed"])


def test_a_surge_cleared_inside_a_single_replayed_step_leaves_no_queue_at_its_end(tmp_path, monkeypatch):
    """One 1,800 s step, the surge from t = 700 s: by hand the backlog grows at 48 - 16 = 32/s to ~3,200 at
    800 s and clears at 16 - 4.8 = 11.2/s by ~1,090 s, so the step ends with the background alone: about
    4.8/s x a request's ~8 s of service running (Little's law), nothing waiting (the request level: 30 in the
    system at the end, ``stable``). Before, the step's end read the curve's mean queue time at the step's mean
    rate (12/s), which holds the surge's replayed waits: 336 queued + 71 running = 407, past the verdict's
    allowance (~340 of the run's 13,026 arrivals), so the run read ``unstable``. The step's row holds its mean
    queue: the surge's, a triangle of ~3,200 over ~390 s, ``3,200 x 390 / 2 / 1,800 = 347``, the curve's 336 at
    the step's mean rate holding the same waits (the larger of the two, not their sum); its running the step's
    mean too, the surge's full batches over the ~390 s at capacity above the background's at the end."""
    path = tmp_path / "surge700.csv"
    _trace(path, start=700.0)
    s, ts, (counts, _) = _fluid(_scenario(path, step=1800.0), monkeypatch)
    assert s["fidelity"]["arrival_dispersion"]["modelled"] == "trace"
    assert counts.b_end[-1] == 0 and s["requests"]["in_flight"] == 0     # the pool's queue cleared
    st = s["stability"]
    assert st["verdict"] == "stable"
    assert ts[-1, 3] == pytest.approx(3200 * 390 / 2 / 1800, rel=0.05)     # the step's mean queue
    assert 4.8 * 2 < st["in_flight_at_end"] < 4.8 * 20     # nothing waiting at the end, the background's
    #                                                        running: 4.8/s x 2 to 20 s
    assert ts[-1, 5] > st["in_flight_at_end"]              # the row: the step's mean, the surge's batches in it
    assert st["in_flight_peak"] > 3000 * 0.3               # the surge's backlog, read on its sub-steps


@pytest.mark.slow
def test_a_surge_at_a_single_replayed_steps_end_keeps_its_backlog_and_verdict(tmp_path, monkeypatch):
    """The surge in the step's last 150 s (from 1,650 s): its backlog is still there at the end (by hand
    32/s x 100 s less what 50 s at 11.2/s clears, ~2,640), the end's queue is the pool's backlog and the verdict
    ``unstable``, as at the request level (measured: fluid 2,931 in the system at the end against 2,781), and
    the throughput counts the requests completed, as the request level's (10,351 against 10,245)."""
    path = tmp_path / "surge1650.csv"
    _trace(path, start=1650.0)
    s, ts, (counts, _) = _fluid(_scenario(path, step=1800.0), monkeypatch)
    assert 2000 < counts.b_end[-1] < 3300
    at_end = s["stability"]["in_flight_at_end"] - counts.b_end[-1]     # the end's queue, and its running:
    assert at_end > ts[-1, 5]                       # at capacity, more than the step's mean the row holds
    assert ts[-1, 3] < 0.25 * counts.b_end[-1]     # the row: the step's mean, the backlog rising in its last 150 s
    assert s["requests"]["arrived"] == s["requests"]["completed"] + s["requests"]["in_flight"]
    # the throughput: the requests completed (no warm-up), not the latencies' queue's, which read the step evenly
    # and served them all (before: 13,026 / 1,800 s, where 10,351 completed)
    assert s["throughput"]["requests_per_s"] * 1800.0 == pytest.approx(s["requests"]["completed"], abs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = sim.run(_scenario(path, step=1800.0), overrides=["fidelity=request"]).summary
    assert s["stability"]["verdict"] == r["stability"]["verdict"] == "unstable"
    assert s["stability"]["in_flight_at_end"] == pytest.approx(r["stability"]["in_flight_at_end"], rel=0.2)
