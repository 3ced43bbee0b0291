"""Faults while writing and resuming: a result folder is never half one run and half another,
``--out`` that cannot hold a result is refused before simulating, a corrupt sweep point is moved
aside and re-run, sweep workers do not outlive their parent."""
from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.atomic import staged_folder

from conftest import scenario

ROOT = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _scenario_file(tmp_path: Path, **over) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(**over)))
    return path


def test_full_disk_leaves_the_earlier_result_whole(tmp_path):
    """A second run into the same folder fails on its first big file (RLIMIT_FSIZE stands in for a
    full disk: writes past it raise EFBIG); the folder still holds the first run, byte for byte."""
    path = _scenario_file(tmp_path, duration=600)
    out = tmp_path / "res"
    cmd = [sys.executable, "-m", "sim", "run", str(path), "--out", str(out), "--quiet", "--figures", "none"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    before = _digest(out)
    assert "requests.csv.gz" in before and (out / "requests.csv.gz").stat().st_size > 8_000

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4_000, 4_000))

    p = subprocess.run(cmd + ["--set", "seed=9"], env=env, capture_output=True, text=True, preexec_fn=small_files)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "cannot read or write a file" in p.stderr
    assert _digest(out) == before
    assert [q.name for q in tmp_path.iterdir() if q.name.startswith(".")] == []      # no staging left


def test_a_new_result_replaces_the_old_and_keeps_foreign_files(tmp_path):
    path = _scenario_file(tmp_path)
    out = tmp_path / "res"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--figures", "png"]) == 0
    (out / "notes.txt").write_text("mine")
    (out / "report.html").write_text("<p>old report</p>")
    assert main(["run", str(path), "--out", str(out), "--quiet", "--set", "seed=4"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cashflow.csv", "figures", "ledger.csv", "notes.txt", "requests.csv.gz", "scenario.json",
                     "settlements.csv", "summary.json", "timeseries.csv", "usage.npz"]
    assert (out / "notes.txt").read_text() == "mine"
    assert not list((out / "figures").glob("*.png"))               # the old run's figures went with it


def test_staged_folder_error_leaves_target_untouched(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    (target / "summary.json").write_text("old")
    with pytest.raises(OSError):
        with staged_folder(target, ("summary.json",)) as stage:
            (stage / "summary.json").write_text("new")
            raise OSError(28, "No space left on device")
    assert (target / "summary.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_writing_into_the_current_folder_keeps_everything_else(tmp_path, monkeypatch):
    path = _scenario_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "latency_cdf.png").write_bytes(b"old")
    assert main(["run", "s.yaml", "--out", ".", "--quiet"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["cashflow.csv", "figures", "ledger.csv", "requests.csv.gz", "s.yaml", "scenario.json",
                     "settlements.csv", "summary.json", "timeseries.csv", "usage.npz"]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "cashflow.svg", "latency_cdf.svg", "timeseries.svg", "utilization.svg"]
    assert path.exists()


def test_a_failed_move_puts_every_entry_back(tmp_path, monkeypatch):
    target = tmp_path / "t"
    target.mkdir()
    for name in ("summary.json", "timeseries.csv", "mine.txt"):
        (target / name).write_text(f"old {name}")
    real = os.rename
    calls = []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == 4:          # past the old entries (2), while moving the new ones in (the second)
            raise OSError(5, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(os, "rename", flaky)
    with pytest.raises(OSError):
        with staged_folder(target, ("summary.json", "timeseries.csv")) as stage:
            (stage / "summary.json").write_text("new")
            (stage / "timeseries.csv").write_text("new")
    monkeypatch.setattr(os, "rename", real)
    assert {p.name: p.read_text() for p in target.iterdir()} == {
        "summary.json": "old summary.json", "timeseries.csv": "old timeseries.csv", "mine.txt": "old mine.txt"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


@pytest.mark.parametrize("out", ["/proc/self", "/proc/self/x"])
def test_unusable_out_is_refused_before_simulating(tmp_path, capsys, monkeypatch, out):
    import sim.api

    def simulate(*args, **kwargs):
        raise AssertionError("simulated")

    monkeypatch.setattr(sim.api, "run", simulate)       # the refusal comes before the run starts
    path = _scenario_file(tmp_path, duration=3600)
    assert main(["run", str(path), "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"--out: cannot ") and "Traceback" not in err


# ------------------------------------------------------------------ sweep point store
@pytest.mark.parametrize("content", [b"[]", bytes(range(256)) * 4, b"{\"key\": \"other\"}", b"[" * 5000])
def test_corrupt_point_is_moved_aside_and_run_again(tmp_path, content):
    from sim.planning.store import CorruptPointWarning
    from sim.planning.sweep import sweep

    sc = scenario(duration=20)
    out = tmp_path / "sw"
    first = sweep(sc, {"fleet.pools.0.replicas": [1, 2]}, executor="serial", out=out, figures=False)
    points = sorted((out / "points").glob("*.json"))
    assert len(points) == 2
    points[0].write_bytes(content)
    with pytest.warns(CorruptPointWarning, match=f"{points[0]}: .*moved to {points[0]}.corrupt; the point runs again"):
        again = sweep(sc, {"fleet.pools.0.replicas": [1, 2]}, executor="serial", out=out, figures=False)
    assert (points[0].parent / (points[0].name + ".corrupt")).read_bytes() == content
    assert [r.get("reused", False) for r in again.records].count(True) == 1
    assert (out / "sweep.csv").read_bytes() == _csv_of(first, tmp_path)


def _csv_of(result, tmp_path) -> bytes:
    from sim.planning.table import write_csv

    write_csv(tmp_path / "first.csv", result)
    return (tmp_path / "first.csv").read_bytes()


def test_corrupt_point_through_the_cli_is_one_warning_line(tmp_path, capsys):
    path = _scenario_file(tmp_path, duration=20)
    out = tmp_path / "sw"
    args = ["sweep", str(path), "--grid", "fleet.pools.0.replicas=1,2", "--executor", "serial", "--out", str(out),
            "--quiet", "--no-figures"]
    assert main(args) == 0
    victim = sorted((out / "points").glob("*.json"))[1]
    victim.write_bytes(b"\x00\xff garbage")
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "store.py" not in err
    assert f"{victim}: is not JSON (UnicodeDecodeError); moved to {victim}.corrupt; the point runs again" in err


# ------------------------------------------------------------------ workers die with their parent
def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sweep_workers_die_with_a_killed_parent(tmp_path):
    import signal

    path = _scenario_file(tmp_path, duration="2h")                  # each point runs for many seconds
    cmd = [sys.executable, "-m", "sim", "sweep", str(path), "--grid", "workload.arrival.rate=40,41",
           "--executor", "local", "--workers", "2", "--out", str(tmp_path / "sw"), "--quiet", "--no-figures"]
    proc = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = [c for c in _children(proc.pid) if _alive(c)]
        assert len(workers) >= 2, "the pool's workers never started"
        time.sleep(1.0)                                              # both are inside a point
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers)
    finally:
        for w in workers:                                            # never leave them behind
            if _alive(w):
                os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
