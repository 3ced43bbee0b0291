"""Review of a pipelined replica's waiting room and mid-cycle admission (``sim/serving/mid_cycle.py``,
``sim/serving/sampler.py``, ``sim/serving/iteration.py``): reading the bound on the departures still to
book changes nothing, and the rows' interval changes no request's outcome; a retry a full waiting room
refuses is counted as one (``failures.retries_rejected_by_reason``); the requests of a cycle the run's
end or a failure cuts short are neither lost nor counted twice; ``benchmarks/pp_room_holds.py`` counts
that cycle apart.

**Reading the bound on the departures still to book changes nothing** (hand-worked; a flat 0.25 s
cycle, PP2, mixed batches). r0 and r1 at 0 (100-token prompts, 3 output tokens) prefill in (0, 0.25];
the decode cycle (0.25, 0.5] holds two sequences, a micro-batch boundary half-way at 0.375: r2, at 0.3,
joins it there (a lead of 0.125 s, admitted at 0.5). All three are done by 1.0 s and the replica idles
until r3 arrives alone at 5.0 (lead 0: nothing in flight to join); its prefill runs in (5.0, 5.25].
At 5.1 the earliest departure the replica may still book is at or after 5.0, the cycle's start less
the largest lead since its batch was last empty (0, r3's), whether or not a time-series row read the
replica while it idled. Before, :func:`~sim.serving.sampler.pipelined_pending` reset that largest lead
as it read an empty replica: read in the idle time (rows every 0.1 s) it answered 5.0, unread (rows
every 100 s) 4.875, r2's lead long gone.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.api import LiveRun
from sim.metrics.output import timeseries_table
from sim.metrics.schema import COMPLETED, FAILED, IN_FLIGHT, R_QUEUE_FULL, R_TIMEOUT, REJECTED
from sim.planning.sweep import sweep
from sim.report_text import format_summary
from sim.scenario.load import scenario_from_dict
from sim.serving.sampler import pipelined_pending
from sim.workload.streams import failure_stream

from conftest import scenario, trace_dir
from test_review_pp23 import _fate, _peak_case, _pp2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pp_room_holds import Watch, tally  # noqa: E402

FLAT = {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
        "per_context_token_s": 0.0}
ENGINES = ["fast", "reference"]


def _trace(rows: list[str]) -> str:
    path = trace_dir() / "trace.csv"
    path.write_text("\n".join(["timestamp_s,prompt_tokens,output_tokens", *rows]) + "\n")
    return str(path)


def _flat_pp2(rows: list[str], engine: str, interval: float, duration: float = 10) -> dict:
    sc = scenario(duration=duration)
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"}}
    sc["perf"] = dict(FLAT)
    sc["engine"] = engine
    sc["metrics"] = {"interval": interval}
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["batching"]["mixed_batches"] = True
    return sc


# ------------------------------------------------ pipelined_pending is a read
@pytest.mark.parametrize("interval", [0.1, 100.0])
def test_the_pending_bound_does_not_depend_on_whether_rows_read_the_idle_replica(interval):
    """The reference engine (the fast one routes a lone replica's requests ahead of the clock)."""
    sc = _flat_pp2(["0,100,3", "0,100,3", "0.3,100,3", "5.0,100,3"], "reference", interval)
    live = LiveRun(scenario_from_dict(sc))
    rep = live._fleet.replicas[0]
    live.completions_before(0.6, 0.6, lambda done: False)
    assert (len(rep.active), rep.run_start, rep.lead_max) == (3, 0.5, 0.125)
    assert pipelined_pending(rep) == 0.375
    live.completions_before(5.1, 5.1, lambda done: False)
    assert (len(rep.active), rep.run_start) == (1, 5.0)
    state = rep.lead_max
    assert [pipelined_pending(rep), pipelined_pending(rep)] == [5.0, 5.0]
    assert rep.lead_max == state                  # the read changed nothing


def test_reading_an_idle_replica_changes_nothing():
    sc = _flat_pp2(["0,100,3", "0,100,3", "0.3,100,3", "5.0,100,3"], "reference", 100.0)
    live = LiveRun(scenario_from_dict(sc))
    rep = live._fleet.replicas[0]
    live.completions_before(2.0, 2.0, lambda done: False)
    assert not rep.active
    before = rep.lead_max
    assert pipelined_pending(rep) == float("inf")
    assert rep.lead_max == before                 # before: reset to 0 by the read


@pytest.mark.parametrize("seed", [0, 1, 6, 13])
def test_the_rows_interval_changes_no_requests_outcome_on_pipelined_replicas(seed):
    """Pipelined pools (PP2-PP4, patience, failures or not, every router: the exact-peak cases of
    ``test_review_pp23``) with rows every 3.7 ms, 10 ms, 0.25 s or once: the request records, byte for
    byte, and the exact peak in the system are the same, on both engines."""
    for engine in ENGINES:
        out = []
        for interval in (0.0037, 0.01, 0.25, 5.0):
            sc = _peak_case(seed)
            sc["engine"] = engine
            sc["metrics"] = {"interval": interval}
            res = sim.run(sc)
            out.append((res.records.tobytes(), res.summary["stability"]["in_flight_peak"]))
        assert len(out[0][0]) > 0
        assert all(o == out[0] for o in out[1:]), engine


# ------------------------------------------------ a retry a full room refuses
def _retry_case(engine: str) -> dict:
    """Two PP2 replicas with a waiting room of one behind ``round_robin``, seven requests; with seed 1,
    replica 0 fails at 0.7 s (other seeds: at 0.7 s times the ratio of their first failure draws)."""
    e0 = failure_stream(1, 0, 0).standard_exponential()
    sc = _pp2(scenario(duration=8, seed=1),
              ["0,100,20,load", "0.0625,100,20,load", "0.125,100,20,load", "0.1875,100,20,load",
               "0.5625,100,4,lo", "0.65,100,4,load", "0.6875,100,4,quick"], engine)
    sc["fleet"]["router"] = "round_robin"
    pool = sc["fleet"]["pools"][0]
    pool.update(replicas=2, max_waiting=1)
    pool["failures"] = {"mtbf": 0.7 / e0, "mttr": 100}
    return sc


def test_a_running_request_retried_into_a_full_room_is_counted_a_refused_retry():
    """The failure of ``test_review_pp23`` (replica 0 fails at 0.7 inside its cycle (0.5, 0.75]), every
    replica with a waiting room of one. Replica 1 (r1 prefilled in (0.0625, 0.3125], r3 joining at 0.3125)
    runs cycles (0.5625, 0.8125] with a micro-batch boundary at 0.6875, which took x (0.65): its room is
    empty at 0.7. r0 and r2 were running on replica 0 and l1 was taken at its boundary 0.625: all three
    are retried at 0.7 in that order, new arrivals to the router, which has only replica 1 left. r0 takes
    its room's one place (and completes, ``retries`` 1); r2 and l1 find it full and are refused
    (``queue_full``, ``retries`` 1), as a gateway's queue limit answers a client's retry with a 429.
    q1's client left at 0.6925: it has gone (``timeout``, not retried). ``failures.retries_rejected_by_reason``
    counts the two refused retries, as the records do; the requests' ``refused_share`` counts them among
    the refused (two of the seven arrived). Before, the summary did not tell a refused retry from a
    fresh arrival refused."""
    out = {engine: sim.run(_retry_case(engine)) for engine in ENGINES}
    res = out["fast"]
    rec = res.records
    assert [_fate(rec, rid) for rid in (0, 2, 4)] == [(COMPLETED, 0, 0.0, 1),
                                                      (REJECTED, R_QUEUE_FULL, 0.25, 1),
                                                      (REJECTED, R_QUEUE_FULL, 0.625, 1)]
    assert _fate(rec, 5)[:3] == (COMPLETED, 0, 0.6875)
    assert _fate(rec, 6) == (REJECTED, R_TIMEOUT, -1.0, 0)
    assert res.summary["failures"]["retries_rejected_by_reason"] == {"queue_full": 2}
    refused_retries = int(np.sum((rec["status"] == REJECTED) & (rec["reason"] == R_QUEUE_FULL) & (rec["retries"] > 0)))
    assert refused_retries == 2
    assert res.summary["requests"]["refused_share"] == 2 / 7
    assert rec.tobytes() == out["reference"].records.tobytes()
    assert out["reference"].summary["failures"] == res.summary["failures"]
    assert "2 retries refused by a full waiting room" in format_summary(res)


def test_a_sweeps_mean_counts_a_replication_without_a_refused_retry_as_0():
    """``failures.retries_rejected_by_reason`` lists only the reasons met, like
    ``requests.rejected_by_reason``: a sweep's mean over the replications must count a reason a run did
    not meet as 0 times, not average the runs that met it alone. Here every refusal by a full room is a
    refused retry (the requests that arrive meet a free place), so per run both counts are equal, and
    so must their means be; of the eight seeds (the failure at 0.7 s times the ratio of the seed's first
    failure draw to seed 1's) some meet none. Before, the sweep's mean of the refused retries was over
    the runs that met one (7 / 5 = 1.4 where the mean is 7 / 8)."""
    res = sweep(_retry_case("fast"), {"fleet.pools.0.max_waiting": [1]}, seeds=8, executor="serial",
                figures=False)
    per_run = [row.get("failures.retries_rejected_by_reason.queue_full", 0) for row in res]
    assert per_run == [row.get("requests.rejected_by_reason.queue_full", 0) for row in res]
    assert 0 in per_run and sum(per_run) > 0
    conf, = res.configurations
    assert conf["n"] == 8
    assert conf["failures.retries_rejected_by_reason.queue_full.mean"] == sum(per_run) / 8
    assert conf["requests.rejected_by_reason.queue_full.mean"] == sum(per_run) / 8


_CI_TABLE = """
import json, sys
from sim.planning.sweep import configuration_rows
from sim.planning.table import to_csv
rows = json.loads(sys.argv[1])
sys.stdout.write(to_csv(configuration_rows(rows, ["k"])))
"""


def test_the_sweeps_table_of_reasons_is_the_same_bytes_whatever_the_string_hashes():
    """``sweep_ci.csv``: where the first replication met none of several reasons later ones met, the
    reasons counted 0 in it are its columns in one order in every process (same seed, same bytes);
    before, they came in the order of a set of strings, which changes with ``PYTHONHASHSEED``."""
    keys = ["requests.rejected_by_reason.queue_full", "requests.rejected_by_reason.timeout",
            "failures.retries_rejected_by_reason.queue_full", "failures.retries_rejected_by_reason.timeout"]
    rows = json.dumps([{"k": 1, "requests.arrived": 10}, {"k": 1, "requests.arrived": 12, **dict.fromkeys(keys, 1)}])
    root = Path(__file__).resolve().parents[1]
    tables = {subprocess.run([sys.executable, "-c", _CI_TABLE, rows], capture_output=True, text=True, check=True,
                             cwd=root, env={**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": str(h)}).stdout
              for h in range(4)}
    assert len(tables) == 1
    header = next(iter(tables)).splitlines()[0].split(",")
    assert [c for c in header if c.endswith(".mean") and "by_reason" in c] == [k + ".mean" for k in sorted(keys)]


# ------------------------------------------------ the cycle the run ends in, or a failure cuts short
def _cut_case(seed: int, failures: bool) -> dict:
    """A pipelined pool (PP2-PP4, one or two replicas, a waiting room or not) whose prompts take up to
    0.7 s a cycle, the run cut at 1.3, 2 or 2.7 s (inside a cycle). Without failures nor a patience,
    behind ``round_robin``, the fast engine routes ahead of the clock (pre-routed: a request arrived in
    the last cycle is still among its replica's arrivals when the run ends); a pool with failures is
    never pre-routed (``Fleet.prerouted``), so a failure cuts short only cycles of requests already queued."""
    rng = random.Random(seed)
    sc = scenario(duration=rng.choice([1.3, 2, 2.7]), seed=seed)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rng.choice([30, 60, 120])},
                      "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.0, "max": 1400},
                      "output_tokens": {"dist": "lognormal", "mean": rng.choice([10, 50]), "cv": 1.0, "max": 400}}
    sc["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 0.0005, "per_decode_token_s": 0.0,
                  "per_context_token_s": 0.0}
    sc["fleet"]["router"] = "round_robin"
    pool = sc["fleet"]["pools"][0]
    pool.update(pipeline_parallel=rng.choice([2, 3, 4]), replicas=rng.choice([1, 2]), max_model_len=2048)
    pool["batching"] = {"max_num_seqs": rng.choice([4, 8, 64]), "max_batched_tokens": 2048,
                        "scheduler": rng.choice(["vllm-v1", "sglang", "trtllm"])}
    if rng.random() < 0.7:
        pool["max_waiting"] = rng.choice([0, 1, 2, 4])
    if failures:
        sc["workload"].update(patience_s=rng.choice([0.005, 0.02, 0.1]), patience="fixed")
        pool["failures"] = {"mtbf": 0.5, "mttr": 0.2, "max_retries": rng.choice([0, 1, 3])}
    sc["metrics"] = {"interval": rng.choice([0.0037, 0.01, 0.1])}
    return sc


@pytest.mark.parametrize("failures", [False, True])
def test_requests_taken_in_a_cut_cycle_are_neither_lost_nor_counted_twice(failures):
    """A request a micro-batch took in the cycle the run ends in (or a failure cuts short) has started
    (``mid_cycle.start_taken``): each request is one record, and arrived = completed + rejected + failed
    + in flight; the last time-series row (read before the run's end settles that cycle) counts the
    requests in flight, waiting and running: those running are the ones in flight first admitted
    (``sched_s``), but retried ones, which wait again with their first admission kept. Pre-routed or
    not, both engines write the same records. (The review's doubt, a pre-routed request of that cycle
    not marked taken, was answered before: the run's end queues such a request first; this checks the
    counts it left in doubt, over random pools.)"""
    started = 0
    for seed in range(10):
        out = {}
        for engine in ENGINES:
            sc = _cut_case(seed, failures)
            sc["engine"] = engine
            res = out[engine] = sim.run(sc)
            rec, st = res.records, res.records["status"]
            assert len(np.unique(rec["rid"])) == len(rec)
            n = [int(np.sum(st == s)) for s in (COMPLETED, REJECTED, FAILED, IN_FLIGHT)]
            assert sum(n) == res.summary["requests"]["arrived"], (seed, engine)
            fl = rec[st == IN_FLIGHT]
            ts = timeseries_table(res)
            assert abs(float(ts["time_s"][-1]) - sc["duration"]) < 1e-9
            queue, running = int(ts["queue_len"][-1]), int(ts["running"][-1])
            assert queue + running == n[3], (seed, engine)
            first = int(np.sum((fl["sched_s"] >= 0) & (fl["retries"] == 0)))
            assert first <= running <= first + int(np.sum(fl["retries"] > 0)), (seed, engine)
            started += first
        assert out["fast"].records.tobytes() == out["reference"].records.tobytes(), seed
    assert started > 0                 # the split of the last row is checked on requests running at the end


# ------------------------------------------------ benchmarks/pp_room_holds.py: the cycle the run ends in
@pytest.mark.parametrize("duration,counts", [(2.0, {"considered": 2, "held": 1, "held_needlessly": 0, "cut": 0}),
                                             (0.45, {"considered": 0, "held": 0, "held_needlessly": 0, "cut": 2})])
def test_the_room_holds_count_leaves_out_the_cycle_the_run_ends_in(duration, counts):
    """The budget timeline of ``test_pipeline_room_budget`` (PP2, the flat 0.25 s cycle, ``vllm-v0``, a
    2,048-token budget): A and B (1,500 tokens each, at 0.3 and 0.31) would join the micro-batch at 0.375
    of the cycle (0.25, 0.5]; the bound counts A taken there and holds B, which the batch at 0.5 refuses
    (A's 1,500 tokens leave 548) and admits at 0.75: asked about two, held one, needlessly none. Cut at
    0.45 the run never reaches 0.5, where the batch would show whether B's place was held needlessly: both
    are ``cut``, in none of the other counts. Before, the script counted them asked about and B held
    (in flight, ``sched_s`` -1, never needless), as if the batch had refused it."""
    sc = scenario(duration=duration)
    rows = ["0,100,20", "0,100,20", "0.3,1500,4", "0.31,1500,4", "0.4,100,4"]
    sc["workload"] = {"arrival": {"process": "trace", "path": _trace(rows), "format": "fleetsim"}}
    sc["perf"] = dict(FLAT)
    sc["metrics"] = {"interval": 0.0625}
    pool = sc["fleet"]["pools"][0]
    pool.update(pipeline_parallel=2, max_waiting=2, max_model_len=2048)
    pool["batching"] = {"scheduler": "vllm-v0", "max_num_seqs": 64, "max_batched_tokens": 2048}
    with Watch() as w:
        res = sim.run(sc)
    assert {rid: q for rid, (q, _) in w.considered.items()} == {2: 0.375, 3: 0.375}
    assert w.held == {3}
    assert tally(w, res.records, duration) == counts
