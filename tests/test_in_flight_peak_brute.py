"""``stability.in_flight_peak`` (basis ``exact``) against a brute-force count from the request records.

Each request is in the system from its ``arrival_s`` until it leaves: its completion (``completion_s``
less the frontend's delay, which the client sees and the fleet does not hold), its client giving up
(``arrival_s + patience_s``, patience ``fixed``), its replica failing (``max_retries: 0``: the first
failure of the replica it was on after it arrived; failure instants recorded as the fleet meets them),
or, refused on arrival (a full waiting room, a prompt that fits nowhere), never. Sorting those events,
departures first at equal times, and summing gives the count at every instant and its largest: the
summary's peak must be that number exactly, on every feed (pre-routed ``fast`` engine, routed at each
arrival ``reference``, a central queue, a closed loop, disaggregated prefill/decode, pipelined replicas),
whatever ``metrics.interval`` is (rows every 0.1 s, shorter than a long prompt's iteration, settle the
count while a pre-routed request's fate at a full waiting room is still undecided).
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import sim
from conftest import scenario, write_trace
from sim.serving.lifecycle import ReplicaLifecycle
from sim.serving.request import COMPLETED, FAILED, R_TIMEOUT, REJECTED
from tiers_pool import pool


def brute_peak(rec: np.ndarray, *, frontend_s: float = 0.0, patience_s: float | None = None,
               failures: list[tuple[float, int, int]] = ()) -> int:
    """The most requests in the system at once, from the records alone (see the module docstring)."""
    arr = rec["arrival_s"]
    st = rec["status"]
    dep = np.full(len(rec), np.inf)                       # still in the system at the end
    done = st == COMPLETED
    dep[done] = rec["completion_s"][done] - frontend_s
    timeout = (st == REJECTED) & (rec["reason"] == R_TIMEOUT)
    if timeout.any():
        dep[timeout] = arr[timeout] + patience_s
    refused = (st == REJECTED) & ~timeout
    assert not rec["retries"][refused].any()              # refused on arrival, not after a retry
    dep[refused] = arr[refused]
    for i in np.flatnonzero(st == FAILED):
        dep[i] = min(t for t, p, k in failures if (p, k) == (rec["pool"][i], rec["replica"][i]) and t >= arr[i])
    left = np.isfinite(dep)
    times = np.concatenate((dep[left], arr))
    step = np.concatenate((-np.ones(int(left.sum()), dtype=np.int64), np.ones(len(arr), dtype=np.int64)))
    level = np.cumsum(step[np.lexsort((step, times))])
    return int(level.max()) if len(level) else 0


@pytest.fixture
def failures_seen(monkeypatch):
    """Every replica failure's ``(time, pool, replica)``, as the fleet meets it."""
    seen: list[tuple[float, int, int]] = []
    original = ReplicaLifecycle.fail_replica

    def recording(fleet, rep):
        if not rep.released and rep.alive:
            seen.append((fleet.env.now, rep.pool.index, rep.index))
        return original(fleet, rep)

    monkeypatch.setattr(ReplicaLifecycle, "fail_replica", recording)
    return seen


def random_scenario(seed: int, engine: str, router: str, features: tuple[str, ...]) -> dict:
    """A small random fleet (1-3 replicas, batches of 1, 2 or 8, loads from light to overloaded)."""
    rng = np.random.default_rng(seed)
    sc = scenario(seed=seed, duration=float(rng.uniform(20, 40)), warmup=0, engine=engine)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": float(rng.uniform(1, 25))}
    sc["workload"]["prompt_tokens"] = {"dist": "exponential", "mean": float(rng.uniform(50, 600)), "max": 3000}
    sc["workload"]["output_tokens"] = {"dist": "exponential", "mean": float(rng.uniform(2, 60)), "max": 300}
    sc["metrics"] = {"interval": float(rng.choice([1.0, 5.0, 60.0])), "records": "all"}
    p = sc["fleet"]["pools"][0]
    p["replicas"] = int(rng.integers(1, 4))
    p["batching"]["max_num_seqs"] = int(rng.choice([1, 2, 8]))
    sc["fleet"]["router"] = router
    if "room" in features:
        p["max_waiting"] = int(rng.integers(0, 4))
    if "patience" in features:
        sc["workload"].update(patience_s=float(rng.uniform(0.2, 3.0)), patience="fixed")
    if "failures" in features:
        p["failures"] = {"mtbf": 10, "mttr": 2, "max_retries": 0}
    if "drain" in features:
        sc["drain"] = True
    if "frontend" in features:
        sc["fleet"]["frontend_s"] = 0.05
    if "warmup" in features:
        sc["warmup"] = 10
    if "pp" in features:
        p["pipeline_parallel"] = 2
    if "long_steps" in features:     # iterations up to 1.5 s, rows every 0.1 s
        sc["metrics"]["interval"] = 0.1
        sc["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 0.0005, "per_decode_token_s": 0.0,
                      "per_context_token_s": 0.0}
        sc["workload"]["arrival"]["rate"] = float(rng.uniform(1, 6))
    if "closed" in features:
        sc["workload"]["arrival"] = {"process": "closed", "concurrency": int(rng.integers(1, 20)),
                                     "think_time_s": float(rng.uniform(0, 2)), "think": "exponential"}
    if "disaggregated" in features:
        decode = {k: v for k, v in copy.deepcopy(p).items() if k != "max_waiting"}   # a room on prefill only
        sc["fleet"]["pools"] = [dict(copy.deepcopy(p), name="prefill"), dict(decode, name="decode")]
        sc["fleet"]["disaggregated"] = {"prefill_pool": "prefill", "decode_pool": "decode", "link_gbps": 50.0}
    return sc


