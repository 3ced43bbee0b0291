"""ROCm vLLM's prefill gate (``batching.prefill_min_free_kv_pct``, ``VLLM_SCHED_PREFILL_KVC_FREEPCT``) against
hand-worked timelines on both engines.

Step time (tests/conftest.py LINEAR): 0.01 s + 1e-4 s per prefill token + 1e-3 s per decoding sequence, on a
replica of exactly 16 KV blocks of 16 tokens with no watermark (tests/test_batching_policies.py SMALL_KV). The
gate is read once per scheduler step, before the first prompt: a step admits prompts only if
``100 * free blocks > pct * 16``.
"""
from __future__ import annotations

import pytest

import sim
from sim.scenario.schema import Batching
from sim.serving.batching import make_batching, prefill_gate_open

from conftest import scenario
from test_batching_policies import SMALL_KV

ENGINES = ["fast", "reference"]


def _run(tmp_path, rows, engine, pct):
    path = tmp_path / "trace.csv"
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n" + "".join(f"{t},{p},{o}\n" for t, p, o in rows))
    sc = scenario(engine=engine)
    sc["workload"] = {"arrival": {"process": "trace", "path": str(path)}}
    pool = sc["fleet"]["pools"][0]
    pool["batching"].update(scheduler="vllm-v0", max_num_seqs=64, prefill_min_free_kv_pct=pct)
    pool.update(SMALL_KV)
    res = sim.run(sc)
    return {int(r["rid"]): r for r in res.records}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_prompt_waits_while_the_cache_is_fuller_than_the_gate(tmp_path, engine):
    # r0 (96 tokens: 6 blocks) prefills alone, 0 .. 0.0196; r1 (32 tokens) arrived at 0.01. At 0.0196 10 of 16
    # blocks are free: 1,000 > 70 x 16 = 1,120 fails, so r0 decodes on alone (its 97th token takes a 7th block:
    # 9 free) and r1 waits until r0 completes: 19 iterations of 0.011 s, at 0.2286. r1 prefills (0.0132 s) and
    # decodes 4 tokens alone: done at 0.2286 + 0.0132 + 4 x 0.011 = 0.2858.
    recs = _run(tmp_path, [(0.0, 96, 20), (0.01, 32, 5)], engine, 70.0)
    done0 = 0.0196 + 19 * 0.011
    assert recs[0]["completion_s"] == pytest.approx(done0, rel=1e-12)
    assert recs[1]["sched_s"] == pytest.approx(done0, rel=1e-12)
    assert recs[1]["first_token_s"] == pytest.approx(done0 + 0.0132, rel=1e-12)
    assert recs[1]["completion_s"] == pytest.approx(done0 + 0.0132 + 4 * 0.011, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_without_the_gate_the_prompt_is_admitted_at_once(tmp_path, engine):
    # the same requests with the gate off (vLLM's rule): r1 is admitted at 0.0196 (prefill-only iteration to
    # 0.0328), both decode at 0.012 s: r1 done after 4 (0.0808), r0 after 4 + 15 alone at 0.011 s (0.2458)
    recs = _run(tmp_path, [(0.0, 96, 20), (0.01, 32, 5)], engine, 0.0)
    assert recs[1]["sched_s"] == pytest.approx(0.0196, rel=1e-12)
    assert recs[1]["completion_s"] == pytest.approx(0.0328 + 4 * 0.012, rel=1e-12)
    assert recs[0]["completion_s"] == pytest.approx(0.0328 + 4 * 0.012 + 15 * 0.011, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_gate_is_read_once_per_step_not_per_prompt(tmp_path, engine):
    # two 96-token prompts at t = 0 with the gate at 65 %: the step opens with 16 free blocks (1,600 > 1,040) and
    # admits both, although after the first only 10 are free (1,000 < 1,040): one prefill of 192 tokens
    # (0.0292 s), then 9 decode iterations of both (0.012 s): both done at 0.1372
    recs = _run(tmp_path, [(0.0, 96, 10), (0.0, 96, 10)], engine, 65.0)
    for r in recs.values():
        assert r["sched_s"] == 0.0
        assert r["first_token_s"] == pytest.approx(0.0292, rel=1e-12)
        assert r["completion_s"] == pytest.approx(0.0292 + 9 * 0.012, rel=1e-12)


def test_the_gate_compares_whole_percentages_exactly():
    assert not prefill_gate_open(31.0, 310, 1000)       # 31.0 % free: not more than 31
    assert prefill_gate_open(31.0, 311, 1000)
    assert prefill_gate_open(0.0, 0, 1000)              # off
    assert make_batching(Batching(scheduler="vllm-v0", prefill_min_free_kv_pct=31.0)).min_free_pct == 31.0
    assert make_batching(Batching()).min_free_pct == 0.0
