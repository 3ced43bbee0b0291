"""Memory plan and parallelism checks, against hand arithmetic."""
import pytest

from sim.perf.memory import check_parallelism, kv_bytes_per_token, memory_plan
from sim.scenario.catalog import get_gpu, get_model


def test_llama2_7b_kv_is_512_kib_per_token():
    # 2 (K,V) * 32 layers * 4096 (32 heads * 128) * 2 bytes
    assert kv_bytes_per_token(get_model("llama-2-7b")) == 2 * 32 * 4096 * 2 == 512 * 1024
    # fp8 halves it; llama-3-8b has 8 KV heads: 2*32*1024*2 = 128 KiB
    assert kv_bytes_per_token(get_model("llama-2-7b"), kv_dtype="fp8") == 256 * 1024
    assert kv_bytes_per_token(get_model("llama-3-8b")) == 128 * 1024


def test_kv_heads_replicated_when_tp_exceeds_them():
    # llama-3-8b has 8 KV heads; TP 16 keeps one (copied) head on each of 16 GPUs
    assert kv_bytes_per_token(get_model("llama-3-8b"), tp=16) == 2 * kv_bytes_per_token(get_model("llama-3-8b"))


def test_llama2_7b_on_h100_by_hand():
    plan = memory_plan(get_model("llama-2-7b"), get_gpu("h100-sxm"), tp=1)
    usable = 79.19 * 2**30 * 0.9                       # the total an H100 reports: 76,526,744,977 B
    weights = 6.74e9 * 2                               # 13.48e9 B
    # vLLM's reserve: 0.25 GiB outside torch + the larger of the forward pass over 8,192 tokens
    # (629,145,600 B) and the dummy sampler run, 4 float32 logits of 256 x 32,000 (131,072,000 B)
    reserve = 0.25 * 2**30 + max(8192 * (4 * 4096 + 2 * 11008) * 2, 256 * 32000 * 4 * 4)
    assert plan.weights_bytes_per_gpu == pytest.approx(weights)
    assert plan.activation_reserve_bytes == pytest.approx(reserve)
    blocks = int((usable - weights - reserve) // (512 * 1024 * 16))
    assert blocks == 7408
    assert (plan.kv_blocks, plan.kv_tokens, plan.fits) == (blocks, blocks * 16, True)


def test_engine_rules_by_hand():
    """SGLang's mem_fraction_static is a share of the memory free at start (the 79.19 GiB an H100 reports less
    the 0.25 GiB runtime), weights out of it; TensorRT-LLM's free fraction is a share of what weights and reserve
    leave of the datasheet's 80 GiB."""
    m, g = get_model("llama-2-7b"), get_gpu("h100-sxm")
    weights, block = 6.74e9 * 2, 512 * 1024 * 16
    sgl = memory_plan(m, g, tp=1, engine="sglang")
    assert sgl.kv_blocks == int((0.9 * (79.19 * 2**30 - 0.25 * 2**30) - weights) // block) == 7486
    trt = memory_plan(m, g, tp=1, engine="trtllm")
    reserve = 0.25 * 2**30 + 8192 * (4 * 4096 + 2 * 11008) * 2      # no sampler run
    assert trt.activation_reserve_bytes == pytest.approx(reserve)
    assert trt.kv_blocks == int(0.9 * (80 * 2**30 - weights - reserve) // block) == 7673
    # at f = 1 and the same total (a datasheet without a reported one) the TensorRT-LLM and vLLM rules agree but
    # for vLLM's sampler term (here smaller)
    d = get_gpu({"name": "h100-datasheet", "like": "h100-sxm", "hbm_gb": 80})
    assert memory_plan(m, d, tp=1, gpu_memory_utilization=1.0, engine="trtllm").kv_blocks == \
        memory_plan(m, d, tp=1, gpu_memory_utilization=1.0).kv_blocks
    with pytest.raises(ValueError, match="engine must be one of vllm, legacy, sglang, trtllm"):
        memory_plan(m, g, tp=1, engine="vllm-v1")


def test_tensor_parallel_adds_collective_buffers():
    # 1.85 GiB more per GPU at TP > 1 (NCCL and custom all-reduce buffers, measured on vLLM v0.19.0)
    m, g = get_model("llama-3-8b"), get_gpu("h100-sxm")
    one = memory_plan(m, g, tp=1).activation_reserve_bytes
    two = memory_plan(m, g, tp=2).activation_reserve_bytes / 2
    # sampler term (256 x 128,256 x 16 B) is TP-invariant; the forward pass's MLP share halves
    fwd = lambda tp: 8192 * (4 * 4096 + 2 * 14336 / tp) * 2   # noqa: E731
    samp = 256 * 128256 * 16
    assert one == pytest.approx(0.25 * 2**30 + max(fwd(1), samp))
    assert two == pytest.approx(2.10 * 2**30 + max(fwd(2), samp))


def test_tp_splits_weights_and_multiplies_capacity():
    one = memory_plan(get_model("llama-2-13b"), get_gpu("a100-80gb"), tp=1)
    two = memory_plan(get_model("llama-2-13b"), get_gpu("a100-80gb"), tp=2)
    assert two.weights_bytes_per_gpu == pytest.approx(one.weights_bytes_per_gpu / 2)
    assert two.kv_tokens > 2 * one.kv_tokens


def test_70b_does_not_fit_one_h100_but_fits_four():
    bad = memory_plan(get_model("llama-2-70b"), get_gpu("h100-sxm"), tp=1)
    assert not bad.fits and bad.kv_blocks == 0 and "does not fit" in bad.reason
    assert memory_plan(get_model("llama-2-70b"), get_gpu("h100-sxm"), tp=4).fits
    # fp8 weights (~69 GB) on one 141 GB H200 fit
    assert memory_plan(get_model("llama-2-70b"), get_gpu("h200-sxm"), tp=1, weight_dtype="fp8").fits


def test_moe_must_hold_all_experts():
    plan = memory_plan(get_model("mixtral-8x7b"), get_gpu("h100-sxm"), tp=1)
    assert plan.weights_bytes_per_gpu == pytest.approx(46.70e9 * 2)  # total, not 12.9B active
    assert not plan.fits


def test_bad_tp_message_lists_allowed_values():
    msg = check_parallelism(get_model("llama-2-7b"), 3)
    assert "must divide n_heads=32" in msg and "1, 2, 4, 8, 16, 32" in msg and "got 3" in msg
    assert check_parallelism(get_model("llama-2-7b"), 8) is None
    with pytest.raises(ValueError, match="n_heads=64"):
        memory_plan(get_model("llama-2-70b"), get_gpu("h100-sxm"), tp=3)
