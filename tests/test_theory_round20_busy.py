"""Busy and idle periods of M/G/1 (Takacs, Borel), read from the request rows of ``fleetsim run``.

One replica serving one request at a time (round 18's pool), Poisson arrivals at ``λ``, service
``S`` = the prompt in milliseconds: fixed (1,000 tokens, ``D = 1 s``: M/D/1), exponential
(``admission_pool``'s geometric ``ceil(X)`` ms of mean 1.0005 s: M/M/1) or bimodal (200 or 5,000
tokens, 5/6 and 1/6: mean 1 s, ``E[S^2]`` 4.2 s^2). A busy period is rebuilt from
``requests.csv.gz`` (``theory_round20_pool.busy_periods``): a request arriving before the one ahead of
it completes joins its busy period. No existing check reads the server's cycles; the wait-based
ones (Pollaczek-Khinchine) do not see them.

Theory (Takacs, "Introduction to the theory of queues", 1962):

* the number served in a busy period ``N`` has ``E[N] = 1 / (1 - ρ)`` and, by the hitting-time
  theorem, ``P(N = n) = P(A_n = n - 1) / n`` with ``A_n`` the arrivals during ``n`` services:
  Borel's law ``e^{-ρn} (ρn)^{n-1} / n!`` for fixed service (so ``P(N = 1) = e^{-ρ}``), the
  Catalan-like ``C(2n-2, n-1) ρ^{n-1} / (n (1+ρ)^{2n-1})`` for exponential service;
* its length ``B`` has ``E[B] = E[S] / (1 - ρ)`` and ``E[B^2] = E[S^2] / (1 - ρ)^3``; under fixed
  service ``B = N D`` exactly;
* an idle period is exponential of mean ``1 / λ`` (memoryless arrivals): ``P(I > 1 / λ) = e^{-1}``;
  the busy share is ``ρ``.

The laws are checked first (they sum to 1 and have mean ``1 / (1 - ρ)``). Ten seeds of 20,000 s
(3,000 to 7,000 busy periods each); the 99 % Student-t interval of the per-run values must
contain the theory and be narrower than a tenth of it (``E[B^2]``, a moment of a long-tailed
length: 15 %).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from admission_pool import EXP_PROMPT, S
from theory_round18_pool import TOKEN_S, ci99, one_at_a_time
from theory_round19_pool import run_seeds
from theory_round20_pool import busy_periods, served_in_busy_period, served_in_busy_period_mm1

R = 10
DURATION = 20_000.0
LAWS = {   # prompt, its service as sizes and weights (None: exponential), E[S], E[S^2]
    "fixed": ({"dist": "fixed", "value": 1000}, ([1.0], [1.0]), 1.0, 1.0),
    "exponential": (EXP_PROMPT, None, S, None),
    "bimodal": ({"dist": "empirical", "values": [200, 5000], "weights": [5, 1]},
                ([0.2, 5.0], [5 / 6, 1 / 6]), 1.0, 5 / 6 * 0.04 + 25 / 6),
}


def p_n(law: str, lam: float, n: int) -> float:
    _, service, mean, _ = LAWS[law]
    if service is None:
        return served_in_busy_period_mm1(lam * mean, n)
    return served_in_busy_period(lam, *service, n)


def second_moment(law: str) -> float:
    _, _, mean, m2 = LAWS[law]
    if m2 is not None:
        return m2
    # the geometric service on the 1 ms grid: S = TOKEN_S K, K >= 1 geometric of mean S / TOKEN_S
    q = math.exp(-1.0 / 1000.0)
    return TOKEN_S ** 2 * (1 + q) / (1 - q) ** 2


def test_the_laws_of_n_sum_to_one_with_mean_one_over_one_minus_rho():
    for law, lam, top in (("fixed", 0.5, 80), ("exponential", 0.5, 150), ("bimodal", 0.5, 120)):
        p = np.array([p_n(law, lam, n) for n in range(1, top + 1)])
        rho = lam * LAWS[law][2]
        assert p.sum() == pytest.approx(1.0, abs=1e-6), law
        assert (np.arange(1, top + 1) * p).sum() == pytest.approx(1 / (1 - rho), rel=1e-4), law
    assert p_n("fixed", 0.7, 3) == pytest.approx(math.exp(-2.1) * 2.1 ** 2 / 6, rel=1e-12)   # Borel
    assert p_n("bimodal", 0.5, 1) == pytest.approx(5 / 6 * math.exp(-0.1) + 1 / 6 * math.exp(-2.5), rel=1e-12)
    assert second_moment("exponential") == pytest.approx(2 * S * S, rel=1e-3)


@pytest.mark.parametrize("law,lam", [("fixed", 0.7), ("exponential", 0.6 / S), ("bimodal", 0.5)],
                         ids=["md1-rho0.7", "mm1-rho0.6", "bimodal-rho0.5"])
def test_busy_and_idle_periods_match_takacs(tmp_path, law, lam):
    """M/D/1 at ρ 0.7: ``E[N] = 3.33``, ``P(N = 1) = e^{-0.7} = 0.497``; M/M/1 at 0.6:
    ``P(N = 1) = 1 / 1.6``; M/G/1 bimodal at 0.5: ``E[B^2] = 33.6 s^2``."""
    prompt, _, mean, _ = LAWS[law]
    rho = lam * mean
    data = one_at_a_time(f"busy-{law}", replicas=1, router="round_robin", arrival={"process": "poisson", "rate": lam},
                         prompt=prompt, duration=DURATION, warmup=0.0)
    theory = {"E[N]": 1 / (1 - rho), "P(N=1)": p_n(law, lam, 1), "P(N=2)": p_n(law, lam, 2),
              "P(N=3)": p_n(law, lam, 3), "E[B]": mean / (1 - rho), "E[B^2]": second_moment(law) / (1 - rho) ** 3,
              "E[I]": 1 / lam, "P(I>1/lam)": math.exp(-1.0), "busy share": rho}
    got = {k: [] for k in theory}
    for run in run_seeds(tmp_path, data, R):
        rows = [r for r in run.requests if r["status"] == "completed"]
        late = [float(r["arrival_s"]) for r in run.requests if r["status"] != "completed"]
        assert len(late) < 30 and min(late, default=DURATION) > DURATION - 200.0   # the last few in flight
        n, b, idle = busy_periods(rows, DURATION - 500.0)
        if law == "fixed":
            assert np.allclose(b, n * 1.0, rtol=0, atol=1e-6)           # B = N D
        for key, value in (("E[N]", n.mean()), ("P(N=1)", np.mean(n == 1)), ("P(N=2)", np.mean(n == 2)),
                           ("P(N=3)", np.mean(n == 3)), ("E[B]", b.mean()), ("E[B^2]", np.mean(b * b)),
                           ("E[I]", idle.mean()), ("P(I>1/lam)", np.mean(idle > 1 / lam)),
                           ("busy share", b.sum() / (b.sum() + idle.sum()))):
            got[key].append(value)
    wrong = []
    for what, value in theory.items():
        m, half = ci99(got[what])
        if not abs(m - value) <= half < (0.15 if what == "E[B^2]" else 0.1) * value:
            wrong.append((what, m, half, value))
    assert not wrong, (law, wrong)
