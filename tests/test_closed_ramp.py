"""A closed loop's staggered start (``workload.arrival.ramp_up_s``): client ``i`` (from 0) sends its
first request at ``i * R / N``, as a load generator's spawn rate starts its users.

The scenarios are those of ``tests/test_closed_loop.py``: one server taking one request at a time,
each a 1,000-token prompt at 1 ms a token (``D = 1 s``) and one output token.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import sim
from sim.cli import main

from test_closed_loop import _closed


def _ramped(n: int, ramp, think_s: float = 0.0, duration: float = 100.5) -> dict:
    sc = _closed(n=n, think_s=think_s, prompt={"dist": "fixed", "value": 1000}, duration=duration, warmup=0)
    if ramp is not None:
        sc["workload"]["arrival"]["ramp_up_s"] = ramp
    return sc


def test_first_sends_are_i_r_over_n():
    """Three clients over 10 s who think 1,000 s after a reply: each sends once, at 0, 10/3, 20/3 s,
    and the server (idle between them, D = 1 s) answers each in D."""
    r = sim.run(_ramped(3, 10.0, think_s=1000.0, duration=50))
    rec = r.records
    assert rec["arrival_s"].tolist() == [i * 10.0 / 3 for i in range(3)]
    assert rec["completion_s"].tolist() == [i * 10.0 / 3 + 1.0 for i in range(3)]


def test_a_ramp_given_as_a_duration_text():
    r = sim.run(_ramped(4, "1m", think_s=1000.0, duration="2m"))
    assert r.records["arrival_s"].tolist() == [0.0, 15.0, 30.0, 45.0]


def test_ramp_without_think_time_fills_the_server_client_by_client():
    """Four clients over 8 s, no think time: client 0 alone from t = 0 (a request every D = 1 s),
    client 1 joins at 2 s, ... each new client's request waits behind the one in service and those
    queued. Once all four are in, the server never idles: a completion every D, as without a ramp,
    and every response is 4 D."""
    r = sim.run(_ramped(4, 8.0))
    rec = r.records
    alone = rec[rec["arrival_s"] < 2.0]          # client 0 alone: sent at 0 and 1, each answered in D
    assert alone["arrival_s"].tolist() == [0.0, 1.0] and alone["completion_s"].tolist() == [1.0, 2.0]
    assert int(np.sum(rec["arrival_s"] == 2.0)) == 2     # client 0's third and client 1's first
    done = np.sort(rec["completion_s"][rec["completion_s"] >= 0])
    assert done.tolist() == [float(k) for k in range(1, 101)]   # busy from t = 0: one every D
    late = rec[(rec["arrival_s"] >= 20.0) & (rec["completion_s"] >= 0)]
    assert np.all(late["completion_s"] - late["arrival_s"] == 4.0)


def test_zero_ramp_is_byte_identical_to_none():
    a = sim.run(_ramped(5, None, think_s=0.5))
    b = sim.run(_ramped(5, 0, think_s=0.5))
    assert a.records.tobytes() == b.records.tobytes()
    assert int(np.sum(a.records["arrival_s"] == 0.0)) == 5


def test_same_seed_same_bytes_with_a_ramp():
    sc = _ramped(6, 30.0, think_s=0.5)
    sc["workload"]["arrival"]["think"] = "exponential"
    assert sim.run(sc).records.tobytes() == sim.run(sc).records.tobytes()


def _refused(tmp_path: Path, capsys, sc: dict) -> str:
    path = tmp_path / "ramp.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["run", str(path), "--quiet", "--figures", "none"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and path.name in err, err
    return err


@pytest.mark.parametrize("ramp, words", [
    (-1, "workload.arrival.ramp_up_s: must be >= 0"),
    (".inf", "workload.arrival.ramp_up_s: must be a finite duration"),
    ("soon", "workload.arrival.ramp_up_s: expected a duration"),
    (200, "workload.arrival.ramp_up_s: must be <= duration (100.5 s): the last clients would start after the run "
          "(got 200 s)"),
])
def test_bad_ramp_exits_2_naming_the_field(tmp_path, capsys, ramp, words):
    sc = _ramped(3, ramp)
    if ramp == ".inf":
        sc["workload"]["arrival"]["ramp_up_s"] = float("inf")
    assert words in _refused(tmp_path, capsys, sc)


def test_ramp_on_an_open_process_is_refused(tmp_path, capsys):
    sc = _ramped(3, None)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": 1.0, "ramp_up_s": 10}
    err = _refused(tmp_path, capsys, sc)
    assert ("workload.arrival.ramp_up_s: staggers the first requests of closed-loop clients: only with process: "
            "closed (got process: poisson)") in err, err
    sc["workload"]["arrival"] = {"process": "poisson", "rate": 1.0}
    sc["workload"]["classes"] = [{"name": "a", "share": 1.0},
                                 {"name": "b", "arrival": {"process": "burst", "count": 3, "ramp_up_s": 1}}]
    err = _refused(tmp_path, capsys, sc)
    assert "workload.classes.1.arrival.ramp_up_s: staggers" in err and "(got process: burst)" in err, err


def test_the_page_and_terminal_say_the_ramp():
    from sim.report.scenario_words import arrivals
    closed = {"process": "closed", "concurrency": 64, "think_time_s": 5, "think": "exponential"}
    assert arrivals({**closed, "ramp_up_s": 30}) == ("64 closed-loop clients, each thinking a mean of 5 s "
                                                    "(exponential) after its last token, started one after "
                                                    "another over 30 s")
    assert "started" not in arrivals({**closed, "ramp_up_s": 0}) and "started" not in arrivals(closed)
