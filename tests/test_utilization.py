"""Load factor and MBU (``sim.perf.utilization``) against hand-worked arithmetic and bounds."""
from __future__ import annotations

import pytest

import sim
from sim.perf.linear import LinearModel
from sim.perf.utilization import BatchLimits, decode_batch, load_factor, seconds_per_request
from sim.scenario.catalog import get_gpu

from conftest import scenario
from test_queueing_theory import _queue_scenario


def test_seconds_per_request_at_the_batch_limits_by_hand():
    """base 10 ms + 0.1 ms per prompt token + 1 ms per decoding sequence; 100-token prompts and 10
    output tokens, max_num_seqs 64, 4,096 tokens per iteration: prefills go 40 at a time
    (4,096 // 100) in 0.01 + 0.0001 x 4,000 = 0.41 s, i.e. 0.01025 s each; decodes run 64 together
    in 0.01 + 0.001 x 64 = 0.074 s per token each 64 -> 9 x 0.074 / 64 = 0.01040625 s."""
    m = LinearModel(base_s=0.01, per_prefill_token_s=1e-4, per_decode_token_s=1e-3)
    lim = BatchLimits(max_num_seqs=64, max_batched_tokens=4096, kv_tokens=10**6)
    assert seconds_per_request(m, lim, 100, 10) == pytest.approx(0.41 / 40 + 9 * 0.074 / 64, rel=1e-12)
    # the KV cache binds first: 1,000 tokens hold 1,000 // (100 + 10 / 2) = 9 sequences
    assert decode_batch(BatchLimits(64, 4096, 1000), 100, 10) == 9
    assert load_factor(30.0, 60.0, 1.0) == 0.5 and load_factor(1.0, 0.0, 1.0) == 0.0


def test_load_factor_is_busy_time_when_a_replica_serves_one_request_at_a_time():
    """With ``max_num_seqs: 1`` a replica's busy time is exactly the work at its batch limits
    (prefill of one prompt at 1 ms/token, the linear model's cost of the mean prompt is the mean
    cost), so the load factor equals the busy share: ~0.6 at ρ = 0.6, ~1 when overloaded."""
    for lam, rho in ((2.4, 0.6), (4.8, 1.2)):
        s = sim.run(_queue_scenario(c=4, lam=lam, prompt={"dist": "exponential", "mean": 1000, "max": 100_000},
                                    seed=5, duration=2000.0, warmup=0.0)).summary
        u = s["utilization"]
        assert u["load_factor"] == pytest.approx(u["gpu_busy"], abs=0.02)
        assert u["load_factor"] == pytest.approx(min(rho, 1.0), abs=0.05)
        assert s["pools"]["servers"]["load_factor"] == u["load_factor"]


def test_mbu_of_single_sequence_decoding_is_bandwidth_bound():
    """One Llama-2-7B sequence at a time decoding 200 tokens on an H100 (roofline): each iteration
    reads all the weights, so it is memory-bound: bytes / peak bandwidth is at most the time the
    roofline gives it at the catalog's bandwidth efficiency, and most of it (fixed overheads and
    the prefill are the rest)."""
    sc = scenario(duration=600, model="llama-2-7b", perf={"model": "roofline"},
                  workload={"arrival": {"process": "poisson", "rate": 0.2},
                            "prompt_tokens": {"dist": "fixed", "value": 10},
                            "output_tokens": {"dist": "fixed", "value": 200}})
    sc["fleet"]["pools"][0].update(gpu="h100-sxm", batching={"max_num_seqs": 1, "max_batched_tokens": 4096})
    u = sim.run(sc).summary["utilization"]
    eff = get_gpu("h100-sxm").efficiency("bf16").bw_efficiency
    assert 0.5 * eff * u["gpu_busy"] <= u["mbu"] <= eff * u["gpu_busy"] * 1.001
    assert u["load_factor"] == pytest.approx(u["gpu_busy"], rel=0.05)   # one at a time: busy = work at the limit


