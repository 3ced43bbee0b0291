"""Waiting rooms on each replica under a router that is not a central queue: join the shortest queue
and round robin over ``c`` exponential servers each with ``K`` places, against the exact Markov
chains; through the command line.

``test_admission_queue_limit`` checks one replica's room (M/M/1/K+1), ``random`` over two (each
its own M/M/1/K+1) and the central queue's room (M/M/c/c+K). Behind ``least_outstanding`` or
``round_robin`` the rooms are the replicas' (``fleet.pools[].max_waiting: K``) and the queues are
no longer independent or Poisson-fed: ``least_outstanding`` passes over a full replica for one with
room (refusing only when every replica holds ``1 + K``), ``round_robin`` keeps its turn and refuses
at a full replica though another has room.

Theory (``theory_round21_pool``): ``jsq_rooms``, the chain of the sorted vector of the ``c`` counts
(each ``0 .. 1 + K``), refused share = P(all full) by PASTA; ``round_robin_rooms``, each replica the
E_c/M/1/K+1 queue (every ``c``-th arrival: Erlang-``c`` gaps), refused share ``c p(c-1, 1 + K)``.
Both give the mean number in the system and the mean wait of the admitted (Little). Checked first
against what is known: one server is M/M/1/K+1 under either; no room (``K = 0``) under JSQ is
Erlang's loss formula; a room never full under JSQ is round 18's unbounded JSQ chain.

Exponential prompts of mean 1,000 tokens (a geometric service of mean ``S`` = 1.0005 s, the chains'
exponential). Ten seeds of 5,500 s after a 300-s warm-up, read from ``requests.csv.gz`` (refused
share, the admitted's mean wait), ``summary.json`` (``requests.refused_share``) and
``timeseries.csv`` (the number in the system, sampled each second); the 99 % Student-t interval must
contain the chain's value and be narrower than a tenth of it, and the refused share must exclude the
other router's. (At 8,000 s the widest interval was 0.59 of that tenth; 5,500 s measure 1.48 times
fewer seconds: 0.70 of it, the JSQ refused shares the widest).
"""
from __future__ import annotations

import math

import pytest

from admission_pool import S, after_warmup, birth_death, queue
from test_admission_queue_limit import mmck
from test_theory_round18_jsq import jsq_chain
from theory_round18_pool import both_engines_write_the_same_requests, ci99
from theory_round19_pool import in_system, run_seeds
from theory_round21_pool import jsq_rooms, round_robin_rooms

R = 10
DURATION, WARMUP = 5500.0, 300.0
MU = 1.0 / S
LAW = {"least_outstanding": jsq_rooms, "round_robin": round_robin_rooms}


def erlang_b(c: int, a: float) -> float:
    p = birth_death(lambda k: a, lambda k: float(k), c)
    return float(p[c])


def test_the_chains_meet_what_is_known_at_their_limits():
    for lam, room in ((0.8, 3), (1.3, 2)):                           # one server: M/M/1/K+1 either way
        refused, wait = mmck(1, lam, room)
        for law in LAW.values():
            got = law(1, lam, MU, room)
            assert got["refused"] == pytest.approx(refused, rel=1e-9)
            assert got["wait_admitted"] == pytest.approx(wait, rel=1e-9)
    for c, a in ((2, 1.5), (3, 2.0)):                                # JSQ with no room: Erlang B
        got = jsq_rooms(c, a, 1.0, 0)
        assert got["refused"] == pytest.approx(erlang_b(c, a), rel=1e-9)
        assert got["wait_admitted"] == pytest.approx(0.0, abs=1e-12)
    for c, room, cut in ((2, 60, 120), (3, 28, 30)):                 # a room never full: round 18's JSQ
        got = jsq_rooms(c, 0.8 * c, 1.0, room)
        assert got["refused"] < 1e-8
        assert got["wait_admitted"] == pytest.approx(jsq_chain(c, 0.8 * c, 1.0, cut)[0], rel=1e-6)
    # joining the shortest refuses fewer than keeping the turn, which refuses fewer than random routing
    for c, rho, room in ((3, 0.8, 1), (2, 0.9, 2)):
        lam = rho * c * MU
        random_share = mmck(1, lam / c, room)[0]
        assert jsq_rooms(c, lam, MU, room)["refused"] < round_robin_rooms(c, lam, MU, room)["refused"] < random_share


# JSQ on two servers with rooms of 2 is slow (~3 CPU s): three servers with rooms of 1 check the same chain
@pytest.mark.parametrize("router,c,room,rho", [("least_outstanding", 3, 1, 0.8), ("round_robin", 3, 1, 0.8),
                                              pytest.param("least_outstanding", 2, 2, 0.9, marks=pytest.mark.slow)])
def test_refused_share_wait_and_number_in_system_match_the_chain(tmp_path, router, c, room, rho):
    """ρ 0.8 on 3, room 1: JSQ refuses 10.3 % (round robin 18.0 %), the admitted wait 0.403 s (0.403 s);
    ρ 0.9 on 2, room 2: JSQ 12.1 % (round robin 16.4 %), 0.903 s."""
    lam = rho * c * MU
    data = queue(f"rooms-{router}-{c}", c=c, lam=lam, duration=DURATION, warmup=WARMUP, router=router)
    data["fleet"]["pools"][0]["max_waiting"] = room
    data["metrics"] = {"interval": 1.0}
    theory = LAW[router](c, lam, MU, room)
    other = LAW["round_robin" if router == "least_outstanding" else "least_outstanding"](c, lam, MU, room)
    got = {"refused": [], "summary refused": [], "wait_admitted": [], "L": []}
    for run in run_seeds(tmp_path, data, R):
        rows = after_warmup(run.requests, WARMUP)
        assert {r["reason"] for r in rows if r["status"] == "rejected"} == {"queue_full"}
        waits = [float(r["queue_s"]) for r in rows if r["status"] == "completed"]
        got["refused"].append(sum(r["status"] == "rejected" for r in rows) / len(rows))
        got["summary refused"].append(run.summary["requests"]["refused_share"])
        got["wait_admitted"].append(math.fsum(waits) / len(waits))
        counts = in_system(run, after=WARMUP)
        assert counts.max() <= c * (1 + room)
        got["L"].append(float(counts.mean()))
    for what, values in got.items():
        value = theory[what.removeprefix("summary ")]
        m, half = ci99(values)
        print(f"table: rooms {router} c={c} K={room} {what}: {m:.4f} ± {half:.4f} [{value:.4f}]")
        assert abs(m - value) <= half < 0.1 * value, (what, m, half, value)
    m, half = ci99(got["refused"])
    assert abs(m - other["refused"]) > 3 * half, (m, half, other["refused"])


def test_fast_and_reference_engines_refuse_the_same_requests_on_both_routers(tmp_path):
    for router in ("least_outstanding", "round_robin"):
        data = queue(f"rooms-engines-{router}", c=3, lam=2.7, duration=800.0, warmup=0.0, router=router)
        data["fleet"]["pools"][0]["max_waiting"] = 1
        (tmp_path / router).mkdir()
        assert both_engines_write_the_same_requests(tmp_path / router, data) > 1800
