"""A review of the fluid tier's waits behind a backlog, against hand arithmetic and the request level.

The pool of ``tiers_pool``: one server, service exactly 1 s (``mu = 1`` request/s, the curve's
``max_rps`` 1 to the bit). Arrivals at 0.5/s for 200 s, 1.5/s for 1,000 s, then 0.5/s to 3,000 s,
``drain: false``. In the fluid limit the backlog grows at 0.5/s to 500 at 1,200 s and drains at
0.5/s, empty at 2,200 s. First come, first served, a request arriving at ``a`` waits ``Q(a) / mu``:
the 1,500 arrivals of the overload see ``Q`` rise evenly from 0 to 500, the 500 of the drain see it
fall evenly from 500 to 0, so 2,000 of the 2,500 requests wait a time spread evenly over
``[0, 500]`` s and the other 500 (at load 0.5, M/D/1) 0.5 s on average:

* mean ``(2,000 x 250 + 500 x 0.5) / 2,500 = 200.1`` s;
* ``P(W > x) = 0.8 (1 - x / 500)``: p50 187.5 s, p90 437.5 s, p99 493.75 s.

While the backlog is carried the step's load is the server's capacity, which the curve reads at its
top point (95 % of ``max_rps``), where its own stationary queue waits about 10 s (M/D/1: 9.5 s).
The backlog's wait *is* the queue there; the fluid tier added it on top of the curve's, and read a
peak queue of 511 and a mean wait of 208.7 s (p90 450, p99 507), the same at every ``fluid.step``,
as if the server drained at 0.988/s. The backlog itself drained at exactly 1/s all along.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import sim

from test_queueing_theory import _ci99
from tiers_pool import in_system, pool

ARRIVAL = {"process": "piecewise", "times": [0, 200, 1200], "rates": [0.5, 1.5, 0.5]}
END = 3000.0
HAND = {"mean": 200.1, "p50": 187.5, "p90": 437.5, "p99": 493.75}
PEAK = 500.0
SEEDS = 80


def _run(fidelity: str, *, seed: int = 1, step_s: float = 60.0):
    sc = pool(fidelity, ARRIVAL, seed=seed, duration=END, step_s=step_s)
    sc["drain"] = False
    return sim.run(sc)


@pytest.fixture(scope="module")
def fine():
    return [_run("request", seed=s) for s in range(1, SEEDS + 1)]


@pytest.mark.parametrize("step_s", [5.0, 10.0, 60.0])
def test_the_overload_backlog_peaks_at_the_fluid_limit_at_every_step(step_s):
    """The queue column peaks at the backlog's mean over the step that ends at its peak, 500 less half a step's
    growth at 0.5/s (was 511 at the peak itself: the curve's own queue added to it)."""
    res = _run("fluid", step_s=step_s)
    assert res.summary["pools"]["servers"]["max_rps_per_replica"] == pytest.approx(1.0, rel=1e-9)
    assert res.timeseries[:, 3].max() == pytest.approx(PEAK - 0.5 * step_s / 2, rel=1e-9)
    t = res.timeseries[:, 0]

    def q(at):      # grows at 0.5/s, drains at 0.5/s
        return np.clip(np.minimum(0.5 * (at - 200.0), 500.0 - 0.5 * (at - 1200.0)), 0.0, None)

    # a row is its step's mean, a straight line's its middle's, wherever the backlog outgrows the curve's ~10
    deep = (q(t - step_s) > 20.0) & (q(t) > 20.0)
    assert np.allclose(res.timeseries[deep, 3], q(t[deep] - step_s / 2), rtol=1e-9)


@pytest.mark.parametrize("step_s", [10.0, 60.0])
def test_the_waits_behind_the_backlog_are_the_hand_numbers(step_s):
    """Mean and percentiles of the queue time: the hand numbers within the 1 % histogram bins and the
    M/D/1 queue of the requests served before the backlog outgrows the curve's (was +4.3 % on the mean,
    +2.9 % on p90)."""
    q = _run("fluid", step_s=step_s).summary["latency"]["queue"]
    assert q["mean"] == pytest.approx(HAND["mean"], rel=0.005)
    for k in ("p50", "p90", "p99"):
        assert q[k] == pytest.approx(HAND[k], rel=0.011), (k, q[k])


def test_the_request_level_agrees_with_the_hand_numbers_and_the_fluid_tier(fine):
    """80 seeds of the request level: their mean within its 99 % interval (plus 1 %) of the hand
    numbers and of the fluid tier's; the peak in the system too (500 and the one in service)."""
    fluid = _run("fluid").summary["latency"]["queue"]
    for k, want in HAND.items():
        m, half = _ci99(np.array([r.summary["latency"]["queue"][k] for r in fine]))
        assert abs(m - want) <= half + 0.01 * want, (k, m, half, want)
        assert abs(m - fluid[k]) <= half + 0.015 * want, (k, m, half, fluid[k])
    m, half = _ci99(np.array([in_system(r.records, np.array([1200.0]))[0] for r in fine], dtype=np.float64))
    assert abs(m - (PEAK + 1.0)) <= half + 2.0, (m, half)


def test_a_wait_falling_through_an_hourly_step_is_read_finely_enough():
    """0.5/s for half an hour, 1.5/s for the next, then 0.5/s, in hourly steps: 2,700 + 900 of the 5,400
    requests wait evenly over ``[0, 900]`` s (``P(W > x) = 2/3 (1 - x / 900)``: p50 225 s, p90 765 s).
    In the second step the wait falls 1 s per second served; read at 64 instants it was a staircase of
    56 s and the quantiles read p50 230.1 s (+2.3 %) and p90 755.5 s (-1.2 %). Read at the 144 instants
    of ``sim.fluid.backlog.POINTS`` (12 a sub-step, no interpolation between them), a staircase of 25 s:
    300.2 / 226.7 / 763.1 s, within a 1 % histogram bin."""
    arrival = {"process": "piecewise", "times": [0, 1800, 3600], "rates": [0.5, 1.5, 0.5]}
    q = sim.run(pool("fluid", arrival, duration=7200.0, step_s=3600.0)).summary["latency"]["queue"]
    assert q["mean"] == pytest.approx(300.0, rel=0.005)
    assert q["p50"] == pytest.approx(225.0, rel=0.01)
    assert q["p90"] == pytest.approx(765.0, rel=0.005)


def test_a_class_that_stops_arriving_is_served_its_backlog_first():
    """Class a at 1.5/s for an hour, then class b at 0.5/s for an hour (one server at 1/s, hourly
    steps): the first hour serves 3,600 of a and leaves 1,800 of a waiting; first come, first served,
    the second hour serves those 1,800, then b's 1,800 as they come (the backlog 1,800 - 0.5 x is gone
    at 3,600 s into it). Each class completes all it sent: a 5,400, b 1,800 (each step's services took
    the step's demand mix before: a 3,600, b 3,600, more than b sent)."""
    sc = pool("fluid", {"process": "poisson", "rate": 1.0}, duration=7200.0, step_s=3600.0)
    del sc["workload"]["arrival"]
    sc["workload"]["classes"] = [
        {"name": "a", "arrival": {"process": "piecewise", "times": [0, 3600], "rates": [1.5, 0.0]}},
        {"name": "b", "arrival": {"process": "piecewise", "times": [0, 3600], "rates": [0.0, 0.5]}}]
    for c, line in zip(sc["workload"]["classes"], ("line-a", "line-b")):
        c["revenue_line"] = line
    # $1 a request (one output token each): a line's revenue is its class's services
    sc["economics"]["revenue"] = [{"name": n, "usd_per_million_output_tokens": 1e6} for n in ("line-a", "line-b")]
    res = sim.run(sc)
    got = {c: blk["requests"] for c, blk in res.summary["classes"].items()}
    assert (got["a"]["arrived"], got["a"]["completed"], got["a"]["in_flight"]) == (5400, 5400, 0)
    assert (got["b"]["arrived"], got["b"]["completed"], got["b"]["in_flight"]) == (1800, 1800, 0)
    by_line = res.summary["cashflow"]["revenue_by_line"]
    assert by_line["line-a"] == pytest.approx(5400.0, rel=1e-9)
    assert by_line["line-b"] == pytest.approx(1800.0, rel=1e-9)


@pytest.mark.parametrize("step_s", [60.0, 3600.0])
def test_a_backlog_drained_with_no_arrivals_waits_the_hand_numbers(step_s):
    """1.5/s for an hour, then nothing: an arrival at ``t`` waits ``0.5 t``, evenly over ``[0, 1,800]`` s
    (mean 900 s, p90 1,620 s, p99 1,782 s); the second hour serves the 1,800 left in its first half and
    nobody after, whose instants' waits (the time since the last arrival) weigh nothing. Within the 1 %
    histogram bins (the wait at its bin's centre, then the sum at its own: up to two half bins)."""
    q = sim.run(pool("fluid", {"process": "piecewise", "times": [0, 3600], "rates": [1.5, 0.0]},
                     duration=7200.0, step_s=step_s)).summary["latency"]["queue"]
    assert q["mean"] == pytest.approx(900.0, rel=0.002)
    for k, v in (("p50", 900.0), ("p90", 1620.0), ("p99", 1782.0)):
        assert q[k] == pytest.approx(v, rel=0.01), (k, q[k])


def test_a_pool_pinned_to_a_class_that_rises_within_a_step_loses_its_own_idle_capacity():
    """Two one-server pools, class a pinned to x (0.5/s for half an hour, then 1.5/s, then 0.5/s), class b
    to y (0.5/s throughout), hourly steps. Pool x is the single server of the hand-worked case: 900
    waiting at 3,600 s, gone at 5,400 s; class a's queue time P(W > x) = 2/3 (1 - x / 900): mean 300 s,
    p50 225 s, p90 765 s. Each pool's sub-steps took the fleet's rate within the step (a third of the
    hour's demand in its first half, not a quarter), and pool x read 600 at 3,600 s, class a 168 s."""
    sc = pool("fluid", {"process": "poisson", "rate": 1.0}, duration=7200.0, step_s=3600.0)
    del sc["workload"]["arrival"]
    sc["workload"]["classes"] = [
        {"name": "a", "arrival": {"process": "piecewise", "times": [0, 1800, 3600], "rates": [0.5, 1.5, 0.5]}},
        {"name": "b", "arrival": {"process": "poisson", "rate": 0.5}}]
    one = sc["fleet"]["pools"][0]
    sc["fleet"]["pools"] = [{**one, "name": "x"}, {**one, "name": "y"}]
    sc["fleet"]["router"] = {"policy": "random", "classes": {"a": "x", "b": "y"}}
    res = sim.run(sc)
    ts = res.timeseries
    assert ts[(ts[:, 0] == 3600.0) & (ts[:, 1] == 0), 3][0] == pytest.approx(225.0, abs=1.0)   # 900 / 2 x 1/2 h
    assert ts[ts[:, 1] == 1, 3].max() < 1.0                     # y at half its capacity: no backlog
    q = res.summary["classes"]["a"]["latency"]["queue"]
    assert q["mean"] == pytest.approx(300.0, rel=0.005)
    assert q["p50"] == pytest.approx(225.0, rel=0.01)
    assert q["p90"] == pytest.approx(765.0, rel=0.005)


def test_steps_in_the_warmup_weigh_nothing_in_the_waits():
    """The overload above with a warm-up of 1,200 s (the peak): the requests served after it are the
    500 of the backlog served from 1,200 s to 1,700 s (their waits rise evenly from 333.3 s to 500 s:
    they arrived at 1.5/s from 866.7 s), then 500 whose waits fall evenly from 500 s to 0 (arrived at
    0.5/s after 1,200 s), then 400 at load 0.5 (M/D/1: 0.5 s): mean (500 x 416.7 + 500 x 250 + 400 x
    0.5) / 1,400 = 238.2 s. With a warm-up of 2,400 s, after the backlog, the M/D/1 queue alone."""
    def queue(warmup: float) -> dict:
        sc = pool("fluid", ARRIVAL, duration=END, step_s=60.0)
        sc["drain"], sc["warmup"] = False, warmup
        return sim.run(sc).summary["latency"]["queue"]

    assert queue(1200.0)["mean"] == pytest.approx((500 * 1250.0 / 3 + 500 * 250.0 + 400 * 0.5) / 1400, rel=0.002)
    assert queue(2400.0)["mean"] == pytest.approx(0.5, abs=0.2)


def test_an_autoscaled_pool_loses_idle_capacity_within_a_step_as_a_fixed_one_does():
    """The autoscaler's path serves each step on its sub-steps one step at a time; held at two replicas
    (min = max = 2) it is the fixed pool of two: 1/s for half an hour, then 3/s, against 2/s, leaves
    1,800 waiting at the hour's end (0.5 x 2 x 1,800 s), the waits of the hand-worked case."""
    arrival = {"process": "piecewise", "times": [0, 1800, 3600], "rates": [1.0, 3.0, 1.0]}
    fixed = pool("fluid", arrival, duration=7200.0, step_s=3600.0)
    fixed["fleet"]["pools"][0]["replicas"] = 2
    auto = copy.deepcopy(fixed)
    auto["fleet"]["pools"][0]["autoscale"] = {"metric": "load_factor", "target": 0.9, "min": 2, "max": 2}
    a, b = sim.run(fixed), sim.run(auto)
    assert a.timeseries[0, 3] == pytest.approx(1800.0 / 2 / 2, abs=2.0)   # the hour's mean: 1,800 at its end
    assert b.timeseries[0, 3] == a.timeseries[0, 3]
    assert b.summary["latency"] == a.summary["latency"] and b.summary["gpu_hours"] == a.summary["gpu_hours"]
    assert a.summary["latency"]["queue"]["mean"] == pytest.approx(300.0, rel=0.005)


def test_a_trace_replay_loses_idle_capacity_within_a_step_as_a_rate_function_does(tmp_path):
    """A trace of 0.5 requests/s for half an hour, then 1.5/s, then 0.5/s, evenly spaced, in hourly
    steps: the hand-worked case of ``test_tiers_within_step`` (900 waiting at 3,600 s; queue time mean
    300 s, p90 765 s; the request level replays it to 300.0 s and 765.0 s). Its rate was taken constant
    within a step (no sub-steps): the hour ended with no backlog and the queue time read 7.6 s."""
    from conftest import write_trace

    t = np.concatenate([np.arange(900) * 2.0, 1800 + np.arange(2700) / 1.5, 3600 + np.arange(1800) * 2.0])
    arrival = {"process": "trace", "format": "fleetsim",
               "path": str(write_trace(tmp_path / "t.csv", [(float(x), 1000, 1) for x in t]))}
    sc = pool("fluid", arrival, duration=7200.0, step_s=3600.0)
    sc["workload"]["arrival"] = arrival
    res = sim.run(sc)
    assert res.timeseries[0, 3] == pytest.approx(900.0 / 2 / 2, abs=1.0)    # the hour's mean: 900 at its end
    q = res.summary["latency"]["queue"]
    assert q["mean"] == pytest.approx(300.0, rel=0.005)
    assert q["p90"] == pytest.approx(765.0, rel=0.005)
