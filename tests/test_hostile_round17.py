"""Hostile input, round 17: ``-`` given as an output, two commands writing one folder at once, what a
folder keeps of an earlier result when the same command writes it again (or is stopped while writing
it), a sweep's folder holding its own inputs, Ctrl-C in a command's first second, a result folder
holding another run's ``usage.npz``, and a trace going back in time.

Each is exit 2 (130 for Ctrl-C) with a message naming the flag (or folder or file) and what is allowed,
or, where the input is reasonable, accepted and run as meant; never a traceback, a file or folder named
``-``, a result mixed from two commands or two runs, or an input written over.
"""
from __future__ import annotations

import os

import pytest

import hostile_cases as hc

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ '-' as an output
_FOLDER = "'-' is not standard output here: fleetsim writes a folder of files under the name given; give a folder name " \
          "(./- for a folder named '-'{})"
_FILE = "'-' is not standard output here: fleetsim writes the file under the name given; give a file name " \
        "(./- for a file named '-'{})"


@pytest.mark.parametrize("argv,flag,said", [
    (["run", "{s}", "--out", "-"], "--out", _FOLDER.format("; --json prints the summary there")),
    (["run", "{s}", "--out=-"], "--out", _FOLDER.format("; --json prints the summary there")),
    (["sweep", "{s}", "--grid", "seed=1,2", "--out", "-"], "--out", _FOLDER.format("")),
    (["plan", "{s}", "--vary", "fleet.pools.0.replicas=1..2", "--out", "-"], "--out", _FOLDER.format("")),
    (["saturation", "{s}", "--out", "-"], "--out", _FOLDER.format("")),
    (["reprice", "{r}", "--out", "-"], "--out", _FOLDER.format("; --json prints the updated summary there")),
    (["compare", "{r}", "{r}", "--out", "-"], "--out", _FILE.format("; --json prints the comparison there")),
    (["compare", "{r}", "{r}", "--html", "-"], "--html", _FILE.format("")),
    (["calibrate", "--out", "-"], "--out", _FILE.format("")),
    (["calibrate", "--table-out", "-"], "--table-out", _FILE.format("")),
])
def test_a_dash_for_an_output_is_refused_not_made_a_file_named_dash(tmp_path, capsys, monkeypatch, argv, flag, said):
    """``--out -`` wrote a folder (or file) literally named ``-`` in the current folder, and said so as
    ``wrote -/summary.json``: a person reading ``-`` expects standard output. Every output option of
    every command refuses it the same way, before anything runs."""
    monkeypatch.chdir(tmp_path)
    path = _scenario(tmp_path)
    argv = [a.format(s=path, r=tmp_path / "r") for a in argv]
    assert _main(argv) == 2
    command = argv[0]
    assert _err(capsys) == [f"fleetsim {command}: error: argument {flag}: {said}; fleetsim {command} --help lists "
                            "the options"]
    assert not os.path.lexists(tmp_path / "-")


