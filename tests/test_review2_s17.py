"""Second review of round 17's merged changes: each test failed before the fix beside it.

- a folder on a file system without locks (``flock`` raising ``ENOLCK``, as on NFS without a lock
  daemon, or ``EBADF``, NFS's emulation of ``flock`` refusing an exclusive lock on a descriptor opened
  to read, as a folder's is; flock(2), NOTES): the sweep runs as it does without ``fcntl``, instead of
  failing with the lock's error (the CLI named the scenario file as the one it could not read or write).
- ``fleetsim run --out`` holds its folder as a sweep does: a run and a sweep into one folder at once are
  refused, whichever started first; so is ``fleetsim reprice --out`` into a folder a sweep is writing.
- a rerun never drops the figures of a folder its ``figures`` link leads to.
- a trace row going back in time after a previous row whose time is written long: that time said cut
  with ``...``, not its first 60 characters as if whole.
- a result page's header in a folder holding the points of earlier plans over other knobs: a point
  naming none of this result's knobs is not this result's.
- an attainment nearer the 99 % target (or 100 %) than four more decimals show reads on its own side
  of it, not as the target.
"""
from __future__ import annotations

import errno
import os

import pytest

import hostile_cases as hc


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.EBADF])    # (EBADF: NFS's flock on a folder opened to read)
def test_a_folder_whose_file_system_refuses_locks_is_written_without_the_hold(tmp_path, monkeypatch, code):
    import fcntl

    import sim

    path = hc.write_scenario(tmp_path)
    calls = []

    def no_locks(fd, op):
        calls.append(op)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    out = tmp_path / "sw"
    sim.sweep(str(path), {"seed": [1]}, out=out, progress=False, executor="serial")
    assert calls, "the sweep never asked for the lock"
    assert (out / "sweep.json").is_file() and (out / "sweep.csv").is_file()
    assert len(list((out / "points").glob("*.json"))) == 1


def test_a_long_previous_row_is_said_cut_with_an_ellipsis(tmp_path):
    """The previous row's time, as written with surrounding spaces and 80 digits after the point
    (5.000...01, later than 5), was said as its first 60 characters (5.000...0) with nothing saying it was
    cut: a time that reads as the 5 it is not. Stripped, cut to 57 characters and '...'; a short one whole."""
    from sim.errors import InputError
    from sim.workload.traces import read_trace

    long = "5." + "0" * 79 + "1"
    path = tmp_path / "t.csv"
    path.write_text(f"timestamp_s,prompt_tokens,output_tokens\n  {long}  ,10,10\n4,10,10\n")
    with pytest.raises(InputError) as err:
        read_trace(path)
    assert str(err.value) == (f"{path}: line 3: column 'timestamp_s': times must not go backwards "
                              f"(previous row: {long[:57]}...) (got '4')")
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n  5.5 ,10,10\n4,10,10\n")
    with pytest.raises(InputError) as err:
        read_trace(path)
    assert "(previous row: 5.5) (got '4')" in str(err.value)


def test_a_page_header_skips_a_point_of_an_earlier_plan_over_other_knobs(tmp_path):
    """A plan folder rerun with another knob keeps the earlier plans' points. One of an earlier plan over
    the arrival rate (a 120 s run) names none of this plan's knobs, so every field both name agreed
    (none) and it was taken as this plan's point, the first by file name: the header said the earlier
    run's summary. The point of this plan's own configuration (60 s) is the one."""
    import json

    from sim.report.html_page import point_of

    pools = {"p": {"gpu": "h100-sxm", "tensor_parallel": 1}}
    points = tmp_path / "points"
    points.mkdir()
    for name, config, seconds in (("a", {"workload.arrival.rate": 3}, 120.0),
                                  ("b", {"workload.arrival.rate": 5, "duration": 30}, 30.0),
                                  ("c", {"fleet.pools.0.replicas": 1}, 60.0)):
        (points / f"{name}.json").write_text(json.dumps(
            {"config": config, "summary": {"scenario": "t", "pools": pools, "simulated_seconds": seconds}}))
    data = {"evaluated": [{"fleet.pools.0.replicas": 1}, {"fleet.pools.0.replicas": 2}]}
    scenario = {"name": "t", "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm"}]}}
    assert point_of(tmp_path, data, scenario)["simulated_seconds"] == 60.0
    (points / "c.json").unlink()
    assert point_of(tmp_path, data, scenario) is None      # (the header from scenario.json alone)


def test_an_attainment_a_hair_off_the_target_never_reads_as_the_target():
    """``share(apart=...)`` adds up to four decimals until a value does not read as the 99 % target or
    100 %; a value nearer than that (0.99 less a float's last bit: a fluid run's weighted count whose
    exact value is the target, computed a hair under it, and judged NOT met) still read '99.00000%'.
    Read back as a number, the text is on the value's side of every mark it is not."""
    from sim.humanize import share

    marks = (0.99, 1.0)
    for f in (0.9899999999999999, 0.99 - 1e-9, 0.99 + 1e-9, 1 - 1e-12, 0.98996, 0.9996):
        text = share(f, apart=marks)
        shown = float(text.rstrip("%")) / 100
        for m in marks:
            assert (shown < m) == (f < m) and (shown > m) == (f > m), (f, text)
    assert share(0.99, apart=marks) == "99.0%" and share(1.0, apart=marks) == "100.0%"
    assert share(float("nan"), apart=marks) == share(None, apart=marks) == "–"


