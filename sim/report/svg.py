"""A :class:`~sim.report.chart.Chart` as a standalone SVG document, written directly (no
matplotlib): the panel grid, then each panel in layers (background, grid, clipped data, notes,
frame and tick marks, tick and axis labels, title, legend).

    >>> from sim.report.chart import Chart, Panel, Series
    >>> svg = to_svg(Chart(panels=[Panel(series=[Series([0, 1], [0, 1])], title="t")]))
    >>> svg.splitlines()[1][:40]
    '<svg xmlns="http://www.w3.org/2000/svg" '
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from sim.report.axis import finite, log_label, log_ticks, nice_ticks, padded, tick_label, x_range, y_range
from sim.report.style import FONT, FONT_PT
from sim.report.svg_marks import Axes, coord, legend_size, legend_svg, rule_svg, series_svg, text

if TYPE_CHECKING:
    from sim.report.chart import Chart, Panel

Box = tuple[float, float, float, float]      # x, y (top left), width, height in points


def write_svg(chart: Chart, stem: Path | str) -> Path:
    """Write ``chart`` as ``stem.svg`` (atomically) with :func:`to_svg`; returns the path."""
    from sim.atomic import atomic_write_bytes

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
    shared = _shared_x_range(chart)
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{coord(W)}pt" height="{coord(H)}pt" '
           f'viewBox="0 0 {coord(W)} {coord(H)}" font-family="{FONT}">',
           f'<rect width="{coord(W)}" height="{coord(H)}" fill="#fff"/>']
    for i, panel in enumerate(chart.panels[:chart.rows * chart.cols]):
        row, col = divmod(i, chart.cols)
        box = (left + col * (aw + gw), top + row * (ah + gh), aw, ah)
        xr = shared if shared is not None else _panel_x_range(panel)
        shown = not chart.sharex or row == chart.rows - 1 or i + chart.cols >= len(chart.panels)
        out += _panel_svg(panel, box, xr, shown, f"p{i}")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _shared_x_range(chart: Chart) -> tuple[float, float] | None:
    """With ``sharex``, the padded x range of all panels' data together; otherwise ``None``."""
    if not chart.sharex:
        return None
    ranges = [r for r in (x_range(p) for p in chart.panels) if r is not None]
    if not ranges:
        return None
    return padded(min(r[0] for r in ranges), max(r[1] for r in ranges), chart.panels[0].xlog)


def _panel_x_range(panel: Panel) -> tuple[float, float] | None:
    """The x range one panel shows: its data padded by 5 %, or the category slots as they are."""
    r = x_range(panel)
    return r if panel.categories is not None or r is None else padded(r[0], r[1], panel.xlog)


# ---------------------------------------------------------------------------------------- a panel
def _panel_svg(panel: Panel, box: Box, xr: tuple[float, float] | None, xticks_shown: bool,
               clip_id: str) -> list[str]:
    """One panel in its box: an empty frame when there is nothing to draw, else every layer."""
    x0, y0, w, h = box
    out = [f'<rect x="{coord(x0)}" y="{coord(y0)}" width="{coord(w)}" height="{coord(h)}" fill="#fff"/>']
    if xr is None or not any(len(finite(s.y)) for s in panel.series):
        return out + _empty_panel_svg(panel, box)
    ax = Axes(x0, y0, w, h, xr, y_range(panel), panel.xlog)
    xt, xlabels = _x_ticks(panel, xr, w)
    minor = _minor_log_ticks(xr) if panel.xlog else []
    yt = _y_ticks(panel, (ax.ya, ax.yb))
    out += _grid_svg(panel, ax, xt + minor, yt)
    out += _data_svg(panel, ax, clip_id)
    out += _notes_svg(panel, ax)
    out += _frame_svg(ax, xt, minor, yt)
    if xticks_shown:
        out += _x_tick_labels_svg(panel, ax, xt, xlabels)
    out += _y_labels_svg(panel, ax, yt)
    if panel.xlabel and xticks_shown:
        out.append(text(x0 + w / 2, y0 + h + 9 + 1.2 * FONT_PT, panel.xlabel, baseline="hanging"))
    out += _title_svg(panel, box)
    if panel.legend == "inside":
        out += legend_svg(panel, x0 + 6, y0 + 6)
    elif panel.legend == "lower right":
        lw, lh = legend_size(panel)
        out += legend_svg(panel, x0 + w - 6 - lw, y0 + h - 6 - lh)
    elif panel.legend == "outside":
        out += legend_svg(panel, x0 + w + 8, y0)
    return out


