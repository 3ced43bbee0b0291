"""An overload of known length, in both tiers, against the fluid limit worked by hand.

The pool of ``tiers_pool`` (one server, service exactly 1 s: ``mu = 1`` request/s) is offered
Poisson arrivals at 0.5 requests/s, then 1.5 from ``t = 600`` s to ``2400`` s, then 0.5 again, for
6,000 s. In the fluid limit:

* the backlog grows at ``lambda - mu = 0.5``/s from 600 s: 450 at 1,500 s, 900 at 2,400 s; it
  drains at ``mu - lambda = 0.5``/s: 450 at 3,300 s, empty at 4,200 s;
* the last arrival of the overload waits ``900 / mu = 900`` s;
* a request arriving at ``a`` waits ``Q(a) / mu``. The 2,700 arrivals of the overload see ``Q``
  rise evenly from 0 to 900, the 900 of the drain see it fall evenly from 900 to 0: 3,600 of the
  4,800 requests wait a time spread evenly over ``[0, 900]`` s and the other 1,200 (at load 0.5)
  about nothing (M/D/1: 0.5 s on average). So ``P(W > x) = 0.75 (1 - x / 900)``: mean 337.5 s,
  p50 300 s, p90 780 s, p99 888 s.

The fluid tier is exact for the backlog (it is fed the expected arrivals); the request-level tier's
count in the system at ``t`` is the fluid one plus the noise of its Poisson arrivals since the busy
period began (variance = their expected number), so the mean of ``R`` seeds is held within four
standard errors. Its latency statistics are held to the 99 % interval of the seeds.

While a backlog is carried the replica runs at the top of its curve, whose own stationary queue
waits 11 s at that point (95 % of ``max_rps``; M/D/1 at 0.95 is 9.5 s). The backlog is the queue
there: a request behind it waits the backlog's wait where that is longer than the curve's queue
(``StepWaits.beyond``), so the fluid statistics are the hand numbers (they were the hand numbers plus
up to the curve's queue, above the request level's by 1-5 %).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import sim

from test_queueing_theory import _ci99
from tiers_pool import MU, in_system, pool

ARRIVAL = {"process": "piecewise", "times": [0, 600, 2400], "rates": [0.5, 1.5, 0.5]}
END = 6000.0
R = 20
# t: (fluid backlog, expected arrivals since the busy period began at 600 s: the count's variance)
BACKLOG = {1500.0: (450.0, 1.5 * 900), 2400.0: (900.0, 1.5 * 1800), 3300.0: (450.0, 1.5 * 1800 + 0.5 * 900)}
THEORY = {"mean": 337.5, "p50": 300.0, "p90": 780.0, "p99": 888.0}


@pytest.fixture(scope="module")
def fine():
    return [sim.run(pool("request", ARRIVAL, seed=seed, duration=END)) for seed in range(1, R + 1)]


@pytest.fixture(scope="module")
def fluid():
    return sim.run(pool("fluid", ARRIVAL, duration=END))


def _top_queue_s(res) -> float:
    """The fluid curve's mean queueing at its top grid point (what a carried backlog adds)."""
    from sim.fluid.run import measured_curves
    from sim.scenario.load import scenario_from_dict

    curve = measured_curves(scenario_from_dict(pool("fluid", ARRIVAL, duration=END)))[0]
    assert curve.max_rps == pytest.approx(MU, rel=1e-9)        # the deterministic server's capacity
    return float(curve.latency["queue"]["mean"][-1])


@pytest.mark.parametrize("t", [1500.0, 2400.0, 3300.0, 4200.0])
def test_the_fluid_backlog_grows_and_drains_at_the_rate_difference_exactly(t):
    """A fluid run ending at ``t`` leaves the hand-worked backlog in flight, to the request."""
    s = sim.run(pool("fluid", ARRIVAL, duration=t)).summary
    want = BACKLOG[t][0] if t in BACKLOG else 0.0
    assert s["pools"]["servers"]["backlog_end"] == pytest.approx(want, abs=1e-6)
    assert s["requests"]["in_flight"] == round(want)
    assert s["requests"]["completed"] + s["requests"]["in_flight"] == s["requests"]["arrived"]


def test_the_fluid_backlog_growth_is_the_stability_verdicts():
    """Ending inside the overload, the last half's least-squares growth is ``lambda - mu``."""
    s = sim.run(pool("fluid", ARRIVAL, duration=2400.0)).summary["stability"]
    assert s["stable"] is False
    assert s["backlog_growth_per_s"] == pytest.approx(0.5, rel=1e-6)


