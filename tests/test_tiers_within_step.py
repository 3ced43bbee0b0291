"""Waits inside an hourly step: each request served by its own first-come-first-served wait.

The pool of ``tiers_pool`` (one server, service exactly 1 s: ``mu = 1`` request/s) in hourly fluid
steps (the default). In the fluid limit a request arriving at ``a`` waits ``Q(a) / mu``; within a
step where a backlog grows or clears that wait is a linear function of the arrival time, so the
step's requests wait a spread of times, not the step's mean. Worked by hand:

* **grows through a step**: 1.5/s for one hour, ending there. ``Q`` rises at 0.5/s; the 3,600 served
  waited ``s / 3`` (served at ``s``, arrived at ``s / 1.5``), evenly over ``[0, 1200]`` s, and the 1,800
  left (the last 1,800 arrivals, of the last 1,200 s) count at their age once past the 5 s TTFT
  objective, evenly over ``[5, 1200]``: about ``U(0, 1200)`` for all 5,392.5 counted, so p50 600 s,
  p90 1,080 s, p99 1,188 s. One mean per step read the 3,600 served at 600 s: p90 840 s.
* **clears halfway through a step**: 1.25/s for an hour (a backlog of 900 at 3,600 s, its arrivals'
  waits evenly over ``[0, 900]``), then 0.5/s to 7,200 s: the backlog drains at 0.5/s and is gone at
  5,400 s, halfway through the second step; its 900 arrivals before then wait 900 s down to 0, the
  900 after about nothing. ``P(W > x) = 6/7 (1 - x / 900)``: mean 385.7 s, p50 375 s, p90 795 s,
  p99 889.5 s. Step means (360 s for the first step's 3,600, 420 s for the second's 2,700) read p90
  and p99 at 420 s.
* **a step at exact capacity**: 1.25/s for an hour, 1.0/s for the next (the backlog stays 900: each
  of its 3,600 arrivals waits 900 s), then 0.5/s for two hours (gone at 9,000 s). 5,400 requests wait
  evenly over ``[0, 900]``, 3,600 wait 900 s, 2,700 nothing: mean 484.6 s, p50 525 s, p90 and p99
  900 s. Step means read p50 at the third step's 450 s (−14 %).

While a backlog is carried the curve is read at its top grid point, whose own stationary queue
(``test_tiers_overload``: about 11 s mean, 33 s p99 for this server) is the backlog's: a request behind
it waits the backlog's wait where that is longer (``StepWaits.beyond``; the two were added before). The
fluid statistics are the hand numbers within the 1 % of a histogram bin, above them by at most that
queue's spread where every request of a step waits alike (exact capacity), below them by at most its
mean (the instants served at capacity read the curve's top point, whose mean queue their wait replaces). The request
level (mean of 20 seeds, ``slow``) agrees within its noise (measured, queue time mean / p50 / p90 / p99
in seconds: grows 592.8 / 589.2 / 1,071.2 / 1,177.8, clears 374.5 / 359.3 / 778.9 / 863.5, capacity
476.8 / 511.4 / 901.5 / 924.2, standard errors 5-20 s; the fluid tier 600.8 / 601.0 / 1,081.0 /
1,194.1, 385.8 / 376.5 / 794.1 / 885.9 and 484.7 / 522.8 / 903.7 / 912.8, each instant read at the load
served then (at the step's mean load, 386.0 / 376.5 / 794.1 / 885.9 and 484.8 / 528.1 / 894.8 / 912.8); with the curve's queue
added to the backlog's wait it read 608.3 / 607.0 / 1,091.8 / 1,194.1, 392.7 / 380.3 / 794.1 / 885.9
and 491.9 / 533.4 / 912.8 / 931.1; one mean wait per step read 608.3 / 607.0 / 834.6 / 1,170.6,
392.7 / 384.1 / 424.3 / 428.5 and 491.9 / 450.4 / 894.8 / 903.7).
"""
from __future__ import annotations

import numpy as np
import pytest

import sim

from test_queueing_theory import _ci99
from tiers_pool import pool

HOUR = 3600.0
CASES = {
    "grows": ({"process": "poisson", "rate": 1.5}, HOUR,
              {"mean": (3600 * 600.0 + 1792.5 * 602.5) / 5392.5, "p50": 600.0, "p90": 1080.0, "p99": 1188.0}),
    "clears": ({"process": "piecewise", "times": [0, 3600], "rates": [1.25, 0.5]}, 2 * HOUR,
               {"mean": 6 / 7 * 450.0, "p50": 375.0, "p90": 795.0, "p99": 889.5}),
    "capacity": ({"process": "piecewise", "times": [0, 3600, 7200], "rates": [1.25, 1.0, 0.5]}, 4 * HOUR,
                 {"mean": (5400 * 450.0 + 3600 * 900.0) / 11700, "p50": 525.0, "p90": 900.0, "p99": 900.0}),
}


