"""``fleetsim report`` on a damaged result folder: it refuses (exit 2), one line per problem naming
the file and the line and column or summary key, and writes no report.html; without the damaged
file it reports what is left."""
import gzip
import json
import shutil

import pytest

import sim
from conftest import scenario
from sim.cli import main
from sim.report.result_folder import read_statement, summary_problems

DAMAGED = ("not as fleetsim writes it: write the folder again (fleetsim run, sweep, plan or saturation with --out), "
           "or move the file out of the folder to report without it")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A simulated run's folder, two request classes, written as `fleetsim run --out` writes it."""
    scn = scenario(name="tiny", duration=30)
    scn["workload"]["classes"] = [{"name": "chat", "share": 0.5}, {"name": "batch", "share": 0.5}]
    return sim.run(scn).write(tmp_path_factory.mktemp("runs") / "tiny")


@pytest.fixture
def run_folder(written, tmp_path):
    return shutil.copytree(written, tmp_path / "run")


def report(folder, capsys) -> tuple[int, str]:
    code = main(["report", str(folder)])
    return code, capsys.readouterr().err


def test_a_folder_fleetsim_wrote_is_reported(run_folder, capsys):
    code, err = report(run_folder, capsys)
    assert code == 0 and err == "" and (run_folder / "report.html").exists()
    assert summary_problems(json.loads((run_folder / "summary.json").read_text())) == []


@pytest.mark.parametrize("name", ["summary.json", "scenario.json"])
def test_a_json_file_an_editor_saved_with_a_byte_order_mark_is_read(run_folder, capsys, name):
    """An editor may save a result folder's JSON with a byte-order mark; reprice reads such a summary, so
    report does too, and the page is the one written from the file without it."""
    code, _ = report(run_folder, capsys)
    assert code == 0
    plain = (run_folder / "report.html").read_text()
    path = run_folder / name
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, err = report(run_folder, capsys)
    assert code == 0 and err == ""
    assert _without_stamp((run_folder / "report.html").read_text()) == _without_stamp(plain)


def _without_stamp(page: str) -> str:
    """A report page without its generation time (the one part that differs between two writes)."""
    import re
    return re.sub(r"generated [0-9-]+ [0-9:]+ UTC", "generated", page)


