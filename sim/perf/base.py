"""The one narrow interface between the serving engine and any step-time model.

A batch iteration is described by aggregates of its sequences (:class:`BatchShape`); a
:class:`StepTimeModel` turns that into seconds. The engine never knows which model it uses.

    >>> from sim.perf.base import BatchShape
    >>> BatchShape(decode_seqs=2, decode_context_tokens=300).decode_seqs
    2
"""
from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np


class BatchShape(NamedTuple):
    """Aggregates of one batch iteration (all counts in tokens unless named ``_seqs``).

    An immutable named tuple rather than a frozen dataclass: the engine builds one per
    iteration it cannot skip and looks it up in a step-time cache; a tuple is built and hashed
    in C (0.55 us instead of 1.2 us).

    prefill_tokens: new prompt tokens processed this iteration (sum of prefill chunks).
    prefill_seqs: number of sequences with a prefill chunk in this iteration.
    prefill_attn_pairs: sum over prefill chunks of ``chunk * (prior + (chunk + 1) / 2)``, the
        query-key pairs of causal attention (``prior`` = tokens of that sequence already in cache).
    prefill_kv_tokens: sum over prefill chunks of ``prior + chunk``: KV tokens touched.
    decode_seqs: sequences generating one token each this iteration.
    decode_context_tokens: sum of the context lengths (KV tokens read) of decoding sequences.
    """

    prefill_tokens: int = 0
    prefill_seqs: int = 0
    prefill_attn_pairs: float = 0.0
    prefill_kv_tokens: int = 0
    decode_seqs: int = 0
    decode_context_tokens: int = 0


class StepTimeModel(Protocol):
    """How long one batch iteration of one replica takes, in seconds."""

    def step_time(self, shape: BatchShape) -> float:
        """Seconds for one iteration of this shape (> 0 for any non-empty batch)."""
        ...

    def decode_times(self, n_seqs: int, context_tokens: np.ndarray) -> np.ndarray:
        """Vectorised pure-decode step times: ``n_seqs`` sequences, total context per iteration.

        Must equal ``[step_time(BatchShape(decode_seqs=n_seqs, decode_context_tokens=c)) for c in
        context_tokens]`` exactly (same float operations), because the event-skipping engine uses it
        in place of per-iteration calls and must reproduce the iteration-level engine.
        """
        ...


def decode_step_fn(model: StepTimeModel):
    """A scalar ``f(n_seqs, context_tokens) -> seconds`` for pure-decode iterations.

    Models may offer a faster ``decode_step(n, ctx)`` (it must equal ``step_time`` bit for bit);
    otherwise this wraps ``step_time``.
    """
    fast = getattr(model, "decode_step", None)
    if fast is not None:
        return fast
    step = model.step_time

    def decode_step(n: int, ctx: int) -> float:
        return step(BatchShape(decode_seqs=n, decode_context_tokens=ctx))
    return decode_step


def decode_run_fn(model: StepTimeModel):
    """A scalar ``f(n_seqs, context_tokens, k, t, stop) -> (steps, ends)`` for a run of up to ``k``
    pure-decode iterations of an unchanged batch starting at time ``t``: iteration ``i`` has context
    ``context_tokens + i * n_seqs``; ``ends`` are the sequential sums ``t = t + step`` (the clock of
    the iteration-level engine) and the run stops after the first end at or after ``stop``.

    Models may offer a faster ``decode_run`` with the same float operations; otherwise this loops
    over :func:`decode_step_fn`.
    """
    fast = getattr(model, "decode_run", None)
    if fast is not None:
        return fast
    step = decode_step_fn(model)

    def decode_run(n: int, ctx: int, k: int, t: float, stop: float) -> tuple[list[float], list[float]]:
        steps: list[float] = []
        ends: list[float] = []
        for _ in range(k):
            dt = step(n, ctx)
            t = t + dt
            steps.append(dt)
            ends.append(t)
            ctx += n
            if t >= stop:
                break
        return steps, ends
    return decode_run
