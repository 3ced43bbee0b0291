"""A step up in the arrival rate past capacity: the backlog it builds, the wait and the drain, and the
``stability`` block's growth rate, against the exact transient law, through the command line
(``fleetsim sweep --seeds``, its ``sweep.csv``).

One replica serving one request at a time (``max_num_seqs: 1``, one output token, fixed 1,000-token
prompts at 1 ms a token: service ``D = 1 s``). ``arrival: {process: piecewise, times: [0, 1000],
rates: [0.5, 1.5]}``: Poisson at ``λ1 = 0.5`` (ρ = 0.5) for 1,000 s, then at ``λ2 = 1.5`` (ρ = 1.5)
until ``duration: 2000``; ``warmup: 1000`` measures the overload's arrivals alone and ``drain: true``
serves the backlog left at 2,000 s. (``test_theory_closed_and_transient`` checks a time-varying rate
no request waits under; nothing checked an overload's transient.)

Theory. The fluid limit: the backlog grows at ``λ2 - 1/D = 0.5``/s, so 500 requests wait at 2,000 s,
the drain ends 500 s later and an arrival at ``T1 + s`` waits ``0.5 s`` seconds, 250 s on average.
Exactly (the chain of ``test_theory_round18_mdc``): departures in ``(t, t + D]`` are ``min(Q(t), 1)``,
so ``Q(t + D) = max(Q(t) - 1, 0) + Poisson(λD)``; started from M/D/1's stationary law at ``λ1``
(1,000 s at ρ = 0.5 forget the empty start), 1,000 steps at ``λ2`` give the law of ``Q(2000)``:
mean 501.88 (0.75 present at the step, 1.13 lost to the server idling early in the overload), variance
1,496 (Poisson arrivals, ``λ2 x 1000``: deterministic service adds none; exponential service would
add ``1000``). Then

* the run ends with the last of them: ``simulated_seconds = 2000 + D (Q(2000) - 1) + R``, ``R`` the
  rest of the service under way at 2,000 s, taken as ``D / 2`` (the server has been busy for hundreds
  of services, whose phase is then spread evenly; the error is under ``D / 2``, 0.5 s, against the
  interval's ~11 s): mean 2,501.4 s, variance 1,496 s²;
* an arrival at ``t`` waits ``D (Q(t⁻) - 1) + R`` when it finds the server busy: averaged over the
  overload's arrivals (the chain at 20 offsets within a service time), ``latency.queue.mean`` 251.35 s;
* ``stability.backlog_growth_per_s`` is the least-squares slope of the number in the system over the
  tail window (the last half after the warm-up, of the arrivals' window: 1,000 to 2,000 s): its mean
  is the drift ``λ2 - 1/D = 0.5``; the slope of a random walk of variance rate ``σ² = λ2`` over a
  window ``W`` has variance ``6 σ² / (5 W)`` (the slope of Brownian motion regressed on time), sd 0.042.

Confidence bounds: 100 replications (``--seeds 100``; ~0.05 s each); means within their 99 %
Student-t interval, which must be narrower than 5 % of the backlog (of the drift for the slope);
variances within the 99 % chi-square interval of the sample variance. (400 seeds: simulated_seconds
2,500.7 ± 1.9 s (one standard error), sd 37.4; wait 250.85 ± 1.0 s; slope 0.5009 ± 0.0021, sd 0.0423.)
"""
from __future__ import annotations


import numpy as np
import pytest
from scipy import stats as sps

from test_theory_round18_mdc import mdc_law
from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time, sweep_rows

D, T1, T2 = 1.0, 1000, 2000
LAM1, LAM2 = 0.5, 1.5
R = 100
CUT = 1200                                     # states of the chain: Q(2000) is 500 ± 39


def _step(p: np.ndarray, mean_arrivals: float) -> np.ndarray:
    """The law of ``max(Q - 1, 0) + Poisson(mean_arrivals)`` given the law ``p`` of ``Q``."""
    waiting = np.zeros_like(p)
    waiting[0] = p[:2].sum()
    waiting[1:-1] = p[2:]
    return np.convolve(waiting, sps.poisson.pmf(np.arange(80), mean_arrivals))[:len(p)]


def _start() -> np.ndarray:
    p = np.zeros(CUT)
    law = mdc_law(1, LAM1, D)
    p[:len(law)] = law
    return p


