"""Review of bad-input round 23: two long names differing only in their middle stay told apart on the
terminal, the page and the figures (cut in the middle, both printed the same); what is still refused.
"""
from __future__ import annotations

import json

import hostile_cases as hc
from sim.text_table import distinct_shortened, shortened, shown_width, table_lines
from test_hostile_round23 import _burst     # a scenario replaying a BurstGPT trace

_main, _scenario = hc.exit_status, hc.write_scenario
EAST, WEST = "x" * 95 + "-east-" + "y" * 95, "x" * 95 + "-west-" + "y" * 95


def test_two_names_differing_in_their_middle_print_differently_in_a_table():
    """Both were ``xxxxxxxxxxxxxxxxxxxxx…yyyyyyyyyy``: the per-pool rows could not be told apart."""
    assert shortened(EAST) == shortened(WEST)       # (what each alone shows)
    lines = table_lines([["pool", "replicas"], [EAST, "1"], [WEST, "2"], [EAST, "3"]])
    firsts = [line.split("  ")[0] for line in lines[2:]]
    assert "east" in firsts[0] and "west" in firsts[1] and firsts[0] == firsts[2]
    assert max(shown_width(f) for f in firsts) <= 32


def test_distinct_shortened_keeps_every_name_apart_and_short_ones_whole():
    names = ["chat", "a" * 40 + "1" + "b" * 40, "a" * 40 + "2" + "b" * 40, "a" * 40 + "3" + "b" * 40,
             "z" * 50, "z" * 51, "z" * 21 + "…" + "z" * 10]       # (the last prints as z*50 shortened would)
    shown = distinct_shortened(names)
    assert len(set(shown.values())) == len(names)
    assert shown["chat"] == "chat"
    assert all(shown_width(shown[n]) <= 32 for n in names[1:4])
    assert shown["z" * 50] == "z" * 50 or shown["z" * 51] == "z" * 51    # (only their lengths differ: whole)


