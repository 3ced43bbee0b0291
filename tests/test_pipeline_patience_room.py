"""A waiting room (``max_waiting``) on a pipelined replica whose clients give up (``patience_s``).

A pipelined replica books a request queued during a cycle at the cycle's end (it may have joined a
micro-batch inside it: ``tests/test_pipeline_patience.py``). A client who gave up mid-cycle, before
the micro-batch boundary that would have taken its request, has left the front end at its deadline:
the room counts its place free from then on, not from the cycle's end (as vLLM drops an aborted
request from its waiting queue when the client disconnects).

Hand-worked (the linear model of tests/conftest.py: 0.01 s + 1e-4 s a prefill token + 1e-3 s a
decoding sequence; PP2, mixed batches, a room of one; 100-token prompts, 10 output tokens; r0 and r1
wait however long it takes, A and B give up after a fixed 4 ms):

* r0 arrives at 0: a prefill iteration to 0.020; r1 (at 0.001) joins at 0.020: r0's decode plus r1's
  prefill, 0.021 s, to 0.041; then decode cycles of two sequences, 0.012 s: (0.041, 0.053],
  (0.053, 0.065], ... PP2 schedules a micro-batch half-way through each (no flow shop priced).
* A arrives at 0.054, inside (0.053, 0.065]: the micro-batch boundary it could join is 0.059, after
  its deadline 0.058: its client leaves at 0.058 (timeout), never served.
* B arrives at 0.0585, after A's client left: the room of one is empty, B is queued (before: A,
  held until the cycle's end, filled the room and B was refused, ``queue_full``). B's deadline,
  0.0625, comes after the boundary at 0.059: B joins that micro-batch (``sched_s`` 0.059); booked at
  0.065 with a lead of 0.006, its prefill iteration (two decodes and its 100 tokens, 0.022 s) ends
  at 0.087: first token at 0.081.
* Arriving at 0.0575 instead, before A's deadline, B finds A in the room: refused (``queue_full``).
"""
from __future__ import annotations

import pytest

import sim
from sim.metrics.output import timeseries_table
from sim.metrics.schema import COMPLETED, R_QUEUE_FULL, R_TIMEOUT, REJECTED

from conftest import scenario, trace_dir

ENGINES = ["fast", "reference"]
LOAD = [(0.0, 100, 10), (0.001, 100, 10)]


def _run(rows, engine: str, pp: int = 2, interval: float | None = None):
    """``rows`` after the load: clients of the class ``late`` (a fixed patience of 4 ms); the load's
    class, ``load``, waits however long it takes."""
    sc = scenario(duration=1)
    path = trace_dir() / "trace.csv"
    lines = ["timestamp_s,prompt_tokens,output_tokens,tenant"]
    lines += [f"{t},{p},{o},load" for t, p, o in LOAD] + [f"{t},{p},{o},late" for t, p, o in rows]
    path.write_text("\n".join(lines) + "\n")
    sc["workload"] = {"arrival": {"process": "trace", "path": str(path), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.5}, {"name": "late", "share": 0.5, "patience_s": 0.004}]}
    sc["engine"] = engine
    if interval is not None:
        sc["metrics"] = {"interval": interval}
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = pp
    pool["max_waiting"] = 1
    pool["batching"]["mixed_batches"] = True
    return sim.run(sc)


