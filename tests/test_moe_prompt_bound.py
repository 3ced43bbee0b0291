"""The routed experts' published Triton ``fused_moe`` timing (vLLM PR 13932, H100, DeepSeek-V3 at TP8) against the
roofline, the H200 decode step and the TP8 prompt side, each number worked by hand from the published figures and
the GPU catalog's datasheet and calibration."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import moe_prompt_bound as mpb  # noqa: E402


def test_call_flops_are_eight_experts_of_three_tp8_slices():
    # top-8, gate + up + down, hidden 7,168 by 2,048 / 8 = 256 per GPU, 2 FLOPs per multiply-add
    assert mpb.call_flops(2048) == 2 * 8 * 3 * 7168 * 256 * 2048
    # the published 2,818.65 µs at 2,048 tokens is 64 TFLOPS, ~3 % of the H100's 1,979 fp8 peak
    row = next(r for r in mpb.call_rows() if r["tokens"] == 2048)
    assert row["triton_tflops"] == pytest.approx(2 * 8 * 3 * 7168 * 256 * 2048 / 2818.65e-6 / 1e12, abs=0.05)
    assert row["triton_tflops"] < 0.05 * 1979


def test_experts_hit_is_balls_into_bins():
    # one token hits exactly its 8 experts; 128 tokens hit all but ~4 of 256 (256 x (31/32)**128 missed)
    assert mpb.experts_hit(1) == pytest.approx(8.0)
    assert mpb.experts_hit(128) == pytest.approx(256 * (1 - (1 - 1 / 32) ** 128))
    assert 251 < mpb.experts_hit(128) < 252


def test_modelled_call_is_the_h100_roofline_worked_by_hand():
    # 128 tokens: 251.6 experts x 3 x 7,168 x 256 fp8 bytes at 3.35 TB/s x 0.787 against 2 x 8 x 3 x 7,168 x 256 x 128
    # FLOPs at 1,979 x 0.691 TFLOPS, combined as (t_c**1.26 + t_m**1.26)**(1/1.26) (the catalog's Hopper p)
    hit = 256 * (1 - (1 - 8 / 256) ** 128)
    t_m = hit * 3 * 7168 * 256 / (3.35e12 * 0.787)
    t_c = 2 * 8 * 3 * 7168 * 256 * 128 / (1979e12 * 0.691)
    assert t_m > 10 * t_c   # memory-bound at a decode batch
    assert mpb.modelled_call_us(128) == pytest.approx((t_c ** 1.26 + t_m ** 1.26) ** (1 / 1.26) * 1e6, rel=1e-9)
    # the published call is over 3x the roofline at every published size: not a rate the catalog's GEMMs reach
    assert all(r["triton_over_modelled"] > 3 for r in mpb.call_rows())


def test_the_table_is_slower_than_the_served_h200_decode_allows():
    d = mpb.decode_check()
    # 58 calls of 1,732.33 µs, scaled by the HBM bandwidths 3.35 / 4.8 (memory-bound), exceed vLLM 0.7.4's whole
    # published step at 128 sequences (65.214879 ms), let alone the part of it the experts can have had
    assert d["moe_calls_ms_h200_scaled"] == pytest.approx(58 * 1732.33 * 3.35 / 4.8 / 1e3, abs=0.05)
    assert d["published_step_ms"] == pytest.approx(65.2, abs=0.05)
    assert d["calls_exceed_published_step"]
    assert d["served_call_at_most_us"] == pytest.approx(
        (65.214879 - d["modelled_other_terms_ms"]) / 58 * 1e3, abs=0.5)
    assert d["table_over_served_at_least"] > 1.0


def test_published_prompt_rate_is_the_extrapolation_worked_by_hand():
    # 20a: 1,024 x 800 output tokens in 708.259 s; 20b: 1,024 x 1,600 in 1,051.181 s; the 800 extra tokens per request
    # took 342.92 s, so zero output tokens leave 708.259 - 342.92 s for 1,024 x 3,200 prompt tokens
    prompts_s = 708.2590959 - (1051.181447 - 708.2590959)
    assert mpb.published_prompt_rate() == pytest.approx(1024 * 3200 / prompts_s, rel=1e-9)
    assert 8900 < mpb.published_prompt_rate() < 9050


def test_prompt_bound_adds_58_calls_at_the_largest_sizes_time_per_token():
    b = mpb.prompt_bound()
    per_token_call_s = 58 * 2818.65e-6 / 2048
    assert b["published_calls_us_per_token"] == pytest.approx(per_token_call_s * 1e6, abs=0.01)
    t = b["modelled_us_per_token"] * 1e-6
    assert b["with_published_calls_tokens_per_s"] == pytest.approx(1 / (t + per_token_call_s), rel=1e-3)
    # the modelled prompt is faster than published; the calls as published would bring it within ~10 % of the
    # published rate, and as much faster as the H200 decode step demands they leave it well above
    assert b["modelled_tokens_per_s"] > 3 * b["published_tokens_per_s"]
    assert b["with_published_calls_tokens_per_s"] == pytest.approx(b["published_tokens_per_s"], rel=0.10)
    assert b["with_calls_as_much_faster_as_decode_demands_tokens_per_s"] > 1.2 * b["published_tokens_per_s"]
    # the priced sets (sim.perf.fused_moe): the same calls scaled by the HBM bandwidths 3.35 / 4.8, less the roofline
    # and routing terms the step model already had for them: between the two, near 1 / (t + 0.698 x the calls)
    assert b["with_published_calls_tokens_per_s"] < b["priced_tokens_per_s"] < b["modelled_tokens_per_s"]
    assert b["priced_tokens_per_s"] == pytest.approx(1 / (t + per_token_call_s * 3.35 / 4.8), rel=0.10)
