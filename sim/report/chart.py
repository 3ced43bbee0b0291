"""Charts as plain data: what a figure shows, drawn by either of two renderers.

A :class:`Chart` says *what* a figure shows (panels on a grid, lines, step lines, bars, marks,
labels, legend, log or linear axes); it is built once per figure by the report code and drawn by
either of two renderers:

* :func:`to_svg` (:mod:`sim.report.svg`, importable from here): a quick-look SVG written
  directly, in milliseconds. ``Result.write`` uses it for the figures of every run, because
  importing matplotlib and drawing four figures with it costs about 0.8 s, a third of the wall
  time of a 100,000-request run (see BENCHMARKS.md).
* :func:`sim.report.render.draw_chart` (matplotlib): the PNG and SVG figures ``fleetsim report``
  draws, and what notebooks show.

Both read the same :class:`Chart`, so the two never disagree on what is plotted. Output is
deterministic: the same chart gives the same bytes.

    >>> c = Chart(panels=[Panel(series=[Series([0, 1, 2], [0, 1, 4], label="y")], title="t")])
    >>> to_svg(c).startswith('<?xml')
    True

The SVG writer is three small modules: :mod:`sim.report.axis` (data ranges with matplotlib's 5 %
margin unless a panel fixes them, bars starting at zero; "nice number" ticks: steps of 1, 2, 2.5
or 5 times a power of ten, about five to eight per axis, decades on a log axis),
:mod:`sim.report.svg_marks` (coordinates, text, strokes; a series as a path, bars or a band; the
legend; long series thinned before they are written: interior points of flat runs, and all but
the first, last, (first) lowest and (first) highest point of each half-point column, so a week
of 10-second samples stays ~100-200 kB instead of several MB) and :mod:`sim.report.svg` (the
panel grid and each panel's layers). Colours, fonts and dashes both renderers share are in
:mod:`sim.report.style`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sim.errors import printable
from sim.report.axis import log_label, log_ticks, nice_ticks, tick_label
from sim.report.style import FONT_PT, PALETTE, SMALL_PT, TITLE_PT, color
from sim.report.svg import to_svg, write_svg

__all__ = ["FORMATS", "PALETTE", "Chart", "Note", "Panel", "Rule", "Series", "color", "envelope", "figure_text",
           "log_label",
           "log_ticks", "nice_ticks", "tick_label", "to_svg", "write_svg"]

#: file formats of figures drawn by matplotlib (``fleetsim report``): PNG and SVG
FORMATS = ("png", "svg")


def figure_text(text: object) -> str:
    r"""A name, path or value as any figure shows it in a title, legend, label or tick, and as the report
    page does before its HTML escaping (:func:`sim.report.html_page.escape`): control characters and
    bidirectional overrides written as escapes (:func:`~sim.errors.printable`, as on the terminal), every
    space kept as it is (a no-break space is no ``\u00a0``). Both renderers draw the text as it is
    (matplotlib reads no ``$...$`` as mathematics: :mod:`sim.report.render`).

        >>> figure_text("main\x1b[31m"), figure_text("run\u00a0a $x$"), figure_text("a\u202eb\nc")
        ('main\\x1b[31m', 'run\xa0a $x$', 'a\\u202eb\\x0ac')
    """
    return printable(str(text), keep="", spaces=True)


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
    ticks, rotated by ``rotation`` degrees; ``legend``: ``None``, ``"inside"`` (upper left),
    ``"lower right"`` (inside: where a CDF leaves room) or ``"outside"`` (right of the panel); ``grid``: ``"both"``, ``"y"`` or ``""``; ``yinteger``: y
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
