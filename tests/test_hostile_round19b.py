"""Hostile input, round 19 (second part): what the first part found and left, each a place where bad or
odd input was taken silently: a summary value of the wrong kind, a ``requests.csv`` cut mid-row, a
``plan.json`` whose ``skipped`` entries are of the wrong kind, one grid value written two ways, and a
number of workers that is no number of workers.

Each is exit 2 from the command line (an :class:`~sim.errors.InputError`,
:class:`~sim.errors.ScenarioError` or ``TypeError``/``ValueError`` from Python) with a message naming the
file, the field and what is allowed; never a traceback or a result that silently means something else.
"""
from __future__ import annotations

import json
import shutil

import pytest

import hostile_cases as hc

_main, _err = hc.exit_status, hc.err_lines


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A small run's result folder, as ``fleetsim run --out`` writes it."""
    import sim

    return sim.run(hc._small()).write(tmp_path_factory.mktemp("runs") / "r", figures="none")


@pytest.fixture
def run_folder(written, tmp_path):
    return shutil.copytree(written, tmp_path / "run")


def _set(path, dotted: str, value) -> None:
    data = json.loads(path.read_text())
    *parents, last = dotted.split(".")
    node = data
    for p in parents:
        node = node[p]
    node[last] = value
    path.write_text(json.dumps(data))


# ------------------------------------------------------------------ 1. a summary value of the wrong kind
@pytest.mark.parametrize("key,value,said", [
    # an empty object has no leaf for the number check to find: it was taken, and the report said "n/a"
    ("slo.attainment", {}, "slo.attainment: expected a number, got an object"),
    ("slo.attainment", {"x": 0.5}, "slo.attainment: expected a number, got an object"),
    ("simulated_seconds", {}, "simulated_seconds: expected a number, got an object"),
    ("latency.ttft", 5, "latency.ttft: expected an object (mean, p50, p90, p99), got a number"),
    ("stability.verdict", 3, "stability.verdict: expected one of 'stable', 'unstable', 'cannot tell', got a number"),
    ("stability.verdict", "fine", "stability.verdict: expected one of 'stable', 'unstable', 'cannot tell', "
                                  "got the text 'fine'"),
    ("stability.stable", "yes", "stability.stable: expected true, false or null, got the text 'yes'"),
])
@pytest.mark.parametrize("command", ["report", "compare", "reprice"])
def test_a_summary_value_of_the_wrong_kind_is_refused(run_folder, written, capsys, command, key, value, said):
    path = run_folder / "summary.json"
    _set(path, key, value)
    argv = {"report": ["report", str(run_folder)], "compare": ["compare", str(written), str(run_folder)],
            "reprice": ["reprice", str(run_folder), "--json"]}[command]
    assert _main(argv) == 2
    assert f"{path}: {said}" in "\n".join(_err(capsys))


def test_a_verdict_at_odds_with_its_stable_flag_is_refused(run_folder, capsys):
    """fleetsim writes ``stable`` as the verdict's truth value (stable: true, unstable: false, cannot tell:
    null); a summary saying ``unstable`` and ``stable: true`` was read one way by the report's verdict
    and the other by the plan's feasibility."""
    path = run_folder / "summary.json"
    data = json.loads(path.read_text())
    data["stability"]["verdict"] = "unstable" if data["stability"]["verdict"] != "unstable" else "stable"
    path.write_text(json.dumps(data))
    assert _main(["report", str(run_folder)]) == 2
    assert "stability.stable: " in "\n".join(_err(capsys))


def test_each_wrong_key_is_said_once():
    from sim.report.result_folder import summary_problems

    said = summary_problems({"latency": {"ttft": "fast"}, "slo": {"attainment": [0.5]}, "simulated_seconds": {}})
    assert said == [("latency.ttft", "expected an object (mean, p50, p90, p99), got the text 'fast'"),
                    ("simulated_seconds", "expected a number, got an object"),
                    ("slo.attainment", "expected a number, got [0.5]")]


