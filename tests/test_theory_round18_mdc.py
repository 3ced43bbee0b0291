"""M/D/c: deterministic service on ``c`` servers behind one queue, the whole waiting-time law, through
the command line (``fleetsim sweep --seeds``, its ``sweep.csv``).

A pool serving one request at a time (``max_num_seqs: 1``, one output token, the linear step model
at 1 ms a prompt token, fixed 1,000-token prompts: every service is exactly ``D = 1 s``) on ``c``
replicas behind ``router: central_queue`` is the FCFS M/D/c queue. (M/D/1's mean is checked in
``test_queueing_theory``, M/M/c's wait law in ``test_theory_wait_tail``; M/D/c on several servers
and the percentiles of a deterministic service's wait were not.)

Theory (Crommelin 1932; the waiting-time law in the form of Franx, "A simple solution for the M/D/c
waiting time distribution", Oper. Res. Letters 29, 2001). Every request in service at ``t`` leaves
in ``(t, t + D]`` and no later arrival can, so the number in the system obeys
``Q(t + D) = max(Q(t) - c, 0) + A`` with ``A ~ Poisson(λD)``: its stationary law ``p`` is the
time-stationary law of ``Q``. A request arriving at ``t`` (FCFS, equal services: it starts once fewer
than ``c`` of those ahead of it remain) waits at most ``x = kD + u`` (``0 <= u < D``) exactly when
the requests present at ``t + u - D`` that are still waiting then, plus the arrivals of the
``D - u`` seconds before ``t``, number at most ``(k + 1) c - 1``:

    P(W <= kD + u) = P(max(Q - c, 0) + Poisson(λ (D - u)) <= (k + 1) c - 1),    Q ~ p

and ``W_q = E[max(Q - c, 0)] / λ`` (Little). On one server this is Erlang's M/D/1 formula
``P(W <= x) = (1 - ρ) Σ_{k <= x/D} (λ(kD - x))^k / k! e^{-λ(kD - x)}``, which the first test checks
it against, so the law used below is itself checked by an independent formula.

Confidence bounds as in ``test_queueing_theory``: 16 replications (``--seeds 16``) give i.i.d.
estimates after the warm-up; the 99 % Student-t interval must contain the theory and be narrower
than 10 % of it (a run's p99 comes from a few long busy periods: 20 %).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time, sweep_rows

D = 1.0
R = 16


def mdc_law(c: int, lam: float, d: float, n: int = 600) -> np.ndarray:
    """Stationary law of the number in the M/D/c system: the fixed point of ``Q' = max(Q - c, 0) + A``."""
    arrivals = sps.poisson.pmf(np.arange(n), lam * d)
    p = np.zeros(n)
    p[0] = 1.0
    for _ in range(100_000):
        new = np.convolve(_waiting(p, c), arrivals)[:n]
        new /= new.sum()
        done = np.abs(new - p).max() < 1e-15
        p = new
        if done:
            break
    assert p[-50:].sum() < 1e-12            # the cut-off holds no mass
    return p


def _waiting(p: np.ndarray, c: int) -> np.ndarray:
    """The law of ``max(Q - c, 0)`` (those waiting) given the law ``p`` of ``Q``."""
    out = np.zeros_like(p)
    out[0] = p[:c + 1].sum()
    out[1:len(p) - c] = p[c + 1:]
    return out


def mdc_wait_cdf(x: float, c: int, lam: float, d: float, p: np.ndarray) -> float:
    k, u = divmod(x, d)
    m = (int(k) + 1) * c - 1
    ahead = _waiting(p, c)[:m + 1]
    return float(np.dot(ahead, sps.poisson.cdf(m - np.arange(m + 1), lam * (d - u))))


def mdc_mean_wait(c: int, lam: float, p: np.ndarray) -> float:
    return float(np.dot(np.maximum(np.arange(len(p)) - c, 0), p)) / lam


