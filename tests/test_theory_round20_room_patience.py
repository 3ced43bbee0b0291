"""A waiting room and clients who give up, together: M/M/c/c+K+M, through the command line.

``test_admission_queue_limit`` checks a room alone (M/M/c/c+K), ``test_admission_patience`` a
patience alone (Erlang A); a gateway with both is the common deployment (a bounded pending queue,
clients with a timeout) and the two interact: a client giving up frees a place in the room, and a
full room turns away those who would have given up. The pool of ``admission_pool.queue``
(exponential service of mean ``S``, one request at a time per replica), Poisson arrivals,
``workload.patience_s: 1 / θ`` with ``patience: exponential``, and a room of ``K``: on one replica
(``fleet.pools[].max_waiting: K``) or on the fleet's queue behind ``central_queue``
(``fleet.router.max_waiting: K``).

Theory: ``theory_round20_pool.mmck_m``, the birth-death chain on ``0..c+K``: the share refused (the
top state, by PASTA), the share abandoned (``θ L_q / λ``, and again by the tagged request's race:
the two must agree, checked first, as must the limits of a room never full, Erlang A, and of a
patience never reached, M/M/c/c+K) and the mean wait of the served. Ten seeds after a 200-s
warm-up, from ``requests.csv.gz`` and, for the shares, ``summary.json``; the 99 % Student-t interval
of the per-run values must contain the theory and be narrower than a tenth of it. One replica runs
4,000 s (its widest interval, the refused share's, is 0.77 of that tenth; 1.06 at 2,500 s); three,
three times the arrivals, 2,500 s (widest 0.64 of it, the refused share's again; 0.55 at 4,000 s).
"""
from __future__ import annotations

import pytest

from admission_pool import S, after_warmup, birth_death, queue
from test_admission_patience import erlang_a
from test_admission_queue_limit import mmck
from theory_round18_pool import both_engines_write_the_same_requests, ci99
from theory_round19_pool import run_seeds
from theory_round20_pool import mmck_m

R = 10
WARMUP = 200.0
DURATION = {1: 4000.0, 3: 2500.0}               # by replica count: see the module doc
MU = 1.0 / S


def law(c, lam, room, theta):
    return mmck_m(c, lam, MU, room, theta, birth_death)


def test_the_chain_counts_the_abandoned_twice_alike_and_has_both_limits():
    for c, lam, room, theta in ((1, 0.9, 2, 0.5), (3, 2.7, 2, 1.0), (2, 3.0, 5, 0.2)):
        got = law(c, lam, room, theta)
        assert got["abandoned"] == pytest.approx(got["abandoned_tagged"], rel=1e-9)
    for c, lam, theta in ((1, 1.2, 0.5), (3, 3.5, 0.2)):                  # a room never full: Erlang A
        got = law(c, lam, 300, theta)
        p_ab, _, w = erlang_a(c, lam, theta)
        assert got["refused"] < 1e-15
        assert got["abandoned"] == pytest.approx(p_ab, rel=1e-9)
        assert got["wait_served"] == pytest.approx(w, rel=1e-9)
    for c, lam, room in ((1, 1.2, 3), (3, 3.0, 4)):                       # a patience never reached
        got = law(c, lam, room, 1e-9)
        refused, wq = mmck(c, lam, room)
        assert got["refused"] == pytest.approx(refused, rel=1e-6)
        assert got["wait_served"] == pytest.approx(wq, rel=1e-6)


@pytest.mark.parametrize("c,lam,room,theta", [(1, 0.9, 2, 0.5), (3, 2.7, 2, 1.0)])
def test_refused_abandoned_and_waits_match_the_chain(tmp_path, c, lam, room, theta):
    """One replica at ``ρ = 0.9``, room 2, mean patience 2 s: 9.1 % refused, 21.3 % abandoned, the
    served wait 0.383 s; three behind the central queue at ``ρ = 0.9``, room 2, mean patience 1 s:
    8.5 %, 12.2 %, 0.109 s."""
    data = queue(f"room-patience-{c}", c=c, lam=lam, duration=DURATION[c], warmup=WARMUP,
                 router="round_robin" if c == 1 else "central_queue")
    data["workload"].update(patience_s=1.0 / theta, patience="exponential")
    if c == 1:
        data["fleet"]["pools"][0]["max_waiting"] = room
    else:
        data["fleet"]["router"] = {"policy": "central_queue", "max_waiting": room}
    theory = law(c, lam, room, theta)
    got = {"refused": [], "abandoned": [], "wait_served": [], "summary refused": [], "summary abandoned": []}
    for run in run_seeds(tmp_path, data, R):
        rows = after_warmup(run.requests, WARMUP)
        reasons = [r["reason"] for r in rows if r["status"] == "rejected"]
        assert set(reasons) == {"queue_full", "timeout"}
        waits = [float(r["queue_s"]) for r in rows if r["status"] == "completed"]
        got["refused"].append(reasons.count("queue_full") / len(rows))
        got["abandoned"].append(reasons.count("timeout") / len(rows))
        got["wait_served"].append(sum(waits) / len(waits))
        got["summary refused"].append(run.summary["requests"]["refused_share"])
        got["summary abandoned"].append(run.summary["requests"]["abandoned_share"])
    for what, values in got.items():
        value = theory[what.removeprefix("summary ")]
        m, half = ci99(values)
        assert abs(m - value) <= half < 0.1 * value, (what, m, half, value)


def test_fast_and_reference_engines_refuse_and_let_go_the_same_requests(tmp_path):
    data = queue("room-patience-engines", c=3, lam=2.9, duration=600.0, warmup=0.0, router="central_queue")
    data["workload"].update(patience_s=1.0, patience="exponential")
    data["fleet"]["router"] = {"policy": "central_queue", "max_waiting": 2}
    assert both_engines_write_the_same_requests(tmp_path, data) > 1500
