"""vLLM 0.7.4's published time to first token at a fixed concurrency (dstack's online runs, 8 H200, DeepSeek-R1, TP8,
3,200/800 tokens) as one prefill of a whole wave of prompts, against the step model's prefill: each number worked by
hand from the published CSV figures and the GPU catalog."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import deepseek_prompt_ttft as dpt  # noqa: E402

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.kernels import CUTLASS_BLOCK_FP8_H100_FEB25, cutlass_block_fp8_tflops, kernel_set  # noqa: E402
from sim.perf.parallel import Layout  # noqa: E402
from sim.perf.roofline import RooflineModel  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402


def test_the_requests_run_in_waves():
    """Identical requests finish together: the run's duration is (500 / concurrency) waves of the mean end-to-end
    latency (at 4: 125 x 21.534 s = 2,691.7 s against the published 2,692.1 s), and at 4 the four prompts' first
    tokens come within ~1 % of each other (a 10.9 ms standard deviation on a 974.9 ms median)."""
    w = {r["concurrency"]: r for r in dpt.waves_check()}
    assert w[4]["waves_x_mean_e2e_s"] == pytest.approx(125 * 21.53389988, abs=0.05)
    assert all(0.99 < r["duration_over_waves"] < 1.03 for r in w.values())
    assert w[4]["ttft_std_over_median"] == pytest.approx(10.92518739 / 974.8834405, abs=5e-4)
    # chunked prefill at V0's 2,048 tokens would give the four prompts their first token at chunks 2, 4, 5 and 7:
    # a spread of several chunk steps, not ~1 %
    done_at = [-(-(i * 3200) // 2048) for i in (1, 2, 3, 4)]
    assert done_at == [2, 4, 5, 7]


def test_published_rate_is_the_wave_over_its_median_ttft():
    rows = {r["concurrency"]: r for r in dpt.wave_rows()}
    assert rows[4]["published_tokens_per_s"] == round(4 * 3200 / 0.9748834405)      # 13,130
    assert rows[32]["published_tokens_per_s"] == round(32 * 3200 / 7.686501789)     # 13,322
    assert all(13000 < r["published_tokens_per_s"] < 15200 for r in rows.values())


def test_modelled_prefill_is_the_step_models_step_of_the_whole_wave():
    """The modelled step is the roofline step of N whole 3,200-token prompts (causal pairs 3,200 x 3,201 / 2 each)
    with the ``vllm-0.7`` set; at least the catalog's compute time of their active FLOPs, and, with the routed experts
    at the Triton call's published H100 times scaled to the H200's bandwidth (sim.perf.fused_moe; nothing of these
    waves enters it), within 15 % of published at every wave size (the ratio is what the section reports; 2.8-3.2
    with the experts at the GEMMs' rate)."""
    m, g = get_model("deepseek-r1"), get_gpu("h200-sxm")
    rm = RooflineModel(m, g, 8, "fp8", "bf16", layout=Layout(tp=8), kernels=kernel_set("vllm-0.7"))
    shape = BatchShape(prefill_tokens=12800, prefill_seqs=4, prefill_attn_pairs=4 * 3200 * 3201 / 2,
                       prefill_kv_tokens=12800)
    assert dpt.modelled_prefill_s(4) == pytest.approx(rm.step_time(shape), rel=1e-12)
    # a lower bound by hand: 2 x 37 B active parameters per token, over 8 GPUs at 1,979 TFLOPS x 0.691
    assert dpt.modelled_prefill_s(4) > 2 * 37e9 * 12800 / 8 / (1979e12 * 0.691)
    ratios = [r["published_over_modelled"] for r in dpt.wave_rows()]
    assert all(0.85 < x < 1.15 for x in ratios)
    assert max(ratios) / min(ratios) < 1.2          # flat from 12,800 to 102,400 tokens per step: a per-token cost
    bare = [r["published_over_modelled_experts_at_gemm_rate"] for r in dpt.wave_rows()]
    assert all(2.5 < x < 3.5 for x in bare) and max(bare) / min(bare) < 1.2


def test_expert_calls_rate_if_the_whole_gap_were_theirs():
    """58 calls of 2 x 8 x 3 x 7,168 x 256 FLOPs per token per GPU: at the catalog's rate plus the unpriced time per
    token (51.08 µs at a wave of 4), worked by hand; and PR 13932's H100 Triton rate at 1,536 and 2,048 tokens."""
    flops = 58 * 2 * 8 * 3 * 7168 * 256
    row = next(r for r in dpt.wave_rows() if r["concurrency"] == 4)
    unpriced = 0.9748834405 / 12800 - dpt.modelled_prefill_s(4, fused_moe=False) / 12800
    assert row["unpriced_us_per_token"] == pytest.approx(unpriced * 1e6, abs=0.01)
    assert row["expert_calls_tflops_if_all_theirs"] == pytest.approx(
        flops / (flops / (1979e12 * 0.691) + unpriced) / 1e12, abs=0.06)
    assert dpt.h100_triton_tflops() == pytest.approx([2 * 8 * 3 * 7168 * 256 * 1536 / 1988.70e-6 / 1e12,
                                                      2 * 8 * 3 * 7168 * 256 * 2048 / 2818.65e-6 / 1e12], abs=0.06)


def test_the_priced_cutlass_rate_is_inside_the_kernels_february_table():
    """vLLM PR 13917's CUTLASS block-fp8 times at 1,024-4,096 tokens (H100, 2025-02-26): 2 M N K / time by hand
    matches the TFLOPS the table prints (603.1, 816.7, 606.6, 613.2), and the priced rate (SGLang PR 5820's median at
    4,096 tokens) lies within that range."""
    rates = [2 * m * n * k / (us * 1e-6) / 1e12 for m, n, k, us in CUTLASS_BLOCK_FP8_H100_FEB25]
    # the times are printed to 0.1 µs: at 198.3 µs that is +-0.15 TFLOPS of the 606.6 printed
    assert rates == pytest.approx([603.1, 816.7, 606.6, 613.2], abs=0.2)
    assert min(rates) < cutlass_block_fp8_tflops() < max(rates)
