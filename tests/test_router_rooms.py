"""Routers and waiting rooms (``fleet.pools[].max_waiting``): a replica whose room is full is passed
over for one that can take the request, as a gateway in front of a fleet retries a refused request
(HTTP 503/429) on another host (Envoy's ``retry_on: retriable-status-codes`` with the
``previous_hosts`` retry predicate) or sends the primary's overflow elsewhere.

Before, ``least_outstanding``, ``weighted`` and ``spillover`` picked a replica by its count alone and
its room then refused the request (``queue_full``) although another replica, even a whole overflow
pool, could have taken it: a ``spillover`` primary with ``max_waiting: 0`` refused every request that
found it busy and its overflow pool stayed idle.

Hand-worked timelines: a linear step model of exactly 0.25 s an iteration (binary fractions, every sum
exact), 100-token prompts and 4 output tokens (a prompt iteration, then 3 decode iterations), so a
request admitted at ``a`` on an otherwise idle replica runs until ``a + 1``. Then the loss system the
spillover makes of two one-server pools with rooms of 0 against Erlang B.
"""
from __future__ import annotations

import csv
import gzip
import io
import math

import pytest

import sim
from admission_pool import EXP_PROMPT, S, run_rows
from theory_round18_pool import ci99, one_at_a_time

ENGINES = ("fast", "reference")


def _scenario(trace, engine: str, router, pools: list[dict]) -> dict:
    return {"name": "rooms", "seed": 1, "duration": 12, "model": "llama-3-8b", "engine": engine,
            "workload": {"arrival": {"process": "trace", "path": str(trace)}},
            "perf": {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
                     "per_context_token_s": 0.0},
            "fleet": {"router": router, "pools": [{"gpu": "h100-sxm", "replicas": 1, **p} for p in pools]}}


def _rows(tmp_path, arrivals, router, pools) -> list[dict]:
    """Both engines' request rows of the trace ``arrivals`` (checked to be the same bytes)."""
    trace = tmp_path / "trace.csv"
    trace.write_text("timestamp_s,prompt_tokens,output_tokens\n" + "".join(f"{t},100,4\n" for t in arrivals))
    out = {}
    for engine in ENGINES:
        folder = sim.run(_scenario(trace, engine, router, pools)).write(tmp_path / engine, figures="none")
        out[engine] = ((folder / "requests.csv.gz").read_bytes(), (folder / "timeseries.csv").read_bytes())
    assert out["fast"] == out["reference"]
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(out["fast"][0]).decode())))
    assert [float(r["arrival_s"]) for r in rows] == arrivals
    return rows


def _fates(rows) -> list[tuple[str, str]]:
    """Each request's (pool, status or reject reason)."""
    return [(r["pool"], r["status"] if r["status"] == "completed" else r["reason"]) for r in rows]


SPILL = {"policy": "spillover", "primary": "a", "overflow": "b", "threshold": 4}
ROOM0 = {"max_waiting": 0, "batching": {"max_num_seqs": 1}}


def test_a_spillover_primary_with_a_room_of_0_overflows_when_busy(tmp_path):
    """Primary ``a`` and overflow ``b``, one replica each serving one request at a time, rooms of 0,
    threshold 4 (never reached: a busy replica holds 1). 0.0 finds ``a`` idle (runs to 1.0); 0.5 finds
    it busy and goes to ``b`` (to 1.5); 0.75 finds both busy: refused, at the primary the threshold
    sends it to; 1.5 finds ``a`` idle again (to 2.5); 1.6 finds ``a`` busy and ``b`` idle (its request
    ended at 1.5): ``b``. Before: 0.5 and 1.6 were refused at ``a`` and ``b`` served nothing."""
    rows = _rows(tmp_path, [0.0, 0.5, 0.75, 1.5, 1.6], SPILL,
                 [{"name": "a", **ROOM0}, {"name": "b", **ROOM0}])
    assert _fates(rows) == [("a", "completed"), ("b", "completed"), ("a", "queue_full"), ("a", "completed"),
                            ("b", "completed")]
    assert [float(r["completion_s"]) for r in rows if r["status"] == "completed"] == [1.0, 1.5, 2.5, 2.6]


