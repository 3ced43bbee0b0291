"""M/G/1 with heavy-tailed service: lognormal prompts of coefficient of variation 2, the whole
waiting-time law (mean, p50, p90, p99), through the command line (``fleetsim sweep --seeds``).

One replica serving one request at a time (``max_num_seqs: 1``, one output token, the linear step
model at 1 ms a prompt token), prompts ``{dist: lognormal, mean: 1000, cv: 2, max: 20000}``: service
is ``h = 1 ms`` times the prompt, whose law is known exactly (docs/workload.md: ``X = exp(μ + σZ)``,
``σ² = ln(1 + cv²)``, ``μ = ln(mean) - σ²/2``, rounded to the nearest integer, then clipped to
``[1, 20000]``: ``P(k) = Φ((ln(k + ½) - μ)/σ) - Φ((ln(k - ½) - μ)/σ)``, the clip's point mass of
0.14 % at 20,000). Its mean is 985.30 tokens (the clip takes 1.5 %), its ``E[S²]`` 3.931 s².
(``test_queueing_theory`` checks deterministic and exponential service, ``test_theory_open_queues``
a mixture of fixed and uniform prompts: no service so variable, and no percentile of an M/G/1 wait.)

Theory. The mean wait is Pollaczek–Khinchine's ``W_q = λ E[S²] / (2 (1 - ρ))``. The law of the wait
is the Pollaczek–Khinchine (Beneš) form: ``W = Y_1 + ... + Y_N`` with ``P(N = n) = (1 - ρ) ρ^n``
and ``Y_i`` drawn from the equilibrium law of the service, density ``P(S > y) / E[S]``. The service
lives on the millisecond grid, so the equilibrium law's mass in ``[jh, (j + 1)h)`` is exactly
``h P(S > jh) / E[S]``; the compound geometric sum is taken by FFT on that grid (``2^20`` cells,
1,049 s: the mass past it is below 1e-9; the cells' width moves a quantile by a few milliseconds). Its
mean reproduces Pollaczek–Khinchine's to 0.02 %, a check of the computation. At ρ = 0.7: ``W_q`` 4.655 s,
p50 1.52 s, p90 14.05 s, p99 32.12 s.

Confidence bounds as in ``test_queueing_theory``: 24 replications (``--seeds 24``) of 20,000 s
(~14,000 requests each; a heavy tail needs long runs); the 99 % Student-t interval must contain the
theory and be narrower than 10 % of it (15 % for the p50, at the edge of the 30 % that do not wait,
and the p99).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from theory_round18_pool import TOKEN_S, both_engines_write_the_same_requests, ci99, one_at_a_time, sweep_rows

H = TOKEN_S                                    # seconds a prompt token
MEAN, CV, TOP = 1000, 2.0, 20_000
RHO = 0.7
R = 24


def prompt_law() -> tuple[np.ndarray, np.ndarray]:
    """Tokens ``1..TOP`` and their probabilities: a rounded lognormal clipped to ``[1, TOP]``."""
    s2 = math.log(1.0 + CV * CV)
    mu, sigma = math.log(MEAN) - s2 / 2.0, math.sqrt(s2)
    k = np.arange(1, TOP + 1)
    cuts = sps.norm.cdf((np.log(k[:-1] + 0.5) - mu) / sigma)        # P(X < k + 1/2)
    return k, np.diff(np.concatenate(([0.0], cuts, [1.0])))


def wait_law(lam: float, cells: int = 2 ** 20) -> tuple[np.ndarray, float, float]:
    """``(P(W in [jh, (j+1)h)) for j < cells, ρ, Pollaczek–Khinchine's mean)`` of the M/G/1 queue."""
    k, p = prompt_law()
    es, es2 = float(np.dot(k, p)) * H, float(np.dot(k * k, p)) * H * H
    rho = lam * es
    survival = np.concatenate(([1.0], 1.0 - np.cumsum(p)[:-1]))    # P(S > jh), j = 0 .. TOP - 1
    y = np.zeros(cells)
    y[:TOP] = survival * H / es
    w = np.fft.irfft((1.0 - rho) / (1.0 - rho * np.fft.rfft(y)), cells)
    return w, rho, lam * es2 / (2.0 * (1.0 - rho))


def _quantile(w: np.ndarray, q: float) -> float:
    return float(np.searchsorted(np.cumsum(w), q)) * H


def _lam() -> float:
    k, p = prompt_law()
    return RHO / (float(np.dot(k, p)) * H)


def test_the_wait_law_has_pollaczek_khinchines_mean_and_atom():
    k, p = prompt_law()
    assert p.sum() == pytest.approx(1.0, abs=1e-12) and float(np.dot(k, p)) == pytest.approx(985.30, abs=0.01)
    w, rho, pk = wait_law(_lam())
    assert rho == pytest.approx(RHO) and w.sum() == pytest.approx(1.0, abs=1e-9)
    assert w[0] == pytest.approx(1.0 - RHO, abs=5e-4)                # no wait (or under 1 ms)
    mean = float(np.dot((np.arange(len(w)) + 0.5) * H, w))           # cell midpoints
    assert mean == pytest.approx(pk, rel=5e-4)
    assert pk == pytest.approx(4.6546, abs=1e-4)


def heavy_scenario(**over) -> dict:
    kw = {"replicas": 1, "router": "round_robin", "arrival": {"process": "poisson", "rate": _lam()},
          "prompt": {"dist": "lognormal", "mean": MEAN, "cv": CV, "max": TOP}, "duration": 20_000.0,
          "warmup": 300.0, **over}
    return one_at_a_time("mg1", **kw)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sweep_rows(tmp_path_factory.mktemp("heavy"), heavy_scenario(), seeds=R,
                     grid=f"workload.arrival.rate={_lam()!r}")


def test_heavy_tailed_service_waits_as_the_pollaczek_khinchine_law(rows):
    """ρ = 0.7: W_q 4.655 s, p50 1.52 s, p90 14.05 s, p99 32.12 s (M/M/1 at ρ = 0.7: 2.33 s, p99 14.2 s)."""
    w, _, pk = wait_law(_lam())
    for key, theory, width in (("mean", pk, 0.10), ("p50", _quantile(w, 0.5), 0.15),
                               ("p90", _quantile(w, 0.9), 0.10), ("p99", _quantile(w, 0.99), 0.15)):
        m, half = ci99([float(r[f"latency.queue.{key}"]) for r in rows])
        assert abs(m - theory) <= half < width * theory, (key, m, half, theory)
    m, half = ci99([float(r["utilization.gpu_busy"]) for r in rows])
    assert abs(m - RHO) <= half < 0.02
    # the prompts' realised mean is the clipped law's 985.3 tokens, not the 1,000 the scenario names
    m, half = ci99([float(r["throughput.input_tokens_per_s"]) / float(r["throughput.requests_per_s"])
                     for r in rows])
    k, p = prompt_law()
    assert abs(m - float(np.dot(k, p))) <= half < 15.0, (m, half)


def test_fast_and_reference_engines_agree(tmp_path):
    assert both_engines_write_the_same_requests(tmp_path, heavy_scenario(duration=2000.0)) > 1000
