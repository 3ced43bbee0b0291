"""Small defects of this round: stepped rates in compare, --grid and --set; base_used_usd with a late
``from``; a broken scenario.json or usage.npz in report and reprice; the --objective hint.

Every expected number is hand arithmetic on the terms (the stepped-rate worked example of
docs/economics.md: $3,000 a month of base, 20 % of the first $5,000 and 10 % of the rest).
"""
from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from money_files import col, rows, run, scenario, write_scenario
from sim.cli import main
from sim.planning.knobs import KnobError, parse_knob, parse_knobs

STEPPED = [{"up_to_usd": 5000, "rate": 0.2}, {"rate": 0.1}]
FLAT = {"period": "month", "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
        "revenue": [{"name": "subs", "usd_per_month": 3000},
                    {"name": "resale", "owner": "partner", "usd_per_month": 1000}],
        "agreements": [{"name": "deal", "rate": 0.2, "base": ["subs"], "settle": "quarter",
                        "reverse": {"rate": 0.1, "base": ["resale"]}}]}


def _econ(rate=0.2, reverse=0.1) -> dict:
    econ = copy.deepcopy(FLAT)
    econ["agreements"][0]["rate"] = rate
    econ["agreements"][0]["reverse"]["rate"] = reverse
    return econ


def _err(capsys) -> str:
    return capsys.readouterr().err.strip()


# -- 1. compare: one open bracket is the flat rate; brackets in words ------------------------------------

def test_compare_takes_one_open_bracket_for_the_flat_rate_it_is(tmp_path, capsys):
    """``rate: 0.2`` and ``rate: [{rate: 0.2}]`` (the reverse's too) are one contract: no difference, and the
    same money (0.2 x 3,000 = 600 a month)."""
    a = run(tmp_path, scenario("t", _econ(), duration="30d"), "flat")
    b = run(tmp_path, scenario("t", _econ([{"rate": 0.2}], [{"rate": 0.1}]), duration="30d"), "one")
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["differences"] == []
    assert main(["compare", str(a), str(b)]) == 0
    assert "the scenarios are the same (seed and run length included)" in capsys.readouterr().out
    assert col(rows(a), "revenue_share_paid_usd")[0] == pytest.approx(0.2 * 3000 * 30 / 31, abs=1e-6)
    assert (a / "cashflow.csv").read_bytes() == (b / "cashflow.csv").read_bytes()


def test_compare_says_a_list_of_brackets_in_words_as_one_setting(tmp_path, capsys):
    """A flat rate against brackets, and brackets of different lengths, are each one line in words; the
    JSON keeps the raw values."""
    a = run(tmp_path, scenario("t", _econ(), duration="30d"), "flat")
    b = run(tmp_path, scenario("t", _econ(STEPPED, [{"up_to_usd": 1500, "rate": 0.1}, {"up_to_usd": 3000.5,
                                                                                      "rate": 0.05},
                                                     {"rate": 0.0}]), duration="30d"), "two")
    capsys.readouterr()
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "economics.agreements.0.rate: 0.2 → 20 % to $5,000, then 10 %" in out
    assert ("economics.agreements.0.reverse.rate: 0.1 → 10 % to $1,500, 5 % to $3,000.50, then 0 %" in out)
    assert "rate.0" not in out and "rate.1" not in out and '{"' not in out
    assert main(["compare", str(a), str(b), "--json"]) == 0
    diff = {d["key"]: d["values"] for d in json.loads(capsys.readouterr().out)["differences"]}
    assert diff["economics.agreements.0.rate"] == [0.2, [{"up_to_usd": 5000, "rate": 0.2},
                                                         {"up_to_usd": None, "rate": 0.1}]]


def test_brackets_in_words():
    from sim.economics.tiers import words

    assert words([{"up_to_usd": 1.0e9, "rate": 0.2}, {"rate": 0.15}]) == "20 % to $1.00B, then 15 %"
    assert words([{"rate": 0.125}]) == "12.5 %"
    assert words(0.2) is None and words([0.2, 0.1]) is None


# -- 2. sweep --grid: a list of brackets is one value ----------------------------------------------------

