"""A waiting room of no places (``max_waiting: 0``) is Erlang's loss system, and its blocking is
insensitive to the service law, through the command line (``fleetsim sweep --seeds``, its ``sweep.csv``).

The pool of the round-18 files (one request at a time, one output token, 1 ms a prompt token: a
request's service is its prompt in milliseconds) on ``c = 3`` replicas behind ``router: {policy:
central_queue, max_waiting: 0}``: a request is served only if a replica is free when it arrives,
else refused (``queue_full``). That is the M/G/c/c queue. (``test_admission_queue_limit`` checks
``max_waiting: 4``, M/M/3/7, with exponential service only; ``test_theory_split`` the overflow of a
``spillover`` router, another mechanism.)

Theory (Erlang 1917; insensitivity: Sevastyanov, "An ergodic theorem for Markov processes and its
application to telephone systems with refusals", Theory Probab. Appl. 2, 1957): with offered load
``a = λ E[S]`` the share refused is Erlang B,
``B(c, a) = (a^c / c!) / Σ_{k <= c} a^k / k!``, whatever the law of ``S`` beyond its mean (by PASTA
the share of arrivals that find all ``c`` busy); the servers are busy ``a (1 - B) / c`` of the
time; nobody served waits. Checked with exponential prompts (mean 1,000: ``E[S]`` = 1.0005 s),
fixed 1,000-token prompts and a bimodal law (200 or 5,000 tokens, 5/6 and 1/6: mean 1,000,
squared coefficient of variation 3.2), each at ``a = 2``: ``B(3, 2) = 4/19 = 0.2105``.
(M/M/3 with an unbounded queue would refuse nobody and wait 0.444 s on average.)
A room of 0 on each replica (``fleet.pools[].max_waiting: 0``) behind ``router: random`` makes each
of 2 replicas an M/G/1/1 loss system at half the load: ``B(1, a/2) = (a/2) / (1 + a/2)`` = 0.5 at
``a = 2``; behind ``least_outstanding`` (a free replica has 0 requests outstanding, so it is picked
if there is one) the two are one M/G/2/2 system: ``B(2, 2) = 0.4``. (Before this round a replica's
room of 0 refused every request, even on an idle replica: ``Replica._idle_now``.)

Confidence bounds as in ``test_queueing_theory``: 12 replications of 4,000 s (~8,000 arrivals
each) after a 100-s warm-up; the 99 % Student-t interval of the refused share must contain the
theory and be narrower than 0.01 (5 % of it), of the busy share 0.01.
"""
from __future__ import annotations

import math

import pytest

from theory_round18_pool import TOKEN_S, both_engines_write_the_same_requests, ci99, one_at_a_time, sweep_rows

A = 2.0
R = 12
LAWS = {
    "exponential": ({"dist": "exponential", "mean": 1000}, TOKEN_S / (1.0 - math.exp(-1.0 / 1000.0))),
    "fixed": ({"dist": "fixed", "value": 1000}, 1000 * TOKEN_S),
    "bimodal": ({"dist": "empirical", "values": [200, 5000], "weights": [5, 1]}, 1000 * TOKEN_S),
}


def erlang_b(c: int, a: float) -> float:
    """By the recursion ``B(k) = a B(k-1) / (k + a B(k-1))``, ``B(0) = 1``."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def test_erlang_b_is_its_closed_form():
    assert erlang_b(3, 2.0) == pytest.approx(4.0 / 19.0, rel=1e-12)
    assert erlang_b(1, 1.0) == pytest.approx(0.5, rel=1e-12)
    a, c = 5.5, 7
    terms = [a ** k / math.factorial(k) for k in range(c + 1)]
    assert erlang_b(c, a) == pytest.approx(terms[-1] / math.fsum(terms), rel=1e-12)


def loss_scenario(law: str, *, c: int = 3, router: str = "central_queue", duration: float = 4000.0) -> dict:
    prompt, mean_s = LAWS[law]
    data = one_at_a_time("loss", replicas=c, router=router, arrival={"process": "poisson", "rate": A / mean_s},
                         prompt=prompt, duration=duration, warmup=100.0)
    if router == "central_queue":
        data["fleet"]["router"] = {"policy": "central_queue", "max_waiting": 0}
    else:
        data["fleet"]["pools"][0]["max_waiting"] = 0
    return data


def blocking(c: int, router: str) -> float:
    """The share refused: the fleet is one loss system of ``c`` servers when a request goes to a free
    replica if there is one (the central queue, or least outstanding: a free replica has 0
    outstanding), ``c`` loss systems of one server at ``a / c`` each when it is split at random."""
    return erlang_b(1, A / c) if router == "random" else erlang_b(c, A)


@pytest.mark.parametrize("law, c, router", [("exponential", 3, "central_queue"), ("fixed", 3, "central_queue"),
                                            ("bimodal", 3, "central_queue"), ("bimodal", 2, "random"),
                                            ("fixed", 2, "least_outstanding")])
def test_no_waiting_room_refuses_erlang_b_whatever_the_service_law(tmp_path, law, c, router):
    """B(3, 2) = 0.2105 behind the central queue; B(1, 1) = 0.5 on each of two replicas split at
    random; B(2, 2) = 0.4 on two replicas behind least outstanding, each with a room of 0."""
    rows = sweep_rows(tmp_path, loss_scenario(law, c=c, router=router), seeds=R,
                      grid=f"fleet.pools.0.replicas={c}")
    assert len(rows) == R
    b = blocking(c, router)
    m, half = ci99([float(r["requests.refused_share"]) for r in rows])
    assert abs(m - b) <= half < 0.05 * b, (law, m, half, b)
    m, half = ci99([float(r["utilization.gpu_busy"]) for r in rows])
    assert abs(m - A * (1.0 - b) / c) <= half < 0.01, (law, m, half)
    for r in rows:
        assert float(r["latency.queue.p99"]) == 0.0                     # nobody served waits
        assert r["requests.rejected"] == r["requests.rejected_by_reason.queue_full"]


@pytest.mark.parametrize("router", ["central_queue", "random", "least_outstanding"])
def test_fast_and_reference_engines_agree(tmp_path, router):
    assert both_engines_write_the_same_requests(tmp_path, loss_scenario("bimodal", router=router,
                                                                        duration=800.0)) > 1200
