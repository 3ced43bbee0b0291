"""A step-time model with its capacity scaled: every iteration ``1 / capacity`` times as long.

``ScaledCapacity(model, 0.97)`` is ``model`` on a replica with 3 % less capacity: each step time,
whatever priced it (roofline with its CPU overhead, linear, measured table, Vidur profile), is
divided by ``0.97``, so every iteration of every batch shape is proportionally slower and the
replica serves exactly 0.97 of the work per second at any batch. This is how ``fleetsim run
--capacity-band`` asks "what if the model's throughput were off by a few per cent" (the throughput
rows of the validation report have a median error of 3.1 %) without editing results: the engine
runs the same arrivals through slower (or faster) iterations.

The scaled forms keep the protocol's promise (:class:`~sim.perf.base.StepTimeModel`): the scalar
step and the vectorised decode times are the inner model's, divided by ``capacity`` with the same
one float division (a short decode run loops over the scalar step, :func:`sim.perf.base.decode_run_fn`),
so the fast and reference engines stay bit for bit equal.

    >>> from sim.perf.base import BatchShape
    >>> from sim.perf.linear import LinearModel
    >>> m = ScaledCapacity(LinearModel(base_s=0.02), 0.5)
    >>> m.step_time(BatchShape(decode_seqs=1)), m.decode_step(1, 0)
    (0.04, 0.04)
"""
from __future__ import annotations

import math

import numpy as np

from sim.perf.base import BatchShape, StepTimeModel, decode_step_fn


class ScaledCapacity:
    """``inner`` with ``capacity`` times its throughput (step times divided by ``capacity`` > 0)."""

    __slots__ = ("inner", "capacity", "_step")

    def __init__(self, inner: StepTimeModel, capacity: float) -> None:
        if not (isinstance(capacity, (int, float)) and math.isfinite(capacity) and capacity > 0):
            raise ValueError(f"capacity scale must be a finite number > 0 (got {capacity!r})")
        self.inner = inner
        self.capacity = float(capacity)
        self._step = decode_step_fn(inner)

    @property
    def fallback(self):
        """The inner model's roofline fallback (a table's), for what reads the roofline's byte terms:
        bytes moved do not change with speed."""
        return getattr(self.inner, "fallback", None)

    def step_time(self, shape: BatchShape) -> float:
        return self.inner.step_time(shape) / self.capacity

    def decode_step(self, n_seqs: int, context_tokens: int) -> float:
        return self._step(n_seqs, context_tokens) / self.capacity

    def decode_times(self, n_seqs: int, context_tokens: np.ndarray) -> np.ndarray:
        return self.inner.decode_times(n_seqs, context_tokens) / self.capacity


def scaled(model: StepTimeModel, capacity: float) -> StepTimeModel:
    """``model`` itself when ``capacity`` is 1, else :class:`ScaledCapacity` around it."""
    return model if capacity == 1.0 else ScaledCapacity(model, capacity)
