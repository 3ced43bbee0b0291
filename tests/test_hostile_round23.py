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
import yaml

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


def _burst(tmp_path, body: str):
    """A scenario replaying ``body`` as a BurstGPT trace ``b.csv`` beside it."""
    (tmp_path / "b.csv").write_text(_BURST_HEAD + body)
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "b.csv", "format": "burstgpt"}}
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


# ================================================================== the new round: corners of the newer keys
def _arrival(tmp_path, arrival: dict, text: str | None = None):
    sc = hc._small()
    sc["duration"] = 10
    sc["workload"]["arrival"] = arrival
    path = _scenario(tmp_path, sc)
    if text is not None:
        path.write_text(yaml.safe_dump(sc).replace(*text))
    return path


# ------------------------------------------------------------------ compound_poisson
@pytest.mark.parametrize("field,value,said", [
    ("rate", 0, "must be > 0 (got 0)"),
    ("rate", -1, "must be > 0 (got -1)"),
    ("rate", 1e308, "must be <= 1e+07 (got 1e+308)"),
    ("rate", "abc", "must be a number (got 'abc')"),
    ("rate", True, "must be a number, not true"),
    ("clump_mean", 0, "must be >= 1 (got 0)"),
    ("clump_mean", 0.5, "must be >= 1 (got 0.5)"),
    ("clump_mean", -1, "must be >= 1 (got -1)"),
    ("clump_mean", 1e308, "must be <= 10000 (got 1e+308)"),
    ("clump_mean", "2x", "must be a number (got '2x')"),
])
def test_a_compound_poisson_rate_or_clump_mean_out_of_range_is_refused(tmp_path, capsys, field, value, said):
    """A clump of fewer than one request on average (``clump_mean < 1``) has no geometric size on 1, 2, ..."""
    arrival = {"process": "compound_poisson", "rate": 2, "clump_mean": 2, field: value}
    path = _arrival(tmp_path, arrival)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.{field}: {said}"]


@pytest.mark.parametrize("literal", [".nan", ".inf"])
def test_a_compound_poisson_clump_mean_of_yaml_nan_or_infinity_is_refused(tmp_path, capsys, literal):
    path = _arrival(tmp_path, {"process": "compound_poisson", "rate": 2, "clump_mean": 3},
                    text=("clump_mean: 3", f"clump_mean: {literal}"))
    assert _main(["validate", str(path)]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"{path}: workload.arrival.clump_mean: ") and "number" in line


@pytest.mark.parametrize("arrival", [
    {"process": "poisson", "rate": 5e-324},
    {"process": "gamma", "rate": 5e-324, "cv": 2},      # divided by zero: an internal error, exit 1
    {"process": "compound_poisson", "rate": 1e-310, "clump_mean": 10000},
    {"process": "diurnal", "mean_rate": 5e-324},
    {"process": "piecewise", "times": [0, 5], "rates": [1, 1e-300]},
])
def test_a_rate_too_small_for_any_request_to_arrive_is_refused_not_an_overflow(tmp_path, capsys, arrival):
    """A positive rate under 1e-12 requests/s (one request in ~31,700 years): the gap 1/rate overflowed
    (numpy's bare 'overflow encountered in divide') or a gamma process's scale divided by zero."""
    field = {"diurnal": "mean_rate", "piecewise": "rates.1"}.get(arrival["process"], "rate")
    path = _arrival(tmp_path, arrival)
    assert _main(["run", str(path), "--quiet"]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"{path}: workload.arrival.{field}: must be at least 1e-12 requests/s, about one "
                           f"request in 31,700 years (got ")


def test_a_rate_of_zero_in_a_piecewise_list_is_still_a_quiet_hour(tmp_path, capsys):
    path = _arrival(tmp_path, {"process": "piecewise", "times": [0, 5], "rates": [2, 0]})
    assert _main(["validate", str(path)]) == 0


