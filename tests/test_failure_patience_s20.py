"""A replica's failure finds in its queue a request whose client has already given up waiting: the
request has gone (``timeout``), it is not retried.

A queue is read for clients who gave up only when something reads it: an iteration boundary, a
routing, a time-series row (:mod:`sim.serving.patience`). The reference engine reads a replica's queue
at each of its iteration boundaries; the fast engine, inside a decode run, has no event at them. A
failure inside such a run evicted a request the reference engine had dropped at a boundary after its
client's deadline: the fast engine retried it (``retries`` 1, then a reject reason of the retry: here
``no_replica``), the reference engine wrote it abandoned, and the two engines' rows differed (6 of ~360
random scenarios combining failures with patience). A client whose deadline has passed does not come
back because the server holding its request failed, whichever engine: both write it abandoned.

Hand-worked (a linear step model of exactly 0.25 s an iteration, 100-token prompts; one replica of one
sequence; a fixed patience of 0.5 s; no time-series row before the failure): request 0 at 0 (8 output
tokens) is admitted at 0 and would run until 2.0; request 1 at 0.1 waits behind it, its client's
deadline at 0.6, before the boundary at 0.75. The replica fails at 1.0 (repaired at 1.5): request 0,
running, is retried (``max_retries: 1``) and finds no replica up (``no_replica``, retries 1); request 1
had gone at 0.6 (``timeout``, retries 0).
"""
from __future__ import annotations

import sim
from sim.metrics.schema import R_NO_REPLICA, R_TIMEOUT, REJECTED

from test_ties_round20 import differs, fixed_failures, pool, scenario, trace


def test_a_failure_does_not_retry_a_request_whose_client_had_given_up(tmp_path, monkeypatch):
    path = trace(tmp_path, [0.0, 0.1], [8, 4])
    res = {}
    for e in ("fast", "reference"):
        fixed_failures(monkeypatch, ups=[[1.0, 100.0]], downs=[0.5])
        res[e] = sim.run(scenario(path, e, [pool("p", 1, 1, failures={"mtbf": 10, "mttr": 1, "max_retries": 1})],
                                  interval=10.0, workload={"patience_s": 0.5, "patience": "fixed"}))
    assert differs(res["fast"], res["reference"]) == ""
    rec = res["fast"].records
    #                rid, status, reason, retries
    assert [(int(r["rid"]), int(r["status"]), int(r["reason"]), int(r["retries"])) for r in rec] == [
        (0, REJECTED, R_NO_REPLICA, 1), (1, REJECTED, R_TIMEOUT, 0)]
    assert res["fast"].summary["requests"]["rejected_by_reason"] == {"no_replica": 1, "timeout": 1}
