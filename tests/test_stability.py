"""Stability as a result: an overloaded fleet is reported unstable, in both tiers, with the backlog
growth queueing theory predicts.

M/M/c at ρ = 1.2 (the M/M/c scenario of ``test_queueing_theory``: central queue, ``max_num_seqs: 1``,
one output token, Exp(1000) prompt tokens at 1 ms/token, mean service ``1.0005 s``): with
``c = 4`` servers and ``λ = 1.2 c μ`` the queue grows at ``λ - c μ = 0.2 c μ = 0.7996`` requests/s
once the servers are saturated (they are busy from the first seconds: the start transient is
shorter than the tail window measured).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.fluid import CalibrationSettings, run_fluid
from sim.metrics.stability import stability, warning
from sim.scenario.load import load_scenario

from test_queueing_theory import LONG_CONTEXT_MODEL  # noqa: F401  (the M/M/c model)
from test_queueing_theory import _queue_scenario

from conftest import curve_cache

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"

MEAN_SERVICE_S = 1.0005
C = 4
MU = 1.0 / MEAN_SERVICE_S
LAM = 1.2 * C * MU
GROWTH = LAM - C * MU          # 0.7996 requests/s

QUICK = CalibrationSettings(fractions=(0.05, 0.2, 0.4, 0.6, 0.75, 0.9), min_duration_s=120.0, min_requests=4000)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _overloaded(duration: float = 3000.0, lam: float = LAM) -> dict:
    return _queue_scenario(c=C, lam=lam, prompt={"dist": "exponential", "mean": 1000, "max": 100_000},
                           seed=3, duration=duration, warmup=0.0)


def test_the_verdict_on_hand_worked_series():
    t = np.linspace(0.0, 1000.0, 101)
    flat = 20 + 5 * np.sin(t / 30.0)                                  # a stable queue wandering
    grow = 0.8 * t                                                    # (λ - cμ) t
    assert stability(t, flat, arrived=4000, end_s=1000.0, warmup_s=0.0, in_flight_at_end=20)["stable"]
    s = stability(t, grow, arrived=4800, end_s=1000.0, warmup_s=0.0, in_flight_at_end=800)
    assert not s["stable"]
    assert s["backlog_growth_per_s"] == pytest.approx(0.8, rel=1e-9)
    assert s["window_s"] == pytest.approx(500.0) and s["in_flight_peak"] == 800
    assert warning({"stability": s}).startswith("warning: the fleet did not keep up")
    assert warning({"stability": {"stable": True}}) is None
    assert "800 requests were still in flight at the end" in warning({"stability": s})


def test_a_drained_run_that_did_not_keep_up_says_the_drain_served_the_backlog():
    """With ``drain: true`` nothing is in flight at the end, however far the queue grew while requests
    arrived: the warning says the drain served the backlog, not "0 requests were still in flight"."""
    t = np.linspace(0.0, 1000.0, 101)
    s = stability(t, 0.8 * t, arrived=4800, end_s=1000.0, warmup_s=0.0, in_flight_at_end=0)
    text = warning({"stability": s})
    assert not s["stable"] and "0 requests" not in text
    assert "served only after the arrivals stopped (drain)" in text


def test_mmc_at_rho_1_2_is_unstable_with_growth_lambda_minus_c_mu_at_request_level():
    s = sim.run(_overloaded()).summary
    st = s["stability"]
    assert st["stable"] is False
    # the queue's least-squares slope over the last T = 6,000 s: λ - cμ. The queue is a random walk
    # with variance (λ + cμ) per second, so the fitted slope's standard error is about
    # sqrt(1.2 (λ + cμ) / T) = 0.042 requests/s (5 %): within 12 % (2.3 standard errors)
    assert st["backlog_growth_per_s"] == pytest.approx(GROWTH, rel=0.06)
    assert st["in_flight_at_end"] == s["requests"]["in_flight"] > 0.8 * GROWTH * 3000


def test_a_drained_overloaded_run_is_judged_over_its_arrivals():
    # drain: true keeps serving after `duration` until the backlog is gone; that drain shrinks the
    # in-system count, and folded into the tail window it hid the overload ("cannot tell" at ρ = 1.2).
    # The arrivals and the time series up to `duration` are those of the undrained run (same seed),
    # so its tail, growth λ - cμ, is the same numbers
    plain = sim.run(_overloaded()).summary
    drained = sim.run({**_overloaded(), "drain": True}).summary
    assert drained["requests"]["in_flight"] == 0 and drained["simulated_seconds"] > 3000.0
    st, st0 = drained["stability"], plain["stability"]
    assert st["verdict"] == "unstable" and st["stable"] is False
    for k in ("backlog_growth_per_s", "window_s", "arrival_rate_per_s", "resolution", "in_flight_peak"):
        assert st[k] == st0[k], k
    assert st["backlog_growth_per_s"] == pytest.approx(GROWTH, rel=0.06)


def test_mmc_below_saturation_is_stable_at_request_level():
    st = sim.run(_overloaded(lam=0.8 * C * MU)).summary["stability"]
    assert st["stable"] is True
    assert abs(st["backlog_growth_per_s"]) < 0.05


def test_mmc_at_rho_1_2_is_unstable_with_growth_lambda_minus_c_mu_in_the_fluid_tier():
    sc = _overloaded(duration=4 * 3600.0)
    s = run_fluid(load_scenario(sc), step_s=600.0, settings=QUICK).summary
    st = s["stability"]
    assert st["stable"] is False
    # the fluid backlog grows at λ - c x (saturation throughput of one replica, measured over 4,000
    # completions: ~1.6 % standard error, x c = 4 in the slope): within 3 % of λ of λ - cμ
    assert abs(st["backlog_growth_per_s"] - GROWTH) <= 0.03 * LAM
    assert abs(s["requests"]["in_flight"] - GROWTH * 4 * 3600) <= 0.03 * LAM * 4 * 3600
    # in the system at the end, as the request level counts it: the backlog and the C servers' one request each
    assert s["stability"]["in_flight_at_end"] == s["requests"]["in_flight"] + C


def test_fluid_percentiles_include_the_backlog():
    """Hand-worked: the fluid backlog grows linearly to ``B = (λ - cμ) T`` over the run. First come,
    first served, the request served at ``t`` arrived at ``t cμ / λ`` and waited ``t (λ - cμ) / λ``:
    spread evenly from 0 to ``T / 6`` at ρ = 1.2; the ``B`` left at the end are the last arrivals,
    of the last ``B / λ = T / 6``, and count at their ages, spread over the same range. So the median
    and mean are ~``T / 12`` and the p99 ~``0.99 T / 6``, where the curve alone (what the fluid tier
    reported before it counted the backlog) says about one second. (Charging each request the newest
    arrival's wait, ``B(t) / (cμ)``, as the fluid tier did before its waits were FCFS, read
    ``0.1 T`` and ``0.2 T``.)"""
    T = 4 * 3600.0
    s = run_fluid(load_scenario(_overloaded(duration=T)), step_s=600.0, settings=QUICK).summary
    lat = s["latency"]
    assert lat["queue"]["p50"] == pytest.approx(T / 12, rel=0.15)
    assert lat["ttft"]["p99"] == pytest.approx(0.99 * T / 6, rel=0.15)
    assert lat["ttft"]["mean"] == pytest.approx(T / 12, rel=0.15)
    assert lat["e2e"]["p90"] > 0.12 * T


def test_a_fluid_plan_does_not_answer_an_overloaded_fleet():
    """The planner's question in the fluid tier: how many M/M/c servers for λ = 4.8/s of ~1 s
    requests with TTFT p99 <= 30 s? Fewer than 5 cannot keep up (ρ >= 1.2): unstable, hence
    infeasible whatever their (backlog-inclusive) percentiles say; the answer is 5 or more."""
    from sim.planning import plan

    sc = _overloaded(duration=4 * 3600.0)
    sc["fidelity"] = "fluid"
    sc["fluid"] = {"step": 600, "grid": list(QUICK.fractions), "calibration_duration": QUICK.min_duration_s,
                   "calibration_requests": QUICK.min_requests}
    res = plan(sc, ["fleet.pools.0.replicas=1..8"], constraints=["latency.ttft.p99<=30"], executor="serial")
    assert res.best is not None
    assert int(res.best["overrides"][0].split("=")[1]) >= 5
    low = [r for r in res.evaluated if int(r["overrides"][0].split("=")[1]) < 5]
    assert low and all(r["stable"] is False and "unstable" in r["why"] for r in low)


# ---------------------------------------------------------------- too short to tell
# M/M/c at ρ = 1.03 (the same c = 4 servers): the queue grows at λ - cμ = (1 - 1/ρ) λ, 2.9 % of the
# arrivals. The backlog test resolves growth above max(3 √N, 2 % N) over the N arrivals of the
# tail window: 8.6 % over a 600 s run (N ≈ 1,236), the 2 % floor past N ≈ 22,500. So a short run
# cannot see this overload (its growth, 36 ± 54 requests over the window, is mostly noise), and
# only the capacity side can say how close the fleet runs: with max_num_seqs 1 the load factor is
# the busy share, ≈ 1, and scaled to the work offered ≈ ρ.
RHO_OVER = 1.03


def _near(duration: float, rho: float = RHO_OVER, seed: int = 3) -> dict:
    sc = _overloaded(duration=duration, lam=rho * C * MU)
    sc["seed"] = seed
    sc["metrics"] = {"interval": 10.0, "records": "none"}
    return sc


def test_the_verdict_cannot_tell_when_the_capacity_is_closer_than_the_run_resolves():
    t = np.linspace(0.0, 1000.0, 101)
    wander = 20 + 5 * np.sin(t / 30.0)
    kw = dict(arrived=4000, end_s=1000.0, warmup_s=0.0, in_flight_at_end=20)
    # 2,000 arrivals in the tail window: resolution 3 √2000 / 2000 = 6.7 %
    assert stability(t, wander, **kw, offered_load_factor=0.9)["verdict"] == "stable"
    s = stability(t, wander, **kw, offered_load_factor=0.95)
    assert (s["stable"], s["verdict"]) == (None, "cannot tell")
    assert s["resolution"] == pytest.approx(3 / np.sqrt(2000), rel=1e-9)
    assert warning({"stability": s}).startswith("warning: the run is too short to tell")
    # a run that resolves nothing still trusts a load factor below 1 - MAX_MARGIN
    short = dict(arrived=20, end_s=10.0, warmup_s=0.0, in_flight_at_end=1)
    assert stability(t[:2] / 100, wander[:2] * 0, **short, offered_load_factor=0.7)["verdict"] == "stable"
    assert stability(t[:2] / 100, wander[:2] * 0, **short, offered_load_factor=0.8)["verdict"] == "cannot tell"
    # work admitted and none completed: the offered load is unbounded
    from sim.metrics.stability import offered_load_factor
    assert offered_load_factor(0.5, {"arrived": 10, "rejected": 0, "completed": 0}) == float("inf")
    assert offered_load_factor(0.5, {"arrived": 10, "rejected": 2, "completed": 4}) == 1.0


@pytest.mark.parametrize("duration", [300.0, 600.0])
def test_a_short_run_a_few_percent_over_capacity_is_not_called_stable_at_request_level(duration):
    st = sim.run(_near(duration)).summary["stability"]
    assert st["stable"] is not True and st["verdict"] in ("cannot tell", "unstable")
    assert st["resolution"] > 1 - 1 / RHO_OVER                      # the run cannot see a 2.9 % overload
    assert st["offered_load_factor"] == pytest.approx(RHO_OVER, abs=0.05)


def test_a_short_run_well_below_capacity_is_still_stable_at_request_level():
    st = sim.run(_near(300.0, rho=0.8)).summary["stability"]
    assert (st["stable"], st["verdict"]) == (True, "stable")
    assert st["offered_load_factor"] == pytest.approx(0.8, abs=0.05)


@pytest.mark.slow
def test_a_long_run_a_few_percent_over_capacity_is_unstable_at_request_level():
    """40 hours: 296,000 arrivals in the tail window, growth 2.9 % of them (8,600) against the 2 %
    allowance (5,930); the fitted growth's standard error is sqrt(1.2 (λ + cμ) W) ≈ 840 requests, so
    the margin is 3.2 standard errors."""
    st = sim.run(_near(40 * 3600.0)).summary["stability"]
    assert (st["stable"], st["verdict"]) == (False, "unstable")
    assert st["backlog_growth_per_s"] == pytest.approx((1 - 1 / RHO_OVER) * RHO_OVER * C * MU, rel=0.3)


PRECISE = CalibrationSettings(fractions=(0.2, 0.6, 0.9), min_duration_s=120.0, min_requests=40_000)
"""Curves whose saturation throughput is measured over 40,000 completions (±0.5 %), finer than the
3 % overload under test."""


def test_a_short_fluid_run_a_few_percent_over_capacity_cannot_tell():
    s = run_fluid(load_scenario(_near(600.0)), step_s=60.0, settings=PRECISE).summary
    st = s["stability"]
    assert (st["stable"], st["verdict"]) == (None, "cannot tell")
    assert st["offered_load_factor"] == pytest.approx(RHO_OVER, abs=0.01)


def test_a_long_fluid_run_a_few_percent_over_capacity_is_unstable():
    """The fluid backlog grows at λ - c x max_rps exactly: (1 - 1/1.03 ± 0.5 %) of the arrivals
    (2.4 to 3.4 %), above the 2 % allowance once the tail holds more than 22,500 arrivals (4 hours:
    29,700)."""
    s = run_fluid(load_scenario(_near(4 * 3600.0)), step_s=600.0, settings=PRECISE).summary
    st = s["stability"]
    assert (st["stable"], st["verdict"]) == (False, "unstable")
    assert st["backlog_growth_per_s"] == pytest.approx((1 - 1 / RHO_OVER) * RHO_OVER * C * MU, rel=0.2)


def test_a_plan_does_not_pick_a_point_that_cannot_tell():
    from sim.planning.evaluator import judge
    from sim.planning.sweep import kept_up

    assert kept_up([{"stability.stable": True}, {"stability.stable": None}]) is None
    assert kept_up([{"stability.stable": None}, {"stability.stable": False}]) is False
    assert kept_up([{"stability.stable": True}, {}]) is True        # stored before stability existed
    row = judge({"n": 2, "stable": None, "stability.offered_load_factor.mean": 1.03}, [])
    assert not row["feasible"] and row["why"].startswith("cannot tell whether it keeps up")
    assert "1.03" in row["why"]


def test_a_run_too_short_for_any_completion_says_so_without_a_load_factor():
    """A 10 ms run at 300 requests/s completes nothing: the load factor is unknown (None), and the
    warning says why it cannot tell instead of failing to format it."""
    s = {"stable": None, "verdict": "cannot tell", "backlog_growth_per_s": 300.0, "in_flight_at_end": 3,
         "in_flight_peak": 3, "window_s": 0.01, "arrival_rate_per_s": 300.0, "offered_load_factor": None,
         "resolution": 1.7320508075688774}
    assert warning({"stability": s}) == (
        "warning: the run is too short to tell whether the fleet keeps up: no request completed to compare the "
        "work offered with what the fleet could serve, and a backlog growing by less than 173.2% of the 3 "
        "requests of the last 0.01 s is lost in the noise; lengthen duration, or add capacity (see stability in "
        "the summary)")


def test_offered_load_factor_counts_every_admitted_request_once_at_full_cost():
    """By hand: a load factor of 0.95 counts 90 completed requests plus 5 requests' worth done on
    those in flight; 100 were admitted (120 arrived, 20 rejected). Offered: 0.95 x 100 / 95 = 1.0
    (the completed count alone, 0.95 x 100 / 90 = 1.056, counted the in-flight part twice). Two pools
    routed 60 + 30 requests worth 66 + 33 (their mix priced at the completed one's) and 10 admitted
    requests wait unrouted: (66 + 33) x 100 / 90 = 110 requests' worth."""
    from sim.metrics.fleet_summary import PoolUsage, offered_work
    from sim.metrics.stability import offered_load_factor
    req = {"arrived": 120, "rejected": 20, "completed": 90}
    assert offered_load_factor(0.95, req, served=95.0) == 0.95 * 100 / 95
    kw = dict(pool=None, provisioned_gpu_s=1.0, busy_gpu_s=1.0, flops_done=0.0, kv_cache_mean=0.0, requests=1.0,
              prompt_mean=1.0, output_mean=1.0)
    pools = [PoolUsage(**kw, routed=60.0, offered=66.0), PoolUsage(**kw, routed=30.0, offered=33.0)]
    assert offered_work(pools, req) == 110.0
    assert offered_work([*pools, PoolUsage(**kw)], req) is None       # a pool that does not say: the admitted count


def test_offered_load_factor_of_an_overloaded_run_is_its_arrival_rate_over_the_saturation_rate():
    """The baseline keeps up to about 84 requests/s (README, measured by fleetsim saturation); at 168
    its offered load factor reads about 2, while the load factor of what it served reads 1. A short
    overloaded run completes its short requests first and ends with thousands in flight: the
    completed count alone read 2.11 here, the served work priced at the completed mix 1.81."""
    s = sim.run(BASELINE, overrides=["workload.arrival.rate=168", "duration=60", "warmup=0"]).summary
    assert s["utilization"]["load_factor"] == pytest.approx(1.0, abs=0.06)
    assert s["stability"]["offered_load_factor"] == pytest.approx(2.0, rel=0.04)