def _empty_panel_svg(panel: Panel, box: Box) -> list[str]:
    """A panel without data: its frame, its title on one line and the notes placed on the axes."""
    x0, y0, w, h = box
    out = [f'<rect x="{coord(x0)}" y="{coord(y0)}" width="{coord(w)}" height="{coord(h)}" fill="none" '
           f'stroke="#000" stroke-width="0.8"/>']
    if panel.title:
        out.append(text(x0 + w / 2, y0 - 6, panel.title, panel.title_pt))
    out += [text(x0 + w * n.x, y0 + h * (1 - n.y), n.text, baseline="central") for n in panel.notes if n.axes]
    return out


def _x_ticks(panel: Panel, xr: tuple[float, float], width: float) -> tuple[list[float], list[str]]:
    """Major x ticks and their labels: the categories, decades on a log axis, or nice numbers,
    fewer of them until their labels fit side by side (~0.6 em per character)."""
    if panel.categories is not None:
        return [float(i) for i in range(len(panel.categories))], list(panel.categories)
    if panel.xlog:
        xt = log_ticks(*xr)
        return xt, [log_label(t) for t in xt]
    most = 8
    while True:
        xt = [t for t in nice_ticks(xr[0], xr[1], most) if xr[0] <= t <= xr[1]]
        xlabels = [tick_label(t, xt) for t in xt]
        if most <= 2 or sum(0.6 * FONT_PT * len(lab) + 8 for lab in xlabels) <= width:
            return xt, xlabels
        most -= 1


def _minor_log_ticks(xr: tuple[float, float]) -> list[float]:
    """2..9 times each decade inside the range, as matplotlib's minor ticks on a log axis."""
    return [m * 10.0 ** k for k in range(math.floor(math.log10(xr[0])), math.ceil(math.log10(xr[1])) + 1)
            for m in range(2, 10) if xr[0] <= m * 10.0 ** k <= xr[1]]


def _y_ticks(panel: Panel, yr: tuple[float, float]) -> list[float]:
    """Nice y ticks inside the range (whole numbers only for a count axis)."""
    return [t for t in nice_ticks(*yr, integer=panel.yinteger) if yr[0] - 1e-12 <= t <= yr[1] + 1e-12]


def _grid_svg(panel: Panel, ax: Axes, xt: list[float], yt: list[float]) -> list[str]:
    """Light grid lines: vertical at the x ticks (not between categories), horizontal at the y ticks."""
    grid = []
    if panel.grid == "both" and panel.categories is None:
        grid += [f'<path d="M{coord(ax.px(t))} {coord(ax.y0)} v{coord(ax.h)}"/>' for t in xt]
    if panel.grid in ("both", "y"):
        grid += [f'<path d="M{coord(ax.x0)} {coord(ax.py(t))} h{coord(ax.w)}"/>' for t in yt]
    if not grid:
        return []
    return ['<g stroke="#b0b0b0" stroke-opacity="0.3" stroke-width="0.8">' + "".join(grid) + "</g>"]