# ------------------------------------------------------------------ trace replay scales
def test_a_trace_time_scale_whose_times_overflow_is_refused(tmp_path, capsys):
    """``time_scale: 1e308`` made the rows' times infinite: the run went on with numpy's bare 'overflow
    encountered in multiply' on the terminal."""
    (tmp_path / "t.csv").write_text("timestamp_s,prompt_tokens,output_tokens\n0,100,10\n1,100,10\n2,100,10\n")
    path = _arrival(tmp_path, {"process": "trace", "path": "t.csv", "time_scale": 1e308})
    assert _main(["run", str(path), "--quiet"]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.time_scale: must be <= 1e+15 (got 1e+308)"]


@pytest.mark.parametrize("value,said", [(0, "must be > 0 (got 0)"), (-1, "must be > 0 (got -1)"),
                                        (1e308, "must be <= 1e+15 (got 1e+308)")])
def test_a_trace_rate_scale_out_of_range_is_refused(tmp_path, capsys, value, said):
    (tmp_path / "t.csv").write_text("timestamp_s,prompt_tokens,output_tokens\n0,100,10\n1,100,10\n")
    path = _arrival(tmp_path, {"process": "trace", "path": "t.csv", "rate_scale": value})
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.rate_scale: {said}"]


# ------------------------------------------------------------------ fluid.step, waiting rooms, patience, PP
@pytest.mark.parametrize("step,said", [
    (0, "must be > 0 (got 0)"),
    ("100y", "a year has no one length (got '100y'): write days, such as '30d' or '365d'"),
    (1e-9, "implies 3,600,000,000,000 fluid steps over duration 3600 s (at most 1,000,000): use a step of at "
           "least 0.0036 s; pass --allow-large to run it anyway"),
])
def test_a_fluid_step_of_zero_an_unknown_unit_or_too_many_steps_is_refused(tmp_path, capsys, step, said):
    sc = hc._small()
    sc.update(duration=3600, fidelity="fluid", fluid={"step": step})
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: fluid.step: {said}"]


@pytest.mark.parametrize("value,said", [
    (-1, "must be >= 0 (got -1)"), (2.5, "must be a whole number (got 2.5)"),
    (True, "must be a whole number, not true"), (10**30, "must be <= 9007199254740992 (got 10" + "0" * 29 + ")"),
])
def test_a_waiting_room_that_is_negative_fractional_a_switch_or_huge_is_refused(tmp_path, capsys, value, said):
    sc = hc._small()
    sc["fleet"]["pools"][0]["max_waiting"] = value
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: fleet.pools.0.max_waiting: {said}"]


@pytest.mark.parametrize("value,said", [
    (0, "must be > 0 (got 0)"),
    ("abc", "expected a duration such as 3600, '90s', '30m', '2h30m' or '7d', in units us, ms, s, m, h, d, w "
            "(got 'abc')"),
])
def test_a_patience_of_zero_or_no_duration_is_refused(tmp_path, capsys, value, said):
    sc = hc._small()
    sc["workload"]["patience_s"] = value
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.patience_s: {said}"]


def test_a_patience_distribution_not_offered_is_refused_naming_both(tmp_path, capsys):
    sc = hc._small()
    sc["workload"].update(patience_s=5, patience="Exponential")
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.patience: must be one of 'fixed' or 'exponential' (got 'Exponential')"]


@pytest.mark.parametrize("value,said", [(0, "must be >= 1 (got 0)"), (33, "must be <= n_layers=32 (got 33)"),
                                        (2.5, "must be a whole number (got 2.5)")])
def test_pipeline_parallel_of_zero_past_the_layers_or_fractional_is_refused(tmp_path, capsys, value, said):
    """Llama-3-8B has 32 layers: 33 pipeline stages would leave one without a layer."""
    sc = hc._small()
    sc["fleet"]["pools"][0]["pipeline_parallel"] = value
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: fleet.pools.0.pipeline_parallel: {said}"]


# ------------------------------------------------------------------ plans, sweeps, capacity bands
def test_a_plan_bounding_one_metric_twice_from_one_side_is_refused_before_it_runs(tmp_path, capsys):
    """``<=2`` then ``<=1`` on TTFT p99 (an old bound left on an edited command line): only the tighter counted,
    silently. A bound from each side is a range, two constraints."""
    path = _scenario(tmp_path)
    out = tmp_path / "p"
    assert _main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1..2", "--constraint",
                  "latency.ttft.p99<=2", "--constraint", "latency.ttft.p99<=1", "--out", str(out), "--quiet"]) == 2
    assert _err(capsys) == ["--constraint: latency.ttft.p99 is bounded from above twice (<=2 and <=1): only the "
                            "tighter bound would count; give the one you mean"]
    assert not out.exists()


@pytest.mark.parametrize("knob,more", [("clump_mean", "burstier arrivals at the same rate"),
                                       ("rate", "more load")])
def test_a_plan_bisecting_clump_size_is_refused_as_bisecting_load_is(tmp_path, capsys, knob, more):
    """Bigger clumps at one rate only make latency worse: bisecting 1..8 assumed the opposite and called the
    smallest clump the cheapest answer."""
    path = _arrival(tmp_path, {"process": "compound_poisson", "rate": 2, "clump_mean": 2})
    assert _main(["plan", str(path), "--vary", f"workload.arrival.{knob}=1..8", "--constraint",
                  "latency.ttft.p99<=2", "--out", str(tmp_path / "p"), "--quiet"]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"--vary: workload.arrival.{knob}=1..8: plan bisects its first range") and more in line


