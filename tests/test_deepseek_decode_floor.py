"""The published small-batch DeepSeek-R1 decode steps are set beside the step model in their published setups."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import deepseek_decode_floor as floor  # noqa: E402

# dstack's online_results.csv, GPU h200, random 3,200/800: (backend, max_concurrency) -> median_itl_ms
DSTACK = {("vllm", 4): 25.693134, ("vllm", 8): 31.276644, ("vllm", 16): 49.736687, ("vllm", 32): 51.958917,
          ("vllm", 64): 63.24460101, ("vllm", 128): 65.214879, ("sglang", 4): 42.85063701,
          ("sglang", 8): 43.4286355, ("sglang", 16): 50.513247, ("sglang", 32): 59.34458649,
          ("sglang", 64): 70.33289901, ("sglang", 128): 85.8872315}


def test_dstack_points_are_the_csvs_median_itl_in_the_documented_layouts():
    """vLLM: --tensor-parallel-size 8 (TP8, experts TP-sharded); SGLang 0.4.3: --tp 8 --enable-dp-attention (that
    release sets the DP size to the TP size: attention-DP over 8 ranks, experts still TP-sharded)."""
    pts = [p for p in floor.POINTS if p.source == floor.SRC_DSTACK_ONLINE]
    got = {("vllm" if p.engine.startswith("vLLM") else "sglang", p.concurrency): p.median_itl_ms for p in pts}
    assert got == DSTACK
    for p in pts:
        assert (p.prompt_tokens, p.output_tokens, p.context) == (3200, 800, 3600)
        assert (p.layout.tp, p.layout.ep, p.layout.dp_attention) == (8, 1, p.engine.startswith("SGLang"))


def test_gpustack_point_is_sharegpt_at_concurrency_four():
    """100 ShareGPT prompts, 22,836 input and 21,338 generated tokens: 228 + 213 / 2 = 334 tokens of context."""
    p = next(p for p in floor.POINTS if p.source == floor.SRC_GPUSTACK)
    assert (p.concurrency, p.prompt_tokens, p.output_tokens, p.context, p.median_itl_ms) == (4, 228, 213, 334, 18.84)
    assert (p.layout.tp, p.layout.ep, p.layout.dp_attention) == (8, 1, False)


def test_modelled_step_is_the_sum_of_its_terms_and_grows_with_the_batch():
    steps = [floor.modelled_ms(p)["total"] for p in floor.POINTS if p.engine == floor.VLLM_07]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    m = floor.modelled_ms(floor.POINTS[0])
    assert m["overhead"] == pytest.approx(1.7)   # the H200 fp8 catalog constant, per step
    assert m["total"] >= m["overhead"] + m["linear"]


def test_report_has_every_point():
    text = "\n".join(floor.report_lines())
    assert text.count("| vLLM 0.7.4 nightly, TP8 |") == 6 and text.count("| SGLang 0.4.3, TP8 attention-DP |") == 6
    assert "| vLLM v0.11.0, TP8 | 4 | 228/213 | 18.8 |" in text


def test_vllm_points_add_the_routing_kernels_of_58_moe_layers_and_the_block_fp8_linear_floor():
    from sim.perf.kernels import KERNEL_SETS
    for p in floor.POINTS:
        assert p.kernels == ("vllm" if p.engine.startswith("vLLM") else "trtllm")
        extra = floor.modelled_ms(p)["total"] - floor.modelled_ms(p, "trtllm")["total"]
        ks, trt = KERNEL_SETS[p.kernels], KERNEL_SETS["trtllm"]
        fp8 = floor.modelled_ms(p)["fp8_floor"]
        # the engine's routing and finalize kernels in place of the trtllm set's fused top-k
        assert extra == pytest.approx(58 * (ks.moe_routing_s + ks.moe_finalize_s - trt.moe_routing_s) * 1e3 + fp8,
                                      abs=1e-9)
        assert floor.modelled_ms(p)["routing"] == pytest.approx(58 * (ks.moe_routing_s + ks.moe_finalize_s) * 1e3)
        # the floor: at most 305 block-fp8 GEMMs (61 x 3 MLA, 3 x 2 dense, 58 x 2 shared expert) at 12.6 us
        assert (0.0 < fp8 < 305 * ks.fp8_linear_floor_s * 1e3) if p.kernels == "vllm" else fp8 == 0.0
