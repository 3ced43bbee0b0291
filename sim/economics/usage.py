"""What the serving engine hands to the money layer: provisioned GPU time and served tokens.

All times are simulated seconds from t = 0 (the scenario's ``start`` date, 00:00 UTC). GPU
counts and busy GPU-seconds are already multiplied by the pool's ``scale`` (a pool simulated as
one shard of ``k`` identical ones reports ``k`` times the shard's GPUs); per-request records
carry a ``weight`` (the same ``k``) instead, so token revenue is ``tokens x weight``.

>>> import numpy as np
>>> u = Usage(horizon_s=3600.0, intervals=(ProvisionedInterval("main", 8.0, 0.0, 3600.0),),
...           busy_gpu_seconds={"main": 8 * 1800.0}, completion_s=np.array([10.0]),
...           input_tokens=np.array([1000]), output_tokens=np.array([200]),
...           revenue_line=np.array([-1]), revenue_line_names=(), weight=np.array([1.0]))
>>> u.provisioned_gpu_seconds()["main"]
28800.0
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class ProvisionedInterval:
    """One replica's provisioned time (warming, idle, failed-and-held included).

    ``gpus`` is already multiplied by the pool's ``scale``.
    """

    pool: str
    gpus: float
    start_s: float
    end_s: float


@dataclass(frozen=True, eq=False)
class Intervals:
    """Provisioned intervals as columns: interval ``k`` is ``gpus[k]`` GPUs of pool
    ``pool_names[pool[k]]`` over ``[start_s[k], end_s[k])``.

    What the money layer computes on (numpy over the columns, no object per interval: a fluid run
    of a year or two has millions). Iterating yields :class:`ProvisionedInterval` rows, so code
    written for a sequence of those keeps working.

    >>> ivs = Intervals.from_rows([ProvisionedInterval("a", 2.0, 0.0, 10.0),
    ...                            ProvisionedInterval("b", 1.0, 5.0, 20.0)])
    >>> ivs.present_pools(), len(ivs), ivs.of_pool("b")[2].tolist()
    (('a', 'b'), 2, [1.0])
    """

    pool_names: tuple[str, ...]
    pool: np.ndarray
    gpus: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray

    @classmethod
    def from_rows(cls, rows: Iterable[ProvisionedInterval]) -> Intervals:
        """Columns of ``rows``; ``pool_names`` in first-seen order."""
        rows = list(rows)
        ids: dict[str, int] = {}
        n = len(rows)
        pool = np.fromiter((ids.setdefault(iv.pool, len(ids)) for iv in rows), dtype=np.int64, count=n)
        return cls(tuple(ids), pool, np.fromiter((iv.gpus for iv in rows), dtype=np.float64, count=n),
                   np.fromiter((iv.start_s for iv in rows), dtype=np.float64, count=n),
                   np.fromiter((iv.end_s for iv in rows), dtype=np.float64, count=n))

    def __len__(self) -> int:
        return len(self.pool)

    def __iter__(self) -> Iterator[ProvisionedInterval]:
        names = self.pool_names
        for p, g, a, b in zip(self.pool.tolist(), self.gpus.tolist(), self.start_s.tolist(), self.end_s.tolist()):
            yield ProvisionedInterval(names[p], g, a, b)

    @cached_property
    def _present(self) -> tuple[str, ...]:
        ids = np.flatnonzero(np.bincount(self.pool, minlength=len(self.pool_names)))
        first = [int(np.argmax(self.pool == i)) for i in ids]        # a few pools, one pass each
        return tuple(self.pool_names[int(ids[k])] for k in np.argsort(first, kind="stable"))

    def present_pools(self) -> tuple[str, ...]:
        """Names of the pools that have intervals, in first-seen order."""
        return self._present

    def of_pool(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(start_s, end_s, gpus)`` of pool ``name``'s intervals, in order (empty if it has none)."""
        if name not in self.pool_names:
            empty = np.zeros(0)
            return empty, empty, empty
        sel = self.pool == self.pool_names.index(name)
        return self.start_s[sel], self.end_s[sel], self.gpus[sel]


@dataclass(frozen=True)
class Outcomes:
    """Every request whose outcome is known, one row each (what SLO money needs): ``t_s`` (the
    completion time, or the arrival time of a rejected or failed request), ``status`` (1
    completed, 2 rejected, 3 failed), ``met`` (completed within the SLO), requested
    ``input_tokens`` / ``output_tokens``, ``revenue_line`` (index into the usage's
    ``revenue_line_names``, -1: the default token line) and ``weight``."""

    t_s: np.ndarray
    status: np.ndarray
    met: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    revenue_line: np.ndarray
    weight: np.ndarray

    COLUMNS = ("t_s", "status", "met", "input_tokens", "output_tokens", "revenue_line", "weight")