def test_a_folder_named_dash_is_still_written_when_said_as_dot_slash_dash(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _scenario(tmp_path)
    assert _main(["run", str(path), "--out", "./-", "--quiet"]) == 0
    assert (tmp_path / "-" / "summary.json").is_file()
    capsys.readouterr()


# ------------------------------------------------------------------ two commands writing one folder at once
class _SweepingMeanwhile:
    """The simulator's runner, which at its first point starts ``second`` (another command on the same
    folder, in this process: as a second terminal or a notebook cell would) and keeps what it raised."""

    def __init__(self, path, second):
        from sim.planning.runner import SimulationRunner

        self.inner = SimulationRunner(source=str(path), base_dir=str(path.parent))
        self.second, self.raised = second, []

    def __call__(self, scenario, seed, capacity=1.0):
        if self.second is not None:
            second, self.second = self.second, None
            try:
                second()
            except Exception as exc:        # (what a user of the second would see)
                self.raised.append(exc)
        return self.inner(scenario, seed, capacity)


@pytest.mark.parametrize("second", ["sweep", "plan", "saturation"])
def test_a_second_command_on_a_folder_being_written_is_refused(tmp_path, second):
    """Two sweeps (or a sweep and a plan: a folder with no mark yet is anyone's) on one folder at once
    each wrote ``sweep.json``, ``sweep.csv``, ``scenario.json`` and the figures file by file over the
    other's, and both said they were done: the folder could hold one's table and the other's figures.
    The second is refused at once; the first's result is whole and its own."""
    import json

    import sim
    from sim.errors import InputError

    path = _scenario(tmp_path)
    out = tmp_path / "sw"
    calls = {"sweep": lambda: sim.sweep(str(path), {"seed": [7]}, out=out, progress=False, executor="serial"),
             "plan": lambda: sim.plan(str(path), ["fleet.pools.0.replicas=1..2"], constraints=["latency.ttft.p99<=2"],
                                      out=out, progress=False, executor="serial"),
             "saturation": lambda: sim.saturation(str(path), out=out, progress=False, executor="serial")}
    runner = _SweepingMeanwhile(path, calls[second])
    sim.sweep(str(path), {"seed": [1, 2]}, out=out, runner=runner, executor="serial", progress=False)
    assert [type(e) for e in runner.raised] == [InputError]
    assert str(runner.raised[0]) == (
        f"--out: {out}: another fleetsim sweep, plan, saturation search or run is writing there now: fleetsim {second} "
        f"would mix its points and result files with that one's; wait for it to finish, or give another --out")
    data = json.loads((out / "sweep.json").read_text())
    assert data["knobs"][0]["values"] == [1, 2] and len(data["points"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["command.json", "figures", "points", "scenario.json",
                                                     "sweep.csv", "sweep.json", "sweep_ci.csv"]
    assert len(list((out / "points").iterdir())) == 2      # nothing of the second's


def test_the_same_folder_is_free_again_once_the_first_is_done(tmp_path, capsys):
    """One after another is a rerun: the second resumes from the first's points and its result replaces
    the first's whole."""
    path = _scenario(tmp_path)
    out = tmp_path / "sw"
    assert _main(["sweep", str(path), "--grid", "seed=1,2", "--out", str(out), "--quiet", "--executor", "serial"]) == 0
    assert _main(["sweep", str(path), "--grid", "seed=2,3", "--out", str(out), "--quiet", "--executor", "serial"]) == 0
    assert "2 points (1 reused from" in capsys.readouterr().err


def test_a_refused_command_leaves_no_folder_it_made(tmp_path, capsys):
    """The folder is made to be held: one refused before any point ran (here its scenario) is removed again,
    with the folders made above it, and a folder that was there is left."""
    path = _scenario(tmp_path)
    assert _main(["sweep", str(path), "--grid", "seed=1,2", "--set", "workload.arrival.rate=-1", "--out", str(tmp_path / "a" / "b"),
                  "--quiet"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]
    (tmp_path / "kept").mkdir()
    assert _main(["sweep", str(path), "--grid", "seed=1,2", "--set", "workload.arrival.rate=-1", "--out", str(tmp_path / "kept"),
                  "--quiet"]) == 2
    assert (tmp_path / "kept").is_dir()
    capsys.readouterr()


# ------------------------------------------------------------------ a rerun over an earlier result of its own
@pytest.mark.parametrize("again", [["--grid", "workload.arrival.rate=1,3", "--no-figures"],
                                   ["--grid", "workload.arrival.rate=1,3"]])
def test_a_rerun_leaves_no_figure_or_page_of_the_earlier_result(tmp_path, capsys, again):
    """A sweep over ``seed`` then one over the rate into the same folder (the default ``--out`` of a
    scenario) kept ``figures/sweep_seed.svg`` and ``report.html`` of the first beside the second's tables:
    the folder read as a sweep over both, its page as the first's numbers. The views of the earlier
    result go when the new result is written; ``fleetsim report`` draws the new one's."""
    path = _scenario(tmp_path)
    out = tmp_path / "sw"
    assert _main(["sweep", str(path), "--grid", "seed=1,2", "--out", str(out), "--quiet", "--executor", "serial"]) == 0
    assert _main(["report", str(out)]) == 0
    assert (out / "figures" / "sweep_seed.svg").is_file() and (out / "report.html").is_file()
    (out / "figures" / "notes.txt").write_text("mine")
    assert _main(["sweep", str(path), *again, "--out", str(out), "--quiet", "--executor", "serial"]) == 0
    figures = sorted(p.name for p in (out / "figures").iterdir())
    drawn = [] if "--no-figures" in again else ["pareto.png", "pareto.svg", "sweep_arrival_rate.png",
                                                "sweep_arrival_rate.svg"]
    assert figures == sorted(["notes.txt", *drawn])
    assert not (out / "report.html").exists()
    assert _main(["report", str(out)]) == 0
    assert "workload.arrival.rate" in (out / "report.html").read_text()
    capsys.readouterr()


# ------------------------------------------------------------------ Ctrl-C in the command's first second
@pytest.mark.parametrize("numpy_like", [False, True])
def test_ctrl_c_while_the_command_starts_is_said_as_interrupted(monkeypatch, capsys, numpy_like):
    """Most of a command's first second is importing its modules (numpy among them) to build the parser,
    before the command's own handling of Ctrl-C: an interrupt there was a traceback through the imports,
    or exit status 1 with numpy's ``ImportError`` (``PyCapsule_Import could not import module
    "datetime"``), which numpy makes of an interrupt inside its own import. Now, as once the command runs:
    ``interrupted``, exit status 130. (A real SIGINT is sent to this process.)

    The process takes SIGINT as a command started at a terminal does: a shell starting the tests as a
    background job (``pytest ... &``, no job control) has them ignore it, which the command rightly keeps
    (the next test), and the run went on to ``s.yaml: file not found``, exit status 2."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupted_while_starting(monkeypatch, capsys, numpy_like)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted_while_starting(monkeypatch, capsys, numpy_like: bool) -> None:
    import signal
    import time

    import sim.cli

    real = sim.cli.build_parser

    def build_parser(only=None):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)           # (the interrupt arrives well before)
        except KeyboardInterrupt:
            if numpy_like:
                raise ImportError('Original error was: PyCapsule_Import could not import module "datetime"') from None
            raise
        return real(only)

    monkeypatch.setattr(sim.cli, "build_parser", build_parser)
    try:
        status = sim.cli.main(["validate", "s.yaml"])
    except KeyboardInterrupt:       # (before: what the command let out, caught so that pytest goes on)
        pytest.fail("KeyboardInterrupt escaped fleetsim's main")
    assert status == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler      # given back


def test_an_ignored_interrupt_stays_ignored_while_the_command_starts(monkeypatch, tmp_path, capsys):
    """A background job's SIGINT is ignored: the command must not start taking it."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert _main(["validate", str(_scenario(tmp_path))]) == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    capsys.readouterr()


def test_a_rerun_stopped_while_writing_its_result_leaves_no_earlier_result_beside_half_the_new(tmp_path, capsys,
                                                                                              monkeypatch):
    """Ctrl-C (or a full disk) after a rerun's ``sweep.csv`` was written and before its ``sweep.json``:
    the folder held the new table beside the earlier ``sweep.json`` and ``scenario.json`` (another base
    scenario, here another rate), which ``fleetsim report`` and ``compare`` read as one result. Now the
    earlier result's files go first and ``sweep.json`` comes last: the folder holds the points and no
    result file, as a sweep stopped before its end, and the same command writes it whole."""
    import importlib
    import json

    sweep_module = importlib.import_module("sim.planning.sweep")     # (sim.planning.sweep is also the function)
    path = _scenario(tmp_path)
    out = tmp_path / "sw"
    argv = ["sweep", str(path), "--grid", "seed=1,2", "--out", str(out), "--quiet", "--executor", "serial"]
    assert _main(argv) == 0
    real = sweep_module.write_csv

    def write_csv(where, rows):
        if where.name == "sweep_ci.csv":
            raise KeyboardInterrupt
        return real(where, rows)

    monkeypatch.setattr(sweep_module, "write_csv", write_csv)
    assert _main([*argv, "--set", "workload.arrival.rate=3"]) == 130
    assert not (out / "sweep.json").exists()
    assert json.loads((out / "scenario.json").read_text())["workload"]["arrival"]["rate"] == 3
    monkeypatch.setattr(sweep_module, "write_csv", real)
    assert _main([*argv, "--set", "workload.arrival.rate=3"]) == 0
    assert "2 points (2 reused from" in capsys.readouterr().err
    assert len(json.loads((out / "sweep.json").read_text())["points"]) == 2
    assert json.loads((out / "scenario.json").read_text())["workload"]["arrival"]["rate"] == 3


# ------------------------------------------------------------------ reprice fed a folder of two runs
def test_reprice_refuses_a_usage_file_of_another_run(tmp_path, capsys):
    """``usage.npz`` copied from a run of three replicas into a run of one (folders merged by hand, a
    file restored from another run's backup) was re-priced as the one-replica run's: ``compute $0.15``
    for a minute of one GPU at $3 an hour (1/60 h x $3 = $0.05), three times the truth, with that run's
    tokens and latency beside it. A run writes both files from the same numbers, so they must agree."""
    import json
    import shutil

    path = _scenario(tmp_path)
    one, three = tmp_path / "one", tmp_path / "three"
    assert _main(["run", str(path), "--out", str(one), "--quiet"]) == 0
    assert _main(["run", str(path), "--set", "fleet.pools.0.replicas=3", "--out", str(three), "--quiet"]) == 0
    capsys.readouterr()
    assert _main(["reprice", str(one), "--set", "economics.gpu_hour_usd=3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cost"]["compute_usd"] == pytest.approx(3 / 60)   # one GPU, 1 min
    shutil.copy(three / "usage.npz", one / "usage.npz")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in one.iterdir())
    assert _main(["reprice", str(one), "--set", "economics.gpu_hour_usd=3", "--out", str(one)]) == 2
    assert _err(capsys) == [
        f"{one}: usage.npz and summary.json are not of the same run (GPU-hours provisioned: 0.05 in usage.npz, "
        "0.0166667 in summary.json): re-pricing would price the other run's usage as this one's; run the scenario "
        "again with --out"]
    assert sorted((p.name, p.stat().st_mtime_ns) for p in one.iterdir()) == before


# ------------------------------------------------------------------ a trace whose rows go back in time
_BACKWARDS = {
    # epoch seconds, as many logs write them: the previous row was said as 1.7e+09
    "fleetsim": ("timestamp_s,prompt_tokens,output_tokens\n1700000000.5,10,10\n1700000000.25,10,10\n",
                 "timestamp_s", "1700000000.5", "1700000000.25"),
    # Azure date-times: the previous row was said as 65747 (seconds since the first day's midnight)
    "azure": ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:47,374,44\n2023-11-16 18:15:46,396,109\n",
              "TIMESTAMP", "2023-11-16 18:15:47", "2023-11-16 18:15:46"),
}


@pytest.mark.parametrize("fmt", sorted(_BACKWARDS))
def test_a_row_going_back_in_time_names_the_previous_row_as_written(tmp_path, capsys, fmt):
    body, column, previous, got = _BACKWARDS[fmt]
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "t.csv", "format": fmt}}
    path = _scenario(tmp_path, sc)
    (tmp_path / "t.csv").write_text(body)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.path: t.csv: line 3: column '{column}': times must not go "
                            f"backwards (previous row: {previous}) (got {got!r})"]