@pytest.mark.parametrize("grid,said", [
    ("fleet.pools.0.replicas=1,1", "values must be distinct (got '1,1')"),
    ("fleet.pools.0.replicas=1,1.0", "values must be distinct: '1' and '1.0' are the same value (got '1,1.0')"),
    ("fleet.pools.0.replicas=1,,2", "expected comma-separated values such as 4,8,16, or an inclusive range of whole "
                                    "numbers LOW..HIGH such as 1..64 (got '1,,2')"),
    ("fleet.pools.0.replicas=", "expected comma-separated values such as 4,8,16, or an inclusive range of whole "
                                "numbers LOW..HIGH such as 1..64 (got '')"),
])
def test_a_sweep_grid_with_a_repeated_or_empty_value_is_refused(tmp_path, capsys, grid, said):
    assert _main(["sweep", str(_scenario(tmp_path)), "--grid", grid, "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert _err(capsys) == [f"--grid: fleet.pools.0.replicas: {said}"]


@pytest.mark.parametrize("pct", ["0", "100", "nan", "-3"])
def test_a_capacity_band_of_zero_past_half_or_no_number_is_refused(tmp_path, capsys, pct):
    assert _main(["run", str(_scenario(tmp_path)), f"--capacity-band={pct}", "--quiet"]) == 2
    assert _err(capsys) == [f"fleetsim run: error: argument --capacity-band: give a percentage of capacity greater "
                            f"than 0 and at most 50 (e.g. 3 for ±3 %); got '{pct}'; fleetsim run --help lists the "
                            f"options"]


# ------------------------------------------------------------------ overrides into lists
@pytest.mark.parametrize("key,said", [
    ("pools.5.replicas", "pools: there is no list here to take item 5 of (did you mean fleet.pools?)"),
    ("pools[5].replicas", "pools[5].replicas: a list item is written by its index as a part of the dotted path: "
                          "fleet.pools.5.replicas, not [5]"),
    ("fleet.pools.5.replicas", "fleet.pools.5: index out of range: the list has 1 item, index 0 to 0"),
    ("fleet.pools.-1.replicas", "fleet.pools.-1: index out of range: the list has 1 item, index 0 to 0"),
])
def test_an_override_into_a_list_out_of_range_or_under_the_wrong_block_says_the_path_meant(tmp_path, capsys,
                                                                                           key, said):
    """``pools[5].x`` was told to write ``pools.5.x``, which is no path either: the pools are under ``fleet``."""
    assert _main(["validate", str(_scenario(tmp_path)), "--set", f"{key}=2"]) == 2
    assert _err(capsys) == [f"--set: {said}"]


# ------------------------------------------------------------------ --out where no result can go
def test_out_at_the_file_system_root_is_refused_before_anything_is_written():
    """``--out /`` wrote summary.json, figures/ and the rest among the system's folders (as root, it could);
    ``/usr/..`` is the root too. Checked on the function every command's --out goes through, so that a failure
    of this test writes nothing."""
    from pathlib import Path

    from sim.commands.run import check_out_dir
    from sim.errors import InputError

    for given in ("/", "/usr/.."):
        with pytest.raises(InputError) as exc:
            check_out_dir(Path(given))
        assert str(exc.value) == (f"--out: {given} is the file system's root, not a folder of its own: a result "
                                  f"folder holds a dozen files and a figures/ folder; give one such as /results/run")


@pytest.mark.parametrize("target", ["the scenario file", "a file"])
def test_out_naming_a_file_is_refused_and_the_file_kept(tmp_path, capsys, target):
    path = _scenario(tmp_path)
    other = tmp_path / "notes.txt"
    other.write_text("mine")
    out = path if target == "the scenario file" else other
    before = out.read_bytes()
    assert _main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    assert _err(capsys) == [f"--out: {out} exists and is not a folder (give a folder, new or existing)"]
    assert out.read_bytes() == before


@pytest.mark.parametrize("under", ["figures", "figures/b"])
def test_out_in_another_result_s_figures_folder_is_refused_and_that_result_kept(tmp_path, capsys, under):
    """``--out results/a/figures`` wrote a whole result among a's figures, which a's next run (or re-pricing)
    replaces whole: the nested result was deleted with them, and a's page read a summary among its figures."""
    path = _scenario(tmp_path)
    first = tmp_path / "a"
    assert _main(["run", str(path), "--out", str(first), "--figures", "svg", "--quiet"]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in (first / "figures").iterdir())
    out = first / under
    assert _main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    where = "is" if under == "figures" else f"is inside {first / 'figures'},"
    assert _err(capsys) == [f"--out: {out} {where} the figures folder of the result in {first}, which the next result "
                            f"written there replaces whole, this one with it; give a folder outside it"]
    assert sorted(p.name for p in (first / "figures").iterdir()) == before
