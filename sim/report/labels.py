"""Placing point labels so that they do not overlap: each other, the points' markers, or the plot's edge.

A greedy pass (:func:`place`) in display units: the labels are taken from left to right and each gets the
first of a ring of candidate positions around its point (right and above first, as a label is usually
put; then right and below, left, above, below), ring after ring farther out, that covers no label placed
before it, no marker and does not leave the plot, and is nearer its own point than any other (else the
first that is free); when none is free, the candidate that covers the least.
Drawn by :func:`label_points` on a matplotlib axes (the Pareto figure of a sweep or a plan), with a thin
leader line to a label that had to move off its point.

    >>> boxes = [box for box, _ in place([(0, 0), (2, 0)], [(30, 10), (30, 10)])]
    >>> overlap(boxes[0], boxes[1])
    0.0
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.report.render import PNG_DPI

Box = tuple[float, float, float, float]
"""``(x0, y0, x1, y1)``, display units, y up."""


def overlap(a: Box, b: Box) -> float:
    """The area two boxes share (0 when they only touch).

        >>> overlap((0, 0, 2, 2), (1, 1, 3, 3)), overlap((0, 0, 1, 1), (1, 0, 2, 1))
        (1.0, 0.0)
    """
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return float(w * h) if w > 0 and h > 0 else 0.0


def distance(point: tuple[float, float], box: Box) -> float:
    """How far ``point`` is from ``box`` (0 inside it).

        >>> distance((0, 0), (3, 4, 5, 6)), distance((4, 5), (3, 4, 5, 6))
        (5.0, 0.0)
    """
    dx = max(box[0] - point[0], 0.0, point[0] - box[2])
    dy = max(box[1] - point[1], 0.0, point[1] - box[3])
    return float((dx * dx + dy * dy) ** 0.5)


def _covered(box: Box, boxes: np.ndarray) -> float:
    """The area ``box`` shares with the rows of ``boxes`` (``(k, 4)``), summed."""
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return float(np.sum(np.clip(w, 0.0, None) * np.clip(h, 0.0, None)))


def _nearest(box: Box, own: tuple[float, float], others: np.ndarray) -> bool:
    """Whether no point of ``others`` (``(k, 2)``) is nearer ``box`` than its ``own`` point."""
    dx = np.maximum.reduce([box[0] - others[:, 0], np.zeros(len(others)), others[:, 0] - box[2]])
    dy = np.maximum.reduce([box[1] - others[:, 1], np.zeros(len(others)), others[:, 1] - box[3]])
    return bool(np.all(np.hypot(dx, dy) >= distance(own, box)))


def outside(box: Box, bounds: Box | None) -> float:
    """The area of ``box`` outside ``bounds`` (0 without bounds)."""
    if bounds is None:
        return 0.0
    return (box[2] - box[0]) * (box[3] - box[1]) - overlap(box, bounds)


def candidates(anchor: tuple[float, float], size: tuple[float, float], gap: float, rings: int) -> list[Box]:
    """A label's candidate boxes around its ``anchor``: eight positions a ring, ``gap`` from the point on
    the first ring and one label height farther on each next one."""
    (x, y), (w, h) = anchor, size
    out = []
    for r in range(rings):
        d = gap + r * h
        for dx, dy in ((d, d * 0.6), (d, -h - d * 0.6), (-w - d, d * 0.6), (-w - d, -h - d * 0.6),
                       (-w / 2, d + h * 0.2), (-w / 2, -h - d - h * 0.2), (d, -h / 2), (-w - d, -h / 2)):
            out.append((x + dx, y + dy, x + dx + w, y + dy + h))
    return out


def place(anchors: Sequence[tuple[float, float]], sizes: Sequence[tuple[float, float]], marker: float = 4.0,
          bounds: Box | None = None, gap: float = 3.0, rings: int = 6,
          avoid: Sequence[Box] = ()) -> list[tuple[Box, bool]]:
    """Each label's box (in the order given) and whether it moved off the first ring, beside its point (it
    then wants a leader line). ``anchors``: the points, ``sizes``: the labels' ``(width, height)``, ``marker``: the half
    width of a point's marker, kept clear; ``bounds``: the plot, labels kept inside where they can be;
    ``avoid``: other boxes to keep clear of (the legend)."""
    n = len(anchors)
    pts = np.asarray(anchors, dtype=float).reshape(n, 2)
    fixed = np.array([(x - marker, y - marker, x + marker, y + marker) for x, y in anchors] + list(avoid),
                     dtype=float).reshape(-1, 4)          # the markers, then the boxes to avoid
    placed: dict[int, Box] = {}
    for i in sorted(range(n), key=lambda i: (anchors[i][0], anchors[i][1])):
        others = np.concatenate([np.delete(fixed, i, axis=0), np.array(list(placed.values()), dtype=float).reshape(-1, 4)])
        mates = np.delete(pts, i, axis=0)
        chosen, first_free, least = None, None, None
        for box in candidates(anchors[i], sizes[i], gap + marker, rings):
            cost = _covered(box, others) + outside(box, bounds)
            if cost == 0.0:
                if _nearest(box, anchors[i], mates):       # free, and read as its own point's: take it
                    chosen = box
                    break
                first_free = first_free or box
            elif least is None or cost < least[0]:
                least = (cost, box)
        placed[i] = chosen or first_free or least[1]
    first = {i: candidates(anchors[i], sizes[i], gap + marker, 1) for i in placed}
    return [(placed[i], placed[i] not in first[i]) for i in range(len(anchors))]


def merged(points: Sequence[tuple[float, float]], texts: Sequence[str], anchors: Sequence[tuple[float, float]],
           within: float = 0.5, most: int = 3) -> tuple[list[tuple[float, float]], list[str]]:
    """Points drawn on one spot (``anchors`` within ``within`` display units of the spot's first: their
    markers cover each other, as when a knob changed nothing) as one point with their labels joined by
    ``; ``, in the order given; past ``most`` labels, the first ``most`` and how many more.

        >>> merged([(1, 1), (2, 2), (1, 1)], ["a", "b", "c"], [(10, 10), (20, 20), (10.2, 10)])
        ([(1, 1), (2, 2)], ['a; c', 'b'])
        >>> merged([(0, 0)] * 5, list("abcde"), [(0, 0)] * 5)[1]
        ['a; b; c and 2 more']
    """
    spots: list[tuple[tuple[float, float], tuple[float, float], list[str]]] = []
    for p, t, a in zip(points, texts, anchors):
        same = next((s for s in spots if abs(s[1][0] - a[0]) <= within and abs(s[1][1] - a[1]) <= within), None)
        if same is None:
            spots.append((p, a, [t]))
        else:
            same[2].append(t)
    said = ["; ".join(ts) if len(ts) <= most else f"{'; '.join(ts[:most])} and {len(ts) - most} more" for _, _, ts in spots]
    return [p for p, _, _ in spots], said


def max_size(text, renderer, scale: float, dpis: Sequence[float] = (72.0, PNG_DPI)) -> tuple[float, float]:
    """The largest width and height ``text`` (a matplotlib text) takes, in the display units of its figure
    (``scale`` of them a point): as ``renderer`` draws it and as it is drawn at each of ``dpis`` (the saved
    PNG's and the SVG's 72), whose hinted glyphs are wider or narrower by up to a tenth."""
    from matplotlib.backends.backend_agg import RendererAgg

    box = text.get_window_extent(renderer)
    sizes = [(box.width, box.height)]
    for dpi in dpis:
        b = text.get_window_extent(RendererAgg(1, 1, dpi))
        sizes.append((b.width * 72.0 / dpi * scale, b.height * 72.0 / dpi * scale))
    return max(w for w, _ in sizes), max(h for _, h in sizes)


def label_points(ax, points: Sequence[tuple[float, float]], texts: Sequence[str], fontsize: float = 7) -> list:
    """Label data ``points`` of ``ax`` with ``texts`` where :func:`place` finds room, after the figure's
    layout and the axes' limits are settled (draw everything else first); returns the annotations."""
    fig = ax.figure
    fig.draw_without_rendering()            # the layout and limits the saved figure will have
    renderer = fig._get_renderer()
    scale = fig.dpi / 72.0                  # display units per point
    points, texts = merged(points, texts, [tuple(ax.transData.transform(p)) for p in points], within=3.0 * scale)
    sizes = []
    for p, t in zip(points, texts):         # each label's size, measured as drawn, the widest of its outputs
        probe = ax.annotate(t, p, fontsize=fontsize)
        size = max_size(probe, renderer, scale)
        sizes.append((size[0] + 2.0, size[1] + 2.0))     # (a little room between labels)
        probe.remove()
    anchors = [tuple(ax.transData.transform(p)) for p in points]
    frame = ax.get_window_extent(renderer)
    legend = ax.get_legend()
    keep_clear = [] if legend is None else [tuple(legend.get_window_extent(renderer).extents)]
    spots = place(anchors, sizes, marker=4.0 * scale, bounds=(frame.x0, frame.y0, frame.x1, frame.y1),
                  gap=1.5 * scale, avoid=keep_clear)
    notes = []
    for p, t, (x, y), (box, moved) in zip(points, texts, anchors, spots):
        lead = {"arrowstyle": "-", "lw": 0.5, "color": "0.55", "shrinkA": 0, "shrinkB": 4} if moved else None
        note = ax.annotate(t, p, fontsize=fontsize, textcoords="offset points", ha="left", va="bottom",
                           xytext=((box[0] + 1.0 - x) / scale, (box[1] + 1.0 - y) / scale), arrowprops=lead)
        note.set_in_layout(False)           # a label never moves the axes it was placed in
        notes.append(note)
    return notes