# ------------------------------------------------------------------ a sweep's folder holding its inputs
@pytest.mark.parametrize("argv", [["sweep", "--grid", "seed=1,2"], ["plan", "--vary", "fleet.pools.0.replicas=1..2"],
                                  ["saturation"]])
def test_a_sweep_plan_or_search_never_writes_over_its_own_scenario_file(tmp_path, capsys, argv):
    """Round 16 kept ``fleetsim run`` from writing its ``scenario.json`` over the scenario saved under that
    name in the ``--out`` folder; a sweep, plan or saturation search still did (its comments, order and
    anything else the file held lost, at the end of every point's run). Refused before the first point."""
    body = ('{"name": "t", "seed": 1, "duration": 60, "model": "llama-3-8b", # mine\n'
            '"workload": {"arrival": {"process": "poisson", "rate": 2}, "prompt_tokens": {"dist": "fixed", '
            '"value": 200}, "output_tokens": {"dist": "fixed", "value": 20}},\n'
            '"slo": {"ttft_s": 2},\n'
            '"fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}\n')
    path = tmp_path / "scenario.json"
    path.write_text(body)
    assert _main([argv[0], str(path), *argv[1:], "--out", str(tmp_path), "--quiet"]) == 2
    assert _err(capsys) == [
        f"--out: {tmp_path}: writing the result there would replace {path}, the scenario file, with the result's own "
        "file of that name; give another folder, or move the file"]
    assert path.read_text() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.json"]