def backlog_at_step_end() -> tuple[float, float]:
    """Mean and variance of ``Q(T2)``."""
    p = _start()
    for _ in range(int((T2 - T1) / D)):
        p = _step(p, LAM2 * D)
    assert p[-100:].sum() < 1e-12
    k = np.arange(CUT)
    mean = float(np.dot(k, p))
    return mean, float(np.dot(k * k, p)) - mean * mean


def mean_wait_in_overload(offsets: int = 20) -> float:
    """Mean wait of the arrivals in ``(T1, T2)``: ``D (Q - 1) + D / 2`` when ``Q >= 1``, averaged over
    the times of ``offsets`` grids a service time apart (midpoints of ``D / offsets`` cells)."""
    k = np.arange(CUT)
    start, waits = _start(), []
    for j in range(offsets):
        u = (j + 0.5) / offsets * D
        p = _step(start, LAM1 * (D - u) + LAM2 * u)        # from T1 + u - D, across the step
        for _ in range(int((T2 - T1) / D)):
            waits.append(D * float(np.dot(np.maximum(k - 1, 0), p)) + D / 2 * float(p[1:].sum()))
            p = _step(p, LAM2 * D)
    return float(np.mean(waits))


def step_scenario(**over) -> dict:
    kw = {"replicas": 1, "router": "round_robin",
          "arrival": {"process": "piecewise", "times": [0, T1], "rates": [LAM1, LAM2]},
          "prompt": {"dist": "fixed", "value": 1000}, "duration": T2, "warmup": T1, "drain": True, **over}
    return one_at_a_time("step", **kw)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sweep_rows(tmp_path_factory.mktemp("step"), step_scenario(), seeds=R,
                     grid=f"workload.arrival.rates.1={LAM2}")


def _column(rows, key) -> np.ndarray:
    return np.array([float(r[key]) for r in rows])


def _mean_within(values: np.ndarray, theory: float, scale: float, what: str) -> None:
    m, half = ci99(values)
    assert abs(m - theory) <= half < 0.05 * scale, (what, m, half, theory)


def _variance_within(values: np.ndarray, theory: float, what: str) -> None:
    n = len(values)
    s2 = float(values.var(ddof=1))
    low, high = s2 * (n - 1) / sps.chi2.ppf(0.995, n - 1), s2 * (n - 1) / sps.chi2.ppf(0.005, n - 1)
    assert low <= theory <= high, (what, s2, low, high, theory)


def test_the_chain_is_the_fluid_limit_plus_a_little():
    q_mean, q_var = backlog_at_step_end()
    assert q_mean == pytest.approx(501.88, abs=0.01) and 500.0 < q_mean < 500.75 + 2.0
    assert q_var == pytest.approx(LAM2 * (T2 - T1), rel=0.01)    # Poisson arrivals' variance; the service adds none
    assert mean_wait_in_overload() == pytest.approx(251.35, abs=0.01)


def test_backlog_after_the_step_drains_when_the_chain_says(rows):
    q_mean, q_var = backlog_at_step_end()
    end = _column(rows, "simulated_seconds")
    _mean_within(end, T2 + D * q_mean - D / 2, q_mean * D, "simulated_seconds")
    _variance_within(end, D * D * q_var + D * D / 12, "simulated_seconds")
    # drained: everything served; busy the whole run's work over the whole run (README: gpu_busy is over
    # the whole run, the drain included, not only after the warm-up)
    done = _column(rows, "requests.completed")
    assert np.all(done == _column(rows, "requests.arrived"))
    np.testing.assert_allclose(_column(rows, "utilization.gpu_busy") * end, done * D, rtol=1e-9)


def test_overload_arrivals_wait_what_the_chain_says(rows):
    _mean_within(_column(rows, "latency.queue.mean"), mean_wait_in_overload(), 250.0, "latency.queue.mean")


def test_backlog_growth_is_the_drift_and_its_spread_the_random_walks(rows):
    growth = _column(rows, "stability.backlog_growth_per_s")
    window = _column(rows, "stability.window_s")
    assert np.all(window == T2 - T1)
    _mean_within(growth, LAM2 - 1.0 / D, LAM2 - 1.0 / D, "backlog_growth_per_s")
    _variance_within(growth, 6 * LAM2 / (5 * (T2 - T1)), "backlog_growth_per_s")
    assert {r["stability.verdict"] for r in rows} == {"unstable"}


def test_fast_and_reference_engines_agree(tmp_path):
    assert both_engines_write_the_same_requests(tmp_path, step_scenario(), "duration=1300") > 900
