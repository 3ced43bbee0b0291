"""Hostile input, round 24: ``sim.run(..., out=...)`` refusing what ``fleetsim run --out`` refuses, with the
same message; a rate scale that leaves no arrival in the run; ``fleetsim saturation``'s ``--attainment`` beside
an attainment ``--constraint``; ``fleetsim compare`` of many results on an 80- and a 120-column terminal; then
the corners of the newest keys (``autoscale.tolerance``, the fluid tier's trace replay, result-folder swaps,
reprice, settlements).

Each refusal is exit 2 from the command line (a :class:`~sim.errors.ScenarioError` or
:class:`~sim.errors.InputError` from Python) with a message naming the file, the field and what is allowed;
never a traceback, and never a result that silently means something else.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import hostile_cases as hc
from sim.errors import InputError

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ 1. sim.run(out=...) as --out
def _bad_out(kind: str, tmp_path: Path) -> str:
    """A folder no result may be written to, of each kind ``fleetsim run --out`` refuses."""
    if kind in ("/", "/usr/.."):
        return kind
    if kind == "a file":
        (tmp_path / "notes.txt").write_text("mine")
        return str(tmp_path / "notes.txt")
    if kind == "a looping link":
        os.symlink(tmp_path / "loop", tmp_path / "loop")
        return str(tmp_path / "loop")
    if kind == "under a file":
        (tmp_path / "f").write_text("mine")
        return str(tmp_path / "f" / "r")
    if kind == "a result's figures":
        res = tmp_path / "res"
        (res / "figures").mkdir(parents=True)
        (res / "command.json").write_text('{"command": "run"}')
        return str(res / "figures" / "b")
    if kind == "a folder where a result's file goes":
        res = tmp_path / "res"
        (res / "summary.json").mkdir(parents=True)
        return str(res)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["/", "/usr/..", "a file", "a looping link", "under a file",
                                  "a result's figures", "a folder where a result's file goes"])
def test_the_python_api_refuses_the_out_the_command_line_refuses_with_its_message(tmp_path, capsys, kind):
    """``sim.run(..., out="/")`` ran the whole scenario, then wrote summary.json, figures/ and the rest among
    the system's folders (as root, it could), where ``fleetsim run --out /`` is refused before the run. Both
    now go through one check (:mod:`sim.out_folder`); the message is the command line's with ``out`` for
    ``--out``, and comes before the scenario is read (a scenario that does not exist is not reached)."""
    import sim

    path = _scenario(tmp_path)
    out = _bad_out(kind, tmp_path)
    assert _main(["run", str(path), "--out", out, "--quiet"]) == 2
    (said,) = _err(capsys)
    assert said.startswith("--out: ")
    with pytest.raises(InputError) as exc:
        sim.run(tmp_path / "no-such-scenario.yaml", out=out)
    assert str(exc.value) == said.replace("--out", "out")
    assert "no-such-scenario" not in str(exc.value)


@pytest.mark.parametrize("command", ["sweep", "plan", "saturation"])
@pytest.mark.parametrize("out", ["/", "/usr/.."])
def test_sweep_plan_and_saturation_of_the_python_api_refuse_the_root_as_out(tmp_path, command, out):
    """``sim.sweep(..., out="/")`` (and plan, saturation) marked the root as its folder and stored its points
    in ``/points``: the command line's check of ``--out`` is now the API's too, before any point runs."""
    import sim

    path = _scenario(tmp_path)
    call = {"sweep": lambda: sim.sweep(path, {"seed": [1, 2]}, out=out, executor="serial"),
            "plan": lambda: sim.plan(path, {"fleet.pools.0.replicas": [1, 2]}, constraints=["ttft.p99<=5"],
                                     out=out, executor="serial"),
            "saturation": lambda: sim.saturation(path, out=out, executor="serial")}[command]
    with pytest.raises(InputError) as exc:
        call()
    assert str(exc.value) == (f"out: {out} is the file system's root, not a folder of its own: a result folder "
                              f"holds a dozen files and a figures/ folder; give one such as /results/run")
    assert not Path("/points").exists() and not Path("/command.json").exists()


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("files, owner", [
    ({"command.json": b'{"command": "sweep"}', "points/a.json": b"{}", "scenario.json": b"{}",
      "figures/sweep.png": b"png"}, "the results of fleetsim sweep ({x}/command.json)"),
    ({"plan.json": b"{}"}, "the results of fleetsim plan ({x}/plan.json)"),
    ({"points/a.json": b"{}"}, "the finished points of a sweep, plan or saturation search ({x}/points)")])
@pytest.mark.parametrize("command", ["run", "reprice"])
def test_the_python_api_refuses_another_commands_folder_as_out_as_the_command_line_does(tmp_path, capsys, files,
                                                                                        owner, command):
    """``sim.run(..., out=<a sweep's folder>)`` (and ``sim.reprice``) wrote the run's files among the sweep's,
    its scenario.json and figures/ replaced by the run's, where ``fleetsim run --out`` refuses the folder
    (``claim_folder``). The API now refuses it with the command line's message (``out`` for ``--out``), the
    folder left as it was."""
    import sim

    path = _scenario(tmp_path, {**hc._small(), "duration": 10})
    x = tmp_path / "x"
    for name, body in files.items():
        (x / name).parent.mkdir(parents=True, exist_ok=True)
        (x / name).write_bytes(body)
    before = _tree(x)
    if command == "reprice":
        sim.run(path, out=tmp_path / "r")
    argv = ["run", str(path)] if command == "run" else ["reprice", str(tmp_path / "r"), "--set", "economics.gpu_hour_usd=3"]
    assert _main([*argv, "--out", str(x), "--quiet"] if command == "run" else [*argv, "--out", str(x)]) == 2
    said = _err(capsys)[-1]
    assert said == (f"--out: {x} holds {owner.format(x=x)}: fleetsim {command} would mix its own with them; give "
                    f"another folder, e.g. --out {x}-{command}")
    with pytest.raises(InputError) as exc:
        if command == "run":
            sim.run(path, out=x)
        else:
            sim.reprice(tmp_path / "r", ["economics.gpu_hour_usd=3"], out=x)
    assert str(exc.value) == said.replace("--out", "out")
    assert _tree(x) == before


# ------------------------------------------------------------------ 2. a rate scale that leaves no arrival
def _trace_scenario(tmp_path, rate_scale: float, fidelity: str = "request", classes: bool = False) -> Path:
    sc = hc._small()
    arrival = {"process": "trace", "path": str(hc.TRACE), "rate_scale": rate_scale}
    if classes:     # the trace as a class's own arrivals, beside a Poisson class
        sc["workload"]["classes"] = [{"name": "chat", "arrival": arrival},
                                     {"name": "batch", "arrival": {"process": "poisson", "rate": 1}}]
        del sc["workload"]["arrival"]
    else:
        sc["workload"]["arrival"] = arrival
    sc["fidelity"] = fidelity
    return _scenario(tmp_path, sc)


# the sample trace: 200 rows from 0.1249 s to 52.4308 s, a mean gap of 52.3059 / 199 = 0.262844 s
@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("fidelity", ["request", "fluid"])
@pytest.mark.parametrize("classes", [False, True])
def test_a_rate_scale_under_every_processes_floor_is_refused_naming_the_field(tmp_path, capsys, command,
                                                                               fidelity, classes):
    """``rate_scale: 1e-300`` ran, saw no arrival and said nothing; a ``rate`` under 1e-12 requests/s is
    refused (no run is long enough to see a request), so the trace's copies at 1e-300 / 0.262844 s =
    3.8e-300 requests/s are too, with the least scale for this trace: 1e-12 x 0.262844 = 2.62844e-13."""
    path = _trace_scenario(tmp_path, 1e-300, fidelity, classes)
    assert _main([command, str(path)] + (["--quiet"] if command == "run" else [])) == 2
    field = "workload.classes.0.arrival" if classes else "workload.arrival"
    assert f"{path}: {field}.rate_scale: {hc.TRACE}: rate_scale 1e-300 copies of rows a mean 0.262844 s apart " \
           f"arrive at 3.8e-300 requests/s; at least 1e-12 requests/s, about one request in 31,700 years, as for " \
           f"every arrival process (no run is long enough to see a request at a smaller rate): rate_scale at " \
           f"least 2.62844e-13 for this trace" in _err(capsys)


@pytest.mark.parametrize("classes", [False, True])
def test_a_rate_scale_leaving_fewer_than_one_expected_arrival_in_the_run_warns(tmp_path, classes):
    """200 rows inside the 60 s run at 1e-4 copies each: 0.02 requests expected, most likely none; legal (a
    run may be lucky) but said, as a burst after the end of the run is. 1 / 200 = 0.005 brings one."""
    import sim
    from sim.errors import ScenarioWarning

    path = _trace_scenario(tmp_path, 1e-4, classes=classes)
    field = "workload.classes.0.arrival" if classes else "workload.arrival"
    with pytest.warns(ScenarioWarning) as got:
        sim.load_scenario(path)
    said = [str(w.message) for w in got if "rate_scale" in str(w.message)]
    assert said == [f"{field}.rate_scale: {hc.TRACE}: rate_scale 0.0001 brings 0.02 requests on average into the "
                    f"60 s run, fewer than one: the run most likely sees no arrival and measures nothing; "
                    f"rate_scale at least 0.005 brings one on average"]


@pytest.mark.parametrize("rate_scale", [0.005, 0.5, 1.0])
def test_a_rate_scale_bringing_one_expected_arrival_or_more_says_nothing(tmp_path, rate_scale):
    import warnings

    import sim

    path = _trace_scenario(tmp_path, rate_scale)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        sim.load_scenario(path)
    assert [str(w.message) for w in got if "rate_scale" in str(w.message)] == []


@pytest.mark.parametrize("gap, scale, side", [
    (0.123456449, 1e-20, "least"),     # 1e-12 x gap = 1.23456449e-13, which 6 figures round down
    (0.262843719, 1e-20, "least"),     # the sample trace's gap: 2.628437e-13, rounded up
    (1e13, 0.5, "least"),              # rows 1e13 s apart: 1e-12 x gap = 10, but rate_scale 1 is the trace as it is
    (2 / 3, 1e8, "most"),              # 1e7 x gap = 6,666,666.67, which 6 figures round up
    (86_400.0, 1e12, "most")])
def test_the_scale_a_refused_rate_scale_is_told_to_take_is_taken_and_one_percent_past_it_refused(gap, scale, side):
    """A refused ``rate_scale`` names the least (or most) scale the trace takes; that scale must be taken and one
    1 % past it refused. The least was ``1e-12 x gap`` to six figures: rounded down (1.23456e-13 for a gap of
    0.123456449 s) it was itself refused, and for rows 1e13 s apart it read 10 where 1, the trace replayed as it
    is, is taken (only thinning is held to the floor); the most, ``1e7 x gap`` rounded up (6.66667e+06 for a gap of
    2/3 s), was refused too."""
    import re

    from sim.scenario.workload import TraceArrival
    from sim.workload.arrivals import trace_rate_problem

    times = np.array([0.0, gap, 2 * gap])
    said = trace_rate_problem(times, TraceArrival(process="trace", path="x.csv", rate_scale=scale))
    told = float(re.fullmatch(rf".*: rate_scale at {side} (\S+) for this trace", said).group(1))
    if gap == 1e13:
        assert told == 1.0
    assert trace_rate_problem(times, TraceArrival(process="trace", path="x.csv", rate_scale=told)) is None
    past = told * (0.99 if side == "least" else 1.01)
    assert trace_rate_problem(times, TraceArrival(process="trace", path="x.csv", rate_scale=past)) is not None


# ------------------------------------------------------------------ 3. saturation: --attainment beside --constraint
@pytest.mark.parametrize("flags, bound", [
    ([], "slo.attainment>=0.95"),                         # the default 0.99 beside another bound
    (["--attainment", "0.9"], "slo.attainment>=0.95"),
    (["--attainment", "0.99"], "slo.attainment>0.99"),    # the same number, a strict bound
])
def test_saturation_refuses_a_second_lower_bound_on_the_attainment(tmp_path, capsys, flags, bound):
    """``--constraint slo.attainment>=0.95`` beside ``--attainment`` (0.99 by default) searched with both: only
    the tighter counted, silently, and the table said both ("needs >= 99 %; ... needs >= 95 %"). Refused now,
    as plan refuses a metric bounded twice from one side, before any probe runs."""
    attainment = flags[1] if flags else "0.99"
    op, value = bound.removeprefix("slo.attainment")[:-len("0.95")], bound[-4:]
    out = tmp_path / "sat"
    assert _main(["saturation", str(_scenario(tmp_path)), "--constraint", bound, *flags, "--out", str(out),
                  "--quiet"]) == 2
    assert _err(capsys) == [f"--constraint: slo.attainment{op}{value} bounds the SLO attainment from below beside "
                            f"the attainment searched for, {attainment} (--attainment, 0.99 unless given): only the "
                            f"tighter bound would count; give the bound once, as --attainment {value}"]
    assert not (out / "points").exists()


@pytest.mark.parametrize("extra", [["slo.attainment>=0.9"], ["slo.attainment>=0.9", "slo.attainment>=0.9"]])
def test_saturation_takes_the_attainment_given_again_as_one_constraint(tmp_path, extra):
    """The attainment's own bound given again as a constraint is one constraint (as plan takes one bound
    given twice): the same search, probe for probe, as without it (an M/M/c runner: queueing theory)."""
    import sim
    from sim.planning import MMcRunner

    path = _scenario(tmp_path)
    runner = MMcRunner(service_s=1.0, duration_s=3600.0, rate_path="workload.arrival.rate")
    alone = sim.saturation(path, attainment=0.9, runner=runner, executor="serial")
    again = sim.saturation(path, attainment=0.9, constraints=extra, runner=runner, executor="serial")
    assert again.as_dict() == alone.as_dict()
    assert all("needs >= 90 %" not in (p.get("why") or "").replace("needs >= 90 %", "", 1) for p in again.probes)


# ------------------------------------------------------------------ 4. compare: 27 folders on 80 and 120 columns
@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """27 copies of one run (labels A to AA), each its scenario named ``capacity-planning-experiment-h100-
    configuration-variant-NN``: names that differ only past their first 40 characters."""
    import json
    import shutil

    import sim

    root = tmp_path_factory.mktemp("series")
    path = _scenario(root, {**hc._small(), "duration": 10})
    sim.run(path, out=root / "r00")
    for i in range(27):
        folder = root / f"r{i:02d}"
        if i:
            shutil.copytree(root / "r00", folder)
        scenario = json.loads((folder / "scenario.json").read_text())
        scenario["name"] = f"capacity-planning-experiment-h100-configuration-variant-{i:02d}"
        (folder / "scenario.json").write_text(json.dumps(scenario))
    return [root / f"r{i:02d}" for i in range(27)]


@pytest.mark.parametrize("columns", [80, 120])
def test_compare_of_27_folders_stays_within_the_terminal_and_tells_the_names_apart(series, capsys, monkeypatch,
                                                                                   columns):
    """The heading of the differences listed A → B → ... → AA in one 182-column line; the names, cut to their
    first 40 characters, all read ``capacity-planning-experiment-h100-con...``. Now every line fits the
    terminal (the heading as A → B → … → AA) and each folder's name shows apart from the others'."""
    import re

    from sim.text_table import shown_width

    monkeypatch.setenv("COLUMNS", str(columns))
    assert _main(["compare", *map(str, series)]) == 0
    out = capsys.readouterr().out
    assert max(shown_width(line) for line in out.splitlines()) <= columns
    assert "settings that differ (A → B → … → AA):" in out.splitlines()
    shown = re.findall(r"capacity-planning-\S*variant-\d\d", out.split("settings that differ")[1].split("metric")[0])
    assert [s[-2:] for s in shown] == [f"{i:02d}" for i in range(27)]
    assert [line.split()[-3] for line in out.splitlines() if line.startswith("metric ")][-1] == "AA"


def test_compare_of_a_few_folders_keeps_every_letter_in_the_heading(series, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert _main(["compare", *map(str, series[:4])]) == 0
    assert "settings that differ (A → B → C → D):" in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("n", [2, 3, 4])
def test_compare_of_four_folders_or_fewer_on_a_narrow_terminal_keeps_every_letter(series, capsys, monkeypatch, n):
    """The heading is cut to ``A → B → … → <last>`` where it does not fit; of two folders that read ``A → B →
    … → B`` (B twice, a folder between them that is not there) and of three ``A → B → … → C``, longer than
    the ``A → B → C`` it replaced: with four folders or fewer no letter is left out."""
    monkeypatch.setenv("COLUMNS", "20")
    assert _main(["compare", *map(str, series[:n])]) == 0
    letters = " → ".join("ABCD"[:n])
    assert f"settings that differ ({letters}):" in capsys.readouterr().out.splitlines()


# ------------------------------------------------------------------ the fluid tier's replay of a surge
@pytest.mark.slow       # (its capacity curves measured: ~30 s)
def test_a_trace_whose_rows_share_one_instant_runs_at_fidelity_fluid(tmp_path, capsys):
    """300 rows at t = 5 s: the fluid tier replayed them looped for its curves, and trace replay refuses to loop
    a trace of one time, so the run was refused as ``workload.arrival.path: <the cache's replay file>: cannot
    loop a trace with fewer than two distinct times`` (a file the user never named, a loop never asked for).
    It runs now, its curves measured under batch Poisson clumps of the measured index, as a clumped trace with
    classes is, and says so; the request level serves the same 300 requests."""
    import json

    trace = tmp_path / "same.csv"
    trace.write_text("timestamp_s,prompt_tokens,output_tokens\n" + "5.0,200,50\n" * 300)
    sc = {**hc._small(), "duration": 3600, "fidelity": "fluid"}
    sc["workload"] = {"arrival": {"process": "trace", "path": str(trace)}}
    path = _scenario(tmp_path, sc)
    out = tmp_path / "r"
    assert _main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    assert "cannot loop" not in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["requests"]["completed"] == 300


# ------------------------------------------------------------------ autoscale.tolerance
def _autoscaled(**autoscale) -> dict:
    sc = hc._small()
    sc["fleet"]["pools"][0]["autoscale"] = {"target": 0.5, "max": 4, **autoscale}
    return sc


@pytest.mark.parametrize("autoscale", [{"tolerance": True}, {"tolerance": True, "metric": "kv", "target": 0.95}])
def test_a_tolerance_of_true_is_refused_without_a_warning_about_the_1_it_was_read_as(tmp_path, autoscale):
    """``tolerance: true`` was refused (no number) after a warning that a tolerance of 1 keeps the pool from
    ever shrinking: pydantic read true as 1, and the warning spoke of a value the user never gave."""
    import warnings

    import sim
    from sim.errors import ScenarioError

    path = _scenario(tmp_path, _autoscaled(**autoscale))
    with warnings.catch_warnings(record=True) as said, pytest.raises(ScenarioError) as exc:
        warnings.simplefilter("always")
        sim.load_scenario(path)
    assert [str(w.message) for w in said if "tolerance" in str(w.message)] == []
    assert exc.value.problems == [("fleet.pools.0.autoscale.tolerance", "must be a number, not true")]


def test_a_warning_about_another_field_is_still_said_beside_a_refused_true(tmp_path):
    import warnings

    import sim
    from sim.errors import ScenarioError

    path = _scenario(tmp_path, _autoscaled(tolerance=2.0, cooldown=True))
    with warnings.catch_warnings(record=True) as said, pytest.raises(ScenarioError):
        warnings.simplefilter("always")
        sim.load_scenario(path)
    fields = [str(w.message).split(":")[0] for w in said]
    assert "fleet.pools.0.autoscale.tolerance" in fields and "fleet.pools.0.autoscale.cooldown" not in fields


# ------------------------------------------------------------------ reprice
@pytest.mark.parametrize("out", ["/", "/usr/.."])
def test_reprice_of_the_python_api_refuses_the_root_as_out(tmp_path, out):
    """``sim.reprice(folder, ..., out="/")`` staged the re-priced result beside the root and swapped it in among
    the system's folders, where ``fleetsim reprice --out /`` is refused: the same check, before any work."""
    import sim

    folder = tmp_path / "r"
    sim.run(_scenario(tmp_path), out=folder)
    with pytest.raises(InputError) as exc:
        sim.reprice(folder, ["economics.gpu_hour_usd=2"], out=out)
    assert str(exc.value) == (f"out: {out} is the file system's root, not a folder of its own: a result folder "
                              f"holds a dozen files and a figures/ folder; give one such as /results/run")
    assert not Path("/summary.json").exists()


