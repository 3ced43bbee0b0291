"""The fluid tier's provisioned GPU intervals: a pool's replica count per step as the intervals billing
rounds (one per replica slot and run of steps at one value), held as columns, not one object each."""
from __future__ import annotations

import numpy as np

from sim.economics.usage import Intervals


def replica_intervals(n: np.ndarray, edges: np.ndarray, gpus_per_replica: float) -> tuple[np.ndarray, ...]:
    """Provisioned intervals per replica slot (slot j is up while more than j replicas are), so that
    billing rounds each replica's provisioned time as a request-level run does, not each step.

    Returned as columns ``(gpus, start_s, end_s)``, slot by slot: a run of a year or two has
    millions of intervals, which as one Python object each cost gigabytes.

    Slot ``j`` runs at ``clip(n - j, 0, 1)`` of a replica; an interval is a run of steps at one
    nonzero value. Between two steps only the slots from ``floor(min)`` to ``ceil(max) - 1`` of the
    two counts can change, so the changes are found from the count's steps (as many as the intervals,
    not slots x steps: 184,000 five-minute steps of up to 23,000 slots took 8 s slot by slot)."""
    n = np.asarray(n, dtype=np.float64)
    top = int(np.ceil(n.max())) if len(n) else 0
    if top <= 0:
        return tuple(np.zeros(0) for _ in range(3))
    steps = len(n)
    # candidate (slot, step) pairs: step i (>= 1) may change slots floor(min) .. ceil(max) - 1 of n[i-1], n[i]
    at = np.flatnonzero(n[1:] != n[:-1]) + 1
    lo = np.maximum(np.floor(np.minimum(n[at - 1], n[at])), 0).astype(np.int64)
    hi = np.minimum(np.ceil(np.maximum(n[at - 1], n[at])).astype(np.int64), top)
    count = np.maximum(hi - lo, 0)
    first = np.cumsum(count) - count
    step = np.repeat(at, count)
    slot = np.repeat(lo - first, count) + np.arange(int(count.sum()), dtype=np.int64)
    moved = np.clip(n[step] - slot, 0.0, 1.0) != np.clip(n[step - 1] - slot, 0.0, 1.0)
    slot, step = slot[moved], step[moved]
    # slot by slot, each slot's changes in time order (a stable sort; on 16-bit keys numpy's radix sort)
    order = np.argsort(slot.astype(np.uint16) if top <= 1 << 16 else slot, kind="stable")
    slot, step = slot[order], step[order]
    # each slot's runs: from 0 and from each change, to each change and to the end. Slot s's runs
    # start after those of the slots below it (their changes, plus one run each), so the k-th
    # change in this order ends run k + s and starts run k + s + 1
    runs = np.bincount(slot, minlength=top) + 1
    at_run = slot + np.arange(len(slot), dtype=np.int64)
    a = np.zeros(len(slot) + top, dtype=np.int64)
    b = np.full(len(a), steps, dtype=np.int64)
    a[at_run + 1] = step
    b[at_run] = step
    frac = np.clip(n[a] - np.repeat(np.arange(top, dtype=np.int64), runs), 0.0, 1.0)
    up = frac > 0
    a, b = a[up], b[up]
    return ((frac[up] * gpus_per_replica).astype(np.float64), np.asarray(edges[a], dtype=np.float64),
            np.asarray(edges[b], dtype=np.float64))


def interval_columns(parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> Intervals:
    """One :class:`~sim.economics.usage.Intervals` of every pool's ``(name, gpus, start_s, end_s)``
    (pools without intervals left out, as :meth:`Intervals.from_rows` would)."""
    kept = [part for part in parts if len(part[1])]
    pool = [np.full(len(g), i, dtype=np.int64) for i, (_, g, _, _) in enumerate(kept)]

    def cat(arrays: list, dtype) -> np.ndarray:
        return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype=dtype)

    return Intervals(tuple(name for name, *_ in kept), cat(pool, np.int64), cat([g for _, g, _, _ in kept], np.float64),
                     cat([s for _, _, s, _ in kept], np.float64), cat([e for _, _, _, e in kept], np.float64))
