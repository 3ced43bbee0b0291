"""Published per-kernel traces of DeepSeek-R1/V3 decode steps on one node, beside the step model's breakdown.

Prints JSON (``python benchmarks/deepseek_kernel_trace.py``): for each trace its configuration and source, and per
category of kernels the traced time beside the modelled time of the same GPU, layout, batch and context, with the
default kernel set (``trtllm``) and with the set of the trace's engine. :func:`report_lines` writes the same as a
table for docs/validation.md (section "2025-26 models").

Traces (every number as published; URLs below):

1. **vLLM, 8 H200, DeepSeek-V3.1, expert parallel over 8 (attention TP8), 4 sequences** — written by a vLLM
   contributor (GitHub nv-dlasalle) from a GPU timeline of late-2025 vLLM (github.com/vllm-project/vllm/issues/28084,
   2025-11-05). Per
   MoE layer, on the stream that runs the routed experts (the shared expert runs on a second stream): the 12
   kernels from the all-reduce to the first ``fused_moe`` (a fused residual-add RMSNorm 3.6 µs, the router GEMM as
   a split-K ``nvjet`` GEMM 4.6 and its reduce 2.3, then sigmoid 1.9, ``topk_with_k2`` 1.8,
   ``group_idx_and_topk_idx`` 7.3, a copy 1.0, ``per_token_group_quant_8bit`` 2.2, ``moe_align_block_size`` 3.5,
   ``moe_count_and_sort_expert_tokens`` 1.1, ``unrolled_elementwise`` 1.6, ``index_elementwise`` 2.5 µs), "Total with
   inter-kernel spacing: 39.8us", and the first ``fused_moe`` (the routed experts' gate/up GEMM) 40.1 µs. Context
   and prompt lengths are not published; none of these kernels depends on them (the model's terms below are
   computed at 1,024 tokens of context).
2. **SGLang, 4 B200, DeepSeek-R1-0528 NVFP4, TP4 EP4, 64 sequences, 1k/1k** — a kernel table per decode step
   written by an automated assistant from a Perfetto trace (github.com/SemiAnalysisAI/InferenceX/issues/863,
   2026-03-04, config ``dsr1-fp4-b200-sglang``): count, total and average of the ten largest kernel families.
   Secondary: its counts are checked against the architecture (61 layers, 58 of them MoE: 61 attention calls,
   58 expert GEMM pairs, 3 x 61 FP4 projection GEMMs), and the step is derived from the share it gives the
   gate/up GEMM (4.78 ms, 23.8 %: 20.1 ms). All-reduces, norms, routing and sampling are not in its table; they
   are the step less the listed kernels. Context: the mean of a 1,024-token prompt and half a 1,024-token output.

Beside them, one all-reduce over 8 H100 by message size (512 B to 1 MB), vLLM's and SGLang's custom all-reduce as
SGLang's PR timed them without CUDA graphs (github.com/sgl-project/sglang/pull/2904), against the step model's
all-reduce of the same bytes (:func:`allreduce_us`); and DeepSeek's fused q_a/kv_a projection GEMM (N=2,112,
K=7,168) on one H100 at 1 and 16 tokens as vLLM PR 23280 timed it in a CUDA graph
(github.com/vllm-project/vllm/pull/23280), against the model's roofline time of the same GEMM and the ``vllm``
set's block-fp8 floor (:func:`small_gemm_rows`); and three of DeepSeek-V3's block-fp8 GEMMs at TP8 at one token as
SGLang PR 5820 times them (:func:`gemm_floor_rows`), the second source of that floor.

Categories: routed-expert GEMMs; the other GEMMs (attention projections, dense layers, shared experts, router);
MLA attention; MoE routing (top-k, quantization, sort/align, permutation, finalize); element-wise kernels
(norms, activation quantization); inter-kernel spacing where reported. The modelled terms are the step model's
own (:meth:`sim.perf.roofline.RooflineModel.breakdown` and its busiest expert-parallel rank), no factor fitted to
any trace.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.kernels import BLOCK_FP8_GEMM_FLOOR_S, KERNEL_SETS  # noqa: E402
from sim.perf.parallel import Layout  # noqa: E402
from sim.perf.roofline import RooflineModel, smooth_roofline  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402

SRC_VLLM_28084 = ("github.com/vllm-project/vllm/issues/28084 (\"Improve MoE pre-amble (router, quantization, etc.) "
                  "perf for DSv3.1\", 2025-11-05)")
SRC_INFERENCEX_863 = ("github.com/SemiAnalysisAI/InferenceX/issues/863 (\"Profile test\", 2026-03-04; B200 FP4 "
                      "TP4 EP4 kernel table, conc 64)")

SRC_SGLANG_2904 = ("github.com/sgl-project/sglang/pull/2904 (\"optimize custom allreduce kernel\", 2025-01-15; unit test "
                   "on H100 without CUDA graphs)")

ALLREDUCE_H100_TP8_US: dict[str, tuple[tuple[int, float], ...]] = {
    "vLLM custom all-reduce": ((512, 10.1), (4096, 9.3), (32768, 11.8), (262144, 24.1), (524288, 30.4),
                               (1048576, 45.0)),
    "SGLang custom all-reduce": ((512, 5.9), (4096, 5.7), (32768, 7.8), (262144, 16.7), (524288, 22.1),
                                 (1048576, 33.8)),
}
"""One all-reduce over 8 H100 by message size (bytes, µs), as SGLang PR 2904 tabulates it (latency in ms there)."""

SRC_VLLM_23280 = ("github.com/vllm-project/vllm/pull/23280 (\"Use upstream CUTLASS for SM90 Block FP8 kernel\", "
                  "2025-09; benchmarks/kernels/bench_block_fp8_gemm.py on H100 80GB HBM3, do_bench_cudagraph)")

FUSED_QKV_A_H100_TFLOPS: dict[str, dict[int, float]] = {
    "torch bf16": {1: 3.059417, 16: 49.595406},
    "vLLM block-fp8, Triton": {1: 1.298436, 16: 20.755163},
    "vLLM block-fp8, CUTLASS": {1: 0.893065, 16: 13.940020},
}
"""DeepSeek-V3's fused q_a/kv_a projection (N=2112, K=7168; replicated, so the same at every TP degree) on one
H100 at M = 1 and 16 tokens, TFLOP/s as vLLM PR 23280 prints them (the block-fp8 rows include the activation's
per-token-group quantization: the benchmark times the whole linear op, captured in a CUDA graph)."""
QKV_A_N, QKV_A_K = 2112, 7168

SRC_SGLANG_5820 = ("github.com/sgl-project/sglang/pull/5820 (\"cutlass 3.9 supported to improve fp8_blockwise_gemm\", "
                   "2025-04-28; benchmark/kernels/quantization/bench_fp8_blockwise_gemm.py, triton.testing.do_bench, "
                   "the GEMM alone on pre-quantized inputs)")

BLOCK_FP8_GEMM_M1_US: dict[tuple[int, int], dict[str, float]] = {
    (3072, 1536): {"vLLM CUTLASS": 14.528, "DeepGEMM": 10.336},
    (512, 7168): {"vLLM CUTLASS": 20.608, "DeepGEMM": 13.632},
    (7168, 2304): {"vLLM CUTLASS": 19.200, "DeepGEMM": 14.720},
}
"""DeepSeek-V3's block-fp8 GEMMs at one token as SGLang PR 5820 tabulates them (µs): (N, K) = the q_b projection,
the shared expert's gate/up and a dense layer's down projection at TP8; vLLM's CUTLASS kernel and DeepGEMM
(the table's SGLang kernels beside them are no faster). The GPU model is not named beside these tables."""

ROUTED, OTHER_GEMM, ATTENTION, ROUTING, FINALIZE, ELEMENTWISE, SPACING = (
    "routed-expert GEMMs", "other GEMMs (attention projections, dense/shared MLP, router)", "MLA attention",
    "MoE routing (top-k, quantization, sort, finalize)",
    "MoE finalize (second expert quantization, spacing after the first expert GEMM)",
    "element-wise (norms, activation quantization)", "inter-kernel spacing")


@dataclass(frozen=True)
class Kernel:
    """One kernel (family) of a trace: ``count`` calls in the trace's scope, ``avg_us`` each."""

    category: str
    name: str
    count: int
    avg_us: float

    @property
    def total_us(self) -> float:
        return self.count * self.avg_us


@dataclass(frozen=True)
class Trace:
    """A published decode step (or part of one), kernel by kernel."""

    key: str
    engine: str
    kernels_set: str          # the kernel set of the trace's engine (sim.perf.kernels)
    gpu: str
    weight_dtype: str
    kv_dtype: str
    layout: Layout
    batch: int
    context: int
    scope: str                # "per MoE layer" or "per step"
    kernels: tuple[Kernel, ...]
    source: str
    written_by: str
    step_us: float | None = None   # the whole step, where the trace gives it


TRACES: tuple[Trace, ...] = (
    Trace("vllm-h200-ep8-c4", "vLLM (late 2025, CUDA graphs)", "vllm", "h200-sxm", "fp8", "bf16",
          Layout(tp=8, ep=8), 4, 1024, "per MoE layer",
          (Kernel(ELEMENTWISE, "triton_red_fused_..._add_mean_..._rsqrt (residual add + RMSNorm)", 1, 3.6),
           Kernel(OTHER_GEMM, "nvjet_tst_64x8_64x16_4x1_v_bz_splitK_TNT (router GEMM)", 1, 4.6),
           Kernel(OTHER_GEMM, "splitKreduce_kernel (router GEMM)", 1, 2.3),
           Kernel(ROUTING, "triton_poi_fused_..._sigmoid (scores)", 1, 1.9),
           Kernel(ROUTING, "topk_with_k2_kernel", 1, 1.8),
           Kernel(ROUTING, "group_idx_and_topk_idx_kernel", 1, 7.3),
           Kernel(ROUTING, "triton_poi_fused__to_copy_0", 1, 1.0),
           Kernel(ROUTING, "per_token_group_quant_8bit_kernel", 1, 2.2),
           Kernel(ROUTING, "moe_align_block_size_kernel", 1, 3.5),
           Kernel(ROUTING, "moe_count_and_sort_expert_tokens_kernel", 1, 1.1),
           Kernel(ROUTING, "unrolled_elementwise_kernel", 1, 1.6),
           Kernel(ROUTING, "index_elementwise_kernel", 1, 2.5),
           Kernel(SPACING, "between the 12 kernels above (39.8 us span less 33.4 us of kernels)", 1, 39.8 - 33.4),
           Kernel(ROUTED, "fused_moe (first: gate/up)", 1, 40.1)),
          SRC_VLLM_28084, "a vLLM contributor (GitHub nv-dlasalle), from a GPU timeline"),
    Trace("sglang-b200-tp4ep4-c64", "SGLang (InferenceX dsr1-fp4-b200-sglang, March 2026)", "trtllm", "b200", "fp4",
          "fp8", Layout(tp=4, ep=4), 64, 1024 + 512, "per step",
          (Kernel(ROUTED, "bmm_E2m1_E2m1E2m1_Fp32 (gate/up)", 58, 82.4),
           Kernel(ROUTED, "bmm_Bfloat16_E2m1E2m1_Fp32 (down)", 58, 49.0),
           Kernel(OTHER_GEMM, "DeviceGemmFp4GemmSm100 (q/kv_a, o projections)", 183, 8.4),
           Kernel(OTHER_GEMM, "nvjet_tst_64x32_64x16_2x1_2cta (split-K)", 61, 8.9),
           Kernel(OTHER_GEMM, "nvjet_tst_48x64_64x15_4x1", 61, 6.4),
           Kernel(OTHER_GEMM, "nvjet_tst_128x64_64x8_4x1 (v projection)", 61, 4.1),
           Kernel(OTHER_GEMM, "nvjet_tst_64x32_64x16_2x2_2cta_h (shared expert, MoE stream)", 58, 5.2),
           Kernel(ROUTING, "finalizeKernelVecLoad (weighted sum of expert outputs)", 58, 7.3),
           Kernel(ATTENTION, "fmhaSm100f ... QkvE4m3 (MLA decode)", 61, 18.9),
           Kernel(ELEMENTWISE, "cvt_fp16_to_fp4 (activation quantization)", 183, 2.1)),
          SRC_INFERENCEX_863, "an automated assistant, from a Perfetto trace (secondary)",
          step_us=4780.0 / 0.238),
)
"""The published traces (module docstring)."""


def _model(t: Trace, kernels: str) -> RooflineModel:
    return RooflineModel(get_model("deepseek-r1"), get_gpu(t.gpu), t.layout.tp, t.weight_dtype, t.kv_dtype,
                         layout=t.layout, kernels=KERNEL_SETS[kernels])


def modelled_us(t: Trace, kernels: str) -> dict[str, float]:
    """The step model's terms for ``t`` (µs, in the trace's scope) by category, with the kernel set ``kernels``."""
    m = get_model("deepseek-r1")
    rm = _model(t, kernels)
    bd = rm.breakdown(BatchShape(decode_seqs=t.batch, decode_context_tokens=t.batch * t.context))
    routed_s = rm.routed_expert_s(t.batch)   # the experts' grouped GEMM on the busiest expert-parallel rank
    routing_s = rm.kernels.moe_routing_s * m.moe_layers
    finalize_s = rm.kernels.moe_finalize_s * m.moe_layers
    terms = {ROUTED: routed_s, OTHER_GEMM: bd.linear_s - routed_s - routing_s - finalize_s,
             ATTENTION: bd.attention_s, ROUTING: routing_s, FINALIZE: finalize_s, ELEMENTWISE: bd.activation_s,
             SPACING: 0.0, "collectives (all-reduce)": bd.comm_s, "lm head": bd.lm_head_s,
             "CPU overhead": bd.overhead_s}
    if t.scope == "per MoE layer":   # one MoE layer: the routed experts' gate/up GEMM is 2 of their 3 matrices
        gpu = get_gpu(t.gpu)
        router_bytes = m.hidden * m.n_experts * {"fp8": 1, "bf16": 2, "fp4": 0.5}[t.weight_dtype] / t.layout.tp
        terms = {ROUTED: routed_s / m.moe_layers * 2 / 3,
                 OTHER_GEMM: router_bytes / (gpu.hbm_bytes_per_s * rm.efficiency.bw_efficiency),
                 ROUTING: rm.kernels.moe_routing_s, FINALIZE: rm.kernels.moe_finalize_s,
                 ELEMENTWISE: bd.activation_s / m.n_layers, SPACING: 0.0}
    out = {k: v * 1e6 for k, v in terms.items()}
    if t.scope == "per step":
        out["step"] = bd.total_s * 1e6
    return out


def uniform_gate_up_bytes(t: Trace) -> float:
    """Bytes of routed-expert gate/up weights one GPU of ``t`` reads in a step if ``t.batch`` tokens route uniformly:
    the expected distinct local experts hit, ``E/ep * (1 - (1 - k/E)**batch)``, times 2 of an expert's 3 matrices."""
    m = get_model("deepseek-r1")
    local = m.n_experts / t.layout.ep
    hit = local * (1.0 - (1.0 - m.experts_per_token / m.n_experts) ** t.batch)
    return hit * 2 * m.hidden * m.ffn_hidden * {"fp8": 1.0, "bf16": 2.0, "fp4": 0.5}[t.weight_dtype]


def allreduce_us(gpu: str = "h100-sxm", tp: int = 8) -> dict[int, float]:
    """The step model's time of one tensor-parallel all-reduce (µs) at each message size of
    :data:`ALLREDUCE_H100_TP8_US`, from its own breakdown of DeepSeek-R1 decode steps (two all-reduces per layer):
    the per-call time is linear in the tokens, ``a + b * tokens``, read off at 1 and 2 tokens, and a message of
    ``n`` bytes carries ``n / (hidden * 2)`` bf16 tokens."""
    m = get_model("deepseek-r1")
    rm = RooflineModel(m, get_gpu(gpu), tp, "fp8", "bf16")
    per_call = [rm.breakdown(BatchShape(decode_seqs=n, decode_context_tokens=n * 1024)).comm_s / (2 * m.n_layers)
                for n in (1, 2)]
    slope = per_call[1] - per_call[0]
    return {size: (per_call[0] + slope * (size / (m.hidden * 2) - 1)) * 1e6
            for size, _ in next(iter(ALLREDUCE_H100_TP8_US.values()))}


def small_gemm_rows() -> list[dict]:
    """The fused q_a/kv_a GEMM on H100 as published (µs, from the TFLOP/s) beside the step model's roofline time for
    the same GEMM (its weight, input and bf16 output bytes and FLOPs at the catalog's H100 factors of the dtype)."""
    gpu = get_gpu("h100-sxm")
    n, k = QKV_A_N, QKV_A_K
    rows = []
    for name, by_m in FUSED_QKV_A_H100_TFLOPS.items():
        dtype = "bf16" if "bf16" in name else "fp8"
        eff, w = gpu.efficiency(dtype), {"bf16": 2.0, "fp8": 1.0}[dtype]
        for m_tokens, tflops in by_m.items():
            flops = 2.0 * m_tokens * n * k
            nbytes = n * k * w + m_tokens * k * w + m_tokens * n * 2.0
            model_s = smooth_roofline(flops / (gpu.peak_tflops(dtype) * 1e12 * eff.flops_efficiency),
                                      nbytes / (gpu.hbm_bytes_per_s * eff.bw_efficiency), gpu.overlap_exponent)
            with_floor = max(model_s, KERNEL_SETS["vllm"].fp8_linear_floor_s) if dtype == "fp8" else model_s
            rows.append({"kernel": name, "tokens": m_tokens, "published_us": round(flops / (tflops * 1e12) * 1e6, 2),
                         "modelled_us": round(model_s * 1e6, 2), "modelled_vllm_us": round(with_floor * 1e6, 2),
                         "weight_bytes": int(n * k * w)})
    return rows


def gemm_floor_rows() -> list[dict]:
    """SGLang PR 5820's block-fp8 GEMMs at one token (µs) beside the step model's roofline time of the same GEMM on
    one H200 (fp8 weights and input, bf16 output; the catalog's factors) and the GEMM's part of the ``vllm`` set's
    floor (:data:`sim.perf.kernels.BLOCK_FP8_GEMM_FLOOR_S`: the fastest of these)."""
    gpu, eff = get_gpu("h200-sxm"), get_gpu("h200-sxm").efficiency("fp8")
    rows = []
    for (n, k), by_kernel in BLOCK_FP8_GEMM_M1_US.items():
        model_s = smooth_roofline(2.0 * n * k / (gpu.peak_tflops("fp8") * 1e12 * eff.flops_efficiency),
                                  (n * k + k + 2.0 * n) / (gpu.hbm_bytes_per_s * eff.bw_efficiency), gpu.overlap_exponent)
        rows.append({"n": n, "k": k, "weight_bytes": n * k, **by_kernel, "modelled_us": round(model_s * 1e6, 2),
                     "floor_gemm_us": round(BLOCK_FP8_GEMM_FLOOR_S * 1e6, 2)})
    return rows


def counts_check(t: Trace) -> dict[str, bool]:
    """Whether each kernel's count per step is a whole number of calls per layer or per MoE layer."""
    m = get_model("deepseek-r1")
    if t.scope != "per step":
        return {}
    return {k.name: k.count % m.n_layers == 0 or k.count % m.moe_layers == 0 for k in t.kernels}


def compare(t: Trace) -> dict:
    """One trace beside the step model: per category the traced µs and the modelled µs of both kernel sets."""
    traced: dict[str, float] = {}
    for k in t.kernels:
        traced[k.category] = traced.get(k.category, 0.0) + k.total_us
    sets = sorted({"trtllm", t.kernels_set})
    model = {s: modelled_us(t, s) for s in sets}
    rows = [{"category": c, "traced_us": round(traced.get(c), 1) if c in traced else None,
             "modelled_us": {s: round(model[s][c], 1) for s in sets}}
            for c in model["trtllm"] if c != "step"]
    out = {"key": t.key, "engine": t.engine, "engine_kernel_set": t.kernels_set, "gpu": t.gpu,
           "weights": t.weight_dtype, "kv_cache": t.kv_dtype, "tp": t.layout.tp, "ep": t.layout.ep,
           "batch": t.batch, "context_tokens": t.context, "scope": t.scope, "source": t.source,
           "written_by": t.written_by, "rows": rows,
           "kernels": [{"category": k.category, "name": k.name, "count": k.count, "avg_us": k.avg_us}
                       for k in t.kernels],
           "traced_listed_us": round(sum(k.total_us for k in t.kernels), 1)}
    if t.step_us is not None:
        out["traced_step_us"] = round(t.step_us, 1)
        out["traced_unlisted_us"] = round(t.step_us - out["traced_listed_us"], 1)
        out["modelled_step_us"] = {s: round(model[s]["step"], 1) for s in sets}
    if t.scope == "per step":
        out["counts_whole_per_layer"] = counts_check(t)
    return out


def report_lines() -> list[str]:
    """What validation.md shows of this module: the traces, the all-reduces and the small GEMMs, each beside the
    step model."""
    return trace_lines() + allreduce_lines() + small_gemm_lines()


def trace_lines() -> list[str]:
    """The traces beside the step model, as a table and a paragraph for validation.md."""
    res = [compare(t) for t in TRACES]
    lines = ["**Published kernel traces of the decode step against the step model** "
             "(`python benchmarks/deepseek_kernel_trace.py` prints them as JSON). Traced: the published kernel "
             "times by category; modelled: the same GPU, layout and batch, default kernel set (`trtllm`) and the "
             f"engine's. Sources: (1) {SRC_VLLM_28084}, written by a vLLM contributor from a GPU timeline: one MoE layer of a vLLM "
             f"DeepSeek-V3.1 decode step on 8 H200, EP8, 4 sequences; (2) {SRC_INFERENCEX_863}, written by an "
             "automated assistant from a Perfetto trace (secondary; its counts check against 61 layers, 58 MoE): "
             "one SGLang DeepSeek-R1 decode step on 4 B200, NVFP4, TP4 EP4, 64 sequences.", "",
             "| trace | scope | category | traced (µs) | modelled, trtllm (µs) | modelled, engine's set (µs) |",
             "|---|---|---|---:|---:|---:|"]
    for r in res:
        for row in r["rows"]:
            if row["traced_us"] is None and not any(row["modelled_us"].values()):
                continue
            t = "—" if row["traced_us"] is None else f"{row['traced_us']:,.1f}"
            eng = row["modelled_us"][r["engine_kernel_set"]]
            lines.append(f"| {r['key']} | {r['scope']} | {row['category']} | {t} | "
                         f"{row['modelled_us']['trtllm']:,.1f} | {eng:,.1f} ({r['engine_kernel_set']}) |")
        if "traced_step_us" in r:
            lines.append(f"| {r['key']} | per step | kernels not in the table (all-reduce, norms, routing, "
                         f"sampling) | {r['traced_unlisted_us']:,.1f} | — | — |")
            lines.append(f"| {r['key']} | per step | **step** | {r['traced_step_us']:,.1f} | "
                         f"{r['modelled_step_us']['trtllm']:,.1f} | — |")
    v, s = res
    gate_up_tb_s = uniform_gate_up_bytes(TRACES[1]) / (TRACES[1].kernels[0].avg_us * 1e-6) / 1e12
    vr = {row["category"]: row for row in v["rows"]}
    sr = {row["category"]: row for row in s["rows"]}
    pre = sum(vr[c]["traced_us"] for c in (ELEMENTWISE, OTHER_GEMM, ROUTING, SPACING))
    return lines + ["", f"On H200 (1) the kernels from the all-reduce to the routed experts take {pre:.1f} µs per "
                    f"MoE layer, as long as the first expert GEMM ({vr[ROUTED]['traced_us']:.1f} µs); the step "
                    f"model prices {vr[OTHER_GEMM]['modelled_us']['trtllm'] + vr[ELEMENTWISE]['modelled_us']['trtllm']:.1f} "
                    "µs of it (the router GEMM's weight read and a share of the element-wise traffic) and, with the "
                    f"default `trtllm` set, {vr[ROUTING]['modelled_us']['trtllm']:.1f} µs for the nine routing kernels "
                    "(TensorRT-LLM's fused top-k, published separately: the TensorRT-LLM table further below) where "
                    f"vLLM's take {vr[ROUTING]['traced_us']:.1f} µs of kernels and "
                    f"{vr[SPACING]['traced_us']:.1f} µs of spacing among the twelve: the `vllm` kernel set prices "
                    f"them, {vr[ROUTING]['modelled_us']['vllm']:.1f} µs per MoE layer, "
                    f"{vr[ROUTING]['modelled_us']['vllm'] * 58 / 1e3:.1f} ms per step over 58 MoE layers; after "
                    "the first expert GEMM vLLM's `fused_moe` runs the activation, the same quantization kernel on "
                    "the second GEMM's input, the second GEMM and the sum of the experts' outputs, and the set "
                    f"prices their quantization and spacing, {vr[FINALIZE]['modelled_us']['vllm']:.1f} µs per MoE "
                    "layer (the activation's and the sum's own durations have no published Hopper number). Its "
                    f"expert GEMM is modelled at {vr[ROUTED]['modelled_us']['trtllm']:.1f} µs against "
                    f"{vr[ROUTED]['traced_us']:.1f} traced (busiest of 8 expert-parallel ranks, uniform routing). "
                    f"In (2), a step of {s['traced_step_us'] / 1e3:.1f} ms against "
                    f"{s['modelled_step_us']['trtllm'] / 1e3:.1f} modelled, the routed-expert GEMMs take "
                    f"{sr[ROUTED]['traced_us'] / 1e3:.1f} ms where the model prices "
                    f"{sr[ROUTED]['modelled_us']['trtllm'] / 1e3:.1f}: with 64 sequences routed uniformly each GPU "
                    f"would read the gate/up weights of ~56 of its 64 experts in {TRACES[1].kernels[0].avg_us} µs, "
                    f"{gate_up_tb_s:.1f} TB/s against the B200's {get_gpu('b200').hbm_bytes_per_s / 1e12:.0f}, so "
                    "the captured step ran fewer sequences or routed far from uniformly (an open question the "
                    "secondary table cannot settle); the small GEMMs and MLA "
                    f"attention take {(sr[OTHER_GEMM]['traced_us'] + sr[ATTENTION]['traced_us']) / 1e3:.1f} ms "
                    f"against {(sr[OTHER_GEMM]['modelled_us']['trtllm'] + sr[ATTENTION]['modelled_us']['trtllm']) / 1e3:.1f} "
                    f"modelled, and {s['traced_unlisted_us'] / 1e3:.1f} ms are in kernels its table leaves out. "
                    "What the model lacks is the fixed cost of many small kernels (6 GEMMs, ~3 quantizations, "
                    "the MLA kernel and ~10 routing kernels per layer at a few µs each), not bandwidth: it is "
                    "priced here only where a trace gives the numbers (the routing kernels of vLLM on H200 and the "
                    "quantization and spacing around its second expert GEMM) or TensorRT-LLM publishes one (its "
                    "fused top-k: the `trtllm` set's "
                    f"{sr[ROUTING]['modelled_us']['trtllm'] / 1e3:.2f} ms per step in (2), where SGLang's table lists "
                    f"only the finalize kernel, {sr[ROUTING]['traced_us'] / 1e3:.2f} ms)."]


def allreduce_lines() -> list[str]:
    """The all-reduce latencies beside the model's, as a table and a paragraph for validation.md."""
    rows = allreduce_rows()
    names = list(ALLREDUCE_H100_TP8_US)
    lines = ["", "**One all-reduce at small messages (8 H100, NVLink) against the step model** "
             f"(`python benchmarks/deepseek_kernel_trace.py`, key `allreduce_h100_tp8`). Published: {SRC_SGLANG_2904}. "
             "Modelled: the step model's all-reduce of the same bytes (its fixed 10 µs per call and the ring "
             "bandwidth term; DeepSeek's 7,168-wide bf16 rows, so a message of n bytes is n / 14,336 tokens).", "",
             "| message | DeepSeek tokens | " + " | ".join(f"{n} (µs)" for n in names) + " | modelled (µs) |",
             "|---:|---:|" + "---:|" * len(names) + "---:|"]
    for r in rows:
        size = f"{r['bytes'] // 1024:,} KB" if r["bytes"] >= 1024 else f"{r['bytes']} B"
        lines.append(f"| {size} | {r['deepseek_tokens']:g} | " + " | ".join(f"{r[n]:.1f}" for n in names)
                     + f" | {r['modelled_us']:.1f} |")
    small = [r for r in rows if r["bytes"] <= 32768]
    big = [r for r in rows if r["bytes"] >= 262144]
    ratio = sorted(r[names[0]] / r["modelled_us"] for r in big)
    return lines + ["", f"Up to 32 KB (2 DeepSeek tokens) the model's fixed cost per call is the published one "
                    f"({min(r[n] for r in small for n in names):.1f}-{max(r[n] for r in small for n in names):.1f} "
                    f"µs against {small[0]['modelled_us']:.1f}-{small[-1]['modelled_us']:.1f}): the small-message "
                    "all-reduces the one-node gap was suspected of are priced, two per layer. From 256 KB (18 "
                    f"tokens) vLLM's custom all-reduce takes {ratio[0]:.1f}-{ratio[-1]:.1f}x the modelled time (well "
                    "below the ring bandwidth the model gives it at these sizes): a real under-estimate "
                    "at 18-73 tokens per step, not repriced here because the table is timed without CUDA graphs "
                    "(it includes the copy into the shared buffer and launch costs a captured step does not pay) "
                    "and no captured Hopper number at these sizes is published."]


def small_gemm_lines() -> list[str]:
    """The published small GEMMs beside the model's, as two tables and a paragraph for validation.md."""
    rows = small_gemm_rows()
    floor_us = KERNEL_SETS["vllm"].fp8_linear_floor_s * 1e6
    lines = ["", "**Small projection GEMMs at a few tokens against the step model** "
             f"(`python benchmarks/deepseek_kernel_trace.py`, keys `small_gemm_h100` and `block_fp8_gemm_m1`). "
             f"Published: {SRC_VLLM_23280}: DeepSeek-V3's fused q_a/kv_a projection, N={QKV_A_N:,} K={QKV_A_K:,}, "
             "µs from the printed TFLOP/s. Modelled: the step model's roofline time of the same GEMM (weights, input "
             "and output bytes; the catalog's H100 factors), and with the `vllm` set, whose block-fp8 linear op "
             f"takes at least its floor of {floor_us:.1f} µs (`fp8_linear_floor_s`).", "",
             "| kernel | tokens | weights (MB) | published (µs) | modelled (µs) | modelled, `vllm` set (µs) | "
             "published / modelled, `vllm` |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['tokens']} | {r['weight_bytes'] / 1e6:.1f} | {r['published_us']:.1f} | "
                     f"{r['modelled_us']:.1f} | {r['modelled_vllm_us']:.1f} | "
                     f"{r['published_us'] / r['modelled_vllm_us']:.1f}x |")
    fp8 = [r for r in rows if "fp8" in r["kernel"]]
    bf16 = [r for r in rows if "bf16" in r["kernel"]]
    lo, hi = min(r["published_us"] for r in fp8), max(r["published_us"] for r in fp8)
    floors = gemm_floor_rows()
    names = [k for k in floors[0] if k not in ("n", "k", "weight_bytes", "modelled_us", "floor_gemm_us")]
    lines += ["", f"The bf16 GEMM runs at its bytes' pace ({bf16[0]['published_us']:.1f} µs against "
              f"{bf16[0]['modelled_us']:.1f} modelled), but vLLM's block-fp8 linear op, half the bytes, takes "
              f"{lo:.0f}-{hi:.0f} µs at 1 and at 16 tokens where the roofline prices {fp8[0]['modelled_us']:.1f}: "
              "flat in the tokens, a fixed cost of the op rather than bandwidth (the benchmark replays one GEMM, "
              "so its 15 MB of fp8 weights may even sit in the 50 MB L2). A second, independent source times "
              f"the GEMM alone for DeepSeek-V3's TP8 shapes ({SRC_SGLANG_5820}; µs at one token, flat to 64):", "",
              "| N | K | weights (MB) | " + " | ".join(f"{n} (µs)" for n in names)
              + " | modelled roofline, H200 (µs) | the floor's GEMM part (µs) |",
              "|---:|---:|---:|" + "---:|" * len(names) + "---:|---:|"]
    for r in floors:
        lines.append(f"| {r['n']:,} | {r['k']:,} | {r['weight_bytes'] / 1e6:.1f} | "
                     + " | ".join(f"{r[n]:.1f}" for n in names) + f" | {r['modelled_us']:.1f} | {r['floor_gemm_us']:.1f} |")
    return lines + ["", f"No block-fp8 GEMM there is shorter than {min(r[n] for r in floors for n in names):.1f} µs "
                    "at one token, whatever its weights "
                    f"({min(r['weight_bytes'] for r in floors) / 1e6:.1f}-{max(r['weight_bytes'] for r in floors) / 1e6:.1f}"
                    f" MB, a {min(r['modelled_us'] for r in floors):.0f}-{max(r['modelled_us'] for r in floors):.0f} µs "
                    "read); the `vllm` set prices the op at no less than a GEMM floor of "
                    f"{floors[0]['floor_gemm_us']:.1f} µs (the same table's DeepGEMM time for N=3,072 at 32-64 "
                    "tokens) plus the activation quantization (2.2 µs) and two kernel "
                    f"boundaries (0.53 µs each) of the H200 trace: {floor_us:.1f} µs, below the whole op as vLLM "
                    f"PR 23280 times it ({lo:.0f}-{hi:.0f} µs), so a lower bound. It applies to the 305 block-fp8 "
                    "linear calls of a DeepSeek decode step at TP8 (61 x the fused q_a/kv_a, q_b and o projections, "
                    "3 x a dense MLP's two GEMMs, 58 x the shared expert's two; `sim.perf.kernels.block_fp8_linears`). "
                    "Which kernel vLLM v0.11 runs depends on the install: DeepGEMM where N and K are multiples of "
                    "128 (later releases: N of 64) and DeepGEMM is installed and enabled "
                    "(`should_use_deepgemm_for_fp8_linear`), else CUTLASS on Hopper (the fused q_a/kv_a, N=2,112, "
                    "is a multiple of 64, not of 128); the floor takes the fastest. What would settle "
                    "the op's true cost per shape: a captured vLLM v0.11 DeepSeek decode trace on Hopper, or PR "
                    "23280's benchmark run for the TP8 shapes."]


def allreduce_rows() -> list[dict]:
    """Published all-reduce latencies on 8 H100 beside the step model's, by message size."""
    model = allreduce_us()
    return [{"bytes": size, "deepseek_tokens": round(size / (get_model("deepseek-r1").hidden * 2), 2),
             **{name: dict(pts)[size] for name, pts in ALLREDUCE_H100_TP8_US.items()},
             "modelled_us": round(model[size], 2)} for size in model]


def main() -> int:
    print(json.dumps({"traces": [compare(t) for t in TRACES],
                      "allreduce_h100_tp8": {"source": SRC_SGLANG_2904, "rows": allreduce_rows()},
                      "small_gemm_h100": {"source": SRC_VLLM_23280, "rows": small_gemm_rows()},
                      "block_fp8_gemm_m1": {"source": SRC_SGLANG_5820, "rows": gemm_floor_rows()}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
