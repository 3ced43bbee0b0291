"""Replication statistics: flattening summaries and Student-t confidence intervals.

A sweep runs every configuration with ``n`` seeds (independent replications). For each
numeric metric the sample mean is reported with a two-sided 95 % confidence interval

.. math:: \\bar x \\pm t_{0.975,\\,n-1}\\; s / \\sqrt n

where ``s`` is the sample standard deviation (``ddof=1``) and ``t`` the Student-t quantile
(:func:`t_quantile`: ``scipy.special.stdtrit``, the function ``scipy.stats.t.ppf`` evaluates, bit for
bit, without importing ``scipy.stats``). With one replication the interval is undefined and reported as NaN.

The t-interval is a normal approximation, symmetric about the mean, and it knows nothing of the
range a metric lives in: SLO attainment near 1 over a few seeds (0.98, 1.0, 1.0) gives an upper
end above 1, a short queue time a lower end below 0. The exact interval of such a metric is
asymmetric (it cannot pass the bound). :func:`aggregate` therefore clips each end to the metric's
natural range (:func:`sim.metrics.schema.natural_range`: [0, 1] for shares, >= 0 for latencies,
counts, rates and costs) when the t-interval leaves it. That keeps every reported interval
possible and leaves any interval inside the range untouched. It does not make the clipped
interval exact: only impossible values are cut away, so its coverage is the t-interval's. Nothing
is clipped when a replication itself lies outside the range (the key is then not what its name
says). A clipped interval is no longer symmetric: tables show it as ``mean (low–high)``.

    >>> ci = mean_ci([0.98, 1.0, 1.0], bounds=(0.0, 1.0))
    >>> round(ci.low, 4), ci.high
    (0.9646, 1.0)

    >>> ci = mean_ci([1.0, 2.0, 3.0])
    >>> round(ci.mean, 3), round(ci.half_width, 3)
    (2.0, 2.484)
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.metrics.schema import natural_range

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class MeanCI:
    """Sample mean of ``n`` replications with a two-sided confidence interval."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        """Half the interval's width (for a clipped interval, less than the t half-width)."""
        return (self.high - self.low) / 2.0


UNBOUNDED = (-math.inf, math.inf)


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE,
            bounds: tuple[float, float] = UNBOUNDED) -> MeanCI:
    """Mean and Student-t confidence interval of independent replications.

    Parameters
    ----------
    values : sequence of float
        One value per replication; NaNs are dropped (a metric undefined in some run).
    confidence : float
        Two-sided coverage, e.g. 0.95.
    bounds : (float, float)
        The metric's natural range; an end of the interval outside it is clipped to it, unless a
        value itself lies outside (see the module docstring).

    Returns
    -------
    MeanCI
        ``low``/``high`` are NaN when fewer than two finite values remain; when all values are
        equal the interval collapses to the mean.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0, confidence)
    m = float(np.mean(x))
    if n == 1:
        return MeanCI(m, math.nan, math.nan, 1, confidence)
    s = float(np.std(x, ddof=1))
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * s / math.sqrt(n)
    low, high = m - half, m + half
    lo, hi = bounds
    if lo <= float(x.min()) and float(x.max()) <= hi:
        low, high = max(low, lo), min(high, hi)
    return MeanCI(m, low, high, n, confidence)


@functools.lru_cache(maxsize=256)
def t_quantile(q: float, df: int) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom: ``scipy.stats.t.ppf(q, df)``
    (which returns ``scipy.special.stdtrit(df, q) * 1.0 + 0.0``, the same float), without importing
    ``scipy.stats`` (~0.3 s more than ``scipy.special``, in every sweep and plan with replications);
    cached, as a sweep asks it once per metric and configuration with the same few arguments.

        >>> round(t_quantile(0.975, 2), 4)
        4.3027
    """
    from scipy.special import stdtrit   # imported here: every CLI command imports this module

    return float(stdtrit(df, q))


def flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested summary dict → flat dict with dotted keys (``latency.ttft.p99``).

    Lists are kept as JSON-able values under their key; nested mappings are expanded.

        >>> flatten({"a": {"b": 1, "c": {"d": 2}}, "e": "x"})
        {'a.b': 1, 'a.c.d': 2, 'e': 'x'}
    """
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def lookup(summary: Mapping[str, Any], dotted: str) -> Any:
    """Value at a dotted path of a nested (or already flat) summary; KeyError if absent."""
    if dotted in summary:
        return summary[dotted]
    node: Any = summary
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise KeyError(dotted)
    return node


def is_number(value: Any) -> bool:
    """True for int/float values (not bool) — the metrics that get means and intervals."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def aggregate(rows: Iterable[Mapping[str, Any]], confidence: float = CONFIDENCE) -> dict[str, MeanCI]:
    """Per-metric :class:`MeanCI` over flat rows of one configuration (non-numeric keys skipped),
    each interval clipped to the metric's :func:`~sim.metrics.schema.natural_range`."""
    rows = list(rows)
    keys: list[str] = []
    for r in rows:
        for k, v in r.items():
            if is_number(v) and k not in keys:
                keys.append(k)
    out: dict[str, MeanCI] = {}
    for k in keys:
        vals = [float(r[k]) if is_number(r.get(k)) else math.nan for r in rows]
        out[k] = mean_ci(vals, confidence, natural_range(k))
    return out
