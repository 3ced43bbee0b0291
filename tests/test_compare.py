"""``fleetsim compare``: two tiny runs, their deltas worked out by hand from the two summaries, the same
folder twice, folders that are not a run's refused, the JSON and the terminal saying the same numbers,
the scenario differences exactly the keys changed with ``--set``."""
from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import scenario
from sim.cli import main
from sim.commands.compare import comparison_text
from sim.report.comparison import ABSENT, MISSING, compare, value_at

DURATION = 120.0          # s; two requests a second, fixed lengths, the linear step model: runs in well under a second
GPU_HOUR_USD = 2.0


def _run(path: Path, out: Path, *sets: str) -> Path:
    argv = ["run", str(path), "--out", str(out), "--quiet", "--json", "--figures", "none"]
    assert main([*argv, *(a for s in sets for a in ("--set", s))]) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A: one replica; B: the same with ``--set fleet.pools.0.replicas=2``; C: another seed and rate;
    R: A with a revenue line (its cash flows have income)."""
    root = tmp_path_factory.mktemp("compare")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(scenario(duration=DURATION, economics={"gpu_hour_usd": GPU_HOUR_USD})))
    a = _run(path, root / "a")
    b = _run(path, root / "b", "fleet.pools.0.replicas=2")
    c = _run(path, root / "c", "seed=4", "workload.arrival.rate=3")
    r = _run(path, root / "r", "economics.revenue=[{name: api, usd_per_million_output_tokens: 10.0}]")
    return {"a": a, "b": b, "c": c, "r": r, "scenario": path}


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_changes_are_the_second_summary_minus_the_first(runs):
    sa, sb = _summary(runs["a"]), _summary(runs["b"])
    rows = {r.key: r for r in compare([runs["a"], runs["b"]]).rows}
    # provisioning by hand: one, then two replicas of one GPU for 120 s at $2 an hour
    hours = DURATION / 3600
    assert rows["gpu_hours.provisioned"].values == pytest.approx([hours, 2 * hours], rel=1e-12)
    assert rows["gpu_hours.provisioned"].changes[1]["absolute"] == pytest.approx(hours, rel=1e-12)
    assert rows["gpu_hours.provisioned"].changes[1]["relative"] == pytest.approx(1.0, rel=1e-12)
    assert rows["cost.compute_usd"].changes[1]["absolute"] == pytest.approx(GPU_HOUR_USD * hours, rel=1e-12)
    # every numeric row: B's value minus A's, over A's, from the summaries as written
    for key in ("throughput.requests_per_s", "latency.ttft.mean", "latency.e2e.p99", "latency.queue.p50",
                "utilization.load_factor", "utilization.gpu_busy", "cost.per_million_output_tokens"):
        va, vb = value_at(sa, key), value_at(sb, key)
        assert rows[key].values == [va, vb]
        assert rows[key].changes[0] is None
        assert rows[key].changes[1]["absolute"] == vb - va
        assert rows[key].changes[1]["relative"] == ((vb - va) / abs(va) if va else None)
    assert rows["stability.verdict"].changes[1] == {"changed": sa["stability"]["verdict"] != sb["stability"]["verdict"]}
    # a scenario without revenue: its cash flows are its costs, no revenue row of zeros
    assert not any(k.startswith("cashflow.") for k in rows)


def test_the_same_folder_twice_moves_nothing(runs, capsys):
    comparison = compare([runs["a"], runs["a"]])
    assert comparison.differences == []
    for row in comparison.rows:
        change = row.changes[1]
        if isinstance(row.values[0], str):
            assert change == {"changed": False}
        else:
            assert change["absolute"] == 0 and change["relative"] in (0, None)
    assert main(["compare", str(runs["a"]), str(runs["a"])]) == 0
    out = capsys.readouterr().out
    assert "the scenarios are the same (seed and run length included)" in out
    assert re.search(r"^TTFT p99 .* 0 ms \(0\.0 %\)$", out, re.M), out


def test_the_differences_are_exactly_the_keys_set(runs, capsys):
    comparison = compare([runs["a"], runs["b"], runs["c"]])
    assert comparison.differences == [("seed", [3, 3, 4]), ("workload.arrival.rate", [2.0, 2.0, 3.0]),
                                      ("fleet.pools.0.replicas", [1, 2, 1])]
    (key, (none, line)), = compare([runs["a"], runs["r"]]).differences     # a list item added: one difference
    assert key == "economics.revenue.0" and none is ABSENT
    assert line["name"] == "api" and line["usd_per_million_output_tokens"] == 10.0
    assert main(["compare", str(runs["a"]), str(runs["b"])]) == 0
    out = capsys.readouterr().out
    assert "settings that differ (A → B):\n  fleet.pools.0.replicas: 1 → 2\n" in out


_NUMBER = re.compile(r"[-+]?\$?-?\$?([\d,]*\.?\d+(?:e[-+]?\d+)?)([kMBT](?![a-z]))?")
_SUFFIX = {"k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12, None: 1.0}


def _read(text: str) -> tuple[float, float]:
    """The first number of a cell (sign, ``$``, thousands separators dropped; ``$1.30M`` is 1.3e6) and half
    its last digit."""
    m = _NUMBER.search(text)
    digits, scale = m.group(1).replace(",", ""), _SUFFIX[m.group(2)]
    value = float(digits) * scale * (-1 if text.lstrip().startswith("-") else 1)
    decimals = len(digits.partition(".")[2]) if "e" not in digits else 0
    return value, 0.5 * 10 ** -decimals * scale


def _shown(unit: str, value: float) -> float:
    """A summary number in the unit the table shows it in: ms, per cent (points), dollars, as it is."""
    return value * 1000 if unit == "s" else value * 100 if unit == "%" else value


@pytest.mark.parametrize("pair", [("a", "b"), ("a", "r")])
def test_the_terminal_says_the_numbers_of_the_json(runs, tmp_path, capsys, pair):
    out_file = tmp_path / "cmp.json"
    folders = [str(runs[pair[0]]), str(runs[pair[1]])]
    assert main(["compare", *folders, "--out", str(out_file)]) == 0
    text, err = capsys.readouterr()
    assert err.strip() == f"fleetsim: wrote {out_file}"
    data = json.loads(out_file.read_text())
    assert main(["compare", *folders, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == data       # --json on stdout: the same object
    import sim

    assert json.loads(json.dumps(sim.compare(*folders).as_json())) == data     # and from Python
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    checked = 0
    for metric in data["metrics"]:
        line = lines[metric["name"]]
        cells = [c for c in re.split(r"\s{2,}", line[len(metric["name"]):].strip())]
        if isinstance(metric["values"][0], str):
            assert cells[:2] == metric["values"]
            continue
        for cell_text, value in zip(cells[:2], metric["values"]):
            shown, tol = _read(cell_text)
            assert abs(shown - _shown(metric["unit"], value)) <= tol * 1.0001, (metric["key"], cell_text, value)
        change = metric["changes"][1]
        shown, tol = _read(cells[2])
        assert abs(shown - _shown(metric["unit"], change["absolute"])) <= tol * 1.0001, (metric["key"], cells[2])
        if change["relative"] is not None:
            pct, tol = _read(cells[2].rpartition("(")[2])
            assert abs(pct - change["relative"] * 100) <= tol * 1.0001, (metric["key"], cells[2])
        checked += 1
    assert checked >= 20


def test_many_folders_fit_80_columns_in_blocks(runs, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["compare", str(runs["a"]), str(runs["b"]), str(runs["c"]), str(runs["b"])]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    heads = [line for line in out.splitlines() if line.startswith("metric ")]
    assert len(heads) == 3                                   # one folder beside the base per block
    assert all("A (base)" in h for h in heads)
    assert [h.split()[-1] for h in heads] == ["A", "A", "A"]        # ... B vs A, C vs A, D vs A
    assert [h.split()[-3] for h in heads] == ["B", "C", "D"]
    wide = comparison_text(compare([runs["a"], runs["b"], runs["c"]]), None)
    assert len([line for line in wide.splitlines() if line.startswith("metric ")]) == 1   # no width: one table


def test_a_metric_missing_in_one_folder_reads_a_dash(runs, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(runs["b"], old)
    summary = _summary(old)
    del summary["latency"]["queue"]                           # (a summary of a version without it)
    (old / "summary.json").write_text(json.dumps(summary))
    rows = {r.key: r for r in compare([runs["a"], old]).rows}
    assert rows["latency.queue.p99"].values[1] is None and rows["latency.queue.p99"].changes[1] is None
    assert main(["compare", str(runs["a"]), str(old)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("queue wait p99"))
    assert line.split()[-2:] == [MISSING, MISSING]


def test_revenue_rows_only_when_a_run_has_income(runs, capsys):
    rows = {r.key: r for r in compare([runs["a"], runs["r"]]).rows}
    sr = _summary(runs["r"])
    assert sr["cashflow"]["revenue"] > 0
    assert rows["cashflow.revenue"].values == [0.0, sr["cashflow"]["revenue"]]
    assert rows["cashflow.revenue"].changes[1] == {"absolute": sr["cashflow"]["revenue"], "relative": None}
    assert rows["cashflow.net"].changes[1]["absolute"] == pytest.approx(sr["cashflow"]["revenue"], rel=1e-9)


def _sweep(runs, tmp_path) -> Path:
    out = tmp_path / "sweep"
    assert main(["sweep", str(runs["scenario"]), "--grid", "fleet.pools.0.replicas=1", "--out", str(out),
                 "--quiet", "--no-figures"]) == 0
    return out


@pytest.mark.parametrize("case, expected", [
    ("missing", "{p}: no such result folder (fleetsim compare reads the folders fleetsim run --out DIR wrote)"),
    ("file", "{p}: a file, not a result folder (fleetsim compare reads the folders fleetsim run --out DIR wrote)"),
    ("empty", "{p}: no summary.json, so not a run's result folder (fleetsim compare reads the folders fleetsim "
              "run --out DIR wrote)"),
    ("sweep", "{p}: the result of a fleetsim sweep (sweep.json), not of one run: fleetsim compare reads the "
              "folders fleetsim run --out DIR wrote (fleetsim report {p} shows the sweep)"),
    ("unfinished", "{p}: the points of a fleetsim sweep, plan or saturation search, not one run's result: fleetsim "
                   "compare reads the folders fleetsim run --out DIR wrote"),
    ("not json", "{p}/summary.json: not a fleetsim summary (invalid JSON: Expecting value: line 1 column 1 (char 0))"),
    ("damaged", "{p}/summary.json: slo.attainment: 1.5 is outside [0, 1]\n"
                "{p}/summary.json: not as fleetsim writes it: write the folder again (fleetsim run SCENARIO --out {p})"),
    ("summary a looping link", "{p}/summary.json: a symbolic link that loops (following it never reaches a file or "
                               "folder); remove the link, or point it at the file it stands for"),
    ("summary too deep", "{p}/summary.json: not a fleetsim summary (nested too deeply)"),
    ("bad scenario", "{p}/scenario.json: not a scenario as fleetsim writes it (invalid JSON: Expecting value: line 1 "
                     "column 1 (char 0)); write the folder again, or move the file out of the folder to compare "
                     "without it"),
])
def test_anything_but_a_run_folder_is_refused(runs, tmp_path, capsys, case, expected):
    p = tmp_path / case.replace(" ", "_")
    if case == "file":
        p.write_text("x")
    elif case == "empty":
        p.mkdir()
    elif case in ("sweep", "unfinished"):
        p = _sweep(runs, tmp_path)
        if case == "unfinished":          # (stopped before its result files: the finished points only)
            for name in ("sweep.json", "sweep.csv", "sweep_ci.csv", "scenario.json"):
                (p / name).unlink(missing_ok=True)
        capsys.readouterr()
    elif case in ("not json", "damaged", "bad scenario", "summary a looping link", "summary too deep"):
        shutil.copytree(runs["a"], p)
        if case == "summary a looping link":
            (p / "summary.json").unlink()
            (p / "summary.json").symlink_to("summary.json")
        elif case == "summary too deep":
            (p / "summary.json").write_text("[" * 100_000 + "]" * 100_000)
        elif case == "not json":
            (p / "summary.json").write_text("oops")
        elif case == "damaged":
            summary = _summary(p)
            summary["slo"]["attainment"] = 1.5
            (p / "summary.json").write_text(json.dumps(summary))
        else:
            (p / "scenario.json").write_text("oops")
    assert main(["compare", str(runs["a"]), str(p)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == expected.format(p=p) + "\n"


def test_one_folder_is_not_a_comparison(runs, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["compare", str(runs["a"])])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("fleetsim compare: error: the following arguments are required: DIR_B (DIR_B: "
                                       "one or more result folders of fleetsim run --out to compare with the base); "
                                       "fleetsim compare --help lists the options\n")


@pytest.mark.parametrize("flag", ["--out", "--html"])
def test_out_never_replaces_a_figure_of_a_result(runs, tmp_path, capsys, flag):
    """A result's figures (``figures/*.svg``, drawn by ``fleetsim run``) are its files too: ``--out
    results/b/figures/cashflow.svg`` wrote JSON over the figure. A new file there is written."""
    from sim.errors import InputError
    from sim.report.comparison import compare as comparison_of
    from sim.report.comparison_page import write_comparison_page

    b = tmp_path / "b"
    shutil.copytree(runs["b"], b)
    (b / "figures").mkdir(exist_ok=True)
    target = b / "figures" / "cashflow.svg"
    target.write_text("<svg/>")
    assert main(["compare", str(runs["a"]), str(b), flag, str(target)]) == 2
    assert "which writing it would replace" in capsys.readouterr().err
    with pytest.raises(InputError, match="which writing it would replace"):
        write_comparison_page(comparison_of([runs["a"], b]), target)
    assert target.read_text() == "<svg/>"
    assert main(["compare", str(runs["a"]), str(b), flag, str(b / "figures" / "new.out")]) == 0
    assert (b / "figures" / "new.out").stat().st_size > 0


@pytest.mark.parametrize("name", ["summary.json", "requests.csv.gz", "timeseries.csv", "ledger.csv"])
@pytest.mark.parametrize("flag", ["--out", "--html"])
def test_out_never_replaces_a_file_of_a_result(runs, capsys, name, flag):
    """Neither output replaces a file of the folders compared: those it reads, nor the rest of a result
    (``--out results/b/ledger.csv`` wrote JSON over the run's ledger)."""
    target = runs["b"] / name
    before = target.read_bytes()
    assert main(["compare", str(runs["a"]), str(runs["b"]), flag, str(target)]) == 2
    assert "which writing it would replace" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_relative_change_of_a_zero_base_is_none():
    from sim.report.comparison import change
    from sim.report.comparison_words import change_cell

    assert change(0, 2.0) == {"absolute": 2.0, "relative": None}
    assert change_cell("latency.ttft.p99", change(0, 0.002)) == "+2 ms"
    assert math.isclose(change(4, 6)["relative"], 0.5)


def test_a_relative_change_past_a_float_is_not_said():
    """1e308 req/s against 12.4: the share (8e306) is a float, its per cent (8e308) is not; the cell
    read '(+inf %)'."""
    from sim.report.comparison import change
    from sim.report.comparison_words import change_cell

    delta = change(12.4, 1e308)
    assert math.isfinite(delta["relative"])
    assert change_cell("throughput.requests_per_s", delta) == "+1e+308 req/s"


@pytest.mark.parametrize("inherited,own,differs", [(0, 0, False), (64, 64, False), (64, 0, True)])
def test_a_class_prefix_left_unset_is_the_workloads(runs, tmp_path, inherited, own, differs):
    """A class's ``shared_prefix_tokens`` unset (``null``, what fleetsim writes since the default became
    unset) is the workload's: against a folder that wrote the same prefix as a number (``0``, the
    default before) nothing differs; a class's own ``0`` under a workload's 64 is a difference."""
    folders = []
    for name, value in (("old", own), ("new", None)):
        folder = tmp_path / name
        shutil.copytree(runs["a"], folder)
        data = json.loads((folder / "scenario.json").read_text())
        data["workload"]["shared_prefix_tokens"] = inherited
        data["workload"]["classes"] = [{"name": "chat", "share": 1.0, "shared_prefix_tokens": value}]
        (folder / "scenario.json").write_text(json.dumps(data))
        folders.append(folder)
    differences = dict(compare(folders).differences)
    if differs:
        assert differences == {"workload.classes.0.shared_prefix_tokens": [0, 64]}
    else:
        assert differences == {}


def test_help_reads_as_plain_text():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sim", "compare", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "`" not in out.stdout and "DIR_A DIR_B" in out.stdout
    assert "compare" in subprocess.run([sys.executable, "-m", "sim", "--help"], capture_output=True, text=True).stdout


def test_classes_and_pools_have_rows_of_their_own(tmp_path, capsys):
    """The shipped two-class, two-pool scenario: each class's TTFT, TPOT and SLO attainment and each pool's
    load factor are rows, their values the summary's own."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "dedicated_long_context.yaml"
    a = _run(path, tmp_path / "a", "duration=1m", "warmup=0")
    b = _run(path, tmp_path / "b", "duration=1m", "warmup=0", "workload.arrival.rate=50")
    sa, sb = _summary(a), _summary(b)
    comparison = compare([a, b])
    rows = {r.key: r for r in comparison.rows}
    assert comparison.differences == [("workload.arrival.rate", [40.0, 50.0])]
    for name in sa["classes"]:
        for key in ("latency.ttft.p99", "latency.tpot.p99", "slo.attainment"):
            row = rows[f"classes.{name}.{key}"]
            assert row.values == [value_at(sa["classes"][name], key), value_at(sb["classes"][name], key)]
            assert row.label.startswith(f"{name}: ")
    for name in sa["pools"]:
        assert rows[f"pools.{name}.load_factor"].values == [sa["pools"][name]["load_factor"],
                                                           sb["pools"][name]["load_factor"]]
    capsys.readouterr()
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    table = out[out.index("\nmetric "):].splitlines()
    assert max(len(line) for line in table) <= 80       # two folders fit 80 columns as they are
    assert "chat: SLO attainment" in out and "pool long: load factor" in out


def test_without_scenario_json_the_seed_and_run_length_are_compared(runs, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(runs["c"], bare)
    (bare / "scenario.json").unlink()
    comparison = compare([runs["a"], bare])
    assert comparison.notes == [f"no scenario.json in {bare}: only the seed and the run length are compared"]
    assert comparison.differences == [("seed", [3, 4])]          # both ran DURATION seconds
    assert {r.key: r for r in comparison.rows}["throughput.requests_per_s"].values[1] == \
        _summary(runs["c"])["throughput"]["requests_per_s"]


def test_scenario_json_keeps_the_names_a_scenario_writes(runs, tmp_path):
    """A revenue line's ``from`` is written to ``scenario.json`` as ``from`` (the name ``--set`` and a
    scenario use), not as the schema's Python attribute ``from_``, and the difference says ``from``."""
    d = _run(runs["scenario"], tmp_path / "d",
             "economics.revenue=[{name: api, usd_per_million_output_tokens: 10.0, from: 2025-01-01}]")
    written = json.loads((d / "scenario.json").read_text())
    assert written["economics"]["revenue"][0]["from"] == "2025-01-01"
    assert "from_" not in json.dumps(written)
    diff = dict(compare([runs["r"], d]).differences)
    assert "economics.revenue.0.from" in diff


def test_a_difference_within_rounding_is_none():
    """Two sums of the same numbers taken in another order differ in the last bits: no change, not
    ``-1.73e-15 ms (-2e-14 %)``."""
    from sim.report.comparison import change
    from sim.report.comparison_words import change_cell

    a = 0.1 + 0.2 + 0.3
    b = 0.3 + 0.2 + 0.1
    assert a != b
    assert change(a, b) == {"absolute": 0, "relative": 0.0}
    assert change_cell("latency.ttft.mean", change(a, b)) == "0 ms (0.0 %)"
    assert change(a, a * (1 + 1e-9))["absolute"] > 0       # a real (if small) change stays one


def test_each_scenario_json_is_read_once_and_one_no_scenario_would_pass_is_compared_as_written(runs, tmp_path,
                                                                                              monkeypatch):
    """Each folder's ``scenario.json`` is opened once (it was opened up to three times: checked as a file,
    validated, then read again as written when it is no valid scenario). A JSON object that no scenario
    would pass (a fleet that is a number) is compared as it is written: its keys against the base's
    validated ones, by hand."""
    import builtins
    import io

    odd = tmp_path / "odd"
    shutil.copytree(runs["a"], odd)
    (odd / "scenario.json").write_text(json.dumps({"seed": 3, "fleet": 5}))
    opened: list[str] = []
    real = io.open

    def counting(file, *args, **kwargs):
        opened.append(Path(file).name if isinstance(file, (str, Path)) else "")
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting)
    monkeypatch.setattr(io, "open", counting)
    comparison = compare([runs["a"], odd, runs["b"]])
    monkeypatch.undo()
    assert opened.count("scenario.json") == 3
    diff = dict(comparison.differences)
    base = json.loads((runs["a"] / "scenario.json").read_text())
    assert diff["fleet"][1] == 5 and isinstance(diff["fleet"][0], dict) and diff["fleet"][2]["pools"][0]["replicas"] == 2
    # seed 3 in all three; every other key differs, but the fluid block only the fluid tier reads, and none ran in it
    assert set(diff) == set(base) - {"seed", "fluid"}
    assert any(n.startswith("fluid differs in the scenarios but is read by the fluid tier only") for n in comparison.notes)
    assert all(diff[k][1] is ABSENT for k in diff if k != "fleet")
