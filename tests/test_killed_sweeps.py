"""What a killed sweep leaves running (docs/planning.md, "Executors").

``local``: every pool worker checks twice a second that the sweep that started it is still there
and exits if not (:func:`sim.planning.executors.die_with_parent`), so ``SIGKILL`` leaves no orphan.
``dask`` without ``--scheduler``: the ``LocalCluster``'s worker processes are the sweep's children
and exit with it too. ``dask`` with ``--scheduler``: the cluster outlives its client by design; the
scheduler drops the sweep's queued points when the client goes, but a point already running runs
to its end on its worker (Dask cannot stop a running task) and its result is thrown away.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

POINTS = """
import os, sys, time
from sim.planning.executors import make_executor

MARKS, SECONDS = sys.argv[1], float(sys.argv[2])

def point(i):
    open(os.path.join(MARKS, f"started_{i}_{os.getpid()}"), "w").close()
    t0 = time.monotonic()
    while time.monotonic() - t0 < SECONDS:      # busy, as a simulation is
        sum(range(1000))
    open(os.path.join(MARKS, f"done_{i}"), "w").close()
    return i

if __name__ == "__main__":
    kind, scheduler = sys.argv[3], (sys.argv[4] if len(sys.argv) > 4 else None)
    with make_executor(kind, workers=None if scheduler else 2, scheduler=scheduler) as ex:   # (a cluster has its own)
        for _ in ex.map_unordered(point, [(i,) for i in range(6)]):
            pass
"""


def _alive(pid: int) -> bool:
    """Running (an exited orphan nobody has reaped yet, a zombie, counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "\nState:\tZ" not in status


def _wait_for(predicate, timeout_s: float, what: str):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def _started(marks: Path) -> list[tuple[int, int]]:
    """(point, worker pid) of every point that started."""
    return sorted((int(p.name.split("_")[1]), int(p.name.split("_")[2])) for p in marks.glob("started_*"))


def _start_sweep(tmp_path: Path, seconds: float, *args: str) -> tuple[subprocess.Popen, Path]:
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "points.py").write_text(POINTS)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "points.py"), str(marks), str(seconds), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return proc, marks


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.mark.parametrize("kind", ["local", "dask"])
def test_a_killed_sweep_leaves_no_worker_running_on_this_machine(tmp_path, kind):
    if kind == "dask":
        pytest.importorskip("distributed")
    proc, marks = _start_sweep(tmp_path, 60.0, kind)
    pids: set[int] = set()
    try:
        running = _wait_for(lambda: len(_started(marks)) >= 2 and _started(marks), 90, "two points to start")
        _kill(proc)
        pids = {pid for _, pid in running}
        assert pids and os.getpid() not in pids
        _wait_for(lambda: not any(_alive(p) for p in pids), 10, f"workers {sorted(pids)} to exit")
        assert not list(marks.glob("done_*"))                      # stopped mid-point, not finished
    finally:
        if proc.poll() is None:
            _kill(proc)
        for pid in pids:                                           # a failed check leaves no orphan either
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_remote_cluster_drops_queued_points_and_finishes_the_running_one(tmp_path):
    pytest.importorskip("distributed")
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = open(tmp_path / "cluster.log", "w")
    cluster = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                 "--no-dashboard"], stdout=logs, stderr=logs)]
    try:
        time.sleep(3)
        cluster.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                         "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                                        stdout=logs, stderr=logs))
        proc, marks = _start_sweep(tmp_path, 8.0, "dask", address)
        (point, _), = _wait_for(lambda: _started(marks), 90, "the first point to start")
        _kill(proc)
        _wait_for(lambda: (marks / f"done_{point}").exists(), 30, "the running point to finish")
        time.sleep(3)                                   # time for a queued point to start, if any would
        assert [p for p, _ in _started(marks)] == [point]          # the other five never ran
    finally:
        for p in reversed(cluster):
            p.terminate()
        for p in reversed(cluster):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        logs.close()
