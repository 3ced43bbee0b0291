"""The ``answer`` column of ``fleetsim plan``'s table reads on every row: the plan's answer, the nearest
miss, another group's row that meets or fails the constraints (it was blank on the answer's own row
whenever a nearest miss was shown under it, as in the README's first plan)."""
import argparse

import pytest

from sim.commands import plan as plan_cmd

from conftest import mmc_scenario_file


def run_plan(tmp_path, capsys, vary, *more):
    """Run ``fleetsim plan`` on an M/M/c scenario (4 req/s, ~1.0005 s exponential service, central queue)
    and return its table's rows as dicts of the cells (parsed by the dashes under the heading)."""
    scn = mmc_scenario_file(tmp_path, 4.0, seed=3, duration="5m")
    parser = argparse.ArgumentParser()
    plan_cmd.add_arguments(parser)
    code = plan_cmd.main(parser.parse_args([str(scn), *vary, "--out", str(tmp_path / "p"), "--quiet",
                                            "--no-figures", *more]))
    lines = capsys.readouterr().out.splitlines()
    dashes = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans, start = [], 0
    for part in lines[dashes].split("  "):
        spans.append((start, start + len(part)))
        start += len(part) + 2
    cell = lambda line, s: line[s[0]:s[1]].strip()
    title = max(i for i in range(dashes) if lines[i].endswith(":"))      # the line over the table
    head = ["".join(cell(line, s) for line in lines[title + 1:dashes]) for s in spans]   # headings break at dots
    body = [line for line in lines[dashes + 1:] if line.strip()]
    return code, [dict(zip(head, (cell(line, s) for s in spans))) for line in body]


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")        # one line per row, no heading broken


def test_the_answer_row_says_answer_above_the_nearest_miss(tmp_path, capsys):
    """ρ = λ E[S] / c = 4.002 / c: four servers cannot keep up (ρ > 1), five can, so the answer without a
    constraint is 5 replicas, and a configuration tried below it is the nearest miss; each row says which."""
    code, rows = run_plan(tmp_path, capsys, ["--vary", "fleet.pools.0.replicas=1..12"])
    assert code == 0
    assert [(r["answer"], r["feasible"]) for r in rows] == [("answer", "yes"), ("nearest miss", "no")]
    assert rows[0]["fleet.pools.0.replicas"] == "5" and int(rows[1]["fleet.pools.0.replicas"]) < 5


def test_a_plan_nothing_meets_says_its_row_fails(tmp_path, capsys):
    """Up to three servers at ρ ≥ 1.33 none keeps up: the table's one row (the largest tried) fails."""
    code, rows = run_plan(tmp_path, capsys, ["--vary", "fleet.pools.0.replicas=1..3"])
    assert code == 1
    assert [(r["fleet.pools.0.replicas"], r["answer"]) for r in rows] == [("3", "fails")]


def test_every_configuration_of_a_listed_knob_says_whether_it_meets(tmp_path, capsys):
    """Listed values are each evaluated: 3 servers fail (ρ = 1.33), 5 and 8 keep up and the cheaper,
    5, is the answer."""
    code, rows = run_plan(tmp_path, capsys, ["--vary", "fleet.pools.0.replicas=8,3,5"])
    assert code == 0
    assert {r["fleet.pools.0.replicas"]: r["answer"] for r in rows} == {"5": "answer", "8": "meets", "3": "fails"}
