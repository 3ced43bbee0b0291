"""The pure-decode forms of a roofline step, the engine's hot path: ``decode_step``, ``decode_run``, ``decode_times``.

An iteration that only decodes (no prompt tokens) is by far the most common one a replica runs, so
:class:`DecodeParts`, a base of :class:`sim.perf.roofline.RooflineModel` (like
:class:`sim.perf.attention.AttentionParts`), gives the engine three faster forms of its
:meth:`~sim.perf.roofline.RooflineModel.step_time` for it, each with **the same float operations** (the
results are equal bit for bit, which ``tests/test_perf_roofline.py`` and ``tests/test_decode_run_bits.py`` check):

- :meth:`DecodeParts.decode_step`: one step of ``n_seqs`` sequences at ``context_tokens`` tokens of context
  in all, the terms that depend on ``n_seqs`` alone (the linear layers, the attention floors, the lm head,
  activations, collectives and the CPU side) cached per batch size (:meth:`DecodeParts._decode_terms`), so
  that only the attention's context-dependent term is worked out per call;
- :meth:`DecodeParts.decode_run`: up to ``k`` consecutive steps of the same sequences, each one token longer,
  that loop inlined (:func:`sim.perf.base.decode_run_fn` says what it returns); where the KV-cache read
  outlasts the attention FLOPs at every context (``_decode_memory_bound``) the ``max`` is skipped;
- :meth:`DecodeParts.decode_times`: many contexts of one batch size at once, as numpy arrays.

Where a step is not one formula of the context (pipeline stages: micro-batches; sliding-window layers: capped
contexts; data-parallel attention: the busiest rank; MLA: its absorbed decode is priced by
:meth:`~sim.perf.roofline.RooflineModel.step_time` only), the fast forms fall back to ``step_time``, one call
per step: the same numbers, more slowly.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sim.perf.base import BatchShape
from sim.perf.parallel import Layout


class DecodeParts:
    """The pure-decode forms of a roofline step (module docstring); a base of
    :class:`~sim.perf.roofline.RooflineModel`, reading the per-GPU coefficients it sets up and its step terms:
    ``_seconds`` (a whole unpipelined step), ``_linear_parts``, ``_floors_s``, ``_rest_s`` and ``step_time``."""

    model: Any
    layout: Layout
    _sw_layers: Any
    _adp: bool
    _kv_bytes_per_token: float
    _decode_kv_read_bytes_per_token: float
    _attn_flops_per_pair: float
    _attn_peak: float
    _attn_bw: float
    _seconds: Any
    _linear_parts: Any
    _floors_s: Any
    _rest_s: Any
    step_time: Any

    def _init_decode(self, lay: Layout) -> None:
        """The decode forms' cache and the choice of loop, once the step's coefficients are set up (the last thing
        :class:`~sim.perf.roofline.RooflineModel` does on construction)."""
        # per batch size: the terms of a pure-decode step that do not depend on its context (_decode_terms)
        self._decode_cache: dict[int, tuple] = {}
        # Whether a pure-decode step's attention is bound by its KV bytes at every context x >= 0:
        # b(x) = (kv_fixed + read * x) / bw against a(x) = flops * x / peak (decode_step), both affine in x
        # with a(0) = 0 <= b(0). With b's slope above a's by a relative margin of 1e-9 (far above the few
        # units in the last place of rounding in either), the computed b exceeds the computed a at every
        # x > 0 (and both are 0.0 at x = 0), so decode_run can skip a and the max without changing a bit.
        self._decode_memory_bound = (self._decode_kv_read_bytes_per_token >= 0.0 and self._attn_flops_per_pair >= 0.0
                                     and self._attn_peak > 0.0 and self._attn_bw > 0.0
                                     and self._decode_kv_read_bytes_per_token / self._attn_bw
                                     > self._attn_flops_per_pair / self._attn_peak * (1.0 + 1e-9))
        if lay.pp > 1 or self._sw_layers or self.model.is_mla or self._adp:
            # no cached fast path: the engine falls back to step_time per iteration (same numbers)
            self.decode_step = self._decode_step_general
            self.decode_run = None

    def _decode_step_general(self, n_seqs: int, context_tokens: int) -> float:
        """A pure-decode step by :meth:`step_time` (the fallback where there is no cached fast path)."""
        return self.step_time(BatchShape(decode_seqs=n_seqs, decode_context_tokens=context_tokens))

    def decode_times(self, n_seqs: int, context_tokens: np.ndarray) -> np.ndarray:
        """Pure-decode steps of ``n_seqs`` sequences at each of ``context_tokens`` (an array): :meth:`step_time`'s
        float operations on arrays (``np.maximum`` for ``max``), or one :meth:`step_time` per element where the
        step is not one formula of the context (module docstring)."""
        ctx = np.asarray(context_tokens)
        if n_seqs <= 0:
            return np.zeros(ctx.shape, dtype=float)
        if self.layout.pp > 1 or self._sw_layers or self._adp:   # scalar caps, micro-batches, ranks: one call per step
            return np.array([self._decode_step_general(n_seqs, int(c)) for c in ctx.ravel()],
                            dtype=float).reshape(ctx.shape)
        out = self._seconds(n_seqs, 0, 0.0, 0, n_seqs, ctx, n_seqs, np.maximum)
        return np.asarray(out, dtype=float)

    def _decode_terms(self, n: int) -> tuple:
        """The terms of a pure-decode step that depend only on the batch size (cached per size):
        ``(linear_s + attention floors, kv_fixed_bytes, rest_s, kv_read_bytes_per_token,
        attn_flops_per_pair, attn_peak, attention bw)``."""
        cache = self._decode_cache
        c = cache.get(n)
        if c is None:
            linear_s = self._linear_parts(n)[2]
            kv_fixed = self._kv_bytes_per_token * ((0 - 0) + (n + 0))
            c = (linear_s + self._floors_s(0, n), kv_fixed, self._rest_s(n, n),
                 self._decode_kv_read_bytes_per_token, self._attn_flops_per_pair, self._attn_peak, self._attn_bw)
            if len(cache) < 65536:
                cache[n] = c
        return c

    def decode_step(self, n_seqs: int, context_tokens: int) -> float:
        """Scalar pure-decode step, the same float operations as :meth:`step_time` with the terms
        that depend only on ``n_seqs`` cached (the engine calls this once per decode iteration)."""
        if n_seqs <= 0:
            return 0.0
        linear_s, kv_fixed, rest, read, flops, peak, bw = self._decode_terms(n_seqs)
        kv_bytes = kv_fixed + read * context_tokens
        attn_s = max(flops * (0.0 + context_tokens) / peak, kv_bytes / bw)
        return linear_s + attn_s + rest

    def decode_run(self, n_seqs: int, context_tokens: int, k: int, t: float,
                   stop: float) -> tuple[list[float], list[float]]:
        """Up to ``k`` decode iterations from time ``t`` (see :func:`sim.perf.base.decode_run_fn`):
        :meth:`decode_step`'s float operations inlined in one loop, the hot path of the fast engine."""
        steps: list[float] = []
        ends: list[float] = []
        if n_seqs <= 0:
            return steps, ends
        c = self._decode_cache.get(n_seqs)
        linear_s, kv_fixed, rest, read, flops, peak, bw = c if c is not None else self._decode_terms(n_seqs)
        add_step, add_end = steps.append, ends.append
        ctx = 0.0 + context_tokens      # a float from the start: the same value as each (0.0 + ctx) below 2**53
        if self._decode_memory_bound and kv_fixed >= 0.0:
            # the attention's bytes outlast its FLOPs at every context (see _init_decode): max(a, b) is b
            for _ in range(k):
                dt = linear_s + (kv_fixed + read * ctx) / bw + rest
                t = t + dt
                add_step(dt)
                add_end(t)
                ctx += n_seqs
                if t >= stop:
                    break
            return steps, ends
        for _ in range(k):
            a = flops * ctx / peak
            b = (kv_fixed + read * ctx) / bw
            dt = linear_s + (b if b > a else a) + rest   # max(a, b), as decode_step
            t = t + dt
            add_step(dt)
            add_end(t)
            ctx += n_seqs
            if t >= stop:
                break
        return steps, ends
