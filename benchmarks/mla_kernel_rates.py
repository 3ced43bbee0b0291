"""Published MLA attention kernel rates beside the step model's attention at the same shape, GPU and precision.

Prints JSON (``python benchmarks/mla_kernel_rates.py``); :func:`report_lines` writes the same as tables and a
paragraph for docs/validation.md (section "2025-26 models"). The question it settles: is the MoE rows' optimism
(DeepSeek-R1, validation.md) the MLA attention kernels' own compute rate or precision? DeepSeek's MLA decodes with
the up-projections absorbed: 128 query heads share one 576-wide latent (512 + 64 rope) per token and layer, so one
decode call of ``b`` sequences at ``c`` tokens of context does ``2 * h * b * c * (576 + 512)`` FLOPs on
``b * c * 576`` KV elements (~240 FLOPs per bf16 KV byte at 128 heads: compute-bound on Hopper and Blackwell, as
FlashMLA's deep-dive derives). The step model prices it as ``max(FLOPs / attention peak, KV bytes / attention
bandwidth)`` (:mod:`sim.perf.roofline`), the attention peak being the dense peak of the precision the kernel computes
in times the GPU catalog's attention kernel efficiency of the phase, whatever the weights' precision. Those
efficiencies are anchored on some of the points below (FlashMLA's 660 TFLOPS on Hopper, CUTLASS MLA's 969 on B200,
FlashMLA's 1,460 SM100 prefill; ``sim/scenario/data/gpus.yaml``): at those points the table checks the arithmetic,
at the others (CUTLASS MLA at 2k and 4k tokens, TP8's 16 heads, the FP8 MTP kernels, flash-attn-4) the model.

Precision (which peak applies), as published:

- DeepSeek's FlashMLA (github.com/deepseek-ai/FlashMLA, README): its dense decoding kernel (SM90) takes a BF16 KV
  cache and computes in BF16; its FP8 KV cache (the sparse V3.2 kernels) is dequantized to BF16 and the matrix
  products run in BF16 (410 TFLOPS on H800, 350 on B200).
- TensorRT-LLM, Blackwell: "In the generation phase, both Q and KV are quantized to FP8, and FP8 Multi-Query
  Attention (MQA) is used" (blog 3, "Optimizing DeepSeek R1 Throughput on NVIDIA Blackwell GPUs", FP8 KV cache;
  github.com/NVIDIA/TensorRT-LLM docs/source/blogs/tech_blog, commit 02643c1); Hopper: an FP8 FlashMLA kernel
  (FP8 WGMMA, deepseek-ai/FlashMLA PR 54) is TensorRT-LLM's default with an FP8 KV cache (NVIDIA/TensorRT-LLM PR
  3190, 2025-04). So with an FP8 KV cache TensorRT-LLM's decode attention runs at the FP8 peak, as the step model
  prices it (``kv_dtype`` fp8); every validation row on Hopper keeps a BF16 cache. The context phase's attention
  stays BF16 (PR 3190; vLLM and SGLang likewise by default): the model prices MLA prompt attention at the BF16
  peak whatever the cache (:func:`sim.perf.kernels.prefill_attention_dtype`).

Rates: :data:`DECODE` lists the published decode kernel times at DeepSeek's dimensions (sources on each point),
:data:`PREFILL` the published prefill (decompressed MLA: 192-wide query-key, 128-wide value heads) rates. No
128-head FP8 decode rate on Blackwell is published; TensorRT-LLM's own Blackwell kernels publish none at all. Blog 3
does publish what an FP8 KV cache gained end to end (+6 % throughput at the same concurrency, row 17b's setting):
:func:`fp8_gain_check` turns it into the FP8 rate it implies. Every modelled number is the step model's own
(:meth:`sim.perf.roofline.RooflineModel.breakdown`, the rows' weight precision per GPU), nothing fitted.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.parallel import Layout  # noqa: E402
from sim.perf.roofline import RooflineModel  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402

MODEL = "deepseek-r1"
LATENT, ROPE = 512, 64
"""DeepSeek-V3/R1's ``kv_lora_rank`` and ``qk_rope_head_dim``: decode query-key width 576, value width 512."""
ROW_WEIGHTS = {"h100-sxm": "fp8", "h200-sxm": "fp8", "b200": "fp4", "gb200": "fp4"}
"""The weight precision the 2025-26 DeepSeek rows run on each GPU (the attention terms do not depend on it; the
KV bandwidth fraction is still the weights' calibrated ``bw_efficiency``)."""

