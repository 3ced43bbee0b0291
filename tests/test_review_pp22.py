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
import random

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


# ------------------------------------------------ a later, higher class takes no slot taken before
FLAT = {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
        "per_context_token_s": 0.0}


def _jump(engine: str, duration: float = 3.5, interval: float = 0.015625):
    sc = scenario(duration=duration)
    rows = ["0,100,20,load", "0.0625,100,20,load", "0.5625,100,4,lo", "0.6875,100,4,lo", "0.71875,100,4,hi"]
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.4}, {"name": "lo", "share": 0.4},
                                  {"name": "hi", "share": 0.2, "priority": 2}]}
    sc["perf"] = dict(FLAT)
    sc["engine"] = engine
    sc["metrics"] = {"interval": interval}
    pool = sc["fleet"]["pools"][0]
    pool.update(pipeline_parallel=2, max_waiting=2)
    pool["batching"].update(policy="priority", max_num_seqs=3, mixed_batches=True)
    return sim.run(sc)


def test_a_higher_class_arriving_later_does_not_take_the_slot_a_micro_batch_took_before():
    """The flat 0.25 s cycle, PP2, mixed batches, ``policy: priority``, ``max_num_seqs: 3``, a room of two.
    r0 at 0 and r1 at 0.0625 (20 output tokens: running to 5 s): r0's prefill is (0, 0.25], r1 joins at
    0.25, then every cycle holds two sequences with a micro-batch boundary half-way: 0.625 in (0.5, 0.75].

    * l1 (class 0) at 0.5625: the batch at 0.75 has one slot (3 less r0 and r1), so the micro-batch at
      0.625 takes it (``sched_s`` 0.625); its prefill is priced in (0.75, 1.0], three decodes: done at 1.75.
    * l2 (class 0) at 0.6875, after that boundary, waits for the batch at 0.75 (the room holds nobody).
    * h (class 2) at 0.71875 finds l2 alone in the room and waits. It is first in the queue, but the slot
      is l1's since 0.625: h waits for l1 to leave at 1.75 (prefill and three decodes: done at 2.75), l2
      for h.
    * A row at 0.734375: l2 and h waiting (the room of two full), r0, r1 and l1 running.

    Before, the batch at 0.75 took the queue in class order and gave h the slot l1 had taken: l1 counted
    as running from 0.625 to h's arrival, then as waiting again, three in a room of two (queue 3, running
    2), and l1 was admitted at 1.75, h at 0.75."""
    out = {e: _jump(e) for e in ENGINES}
    rec = out["fast"].records
    assert {int(r["rid"]): float(r["sched_s"]) for r in rec if r["rid"] >= 2} == {2: 0.625, 3: 2.75, 4: 1.75}
    ts = timeseries_table(out["fast"])
    at = abs(ts["time_s"] - 0.734375) < 1e-12
    assert (list(ts["queue_len"][at]), list(ts["running"][at])) == ([2], [3])
    assert (ts["queue_len"] <= 2).all()
    assert (rec.tobytes(), out["fast"].timeseries.tobytes()) == \
        (out["reference"].records.tobytes(), out["reference"].timeseries.tobytes())


@pytest.mark.parametrize("engine", ENGINES)
def test_the_last_row_counts_a_request_taken_in_the_cycle_the_run_ends_in_as_running(engine):
    """The same timeline cut at 0.7, inside the cycle (0.5, 0.75], rows every 0.25 s: the last row (0.7)
    finds r0, r1 and l1 (taken at 0.625) running and l2 (0.6875) waiting. Before, the row was written
    after the run's end settled the cycle in progress, and l1 counted as waiting (queue 2, running 2)."""
    ts = timeseries_table(_jump(engine, duration=0.7, interval=0.25))
    assert [(float(t), int(q), int(r)) for t, q, r in zip(ts["time_s"], ts["queue_len"], ts["running"])][-1] == \
        (0.7, 1, 3)


# ---------------------------------------------------------------------- property: random pipelined rooms
def _random_room(seed: int) -> tuple[dict, int]:
    """A pipelined pool (PP2-PP4, one or two replicas) with a room of ``K`` under Poisson load, classes of
    two priorities (``policy: priority`` or FCFS), impatient clients or not, a slot cap that binds or not,
    every router kind (``round_robin`` and ``random`` route ahead of the clock on the fast engine). The
    KV cache (~118,000 tokens) holds 64 sequences of 800 + 600 tokens and the token budget 64 prompts of
    800, so only the slots and the clients limit what a batch at a cycle's end takes."""
    rng = random.Random(seed)
    sc = scenario(duration=3)
    sc["seed"] = seed
    k = rng.choice([0, 1, 2, 4])
    priority = rng.random() < 0.5
    classes = [{"name": "hi", "share": 0.3}, {"name": "lo", "share": 0.7}]
    if priority:
        classes[0]["priority"] = 2
    if rng.random() < 0.6:
        classes[1]["patience_s"] = rng.choice([0.005, 0.02, 0.1])
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rng.choice([50, 100, 200])},
                      "prompt_tokens": {"dist": "lognormal", "mean": rng.choice([100, 400]), "cv": 1.0, "max": 800},
                      "output_tokens": {"dist": "lognormal", "mean": rng.choice([10, 50]), "cv": 1.0, "max": 600},
                      "classes": classes}
    sc["fleet"]["router"] = rng.choice(["least_outstanding", "round_robin", "random"])
    pool = sc["fleet"]["pools"][0]
    pool.update(pipeline_parallel=rng.choice([2, 3, 4]), replicas=rng.choice([1, 2]), max_waiting=k,
                gpu_memory_utilization=0.9)
    pool["batching"] = {"policy": "priority" if priority else "continuous", "max_num_seqs": rng.choice([4, 8, 64]),
                        "max_batched_tokens": 65536, "scheduler": rng.choice(["vllm-v1", "sglang", "trtllm"])}
    sc["metrics"] = {"interval": 0.0037}
    return sc, k * pool["replicas"]


@pytest.mark.parametrize("seed", [0, 1, 3, 4, 5, 8, 15])   # 8, 15: the room over its limit before
def test_random_pipelined_rooms_hold_their_limit_and_the_engines_agree(seed):
    """The room never holds more than its limit (``queue_len`` at every row, rows every 3.7 ms), counts
    are never negative, every request has exactly one row, and both engines write the same bytes."""
    sc, limit = _random_room(seed)
    out = {}
    for engine in ENGINES:
        sc["engine"] = engine
        out[engine] = sim.run(copy.deepcopy(sc))
    rec = out["fast"].records
    assert sorted(rec["rid"].tolist()) == list(range(len(rec)))
    ts = timeseries_table(out["fast"])
    assert (ts["running"] >= 0).all() and (ts["queue_len"] >= 0).all()
    assert int(ts["queue_len"].max()) <= limit
    assert (rec.tobytes(), out["fast"].timeseries.tobytes()) == \
        (out["reference"].records.tobytes(), out["reference"].timeseries.tobytes())
