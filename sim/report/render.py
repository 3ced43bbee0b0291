"""Figure plumbing shared by every report: Agg-rendered ``Figure`` objects saved as PNG and SVG.

Figures are built on :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state), so they
render headless, in worker processes and in notebooks alike. SVGs carry no creation date,
so the same results give the same files.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

FORMATS = ("png", "svg")


def new_figure(width_in: float = 7.0, height_in: float = 4.5, **kwargs) -> Figure:
    """A fresh figure with constrained layout."""
    return Figure(figsize=(width_in, height_in), layout="constrained", **kwargs)


def save_figure(fig: Figure, stem: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Save ``fig`` as ``stem.<format>`` for each of ``formats`` (PNG and SVG by default).

    The layout is computed once, when the first format is drawn, and then kept for the others
    (the constrained-layout solver is most of the cost of drawing a small figure).
    Returns the paths written.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, fmt in enumerate(formats):
        path = stem.with_name(f"{stem.name}.{fmt}")
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        with matplotlib.rc_context({"svg.hashsalt": "fleetsim"}):   # stable SVG element ids
            fig.savefig(path, format=fmt, dpi=110, metadata=meta)
        paths.append(path)
        if i == 0 and len(formats) > 1 and fig.get_layout_engine() is not None:
            fig.set_layout_engine("none")       # keep the positions just computed
    return paths


def short_name(path: str) -> str:
    """A knob path as a file-name fragment: ``fleet.pools.0.replicas`` → ``pools_0_replicas``."""
    parts = path.split(".")
    if len(parts) > 1 and parts[0] in ("fleet", "workload"):
        parts = parts[1:]
    return "_".join(parts).replace("-", "_")