@pytest.mark.parametrize("given, warned", [({"tolerance": 0.2}, True), ({"tolerance": 0.2, "target": 0.5}, False),
                                           ({"target": 0.5}, False)])
def test_an_autoscale_block_of_a_tolerance_alone_warns_that_it_autoscales_on_the_defaults(tmp_path, given, warned):
    """``--set fleet.pools.0.autoscale.tolerance=0.2`` on a pool without autoscale made the block, and the pool
    autoscaled silently on every other key's default (load_factor, target 0.7, 1 to 64 replicas): a tolerance
    tunes an autoscaler, it does not ask for one."""
    import warnings

    import sim

    sc = hc._small()
    path = _scenario(tmp_path, sc)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        sim.load_scenario(path, [f"fleet.pools.0.autoscale.{k}={v}" for k, v in given.items()])
    only = [str(w.message) for w in said if "only key" in str(w.message)]
    assert only == ([
        "fleet.pools.0.autoscale.tolerance: is the autoscale block's only key, so the pool autoscales on every "
        "other key's default (metric load_factor, target 0.7, min 1, max 64, every 60 s): a tolerance tunes an "
        "autoscaler, it does not make one; give at least target and max, or remove the block to keep the pool's "
        "replicas fixed"] if warned else [])


@pytest.mark.parametrize("given", [{"max_scale_up_pods": 8}, {"scale_up_period": 30}, {"cooldown": 100},
                                   {"scale_up_delay": 5}, {"tolerance": 0.2, "max_scale_up_percent": 50}])
