"""Same-instant events beyond arrivals and iteration ends, worked by hand: a KV transfer landing, a
replica failing (and the requests it held routed again), a client's patience running out, an
autoscaler's check, each at the very instant a replica ends an iteration.

The order of one instant's events is :mod:`sim.serving.clock`'s, the same on both engines: events
from outside the replicas first (arrivals; a KV transfer landing on the decode pool; a failure,
whose requests reach the other replicas as arrivals), then the iteration ends in replica order, then
the rest (a time-series row, an autoscaler's check, a replica becoming ready), last an idle replica
woken. Before, a transfer landing and a failure were ordinary events after the iteration ends: the
reference engine, which had booked the decode replica's iteration ending then, admitted the
transferred request one iteration later, while the fast engine, inside a decode run with no event at
that boundary, cut the run there and admitted it at once; a failure inside a fast run lost the
iteration ending at its instant, which the reference engine had booked.

Every time is a binary fraction: a linear step model of exactly 0.25 s per iteration, prompts of 100
tokens, and a KV link of 0.4194304 Gb/s, which moves 100 tokens of Llama-3-8B's KV cache (131,072
bytes a token: 32 layers x 8 KV heads x 128 x 2 (K and V) x 2 bytes) in 100 x 131,072 x 8 /
419,430,400 = 0.25 s exactly.
"""
from __future__ import annotations

import itertools

import pytest

import sim
import sim.serving.failures as failures
from test_room_ties_central import _differs as differs   # records, time series, summary but engine and wall time

QUARTER_LINK_GBPS = 0.4194304     # 100 tokens of Llama-3-8B KV cache in 0.25 s (module docstring)
FLAT = {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
        "per_context_token_s": 0.0}


def trace(tmp_path, arrivals, outputs, name="ties.csv"):
    path = tmp_path / name
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n"
                    + "".join(f"{t},100,{o}\n" for t, o in zip(arrivals, outputs)))
    return path


def scenario(path, engine: str, pools: list[dict], router: str = "least_outstanding", perf: dict = FLAT,
             interval: float = 0.25, workload: dict | None = None, fleet: dict | None = None,
             central_room: int | None = None) -> dict:
    rt = {"policy": router}
    if central_room is not None:
        rt["max_waiting"] = central_room
    return {"name": "ties", "seed": 1, "duration": 12, "model": "llama-3-8b", "engine": engine,
            "workload": {"arrival": {"process": "trace", "path": str(path)}, **(workload or {})},
            "perf": perf, "metrics": {"interval": interval},
            "fleet": {"router": rt, "pools": pools, **(fleet or {})}}


def pool(name: str = "p", replicas: int = 1, seqs: int = 2, **extra) -> dict:
    return {"name": name, "gpu": "h100-sxm", "replicas": replicas, "batching": {"max_num_seqs": seqs}, **extra}


def fixed_failures(monkeypatch, ups: list[list[float]], downs: list[float]) -> None:
    """Replica ``i``'s up times drawn from ``ups[i]`` in turn and its down times from ``downs``, instead of
    its exponential stream: failures on chosen instants. A replica is known by its own stream, the
    ``i``-th one to draw (replicas ready at one instant start their failure processes in replica order)."""
    seen: dict[int, list[int]] = {}      # id of a replica's stream -> [its number, up draws, down draws]

    def draw(k):
        def f(cfg, rng):
            c = seen.setdefault(id(rng), [len(seen), 0, 0])
            seq = ups[min(c[0], len(ups) - 1)] if k == 1 else downs
            v = seq[c[k] % len(seq)]
            c[k] += 1
            return v
        return f

    monkeypatch.setattr(failures, "time_to_failure_s", draw(1))
    monkeypatch.setattr(failures, "time_to_repair_s", draw(2))


def rows(res) -> list[tuple]:
    rec = res.records
    return [(int(r["rid"]), float(r["sched_s"]), float(r["first_token_s"]), float(r["completion_s"]),
             int(r["generated_tokens"]), int(r["retries"]), int(r["replica"]), int(r["status"])) for r in rec]


