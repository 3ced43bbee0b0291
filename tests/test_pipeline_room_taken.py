"""A pipelined replica's waiting room, outstanding count and the autoscaler's ``queue`` metric count
only the clients who still wait: a request a micro-batch took mid-cycle frees its place at that
micro-batch's boundary (not at the cycle's end), and a client who left mid-cycle is out of the
outstanding count from its deadline on (unless a micro-batch took its request first: then it runs).

**The room (hand-worked, binary-fraction times, every sum exact).** The flat step model of exactly
0.25 s an iteration, PP2, mixed batches, a room of one (``max_waiting: 1``); r0 at 0 and r1 at 0.0625
(100-token prompts, 20 output tokens, running to ~5 s), then requests of 4 output tokens:

* r0's prefill is the cycle (0, 0.25] of one sequence (no micro-batch boundary inside it); r1 joins at
  0.25. From then on every cycle holds two or more sequences, so PP2 schedules a micro-batch half-way:
  at 0.625 in (0.5, 0.75], at 0.875 in (0.75, 1.0].
* A at 0.5625 waits for the boundary 0.625 and joins it (``sched_s`` 0.625).
* B at 0.6875: A's place is free since 0.625 (before: A held it until 0.75 and B was refused); B
  arrived after the last micro-batch boundary of its cycle, so it waits for the batch formed at 0.75.
* C at 0.71875 finds B waiting: the room of one is full, refused (``queue_full``).
* D at 0.8125 finds the room empty (B was taken at 0.75), joins the micro-batch at 0.875.
* E at 0.9375: D's place is free since 0.875; E is taken at 1.0.
* F at 0.96875 finds E waiting: refused.

Without pipelining (PP1) nothing is taken mid-cycle: A waits until 0.75, so B and C are refused; D at
0.8125 is queued (taken at 1.0), E finds D waiting: refused, F likewise.

**The outstanding count and the autoscaler's metric** (the linear model of tests/conftest.py: 0.01 s +
1e-4 s a prefill token + 1e-3 s a decoding sequence; PP2, mixed batches; r0 at 0 and r1 at 0.001 wait
however long it takes; A and B give up after a fixed 4 ms, as in tests/test_pipeline_patience_room.py):
the cycles of two decodes are (0.041, 0.053], (0.053, 0.065], each with a micro-batch boundary half-way.
A at 0.054 would join at 0.059, after its deadline 0.058: its client leaves at 0.058, though the queue
keeps A until 0.065. B at 0.0585 joins at 0.059, before its deadline 0.0625.

* at 0.0575: r0, r1 running and A waiting: 3 outstanding;
* at 0.0600: A gone, B running: 3 (r0, r1, B); without B: 2 (before: A counted, 3 and 4);
* at 0.0640: B's deadline has passed, but B runs: still 3 (before: 4);
* ``free_slots`` is ``max_num_seqs`` (64) less those, and the autoscaler's ``queue`` metric (outstanding
  per serving replica) reads the same numbers.
"""
from __future__ import annotations

import math

import pytest

import sim
from sim.api import LiveRun
from sim.metrics.schema import COMPLETED, R_QUEUE_FULL, REJECTED
from sim.scenario.load import scenario_from_dict

from conftest import scenario, trace_dir

FLAT = {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
        "per_context_token_s": 0.0}
ENGINES = ["fast", "reference"]
ARRIVALS = [("A", 0.5625), ("B", 0.6875), ("C", 0.71875), ("D", 0.8125), ("E", 0.9375), ("F", 0.96875)]


def _trace(rows: list[str]) -> str:
    path = trace_dir() / "trace.csv"
    path.write_text("\n".join(["timestamp_s,prompt_tokens,output_tokens,tenant", *rows]) + "\n")
    return str(path)


def _room_run(engine: str, pp: int = 2, router: str = "least_outstanding"):
    sc = scenario(duration=10)
    rows = ["0,100,20,load", "0.0625,100,20,load"] + [f"{t},100,4,late" for _, t in ARRIVALS]
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.5}, {"name": "late", "share": 0.5}]}
    sc["perf"] = dict(FLAT)
    sc["engine"] = engine
    sc["fleet"]["router"] = router
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = pp
    pool["max_waiting"] = 1
    pool["batching"]["mixed_batches"] = True
    return sim.run(sc)


