"""Demand growth ``growth: {monthly: m}``: the factor ``g(t) = (1 + m) ** (t / T)`` with ``T = 30.4375 days``
(an average Gregorian month), ``t`` in seconds since ``t = 0``; its integral ``G(t)`` (operational time) and
inverse ``G^{-1}``. How each arrival process applies it: :mod:`sim.workload.arrivals`; a trace's copies:
:func:`sim.workload.trace_replay.trace_blocks`.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from sim.scenario.workload import Growth

MONTH_S = 30.4375 * 86400.0
"""Seconds in an average Gregorian month (365.25 days / 12), the unit of ``growth.monthly``."""


def _libm(f, x: np.ndarray) -> np.ndarray:
    """``f`` (a scalar function of :mod:`math`) at each element of ``x``, ``inf`` where it overflows: the C
    library's value, as a scalar reads it.

    Not numpy's ``power``, ``expm1`` or ``log1p``: on a CPU with AVX-512 numpy computes them in vector
    code whose last bit differs from the C library's for 5-10 % of arguments (numpy 2.4, measured against
    ``math`` on 100,000 uniform arguments; none with ``NPY_DISABLE_CPU_FEATURES`` set to the AVX-512
    groups), so a run's arrival times and step demands would depend on the machine. It costs a Python
    call per element, about 0.1 microseconds: small beside the simulation of each arrival.
    """
    flat = np.asarray(x, dtype=np.float64).ravel().tolist()
    try:
        out = np.fromiter(map(f, flat), dtype=np.float64, count=len(flat))
    except OverflowError:           # past a float's range: inf, as the work limits read it
        out = np.fromiter(map(partial(_or_inf, f), flat), dtype=np.float64, count=len(flat))
    return out.reshape(np.shape(x))


def _or_inf(f, x: float) -> float:
    try:
        return f(x)
    except OverflowError:
        return math.inf


def growth_factor(t_s: np.ndarray | float, growth: Growth | None) -> np.ndarray | float:
    """``g(t) = (1 + monthly) ** (t / 30.4375 days)``; 1 without growth; ``inf`` past a float's range.
    Element-wise over an array, each element as a float reads it (:func:`_libm`)."""
    if growth is None or growth.monthly == 0:
        return np.ones_like(t_s, dtype=float) if isinstance(t_s, np.ndarray) else 1.0
    power = partial(math.pow, 1.0 + growth.monthly)
    if isinstance(t_s, np.ndarray):
        return _libm(power, np.asarray(t_s, dtype=float) / MONTH_S)
    return _or_inf(power, t_s / MONTH_S)


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
    if np.ndim(t_s) == np.ndim(since) == np.ndim(rate) == 0:      # scalars: in floats, with math
        t, u, r = float(t_s), float(since), float(rate)
        return r * (t - u) if k == 0 else r * growth_factor(u, growth) * (_or_inf(math.expm1, k * (t - u)) / k)
    t, u = np.asarray(t_s, dtype=np.float64), np.asarray(since, dtype=np.float64)
    if k == 0:
        return rate * (t - u)
    t, u = np.broadcast_arrays(t, u)
    with np.errstate(over="ignore", invalid="ignore"):       # inf past a float's range (0 x inf: nan)
        return rate * growth_factor(u, growth) * (_libm(math.expm1, k * (t - u)) / k)


def growth_inverse(s: np.ndarray, growth: Growth | None) -> np.ndarray:
    """``G^{-1}(s)``: real time at operational time ``s`` (``inf`` past the total of a decline)."""
    k = growth_k(growth)
    if k == 0:
        return s
    arg = k * np.asarray(s, dtype=np.float64)
    inside = arg > -1.0
    return np.where(inside, _libm(math.log1p, np.where(inside, arg, 0.0)) / k, np.inf)


__all__ = ["MONTH_S", "growth_factor", "growth_integral", "growth_inverse", "growth_k"]
