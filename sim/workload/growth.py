"""Demand growth ``growth: {monthly: m}``: the factor ``g(t) = (1 + m) ** (t / T)`` with ``T = 30.4375 days``
(an average Gregorian month), ``t`` in seconds since ``t = 0``; its integral ``G(t)`` (operational time) and
inverse ``G^{-1}``. How each arrival process applies it: :mod:`sim.workload.arrivals`; a trace's copies:
:func:`sim.workload.trace_replay.trace_blocks`.
"""
from __future__ import annotations

import math

import numpy as np

from sim.scenario.workload import Growth

MONTH_S = 30.4375 * 86400.0
"""Seconds in an average Gregorian month (365.25 days / 12), the unit of ``growth.monthly``."""


def growth_factor(t_s: np.ndarray | float, growth: Growth | None) -> np.ndarray | float:
    """``g(t) = (1 + monthly) ** (t / 30.4375 days)``; 1 without growth."""
    if growth is None or growth.monthly == 0:
        return np.ones_like(t_s, dtype=float) if isinstance(t_s, np.ndarray) else 1.0
    return np.power(1.0 + growth.monthly, np.asarray(t_s, dtype=float) / MONTH_S) \
        if isinstance(t_s, np.ndarray) else (1.0 + growth.monthly) ** (t_s / MONTH_S)


def growth_k(growth: Growth | None) -> float:
    """``k = ln(1 + monthly) / T`` per second, so that ``g(t) = e^{k t}``; 0 without growth, and where a
    ``monthly`` below about ``1e-308`` underflows it to 0 (a rate that grows by a factor of ``1 + 1e-300``
    in a month grows by nothing a float can hold, and dividing by such a ``k`` gave nan or a division by zero).

        >>> from sim.scenario.workload import Growth
        >>> growth_k(Growth(monthly=1e-320)), growth_k(None), round(growth_k(Growth(monthly=1.0)) * MONTH_S, 6)
        (0.0, 0.0, 0.693147)
    """
    if growth is None or growth.monthly == 0:
        return 0.0
    return math.log1p(growth.monthly) / MONTH_S


def growth_integral(t_s: np.ndarray | float, growth: Growth | None, since: np.ndarray | float = 0.0,
                    rate: np.ndarray | float = 1.0) -> np.ndarray | float:
    """``rate x integral_since^t g(u) du``: from ``t = 0`` (``since = 0``), ``G(t)`` in seconds of operational
    time, ``T (g(t) - 1) / ln(1 + m)``; over ``[since, t)``, ``g(since) (e^{k (t - since)} - 1) / k``
    (:func:`growth_k`; ``t - since`` without growth), times ``rate``: the expected arrivals of a constant
    ``rate`` grown by ``g`` (:func:`sim.fluid.demand._exact`). Element-wise over arrays (a float for
    scalars): the one form of the integral, the generator's operational time and the fluid tier's demand.

    Doubling monthly, the first month holds ``1 / ln 2 = 1.4427`` months of the starting rate's
    demand, and :func:`growth_inverse` takes it back to one month:

        >>> from sim.scenario.workload import Growth
        >>> s = growth_integral(MONTH_S, Growth(monthly=1.0))
        >>> round(s / MONTH_S, 4), float(growth_inverse(np.array([s]), Growth(monthly=1.0))[0] / MONTH_S)
        (1.4427, 1.0)
        >>> growth_integral(np.array([1800.0, 3600.0]), None, np.array([0.0, 1800.0]), rate=5.0).tolist()
        [9000.0, 9000.0]
    """
    k = growth_k(growth)
    t, u = np.asarray(t_s, dtype=np.float64), np.asarray(since, dtype=np.float64)
    if k == 0:
        out = rate * (t - u)
    else:
        with np.errstate(over="ignore"):       # inf past a float's range, as the work limits read it
            out = rate * np.asarray(growth_factor(u, growth), dtype=np.float64) * (np.expm1(k * (t - u)) / k)
    return float(out) if np.ndim(out) == 0 else out


def growth_inverse(s: np.ndarray, growth: Growth | None) -> np.ndarray:
    """``G^{-1}(s)``: real time at operational time ``s`` (``inf`` past the total of a decline)."""
    k = growth_k(growth)
    if k == 0:
        return s
    arg = k * s
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.log1p(arg) / k
    return np.where(arg > -1.0, t, np.inf)


__all__ = ["MONTH_S", "growth_factor", "growth_integral", "growth_inverse", "growth_k"]