def _fates(res) -> dict:
    """Each late arrival: its ``sched_s`` if served, ``"refused"`` if the room turned it away."""
    out = {}
    for k, (name, _) in enumerate(ARRIVALS):
        r = res.records[res.records["rid"] == k + 2][0]
        if r["status"] == REJECTED:
            assert r["reason"] == R_QUEUE_FULL
            out[name] = "refused"
        else:
            assert r["status"] == COMPLETED
            out[name] = float(r["sched_s"])
    return out


PP2 = {"A": 0.625, "B": 0.75, "C": "refused", "D": 0.875, "E": 1.0, "F": "refused"}
PP1 = {"A": 0.75, "B": "refused", "C": "refused", "D": 1.0, "E": "refused", "F": "refused"}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_request_a_micro_batch_took_frees_its_place_in_the_room_at_that_boundary(engine):
    assert _fates(_room_run(engine)) == PP2


def test_pre_routed_replicas_refuse_the_same_arrivals():
    """``round_robin`` routes ahead of the clock on the fast engine (each arrival judged at the boundary
    after it, against the cycle just booked): the same fates, and the same bytes as the reference
    engine's routing at each arrival."""
    fast, ref = _room_run("fast", router="round_robin"), _room_run("reference", router="round_robin")
    assert _fates(fast) == PP2
    assert (fast.records.tobytes(), fast.timeseries.tobytes()) == (ref.records.tobytes(), ref.timeseries.tobytes())


def test_without_pipelining_nothing_is_taken_mid_cycle():
    assert _fates(_room_run("fast", pp=1)) == PP1


@pytest.mark.parametrize("engine", ENGINES)
def test_the_autoscalers_queue_metric_reads_the_requests_the_room_let_in(engine):
    """The room's timeline above with an autoscaler on ``metric: queue`` (outstanding per replica; one
    replica): at 0.70 r0, r1, A (running since 0.625) and B (waiting): 4 (before: B refused, 3); at 0.90
    D runs too (taken at 0.875): 5; at 0.95 E waits as well: 6 (before: 4 and 4, E refused behind D)."""
    sc = scenario(duration=10)
    rows = ["0,100,20,load", "0.0625,100,20,load"] + [f"{t},100,4,late" for _, t in ARRIVALS]
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.5}, {"name": "late", "share": 0.5}]}
    sc["perf"] = dict(FLAT)
    sc["engine"] = engine
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["max_waiting"] = 1
    pool["batching"]["mixed_batches"] = True
    pool["autoscale"] = {"metric": "queue", "target": 50, "min": 1, "max": 1, "interval": 5, "scale_up_delay": 0}
    live = LiveRun(scenario_from_dict(sc))
    assert [_read(live, t)[2] for t in (0.70, 0.90, 0.95)] == [4.0, 5.0, 6.0]


def _live(with_b: bool, engine: str):
    sc = scenario(duration=1)
    rows = ["0.0,100,10,load", "0.001,100,10,load", "0.054,100,10,late"] + (["0.0585,100,10,late"] if with_b else [])
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.5}, {"name": "late", "share": 0.5, "patience_s": 0.004}]}
    sc["engine"] = engine
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["batching"]["mixed_batches"] = True
    pool["autoscale"] = {"metric": "queue", "target": 100, "min": 1, "max": 1, "interval": 0.5, "scale_up_delay": 0}
    return LiveRun(scenario_from_dict(sc))


def _read(live: LiveRun, t: float) -> tuple[int, int, float]:
    """``(outstanding, free_slots, the autoscaler's queue metric)`` of the one replica at ``t``."""
    live.completions_before(t, t, lambda done: False)
    fleet = live._fleet
    rep = fleet.replicas[0]
    scaler = fleet.autoscalers[0]
    return rep.outstanding, rep.free_slots(), scaler._instant(scaler.serving())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("with_b,counts", [(False, [3, 2, 2]), (True, [3, 3, 3])])
def test_outstanding_free_slots_and_the_queue_metric_count_only_clients_still_there(engine, with_b, counts):
    live = _live(with_b, engine)
    got = [_read(live, t) for t in (0.0575, 0.06, 0.064)]
    assert got == [(n, 64 - n, float(n)) for n in counts]


# ---------------------------------------------------------------------- theory: a room of K per micro-batch window
CYCLE = 0.02