def test_the_request_level_backlog_is_the_fluid_limit_within_its_noise(fine):
    t = np.array(sorted(BACKLOG))
    n = np.array([in_system(r.records, t) for r in fine], dtype=float)       # (seed, t)
    want = np.array([BACKLOG[x][0] for x in t])
    se = np.sqrt([BACKLOG[x][1] for x in t]) / math.sqrt(R)
    assert np.all(np.abs(n.mean(axis=0) - want) <= 4.0 * se), np.c_[t, n.mean(axis=0), want, se]
    # growth and drain rates: the differences' noise is the arrivals between the two instants
    grow = (n[:, 1] - n[:, 0]) / 900.0
    drain = (n[:, 2] - n[:, 1]) / 900.0
    assert grow.mean() == pytest.approx(0.5, abs=4.0 * math.sqrt(1.5 * 900) / 900 / math.sqrt(R))
    assert drain.mean() == pytest.approx(-0.5, abs=4.0 * math.sqrt(0.5 * 900) / 900 / math.sqrt(R))
    # and empty again about when the fluid queue is: at 4,500 s (300 s later) almost every run is
    late = np.array([in_system(r.records, np.array([4500.0]))[0] for r in fine])
    assert np.median(late) <= 5


def test_the_last_arrival_of_the_overload_waits_backlog_over_mu_in_both_tiers(fine, fluid):
    waits = []
    for r in fine:
        rec = r.records
        last = rec[rec["arrival_s"] < 2400.0][-1]
        waits.append(last["sched_s"] - last["arrival_s"])
    se = math.sqrt(BACKLOG[2400.0][1]) / MU / math.sqrt(R)
    assert np.mean(waits) == pytest.approx(900.0, abs=4.0 * se)
    # the fluid tier: the queue it reports over the overload's last 60 s step, its mean, the backlog at the
    # step's middle (900 - 0.5 x 30), over mu, and the backlog at its end, the newest arrival's wait
    ts = fluid.timeseries
    queued = float(ts[ts[:, 0] == 2400.0][0, 3])
    assert queued / MU == pytest.approx(900.0 - 0.5 * 30.0, rel=1e-9)


def test_queue_time_statistics_under_the_backlog_are_the_hand_numbers_in_both_tiers(fine, fluid):
    top = _top_queue_s(fluid)
    assert 5.0 < top < 20.0                                   # M/D/1 at 0.95: 9.5 s, a curve's draw of it
    q_fluid = fluid.summary["latency"]["queue"]
    for k, want in THEORY.items():
        m, half = _ci99(np.array([r.summary["latency"]["queue"][k] for r in fine]))
        assert abs(m - want) <= half + 0.01 * want, (k, m, half, want)
        # the fluid tier: the hand number within its 1 % histogram bins and the top point's own queue
        # where the backlog's wait is shorter than it (not that queue added to every wait)
        assert want * 0.99 <= q_fluid[k] <= want + 0.1 * top + 0.01 * want, (k, q_fluid[k], want, top)
        # so the two tiers agree within the request level's noise and that
        assert abs(q_fluid[k] - m) <= half + 0.1 * top + 0.02 * want, (k, q_fluid[k], m, half)
    # the mean is the hand number: behind the backlog a request waits the backlog's wait or the top point's
    # queue, whichever is longer, not their sum (which read 0.75 x top, +2.4 %, above it)
    assert q_fluid["mean"] == pytest.approx(THEORY["mean"], rel=0.002)
    # every request is served by the end in both tiers; the SLO misses are those behind the backlog
    assert fluid.summary["requests"]["in_flight"] == 0
    assert fluid.summary["slo"]["attainment"] == pytest.approx(0.25, abs=0.01)
    att = np.array([r.summary["slo"]["attainment"] for r in fine])
    assert att.mean() == pytest.approx(0.25, abs=0.02)


