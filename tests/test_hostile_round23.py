"""Hostile input, round 23: a pool name of the schema's 200 characters on the terminal, the page and the
figures; ``sim.reprice`` recording a date as ``--set`` does; settlements in time order; a BurstGPT row whose
total disagrees with its parts; then the corners of the newer keys (compound Poisson arrivals, trace
``rate_scale``, ``fluid.step``, waiting rooms, patience, pipeline parallelism, capacity bands, plans, sweep
grids, overrides into lists, ``--out`` where no result can go).

Each refusal is exit 2 from the command line (a :class:`~sim.errors.ScenarioError` or
:class:`~sim.errors.InputError` from Python) with a message naming the file, the field and what is allowed;
never a traceback, and never a result that silently means something else.
"""
from __future__ import annotations

import json

import pytest

import hostile_cases as hc
from sim.text_table import shown_width

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario
LONG_P, LONG_Q = "p" * 200, "q" * 199 + "z"


# ------------------------------------------------------------------ 1. a 200-character pool name
def _two_long_pools(tmp_path):
    sc = hc._small()
    sc["duration"] = 20
    sc["fleet"]["pools"] = [{"name": LONG_P, "gpu": "h100-sxm", "replicas": 1},
                            {"name": LONG_Q, "gpu": "h100-sxm", "replicas": 1}]
    sc["economics"] = {"gpu_hour_usd": 2.0}     # (no note naming each unpriced pool in full)
    return _scenario(tmp_path, sc)


def test_a_200_character_pool_name_is_shortened_in_the_terminal_tables_only(tmp_path, capsys, monkeypatch):
    """The schema allows 200 characters; the per-pool table was ~210 columns wide. Now the name takes at
    most 32 columns there (its beginning, an ellipsis, its end: ``…z`` tells the second pool apart), while
    summary.json keeps it whole."""
    monkeypatch.setenv("COLUMNS", "100")
    out = tmp_path / "r"
    assert _main(["run", str(_two_long_pools(tmp_path)), "--out", str(out), "--figures", "svg"]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith(("ppp", "qqq"))]
    assert [r.split("  ")[0] for r in rows] == ["p" * 21 + "…" + "p" * 10, "q" * 21 + "…" + "q" * 9 + "z"]
    assert max(shown_width(line) for line in text.splitlines() if not line.startswith("fleetsim: wrote")) <= 100
    assert set(json.loads((out / "summary.json").read_text())["pools"]) == {LONG_P, LONG_Q}


