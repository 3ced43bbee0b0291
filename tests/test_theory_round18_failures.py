"""One replica that fails and is repaired (``pool.failures``) is the M/M/1 queue with catastrophes:
the requests it turns away, loses and completes, through the command line (``fleetsim sweep
--seeds``). (``test_dynamics`` checks the availability ``mtbf / (mtbf + mttr)``; nothing checked what
failures do to the queue.)

The pool of ``test_queueing_theory`` on one replica (``max_num_seqs: 1``, one output token,
exponential prompts at 1 ms a token: service of rate ``μ = 1 / 1.0005 s``), Poisson arrivals at
``λ = 0.5``, ``failures: {mtbf: 20, mttr: 5}`` (exponential up and down times, ``θ = 1 / mtbf``).
When the replica fails, every request it holds is retried (docs/fleet_dynamics.md, "Failures"),
and with no other replica the retry is turned away (``no_replica``); so are arrivals while it is
down. The number in the system is then an M/M/1 queue emptied at rate ``θ`` while up:

* an arrival finds the replica down with probability ``mttr / (mtbf + mttr) = 0.2`` (PASTA), so
  ``(rejected - requests_retried) / arrived`` estimates it;
* at a failure the up time so far is exponential (rate ``θ``) from an empty start, so the number
  lost is the stationary law of the M/M/1 queue with catastrophes at rate ``θ``: geometric,
  ``P(n) = (1 - ζ) ζ^n`` with ``ζ`` the smaller root of ``μ ζ² - (λ + μ + θ) ζ + λ = 0``
  (Chao, "A queueing network model with catastrophes and product form solution", Oper. Res. Letters
  18, 1995); ``retry_events / failures`` estimates its mean ``ζ / (1 - ζ)`` = 0.845;
* an accepted arrival finds that same law (PASTA over the up time); finding ``n`` it stays an
  Erlang(``n + 1``, ``μ``) time ``T`` and completes if no failure comes first (``e^{-θT}``), so
  ``P(complete | accepted) = Σ_n P(n) (μ / (μ + θ))^{n+1}`` = 0.9155 and the mean E2E of the
  completed ``Σ_n P(n) (n + 1) μ^{n+1} / (μ + θ)^{n+2}`` over it = 1.690 s (``e2e_mean_not_retried_s``;
  M/M/1 without failures: 2.001 s — the slow requests are the ones a failure catches).

Confidence bounds as in ``test_queueing_theory``: 16 replications (``--seeds 16``) of 8,000 s
(~320 failures each); the 99 % Student-t interval must contain the theory and be narrower than 5 %
of it (0.015 absolute for shares).
"""
from __future__ import annotations

import math

import pytest

from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time, sweep_rows

S = 0.001 / (1.0 - math.exp(-1.0 / 1000.0))        # 1.0005 s
MU, LAM, MTBF, MTTR = 1.0 / S, 0.5, 20.0, 5.0
THETA = 1.0 / MTBF
R = 16


def zeta() -> float:
    b = LAM + MU + THETA
    return (b - math.sqrt(b * b - 4.0 * MU * LAM)) / (2.0 * MU)


def completion() -> tuple[float, float]:
    """``(P(complete | accepted), mean E2E of the completed)``."""
    z, r = zeta(), MU / (MU + THETA)
    p = [(1.0 - z) * z ** n for n in range(3000)]
    done = math.fsum(pn * r ** (n + 1) for n, pn in enumerate(p))
    time = math.fsum(pn * (n + 1) / (MU + THETA) * r ** (n + 1) for n, pn in enumerate(p))
    return done, time / done


def test_without_catastrophes_the_law_is_mm1s():
    b = LAM + MU
    assert (b - math.sqrt(b * b - 4.0 * MU * LAM)) / (2.0 * MU) == pytest.approx(LAM / MU, rel=1e-12)
    assert zeta() / (1.0 - zeta()) == pytest.approx(0.8450, abs=1e-4)
    assert completion() == pytest.approx((0.9155, 1.6899), abs=1e-4)


def failing_replica(**over) -> dict:
    kw = {"replicas": 1, "router": "round_robin", "arrival": {"process": "poisson", "rate": LAM},
          "prompt": {"dist": "exponential", "mean": 1000, "max": 100_000}, "duration": 8000.0, "warmup": 300.0,
          **over}
    data = one_at_a_time("failing", **kw)
    data["fleet"]["pools"][0]["failures"] = {"mtbf": MTBF, "mttr": MTTR, "max_retries": 2}
    return data


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sweep_rows(tmp_path_factory.mktemp("failures"), failing_replica(), seeds=R,
                     grid=f"workload.arrival.rate={LAM}")


def _f(r: dict, key: str) -> float:
    return float(r[key])


def test_a_failing_replica_is_the_mm1_queue_with_catastrophes(rows):
    for r in rows:        # every loss is a turned-away request: an arrival while down, or a retry
        assert _f(r, "requests.rejected") == _f(r, "requests.rejected_by_reason.no_replica")
        assert _f(r, "failures.requests_retried") == _f(r, "failures.retry_events")
        assert _f(r, "failures.requests_failed") == 0
    down = [(_f(r, "requests.rejected") - _f(r, "failures.requests_retried")) / _f(r, "requests.arrived")
            for r in rows]
    lost = [_f(r, "failures.retry_events") / _f(r, "failures.failures") for r in rows]
    accepted = [_f(r, "requests.completed") / (_f(r, "requests.arrived") - _f(r, "requests.rejected")
                                               + _f(r, "failures.requests_retried")) for r in rows]
    e2e = [_f(r, "failures.e2e_mean_not_retried_s") for r in rows]
    p_done, e2e_done = completion()
    for values, theory, width, what in ((down, MTTR / (MTBF + MTTR), 0.015, "turned away on arrival"),
                                        (lost, zeta() / (1.0 - zeta()), 0.05 * 0.845, "lost per failure"),
                                        (accepted, p_done, 0.015, "completed of the accepted"),
                                        (e2e, e2e_done, 0.05 * e2e_done, "E2E of the completed")):
        m, half = ci99(values)
        assert abs(m - theory) <= half < width, (what, m, half, theory)


def test_fast_and_reference_engines_agree(tmp_path):
    assert both_engines_write_the_same_requests(tmp_path, failing_replica(duration=1500.0)) > 600