def test_a_run_that_ends_inside_the_overload_reports_the_waits_of_fcfs_in_both_tiers():
    """Ending at 2,400 s, with 900 requests still waiting. First come, first served, the request
    served at ``s`` in the overload arrived at ``600 + (s - 600) mu / lambda`` and waited
    ``(s - 600) / 3``: the 1,800 served then waited evenly over ``[0, 600]`` s; the 900 left are the
    last 900 arrivals, of the last 600 s (at 1.5/s), and count at their age (those past the 5 s TTFT
    objective), again evenly over ``[0, 600]``; the 300 served before 600 s waited about nothing.
    Of about 2,992 requests counted, 2,692 wait ``U(0, 600)``: ``P(W > x) = 0.9 (1 - x / 600)``,
    mean 270.7 s, p50 266.7 s, p90 533.3 s, p99 593.3 s.

    Before: the fluid tier charged the requests served in a step the wait of the newest arrival
    (``backlog / mu``, up to 900 s) and spread the end backlog's ages over ``[0, backlog / mu]``:
    mean 411.7 s, p50 407.7, p90 810.1, p99 894.8 (+51 % to +53 %), against 262, 257, 521, 586 at
    request level (seed 1)."""
    end = 2400.0
    theory = {"mean": (1800 * 300.0 + 892.5 * 302.5) / 2992.5, "p50": 600.0 * (1 - 0.5 / 0.9),
              "p90": 600.0 * (1 - 0.1 / 0.9), "p99": 600.0 * (1 - 0.01 / 0.9)}
    fluid = sim.run(pool("fluid", ARRIVAL, duration=end))
    top = _top_queue_s(fluid)
    got = fluid.summary["latency"]["queue"]
    fine = [sim.run(pool("request", ARRIVAL, seed=seed, duration=end, records="none")) for seed in range(1, R + 1)]
    for k, want in theory.items():
        assert want * 0.99 <= got[k] <= want + 1.5 * top + 0.01 * want, (k, got[k], want, top)
        m, half = _ci99(np.array([r.summary["latency"]["queue"][k] for r in fine]))
        assert abs(m - want) <= half + 0.01 * want, (k, m, half, want)
        assert abs(got[k] - m) <= half + 1.5 * top + 0.01 * want, (k, got[k], m, half)
    # TTFT likewise (one token of 1 s service after the wait)
    assert fluid.summary["latency"]["ttft"]["mean"] == pytest.approx(
        np.mean([r.summary["latency"]["ttft"]["mean"] for r in fine]), rel=0.06)


def test_the_end_backlog_that_already_missed_counts_against_slo_attainment_in_both_tiers():
    """Ending at 2,400 s: of the 300 requests before the overload all meet the 5 s TTFT objective
    (1 s of service, a wait of 0.5 s on average), of the 1,800 served in it the first 12 s' worth,
    ``(s - 600) / 3 + 1 <= 5``, about 12; the 900 still waiting are counted as the request level
    counts its in-flight requests, as misses once older than 5 s (892.5 of them). So attainment is
    about ``312 / (2,100 + 892.5) = 0.104``, not the ``300 / 2,100 = 0.143`` of the completed alone
    (what the fluid tier read before: its end backlog counted in the latency percentiles, not in
    the attainment)."""
    end = 2400.0
    want = (300.0 + 12.0) / (2100.0 + 892.5)
    fluid = sim.run(pool("fluid", ARRIVAL, duration=end)).summary
    fine = np.array([sim.run(pool("request", ARRIVAL, seed=seed, duration=end, records="none")).summary["slo"]
                     ["attainment"] for seed in range(1, R + 1)])
    m, half = _ci99(fine)
    assert abs(m - want) <= half + 0.005, (m, half, want)
    assert fluid["slo"]["attainment"] == pytest.approx(want, abs=0.005)
    assert fluid["slo"]["goodput_rps"] == pytest.approx(fluid["slo"]["attainment"] * (2100 + 892.5) / end, rel=0.01)