def test_grid_keeps_a_bracket_list_whole_and_sweeps_it(tmp_path, capsys):
    """``--grid rate=0.2,[...]`` is two values. Over 120 days from 2025-01-01 (Jan-Apr, $12,000 of base)
    the flat share is 0.2 x 12,000 = 2,400; the stepped one 600 + (400 + 100) + 300 + 300 = 1,700."""
    knob = parse_knob("economics.agreements.0.rate=0.2, [{up_to_usd: 5000, rate: 0.2}, {rate: 0.1}]")
    assert knob.values == ("0.2", "[{up_to_usd: 5000, rate: 0.2}, {rate: 0.1}]")
    econ = _econ()
    del econ["agreements"][0]["reverse"]
    path = write_scenario(tmp_path, scenario("t", econ, duration="120d"), "sw")
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--grid", "economics.agreements.0.rate=0.2,[{up_to_usd: 5000, rate: 0.2}, "
                 "{rate: 0.1}]", "--out", str(out), "--quiet", "--no-figures", "--executor", "serial"]) == 0
    table = capsys.readouterr().out
    assert "20 % to $5,000, then 10 %" in table and "up_to_usd" not in table
    with open(out / "sweep.csv", newline="") as fh:
        paid = [float(r["cashflow.revenue_share_paid"]) for r in csv.DictReader(fh)]
    assert paid == pytest.approx([2400, 1700], abs=1e-6)
    values = json.loads((out / "sweep.json").read_text())["knobs"][0]["values"]
    assert values == [0.2, STEPPED]


def test_grid_bracket_value_left_open_is_refused_naming_the_knob(tmp_path, capsys):
    with pytest.raises(KnobError, match=r"^economics.agreements.0.rate: a value starting with '\[' .* closing bracket"):
        parse_knob("economics.agreements.0.rate=0.2,[{up_to_usd: 5000, rate: 0.2}, {rate: 0.1}")
    path = write_scenario(tmp_path, scenario("t", _econ(), duration="30d"), "s")
    assert main(["sweep", str(path), "--grid", "economics.agreements.0.rate=[{rate: 0.1}",
                 "--out", str(tmp_path / "o")]) == 2
    assert "closing bracket" in _err(capsys)


def test_grid_plain_values_split_as_before():
    """A bracket inside a plain value opens nothing (only a value's first character can)."""
    assert parse_knob("a=4,8,16").values == ("4", "8", "16")
    assert parse_knob("a=x[1,2]").values == ("x[1", "2]")
    assert parse_knob("a&b=h100&[1, 2],a100&3").values == ("h100&[1, 2]", "a100&3")


def test_grid_python_mapping_takes_a_bracket_list_as_one_value():
    knob = parse_knobs({"economics.agreements.0.rate": [0.2, STEPPED]})[0]
    assert len(knob.values) == 2 and "up_to_usd: 5000" in knob.values[1]


# -- 3. --set into a flat rate's brackets ----------------------------------------------------------------

@pytest.mark.parametrize("key, flat", [("economics.agreements.0.rate", "0.2"),
                                       ("economics.agreements.0.reverse.rate", "0.1")])
