"""Measured FLOPs levels of large-batch TensorRT-LLM fp8 serving on Hopper, for a planner to pick.

The GPU catalog's H100/H200 fp8 ``flops_efficiency`` (0.691) is fitted on TensorRT-LLM v0.5 Llama-2-7B
throughputs at batch <= 64 (docs/validation.md rows 7a-7d). Published runs whose iterations carry
roughly a thousand tokens per GPU ran below it: NVIDIA's MLPerf Inference Llama-2-70B engines (fp8, H100
TP2 at 896 sequences, H200 TP1 at 806) at 0.86 (v4.1) and 0.73 (v4.0) of it at their published batch, and
TensorRT-LLM's own perf-overview rows on H200 at 600-1,300 sequences at ~0.88 (batch not published).
NVIDIA's 2025 engine (MLPerf Inference v5.0, fused fp8 GEMM + SwiGLU) reached the catalog's own level on
H200 at large batch (its Offline run implies 1.002 of it; docs/validation.md, row 13e), so the levels
belong to software generations, not to the GPU: a current stack may need none. A v5.0 level fitted as the
v4.x ones (1.052, on both v5.0 Offline runs) is not offered: those runs' batch is not published, so the fit
rests on the modelled KV capacity (and the H100's on its pipeline schedule), and alone the two runs imply
levels 11 % apart, against 3.5 % (v4.1) and 6.6 % (v4.0) (docs/validation.md, Server section).
Public data do not pin what causes it (docs/performance_model.md, "Large-batch fp8 on Hopper": a GEMM of
these shapes measured alone reaches the catalog's level, and more power than 700 W recovers only ~4 % of it,
GH200 against H200 in MLPerf v4.1), so the catalog keeps its factor, which the smaller-batch rows of the same GPUs follow, and this module names the measured levels
as scales of it. A planner modelling such a deployment sets ``perf.flops_efficiency`` to the catalog's
value times the level's scale (:func:`level_efficiency`); ``fleetsim validate`` says so for pools that
may run such batches (:func:`large_batch_note`).

Every row behind the levels is a **dense** model (Llama-2-7B to Llama-3.1-405B; the validation's
mixture-of-experts rows are not among them), so the note is for dense models only. A mixture of experts
under expert parallelism and data-parallel attention multiplies other shapes: each GPU's attention sees its
share of the sequences, and each expert's GEMM the few tokens routed to it, reading its weights
(bandwidth-bound at these batches), so neither the regime (~a thousand tokens per GPU through every GEMM)
nor the fix (a lower FLOPs level) carries over; how the model's MoE steps compare with published runs is in
docs/models_and_parallelism.md.

    >>> round(level_efficiency("h100-sxm", "mlperf-v4.1"), 3)
    0.595
    >>> large_batch_note("h100-sxm", "bf16", 1024, flops_set=False) is None
    True
    >>> large_batch_note("h200-sxm", "fp8", 512, flops_set=False, dense=False) is None
    True

**The MoE decode level** (:data:`MOE_DECODE_LEVELS`) is the mixture-of-experts counterpart, another kind of
parameter: TensorRT-LLM's published DeepSeek-R1 runs under expert parallelism and data-parallel attention on one
node iterate about twice as slowly as the step model's decode step, and the part it leaves out grows with the
sequences per GPU and shrinks with the GPU's compute rate. Of the one-parameter forms compared on the same rows
(``benchmarks/moe_decode_level.py``; docs/validation.md, "2025-26 models") the kept one charges every decoding
sequence of the busiest rank its token's active-parameter FLOPs once more, at a fraction of the GEMM rate,
on top of the roofline step (``perf.moe_decode_efficiency``); a planner sets it, and ``fleetsim validate`` says
so for pools in that regime (:func:`moe_decode_note`). It is not a kernel measurement: nothing published names
the missing work, and the level is fitted on end-to-end steps.

    >>> level_of("trtllm-attention-dp").efficiency
    0.155
    >>> moe_decode_note(moe=True, dp_attention=True, level_set=True) is None
    True
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.scenario.catalog import get_gpu

HOPPER = ("h100-sxm", "h200-sxm")
"""The catalog's Hopper SXM GPUs (one compute die; the levels were measured on both)."""

LARGE_BATCH_SEQS = 400
"""Sequences per iteration from which a pool is in the regime of the levels: every published Hopper fp8 row
at >= 455 sequences per tensor-parallel group sits below the catalog's level, those at <= 375 do not
(docs/validation.md, "The FLOPs level each Hopper fp8 row implies"); an iteration's tokens per GPU equal its
sequences plus its prompt tokens at any tensor-parallel size."""


@dataclass(frozen=True)
class FlopsLevel:
    """A measured fp8 FLOPs level of a serving stack on Hopper: ``scale`` x the catalog's ``flops_efficiency``."""

    name: str
    scale: float
    source: str


FP8_LEVELS = (
    FlopsLevel("mlperf-v4.1", 0.861,
               "MLPerf Inference v4.1 Closed, NVIDIA Llama-2-70B Offline (github.com/mlcommons/inference_results_v4.1 "
               "closed/NVIDIA: DGX-H100 TP2 x 4 at batch 896, H200-SXM-141GB TP1 x 8 at batch 806), fitted on "
               "both throughputs (python benchmarks/validate_perf.py --fit)"),
    FlopsLevel("mlperf-v4.0", 0.729,
               "MLPerf Inference v4.0 Closed, NVIDIA Llama-2-70B-99.9 Offline (github.com/mlcommons/inference_results_v4.0 "
               "closed/NVIDIA, same layouts and batches), fitted on both throughputs"),
)
"""The levels whose batch is published (so the step time at that batch is pinned), newest first. The
benchmarks reproduce MLPerf with them (``benchmarks/mlperf_server.py``)."""


