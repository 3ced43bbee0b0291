"""The law of the number in an M/G/1 system, read three ways (left by departures, found by arrivals,
averaged over time), against Kendall's embedded chain; through the command line.

Earlier rounds check M/G/1's mean wait (Pollaczek-Khinchine), its waiting-time law (heavy tails,
M/D/c) and the number in system of exponential queues (geometric). With fixed or bimodal service
the number in system is neither geometric nor given by the mean: ``P(N = 1)`` of M/D/1 at ρ 0.7 is
0.304 against M/M/1's 0.210.

One replica serving one request at a time (round 18's pool), Poisson arrivals, fixed prompts of
1,000 tokens (``D = 1 s``, ρ 0.7) or a bimodal 200 / 5,000 tokens (5/6, 1/6: mean 1 s, ρ 0.6).

Theory: ``theory_round21_pool.mg1_number_law``, the stationary law of the chain embedded at
departures (Kendall, "Stochastic processes occurring in the theory of queues and their analysis by
the method of the imbedded Markov chain", Ann. Math. Stat. 24, 1953), solved forward from
``π_0 = 1 - ρ``; checked first against the same chain's transition matrix solved as a linear system,
against M/M/1's geometric law, and against Pollaczek-Khinchine's mean number. Departures leave the
law arrivals find (level crossing: on every path the two counts differ only by the window's ends,
so their agreement checks that each request's row enters and leaves once), which PASTA makes the
time average.

Measured, ten seeds of 13,000 s (M/D/1) or 8,000 s (bimodal) after a 500-s warm-up: ``P(N = j)``,
``j = 0..3``, left by each completion and found by each arrival (``requests.csv.gz``), and sampled each second
(``timeseries.csv``); the 99 % Student-t interval of the per-run shares must contain the chain's
value and be narrower than a tenth of it, and the departures' ``P(N = 1)`` must exclude the
geometric law's. (At 20,000 s for both the widest interval was 0.58 of that tenth for M/D/1 and 0.38
for the bimodal law; the shorter runs, sized to the law: 0.69 and 0.61.)
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time
from theory_round19_pool import in_system, run_seeds
from theory_round21_pool import (mg1_number_chain, mg1_number_law, number_left_by_departures,
                                 number_seen_by_arrivals)

R = 10
DURATION = {"fixed": 13_000.0, "bimodal": 8_000.0}   # each law's: its widest interval ~0.7 of the bound
WARMUP = 500.0
J = 3
LAWS = {   # prompt, service sizes (s), weights, arrival rate
    "fixed": ({"dist": "fixed", "value": 1000}, [1.0], [1.0], 0.7),
    "bimodal": ({"dist": "empirical", "values": [200, 5000], "weights": [5, 1]}, [0.2, 5.0], [5 / 6, 1 / 6], 0.6),
}


def test_the_forward_solution_is_the_chain_and_meets_mm1_and_pollaczek_khinchine():
    for _, sizes, weights, lam in LAWS.values():
        forward = mg1_number_law(lam, sizes, weights, 12)
        chain = mg1_number_chain(lam, sizes, weights, 400)
        assert np.allclose(forward, chain[:13], atol=1e-10)
        es, es2 = float(np.dot(sizes, weights)), float(np.dot(np.square(sizes), weights))
        rho = lam * es
        mean = float(np.dot(np.arange(401), chain))
        assert mean == pytest.approx(rho + lam * lam * es2 / (2.0 * (1.0 - rho)), rel=1e-6)
    # exponential service as a fine mixture of sizes: the chain tends to the geometric law
    qs = (np.arange(4000) + 0.5) / 4000
    sizes = list(stats.expon.ppf(qs))
    got = mg1_number_law(0.5, sizes, [1 / 4000] * 4000, 5)
    assert np.allclose(got, 0.5 * 0.5 ** np.arange(6), atol=2e-3)


@pytest.mark.parametrize("law", ["fixed", "bimodal"])
def test_departures_arrivals_and_time_see_kendalls_law(tmp_path, law):
    """M/D/1 at ρ 0.7: 0.300, 0.304, 0.190, 0.101; bimodal at ρ 0.6: 0.400, 0.135, 0.100, 0.088."""
    prompt, sizes, weights, lam = LAWS[law]
    data = one_at_a_time(f"mg1-number-{law}", replicas=1, router="round_robin",
                         arrival={"process": "poisson", "rate": lam}, prompt=prompt, duration=DURATION[law],
                         warmup=WARMUP, metrics={"interval": 1.0})
    theory = mg1_number_law(lam, sizes, weights, J)
    got = {"departures": [], "arrivals": [], "time series": []}
    for run in run_seeds(tmp_path, data, R):
        done, left = number_left_by_departures(run.requests)
        got["departures"].append([np.mean(left[done >= WARMUP] == j) for j in range(J + 1)])
        arrive, seen = number_seen_by_arrivals(run.requests)
        got["arrivals"].append([np.mean(seen[arrive >= WARMUP] == j) for j in range(J + 1)])
        samples = in_system(run, after=WARMUP)
        got["time series"].append([np.mean(samples == j) for j in range(J + 1)])
    for what, values in got.items():
        values = np.array(values)
        for j in range(J + 1):
            m, half = ci99(values[:, j])
            print(f"table: mg1-number {law} {what} P(N={j}): {m:.4f} ± {half:.4f} [{theory[j]:.4f}]")
            assert abs(m - theory[j]) <= half < 0.1 * theory[j], (what, j, m, half, theory[j])
    rho = lam * float(np.dot(sizes, weights))
    m, half = ci99(np.array(got["departures"])[:, 1])
    assert abs(m - (1.0 - rho) * rho) > 3 * half


def test_fast_and_reference_engines_serve_bimodal_prompts_alike(tmp_path):
    prompt, _, _, lam = LAWS["bimodal"]
    data = one_at_a_time("mg1-number-engines", replicas=1, router="round_robin",
                         arrival={"process": "poisson", "rate": lam}, prompt=prompt, duration=2000.0, warmup=0.0)
    assert both_engines_write_the_same_requests(tmp_path, data) > 1000
