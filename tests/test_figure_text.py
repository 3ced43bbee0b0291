"""Every figure shows a name, path or knob value the one way (``sim.report.chart.figure_text``): control
characters and bidirectional overrides as escapes, spaces as they are (a no-break space is not the text
``\\u00a0``), and a ``$`` as a dollar sign, never the start of matplotlib's mathematical text."""
from __future__ import annotations

from pathlib import Path

import pytest

from sim.report.chart import figure_text

NAME = "c\x1bd\u202ee\u00a0f"
SHOWN = "c\\x1bd\\u202ee\u00a0f"       # written out by hand: ESC and RLO escaped, the no-break space kept


def test_figure_text_escapes_controls_and_keeps_spaces():
    assert figure_text(NAME) == SHOWN
    assert figure_text("x$y$z") == "x$y$z" and figure_text(3) == "3"
    assert figure_text("a\u2009b\nc") == "a\u2009b\\x0ac"     # a newline in a name is no line break


def test_the_comparison_legend_and_title_keep_a_no_break_space(tmp_path):
    from sim.report.comparison_page import legend_name

    assert legend_name(0, Path("runs/a\u00a0b")) == "A: runs/a\u00a0b"
    assert legend_name(1, Path("runs/b\x07")) == "B: runs/b\\x07"


def test_sweep_legends_ticks_and_labels_escape_controls():
    matplotlib = pytest.importorskip("matplotlib")
    from sim.report.render import new_figure
    from sim.report.sweep_figures import metric_vs_knob

    rows = [{"fleet.pools.0.replicas": r, "name": n, "latency.ttft.p99.mean": float(r)}
            for r in (1, 2) for n in (NAME, "x$y$z")]
    fig = new_figure()
    ax = fig.subplots()
    metric_vs_knob(ax, rows, "fleet.pools.0.replicas", ["name"], "latency.ttft.p99", "TTFT p99 (s)")
    assert ax.get_legend_handles_labels()[1] == [f"name={SHOWN}", "name=x$y$z"]
    fig = new_figure()
    ax = fig.subplots()
    metric_vs_knob(ax, rows, "name", ["fleet.pools.0.replicas"], "latency.ttft.p99", "TTFT p99 (s)")
    assert [t.get_text() for t in ax.get_xticklabels()] == [SHOWN, "x$y$z"]
    assert matplotlib is not None


def test_every_text_of_a_figure_is_drawn_as_it_is():
    """Between two dollar signs, text was mathematics: "x$y$z" drew an italic y, and "$\\q$" (not
    mathematics matplotlib knows) failed the whole figure."""
    pytest.importorskip("matplotlib")
    from matplotlib.text import Text

    from sim.report.render import figure_bytes, new_figure

    fig = new_figure()
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label="$\\q$")
    ax.set_title("x$y$z")
    ax.set_xticks([0, 1], ["$a$", "$\\q$"])
    ax.legend()
    assert figure_bytes(fig, "png")[:4] == b"\x89PNG"
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert {"x$y$z", "$\\q$", "$a$"} <= {t.get_text() for t in texts}
    assert not any(t.get_parse_math() for t in texts)


def test_a_log_axis_labels_its_ticks_as_plain_numbers():
    """Drawn without mathematics, a log axis's own tick labels ($\\mathdefault{10^{2}}$) were shown as
    that text, not as 10^2: they are plain numbers instead, on the ticks matplotlib labels."""
    pytest.importorskip("matplotlib")
    from sim.report.render import figure_bytes, new_figure

    fig = new_figure()
    ax = fig.subplots()
    ax.plot([0.05, 20.0], [0.0, 1.0])
    ax.set_xscale("log")
    svg = figure_bytes(fig, "svg").decode()
    assert "mathdefault" not in svg and "$" not in svg
    labels = {t.get_text() for t in ax.get_xticklabels() if t.get_text()}
    assert {"0.1", "1", "10"} <= labels


@pytest.mark.parametrize("name", [NAME, "x$y$z", "<b>pool</b>\u2009&", "a\u202eb\nc\t", "−3\u00a0%"])
def test_the_report_page_shows_a_name_as_its_figures_do(name):
    """One rule for both: the page's text, its HTML escaping undone, is the figure's."""
    import html

    from sim.report.html_page import escape

    assert html.unescape(escape(name)) == figure_text(name)
