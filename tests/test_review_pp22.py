"""Review of the mid-cycle counts of a pipelined replica (``sim/serving/mid_cycle.py``).

**A request admitted before, queued mid-cycle** (hand-worked; the linear model of tests/conftest.py:
0.01 s + 1e-4 s a prefill token + 1e-3 s a decoding sequence; llama-2-7b's KV cache, 512 KiB a token).
A disaggregated fleet: one prefill replica (PP1), one decode replica (PP2, mixed batches); r0 at 0 and
r1 at 0.001 (100-token prompts, 60 output tokens) wait however long it takes, A at 0.194 (100 tokens, 10
output tokens) gives up after 4 ms if nobody takes it.

* Prefills take 0.02 s; a 100-token KV cache crosses the 400 Gb/s link in 100 x 524,288 x 8 / 4e11 =
  0.001048576 s. r0 reaches the decode replica at 0.021048576 and decodes alone (cycles of 0.011 s, one
  micro-batch); r1 (prefilled (0.02, 0.04]) reaches it at 0.041048576 and joins at 0.043048576; from then
  on cycles of two sequences, 0.012 s, each with a micro-batch boundary half-way: the 15th is
  (0.211048576, 0.223048576], its boundary at 0.217048576.
* A is admitted on the idle prefill replica at once (``sched_s`` 0.194, before its deadline 0.198): its
  client waits no more. Prefilled at 0.214, it reaches the decode replica at 0.215048576, inside that
  cycle, and joins the micro-batch at 0.217048576 (the engine books it at 0.223048576 with a lead of
  0.006).
* A time-series row at 0.22 finds r0, r1 and A running on the decode pool, nobody waiting. Before, a
  request queued mid-cycle whose deadline had passed by its boundary counted as never taken (and
  took no sequence slot), though it had been admitted before: queue 1, running 2.
"""
from __future__ import annotations

import copy

import pytest

import sim
from sim.metrics.output import timeseries_table

from conftest import scenario
from test_pipeline_room_taken import _trace

ENGINES = ["fast", "reference"]


def _handed_off(engine: str):
    sc = scenario(duration=1)
    rows = ["0.0,100,60,load", "0.001,100,60,load", "0.194,100,10,late"]
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.5}, {"name": "late", "share": 0.5, "patience_s": 0.004}]}
    sc["engine"] = engine
    sc["metrics"] = {"interval": 0.22}
    prefill = sc["fleet"]["pools"][0]
    prefill["name"] = "prefill"
    decode = copy.deepcopy(prefill)
    decode.update(name="decode", pipeline_parallel=2)
    decode["batching"]["mixed_batches"] = True
    sc["fleet"]["pools"] = [prefill, decode]
    sc["fleet"]["disaggregated"] = {"prefill_pool": "prefill", "decode_pool": "decode", "link_gbps": 400}
    return sim.run(sc)


def test_a_request_handed_off_mid_cycle_runs_from_its_micro_batch_boundary_though_its_deadline_passed():
    out = {e: _handed_off(e) for e in ENGINES}
    ts = timeseries_table(out["fast"])
    at = (abs(ts["time_s"] - 0.22) < 1e-12) & (ts["pool"].strings() == "decode")
    assert (list(ts["queue_len"][at]), list(ts["running"][at])) == ([0], [3])
    a = out["fast"].records[out["fast"].records["rid"] == 2][0]
    assert a["sched_s"] == pytest.approx(0.194, abs=1e-12)
    assert (out["fast"].records.tobytes(), out["fast"].timeseries.tobytes()) == \
        (out["reference"].records.tobytes(), out["reference"].timeseries.tobytes())
