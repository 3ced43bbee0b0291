"""Continuous batching is processor sharing: M/G/1-PS through the command line (``fleetsim run``,
one run a seed, its summary, time series and request rows).

One replica, no batch limit that binds (``max_num_seqs: 1024``; the KV cache holds 450,000 tokens),
one-token prompts and the linear step model at ``δ = 10 ms`` a sequence, nothing else
(``per_prefill_token_s = per_decode_token_s = δ``): an iteration of ``n`` sequences (the one-token
prompts of those just admitted, which emit their first token, and the running decodes) takes
``n δ`` and gives each of them one token. A request of ``x`` output tokens is a job of size
``x δ`` (alone it takes exactly ``x`` iterations of ``δ``) and every job in the batch is served at
the same rate ``1 / n``: the server is shared equally, as in Kleinrock's processor-sharing queue.
(Only the opposite was checked: one request at a time, FCFS, and a step time independent of the
batch, ``M_t/G/∞``, in ``test_theory_closed_and_transient``.)

Theory (M/G/1-PS; Kleinrock, "Queueing Systems" vol. 2, 1976, sec. 4.4; Sakata, Noguchi and Oizumi
1971): at ``ρ = λ E[x] δ < 1``

* ``E[T | x] = x δ / (1 - ρ)``: a request's time in the system is proportional to its own size,
  whatever the others' (FCFS would give ``W + x δ``);
* the number in the system is geometric, ``P(N = n) = (1 - ρ) ρ^n``, mean ``ρ / (1 - ρ)``;
* both are **insensitive**: they depend on the size law through its mean only. Checked with
  exponential output lengths (``ceil`` of an exponential: geometric), a fixed length, and a bimodal
  law (50 or 550 tokens, 90 % / 10 %, squared coefficient of variation 2.25), all of mean 100 tokens.

The steps are discrete: a request that arrives during an iteration waits for the next one, and
a job that arrives does not slow the iteration running. For geometric lengths the iterations form
an exact Markov chain (``N' = Binomial(N, 1 - p) + Poisson(λ δ N)``, an idle period of mean
``1 / λ`` after ``N = 0``; the time-average number in the system adds the arrivals waiting for the
next boundary), solved below: at a mean of 100 tokens it gives the PS mean to 2e-5, at 20 tokens
to 5e-4 and at 5 tokens 0.7 % off, so the discreteness is far below the statistical tolerance
here. A fixed 100-token job rerun at 1,000 tokens of 1 ms (same arrivals) moved the mean by 0.2 %.

Confidence bounds as in ``test_queueing_theory``: 10 replications of 8,000 s at ``ρ = 0.5``
(~4,000 requests each; 5,000 s for the fixed length, whose widest interval, ``P(N = 0)``'s, is then
0.69 of its tolerance, 0.59 at 8,000 s, where the exponential law's mean time and slope reach 0.89 and
0.94 and the bimodal law's ``P(N = 0)`` 1.08 at 5,000 s) after a 200-s warm-up; the 99 % Student-t
interval must contain the theory and be narrower than 5 % of it (10 % for the bimodal law, whose rare long jobs make each
run's mean noisy, and for the mean number in the system, sampled every 2 s; 0.02 for the
probabilities of 0 to 3 in the system).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from theory_round18_pool import LONG_CONTEXT_MODEL, both_engines_write_the_same_requests, ci99
from theory_round19_pool import in_system, run_seeds, stationary

DELTA = 0.01
RHO = 0.5
R = 10
DURATION, WARMUP = 8000.0, 200.0
LAW_DURATION = {"exponential": DURATION, "fixed": 5000.0, "bimodal": DURATION}    # see the module doc
SAMPLE_S = 2.0                                  # the time series' interval
P_EXP = 1.0 - math.exp(-1.0 / 100.0)            # ceil(Exp(mean 100)) is geometric with this p
LAWS = {
    "exponential": ({"dist": "exponential", "mean": 100}, 1.0 / P_EXP),
    "fixed": ({"dist": "fixed", "value": 100}, 100.0),
    "bimodal": ({"dist": "empirical", "values": [50, 550], "weights": [0.9, 0.1]}, 100.0),
}


def ps_scenario(output: dict, mean_tokens: float, *, rho: float = RHO, duration: float = DURATION) -> dict:
    return {"name": "ps", "seed": 1, "duration": duration, "warmup": WARMUP, "model": LONG_CONTEXT_MODEL,
            "workload": {"arrival": {"process": "poisson", "rate": rho / (mean_tokens * DELTA)},
                         "prompt_tokens": {"dist": "fixed", "value": 1}, "output_tokens": output},
            "fleet": {"pools": [{"name": "shared", "gpu": "h100-sxm", "replicas": 1,
                                 "batching": {"max_num_seqs": 1024}}]},
            "perf": {"model": "linear", "per_prefill_token_s": DELTA, "per_decode_token_s": DELTA},
            "metrics": {"interval": SAMPLE_S}, "economics": {"gpu_hour_usd": 2.0}}


def iteration_chain_mean_t(lam: float, p: float, nmax: int = 300) -> float:
    """Mean time in the system of the iteration-level chain with geometric lengths (success ``p`` a
    token), by Little's law over the time-average number in the system."""
    k = np.arange(nmax + 1)
    P = np.zeros((nmax + 1, nmax + 1))
    P[0, 1] = 1.0                                   # an idle period, then the arrival starts at once
    for n in range(1, nmax + 1):
        row = np.convolve(sps.binom.pmf(k, n, 1.0 - p), sps.poisson.pmf(k, lam * DELTA * n))[:nmax + 1]
        P[n] = row / row.sum()
    pi = stationary(P)
    assert pi[-20:].sum() < 1e-12                   # the cut-off holds no mass
    length = k * DELTA                              # an iteration of n sequences lasts n δ
    area = np.dot(pi, k * length + lam * length ** 2 / 2.0)   # in the batch, plus arrivals waiting
    return float(area / (pi[0] / lam + np.dot(pi, length))) / lam


