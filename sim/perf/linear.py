"""A step time linear in the batch's aggregates, for abstract studies and quick what-ifs.

``step = base_s + per_prefill_token_s * prefill_tokens + per_decode_token_s * decode_seqs
+ per_context_token_s * (decode_context_tokens + prefill_kv_tokens - prefill_tokens)``, in
seconds; the last term counts the KV tokens attention reads (prior context). An empty batch takes 0 s.

    >>> from sim.perf.base import BatchShape
    >>> LinearModel(base_s=0.01, per_decode_token_s=0.001).step_time(BatchShape(decode_seqs=5))
    0.015
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.perf.base import BatchShape


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Linear :class:`~sim.perf.base.StepTimeModel` (coefficients in seconds)."""

    base_s: float = 0.0
    per_prefill_token_s: float = 0.0
    per_decode_token_s: float = 0.0
    per_context_token_s: float = 0.0

    def _seconds(self, prefill_tokens: Any, decode_seqs: Any, context_tokens: Any) -> Any:
        return (self.base_s + self.per_prefill_token_s * prefill_tokens + self.per_decode_token_s * decode_seqs
                + self.per_context_token_s * context_tokens)

    def step_time(self, shape: BatchShape) -> float:
        if shape.prefill_tokens + shape.decode_seqs <= 0:
            return 0.0
        ctx = shape.decode_context_tokens + (shape.prefill_kv_tokens - shape.prefill_tokens)
        return float(self._seconds(shape.prefill_tokens, shape.decode_seqs, ctx))

    def decode_step(self, n_seqs: int, context_tokens: int) -> float:
        """Scalar pure-decode step (the same float operations as :meth:`step_time`)."""
        if n_seqs <= 0:
            return 0.0
        return (self.base_s + self.per_prefill_token_s * 0 + self.per_decode_token_s * n_seqs
                + self.per_context_token_s * (context_tokens + (0 - 0)))

    def decode_times(self, n_seqs: int, context_tokens: np.ndarray) -> np.ndarray:
        ctx = np.asarray(context_tokens)
        if n_seqs <= 0:
            return np.zeros(ctx.shape, dtype=float)
        return np.asarray(self._seconds(0, n_seqs, ctx + (0 - 0)), dtype=float)
