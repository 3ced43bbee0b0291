"""A request a pipelined replica's micro-batch took mid-cycle runs from that boundary: it does not time
out as a waiting request when the run ends, nor when its replica fails, before the cycle's end.

The flat step model of exactly 0.25 s an iteration, PP2, mixed batches (binary-fraction times, every sum
exact). Load requests of 20 output tokens wait however long it takes; ``lo`` requests (4 output tokens)
give up after a fixed 0.1 s, ``quick`` ones after 5 ms.

**The run's end** (one replica, rows every 0.25 s, the run cut at 0.7). r0 at 0 is prefilled in (0, 0.25]
alone; r1 (0.0625) joins at 0.25; from then on each cycle holds two sequences, with a micro-batch boundary
half-way: 0.625 in (0.5, 0.75]. l1 (``lo``) at 0.5625 is taken at 0.625, before its deadline 0.6625, so it
runs at 0.7 although its deadline has passed: in flight, first admitted at 0.625 (``sched_s``), and the
last row counts it running (r0, r1, l1: 3). Before, the last row's expiry ran after the run's end had
settled the cycle in progress and logged l1 a timeout (rejected, reason ``timeout``) while the same row
counted it running. q1 (``quick``) at 0.6875, after the cycle's last micro-batch boundary, would be taken
at 0.75; its client leaves at 0.6925: a timeout, as before.

**A failure** (two replicas behind ``round_robin``, which routes each request at its arrival where
clients have a patience; the failure stream of seed 1 draws the first up time of replica 0 as 0.0357 x
``mtbf`` and of replica 1 as 0.874 x ``mtbf``, so ``mtbf`` puts replica 0's failure at 0.7 or 0.71875 and
replica 1's after the run). r0, r2 (0.125) go to replica 0, r1 (0.0625), r3 (0.1875) to replica 1; replica
0's cycle (0.5, 0.75] holds r0 and r2 with its boundary at 0.625. l1 (``lo``, 0.5625) goes to replica 0
and is taken at 0.625; x (a load request at 0.65) to replica 1; q1 (``quick``, 0.6875, deadline 0.6925)
to replica 0, after the cycle's last boundary: nobody takes it before its client leaves. Replica 0 fails
inside that cycle, after both deadlines: the failure model retries what a replica was running and lets
go a waiting request whose client left (``docs/fleet_dynamics.md``). l1 was running: it is retried
(``retries`` 1) and completes on replica 1, first admitted at 0.625 (before, it was retried and refused
on arrival as a client who had left: ``timeout``). q1 has gone: ``timeout``, ``retries`` 0 (before, it
was retried once, then refused on arrival). Without a patience l1 is retried as running all the same,
first admitted at 0.625.
"""
from __future__ import annotations

import random

import pytest

import sim
from sim.metrics.output import timeseries_table
from sim.metrics.schema import COMPLETED, IN_FLIGHT, R_TIMEOUT, REJECTED
from sim.workload.streams import failure_stream

from conftest import scenario, trace_dir
from test_in_flight_peak_brute import brute_peak, failures_seen  # noqa: F401 (a fixture)

FLAT = {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
        "per_context_token_s": 0.0}
ENGINES = ["fast", "reference"]
CLASSES = [{"name": "load", "share": 0.4}, {"name": "lo", "share": 0.3, "patience_s": 0.1},
           {"name": "quick", "share": 0.3, "patience_s": 0.005}]


def _trace(rows: list[str]) -> str:
    path = trace_dir() / "trace.csv"
    path.write_text("\n".join(["timestamp_s,prompt_tokens,output_tokens,tenant", *rows]) + "\n")
    return str(path)


def _pp2(sc: dict, rows: list[str], engine: str, patient: bool = True) -> dict:
    classes = CLASSES if patient else [{"name": c["name"], "share": c["share"]} for c in CLASSES]
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"},
                      "classes": classes}
    sc["perf"] = dict(FLAT)
    sc["engine"] = engine
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["batching"]["mixed_batches"] = True
    return sc


def _fate(rec, rid: int) -> tuple:
    r = rec[rec["rid"] == rid][0]
    return int(r["status"]), int(r["reason"]), float(r["sched_s"]), int(r["retries"])


def _end_run(engine: str):
    sc = _pp2(scenario(duration=0.7), ["0,100,20,load", "0.0625,100,20,load", "0.5625,100,4,lo",
                                       "0.6875,100,4,quick"], engine)
    sc["metrics"] = {"interval": 0.25}
    sc["fleet"]["pools"][0]["max_waiting"] = 2
    return sim.run(sc)


