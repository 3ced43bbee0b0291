"""Stability as a result: an overloaded fleet is reported unstable, in both tiers, with the backlog
growth queueing theory predicts.

M/M/c at ρ = 1.2 (the M/M/c scenario of ``test_queueing_theory``: central queue, ``max_num_seqs: 1``,
one output token, Exp(1000) prompt tokens at 1 ms/token, mean service ``1.0005 s``): with
``c = 4`` servers and ``λ = 1.2 c μ`` the queue grows at ``λ - c μ = 0.2 c μ = 0.7996`` requests/s
once the servers are saturated (they are busy from the first seconds: the start transient is
shorter than the tail window measured).
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.fluid import CalibrationSettings, run_fluid
from sim.metrics.stability import stability, warning
from sim.scenario.load import load_scenario

from test_queueing_theory import LONG_CONTEXT_MODEL  # noqa: F401  (the M/M/c model)
from test_queueing_theory import _queue_scenario

MEAN_SERVICE_S = 1.0005
C = 4
MU = 1.0 / MEAN_SERVICE_S
LAM = 1.2 * C * MU
GROWTH = LAM - C * MU          # 0.7996 requests/s

QUICK = CalibrationSettings(fractions=(0.05, 0.2, 0.4, 0.6, 0.75, 0.9), min_duration_s=120.0, min_requests=4000)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path_factory.getbasetemp() / "fleetsim-cache"))


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


def test_mmc_at_rho_1_2_is_unstable_with_growth_lambda_minus_c_mu_at_request_level():
    s = sim.run(_overloaded()).summary
    st = s["stability"]
    assert st["stable"] is False
    # the queue's least-squares slope over the last T = 6,000 s: λ - cμ. The queue is a random walk
    # with variance (λ + cμ) per second, so the fitted slope's standard error is about
    # sqrt(1.2 (λ + cμ) / T) = 0.042 requests/s (5 %): within 12 % (2.3 standard errors)
    assert st["backlog_growth_per_s"] == pytest.approx(GROWTH, rel=0.06)
    assert st["in_flight_at_end"] == s["requests"]["in_flight"] > 0.8 * GROWTH * 3000


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
    assert s["stability"]["in_flight_at_end"] == s["requests"]["in_flight"]


def test_fluid_percentiles_include_the_backlog():
    """Hand-worked: the fluid backlog grows linearly to ``B = (λ - cμ) T`` over the run, so the wait
    of a request served at time ``t`` is ``B(t) / (cμ) = (λ - cμ) t / (cμ)``: spread evenly from 0 to
    ``0.2 T`` at ρ = 1.2. Its median is ~``0.1 T`` and its p99 ~``0.2 T``, where the curve alone
    (what the fluid tier reported before) says about one second."""
    T = 4 * 3600.0
    s = run_fluid(load_scenario(_overloaded(duration=T)), step_s=600.0, settings=QUICK).summary
    lat = s["latency"]
    assert lat["queue"]["p50"] == pytest.approx(0.1 * T, rel=0.15)
    assert lat["ttft"]["p99"] == pytest.approx(0.2 * T, rel=0.15)
    assert lat["ttft"]["mean"] == pytest.approx(0.1 * T, rel=0.15)
    assert lat["e2e"]["p90"] > 0.15 * T


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