def test_a_plan_never_writes_over_the_trace_it_replays(tmp_path, capsys):
    """A trace named ``plan.csv`` beside the scenario, with ``--out`` that folder: replaced by the plan's
    table once every configuration had run (and the next plan replayed the table as a trace)."""
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "plan.csv", "format": "fleetsim"}}
    (tmp_path / "plan.csv").write_bytes(hc.TRACE.read_bytes())
    path = _scenario(tmp_path, sc)
    assert _main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1..2", "--out", str(tmp_path), "--quiet"]) == 2
    assert _err(capsys) == [
        f"--out: {tmp_path}: writing the result there would replace {tmp_path / 'plan.csv'}, the file "
        "workload.arrival.path names, with the result's own file of that name; give another folder, or move the file"]
    assert (tmp_path / "plan.csv").read_bytes() == hc.TRACE.read_bytes()
    assert _main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1..2", "--out", str(tmp_path / "pl"),
                  "--quiet", "--executor", "serial"]) == 0      # another folder is written as before
    assert (tmp_path / "pl" / "plan.json").is_file()
    capsys.readouterr()


def test_a_first_result_in_a_folder_of_ones_own_leaves_its_page_and_figures(tmp_path, capsys):
    """Only an earlier result's views go: ``--out .`` in a folder of one's own keeps its ``report.html``
    and figures (a figure of the command's own name is written over, as it always was)."""
    path = _scenario(tmp_path)
    (tmp_path / "report.html").write_text("mine")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "mine.png").write_bytes(b"mine")
    assert _main(["sweep", str(path), "--grid", "seed=1,2", "--out", str(tmp_path), "--quiet", "--executor",
                  "serial"]) == 0
    assert (tmp_path / "report.html").read_text() == "mine"
    assert (tmp_path / "figures" / "mine.png").read_bytes() == b"mine"
    assert (tmp_path / "sweep.json").is_file()
    capsys.readouterr()