@pytest.mark.parametrize("mean_tokens, rel", [(100.0, 1e-4), (20.0, 1e-3), (5.0, 0.01)])
def test_the_iteration_chain_is_processor_sharing_up_to_its_discreteness(mean_tokens, rel):
    p = 1.0 - math.exp(-1.0 / mean_tokens)
    lam = RHO * p / DELTA
    ps = (DELTA / p) / (1.0 - RHO)
    chain = iteration_chain_mean_t(lam, p)
    assert chain == pytest.approx(ps, rel=rel)
    if mean_tokens == 5.0:
        assert abs(chain / ps - 1.0) > 1e-3         # coarse steps do show


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for law, (output, mean_tokens) in LAWS.items():
        out[law] = run_seeds(tmp_path_factory.mktemp(f"ps-{law}"),
                             ps_scenario(output, mean_tokens, duration=LAW_DURATION[law]), R)
    return out


@pytest.mark.parametrize("law", sorted(LAWS))
def test_mean_time_and_number_in_system_are_insensitive_to_the_length_law(runs, law):
    """E[T] = 100 δ / (1 - ρ) = 2.0 s and E[N] = 1 for all three laws (FCFS M/G/1 would wait
    1.0 s, 0.5 s and 1.625 s before a mean service of 1 s)."""
    mean_tokens = LAWS[law][1]
    theory_t = mean_tokens * DELTA / (1.0 - RHO)
    width = 0.10 if law == "bimodal" else 0.05
    m, half = ci99([r.summary["latency"]["e2e"]["mean"] for r in runs[law]])
    assert abs(m - theory_t) <= half < width * theory_t, (law, m, half, theory_t)
    # the number in the system, sampled every 2 s: its mean and its geometric law
    n = [in_system(r, after=WARMUP) for r in runs[law]]
    m, half = ci99([x.mean() for x in n])
    assert abs(m - RHO / (1.0 - RHO)) <= half < 2 * width * RHO / (1.0 - RHO), (law, m, half)
    for k in range(4):
        m, half = ci99([np.mean(x == k) for x in n])
        assert abs(m - (1.0 - RHO) * RHO ** k) <= half < 0.02, (law, k, m, half)
    # the server is busy ρ of the time
    m, half = ci99([r.summary["utilization"]["gpu_busy"] for r in runs[law]])
    assert abs(m - RHO) <= half < 0.02, (law, m, half)


def test_time_in_system_is_proportional_to_the_requests_own_size(runs):
    """Bimodal law: E[T | 50 tokens] = 1.0 s, E[T | 550] = 11.0 s, both 2x their size (FCFS:
    2.125 s and 7.125 s). Exponential lengths: a least-squares line through (x δ, T) has slope
    1 / (1 - ρ) = 2 and (nearly) no intercept."""
    for x, width in ((50, 0.05), (550, 0.10)):
        means = []
        for r in runs["bimodal"]:
            rows = [q for q in r.completed(WARMUP) if int(q["output_tokens"]) == x]
            means.append(np.mean([float(q["e2e_s"]) for q in rows]))
        theory = x * DELTA / (1.0 - RHO)
        m, half = ci99(means)
        assert abs(m - theory) <= half < width * theory, (x, m, half, theory)
    slopes, intercepts = [], []
    for r in runs["exponential"]:
        rows = r.completed(WARMUP)
        size = r.column(rows, "output_tokens") * DELTA
        slope, intercept = np.polyfit(size, r.column(rows, "e2e_s"), 1)
        slopes.append(slope)
        intercepts.append(intercept)
    m, half = ci99(slopes)
    assert abs(m - 1.0 / (1.0 - RHO)) <= half < 0.05 / (1.0 - RHO), (m, half)
    assert abs(np.mean(intercepts)) < 2 * DELTA, intercepts


def test_fast_and_reference_engines_agree(tmp_path):
    output, mean_tokens = LAWS["bimodal"]
    n = both_engines_write_the_same_requests(tmp_path, ps_scenario(output, mean_tokens, rho=0.8, duration=600.0))
    assert n > 400
