"""Replication statistics: flattening summaries and Student-t confidence intervals.

A sweep runs every configuration with ``n`` seeds (independent replications). For each
numeric metric the sample mean is reported with a two-sided 95 % confidence interval

.. math:: \\bar x \\pm t_{0.975,\\,n-1}\\; s / \\sqrt n

where ``s`` is the sample standard deviation (``ddof=1``) and ``t`` the Student-t quantile
(``scipy.stats.t``). With one replication the interval is undefined and reported as NaN.

    >>> ci = mean_ci([1.0, 2.0, 3.0])
    >>> round(ci.mean, 3), round(ci.half_width, 3)
    (2.0, 2.484)
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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
        return (self.high - self.low) / 2.0


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> MeanCI:
    """Mean and Student-t confidence interval of independent replications.

    Parameters
    ----------
    values : sequence of float
        One value per replication; NaNs are dropped (a metric undefined in some run).
    confidence : float
        Two-sided coverage, e.g. 0.95.

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
    from scipy import stats as _st   # imported here: scipy.stats costs ~0.5 s, and every CLI command imports this module

    half = float(_st.t.ppf(0.5 + confidence / 2.0, n - 1)) * s / math.sqrt(n)
    return MeanCI(m, m - half, m + half, n, confidence)


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
    """Per-metric :class:`MeanCI` over flat rows of one configuration (non-numeric keys skipped)."""
    rows = list(rows)
    keys: list[str] = []
    for r in rows:
        for k, v in r.items():
            if is_number(v) and k not in keys:
                keys.append(k)
    out: dict[str, MeanCI] = {}
    for k in keys:
        vals = [float(r[k]) if is_number(r.get(k)) else math.nan for r in rows]
        out[k] = mean_ci(vals, confidence)
    return out