def _data_svg(panel: Panel, ax: Axes, clip_id: str) -> list[str]:
    """The series, then the rules, clipped to the panel's box."""
    out = [f'<clipPath id="{clip_id}"><rect x="{coord(ax.x0)}" y="{coord(ax.y0)}" width="{coord(ax.w)}" '
           f'height="{coord(ax.h)}"/></clipPath><g clip-path="url(#{clip_id})">']
    for s in panel.series:
        out += series_svg(ax, s)
    for r in panel.rules:
        out += rule_svg(ax, r)
    out.append("</g>")
    return out


def _notes_svg(panel: Panel, ax: Axes) -> list[str]:
    """Each note at its data point or axes fraction, aligned as it asks."""
    out = []
    for n in panel.notes:
        nx, ny = (ax.x0 + ax.w * n.x, ax.y0 + ax.h * (1 - n.y)) if n.axes else (ax.px(n.x), ax.py(n.y))
        base = {"bottom": "", "center": "central", "top": "hanging"}[n.va]
        anchor = {"left": "start", "center": "middle", "right": "end"}[n.ha]
        out.append(text(nx, ny - (2 if n.va == "bottom" else 0), n.text, anchor=anchor, baseline=base))
    return out


def _frame_svg(ax: Axes, xt: list[float], minor: list[float], yt: list[float]) -> list[str]:
    """The panel's frame and its tick marks (major and minor x, y), pointing out."""
    x0, y0, h = ax.x0, ax.y0, ax.h
    marks = [f'<path d="M{coord(ax.px(t))} {coord(y0 + h)} v3.5"/>' for t in xt]
    marks += [f'<path d="M{coord(ax.px(t))} {coord(y0 + h)} v2"/>' for t in minor]
    marks += [f'<path d="M{coord(x0)} {coord(ax.py(t))} h-3.5"/>' for t in yt]
    return [f'<rect x="{coord(x0)}" y="{coord(y0)}" width="{coord(ax.w)}" height="{coord(h)}" fill="none" '
            f'stroke="#000" stroke-width="0.8"/>',
            '<g stroke="#000" stroke-width="0.8">' + "".join(marks) + "</g>"]


def _x_tick_labels_svg(panel: Panel, ax: Axes, xt: list[float], xlabels: list[str]) -> list[str]:
    """The x tick labels under the frame, rotated (right-aligned to the tick) when the panel asks; a
    label of several lines (``"KV cache use\\n(mean)"``) one text per line, as matplotlib draws it."""
    below = ax.y0 + ax.h
    if panel.rotation:
        return [text(ax.px(t), below + 8, lab, panel.category_pt, anchor="end", baseline="hanging",
                     rotate=-panel.rotation) for t, lab in zip(xt, xlabels)]
    pt = panel.category_pt if panel.categories is not None else FONT_PT
    return [text(ax.px(t), below + 6 + i * pt * 1.2, line, pt, baseline="hanging")
            for t, lab in zip(xt, xlabels) for i, line in enumerate(lab.split("\n"))]


def _y_labels_svg(panel: Panel, ax: Axes, yt: list[float]) -> list[str]:
    """The y tick labels left of the frame, and the y axis label left of the widest of them."""
    ylabels = [tick_label(t, yt) for t in yt]
    out = [text(ax.x0 - 6, ax.py(t), lab, anchor="end", baseline="central") for t, lab in zip(yt, ylabels)]
    if panel.ylabel:
        widest = max((len(s) for s in ylabels), default=1)
        lx = ax.x0 - 10 - 0.6 * FONT_PT * widest - 4
        out.append(text(lx, ax.y0 + ax.h / 2, panel.ylabel, rotate=-90))
    return out


def _title_svg(panel: Panel, box: Box) -> list[str]:
    """The title above the panel, one text per line, the last line nearest the frame."""
    if not panel.title:
        return []
    x0, y0, w, _ = box
    lines = panel.title.split("\n")
    return [text(x0 + w / 2, y0 - 6 - (len(lines) - 1 - i) * panel.title_pt * 1.2, line, panel.title_pt)
            for i, line in enumerate(lines)]
