"""Clients' patience (``workload.patience_s``) on a pipelined replica (``pipeline_parallel > 1``).

A pipelined replica admits a request queued mid-cycle at the next micro-batch boundary inside the
cycle (``tests/test_pipeline_admission.py``), though the engine books the cycle at its end. Patience
was checked at the cycle's end only: a request whose micro-batch took it before its client's deadline,
the deadline falling between that boundary and the cycle's end, was counted abandoned (``timeout``).
A client gives up at ``arrival + patience_s`` if no batch has taken the request by then, with or
without pipelining: the request leaves exactly when its deadline comes before its admission.

Hand-worked (the linear model of tests/conftest.py: 0.01 s + 1e-4 s a prefill token + 1e-3 s a
decoding sequence): four requests (100 prompt tokens, 10 output) at 0 run a prefill iteration of
0.05 s and decode cycles of 0.014 s ending at 0.064, 0.078, ... A fifth arrives at 0.070, inside the
cycle (0.064, 0.078]; PP2 schedules a micro-batch 0.007 s into it, at 0.071, which takes the fifth:
first token at 0.095. With a fixed patience of 4 ms (deadline 0.074) it is served so; of 0.5 ms
(deadline 0.0705, before 0.071) it leaves. Without pipelining it would be taken at 0.078, after
either deadline: it leaves in both cases.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.metrics.schema import COMPLETED, R_TIMEOUT, REJECTED

from conftest import scenario, trace_dir, write_trace

ENGINES = ["fast", "reference"]


def _run(rows, engine: str, pp: int, patience: float, **batching):
    sc = scenario(duration=2)
    path = write_trace(trace_dir() / "trace.csv", rows)
    sc["workload"] = {"arrival": {"process": "trace", "path": str(path), "format": "fleetsim"},
                      "patience_s": patience}
    sc["engine"] = engine
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = pp
    pool["batching"].update(batching)
    return sim.run(sc).records


FIVE = [(0.0, 100, 10)] * 4 + [(0.070, 100, 10)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_client_still_there_when_its_micro_batch_takes_it_is_served(engine):
    rec = _run(FIVE, engine, pp=2, patience=0.004)
    late = rec[rec["rid"] == 4][0]
    assert late["status"] == COMPLETED            # before: rejected, timeout, at the cycle's end (0.078)
    assert late["sched_s"] == pytest.approx(0.071, rel=1e-12)
    assert late["first_token_s"] == pytest.approx(0.095, rel=1e-12)
    assert np.all(rec["status"][:4] == COMPLETED)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("pp,patience", [(2, 0.0005), (1, 0.004), (1, 0.0005)])
def test_a_client_whose_deadline_comes_before_its_admission_leaves(engine, pp, patience):
    rec = _run(FIVE, engine, pp=pp, patience=patience)
    late = rec[rec["rid"] == 4][0]
    assert (late["status"], late["reason"]) == (REJECTED, R_TIMEOUT)
    assert late["sched_s"] < 0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_request_queued_mid_cycle_is_not_taken_out_by_an_arrival_before_the_cycle_ends(engine):
    """The fifth (deadline 0.074) has joined the micro-batch at 0.071; a sixth arriving at 0.0765, inside
    the same cycle and after that deadline, reads the queue (it counts for the router): the fifth is
    still there, to be booked at the cycle's end, not a client who gave up. The sixth, after the
    cycle's last micro-batch boundary, waits for the next cycle (0.078) and is served too."""
    rec = _run(FIVE + [(0.0765, 100, 10)], engine, pp=2, patience=0.004)
    assert np.all(rec["status"] == COMPLETED)
    assert rec[rec["rid"] == 4][0]["sched_s"] == pytest.approx(0.071, rel=1e-12)
    assert rec[rec["rid"] == 5][0]["sched_s"] == pytest.approx(0.078, rel=1e-12)


def test_no_request_is_admitted_after_its_clients_deadline_and_the_engines_agree(tmp_path):
    """An overloaded PP2 replica (Poisson arrivals at twice what it serves, varied lengths, a fixed
    patience of 0.5 s; of ~2,400 arrivals ~350 served): every request served was admitted before its deadline (queue < 0.5 s), many
    gave up, and both engines write the same rows."""
    sc = scenario(duration=60)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 40.0},
                      "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.0, "max": 3000},
                      "output_tokens": {"dist": "lognormal", "mean": 60, "cv": 1.0, "max": 400},
                      "patience_s": 0.5}
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = 2
    pool["batching"].update(max_num_seqs=8, max_batched_tokens=2048)
    rows = {}
    for engine in ENGINES:
        rows[engine] = (sim.run({**sc, "engine": engine}).write(tmp_path / engine, figures="none")
                        / "requests.csv.gz").read_bytes()
    assert rows["fast"] == rows["reference"]
    rec = sim.run({**sc, "engine": "fast"}).records
    done = rec["status"] == COMPLETED
    gone = (rec["status"] == REJECTED) & (rec["reason"] == R_TIMEOUT)
    assert done.sum() > 200 and gone.sum() > 1000
    assert np.all(rec["sched_s"][done] - rec["arrival_s"][done] < 0.5)
    assert np.any((rec["sched_s"][done] - rec["arrival_s"][done]) > 0.4)
