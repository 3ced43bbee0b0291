"""SVG primitives of the quick-look renderer: coordinates, text, strokes, and the marks one panel
draws (a series as a path, bars or a band; a legend box). Sizes are points (1/72 in), the origin
top left.

    >>> ax = Axes(0.0, 0.0, 100.0, 50.0, (0.0, 10.0), (0.0, 1.0), xlog=False)
    >>> ax.px(5.0), ax.py(1.0)
    (50.0, 0.0)
    >>> text(1, 2, "a < b")
    '<text x="1" y="2" font-size="10" text-anchor="middle">a &lt; b</text>'
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.report.style import DASHES, FONT_PT, color

if TYPE_CHECKING:
    from sim.report.chart import Panel, Rule, Series


def coord(v: float) -> str:
    """A coordinate with two decimals (1/7200 in), trailing zeros dropped."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


class Axes:
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


def text(x: float, y: float, s: str, pt: float = FONT_PT, anchor: str = "middle", baseline: str = "",
          rotate: float = 0.0) -> str:
    """A text element; ``baseline``: ``""`` (alphabetic), ``"central"`` or ``"hanging"``."""
    attrs = f'x="{coord(x)}" y="{coord(y)}" font-size="{pt:g}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if baseline:
        attrs += f' dominant-baseline="{baseline}"'
    if rotate:
        attrs += f' transform="rotate({rotate:g} {coord(x)} {coord(y)})"'
    if "  " in s:
        attrs += ' xml:space="preserve"'
    return f"<text {attrs}>{escape(s)}</text>"


def stroke(c: str, width: float, dash: str) -> str:
    out = f'stroke="{color(c)}" stroke-width="{width:g}"'
    pattern = DASHES.get(dash)
    if pattern:
        out += ' stroke-dasharray="' + ",".join(f"{float(p) * width:g}" for p in pattern.split(",")) + '"'
    return out


def _path_d(ax: Axes, s: Series) -> str:
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


def series_svg(ax: Axes, s: Series) -> list[str]:
    """The SVG elements of one series: bars, a band, or a line (with its markers)."""
    if s.kind == "bar":
        return _bars_svg(ax, s)
    if s.kind == "band":
        return _band_svg(ax, s)
    return _line_svg(ax, s)


def _bars_svg(ax: Axes, s: Series) -> list[str]:
    """One rectangle per bar that can be drawn (finite, non-empty, left edge > 0 on a log axis)."""
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
        out.append(f'<rect x="{coord(left)}" y="{coord(min(top, base))}" width="{coord(right - left)}" '
                   f'height="{coord(abs(base - top))}" fill="{fill}"/>')
    return out


def _band_svg(ax: Axes, s: Series) -> list[str]:
    """The area between ``bottom`` and ``y`` as one translucent closed path."""
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
    d = "M" + " L".join(f"{coord(a)} {coord(b)}" for a, b in pts) + " Z"
    return [f'<path d="{d}" fill="{color(s.color)}" fill-opacity="0.3" stroke="none"/>']


def _line_svg(ax: Axes, s: Series) -> list[str]:
    """A line or step path, and a dot on each finite point when the series has markers."""
    d = _path_d(ax, s)
    if not d:
        return []
    out = [f'<path d="{d}" fill="none" {stroke(s.color, s.width, s.dash)} stroke-linejoin="round"/>']
    if s.marker:
        fill = color(s.color)
        out += [f'<circle cx="{coord(ax.px(x))}" cy="{coord(ax.py(y))}" r="3" fill="{fill}"/>'
                for x, y in zip(s.x, s.y) if math.isfinite(x) and math.isfinite(y)]
    return out


def rule_svg(ax: Axes, r: Rule) -> list[str]:
    """A vertical or horizontal line across the panel; nothing where it cannot be drawn (not
    finite, or at x <= 0 on a log axis)."""
    if not math.isfinite(r.at):
        return []
    if r.axis == "x" and not (ax.xlog and r.at <= 0):
        return [f'<path d="M{coord(ax.px(r.at))} {coord(ax.y0)} v{coord(ax.h)}" {stroke(r.color, r.width, r.dash)}/>']
    if r.axis == "y":
        return [f'<path d="M{coord(ax.x0)} {coord(ax.py(r.at))} h{coord(ax.w)}" {stroke(r.color, r.width, r.dash)}/>']
    return []


def _legend_sample(item: Series | Rule, x: float, ym: float) -> str:
    """The sample drawn left of a legend label: a bar swatch, or a line (with its marker)."""
    if getattr(item, "kind", "line") in ("bar", "band"):        # a Rule has no kind: a line
        return f'<rect x="{coord(x)}" y="{coord(ym - 3)}" width="14" height="6" fill="{color(item.color)}"/>'
    out = f'<path d="M{coord(x)} {coord(ym)} h14" fill="none" {stroke(item.color, item.width, item.dash)}/>'
    if getattr(item, "marker", False):
        out += f'<circle cx="{coord(x + 7)}" cy="{coord(ym)}" r="3" fill="{color(item.color)}"/>'
    return out


def legend_size(panel: Panel) -> tuple[float, float]:
    """The width and height of :func:`legend_svg`'s box (points); zero without an entry."""
    entries = [item for item in [*panel.series, *panel.rules] if item.label]
    if not entries:
        return 0.0, 0.0
    pt = panel.legend_pt
    head = 1 if panel.legend_title else 0
    return (26 + 0.55 * pt * max([len(e.label) for e in entries] + [len(panel.legend_title or "")]),
            pt * 1.4 * (len(entries) + head) + 6)


def legend_svg(panel: Panel, x: float, y: float) -> list[str]:
    """The legend box with its top-left corner at ``(x, y)``: a sample and a label per entry."""
    entries = [item for item in [*panel.series, *panel.rules] if item.label]
    if not entries:
        return []
    pt = panel.legend_pt
    line = pt * 1.4
    head = 1 if panel.legend_title else 0
    width, height = legend_size(panel)
    out = [f'<rect x="{coord(x)}" y="{coord(y)}" width="{coord(width)}" height="{coord(height)}" fill="#fff" '
           f'fill-opacity="0.8" stroke="#ccc" stroke-width="0.8"/>']
    if panel.legend_title:
        out.append(text(x + width / 2, y + 3 + line * 0.7, panel.legend_title, pt))
    for i, item in enumerate(entries):
        cy = y + 3 + line * (i + head + 0.5)
        out.append(_legend_sample(item, x + 6, cy))
        out.append(text(x + 26, cy, item.label, pt, anchor="start", baseline="central"))
    return out