def test_set_a_bracket_of_a_flat_rate_says_the_rate_is_flat(tmp_path, capsys, key, flat):
    path = write_scenario(tmp_path, scenario("t", _econ(), duration="30d"), "s")
    assert main(["run", str(path), "--set", f"{key}.0.rate=0.25", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = _err(capsys)
    assert f"{key}: is a flat rate ({flat}), not brackets, so it has no 0.rate" in err
    assert f"--set '{key}=[{{up_to_usd: 1.0e9, rate: 0.25}}, {{rate: 0.1}}]'" in err
    assert "is a value, not a mapping" not in err


def test_set_into_any_other_value_keeps_the_plain_words(tmp_path, capsys):
    path = write_scenario(tmp_path, scenario("t", _econ(), duration="30d"), "s")
    assert main(["run", str(path), "--set", "economics.period.x=1", "--out", str(tmp_path / "o")]) == 2
    assert "is a value, not a mapping; cannot set 'x'" in _err(capsys)


# -- 4. base_used_usd when the agreement begins after the run's start -----------------------------------

@pytest.mark.parametrize("tier_period", ["year", "life"])
def test_base_used_counts_toward_the_first_year_of_an_agreement_that_begins_mid_run(tmp_path, tier_period):
    """From 2025-01-01 for 181 days, the deal from 2025-03-01: nothing before March. Without
    base_used_usd: March 600, April 20 % x 2,000 + 10 % x 1,000 = 500, then 300. With 4,000 counted
    before the run: March 20 % x 1,000 + 10 % x 2,000 = 400, then 300 a month."""
    paid = {}
    for used in (0, 4000):
        econ = {"period": "month", "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
                "revenue": [{"name": "subs", "usd_per_month": 3000}],
                "agreements": [{"name": "deal", "rate": STEPPED, "base": ["subs"], "settle": "quarter",
                                "from": "2025-03-01", "tier_period": tier_period, "base_used_usd": used}]}
        out = run(tmp_path, scenario("late", econ, duration="181d"), f"u{used}")
        paid[used] = col(rows(out), "revenue_share_paid_usd")[:6]
    assert paid[0] == pytest.approx([0, 0, 600, 500, 300, 300], abs=1e-6)
    assert paid[4000] == pytest.approx([0, 0, 400, 300, 300, 300], abs=1e-6)


# -- 5. a broken scenario.json or usage.npz: report and reprice refuse it as compare does ----------------

@pytest.mark.parametrize("content, why", [("{broken", "invalid JSON"), ("[1, 2]", "expected a JSON object, got a list"),
                                          (None, "a folder, not a file")])
def test_report_reprice_and_compare_refuse_a_broken_scenario_json(tmp_path, capsys, content, why):
    folder = run(tmp_path, scenario("t", _econ(), duration="30d"), "r")
    capsys.readouterr()                     # the run's own output (its no-demand warning) is not what is checked
    target = folder / "scenario.json"
    target.unlink()
    if content is None:
        target.mkdir()
    else:
        target.write_text(content)
    for argv, doing in ((["report", str(folder)], "to report without it"),
                        (["reprice", str(folder), "--set", "economics.gpu_hour_usd=2", "--out", str(tmp_path / "re")],
                         "to re-price without it"),
                        (["compare", str(folder), str(folder)], "to compare without it")):
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert err.startswith(f"{target}: not a scenario as fleetsim writes it ({why}")
        assert err.endswith(doing)
    assert not (tmp_path / "re").exists() and not (folder / "report.html").exists()


def test_reprice_says_a_usage_npz_folder_is_a_folder(tmp_path, capsys):
    folder = run(tmp_path, scenario("t", _econ(), duration="30d"), "r")
    capsys.readouterr()                     # the run's own output (its no-demand warning) is not what is checked
    (folder / "usage.npz").unlink()
    (folder / "usage.npz").mkdir()
    assert main(["reprice", str(folder)]) == 2
    err = _err(capsys)
    assert err.startswith(f"{folder / 'usage.npz'}: a folder, not a file") and "no usage.npz" not in err


# -- 6. --objective names every objective the planner accepts --------------------------------------------

def test_objective_hint_names_cost_with_commits_which_plan_accepts(tmp_path, capsys):
    """The hint lists ``cost_with_commits``, and plan does accept it (the run has no commit: its cost is
    the compute bill, 30 d x 24 h x $1 = $720)."""
    path = write_scenario(tmp_path, scenario("t", _econ(), duration="30d"), "s")
    argv = ["plan", str(path), "--vary", "fleet.pools.0.replicas=1", "--quiet", "--no-figures",
            "--executor", "serial"]
    assert main([*argv, "--objective", "cost_with_commit", "--out", str(tmp_path / "p1")]) == 2
    err = _err(capsys)
    assert "or cost (= cost.compute_usd, the default) or cost_with_commits (= cost.compute_with_commits_usd)" in err
    assert err.endswith("(did you mean cost_with_commits?)")
    assert main([*argv, "--objective", " ", "--out", str(tmp_path / "p2")]) == 2
    assert "cost_with_commits (= cost.compute_with_commits_usd)" in _err(capsys)
    assert main([*argv, "--objective", "cost_with_commits", "--out", str(tmp_path / "p3")]) == 0
    plan = json.loads((tmp_path / "p3" / "plan.json").read_text())
    assert plan["objective"] == "cost.compute_with_commits_usd"
    assert "$720" in capsys.readouterr().out
