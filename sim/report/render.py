"""Figure plumbing shared by every report: Agg-rendered ``Figure`` objects saved as PNG and SVG.

Figures are built on :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state), so they
render headless, in worker processes and in notebooks alike. SVGs carry no creation date,
so the same results give the same files.

Layout: :func:`new_figure` uses constrained layout unless given fixed ``margins``. The solver
measures every tick label and title before the figure is drawn, which costs as much as drawing
it; figures with a known shape (the run figures, drawn with every run) set their margins in
inches instead, so they look the same at any figure size and are drawn once.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import atomic_write_bytes
from sim.report.axis import flat, padded, x_range
from sim.report.chart import FORMATS, Chart, Panel, color

#: zlib level of PNG files (Pillow's default is 6): plots are mostly flat colour, so level 1
#: files are barely larger and encode several times faster
PNG_COMPRESS_LEVEL = 1

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib (~0.3 s to import) is imported by the functions that draw, not with this module: the
# report page's modules import short_name from here, and `fleetsim --help` imports them


def new_figure(width_in: float = 7.0, height_in: float = 4.5, *,
               margins: tuple[float, float, float, float] | None = None, grid: tuple[int, int] = (1, 1),
               wspace_in: float = 0.0, hspace_in: float = 0.0, **kwargs) -> Figure:
    """A fresh figure: constrained layout, or fixed margins if ``margins`` is given.

    ``margins`` is ``(left, right, bottom, top)`` in inches from the figure's edges to the
    subplot grid of ``grid = (rows, cols)`` axes; ``wspace_in``/``hspace_in`` are the gaps
    between them, in inches.
    """
    from matplotlib.figure import Figure

    if margins is None:
        return Figure(figsize=(width_in, height_in), layout="constrained", **kwargs)
    fig = Figure(figsize=(width_in, height_in), **kwargs)
    fig.subplots_adjust(**subplot_params(width_in, height_in, margins, wspace_in, hspace_in, grid))
    return fig


def subplot_params(width_in: float, height_in: float, margins: tuple[float, float, float, float],
                   wspace_in: float = 0.0, hspace_in: float = 0.0,
                   grid: tuple[int, int] = (1, 1)) -> dict[str, float]:
    """``Figure.subplots_adjust`` arguments for margins and gaps in inches on a ``(rows, cols)`` grid."""
    left, right, bottom, top = margins
    rows, cols = grid
    inner_w = max(width_in - left - right, 0.1)
    inner_h = max(height_in - bottom - top, 0.1)
    ax_w = max((inner_w - (cols - 1) * wspace_in) / cols, 0.05)
    ax_h = max((inner_h - (rows - 1) * hspace_in) / rows, 0.05)
    return {"left": left / width_in, "right": 1 - right / width_in, "bottom": bottom / height_in,
            "top": 1 - top / height_in, "wspace": wspace_in / ax_w, "hspace": hspace_in / ax_h}


def save_figure(fig: Figure, stem: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Save ``fig`` as ``stem.<format>`` for each of ``formats`` (PNG and SVG by default).

    Each file is written atomically (:func:`sim.atomic.atomic_write_bytes`).

    The layout is computed once, when the first format is drawn, and then kept for the others
    (the constrained-layout solver is most of the cost of drawing a small figure).
    Returns the paths written.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, fmt in enumerate(formats):
        path = stem.with_name(f"{stem.name}.{fmt}")
        atomic_write_bytes(path, figure_bytes(fig, fmt))
        paths.append(path)
        if i == 0 and len(formats) > 1 and fig.get_layout_engine() is not None:
            fig.set_layout_engine("none")       # keep the positions just computed
    return paths


def draw_chart(chart: Chart) -> Figure:
    """A :class:`~sim.report.chart.Chart` drawn with matplotlib (what ``fleetsim report`` saves)."""
    fig = new_figure(chart.width_in, chart.height_in, margins=chart.margins, grid=(chart.rows, chart.cols),
                     wspace_in=chart.wspace_in, hspace_in=chart.hspace_in)
    axes = fig.subplots(chart.rows, chart.cols, sharex=chart.sharex, squeeze=False).ravel()
    for ax, panel in zip(axes, chart.panels):
        _draw_panel(ax, panel)
    for ax in axes[len(chart.panels):]:
        ax.set_visible(False)
    return fig


def _draw_panel(ax, panel: Panel) -> None:
    from matplotlib.ticker import MaxNLocator

    if panel.title:
        ax.set_title(panel.title, fontsize=panel.title_pt)
    if panel.xlabel:
        ax.set_xlabel(panel.xlabel)
    if panel.ylabel:
        ax.set_ylabel(panel.ylabel)
    if panel.grid:
        ax.grid(True, axis="y" if panel.grid == "y" else "both", which="both", alpha=0.3)
    for s in panel.series:
        style = {"color": color(s.color), "label": s.label}
        if s.kind == "bar":
            ax.bar(s.x, s.y, width=s.bar_width, bottom=s.bottom, **style)
            continue
        if s.kind == "band":
            ax.fill_between(s.x, s.bottom if s.bottom is not None else 0.0, s.y, alpha=0.3, lw=0, **style)
            continue
        style.update(lw=s.width, ls=s.dash or "-")
        if s.marker:
            style["marker"] = "o"
        if s.kind == "step":
            ax.step(s.x, s.y, where="post", **style)
        else:
            ax.plot(s.x, s.y, **style)
    for r in panel.rules:
        line = ax.axvline if r.axis == "x" else ax.axhline
        line(r.at, color=color(r.color), ls=r.dash or "-", lw=r.width, label=r.label)
    for n in panel.notes:
        extra = {"transform": ax.transAxes} if n.axes else {}
        ax.text(n.x, n.y, n.text, ha=n.ha, va=n.va, **extra)
    has_data = any(len(s.y) for s in panel.series)
    if panel.xlog and has_data:
        ax.set_xscale("log")
    if panel.ylim is not None:
        ax.set_ylim(*panel.ylim)
    if panel.categories is not None:
        ax.set_xticks(range(len(panel.categories)), list(panel.categories), fontsize=panel.category_pt,
                      rotation=panel.rotation, ha="right" if panel.rotation else "center")
    elif has_data and not panel.xlog:
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)   # no offset text between panels
        ax.ticklabel_format(axis="x", useOffset=False)      # (nor "1e-12+1.056e1" under an axis)
        span = x_range(panel)
        if span is not None and flat(*span):    # one value (identical latencies): 5 % either side of it
            ax.set_xlim(*padded(*span, log=False))
        # about one tick per inch of axis, so labels like 0.0125 never run into each other
        inches = ax.get_position().width * ax.figure.get_figwidth()
        ax.xaxis.set_major_locator(MaxNLocator(nbins=max(3, int(1.4 * inches)), steps=[1, 2, 2.5, 5, 10]))
    if panel.yinteger:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if panel.legend in ("inside", "lower right"):
        ax.legend(fontsize=panel.legend_pt, title=panel.legend_title,
                  loc="upper left" if panel.legend == "inside" else "lower right")
    elif panel.legend == "outside":
        ax.legend(fontsize=panel.legend_pt, title=panel.legend_title, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0))


def save_chart(chart: Chart, stem: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Save ``chart``, drawn by matplotlib, as ``stem.<format>`` for each of ``formats``."""
    return save_figure(draw_chart(chart), stem, formats)


