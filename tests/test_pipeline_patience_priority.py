"""Patience on a pipelined replica under ``policy: priority``: a request queued mid-cycle that the
priority order puts ahead of one that waited through the whole cycle keeps its micro-batch boundary;
behind such a request (first come, first served) it has none (head of line,
:meth:`~sim.serving.iteration.Iterations._lead`), and its client's deadline is met against the
cycle's end (:meth:`~sim.serving.waiting.Waiting.expire_at_boundary`, which must take the queue in the
order the batch takes it: the heap's, not the order of arrival).

Hand-worked (the linear model of tests/conftest.py: 0.01 s + 1e-4 s a prefill token + 1e-3 s a
decoding sequence; PP2; ``max_num_seqs`` 4): four ``lo`` requests at 0 (100 prompt tokens, 3 output)
fill the batch: prefill to 0.05, decode cycles of 0.014 s ending at 0.064 and 0.078, where all four
end. ``A`` (``lo``) arrives at 0.060 and waits through the cycle (0.064, 0.078], the batch full. ``B``
(``hi``, a patience of 4 ms: deadline 0.074) arrives at 0.070, inside it; PP2's second micro-batch
boundary of that cycle is 0.064 + 0.014 / 2 = 0.071, before the deadline.

* priority (``hi`` 2, ``lo`` 0): ``B`` is ahead of ``A``, joins at 0.071 and is served; the next cycle
  (0.078) prefills ``A`` and ``B`` together (0.01 + 200 x 1e-4 = 0.03 s, to 0.108): ``A``'s first token
  at 0.108, ``B``'s 0.007 earlier, at 0.101 (its micro-batch's phase);
* first come, first served: ``A`` is ahead, taken at 0.078; ``B`` behind it would be taken then, after
  its deadline: it has gone (``timeout``).
"""
from __future__ import annotations

import pytest

import sim
from sim.metrics.schema import COMPLETED, R_TIMEOUT, REJECTED

from conftest import scenario

ROWS = [(0.0, "lo")] * 4 + [(0.060, "lo"), (0.070, "hi")]


def _records(tmp_path, engine: str, priority: bool):
    trace = tmp_path / "trace.csv"
    trace.write_text("timestamp_s,prompt_tokens,output_tokens,tenant\n" + "".join(f"{t},100,3,{c}\n" for t, c in ROWS))
    sc = scenario(duration=2)
    hi, lo = {"name": "hi", "share": 0.5, "patience_s": 0.004}, {"name": "lo", "share": 0.5}
    if priority:
        hi["priority"], lo["priority"] = 2, 0
    sc["workload"] = {"arrival": {"process": "trace", "path": str(trace), "format": "fleetsim"}, "classes": [hi, lo]}
    sc["engine"] = engine
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["batching"].update(max_num_seqs=4, **({"policy": "priority"} if priority else {}))
    return sim.run(sc).records


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_request_the_priority_order_puts_ahead_keeps_its_micro_batch_boundary(tmp_path, engine):
    rec = _records(tmp_path, engine, priority=True)
    a, b = rec[4], rec[5]
    assert (a["status"], b["status"]) == (COMPLETED, COMPLETED)
    assert b["sched_s"] == pytest.approx(0.071, rel=1e-12) and b["first_token_s"] == pytest.approx(0.101, rel=1e-12)
    assert a["sched_s"] == pytest.approx(0.078, rel=1e-12) and a["first_token_s"] == pytest.approx(0.108, rel=1e-12)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_behind_a_request_that_waited_through_the_cycle_the_deadline_meets_the_cycles_end(tmp_path, engine):
    rec = _records(tmp_path, engine, priority=False)
    a, b = rec[4], rec[5]
    assert a["status"] == COMPLETED and a["sched_s"] == pytest.approx(0.078, rel=1e-12)
    assert (b["status"], b["reason"]) == (REJECTED, R_TIMEOUT) and b["sched_s"] < 0
