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


def usage_from_monthly(start, gpus: Mapping[str, Sequence[float]],
                       requests: Mapping[str, Sequence[tuple[float, float, float]]] | None = None,
                       utilization: float = 1.0, rows_per_month: int = 30,
                       scale_note: str = "") -> Usage:
    """A coarse :class:`Usage` from monthly aggregates (a fleet-level what-if without a run).

    ``gpus[pool][k]``: GPUs provisioned through calendar month k (k = 0: the month of ``start``,
    which must be the 1st). ``requests[line][k] = (count, input_tokens_each, output_tokens_each)``:
    completed requests of that revenue line in month k, spread over ``rows_per_month`` evenly
    spaced rows with weight ``count / rows_per_month``. Busy GPU time is ``utilization`` x
    provisioned. The horizon is the whole months given.
    """
    from sim.economics.calendar import Calendar, period_next

    if start.day != 1:
        raise ValueError(f"start must be the first day of a month (got {start})")
    cal = Calendar(start)
    months = max([len(v) for v in gpus.values()] + [len(v) for v in (requests or {}).values()] + [0])
    edges = [0.0]
    d = start
    for _ in range(months):
        d = period_next(d, "month")
        edges.append(cal.seconds_at(d))
    intervals = [(pool, g, edges[k], edges[k + 1]) for pool, seq in gpus.items()
                 for k, g in enumerate(seq) if g > 0]
    names = tuple((requests or {}).keys())
    rows = []
    for li, (line, seq) in enumerate((requests or {}).items()):
        for k, (count, n_in, n_out) in enumerate(seq):
            if count <= 0:
                continue
            span = edges[k + 1] - edges[k]
            for j in range(rows_per_month):
                rows.append((edges[k] + (j + 0.5) * span / rows_per_month, n_in, n_out, li,
                             count / rows_per_month))
    rows.sort(key=lambda r: r[0])
    busy = {pool: utilization * sum(g * (edges[k + 1] - edges[k]) for k, g in enumerate(seq))
            for pool, seq in gpus.items()}
    return usage_from_rows(edges[-1], intervals, rows, names, busy, scale_note)


def requests_per_month(start, months: int, rate_per_s: float, monthly_growth: float = 0.0,
                       growth_month_s: float = 30.4375 * 86400) -> list[float]:
    """Expected arrivals in each calendar month from ``start`` (the 1st of a month) of a rate
    ``rate_per_s x (1 + monthly_growth)^(t / growth_month_s)`` (the workload's ``growth``).

    Each month is the closed-form integral ``r T / ln(u) (u^(b/T) - u^(a/T))`` with ``u = 1 + g``.
    """
    import math

    from sim.economics.calendar import Calendar, period_next

    cal = Calendar(start)
    edges, d = [0.0], start
    for _ in range(months):
        d = period_next(d, "month")
        edges.append(cal.seconds_at(d))
    u = 1.0 + monthly_growth
    if monthly_growth == 0:
        return [rate_per_s * (b - a) for a, b in zip(edges[:-1], edges[1:])]
    k = rate_per_s * growth_month_s / math.log(u)
    return [k * (u ** (b / growth_month_s) - u ** (a / growth_month_s)) for a, b in zip(edges[:-1], edges[1:])]
