"""Batching policies against hand-worked timelines on both engines: priority admission, the
choice of preemption victim, and a preemption recomputed later (prompt plus generated tokens).

Step time (tests/conftest.py LINEAR): 0.01 s + 1e-4 s per prefill token + 1e-3 s per decoding
sequence. The KV-cache timelines use a replica of exactly 16 blocks of 16 tokens (no watermark:
int(0.01 * 16) = 0), so a block boundary is crossed every 16 decode iterations.
"""
from __future__ import annotations

import pytest

import sim
from sim.api import _as_loaded, build_pools
from sim.serving.batching import VICTIMS, make_batching
from sim.serving.request import Req

from conftest import scenario

ENGINES = ["fast", "reference"]
CLASSES = [{"name": "hi", "share": 0.5, "priority": 2}, {"name": "lo", "share": 0.5, "priority": 0}]
SMALL_KV = {"gpu_memory_utilization": 0.1747, "max_model_len": 256}   # 16 KV blocks (asserted below)


def _run(tmp_path, rows, engine, policy, max_num_seqs=64, pool=None):
    path = tmp_path / "trace.csv"   # fleetsim's trace format with a tenant column (the class)
    path.write_text("timestamp_s,prompt_tokens,output_tokens,tenant\n"
                    + "".join(f"{t},{p},{o},{c}\n" for t, p, o, c in rows))
    sc = scenario(engine=engine)
    sc["workload"] = {"arrival": {"process": "trace", "path": str(path), "format": "fleetsim"},
                      "classes": CLASSES}
    # hand-worked with prompt-only iterations (vLLM V0)
    sc["fleet"]["pools"][0]["batching"].update(scheduler="vllm-v0", policy=policy, max_num_seqs=max_num_seqs)
    sc["fleet"]["pools"][0].update(pool or {})
    res = sim.run(sc)
    return {int(r["rid"]): r for r in res.records}, res.summary


