"""Scheduler presets (``batching.scheduler``) against hand-worked timelines.

Step time (tests/conftest.py LINEAR): 0.01 s + 1e-4 s per prefill token + 1e-3 s per decoding sequence.
Each timeline: request 0 (100 prompt tokens, 10 output) arrives at t = 0; request 1 (the same) arrives
at t = 0.05, in the middle of one of request 0's decode iterations, and is admitted at its end.
"""
from __future__ import annotations

import pytest

import sim
from sim.errors import ScenarioError
from sim.scenario.load import load_scenario
from sim.scenario.schedulers import PRESETS, resolve_batching

from conftest import scenario

ENGINES = ["fast", "reference"]


def _rec(result, rid):
    r = result.records
    return r[r["rid"] == rid][0]


def _run(trace_scenario, engine, **batching):
    sc = trace_scenario([(0.0, 100, 10), (0.05, 100, 10)], engine=engine)
    sc["fleet"]["pools"][0]["batching"].update(batching)
    return sim.run(sc)


@pytest.mark.parametrize("engine", ENGINES)
def test_vllm_v0_runs_the_new_prompt_alone_and_stalls_the_decode(trace_scenario, engine):
    res = _run(trace_scenario, engine, scheduler="vllm-v0")
    r0, r1 = _rec(res, 0), _rec(res, 1)
    # r0: prefill 0.02 s, decodes end 0.031, 0.042, 0.053; r1 admitted at 0.053, prefill-only 0.02 s
    assert r1["sched_s"] == pytest.approx(0.053, rel=1e-12)
    assert r1["first_token_s"] == pytest.approx(0.073, rel=1e-12)
    # r0: 6 tokens left after 0.073, decoded together with r1 (0.012 s each)
    assert r0["completion_s"] == pytest.approx(0.073 + 6 * 0.012, rel=1e-12)