SRC_FLASHMLA = "github.com/deepseek-ai/FlashMLA README and docs/20250422-new-kernel-deep-dive.md"
SRC_FLASHMLA_H100 = ("github.com/ai-bot-pro/achatbot/pull/123 (2025-02-24): FlashMLA's tests/test_flash_mla.py on "
                     "a Modal H100, the run script of deepseek-ai/FlashMLA issue 19")
SRC_CUTLASS_MLA = ("github.com/sgl-project/sglang/pull/6929 (2025-06): sgl-kernel/benchmark/bench_cutlass_mla.py, "
                   "the last table of the PR's run (page size 128), GB/s = (Q + output + KV cache bytes) / median time")
SRC_TOKENSPEED = ("github.com/vllm-project/vllm/pull/41778 (2026-05): decode microbenchmark, "
                  "tokenspeed_mla_decode vs FlashInfer's trtllm_batch_decode_with_kv_cache_mla, FP8 KV cache")
SRC_FA4_MLA = ("github.com/mlc-ai/pith-train/pull/3 (2026-03): flash-attn-4 forward, MLA shape h=16, dq=192, "
               "dv=128, on H100, TFLOPS as the PR reports them")
SRC_BLOG3 = ("TensorRT-LLM blog 3 (\"Optimizing DeepSeek R1 Throughput on NVIDIA Blackwell GPUs\", FP8 KV cache: "
             "+6 % end-to-end throughput at the same concurrency)")
BLOG3_FP8_GAIN = 0.06


@dataclass(frozen=True)
class DecodePoint:
    """One published MLA decode kernel measurement. ``rows`` query rows per sequence share one KV read (heads x
    query tokens: 128 heads with attention-DP, 16 x 4 for TP8 with 3 MTP tokens); ``compute`` is the precision
    of its matrix products (and of the KV cache the model prices); ``us`` the published or derived kernel time,
    ``tflops`` the rate where only a rate is published."""

    key: str
    kernel: str
    measured_on: str
    gpu: str
    compute: str
    rows: int
    batch: int
    ctx: int
    as_published: str
    source: str
    us: float | None = None
    tflops: float | None = None


def cutlass_us(gb_s: float, batch: int, ctx: int, heads: int = 128) -> float:
    """Kernel microseconds behind bench_cutlass_mla.py's GB/s: it counts Q (``576`` bf16 per head), the output
    (``512`` per head) and the whole KV cache it allocated (``ctx`` tokens of ``576`` bf16 per sequence at page
    size 128 and ``ctx`` a multiple of 128)."""
    q = batch * heads * (LATENT + ROPE) * 2
    nbytes = q + q * LATENT / (LATENT + ROPE) + batch * ctx * (LATENT + ROPE) * 2
    return nbytes / (gb_s * 1e9) * 1e6


