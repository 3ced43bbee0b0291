"""Prefill/decode disaggregation against hand-worked timelines (linear step model, see conftest)."""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.serving.disaggregation import transfer_time_s
from sim.serving.request import COMPLETED

from conftest import scenario

ENGINES = ["fast", "reference"]
KV_BYTES_LLAMA2_7B = 2 * 32 * 32 * 128 * 2  # K and V x layers x heads x head_dim x bf16 bytes = 512 KiB/token


def _fleet(link_gbps: float = 100.0, prefill=1, decode=1, decode_mem: float = 0.9) -> dict:
    return {"pools": [
        {"name": "prefill", "gpu": "h100-sxm", "replicas": prefill, "batching": {"max_num_seqs": 64}},
        {"name": "decode", "gpu": "a100-80gb", "replicas": decode, "gpu_memory_utilization": decode_mem,
         "batching": {"max_num_seqs": 64}}],
        "disaggregated": {"prefill_pool": "prefill", "decode_pool": "decode", "link_gbps": link_gbps}}


def _rec(result, rid):
    r = result.records
    return r[r["rid"] == rid][0]


def test_transfer_time_is_bytes_over_bandwidth():
    # 100 tokens x 512 KiB = 52,428,800 bytes = 419,430,400 bits over 100 Gb/s
    assert transfer_time_s(100, KV_BYTES_LLAMA2_7B, 100.0) == pytest.approx(419_430_400 / 100e9, rel=1e-15)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_request_prefills_transfers_then_decodes(trace_scenario, engine):
    res = sim.run(trace_scenario([(1.0, 100, 10)], fleet=_fleet(100.0), engine=engine, duration=10))
    r = _rec(res, 0)
    prefill = 0.01 + 100 * 1e-4
    xfer = 100 * KV_BYTES_LLAMA2_7B * 8 / 100e9          # 4.194 ms
    decode = 0.01 + 1e-3
    assert r["status"] == COMPLETED
    assert r["first_token_s"] - r["arrival_s"] == pytest.approx(prefill, rel=1e-12)   # TTFT: prefill pool only
    # the first decode starts after the transfer; 9 decodes on the decode replica
    assert r["completion_s"] == pytest.approx(1.0 + prefill + xfer + 9 * decode, rel=1e-12)
    assert res.pool_names[r["pool"]] == "decode"
    s = res.summary
    assert s["latency"]["ttft"]["mean"] == pytest.approx(prefill, rel=1e-9)
    assert s["latency"]["tpot"]["mean"] == pytest.approx((xfer + 9 * decode) / 9, rel=1e-9)
    # the first inter-token gap is the transfer plus one decode step; the rest are decode steps
    assert s["latency"]["itl"]["p99"] == pytest.approx(xfer + decode, rel=1e-9)
    assert s["latency"]["itl"]["p50"] == pytest.approx(decode, rel=1e-9)
    assert s["disaggregation"]["transfers"] == 1
    assert s["disaggregation"]["transfer_s_mean"] == pytest.approx(xfer, rel=1e-12)
    # both pools are billed for the whole run; each was busy only for its own part
    assert s["pools"]["prefill"]["gpu_hours_provisioned"] * 3600 == pytest.approx(10.0)
    assert s["pools"]["decode"]["gpu_hours_provisioned"] * 3600 == pytest.approx(10.0)
    assert s["pools"]["prefill"]["gpu_hours_busy"] * 3600 == pytest.approx(prefill, rel=1e-9)
    assert s["pools"]["decode"]["gpu_hours_busy"] * 3600 == pytest.approx(9 * decode, rel=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_slower_link_delays_only_the_decode_side(trace_scenario, engine):
    fast_link = sim.run(trace_scenario([(0.0, 1000, 5)], fleet=_fleet(400.0), engine=engine))
    slow_link = sim.run(trace_scenario([(0.0, 1000, 5)], fleet=_fleet(10.0), engine=engine))
    a, b = _rec(fast_link, 0), _rec(slow_link, 0)
    assert a["first_token_s"] == b["first_token_s"]
    gap = 1000 * KV_BYTES_LLAMA2_7B * 8 * (1 / 10e9 - 1 / 400e9)
    assert b["completion_s"] - a["completion_s"] == pytest.approx(gap, rel=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_single_token_request_never_leaves_the_prefill_pool(trace_scenario, engine):
    res = sim.run(trace_scenario([(0.0, 100, 1)], fleet=_fleet(), engine=engine))
    r = _rec(res, 0)
    assert res.pool_names[r["pool"]] == "prefill"
    assert r["completion_s"] == pytest.approx(0.02, rel=1e-12)
    assert res.summary["disaggregation"]["transfers"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_second_transfer_waits_for_decode_kv_blocks(trace_scenario, engine):
    # A decode replica with room for one request only (gpu_memory_utilization chosen so that the KV
    # cache holds fewer blocks than two 1000-token sequences): the second request waits on the
    # decode side, holding nothing there, until the first completes.
    sc = trace_scenario([(0.0, 1000, 50), (0.0, 1000, 50)], fleet=_fleet(100.0), engine=engine)
    res0 = sim.run(sc)
    # size the decode memory from the catalog: weights + reserve + ~1.5 sequences of KV
    from sim.perf.memory import memory_plan
    from sim.scenario.catalog import get_gpu, get_model
    m, g = get_model("llama-2-7b"), get_gpu("a100-80gb")
    full = memory_plan(m, g, 1, 0.9, block_size=16, max_batched_tokens=8192)
    per_block = KV_BYTES_LLAMA2_7B * 16
    need = (1.5 * 1050 / 16) * per_block
    mem = (full.weights_bytes_per_gpu + full.activation_reserve_bytes + need) / g.hbm_bytes
    sc["fleet"] = _fleet(100.0, decode_mem=mem)
    sc["fleet"]["pools"][1]["max_model_len"] = 1100   # vLLM needs room for one whole sequence
    res = sim.run(sc)
    blocks = res.summary["pools"]["decode"]["kv_blocks_per_replica"]
    assert 2 * 66 > blocks > 66 + 1  # one 1000+50-token sequence fits, two do not
    r0, r1 = _rec(res, 0), _rec(res, 1)
    # both prefilled together: same first token
    assert r0["first_token_s"] == r1["first_token_s"]
    # with room for both they finish together; here the second decodes only after the first
    assert _rec(res0, 0)["completion_s"] == _rec(res0, 1)["completion_s"]
    first, second = sorted([r0["completion_s"], r1["completion_s"]])
    decode = 0.01 + 1e-3
    assert second == pytest.approx(first + 49 * decode, rel=1e-9)


def test_disaggregated_fleet_under_load_conserves_and_engines_agree():
    recs = []
    for engine in ENGINES:
        sc = scenario(engine=engine, duration=60, fleet=_fleet(50.0, prefill=1, decode=2),
                      workload={"arrival": {"process": "poisson", "rate": 20},
                                "prompt_tokens": {"dist": "uniform", "low": 50, "high": 2000},
                                "output_tokens": {"dist": "uniform", "low": 1, "high": 400}})
        sc["fleet"]["pools"][1]["failures"] = {"mtbf": 15, "mttr": 3, "max_retries": 3}
        res = sim.run(sc)
        r = res.summary["requests"]
        assert r["arrived"] == r["completed"] + r["rejected"] + r["in_flight"] + r["failed"]
        assert res.summary["failures"]["requests_retried"] > 0
        done = res.records[res.records["status"] == COMPLETED]
        assert np.all(done["generated_tokens"] == done["output_tokens"])
        recs.append(res.records)
    assert np.array_equal(recs[0], recs[1])


@pytest.mark.parametrize("engine", ENGINES)
def test_static_decode_pool_batches_transferred_requests(trace_scenario, engine):
    fleet = _fleet(100.0)
    fleet["pools"][1]["batching"] = {"policy": "static", "batch_size": 2, "timeout_s": 10}
    # two prompts prefilled together (0.01 + 200e-4 = 0.03 s), transferred together, then decoded
    # as one static batch of two (0.012 s per iteration, 9 iterations)
    res = sim.run(trace_scenario([(0.0, 100, 10), (0.0, 100, 10)], fleet=fleet, engine=engine))
    xfer = 100 * KV_BYTES_LLAMA2_7B * 8 / 100e9
    for rid in (0, 1):
        r = _rec(res, rid)
        assert r["first_token_s"] == pytest.approx(0.03, rel=1e-12)
        assert r["completion_s"] == pytest.approx(0.03 + xfer + 9 * 0.012, rel=1e-12)
    # a third request alone waits for the static timeout on the decode side
    res = sim.run(trace_scenario([(0.0, 100, 10)], fleet=fleet, engine=engine, duration=30))
    r = _rec(res, 0)
    assert r["completion_s"] == pytest.approx(0.02 + xfer + 10 + 9 * 0.011, rel=1e-9)
