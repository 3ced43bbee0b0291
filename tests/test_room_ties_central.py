"""Arrivals at the very instant an iteration ends, with a waiting room (``max_waiting``) on the central
queue or on the pools behind ``least_outstanding``: both engines take the arrival first.

SimPy takes two events of one instant in the order they were scheduled. The reference engine
schedules an iteration's end at its start, the fast engine a whole decode run's end at the run's
start, and the feed an arrival when it has routed the one before; so an arrival at the instant an
iteration ends came first on one engine and second on the other, and with a waiting room that decides
whether the request is refused (the room still holds what the boundary is about to admit, the
replica is still busy) or taken. The rule is one instant's on both engines
(:func:`sim.serving.clock.arrival_at`): the arrival reaches the router and its queue before the
boundary is booked, as a request that reached vLLM's waiting queue before the scheduler forms the
next batch; it finds the replica busy (as :meth:`~sim.serving.replica.Replica.room_full` already
has it for a replica's room of 0) and, when it is queued, it is admitted at that boundary. The ends of
iterations at one instant then come in replica order (:func:`sim.serving.clock.boundary_at`), so two
replicas freeing slots at once take from the central queue in that order on both engines.

Worked by hand: a linear step model of exactly 0.25 s per iteration (a binary fraction, so every
sum is exact) and prompts of 100 tokens with 4 output tokens (a prompt iteration giving the first
token, then 3 decode iterations): a request admitted at ``s`` runs until ``s + 1`` exactly, and with
``max_num_seqs: 1`` a replica serves one request at a time.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import sim

ARRIVALS = [0.0, 0.5, 1.0, 1.25, 2.0, 2.5, 3.0]


def _scenario(trace, engine: str, router: dict, replicas: int = 1, seqs: int = 1, room: int | None = None,
              interval: float = 10.0) -> dict:
    pool = {"name": "p", "gpu": "h100-sxm", "replicas": replicas, "batching": {"max_num_seqs": seqs}}
    if room is not None:
        pool["max_waiting"] = room
    return {"name": "ties", "seed": 1, "duration": 12, "model": "llama-3-8b", "engine": engine,
            "workload": {"arrival": {"process": "trace", "path": str(trace)}},
            "perf": {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
                     "per_context_token_s": 0.0},
            "metrics": {"interval": interval},
            "fleet": {"router": router, "pools": [pool]}}


def _trace(tmp_path, arrivals, outputs=None, name="ties.csv"):
    outputs = outputs or [4] * len(arrivals)
    path = tmp_path / name
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n"
                    + "".join(f"{t},100,{o}\n" for t, o in zip(arrivals, outputs)))
    return path


def _both(sc_of):
    """(fast, reference) results; their records, time series and summaries (but the engine's name and
    the wall time) must be equal."""
    fast, ref = sim.run(sc_of("fast")), sim.run(sc_of("reference"))
    return fast, ref


def _differs(fast, ref) -> str:
    """What differs between the two engines' results ('' if nothing): records, time series, summary."""
    skip = ("engine", "wall_seconds")
    if fast.records.tobytes() != ref.records.tobytes():
        return "records"
    if fast.timeseries.tobytes() != ref.timeseries.tobytes():
        return "time series"
    if (repr({k: v for k, v in fast.summary.items() if k not in skip})
            != repr({k: v for k, v in ref.summary.items() if k not in skip})):
        return "summary"
    return ""


def _served(res) -> list[tuple[float, float]]:
    rec = res.records
    done = rec[rec["status"] == 1]
    return [(float(a), float(s)) for a, s in zip(done["arrival_s"], done["sched_s"])]


# central queue, one replica, one sequence at a time: (room, [(arrival, admitted at)] served)
#  room 0: 0 runs [0, 1); 1.0 finds it busy (refused); 1.25 finds it idle; 2.0 refused; 2.5 idle; 3.0 refused
#  room 1: 0.5 waits; 1.0 finds the room full (0.5 still in it), refused, and 0.5 is admitted at 1.0;
#          1.25 waits, 2.0 refused, 1.25 admitted at 2.0; 2.5 waits, 3.0 refused, 2.5 admitted at 3.0
#  room 2: 1.0 joins 0.5 (admitted at 1.0, 2.0); 1.25 waits; 2.0 and 3.0 find two waiting (refused);
#          1.25 admitted at 3.0, 2.5 at 4.0
CENTRAL = {0: [(0.0, 0.0), (1.25, 1.25), (2.5, 2.5)],
           1: [(0.0, 0.0), (0.5, 1.0), (1.25, 2.0), (2.5, 3.0)],
           2: [(0.0, 0.0), (0.5, 1.0), (1.0, 2.0), (1.25, 3.0), (2.5, 4.0)]}


@pytest.mark.parametrize("room", [0, 1, 2])
def test_central_queue_room_takes_the_arrival_before_the_iteration_ending_then(tmp_path, room):
    trace = _trace(tmp_path, ARRIVALS)
    fast, ref = _both(lambda e: _scenario(trace, e, {"policy": "central_queue", "max_waiting": room}))
    assert _served(ref) == CENTRAL[room]
    refused = ref.records[ref.records["status"] != 1]
    assert sorted(map(float, refused["arrival_s"])) == sorted(set(ARRIVALS) - {a for a, _ in CENTRAL[room]})
    assert _differs(fast, ref) == ""


