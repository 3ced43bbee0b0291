"""The attention terms of a roofline step: its kernels' rates, fixed time and KV-cache traffic.

:class:`AttentionParts` is a base of :class:`sim.perf.roofline.RooflineModel` (the same coefficients, the
same float operations; the module docstring there gives the formulas): the attention FLOPs of an iteration's
prompt (query, key) pairs and decode context at the peak of the precision attention computes in times the
attention kernels' efficiency, the KV bytes it reads and writes at the attention bandwidth, whichever is
longer; the kernel set's fixed time per attention call; and the sliding-window layers' caps on the keys a
query sees. The busiest data-parallel attention rank reuses them (:mod:`sim.perf.ranks`).

    >>> from sim.scenario.catalog import get_model
    >>> attention_widths(get_model("llama-2-7b"))
    (4096, 4096, 16384)
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from sim.perf.kernels import KernelSet, prefill_attention_dtype
from sim.perf.memory import BYTES_PER_ELEMENT
from sim.perf.parallel import Layout
from sim.scenario.architecture import kv_elements_per_token
from sim.scenario.catalog import Efficiency, GPUSpec, ModelSpec

KV_SHARING = ("grouped", "per_query_head")
"""How decode attention reads the KV cache of a grouped-query model (:mod:`sim.perf.roofline`'s docstring)."""


def attention_widths(m: ModelSpec) -> tuple[int, int, int]:
    """``(qk, v, io)``: summed query-key and value widths over heads (attention FLOPs per pair are
    ``2*(qk + v)``), and the summed output widths of the attention GEMMs plus the O projection's input
    (activation traffic). GQA: ``(q, q, 2q + 2kv)``; MLA in its prefill (decompressed) form."""
    if not m.is_mla:
        return m.q_dim, m.q_dim, 2 * m.q_dim + 2 * m.kv_dim
    io = m.q_lora_rank + m.q_dim + m.kv_lora_rank + m.qk_rope_head_dim \
        + m.n_heads * (m.qk_nope_head_dim + m.v_head_dim) + m.o_dim
    return m.q_dim, m.o_dim, io


class AttentionParts:
    """The attention parts of a roofline step (module docstring); a base of
    :class:`~sim.perf.roofline.RooflineModel`, reading its ``model``, ``tp`` and GEMM bandwidth ``_bw``."""

    model: ModelSpec
    tp: int
    _bw: float

    def _init_attention(self, gpu: GPUSpec, lay: Layout, eff: Efficiency, ks: KernelSet, L: int, kv_dtype: str,
                        kv_sharing: str) -> None:
        """The attention coefficients of one stage of ``L`` layers: rates, floors, FLOPs per pair, KV bytes
        per token and the sliding-window caps."""
        m, tp = self.model, self.tp
        kb = BYTES_PER_ELEMENT[kv_dtype]
        # attention FLOP/s per phase: the precision it computes in (decode the cache's, prompts per
        # sim.perf.kernels.prefill_attention_dtype) times the attention kernels' efficiency (the catalog's, not the
        # weights'); prompt pairs are weighted by the two peaks' ratio (exactly 1.0 when they are equal)
        self.prefill_attention_dtype = prefill_attention_dtype(kv_dtype, m.is_mla)
        frac = ks.attention_flops_fraction
        self._attn_peak = gpu.peak_tflops(kv_dtype) * 1e12 * (
            gpu.attention_efficiency("decode", eff) if frac is None else frac)
        self._prefill_attn_peak = gpu.peak_tflops(self.prefill_attention_dtype) * 1e12 * (
            gpu.attention_efficiency("prefill", eff) if frac is None else frac)
        self._prefill_pair_weight = self._attn_peak / self._prefill_attn_peak
        self._attn_bw = self._bw if ks.attention_bw_fraction is None else gpu.hbm_bytes_per_s * ks.attention_bw_fraction
        # per-layer kernel floors of the stage's L layers (0.0 for the trtllm set: adding it changes no bit)
        self._prefill_floor_s = ks.prefill_attention_floor_s * L
        self._decode_floor_s = ks.decode_attention_floor_s * L
        qk_dim, v_dim, _ = attention_widths(m)
        self._attn_flops_per_pair = 2.0 * (qk_dim + v_dim) * L / tp
        # decode attention per (query, cached key) pair relative to prefill's: MLA decodes with the
        # up-projections absorbed, in the 512+64-wide latent space (DeepSeek-V2 paper, section 2.1.2)
        self._decode_pair_ratio = (2.0 * m.kv_lora_rank + m.qk_rope_head_dim) * m.n_heads / (qk_dim + v_dim) \
            if m.is_mla else 1.0
        # a kernel set whose MLA prompt batches run absorbed once any chunk has cached tokens before it
        # (KernelSet.mla_absorbed_prefix_batches): their prompt pairs at the absorbed latent width
        self._absorb_prefixed = ks.mla_absorbed_prefix_batches and m.is_mla
        if m.is_mla:   # one latent per token and layer, shared by all heads; replicated on every TP rank
            self._kv_bytes_per_token = kv_elements_per_token(m, L) * kb * (1 if lay.dp_attention else tp) / tp
            self._decode_kv_read_bytes_per_token = self._kv_bytes_per_token
        else:          # data-parallel attention keeps each sequence's whole KV on one GPU: no replication
            kvh = m.n_kv_heads if lay.dp_attention else max(m.n_kv_heads, tp)
            self._kv_bytes_per_token = 2.0 * L * kvh * m.head_dim * kb / tp
            read_heads = kvh if kv_sharing == "grouped" else m.n_heads
            self._decode_kv_read_bytes_per_token = 2.0 * L * read_heads * m.head_dim * kb / tp
        # sliding-window layers: their share of the KV traffic is capped at window + sinks per sequence
        self._sw_layers = round(m.sliding_layers * L / m.n_layers) if m.sliding_window else 0
        self._sw_cap = m.sliding_window + m.attention_sinks
        self._sw_frac = self._sw_layers / L if L else 0.0

    def _kv_bytes(self, prefill_tokens: Any, prefill_kv: Any, decode_seqs: Any, decode_ctx: Any) -> Any:
        """KV-cache bytes an iteration moves on the stage's GPU: the prompt tokens' attention reads the
        ``prefill_kv - prefill_tokens`` cached tokens before them, every new token (prompt or decode) writes
        its own KV, and the decoding sequences read their ``decode_ctx`` cached tokens (the decode read
        width: every query head's under ``kv_sharing: per_query_head``)."""
        return (self._kv_bytes_per_token * ((prefill_kv - prefill_tokens) + (decode_seqs + prefill_tokens))
                + self._decode_kv_read_bytes_per_token * decode_ctx)

    def _attention_s(self, pairs: Any, decode_ctx: Any, kv_bytes: Any, mx: Callable = max) -> Any:
        """Seconds of the stage's attention kernels, floors apart (the one formula of the step, its
        breakdown and the busiest data-parallel attention rank, :meth:`sim.perf.ranks.RankParts._adp_parts`):
        the larger of their FLOPs at the attention peak and their ``kv_bytes`` at the attention bandwidth.
        The FLOPs count ``pairs`` prompt (query, key) pairs, weighted by the decode peak over the prompt
        peak (``_prefill_pair_weight``: 1.0 when the two phases compute in one precision), and the
        ``decode_ctx`` cached tokens the decoding sequences attend to, weighted by ``_decode_pair_ratio``
        (MLA's absorbed latent width; 1.0 otherwise). ``mx``: ``max``, or ``np.maximum`` for an array
        ``decode_ctx`` (the same float operations either way)."""
        return mx(self._attn_flops_per_pair
                  * (pairs * self._prefill_pair_weight + decode_ctx * self._decode_pair_ratio) / self._attn_peak,
                  kv_bytes / self._attn_bw)

    def _prompt_pairs(self, prefill_tokens: Any, pairs: Any, prefill_kv: Any) -> Any:
        """The prompt (query, key) pairs of an iteration in decompressed-MLA units: ``pairs``, times the absorbed
        latent width's ratio (``_decode_pair_ratio``, 3.4 for DeepSeek-V3) when the kernel set runs a prompt batch
        absorbed once any of its chunks has cached tokens before it (``prefill_kv > prefill_tokens``;
        :attr:`sim.perf.kernels.KernelSet.mla_absorbed_prefix_batches`)."""
        if self._absorb_prefixed and prefill_kv > prefill_tokens:
            return pairs * self._decode_pair_ratio
        return pairs

    def _attention_floors_s(self, prefill_tokens: Any, decode_seqs: Any) -> float:
        """The attention kernels' fixed time: one prefill call if the iteration has prompt tokens, one
        decode call if it has decoding sequences (per layer, from the kernel set)."""
        return (self._prefill_floor_s if prefill_tokens else 0.0) + (self._decode_floor_s if decode_seqs else 0.0)

    def _windowed(self, prefill_tokens: Any, pairs: Any, prefill_kv: Any, decode_seqs: Any,
                  decode_ctx: Any) -> tuple[Any, Any, Any]:
        """Layer-averaged attention pairs, prefill KV tokens and decode context with the sliding-window
        layers capped at ``window + sinks`` keys per query (per sequence for the KV read).

        Only aggregates are known, so the caps are applied to the sums: ``min(sum_i c_i, n * W)`` is
        an upper bound of ``sum_i min(c_i, W)``, exact when every sequence is longer than the window
        (or every one shorter)."""
        f, w = self._sw_frac, self._sw_cap
        cap = np.minimum if isinstance(decode_ctx, np.ndarray) else min
        pairs = (1.0 - f) * pairs + f * min(pairs, prefill_tokens * w)
        prefill_kv = prefill_kv if not prefill_tokens else \
            prefill_tokens + (1.0 - f) * (prefill_kv - prefill_tokens) + f * min(prefill_kv - prefill_tokens, prefill_tokens * w)
        decode_ctx = (1.0 - f) * decode_ctx + f * cap(decode_ctx, decode_seqs * w)
        return pairs, prefill_kv, decode_ctx
