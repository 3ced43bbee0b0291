"""Charts as plain data, and a small SVG writer for them that needs no matplotlib.

A :class:`Chart` says *what* a figure shows (panels on a grid, lines, step lines, bars, marks,
labels, legend, log or linear axes); it is built once per figure by the report code and drawn by
either of two renderers:

* :func:`to_svg` (here): a quick-look SVG written directly, in milliseconds. ``Result.write`` uses
  it for the figures of every run, because importing matplotlib and drawing four figures with
  it costs about 0.8 s, a third of the wall time of a 100,000-request run (see BENCHMARKS.md).
* :func:`sim.report.render.draw_chart` (matplotlib): the PNG and SVG figures ``fleetsim report``
  draws, and what notebooks show.

Both read the same :class:`Chart`, so the two never disagree on what is plotted. Output is
deterministic: the same chart gives the same bytes.

    >>> c = Chart(panels=[Panel(series=[Series([0, 1, 2], [0, 1, 4], label="y")], title="t")])
    >>> to_svg(c).startswith('<?xml')
    True

Long series are thinned before they are written (:func:`_thin`: interior points of flat runs,
and all but the first, last, (first) lowest and (first) highest point of each half-point column),
so a week of 10-second samples stays ~100-200 kB instead of several MB.

Axis ticks follow the usual "nice numbers" rule (steps of 1, 2, 2.5 or 5 times a power of ten,
about five to eight per axis; decades on a log axis), and, as in matplotlib, data limits get a
5 % margin on each side unless a panel fixes them (bars start at zero).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

#: matplotlib's default colour cycle ("tab10"); ``C0`` ... ``C9`` in a chart mean these
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
FONT = "DejaVu Sans, Bitstream Vera Sans, Helvetica, Arial, sans-serif"
FONT_PT = 10.0          # tick labels, axis labels, text (matplotlib's default size)
SMALL_PT = 8.33         # legends ("small")
TITLE_PT = 12.0
#: file formats of figures drawn by matplotlib (``fleetsim report``): PNG and SVG
FORMATS = ("png", "svg")
DASHES = {"": None, "-": None, "--": "3.7,1.6", ":": "1,1.65", "-.": "6.4,1.6,1,1.6"}  # per unit width


def color(c: str) -> str:
    """``C0``, ``C1``, ... as the palette colour (cycling, as matplotlib), ``k`` as black;
    anything else (``#rrggbb``, an SVG colour name) unchanged."""
    if c == "k":
        return "#000"
    if len(c) >= 2 and c[0] == "C" and c[1:].isdigit():
        return PALETTE[int(c[1:]) % len(PALETTE)]
    return c


@dataclass
class Series:
    """One drawn series of a panel.

    ``kind``: ``"line"``, ``"step"`` (drawn as steps holding each value until the next x, as
    matplotlib's ``where="post"``), ``"bar"`` (bars of ``bar_width`` centred on x, from
    ``bottom``, default zero) or ``"band"`` (the area between ``bottom`` and ``y``, filled
    translucent: the min-max envelope of a long series, see :func:`envelope`).
    ``dash``: ``""`` solid, ``"--"``, ``":"`` or ``"-."``.
    """

    x: Sequence[float]
    y: Sequence[float]
    kind: str = "line"
    color: str = "k"
    width: float = 1.5
    dash: str = ""
    label: str | None = None
    marker: bool = False
    bottom: Sequence[float] | None = None
    bar_width: float = 0.8


@dataclass
class Rule:
    """A vertical (``axis="x"``) or horizontal (``axis="y"``) line across the panel at ``at``."""

    at: float
    axis: str = "x"
    color: str = "grey"
    width: float = 1.0
    dash: str = ""
    label: str | None = None


@dataclass
class Note:
    """Text at data point ``(x, y)``, or at axes fraction ``(x, y)`` with ``axes=True``.
    ``ha``: ``left``, ``center``, ``right``; ``va``: ``bottom``, ``center``, ``top``."""

    x: float
    y: float
    text: str
    ha: str = "center"
    va: str = "bottom"
    axes: bool = False


@dataclass
class Panel:
    """One set of axes. ``categories`` label x positions 0, 1, ... (bar charts) instead of numeric
    ticks, rotated by ``rotation`` degrees; ``legend``: ``None``, ``"inside"`` (upper left) or
    ``"outside"`` (right of the panel); ``grid``: ``"both"``, ``"y"`` or ``""``; ``yinteger``: y
    ticks on whole numbers only (counts)."""

    series: list[Series] = field(default_factory=list)
    title: str = ""
    title_pt: float = TITLE_PT
    xlabel: str = ""
    ylabel: str = ""
    xlog: bool = False
    ylim: tuple[float, float] | None = None
    rules: list[Rule] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    legend: str | None = None
    legend_title: str | None = None
    legend_pt: float = SMALL_PT
    grid: str = "both"
    categories: Sequence[str] | None = None
    category_pt: float = FONT_PT
    rotation: float = 0.0
    yinteger: bool = False


@dataclass
class Chart:
    """Panels on a ``rows`` x ``cols`` grid (row by row), with fixed margins ``(left, right, bottom,
    top)`` and gaps in inches; ``sharex``: one x range for all panels, tick labels on the bottom
    row only."""

    panels: list[Panel]
    width_in: float = 7.0
    height_in: float = 4.5
    margins: tuple[float, float, float, float] = (0.8, 0.2, 0.6, 0.4)
    rows: int = 1
    cols: int = 1
    wspace_in: float = 0.0
    hspace_in: float = 0.0
    sharex: bool = False


# ---------------------------------------------------------------------------------------- data
def envelope(x, y, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A long series summarised per x column: ``columns`` equal slices of the x range, each
    giving its centre, lowest, highest and mean value (NaN ignored; empty slices left out).

    Drawn as a band from the lowest to the highest value with a line through the means, a year
    of hourly samples shows its range and its level at once instead of a solid block of ink.

        >>> c, lo, hi, mean = envelope([0, 1, 2, 3], [1, 3, 2, 6], 2)
        >>> c.tolist(), lo.tolist(), hi.tolist(), mean.tolist()
        ([0.75, 2.25], [1.0, 2.0], [3.0, 6.0], [2.0, 4.0])
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if not x.size:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    a, b = float(x.min()), float(x.max())
    width = (b - a) / columns if b > a else 1.0
    col = np.minimum(((x - a) / width).astype(np.int64), columns - 1)
    order = np.argsort(col, kind="stable")
    col, y = col[order], y[order]
    starts = np.flatnonzero(np.concatenate(([True], col[1:] != col[:-1])))
    used = col[starts]
    sizes = np.diff(np.append(starts, col.size))
    return (a + (used + 0.5) * width, np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts),
            np.add.reduceat(y, starts) / sizes)


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
    """Powers of ten from ``lo`` to ``hi`` (both > 0), every other or third one over many decades.

        >>> log_ticks(0.02, 30.0)
        [0.1, 1.0, 10.0]
    """
    a, b = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    every = max(1, math.ceil((b - a + 1) / 8))
    return [10.0 ** k for k in range(a, b + 1, every)]


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
    """A power of ten as plain text: ``0.01``, ``1``, ``1000``; ``1e+06`` style beyond that."""
    if 1e-4 <= v < 1e6:
        return f"{v:.{max(0, -round(math.log10(v)))}f}"
    return f"{v:.0e}"


# ---------------------------------------------------------------------------------------- limits
def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _x_range(panel: Panel) -> tuple[float, float] | None:
    if panel.categories is not None:
        return -0.5, len(panel.categories) - 0.5
    xs: list[float] = []
    for s in panel.series:
        xs += _finite(s.x)
    xs += [r.at for r in panel.rules if r.axis == "x" and math.isfinite(r.at)]
    if panel.xlog:
        xs = [v for v in xs if v > 0]
    if not xs:
        return None
    return min(xs), max(xs)


def _pad(lo: float, hi: float, log: bool) -> tuple[float, float]:
    """5 % of the span added on each side (in log space on a log axis); a flat range gets ±1."""
    if log:
        a, b = math.log10(lo), math.log10(hi)
        if b - a <= 0:
            a, b = a - 1, b + 1
        d = 0.05 * (b - a)
        return 10 ** (a - d), 10 ** (b + d)
    if hi - lo <= 0:
        d = abs(lo) * 0.05 or 1.0
        return lo - d, hi + d
    d = 0.05 * (hi - lo)
    return lo - d, hi + d


def _y_range(panel: Panel) -> tuple[float, float]:
    if panel.ylim is not None:
        return panel.ylim
    ys: list[float] = []
    bars = False
    for s in panel.series:
        if s.kind == "bar":
            bars = True
            bot = s.bottom if s.bottom is not None else [0.0] * len(s.y)
            ys += _finite(b + v for b, v in zip(bot, s.y))
            ys += _finite(bot)
        else:
            ys += _finite(s.y)
            if s.kind == "band" and s.bottom is not None:
                ys += _finite(s.bottom)
    ys += [r.at for r in panel.rules if r.axis == "y" and math.isfinite(r.at)]
    if not ys:
        return 0.0, 1.0
    lo, hi = min(ys), max(ys)
    if bars:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        plo, phi = _pad(lo, hi, False)
        if lo == hi:            # every bar empty
            return plo, phi
        return (lo if lo == 0.0 else plo), (hi if hi == 0.0 else phi)   # bars stick to zero
    return _pad(lo, hi, False)


# ---------------------------------------------------------------------------------------- SVG
def _f(v: float) -> str:
    """A coordinate with two decimals (1/7200 in), trailing zeros dropped."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


class _Axes:
    """Maps data to SVG points (1/72 in, origin top left) inside one panel's box."""

    def __init__(self, x0: float, y0: float, w: float, h: float, xr: tuple[float, float],
                 yr: tuple[float, float], xlog: bool) -> None:
        self.x0, self.y0, self.w, self.h = x0, y0, w, h
        self.xlog = xlog
        self.xa, self.xb = (math.log10(xr[0]), math.log10(xr[1])) if xlog else xr
        self.ya, self.yb = yr

    def px(self, x: float) -> float:
        v = math.log10(x) if self.xlog else x
        return self.x0 + (v - self.xa) / (self.xb - self.xa) * self.w

    def py(self, y: float) -> float:
        return self.y0 + self.h - (y - self.ya) / (self.yb - self.ya) * self.h


def escape(s: str) -> str:
    """Text as SVG character data (``&``, ``<``, ``>``). Not ``xml.sax.saxutils.escape``: importing
    that loads ``urllib.request`` and ``ssl``, ~30 ms of every run."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(x: float, y: float, s: str, pt: float = FONT_PT, anchor: str = "middle", baseline: str = "",
          rotate: float = 0.0) -> str:
    """A text element; ``baseline``: ``""`` (alphabetic), ``"central"`` or ``"hanging"``."""
    attrs = f'x="{_f(x)}" y="{_f(y)}" font-size="{pt:g}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if baseline:
        attrs += f' dominant-baseline="{baseline}"'
    if rotate:
        attrs += f' transform="rotate({rotate:g} {_f(x)} {_f(y)})"'
    if "  " in s:
        attrs += ' xml:space="preserve"'
    return f"<text {attrs}>{escape(s)}</text>"


def _stroke(c: str, width: float, dash: str) -> str:
    out = f'stroke="{color(c)}" stroke-width="{width:g}"'
    pattern = DASHES.get(dash)
    if pattern:
        out += ' stroke-dasharray="' + ",".join(f"{float(p) * width:g}" for p in pattern.split(",")) + '"'
    return out


def _path_d(ax: _Axes, s: Series) -> str:
    """SVG path data of a line or step series (vectorised: CDFs have thousands of points). Points
    that cannot be drawn (NaN, or x <= 0 on a log axis) are left out."""
    x = np.asarray(s.x, dtype=np.float64)
    y = np.asarray(s.y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ax.xlog:
        ok &= x > 0
    x, y = x[ok], y[ok]
    if not x.size:
        return ""
    px = ax.x0 + ((np.log10(x) if ax.xlog else x) - ax.xa) / (ax.xb - ax.xa) * ax.w
    py = ax.y0 + ax.h - (y - ax.ya) / (ax.yb - ax.ya) * ax.h
    if s.kind == "step" and x.size > 1:     # hold each value until the next x
        px, py = np.repeat(px, 2)[1:], np.repeat(py, 2)[:-1]
    px, py = _thin(px, py)
    pts = np.round(np.column_stack((px, py)), 2).tolist()
    return "M" + " L".join(f"{a:g} {b:g}" for a, b in pts)


def _thin(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop points that do not change the drawing (x non-decreasing only, so long time series stay
    small): interior points of horizontal runs (exact), then, where there are more than four
    points per half-point column, all but each column's first, last, first lowest and first
    highest point (the drawing moves by less than half a point)."""
    if px.size < 3 or np.any(px[1:] < px[:-1]):
        return px, py
    flat = py[1:-1] == py[:-2]
    flat &= py[1:-1] == py[2:]
    if flat.any():
        keep = np.concatenate(([True], ~flat, [True]))
        px, py = px[keep], py[keep]
    col = np.floor(px * 2.0)
    first = np.concatenate(([True], col[1:] != col[:-1]))
    starts = np.flatnonzero(first)
    if starts.size * 4 < px.size:
        lens = np.diff(np.append(starts, px.size))
        group = np.repeat(np.arange(starts.size), lens)
        keep = first | np.append(first[1:], True)
        for extreme in (np.minimum, np.maximum):     # the first lowest and first highest point
            at = np.flatnonzero(py == np.repeat(extreme.reduceat(py, starts), lens))
            g = group[at]
            keep[at[np.concatenate(([True], g[1:] != g[:-1]))]] = True
        px, py = px[keep], py[keep]
    return px, py


def _series_svg(ax: _Axes, s: Series) -> list[str]:
    if s.kind == "bar":
        out = []
        fill = color(s.color)
        bot = s.bottom if s.bottom is not None else [0.0] * len(s.y)
        for x, y, b in zip(s.x, s.y, bot):
            if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(b)) or y == 0:
                continue
            if ax.xlog and x - s.bar_width / 2 <= 0:
                continue        # cannot be drawn on a log axis
            left, right = ax.px(x - s.bar_width / 2), ax.px(x + s.bar_width / 2)
            top, base = ax.py(b + y), ax.py(b)
            out.append(f'<rect x="{_f(left)}" y="{_f(min(top, base))}" width="{_f(right - left)}" '
                       f'height="{_f(abs(base - top))}" fill="{fill}"/>')
        return out
    if s.kind == "band":
        x = np.asarray(s.x, dtype=np.float64)
        hi = np.asarray(s.y, dtype=np.float64)
        lo = np.asarray(s.bottom if s.bottom is not None else np.zeros_like(hi), dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(hi) & np.isfinite(lo)
        if ax.xlog:
            ok &= x > 0
        if not ok.any():
            return []
        px = [ax.px(v) for v in x[ok]]
        pts = list(zip(px, (ax.py(v) for v in hi[ok]))) + list(zip(px[::-1], (ax.py(v) for v in lo[ok][::-1])))
        d = "M" + " L".join(f"{_f(a)} {_f(b)}" for a, b in pts) + " Z"
        return [f'<path d="{d}" fill="{color(s.color)}" fill-opacity="0.3" stroke="none"/>']
    d = _path_d(ax, s)
    if not d:
        return []
    out = [f'<path d="{d}" fill="none" {_stroke(s.color, s.width, s.dash)} stroke-linejoin="round"/>']
    if s.marker:
        fill = color(s.color)
        out += [f'<circle cx="{_f(ax.px(x))}" cy="{_f(ax.py(y))}" r="3" fill="{fill}"/>'
                for x, y in zip(s.x, s.y) if math.isfinite(x) and math.isfinite(y)]
    return out


def _legend_sample(item: Series | Rule, x: float, ym: float) -> str:
    """The sample drawn left of a legend label: a bar swatch, or a line (with its marker)."""
    if isinstance(item, Series) and item.kind in ("bar", "band"):
        return f'<rect x="{_f(x)}" y="{_f(ym - 3)}" width="14" height="6" fill="{color(item.color)}"/>'
    out = f'<path d="M{_f(x)} {_f(ym)} h14" fill="none" {_stroke(item.color, item.width, item.dash)}/>'
    if isinstance(item, Series) and item.marker:
        out += f'<circle cx="{_f(x + 7)}" cy="{_f(ym)}" r="3" fill="{color(item.color)}"/>'
    return out


def _legend_svg(panel: Panel, x: float, y: float) -> list[str]:
    """The legend box with its top-left corner at ``(x, y)``: a sample and a label per entry."""
    entries = [item for item in [*panel.series, *panel.rules] if item.label]
    if not entries:
        return []
    pt = panel.legend_pt
    line = pt * 1.4
    head = 1 if panel.legend_title else 0
    width = 26 + 0.55 * pt * max([len(e.label) for e in entries] + [len(panel.legend_title or "")])
    height = line * (len(entries) + head) + 6
    out = [f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(width)}" height="{_f(height)}" fill="#fff" '
           f'fill-opacity="0.8" stroke="#ccc" stroke-width="0.8"/>']
    if panel.legend_title:
        out.append(_text(x + width / 2, y + 3 + line * 0.7, panel.legend_title, pt))
    for i, item in enumerate(entries):
        cy = y + 3 + line * (i + head + 0.5)
        out.append(_legend_sample(item, x + 6, cy))
        out.append(_text(x + 26, cy, item.label, pt, anchor="start", baseline="central"))
    return out


