"""Open single-queue regimes against closed forms: renewal (non-Poisson) arrivals and merged
Poisson streams of different request classes (the waiting-time distribution:
``test_theory_wait_tail``).

The pool of ``test_queueing_theory``: ``max_num_seqs: 1``, one output token, the linear step model
at 1 ms a prompt token, so a request's service is its prefill, FCFS. Exponential prompts are
``ceil(X)`` tokens, ``X ~ Exp(1000)``: service ``0.001 x`` a geometric count, mean
``S = 0.001 / p = 1.0005 s`` with ``p = 1 - exp(-1/1000)``, squared coefficient of variation
0.999 (the exponential's is 1; the shape moves every quantity below by about 0.05 %).

* **GI/M/1** with gamma gaps (``arrival: {process: gamma, rate, cv}``, shape ``k = 1 / cv²``):
  ``σ`` solves ``σ = (k λ / (k λ + μ (1 - σ)))^k`` (the gaps' Laplace transform at ``μ (1 - σ)``);
  ``P(W > 0) = σ``, ``W_q = σ / (μ (1 - σ))`` and a waiting request waits an exponential time of
  rate ``μ (1 - σ)`` (Kleinrock, Queueing Systems I, §6.4). ``cv = 0.5`` is E_4/M/1 (smoother
  than Poisson), ``cv = 2`` burstier.
* **Merged Poisson classes.** Classes with their own Poisson ``arrival`` merge into one Poisson
  stream of the summed rate whose service is the rate-weighted mixture of the classes' laws, so
  Pollaczek–Khinchine's ``W_q = λ E[S²] / (2 (1 - ρ))`` holds with the mixture's second moment, and
  every class waits the same on average (Poisson arrivals see time averages).

Confidence bounds as in ``test_queueing_theory``: ``R`` replications (seeds 1..R) give i.i.d.
estimates; the 99 % Student-t interval must contain the theory and be narrower than 10 % of it
(proportions: narrower than 0.02 absolute).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

import sim

from test_queueing_theory import _ci99, _queue_scenario

EXP_PROMPT = {"dist": "exponential", "mean": 1000, "max": 100_000}
P = 1.0 - math.exp(-1.0 / 1000.0)
S = 0.001 / P                               # 1.0005 s
MU = 1.0 / S
WARMUP = 300.0


def _run(*, c: int, lam: float, seed: int, duration: float, router: str, arrival: dict | None = None,
         engine: str = "fast"):
    sc = _queue_scenario(c=c, lam=lam, prompt=EXP_PROMPT, seed=seed, duration=duration, warmup=WARMUP)
    sc["fleet"]["router"] = router
    sc["engine"] = engine
    if arrival is not None:
        sc["workload"]["arrival"] = arrival
    return sim.run(sc)


def _waits(res) -> np.ndarray:
    rec = res.records
    m = (rec["arrival_s"] >= WARMUP) & (rec["status"] == 1)
    return rec["sched_s"][m] - rec["arrival_s"][m]


def wait_quantile(q: float, p_wait: float, rate: float) -> float:
    """The ``q``-quantile of a wait that is 0 with probability ``1 - p_wait``, else exponential."""
    return math.log(p_wait / (1.0 - q)) / rate if 1.0 - q < p_wait else 0.0


def _check(values, theory: float, what: str, rel_width: float = 0.10) -> None:
    m, half = _ci99(np.asarray(values, dtype=float))
    assert half < rel_width * theory, (what, m, half, theory)
    assert abs(m - theory) <= half, f"{what}: {m:.4f} ± {half:.4f}, theory {theory:.4f}"


# ---------------------------------------------------------------- GI/M/1: gamma gaps
def gi_m1(cv: float, lam: float, mu: float) -> float:
    """σ of GI/M/1 with gamma gaps of rate ``lam`` and coefficient of variation ``cv``."""
    k = 1.0 / (cv * cv)
    return optimize.brentq(lambda s: s - (k * lam / (k * lam + mu * (1.0 - s))) ** k, 1e-12, 1.0 - 1e-12)


@pytest.mark.parametrize("cv, rho, duration", [(0.5, 0.7, 8000.0), (2.0, 0.6, 16_000.0)])
def test_gamma_arrivals_are_gi_m1(cv, rho, duration):
    """cv 0.5 at ρ = 0.7: σ = 0.553, W_q = 1.237 s; cv 2 at ρ = 0.6: σ = 0.823, W_q = 4.65 s
    (M/M/1 at the same loads: 2.33 s and 1.50 s)."""
    lam = rho * MU
    sigma = gi_m1(cv, lam, MU)
    runs = [_run(c=1, lam=lam, seed=s, duration=duration, router="round_robin",
                 arrival={"process": "gamma", "rate": lam, "cv": cv}) for s in range(1, 17)]
    _check([r.summary["latency"]["queue"]["mean"] for r in runs], sigma / (MU * (1.0 - sigma)), f"cv={cv} W_q")
    _check([r.summary["latency"]["queue"]["p90"] for r in runs],
           wait_quantile(0.9, sigma, MU * (1.0 - sigma)), f"cv={cv} p90")
    m, half = _ci99(np.array([float((_waits(r) > 0).mean()) for r in runs]))
    assert abs(m - sigma) <= half < 0.02, (m, half, sigma)


# ---------------------------------------------------------------- merged Poisson classes
# "a": 0.25 req/s of fixed 1,500-token prompts (1.5 s); "b": 0.5 req/s of prompts uniform on
# 200..1,000 tokens (mean 0.6 s). ρ = 0.375 + 0.3 = 0.675.
MERGED = [{"name": "a", "arrival": {"process": "poisson", "rate": 0.25}, "prompt_tokens": {"dist": "fixed", "value": 1500}},
          {"name": "b", "arrival": {"process": "poisson", "rate": 0.5},
           "prompt_tokens": {"dist": "uniform", "low": 200, "high": 1000}}]


def _merged(seed: int, duration: float = 8000.0, engine: str = "fast"):
    sc = _queue_scenario(c=1, lam=1.0, prompt=EXP_PROMPT, seed=seed, duration=duration, warmup=WARMUP)
    sc["engine"] = engine
    sc["fleet"]["router"] = "round_robin"
    sc["workload"] = {"output_tokens": {"dist": "fixed", "value": 1}, "classes": MERGED}
    return sim.run(sc)


def test_merged_poisson_classes_are_one_mg1_queue_and_wait_alike():
    n = np.arange(200, 1001)
    b1, b2 = 0.001 * n.mean(), 1e-6 * float((n.astype(float) ** 2).mean())
    lam = 0.75
    es2 = (0.25 * 1.5 ** 2 + 0.5 * b2) / lam
    rho = 0.25 * 1.5 + 0.5 * b1
    theory = lam * es2 / (2.0 * (1.0 - rho))                # 1.183 s
    runs = [_merged(s) for s in range(1, 17)]
    _check([r.summary["latency"]["queue"]["mean"] for r in runs], theory, "all")
    for k in ("a", "b"):
        _check([r.summary["classes"][k]["latency"]["queue"]["mean"] for r in runs], theory, k)
    # each class arrives at its own rate: its arrivals in [0, 8000 s), pooled over the runs, are
    # Poisson with mean rate x 8000 s x R (4 standard deviations)
    for i, rate in ((0, 0.25), (1, 0.5)):
        n_k = sum(int((r.records["cls"] == i).sum()) for r in runs)
        expect = rate * 8000.0 * len(runs)
        assert abs(n_k - expect) < 4 * math.sqrt(expect), (i, n_k, expect)


# ---------------------------------------------------------------- both engines
@pytest.mark.parametrize("case", ["gamma", "merged"])
def test_fast_and_reference_engines_agree(case):
    from test_equivalence import _assert_same

    def one(engine):
        if case == "gamma":
            return _run(c=1, lam=0.6 * MU, seed=2, duration=1500.0, router="round_robin", engine=engine,
                        arrival={"process": "gamma", "rate": 0.6 * MU, "cv": 2.0})
        return _merged(2, duration=1500.0, engine=engine)

    fast, ref = one("fast"), one("reference")
    assert len(fast.records) > 800
    _assert_same(fast.records, ref.records)
