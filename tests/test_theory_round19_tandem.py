"""Disaggregated prefill -> decode (``fleet.disaggregated``) is a tandem of two M/M/1 queues (a Jackson
network), through the command line (``fleetsim run``, one run a seed, its request rows and time series).

A prefill pool and a decode pool of one replica each, both serving one request at a time
(``max_num_seqs: 1``), a link fast enough that the KV transfer takes about a microsecond
(``link_gbps: 1e6``), and the linear step model at 1 ms a prompt token and 1 ms a decode
iteration of one sequence. Prompts ``{dist: exponential, mean: 800}`` make the prefill service
``S1 = 1 ms x ceil(Exp(800))`` (mean 0.8005 s, geometric on the millisecond grid: squared
coefficient of variation 0.999); the prefill emits the first token, so the decode service is the
other ``x - 1`` tokens of an output ``x = ceil(Exp(1000))``: ``floor(Exp(1000))`` ms, which is 0 with
probability ``p2 = 1 - e^(-1/1000)`` (such a request completes in the prefill pool), else geometric of
mean ``1 / p2`` ms = 1.0005 s. Poisson arrivals at ``λ = 0.5``: ``ρ1 = 0.400``, ``ρ2 = 0.4998``.

Theory (Jackson networks; Burke, "The output of a queuing system", Oper. Res. 4, 1956; Reich,
"Waiting times when queues are in tandem", Ann. Math. Stat. 28, 1957):

* the prefill pool is M/M/1: its sojourn (the TTFT) is exponential of rate ``μ1 - λ``, mean 1.334 s;
* by Burke's theorem its departures (the first tokens) are Poisson at ``λ``, so the decode pool
  (fed the requests with a decode, a random thinning at ``1 - p2``) is M/M/1 at ``λ2 = λ (1 - p2)``:
  sojourn (``e2e - ttft``) exponential of rate ``μ2 - λ2``, mean 2.000 s;
* by Reich's theorem a request's two sojourns are independent (the correlation is 0, although a
  request that leaves the first queue just after a burst meets that burst downstream), so the
  end-to-end time is their sum: hypoexponential, ``P(T > t) = (a2 e^{-a1 t} - a1 e^{-a2 t}) / (a2 - a1)``;
* Little's law on each pool: the mean number in it is ``ρ_i / (1 - ρ_i)`` (0.667 and 1.000).

The means use Pollaczek–Khinchine with the geometric services' exact second moments
(``E[K²] = (2 - p) / p²`` for ``K`` geometric on 1, 2, ...; 0.06 % below the exponential's); the
percentiles the exponential laws, which the millisecond grid moves by about a millisecond.

Confidence bounds as in ``test_queueing_theory``: 10 replications of 4,000 s (~2,000 requests each)
after a 200-s warm-up; the 99 % Student-t interval must contain the theory and be narrower than 10 %
of it (20 % for a p99, as in the round-18 files; 0.05 absolute for the correlation). Halving these
widths takes four times the simulated time, past this file's time budget.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from theory_round18_pool import LONG_CONTEXT_MODEL, both_engines_write_the_same_requests, ci99
from theory_round19_pool import in_system, run_seeds

H = 0.001                                       # seconds a prompt token, and a decode iteration
LAM = 0.5
PROMPT_MEAN, OUTPUT_MEAN = 800, 1000
R = 10
DURATION, WARMUP = 4000.0, 200.0

P1 = 1.0 - math.exp(-1.0 / PROMPT_MEAN)        # ceil(Exp(m)) is geometric on 1, 2, ... with this p
P2 = 1.0 - math.exp(-1.0 / OUTPUT_MEAN)


def geometric_moments(p: float) -> tuple[float, float]:
    """``E[S]`` and ``E[S²]`` of ``S = H K``, ``K`` geometric on 1, 2, ... of success ``p``."""
    return H / p, H * H * (2.0 - p) / (p * p)


def mg1_sojourn(lam: float, p: float) -> float:
    es, es2 = geometric_moments(p)
    return es + lam * es2 / (2.0 * (1.0 - lam * es))


LAM2 = LAM * (1.0 - P2)                         # the requests with a decode
A1 = 1.0 / geometric_moments(P1)[0] - LAM       # the exponential sojourns' rates
A2 = 1.0 / geometric_moments(P2)[0] - LAM2


def sum_survival(t: float) -> float:
    return (A2 * math.exp(-A1 * t) - A1 * math.exp(-A2 * t)) / (A2 - A1)


def sum_quantile(q: float) -> float:
    return optimize.brentq(lambda t: 1.0 - sum_survival(t) - q, 0.0, 200.0, xtol=1e-12)


def tandem_scenario(*, duration: float = DURATION) -> dict:
    one = {"gpu": "h100-sxm", "replicas": 1, "batching": {"max_num_seqs": 1}}
    return {"name": "tandem", "seed": 1, "duration": duration, "warmup": WARMUP, "model": LONG_CONTEXT_MODEL,
            "workload": {"arrival": {"process": "poisson", "rate": LAM},
                         "prompt_tokens": {"dist": "exponential", "mean": PROMPT_MEAN},
                         "output_tokens": {"dist": "exponential", "mean": OUTPUT_MEAN}},
            "fleet": {"pools": [{"name": "prefill", **one}, {"name": "decode", **one}],
                      "disaggregated": {"prefill_pool": "prefill", "decode_pool": "decode", "link_gbps": 1e6}},
            "perf": {"model": "linear", "per_prefill_token_s": H, "per_decode_token_s": H},
            "metrics": {"interval": 2.0}, "economics": {"gpu_hour_usd": 2.0}}


def test_the_sum_of_the_two_sojourns_has_their_means_and_its_quantiles():
    assert mg1_sojourn(LAM, P1) == pytest.approx(1.0 / A1, rel=1e-3)     # P-K with the grid ~ M/M/1
    assert mg1_sojourn(LAM2, P2) == pytest.approx(1.0 / A2, rel=1e-3)
    # the mean of the hypoexponential law, by integrating its survival function
    t = np.linspace(0.0, 200.0, 400_001)
    s = np.array([sum_survival(x) for x in t[::100]])
    assert np.trapezoid(s, t[::100]) == pytest.approx(1.0 / A1 + 1.0 / A2, rel=1e-6)
    assert sum_quantile(0.5) == pytest.approx(2.774, abs=1e-3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return run_seeds(tmp_path_factory.mktemp("tandem"), tandem_scenario(), R)


def _stages(run) -> tuple[np.ndarray, np.ndarray]:
    """Each completed request's prefill sojourn (TTFT) and decode sojourn (E2E - TTFT), of the
    requests with a decode."""
    rows = [r for r in run.completed(WARMUP) if int(r["output_tokens"]) > 1]
    ttft = run.column(rows, "ttft_s")
    return ttft, run.column(rows, "e2e_s") - ttft


def _check(values, theory: float, width: float, what: str) -> None:
    m, half = ci99(values)
    assert abs(m - theory) <= half < width * theory, (what, m, half, theory)


def test_each_pool_is_an_mm1_queue(runs):
    """Prefill: mean 1.334 s, p50 0.925, p90 3.073, p99 6.146 s. Decode: mean 2.000 s, p50 1.386,
    p90 4.605, p99 9.210 s."""
    stages = [_stages(r) for r in runs]
    for i, (lam, p, a) in enumerate(((LAM, P1, A1), (LAM2, P2, A2))):
        _check([s[i].mean() for s in stages], mg1_sojourn(lam, p), 0.10, f"stage {i + 1} mean")
        for q in (0.5, 0.9, 0.99):
            _check([np.quantile(s[i], q) for s in stages], -math.log(1.0 - q) / a, 0.20 if q == 0.99 else 0.10,
                   f"stage {i + 1} p{round(100 * q)}")


def test_the_prefill_pool_hands_on_a_poisson_stream(runs):
    """Burke: the prefill pool's departures (each request's first token) are Poisson at λ, though
    its service is not instantaneous: gaps of mean 2 s, squared coefficient of variation 1 (a
    deterministic server's would be far below), uncorrelated from one to the next, P(gap > 2 s) = e^-1."""
    gaps = []
    for r in runs:
        t = np.sort(r.column(r.completed(WARMUP), "first_token_s"))
        gaps.append(np.diff(t))
    _check([g.mean() for g in gaps], 1.0 / LAM, 0.05, "mean gap")
    _check([g.var() / g.mean() ** 2 for g in gaps], 1.0, 0.10, "gap cv2")
    _check([np.mean(g > 1.0 / LAM) for g in gaps], math.exp(-1.0), 0.05, "P(gap > 1/λ)")
    m, half = ci99([np.corrcoef(g[:-1], g[1:])[0, 1] for g in gaps])
    assert abs(m) <= half < 0.05, (m, half)


def test_the_two_sojourns_are_independent_and_add_up(runs):
    """Reich: correlation 0. End to end: mean 3.334 s, p50 2.774, p90 6.525, p99 11.33 s."""
    stages = [_stages(r) for r in runs]
    m, half = ci99([np.corrcoef(t1, t2)[0, 1] for t1, t2 in stages])
    assert abs(m) <= half < 0.05, (m, half)
    total = [t1 + t2 for t1, t2 in stages]
    _check([t.mean() for t in total], mg1_sojourn(LAM, P1) + mg1_sojourn(LAM2, P2), 0.10, "e2e mean")
    for q in (0.5, 0.9, 0.99):
        _check([np.quantile(t, q) for t in total], sum_quantile(q), 0.20 if q == 0.99 else 0.10, f"e2e p{q}")
    # the fleet's own summary says the same for the TTFT and the E2E of every request
    _check([r.summary["latency"]["ttft"]["mean"] for r in runs], mg1_sojourn(LAM, P1), 0.10, "summary ttft")
    _check([r.summary["latency"]["e2e"]["mean"] for r in runs],
           mg1_sojourn(LAM, P1) + (1.0 - P2) * mg1_sojourn(LAM2, P2), 0.10, "summary e2e")


def test_littles_law_on_each_pool(runs):
    for pool, lam, p in (("prefill", LAM, P1), ("decode", LAM2, P2)):
        rho = lam * geometric_moments(p)[0]
        _check([in_system(r, pool, after=WARMUP).mean() for r in runs], lam * mg1_sojourn(lam, p), 0.10, pool)
        assert lam * mg1_sojourn(lam, p) == pytest.approx(rho / (1.0 - rho), rel=1e-3)
        m, half = ci99([r.summary["pools"][pool]["gpu_busy"] for r in runs])
        assert abs(m - rho) <= half < 0.03, (pool, m, half, rho)


def test_fast_and_reference_engines_agree(tmp_path):
    # the same tandem with outputs 10x shorter, each decode iteration 10x longer (the same decode times
    # in law, a tenth of the iterations each engine steps through: ~12 s -> ~2 s)
    sc = tandem_scenario(duration=600.0)
    sc["workload"]["output_tokens"]["mean"] = OUTPUT_MEAN / 10
    sc["perf"]["per_decode_token_s"] = 10 * H
    assert both_engines_write_the_same_requests(tmp_path, sc) > 250