@pytest.fixture(scope="module")
def top() -> dict:
    """The curve's queueing at its top grid point (what a carried backlog adds in the fluid tier): its
    mean, and each percentile (a backlog of one wait, as at exact capacity, is shifted by all of it)."""
    from sim.fluid.run import measured_curves
    from sim.scenario.load import scenario_from_dict

    arrival, end, _ = CASES["clears"]
    curve = measured_curves(scenario_from_dict(pool("fluid", arrival, duration=end, step_s=HOUR)))[0]
    q = {k: float(curve.latency["queue"][k][-1]) for k in ("mean", "p50", "p90", "p99")}
    assert 5.0 < q["mean"] < 20.0            # M/D/1 at 0.95: 9.5 s, a curve's draw of it
    return q


def _above(top: dict, k: str, v: float) -> float:
    """How far above the hand number ``v`` the fluid tier's statistic ``k`` may read."""
    return max(1.5 * top["mean"], top[k]) + 0.01 * v


@pytest.mark.parametrize("case", sorted(CASES))
def test_queue_time_percentiles_in_hourly_steps_are_the_hand_numbers(case, top):
    arrival, end, want = CASES[case]
    got = sim.run(pool("fluid", arrival, duration=end, step_s=HOUR)).summary["latency"]["queue"]
    for k, v in want.items():
        assert v * 0.99 <= got[k] <= v + _above(top, k, v), (case, k, got[k], v, top)


def test_ttft_and_e2e_carry_the_same_spread():
    """One token of 1 s service after the wait: TTFT and E2E are the queue time plus about 1 s, at every
    percentile (the spread shifts all three alike)."""
    arrival, end, _ = CASES["clears"]
    lat = sim.run(pool("fluid", arrival, duration=end, step_s=HOUR)).summary["latency"]
    for k in ("p50", "p90", "p99"):
        assert lat["ttft"][k] == pytest.approx(lat["queue"][k] + 1.0, rel=0.02)
        assert lat["e2e"][k] == pytest.approx(lat["queue"][k] + 1.0, rel=0.02)


def test_the_mean_is_unchanged_by_the_spread(top):
    """The mean of the step's waits is the hand number, 385.7 s: the backlog's waits where they are
    longer than the top point's queueing (it was added to them: +1.8 %)."""
    arrival, end, want = CASES["clears"]
    got = sim.run(pool("fluid", arrival, duration=end, step_s=HOUR)).summary["latency"]["queue"]["mean"]
    assert got == pytest.approx(want["mean"], rel=0.002)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_request_level_agrees_within_its_noise(case, top):
    arrival, end, want = CASES[case]
    fluid = sim.run(pool("fluid", arrival, duration=end, step_s=HOUR)).summary["latency"]["queue"]
    fine = [sim.run(pool("request", arrival, seed=s, duration=end, records="none")).summary["latency"]["queue"]
            for s in range(1, 21)]
    for k, v in want.items():
        m, half = _ci99(np.array([r[k] for r in fine]))
        assert abs(m - v) <= half + 0.02 * v, (case, k, m, half, v)
        assert abs(fluid[k] - m) <= half + _above(top, k, v) + 0.01 * v, (case, k, fluid[k], m, half)


def test_per_class_percentiles_count_the_end_backlog_at_its_ages_as_the_fleet_does(top):
    """Two classes of one mix (half each), 3/s for an hour, then 0.25/s, ending at 7,200 s. First come,
    first served across classes: the 7,200 served waited ``2 s / 3`` (served at ``s``, arrived at
    ``s / 3``), evenly over ``[0, 4800]`` s; the 4,500 left are the last arrivals: 3,600 of the first hour
    aged ``[3600, 4800]`` s and 900 of the second aged ``[0, 3600]`` (those past the 5 s objective
    count). Counted: 1.75 per second of wait up to 3,600 s, 4.5 beyond: p50 3,342.5 s, p90 4,539.8 s,
    p99 4,773.7 s, mean 2,908.0 s, in every class as in the fleet. Before, a class's percentiles left
    its end backlog out (the fleet's counted it): p50 2,400 s, the served alone."""
    arrival = {"process": "piecewise", "times": [0, 3600], "rates": [3.0, 0.25]}
    sc = pool("fluid", arrival, duration=2 * HOUR, step_s=HOUR)
    sc["workload"]["classes"] = [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]
    s = sim.run(sc).summary
    want = {"mean": 34_020_000.0 / 11_698.75, "p50": 3342.5, "p90": 4539.8, "p99": 4773.7}
    for name in ("a", "b"):
        got = s["classes"][name]["latency"]["queue"]
        assert s["classes"][name]["requests"]["in_flight"] == pytest.approx(2250, abs=1)
        for k, v in want.items():
            assert v * 0.99 <= got[k] <= v + _above(top, k, v), (name, k, got[k], v)
            assert got[k] == pytest.approx(s["latency"]["queue"][k], rel=0.01), (name, k)


