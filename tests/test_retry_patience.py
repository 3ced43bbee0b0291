"""A request retried after its replica failed keeps its client's deadline (``arrival + patience_s``).

The retry is the fleet's: the client sent its request once and waits on it; its clock started at that
send, not when the fleet routed the request again. A deadline restarted at the retry would keep a
client that has already given up waiting.

Hand-worked (the flat step model of exactly 0.25 s an iteration, 100-token prompts, a fixed patience of
1.5 s; ``spillover`` from pool ``a``, one replica of one sequence that fails at 1.0 and stays down, to
pool ``b``, one replica of two sequences, at two outstanding requests):

* r0 at 0 (8 output tokens) runs on ``a``: tokens at 0.25, 0.5, 0.75; the iteration ending at 1.0 is lost
  with the failure;
* r1 at 0.1 (4 tokens) waits on ``a`` behind it; its client's deadline is 1.6;
* r2 at 0.2 (7 tokens) finds ``a`` at two outstanding and runs on ``b``: 0.2 to 1.95;
* at 1.0 ``a`` fails: r0 and r1 are retried on ``b``; r0 (admitted before, so never abandoned) takes its
  second place at the boundary 1.2; r1 waits for r2 to end at 1.95, after its deadline: it has gone at
  1.6 (``timeout``, one retry). A deadline restarted at the retry (2.5) would have served it from 1.95.
"""
from __future__ import annotations

import pytest

import sim
from sim.metrics.schema import COMPLETED, R_TIMEOUT, REJECTED

from test_ties_round20 import differs, fixed_failures, pool, scenario, trace


def _run(tmp_path, monkeypatch, engine: str):
    path = trace(tmp_path, [0.0, 0.1, 0.2], [8, 4, 7])
    fixed_failures(monkeypatch, ups=[[1.0]], downs=[100.0])
    pools = [pool("a", 1, 1, failures={"mtbf": 10, "mttr": 1, "max_retries": 1}), pool("b", 1, 2)]
    router = {"policy": "spillover", "primary": "a", "overflow": "b", "threshold": 2}
    return sim.run(scenario(path, engine, pools, interval=10.0, fleet={"router": router},
                            workload={"patience_s": 1.5, "patience": "fixed"}))


def test_a_retried_request_keeps_its_clients_deadline(tmp_path, monkeypatch):
    res = {e: _run(tmp_path, monkeypatch, e) for e in ("fast", "reference")}
    assert differs(res["fast"], res["reference"]) == ""
    rec = res["fast"].records
    r0, r1, r2 = (rec[rec["rid"] == i][0] for i in range(3))
    assert (r1["status"], r1["reason"], r1["retries"]) == (REJECTED, R_TIMEOUT, 1)
    assert r1["sched_s"] < 0
    assert (r2["status"], r2["completion_s"]) == (COMPLETED, pytest.approx(1.95, abs=1e-12))
    assert (r0["status"], r0["retries"]) == (COMPLETED, 1)      # admitted before the failure: not abandoned
    assert r0["sched_s"] == 0.0
