"""Analytic roofline step time: FLOPs and HBM bytes of one batch iteration on one replica.

Everything is counted **per GPU** of a tensor-parallel group of ``tp`` GPUs (weights, heads and
FLOPs split ``tp`` ways; the residual stream is replicated). With ``T = prefill_tokens +
decode_seqs`` tokens in the iteration, ``L`` layers, ``h`` hidden, ``q = n_heads*head_dim``,
``kv = n_kv_heads*head_dim``, ``f`` = one expert's FFN width, ``k`` experts per token:

=============  ==========================================================  ==========================================
group          FLOPs                                                       HBM bytes
=============  ==========================================================  ==========================================
linear layers  ``2*T*L*(h*(q+2kv) + q*h + 3*h*f*k + h*E_moe) / tp``         ``L*(h*(q+2kv) + q*h + 3*h*f*hit(T) + h*E_moe) * wb / tp`` + GEMM in/out ``2 B * T * L * (4*h + (2q+2kv+3*f*k)/tp)``
attention      ``4*q*L*(prefill_attn_pairs + decode_context_tokens) / tp``  ``2*L*kvh*head_dim*kb/tp * (KV read + KV written)``
lm head        ``2*h*vocab*n_emit / tp``                                    ``h*vocab*wb / tp``
activations    --                                                          ``2 B * T * L * (10*h + (2q+2kv+3*f*k)/tp)``
=============  ==========================================================  ==========================================

- ``wb``/``kb``: bytes per weight / KV element (bf16 2, fp8 1, fp4 0.5). ``kvh = max(n_kv_heads, tp)``
  (KV heads are replicated when TP exceeds them).
- MoE: FLOPs of the ``k`` active experts per token; bytes of ``hit(T) = E*(1-(1-k/E)**T)`` experts,
  the expected number of distinct experts hit by ``T`` tokens routing uniformly, clipped to
  ``[k, E]``; ``E_moe`` = router width (0 for dense models).
- KV read = ``decode_context_tokens + (prefill_kv_tokens - prefill_tokens)``; KV written =
  ``decode_seqs + prefill_tokens``.
- ``kv_sharing``: ``"grouped"`` (default; modern kernels) reads each KV head once for its whole
  query group. ``"per_query_head"`` models a generation-phase kernel that runs one thread block per
  (sequence, query head) and so reads the decode context once per *query* head (``n_heads / tp``
  heads instead of ``kvh / tp``); the cache itself, KV written and prefill reads are unchanged. This
  is how TensorRT-LLM v0.5's masked multi-head attention kernel treated grouped-query models;
  NVIDIA reports its later GQA generation kernels up to 2.4x faster on Llama-70B than v0.5
  (TensorRT-LLM docs/source/blogs/Falcon180B-H200.md, github.com/NVIDIA/TensorRT-LLM).
- activations: the element-wise kernels (two RMSNorms, two residual adds, rotary embedding, gated
  activation) read and write the activations once each, in bf16.
- ``n_emit = decode_seqs + prefill_seqs``: sequences that may sample a token (upper bound with
  chunked prefill).

**Time.** With ``t_c = FLOPs / (peak * flops_efficiency)`` and ``t_m = bytes / (hbm_bw * bw_efficiency)``
over the whole iteration (all layers of a group together, since they are identical):

- GEMM groups (linear layers, lm head) take the *smooth* roofline ``(t_c**p + t_m**p)**(1/p)`` with
  the GPU family's ``overlap_exponent`` ``p`` (``p = inf`` is the hard ``max``: compute and weight
  reads overlap perfectly; ``p = 1`` is their sum). Real GEMMs in the transition region (a few
  hundred tokens) reach neither peak; ``p`` is fitted on Vidur's measured GEMM times by token count
  (:func:`sim.perf.vidur.fit_gemm_roofline`).
- Attention takes ``max(t_c, t_m)``: its two terms are an order of magnitude apart in every regime
  (decode reads the KV cache at ~1 FLOP/byte; prefill attention is compute-bound), so the smooth
  form would change nothing measurable.
- Activations take ``t_m``; the groups add (kernels run one after another).
- The kernel set (:mod:`sim.perf.kernels`, ``perf.kernels``) may give attention and the element-wise
  kernels their own fractions of peak, a minimum element-wise time per layer, a fixed time per
  layer for each attention call (prefill, decode) an iteration makes, and a fixed time per MoE layer for
  the routing kernels (counted with the linear layers in :meth:`RooflineModel.breakdown`). The default
  ``trtllm`` set does none of this: the rules above, in the same float operations.
Linear layers and the lm head run at the ``weight_dtype`` peak times the calibrated ``flops_efficiency``;
attention at the peak of the precision it computes in (decode: ``kv_dtype``; prompts:
:func:`sim.perf.kernels.prefill_attention_dtype`, bf16 for MLA) times the GPU catalog's attention kernel
efficiency of the phase (``attention_prefill_efficiency``, ``attention_decode_efficiency``: published kernel
rates, independent of the weights' precision; the weights' ``flops_efficiency`` on a GPU without them).
Tensor parallelism adds ``2*L`` ring all-reduces of ``T*h*2`` bytes, each
``ALLREDUCE_LATENCY_S + 2*(tp-1)/tp * bytes / (link_bw * LINK_EFFICIENCY)``. Finally the CPU side
of the iteration (:mod:`sim.perf.overhead`): the calibrated fixed ``overhead_s`` (scheduler, sampling,
kernel launches) plus optional per-sequence and per-token terms. An empty batch takes 0 s.

The table is the grouped-query, tensor-parallel, single-stage case. MLA (compressed latent KV,
absorbed decode), sliding-window layers, shared experts and leading dense layers, expert weights in
their own precision, data-parallel attention and the busiest expert-parallel rank (both priced in
:mod:`sim.perf.ranks`), expert-parallel all-to-all (tokens dispatched in the experts' precision),
pipeline stages (micro-batches of whole sequences through a CPU stage and the GPU stages, the lm head on
the last: :mod:`sim.perf.pipeline`) and links
between nodes change the coefficients as docs/models_and_parallelism.md describes; for the models and
layouts above they reduce to exactly these numbers (same float operations).

The engine's pure-decode iterations take faster forms of the same step, bit for bit
(``decode_step``, ``decode_run``, ``decode_times``: :mod:`sim.perf.decode_steps`).

    >>> from sim.scenario.catalog import get_gpu, get_model
    >>> from sim.perf.base import BatchShape
    >>> m = RooflineModel(get_model("llama-2-7b"), get_gpu("h100-sxm"), tp=1)
    >>> 0.005 < m.step_time(BatchShape(decode_seqs=1, decode_context_tokens=100)) < 0.01
    True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal

from sim.perf.attention import KV_SHARING, AttentionParts, attention_widths
from sim.perf.base import BatchShape
from sim.perf.decode_steps import DecodeParts
from sim.perf.fused_moe import TritonFusedMoe
from sim.perf.kernels import KERNEL_SETS, KernelSet, block_fp8_linears
from sim.perf.moe import experts_hit
from sim.perf.memory import BYTES_PER_ELEMENT, data_parallel_dense, stage_layers, stage_weights
from sim.perf.parallel import COLLECTIVE_LATENCY_S, LINK_EFFICIENCY, Layout
from sim.perf.pipeline import PipelineParts
from sim.perf.ranks import RankParts
from sim.perf.overhead import CpuOverhead
from sim.scenario.catalog import Efficiency, GPUSpec, ModelSpec

ALLREDUCE_LATENCY_S = COLLECTIVE_LATENCY_S
"""Fixed cost of one all-reduce call (:data:`sim.perf.parallel.COLLECTIVE_LATENCY_S`)."""


def smooth_roofline(t_compute_s: float, t_memory_s: float, p: float) -> float:
    """``(t_compute_s**p + t_memory_s**p)**(1/p)`` seconds; ``p = inf`` gives ``max``, ``p = 1`` the sum.

    Computed as ``hi * (1 + (lo/hi)**p)**(1/p)`` so that it never overflows and is exactly ``hi``
    when the smaller term is 0. Between ``max`` (perfect overlap of FLOPs and memory traffic) and the
    sum (none): the overlap loss is largest, a factor ``2**(1/p)``, where the two terms are equal.

    >>> smooth_roofline(3.0, 4.0, 2.0)
    5.0
    >>> smooth_roofline(3.0, 4.0, math.inf)
    4.0
    """
    hi, lo = (t_compute_s, t_memory_s) if t_compute_s >= t_memory_s else (t_memory_s, t_compute_s)
    if math.isinf(p) or lo <= 0.0:
        return hi
    return hi * (1.0 + (lo / hi) ** p) ** (1.0 / p)


@dataclass(frozen=True, slots=True)
class StepBreakdown:
    """Per-GPU FLOPs, bytes and seconds of each term group of one iteration (for inspection/tests)."""

    linear_flops: float
    linear_bytes: float
    attention_flops: float
    kv_bytes: float
    lm_head_flops: float
    lm_head_bytes: float
    activation_bytes: float
    comm_bytes: float
    linear_s: float
    attention_s: float
    lm_head_s: float
    activation_s: float
    comm_s: float
    overhead_s: float

    @property
    def total_s(self) -> float:
        return self.linear_s + self.attention_s + self.lm_head_s + self.activation_s + self.comm_s + self.overhead_s


def _comm_terms(m: ModelSpec, gpu: GPUSpec, lay: Layout, L: int, dispatch_bytes: float = 2.0,
                dense_dp: bool = False) -> tuple[int, float]:
    """``(calls, seconds per token per call)`` of one stage's collectives (see module docstring);
    ``dispatch_bytes`` per element of the tokens sent to the experts (the combine returns bf16);
    ``dense_dp``: the dense layers run data-parallel, without collectives."""
    tp = lay.tp
    if tp == 1:
        return 0, 0.0
    ring = (2.0 * (tp - 1) / tp) * (m.hidden * 2.0) / (lay.link_bytes_per_s(tp, gpu.link_bytes_per_s)
                                                          * LINK_EFFICIENCY)
    if not lay.dp_attention:
        return 2 * L, ring
    moe = round(m.moe_layers * L / m.n_layers)
    if dense_dp:   # only the routed experts' dispatch and combine: each GPU sends its 1/tp of the tokens to
        #            k experts and receives them back, two calls per MoE layer
        a2a = (m.experts_per_token * m.hidden * (dispatch_bytes + 2.0) / tp) * lay.all_to_all_s_per_byte(
            lay.ep, gpu.link_bytes_per_s)
        return (2 * moe, a2a / 2.0) if moe else (0, 0.0)
    # all-gather before and reduce-scatter after every MLP (experts split tensor-parallel, or tp/ep ways
    # inside expert groups): one all-reduce's bytes
    total = 2 * L * ring / 2
    return 2 * L, total / (2 * L)


class RooflineModel(AttentionParts, RankParts, PipelineParts, DecodeParts):
    """Roofline :class:`~sim.perf.base.StepTimeModel` for one replica (see module docstring).

    ``layout`` (default: ``tp`` GPUs, one stage) adds pipeline stages, expert parallelism,
    data-parallel attention and multi-node links (:mod:`sim.perf.parallel`); ``expert_dtype``
    (default ``weight_dtype``) is the precision the routed experts' weights are stored in. The busiest
    data-parallel attention and expert-parallel ranks are priced by :class:`sim.perf.ranks.RankParts`, the
    attention kernels by :class:`sim.perf.attention.AttentionParts`, a pipelined iteration by
    :class:`sim.perf.pipeline.PipelineParts`; the pure-decode forms the engine calls (``decode_step``,
    ``decode_run``, ``decode_times``) are :class:`sim.perf.decode_steps.DecodeParts`'.
    """

    _roofline = staticmethod(smooth_roofline)

    def __init__(self, model: ModelSpec, gpu: GPUSpec, tp: int = 1, weight_dtype: str = "bf16",
                 kv_dtype: str = "bf16", efficiency: Efficiency | None = None,
                 overlap_exponent: float | None = None,
                 kv_sharing: Literal["grouped", "per_query_head"] = "grouped",
                 layout: Layout | None = None, expert_dtype: str | None = None,
                 cpu: CpuOverhead | None = None, kernels: KernelSet | None = None,
                 moe_decode_efficiency: float | None = None) -> None:
        lay = layout if layout is not None else Layout(tp=tp)
        tp = lay.tp
        if tp < 1 or lay.pp < 1:
            raise ValueError(f"tp and pp must be >= 1 (got tp={tp}, pp={lay.pp})")
        if kv_sharing not in KV_SHARING:
            raise ValueError(f"kv_sharing must be one of {', '.join(KV_SHARING)} (got {kv_sharing!r})")
        p = gpu.overlap_exponent if overlap_exponent is None else float(overlap_exponent)
        if not p >= 1:
            raise ValueError(f"overlap_exponent must be >= 1 (got {p!r})")
        self.model, self.gpu, self.tp, self.layout = model, gpu, tp, lay
        self.weight_dtype, self.kv_dtype = weight_dtype, kv_dtype
        self.expert_dtype = expert_dtype or weight_dtype
        self.overlap_exponent, self.kv_sharing = p, kv_sharing
        eff = efficiency if efficiency is not None else gpu.efficiency(weight_dtype)
        self.efficiency = eff
        m = model
        h, L = m.hidden, stage_layers(m, lay.pp)
        # FLOP/s and byte/s actually reached; attention and element-wise kernels per the kernel set
        # (sim.perf.kernels; a bandwidth fraction left None is the GEMMs' factor, the same float operations)
        ks = self.kernels = kernels if kernels is not None else KERNEL_SETS["trtllm"]
        self._gemm_peak = gpu.peak_tflops(weight_dtype) * 1e12 * eff.flops_efficiency
        self._bw = gpu.hbm_bytes_per_s * eff.bw_efficiency
        self._act_bw = self._bw if ks.elementwise_bw_fraction is None else \
            gpu.hbm_bytes_per_s * ks.elementwise_bw_fraction
        # per-layer kernel floors of the stage's L layers (0.0 for the trtllm set: adding it changes no bit)
        self._act_floor_s = ks.elementwise_floor_s * L
        # the attention kernels' rates, floors and KV traffic (sim.perf.attention)
        self._init_attention(gpu, lay, eff, ks, L, kv_dtype, kv_sharing)
        # MoE routing and finalize kernels, once per MoE layer of the stage in every iteration (the trtllm set:
        # its fused top-k alone; 0.0 for a dense model, so no bit of a dense step changes)
        self._routing_s = (ks.moe_routing_s + ks.moe_finalize_s) * round(m.moe_layers * L / m.n_layers)
        # block-fp8 linear GEMMs that pay the kernel set's per-call floor: (calls, FLOPs per token, weight bytes,
        # in/out bytes per token) each; none unless the set has a floor and a model published in fp8 runs in fp8
        # (tensor-parallel attention only: with data-parallel attention the shapes differ and it stays unpriced)
        # and their compute rate where the set gives one (fp8_gemm_flops_fraction of the fp8 peak; else the GEMMs')
        self._fp8_floor_s = ks.fp8_linear_floor_s
        self._fp8_peak = self._gemm_peak if ks.fp8_gemm_flops_fraction is None or weight_dtype != "fp8" else \
            gpu.peak_tflops("fp8") * 1e12 * ks.fp8_gemm_flops_fraction
        self._fp8_gemms = tuple((c, 2.0 * n * k, n * k * BYTES_PER_ELEMENT["fp8"], 2.0 * (n + k))
                                for c, n, k in block_fp8_linears(m, tp, L)) \
            if (ks.fp8_linear_floor_s > 0.0 or ks.fp8_gemm_flops_fraction is not None) and weight_dtype == "fp8" \
            and not (lay.dp_attention and tp > 1) else ()
        # their excess over the roofline, cached per token count (_fp8_floor_excess_s), with that of the routed
        # experts' Triton fused_moe calls where the kernel set runs them and they were timed (sim.perf.fused_moe:
        # DeepSeek-V3/R1's experts at TP8 in fp8 on an H100 or H200; None otherwise), priced in the experts' own
        # precision (fp4 or bf16 experts beside fp8 attention do not run that call)
        self._fp8_cache: dict[Any, float] = {}
        self._fused_moe = TritonFusedMoe.for_shape(
            m, gpu, tp, lay.ep, self.expert_dtype, layers=round(m.moe_layers * L / m.n_layers),
            priced_s=ks.moe_routing_s + ks.moe_finalize_s, gemm_flops_per_s=self._gemm_peak, bytes_per_s=self._bw, p=p,
            roofline=smooth_roofline) if ks.triton_fused_moe and self._fp8_gemms else None
        # CPU work per iteration (sim.perf.overhead): the catalog's fixed overhead plus batch terms
        self.cpu = replace(cpu or CpuOverhead(), fixed_s=eff.overhead_s)
        # per-GPU coefficients (one pipeline stage: its L layers and the lm head)
        w = stage_weights(m, lay, weight_dtype, self.expert_dtype)
        self._linear_flops_per_token = 2.0 * w.active_params_per_token / tp
        self._linear_fixed_bytes = w.fixed_bytes
        self._expert_bytes = w.expert_bytes
        io_width = attention_widths(m)[2]
        self._lm_flops_per_seq = 2.0 * h * m.vocab / tp
        self._lm_bytes = w.lm_head_bytes
        act_w = w.mlp_width_per_layer
        self._gemm_io_bytes_per_token = 2.0 * L * (4 * h + (io_width + act_w) / tp)
        self._act_bytes_per_token = 2.0 * L * (10 * h + (io_width + act_w) / tp)
        if lay.dp_attention and m.is_moe:   # each rank's element-wise kernels see its own 1/tp of the tokens
            self._act_bytes_per_token = 2.0 * L * (10 * h + io_width + act_w) / tp
        # tokens go to the experts quantized to the experts' GEMM input precision (at most bf16): DeepEP's
        # FP8 dispatch, TensorRT-LLM's FP4 all-gather (blog 3); the expert outputs come back in bf16
        dispatch_bytes = min(2.0, BYTES_PER_ELEMENT[self.expert_dtype]) if m.is_moe else 2.0
        self._comm_calls, self._comm_s_per_token = _comm_terms(m, gpu, lay, L, dispatch_bytes,
                                                               data_parallel_dense(m, lay))
        self._init_ranks(lay, L, weight_dtype, io_width, act_w)
        # the MoE decode level (sim.perf.levels.MOE_DECODE_LEVELS, opt-in): every decoding sequence of the busiest
        # rank adds its token's active-parameter FLOPs on the GPU at moe_decode_efficiency x the GEMM rate
        self.moe_decode_efficiency = moe_decode_efficiency
        self._decode_seq_s = (self._linear_flops_per_token * (tp if self._adp else 1)
                              / (self._gemm_peak * moe_decode_efficiency)) if moe_decode_efficiency else 0.0
        self._handoff_s_per_token = 2.0 * h * lay.stage_handoff_s_per_byte(gpu.link_bytes_per_s) if lay.pp > 1 else 0.0
        self._pp_decode: dict[int, list[tuple]] = {}   # sim.perf.pipeline: per-size terms of a decode micro-batch
        self._init_decode(lay)   # the pure-decode forms' cache and loop (sim.perf.decode_steps)

    @property
    def expert_bytes(self) -> float:
        """Per-GPU bytes of one routed expert over this stage's MoE layers (a dense model's MLP, hit once
        per iteration), read once per distinct expert an iteration hits (:meth:`experts_hit`)."""
        return self._expert_bytes

    # ---------------------------------------------------------------- internals
    def experts_hit(self, n_tokens: int) -> float:
        """Expected distinct experts (per layer) whose weights an iteration of ``n_tokens`` reads."""
        m = self.model
        return experts_hit(m.n_experts, m.experts_per_token, n_tokens) if m.is_moe else 1.0

    def _seconds(self, n_tokens: int, prefill_tokens: Any, pairs: Any, prefill_kv: Any, decode_seqs: Any,
                 decode_ctx: Any, n_emit: Any, mx: Callable) -> Any:
        """Iteration seconds of one stage; scalar or array ``decode_ctx`` (identical float operations either
        way): its layers (:meth:`_layers_s`) and the rest (:meth:`_rest_s`)."""
        return self._layers_s(n_tokens, prefill_tokens, pairs, prefill_kv, decode_seqs, decode_ctx, n_emit, mx) \
            + self._rest_s(n_tokens, n_emit)

    def _layers_s(self, n_tokens: int, prefill_tokens: Any, pairs: Any, prefill_kv: Any, decode_seqs: Any,
                  decode_ctx: Any, n_emit: Any, mx: Callable, linear_s: float | None = None) -> Any:
        """Seconds of the stage's linear layers and attention (with the attention floors); ``linear_s``:
        the linear layers' seconds for ``n_tokens`` if the caller has them (:meth:`_linear_parts`)."""
        if self._absorb_prefixed:
            pairs = self._prompt_pairs(prefill_tokens, pairs, prefill_kv)
        if self._adp:
            return self._layers_s_adp(n_tokens, prefill_tokens, pairs, prefill_kv, decode_seqs, decode_ctx, n_emit)
        if linear_s is None:
            linear_s = self._linear_parts(n_tokens)[2]
        if self._sw_layers:
            pairs, prefill_kv, decode_ctx = self._windowed(prefill_tokens, pairs, prefill_kv, decode_seqs, decode_ctx)
        attn_s = self._attention_s(pairs, decode_ctx,
                                   self._kv_bytes(prefill_tokens, prefill_kv, decode_seqs, decode_ctx), mx)
        # + the kernel floors (:meth:`_floors_s`, inlined: this is the engine's per-step path)
        floors = ((self._prefill_floor_s if prefill_tokens else 0.0) + (self._decode_floor_s if decode_seqs else 0.0)
                  + self._routing_s)
        if self._decode_seq_s:
            floors = floors + self._decode_level_s(decode_seqs)
        return (linear_s + floors) + attn_s

    def _floors_s(self, prefill_tokens: Any, decode_seqs: Any) -> float:
        """The fixed kernel time of an iteration: one attention call per layer for its prompt tokens and one
        for its decoding sequences (:meth:`_attention_floors_s`), the MoE routing kernels of every MoE
        layer (from the kernel set), and the MoE decode level (:meth:`_decode_level_s`: 0.0 without one)."""
        return self._attention_floors_s(prefill_tokens, decode_seqs) + self._routing_s + self._decode_level_s(decode_seqs)

    def _decode_level_s(self, decode_seqs: Any) -> float:
        """What the MoE decode level (``moe_decode_efficiency``; :data:`sim.perf.levels.MOE_DECODE_LEVELS`) adds to
        an iteration with ``decode_seqs`` decoding sequences: the busiest rank's share of them (``ceil(d/tp)``
        under data-parallel attention, every one otherwise) times one sequence's active-parameter FLOPs on a GPU
        at the level's fraction of the GEMM rate; 0.0 without a level."""
        if not self._decode_seq_s or not decode_seqs:
            return 0.0
        return self._decode_seq_s * (math.ceil(decode_seqs / self.tp) if self._adp else decode_seqs)

    def _linear_parts(self, n_tokens: Any) -> tuple[float, float, float]:
        """``(flops, bytes, seconds)`` of the linear layers of an iteration of ``n_tokens`` tokens
        (tensor-parallel attention; one roofline, or two with expert parallelism: the routed experts'
        grouped GEMM on the busiest EP rank is a kernel of its own)."""
        p = self.overlap_exponent
        if self._ep_load is None:
            flops = self._linear_flops_per_token * n_tokens
            linear_bytes = (self._linear_fixed_bytes + self._expert_bytes * self.experts_hit(n_tokens)
                            + self._gemm_io_bytes_per_token * n_tokens)
            linear_s = smooth_roofline(flops / self._gemm_peak, linear_bytes / self._bw, p)
            return flops, linear_bytes, (linear_s + self._fp8_floor_excess_s(n_tokens) if self._fp8_gemms
                                         else linear_s)
        flops = (self._linear_flops_per_token - self._routed_flops_per_token) * n_tokens
        linear_bytes = self._linear_fixed_bytes + self._gemm_io_bytes_per_token * n_tokens
        e_flops, e_bytes, e_s = self._expert_parts(n_tokens)
        linear_s = smooth_roofline(flops / self._gemm_peak, linear_bytes / self._bw, p) + e_s
        return (flops + e_flops, linear_bytes + e_bytes,
                linear_s + self._fp8_floor_excess_s(n_tokens) if self._fp8_gemms else linear_s)

    def _fp8_floor_excess_s(self, n_tokens: Any) -> float:
        """What the block-fp8 kernels add to their roofline at ``n_tokens`` tokens: each linear GEMM takes
        ``max(floor, its own smooth roofline at the kernel's rate)`` (:attr:`KernelSet.fp8_linear_floor_s`,
        :attr:`KernelSet.fp8_gemm_flops_fraction`; without a fraction the GEMMs' rate), so the sum over them of
        that less their roofline at the GEMMs' rate; plus the routed experts' Triton ``fused_moe`` calls' excess over
        their own roofline where they are timed (:meth:`sim.perf.fused_moe.TritonFusedMoe.excess_s`); 0.0 when
        none pays either."""
        extra = self._fp8_cache.get(n_tokens)   # cached per token count: MLA models price every step afresh
        if extra is None:
            p, floor = self.overlap_exponent, self._fp8_floor_s
            extra = self._fused_moe.excess_s(n_tokens) if self._fused_moe else 0.0   # the routed experts' calls
            for calls, flops, w_bytes, io_bytes in self._fp8_gemms:
                mem_s = (w_bytes + io_bytes * n_tokens) / self._bw
                t = smooth_roofline(flops * n_tokens / self._gemm_peak, mem_s, p)
                t_kernel = t if self._fp8_peak == self._gemm_peak else \
                    smooth_roofline(flops * n_tokens / self._fp8_peak, mem_s, p)
                if t_kernel < floor:
                    extra += calls * (floor - t)
                elif t_kernel > t:
                    extra += calls * (t_kernel - t)
            if len(self._fp8_cache) < 65536:
                self._fp8_cache[n_tokens] = extra
        return extra

    def _rest_s(self, n_tokens: Any, n_emit: Any) -> Any:
        """Seconds outside the linear layers and attention: the lm head over the ``n_emit`` sampled
        sequences, activations and tensor-parallel communication over ``n_tokens``, and the CPU side
        of the iteration (:mod:`sim.perf.overhead`). One definition for every unpipelined step form
        (a pipeline places these terms on their stages: :mod:`sim.perf.pipeline`)."""
        act_s, comm_s = self._act_comm_s(n_tokens)
        return self._lm_head_s(n_emit) + act_s + comm_s + self.cpu.seconds(n_emit, n_tokens)

    def _lm_head_s(self, n_emit: Any) -> Any:
        """Seconds of the lm head over the ``n_emit`` sequences that sample a token."""
        return smooth_roofline(self._lm_flops_per_seq * n_emit / self._gemm_peak, self._lm_bytes / self._bw,
                               self.overlap_exponent)

    def _act_comm_s(self, n_tokens: Any) -> tuple[Any, Any]:
        """``(activation_s, comm_s)``: the element-wise kernels (at least their floor) and the stage's
        tensor-parallel collectives over ``n_tokens`` tokens."""
        act_s = self._act_bytes_per_token * n_tokens / self._act_bw
        act_s = act_s if act_s > self._act_floor_s else self._act_floor_s   # max: no kernel is shorter than its floor
        return act_s, self._comm_calls * ALLREDUCE_LATENCY_S + self._comm_calls * self._comm_s_per_token * n_tokens

    # ---------------------------------------------------------------- protocol
    def step_time(self, shape: BatchShape) -> float:
        n_tokens = shape.prefill_tokens + shape.decode_seqs
        if n_tokens <= 0:
            return 0.0
        if self.layout.pp > 1:
            return self._pipelined(shape)
        return float(self._seconds(n_tokens, shape.prefill_tokens, shape.prefill_attn_pairs,
                                   shape.prefill_kv_tokens, shape.decode_seqs, shape.decode_context_tokens,
                                   shape.decode_seqs + shape.prefill_seqs, max))

    # ---------------------------------------------------------------- inspection
    def breakdown(self, shape: BatchShape) -> StepBreakdown:
        """Every term of :meth:`step_time` for ``shape`` (per GPU). Pipelined, ``shape`` is one micro-batch
        (:func:`sim.perf.parallel.micro_batches`) and the terms are its slots (:mod:`sim.perf.pipeline`):
        every GPU stage's layers (linear, attention, activations, collectives), the lm head of the last
        stage only (``lm_head_*``: a mean GPU of the replica reads ``1/pp`` of its bytes), the CPU stage's
        ``overhead_s``; the hand-off apart. ``total_s`` is then the last stage's slot plus the CPU's."""
        n = shape.prefill_tokens + shape.decode_seqs
        if n <= 0:
            return StepBreakdown(*([0.0] * 14))
        n_emit = shape.decode_seqs + shape.prefill_seqs
        pairs, prefill_kv, ctx = shape.prefill_attn_pairs, shape.prefill_kv_tokens, shape.decode_context_tokens
        pairs = prompt_pairs = self._prompt_pairs(shape.prefill_tokens, pairs, prefill_kv)
        if self._sw_layers:
            pairs, prefill_kv, ctx = self._windowed(shape.prefill_tokens, pairs, prefill_kv, shape.decode_seqs, ctx)
        linear_flops, linear_bytes, linear_s = self._linear_parts(n)
        attn_flops = self._attn_flops_per_pair * (pairs + ctx * self._decode_pair_ratio)
        kv_bytes = self._kv_bytes(shape.prefill_tokens, prefill_kv, shape.decode_seqs, ctx)
        lm_flops = self._lm_flops_per_seq * n_emit
        act_bytes = self._act_bytes_per_token * n
        comm_bytes = float(self._comm_calls * n * self.model.hidden * 2) if self.tp > 1 else 0.0
        act_s, comm_s = self._act_comm_s(n)
        if self._adp:   # the busiest rank (see _adp_parts)
            linear_flops, linear_bytes, linear_s, attn_flops, kv_bytes, attention_s = self._adp_parts(
                n, shape.prefill_tokens, prompt_pairs, shape.prefill_kv_tokens, shape.decode_seqs,
                shape.decode_context_tokens, n_emit)
        else:
            attention_s = self._attention_s(pairs, ctx, kv_bytes)
        return StepBreakdown(
            linear_flops=linear_flops, linear_bytes=linear_bytes, attention_flops=attn_flops,
            kv_bytes=kv_bytes, lm_head_flops=lm_flops, lm_head_bytes=self._lm_bytes, activation_bytes=act_bytes,
            comm_bytes=comm_bytes,
            linear_s=linear_s + self._routing_s + self._decode_level_s(shape.decode_seqs),
            attention_s=attention_s + self._attention_floors_s(shape.prefill_tokens, shape.decode_seqs),
            lm_head_s=self._lm_head_s(n_emit), activation_s=act_s, comm_s=comm_s, overhead_s=self.cpu.seconds(n_emit, n))