def test_a_200_character_pool_name_on_the_page_is_shortened_with_the_whole_name_as_its_title(tmp_path, capsys):
    out = tmp_path / "r"
    assert _main(["run", str(_two_long_pools(tmp_path)), "--out", str(out), "--figures", "svg", "--quiet"]) == 0
    assert _main(["report", str(out)]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text(encoding="utf-8")
    per_pool = page[page.index("<h3>Per pool</h3>"):]
    per_pool = per_pool[:per_pool.index("</table>")]
    assert f'<td><span title="{LONG_P}">{"p" * 21}…{"p" * 10}</span></td>' in per_pool
    assert f'<td><span title="{LONG_Q}">{"q" * 21}…{"q" * 9}z</span></td>' in per_pool
    legend = (out / "figures" / "utilization.svg").read_text(encoding="utf-8")
    assert "p" * 21 + "…" + "p" * 10 in legend and LONG_P not in legend


# ------------------------------------------------------------------ 2. sim.reprice records what --set records
def _priced_run(tmp_path, capsys, agreements=None, duration=60, rate=0.01):
    sc = hc._small()
    sc.update(start="2025-01-01", duration=duration, warmup=0)
    sc["workload"]["arrival"]["rate"] = rate
    sc["economics"] = {"gpu_hour_usd": 2.0, "revenue": [{"name": "subs", "usd_per_month": 1000},
                                                        {"name": "api", "usd_per_month": 500}],
                       "agreements": agreements or [{"name": "a", "rate": 0.2, "base": ["subs"]}]}
    out = tmp_path / "r"
    assert _main(["run", str(_scenario(tmp_path, sc)), "--out", str(out), "--figures", "none", "--quiet"]) == 0
    capsys.readouterr()
    return out


def test_reprice_from_python_records_a_date_and_a_word_as_set_does(tmp_path, capsys):
    """``{"...from": "2025-01-15"}`` was recorded ``from="2025-01-15"`` (JSON's quotes) where ``--set`` records
    ``from=2025-01-15``; ``fleetsim compare`` then listed the two folders' re-pricing as a setting that differs."""
    import datetime as dt

    import sim

    run = _priced_run(tmp_path, capsys)
    by_set = ["economics.agreements.0.from=2025-01-15", "economics.agreements.0.name=b"]
    assert _main(["reprice", str(run), "--set", by_set[0], "--set", by_set[1], "--out", str(tmp_path / "a"),
                  "--quiet"]) == 0
    for out, day in (("b", "2025-01-15"), ("c", dt.date(2025, 1, 15))):
        _, summary = sim.reprice(run, {"economics.agreements.0.from": day, "economics.agreements.0.name": "b"},
                                 out=tmp_path / out)
        assert summary["repriced"]["overrides"] == by_set
    capsys.readouterr()
    assert _main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c")]) == 0
    said = capsys.readouterr().out
    assert "the scenarios are the same" in said and "repriced with" not in said


def test_reprice_from_python_keeps_the_quotes_a_set_value_needs(tmp_path, capsys):
    """A name that YAML would read as a day, a number or a switch needs its quotes on the command line too."""
    import sim

    run = _priced_run(tmp_path, capsys)
    _, summary = sim.reprice(run, {"economics.revenue.1.name": "2025-01-15", "economics.agreements.0.base": ["subs"]})
    assert summary["repriced"]["overrides"] == ['economics.revenue.1.name="2025-01-15"',
                                                'economics.agreements.0.base=["subs"]']


# ------------------------------------------------------------------ 3. settlements in time order
def test_settlements_come_by_period_then_agreement_name_whatever_the_listed_order(tmp_path, capsys):
    """Two monthly agreements over two months, listed ``z`` first: the rows were z's January, z's February,
    a's January, a's February; now January's two (a, z), then February's."""
    run = _priced_run(tmp_path, capsys, duration="40d", rate=0.0005, agreements=[
        {"name": "z", "rate": 0.2, "base": ["subs"], "settle": "month"},
        {"name": "a", "rate": 0.1, "base": ["api"], "settle": "month"}])
    import csv

    rows = list(csv.DictReader((run / "settlements.csv").open()))
    assert [(r["period"], r["agreement"]) for r in rows] == [("2025-01", "a"), ("2025-01", "z"),
                                                             ("2025-02", "a"), ("2025-02", "z")]
    jan = {r["agreement"]: float(r["forward_usd"]) for r in rows[:2]}
    assert jan == pytest.approx({"a": 0.1 * 500, "z": 0.2 * 1000})          # a whole month of each line


# ------------------------------------------------------------------ 4. a BurstGPT row whose total disagrees
_BURST_HEAD = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"


def _burst(tmp_path, body: str, skip: bool = False):
    (tmp_path / "b.csv").write_text(_BURST_HEAD + body)
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "b.csv", "format": "burstgpt"}}
    if skip:
        sc["workload"]["arrival"]["skip_bad_rows"] = True
    return _scenario(tmp_path, sc)


@pytest.mark.parametrize("cell,said", [
    ("500", "must be Request tokens + Response tokens: 472 + 18 = 490 (got '500')"),
    ("49O", "must be an integer token count (Request tokens + Response tokens) (got '49O')"),
])
def test_a_burstgpt_row_whose_total_is_not_its_request_and_response_tokens_is_refused(tmp_path, capsys, cell, said):
    """The README's first row is ``5,ChatGPT,472,18,490,Conversation log``: 472 + 18 = 490. A total that
    disagrees means a shifted or hand-edited row: which lengths the trace meant is unknown."""
    path = _burst(tmp_path, f"5,ChatGPT,472,18,490,Conversation log\n6,ChatGPT,472,18,{cell},Conversation log\n")
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.path: b.csv: line 3: column 'Total tokens': "
                            f"{said}"]
