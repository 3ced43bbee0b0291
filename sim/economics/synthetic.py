"""Small hand-built usages: for examples, notebooks and tests of the money layer alone.

>>> u = usage_from_rows(3600, intervals=[("main", 8, 0, 3600)], requests=[(10.0, 1000, 200, -1)])
>>> u.provisioned_gpu_seconds()["main"], int(u.output_tokens.sum())
(28800.0, 200)
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from sim.economics.usage import ProvisionedInterval, Usage


def usage_from_rows(horizon_s: float,
                    intervals: Iterable[tuple[str, float, float, float]] = (),
                    requests: Iterable[Sequence[float]] = (),
                    names: tuple[str, ...] = (),
                    busy_gpu_seconds: Mapping[str, float] | None = None,
                    scale_note: str = "") -> Usage:
    """A :class:`Usage` from rows.

    ``intervals``: ``(pool, gpus, start_s, end_s)``; ``requests``:
    ``(completion_s, input_tokens, output_tokens, revenue_line_index[, weight])`` with the index
    into ``names`` (``-1``: the default token line).
    """
    reqs = [tuple(r) if len(r) == 5 else (*r, 1.0) for r in requests]

    def col(k: int, dtype) -> np.ndarray:
        return np.array([r[k] for r in reqs], dtype=dtype)

    return Usage(
        horizon_s=float(horizon_s),
        intervals=tuple(ProvisionedInterval(p, float(g), float(s), float(e)) for p, g, s, e in intervals),
        busy_gpu_seconds=dict(busy_gpu_seconds or {}),
        completion_s=col(0, np.float64), input_tokens=col(1, np.int64),
        output_tokens=col(2, np.int64), revenue_line=col(3, np.int64),
        revenue_line_names=tuple(names), weight=col(4, np.float64), scale_note=scale_note)
