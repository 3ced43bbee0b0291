"""How charts look, shared by both renderers: matplotlib's default colour cycle, fonts and
dash patterns.

    >>> color("C1"), color("k"), color("tab:red")
    ('#ff7f0e', '#000', 'tab:red')
"""
from __future__ import annotations

#: matplotlib's default colour cycle ("tab10"); ``C0`` ... ``C9`` in a chart mean these
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
FONT = "DejaVu Sans, Bitstream Vera Sans, Helvetica, Arial, sans-serif"
FONT_PT = 10.0          # tick labels, axis labels, text (matplotlib's default size)
SMALL_PT = 8.33         # legends ("small")
TITLE_PT = 12.0
DASHES = {"": None, "-": None, "--": "3.7,1.6", ":": "1,1.65", "-.": "6.4,1.6,1,1.6"}  # per unit width


def color(c: str) -> str:
    """``C0``, ``C1``, ... as the palette colour (cycling, as matplotlib), ``k`` as black;
    anything else (``#rrggbb``, an SVG colour name) unchanged."""
    if c == "k":
        return "#000"
    if len(c) >= 2 and c[0] == "C" and c[1:].isdigit():
        return PALETTE[int(c[1:]) % len(PALETTE)]
    return c