def _poisson_share(x: float, k: int) -> tuple[float, float]:
    """``N ~ Poisson(x)`` arrivals in a window whose first ``k`` get a place: the long-run refused share
    ``E[(N - k)+] / E[N]``, and the variance per window of ``(N - k)+ - share * N`` (for its standard
    error over many independent windows)."""
    pmf = [math.exp(-x)]
    for n in range(1, 80):
        pmf.append(pmf[-1] * x / n)
    share = sum(p * max(n - k, 0) for n, p in enumerate(pmf)) / x
    var = sum(p * (max(n - k, 0) - share * n) ** 2 for n, p in enumerate(pmf))
    return share, var


@pytest.mark.parametrize("rate,k", [(50.0, 1), (100.0, 1), (200.0, 1), (100.0, 2)])
def test_the_refused_share_is_that_of_a_room_emptied_at_every_micro_batch_boundary(rate, k):
    """A PP2 replica always running two micro-batches (50-token outputs keep ~30-110 sequences running;
    ``max_num_seqs`` 256 and the KV cache never bind), a flat cycle of ``c`` = 20 ms whatever it holds,
    Poisson arrivals at ``rate``, a room of ``k``. Its micro-batches take the queue at ``s + c/2`` and at
    ``s + c``, so the room empties every ``h = c/2``: each window of ``h`` is an independent Poisson
    count ``N`` (mean ``rate h``) of which the first ``k`` are queued and the rest refused, a share
    ``E[(N - k)+] / E[N]`` of the arrivals (0.213, 0.368, 0.568 and 0.104 here). Before, a request taken
    at ``s + c/2`` held its place until ``s + c``: windows of ``c`` (0.368, 0.568, 0.755, 0.271, each
    more than 20 standard errors away). Within 4.5 standard errors over 100 s (10,000 windows)."""
    duration = 100.0
    sc = scenario(duration=duration)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rate},
                      "prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 50}}
    sc["perf"] = dict(FLAT, base_s=CYCLE)
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["max_waiting"] = k
    pool["batching"].update(max_num_seqs=256, mixed_batches=True)
    req = sim.run(sc).summary["requests"]
    x = rate * CYCLE / 2
    share, var = _poisson_share(x, k)
    windows = duration / (CYCLE / 2)
    se = math.sqrt(var / windows) / x
    before, _ = _poisson_share(rate * CYCLE, k)
    assert abs(before - share) > 20 * se
    assert req["refused_share"] == pytest.approx(share, abs=4.5 * se)


# ---------------------------------------------------------------------- the routers' counts
def _routed(rows: list[str], engine: str, **fleet) -> dict:
    """``{rid: (replica, sched_s)}`` of a run of two classes (``load`` waits however long it takes,
    ``late`` gives up after a fixed 4 ms), PP2 replicas, mixed batches, the linear model of conftest."""
    sc = scenario(duration=1)
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.5}, {"name": "late", "share": 0.5, "patience_s": 0.004}]}
    sc["engine"] = engine
    sc["fleet"]["router"] = fleet.pop("router")
    pool = sc["fleet"]["pools"][0]
    pool.update(fleet.pop("pool", {}))
    pool["pipeline_parallel"] = 2
    pool["batching"]["mixed_batches"] = True
    rec = sim.run(sc).records
    return {int(r["rid"]): (int(r["replica"]), float(r["sched_s"])) for r in rec}


