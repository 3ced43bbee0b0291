"""DeepSeek-R1 decode steps on one 8-GPU node at small batches: published inter-token latencies against the step model.

Used by ``benchmarks/validate_perf.py`` (section "2025-26 models"). The throughput rows of DeepSeek-R1 on one node
(TensorRT-LLM 17a-c and 19a-b, SGLang and vLLM 20a-21f) run at hundreds or thousands of sequences; these points
hold the batch at 4-128 sequences (the benchmark client's fixed concurrency), where a decode step is mostly the
per-step cost the step model prices as its fixed overhead plus weight reads. The median inter-token latency is
the decode step of the run: prompts arriving now and then stall some tokens, which land in the tail, not in the
median.

Published points (8x H200 SXM, DeepSeek-R1 and R1-0528, DeepSeek's FP8 checkpoint, bf16 KV cache):

- dstack (dstack.ai/blog/h200-mi300x-deepskeek-benchmark, March 2025), raw data github.com/dstackai/benchmarks
  ``Deepseek-R1/raw_data/online_results.csv``: SGLang's ``bench_serving.py``, random 3,200-token prompts and
  800-token outputs, ``--max-concurrency`` 4-128, 500 prompts; ``median_itl_ms``. vLLM 0.7.4 nightly
  (``vllm serve --tensor-parallel-size 8``, FlashMLA: TP8, experts TP-sharded) and SGLang 0.4.3.post2
  (``--tp 8 --enable-dp-attention``, which in that release sets the DP size to the TP size: attention-DP over 8
  ranks, experts still TP-sharded).
- GPUStack performance lab (docs.gpustack.ai/latest/performance-lab/deepseek-r1/h200, late 2025), baseline
  "ShareGPT batch size 4": vLLM v0.11.0 (``vllm serve -tp 8``), ``vllm bench serve`` with
  ``--max-concurrency`` 4, 100 ShareGPT prompts (22,836 input and 21,338 generated tokens: 228 and 213 per
  request); median ITL 18.84 ms.

Modelled: the step model's pure-decode step (:meth:`RooflineModel.breakdown`) at batch = concurrency and the mean
context of a request halfway through its output (prompt + output / 2), in the published layout, with the kernel set
of the point's engine (``vllm`` for vLLM: its traced MoE routing kernels, the quantization and spacing around
its second expert GEMM and the per-call floor of its block-fp8 linear ops, :mod:`sim.perf.kernels`; ``trtllm`` for
SGLang, whose kernels no H200 trace prices) and, beside it, the default ``trtllm`` set; no factor.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.kernels import KERNEL_SETS  # noqa: E402
from sim.perf.parallel import Layout  # noqa: E402
from sim.perf.roofline import RooflineModel  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402

SRC_DSTACK_ONLINE = ("dstack.ai/blog/h200-mi300x-deepskeek-benchmark (March 2025), github.com/dstackai/benchmarks "
                     "Deepseek-R1/raw_data/online_results.csv, median_itl_ms")
SRC_GPUSTACK = ("docs.gpustack.ai/latest/performance-lab/deepseek-r1/h200 (github.com/gpustack/gpustack "
                "docs/performance-lab/deepseek-r1/h200.md), baseline \"ShareGPT batch size 4\", median ITL")


@dataclass(frozen=True)
class Point:
    """One published median inter-token latency at a fixed concurrency."""

    engine: str
    layout: Layout
    concurrency: int
    prompt_tokens: int
    output_tokens: int
    median_itl_ms: float
    source: str
    kernels: str = "trtllm"   # the kernel set of the engine (sim.perf.kernels)

    @property
    def context(self) -> int:
        """Mean decode context: the prompt and half the output."""
        return self.prompt_tokens + self.output_tokens // 2


TP8 = Layout(tp=8)
DP8_ATTENTION = Layout(tp=8, dp_attention=True)
VLLM_07 = "vLLM 0.7.4 nightly, TP8"
SGLANG_043 = "SGLang 0.4.3, TP8 attention-DP"
POINTS: list[Point] = [
    *(Point(VLLM_07, TP8, c, 3200, 800, itl, SRC_DSTACK_ONLINE, "vllm") for c, itl in
      [(4, 25.693134), (8, 31.276644), (16, 49.736687), (32, 51.958917), (64, 63.24460101), (128, 65.214879)]),
    *(Point(SGLANG_043, DP8_ATTENTION, c, 3200, 800, itl, SRC_DSTACK_ONLINE) for c, itl in
      [(4, 42.85063701), (8, 43.4286355), (16, 50.513247), (32, 59.34458649), (64, 70.33289901),
       (128, 85.8872315)]),
    Point("vLLM v0.11.0, TP8", TP8, 4, round(22_836 / 100), round(21_338 / 100), 18.84, SRC_GPUSTACK, "vllm"),
]


def modelled_ms(p: Point, kernels: str | None = None) -> dict[str, float]:
    """The step model's pure-decode step of ``p`` (ms) with the kernel set ``kernels`` (default the point's engine's):
    total, its fixed per-step overhead, the rest, what the kernel set's block-fp8 linear floor adds
    (``fp8_floor``) and its MoE routing and finalize terms (``routing``)."""
    ks = KERNEL_SETS[kernels or p.kernels]
    shape = BatchShape(decode_seqs=p.concurrency, decode_context_tokens=p.concurrency * p.context)
    bd, bare = (RooflineModel(get_model("deepseek-r1"), get_gpu("h200-sxm"), p.layout.tp, "fp8", "bf16",
                              layout=p.layout, kernels=k).breakdown(shape)
                for k in (ks, replace(ks, fp8_linear_floor_s=0.0)))
    moe_layers = get_model("deepseek-r1").moe_layers
    return {"total": bd.total_s * 1e3, "overhead": bd.overhead_s * 1e3, "comm": bd.comm_s * 1e3,
            "linear": bd.linear_s * 1e3, "fp8_floor": (bd.total_s - bare.total_s) * 1e3,
            "routing": (ks.moe_routing_s + ks.moe_finalize_s) * moe_layers * 1e3}


def report_lines() -> list[str]:
    """The table and a paragraph for validation.md."""
    rows = [(p, modelled_ms(p)) for p in POINTS]
    default = {p: modelled_ms(p, "trtllm")["total"] for p in POINTS}
    lines = ["**The decode step at small batches (8 H200, DeepSeek-R1).** Published median inter-token latency at a "
             "fixed client concurrency (the batch) beside the modelled pure-decode step at that batch and the mean "
             f"context (prompt + half the output), with the kernel set of the engine (`vllm`: vLLM's traced MoE "
             "routing kernels, the quantization and spacing around its second expert GEMM and the per-call floor "
             "of its block-fp8 linear ops; SGLang keeps "
             "`trtllm`, no H200 trace prices its kernels) and with the default "
             f"`trtllm` set; sources: {SRC_DSTACK_ONLINE}; {SRC_GPUSTACK}.", "",
             "| engine, layout | concurrency | prompt/output | published step (ms) | modelled (ms) | kernel set | "
             "modelled, trtllm (ms) | of which fixed overhead | published / modelled |",
             "|---|---:|---|---:|---:|---|---:|---:|---:|"]
    for p, m in rows:
        lines.append(f"| {p.engine} | {p.concurrency} | {p.prompt_tokens:,}/{p.output_tokens:,} | "
                     f"{p.median_itl_ms:.1f} | {m['total']:.1f} | {p.kernels} | {default[p]:.1f} | "
                     f"{m['overhead']:.1f} | {p.median_itl_ms / m['total']:.1f}x |")
    small = [(p, m) for p, m in rows if p.concurrency == 4]
    ratios = sorted(p.median_itl_ms / m["total"] for p, m in small)
    gaps = sorted(p.median_itl_ms - m["total"] for p, m in small)
    v07 = sorted(p.median_itl_ms - m["total"] for p, m in rows if p.engine == VLLM_07)
    large = sorted(p.median_itl_ms / m["total"] for p, m in rows if p.concurrency >= 64)
    layers = get_model("deepseek-r1").n_layers
    latest_p, latest = next((p, m) for p, m in small if p.source == SRC_GPUSTACK)
    routing = sorted(m["routing"] for p, m in rows if p.kernels != "trtllm")
    fp8 = sorted(m["fp8_floor"] for p, m in rows if p.kernels != "trtllm")
    comm = latest["comm"]
    # the engine's priced terms as a share of the gap the model leaves without them
    share = sorted((m["routing"] + m["fp8_floor"]) / (p.median_itl_ms - m["total"] + m["routing"] + m["fp8_floor"])
                   for p, m in small if p.kernels != "trtllm")
    return lines + ["", f"At 4 sequences the published steps are {ratios[0]:.1f}-{ratios[-1]:.1f}x the modelled "
                    f"ones, {gaps[0]:.0f}-{gaps[-1]:.0f} ms more, about {gaps[0] / layers * 1e3:.0f}-"
                    f"{gaps[-1] / layers * 1e3:.0f} µs per layer over {layers} layers: vLLM v0.11.0 (late 2025) "
                    f"still takes {latest_p.median_itl_ms:.1f} ms where the model prices {latest['total']:.1f} "
                    f"with the `vllm` kernel set, {default[latest_p]:.1f} with `trtllm` "
                    f"(of which {latest['overhead']:.1f} ms of fixed per-step overhead, fitted on TensorRT-LLM's "
                    "Llama-2-7B rows 7a-d: a dense 32-layer model on one GPU; the rest weight reads and all-reduces at a batch that touches few experts). So on one node "
                    "the step model also misses a roughly batch-independent cost of a DeepSeek decode step, several "
                    "times its fixed overhead, on each engine here and in late-2025 software; for vLLM 0.7.4 the "
                    f"excess is {v07[0]:.0f}-{v07[-1]:.0f} ms at every batch from 4 to 128 sequences. Of the "
                    "candidates (launches and spacing of the ~25 kernels of an MLA + MoE layer, MoE routing and "
                    "permutation kernels, small all-reduces) a published trace now prices vLLM's routing kernels and "
                    "the quantization and spacing around its second expert GEMM (`vllm` set, kernel-trace table "
                    f"below): {routing[0]:.1f} ms per step; published kernel timings price the per-call floor of "
                    "its block-fp8 linear ops (the MLA projections, the dense layers' and the shared experts' GEMMs: "
                    f"305 calls; small-GEMM table below): {fp8[0]:.1f}-{fp8[-1]:.1f} ms per step; together "
                    f"{share[0]:.0%}-{share[-1]:.0%} of vLLM's gap at 4 "
                    f"sequences; the small all-reduces were already priced ({comm:.1f} ms of the modelled step: "
                    f"{2 * layers} calls at the published ~10 µs, all-reduce table below); the rest (the block-fp8 "
                    "ops above their floor, the MLA kernel's minimum, the other quantizations and the spacing of "
                    "the other kernels) has no published per-kernel number from a captured Hopper step to price it "
                    "from. At "
                    f"64-128 sequences the published steps are {large[0]:.1f}-{large[-1]:.1f}x the modelled, about "
                    "the ratio of TensorRT-LLM's rows 17a-c: the one-node decode gap is not TensorRT-LLM's alone."]
