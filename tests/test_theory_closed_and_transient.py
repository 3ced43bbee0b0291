"""Two regimes the steady open queues do not reach: a closed loop on several servers, and a
time-varying arrival rate.

* **M/M/c//N** (the machine-repair model with ``c`` repairmen). ``N`` closed-loop clients with
  exponential think time ``Z`` send to ``c`` replicas behind one central queue, each serving one
  request at a time for an exponential service of rate ``μ`` (one output token, exponential prompts
  at 1 ms a token: mean ``1.0005 s``, squared coefficient of variation 0.999). The number of requests
  at the servers is a birth-death chain: up at ``(N - k) / Z``, down at ``min(k, c) μ``; its
  stationary law gives the throughput ``X = Σ p_k min(k, c) μ`` exactly, and the response-time law
  the mean response ``N / X - Z``. (``test_closed_loop`` checks one server.)
* **M_t/G/∞.** When no request ever waits (far more replicas than requests in the system), the
  number in the system at ``t`` of a system started empty is Poisson with mean
  ``m(t) = ∫_0^t λ(u) P(S > t - u) du`` for any arrival rate ``λ(t)`` (Eick, Massey and Whitt,
  "The physics of the M_t/G/∞ queue", Oper. Res. 41, 1993). Under a cosine rate the mean follows
  the rate with a lag and a damped swing — not the quasi-static ``λ(t) E[S]``. Service here is
  ``0.01 s x ceil(X)``, ``X ~ Exp(1000)``: ``P(S > u) = exp(-floor(u / 0.01) / 1000)``, summed
  exactly cell by cell against the integrated rate.

Confidence bounds: for the closed loop, 12 replications (seeds 1..12) and the 99 % Student-t
interval, which must contain the theory and be narrower than 5 % of it. For M_t/G/∞ the variance is
known (Poisson): the mean of ``n`` independent counts at one phase of the cycle has standard
deviation ``sqrt(m / n)``, and each of the 12 phases must be within 4 of them (a chance of about
``12 x 6e-5`` to fail by noise).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import sim

from conftest import scenario
from test_closed_loop import EXP_SERVICE_S, _closed
from test_queueing_theory import LONG_CONTEXT_MODEL, _ci99

EXP_PROMPT = {"dist": "exponential", "mean": 1000, "max": 100_000}


# ---------------------------------------------------------------- M/M/c//N
def mmc_n(n: int, c: int, think_s: float, service_s: float) -> tuple[float, float]:
    """(throughput, mean response) of the closed M/M/c//N loop, from its birth-death chain."""
    mu = 1.0 / service_s
    p = [1.0]
    for k in range(n):
        p.append(p[-1] * ((n - k) / think_s) / (min(k + 1, c) * mu))
    total = math.fsum(p)
    x = math.fsum(pk / total * min(k, c) * mu for k, pk in enumerate(p))
    return x, n / x - think_s


def _mmcn_run(n: int, c: int, think_s: float, seed: int, duration: float = 4000.0, engine: str = "fast"):
    sc = _closed(n=n, think_s=think_s, think="exponential", prompt=EXP_PROMPT, seed=seed, duration=duration,
                 warmup=100, replicas=c)
    sc["fleet"]["router"] = "central_queue"
    sc["engine"] = engine
    return sim.run(sc)


@pytest.mark.parametrize("n, c, think_s, duration", [(8, 2, 3.0, 2500.0), (12, 4, 8.0, 1500.0)])
def test_closed_loop_on_c_servers_is_the_birth_death_chain(n, c, think_s, duration):
    """8 clients, 2 servers, Z = 3 s: X = 1.697 req/s, response 1.715 s (one server would give
    0.999 req/s). 12 clients, 4 servers, Z = 8 s: X = 1.332 req/s, response 1.009 s.
    (Twelve seeds of 4,000 s gave 99 % intervals of at most 0.40 and 0.26 of the 5 % bound; the run
    lengths here: 0.62 and 0.49, the responses the widest.)"""
    x_th, r_th = mmc_n(n, c, think_s, EXP_SERVICE_S)
    runs = [_mmcn_run(n, c, think_s, seed, duration) for seed in range(1, 13)]
    for values, theory, what in (([r.summary["throughput"]["requests_per_s"] for r in runs], x_th, "X"),
                                 ([r.summary["latency"]["e2e"]["mean"] for r in runs], r_th, "response")):
        m, half = _ci99(np.array(values))
        print(f"closed n={n} c={c} {what}: {m:.4f} ± {half:.4f} [{theory:.4f}], "
              f"{half / (0.05 * theory):.2f} of the bound")
        assert half < 0.05 * theory, (what, m, half, theory)
        assert abs(m - theory) <= half, f"{what}: {m:.4f} ± {half:.4f}, theory {theory:.4f}"


def test_closed_loop_on_c_servers_same_in_both_engines():
    from test_equivalence import _assert_same

    fast, ref = (_mmcn_run(8, 2, 3.0, seed=4, duration=600.0, engine=e) for e in ("fast", "reference"))
    assert len(fast.records) > 800
    _assert_same(fast.records, ref.records)