# two replicas behind least_outstanding (ties: the next in turn, starting at replica 0), a room of 1 each:
#  0, 0 -> replicas 0 and 1, both running until 1.0; 0.5, 0.5 -> one waiting on each; at 1.0 both rooms
#  are full and both replicas busy: 1.0 and 1.0 are refused, then each replica admits its 0.5;
#  1.5 waits on replica 0, the first 2.0 on replica 1, the second 2.0 finds replica 0's room full
LO_ARRIVALS = [0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0, 2.0]
LO_SERVED = [(0.0, 0.0), (0.0, 0.0), (0.5, 1.0), (0.5, 1.0), (1.5, 2.0), (2.0, 2.0)]


def test_least_outstanding_pool_room_of_one_takes_the_arrival_first(tmp_path):
    trace = _trace(tmp_path, LO_ARRIVALS)
    fast, ref = _both(lambda e: _scenario(trace, e, {"policy": "least_outstanding"}, replicas=2, room=1))
    assert _served(ref) == LO_SERVED
    refused = ref.records[ref.records["status"] != 1]
    assert list(map(float, refused["arrival_s"])) == [1.0, 1.0, 2.0]
    assert list(refused["replica"]) == [0, 1, 0]
    assert _differs(fast, ref) == ""


# central queue, two replicas, one sequence each: 1.0 (5 tokens: 1.25 s) to replica 0 and 1.25 (5 tokens) to
# replica 1 (each idle when it arrives), the other 1.25 (1 token: 0.25 s) and 1.75 (4 tokens: 1 s) wait in the
# queue; replica 0 takes the first at 2.25 and runs it until 2.5, when replica 1 ends too: replicas freeing
# slots at one instant take from the queue in replica order, so 1.75 runs on replica 0 from 2.5 (the fast
# engine gave it to replica 1, whose run it had scheduled first)
def test_replicas_freeing_slots_at_one_instant_take_from_the_central_queue_in_replica_order(tmp_path):
    trace = _trace(tmp_path, [1.0, 1.25, 1.25, 1.75], [5, 5, 1, 4])
    for room in (None, 2):
        router = {"policy": "central_queue"} if room is None else {"policy": "central_queue", "max_waiting": room}
        fast, ref = _both(lambda e: _scenario(trace, e, router, replicas=2))
        rec = ref.records
        assert [(int(i), float(s), float(c), int(p)) for i, s, c, p in
                zip(rec["rid"], rec["sched_s"], rec["completion_s"], rec["replica"])] == [
            (0, 1.0, 2.25, 0), (1, 1.25, 2.5, 1), (2, 2.25, 2.5, 0), (3, 2.5, 3.5, 0)]
        assert _differs(fast, ref) == ""


_RNG_TRACE = [0.125 * k for k in (0, 0, 1, 3, 4, 4, 6, 8, 8, 9, 12, 13, 16, 16, 18, 20, 21, 24, 24, 25, 28, 30,
                                  32, 32, 33, 36, 40, 41, 44, 45)]
TRACES = {
    "brief": (ARRIVALS, None),
    "doubles": ([0, 0, 0.25, 0.5, 0.5, 0.75, 1, 1, 1.25, 1.5, 2, 2, 2.25, 3, 3, 3.5], None),
    "eighths": (_RNG_TRACE, None),
    "mixed_lengths": ([0.25 * i for i in range(20)], [1 + (i * 7) % 5 for i in range(20)]),
}
ROUTERS = ["central_queue", "least_outstanding", "round_robin", "random"]


def _sweep(tmp_path, traces, outputs, routers, rooms, replicas, seqs) -> list[str]:
    bad = []
    # a trace with lengths of its own is run once, not once per output length it would ignore
    cases = [(name, arrivals, lengths, out) for name, (arrivals, lengths) in traces
             for out in (outputs if lengths is None else ["own"])]
    for name, arrivals, lengths, out in cases:
        trace = _trace(tmp_path, arrivals, lengths or [out] * len(arrivals), name=f"{name}_{out}.csv")
        for router, room, reps, s in itertools.product(routers, rooms, replicas, seqs):
            central = router == "central_queue"     # its room is the router's, any other's each replica's
            cfg = {"policy": router} if room is None or not central else {"policy": router, "max_waiting": room}
            pool_room = None if central else room
            fast, ref = _both(lambda e: _scenario(trace, e, cfg, replicas=reps, seqs=s, room=pool_room,
                                                  interval=0.25))
            what = _differs(fast, ref)
            if what:
                bad.append(f"{name} output={out} {router} room={room} replicas={reps} max_num_seqs={s}: {what}")
    return bad


def test_the_engines_write_the_same_bytes_on_tie_heavy_traces_with_rooms(tmp_path):
    """Arrivals on the instants iterations end (steps of 0.25 s), several at one instant, requests of mixed
    lengths; every router, rooms of 0 to 3 places (on the central queue, or on each pool's replica); a
    time-series row every 0.25 s, so rows fall on those instants too."""
    bad = _sweep(tmp_path, [(k, TRACES[k]) for k in ("brief", "doubles", "mixed_lengths")], [3, 4], ROUTERS,
                 [0, 1, 2, 3], [2], [1])
    assert bad == []


@pytest.mark.slow
def test_the_engines_write_the_same_bytes_on_tie_heavy_traces_with_rooms_full(tmp_path):
    bad = _sweep(tmp_path, list(TRACES.items()), [2, 3, 4, 5], ROUTERS, [None, 0, 1, 2, 3], [1, 2, 3], [1, 2])
    assert bad == []