def _row(rec, rid):
    return rec[rec["rid"] == rid][0]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_client_who_left_mid_cycle_frees_its_place_in_the_room(engine):
    rec = _run([(0.054, 100, 10), (0.0585, 100, 10)], engine).records
    a, b = _row(rec, 2), _row(rec, 3)
    assert (a["status"], a["reason"]) == (REJECTED, R_TIMEOUT)
    assert b["status"] == COMPLETED                  # before: rejected, queue_full
    assert b["sched_s"] == pytest.approx(0.059, rel=1e-12)
    assert b["first_token_s"] == pytest.approx(0.081, rel=1e-12)
    assert _row(rec, 0)["first_token_s"] == pytest.approx(0.020, rel=1e-12)
    assert _row(rec, 1)["first_token_s"] == pytest.approx(0.041, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_while_the_client_is_still_there_the_room_stays_full(engine):
    rec = _run([(0.054, 100, 10), (0.0575, 100, 10)], engine).records
    a, b = _row(rec, 2), _row(rec, 3)
    assert (a["status"], a["reason"]) == (REJECTED, R_TIMEOUT)
    assert (b["status"], b["reason"]) == (REJECTED, R_QUEUE_FULL)


@pytest.mark.parametrize("engine", ENGINES)
def test_without_pipelining_the_late_arrival_gets_in_and_gives_up(engine):
    """PP1: A's deadline (0.058) passes before B arrives, so B gets in as with PP2; the cycle
    (0.053, 0.065] admits nothing mid-way, so B (deadline 0.0625) leaves before 0.065."""
    rec = _run([(0.054, 100, 10), (0.0585, 100, 10)], engine, pp=1).records
    assert [(_row(rec, i)["status"], _row(rec, i)["reason"]) for i in (2, 3)] == [(REJECTED, R_TIMEOUT)] * 2


@pytest.mark.parametrize("b_at,running", [(0.0575, 2), (0.0585, 3)])
def test_the_queue_column_counts_a_client_who_left_mid_cycle_out_and_the_engines_agree(tmp_path, b_at, running):
    """A time-series row at 0.06, inside the cycle (0.053, 0.065]: A's client left at 0.058, though the
    engine drops A at 0.065, so A is not counted (before round 21: it was); B, if the room took it, joined
    the micro-batch at 0.059, so it runs beside r0 and r1 at 0.06 and nobody waits (before round 22: B
    counted as waiting, queue 1, running 2). Both engines write the same bytes."""
    rows = [(0.054, 100, 10), (b_at, 100, 10)]
    out = {e: _run(rows, e, interval=0.06) for e in ENGINES}
    ts = timeseries_table(out["fast"])
    at = abs(ts["time_s"] - 0.06) < 1e-12
    assert list(ts["queue_len"][at]) == [0]
    assert list(ts["running"][at]) == [running]
    for name in ("requests.csv.gz", "timeseries.csv"):
        data = {e: (r.write(tmp_path / e, figures="none") / name).read_bytes() for e, r in out.items()}
        assert data["fast"] == data["reference"], name


@pytest.mark.parametrize("policy", ["continuous", "priority"])
def test_an_overloaded_pipelined_replica_with_a_room_and_patience_writes_the_same_bytes_on_both_engines(
        tmp_path, policy):
    """Poisson arrivals at twice what a PP2 replica serves, varied lengths, a room of 4 and an exponential
    patience of mean 0.3 s (two classes, the second first under ``priority``), a time-series row every
    0.05 s: many clients leave mid-cycle, and both engines refuse, abandon and count the same requests."""
    sc = scenario(duration=20)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 40.0},
                      "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.0, "max": 3000},
                      "output_tokens": {"dist": "lognormal", "mean": 60, "cv": 1.0, "max": 400},
                      "patience_s": 0.3, "patience": "exponential",
                      "classes": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}
    if policy == "priority":
        sc["workload"]["classes"][1]["priority"] = 1
    sc["metrics"] = {"interval": 0.05}
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["max_waiting"] = 4
    pool["batching"].update(max_num_seqs=8, max_batched_tokens=2048, policy=policy)
    out = {e: sim.run({**sc, "engine": e}) for e in ENGINES}
    req = out["fast"].summary["requests"]["rejected_by_reason"]
    assert req.get("queue_full", 0) > 50 and req.get("timeout", 0) > 50
    for name in ("requests.csv.gz", "timeseries.csv"):
        data = {e: (r.write(tmp_path / e, figures="none") / name).read_bytes() for e, r in out.items()}
        assert data["fast"] == data["reference"], name
