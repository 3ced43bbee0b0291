"""A pool's parallel layout in its summary: the layout keys, GPU-hours over every GPU, and MBU
counted with the layout that prices the pool's steps (pipeline stages, expert parallelism,
data-parallel attention), against hand-worked arithmetic from the published model configs.

Llama-3-8B (huggingface.co/meta-llama/Meta-Llama-3-8B, config.json): 32 layers, hidden 4,096,
32 query heads and 8 KV heads of 128, FFN 14,336 (gated: 3 matrices), vocabulary 128,256.
Mixtral-8x7B (huggingface.co/mistralai/Mixtral-8x7B-v0.1, config.json): the same attention shape
and depth, 8 experts of FFN 14,336, two per token.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.api import build_pools
from sim.metrics.fleet_summary import PoolUsage, fleet_summary
from sim.metrics.utilization import pool_bytes, pool_utilization
from sim.perf.base import BatchShape
from sim.perf.parallel import Layout
from sim.perf.roofline import RooflineModel
from sim.perf.utilization import iteration_bytes
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.load import load_scenario

H, L, Q, KV, FFN, VOCAB = 4096, 32, 4096, 1024, 14336, 128256
ATTENTION_PARAMS = L * (H * (Q + 2 * KV) + Q * H)          # q, k, v and o projections
LLAMA_LAYER_PARAMS = ATTENTION_PARAMS + L * 3 * H * FFN
LM_HEAD_PARAMS = H * VOCAB
BF16 = 2


def _scenario(pool: dict, model: str = "llama-3-8b", rate: float = 2.0) -> dict:
    return {"name": "layout", "seed": 1, "duration": "2m", "model": model,
            "workload": {"arrival": {"process": "poisson", "rate": rate},
                         "prompt_tokens": {"dist": "fixed", "value": 1000},
                         "output_tokens": {"dist": "fixed", "value": 50}},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 2, **pool}]}}


def test_a_pipeline_replica_reads_its_weights_once_per_micro_batch():
    """Two stages, two micro-batches: the stages' layers add up to the whole model, so summed over the
    replica's two GPUs an iteration moves what one GPU holding every layer moves (KV, activations:
    the same tokens through the same layers), plus one more read of every layer's weights and of
    the lm head (the second micro-batch)."""
    m, g = get_model("llama-3-8b"), get_gpu("h100-sxm")
    one = RooflineModel(m, g, layout=Layout(tp=1))
    two = RooflineModel(m, g, layout=Layout(tp=1, pp=2))
    extra = (LLAMA_LAYER_PARAMS + LM_HEAD_PARAMS) * BF16          # 15.01 GB
    for shape in (BatchShape(decode_seqs=16, decode_context_tokens=16 * 1500),
                  BatchShape(prefill_tokens=4000, prefill_seqs=4, prefill_attn_pairs=4 * 1000 * 1001 / 2,
                             prefill_kv_tokens=4000)):
        assert 2 * iteration_bytes(two, shape) - iteration_bytes(one, shape) == pytest.approx(extra, rel=1e-12)
    # a single token cannot be split: one micro-batch, each GPU reads its half of the layers once and
    # the lm head sits on one of the two
    one_token = BatchShape(decode_seqs=1, decode_context_tokens=1500)
    assert 2 * iteration_bytes(two, one_token) == pytest.approx(iteration_bytes(one, one_token), rel=1e-12)


def test_mbu_of_a_pipeline_pool_counts_the_micro_batches():
    """The same decode iterations run in the same replica time by a pp=2 pool and by a one-GPU pool:
    ``I`` iterations of 4 sequences at 1,025 tokens of context each, two micro-batches of two whole
    sequences an iteration on the two stages. Every micro-batch of the pp=2 replica moves its stage's
    weights and half the lm head (previous test: summed over its two GPUs, one more read of ``W`` =
    layer weights + lm head an iteration), the tokens' and KV terms split between the stages, so
    ``2 MBU_pp2 - MBU_1 = I W / (R x peak bandwidth)``. The old count (a roofline of ``tp = tp x pp``
    GPUs, all layers each, without micro-batches) missed those reads."""
    pools = {pp: build_pools(load_scenario(_scenario({"pipeline_parallel": pp})))[0] for pp in (1, 2)}
    its, rep_s = 1000, 600.0

    def mbu(pool, micro_batches):
        moved = pool_bytes(pool, steps=(its, 4 * its, 4 * 1025 * its, micro_batches))
        return pool_utilization(pool, requests=10.0, prompt_mean=1000.0, output_mean=50.0, replica_seconds=rep_s,
                                moved=moved, ran=True)["mbu"]

    w = (LLAMA_LAYER_PARAMS + LM_HEAD_PARAMS) * BF16
    bw = get_gpu("h100-sxm").hbm_bytes_per_s
    assert 2 * mbu(pools[2], 2 * its) - mbu(pools[1], None) == pytest.approx(its * w / (rep_s * bw), rel=1e-9)


def test_mbu_of_an_expert_parallel_pool_with_data_parallel_attention_reads_whole_attention_weights():
    """Mixtral-8x7B on TP2 with expert parallelism and data-parallel attention: each GPU holds the
    whole attention (``ATTENTION_PARAMS``), not half of it, and the experts split as before. At a
    decode batch of 2 (one sequence per attention rank) an iteration reads ``ATTENTION_PARAMS / 2``
    more bf16 weights per GPU than the tensor-parallel layout (GEMM inputs and outputs move it by
    less than 0.1 %). The mean GPU reads the same expert weights in both layouts (the distinct
    experts hit, spread over the GPUs), though the step waits for the busiest expert-parallel rank.
    The element-wise traffic shrinks: each attention rank's element-wise kernels see only its own
    token instead of both, ``2 L x 10 h x 2 bytes`` less per token and GPU in all, here
    ``2 tokens x (1 - 1/2) x 2 x 32 x 10 x 4096`` bytes."""
    base = {"tensor_parallel": 2}
    tp_pool = build_pools(load_scenario(_scenario(base, "mixtral-8x7b")))[0]
    ep_pool = build_pools(load_scenario(_scenario(
        {**base, "expert_parallel": 2, "data_parallel_attention": True}, "mixtral-8x7b")))[0]
    shape = BatchShape(decode_seqs=2, decode_context_tokens=2 * 1025)
    diff = iteration_bytes(ep_pool.step_model, shape) - iteration_bytes(tp_pool.step_model, shape)
    elementwise = 2 * 0.5 * 2 * 32 * 10 * 4096
    assert diff + elementwise == pytest.approx(ATTENTION_PARAMS / 2 * BF16, rel=1e-3)
    act = ep_pool.step_model.breakdown(shape).activation_bytes - tp_pool.step_model.breakdown(shape).activation_bytes
    assert act == -elementwise

    def mbu(pool):        # ten decode iterations of that shape
        moved = pool_bytes(pool, steps=(10, 20, 10 * 2 * 1025))
        return pool_utilization(pool, requests=10.0, prompt_mean=1000.0, output_mean=50.0, replica_seconds=60.0,
                                moved=moved, ran=True)["mbu"]

    assert mbu(ep_pool) > mbu(tp_pool) * 1.05


def _usage(pool, gpu_s: float) -> PoolUsage:
    return PoolUsage(pool=pool, provisioned_gpu_s=gpu_s, busy_gpu_s=gpu_s / 2, flops_done=0.0, kv_cache_mean=0.0,
                     requests=0.0, prompt_mean=0.0, output_mean=0.0)


@pytest.mark.parametrize("pool,model,keys", [
    ({"tensor_parallel": 2, "pipeline_parallel": 2}, "llama-3-8b", (2, 2, 1, 4)),
    ({"tensor_parallel": 2, "expert_parallel": 2, "data_parallel_attention": True}, "mixtral-8x7b", (2, 1, 2, 2)),
])
def test_pool_blocks_name_each_degree_of_the_layout(pool, model, keys):
    loaded = load_scenario(_scenario(pool, model))
    (p,) = build_pools(loaded)
    gpr = keys[3]
    f = fleet_summary(loaded.scenario, [_usage(p, 2 * gpr * 3600.0)], kv_cache_mean=0.0, timeseries=np.zeros((0, 9)),
                      requests={"arrived": 0, "in_flight": 0}, end_s=3600.0)
    block = f.pools["main"]
    assert (block["tensor_parallel"], block["pipeline_parallel"], block["expert_parallel"],
            block["gpus_per_replica"]) == keys
    assert block["gpu_hours_provisioned"] == 2 * gpr     # two replicas for an hour, every GPU counted


def test_a_pipeline_pool_run_bills_every_gpu():
    """Two replicas of TP2 x PP2 for two minutes: 2 x 4 x 120 s = 960 GPU-seconds, in the summary,
    the pool block and the money (GPU-hours x the hourly price)."""
    sc = _scenario({"tensor_parallel": 2, "pipeline_parallel": 2}, rate=1.0)
    sc["economics"] = {"gpu_hour_usd": 3.0}
    s = sim.run(sc).summary
    block = s["pools"]["main"]
    assert (block["tensor_parallel"], block["pipeline_parallel"], block["gpus_per_replica"]) == (2, 2, 4)
    assert s["gpu_hours"]["provisioned"] == pytest.approx(960 / 3600, rel=1e-12)
    assert block["gpu_hours_provisioned"] == pytest.approx(960 / 3600, rel=1e-12)
    assert s["cost"]["compute_usd"] == pytest.approx(3.0 * 960 / 3600, rel=1e-9)


def test_mbu_under_data_parallel_attention_counts_the_mean_gpu_not_the_busiest_rank():
    """Three decoding sequences of 1,000 tokens of context on Llama-3-8B, TP2 with data-parallel
    attention: one rank runs two of them, the other one. The step waits for the busy rank (its KV
    traffic: 2 x (1,000 read + 1 written) tokens x 32 layers x 2 x 1,024 x 2 bytes), but utilization
    counts the mean GPU: 1.5 sequences' KV traffic, and 1.5 tokens (not 2) through the attention
    GEMMs' inputs and outputs (``L (2h + 2q + 2kv)`` bf16 values per token: the layer input and
    output, q, k, v and the attention output)."""
    r = RooflineModel(get_model("llama-3-8b"), get_gpu("h100-sxm"), layout=Layout(tp=2, dp_attention=True))
    shape = BatchShape(decode_seqs=3, decode_context_tokens=3 * 1000)
    kv_token = L * 2 * KV * BF16
    busiest = r.breakdown(shape)
    assert busiest.kv_bytes == 2 * (1000 + 1) * kv_token
    linear_bytes, kv_bytes = r.mean_gpu_bytes(shape)
    assert kv_bytes == 1.5 * (1000 + 1) * kv_token
    assert busiest.linear_bytes - linear_bytes == (2 - 1.5) * L * (2 * H + 2 * Q + 2 * KV) * BF16
    assert iteration_bytes(r, shape) == (linear_bytes + kv_bytes + busiest.activation_bytes
                                         + busiest.lm_head_bytes)
    # an even split has no busiest rank: mean and breakdown agree
    even = BatchShape(decode_seqs=4, decode_context_tokens=4000)
    assert r.mean_gpu_bytes(even) == (r.breakdown(even).linear_bytes, r.breakdown(even).kv_bytes)


def test_mbu_of_a_pipeline_counts_whole_sequence_micro_batches():
    """A single prompt on PP2 is one micro-batch: each GPU reads its half of the layers once (the
    replica's two GPUs together move what one GPU holding every layer moves); 3 decodes in
    micro-batches of 2 and 1 read the weights twice, like 4 decodes in micro-batches of 2."""
    m, g = get_model("llama-3-8b"), get_gpu("h100-sxm")
    one = RooflineModel(m, g, layout=Layout(tp=1))
    two = RooflineModel(m, g, layout=Layout(tp=1, pp=2))
    prompt = BatchShape(prefill_tokens=2048, prefill_seqs=1, prefill_attn_pairs=2048 * 2049 / 2,
                        prefill_kv_tokens=2048)
    assert 2 * iteration_bytes(two, prompt) == pytest.approx(iteration_bytes(one, prompt), rel=1e-12)
    extra = (LLAMA_LAYER_PARAMS + LM_HEAD_PARAMS) * BF16
    three = BatchShape(decode_seqs=3, decode_context_tokens=3 * 1500)
    assert 2 * iteration_bytes(two, three) - iteration_bytes(one, three) == pytest.approx(extra, rel=1e-12)
