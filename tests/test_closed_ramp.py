"""A closed loop's staggered start (``workload.arrival.ramp_up_s``): client ``i`` (from 0) sends its
first request at ``i * R / N``, as a load generator's spawn rate starts its users.

The scenarios are those of ``tests/test_closed_loop.py``: one server taking one request at a time,
each a 1,000-token prompt at 1 ms a token (``D = 1 s``) and one output token.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import sim
import sim.errors
from sim.cli import main

from test_closed_loop import _closed


def _ramped(n: int, ramp, think_s: float = 0.0, duration: float = 100.5) -> dict:
    sc = _closed(n=n, think_s=think_s, prompt={"dist": "fixed", "value": 1000}, duration=duration, warmup=0)
    if ramp is not None:
        sc["workload"]["arrival"]["ramp_up_s"] = ramp
    return sc


@pytest.mark.filterwarnings("ignore:workload.arrival.ramp_up_s")     # warm-up 0: the ramp is measured, on purpose
def test_first_sends_are_i_r_over_n():
    """Three clients over 10 s who think 1,000 s after a reply: each sends once, at 0, 10/3, 20/3 s,
    and the server (idle between them, D = 1 s) answers each in D."""
    r = sim.run(_ramped(3, 10.0, think_s=1000.0, duration=50))
    rec = r.records
    assert rec["arrival_s"].tolist() == [i * 10.0 / 3 for i in range(3)]
    assert rec["completion_s"].tolist() == [i * 10.0 / 3 + 1.0 for i in range(3)]


@pytest.mark.filterwarnings("ignore:workload.arrival.ramp_up_s")     # warm-up 0: the ramp is measured, on purpose
def test_a_ramp_given_as_a_duration_text():
    r = sim.run(_ramped(4, "1m", think_s=1000.0, duration="2m"))
    assert r.records["arrival_s"].tolist() == [0.0, 15.0, 30.0, 45.0]


@pytest.mark.filterwarnings("ignore:workload.arrival.ramp_up_s")     # warm-up 0: the ramp is measured, on purpose
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


@pytest.mark.filterwarnings("ignore:workload.arrival.ramp_up_s")     # warm-up 0: the ramp is measured, on purpose
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
    err = _refused(tmp_path, capsys, sc)
    assert words in err
    assert "clients still join after the warm-up" not in err    # (no advice to warm up past the run's end)


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
                                                    "(exponential) after its last token (started one after "
                                                    "another over 30 s)")
    assert "started" not in arrivals({**closed, "ramp_up_s": 0}) and "started" not in arrivals(closed)


@pytest.mark.parametrize("n, ramp, warmup, warned", [
    (4, 8.0, 6.0, False),     # the last client (i = 3) joins at 3 x 8 / 4 = 6 s: at the warm-up's end
    (4, 8.0, 5.9, True),      # ... after it
    (4, 8.0, 0.0, True),
    (1, 8.0, 0.0, False),     # one client starts at 0 whatever the ramp
    (4, 0.0, 0.0, False),
])
def test_a_ramp_ending_after_the_warmup_is_said(tmp_path, capsys, n, ramp, warmup, warned):
    sc = _ramped(n, ramp, think_s=1000.0, duration=50)
    sc["warmup"] = warmup
    path = tmp_path / "ramp.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["run", str(path), "--quiet", "--figures", "none", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    said = (f"{path.name}: workload.arrival.ramp_up_s: {ramp:g} s: clients still join after the warm-up "
            f"({warmup:g} s)")
    assert (said in err) is warned, err
    if warned:
        assert f"set warmup: {ramp:g} or more" in err


def test_a_search_over_client_counts_says_the_ramp_once(tmp_path, capsys):
    sc = _ramped(4, 8.0, duration=30.5)
    sc["slo"] = {"ttft_s": 5.0, "tpot_s": 1.0}
    path = tmp_path / "ramp.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["saturation", str(path), "--quiet", "--out", str(tmp_path / "s")]) == 0
    assert capsys.readouterr().err.count("workload.arrival.ramp_up_s: 8 s: clients still join") == 1


def test_fast_and_reference_engines_give_the_same_bytes_with_a_ramp():
    """Exponential think, two classes (one with priority and its own SLO) on two servers of two sequences
    each, whose policy ``priority`` takes the first class first (on ``continuous`` the priority ordered
    nothing; with four sequences each the six clients never waited, and the priority had nothing to order),
    with and without drain: the fast engine's records and summary equal the reference engine's."""
    sc = _closed(n=6, think_s=0.5, think="exponential", prompt={"dist": "exponential", "mean": 300},
                 duration=60, warmup=0, replicas=2)
    sc["workload"]["arrival"]["ramp_up_s"] = 20
    sc["workload"]["output_tokens"] = {"dist": "uniform", "low": 1, "high": 40}
    sc["workload"]["classes"] = [{"name": "a", "share": 0.7, "priority": 1},
                                 {"name": "b", "share": 0.3, "slo": {"ttft_s": 0.5}}]
    sc["perf"]["per_decode_token_s"] = 0.002
    sc["fleet"]["pools"][0]["batching"] = {"policy": "priority", "max_num_seqs": 2, "max_batched_tokens": 4096}
    for drain in (False, True):
        runs = []
        for engine in ("fast", "reference"):
            with pytest.warns(sim.errors.ScenarioWarning, match="ramp_up_s"):
                r = sim.run({**sc, "drain": drain, "engine": engine})
            summary = {k: v for k, v in r.summary.items() if k not in ("wall_seconds", "engine")}
            runs.append((r.records.tobytes(), json.dumps(summary, sort_keys=True, default=str)))
        assert runs[0] == runs[1]
        assert len(np.unique(np.round(r.records["arrival_s"][:6], 9))) > 1    # the ramp staggered them
        with pytest.warns(sim.errors.ScenarioWarning, match="orders nothing"), \
                pytest.warns(sim.errors.ScenarioWarning, match="ramp_up_s"):    # the same fleet, first come first served
            fcfs = sim.run({**sc, "drain": drain, "fleet": {"pools": [{**sc["fleet"]["pools"][0], "batching": {
                **sc["fleet"]["pools"][0]["batching"], "policy": "continuous"}}]}})
        assert fcfs.records.tobytes() != runs[0][0]         # the priority ordered some requests