def _panel_svg(panel: Panel, box: tuple[float, float, float, float], xr: tuple[float, float] | None,
               xticks_shown: bool, clip_id: str) -> list[str]:
    x0, y0, w, h = box
    out = [f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(w)}" height="{_f(h)}" fill="#fff"/>']
    has_data = any(len(_finite(s.y)) for s in panel.series)
    if xr is None or not has_data:
        out.append(f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(w)}" height="{_f(h)}" fill="none" '
                   f'stroke="#000" stroke-width="0.8"/>')
        if panel.title:
            out.append(_text(x0 + w / 2, y0 - 6, panel.title, panel.title_pt))
        out += [_text(x0 + w * n.x, y0 + h * (1 - n.y), n.text, baseline="central")
                for n in panel.notes if n.axes]
        return out
    yr = _y_range(panel)
    ax = _Axes(x0, y0, w, h, xr, yr, panel.xlog)
    # ticks and grid
    if panel.categories is not None:
        xt = [float(i) for i in range(len(panel.categories))]
        xlabels = list(panel.categories)
    elif panel.xlog:
        xt = log_ticks(*xr)
        xlabels = [log_label(t) for t in xt]
    else:
        most = 8
        while True:   # fewer ticks until their labels fit side by side (~0.6 em per character)
            xt = [t for t in nice_ticks(xr[0], xr[1], most) if xr[0] <= t <= xr[1]]
            xlabels = [tick_label(t, xt) for t in xt]
            if most <= 2 or sum(0.6 * FONT_PT * len(lab) + 8 for lab in xlabels) <= w:
                break
            most -= 1
    yt = [t for t in nice_ticks(*yr, integer=panel.yinteger) if yr[0] - 1e-12 <= t <= yr[1] + 1e-12]
    grid = []
    minor = []          # log axis: 2..9 x each decade, as matplotlib's minor ticks
    if panel.xlog:
        minor = [m * 10.0 ** k for k in range(math.floor(math.log10(xr[0])), math.ceil(math.log10(xr[1])) + 1)
                 for m in range(2, 10) if xr[0] <= m * 10.0 ** k <= xr[1]]
    if panel.grid == "both" and panel.categories is None:
        grid += [f'<path d="M{_f(ax.px(t))} {_f(y0)} v{_f(h)}"/>' for t in xt + minor]
    if panel.grid in ("both", "y"):
        grid += [f'<path d="M{_f(x0)} {_f(ax.py(t))} h{_f(w)}"/>' for t in yt]
    if grid:
        out.append('<g stroke="#b0b0b0" stroke-opacity="0.3" stroke-width="0.8">' + "".join(grid) + "</g>")
    # data, clipped to the panel
    out.append(f'<clipPath id="{clip_id}"><rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(w)}" '
               f'height="{_f(h)}"/></clipPath><g clip-path="url(#{clip_id})">')
    for s in panel.series:
        out += _series_svg(ax, s)
    for r in panel.rules:
        if not math.isfinite(r.at):
            continue
        if r.axis == "x" and not (panel.xlog and r.at <= 0):
            out.append(f'<path d="M{_f(ax.px(r.at))} {_f(y0)} v{_f(h)}" {_stroke(r.color, r.width, r.dash)}/>')
        elif r.axis == "y":
            out.append(f'<path d="M{_f(x0)} {_f(ax.py(r.at))} h{_f(w)}" {_stroke(r.color, r.width, r.dash)}/>')
    out.append("</g>")
    for n in panel.notes:
        nx, ny = (x0 + w * n.x, y0 + h * (1 - n.y)) if n.axes else (ax.px(n.x), ax.py(n.y))
        base = {"bottom": "", "center": "central", "top": "hanging"}[n.va]
        anchor = {"left": "start", "center": "middle", "right": "end"}[n.ha]
        out.append(_text(nx, ny - (2 if n.va == "bottom" else 0), n.text, anchor=anchor, baseline=base))
    # frame, ticks, labels
    out.append(f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(w)}" height="{_f(h)}" fill="none" '
               f'stroke="#000" stroke-width="0.8"/>')
    marks = [f'<path d="M{_f(ax.px(t))} {_f(y0 + h)} v3.5"/>' for t in xt]
    marks += [f'<path d="M{_f(ax.px(t))} {_f(y0 + h)} v2"/>' for t in minor]
    marks += [f'<path d="M{_f(x0)} {_f(ax.py(t))} h-3.5"/>' for t in yt]
    out.append('<g stroke="#000" stroke-width="0.8">' + "".join(marks) + "</g>")
    if xticks_shown:
        for t, lab in zip(xt, xlabels):
            if panel.rotation:
                out.append(_text(ax.px(t), y0 + h + 8, lab, panel.category_pt, anchor="end",
                                 baseline="hanging", rotate=-panel.rotation))
            else:
                pt = panel.category_pt if panel.categories is not None else FONT_PT
                out.append(_text(ax.px(t), y0 + h + 6, lab, pt, baseline="hanging"))
    ylabels = [tick_label(t, yt) for t in yt]
    out += [_text(x0 - 6, ax.py(t), lab, anchor="end", baseline="central") for t, lab in zip(yt, ylabels)]
    if panel.ylabel:
        widest = max((len(s) for s in ylabels), default=1)
        lx = x0 - 10 - 0.6 * FONT_PT * widest - 4
        out.append(_text(lx, y0 + h / 2, panel.ylabel, rotate=-90))
    if panel.xlabel and xticks_shown:
        out.append(_text(x0 + w / 2, y0 + h + 9 + 1.2 * FONT_PT, panel.xlabel, baseline="hanging"))
    if panel.title:
        lines = panel.title.split("\n")
        for i, line in enumerate(lines):
            out.append(_text(x0 + w / 2, y0 - 6 - (len(lines) - 1 - i) * panel.title_pt * 1.2, line,
                             panel.title_pt))
    if panel.legend == "inside":
        out += _legend_svg(panel, x0 + 6, y0 + 6)
    elif panel.legend == "outside":
        out += _legend_svg(panel, x0 + w + 8, y0)
    return out


