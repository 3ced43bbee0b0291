"""The Pareto figure's point labels do not overlap when points are close (they were all put 4 points
right of and 3 above their point, so a sweep of near-equal configurations printed its labels on top of
each other), and points on the same spot share one label."""
import itertools

import pytest
from matplotlib.text import Text

from sim.report import sweep_figures
from sim.report.labels import overlap, place


def test_labels_of_points_closer_than_a_label_are_placed_apart():
    # twelve points within 6 display units of each other, each label 40 x 10: the first position of every
    # label (right of and above its point) is the same box give or take 6 units
    anchors = [(100 + (i % 4) * 2, 100 + (i // 4) * 2) for i in range(12)]
    spots = place(anchors, [(40, 10)] * 12, marker=3, bounds=(0, 0, 400, 300))
    boxes = [b for b, _ in spots]
    assert all(overlap(a, b) == 0 for a, b in itertools.combinations(boxes, 2))
    markers = [(x - 3, y - 3, x + 3, y + 3) for x, y in anchors]
    assert all(overlap(b, m) == 0 for b in boxes for m in markers)
    assert all(0 <= b[0] and b[2] <= 400 and 0 <= b[1] and b[3] <= 300 for b in boxes)
    assert place(anchors, [(40, 10)] * 12, marker=3, bounds=(0, 0, 400, 300)) == spots    # same input, same places


def test_a_lone_point_keeps_its_label_right_and_above_without_a_leader():
    ((box, moved),) = place([(50, 50)], [(30, 8)], marker=4, gap=3)
    assert box == (50 + 7, 50 + 7 * 0.6, 50 + 7 + 30, 50 + 7 * 0.6 + 8) and not moved


@pytest.fixture
def drawn(monkeypatch):
    """The figures pareto_figure saves, kept open to measure."""
    figs = []
    real = sweep_figures.save_figure

    def keep(fig, stem, *a, **k):
        figs.append(fig)
        return real(fig, stem, *a, **k)

    monkeypatch.setattr(sweep_figures, "save_figure", keep)
    return figs


def test_the_pareto_figure_of_close_configurations_has_no_overlapping_labels(tmp_path, drawn):
    # ten configurations ~0.4 % apart in cost and 1 % in latency beside one four times the cost: about 3 and
    # 8 display units apart, closer than a label is tall; and one on the first one's spot
    rows = [{"r": r, "rate": rate, "cost.compute_usd.mean": 0.25 + 0.001 * i, "latency.ttft.p99.mean": 0.125 + 0.0015 * i}
            for i, (r, rate) in enumerate(itertools.product((3, 4), (11.8, 11.9, 12.0, 12.1, 12.2)))]
    rows.append({**rows[0], "rate": 99.0})
    rows.append({"r": 16, "rate": 12.0, "cost.compute_usd.mean": 1.0, "latency.ttft.p99.mean": 0.2})  # the scale
    sweep_figures.pareto_figure(rows, tmp_path / "pareto", label_keys=["r", "rate"])
    (fig,) = drawn
    ax = fig.axes[0]
    fig.draw_without_rendering()            # positions at the figure's own dpi (the PNG was drawn at another)
    renderer = fig._get_renderer()
    texts = [t for t in ax.texts]
    assert len(texts) == 11 and "3, 11.8; 3, 99.0" in [t.get_text() for t in texts]
    boxes = [Text.get_window_extent(t, renderer).extents for t in texts]        # the words, not the leader line
    assert all(overlap(a, b) == 0 for a, b in itertools.combinations(boxes, 2))
    frame = ax.get_window_extent(renderer)
    assert all(frame.x0 <= b[0] and b[2] <= frame.x1 and frame.y0 <= b[1] and b[3] <= frame.y1 for b in boxes)
    assert (tmp_path / "pareto.png").stat().st_size > 0


def test_past_forty_configurations_the_frontier_and_the_answer_keep_their_labels(tmp_path, drawn):
    # five configurations each cheaper or faster than every other (the frontier by construction: cost k,
    # TTFT 10/k^2) and forty costlier and slower than the fifth (cost 6 to 45, TTFT 3 s > 0.4 s); the answer
    # starred among the forty. Unlabelled, 45 dots did not say which GPU type was the cheap one
    front = [{"gpu": "b200", "r": k, "cost.compute_usd.mean": float(k), "latency.ttft.p99.mean": 10 / k ** 2}
             for k in range(1, 6)]
    rest = [{"gpu": "h100", "r": k, "cost.compute_usd.mean": float(k), "latency.ttft.p99.mean": 3.0}
            for k in range(6, 46)]
    sweep_figures.pareto_figure(front + rest, tmp_path / "pareto", label_keys=["gpu", "r"], best=5 + 4)
    (fig,) = drawn
    said = sorted(t.get_text() for t in fig.axes[0].texts)
    assert said == sorted([*(f"b200, {k}" for k in range(1, 6)), "h100, 10"])