@dataclass(frozen=True)
class Usage:
    """A run's usage: provisioned intervals, busy GPU-seconds and completed requests (columns).

    ``cls`` (optional): each row's workload class, an index into ``class_names``; what per-class
    chargeback (:mod:`~sim.economics.chargeback`) groups by. ``gpu_tdp_w``: each pool's GPU board
    power from the catalog (watts per GPU), what :mod:`~sim.economics.energy` scales by load.
    ``outcomes`` (optional; a request-level run keeping every record): each request's outcome,
    what :mod:`~sim.economics.slo` prices.
    """

    horizon_s: float
    intervals: Intervals | Iterable[ProvisionedInterval]
    busy_gpu_seconds: Mapping[str, float]
    completion_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    revenue_line: np.ndarray
    revenue_line_names: tuple[str, ...]
    weight: np.ndarray
    scale_note: str = ""
    cls: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    gpu_tdp_w: Mapping[str, float] = field(default_factory=dict)
    outcomes: Outcomes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.intervals, Intervals):   # rows given: keep them as columns
            object.__setattr__(self, "intervals", Intervals.from_rows(self.intervals))
        object.__setattr__(self, "_steps", {})   # pool -> [(end_s, edges_s, gpu_steps of them)]

    def gpu_steps(self, pool: str, end_s: np.ndarray, edges_s: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`gpu_steps` of ``pool``'s intervals (their starts and GPUs) ending at ``end_s`` (one
        per interval: billed, clipped, ...), worked out once for the same ends and edges, bit for bit.
        Compute billing and energy ask for the same step function when billing rounds no interval
        up and no tariff adds hour edges (a fluid run: millions of intervals, one sort of them each).

        >>> u = Usage(horizon_s=20.0, intervals=(ProvisionedInterval("a", 2.0, 0.0, 10.0),), busy_gpu_seconds={},
        ...           completion_s=np.zeros(0), input_tokens=np.zeros(0), output_tokens=np.zeros(0),
        ...           revenue_line=np.zeros(0), revenue_line_names=(), weight=np.zeros(0))
        >>> first = u.gpu_steps("a", np.array([10.0]), np.array([5.0]))
        >>> u.gpu_steps("a", np.array([10.0]), np.array([5.0])) is first, first[1].tolist()
        (True, [2.0, 2.0])
        """
        seen = self._steps.setdefault(pool, [])
        for ends, edges, steps in seen:
            if _same_bits(ends, end_s) and _same_bits(edges, edges_s):
                return steps
        start_s, _, gpus = self.intervals.of_pool(pool)
        steps = gpu_steps(start_s, end_s, gpus, edges_s)
        for a in steps:
            a.flags.writeable = False      # shared by every caller
        seen.append((end_s, edges_s, steps))
        return steps

    def pools(self) -> tuple[str, ...]:
        """Pool names seen in intervals or busy time, in first-seen order."""
        return tuple(dict.fromkeys([*self.intervals.present_pools(), *self.busy_gpu_seconds]))

    def provisioned_gpu_seconds(self) -> dict[str, float]:
        """Provisioned GPU-seconds per pool, unrounded and unclipped."""
        iv = self.intervals
        gpu_s = np.bincount(iv.pool, weights=iv.gpus * np.maximum(0.0, iv.end_s - iv.start_s),
                            minlength=len(iv.pool_names))
        out: dict[str, float] = {p: 0.0 for p in self.pools()}
        for k, name in enumerate(iv.pool_names):
            if name in out:
                out[name] = float(gpu_s[k])
        return out

    def check(self) -> None:
        """Raise ``ValueError`` if the columns disagree in length or hold impossible values."""
        n = len(self.completion_s)
        cols = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "revenue_line": self.revenue_line, "weight": self.weight}
        if self.cls is not None:
            cols["cls"] = self.cls
            if n and (self.cls.min() < 0 or self.cls.max() >= len(self.class_names)):
                raise ValueError("Usage.cls holds an index outside class_names")
        for name, col in cols.items():
            if len(col) != n:
                raise ValueError(f"Usage.{name} has {len(col)} rows, completion_s has {n}")
        if not np.isfinite(self.horizon_s) or self.horizon_s <= 0:
            raise ValueError(f"Usage.horizon_s must be > 0 (got {self.horizon_s})")
        if n and (self.revenue_line.min() < -1 or self.revenue_line.max() >= len(self.revenue_line_names)):
            raise ValueError("Usage.revenue_line holds an index outside revenue_line_names (or -1)")
        iv = self.intervals
        if not len(iv.gpus) == len(iv.start_s) == len(iv.end_s) == len(iv.pool):
            raise ValueError("Usage.intervals columns differ in length")
        if len(iv.pool) and (iv.pool.min() < 0 or iv.pool.max() >= len(iv.pool_names)):
            raise ValueError("Usage.intervals.pool holds an index outside pool_names")
        bad = np.flatnonzero(~(iv.end_s >= iv.start_s) | ~(iv.gpus >= 0))
        if len(bad):
            row = next(iter(Intervals(iv.pool_names, *(c[bad[:1]] for c in (iv.pool, iv.gpus, iv.start_s, iv.end_s)))))
            raise ValueError(f"bad provisioned interval {row}")


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """The two float arrays hold the same values bit for bit (-0.0 is not 0.0)."""
    a, b = np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def gpu_steps(start_s: np.ndarray, end_s: np.ndarray, gpus: np.ndarray, edges_s: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GPUs provisioned as a step function: ``(t, level, dt_s)`` on elementary intervals
    ``[t[k], t[k] + dt_s[k])`` that never cross an interval bound or one of ``edges_s``.

    >>> t, level, dt_s = gpu_steps(np.array([0.0, 5.0]), np.array([10.0, 20.0]), np.array([2.0, 1.0]),
    ...                            np.array([15.0]))
    >>> t.tolist(), level.tolist(), dt_s.tolist()
    ([0.0, 5.0, 10.0, 15.0], [2.0, 3.0, 1.0, 1.0], [5.0, 5.0, 5.0, 5.0])
    """
    t = np.concatenate([start_s, end_s, edges_s])
    if not len(t):
        return t, t, t
    delta = np.concatenate([gpus, -gpus, np.zeros(len(edges_s))])
    order = np.argsort(t, kind="stable")      # one sort; equal times keep their input order
    t = t[order]
    first = np.concatenate(([0], np.flatnonzero(np.diff(t)) + 1))    # first event of each distinct time
    u = t[first]
    return u[:-1], np.cumsum(np.add.reduceat(delta[order], first))[:-1], np.diff(u)