def mdc_wait_quantile(q: float, c: int, lam: float, d: float, p: np.ndarray) -> float:
    if mdc_wait_cdf(0.0, c, lam, d, p) >= q:
        return 0.0
    hi = d
    while mdc_wait_cdf(hi, c, lam, d, p) < q:
        hi *= 2
    return optimize.brentq(lambda x: mdc_wait_cdf(x, c, lam, d, p) - q, 0.0, hi, xtol=1e-12)


def test_the_law_is_erlangs_md1_formula_and_pollaczek_khinchine_on_one_server():
    lam = 0.7
    p = mdc_law(1, lam, D)
    assert mdc_mean_wait(1, lam, p) == pytest.approx(lam * D * D / (2 * (1 - lam * D)), rel=1e-9)
    for x in (0.0, 0.3, 1.0, 2.5, 6.4, 11.9):
        erlang = (1 - lam) * math.fsum((lam * (k - x)) ** k / math.factorial(k) * math.exp(-lam * (k - x))
                                       for k in range(int(x) + 1))
        assert mdc_wait_cdf(x, 1, lam, D, p) == pytest.approx(erlang, abs=1e-10)


def mdc_scenario(**over) -> dict:
    """The M/D/c pool: fixed 1,000-token prompts (``D = 1 s``) behind the central queue."""
    kw = {"replicas": 1, "router": "central_queue", "arrival": {"process": "poisson", "rate": 1.0},
          "prompt": {"dist": "fixed", "value": 1000}, "duration": 8000.0, "warmup": 300.0, **over}
    return one_at_a_time("mdc", **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The sweep's rows of ``c`` servers at ``λ`` (each its own sweep, run when first asked for)."""
    done = {}

    def rows(c: int, lam: float) -> list[dict]:
        if c not in done:
            done[c] = sweep_rows(tmp_path_factory.mktemp(f"mdc{c}"), mdc_scenario(), seeds=R,
                                 grid=f"fleet.pools.0.replicas&workload.arrival.rate={c}&{lam}")
        return done[c]
    return rows


# four servers are slow (16 runs of 8,000 s, ~5 CPU s): two check the same law, its p99 too
@pytest.mark.parametrize("c, lam, keys", [
    (2, 1.6, (("mean", None), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99))),
    pytest.param(4, 3.6, (("mean", None), ("p50", 0.5), ("p90", 0.9)), marks=pytest.mark.slow)])
def test_wait_on_c_servers_with_deterministic_service_is_crommelins(runs, c, lam, keys):
    """M/D/2 at ρ = 0.8: W_q 0.903 s, p50 0.544, p90 2.397, p99 5.070 s (M/M/2's mean: 1.778).
    M/D/4 at ρ = 0.9: W_q 1.000 s, p50 0.621, p90 2.560 s."""
    rows = runs(c, lam)
    assert len(rows) == R and all(not r["error"] for r in rows)
    p = mdc_law(c, lam, D)
    for key, q in keys:
        theory = mdc_mean_wait(c, lam, p) if q is None else mdc_wait_quantile(q, c, lam, D, p)
        m, half = ci99([float(r[f"latency.queue.{key}"]) for r in rows])
        assert abs(m - theory) <= half < (0.2 if key == "p99" else 0.1) * theory, (c, key, m, half, theory)
    # the servers are busy ρ of the time, and every request is one service of D after its wait
    m, half = ci99([float(r["utilization.gpu_busy"]) for r in rows])
    assert abs(m - lam * D / c) <= half < 0.01, (m, half)
    # (to 0.1 %: the queue time also counts the few requests still waiting or in service at the end,
    # E2E only the completed ones; sim.metrics.summary)
    for r in rows:
        assert float(r["latency.e2e.mean"]) == pytest.approx(float(r["latency.queue.mean"]) + D, rel=1e-3)


def test_fast_and_reference_engines_agree(tmp_path):
    n = both_engines_write_the_same_requests(tmp_path, mdc_scenario(replicas=2, duration=1500.0),
                                             "workload.arrival.rate=1.8")
    assert n > 2500
