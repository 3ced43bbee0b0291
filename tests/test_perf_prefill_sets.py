"""The early-2025 kernel sets (``sglang-0.4``, ``vllm-0.7``): the block-fp8 linear GEMMs at the published rate of
the CUTLASS kernel those releases ran, and SGLang 0.4.3's absorbed MLA attention for prompt batches that continue a
chunked prompt (sim.perf.kernels, module docstring)."""
import dataclasses
import math

import pytest

from sim.perf.base import BatchShape
from sim.perf.kernels import (CUTLASS_BLOCK_FP8_FRACTION, CUTLASS_BLOCK_FP8_HOPPER, KERNEL_SETS, block_fp8_linears,
                              cutlass_block_fp8_tflops, kernel_set)
from sim.perf.roofline import RooflineModel, smooth_roofline
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.perf import parse_perf

DSR1, H200 = get_model("deepseek-r1"), get_gpu("h200-sxm")


def _rm(kernels: str, gpu=H200, model=DSR1, dtype="fp8", fused_moe: bool = False) -> RooflineModel:
    """The step model with the set ``kernels``; its routed experts' Triton ``fused_moe`` pricing (sim.perf.fused_moe,
    tested in tests/test_fused_moe.py) off unless ``fused_moe``, so that these tests see the linear GEMMs alone."""
    return RooflineModel(model, gpu, 8, dtype, "bf16",
                         kernels=kernel_set(kernels) if fused_moe else dataclasses.replace(kernel_set(kernels),
                                                                                            triton_fused_moe=False))


def _prompts(prior: int) -> BatchShape:
    """An 8,192-token prompt batch: a chunk of 1,408 after ``prior`` cached tokens, two whole 3,200-token prompts and
    the first 384 tokens of another (SGLang's chunked prefill of 3,200-token prompts)."""
    pairs = 1408 * (prior + 1409 / 2) + 2 * 3200 * 3201 / 2 + 384 * 385 / 2
    return BatchShape(prefill_tokens=8192, prefill_seqs=4, prefill_attn_pairs=pairs, prefill_kv_tokens=8192 + prior)


def test_the_cutlass_rate_is_the_median_of_the_published_table():
    """SGLang PR 5820's ``vllm`` column at M = 4,096: 2 M N K / time, by hand."""
    rates = sorted(2 * 4096 * n * k / (us * 1e-6) / 1e12 for _, n, k, us in CUTLASS_BLOCK_FP8_HOPPER)
    assert rates == pytest.approx([614.620, 729.004, 891.046], abs=0.001)
    assert cutlass_block_fp8_tflops() == rates[1]
    assert CUTLASS_BLOCK_FP8_FRACTION == pytest.approx(729.004 / 1979, rel=1e-6)
    # below DeepGEMM's time on every shape of the same table (1,127.4, 165.4, 37.6 us) and below the catalog's GEMM rate
    deepgemm = {24576: 1127.392054, 32768: 165.408000, 3072: 37.632000}
    assert all(us > deepgemm[n] for _, n, _, us in CUTLASS_BLOCK_FP8_HOPPER)
    assert CUTLASS_BLOCK_FP8_FRACTION < H200.efficiency("fp8").flops_efficiency


def test_the_early_sets_are_their_namesakes_plus_the_prompt_terms():
    for early, base in (("sglang-0.4", "trtllm"), ("vllm-0.7", "vllm")):
        ks = KERNEL_SETS[early]
        assert ks.fp8_gemm_flops_fraction == CUTLASS_BLOCK_FP8_FRACTION
        assert ks.triton_fused_moe and not KERNEL_SETS[base].triton_fused_moe
        assert dataclasses.replace(ks, name=base, fp8_gemm_flops_fraction=None, mla_absorbed_prefix_batches=False,
                                   triton_fused_moe=False) == KERNEL_SETS[base]
    assert KERNEL_SETS["sglang-0.4"].mla_absorbed_prefix_batches and not KERNEL_SETS["vllm-0.7"].mla_absorbed_prefix_batches
    for name in ("trtllm", "pytorch", "vllm"):      # the other sets keep the GEMMs' rate and the decompressed prompts
        assert KERNEL_SETS[name].fp8_gemm_flops_fraction is None and not KERNEL_SETS[name].mla_absorbed_prefix_batches