# --------------------------------------------------------------------------- a KV transfer landing
def test_a_kv_transfer_landing_as_the_decode_replica_ends_an_iteration_joins_the_next_one(tmp_path):
    """Two requests at 0 (4 output tokens each), one prefill replica, one decode replica of 2 sequences.
    Request 0: prefill [0, 0.25) (first token), transfer to 0.5, decodes end 0.75, 1.0, 1.25 (done).
    Request 1: prefill [0.25, 0.5), transfer to 0.75 -- the instant the decode replica ends its first
    decode iteration of request 0: the cache is there when that iteration ends, as a request in vLLM's
    waiting queue before the scheduler forms the next batch, so it decodes from 0.75 (1.0, 1.25, 1.5).
    Before, the reference engine admitted it at 1.0 (done at 1.75), the fast engine at 0.75."""
    path = trace(tmp_path, [0.0, 0.0], [4, 4])
    fleet = {"disaggregated": {"prefill_pool": "pre", "decode_pool": "dec", "link_gbps": QUARTER_LINK_GBPS}}
    res = {e: sim.run(scenario(path, e, [pool("pre", 1, 1), pool("dec", 1, 2)], fleet=fleet))
           for e in ("fast", "reference")}
    assert res["reference"].summary["disaggregation"]["transfer_s_mean"] == 0.25
    #            rid, admitted, first token, done, tokens, retries, replica (decode), completed
    assert rows(res["reference"]) == [(0, 0.0, 0.25, 1.25, 4, 0, 1, 1), (1, 0.25, 0.5, 1.5, 4, 0, 1, 1)]
    assert differs(res["fast"], res["reference"]) == ""


# --------------------------------------------------------------------------- a failure
def _failing(tmp_path, monkeypatch, retries: int):
    """Two replicas of 2 sequences, a request of 8 output tokens on each at 0 (prefill [0, 0.25), decodes
    ending 0.5 ... 2.0); replica 0 fails at 1.0, the instant its third decode iteration ends."""
    path = trace(tmp_path, [0.0, 0.0], [8, 8])
    pools = [pool("p", 2, 2, failures={"mtbf": 10, "mttr": 1, "max_retries": retries})]
    out = {}
    for e in ("fast", "reference"):
        fixed_failures(monkeypatch, ups=[[1.0, 100.0], [100.0]], downs=[100.0])   # each run draws anew
        out[e] = sim.run(scenario(path, e, pools))
    return out


def test_a_failure_at_an_iteration_end_loses_that_iteration(tmp_path, monkeypatch):
    """The failure comes first at its instant: the iteration ending then never returns its tokens, so
    request 0 had 3 (0.25, 0.5, 0.75) when it failed (``max_retries: 0``: status failed, reason
    retries). Before, the reference engine counted 4, the fast engine 3."""
    res = _failing(tmp_path, monkeypatch, retries=0)
    got = rows(res["reference"])
    assert got[0] == (0, 0.0, 0.25, -1.0, 3, 1, 0, 3)
    assert got[1] == (1, 0.0, 0.25, 2.0, 8, 0, 1, 1)
    assert differs(res["fast"], res["reference"]) == ""


def test_a_request_retried_at_an_iteration_end_of_another_replica_joins_it_then(tmp_path, monkeypatch):
    """``max_retries: 1``: request 0 (3 tokens) is routed again at 1.0 and reaches replica 1 before that
    replica's boundary at 1.0, as an arrival would: its recompute runs [1.0, 1.25) with request 1's
    decode (token 4), then 4 decodes to 2.25; request 1 is not delayed (done at 2.0). (Taken after the
    boundaries, request 0 would have had 4 tokens and joined at 1.25, done at 2.25 too: the engines'
    inter-token gaps told the two orders apart, and differed.)"""
    res = _failing(tmp_path, monkeypatch, retries=1)
    ref = res["reference"]
    assert rows(ref) == [(0, 0.0, 0.25, 2.25, 8, 1, 1, 1), (1, 0.0, 0.25, 2.0, 8, 0, 1, 1)]
    assert ref.summary["failures"]["requests_retried"] == 1
    assert differs(res["fast"], ref) == ""


# --------------------------------------------------------------------------- patience
@pytest.mark.parametrize("patience, admitted", [(1.0, False), (1.25, True)])
def test_a_deadline_at_the_boundary_that_could_admit_the_request_is_gone(tmp_path, patience, admitted):
    """One replica, one sequence at a time: request 0 runs [0, 1.0) (4 tokens); request 1, arriving at 0,
    could be admitted at 1.0. A patience of exactly 1.0 ends at that boundary: the client has left
    (``timeout``); 1.25 is still there and is admitted at 1.0."""
    path = trace(tmp_path, [0.0, 0.0], [4, 4])
    res = {e: sim.run(scenario(path, e, [pool("p", 1, 1)], workload={"patience_s": patience, "patience": "fixed"}))
           for e in ("fast", "reference")}
    got = rows(res["reference"])
    assert got[0] == (0, 0.0, 0.25, 1.0, 4, 0, 0, 1)
    if admitted:
        assert got[1] == (1, 1.0, 1.25, 2.0, 4, 0, 0, 1)
    else:
        assert got[1][1] == -1.0 and got[1][7] == 2     # never admitted, rejected
        assert res["reference"].summary["requests"]["abandoned"] == 1
    assert differs(res["fast"], res["reference"]) == ""