def test_the_end_backlog_is_of_the_classes_that_arrived_last_not_of_the_last_steps_mix():
    """Class a arrives at 3/s in the first hour only, class b at 0.25/s in the second only: the 4,500
    left at 7,200 s are the last 4,500 arrivals, 3,600 of a (the first hour's last 1,200 s) and 900 of b.
    Before, the end backlog took the last step's mix: all 4,500 of b, none of a."""
    sc = pool("fluid", {"process": "poisson", "rate": 1.0}, duration=2 * HOUR, step_s=HOUR)
    sc["workload"]["classes"] = [
        {"name": "a", "arrival": {"process": "piecewise", "times": [0, 3600], "rates": [3.0, 0.0]}},
        {"name": "b", "arrival": {"process": "piecewise", "times": [0, 3600], "rates": [0.0, 0.25]}}]
    del sc["workload"]["arrival"]
    s = sim.run(sc).summary
    assert s["requests"]["in_flight"] == 4500
    assert s["classes"]["a"]["requests"]["in_flight"] == 3600
    assert s["classes"]["b"]["requests"]["in_flight"] == 900


def test_capacity_left_idle_before_a_rise_inside_a_step_serves_nobody_after_it(top):
    """0.5/s for the first half hour, 1.5/s for the second, then 0.5/s: the first hour's demand is its
    capacity (3,600), but the server idles half of the first half hour and that capacity cannot serve
    the arrivals after 1,800 s: the backlog grows at 0.5/s from 1,800 s to 900 at 3,600 s, and drains at
    0.5/s to nothing at 5,400 s. Before, the step's mean rate lent the idle capacity to the rise and the
    hour ended with no backlog. Busy time is the work done, 5,400 requests x 1 s = 1.5 h (the first half
    hour busy half of the time, the second all of it), not a step at capacity throughout."""
    arrival = {"process": "piecewise", "times": [0, 1800, 3600], "rates": [0.5, 1.5, 0.5]}
    res = sim.run(pool("fluid", arrival, duration=2 * HOUR, step_s=HOUR))
    queued = res.timeseries[:, 3]                   # each step's mean: the backlog's (or the curve's queue)
    assert queued[0] == pytest.approx(900.0 / 2 / 2, abs=5.0)     # up to 900 over the second half hour
    assert queued[1] == pytest.approx(900.0 / 2 / 2, abs=5.0)     # down from 900 over the first
    s = res.summary
    assert s["requests"]["completed"] == 5400 and s["requests"]["in_flight"] == 0
    assert s["gpu_hours"]["busy"] == pytest.approx(1.5, rel=1e-6)
    # the waits, read per sub-step: the 2,700 arrivals after 1,800 s and the 900 of the drain wait evenly
    # over [0, 900] s, the other 1,800 nothing: P(W > x) = 2/3 (1 - x / 900), mean 300 s, p50 225 s,
    # p90 765 s, p99 886.5 s
    # (read 300.2 / 226.7 / 763.1 / 885.9 s, p50 224.4 and p99 877.2 s at 64 instants a step; the request level, 20
    # seeds, 296.0 / 218.0 / 759.4 / 881.7 s, standard errors 6-13 s). Its at-capacity instants read the curve's top point, whose own mean queue
    # the backlog's wait replaces (StepWaits.beyond) and whose spread it adds: below the hand number by at
    # most that mean (before, the step's mean load's queue was taken off, 1.5 s, and p99 read 885.9 s)
    got = s["latency"]["queue"]
    for k, v in {"mean": 300.0, "p50": 225.0, "p90": 765.0, "p99": 886.5}.items():
        assert v * 0.99 - top["mean"] <= got[k] <= v + _above(top, k, v), (k, got[k], v)
    # a constant rate within each step is served as before: the step's own queue, 900 and 1,800 at the hours'
    # ends, a straight rise: the hours' means 450 and 1,350
    flat = sim.run(pool("fluid", {"process": "poisson", "rate": 1.25}, duration=2 * HOUR, step_s=HOUR))
    assert flat.timeseries[:, 3] == pytest.approx([450.0, 1350.0], abs=15.0)
    assert flat.summary["requests"]["in_flight"] == pytest.approx(1800.0, abs=1)
