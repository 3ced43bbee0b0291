"""The busiest rank of a replica's step, and its mean rank: data-parallel attention and expert parallelism.

Under ``data_parallel_attention`` each of the ``tp`` GPUs of a stage runs whole sequences through
attention, and with ``expert_parallel > 1`` each expert group holds whole experts; the iteration
waits for the busiest rank of each (docs/models_and_parallelism.md, "Balance across data-parallel
attention ranks"), while utilization counts the mean GPU. :class:`RankParts` prices both for
:class:`sim.perf.roofline.RooflineModel` (it is that class's base: the same coefficients, the same
float operations), so the roofline module keeps the tensor-parallel step and this one the ranks:

- **data-parallel attention** (:meth:`RankParts._adp_parts`): the busiest rank holds ``ceil(d/tp)``
  of the ``d`` decodes and ``ceil(p/tp)`` of the ``p`` prompts; its attention kernels and attention
  GEMMs (whole attention weights on every rank) run on those tokens, the MLP/MoE GEMMs on the whole
  batch spread over the ranks;
- **expert parallelism** (:meth:`RankParts._expert_parts`): the routed experts' grouped GEMM on the
  busiest expert-parallel rank, its tile-padded rows and distinct local experts (:mod:`sim.perf.moe`).
"""
from __future__ import annotations

import math
from typing import Any

from sim.perf.base import BatchShape
from sim.perf.memory import BYTES_PER_ELEMENT, data_parallel_dense
from sim.perf.moe import ExpertLoad
from sim.perf.parallel import Layout
from sim.scenario.architecture import layer_param_groups


