"""The replica engine against hand-worked timelines (linear step model: times are exact sums).

Step time (tests/conftest.py LINEAR): 0.01 s + 1e-4 s per prefill token + 1e-3 s per decoding sequence.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import sim
from sim.serving.request import COMPLETED, REJECTED

from conftest import scenario

ENGINES = ["fast", "reference"]


def _rec(result, rid):
    r = result.records
    return r[r["rid"] == rid][0]


@pytest.mark.parametrize("engine", ENGINES)
def test_one_request_alone_ttft_is_its_prefill_step(trace_scenario, engine):
    sc = trace_scenario([(1.0, 100, 10)], engine=engine)
    res = sim.run(sc)
    r = _rec(res, 0)
    prefill = 0.01 + 100 * 1e-4          # 0.02 s
    decode = 0.01 + 1e-3                 # 0.011 s per token, 9 decode iterations
    assert r["first_token_s"] - r["arrival_s"] == pytest.approx(prefill, rel=1e-12)
    assert r["completion_s"] == pytest.approx(1.0 + prefill + 9 * decode, rel=1e-12)
    assert res.summary["latency"]["tpot"]["mean"] == pytest.approx(decode, rel=1e-9)
    assert res.summary["latency"]["itl"]["p50"] == pytest.approx(decode, rel=1e-9)
    assert res.summary["latency"]["queue"]["mean"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_two_simultaneous_requests_share_prefill_and_decode_batches(trace_scenario, engine):
    res = sim.run(trace_scenario([(0.0, 100, 10), (0.0, 100, 10)], engine=engine))
    prefill = 0.01 + 200 * 1e-4          # one prefill iteration for both prompts
    decode = 0.01 + 2 * 1e-3             # both decode together
    for rid in (0, 1):
        r = _rec(res, rid)
        assert r["first_token_s"] == pytest.approx(prefill, rel=1e-12)
        assert r["completion_s"] == pytest.approx(prefill + 9 * decode, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_arrival_mid_decode_is_admitted_at_next_iteration_and_stalls_decodes(trace_scenario, engine):
    # request 0 decodes at 0.020, 0.031, 0.042, 0.053 ...; request 1 arrives at 0.05 and is admitted at
    # the boundary 0.053; its prefill-only iteration (0.02 s) stalls request 0 (no chunked prefill).
    sc = trace_scenario([(0.0, 100, 10), (0.05, 100, 10)], engine=engine)
    sc["fleet"]["pools"][0]["batching"]["scheduler"] = "vllm-v0"  # prefill-only iterations
    res = sim.run(sc)
    r0, r1 = _rec(res, 0), _rec(res, 1)
    b = 0.02 + 3 * 0.011
    assert r1["sched_s"] == pytest.approx(b, rel=1e-12)
    assert r1["first_token_s"] == pytest.approx(b + 0.02, rel=1e-12)
    # request 0 has 6 tokens left, decoded together with request 1 at 0.012 s per iteration
    assert r0["completion_s"] == pytest.approx(b + 0.02 + 6 * 0.012, rel=1e-12)
    # request 1: 9 decodes, the last 3 alone at 0.011 s
    assert r1["completion_s"] == pytest.approx(b + 0.02 + 6 * 0.012 + 3 * 0.011, rel=1e-12)
    # the stalled gap of request 0 (prefill of request 1 plus one decode) shows up in ITL
    assert res.summary["latency"]["itl"]["p99"] == pytest.approx(0.02 + 0.012, rel=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_chunked_prefill_mixes_decodes_with_prompt_chunks(trace_scenario, engine):
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 1,
            "batching": {"max_num_seqs": 64, "max_batched_tokens": 64, "chunked_prefill": True}}
    res = sim.run(trace_scenario([(0.0, 100, 3)], fleet={"pools": [pool]}, engine=engine))
    r = _rec(res, 0)
    # 100-token prompt in chunks of 64 and 36: two iterations, the second emits the first token
    t1 = 0.01 + 64 * 1e-4
    t2 = t1 + 0.01 + 36 * 1e-4
    assert r["first_token_s"] == pytest.approx(t2, rel=1e-12)
    assert r["completion_s"] == pytest.approx(t2 + 2 * 0.011, rel=1e-12)


def _tiny_kv_scenario(engine: str, seed: int = 5) -> dict:
    # an inline 2-layer model on an A100 with almost all memory given to nothing: few KV blocks
    model = {"name": "tiny", "n_layers": 2, "hidden": 256, "n_heads": 4, "ffn_hidden": 512, "vocab": 1000,
             "max_context": 4096}
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 1, "gpu_memory_utilization": 0.003625,
            "batching": {"max_num_seqs": 64, "max_batched_tokens": 4096}}
    return scenario(model=model, fleet={"pools": [pool]}, engine=engine, seed=seed, duration=30,
                    workload={"arrival": {"process": "poisson", "rate": 3},
                              "prompt_tokens": {"dist": "uniform", "low": 200, "high": 600},
                              "output_tokens": {"dist": "uniform", "low": 100, "high": 400}})


@pytest.mark.parametrize("engine", ENGINES)
def test_kv_exhaustion_preempts_and_recomputes(engine):
    res = sim.run(_tiny_kv_scenario(engine))
    s = res.summary
    assert res.summary["pools"]["main"]["kv_blocks_per_replica"] < 1000
    assert s["requests"]["preemptions"] > 0
    rec = res.records
    done = rec[rec["status"] == COMPLETED]
    assert (done["preemptions"] > 0).any()
    # a preempted request still produces exactly its output tokens
    assert np.all(done["generated_tokens"] == done["output_tokens"])
    # and no request is lost
    r = s["requests"]
    assert r["arrived"] == r["completed"] + r["rejected"] + r["in_flight"] + r["failed"]
    # KV use never exceeds capacity in the time series
    assert res.timeseries[:, 6].max() <= s["pools"]["main"]["kv_blocks_per_replica"]


def test_request_that_can_never_fit_is_rejected_with_reason(trace_scenario):
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 1, "max_model_len": 2048,
            "batching": {"max_batched_tokens": 2048}}
    res = sim.run(trace_scenario([(0.0, 3000, 10), (0.1, 100, 10), (0.2, 2048, 10)], fleet={"pools": [pool]}))
    rec = res.records
    assert rec[0]["status"] == REJECTED                      # 3000 > max_model_len 2048
    assert res.summary["requests"]["rejected_by_reason"] == {"prompt_exceeds_max_context": 1}
    assert rec[1]["status"] == COMPLETED and rec[1]["generated_tokens"] == 10
    # a prompt of exactly the context length is served (as vLLM does) and stops after one token
    assert rec[2]["status"] == COMPLETED and rec[2]["generated_tokens"] == 1
    res = sim.run(trace_scenario([(0.0, 4097, 10)]))  # llama-2-7b context is 4096
    assert res.summary["requests"]["rejected_by_reason"] == {"prompt_exceeds_max_context": 1}


@pytest.mark.parametrize("engine", ENGINES)
def test_conservation_under_overload(engine):
    sc = scenario(engine=engine, workload={"arrival": {"process": "poisson", "rate": 400},
                                           "prompt_tokens": {"dist": "exponential", "mean": 500, "max": 3000},
                                           "output_tokens": {"dist": "exponential", "mean": 100, "max": 1000}},
                  duration=20)
    s = sim.run(sc).summary["requests"]
    assert s["in_flight"] > 0
    assert s["arrived"] == s["completed"] + s["rejected"] + s["in_flight"] + s["failed"]


def test_same_seed_gives_identical_bytes(tmp_path):
    sc = scenario(duration=120, workload={"arrival": {"process": "poisson", "rate": 5},
                                          "prompt_tokens": {"dist": "lognormal", "mean": 300, "cv": 1, "max": 3000},
                                          "output_tokens": {"dist": "lognormal", "mean": 80, "cv": 1, "max": 500}})
    a = sim.run(sc, out=tmp_path / "a")
    sim.run(sc, out=tmp_path / "b")
    for name in ("requests.csv.gz", "timeseries.csv", "cashflow.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    sa = json.loads((tmp_path / "a" / "summary.json").read_text())
    sb = json.loads((tmp_path / "b" / "summary.json").read_text())
    sa.pop("wall_seconds"), sb.pop("wall_seconds")
    assert sa == sb
    c = sim.run(sc | {"seed": 4})
    assert c.summary["requests"]["arrived"] != a.summary["requests"]["arrived"] or \
        c.summary["latency"]["e2e"]["mean"] != a.summary["latency"]["e2e"]["mean"]


def test_time_series_and_utilization_are_consistent():
    res = sim.run(scenario(duration=120))
    ts = res.timeseries
    assert len(ts) == 12  # every 10 s
    busy = res.summary["gpu_hours"]["busy"] / res.summary["gpu_hours"]["provisioned"]
    assert np.mean(ts[:, 8]) == pytest.approx(busy, abs=0.02)
    assert res.summary["gpu_hours"]["provisioned"] == pytest.approx(120 / 3600)
    assert res.summary["cost"]["compute_usd"] == pytest.approx(2.0 * 120 / 3600)


@pytest.mark.parametrize("records", ["all", "none"])
def test_backlog_at_the_end_is_not_left_out_of_ttft_and_slo(trace_scenario, records):
    # one sequence at a time; A (t=0) gets its first token at 0.02 s and is still decoding at the end
    # (0.05 s); B (t=0.001) is still queued, 0.049 s old, past the 0.03 s TTFT objective
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 1, "batching": {"max_num_seqs": 1}}
    sc = trace_scenario([(0.0, 100, 10), (0.001, 100, 10)], fleet={"pools": [pool]}, duration=0.05,
                        slo={"ttft_s": 0.03, "tpot_s": 1.0}, metrics={"records": records})
    s = sim.run(sc).summary
    assert s["requests"]["in_flight"] == 2 and s["requests"]["completed"] == 0
    # TTFT: A's exact 0.02 s and B's lower bound 0.049 s
    assert s["latency"]["ttft"]["mean"] == pytest.approx((0.02 + 0.049) / 2, rel=1e-3 if records == "none" else 1e-9)
    # A may still meet the SLO (left out); B has certainly missed it: attainment 0 of 1
    assert s["slo"]["attainment"] == 0.0
    # the queue time of A (0) is known; B's lower bound is its age
    assert s["latency"]["queue"]["mean"] == pytest.approx(0.049 / 2, rel=1e-2 if records == "none" else 1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_itl_counts_only_measured_requests(trace_scenario, engine):
    # A (t=0, before the 0.5 s warmup) decodes alone at 0.011 s per token and stalls for B's prefill;
    # B (t=0.6, measured) decodes next to A at 0.012 s per token: ITL is B's gaps only
    res = sim.run(trace_scenario([(0.0, 100, 100), (0.6, 100, 10)], engine=engine, warmup=0.5))
    itl = res.summary["latency"]["itl"]
    assert itl["p50"] == pytest.approx(0.012, rel=1e-9)
    assert itl["p99"] == pytest.approx(0.012, rel=1e-9)
    assert itl["mean"] == pytest.approx(0.012, rel=1e-9)