DECODE: tuple[DecodePoint, ...] = (
    DecodePoint("flashmla-h800-2502", "FlashMLA, first release (2025-02)", "H800 SXM5", "h100-sxm", "bf16", 128, 128,
                4096, "up to 580 TFLOPS (compute-bound)", SRC_FLASHMLA, tflops=580.0),
    DecodePoint("flashmla-h800", "FlashMLA (2025-04 kernel)", "H800 SXM5", "h100-sxm", "bf16", 128, 128, 4096,
                "up to 660 TFLOPS (compute-bound)", SRC_FLASHMLA, tflops=660.0),
    DecodePoint("flashmla-h100-tp8", "FlashMLA, first release (2025-02)", "H100 SXM", "h100-sxm", "bf16", 16, 128,
                4096, "0.215 ms (85 TFLOPS, 2,826 GB/s)", SRC_FLASHMLA_H100, us=215.0),
    *(DecodePoint(f"cutlass-mla-b200-{ctx // 1024}k", "CUTLASS MLA (sgl-kernel)", "B200", "b200", "bf16", 128, 256,
                  ctx, f"{gb:,.0f} GB/s", SRC_CUTLASS_MLA, us=cutlass_us(gb, 256, ctx))
      for ctx, gb in ((2048, 4047.294114), (4096, 4015.363449), (8192, 4124.473260))),
    DecodePoint("trtllm-gen-b200-mtp", "TensorRT-LLM's trtllm-gen MLA (FlashInfer)", "Blackwell (SM100)", "b200",
                "fp8", 64, 256, 80_000, "4,855 µs", SRC_TOKENSPEED, us=4855.0),
    DecodePoint("tokenspeed-b200-mtp", "tokenspeed_mla (CuTe DSL)", "Blackwell (SM100)", "b200", "fp8", 64, 256,
                80_000, "2,693 µs", SRC_TOKENSPEED, us=2693.0),
)
"""Published decode kernel times at DeepSeek's MLA dimensions (module docstring). H800 = H100's SMs, clocks and HBM
(priced as h100-sxm). The two MTP points (16 heads x 4 query tokens at TP8, 80k tokens) are the only published FP8
Blackwell rates; their 64 query rows per KV read are priced as 64 heads (the same FLOPs and KV bytes)."""


@dataclass(frozen=True)
class PrefillPoint:
    """A published forward rate of MLA's decompressed (prefill) attention: 192-wide query-key, 128-wide value heads."""

    kernel: str
    measured_on: str
    gpu: str
    compute: str
    seq: int | None
    tflops: float
    source: str


PREFILL: tuple[PrefillPoint, ...] = (
    *(PrefillPoint("flash-attn-4", "H100", "h100-sxm", "bf16", n, t, SRC_FA4_MLA)
      for n, t in ((2048, 422.47), (4096, 571.90), (8192, 610.64), (16384, 633.59), (32768, 623.04))),
    PrefillPoint("FlashMLA dense MHA prefill (NVIDIA's SM100 kernels)", "B200", "b200", "bf16", None, 1460.0,
                 "github.com/deepseek-ai/FlashMLA README (\"up to 1460 TFlops in forward\")"),
)


def decode_flops(p: DecodePoint) -> float:
    """FLOPs of one decode call: ``2 * rows * batch * ctx * (576 + 512)``."""
    return 2.0 * p.rows * p.batch * p.ctx * (LATENT + ROPE + LATENT)


