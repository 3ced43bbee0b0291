"""A mergeable histogram on log-spaced bins, for percentiles of latencies without keeping samples.

Bin ``k >= 1`` holds values in ``[lo * g**(k-1), lo * g**k)`` with growth ``g = 1 + rel_width``
(default ``lo`` = 1 µs, ``rel_width`` = 1 %, up to ``hi`` = 10⁷ s: 3,011 bins, 24 KB of counts).
Bin 0 holds values below ``lo`` (zero included: a request admitted the instant it arrived waits
exactly 0 s); the last bin holds values at or above ``hi``. Count, sum, minimum and maximum are
kept exactly, so the mean is exact.

Error bound. An order statistic (the value of a given rank) is estimated as the geometric
midpoint ``lo * g**(k-1/2)`` of the bin holding that rank, clamped to the exact ``[min, max]``.
Every value in that bin is within a factor ``sqrt(g)`` of the estimate, so the relative error is
at most ``sqrt(1 + rel_width) - 1`` (0.499 % for 1 %). A percentile is either one order
statistic (``inverted_cdf``) or ``numpy.percentile``'s linear interpolation between two
neighbours (``linear``), a convex combination of two estimates each within the bound, hence
within it too. Values below ``lo`` are reported as the exact minimum (absolute error < ``lo``).

Two histograms with the same ``(lo, hi, rel_width)`` merge by adding counts, so per-class or
per-shard histograms combine exactly into the fleet's.

>>> h = LogHistogram()
>>> h.add(np.array([0.1, 0.2, 0.3, 0.4]))
>>> round(h.mean(), 6), abs(h.quantile(50) - 0.25) / 0.25 < 0.005   # numpy.percentile: 0.25
(0.25, True)
"""
from __future__ import annotations

import math

import numpy as np


class LogHistogram:
    """Counts on log-spaced bins plus exact count, sum, min and max (see module docstring)."""

    __slots__ = ("lo", "hi", "rel_width", "_log_g", "n_bins", "counts", "total", "sum", "min", "max")

    def __init__(self, lo: float = 1e-6, hi: float = 1e7, rel_width: float = 0.01) -> None:
        if not (0 < lo < hi) or rel_width <= 0:
            raise ValueError(f"need 0 < lo < hi and rel_width > 0 (got lo={lo}, hi={hi}, rel_width={rel_width})")
        self.lo = float(lo)
        self.hi = float(hi)
        self.rel_width = float(rel_width)
        self._log_g = math.log1p(rel_width)
        self.n_bins = int(math.ceil(math.log(hi / lo) / self._log_g)) + 2
        self.counts = np.zeros(self.n_bins, dtype=np.float64)  # float: weights may be non-integer
        self.total = 0.0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    # ------------------------------------------------------------------ filling
    def bin_index(self, values: np.ndarray) -> np.ndarray:
        """Bin of each value (0: below ``lo``; ``n_bins - 1``: at or above ``hi``)."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.floor(np.log(np.maximum(v, self.lo * 0.5) / self.lo) / self._log_g) + 1
        k = np.where(v < self.lo, 0, k)
        return np.clip(k, 0, self.n_bins - 1).astype(np.int64)

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Add a sample (NaNs are ignored); ``weights`` repeats each value that many times."""
        v = np.asarray(values, dtype=np.float64)
        if weights is None:
            keep = ~np.isnan(v)
            v = v[keep]
            w = None
        else:
            w = np.asarray(weights, dtype=np.float64)
            keep = ~np.isnan(v) & (w > 0)
            v, w = v[keep], w[keep]
        if len(v) == 0:
            return
        idx = self.bin_index(v)
        self.counts += np.bincount(idx, weights=w, minlength=self.n_bins)
        self.total += float(len(v) if w is None else w.sum())
        # numpy's pairwise sum adds in a fixed order whatever the BLAS thread count (np.dot does not)
        self.sum += float(v.sum()) if w is None else float(np.add.reduce(v * w))
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))

    def merge(self, other: "LogHistogram") -> "LogHistogram":
        """Add ``other``'s counts into this histogram (same bins required); returns ``self``."""
        if (other.lo, other.hi, other.rel_width) != (self.lo, self.hi, self.rel_width):
            raise ValueError("cannot merge histograms with different bins")
        self.counts += other.counts
        self.total += other.total
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def copy(self) -> "LogHistogram":
        h = LogHistogram(self.lo, self.hi, self.rel_width)
        return h.merge(self)

    # ------------------------------------------------------------------ reading
    @property
    def max_rel_error(self) -> float:
        """Bound on a quantile estimate's relative error (values >= ``lo``)."""
        return math.sqrt(1.0 + self.rel_width) - 1.0

    def __len__(self) -> int:
        return int(round(self.total))

    def mean(self) -> float | None:
        return self.sum / self.total if self.total > 0 else None

    def _order_stat(self, cum: np.ndarray, rank: float) -> float:
        """Estimate of the value of (1-based, possibly weighted) rank ``rank``; a rank past the total
        weight is the largest value's (with weights the linear method asks for rank ``floor(h) + 2``,
        which can pass a total such as 75.85: it read the top bin, the histogram's ``max``)."""
        rank = min(rank, float(cum[-1]))
        k = int(np.searchsorted(cum, rank * (1 - 1e-12), side="left"))
        k = min(k, self.n_bins - 1)
        if k == 0:
            est = self.min
        elif k == self.n_bins - 1:
            est = self.max
        else:
            est = self.lo * math.exp((k - 0.5) * self._log_g)
        return float(min(max(est, self.min), self.max))

    def quantile(self, q: float, method: str = "linear") -> float | None:
        """Estimated ``q``-th percentile (0..100).

        ``linear`` (``numpy.percentile``'s default): interpolate between the estimated order
        statistics at 0-based positions ``floor(h)`` and ``ceil(h)``, ``h = (n - 1) q / 100``;
        each is within the relative bound, so the interpolation is too. ``inverted_cdf``: the
        value of rank ``ceil(q / 100 * n)`` (for weighted samples, where ``n`` is the total weight).
        """
        if self.total <= 0:
            return None
        cum = np.cumsum(self.counts)
        if method == "inverted_cdf":
            return self._order_stat(cum, max(q / 100.0 * self.total, 1e-12))
        if method != "linear":
            raise ValueError(f"method must be linear or inverted_cdf (got {method!r})")
        h = (self.total - 1.0) * q / 100.0
        lo = math.floor(h)
        a = self._order_stat(cum, lo + 1.0)
        if h == lo:
            return a
        b = self._order_stat(cum, lo + 2.0)
        return a + (h - lo) * (b - a)

    def stats(self, quantiles: tuple[int, ...] = (50, 90, 99), method: str = "linear") -> dict:
        """``{mean, p50, p90, p99}`` (``None`` when empty), like :func:`sim.metrics.summary.stats`
        (``method="linear"``) or :func:`~sim.metrics.summary.weighted_stats` (``"inverted_cdf"``)."""
        out: dict = {"mean": self.mean()}
        for q in quantiles:
            out[f"p{q}"] = self.quantile(q, method)
        return out