def test_the_summary_fleetsim_writes_has_no_problem(written):
    from sim.report.result_folder import summary_problems

    assert summary_problems(json.loads((written / "summary.json").read_text())) == []


# ------------------------------------------------------------------ 2. a table cut short
def _cut(text: str, keep_cells: int | None, chars: int = 0) -> str:
    """``text`` without its final newline, its last line cut after ``keep_cells`` cells and ``chars``
    characters of the next (mid-number)."""
    head, last = text.rstrip("\n").rsplit("\n", 1)
    cells = last.split(",")
    cut = cells[:keep_cells] + ([cells[keep_cells][:chars]] if chars else [])
    return head + "\n" + ",".join(cut)


def _number_cut(text: str) -> tuple[str, int]:
    """The last line's first cell of three or more characters that is a number, cut after its first
    two: still a number, so only the missing newline tells; and that cell's index."""
    cells = text.rstrip("\n").rsplit("\n", 1)[1].split(",")
    j = next(j for j, c in enumerate(cells) if len(c) >= 3 and c.replace(".", "", 1).isdigit())
    return _cut(text, j, 2), j


@pytest.mark.parametrize("name,how", [(n, h) for n in ("requests.csv.gz", "requests.csv", "timeseries.csv")
                                      for h in ("mid-number", "whole-cells")]
                         + [("timeseries.csv", "last-cell-mid-number")])
def test_a_table_cut_on_its_last_line_is_said_to_be_truncated(run_folder, capsys, name, how):
    import gzip

    gz = run_folder / "requests.csv.gz"
    if name == "requests.csv":                 # the plain form the reader also takes
        (run_folder / name).write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    path = run_folder / name
    text = (gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()).decode()
    lines = text.rstrip("\n").count("\n") + 1
    if how == "mid-number":
        cut, _ = _number_cut(text)
    elif how == "whole-cells":
        cut = _cut(text, 5)
    else:   # timeseries.csv's last column (busy_frac) is a number: cut to its first digit, the row's count
        header = text.split("\n", 1)[0].split(",")     # of cells is whole, and every cell reads as a number
        last = text.rstrip("\n").rsplit("\n", 1)[1].split(",")
        assert header[-1] == "busy_frac" and float(last[-1]) >= 0 and len(last[-1]) > 1, last
        cut = _cut(text, len(header) - 1, 1)
    data = cut.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    assert _main(["report", str(run_folder)]) == 2
    err = "\n".join(_err(capsys))
    assert f"{path}: line {lines}: is truncated: the file ends mid-line" in err, err
    assert not (run_folder / "report.html").exists()


def test_a_last_line_of_too_few_cells_with_its_newline_says_the_file_looks_truncated(run_folder, capsys):
    path = run_folder / "timeseries.csv"
    text = path.read_text()
    lines = text.rstrip("\n").count("\n") + 1
    path.write_text(_cut(text, 3) + "\n")
    assert _main(["report", str(run_folder)]) == 2
    assert (f"{path}: line {lines}: 3 cells, the header has 9; the file looks truncated (it is its last line)"
            in "\n".join(_err(capsys)))


def test_a_gzip_stream_cut_short_is_said_to_be_truncated(run_folder, capsys):
    path = run_folder / "requests.csv.gz"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    assert _main(["report", str(run_folder)]) == 2
    err = "\n".join(_err(capsys))
    assert f"{path}: cannot be read (EOFError: " in err and "): the file is truncated (cut short" in err, err


# ------------------------------------------------------------------ 3. plan.json's skipped groups
_PLAN = {"objective": "cost", "knobs": ["fleet.pools.0.tensor_parallel"], "constraints": ["latency.ttft.p99<=2"],
         "evaluated": []}


