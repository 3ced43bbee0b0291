"""Each router against the queue it makes (docs/fleet_dynamics.md, "Routers as queueing systems").

The pool of ``test_queueing_theory`` (``max_num_seqs: 1``, one output token, ``ceil(X)`` prompt
tokens with ``X ~ Exp(1000)`` at 1 ms a token: service of mean ``1.0005 s``) on ``c = 2`` replicas at
``ρ = 0.7`` under Poisson arrivals, behind the three routers that keep a queue per replica:

* ``random`` splits the arrivals into ``c`` independent Poisson streams of ``λ / c``: ``c`` M/M/1
  queues, ``W_q = ρ / (μ - λ / c)``, ``P(wait > 0) = ρ``;
* ``round_robin`` gives each replica every ``c``-th arrival (Erlang-``c`` gaps of rate ``λ``): ``c``
  E_c/M/1 queues, ``W_q = σ / (μ (1 - σ))`` and ``P(wait > 0) = σ``, where ``σ`` solves
  ``σ = (λ / (λ + μ (1 - σ)))^c`` (GI/M/1; Kleinrock, Queueing Systems I, §6.4);
* ``least_outstanding`` joins the shortest queue: no closed form, but its wait lies strictly between
  the pooled queue's (M/M/c, Erlang C) and round robin's.

As in ``test_queueing_theory``: ``R`` replications (seeds 1..R) give i.i.d. estimates of ``W_q``;
the 99 % interval must hold the closed form and be narrower than 10 % of it (the Allen–Cunneen
shape factor of the geometric service moves the theory by 0.05 %).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

import sim

from test_queueing_theory import _ci99, _queue_scenario, mmc_wait_s

C = 2
RHO = 0.7
MEAN_S = 0.001 / (1.0 - math.exp(-1.0 / 1000.0))      # 1.0005 s
SHAPE = (1.0 + math.exp(-1.0 / 1000.0)) / 2.0          # (1 + cv²) / 2 of the geometric service
MU = 1.0 / MEAN_S
LAM = RHO * C * MU
R = 12
DURATION, WARMUP = 6000.0, 300.0


def ec_m1(c: int, lam: float, mu: float) -> tuple[float, float]:
    """E_c/M/1 with Erlang-c gaps of total rate ``lam`` per server: ``(W_q, P(wait > 0))``."""
    sigma = optimize.brentq(lambda s: s - (lam / (lam + mu * (1.0 - s))) ** c, 1e-12, 1.0 - 1e-12)
    return sigma / (mu * (1.0 - sigma)), sigma


def _runs(router: str) -> tuple[np.ndarray, np.ndarray]:
    waits, waited = [], []
    for seed in range(1, R + 1):
        sc = _queue_scenario(c=C, lam=LAM, prompt={"dist": "exponential", "mean": 1000, "max": 100_000},
                             seed=seed, duration=DURATION, warmup=WARMUP)
        sc["fleet"]["router"] = router
        res = sim.run(sc)
        rec = res.records
        m = (rec["arrival_s"] >= WARMUP) & (rec["status"] == 1)   # measured, completed
        q = rec["sched_s"][m] - rec["arrival_s"][m]
        assert res.summary["latency"]["queue"]["mean"] == pytest.approx(float(q.mean()), rel=0.02)
        waits.append(float(q.mean()))
        waited.append(float((q > 0).mean()))
    return np.array(waits), np.array(waited)


def test_random_routing_is_c_independent_mm1_queues():
    w, p = _runs("random")
    m, half = _ci99(w)
    theory = SHAPE * RHO / (MU - LAM / C)
    assert abs(m - theory) <= half and half < 0.1 * theory, (m, half, theory)
    m, half = _ci99(p)
    assert abs(m - RHO) <= half, (m, half)


def test_round_robin_is_c_independent_ec_m1_queues():
    w, p = _runs("round_robin")
    wq, sigma = ec_m1(C, LAM, MU)
    m, half = _ci99(w)
    assert abs(m - wq) <= half and half < 0.1 * wq, (m, half, wq)
    m, half = _ci99(p)
    assert abs(m - sigma) <= half, (m, half, sigma)


def test_least_outstanding_waits_between_the_pooled_queue_and_round_robin():
    w, _ = _runs("least_outstanding")
    m, half = _ci99(w)
    pooled = mmc_wait_s(LAM, MEAN_S, C)
    assert pooled < m - half and m + half < ec_m1(C, LAM, MU)[0], (pooled, m, half)