def test_a_weighted_draw_of_a_full_pool_goes_to_a_pool_with_room(tmp_path):
    """``weighted`` with all the weight on ``a`` (room 0, one sequence): every request draws ``a``; one
    finding it busy goes to ``b`` (room 0 too) when ``b`` is idle, and is refused only when both are
    busy. 0.0 -> a (to 1.0), 0.25 -> b (to 1.25), 0.5 refused; 1.0 finds ``a``'s last iteration ending
    at that very instant (busy, as on every path) and ``b`` busy until 1.25: refused; 1.25 -> a. Before:
    0.25 was refused at ``a`` too."""
    rows = _rows(tmp_path, [0.0, 0.25, 0.5, 1.0, 1.25], {"policy": "weighted", "weights": {"a": 1.0}},
                 [{"name": "a", **ROOM0}, {"name": "b", **ROOM0}])
    assert _fates(rows) == [("a", "completed"), ("b", "completed"), ("a", "queue_full"), ("a", "queue_full"),
                            ("a", "completed")]


def test_least_outstanding_passes_over_a_full_replica_for_one_with_room(tmp_path):
    """``a``: one sequence, room 1; ``b``: 8 sequences, room 8. Ties rotate from ``a``. 0.0 -> a (runs
    to 1.0); 0.1 -> b (the turn starts at ``b``; runs to 1.1); 0.2: both hold 1, ``a`` first in turn
    with room (it queues there: ``a`` holds 2, its room of 1 full); 0.3: ``b`` (1) before ``a`` (2),
    queued at ``b`` until its boundary at 0.35; 0.4: ``a`` holds 2 and ``b`` 2, ``a`` first in turn,
    but its room is full: ``b`` takes it. Before: refused at ``a`` (``queue_full``)."""
    rows = _rows(tmp_path, [0.0, 0.1, 0.2, 0.3, 0.4], "least_outstanding",
                 [{"name": "a", "max_waiting": 1, "batching": {"max_num_seqs": 1}},
                  {"name": "b", "max_waiting": 8, "batching": {"max_num_seqs": 8}}])
    assert _fates(rows) == [("a", "completed"), ("b", "completed"), ("a", "completed"), ("b", "completed"),
                            ("b", "completed")]
    assert float(rows[2]["sched_s"]) == 1.0     # r2 waited in a's room until r0 ended


def erlang_b(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def test_spillover_of_two_loss_servers_is_erlang_b_of_two(tmp_path):
    """Two pools of one server each (one request at a time, exponential service of mean ``S``, rooms of
    0) behind ``spillover``: an arrival takes the primary if it is free, else the overflow if that is
    free, else is refused: ordered hunting over 2 servers, whose refused share is Erlang B(2, a) (the
    order of the hunt does not change the total), and the primary alone carries ``a (1 - B(1, a))``.
    At ``a = 2``: B(2, 2) = 0.4 refused (the primary alone refused B(1, 2) = 2/3 before, the overflow
    idle), primary busy 2/3 of the time. 8 runs of 1,500 s (~3,000 arrivals each): the 99 % interval
    of the refused share must hold 0.4."""
    a = 2.0
    data = one_at_a_time("spill", replicas=1, router=SPILL, arrival={"process": "poisson", "rate": a / S},
                         prompt=EXP_PROMPT, duration=1500.0, warmup=50.0)
    pool = data["fleet"]["pools"][0]
    pool.update(name="a", max_waiting=0)
    data["fleet"]["pools"].append({**pool, "name": "b"})
    refused, on_a = [], []
    for seed in range(1, 9):
        rows = [r for r in run_rows(tmp_path, data, seed) if float(r["arrival_s"]) >= 50.0]
        refused.append(sum(r["reason"] == "queue_full" for r in rows) / len(rows))
        on_a.append(sum(r["pool"] == "a" and r["status"] == "completed" for r in rows) / len(rows))
    mean, half = ci99(refused)
    assert abs(mean - erlang_b(2, a)) <= half, (mean, half)
    assert half < 0.02
    assert erlang_b(2, a) == pytest.approx(0.4) and erlang_b(1, a) == pytest.approx(2 / 3)
    mean_a, half_a = ci99(on_a)           # the share of arrivals the primary serves: 1 - B(1, a)
    assert abs(mean_a - (1 - erlang_b(1, a))) <= max(half_a, 1e-3), (mean_a, half_a)
    assert not math.isclose(mean, erlang_b(1, a), abs_tol=0.1)
