"""Quick-look SVG charts (sim.report.chart): ticks, coordinates worked by hand, well-formed output."""
import doctest
import re
import xml.etree.ElementTree as ET

import pytest

from sim.report import axis, style, svg, svg_marks
from sim.report import chart as chart_mod
from sim.report.chart import Chart, Note, Panel, Rule, Series, log_ticks, nice_ticks, tick_label, to_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("module", [chart_mod, axis, style, svg, svg_marks], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted and result.failed == 0


@pytest.mark.parametrize("lo, hi, most, expected", [
    (0.0, 1.0, 8, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),      # step 0.2: 0.1 would give 11 ticks
    (0.0, 1.0, 3, [0.0, 0.5, 1.0]),
    (-3.0, 47.0, 8, [0.0, 10.0, 20.0, 30.0, 40.0]),     # step 5 would give 10 ticks, 10 gives 5
    (0.0075, 0.0153, 8, [0.008, 0.009, 0.01, 0.011, 0.012, 0.013, 0.014, 0.015]),
    (3600.0, 3600.0, 8, [3600.0]),                      # a flat range: one tick
])
def test_nice_ticks(lo, hi, most, expected):
    assert nice_ticks(lo, hi, most) == expected


def test_log_ticks_and_labels():
    assert log_ticks(0.02, 30.0) == [0.1, 1.0, 10.0]
    assert log_ticks(1e-6, 1e6) == [1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4, 1e6]   # 13 decades: every other one
    assert [chart_mod.log_label(v) for v in (0.01, 1.0, 1000.0, 1e7)] == ["0.01", "1", "1000", "1e+07"]
    assert [tick_label(v, [0.0, 2.5, 5.0]) for v in (0.0, 2.5, 5.0)] == ["0.0", "2.5", "5.0"]
    assert tick_label(-0.0, [0.0, 1.0]) == "0"
    assert tick_label(2e6, [0.0, 1e6, 2e6]) == "2000000"
    assert tick_label(2.5e12, [0.0, 2.5e12]) == "2.5e+12"      # too wide for plain digits


def _paths(svg: str) -> list[list[tuple[float, float]]]:
    """The vertices of every data path (``M x y L x y ...``) in document order."""
    out = []
    for d in re.findall(r'<path d="(M[^"]*)" fill="none"', svg):
        nums = [float(v) for v in re.findall(r"-?[\d.]+", d)]
        out.append(list(zip(nums[::2], nums[1::2])))
    return out


def test_a_line_is_placed_by_hand_worked_coordinates():
    # 3 in x 2 in, margins 0.5 in all round: the panel box is x 36..180 pt, y 36..108 pt. Data 0..10
    # on both axes padded by 5 % (-0.5..10.5): x = 36 + (v + 0.5) / 11 * 144, y = 108 - (v + 0.5) / 11 * 72
    c = Chart([Panel(series=[Series([0.0, 10.0], [0.0, 10.0])], grid="")], width_in=3.0, height_in=2.0,
              margins=(0.5, 0.5, 0.5, 0.5))
    svg = to_svg(c)
    ET.fromstring(svg.encode())                                     # well-formed
    assert 'width="216pt" height="144pt"' in svg
    (line,) = _paths(svg)
    assert line == [pytest.approx((36 + 0.5 / 11 * 144, 108 - 0.5 / 11 * 72), abs=0.01),
                    pytest.approx((36 + 10.5 / 11 * 144, 108 - 10.5 / 11 * 72), abs=0.01)]


def test_steps_hold_each_value_until_the_next_x_and_gaps_break_nothing():
    c = Chart([Panel(series=[Series([0.0, 1.0, 2.0, float("nan")], [0.0, 1.0, 0.5, 3.0], kind="step")],
                     ylim=(0.0, 1.0), grid="")], width_in=3.0, height_in=2.0, margins=(0.5, 0.5, 0.5, 0.5))
    (line,) = _paths(to_svg(c))
    xs = [round(p[0], 2) for p in line]
    ys = [round(p[1], 2) for p in line]
    # x 0..2 padded to -0.1..2.1; y fixed 0..1 (the NaN point is left out)
    x = [round(36 + (v + 0.1) / 2.2 * 144, 2) for v in (0.0, 1.0, 1.0, 2.0, 2.0)]
    y = [round(108 - v * 72, 2) for v in (0.0, 0.0, 1.0, 1.0, 0.5)]
    assert (xs, ys) == (x, y)


def test_log_axis_drops_non_positive_x_and_ticks_decades():
    c = Chart([Panel(series=[Series([0.0, 0.01, 1.0, 100.0], [0.0, 0.1, 0.5, 1.0])], xlog=True)])
    svg = to_svg(c)
    (line,) = _paths(svg)
    assert len(line) == 3                                        # x = 0 cannot be drawn on a log axis
    assert [t for t in re.findall(r">([\d.]+)</text>", svg) if t in ("0.01", "0.1", "1", "10", "100")] == \
        ["0.01", "0.1", "1", "10", "100"]


def test_bars_stand_on_zero_and_negative_bars_hang_from_it():
    c = Chart([Panel(series=[Series([0, 1], [2.0, -1.0], kind="bar", color="C0")], categories=["a", "b"],
                     grid="")], width_in=3.0, height_in=2.0, margins=(0.5, 0.5, 0.5, 0.5))
    svg = to_svg(c)
    rects = [dict(re.findall(r'(\w+)="([-\d.]+)"', r)) for r in re.findall(r'<rect [^>]*fill="#1f77b4"/>', svg)]
    # y from -1 - 0.15 to 2 + 0.15 (5 % of 3 each side); zero at 108 - 1.15 / 3.3 * 72
    zero = 108 - 1.15 / 3.3 * 72
    heights = sorted(float(r["height"]) for r in rects)
    assert heights == pytest.approx([1.0 / 3.3 * 72, 2.0 / 3.3 * 72], abs=0.02)
    assert any(float(r["y"]) == pytest.approx(zero, abs=0.02) for r in rects)       # the negative bar's top


def test_text_is_escaped_and_output_is_deterministic():
    p = Panel(series=[Series([1, 2], [3, 4], label="a<b & c", color="C1")], title="p99 <= 2 s",
              legend="inside", rules=[Rule(1.5, label="p50", dash=":")],
              notes=[Note(0.5, 0.5, "no data", axes=True)])
    c = Chart([p])
    svg = to_svg(c)
    root = ET.fromstring(svg.encode())
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "a<b & c" in texts and "p99 <= 2 s" in texts and "p50" in texts and "no data" in texts
    assert chart_mod.PALETTE[1] in svg
    assert to_svg(c) == svg


def test_shared_x_labels_only_the_bottom_panel():
    panels = [Panel(series=[Series([0, 10], [0, 1])], ylabel="top"),
              Panel(series=[Series([0, 20], [5, 6])], ylabel="bottom", xlabel="time")]
    svg = to_svg(Chart(panels, rows=2, sharex=True))
    assert svg.count(">time</text>") == 1
    assert svg.count(">20</text>") == 1          # one shared range 0..20, tick labels drawn once


def test_degenerate_data_gives_a_well_formed_chart_without_nan_coordinates():
    """Figures are drawn with every run: empty, flat, non-finite or log-incompatible data must
    still give valid SVG (a panel with nothing drawable is left empty)."""
    import itertools

    import numpy as np

    nan, inf = float("nan"), float("inf")
    datas = [([], []), ([1.0], [1.0]), ([nan], [nan]), ([0, 0], [0, 0]), ([1, 2], [inf, 1]),
             ([-1, 0, 1], [5, 5, 5]), ([1e-12, 1e12], [0, 1]), (np.array([1.0, 2.0]), np.array([nan, nan])),
             ([1, 2, 3], [-1e300, 0, 1e300])]
    for (x, y), kind, xlog, ylim, sharex in itertools.product(datas, ["line", "step", "bar"], [False, True],
                                                               [None, (0, 1)], [False, True]):
        p = Panel(series=[Series(x, y, kind=kind, label="a")], xlog=xlog, ylim=ylim, legend="inside",
                  rules=[Rule(0.0), Rule(nan), Rule(1.0, axis="y")], notes=[Note(0.5, 0.5, "x", axes=True)])
        svg = to_svg(Chart([p, Panel()], rows=2, sharex=sharex))
        ET.fromstring(svg.encode())
        coords = re.findall(r'(?:\b[xy]\d?|width|height|cx|cy)="([^"]*)"|d="([^"]*)"', svg)
        assert not any(re.search(r"nan|inf", a + b, re.I) for a, b in coords), (x, y, kind, xlog, ylim)


def test_long_series_are_thinned_without_changing_the_drawing():
    import numpy as np

    # a flat step line of 60,480 samples (a week every 10 s) is one horizontal segment
    t = np.arange(60_480) * 10.0
    c = Chart([Panel(series=[Series(t, np.full(t.size, 4.0), kind="step")], grid="")])
    (line,) = _paths(to_svg(c))
    assert len(line) == 2 and line[0][1] == line[1][1]
    # a noisy line keeps at most four points per half-point column, including each column's
    # extremes: the highest and lowest drawn points are the data's
    y = np.random.default_rng(3).normal(size=t.size)
    y[30_000] = 10.0
    svg = to_svg(Chart([Panel(series=[Series(t, y)], grid="")], width_in=7.0))
    (line,) = _paths(svg)
    box_w = (7.0 - 0.8 - 0.2) * 72
    assert len(line) <= 4 * (2 * box_w + 2)
    # a two-valued series (a lightly loaded queue: 0 or 1) keeps one lowest and one highest point
    # per column, not every point equal to them
    ones = (np.random.default_rng(4).random(t.size) < 0.3).astype(float)
    (binary,) = _paths(to_svg(Chart([Panel(series=[Series(t, ones, kind="step")], grid="")], width_in=7.0)))
    assert len(binary) <= 4 * (2 * box_w + 2)
    # the spike (the data's maximum) is still drawn, at its own x: x0 + (t - xa) / (xb - xa) * w,
    # with x padded 5 % each side
    top = min(line, key=lambda p: p[1])
    span = 1.1 * t[-1]
    assert top[0] == pytest.approx(0.8 * 72 + (t[30_000] + 0.05 * t[-1]) / span * box_w, abs=0.01)
