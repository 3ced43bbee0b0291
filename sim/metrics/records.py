"""Per-request records and token-gap samples, kept as columns (numpy), appended in chunks.

A finished (completed, rejected or failed) request becomes one row of :data:`RECORD_DTYPE`; rows
are buffered as tuples and frozen into structured arrays every ``chunk`` rows. With
``records: sample`` only a deterministic 1-in-N subset of rows is kept for the CSV while every
summary statistic still sees every request (streaming log-histograms, see
:class:`~sim.metrics.histogram.LogHistogram`); ``records: none`` keeps no rows.
"""
from __future__ import annotations

import numpy as np

RECORD_DTYPE = np.dtype([
    ("rid", "i8"), ("arrival_s", "f8"), ("sched_s", "f8"), ("first_token_s", "f8"), ("completion_s", "f8"),
    ("prompt_tokens", "i8"), ("output_tokens", "i8"), ("generated_tokens", "i8"), ("preemptions", "i4"),
    ("retries", "i4"), ("pool", "i2"), ("replica", "i4"), ("cls", "i2"), ("status", "i1"), ("reason", "i1"),
])


class RequestLog:
    """Columnar store of finished requests."""

    def __init__(self, chunk: int = 65536) -> None:
        self.chunk = chunk
        self._buf: list[tuple] = []
        self._parts: list[np.ndarray] = []

    def append(self, row: tuple) -> None:
        self._buf.append(row)
        if len(self._buf) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._parts.append(np.array(self._buf, dtype=RECORD_DTYPE))
            self._buf = []

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts) + len(self._buf)

    def array(self) -> np.ndarray:
        """All rows, sorted by request id (arrival order)."""
        self._flush()
        if not self._parts:
            return np.zeros(0, dtype=RECORD_DTYPE)
        arr = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        self._parts = [arr]
        order = np.argsort(arr["rid"], kind="stable")
        return arr[order]


class GapLog:
    """Inter-token gaps as (duration, count) pairs: one entry per decode iteration, not per token."""

    def __init__(self) -> None:
        self._gaps: list[float] = []
        self._counts: list[int] = []
        self._arr_gaps: list[np.ndarray] = []
        self._arr_counts: list[np.ndarray] = []

    def add(self, gap: float, count: int) -> None:
        self._gaps.append(gap)
        self._counts.append(count)
        if len(self._gaps) >= 65536:
            self._freeze()

    def add_array(self, gaps: np.ndarray, count: int) -> None:
        if len(gaps):
            self._arr_gaps.append(np.asarray(gaps, dtype=np.float64))
            self._arr_counts.append(np.full(len(gaps), count, dtype=np.int64))

    def _freeze(self) -> None:
        if self._gaps:
            self._arr_gaps.append(np.array(self._gaps, dtype=np.float64))
            self._arr_counts.append(np.array(self._counts, dtype=np.int64))
            self._gaps, self._counts = [], []

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        self._freeze()
        if not self._arr_gaps:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        g = np.concatenate(self._arr_gaps)
        c = np.concatenate(self._arr_counts)
        self._arr_gaps, self._arr_counts = [g], [c]
        return g, c