# ---------------------------------------------------------------- M_t/G/∞
PERIOD, MEAN_RATE, PEAK_TO_TROUGH = 120.0, 1.0, 3.0
DELTA = 0.01                                   # seconds per prompt token
REPLICAS = 40                                  # P(Poisson(14.4) >= 40) ~ 1e-8: nobody waits
CYCLES, R = 50, 4
FIRST = 240.0                                  # the first cycles carry the empty start (e^{-24})


def _infinite_server(seed: int, engine: str = "fast") -> dict:
    sc = scenario(seed=seed, duration=FIRST + CYCLES * PERIOD, warmup=0, model=LONG_CONTEXT_MODEL,
                  metrics={"interval": 10.0, "records": "all"})
    sc["drain"] = True
    sc["engine"] = engine
    sc["workload"] = {"arrival": {"process": "diurnal", "mean_rate": MEAN_RATE, "peak_to_trough": PEAK_TO_TROUGH,
                                  "peak_hour": 0.0, "period": PERIOD},
                      "prompt_tokens": EXP_PROMPT, "output_tokens": {"dist": "fixed", "value": 1}}
    sc["fleet"] = {"router": "central_queue",
                   "pools": [{"name": "servers", "gpu": "h100-sxm", "replicas": REPLICAS,
                              "batching": {"max_num_seqs": 1, "max_batched_tokens": 200_000}}]}
    sc["perf"] = {"model": "linear", "base_s": 0.0, "per_prefill_token_s": DELTA, "per_decode_token_s": 0.0,
                  "per_context_token_s": 0.0}
    return sc


def mean_in_system(t: np.ndarray) -> np.ndarray:
    """``m(t)`` of the cosine rate (peak at t = 0 mod PERIOD) through the geometric service: the
    survival is ``exp(-j / 1000)`` on ``[j DELTA, (j + 1) DELTA)``, so ``m(t) = Σ_j exp(-j / 1000)
    (Λ(t - j DELTA) - Λ(t - (j + 1) DELTA))`` with ``Λ`` the integrated rate (0 before t = 0)."""
    a = (PEAK_TO_TROUGH - 1.0) / (PEAK_TO_TROUGH + 1.0)
    w = 2.0 * math.pi / PERIOD

    def cum(x):
        x = np.maximum(x, 0.0)
        return MEAN_RATE * (x + a / w * np.sin(w * x))

    j = np.arange(40_000)[:, None]                 # survival below e^{-40} past the last cell
    return (np.exp(-j / 1000.0) * (cum(t - j * DELTA) - cum(t - (j + 1) * DELTA))).sum(axis=0)


def _counts(rec: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Requests in the system at each ``t``: arrived at or before it, not yet completed."""
    arr, done = np.sort(rec["arrival_s"]), np.sort(rec["completion_s"])
    return np.searchsorted(arr, t, side="right") - np.searchsorted(done, t, side="right")


def test_time_varying_rate_through_infinite_servers_lags_and_damps():
    """Mean 10.005 s service under a 120 s cycle: the mean in the system swings ±4.4 around 10.0
    (the rate's ±0.5 x 10) and peaks about 9 s after the rate does."""
    phases = np.arange(0.0, PERIOD, 10.0)
    t = FIRST + np.arange(CYCLES)[:, None] * PERIOD + phases[None, :]      # (cycle, phase)
    counts = []
    for seed in range(1, R + 1):
        res = sim.run(_infinite_server(seed))
        rec = res.records
        assert res.summary["requests"]["in_flight"] == 0               # drained: every request completed
        assert np.all(rec["sched_s"] == rec["arrival_s"])              # nobody waited: G/∞
        counts.append(_counts(rec, t.ravel()).reshape(t.shape))
        # the sampler's running sequences at its 10 s rows are the same count
        ts = res.timeseries
        rows = ts[(ts[:, 0] > 0) & (ts[:, 0] <= FIRST + CYCLES * PERIOD)]
        assert np.array_equal(rows[:, 5] + rows[:, 3] + rows[:, 4], _counts(rec, rows[:, 0]).astype(float))
    n = np.concatenate(counts).astype(float)                # (R x CYCLES, phase)
    mean, m = n.mean(axis=0), mean_in_system(FIRST + phases)
    sd = np.sqrt(m / n.shape[0])
    assert np.all(np.abs(mean - m) <= 4.0 * sd), np.c_[phases, mean, m, sd]
    # the theory matters: the quasi-static λ(t) E[S] is far off at the phases where the rate moves
    a = (PEAK_TO_TROUGH - 1.0) / (PEAK_TO_TROUGH + 1.0)
    quasi = MEAN_RATE * (1.0 + a * np.cos(2.0 * math.pi * phases / PERIOD)) * DELTA / (1.0 - math.exp(-1.0 / 1000.0))
    assert np.max(np.abs(mean - quasi) / sd) > 10.0


def test_time_varying_rate_same_in_both_engines():
    from test_equivalence import _assert_same

    sc = _infinite_server(3)
    sc["duration"] = 600.0
    fast, ref = sim.run(sc), sim.run(dict(sc, engine="reference"))
    assert len(fast.records) > 400
    _assert_same(fast.records, ref.records)