class RankParts:
    """Busiest- and mean-rank parts of a roofline step (module docstring); a base of
    :class:`~sim.perf.roofline.RooflineModel`, reading the per-GPU coefficients it sets up and its
    GEMM time ``_roofline(t_compute_s, t_memory_s, p)`` (:func:`sim.perf.roofline.smooth_roofline`) and
    attention time ``_attention_s(pairs, decode_ctx, kv_bytes)``
    (:meth:`sim.perf.attention.AttentionParts._attention_s`)."""

    _roofline: Any
    _attention_s: Any

    def _init_ranks(self, lay: Layout, L: int, weight_dtype: str, io_width: float, act_w: float) -> None:
        """The coefficients of the data-parallel attention and expert-parallel parts of one stage of
        ``L`` layers (``io_width``, ``act_w``: the attention and MLP activation widths)."""
        m, tp, h = self.model, self.tp, self.model.hidden
        # data-parallel attention: whole sequences per rank, the step waits for the busiest rank
        # (docs/models_and_parallelism.md, "Balance across data-parallel attention ranks")
        self._adp = lay.dp_attention and tp > 1
        if self._adp:
            groups = layer_param_groups(m)
            # the GEMMs whose weights every rank holds whole, run on the rank's own tokens: attention, and
            # with whole experts per GPU also the dense layers, shared experts and router
            attn_params = (groups["attention"] + (groups["dense_mlp"] + groups["shared"]
                                                  if data_parallel_dense(m, lay) else 0)) \
                * (L / m.n_layers if lay.pp > 1 else 1)
            self._attn_gemm_flops_per_token = 2.0 * attn_params
            self._mlp_flops_per_token = self._linear_flops_per_token - 2.0 * attn_params / tp
            self._attn_weight_bytes = attn_params * BYTES_PER_ELEMENT[weight_dtype]
            self._mlp_fixed_bytes = self._linear_fixed_bytes - self._attn_weight_bytes
            self._attn_io_bytes_per_token = 2.0 * L * (2 * h + io_width)
            self._mlp_io_bytes_per_token = 2.0 * L * (2 * h + act_w / tp)
        # expert parallelism: the routed experts' grouped GEMM runs on the busiest EP rank (sim.perf.moe)
        self._ep_load = ExpertLoad(m.n_experts, m.experts_per_token, lay.ep) if lay.ep > 1 and m.is_moe else None
        if self._ep_load is not None:
            expert_params = layer_param_groups(m)["expert"] * (L / m.n_layers if lay.pp > 1 else 1)
            self._expert_slice_bytes = self._expert_bytes * lay.ep         # one local expert on one GPU
            self._expert_flops_per_row = 2.0 * expert_params * lay.ep / tp  # one token through it
            self._routed_flops_per_token = 2.0 * expert_params * m.experts_per_token / tp   # on average
            self._expert_cache: dict[Any, tuple[float, float, float]] = {}

    def _expert_parts(self, n_tokens: Any) -> tuple[float, float, float]:
        """``(flops, bytes, seconds)`` of the routed experts' grouped GEMM on the busiest EP rank:
        the tile-padded rows it receives and the distinct local experts it reads (:mod:`sim.perf.moe`)."""
        c = self._expert_cache.get(n_tokens)
        if c is None:
            experts, rows = self._ep_load.busiest(n_tokens)
            flops = self._expert_flops_per_row * rows
            expert_bytes = self._expert_slice_bytes * experts
            c = flops, expert_bytes, self._roofline(flops / self._gemm_peak, expert_bytes / self._bw,
                                                     self.overlap_exponent)
            if len(self._expert_cache) < 65536:
                self._expert_cache[n_tokens] = c
        return c

    def _layers_s_adp(self, n_tokens: Any, prefill_tokens: Any, pairs: Any, prefill_kv: Any, decode_seqs: Any,
                      decode_ctx: Any, n_emit: Any) -> float:
        """Seconds of a stage's linear layers and attention under data-parallel attention (scalars only;
        see :meth:`_adp_parts`)."""
        _, _, linear_s, _, _, attn_s = self._adp_parts(n_tokens, prefill_tokens, pairs, prefill_kv, decode_seqs,
                                                       decode_ctx, n_emit)
        return (linear_s + self._floors_s(prefill_tokens, decode_seqs)) + attn_s

    def _adp_parts(self, n_tokens: Any, prefill_tokens: Any, pairs: Any, prefill_kv: Any, decode_seqs: Any,
                   decode_ctx: Any, n_emit: Any, mean: bool = False) -> tuple[float, float, float, float, float, float]:
        """``(linear_flops, linear_bytes, linear_s, attention_flops, kv_bytes, attention_s)`` of the
        busiest rank under data-parallel attention (``mean``: of the mean rank, ``1/tp`` of every sequence).

        Each rank runs whole sequences through attention, so the iteration waits for the busiest
        rank, which holds ``ceil(d/tp)`` of the ``d`` decodes and ``ceil(p/tp)`` of the ``p``
        prefills (prompts spread round-robin, as TensorRT-LLM's attention-DP scheduler does; equal
        prompts assumed, so its share of the prefill tokens is ``ceil(p/tp)/p``). Its attention
        kernels and attention GEMMs (whole attention weights on every rank) run on those tokens;
        the MLP/MoE GEMMs run on the whole batch spread over the ranks. The two GEMM groups take
        their own roofline (they are separate kernels, on different token counts).
        """
        tp = self.tp
        n_p = n_emit - decode_seqs
        # busiest rank's share of the prompts and of the decodes, x tp (1: the mean rank's)
        pf = tp * math.ceil(n_p / tp) / n_p if n_p > 0 and not mean else 1.0
        fd = tp * math.ceil(decode_seqs / tp) / decode_seqs if decode_seqs > 0 and not mean else 1.0
        n_rank = (fd * decode_seqs + pf * prefill_tokens) / tp          # tokens on the busiest (mean) rank
        p = self.overlap_exponent
        attn_gemm_flops = self._attn_gemm_flops_per_token * n_rank
        attn_gemm_bytes = self._attn_weight_bytes + self._attn_io_bytes_per_token * n_rank
        if self._ep_load is None:
            mlp_flops = self._mlp_flops_per_token * n_tokens
            mlp_bytes = (self._mlp_fixed_bytes + self._expert_bytes * self.experts_hit(n_tokens)
                         + self._mlp_io_bytes_per_token * n_tokens)
            e_flops = e_bytes = e_s = 0.0
        else:   # the routed experts' grouped GEMM apart, on the busiest EP rank
            # (nothing else is left here when the dense layers are data-parallel: 0 up to rounding)
            mlp_flops = max(0.0, (self._mlp_flops_per_token - self._routed_flops_per_token) * n_tokens)
            mlp_bytes = max(0.0, self._mlp_fixed_bytes) + self._mlp_io_bytes_per_token * n_tokens
            e_flops, e_bytes, e_s = self._expert_parts(n_tokens)
        linear_s = (self._roofline(attn_gemm_flops / self._gemm_peak, attn_gemm_bytes / self._bw, p)
                    + self._roofline(mlp_flops / self._gemm_peak, mlp_bytes / self._bw, p)) + e_s
        mlp_flops, mlp_bytes = mlp_flops + e_flops, mlp_bytes + e_bytes
        if self._sw_layers:
            pairs, prefill_kv, decode_ctx = self._windowed(prefill_tokens, pairs, prefill_kv, decode_seqs, decode_ctx)
        kv_bytes = (self._kv_bytes_per_token * (pf * ((prefill_kv - prefill_tokens) + prefill_tokens) + fd * decode_seqs)
                    + self._decode_kv_read_bytes_per_token * fd * decode_ctx)
        attn_flops = self._attn_flops_per_pair * (pf * pairs + fd * decode_ctx * self._decode_pair_ratio)
        attn_s = self._attention_s(pf * pairs, fd * decode_ctx, kv_bytes)
        return attn_gemm_flops + mlp_flops, attn_gemm_bytes + mlp_bytes, linear_s, attn_flops, kv_bytes, attn_s

    def routed_expert_s(self, n_tokens: int) -> float:
        """Seconds of the routed experts' grouped GEMM on the busiest expert-parallel rank for a layer
        input of ``n_tokens`` tokens (part of ``linear_s``; 0 without expert parallelism, where the
        experts are priced with the other linear layers)."""
        return self._expert_parts(n_tokens)[2] if self._ep_load is not None and n_tokens > 0 else 0.0

    def routed_expert_bytes(self, n_tokens: Any) -> tuple[float, float]:
        """``(busiest, mean)``: bytes of routed-expert weights an iteration of ``n_tokens`` tokens
        reads on the busiest expert-parallel rank (what :meth:`breakdown`'s ``linear_bytes`` counts,
        since the step waits for it) and on the mean GPU (the distinct experts hit over the whole
        replica, spread over its GPUs: what utilization counts). ``(0.0, 0.0)`` without expert
        parallelism, where ``linear_bytes`` is already the mean."""
        if self._ep_load is None or not n_tokens > 0:
            return 0.0, 0.0
        return self._expert_parts(n_tokens)[1], self._expert_bytes * self.experts_hit(n_tokens)

    def mean_gpu_bytes(self, shape: BatchShape) -> tuple[float, float]:
        """``(linear_bytes, kv_bytes)`` one stage slot of ``shape`` moves on the mean GPU of the stage
        (what utilization counts). :meth:`breakdown` gives the bytes the step waits for: under data-parallel
        attention the busiest attention rank's KV traffic and attention-GEMM inputs and outputs (it holds
        ``ceil(d/tp)`` of ``d`` decodes; the mean GPU ``d/tp``), with expert parallelism the busiest expert
        rank's expert weights (:meth:`routed_expert_bytes`). Without either, the breakdown's own bytes."""
        n = shape.prefill_tokens + shape.decode_seqs
        if n <= 0:
            return 0.0, 0.0
        if self._adp:
            _, linear_bytes, _, _, kv_bytes, _ = self._adp_parts(
                n, shape.prefill_tokens, shape.prefill_attn_pairs, shape.prefill_kv_tokens, shape.decode_seqs,
                shape.decode_context_tokens, shape.decode_seqs + shape.prefill_seqs, mean=True)
        else:
            x = self.breakdown(shape)
            linear_bytes, kv_bytes = x.linear_bytes, x.kv_bytes
        busiest, mean = self.routed_expert_bytes(n)
        return linear_bytes - busiest + mean, kv_bytes
