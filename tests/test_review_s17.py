"""Second look at the merged run-ahead plans, the in-flight load factor and the checks' split:
bugs found, each pinned by a test that failed before its fix.

* The ``local`` executor made its process pool the size of the first batch it was given and kept
  it: a plan's first round runs two points (the top of the range and its likely next probe), its
  later rounds three with ``--workers 3`` (a probe and both of its next ones), so the third waited
  for a process and each such round took two runs' time instead of one.
* A probe run ahead whose worker died (killed, out of memory) broke the process pool and took the
  probe asked for in the same batch with it: that one read "worker lost", a failed point in the
  plan's answer, where a plan without run-ahead (``serial``, one worker) served it. The probes asked
  for in such a batch now run again without any run ahead, as they would have run.

Checked and found right, kept as a test: a plan killed (Ctrl-C or SIGTERM) while a probe runs ahead
leaves only whole finished points, and run again writes the files of a plan never interrupted.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataclasses import dataclass

from sim.planning.capacity import plan
from sim.planning.erlang import MMcRunner
from sim.planning.executors import LocalExecutor
from test_planning_speed import Counting, files


def _meet(marks: str, n: int, i: int) -> tuple[int, bool]:
    """Mark this call as started, then wait (at most 5 s) until ``n`` calls have: True when they all
    ran at once."""
    Path(marks, f"{i}_{os.getpid()}").touch()
    end = time.monotonic() + 5.0
    while time.monotonic() < end and len(os.listdir(marks)) < n:
        time.sleep(0.01)
    return os.getpid(), len(os.listdir(marks)) >= n


def test_a_larger_batch_after_a_smaller_one_runs_on_as_many_processes(tmp_path):
    with LocalExecutor(3) as ex:
        for n in (2, 3, 2, 3):     # the sizes of a plan's rounds with --workers 3
            marks = tmp_path / f"batch{n}_{len(list(tmp_path.iterdir()))}"
            marks.mkdir()
            results = [r for _, r in ex.map_unordered(_meet, [(str(marks), n, i) for i in range(n)])]
            assert all(met for _, met in results), f"a batch of {n} did not run at once"
            assert len({pid for pid, _ in results}) == n


@dataclass(frozen=True)
class _DiesAt(MMcRunner):
    """M/M/c theory, whose worker process dies at ``dies_at`` servers (as one the kernel kills out of
    memory); every other point takes ``wait_s`` first, so a worker dies while it runs."""

    dies_at: int = 0
    wait_s: float = 0.5

    def __call__(self, scenario: dict, seed: int, capacity: float = 1.0) -> dict:
        if scenario["fleet"]["pools"][0]["replicas"] == self.dies_at:
            os._exit(1)
        time.sleep(self.wait_s)
        return super().__call__(scenario, seed, capacity)


def _mmc_plan(runner, executor, out: Path):
    # M/M/c at 3.5 requests/s, 1 s service, TTFT p99 <= 10 s needs 5 servers (13.2 s on 4, 7.0 s on 5):
    # the bisection of 1..16 probes 16, 8, 4, 6, 5; with 4 it runs 2 ahead (the next probe, were 4
    # feasible), which is never asked for
    scenario = {"seed": 1, "workload": {"arrival": {"rate": 3.5}}, "fleet": {"pools": [{"replicas": 1, "gpu": "x"}]}}
    return plan(scenario, ["fleet.pools.0.replicas=1..16"], constraints=["latency.ttft.p99<=10"],
                runner=runner, executor=executor, out=out, figures=False)


def test_a_probe_run_ahead_whose_worker_dies_does_not_fail_the_probe_asked_for(tmp_path):
    a = _mmc_plan(_DiesAt(service_s=1.0, dies_at=2, wait_s=0.0), "serial", tmp_path / "serial")
    with LocalExecutor(2) as pool:
        ahead = Counting(pool)
        b = _mmc_plan(_DiesAt(service_s=1.0, dies_at=2), ahead, tmp_path / "ahead")
    assert [r["overrides"] for r in a.evaluated] == [[f"fleet.pools.0.replicas={v}"] for v in (16, 8, 4, 6, 5)]
    assert not any(r["error"] for r in b.evaluated)
    assert b.best["fleet.pools.0.replicas"] == a.best["fleet.pools.0.replicas"] == 5
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")
    assert ahead.calls > len(a.evaluated)      # 2 was run ahead (and died)



KILLED_PLAN = """
import os, sys, time
from dataclasses import dataclass
from pathlib import Path
from sim.planning.capacity import plan
from sim.planning.erlang import MMcRunner
from sim.planning.executors import LocalExecutor

@dataclass(frozen=True)
class Slow(MMcRunner):
    marks: str = ""
    hold_8_s: float = 0.0

    def __call__(self, scenario, seed, capacity=1.0):
        c = scenario["fleet"]["pools"][0]["replicas"]
        Path(self.marks, f"started_{c}").touch()
        time.sleep(self.hold_8_s if c == 8 else 0.2)
        return super().__call__(scenario, seed, capacity)

if __name__ == "__main__":
    out, marks, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
    scenario = {"seed": 1, "workload": {"arrival": {"rate": 2.5}}, "fleet": {"pools": [{"replicas": 1, "gpu": "x"}]}}
    with LocalExecutor(2) as ex:
        plan(scenario, ["fleet.pools.0.replicas=1..16"], constraints=["latency.ttft.p99<=15"],
             runner=Slow(service_s=1.0, marks=marks, hold_8_s=hold), executor=ex, out=Path(out), figures=False)
"""


def _plan_process(tmp_path: Path, out: str, hold_s: float) -> subprocess.Popen:
    marks = tmp_path / f"marks_{out}"
    marks.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, str(tmp_path / "killed_plan.py"), str(tmp_path / out), str(marks),
                             str(hold_s)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,     # (Ctrl-C's default action even where this test runs
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # ignoring it)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_plan_killed_while_a_probe_runs_ahead_resumes_to_the_same_files(tmp_path, sig):
    """The bisection of 1..16 (answer 3) runs 16 and, ahead, 8. Killed (Ctrl-C to the process group,
    or SIGTERM to the plan) once 16 is stored and while 8 runs: only 16's finished point is left,
    whole; the same plan run again reuses it and writes the files of a plan never interrupted."""
    (tmp_path / "killed_plan.py").write_text(KILLED_PLAN)
    ref = _plan_process(tmp_path, "ref", 0.2)
    assert ref.wait(timeout=120) == 0, ref.stderr.read()
    proc = _plan_process(tmp_path, "killed", 60.0)
    points = tmp_path / "killed" / "points"
    end = time.monotonic() + 60
    while not (len(list(points.glob("*.json"))) >= 1 and (tmp_path / "marks_killed" / "started_8").exists()):
        assert time.monotonic() < end and proc.poll() is None, "16 stored with 8 running ahead"
        time.sleep(0.05)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    assert proc.wait(timeout=30) != 0
    left = sorted(p.relative_to(tmp_path / "killed").as_posix() for p in (tmp_path / "killed").rglob("*")
                  if p.is_file())
    assert len(left) == 2 and left[0] == "command.json" and left[1].startswith("points/")    # 16's, no plan yet
    for p in (tmp_path / "killed").rglob("*.json"):
        json.loads(p.read_text())          # whole
    again = _plan_process(tmp_path, "killed", 0.2)
    assert again.wait(timeout=120) == 0, again.stderr.read()
    assert files(tmp_path / "killed") == files(tmp_path / "ref")
