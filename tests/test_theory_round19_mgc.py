"""Continuous batching with a batch cap and a step time independent of the batch is the M/G/c queue,
through the command line (``fleetsim sweep --seeds``, its ``sweep.csv``). The opposite regime of
``test_theory_round19_ps``: there the step grows with the batch (processor sharing), here it does not.

One replica with ``max_num_seqs: c = 4``, one-token prompts and the linear step model with only
``base_s = δ = 10 ms``: every iteration takes ``δ`` whatever it holds, and a request of ``x`` output
tokens holds one of the ``c`` slots for exactly ``x`` iterations, ``x δ`` (the prompt's iteration emits
the first token). Requests beyond ``c`` wait, first come first served, and join at the boundary
where a slot frees. So the batch slots are ``c`` servers of service ``x δ``.

The steps are discrete: a request arriving while an iteration runs waits for its end even with a
slot free. For exponential output lengths (``ceil`` of an exponential: geometric, success
``p = 1 - e^(-1/100)`` a token) the iteration boundaries form an exact Markov chain,
``N' = N - Binomial(min(N, c), p) + Poisson(λ δ)``, with an idle period of mean ``1 / λ`` after
``N = 0`` (a request finding the replica idle starts at once); the time-average number in the system
(``N δ`` a step plus the arrivals waiting for the next boundary, ``λ δ² / 2``) gives ``E[T]`` by
Little's law. It is M/M/c's (Erlang C: ``E[T] = C(c, a) / (c μ - λ) + 1 / μ``) to 0.2 % at
ρ = 0.7, the discreteness that remains. Fixed 100-token outputs make it M/D/c: Crommelin's mean
wait (``test_theory_round18_mdc``) plus ``D = 1 s``.

Confidence bounds as in ``test_queueing_theory``: 10 replications of 4,000 s (~11,000 requests
each) after a 200-s warm-up; the 99 % Student-t interval must contain the theory and be narrower
than 5 % of it (the mean time in the system; the mean wait alone, a quarter of it, 20 %).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from test_theory_round18_mdc import mdc_law, mdc_mean_wait
from theory_round18_pool import LONG_CONTEXT_MODEL, both_engines_write_the_same_requests, ci99, sweep_rows
from theory_round19_pool import stationary

DELTA = 0.01
C = 4
RHO = 0.7
R = 10
P = 1.0 - math.exp(-1.0 / 100.0)
S_EXP = DELTA / P                               # 1.005 s
LAWS = {"exponential": ({"dist": "exponential", "mean": 100}, S_EXP),
        "fixed": ({"dist": "fixed", "value": 100}, 100 * DELTA)}


def erlang_c_mean_t(lam: float, s: float) -> float:
    a = lam * s
    b = 1.0
    for k in range(1, C + 1):
        b = a * b / (k + a * b)                 # Erlang B by recursion
    wait_prob = b / (1.0 - a / C * (1.0 - b))    # Erlang C
    return wait_prob / (C / s - lam) + s


def iteration_chain(lam: float, nmax: int = 400) -> tuple[float, float]:
    """``(E[T], share of the time the replica is busy)`` of the iteration-level chain."""
    k = np.arange(nmax + 1)
    arrivals = sps.poisson.pmf(k, lam * DELTA)
    T = np.zeros((nmax + 1, nmax + 1))
    T[0, 1] = 1.0
    for n in range(1, nmax + 1):
        s = min(n, C)
        left = np.zeros(nmax + 1)
        left[n - s:n + 1] = sps.binom.pmf(np.arange(s, -1, -1), s, P)   # n - j left after j finish
        row = np.convolve(left, arrivals)[:nmax + 1]
        T[n] = row / row.sum()
    pi = stationary(T)
    assert pi[-20:].sum() < 1e-12
    area = np.dot(pi[1:], k[1:] * DELTA + lam * DELTA * DELTA / 2.0)
    time = pi[0] / lam + (1.0 - pi[0]) * DELTA
    return float(area / time) / lam, float((1.0 - pi[0]) * DELTA / time)


def test_the_iteration_chain_is_erlang_c_up_to_its_discreteness():
    lam = RHO * C / S_EXP
    (chain, busy), erlang = iteration_chain(lam), erlang_c_mean_t(lam, S_EXP)
    assert chain == pytest.approx(erlang, rel=3e-3)
    assert erlang == pytest.approx(1.3640, abs=1e-4)
    # busy while anyone is in the system: 1 - P(N = 0) of M/M/4 at a = 2.8 (0.9520), up to the steps
    a = lam * S_EXP
    p0 = 1.0 / (math.fsum(a ** k / math.factorial(k) for k in range(C)) + a ** C / math.factorial(C) / (1.0 - RHO))
    assert busy == pytest.approx(1.0 - p0, abs=2e-3)


def mgc_scenario(law: str, *, duration: float = 4000.0) -> dict:
    output, s = LAWS[law]
    return {"name": "mgc", "seed": 1, "duration": duration, "warmup": 200.0, "model": LONG_CONTEXT_MODEL,
            "workload": {"arrival": {"process": "poisson", "rate": RHO * C / s},
                         "prompt_tokens": {"dist": "fixed", "value": 1}, "output_tokens": output},
            "fleet": {"pools": [{"name": "slots", "gpu": "h100-sxm", "replicas": 1, "batching": {"max_num_seqs": C}}]},
            "perf": {"model": "linear", "base_s": DELTA}, "economics": {"gpu_hour_usd": 2.0}}


@pytest.mark.parametrize("law", sorted(LAWS))
def test_batch_slots_with_a_constant_step_are_c_servers(tmp_path, law):
    """ρ = 0.7 on 4 slots: exponential 1.3669 s (chain; Erlang C 1.3640), fixed 1.1897 s (M/D/4:
    W 0.1897 s). One server of 4x the speed (M/M/1, or processor sharing) would give 0.84 s."""
    s = LAWS[law][1]
    lam = RHO * C / s
    rows = sweep_rows(tmp_path, mgc_scenario(law), seeds=R, grid=f"workload.arrival.rate={lam!r}")
    if law == "exponential":
        theory_t, busy = iteration_chain(lam)
    else:
        theory_t, busy = mdc_mean_wait(C, lam, mdc_law(C, lam, s)) + s, None
    m, half = ci99([float(r["latency.e2e.mean"]) for r in rows])
    assert abs(m - theory_t) <= half < 0.05 * theory_t, (law, m, half, theory_t)
    m, half = ci99([float(r["latency.queue.mean"]) for r in rows])
    assert abs(m - (theory_t - s)) <= half < 0.2 * (theory_t - s), (law, m, half, theory_t - s)
    # the replica is busy while any slot is, P(N > 0): above ρ on c > 1 servers
    m, half = ci99([float(r["utilization.gpu_busy"]) for r in rows])
    assert m - half > RHO + 0.1, (law, m, half)
    if busy is not None:
        assert abs(m - busy) <= half < 0.01, (law, m, half, busy)


def test_fast_and_reference_engines_agree(tmp_path):
    assert both_engines_write_the_same_requests(tmp_path, mgc_scenario("exponential", duration=600.0)) > 1200
