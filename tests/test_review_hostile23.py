"""Review of bad-input round 23: two long names differing only in their middle stay told apart on the
terminal, the page and the figures (cut in the middle, both printed the same); what is still refused.
"""
from __future__ import annotations

import json

import hostile_cases as hc
from sim.text_table import distinct_shortened, shortened, shown_width, table_lines

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
