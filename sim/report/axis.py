"""Axis scales of a chart: the data range a panel shows (with matplotlib's 5 % margin) and its
ticks, "nice numbers" on a linear axis (steps of 1, 2, 2.5 or 5 times a power of ten, about five
to eight per axis) and decades on a log axis (1, 2 and 5 times them over a narrow range), with labels that carry as many decimals as the
tick spacing needs.

    >>> nice_ticks(*padded(0.0, 10.0, log=False))
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from sim.report.chart import Panel


# ---------------------------------------------------------------------------------------- ticks
def nice_ticks(lo: float, hi: float, most: int = 8, integer: bool = False) -> list[float]:
    """Tick values for a linear axis from ``lo`` to ``hi``: multiples of the smallest step of 1, 2,
    2.5 or 5 times a power of ten that gives at most ``most`` ticks inside the range (with
    ``integer``, whole steps only: 1, 2, 5, 10, ...).

        >>> nice_ticks(0.0, 1.0)
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        >>> nice_ticks(-3.0, 47.0)
        [0.0, 10.0, 20.0, 30.0, 40.0]
        >>> nice_ticks(0.0, 1.05, integer=True)
        [0.0, 1.0]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(most - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    if integer:
        mag = max(mag, 1.0)
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = m * mag
        if integer and not step.is_integer():
            continue
        first = math.ceil(lo / step - 1e-9)
        last = math.floor(hi / step + 1e-9)
        if last - first + 1 <= most:
            break
    return [float(f"{k * step:.12g}") for k in range(first, last + 1)]   # 0.6, not 0.6000000000000001


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a log axis from ``lo`` to ``hi`` (both > 0), at least three where the range allows:
    powers of ten (every other or third one over many decades); over fewer than three decades, 1, 2
    and 5 times them; within a factor of a few, the linear axis's nice numbers (:func:`nice_ticks`).
    A range of 30 to 300 ms labelled only 0.1 s.

        >>> log_ticks(0.02, 30.0)
        [0.1, 1.0, 10.0]
        >>> log_ticks(0.025, 0.35)
        [0.05, 0.1, 0.2]
        >>> log_ticks(0.004, 0.35)
        [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
        >>> log_ticks(0.11, 0.29)
        [0.12, 0.14, 0.16, 0.18, 0.2, 0.22, 0.24, 0.26, 0.28]
    """
    a, b = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    every = max(1, math.ceil((b - a + 1) / 8))
    decades = [10.0 ** k for k in range(a, b + 1, every)]
    if len(decades) >= 3:
        return decades
    tens = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    subs = [float(f"{m * 10.0 ** k:.12g}") for k in tens for m in (1, 2, 5)]
    inside = [t for t in subs if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    return inside if len(inside) >= 3 else [t for t in nice_ticks(lo, hi, most=9) if t > 0]


def tick_label(v: float, ticks: Sequence[float]) -> str:
    """``v`` with as many decimals as the tick spacing needs (``0.25`` -> 2), as plain digits
    (an exponent only for ticks below 1e-4, from 1e9, or from 1e6 when not whole); ``-0`` printed as ``0``.

        >>> [tick_label(v, [0, 0.25, 0.5]) for v in (0, 0.25, 0.5)]
        ['0.00', '0.25', '0.50']
        >>> tick_label(2e6, [0.0, 1e6, 2e6])
        '2000000'
    """
    if v == 0:
        v = 0.0
    big = max((abs(t) for t in ticks), default=0.0)
    if 1e6 <= big < 1e9 and all(float(t).is_integer() for t in ticks):
        return f"{v:.0f}"
    if big >= 1e6 or (0 < big < 1e-4):
        return f"{v:.3g}"
    steps = [abs(b - a) for a, b in zip(ticks, ticks[1:]) if b != a]
    step = min(steps) if steps else abs(v)
    decimals = 0
    while decimals < 6 and step > 0 and abs(round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6 * 10 ** decimals:
        decimals += 1
    return f"{v:.{decimals}f}"


def log_label(v: float) -> str:
    """A log axis's tick as plain text with the decimals it needs: ``0.01``, ``0.05``, ``1``, ``1000``,
    ``0.12``; ``1e+06`` style beyond that.

        >>> [log_label(v) for v in (0.01, 0.05, 1.0, 1000.0, 0.12, 2e7)]
        ['0.01', '0.05', '1', '1000', '0.12', '2e+07']
    """
    if 1e-4 <= v < 1e6:
        decimals = next((d for d in range(0, 9) if abs(round(v, d) - v) <= 1e-9 * v), 8)
        return f"{v:.{decimals}f}"
    return f"{v:.0e}"


# ---------------------------------------------------------------------------------------- data range
def finite(values) -> list[float]:
    """The values that can be drawn, as floats (``None``, NaN and infinities left out)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def x_range(panel: Panel) -> tuple[float, float] | None:
    """The x data range of a panel (series and vertical rules; positive values only on a log axis;
    ``-0.5 .. n - 0.5`` for ``n`` categories), ``None`` when nothing can be drawn."""
    if panel.categories is not None:
        return -0.5, len(panel.categories) - 0.5
    xs: list[float] = []
    for s in panel.series:
        xs += finite(s.x)
    xs += [r.at for r in panel.rules if r.axis == "x" and math.isfinite(r.at)]
    if panel.xlog:
        xs = [v for v in xs if v > 0]
    if not xs:
        return None
    return min(xs), max(xs)


#: a linear range narrower than this share of its values is one value drawn: identical latencies measured at
#: different times differ by float rounding (10.56095753 ms and 1e-12 ms more), which an axis of that width
#: labelled with an offset ("1e-12+1.056095753e1") or ticks no label could tell apart
FLAT = 1e-6


def flat(lo: float, hi: float) -> bool:
    """Whether the linear range ``lo .. hi`` is one value (:data:`FLAT`).

        >>> flat(10.56095753, 10.56095753 + 1e-12), flat(0.0, 0.0), flat(10.0, 10.001)
        (True, True, False)
    """
    return hi - lo <= FLAT * max(abs(lo), abs(hi))


def padded(lo: float, hi: float, log: bool) -> tuple[float, float]:
    """5 % of the span added on each side (in log space on a log axis); a flat range (:func:`flat`) gets
    5 % of its value on each side, or ±1 at zero.

        >>> [round(v, 6) for v in padded(10.56095753, 10.56095753 + 1e-12, log=False)]
        [10.03291, 11.089005]
    """
    if log:
        a, b = math.log10(lo), math.log10(hi)
        if b - a <= 0:
            a, b = a - 1, b + 1
        d = 0.05 * (b - a)
        return 10 ** (a - d), 10 ** (b + d)
    if flat(lo, hi):
        mid = (lo + hi) / 2
        d = abs(mid) * 0.05 or 1.0
        return mid - d, mid + d
    d = 0.05 * (hi - lo)
    return lo - d, hi + d


def y_range(panel: Panel) -> tuple[float, float]:
    """The y range a panel shows: its ``ylim``, else the data (series, bands' bottoms, horizontal
    rules) padded by 5 %, bars kept on zero; ``(0, 1)`` for an empty panel."""
    if panel.ylim is not None:
        return panel.ylim
    ys: list[float] = []
    bars = False
    for s in panel.series:
        if s.kind == "bar":
            bars = True
            bot = s.bottom if s.bottom is not None else [0.0] * len(s.y)
            ys += finite(b + v for b, v in zip(bot, s.y))
            ys += finite(bot)
        else:
            ys += finite(s.y)
            if s.kind == "band" and s.bottom is not None:
                ys += finite(s.bottom)
    ys += [r.at for r in panel.rules if r.axis == "y" and math.isfinite(r.at)]
    if not ys:
        return 0.0, 1.0
    lo, hi = min(ys), max(ys)
    if bars:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        plo, phi = padded(lo, hi, False)
        if lo == hi:            # every bar empty
            return plo, phi
        return (lo if lo == 0.0 else plo), (hi if hi == 0.0 else phi)   # bars stick to zero
    return padded(lo, hi, False)


