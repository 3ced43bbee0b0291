"""Token-length distributions: integer prompt and output lengths, every one >= 1.

Each distribution draws ``n`` values in one vectorised call from a numpy ``Generator``. Draws
are element-wise (no buffered integer draws), so drawing 3 then 5 values gives the same eight
numbers as drawing 8: chunking never changes a seeded run.

* ``fixed {value}``: ``value``.
* ``uniform {low, high}``: integers ``low..high`` inclusive, ``low + floor(U * (high - low + 1))``.
* ``lognormal {mean, cv, min, max}``: ``X = exp(mu + sigma Z)`` with
  ``sigma**2 = ln(1 + cv**2)`` and ``mu = ln(mean) - sigma**2 / 2``, so ``E[X] = mean`` and
  ``sd(X) / E[X] = cv`` for the untruncated continuous ``X``. The token count is ``X`` rounded to the
  nearest integer and then **clipped** to ``[min, max]`` (values outside become ``min`` or ``max``;
  no redraw), so a tight ``max`` puts a point mass at ``max`` and lowers the realised mean.
  With ``truncate: resample`` the count is drawn from the distribution conditioned on landing in
  ``[min, max]`` after rounding (``Z`` from the normal truncated to
  ``[(ln(min - 0.5) - mu) / sigma, (ln(max + 0.5) - mu) / sigma]`` by inverting its CDF), which is
  what a benchmark generator that redraws out-of-range values produces.
* ``exponential {mean, max}``: ``ceil(X)`` for ``X ~ Exp(mean)``, at least 1, clipped at ``max``.
  (``E[ceil(X)]`` is ``1 / (1 - exp(-1/mean))``, about ``mean + 0.5`` for large means.) With
  ``truncate: resample``, ``X`` is drawn from the exponential truncated to ``(0, max]``:
  ``X = -mean * ln(1 - U (1 - exp(-max / mean)))``.

Resampling inverts the truncated CDF with one uniform per value (never a redraw loop), so it keeps
the element-wise property below.
* ``empirical {values, weights}``: ``values[i]`` with probability ``weights[i] / sum(weights)``.
* ``trace {path, format}``: a uniformly random row's length from a trace file (resampling with
  replacement); the caller passes the trace's column as ``pool``.

>>> import numpy as np
>>> from sim.scenario.workload import FixedTokens
>>> sample_tokens(FixedTokens(dist="fixed", value=7), np.random.default_rng(0), 3).tolist()
[7, 7, 7]
"""
from __future__ import annotations

import math

import numpy as np