@pytest.mark.parametrize("engine", ENGINES)
def test_least_outstanding_does_not_count_a_client_who_left_mid_cycle(engine):
    """Two PP2 replicas behind ``least_outstanding`` (ties go to the first found from a start that
    rotates with each request). Load (100-token prompts, 10 tokens): r0 at 0 and r2 at 0.002 and r4 at
    0.004 on replica 0, r1 at 0.001 and r3 at 0.003 on replica 1, whose cycles of two decodes are
    (0.042, 0.054], (0.054, 0.066] (0.01 + 2 x 1e-3 s), micro-batch boundaries at 0.048 and 0.060.
    A1 (``late``) at 0.0545 goes to replica 1 (2 outstanding against 3) and would join at 0.060, after
    its deadline 0.0585: gone then. A2 (``late``) at 0.059 finds replica 1 with 2 outstanding (A1 left),
    replica 0 with 3: replica 1, where it joins the micro-batch at 0.060 (its deadline is 0.063). Before,
    A1 counted until 0.066 and the tie of 3 against 3 went to replica 0 (the start of the 7th request),
    whose cycle of three, (0.051, 0.064], had its boundary at 0.0575: A2 waited for 0.064 and gave up."""
    rows = [f"{0.001 * i},100,10,load" for i in range(5)] + ["0.0545,100,10,late", "0.059,100,10,late"]
    got = _routed(rows, engine, router="least_outstanding", pool={"replicas": 2})
    assert [got[i][0] for i in range(5)] == [0, 1, 0, 1, 0]
    assert got[5] == (1, -1.0)                    # A1 gone (never admitted)
    assert got[6][0] == 1 and got[6][1] == pytest.approx(0.060, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_central_queue_hands_a_free_slot_left_by_a_client_who_left_mid_cycle(engine):
    """``central_queue``, one PP2 replica of ``max_num_seqs`` 3: r0 at 0 and r1 at 0.001 run, in cycles of
    two decodes (0.041, 0.053], (0.053, 0.065]. A (``late``) at 0.054 takes the third slot and would join
    the micro-batch at 0.059, after its deadline 0.058: gone then. B (``load``) at 0.0585 finds the slot
    free (3 - 2), goes to the replica at once and joins the micro-batch at 0.059. Before, A held the slot
    until 0.065: B waited in the central queue until the replica took it at 0.065."""
    rows = ["0.0,100,10,load", "0.001,100,10,load", "0.054,100,10,late", "0.0585,100,10,load"]
    pool = {"batching": {"max_num_seqs": 3, "max_batched_tokens": 4096}}
    got = _routed(rows, engine, router="central_queue", pool=pool)
    assert got[2] == (0, -1.0)
    assert got[3][1] == pytest.approx(0.059, rel=1e-12)


SEATS = [("A", 0.5625), ("B", 0.6875), ("C", 0.875), ("D", 1.0625), ("E", 1.1875), ("F", 1.21875)]


def _seats_run(engine: str, router: str = "least_outstanding"):
    sc = scenario(duration=10)
    rows = ["0,100,4,load", "0.0625,100,4,load"] + [f"{t},100,4,late" for _, t in SEATS]
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.5}, {"name": "late", "share": 0.5}]}
    sc["perf"] = dict(FLAT)
    sc["engine"] = engine
    sc["fleet"]["router"] = router
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["max_waiting"] = 1
    pool["batching"].update(max_num_seqs=2, mixed_batches=True)
    res = sim.run(sc)
    out = {}
    for k, (name, _) in enumerate(SEATS):
        r = res.records[res.records["rid"] == k + 2][0]
        out[name] = "refused" if r["status"] == REJECTED else float(r["sched_s"])
    return out


@pytest.mark.parametrize("engine,router", [("fast", "least_outstanding"), ("reference", "least_outstanding"),
                                           ("fast", "round_robin")])
def test_a_micro_batch_takes_a_request_only_if_the_batch_at_the_cycles_end_has_a_sequence_slot(engine, router):
    """``max_num_seqs: 2``, the flat 0.25 s cycle, PP2, a room of one; r0 at 0 and r1 at 0.0625 with 4
    output tokens each: r0 runs (0, 0.25] and completes at 1.0, r1 joins at 0.25 and completes at 1.25.

    * A at 0.5625: the batch at 0.75 has no slot (r0 and r1 run on), so no micro-batch takes A at 0.625:
      it waits, holding the room, until r0 leaves at 1.0 (``sched_s`` 1.0). B at 0.6875 and C at 0.875
      find it waiting: refused.
    * The cycle (1.0, 1.25] holds r1 and A (a micro-batch boundary at 1.125); r1 leaves at 1.25, so the
      batch then has one slot: D at 1.0625 is taken at 1.125. E at 1.1875 finds D's place free, but no slot
      is left for it at 1.25 (A and D): it waits until A completes at 2.0 (prefill (1.0, 1.25], three
      decodes). F at 1.21875 finds E waiting: refused.

    Without the slot count, A would have been counted taken at 0.625 and B let into the room beside it."""
    assert _seats_run(engine, router) == {"A": 1.0, "B": "refused", "C": "refused", "D": 1.125, "E": 2.0,
                                          "F": "refused"}
