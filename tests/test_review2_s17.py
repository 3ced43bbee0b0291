"""Second review of round 17's merged changes: each test failed before the fix beside it.

- a folder on a file system without locks (``flock`` raising ``ENOLCK``, as on NFS without a lock
  daemon): the sweep runs as it does without ``fcntl``, instead of failing with the lock's error (the
  CLI named the scenario file as the one it could not read or write).
"""
from __future__ import annotations

import errno

import hostile_cases as hc


def test_a_folder_whose_file_system_refuses_locks_is_written_without_the_hold(tmp_path, monkeypatch):
    import fcntl

    import sim

    path = hc.write_scenario(tmp_path)
    calls = []

    def no_locks(fd, op):
        calls.append(op)
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    out = tmp_path / "sw"
    sim.sweep(str(path), {"seed": [1]}, out=out, progress=False, executor="serial")
    assert calls, "the sweep never asked for the lock"
    assert (out / "sweep.json").is_file() and (out / "sweep.csv").is_file()
    assert len(list((out / "points").glob("*.json"))) == 1