def test_a_request_taken_in_the_cycle_the_run_ends_in_runs_though_its_deadline_passed():
    out = {e: _end_run(e) for e in ENGINES}
    rec = out["fast"].records
    assert _fate(rec, 2)[:3] == (IN_FLIGHT, 0, 0.625)
    assert _fate(rec, 3)[:3] == (REJECTED, R_TIMEOUT, -1.0)
    ts = timeseries_table(out["fast"])
    assert (float(ts["time_s"][-1]), int(ts["queue_len"][-1]), int(ts["running"][-1])) == (0.7, 0, 3)
    assert (rec.tobytes(), out["fast"].timeseries.tobytes()) == \
        (out["reference"].records.tobytes(), out["reference"].timeseries.tobytes())


def _failure_run(engine: str, when: float, patient: bool = True):
    e0 = failure_stream(1, 0, 0).standard_exponential()
    assert failure_stream(1, 0, 1).standard_exponential() / e0 * when > 8    # replica 1 outlives the run
    sc = _pp2(scenario(duration=8, seed=1),
              ["0,100,20,load", "0.0625,100,20,load", "0.125,100,20,load", "0.1875,100,20,load",
               "0.5625,100,4,lo", "0.65,100,4,load", "0.6875,100,4,quick"], engine, patient)
    sc["fleet"]["router"] = "round_robin"
    pool = sc["fleet"]["pools"][0]
    pool["replicas"] = 2
    pool["failures"] = {"mtbf": when / e0, "mttr": 100}
    return sim.run(sc)


@pytest.mark.parametrize("when", [0.7, 0.71875])
def test_a_request_taken_mid_cycle_is_retried_as_running_when_its_replica_fails(when):
    out = {e: _failure_run(e, when) for e in ENGINES}
    rec = out["fast"].records
    assert [_fate(rec, rid)[3] for rid in range(4)] == [1, 0, 1, 0]     # r0, r2 on the failed replica
    assert _fate(rec, 4) == (COMPLETED, 0, 0.625, 1)
    assert _fate(rec, 6) == (REJECTED, R_TIMEOUT, -1.0, 0)
    assert rec.tobytes() == out["reference"].records.tobytes()


def test_without_patience_a_request_taken_mid_cycle_keeps_its_first_admission_when_its_replica_fails():
    """The same failure at 0.7, nobody giving up: l1 is retried as a running request, first admitted at
    0.625 (``sched_s``; before, the batch on replica 1 that admitted it after the retry); q1, never
    taken, is retried as a waiting request (``retries`` 1) and first admitted on replica 1."""
    out = {e: _failure_run(e, 0.7, patient=False) for e in ENGINES}
    rec = out["fast"].records
    assert _fate(rec, 4) == (COMPLETED, 0, 0.625, 1)
    status, _, sched, retries = _fate(rec, 6)
    assert (status, retries) == (COMPLETED, 1) and sched >= 0.7
    assert rec.tobytes() == out["reference"].records.tobytes()


# ------------------------------------------------ the run's end, whatever the rows' interval
@pytest.mark.parametrize("engine", ENGINES)
def test_a_client_gone_by_the_end_has_left_whatever_the_rows_interval(engine):
    """The run's end above with rows every 0.04375 s: the rows' clock adds the interval up, 16 times to
    0.6999999999999998, a rounding short of the end (0.7), so no last row is due there. q1's client left
    at 0.6925, before the end, and no micro-batch took it: a timeout, as with rows every 0.25 s, and the
    records are the same bytes (what leaves depends on the instant only, not on when rows are taken).
    Before, the last row (at 0.6999999999999998, inside the cycle (0.5, 0.75]) kept q1, queued in the
    cycle in progress, to be judged at its end, which the run never reached: q1 was left in flight."""
    out = {}
    for interval in (0.25, 0.04375):
        sc = _pp2(scenario(duration=0.7), ["0,100,20,load", "0.0625,100,20,load", "0.5625,100,4,lo",
                                           "0.6875,100,4,quick"], engine)
        sc["metrics"] = {"interval": interval}
        sc["fleet"]["pools"][0]["max_waiting"] = 2
        out[interval] = sim.run(sc)
    assert float(timeseries_table(out[0.04375])["time_s"][-1]) == 0.6999999999999998
    rec = out[0.04375].records
    assert _fate(rec, 2)[:3] == (IN_FLIGHT, 0, 0.625)
    assert _fate(rec, 3)[:3] == (REJECTED, R_TIMEOUT, -1.0)
    assert rec.tobytes() == out[0.25].records.tobytes()
    assert out[0.04375].summary["requests"] == out[0.25].summary["requests"]