def plain_log_ticks(axis) -> None:
    """A matplotlib log axis's ticks where :func:`sim.report.axis.log_ticks` puts them (at least three
    where the range allows: decades, else 1, 2 and 5 times them), labelled as plain numbers
    (:func:`sim.report.axis.log_label`: ``0.05``, not ``5×10^-2``); the minor ticks unlabelled. Call it on
    the finished figure: the ticks are fixed for the axis's limits then."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    from sim.report.axis import log_label, log_ticks

    lo, hi = sorted(axis.get_view_interval())
    if not (lo > 0 and math.isfinite(hi)):
        return
    axis.set_major_locator(FixedLocator(log_ticks(lo, hi)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos=None: log_label(v)))
    axis.set_minor_formatter(NullFormatter())


#: the resolution a figure's PNG is saved at (the one a report page shows); text is laid out at it
#: with hinting, so a label is wider there than at the figure's own dpi (a 7-point "10.5; 11.95" is
#: 38.9 points at 100 dpi, 42.5 at 110, 36.0 at 72): :func:`sim.report.labels.label_points` measures
#: labels at it too
PNG_DPI = 110


def figure_bytes(fig: Figure, fmt: str, dpi: int = PNG_DPI) -> bytes:
    """``fig`` rendered as ``fmt`` (``png``, ``svg``, ...), without a creation date or software
    stamp and with stable SVG element ids, so the same figure gives the same bytes. Every text is
    drawn as it is, a ``$`` as a dollar sign: a folder, pool or knob value between two of them was
    drawn as mathematics (and one matplotlib cannot parse failed the figure)."""
    import matplotlib
    from matplotlib.text import Text

    for ax in fig.axes:     # a log axis labels its ticks as mathematics (10^2); without it, as 100
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                plain_log_ticks(axis)
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    extra = {"pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}} if fmt == "png" else {}
    buf = io.BytesIO()
    for text in fig.findobj(Text):      # names and values as they are: "$x$" is no mathematics
        text.set_parse_math(False)
    with matplotlib.rc_context({"svg.hashsalt": "fleetsim", "text.parse_math": False}):    # (and tick labels)
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta, **extra)
    return buf.getvalue()


def png_bytes(chart: Chart, dpi: int = 100) -> bytes:
    """``chart`` drawn by matplotlib as PNG bytes."""
    return figure_bytes(draw_chart(chart), "png", dpi)


def short_name(path: str) -> str:
    """A knob path as a file-name fragment: ``fleet.pools.0.replicas`` → ``pools_0_replicas``."""
    parts = path.split(".")
    if len(parts) > 1 and parts[0] in ("fleet", "workload"):
        parts = parts[1:]
    return "_".join(parts).replace("-", "_")