@pytest.mark.parametrize("skipped,said", [
    # each was dropped from the page without a word (skipped_note read only dicts with a list of groups)
    ("tp=1", "skipped: expected a list of objects, got the text 'tp=1'"),
    ([5], "skipped.0: expected an object, got a number"),
    ([{"group": "fleet.pools.0.tensor_parallel=1", "reason": "x"}],
     "skipped.0.group: expected a list of texts, got the text 'fleet.pools.0.tensor_parallel=1'"),
    ([{"group": [1], "reason": "x"}], "skipped.0.group: expected a list of texts, got [1]"),
    ([{"group": ["fleet.pools.0.tensor_parallel=1"]}], "skipped.0.reason: missing"),
    ([{"group": ["fleet.pools.0.tensor_parallel=1"], "reason": ["does not fit"]}],
     "skipped.0.reason: expected a text, got a list"),
    ([{"group": ["fleet.pools.0.tensor_parallel=1"], "reason": "x", "problems": "x"}],
     "skipped.0.problems: expected a list, got the text 'x'"),
])
def test_a_plan_whose_skipped_groups_are_of_the_wrong_kind_is_refused(tmp_path, capsys, skipped, said):
    path = tmp_path / "p" / "plan.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**_PLAN, "skipped": skipped}))
    assert _main(["report", str(path.parent)]) == 2
    assert f"{path}: {said}" in "\n".join(_err(capsys))
    assert not (path.parent / "report.html").exists()


def test_a_plan_whose_skipped_groups_are_as_fleetsim_writes_them_is_reported_with_them(tmp_path, capsys):
    path = tmp_path / "p" / "plan.json"
    path.parent.mkdir()
    skipped = [{"group": ["fleet.pools.0.tensor_parallel=1"], "problems": [["fleet.pools.0", "too big"]],
                "reason": "fleet.pools.0: too big"}]
    path.write_text(json.dumps({**_PLAN, "skipped": skipped}))
    assert _main(["report", str(path.parent)]) == 0
    page = (path.parent / "report.html").read_text()
    assert "Skipped fleet.pools.0.tensor_parallel=1, which cannot hold the model: fleet.pools.0: too big." in page


# ------------------------------------------------------------------ 4. one grid value written two ways
def _share_scenario() -> dict:
    """The small scenario with a revenue share of its token revenue (docs/economics.md's form)."""
    sc = hc._small()
    sc["economics"] = {"gpu_hour_usd": 2.0, "revenue": [{"name": "api", "usd_per_million_output_tokens": 10.0}],
                       "agreements": [{"name": "share", "payer": "provider", "payee": "partner", "rate": 0.2,
                                       "base": ["api"]}]}
    return sc


@pytest.mark.parametrize("command,flag", [("sweep", "--grid"), ("plan", "--vary")])
@pytest.mark.parametrize("knob,first,second", [
    ("duration", "60", "1m"),                               # ran twice, as two rows of one scenario
    ("duration", "1m", "60.0"),
    ("economics.agreements.0.rate", "0.2", "[{rate: 0.2}]"),   # a flat rate and its one open bracket
])
def test_one_value_written_two_ways_is_refused_naming_both(tmp_path, capsys, monkeypatch, command, flag, knob,
                                                           first, second):
    from sim.planning import runner

    monkeypatch.setattr(runner.SimulationRunner, "__call__", _no_run, raising=False)
    path = hc.write_scenario(tmp_path, _share_scenario())
    argv = [command, str(path), flag, f"{knob}=30,{first},{second}" if knob == "duration"
            else f"{knob}=0.1,{first},{second}", "--out", str(tmp_path / "o"), "--workers", "1"]
    if command == "plan":
        argv += ["--vary", "fleet.pools.0.replicas=1..2", "--constraint", "latency.ttft.p99<=2"]
    assert _main(argv) == 2
    err = _err(capsys)
    assert err[0].startswith(f"{flag}: {knob}: values must be distinct: {first!r} and {second!r} are the same value "
                             f"written two ways"), err
    assert not (tmp_path / "o" / "points").exists()


def _no_run(*args, **kwargs):
    raise AssertionError("nothing should run")


_TWO_WAYS = ("duration: values must be distinct: '60' and '1m' are the same value written two ways (the scenario "
             "each makes is the same: one run, twice); give it once (got '60,1m')")


@pytest.mark.parametrize("grid,said", [({"duration": [60, "1m"]}, _TWO_WAYS), (["duration=60,1m"], _TWO_WAYS),
                                       ({"seed": [1, 1]}, "seed: values must be distinct (got '1,1')")])
