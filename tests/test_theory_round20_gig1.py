"""GI/G/1: bursty or smooth renewal arrivals into one server of non-exponential service, against
Lindley's recursion solved numerically, and inside Kingman's bound; through the command line.

One replica serving one request at a time (round 18's pool), ``arrival: {process: gamma, rate: λ,
cv}`` (renewal, gamma gaps of shape ``1 / cv^2``), service = the prompt in milliseconds: fixed
(1,000 tokens: ``D = 1 s``) or bimodal (200 or 5,000 tokens, 5/6 and 1/6: mean 1 s, squared
coefficient of variation 3.2). Neither arrivals nor service are exponential, so no earlier check
covers it (GI/M/1 and GI/M/c: exponential service; M/G/1: Poisson arrivals).

Theory: the stationary wait ``W`` of FCFS satisfies Lindley's equation ``W = max(0, W + S - A)``
(Lindley, "The theory of queues with a single server", Proc. Camb. Phil. Soc. 48, 1952);
``theory_round20_pool.lindley`` iterates it on a 10-ms grid to its fixed point. Checked first against
Poisson arrivals (``cv = 1``), where it must give Pollaczek-Khinchine's mean ``λ E[S^2] / (2 (1 - ρ))``
and ``P(W > 0) = ρ``, and against Kingman's bound ``E[W] <= λ (σ_A^2 + σ_S^2) / (2 (1 - ρ))`` (Kingman,
"Some inequalities for the queue GI/G/1", Biometrika 49, 1962), which every case must respect.

Measured from ``requests.csv.gz`` after a 500-s warm-up: the mean wait, ``P(W > 0)`` and the 90th
percentile per run; ten seeds of 20,000 s; the 99 % Student-t interval must contain the theory (the
percentile: within one grid step of it) and be narrower than a tenth of it.
"""
from __future__ import annotations

import numpy as np
import pytest

from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time
from theory_round19_pool import run_seeds
from theory_round20_pool import lindley

R = 10
DURATION, WARMUP = 20_000.0, 500.0
LAWS = {   # prompt, service sizes (s) and weights
    "fixed": ({"dist": "fixed", "value": 1000}, [1.0], [1.0]),
    "bimodal": ({"dist": "empirical", "values": [200, 5000], "weights": [5, 1]}, [0.2, 5.0], [5 / 6, 1 / 6]),
}


def law(service: str, lam: float, cv: float, wmax: float = 150.0) -> dict:
    _, sizes, weights = LAWS[service]
    shape = 1.0 / cv ** 2
    w, h = lindley(sizes, weights, shape, shape * lam, wmax=wmax)
    x = np.arange(len(w)) * h
    es = float(np.dot(sizes, weights))
    es2 = float(np.dot(np.square(sizes), weights))
    rho = lam * es
    p90 = float(x[np.searchsorted(np.cumsum(w), 0.9)])
    return {"mean": float(np.dot(x, w)), "P(W>0)": 1.0 - float(w[0]), "p90": p90, "h": h, "rho": rho, "es2": es2,
            "kingman": lam * ((cv / lam) ** 2 + es2 - es * es) / (2.0 * (1.0 - rho))}


def test_lindley_gives_pollaczek_khinchine_under_poisson_arrivals_and_stays_under_kingman():
    for service, lam in (("fixed", 0.7), ("bimodal", 0.5)):
        got = law(service, lam, 1.0)
        pk = lam * got["es2"] / (2.0 * (1.0 - got["rho"]))
        assert got["mean"] == pytest.approx(pk, rel=1e-3), service
        assert got["P(W>0)"] == pytest.approx(got["rho"], abs=2e-3), service
        assert got["mean"] < got["kingman"]
    assert law("fixed", 0.7, 2.0)["mean"] < law("fixed", 0.7, 2.0)["kingman"]


@pytest.mark.parametrize("service,lam,cv", [("fixed", 0.7, 1.5), ("bimodal", 0.7, 0.5)])
def test_waits_match_lindley(tmp_path, service, lam, cv):
    """Bursty gaps (cv 1.5) into fixed service at ``ρ = 0.7``: mean 2.95 s (M/D/1: 1.17 s), ``P(W > 0)``
    0.821, p90 7.28 s; smooth gaps (cv 0.5) into the bimodal service at ``ρ = 0.7``: 3.74 s (M/G/1:
    4.90 s), 0.630, 10.28 s."""
    theory = law(service, lam, cv, wmax=300.0)
    assert theory["mean"] < theory["kingman"]
    data = one_at_a_time(f"gig1-{service}", replicas=1, router="round_robin",
                         arrival={"process": "gamma", "rate": lam, "cv": cv}, prompt=LAWS[service][0],
                         duration=DURATION, warmup=WARMUP)
    got = {"mean": [], "P(W>0)": [], "p90": []}
    for run in run_seeds(tmp_path, data, R):
        waits = run.column(run.completed(WARMUP), "queue_s")
        got["mean"].append(waits.mean())
        got["P(W>0)"].append(float(np.mean(waits > 0)))
        got["p90"].append(float(np.quantile(waits, 0.9)))
    for what, values in got.items():
        m, half = ci99(values)
        slack = theory["h"] if what == "p90" else 0.0
        assert abs(m - theory[what]) <= half + slack and half < 0.1 * theory[what], (what, m, half, theory[what])


def test_fast_and_reference_engines_agree(tmp_path):
    data = one_at_a_time("gig1-engines", replicas=1, router="round_robin",
                         arrival={"process": "gamma", "rate": 0.7, "cv": 1.5}, prompt=LAWS["bimodal"][0],
                         duration=2000.0, warmup=0.0)
    assert both_engines_write_the_same_requests(tmp_path, data) > 1200