def test_two_long_pools_differing_in_their_middle_on_terminal_page_and_figure(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    sc = hc._small()
    sc["duration"] = 20
    sc["fleet"]["pools"] = [{"name": EAST, "gpu": "h100-sxm", "replicas": 1},
                            {"name": WEST, "gpu": "h100-sxm", "replicas": 1}]
    sc["economics"] = {"gpu_hour_usd": 2.0}
    out = tmp_path / "r"
    assert _main(["run", str(_scenario(tmp_path, sc)), "--out", str(out), "--figures", "svg"]) == 0
    rows = [line.split("  ")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("xxx")]
    assert len(rows) >= 2 and len(set(rows)) == 2, rows
    assert any("-east-" in r for r in rows) and any("-west-" in r for r in rows)
    assert set(json.loads((out / "summary.json").read_text())["pools"]) == {EAST, WEST}    # files: whole
    assert _main(["report", str(out)]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text(encoding="utf-8")
    per_pool = page[page.index("<h3>Per pool</h3>"):]
    per_pool = per_pool[:per_pool.index("</table>")]
    cells = [c.split(">", 1)[1] for c in per_pool.split('<span title="')[1:]]
    cells = [c[:c.index("</span>")] for c in cells]
    assert len(cells) == 2 and len(set(cells)) == 2 and {"east", "west"} == {c.split("-")[1] for c in cells}
    legend = (out / "figures" / "utilization.svg").read_text(encoding="utf-8")
    assert "-east-" in legend and "-west-" in legend and EAST not in legend


# ------------------------------------------------------------------ identical latencies: no axis offset
def _same_latencies() -> dict:
    """Four lone requests: one TTFT, one end-to-end time, apart only by float rounding (arrival times differ)."""
    import numpy as np

    arrival = np.array([103.7, 251.3, 402.9, 557.1])
    return {"arrival_s": arrival, "first_token_s": arrival + 0.01056095753, "completion_s": arrival + 0.1513675887,
            "output_tokens": np.full(4, 20)}


def test_identical_latencies_are_drawn_around_their_value_without_an_offset_label():
    """The x axis spanned the rounding (1e-12 ms): matplotlib labelled it ``1e-12+1.056095753e1`` over the
    axis's name, its ticks 6.001, 8.001 ... meaning nothing; now 5 % either side of the value, plain ticks."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sim.report.render import draw_chart
    from sim.report.run_figures import latency_cdf_chart

    chart = latency_cdf_chart(_same_latencies())
    fig = draw_chart(chart)
    FigureCanvasAgg(fig).draw()
    for ax, value in zip(fig.axes, (10.56095753, None, 151.3675887)):
        assert ax.xaxis.get_offset_text().get_text() == ""
        lo, hi = ax.get_xlim()
        labels = [t.get_text() for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi]
        assert len(labels) >= 2 and len(set(labels)) == len(labels), labels
        assert all(float(t.replace("−", "-")) for t in labels)          # plain numbers
        if value is not None:       # (ms: all under a second)
            assert lo < value < hi and abs((hi - lo) - 0.1 * value) < 1e-9 * value


def test_identical_latencies_get_ticks_in_the_svg_figure_too(tmp_path):
    """The figures ``run --figures svg`` writes itself labelled every x tick the same there (10.560958)."""
    import re

    from sim.report.run_figures import latency_cdf_chart
    from sim.report.svg import write_svg

    text = write_svg(latency_cdf_chart(_same_latencies()), tmp_path / "cdf").read_text(encoding="utf-8")
    numbers = [t for t in re.findall(r">([^<>]*)</text>", text) if re.fullmatch(r"[0-9.]+", t)]
    assert {"10.4", "10.6", "144", "150"} <= set(numbers), numbers


# ------------------------------------------------------------------ --out under a figures/ folder of one's own
def test_out_under_a_figures_folder_that_is_no_result_s_is_taken(tmp_path, capsys):
    """A paper's folder holding its own ``summary.json`` (or another tool's ``plan.json``) and a ``figures/``
    folder: ``--out paper/figures/sim`` was refused as another result's figures, though no fleetsim result
    is there to replace them."""
    paper = tmp_path / "paper"
    (paper / "figures").mkdir(parents=True)
    (paper / "summary.json").write_text('{"title": "my paper"}')
    (paper / "plan.json").write_text('{"resource_changes": []}')
    out = paper / "figures" / "sim"
    sc = hc._small()
    sc["duration"] = 10
    assert _main(["run", str(_scenario(tmp_path, sc)), "--out", str(out), "--figures", "none", "--quiet"]) == 0
    assert (out / "summary.json").is_file()
    capsys.readouterr()
    # a result there is still guarded: its figures/ refused (what round 23 added)
    inner = out / "figures" / "again"
    assert _main(["run", str(_scenario(tmp_path, sc)), "--out", str(inner), "--figures", "none", "--quiet"]) == 2
    assert f"the figures folder of the result in {out}" in capsys.readouterr().err


# ------------------------------------------------------------------ one plan bound given twice
def test_a_plan_given_one_bound_twice_runs_as_with_it_once(tmp_path, capsys):
    """``--constraint latency.ttft.p99<=2`` twice (a script adding its SLO to one the user gave) was refused
    as two bounds of which "only the tighter would count": they are the same bound, nothing to choose."""
    sc = hc._small()
    sc["duration"] = 20
    path = _scenario(tmp_path, sc)
    args = ["plan", str(path), "--vary", "fleet.pools.0.replicas=1..2", "--no-figures", "--quiet"]
    one = ["--constraint", "latency.ttft.p99<=2"]
    assert _main([*args, *one, *one, "--out", str(tmp_path / "twice")]) == 0
    assert _main([*args, *one, "--out", str(tmp_path / "once")]) == 0
    capsys.readouterr()
    assert (tmp_path / "twice" / "plan.csv").read_bytes() == (tmp_path / "once" / "plan.csv").read_bytes()


# ------------------------------------------------------------------ BurstGPT totals written as floats
def test_a_burstgpt_table_written_with_float_counts_is_read_and_its_totals_checked(tmp_path, capsys):
    """pandas writes an integer column that once held a blank as 490.0; the rows' own counts were read so
    (472.0 is 472) but their total was refused as "must be an integer token count" on every row."""
    good = "5,ChatGPT,472.0,18.0,490.0,Conversation log\n6,ChatGPT,100,20,120.0,API log\n"
    assert _main(["validate", str(_burst(tmp_path, good))]) == 0
    capsys.readouterr()
    path = _burst(tmp_path, good + "7,ChatGPT,472.0,18.0,500.0,Conversation log\n")
    assert _main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "b.csv: line 4: column 'Total tokens': must be Request tokens + Response tokens: 472 + 18 = 490 (got '500.0')")


# ------------------------------------------------------------------ compare: two pools' rows told apart
def test_compare_tells_two_pools_apart_whose_names_differ_at_their_end(tmp_path, capsys):
    """``prefill-h100-east`` and ``prefill-h100-west`` (17 characters) were both ``pool prefi...: load factor``
    in the comparison: which pool's load had grown could not be read."""
    sc = hc._small()
    sc["duration"] = 20
    sc["fleet"]["pools"] = [{"name": "prefill-h100-east", "gpu": "h100-sxm", "replicas": 1},
                            {"name": "prefill-h100-west", "gpu": "h100-sxm", "replicas": 1}]
    path = _scenario(tmp_path, sc)
    for out, seed in (("a", "1"), ("b", "2")):
        assert _main(["run", str(path), "--out", str(tmp_path / out), "--figures", "none", "--quiet",
                      "--set", f"seed={seed}"]) == 0
    capsys.readouterr()
    assert _main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    labels = [line.split("  ")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("pool ")]
    loads = [label for label in labels if label.endswith(": load factor")]
    assert len(loads) == 2 and "east" in loads[0] and "west" in loads[1], labels
    assert len(set(labels)) == len(labels) and all(len(label) <= 26 for label in labels), labels


# ------------------------------------------------------------------ saturation: one metric bounded twice
def test_a_saturation_bounding_one_metric_twice_from_one_side_is_refused_as_a_plan_is(tmp_path, capsys):
    """``plan`` refuses ``latency.ttft.p99<=2`` beside ``<=1`` (only the tighter would count); ``saturation``
    took both and searched silently with the tighter. A bound given twice is one, as in a plan."""
    path = _scenario(tmp_path)
    out = tmp_path / "s"
    twice = ["--constraint", "latency.ttft.p99<=2", "--constraint", "latency.ttft.p99<=1"]
    assert _main(["saturation", str(path), *twice, "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "--constraint: latency.ttft.p99 is bounded from above twice (<=2 and <=1): only the tighter bound would "
        "count; give the one you mean"]
    assert not out.exists()