def _edit_csv(path, line: int, column: str, value: str) -> None:
    """Set one cell of a CSV (``line`` counted from 1, the header's line)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        lines = fh.read().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    with opener(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


@pytest.mark.parametrize("damage, expected", [
    (lambda f: _edit_csv(f / "timeseries.csv", 3, "busy_frac", "lots"),
     "timeseries.csv: line 3, column busy_frac: 'lots' is not a number"),
    (lambda f: (f / "timeseries.csv").write_text("hello,world\nfoo,bar\n"),
     "timeseries.csv: no time_s column (the header is 'hello,world')"),
    (lambda f: (f / "timeseries.csv").write_bytes(b"time_s,pool\n\xff\xfe,main\n"),
     "timeseries.csv: cannot be read (UnicodeDecodeError"),
    (lambda f: _edit_csv(f / "requests.csv.gz", 2, "first_token_s", "soon"),
     "requests.csv.gz: line 2, column first_token_s: 'soon' is not a number"),
    (lambda f: (f / "requests.csv.gz").write_bytes((f / "requests.csv.gz").read_bytes()[:200]),
     "requests.csv.gz: cannot be read (EOFError"),
    (lambda f: (f / "requests.csv.gz").write_text("arrival_s,pool\n1.0,main\n"),
     "requests.csv.gz: cannot be read (BadGzipFile"),
    (lambda f: _edit_csv(f / "cashflow.csv", 2, "compute_usd", "$10"),
     "cashflow.csv: line 2, column compute_usd: '$10' is not a number"),
    (lambda f: _edit_csv(f / "cashflow.csv", 2, "partial", "yes"),
     "cashflow.csv: line 2, column partial: 'yes' is not True or False"),
])
def test_a_damaged_table_is_named_with_its_line_and_column_and_no_report_is_written(
        run_folder, capsys, damage, expected):
    damage(run_folder)
    code, err = report(run_folder, capsys)
    assert code == 2 and f"{run_folder}/{expected}" in err, err
    assert DAMAGED in err and "Traceback" not in err and "internal error" not in err
    assert not (run_folder / "report.html").exists()


def _set(summary: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = summary
    for p in parents:
        node = node[p]
    node[last] = value
    return summary


@pytest.mark.parametrize("key, value, expected", [
    ("latency.ttft.p99", "fast", "latency.ttft.p99: expected a number, got 'fast'"),
    ("slo.attainment", True, "slo.attainment: expected a number, got True"),   # JSON true is no number
    ("slo.attainment", 1.5, "slo.attainment: 1.5 is outside [0, 1]"),
    ("latency.e2e.mean", -2.0, "latency.e2e.mean: -2.0 is outside [0, inf]"),
    ("cost.compute_usd", float("inf"), "cost.compute_usd: inf is not a finite number (fleetsim writes null)"),
    ("requests", [1, 2], "requests: expected an object, got a list"),
    ("pools.main", "h100-sxm", "pools.main: expected an object, got the text 'h100-sxm'"),
    ("pools.main.replicas", "four", "pools.main.replicas: expected a number, got 'four'"),
    ("classes.chat.slo.attainment", 2, "classes.chat.slo.attainment: 2 is outside [0, 1]"),
])
def test_a_summary_with_a_wrong_type_or_an_impossible_number_is_refused(run_folder, capsys, key, value, expected):
    path = run_folder / "summary.json"
    path.write_text(json.dumps(_set(json.loads(path.read_text()), key, value)))
    code, err = report(run_folder, capsys)
    assert code == 2 and f"{path}: {expected}" in err, err
    assert "Traceback" not in err and "internal error" not in err and not (run_folder / "report.html").exists()


def test_a_summary_that_is_none_of_fleetsims_is_refused(run_folder, capsys):
    (run_folder / "summary.json").write_text('{"hello": 1}')
    code, err = report(run_folder, capsys)
    assert code == 2 and "summary.json: not a fleetsim summary (none of its keys" in err


def test_problems_are_listed_at_most_five_per_file_with_how_many_more(run_folder, capsys):
    path = run_folder / "timeseries.csv"
    header, row = path.read_text().splitlines()[:2]
    path.write_text("\n".join([header] + [row.replace(",main,", ",main,x")] * 12) + "\n")
    code, err = report(run_folder, capsys)
    problems = [line for line in err.splitlines() if "column replicas" in line]
    assert code == 2 and len(problems) == 5 and "line 6, column replicas" in problems[-1]
    assert f"{path}: ... and 7 more" in err, err


def test_without_the_damaged_file_the_rest_is_reported_with_a_note(run_folder, capsys):
    (run_folder / "timeseries.csv").write_text("hello,world\n1,2\n")
    assert report(run_folder, capsys)[0] == 2
    (run_folder / "timeseries.csv").unlink()
    code, err = report(run_folder, capsys)
    page = (run_folder / "report.html").read_text()
    assert code == 0 and "time-series figure skipped: no timeseries.csv with rows" in page


def test_a_yearly_statement_keeps_its_period_as_text_and_empty_ratios(tmp_path):
    (tmp_path / "cashflow.csv").write_text("period,start,end,partial,revenue_usd,gross_margin_pct\n"
                                           "2025,2025-01-01,2026-01-01,False,100.0,\n")
    assert read_statement(tmp_path) == [{"period": "2025", "start": "2025-01-01", "end": "2026-01-01",
                                         "partial": False, "revenue_usd": 100.0, "gross_margin_pct": ""}]


def test_a_file_or_a_missing_folder_is_named_as_such(tmp_path, capsys):
    scn = tmp_path / "baseline.yaml"
    scn.write_text("name: x\n")
    assert report(scn, capsys) == (2, f"{scn}: a file, not a result folder (the folder fleetsim run --out DIR, "
                                      "sweep, plan or saturation wrote)\n")
    assert report(tmp_path / "nowhere", capsys) == (2, f"{tmp_path / 'nowhere'}: no such result folder\n")


@pytest.fixture(scope="module")
def searches(tmp_path_factory):
    """The folders of a two-point sweep, a plan and a saturation search of a small M/M/c scenario."""
    from conftest import mmc_scenario_file
    from sim.planning import plan, saturation, sweep

    root = tmp_path_factory.mktemp("searches")
    scn = mmc_scenario_file(root, 2.0, duration="2m", replicas=2)
    sweep(scn, grid={"fleet.pools.0.replicas": [1, 2]}, out=root / "sweep", executor="serial")
    plan(scn, ["fleet.pools.0.replicas=1..3"], constraints=["latency.queue.mean<=10"], out=root / "plan",
         executor="serial")
    saturation(scn, out=root / "saturation", rel_tol=0.5, executor="serial")
    return root


@pytest.mark.parametrize("name, key, value, expected", [
    ("sweep", "configurations", "x", "configurations: expected a list of objects, got the text 'x'"),
    ("sweep", "knobs", [{"path": 5}], "knobs.0.path: expected a text, got a number"),
    ("sweep", "knobs", [{"path": "fleet.pools.0.replicas"}], "knobs.0.values: missing"),
    ("sweep", "seeds", None, "seeds: expected a number, got null"),
    ("plan", "best", "x", "best: expected an object, got the text 'x'"),
    ("plan", "constraints", [1], "constraints: expected a list of texts, got [1]"),
    ("saturation", "probes", [1], "probes.0: expected an object, got a number"),
    ("saturation", "rate", "84", "rate: expected a number, got the text '84'"),
])
def test_a_search_result_with_a_field_of_the_wrong_kind_is_refused(searches, tmp_path, capsys, name, key, value,
                                                                   expected):
    folder = shutil.copytree(searches / name, tmp_path / name)
    assert report(folder, capsys)[0] == 0                       # as written, it is reported
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), key: value}))
    (folder / "report.html").unlink()
    code, err = report(folder, capsys)
    assert code == 2 and f"{path}: {expected}\n" in err and DAMAGED in err, err
    assert "internal error" not in err and not (folder / "report.html").exists()


@pytest.mark.parametrize("marker, who", [({"command": "plan"}, "fleetsim plan"),
                                         (None, "a fleetsim sweep, plan or saturation search")])
def test_a_search_stopped_before_its_result_file_says_how_to_finish_it(tmp_path, capsys, marker, who):
    """A folder holding finished points but no result file is a sweep, plan or search that was stopped:
    the report names how many points it holds and that the same command resumes from them."""
    folder = tmp_path / "stopped"
    (folder / "points").mkdir(parents=True)
    for name in ("a.json", "b.json"):
        (folder / "points" / name).write_text("{}")
    if marker is not None:
        (folder / "command.json").write_text(json.dumps(marker))
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"it holds 2 finished points of {who} that stopped before writing its result" in err
    assert f"run the same command with --out {folder} again to finish it" in err
    assert not (folder / "report.html").exists()