from sim.scenario.workload import (
    EmpiricalTokens,
    ExponentialTokens,
    FixedTokens,
    LognormalTokens,
    TokenDist,
    TraceTokens,
    UniformTokens,
)


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """``(mu, sigma)`` of the normal whose exponential has the given mean and cv.

    ``sigma**2 = ln(1 + cv**2)``, ``mu = ln(mean) - sigma**2 / 2``.
    """
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def sample_tokens(dist: TokenDist, rng: np.random.Generator, n: int,
                  pool: np.ndarray | None = None) -> np.ndarray:
    """``n`` token counts (int64, all >= 1) from ``dist``.

    ``pool`` is the trace column to resample for ``dist: trace`` (ignored otherwise).
    """
    if isinstance(dist, FixedTokens):
        return np.full(n, dist.value, dtype=np.int64)
    if isinstance(dist, UniformTokens):
        span = dist.high - dist.low + 1
        out = dist.low + np.floor(rng.random(n) * span).astype(np.int64)
        return np.minimum(out, dist.high)
    if isinstance(dist, LognormalTokens):
        mu, sigma = lognormal_params(dist.mean, dist.cv)
        lo = max(dist.min, 1)
        if dist.truncate == "resample":
            z = _truncated_normal(rng, n, (math.log(lo - 0.5) - mu) / sigma if lo > 1 else -math.inf,
                                  (math.log(dist.max + 0.5) - mu) / sigma if dist.max is not None else math.inf)
        else:
            z = rng.standard_normal(n)
        x = np.rint(np.exp(mu + sigma * z))
        hi = float(dist.max) if dist.max is not None else float(np.iinfo(np.int64).max // 2)
        return np.clip(x, lo, hi).astype(np.int64)
    if isinstance(dist, ExponentialTokens):
        if dist.truncate == "resample" and dist.max is not None:
            x = np.ceil(-dist.mean * np.log1p(-rng.random(n) * -math.expm1(-dist.max / dist.mean)))
        else:
            x = np.ceil(rng.standard_exponential(n) * dist.mean)
        hi = float(dist.max) if dist.max is not None else float(np.iinfo(np.int64).max // 2)
        return np.clip(x, 1, hi).astype(np.int64)
    if isinstance(dist, EmpiricalTokens):
        values = np.asarray(dist.values, dtype=np.int64)
        idx = empirical_index(dist.weights, len(values), rng, n)
        return values[idx]
    if isinstance(dist, TraceTokens):
        if pool is None or len(pool) == 0:
            raise ValueError(f"dist: trace needs the trace's lengths ({dist.path})")
        return np.asarray(pool, dtype=np.int64)[uniform_index(len(pool), rng, n)]
    raise TypeError(f"unknown token distribution {dist!r}")


def fewest_tokens(dist: TokenDist | None) -> int | None:
    """The fewest tokens ``dist`` can draw (an empirical value of weight 0 is never drawn); ``None`` for
    an exponential or the lengths of a trace file (not known here).

        >>> fewest_tokens(EmpiricalTokens(dist="empirical", values=[50, 200, 900], weights=[0, 1, 1]))
        200
    """
    if isinstance(dist, FixedTokens):
        return dist.value
    if isinstance(dist, UniformTokens):
        return dist.low
    if isinstance(dist, LognormalTokens):
        return dist.min
    if isinstance(dist, EmpiricalTokens):
        weights = dist.weights or [1.0] * len(dist.values)
        drawn = [v for v, w in zip(dist.values, weights) if w > 0]
        return min(drawn) if drawn else None
    return None


def most_tokens(dist: TokenDist | None) -> int | None:
    """The most tokens ``dist`` can draw; ``None`` when it has no bound (a lognormal or exponential without
    ``max``) or the lengths come from a trace file.

        >>> most_tokens(UniformTokens(dist="uniform", low=100, high=300))
        300
    """
    if isinstance(dist, FixedTokens):
        return dist.value
    if isinstance(dist, UniformTokens):
        return max(dist.low, dist.high)
    if isinstance(dist, (LognormalTokens, ExponentialTokens)):
        return dist.max
    if isinstance(dist, EmpiricalTokens):
        return max(dist.values)
    return None


def nominal_tokens(dist: TokenDist | None) -> float | None:
    """The mean length ``dist``'s parameters name, before any rounding, clipping or resampling (a
    lognormal's or exponential's ``mean``, the middle of a uniform, an empirical weighted mean);
    ``None`` for the lengths of a trace file (not known without reading it). A rough size of the work,
    not the realised mean.

        >>> nominal_tokens(EmpiricalTokens(dist="empirical", values=[100, 400], weights=[3, 1]))
        175.0
    """
    if isinstance(dist, FixedTokens):
        return float(dist.value)
    if isinstance(dist, UniformTokens):
        return (dist.low + dist.high) / 2
    if isinstance(dist, (LognormalTokens, ExponentialTokens)):
        return float(dist.mean)
    if isinstance(dist, EmpiricalTokens):
        weights = dist.weights or [1.0] * len(dist.values)
        total = sum(weights)
        return sum(v * w for v, w in zip(dist.values, weights)) / total if total > 0 else None
    return None


def _truncated_normal(rng: np.random.Generator, n: int, a: float, b: float) -> np.ndarray:
    """``n`` standard normal values conditioned on ``[a, b]``, by inverting the CDF (one uniform each).

    An interval in the upper tail is mirrored into the lower one, where the CDF keeps its precision;
    one too far out for any (the mass underflows) gives its bound nearest the mode.
    """
    from scipy.special import ndtr, ndtri

    if a > 0:
        return -_truncated_normal(rng, n, -b, -a)
    pa, pb = float(ndtr(a)), float(ndtr(b))
    u = rng.random(n)
    if not pb > pa:
        return np.full(n, b)
    return ndtri(pa + u * (pb - pa))


def uniform_index(size: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` indices uniform on ``0..size-1`` (element-wise draws)."""
    return np.minimum(np.floor(rng.random(n) * size).astype(np.int64), size - 1)


def empirical_index(weights: list[float] | None, size: int, rng: np.random.Generator,
                    n: int) -> np.ndarray:
    """``n`` indices ``i`` drawn with probability ``weights[i] / sum(weights)``."""
    if weights is None:
        return uniform_index(size, rng, n)
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    u = rng.random(n) * cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), size - 1)


def fit_empirical(tokens: np.ndarray, max_points: int = 256) -> EmpiricalTokens:
    """An ``empirical`` distribution that reproduces observed token counts.

    With at most ``max_points`` distinct values the fit is exact (each value weighted by its
    count). Otherwise the values are grouped into ``max_points`` equal-count quantile bins and each
    bin is represented by its (rounded) mean, weighted by its count, which keeps the overall mean
    within rounding and the shape of the distribution (including its tail) at that resolution.

    Parameters
    ----------
    tokens : array of int
        Observed token counts (>= 1), e.g. the ``ContextTokens`` column of a trace.
    max_points : int
        Largest number of ``values`` in the result.
    """
    x = np.asarray(tokens, dtype=np.int64)
    if x.size == 0 or x.min() < 1:
        raise ValueError("fit_empirical needs at least one token count and all counts >= 1")
    values, counts = np.unique(x, return_counts=True)
    if len(values) <= max_points:
        return EmpiricalTokens(dist="empirical", values=values.tolist(),
                               weights=counts.astype(float).tolist())
    xs = np.sort(x)
    edges = np.linspace(0, xs.size, max_points + 1).round().astype(np.int64)
    reps, weights = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi > lo:
            reps.append(int(max(1, round(float(xs[lo:hi].mean())))))
            weights.append(float(hi - lo))
    return EmpiricalTokens(dist="empirical", values=reps, weights=weights)


__all__ = ["empirical_index", "fewest_tokens", "fit_empirical", "lognormal_params", "most_tokens", "sample_tokens",
           "uniform_index"]
