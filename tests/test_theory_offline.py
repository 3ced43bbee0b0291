"""An offline batch drained through ``c`` servers (``arrival: {process: burst}``, ``drain: true``).

``N`` requests arrive at t = 0 on ``c`` replicas behind a central queue, each serving one at a time
(one output token, exponential prompts at 1 ms a token: service of rate ``μ = 1 / 1.0005 s``).
While requests wait, the ``c`` servers complete at rate ``c μ``; the ``k``-th request in the queue
starts after ``k`` completions, and once the queue is empty the last ``c`` finish after the
longest of ``c`` exponential services. So (a drained run ends with the last completion):

* makespan ``T``: ``E[T] = (N - c) / (c μ) + H_c / μ`` with ``H_c = 1 + 1/2 + ... + 1/c``, and
  ``Var[T] = (N - c) / (c μ)² + Σ_{i<=c} 1 / (i μ)²``;
* the mean wait in queue over the ``N`` requests: ``(N - c) (N - c + 1) / (2 c μ N)``.

All services start on the 1 ms grid and last whole milliseconds, so the geometric service is
memoryless exactly on the grid; the exponential theory is off by the chance of two completions in
one millisecond (~0.1 %). Confidence bounds: 40 replications (seeds 1..40), 99 % Student-t
interval, which must contain the theory and be narrower than 5 % of it; the replications' variance
of ``T`` must match ``Var[T]`` (a chi-square interval at 99 %).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

import sim

from test_queueing_theory import _ci99, _queue_scenario

N, C, R = 400, 4, 40
S = 0.001 / (1.0 - math.exp(-1.0 / 1000.0))


def _offline(seed: int, engine: str = "fast"):
    sc = _queue_scenario(c=C, lam=1.0, prompt={"dist": "exponential", "mean": 1000, "max": 100_000}, seed=seed,
                         duration=10.0, warmup=0.0)
    sc["workload"]["arrival"] = {"process": "burst", "count": N, "at": 0.0}
    sc["drain"] = True
    sc["engine"] = engine
    return sim.run(sc)


def test_offline_batch_makespan_and_wait_through_c_servers():
    """E[T] = 396 / 4 x 1.0005 + 2.083 x 1.0005 = 101.13 s (sd 5.1 s); mean wait 49.15 s."""
    h_c = sum(1.0 / i for i in range(1, C + 1))
    t_mean = ((N - C) / C + h_c) * S
    t_var = ((N - C) / C ** 2 + sum(1.0 / i ** 2 for i in range(1, C + 1))) * S ** 2
    w_mean = (N - C) * (N - C + 1) / (2.0 * C * N) * S
    makespans, waits = [], []
    for seed in range(1, R + 1):
        res = _offline(seed)
        rec = res.records
        assert res.summary["requests"]["completed"] == N and res.summary["requests"]["in_flight"] == 0
        assert res.summary["simulated_seconds"] == float(rec["completion_s"].max())   # drained: ends at the last one
        assert res.summary["throughput"]["requests_per_s"] == N / res.summary["simulated_seconds"]
        makespans.append(res.summary["simulated_seconds"])
        waits.append(res.summary["latency"]["queue"]["mean"])
    for values, theory, what in ((makespans, t_mean, "makespan"), (waits, w_mean, "mean wait")):
        m, half = _ci99(np.array(values))
        assert half < 0.05 * theory, (what, m, half, theory)
        assert abs(m - theory) <= half, f"{what}: {m:.3f} ± {half:.3f}, theory {theory:.3f}"
    var = float(np.var(makespans, ddof=1))
    lo, hi = ((R - 1) * var / sps.chi2.ppf(q, R - 1) for q in (0.995, 0.005))
    assert lo <= t_var <= hi, (lo, t_var, hi)


def test_offline_batch_same_in_both_engines():
    from test_equivalence import _assert_same

    _assert_same(_offline(7).records, _offline(7, engine="reference").records)