FEEDS = [("fast", "random"), ("reference", "random"), ("fast", "least_outstanding"), ("fast", "central_queue"),
         ("reference", "central_queue")]
CASES = [((), 2), (("room", "long_steps"), 3), (("room", "patience", "drain"), 8),
         (("patience", "frontend", "warmup"), 3), (("failures",), 3), (("failures", "patience"), 6),
         (("pp", "room", "long_steps"), 10), (("closed", "failures"), 3), (("disaggregated", "room", "long_steps"), 3),
         (("disaggregated", "patience"), 11)]


@pytest.mark.parametrize("features,seed", CASES, ids=["-".join(f) or "plain" for f, _ in CASES])
def test_the_exact_peak_is_the_brute_force_count_from_the_records(features, seed, failures_seen):
    """Both engines on every router a case allows: the summary's peak is the records' count to the request,
    and the two engines agree on it."""
    peaks = {}
    for engine, router in FEEDS:
        if "room" in features and router == "central_queue":
            continue                                   # a replica's room is refused behind a central queue
        sc = random_scenario(seed, engine, router, features)
        failures_seen.clear()
        res = sim.run(sc)
        b = res.summary["stability"]
        assert b["in_flight_peak_basis"] == "exact"
        want = brute_peak(res.records, frontend_s=float(sc["fleet"].get("frontend_s", 0.0)),
                          patience_s=sc["workload"].get("patience_s"), failures=failures_seen)
        assert b["in_flight_peak"] == want, (engine, router)
        peaks.setdefault(router, set()).add(want)
    assert all(len(v) == 1 for v in peaks.values()), peaks


def test_the_cases_reach_what_they_are_about(failures_seen):
    """Each case's seed refuses, abandons or fails requests as its name says (else its check proves nothing)."""
    for features, seed in CASES:
        res = sim.run(random_scenario(seed, "fast", "random", features))
        st, reason = res.records["status"], res.records["reason"]
        if "room" in features:
            assert np.sum((st == REJECTED) & (reason != R_TIMEOUT)) > 0, features
        if "patience" in features:
            assert np.sum(reason == R_TIMEOUT) > 0, features
        if "failures" in features:
            assert np.sum(st == FAILED) > 0, features


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_refused_by_a_full_room_between_two_rows_a_request_was_never_in_the_system(tmp_path: Path, engine):
    """One server, 1 s a request, no waiting room (``max_waiting: 0``), rows every 0.25 s; arrivals at 0,
    0.2, 0.4, 0.6, 1.5 and 1.7 s. By hand: 0 runs to 1 s, 0.2, 0.4 and 0.6 are refused on arrival (the
    server busy, no room), 1.5 runs to 2.5 s and 1.7 is refused: never more than 1 in the system. The
    pre-routed feed's refusals are decided at the boundary after they arrive (1 s, past four rows); they
    were counted in the system until then (a peak of 3 or 4)."""
    trace = write_trace(tmp_path / "t.csv", [(t, 1000, 1) for t in (0.0, 0.2, 0.4, 0.6, 1.5, 1.7)])
    sc = pool("request", {"process": "trace", "path": str(trace), "format": "fleetsim"}, duration=30.0)
    sc["engine"] = engine
    sc["metrics"]["interval"] = 0.25
    sc["fleet"]["pools"][0]["max_waiting"] = 0
    s = sim.run(sc).summary
    assert (s["requests"]["completed"], s["requests"]["rejected"]) == (2, 4)
    assert (s["stability"]["in_flight_peak"], s["stability"]["in_flight_at_end"]) == (1, 0)


def test_what_the_count_holds_between_rows_is_the_departures_after_the_settled_instant():
    """Departures are held only until a row settles them, 8 bytes each: after settling at 50 s, of 10,000
    departures uniform over 100 s those after 50 s remain (80 kB for a run's 10,000: 80 MB for 10 million
    where ``metrics.interval`` is as long as the run); the count and the peak are the hand count."""
    from sim.serving.in_system import InSystemPeak

    rng = np.random.default_rng(3)
    arr = np.sort(rng.uniform(0, 50, 10_000))
    dep = arr + 50.0 * rng.uniform(0, 1, len(arr))           # each after its arrival, up to 100 s
    p = InSystemPeak()
    p.arrive_many(arr)
    for d in rng.permutation(dep):
        p.depart(float(d))
    assert p.settle(50.0) == 10_000 - int(np.sum(dep <= 50.0))
    held = p._departures
    assert len(held) == int(np.sum(dep > 50.0)) and held.itemsize * len(held) == 8 * int(np.sum(dep > 50.0))
    assert p.settle(100.0) == 0 and len(p._departures) == 0
