"""Second review of round 17's merged changes: each test failed before the fix beside it.

- a folder on a file system without locks (``flock`` raising ``ENOLCK``, as on NFS without a lock
  daemon): the sweep runs as it does without ``fcntl``, instead of failing with the lock's error (the
  CLI named the scenario file as the one it could not read or write).
- a trace row going back in time after a previous row whose time is written long: that time said cut
  with ``...``, not its first 60 characters as if whole.
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


def test_a_long_previous_row_is_said_cut_with_an_ellipsis(tmp_path):
    """The previous row's time, as written with surrounding spaces and 80 digits after the point
    (5.000...01, later than 5), was said as its first 60 characters (5.000...0) with nothing saying it was
    cut: a time that reads as the 5 it is not. Stripped, cut to 57 characters and '...'; a short one whole."""
    import pytest

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