def test_one_value_written_two_ways_is_refused_from_python(monkeypatch, grid, said):
    """The mapping form skipped even the plain check: ``{"seed": [1, 1]}`` ran one point twice."""
    import sim
    from sim.planning import runner
    from sim.planning.knobs import KnobError

    monkeypatch.setattr(runner.SimulationRunner, "__call__", _no_run, raising=False)
    for call, arg in (("sweep", "grid"), ("plan", "vary")):
        with pytest.raises(KnobError) as exc:     # each grid its own words (one pattern took either)
            getattr(sim, call)(hc._small(), progress=False, workers=1, **{arg: grid},
                               **({"constraints": ["latency.ttft.p99<=2"]} if call == "plan" else {}))
        assert str(exc.value) == said


def test_values_that_differ_still_run_as_points_of_their_own(tmp_path):
    """The check compares scenarios, not texts: 60 s and 2 min are two points, and a joint knob's
    values stay apart (a rate of 0.2 and brackets that pay it only to $1)."""
    import sim

    grid = ["duration=60,2m", "economics.agreements.0.rate=0.2,[{up_to_usd: 1, rate: 0.2}, {rate: 0.1}]"]
    rows = sim.sweep(_share_scenario(), grid=grid, executor="serial", progress=False).configurations
    assert len(rows) == 4
    assert {r["duration"] for r in rows} == {60, "2m"}


# ------------------------------------------------------------------ 5. a number of workers that is none
@pytest.mark.parametrize("call", ["sweep", "plan", "saturation"])
@pytest.mark.parametrize("workers,error,said", [
    (0, ValueError, "workers: must be >= 1 (got 0)"),         # was one worker per core, unsaid
    (-1, ValueError, "workers: must be >= 1 (got -1)"),       # was a pool of -1 slots
    (True, TypeError, "workers: must be a whole number >= 1 (got True, of type bool)"),
    (1.5, TypeError, "workers: must be a whole number >= 1 (got 1.5, of type float)"),
    ("2", TypeError, "workers: must be a whole number >= 1 (got '2', of type str)"),
])
def test_a_python_number_of_workers_that_is_none_is_refused_as_the_flag_is(monkeypatch, tmp_path, call, workers,
                                                                            error, said):
    import sim
    from sim.planning import runner

    monkeypatch.setattr(runner.SimulationRunner, "__call__", _no_run, raising=False)
    args = {"sweep": {"grid": ["workload.arrival.rate=1,2"]},
            "plan": {"vary": ["fleet.pools.0.replicas=1..2"], "constraints": ["latency.ttft.p99<=2"]},
            "saturation": {}}[call]
    with pytest.raises(error) as exc:
        getattr(sim, call)(hc._small(), progress=False, workers=workers, out=tmp_path / "o", **args)
    assert str(exc.value) == said
    assert not (tmp_path / "o").exists()          # refused before the folder is claimed


@pytest.mark.parametrize("command,more", [("sweep", ["--grid", "workload.arrival.rate=1,2"]),
                                          ("plan", ["--vary", "fleet.pools.0.replicas=1..2"]),
                                          ("saturation", [])])
def test_the_flag_says_the_same_words(tmp_path, capsys, command, more):
    path = hc.write_scenario(tmp_path)
    assert _main([command, str(path), *more, "--workers", "0"]) == 2
    assert "argument --workers: must be >= 1 (got 0)" in capsys.readouterr().err


def test_a_statement_cut_mid_number_is_said_to_be_truncated(run_folder, capsys):
    """``cashflow.csv``, read apart from the other tables, likewise: its last line cut after a digit."""
    path = run_folder / "cashflow.csv"
    text = path.read_text()
    lines = text.rstrip("\n").count("\n") + 1
    cut, j = _number_cut(text)
    path.write_text(cut)
    assert _main(["report", str(run_folder)]) == 2
    assert f"{path}: line {lines}: is truncated: the file ends mid-line" in "\n".join(_err(capsys))