# --------------------------------------------------------------------------- an autoscaler's check
def test_the_load_factor_counts_a_fast_runs_iterations_ended_by_the_check(tmp_path):
    """Two autoscaled pools behind ``random``, checks every 2.5 s (load factor, target 0.5), iterations
    ending on the checks' instants inside the fast engine's decode runs. The load factor reads the
    tokens the pool processed by the check; the fast engine booked a run's tokens only when the run
    ended, so at 5.0 it read fewer, scaled the second pool to 3 replicas (the reference engine to 2)
    and routed request 27 elsewhere."""
    arrivals = [0.125 * k for k in (0, 0, 1, 3, 4, 4, 6, 8, 8, 9, 12, 13, 16, 16, 18, 20, 21, 24, 24, 25, 28, 30,
                                    32, 32, 33, 36, 40, 41, 44, 45)]
    path = trace(tmp_path, arrivals, [4] * len(arrivals))
    a = {"metric": "load_factor", "interval": 2.5, "target": 0.5, "min": 1, "max": 3, "scale_up_delay": 0,
         "cooldown": 0}
    pools = [pool("p", 1, 2, autoscale=a), pool("q", 1, 2, autoscale=dict(a, min=0))]
    fast, ref = (sim.run(scenario(path, e, pools, router="random")) for e in ("fast", "reference"))
    assert differs(fast, ref) == ""


def test_drains_and_start_ups_on_iteration_ends_and_arrivals(tmp_path):
    """Checks every 1.25 s on the queue metric (scaling up and down by the next check), replicas ready
    0.5 s after a decision: drains, start-ups and checks all on instants where arrivals come and
    iterations end."""
    arrivals = [0, 0, 0.25, 0.5, 0.5, 0.75, 1, 1, 1.25, 1.5, 2, 2, 2.25, 3, 3, 3.5, 4, 4, 4, 5, 5.25, 6, 6, 6.5]
    path = trace(tmp_path, arrivals, [2 + i % 5 for i in range(len(arrivals))])
    bad = []
    for router, delay in itertools.product(["least_outstanding", "central_queue", "round_robin"], [0, 0.5]):
        a = {"metric": "queue", "interval": 1.25, "target": 0.5, "min": 1, "max": 3, "scale_up_delay": delay,
             "cooldown": 0}
        fast, ref = (sim.run(scenario(path, e, [pool("p", 1, 2, autoscale=a)], router=router))
                     for e in ("fast", "reference"))
        if differs(fast, ref):
            bad.append((router, delay, differs(fast, ref)))
        assert ref.summary["autoscale"]["p"]["scale_downs"] > 0     # the drains happen
    assert bad == []


def test_the_load_factor_counts_a_fast_runs_iterations_ended_by_the_check_off_the_grid(tmp_path):
    """Not only at a tie: checks every 2.3 s (on no arrival and no iteration end; steps of 0.125 s +
    2^-10 s a prompt token + 2^-7 s a decoding sequence), requests of 1 to 9 output tokens every 0.25 s. A
    check inside a fast run read none of its iterations ended by then, the reference engine all of
    them; the two pools then scaled differently."""
    arrivals = [0.25 * i for i in range(40)]
    path = trace(tmp_path, arrivals, [1 + (i * 7) % 9 for i in range(40)])
    perf = {"model": "linear", "base_s": 0.125, "per_prefill_token_s": 0.0009765625, "per_decode_token_s": 0.0078125,
            "per_context_token_s": 0.0}
    a = {"metric": "load_factor", "interval": 2.3, "target": 0.5, "min": 1, "max": 3, "scale_up_delay": 0,
         "cooldown": 0}
    pools = [pool("p", 1, 2, autoscale=a), pool("q", 1, 2, autoscale=dict(a, min=0))]
    fast, ref = (sim.run(scenario(path, e, pools, router="central_queue", perf=perf, interval=0.3))
                 for e in ("fast", "reference"))
    assert differs(fast, ref) == ""