@pytest.mark.parametrize("scheduler", ["vllm-v1", "trtllm"])
@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_schedulers_put_the_new_prompt_into_the_decode_iteration(trace_scenario, engine, scheduler):
    res = _run(trace_scenario, engine, scheduler=scheduler)
    r0, r1 = _rec(res, 0), _rec(res, 1)
    # admitted at 0.053; the iteration holds r0's decode and r1's whole prompt: 0.01 + 0.01 + 0.001 s
    assert r1["sched_s"] == pytest.approx(0.053, rel=1e-12)
    assert r1["first_token_s"] == pytest.approx(0.074, rel=1e-12)
    # r0 also got a token at 0.074 (its 5th); 5 left at 0.012 s, then r1's last 4 alone at 0.011 s
    assert r0["completion_s"] == pytest.approx(0.074 + 5 * 0.012, rel=1e-12)
    assert r1["completion_s"] == pytest.approx(0.074 + 5 * 0.012 + 4 * 0.011, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_vllm_v1_chunks_the_new_prompt_into_the_decode_iterations(trace_scenario, engine):
    res = _run(trace_scenario, engine, scheduler="vllm-v1", max_batched_tokens=64)
    r0, r1 = _rec(res, 0), _rec(res, 1)
    # r0 alone: chunks of 64 (0.0164 s) and 36 (0.0136 s): first token 0.030; decodes end 0.041, 0.052
    assert r0["first_token_s"] == pytest.approx(0.030, rel=1e-12)
    # r1 admitted at 0.052: r0's decode + 63 tokens (0.0173 s), then r0's decode + 37 tokens (0.0147 s)
    assert r1["sched_s"] == pytest.approx(0.052, rel=1e-12)
    assert r1["first_token_s"] == pytest.approx(0.052 + 0.0173 + 0.0147, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_sglang_chunks_the_new_prompt_in_prefill_only_iterations(trace_scenario, engine):
    res = _run(trace_scenario, engine, scheduler="sglang", max_batched_tokens=64)
    r0, r1 = _rec(res, 0), _rec(res, 1)
    assert r0["first_token_s"] == pytest.approx(0.030, rel=1e-12)
    # r1 admitted at 0.052: chunks of 64 and 36 tokens run without r0's decode (0.0164 + 0.0136 s)
    assert r1["sched_s"] == pytest.approx(0.052, rel=1e-12)
    assert r1["first_token_s"] == pytest.approx(0.082, rel=1e-12)
    # r0's 4th token came at 0.052, its 5th after the stall, together with r1's first decode
    assert r0["completion_s"] == pytest.approx(0.082 + 7 * 0.012, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_trtllm_waits_for_room_for_a_whole_prompt(trace_scenario, engine):
    # budget 100 tokens: with two sequences decoding only 98 are left, so a 99-token prompt (never
    # chunked) waits, head of line, until they finish; vllm-v1 would chunk it instead
    sc = trace_scenario([(0.0, 40, 4), (0.0, 40, 4), (0.02, 99, 1)], engine=engine)
    pool = sc["fleet"]["pools"][0]
    pool["batching"].update(scheduler="trtllm", max_batched_tokens=100, max_num_seqs=8)
    pool["max_model_len"] = 100
    res = sim.run(sc)
    # r0, r1: one prefill of 80 tokens (0.018 s), three decodes of two sequences (0.012 s): done 0.054
    assert _rec(res, 0)["completion_s"] == pytest.approx(0.018 + 3 * 0.012, rel=1e-12)
    r2 = _rec(res, 2)
    assert r2["sched_s"] == pytest.approx(0.054, rel=1e-12)
    assert r2["first_token_s"] == pytest.approx(0.054 + 0.01 + 99e-4, rel=1e-12)
    sc["fleet"]["pools"][0]["batching"]["scheduler"] = "vllm-v1"
    assert _rec(sim.run(sc), 2)["sched_s"] == pytest.approx(0.030, rel=1e-12)


def test_trtllm_reserves_whole_sequences_and_never_preempts():
    wl = {"arrival": {"process": "poisson", "rate": 8},
          "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.2, "max": 3000},
          "output_tokens": {"dist": "lognormal", "mean": 300, "cv": 1.2, "max": 1500}}
    out = {}
    for name in ("vllm-v1", "trtllm"):
        sc = scenario(workload=wl, duration=90, perf={"model": "roofline"})
        sc["fleet"]["pools"][0].update(gpu_memory_utilization=0.2, max_model_len=3000,
                                       batching={"scheduler": name, "max_num_seqs": 64})
        out[name] = sim.run(sc).summary["requests"]
    assert out["vllm-v1"]["preemptions"] > 0
    assert out["trtllm"]["preemptions"] == 0
    assert out["trtllm"]["completed"] > 0


def test_explicit_keys_override_the_preset():
    b = resolve_batching({"scheduler": "trtllm", "chunked_prefill": True, "max_batched_tokens": 2048})
    assert (b["chunked_prefill"], b["mixed_batches"], b["max_batched_tokens"], b["kv_reservation"]) == \
        (True, True, 2048, "full")
    assert resolve_batching({"chunked_prefill": False})["mixed_batches"] is True      # vllm-v1 always mixes
    assert resolve_batching({"scheduler": "vllm-v0"})["mixed_batches"] is False
    assert resolve_batching({"policy": "static"}).get("chunked_prefill") is None      # static: not applied
    assert set(PRESETS) == {"vllm-v0", "vllm-v1", "trtllm", "sglang"}


def test_unknown_scheduler_is_a_clear_error(tmp_path):
    import yaml

    sc = scenario()
    sc["fleet"]["pools"][0]["batching"]["scheduler"] = "vllm-v2"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    msg = str(exc.value)
    assert "fleet.pools.0.batching.scheduler" in msg and "vllm-v1" in msg


@pytest.mark.parametrize("batching, field", [
    ({"policy": "static", "batch_size": 4, "mixed_batches": True}, "fleet.pools.0.batching.mixed_batches"),
    ({"kv_reservation": "all"}, "fleet.pools.0.batching.kv_reservation"),
    ({"scheduler": None}, "fleet.pools.0.batching.scheduler"),
])
def test_bad_batching_keys_name_the_field(tmp_path, batching, field):
    import yaml

    sc = scenario()
    sc["fleet"]["pools"][0]["batching"] = batching
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert field in str(exc.value)


@pytest.mark.parametrize("engine", ENGINES)
def test_frontend_latency_adds_to_ttft_and_e2e_only(trace_scenario, engine):
    base = _run(trace_scenario, engine, scheduler="vllm-v0")
    sc = trace_scenario([(0.0, 100, 10), (0.05, 100, 10)], engine=engine)
    sc["fleet"]["pools"][0]["batching"]["scheduler"] = "vllm-v0"
    sc["fleet"]["frontend_s"] = "25ms"
    res = sim.run(sc)
    for rid in (0, 1):
        a, b = _rec(base, rid), _rec(res, rid)
        assert b["first_token_s"] == pytest.approx(a["first_token_s"] + 0.025, rel=1e-12)
        assert b["completion_s"] == pytest.approx(a["completion_s"] + 0.025, rel=1e-12)
        assert b["sched_s"] == a["sched_s"]
    la, lb = base.summary["latency"], res.summary["latency"]
    assert lb["ttft"]["p50"] == pytest.approx(la["ttft"]["p50"] + 0.025, rel=1e-9)
    assert lb["itl"] == la["itl"] and lb["queue"] == la["queue"]
    assert lb["tpot"]["p50"] == pytest.approx(la["tpot"]["p50"], rel=1e-12)   # both ends move by 25 ms
