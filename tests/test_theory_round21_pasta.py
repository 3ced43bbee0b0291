"""What arrivals see against what time sees: the law of the number in the system (not only its mean)
found by each arrival and averaged over time, for Poisson arrivals (PASTA: the same law) and for
renewal arrivals of gamma gaps (GI/M/1: two different laws, both known); through the command line.

One replica serving one request at a time (round 18's pool), exponential prompts of mean 1,000
tokens (a geometric service of mean ``S`` = 1.0005 s on the millisecond grid), ``arrival: {process:
poisson}`` or ``{process: gamma, cv}`` at ``ρ = 0.7``.

Theory (``theory_round21_pool``): with ``σ`` the root of ``σ = A*(μ (1 - σ))`` (``gim1_sigma``; the
gaps' Laplace transform), an arrival finds ``j`` with probability ``(1 - σ) σ^j``
(``gim1_arrival_law``) while the time-average law is ``P(0) = 1 - ρ``, ``P(j) = ρ (1 - σ) σ^(j-1)``
(``gim1_time_law``; Kleinrock, Queueing Systems I, §6.4). Poisson gaps give ``σ = ρ``: both laws are
M/M/1's geometric (Wolff, "Poisson arrivals see time averages", Oper. Res. 30, 1982). Bursty gaps
(cv 2: ``σ`` = 0.871) find the server busy far more often than it is (``P(0)`` 0.129 against 0.300),
smooth ones (cv 0.5: ``σ`` = 0.553) less often (0.447).

Measured, ten seeds of 10,000 s (Poisson), 14,000 s (cv 0.5) or 20,000 s (cv 2) after a 500-s warm-up
(at 20,000 s for all three the widest intervals were 0.49, 0.62 and 0.78 of the bound below; at these
lengths 0.48, 0.79 and 0.78): what each arrival found, counted from
``requests.csv.gz`` (those arrived before it minus those gone before it:
``theory_round21_pool.number_seen_by_arrivals``); the time average, from ``timeseries.csv`` sampled
each second (``metrics.interval: 1``) and, exactly, from the step function of the request rows
(``time_average_law``). ``P(N = j)`` for ``j = 0..3``: the 99 % Student-t interval of the per-run
shares must contain the theory and be narrower than a tenth of it; for gamma gaps the arrival law's
``P(0)`` interval must exclude the time law's, for Poisson gaps the two must agree.
"""
from __future__ import annotations

import numpy as np
import pytest

from admission_pool import EXP_PROMPT, S
from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time
from theory_round19_pool import in_system, run_seeds
from theory_round21_pool import (gim1_arrival_law, gim1_sigma, gim1_time_law, number_seen_by_arrivals,
                                 time_average_law)

R = 10
DURATION = {1.0: 10_000.0, 2.0: 20_000.0, 0.5: 14_000.0}   # each cv's: its widest interval <= 0.8 of the bound
WARMUP = 500.0
RHO = 0.7
MU = 1.0 / S
LAM = RHO * MU
J = 3


def test_the_laws_meet_at_poisson_gaps_and_each_sums_to_one():
    sigma = gim1_sigma(LAM, MU, 1.0)
    assert sigma == pytest.approx(RHO, rel=1e-9)
    assert np.allclose(gim1_arrival_law(sigma, 8), gim1_time_law(RHO, sigma, 8), rtol=1e-9)
    for cv in (0.5, 2.0):
        sigma = gim1_sigma(LAM, MU, cv)
        for law in (gim1_arrival_law(sigma, 2000), gim1_time_law(RHO, sigma, 2000)):
            assert law.sum() == pytest.approx(1.0, abs=1e-12)
        # the time law's mean is ρ / (1 - σ), the arrival law's σ / (1 - σ): Little's L and λ W
        n = np.arange(2001)
        assert np.dot(n, gim1_time_law(RHO, sigma, 2000)) == pytest.approx(RHO / (1.0 - sigma), rel=1e-9)
        assert np.dot(n, gim1_arrival_law(sigma, 2000)) == pytest.approx(sigma / (1.0 - sigma), rel=1e-9)
    # Erlang-2 gaps (cv² = 1/2): σ solves σ = (2λ / (2λ + μ(1 - σ)))², a cubic whose root is known
    lam, mu = 0.5, 1.0
    sigma = gim1_sigma(lam, mu, 2.0 ** -0.5)
    assert sigma == pytest.approx((2 * lam / (2 * lam + mu * (1 - sigma))) ** 2, rel=1e-9)
    assert sigma == pytest.approx((3 - 5 ** 0.5) / 2, rel=1e-9)   # (1 - s)(s^2 - 3s + 1) = 0 at λ = 0.5


# gaps of cv 2 are slow (ten runs of 20,000 s, ~4 CPU s): cv 0.5 checks the same GI/M/1 arrival and time
# laws apart in the default run (and test_theory_open_queues cv 2's gaps against GI/M/1's wait)
@pytest.mark.parametrize("cv", [1.0, pytest.param(2.0, marks=pytest.mark.slow), 0.5])
def test_arrivals_see_the_law_theory_gives_them_and_time_its_own(tmp_path, cv):
    arrival = {"process": "poisson", "rate": LAM} if cv == 1.0 else {"process": "gamma", "rate": LAM, "cv": cv}
    data = one_at_a_time(f"pasta-{cv}", replicas=1, router="round_robin", arrival=arrival, prompt=EXP_PROMPT,
                         duration=DURATION[cv], warmup=WARMUP, metrics={"interval": 1.0})
    sigma = gim1_sigma(LAM, MU, cv)
    theory = {"arrivals": gim1_arrival_law(sigma, J), "time series": gim1_time_law(RHO, sigma, J)}
    theory["time (rows)"] = theory["time series"]
    got = {k: [] for k in theory}
    for run in run_seeds(tmp_path, data, R):
        arrive, seen = number_seen_by_arrivals(run.requests)
        seen = seen[arrive >= WARMUP]
        got["arrivals"].append([np.mean(seen == j) for j in range(J + 1)])
        samples = in_system(run, after=WARMUP)
        got["time series"].append([np.mean(samples == j) for j in range(J + 1)])
        got["time (rows)"].append(time_average_law(run.requests, WARMUP, DURATION[cv], J + 1)[: J + 1])
    for what, law in theory.items():
        values = np.array(got[what])
        for j in range(J + 1):
            m, half = ci99(values[:, j])
            print(f"table: pasta cv={cv} {what} P(N={j}): {m:.4f} ± {half:.4f} [{law[j]:.4f}]")
            assert abs(m - law[j]) <= half < 0.1 * law[j], (what, j, m, half, law[j])
    m, half = ci99(np.array(got["arrivals"])[:, 0])
    if cv == 1.0:
        assert abs(m - theory["time series"][0]) <= half
    else:
        assert abs(m - theory["time series"][0]) > 3 * half


def test_fast_and_reference_engines_serve_gamma_arrivals_alike(tmp_path):
    data = one_at_a_time("pasta-engines", replicas=1, router="round_robin",
                         arrival={"process": "gamma", "rate": LAM, "cv": 2.0}, prompt=EXP_PROMPT,
                         duration=2000.0, warmup=0.0)
    assert both_engines_write_the_same_requests(tmp_path, data) > 1200