@pytest.mark.parametrize("room", [2, None])
def test_a_request_taken_in_the_cycle_the_run_ends_in_runs_whether_or_not_clients_give_up(room):
    """The run's end above, nobody giving up, and with a patience of 10^6 s that never binds: l1, taken at
    0.625, is in flight, first admitted at 0.625 (``sched_s``), as the last row counts it running (r0, r1,
    l1: 3), on both engines (the fast one, without a patience, routes ahead of the clock: l1 is still
    among the replica's arrivals when the run ends), with a waiting room or without; the patience
    changes no byte of the records. Before, without a patience, l1's ``sched_s`` was -1 (never admitted:
    the queue-wait percentiles counted it censored) where a patience of 10^6 s made it 0.625."""
    rows = ["0,100,20,load", "0.0625,100,20,load", "0.5625,100,4,lo", "0.6875,100,4,quick"]
    out = {}
    for engine in ENGINES:
        for patience in (None, 1e6):
            sc = _pp2(scenario(duration=0.7), rows, engine, patient=False)
            if patience is not None:
                sc["workload"]["patience_s"] = patience
            sc["metrics"] = {"interval": 0.25}
            if room is not None:
                sc["fleet"]["pools"][0]["max_waiting"] = room
            out[engine, patience] = sim.run(sc)
    rec = out["fast", None].records
    assert [_fate(rec, rid)[:3] for rid in range(4)] == \
        [(IN_FLIGHT, 0, 0.0), (IN_FLIGHT, 0, 0.25), (IN_FLIGHT, 0, 0.625), (IN_FLIGHT, 0, -1.0)]
    assert int(timeseries_table(out["fast", None])["running"][-1]) == 3
    assert all(o.records.tobytes() == rec.tobytes() for o in out.values())


# ------------------------------------------------ the exact peak on pipelined replicas
def _peak_case(seed: int) -> dict:
    """A pipelined pool (PP2-PP4, one or two replicas) whose prompts take up to 0.7 s a cycle (0.5 ms a
    token), rows every 3.7 or 10 ms, clients giving up after a fixed 5 ms to 0.1 s (or never), and
    failures (``max_retries: 0``) or not: the cases :func:`test_in_flight_peak_brute.brute_peak` counts."""
    rng = random.Random(seed)
    sc = scenario(duration=2, seed=seed)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rng.choice([30, 60, 120])},
                      "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.0, "max": 1400},
                      "output_tokens": {"dist": "lognormal", "mean": rng.choice([10, 50]), "cv": 1.0, "max": 400}}
    if rng.random() < 0.7:
        sc["workload"].update(patience_s=rng.choice([0.005, 0.02, 0.1]), patience="fixed")
    sc["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 0.0005, "per_decode_token_s": 0.0,
                  "per_context_token_s": 0.0}
    sc["fleet"]["router"] = rng.choice(["least_outstanding", "round_robin", "random"])
    pool = sc["fleet"]["pools"][0]
    pool.update(pipeline_parallel=rng.choice([2, 3, 4]), replicas=rng.choice([1, 2]), max_model_len=2048)
    pool["batching"] = {"max_num_seqs": rng.choice([4, 8, 64]), "max_batched_tokens": 2048,
                        "scheduler": rng.choice(["vllm-v1", "sglang", "trtllm"])}
    if rng.random() < 0.5:
        pool["failures"] = {"mtbf": 0.5, "mttr": 0.2, "max_retries": 0}
    sc["metrics"] = {"interval": rng.choice([0.0037, 0.01])}
    return sc


@pytest.mark.parametrize("seed", [0, 1, 6, 13])
def test_the_exact_peak_on_pipelined_replicas_is_the_brute_force_count(seed, failures_seen):
    """``stability.in_flight_peak`` is the count from the records (arrivals, completions, clients gone at
    their deadline, failures), on both engines. A pipelined replica books a cycle at its end: a request's
    tokens its ``lead`` earlier, and a client gone from a request queued inside the cycle at its deadline,
    both before rows that had already counted the system up to the row before: over a cycle of 0.7 s and
    rows every few ms, the peak was 2 to 82 over the count (seeds 0, 1, 6, 13: 22, 2, 82, 29)."""
    for engine in ENGINES:
        sc = _peak_case(seed)
        sc["engine"] = engine
        failures_seen.clear()
        res = sim.run(sc)
        assert res.summary["stability"]["in_flight_peak"] == brute_peak(
            res.records, patience_s=sc["workload"].get("patience_s"), failures=failures_seen), engine
