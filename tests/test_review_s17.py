"""Second look at the merged run-ahead plans, the in-flight load factor and the checks' split:
bugs found, each pinned by a test that failed before its fix.

* The ``local`` executor made its process pool the size of the first batch it was given and kept
  it: a plan's first round runs two points (the top of the range and its likely next probe), its
  later rounds three with ``--workers 3`` (a probe and both of its next ones), so the third waited
  for a process and each such round took two runs' time instead of one.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from sim.planning.executors import LocalExecutor


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
