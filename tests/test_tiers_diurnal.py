"""A cosine day that crosses capacity at its peak: the backlog outlives the peak in both tiers.

The pool of ``tiers_pool`` (one server, service exactly 1 s, ``mu = 1``) under a diurnal rate with a
period of ``P = 7,200`` s, mean 0.8 requests/s and peak-to-trough 3: ``lambda(t) = 0.8 (1 + 0.5
cos(2 pi (t - 3600) / P))``, 0.4 at the trough, 1.2 at the peak (``t = 3,600``). The rate is above
``mu`` from 2,400 s to 4,800 s. The fluid limit (the reflected net input ``X(t) = Lambda(t) - mu t``,
``Q(t) = X(t) - min_{s <= t} X(s)``, computed here from the closed-form ``Lambda``, independent of
the code): the backlog peaks when the rate falls back to capacity, 1,200 s after the rate's peak, at
313.9 requests, and lasts until 6,174 s, 1,374 s after the rate fell below capacity (the lag of an
``M_t/G/1`` queue). A request arriving at ``a`` waits ``Q(a) / mu``; weighted by the rate, the waits'
mean is 115.4 s, p50 68.7 s, p90 301.5 s, p99 313.8 s.

Near capacity the request-level queue is larger than the fluid limit (the M/D/1 queue of the hours
around the crossing; the reflection adds a positive bias), by up to a tenth of the peak here; the
fluid tier adds its curve's own queueing at the step's load, so its statistics lie between the
limit and the limit plus the curve's top-point p99, and agree with the request level's within the
latter's noise (20 seeds).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import sim

from test_queueing_theory import _ci99
from tiers_pool import MU, in_system, pool, weighted_quantiles

P = 7200.0
ARRIVAL = {"process": "diurnal", "mean_rate": 0.8, "peak_to_trough": 3.0, "peak_hour": 1.0, "period": P}
R = 20
DT = 0.25


def fluid_limit() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, lambda(t), Q(t)) of the fluid limit on a grid of ``DT`` seconds."""
    t = np.arange(0.0, P + DT / 2, DT)
    a, w = 0.5, 2.0 * math.pi / P
    lam = 0.8 * (1.0 + a * np.cos(w * (t - 3600.0)))
    cum = 0.8 * (t + a / w * (np.sin(w * (t - 3600.0)) - np.sin(w * -3600.0)))
    x = cum - MU * t
    return t, lam, x - np.minimum.accumulate(x)


T, LAM, Q = fluid_limit()


def q_at(x: float) -> float:
    return float(np.interp(x, T, Q))


def test_the_hand_worked_fluid_limit():
    """The numbers the docstring quotes (a check on the integration, not on fleetsim)."""
    assert Q.max() == pytest.approx(313.91, abs=0.05)
    assert T[np.argmax(Q)] == pytest.approx(4800.0, abs=DT)
    assert T[(T > 4800.0) & (Q <= 1e-9)][0] == pytest.approx(6174.0, abs=1.0)
    wait = Q / MU
    assert float(np.sum(LAM * wait) / np.sum(LAM)) == pytest.approx(115.42, abs=0.05)
    assert np.allclose(weighted_quantiles(wait, LAM, [50, 90, 99]), [68.68, 301.48, 313.79], atol=0.1)


@pytest.fixture(scope="module")
def fine():
    return [sim.run(pool("request", ARRIVAL, seed=seed, duration=P)) for seed in range(1, R + 1)]


@pytest.fixture(scope="module")
def fluid():
    return sim.run(pool("fluid", ARRIVAL, duration=P))


def _top(stat: str) -> float:
    from sim.fluid.run import measured_curves
    from sim.scenario.load import scenario_from_dict

    return float(measured_curves(scenario_from_dict(pool("fluid", ARRIVAL, duration=P)))[0]
                 .latency["queue"][stat][-1])


@pytest.mark.parametrize("t", [3600.0, 4800.0, 5400.0, 6000.0, 6600.0])
def test_the_fluid_backlog_is_the_fluid_limit_and_outlives_the_peak(t):
    """The rate's peak is at 3,600 s and it is back under capacity at 4,800 s; a fluid run ending at
    ``t`` leaves the limit's backlog (the steps of 60 s start and end where it crosses zero
    upwards, at 2,400 s, so the step sums are exact there)."""
    s = sim.run(pool("fluid", ARRIVAL, duration=t)).summary
    assert s["pools"]["servers"]["backlog_end"] == pytest.approx(q_at(t), abs=1e-6 * max(q_at(t), 1.0))
    assert s["requests"]["in_flight"] == round(q_at(t))


def test_the_request_level_backlog_is_there_too_and_as_late(fine):
    t = np.arange(2400.0, P + 1.0, 300.0)
    n = np.array([in_system(r.records, t) for r in fine], dtype=float)
    mean, se = n.mean(axis=0), n.std(axis=0, ddof=1) / math.sqrt(R)
    limit = np.interp(t, T, Q)
    # at least the fluid limit (within noise), at most a tenth of its peak above it
    assert np.all(mean >= limit - 4.0 * se), np.c_[t, mean, limit, se]
    assert np.all(mean <= limit + 4.0 * se + 0.1 * Q.max()), np.c_[t, mean, limit, se]
    # the largest backlog comes as the fluid limit's does, when the rate is back at capacity ...
    assert 4500.0 <= t[np.argmax(mean)] <= 5100.0
    # ... it is still most of its peak 600 s after (the rate then 0.92 of capacity), and gone after 6,600 s
    assert mean[t == 5400.0][0] >= 0.6 * mean.max()
    assert mean[t == 6600.0][0] <= 5.0


def test_the_fluid_tier_reports_the_latency_the_backlog_causes(fine, fluid):
    """Queue time: the fluid tier lies between the limit and the limit plus its curve's top-point
    p99, and agrees with the request level within the latter's 99 % interval and 3 %."""
    top = _top("p99")
    assert 15.0 < top < 60.0                      # M/D/1 at 0.95 of capacity, p99 of the wait: ~30 s
    wait = Q / MU
    theory = {"mean": float(np.sum(LAM * wait) / np.sum(LAM)),
              **dict(zip(("p50", "p90", "p99"), weighted_quantiles(wait, LAM, [50, 90, 99])))}
    got = fluid.summary["latency"]["queue"]
    for k, want in theory.items():
        assert want * 0.99 <= got[k] <= want + top, (k, got[k], want, top)
        m, half = _ci99(np.array([r.summary["latency"]["queue"][k] for r in fine]))
        assert want - half <= m <= want + top + half, (k, m, half, want)
        assert abs(got[k] - m) <= half + 0.03 * m, (k, got[k], m, half)
    # the SLO (TTFT 5 s) is missed by the requests behind the backlog, in both tiers alike
    att = np.array([r.summary["slo"]["attainment"] for r in fine])
    assert fluid.summary["slo"]["attainment"] == pytest.approx(att.mean(), abs=0.03)
    assert fluid.summary["slo"]["attainment"] <= 1.0 - float(np.sum(LAM * (wait > 5.0)) / np.sum(LAM)) + 0.01
