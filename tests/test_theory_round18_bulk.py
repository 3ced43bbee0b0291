"""Static batching (``batching: {policy: static, batch_size: B}``, no ``timeout_s``) is the bulk-service
queue M/D^(B,B)/1: its mean wait, busy share and load factor, through the command line
(``fleetsim sweep --seeds``, its ``sweep.csv``). Nothing checked static batching against theory.

One replica, one output token, fixed 100-token prompts, the linear step model with ``base_s: D``
and nothing per token: every batch, whatever it holds, is one prefill iteration of ``D`` seconds.
The replica waits until ``B`` requests are queued, takes ``B`` of them FCFS (docs/fleet_dynamics.md,
"Static batching") and takes the next ``B`` when the batch is done: a server that serves exactly
``B`` at a time and starts only with ``B`` (Neuts' general bulk-service rule with ``a = b = B``).

Theory. Let ``X`` be the number waiting when a batch ends. If ``X >= B`` the next batch starts at
once and leaves ``X - B``; if not, the replica idles until ``B`` are there and leaves none; either way
``D`` seconds of Poisson arrivals follow: ``X' = max(X - B, 0) + Poisson(λD)`` — the M/D/c chain of
``test_theory_round18_mdc`` with ``c = B``; ``π`` its stationary law. Over one cycle (a batch's end to
the next's) the replica idles ``(B - X)⁺ / λ`` on average, and the number waiting integrates to
``Σ_{j=X}^{B-1} j / λ`` while it idles (``j`` waiting for an exponential gap each) plus
``(X - B)⁺ D + λD² / 2`` while it serves. By renewal reward and Little,

    E[cycle] = E_π[(B - X)⁺] / λ + D   (= B / λ: a cycle serves B),
    W_q = E_π[idle integral + (X - B)⁺ D + λD²/2] / (λ E[cycle]),

and the replica is busy ``D / E[cycle] = λD / B = ρ`` of the time. With ``B = 1`` this is M/D/1's
Pollaczek–Khinchine mean (checked below). B = 4, D = 2 s, λ = 1.6/s (ρ = 0.8): ``W_q`` 1.710 s;
B = 8, D = 3 s, λ = 1.2/s (ρ = 0.45): 2.932 s, nearly all of it waiting for the batch to fill (``(B - 1) /
(2λ)`` = 2.92 s alone).

Confidence bounds as in ``test_queueing_theory``: 16 replications of 8,000 s; the 99 % Student-t
interval must contain the theory and be narrower than 5 % of it (busy share and load factor: 0.01
absolute).
"""
from __future__ import annotations

import numpy as np
import pytest

from test_theory_round18_mdc import mdc_law
from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time, sweep_rows

R = 16


def bulk_wait(b: int, lam: float, d: float) -> tuple[float, float]:
    """``(W_q, E[cycle])`` of the M/D^(b,b)/1 queue."""
    p = mdc_law(b, lam, d)
    x = np.arange(len(p))
    idle = np.maximum(b - x, 0) / lam
    waiting_while_idle = np.where(x < b, (b * (b - 1) - x * (x - 1)) / 2.0, 0.0) / lam   # Σ_{j=x}^{b-1} j / λ
    area = waiting_while_idle + np.maximum(x - b, 0) * d + lam * d * d / 2.0
    cycle = float(np.dot(p, idle)) + d
    return float(np.dot(p, area)) / cycle / lam, cycle


def test_one_at_a_time_is_md1_and_a_cycle_serves_b():
    w, cycle = bulk_wait(1, 0.7, 1.0)
    assert w == pytest.approx(0.7 / (2 * 0.3), rel=1e-9) and cycle == pytest.approx(1 / 0.7, rel=1e-9)
    w, cycle = bulk_wait(4, 1.6, 2.0)
    assert cycle == pytest.approx(4 / 1.6, rel=1e-9) and w == pytest.approx(1.7097, abs=1e-4)
    assert bulk_wait(8, 1.2, 3.0)[0] == pytest.approx(2.9322, abs=1e-4)


def bulk_scenario(b: int, d: float, lam: float, **over) -> dict:
    kw = {"replicas": 1, "router": "round_robin", "arrival": {"process": "poisson", "rate": lam},
          "prompt": {"dist": "fixed", "value": 100}, "duration": 8000.0, "warmup": 300.0, **over}
    data = one_at_a_time("bulk", **kw)
    data["fleet"]["pools"][0]["batching"] = {"policy": "static", "batch_size": b, "max_num_seqs": b,
                                             "max_batched_tokens": 200_000}
    data["perf"]["base_s"] = d
    data["perf"]["per_prefill_token_s"] = 0.0
    return data


@pytest.mark.parametrize("b, d, lam", [(4, 2.0, 1.6), (8, 3.0, 1.2)])
def test_static_batching_waits_as_the_bulk_service_queue(tmp_path, b, d, lam):
    rows = sweep_rows(tmp_path, bulk_scenario(b, d, lam), seeds=R, grid=f"workload.arrival.rate={lam}")
    assert len(rows) == R
    w, _ = bulk_wait(b, lam, d)
    m, half = ci99([float(r["latency.queue.mean"]) for r in rows])
    assert abs(m - w) <= half < 0.05 * w, (m, half, w)
    for key in ("utilization.gpu_busy", "utilization.load_factor"):   # ρ = λD / B: full batches
        m, half = ci99([float(r[key]) for r in rows])
        assert abs(m - lam * d / b) <= half < 0.01, (key, m, half)


def test_fast_and_reference_engines_agree(tmp_path):
    assert both_engines_write_the_same_requests(tmp_path, bulk_scenario(4, 2.0, 1.6, duration=1500.0)) > 2000