def write_svg(chart: Chart, stem: Path | str) -> Path:
    """Write ``chart`` as ``stem.svg`` (atomically) with :func:`to_svg`; returns the path."""
    from sim.io import atomic_write_bytes

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(stem.with_name(f"{stem.name}.svg"), to_svg(chart).encode())


def to_svg(chart: Chart) -> str:
    """The chart as a standalone SVG document (sizes in points, 72 to the inch)."""
    W, H = chart.width_in * 72, chart.height_in * 72
    left, right, bottom, top = (m * 72 for m in chart.margins)
    gw, gh = chart.wspace_in * 72, chart.hspace_in * 72
    aw = max((W - left - right - (chart.cols - 1) * gw) / chart.cols, 1.0)
    ah = max((H - top - bottom - (chart.rows - 1) * gh) / chart.rows, 1.0)
    shared = None
    if chart.sharex:
        ranges = [r for r in (_x_range(p) for p in chart.panels) if r is not None]
        if ranges:
            shared = _pad(min(r[0] for r in ranges), max(r[1] for r in ranges), chart.panels[0].xlog)
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(W)}pt" height="{_f(H)}pt" '
           f'viewBox="0 0 {_f(W)} {_f(H)}" font-family="{FONT}">',
           f'<rect width="{_f(W)}" height="{_f(H)}" fill="#fff"/>']
    for i, panel in enumerate(chart.panels[:chart.rows * chart.cols]):
        row, col = divmod(i, chart.cols)
        box = (left + col * (aw + gw), top + row * (ah + gh), aw, ah)
        if shared is not None:
            xr = shared
        else:
            r = _x_range(panel)
            xr = r if panel.categories is not None or r is None else _pad(r[0], r[1], panel.xlog)
        shown = not chart.sharex or row == chart.rows - 1 or i + chart.cols >= len(chart.panels)
        out += _panel_svg(panel, box, xr, shown, f"p{i}")
    out.append("</svg>")
    return "\n".join(out) + "\n"