def test_block_fp8_linears_take_their_roofline_at_the_cutlass_rate():
    """A prompt batch of 8,192 tokens without a cached prefix: ``vllm-0.7`` - ``vllm`` is, GEMM by GEMM, the smooth
    roofline at 729 TFLOPS less the one at the catalog's rate (weights + in/out bytes at its bandwidth)."""
    shape, n = _prompts(0)._replace(prefill_attn_pairs=8192 * 8193 / 2, prefill_kv_tokens=8192), 8192
    eff = H200.efficiency("fp8")
    gemm, cutlass = 1979e12 * eff.flops_efficiency, 1979e12 * CUTLASS_BLOCK_FP8_FRACTION
    bw, p = H200.hbm_bytes_per_s * eff.bw_efficiency, H200.overlap_exponent
    extra = 0.0
    for calls, nn, k in block_fp8_linears(DSR1, 8, DSR1.n_layers):
        mem = (nn * k + 2.0 * (nn + k) * n) / bw
        extra += calls * (smooth_roofline(2.0 * nn * k * n / cutlass, mem, p) - smooth_roofline(2.0 * nn * k * n / gemm, mem, p))
    got = _rm("vllm-0.7").step_time(shape) - _rm("vllm").step_time(shape)
    assert got == pytest.approx(extra, rel=1e-9)
    # compute-bound at this size: close to the FLOPs at the two rates' difference (hand-worked: 14.1 GFLOP per token)
    flops = sum(c * 2.0 * nn * k * n for c, nn, k in block_fp8_linears(DSR1, 8, DSR1.n_layers))
    assert flops / n == pytest.approx(2 * (61 * (2112 * 7168 + 3072 * 1536 + 7168 * 2048) + 3 * (4608 * 7168 + 7168 * 2304)
                                           + 58 * (512 * 7168 + 7168 * 256)), rel=1e-12)
    assert 0.9 < got / (flops * (1 / cutlass - 1 / gemm)) < 1.1
    assert _rm("vllm-0.7").breakdown(shape).total_s == pytest.approx(_rm("vllm-0.7").step_time(shape), rel=1e-12)


def test_decode_at_a_few_sequences_barely_moves():
    """At 4 decoding sequences the block-fp8 GEMMs are bound by their weights: the lower compute rate adds < 0.5 %
    (nothing with ``vllm-0.7``, whose GEMMs take the set's 12.6 us floor at that size)."""
    d = BatchShape(decode_seqs=4, decode_context_tokens=4 * 3600)
    assert 1.0 < _rm("sglang-0.4").step_time(d) / _rm("trtllm").step_time(d) < 1.005
    assert _rm("vllm-0.7").step_time(d) == _rm("vllm").step_time(d)


def test_models_without_fp8_weights_are_untouched():
    """A bf16 model or a GPU without fp8 tensor cores: no block-fp8 GEMM, the same bits as the namesake set."""
    llama, a100 = get_model("llama-2-7b"), get_gpu("a100-80gb")
    shapes = [BatchShape(prefill_tokens=4096, prefill_seqs=2, prefill_attn_pairs=2 * 2048 * 2049 / 2,
                         prefill_kv_tokens=4096 + 1000), BatchShape(decode_seqs=16, decode_context_tokens=16 * 1000)]
    for gpu in (a100, H200):
        for s in shapes:
            assert _rm("sglang-0.4", gpu, llama, "bf16", fused_moe=True).step_time(s) \
                == _rm("trtllm", gpu, llama, "bf16").step_time(s)
            assert _rm("vllm-0.7", gpu, llama, "bf16", fused_moe=True).step_time(s) \
                == _rm("vllm", gpu, llama, "bf16").step_time(s)


def test_sglang_prompt_batches_with_a_cached_prefix_run_absorbed_mla():
    """SGLang 0.4.3 ran the weight-absorbed MLA for every prompt of a batch in which any chunk has cached tokens
    before it: (2 x 512 + 64) x 128 FLOPs per pair and head set against the decompressed (192 + 128) x 128, 3.4x."""
    assert (2 * 512 + 64) / (192 + 128) == 3.4
    sg, tr = _rm("sglang-0.4"), _rm("trtllm")
    fresh, continued = _prompts(0)._replace(prefill_kv_tokens=8192), _prompts(1792)
    assert sg.breakdown(fresh).attention_flops == tr.breakdown(fresh).attention_flops
    assert sg.breakdown(continued).attention_flops == pytest.approx(3.4 * tr.breakdown(continued).attention_flops,
                                                                    rel=1e-12)
    # compute-bound at the catalog's prompt attention rate: 3.4x the FLOPs is 3.4x the seconds
    assert sg.breakdown(continued).attention_s == pytest.approx(3.4 * tr.breakdown(continued).attention_s, rel=1e-9)
    for s in (fresh, continued):
        assert sg.breakdown(s).total_s == pytest.approx(sg.step_time(s), rel=1e-12)
    # a dense model has no latent to absorb into
    llama = get_model("llama-2-7b")
    s = BatchShape(prefill_tokens=2048, prefill_seqs=1, prefill_attn_pairs=2048 * (1000 + 2049 / 2),
                   prefill_kv_tokens=3048)
    assert _rm("sglang-0.4", H200, llama, "bf16").step_time(s) == _rm("trtllm", H200, llama, "bf16").step_time(s)


def test_the_fraction_is_a_kernel_factor_checked_as_a_fraction():
    cfg = parse_perf({"kernels": "sglang-0.4", "kernel_factors": {"fp8_gemm_flops_fraction": 0.5}})
    assert cfg.kernel_factors.fp8_gemm_flops_fraction == 0.5
    for bad in (0, 1.5, math.nan):
        with pytest.raises(ValueError, match="fp8_gemm_flops_fraction"):
            parse_perf({"kernel_factors": {"fp8_gemm_flops_fraction": bad}})
