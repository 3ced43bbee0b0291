"""Automatic prefix caching: a class's shared prompt prefix is prefilled once per replica and reused.

Step model (tests/conftest.py LINEAR): 0.01 s + 1e-4 s per prefill token + 1e-3 s per decoding sequence.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim

from conftest import scenario

ENGINES = ["fast", "reference"]


def _pool(**batching):
    b = {"max_num_seqs": 64, "max_batched_tokens": 4096, "prefix_caching": True}
    b.update(batching)
    return {"name": "main", "gpu": "a100-80gb", "replicas": 1, "batching": b}


@pytest.mark.parametrize("engine", ENGINES)
def test_second_request_prefills_only_the_uncached_suffix(trace_scenario, engine):
    sc = trace_scenario([(0.0, 100, 2), (1.0, 100, 2)], fleet={"pools": [_pool()]}, engine=engine)
    sc["workload"]["shared_prefix_tokens"] = 64          # 4 whole blocks of 16
    rec = sim.run(sc).records
    assert rec[0]["first_token_s"] - rec[0]["arrival_s"] == pytest.approx(0.01 + 100e-4, rel=1e-12)
    # 64 cached tokens: only 36 are prefilled
    assert rec[1]["first_token_s"] - rec[1]["arrival_s"] == pytest.approx(0.01 + 36e-4, rel=1e-12)
    # without caching both pay for the whole prompt
    sc["fleet"]["pools"][0]["batching"]["prefix_caching"] = False
    rec = sim.run(sc).records
    assert rec[1]["first_token_s"] - rec[1]["arrival_s"] == pytest.approx(0.01 + 100e-4, rel=1e-12)


def test_prefix_is_cached_in_whole_blocks_and_never_the_last_token(trace_scenario):
    # prefix 40 tokens -> 2 whole blocks (32 tokens) reusable; a 33-token prompt can reuse 2 blocks
    # (32 tokens) and computes 1; a 32-token prompt may reuse only 1 block (the last token is computed)
    sc = trace_scenario([(0.0, 100, 1), (1.0, 33, 1), (2.0, 32, 1)], fleet={"pools": [_pool()]})
    sc["workload"]["shared_prefix_tokens"] = 40
    rec = sim.run(sc).records
    ttft = rec["first_token_s"] - rec["arrival_s"]
    assert ttft[1] == pytest.approx(0.01 + 1e-4, rel=1e-12)
    assert ttft[2] == pytest.approx(0.01 + 16e-4, rel=1e-12)


def _loaded(engine: str, chunked: bool, mem: float) -> dict:
    wl = {"arrival": {"process": "poisson", "rate": 6},
          "classes": [{"name": "chat", "share": 0.7, "shared_prefix_tokens": 512,
                       "prompt_tokens": {"dist": "uniform", "low": 600, "high": 1500},
                       "output_tokens": {"dist": "uniform", "low": 50, "high": 400}},
                      {"name": "api", "share": 0.3,
                       "prompt_tokens": {"dist": "uniform", "low": 100, "high": 800},
                       "output_tokens": {"dist": "uniform", "low": 20, "high": 200}}]}
    pool = _pool(chunked_prefill=chunked, max_batched_tokens=4096 if not chunked else 512)
    pool["gpu_memory_utilization"] = mem
    return scenario(workload=wl, fleet={"pools": [pool]}, engine=engine, duration=60, warmup=5,
                    perf={"model": "roofline"})


@pytest.mark.parametrize("chunked", [False, True])
def test_fast_and_reference_engines_agree_with_prefix_caching_under_kv_pressure(chunked):
    a = sim.run(_loaded("fast", chunked, 0.2))
    b = sim.run(_loaded("reference", chunked, 0.2))
    assert a.summary["requests"]["preemptions"] > 0
    for col in ("first_token_s", "completion_s", "sched_s"):
        np.testing.assert_allclose(a.records[col], b.records[col], rtol=1e-9, atol=1e-12)
    for col in ("preemptions", "generated_tokens", "status"):
        assert np.array_equal(a.records[col], b.records[col])
    r = a.summary["requests"]
    assert r["arrived"] == r["completed"] + r["rejected"] + r["in_flight"] + r["failed"]
    kv_cap = a.summary["pools"]["main"]["kv_blocks_per_replica"]
    assert a.timeseries[:, 6].max() <= kv_cap


def test_prefix_caching_cuts_ttft_of_prompt_sharing_traffic():
    on = sim.run(_loaded("fast", False, 0.9)).summary
    sc = _loaded("fast", False, 0.9)
    sc["fleet"]["pools"][0]["batching"]["prefix_caching"] = False
    off = sim.run(sc).summary
    assert on["classes"]["chat"]["latency"]["ttft"]["mean"] < 0.8 * off["classes"]["chat"]["latency"]["ttft"]["mean"]
    assert on["requests"]["completed"] >= off["requests"]["completed"]  # less prefill work: never fewer
