"""Review of a pipelined replica's waiting room and mid-cycle admission (``sim/serving/mid_cycle.py``,
``sim/serving/sampler.py``, ``sim/serving/iteration.py``).

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

import pytest

import sim
from sim.api import LiveRun
from sim.scenario.load import scenario_from_dict
from sim.serving.sampler import pipelined_pending

from conftest import scenario, trace_dir
from test_review_pp23 import _peak_case

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
