"""The routed experts' Triton ``fused_moe`` of the early-2025 engines, priced from its published timings.

vLLM 0.7.x and SGLang 0.4.x ran DeepSeek-V3/R1's routed experts (block fp8, 128x128 weight scales) under tensor
parallelism through one Triton kernel, ``fused_moe_kernel`` (vLLM ``vllm/model_executor/layers/fused_moe/fused_moe.py``,
``fused_experts`` with ``use_fp8_w8a8`` and ``block_shape``; SGLang's copy in
``python/sglang/srt/layers/moe/fused_moe_triton/``). DeepGEMM's grouped GEMM for the experts came later and opt-in:
vLLM PR 13932 (github.com/vllm-project/vllm/pull/13932, 2025-02-26, ``VLLM_USE_DEEP_GEMM``; after vLLM 0.7.x) and, in
SGLang, the expert-parallel MoE paths of spring 2025; at TP8 SGLang kept the Triton kernel. The step model's
roofline prices these experts at the GPU catalog's GEMM rate, which this kernel does not reach.

**The published timing.** vLLM PR 13932's "H100 results" time the whole ``fused_experts`` call of one DeepSeek-V3
MoE layer at TP8 on an H100 (``benchmarks/kernels/benchmark_moe.py --dtype=fp8_w8a8 -tp 8 --model
deepseek-ai/DeepSeek-V3``: E = 256 experts, top-8, K = 7,168, 2 x 256 gate/up and 256 down columns per GPU; both
expert GEMMs with the token sort, activation, quantization and sum kernels of the call) at 128 to 2,048 tokens
(:data:`PR_13932_TRITON_TP8_H100`). The configuration it ran is the served one: no tuned H100 file exists for the
shape, so the call took vLLM's default for block fp8 (``get_default_config``: BLOCK_SIZE_M 64, BLOCK_SIZE_N 128,
BLOCK_SIZE_K 128, 4 warps, 3 stages), and the tuned H200 file the engines shipped
(``configs/E=256,N=256,device_name=NVIDIA_H200,dtype=fp8_w8a8,block_shape=[128, 128].json``) holds the same tile
(64/128/128, 4 warps, 3 stages; only ``GROUP_SIZE_M``, the order of the tiles, differs) at every size from 8 to
2,048 tokens and at 4,096.

**The rule on another Hopper GPU.** The call is on the memory side at every published size: from 128 to 1,536
tokens its time grows 15 % while its FLOPs grow 12-fold; with 64-row tiles every expert the tokens hit streams its
weights once per tile of rows it is routed, and the time follows those tiles (the step at 2,048 tokens, where the
mean expert's 64 rows start a second tile). Its rate there, 64-68 TFLOPS at 1,536-2,048 tokens (3.2-3.4 % of the
fp8 peak, under 5 % of the catalog's calibrated fp8 GEMM rate; less at fewer tokens), is far below what the SMs
give (the compute side would carry unchanged, same SMs and clocks on the H100 and H200); so on an H200 the call is
the H100's time scaled by the HBM bandwidths (3.35 / 4.8 TB/s, the GPU catalog's). Between the published sizes
the time is interpolated linearly in tokens; below 128 tokens it is held at 128's time per expert read (the
expected experts hit, each a tile of weights); above 2,048 at 2,048's time per token (its FLOPs rate); and never
below the roofline of the same experts at the catalog's rates (:meth:`TritonFusedMoe.excess_s`).

**What it leaves out.** The published call runs the whole routed MoE layer, so the step model adds what it takes
beyond the roofline of the routed experts and the kernel set's own routing and finalize terms (which price the
kernels around the GEMMs once). Applied only to the shape timed (DeepSeek-V3/R1's routed experts at TP8 in fp8,
tensor-parallel experts) on the H100 and H200: other shapes, expert parallelism, other GPUs and experts run in
another precision (``perf.expert_dtype`` fp4 or bf16 beside fp8 attention) keep the roofline.
At 128 tokens the scaled call (1.21 ms, 70 ms over 58 layers) exceeds the whole 65.2 ms decode step dstack
published for vLLM 0.7.4 at 128 sequences on an H200 (``benchmarks/moe_prompt_bound.py``, ``decode_check``): at
decode sizes the served kernel was faster than this table says, and a step model with it prices those steps slow.

    >>> k = TritonFusedMoe.for_shape(get_model("deepseek-r1"), get_gpu("h100-sxm"), tp=8, ep=1, expert_dtype="fp8")
    >>> round(k.call_s(1024) * 1e6, 2), round(k.call_s(768) * 1e6, 2)
    (1892.75, 1851.55)
    >>> h200 = TritonFusedMoe.for_shape(get_model("deepseek-r1"), get_gpu("h200-sxm"), 8, 1, "fp8")
    >>> round(h200.call_s(1024) * 1e6, 1)      # 1,892.75 x 3.35 / 4.8
    1321.0
    >>> TritonFusedMoe.for_shape(get_model("deepseek-r1"), get_gpu("h200-sxm"), 8, 8, "fp8") is None
    True
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from sim.perf.moe import experts_hit
from sim.scenario.architecture import ModelSpec
from sim.scenario.catalog import get_gpu, get_model  # noqa: F401  (doctests)

SRC_PR_13932 = ("github.com/vllm-project/vllm/pull/13932 (\"Add option to use DeepGemm contiguous grouped gemm kernel "
                "for fused MoE operations\", 2025-02-26), \"H100 results\", column \"Triton TP=8\"")

PR_13932_TRITON_TP8_H100 = ((128, 1732.33), (256, 1728.73), (512, 1810.36), (1024, 1892.75), (1536, 1988.70),
                            (2048, 2818.65))
"""``(tokens, µs)``: vLLM's Triton ``fused_experts`` call of one DeepSeek-V3 MoE layer at TP8 on an H100, as
published (:data:`SRC_PR_13932`; module docstring). Read by token count (:func:`published_us`, :func:`by_tokens`),
never by position: a row added or the rows reordered change no lookup."""

TIMED_SHAPE = (256, 8, 7168, 256)
"""``(experts, experts per token, hidden, expert width per GPU)`` of the timed call: DeepSeek-V3/R1 at TP8."""

TIMED_GPU = "h100-sxm"
HOPPER_GPUS = ("h100-sxm", "h200-sxm")


@lru_cache(maxsize=8)
def by_tokens(table: tuple[tuple[int, float], ...]) -> tuple[tuple[int, float], ...]:
    """``table``'s ``(tokens, µs)`` rows in order of their token counts, each count once (a count given twice, or
    not a positive whole number, is a ``ValueError``: which of two times to take is not for the code to guess).

    >>> by_tokens(((512, 3.0), (128, 1.0), (256, 2.0)))
    ((128, 1.0), (256, 2.0), (512, 3.0))
    """
    rows = tuple(sorted(table))
    counts = [n for n, _ in rows]
    if len(set(counts)) != len(counts) or not all(isinstance(n, int) and n > 0 for n in counts):
        raise ValueError(f"a table of (tokens, µs) rows needs each token count once, a whole number > 0 (got "
                         f"{counts})")
    return rows


def published_us(tokens: int, table: tuple[tuple[int, float], ...] | None = None) -> float:
    """The published time (µs) of the call at ``tokens`` tokens, looked up by that count in ``table`` (default
    :data:`PR_13932_TRITON_TP8_H100`); a count the table does not hold is a ``KeyError`` naming those it does.

    >>> published_us(1536)
    1988.7
    """
    rows = dict(by_tokens(PR_13932_TRITON_TP8_H100 if table is None else table))
    if tokens not in rows:
        raise KeyError(f"no published time at {tokens:,} tokens (the table has {', '.join(f'{n:,}' for n in rows)})")
    return rows[tokens]


@dataclass(frozen=True)
class TritonFusedMoe:
    """The Triton ``fused_moe`` calls of a TP8 DeepSeek-V3/R1 stage on one GPU (module docstring), with the step
    model's own pricing of them: ``layers`` MoE layers; ``priced_s`` the kernel set's routing and finalize terms of
    one layer; ``gemm_flops_per_s``, ``bytes_per_s``, ``p`` and ``roofline`` the GEMMs' rates and smooth roofline.

    ``bw_scale``: the timed GPU's HBM bandwidth over this GPU's; ``expert_bytes``: one expert's fp8 weights on the
    GPU; ``flops_per_token``: one call's FLOPs per token on the GPU."""

    bw_scale: float
    n_experts: int
    experts_per_token: int
    expert_bytes: float
    flops_per_token: float
    layers: int = 1
    priced_s: float = 0.0
    gemm_flops_per_s: float = 1.0
    bytes_per_s: float = 1.0
    p: float = 1.0
    roofline: Callable[[float, float, float], float] | None = None

    @classmethod
    def for_shape(cls, m: ModelSpec, gpu, tp: int, ep: int, expert_dtype: str, **pricing) -> TritonFusedMoe | None:
        """The calls for ``m`` on ``gpu`` at tensor parallelism ``tp`` and expert parallelism ``ep``, its routed experts
        run in ``expert_dtype`` (``pricing``: the other fields), or ``None`` where the call was not timed (another
        shape, precision of the experts, expert parallelism or a GPU other than the H100 and H200)."""
        if not m.is_moe or ep != 1 or expert_dtype != "fp8" or m.weight_dtype != "fp8" or gpu.name not in HOPPER_GPUS \
                or tp < 1 or m.ffn_hidden % tp \
                or (m.n_experts, m.experts_per_token, m.hidden, m.ffn_hidden // tp) != TIMED_SHAPE:
            return None
        width = 3 * m.hidden * (m.ffn_hidden // tp)   # gate, up and down slices of one expert, fp8: one byte each
        return cls(get_gpu(TIMED_GPU).hbm_tbps / gpu.hbm_tbps, m.n_experts, m.experts_per_token, float(width),
                   2.0 * m.experts_per_token * width, **pricing)

    def experts_hit(self, n_tokens: float) -> float:
        """Expected experts routed at least one of ``n_tokens`` tokens (uniform routing, at least ``k``)."""
        return experts_hit(self.n_experts, self.experts_per_token, n_tokens)

    def call_s(self, n_tokens: float) -> float:
        """Seconds of one call at ``n_tokens`` tokens on this GPU: the published H100 times interpolated (held
        outside them as the module docstring says), times ``bw_scale``."""
        pts = by_tokens(PR_13932_TRITON_TP8_H100)     # (in order of their token counts, whatever the table's)
        lo_n, lo_us = pts[0]
        hi_n, hi_us = pts[-1]
        if n_tokens <= lo_n:
            us = lo_us * self.experts_hit(n_tokens) / self.experts_hit(lo_n)
        elif n_tokens >= hi_n:
            us = hi_us * n_tokens / hi_n
        else:
            i = bisect_left([n for n, _ in pts], n_tokens)
            (n0, t0), (n1, t1) = pts[i - 1], pts[i]
            us = t0 + (t1 - t0) * (n_tokens - n0) / (n1 - n0)
        return us * 1e-6 * self.bw_scale

    def roofline_s(self, n_tokens: float) -> float:
        """The step model's roofline of one call's routed experts: their FLOPs at the GEMMs' rate, the weights of
        the experts hit (at least ``k``) at the GEMMs' bandwidth."""
        return self.roofline(self.flops_per_token * n_tokens / self.gemm_flops_per_s,
                             self.experts_hit(n_tokens) * self.expert_bytes / self.bytes_per_s, self.p)

    def excess_s(self, n_tokens: float) -> float:
        """What the ``layers`` calls take at ``n_tokens`` tokens beyond the step model's own pricing of them (the
        routed experts' roofline plus ``priced_s`` per layer); 0.0 where that already takes as long."""
        if n_tokens <= 0:
            return 0.0
        return self.layers * max(0.0, self.call_s(n_tokens) - self.roofline_s(n_tokens) - self.priced_s)