def test_an_autoscale_block_of_tuning_keys_alone_warns_as_one_of_a_tolerance_alone(tmp_path, given):
    """The HPA's scale-up policies (``max_scale_up_pods``, ``max_scale_up_percent``, ``scale_up_period``), the
    cooldown and the start-up delay tune an autoscaler as the tolerance does: ``--set`` of one of them on a
    pool without autoscale made the block, and the pool autoscaled silently on load_factor, target 0.7, 1 to 64
    replicas, where the tolerance alone was warned of. The warning names the keys given."""
    import warnings

    import sim

    path = _scenario(tmp_path, hc._small())
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        sim.load_scenario(path, [f"fleet.pools.0.autoscale.{k}={v}" for k, v in given.items()])
    (only,) = [str(w.message) for w in said if "only key" in str(w.message)]
    keys = " and ".join(given)
    field = f"fleet.pools.0.autoscale.{keys}" if len(given) == 1 else "fleet.pools.0.autoscale"
    assert only.startswith(f"{field}: " + (f"is the autoscale block's only key" if len(given) == 1 else
                                           f"{keys} are the autoscale block's only keys"))
    assert ("(metric load_factor, target 0.7, min 1, max 64, every 60 s)" in only
            and "give at least target and max, or remove the block" in only)


@pytest.mark.parametrize("given", [{"max": 8}, {"metric": "kv"}, {"min": 0}, {"target": 0.5, "cooldown": 100}])
def test_an_autoscale_block_naming_what_it_scales_on_is_not_warned_of_as_tuning_alone(tmp_path, given):
    """``autoscale: {max: 8}`` scales a pool between 1 and 8 replicas (docs/fleet_dynamics.md): a key saying
    what to scale on or between asks for the autoscaler; no warning that it only tunes one."""
    import warnings

    import sim

    path = _scenario(tmp_path, hc._small())
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        sim.load_scenario(path, [f"fleet.pools.0.autoscale.{k}={v}" for k, v in given.items()])
    assert [str(w.message) for w in said if "only key" in str(w.message)] == []