def level(name: str) -> FlopsLevel:
    """The :data:`FP8_LEVELS` entry ``name``; ``KeyError`` naming the known ones otherwise."""
    for lvl in FP8_LEVELS:
        if lvl.name == name:
            return lvl
    raise KeyError(f"unknown FLOPs level {name!r}; known: {', '.join(lvl.name for lvl in FP8_LEVELS)}")


def level_efficiency(gpu: str, name: str) -> float:
    """``perf.flops_efficiency`` of level ``name`` on ``gpu``: the catalog's fp8 factor times the level's scale."""
    return get_gpu(gpu).efficiency("fp8").flops_efficiency * level(name).scale


def large_batch_note(gpu: str, weight_dtype: str, max_num_seqs: int, flops_set: bool,
                     dense: bool = True) -> str | None:
    """A note for a roofline pool of ``gpu`` with ``weight_dtype`` weights that admits ``max_num_seqs`` sequences
    per iteration, or ``None`` where the levels do not apply (another GPU or precision, small batches, a
    mixture-of-experts model: ``dense`` false; see the module docstring) or the scenario already sets the
    FLOPs level itself (``flops_set``: ``perf.flops_efficiency`` or a calibration)."""
    if gpu not in HOPPER or weight_dtype != "fp8" or max_num_seqs < LARGE_BATCH_SEQS or flops_set or not dense:
        return None
    options = " or ".join(f"{level_efficiency(gpu, lvl.name):.3f} ({lvl.name})" for lvl in FP8_LEVELS)
    return (f"up to {max_num_seqs:,} sequences per iteration in fp8 on {gpu}: published TensorRT-LLM runs of "
            f"2023-24 at ~450-1,300 sequences per group iterated 6-42 % slower than the catalog's fp8 FLOPs level "
            f"({get_gpu(gpu).efficiency('fp8').flops_efficiency:g}) predicts (NVIDIA's 2025 MLPerf v5.0 engine ran "
            f"at it), so with such a stack this pool's latency near saturation may be optimistic; to model such "
            f"a stack set perf.flops_efficiency to {options} "
            f"(docs/performance_model.md, 'Large-batch fp8 on Hopper')")


@dataclass(frozen=True)
class MoeDecodeLevel:
    """A measured MoE decode level: ``perf.moe_decode_efficiency`` = ``efficiency``, fitted on ``fitted_on``."""

    name: str
    efficiency: float
    source: str
    fitted_on: tuple[str, ...]


MOE_DECODE_LEVELS = (
    MoeDecodeLevel("trtllm-attention-dp", 0.155,
                   "TensorRT-LLM docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md at commit "
                   "01c4ece (github.com/NVIDIA/TensorRT-LLM), max-throughput sections: DeepSeek-R1 TP8 EP8 "
                   "attention-DP on 8 H200 (fp8, 1,024 sequences) and 8 B200 (fp4, 3,072 and 7,168), 1,024/2,048 "
                   "tokens; fitted on the decode steps their throughputs imply (mean log error 0; python "
                   "benchmarks/moe_decode_level.py). Held out: MLPerf v5.1 DeepSeek-R1 (19a-b), Qwen3-235B-A22B "
                   "(16a-f)",
                   ("17a", "17b", "17c")),
)
"""The MoE decode levels a planner can pick (docs/performance_model.md, "The MoE decode level"): one, fitted on
TensorRT-LLM's DeepSeek-R1 rows (two GPU generations, one value), for TensorRT-LLM 2025 stacks running a
mixture of experts with expert parallelism and data-parallel attention on one NVLink domain."""


def level_of(name: str) -> MoeDecodeLevel:
    """The :data:`MOE_DECODE_LEVELS` entry ``name``; ``KeyError`` naming the known ones otherwise."""
    for lvl in MOE_DECODE_LEVELS:
        if lvl.name == name:
            return lvl
    raise KeyError(f"unknown MoE decode level {name!r}; known: {', '.join(lvl.name for lvl in MOE_DECODE_LEVELS)}")


def moe_decode_note(moe: bool, dp_attention: bool, level_set: bool) -> str | None:
    """A note for a roofline pool of a mixture-of-experts model (``moe``) under data-parallel attention
    (``dp_attention``, more than one rank), the regime of :data:`MOE_DECODE_LEVELS`, that does not set
    ``perf.moe_decode_efficiency`` (``level_set``); ``None`` otherwise."""
    if not (moe and dp_attention) or level_set:
        return None
    options = " or ".join(f"{lvl.efficiency:g} ({lvl.name})" for lvl in MOE_DECODE_LEVELS)
    return ("a mixture of experts under data-parallel attention: published TensorRT-LLM runs of DeepSeek-R1 in this "
            "layout on one node decoded about half as fast as the step model predicts (0.5-0.6x), so this pool's "
            "throughput may be optimistic by up to 2x; to model such a stack set perf.moe_decode_efficiency to "
            f"{options} (docs/performance_model.md, 'The MoE decode level')")