def test_small_kv_pool_has_sixteen_blocks():
    sc = scenario()
    sc["fleet"]["pools"][0].update(SMALL_KV)
    sc["fleet"]["pools"][0]["batching"]["scheduler"] = "vllm-v0"    # as _run uses it (its memory rule)
    assert build_pools(_as_loaded(sc, []))[0].kv_blocks == 16


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("policy", ["priority", "continuous"])
def test_priority_admission_takes_the_higher_class_first(tmp_path, engine, policy):
    # one sequence at a time: r0 (lo) runs 0 .. 0.02 + 9 x 0.011 = 0.119; r1 (lo, 0.01) and
    # r2 (hi, 0.02) wait. Priority admits r2 at 0.119 (done 0.238), then r1 (done 0.357);
    # FCFS admits them in arrival order.
    recs, _ = _run(tmp_path, [(0.0, 100, 10, "lo"), (0.01, 100, 10, "lo"), (0.02, 100, 10, "hi")],
                   engine, policy, max_num_seqs=1)
    one = 0.02 + 9 * 0.011
    first, second = (2, 1) if policy == "priority" else (1, 2)
    assert recs[0]["completion_s"] == pytest.approx(one, rel=1e-12)
    assert recs[first]["sched_s"] == pytest.approx(one, rel=1e-12)
    assert recs[first]["first_token_s"] == pytest.approx(one + 0.02, rel=1e-12)
    assert recs[first]["completion_s"] == pytest.approx(2 * one, rel=1e-12)
    assert recs[second]["sched_s"] == pytest.approx(2 * one, rel=1e-12)
    assert recs[second]["completion_s"] == pytest.approx(3 * one, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("policy", ["priority", "continuous"])
def test_victim_is_the_newest_or_the_newest_of_the_lowest_class(tmp_path, engine, policy):
    # r0 (lo) arrives at 0: prefill of 96 tokens alone, 0.0196 s. r1 (hi) arrived at 0.01 and is
    # admitted at 0.0196: its prefill-only iteration ends at 0.0392. Both hold 6 blocks and cross a
    # block boundary together every 16 decode iterations (at dc 0, 16, 32): 12 + 2 + 2 = 16 blocks
    # after dc 16, so dc 32 needs 2 more than the replica has and one of them is preempted after
    # 32 iterations of 0.012 s (0.4232) having emitted 1 + 32 = 33 tokens. The other finishes alone
    # (17 more iterations of 0.011 s: 0.6102); the victim recomputes 96 + 33 = 129 tokens
    # (0.0229 s, its 34th token at 0.6331) and decodes 16 more alone (0.8091).
    recs, s = _run(tmp_path, [(0.0, 96, 50, "lo"), (0.01, 96, 50, "hi")], engine, policy, pool=SMALL_KV)
    victim, other = (0, 1) if policy == "priority" else (1, 0)   # lowest class vs newest admitted
    t_pre = 0.0196 + 0.0196 + 32 * 0.012
    assert s["requests"]["preemptions"] == 1
    assert recs[victim]["preemptions"] == 1 and recs[other]["preemptions"] == 0
    assert recs[other]["completion_s"] == pytest.approx(t_pre + 17 * 0.011, rel=1e-12)
    assert recs[victim]["completion_s"] == pytest.approx(t_pre + 17 * 0.011 + 0.0229 + 16 * 0.011, rel=1e-12)
    for r in recs.values():
        assert r["generated_tokens"] == 50 and r["status"] == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_preemption_with_recompute_of_two_equal_requests(tmp_path, engine):
    # both arrive at 0 and share one prefill (192 tokens, 0.0292 s); the newest (r1) is preempted
    # at dc 32 (0.0292 + 32 x 0.012 = 0.4132) with 33 tokens emitted, waits for r0 (17 x 0.011 s
    # alone: 0.6002), recomputes 129 tokens (0.0229 s) and decodes its last 16 (0.7991). Its first
    # scheduling time stays its first admission.
    recs, s = _run(tmp_path, [(0.0, 96, 50, "lo"), (0.0, 96, 50, "lo")], engine, "continuous", pool=SMALL_KV)
    t_pre = 0.0292 + 32 * 0.012
    assert recs[0]["completion_s"] == pytest.approx(t_pre + 17 * 0.011, rel=1e-12)
    assert recs[1]["sched_s"] == 0.0
    assert recs[1]["first_token_s"] == pytest.approx(0.0292, rel=1e-12)
    assert recs[1]["completion_s"] == pytest.approx(t_pre + 17 * 0.011 + 0.0229 + 16 * 0.011, rel=1e-12)
    assert (recs[0]["preemptions"], recs[1]["preemptions"]) == (0, 1)
    assert s["requests"]["preemptions"] == 1


def test_victim_functions_pick_by_admission_order_and_class():
    active = {}
    for rid, prio in [(0, 0), (1, 2), (2, 0), (3, 2)]:
        active[rid] = Req(rid, 0.0, 10, 10, 0, prio)
    assert VICTIMS["newest"](active).rid == 3
    assert VICTIMS["lowest_priority"](active).rid == 2


def test_policies_are_chosen_by_name():
    from sim.scenario.schema import Batching

    assert make_batching(Batching()).name == "chunked"                        # the vllm-v1 default
    assert make_batching(Batching(scheduler="vllm-v0")).name == "continuous"
    assert make_batching(Batching(scheduler="vllm-v0", chunked_prefill=True)).name == "chunked"
    assert make_batching(Batching(scheduler="trtllm")).name == "mixed"
    assert make_batching(Batching(scheduler="sglang")).name == "prefill_first"
    assert make_batching(Batching(policy="static", batch_size=4)).name == "static"
    prio = make_batching(Batching(scheduler="vllm-v0", policy="priority"))
    assert prio.name == "continuous" and prio.victim is VICTIMS["lowest_priority"]