@pytest.mark.slow
def test_a_batching_replica_overloaded_for_half_an_hour_backlogs_and_drains_alike_in_both_tiers():
    """conftest's batching replica (64 sequences, linear step model, 100/10 tokens; ``mu`` its
    measured ``max_rps``, about 48.6 requests/s) at 0.6, then 1.3 from 600 s to 2,400 s, then 0.6
    of ``mu`` again: the backlog at 2,400 s is ``0.3 mu x 1,800`` (26,261), 900 s later
    ``0.3 mu x 1,800 - 0.4 mu x 900`` (8,753), gone by 3,750 s. Measured (seeds 1-3): 25,893-26,524
    and 8,331-8,581 requests at request level; queue time mean/p50/p90/p99 175.1/119.9/450.4/533.4 s
    in the fluid tier against 170.2-175.4/118.5-123.3/450.1-458.0/523.0-535.4; attainment 0.344 against
    0.348-0.352."""
    from conftest import scenario
    from sim.fluid.run import measured_curves
    from sim.scenario.load import scenario_from_dict

    def sc(fidelity: str, rates: list[float], seed: int = 1, end: float = END) -> dict:
        s = scenario(seed=seed, duration=end, warmup=0, metrics={"interval": 60.0, "records": "all"})
        s["fleet"]["router"] = "random"
        s["workload"]["arrival"] = {"process": "piecewise", "times": [0, 600, 2400], "rates": rates}
        s["fidelity"] = fidelity
        if fidelity == "fluid":
            s["fluid"] = {"step": 60}
        return s

    mu = measured_curves(scenario_from_dict(sc("fluid", [1.0, 1.0, 1.0])))[0].max_rps
    rates = [0.6 * mu, 1.3 * mu, 0.6 * mu]
    peak, later = 0.3 * mu * 1800, 0.3 * mu * 1800 - 0.4 * mu * 900
    fluid = {end: sim.run(sc("fluid", rates, end=end)).summary for end in (2400.0, 3300.0, END)}
    assert fluid[2400.0]["pools"]["main"]["backlog_end"] == pytest.approx(peak, rel=1e-9)
    assert fluid[3300.0]["pools"]["main"]["backlog_end"] == pytest.approx(later, rel=1e-9)
    assert fluid[END]["requests"]["in_flight"] == 0
    runs = [sim.run(sc("request", rates, seed=seed)) for seed in (1, 2, 3)]
    n = np.array([in_system(r.records, np.array([2400.0, 3300.0, 3900.0])) for r in runs], dtype=float).mean(axis=0)
    assert n[0] == pytest.approx(peak, abs=0.02 * peak)
    assert n[1] == pytest.approx(later, abs=0.02 * peak)
    assert n[2] <= 0.01 * peak
    q = fluid[END]["latency"]["queue"]
    for k in ("mean", "p50", "p90", "p99"):
        assert q[k] == pytest.approx(np.mean([r.summary["latency"]["queue"][k] for r in runs]), rel=0.04), k
    att = np.mean([r.summary["slo"]["attainment"] for r in runs])
    assert fluid[END]["slo"]["attainment"] == pytest.approx(att, abs=0.015)
    busy = np.mean([r.summary["gpu_hours"]["busy"] for r in runs])
    assert fluid[END]["gpu_hours"]["busy"] == pytest.approx(busy, rel=0.02)


def test_an_overload_inside_one_step_is_averaged_away_and_the_run_says_so():
    """Hourly steps (the default): the first hour's demand is its capacity, 3,600 requests. The capacity
    left idle before the rise at 600 s serves nobody after it, so the hour ends with the backlog its
    sub-steps leave, 300 (900 at 2,400 s less 0.5/s for 1,200 s; before, none: the step's mean rate
    lent that idle capacity to the overload), and its waits are read per sub-step, so the queue time is
    the hand numbers' as at 60 s steps (measured: mean 342.7 s, p99 894.8 s; 8.4 s and 31.9 s before,
    337.5 s and 888 s by hand). What the steps still average away is the peak in between (900 at
    2,400 s; the time series shows the hour's mean, 425): the run warns, naming the wait (900 s: the fluid
    queue on five-minute sub-steps, ``sim.fluid.substep``). 60 s steps see it and do not warn."""
    import warnings

    from sim.errors import ScenarioWarning

    with pytest.warns(ScenarioWarning, match=r"fluid\.step: .*1 h steps.*pool servers.*wait up to 15 m") as got:
        res = sim.run(pool("fluid", ARRIVAL, duration=END, step_s=3600.0))
    hourly = res.summary["latency"]["queue"]
    assert len([w for w in got if issubclass(w.category, ScenarioWarning)]) == 1
    # the hour's mean of its sub-steps' backlog: up to 900 from 600 s to 2,400 s, down to 300 at 3,600 s,
    # (900 x 1,800 + 1,200 x 1,200) / 2 / 3,600 = 425
    assert res.timeseries[0, 3] == pytest.approx(425.0, abs=5.0)
    assert res.timeseries[:, 3].max() < 0.5 * 900.0                       # the peak the warning is about
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        fine_steps = sim.run(pool("fluid", ARRIVAL, duration=END, step_s=60.0)).summary["latency"]["queue"]
    assert fine_steps["mean"] > THEORY["mean"]
    for k, want in THEORY.items():
        assert want * 0.99 <= hourly[k] <= want * 1.04, (k, hourly[k], want)
        assert hourly[k] == pytest.approx(fine_steps[k], rel=0.02), k
