"""The MLA kernel evidence: published figures converted by hand, the step model's MLA attention term checked against
the roofline worked by hand at the published shapes, and blog 3's FP8 gain turned into a rate by hand."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import mla_kernel_rates as mla  # noqa: E402


def _point(key: str) -> mla.DecodePoint:
    return next(p for p in mla.DECODE if p.key == key)


def test_decode_flops_are_the_absorbed_mla_count():
    # 128 heads x 256 sequences x 4,096 tokens, QK over 576 and PV over 512 per pair, 2 FLOPs per multiply-add
    assert mla.decode_flops(_point("cutlass-mla-b200-4k")) == 2 * 128 * 256 * 4096 * (576 + 512)


def test_cutlass_gb_s_back_to_kernel_time_by_hand():
    # bench_cutlass_mla.py counts Q (256 x 128 x 576 bf16), the output (x 512/576) and the KV cache (256 x 4,096 x 576
    # bf16): 37,748,736 + 33,554,432 + 1,207,959,552 bytes at 4,015.36 GB/s
    assert mla.cutlass_us(4015.363449, 256, 4096) == pytest.approx(1_279_262_720 / 4015.363449e9 * 1e6, rel=1e-12)
    assert _point("cutlass-mla-b200-4k").us == pytest.approx(318.59, abs=0.01)


def test_modelled_decode_is_the_roofline_worked_by_hand():
    # B200, BF16 cache, fp4 weights (the rows'): compute-bound at 2,250 x 0.431 TFLOPS (CUTLASS MLA's 969 at 8k over
    # the BF16 peak, the catalog's Blackwell decode attention efficiency); the KV term (read + the new tokens' write at
    # 8 TB/s x 0.708, the fp4 weights' bandwidth factor) is the smaller
    p = _point("cutlass-mla-b200-4k")
    flops_s = mla.decode_flops(p) / (2250e12 * 0.431)
    kv_s = (256 * 4096 + 256) * 576 * 2 / (8e12 * 0.708)
    assert flops_s > kv_s
    assert mla.modelled_decode_us(p) == pytest.approx(flops_s * 1e6, rel=1e-12)
    # H100, BF16 cache, 128 heads: the HBM term binds (3.35 TB/s x 0.787)
    h = _point("flashmla-h800")
    kv_s = (128 * 4096 + 128) * 576 * 2 / (3.35e12 * 0.787)
    assert mla.decode_flops(h) / (989e12 * 0.667) < kv_s
    assert mla.modelled_decode_us(h) == pytest.approx(kv_s * 1e6, rel=1e-12)
    # TP8 (16 heads per GPU): every GPU reads the whole latent, so the same bytes, an eighth of the FLOPs
    assert mla.modelled_decode_us(_point("flashmla-h100-tp8")) == pytest.approx(kv_s * 1e6, rel=1e-12)


def test_an_fp8_cache_halves_compute_bound_mla_and_the_table_says_so():
    r = {x["key"]: x for x in mla.decode_rows()}
    mtp = r["trtllm-gen-b200-mtp"]
    # 64 query rows per KV read priced as 64 heads: 2 x 64 x 256 x 80,000 x 1,088 FLOPs at the FP8 peak (4,500 x 0.431)
    # or 256 x 80,001 x 576 FP8 bytes at 8 TB/s x 0.708, whichever is longer
    assert mtp["modelled_us"] == pytest.approx(max(2 * 64 * 256 * 80_000 * 1088 / (4500e12 * 0.431),
                                                   256 * 80_001 * 576 / (8e12 * 0.708)) * 1e6, rel=1e-12)
    assert mtp["published_over_modelled"] == pytest.approx(4855.0 / mtp["modelled_us"])
    g = mla.fp8_gain_check()
    assert g["modelled_saving_ms"] == pytest.approx(g["bf16_attention_ms"] / 2, rel=1e-9)


def test_blog3_fp8_gain_to_a_rate_by_hand():
    step_ms = 3072 / 36384.0838 * 1e3                        # row 17b: 84.43 ms
    g = mla.fp8_gain_check(384, 2048, step_ms, bf16_tflops=875.0)
    saving = step_ms * (1 - 1 / 1.06)                         # 4.78 ms
    assert g["published_saving_ms"] == pytest.approx(saving)
    bf16_ms = 384 * 2048 * 2 * 128 * 1088 * 61 / 875e12 * 1e3   # 17b's busiest rank's decode attention at 875 TFLOPS
    assert g["bf16_attention_ms"] == pytest.approx(bf16_ms, rel=1e-9)
    assert g["implied_fp8_tflops"] == pytest.approx(875.0 * bf16_ms / (bf16_ms - saving), rel=1e-9)
    assert 1000 < g["implied_fp8_tflops"] < g["modelled_fp8_tflops"] == pytest.approx(4500 * 0.431)


def test_prefill_rate_is_the_bf16_peak_times_the_prefill_kernels_efficiency_whatever_the_cache():
    # FlashAttention-3's 616 TFLOPS (causal, head dim 128) over H100's 989; FlashMLA's SM100 prefill 1,460 over B200's
    # 2,250: an FP8 cache leaves MLA prompt attention in BF16 (TensorRT-LLM PR 3190)
    for kv in ("bf16", "fp8"):
        assert mla.modelled_prefill_tflops("h100-sxm", kv) == pytest.approx(989 * 0.623, rel=1e-9)
        assert mla.modelled_prefill_tflops("b200", kv) == pytest.approx(2250 * 0.649, rel=1e-9)
    assert 0.0 < mla.prefill_attention_share(1024) < 0.1


def test_attention_rate_does_not_take_the_weights_factor():
    # the same BF16 MLA decode rate with DeepSeek's FP8 weights as with the rows' FP4 (was 2,250 x 0.691 = 1,555)
    m, b200 = mla.get_model(mla.MODEL), mla.get_gpu("b200")
    rates = {w: mla.RooflineModel(m, b200, 1, w, "bf16")._attn_peak for w in ("bf16", "fp8", "fp4")}
    assert set(rates.values()) == {2250e12 * 0.431}


def test_report_lists_every_point():
    steps = [{"id": i, "per_gpu": 384, "ctx": 2048, "published_ms": 100.0, "model_ms": 50.0, "attention_ms": 10.0}
             for i in ("17a", "17b", "17c", "19a", "19b")]
    text = "\n".join(mla.report_lines(steps))
    for r in mla.decode_rows():
        assert f"| {r['published_over_modelled']:.2f} |" in text
    assert text.count("| flash-attn-4 |") == 5