def _model(gpu: str, kv_dtype: str, heads: int = 128, layout: Layout | None = None) -> RooflineModel:
    m = get_model(MODEL)
    return RooflineModel(m, get_gpu(gpu), m.n_heads // heads, ROW_WEIGHTS[gpu], kv_dtype, layout=layout)


def modelled_decode_us(p: DecodePoint) -> float:
    """The step model's time of the same call: its attention term of a pure-decode step of ``batch`` sequences at
    ``ctx`` tokens, ``rows`` query heads per GPU (tensor parallel over ``128 / rows``), per layer."""
    rm = _model(p.gpu, p.compute, p.rows)
    bd = rm.breakdown(BatchShape(decode_seqs=p.batch, decode_context_tokens=p.batch * p.ctx))
    return bd.attention_s / rm.model.n_layers * 1e6


def modelled_prefill_tflops(gpu: str, kv_dtype: str, seq: int = 8192) -> float:
    """The step model's prefill attention rate: its attention FLOPs over its attention time for one causal prompt of
    ``seq`` tokens (16 heads per GPU, TP8)."""
    rm = _model(gpu, kv_dtype, 16)
    bd = rm.breakdown(BatchShape(prefill_tokens=seq, prefill_seqs=1, prefill_attn_pairs=seq * (seq + 1) / 2,
                                 prefill_kv_tokens=seq))
    return bd.attention_flops / bd.attention_s / 1e12


def decode_rows() -> list[dict]:
    """Each decode point: published and modelled time and rate, and the model's time over the published one."""
    out = []
    for p in DECODE:
        flops = decode_flops(p)
        us = p.us if p.us is not None else flops / (p.tflops * 1e12) * 1e6
        model_us = modelled_decode_us(p)
        out.append({**asdict(p), "flops": flops, "published_us": us, "published_tflops": flops / us / 1e6,
                    "modelled_us": model_us, "modelled_tflops": flops / model_us / 1e6,
                    "published_over_modelled": us / model_us})
    return out


def prefill_rows() -> list[dict]:
    return [{**asdict(p), "modelled_tflops": modelled_prefill_tflops(p.gpu, p.compute),
             "modelled_tflops_fp8_kv": modelled_prefill_tflops(p.gpu, "fp8")} for p in PREFILL]


def fp8_gain_check(batch_per_gpu: int = 384, ctx: int = 2048, published_step_ms: float = 3072 / 36384.0838 * 1e3,
                   bf16_tflops: float | None = None) -> dict:
    """What blog 3's FP8 KV gain implies for the FP8 decode rate on B200, at row 17b's setting (8 B200, attention-DP,
    ``batch_per_gpu`` sequences at ``ctx`` tokens; the published step from the row's concurrency and throughput).

    +6 % throughput at the same concurrency is a step ``1 / 1.06`` as long; taken as decode attention alone (an
    FP8 cache changes nothing else of a compute-bound decode step but its KV writes), the BF16 attention time less
    that saving is the FP8 attention time, and the FLOPs over it the FP8 rate. ``bf16_tflops``: the BF16 rate that
    time is taken at (default: the step model's own)."""
    lay = Layout(tp=8, ep=8, dp_attention=True)
    shape = BatchShape(decode_seqs=8 * batch_per_gpu, decode_context_tokens=8 * batch_per_gpu * ctx)
    bd = {kd: _model("b200", kd, layout=lay).breakdown(shape) for kd in ("bf16", "fp8")}
    model_bf16 = _model("b200", "bf16")._attn_peak / 1e12
    rate = bf16_tflops or model_bf16
    bf16_ms = bd["bf16"].attention_s * 1e3 * model_bf16 / rate
    saving_ms = published_step_ms * (1.0 - 1.0 / (1.0 + BLOG3_FP8_GAIN))
    fp8_ms = bf16_ms - saving_ms
    return {"published_step_ms": published_step_ms, "published_saving_ms": saving_ms,
            "modelled_saving_ms": (bd["bf16"].total_s - bd["fp8"].total_s) * 1e3,
            "bf16_tflops": rate, "bf16_attention_ms": bf16_ms, "fp8_attention_ms": fp8_ms,
            "implied_fp8_tflops": rate * bf16_ms / fp8_ms,
            "modelled_fp8_tflops": _model("b200", "fp8")._attn_peak / 1e12}


def prefill_attention_share(tokens: int) -> float:
    """Attention's share of the modelled FLOPs of one ``tokens``-token prompt on a B200 of rows 17c/19a-b."""
    rm = _model("b200", "fp8", layout=Layout(tp=8, ep=8, dp_attention=True))
    bd = rm.breakdown(BatchShape(prefill_tokens=tokens, prefill_seqs=1, prefill_attn_pairs=tokens * (tokens + 1) / 2,
                                 prefill_kv_tokens=tokens))
    return bd.attention_flops / (bd.attention_flops + bd.linear_flops + bd.lm_head_flops)


def report_lines(steps: list[dict]) -> list[str]:
    """Tables and a paragraph for validation.md; ``steps``: the 2025-26 section's modelled decode steps (rows 17a-c,
    19a-b: published step, modelled attention)."""
    dec = decode_rows()
    pre = prefill_rows()
    rows = {r["key"]: r for r in dec}
    lines = ["**MLA attention kernels against the step model** (`python benchmarks/mla_kernel_rates.py` prints them "
             "as JSON). Precision: DeepSeek's FlashMLA computes its dense decode in BF16 and dequantizes an FP8 cache "
             "to BF16 (README); TensorRT-LLM with an FP8 KV cache quantizes Q and runs FP8 MQA, on Blackwell "
             "(blog 3) and on Hopper (an FP8 FlashMLA, its default since PR 3190): for decode the KV precision's "
             "peak applies, as the model prices it; the context phase's attention stays BF16 (PR 3190; vLLM's and "
             "SGLang's defaults likewise), as the model prices MLA prompt attention whatever the cache. Rates: "
             "published decode kernel times at DeepSeek's dimensions (128 heads, 576/512; FLOPs "
             "`2 x rows x batch x context x 1,088`) beside the step model's attention term for the same call (the "
             "attention peak is the computing precision's times the GPU catalog's attention kernel efficiency, "
             "anchored on FlashMLA's 660 on Hopper and CUTLASS MLA's 969 on B200 for decode, FlashAttention-3's 616 "
             "and FlashMLA's SM100 1,460 for prefill: at those points the table checks the arithmetic, elsewhere the "
             "model). Sources: "
             f"{SRC_FLASHMLA}; {SRC_FLASHMLA_H100}; {SRC_CUTLASS_MLA}; {SRC_TOKENSPEED}.", "",
             "| kernel | measured on | compute | query rows x sequences x context | published | published TFLOPS | "
             "modelled TFLOPS | published / modelled time |",
             "|---|---|---|---|---|---:|---:|---:|"]
    for r in dec:
        lines.append(f"| {r['kernel']} | {r['measured_on']} | {r['compute']} | {r['rows']} x {r['batch']} x "
                     f"{r['ctx']:,} | {r['as_published']} | {r['published_tflops']:,.0f} | "
                     f"{r['modelled_tflops']:,.0f} | {r['published_over_modelled']:.2f} |")
    lines += ["", "Prefill (decompressed MLA, 192/128 head dimensions), forward rates: "
              f"{SRC_FA4_MLA}; FlashMLA README (SM100 dense MHA prefill, as reported by NVIDIA).", "",
              "| kernel | measured on | tokens | published TFLOPS | modelled TFLOPS (BF16 cache) | "
              "modelled TFLOPS (FP8 cache) |", "|---|---|---:|---:|---:|---:|"]
    for r in pre:
        tokens = f"{r['seq']:,}" if r["seq"] else "— (its best)"
        lines.append(f"| {r['kernel']} | {r['measured_on']} | {tokens} | {r['tflops']:,.0f} | "
                     f"{r['modelled_tflops']:,.0f} | {r['modelled_tflops_fp8_kv']:,.0f} |")
    step = {s["id"]: s for s in steps}
    cut2k = rows["cutlass-mla-b200-2k"]["published_tflops"]
    model_b200 = rows["cutlass-mla-b200-2k"]["modelled_tflops"]
    hop = rows["flashmla-h800"]
    m = get_model(MODEL)
    fp8_weights = RooflineModel(m, get_gpu("b200"), 1, "fp8", "bf16")._attn_peak / 1e12
    model_h200 = _model("h200-sxm", "bf16")._attn_peak / 1e12
    add_17a = step["17a"]["attention_ms"] * (model_h200 / hop["published_tflops"] - 1.0)
    add_17b = step["17b"]["attention_ms"] * (model_b200 / cut2k - 1.0)
    own = fp8_gain_check(step["17b"]["per_gpu"], step["17b"]["ctx"], step["17b"]["published_ms"])
    low = fp8_gain_check(step["17b"]["per_gpu"], step["17b"]["ctx"], step["17b"]["published_ms"], cut2k)
    fp8_rows = [i for i in ("17c", "19a", "19b") if i in step]
    added = {i: [step[i]["attention_ms"] * (own["modelled_fp8_tflops"] / g["implied_fp8_tflops"] - 1.0)
                 for g in (own, low)] for i in fp8_rows}
    gap = {i: step[i]["published_ms"] - step[i]["model_ms"] for i in fp8_rows}
    tp8 = rows["flashmla-h100-tp8"]
    mtp = [rows["trtllm-gen-b200-mtp"], rows["tokenspeed-b200-mtp"]]
    fa4 = [r for r in pre if r["gpu"] == "h100-sxm"]
    lines += ["", "On Hopper with a BF16 cache the model's MLA decode rate is FlashMLA's: "
              f"{hop['modelled_tflops']:,.0f} TFLOPS modelled at 128 heads on H100 (its HBM term binds there; "
              f"{model_h200:,.0f} on H200) against up to {hop['published_tflops']:,.0f} published; at TP8's 16 heads "
              f"the kernel is bandwidth-bound and the model takes {1 / tp8['published_over_modelled'] - 1:.0%} longer "
              f"than published. On B200 with a BF16 cache the model's {model_b200:,.0f} TFLOPS is "
              f"{model_b200 / cut2k - 1:.0%} above CUTLASS MLA at the rows' 2,048 tokens "
              f"({cut2k:,.0f}; {rows['cutlass-mla-b200-8k']['published_tflops']:,.0f} at 8,192). Priced at those "
              f"published rates, row 17a's decode attention would take {add_17a:+.1f} ms and 17b's {add_17b:+.1f} ms "
              f"of steps the model leaves {step['17a']['published_ms'] - step['17a']['model_ms']:.0f} and "
              f"{step['17b']['published_ms'] - step['17b']['model_ms']:.0f} ms short. The attention peak does not "
              "take the weights' factor: with DeepSeek's own FP8 weights on B200 (no validation row) BF16 MLA decode "
              f"is priced at {fp8_weights:,.0f} TFLOPS as with the rows' FP4 ({fp8_weights / cut2k:.2f}x CUTLASS "
              "MLA's rate at 2,048 tokens). FP8 on Blackwell, the "
              f"precision of 17c and 19a-b: no 128-head rate is published; the only published FP8 kernels at "
              f"DeepSeek's dimensions (TP8 with 3 MTP tokens, 64 query rows per KV read, 80k tokens) run "
              f"{mtp[0]['published_over_modelled']:.1f}x (trtllm-gen) and {mtp[1]['published_over_modelled']:.1f}x "
              "(tokenspeed) the modelled time, a shape far from the rows'. Blog 3's FP8 gain bounds it at the "
              f"rows' shape: {BLOG3_FP8_GAIN:.0%} of 17b's {own['published_step_ms']:.1f} ms step is "
              f"{own['published_saving_ms']:.1f} ms (the model saves {own['modelled_saving_ms']:.1f} ms), which "
              f"puts FP8 decode attention at {own['implied_fp8_tflops']:,.0f} TFLOPS if BF16 ran at the model's rate "
              f"and {low['implied_fp8_tflops']:,.0f} if at CUTLASS MLA's, against the model's "
              f"{own['modelled_fp8_tflops']:,.0f}. At those rates the decode attention would take "
              + ", ".join(f"{a:+.1f} to {b:+.1f} ms ({i})" for i, (a, b) in added.items())
              + " more (the same fractions of the FP8 peak on GB200), "
              + ", ".join(f"{min(added[i]) / gap[i]:.0%}-{max(added[i]) / gap[i]:.0%}" for i in fp8_rows)
              + " of what the model leaves out of their steps. Prefill: the model prices decompressed MLA attention "
              f"at {fa4[0]['modelled_tflops']:,.0f} TFLOPS on H100/H200, "
              f"{fa4[0]['modelled_tflops'] / max(r['tflops'] for r in fa4) - 1:+.0%} against flash-attn-4's best at "
              f"MLA's head dimensions ({min(r['tflops'] for r in fa4):,.0f}-{max(r['tflops'] for r in fa4):,.0f} "
              f"from 2k to 32k tokens) and {fa4[0]['modelled_tflops'] / fa4[0]['tflops'] - 1:+.0%} at 2k; on "
              f"B200 at {pre[-1]['modelled_tflops']:,.0f} (the published {pre[-1]['tflops']:,.0f}). With an FP8 "
              f"cache it stays there ({fa4[0]['modelled_tflops_fp8_kv']:,.0f} on H100/H200, "
              f"{pre[-1]['modelled_tflops_fp8_kv']:,.0f} on B200): TensorRT-LLM's FP8 MLA (PR 3190) kept the context "
              "phase's attention in BF16, and vLLM's MLA prefill runs BF16 with an FP8 cache unless "
              "`use_prefill_query_quantization` is set (PR 31195); in 17c and 19a-b prefill attention is "
              f"{prefill_attention_share(1024):.0%} of a 1,024-token prompt's FLOPs. The "
              "MLA kernels' rate and precision are therefore not the missing half of the one-node decode step: the "
              "model is within the published kernels' spread at BF16, and the unpublished FP8 rate accounts for at "
              "most a fifth of it."]
    return lines


if __name__ == "__main__":
    print(json.dumps({"decode": decode_rows(), "prefill": prefill_rows(), "fp8_gain_17b": fp8_gain_check()},
                     indent=2))
