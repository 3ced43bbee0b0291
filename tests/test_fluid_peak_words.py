"""What the fluid tier's ``stability.in_flight_peak`` (basis ``estimate``) is, and what the terminal calls it.

The fluid tier has no queue noise: below capacity each step's count in the system is Little's law at the
step's load, ``L = λ W``, the *mean* count. Its largest over the steps is the most requests in the system
on average, not an estimate of the most at once: for ``tiers_pool``'s deterministic server at ``ρ = 0.8``
(M/D/1, ``L = ρ + ρ² / (2 (1 - ρ)) = 2.4``) over two hours, the request level counts a peak several times
that on every seed (13 to 16 on seeds 1-3: the queue's excursions over 5,760 arrivals). The words say
"mean-load peak", not "estimated peak".
"""
from __future__ import annotations

import warnings

import pytest

import sim
from sim.report_text import peak_words
from tiers_pool import pool

from conftest import curve_cache

RHO = 0.8
MD1_L = RHO + RHO ** 2 / (2 * (1 - RHO))


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _stability(fidelity: str, seed: int = 1) -> dict:
    sc = pool(fidelity, {"process": "poisson", "rate": RHO}, seed=seed, duration=7200.0, step_s=600.0, records="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sim.run(sc).summary["stability"]


def test_the_fluid_peak_is_the_mean_count_and_is_said_so():
    fluid = _stability("fluid")
    assert fluid["in_flight_peak_basis"] == "estimate"
    assert fluid["in_flight_peak"] == pytest.approx(MD1_L, abs=0.1 * MD1_L + 0.5)      # L, rounded
    exact = [_stability("request", s)["in_flight_peak"] for s in (1, 2, 3)]
    assert min(exact) >= 3 * fluid["in_flight_peak"], exact                            # the peaks at once
    b = fluid
    assert peak_words(b) == f"mean-load peak {b['in_flight_peak']:,} in system ({b['in_flight_at_end']:,} at the end)"