def test_a_run_and_a_sweep_never_write_one_folder_at_once(tmp_path, capsys, monkeypatch):
    """A sweep, plan or search holds its folder while it runs, but ``fleetsim run --out`` neither asked
    nor held: a run into the folder of a sweep whose first point was still running found it unmarked and
    wrote its summary.json, report and figures beside the sweep's (which then wrote sweep.json there
    too), and a sweep started during a run did the same. Each is refused while the other writes."""
    import sim
    import sim.api
    from sim.errors import InputError
    from sim.planning.store import writing

    path = hc.write_scenario(tmp_path)
    out = tmp_path / "both"
    with writing(out, "sweep"):                 # a sweep writing there now (its first point running)
        assert hc.exit_status(["run", str(path), "--out", str(out), "--quiet"]) == 2
    assert hc.err_lines(capsys) == [
        f"--out: {out}: another fleetsim sweep, plan, saturation search or run is writing there now: fleetsim run "
        f"would mix its result files with that one's; wait for it to finish, or give another --out"]
    assert not out.exists()

    raised, real = [], sim.api.run

    def run_with_a_sweep_meanwhile(*args, **kwargs):
        try:
            sim.sweep(str(path), {"seed": [1]}, out=out, progress=False, executor="serial")
        except InputError as exc:
            raised.append(str(exc))
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.api, "run", run_with_a_sweep_meanwhile)
    assert hc.exit_status(["run", str(path), "--out", str(out), "--quiet"]) == 0
    assert raised == [f"--out: {out}: another fleetsim sweep, plan, saturation search or run is writing there now: "
                      f"fleetsim sweep would mix its points and result files with that one's; wait for it to "
                      f"finish, or give another --out"]
    assert (out / "summary.json").is_file() and not (out / "points").exists() and not (out / "sweep.json").exists()


def test_a_reprice_into_a_folder_a_sweep_is_writing_is_refused(tmp_path, capsys):
    """``fleetsim reprice --out`` wrote its run's files (summary.json, cashflow.csv, report) into the folder
    of a sweep still running its first point, as ``fleetsim run`` did."""
    from sim.planning.store import writing

    path = hc.write_scenario(tmp_path)
    run = tmp_path / "run"
    assert hc.exit_status(["run", str(path), "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "sw"
    with writing(out, "sweep"):
        assert hc.exit_status(["reprice", str(run), "--set", "economics.gpu_hour_usd=3", "--out", str(out)]) == 2
    assert hc.err_lines(capsys) == [
        f"--out: {out}: another fleetsim sweep, plan, saturation search or run is writing there now: fleetsim "
        f"reprice would mix its result files with that one's; wait for it to finish, or give another --out"]
    assert not out.exists()
    assert hc.exit_status(["reprice", str(run), "--set", "economics.gpu_hour_usd=3", "--out", str(out)]) == 0
    assert (out / "summary.json").is_file()


def test_a_rerun_never_drops_figures_from_a_folder_its_figures_link_leads_to(tmp_path):
    """Before writing its result, a rerun drops the earlier result's figures (``figures/*.svg``, ``*.png``).
    Where ``figures`` is a link to a folder of the user's (a paper's figures, say), the glob went through
    it and deleted every figure there, the user's own among them; the command then only writes its own
    over the names it draws, as before round 17. A folder of the result's own is cleared as documented."""
    from sim.planning.store import drop_earlier_result

    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "mine.svg").write_text("<svg/>")
    linked, own = tmp_path / "linked", tmp_path / "own"
    for root in (linked, own):
        root.mkdir()
        (root / "sweep.json").write_text("{}")
    (linked / "figures").symlink_to(paper, target_is_directory=True)
    (own / "figures").mkdir()
    (own / "figures" / "sweep_seed.svg").write_text("<svg/>")
    drop_earlier_result(linked, "sweep")
    drop_earlier_result(own, "sweep")
    assert (paper / "mine.svg").is_file() and not (linked / "sweep.json").exists()
    assert not (own / "figures" / "sweep_seed.svg").exists() and not (own / "sweep.json").exists()


@pytest.mark.parametrize("command", ["plan", "sweep"])
def test_the_python_api_refuses_an_unknown_column_before_anything_runs(tmp_path, command):
    """``sim.plan(columns=...)`` / ``sim.sweep(columns=...)`` check the summary keys among the columns as
    ``--columns`` does (a planner column such as ``$/hour`` is no key), before the first point runs."""
    import sim
    from sim.planning.constraints import UnknownMetricError

    base = {"scenario": str(hc.ROOT / "scenarios" / "baseline.yaml"), "overrides": ["duration=60", "warmup=5"],
            "columns": ["latency.ttft.p99", "$/hour", "latency.ttft.p999x"], "out": tmp_path / "out"}
    with pytest.raises(UnknownMetricError, match=r"^columns: unknown metric latency\.ttft\.p999x"):
        if command == "plan":
            sim.plan(vary=["fleet.pools.0.replicas=1..2"], constraints=["latency.ttft.p99<=2"], **base)
        else:
            sim.sweep(grid=["fleet.pools.0.replicas=1,2"], **base)
    assert not (tmp_path / "out" / "points").exists() or not any((tmp_path / "out" / "points").iterdir())
