"""A backlog that clears inside a sub-step: the requests served after it, in that sub-step, wait nothing.

The one-server pool of ``tiers_pool`` (exact 1 s service, ``mu = 1``) at 1.5/s for 2,880 s, then 0.5/s,
two hourly steps (the rate changes inside the first, so the backlog is read on 5-minute sub-steps). The
backlog of 1,440 at 2,880 s drains at 0.5/s, gone at 5,760 s, a fifth into the sub-step ``[5,700,
6,000)``. First come, first served at 1/s, the arrival at ``t < 2,880`` waits ``0.5 t``, the one at
``2,880 <= t < 5,760`` waits ``2,880 - 0.5 t``, the ones after 5,760 s nothing (the server at half load).
With a TTFT objective of 20 s (a wait of at most 19 s): the 57 arrivals of the first 38 s, the 19 of
``[5,722, 5,760)`` and the 720 after 5,760 s meet it, 796 of the 6,480: 0.1228. The mean wait is 640 s.

Each sub-step's services were spread evenly over it, so the requests served after the clearing in
that sub-step read a wait: attainment 0.1097 in hourly steps, where one-minute steps read 0.1220; now
0.1210. Within a sub-step the services are the plain fluid queue's, at capacity while a backlog is
left, then at the arrivals' rate (``min(c t, q0 + a t)``). A trace is read on its sub-steps wherever it
is, so a trace replay met this at every clearing (``1.25 mu`` then ``0.25 mu`` on a batching replica,
one hour each, evenly spaced: 0.1148 hourly, 0.1153 at 300 s steps, 0.1162 replayed at request level;
``test_a_trace_replay_behind_a_backlog_reads_its_request_level_replay``).
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
from tiers_pool import pool

HAND_MET = (57 + 19 + 720) / 6480
HAND_WAIT = 720.0 * 5760 / 6480


def _run(step_s: float) -> dict:
    sc = pool("fluid", {"process": "piecewise", "times": [0, 2880], "rates": [1.5, 0.5]}, duration=7200.0,
              step_s=step_s, records="none")
    sc["slo"] = {"ttft_s": 20.0, "tpot_s": 1.0}
    return sim.run(sc).summary


def test_attainment_after_a_backlog_clears_inside_a_sub_step():
    s = _run(3600.0)
    assert s["requests"]["completed"] == pytest.approx(6480, abs=1)
    assert s["slo"]["attainment"] == pytest.approx(HAND_MET, abs=0.003)


def test_hourly_steps_read_what_minute_steps_read():
    hourly, fine = _run(3600.0), _run(60.0)
    assert hourly["slo"]["attainment"] == pytest.approx(fine["slo"]["attainment"], abs=0.002)
    assert hourly["latency"]["queue"]["mean"] == pytest.approx(fine["latency"]["queue"]["mean"], rel=0.01)
    assert hourly["latency"]["queue"]["mean"] == pytest.approx(HAND_WAIT, rel=0.01)


def test_sub_waits_serve_at_capacity_until_the_backlog_clears():
    """One 2,000 s step of two sub-steps: 1,500 then 250 arrivals against 1/s. The backlog of 500 at
    1,000 s drains at 0.75/s, gone at 1,666.7 s. The request served at ``s`` is the ``s``-th while the
    backlog lasts (the ``D``-th served arrived at ``D / 1.5`` up to the 1,500th, at ``1,000 + (D - 1,500)
    / 0.25`` after it), then the one arriving at ``s``: at 1,125 s the 1,125th, which arrived at 750 s;
    at 1,625 s the 1,625th, at 1,500 s; at 1,875 s none waits. The second sub-step's 750 services spread
    evenly over it read the one served at 1,875 s as the 1,656th, arrived at 1,625 s: 250 s."""
    from sim.fluid.substep import sub_waits

    edges = np.array([0.0, 2000.0])
    spread = np.array([[1500.0, 250.0]]) / 1750.0
    w, r = sub_waits(edges, np.array([1750.0]), np.zeros(1), np.array([2000.0]), spread, np.array([0]), 8)
    # instants at 125, 375, ..., 1,875 s: at capacity (1/s: 2,000 per step) until 1,666.7 s, then 0.25/s
    assert r[0].tolist() == pytest.approx([2000.0] * 7 + [500.0])
    assert w[0].tolist() == pytest.approx([125 / 3, 125.0, 625 / 3, 875 / 3, 375.0, 1375 / 3, 125.0, 0.0])


def test_a_trace_replay_behind_a_backlog_reads_its_request_level_replay(tmp_path):
    """The batching replica of ``test_fluid_backlog_load`` (``mu = 3.2787``/s, TTFT objective 5 s) replaying a
    trace of ``1.25 mu`` for an hour, then ``0.25 mu`` for an hour, evenly spaced: the backlog of ``900 mu``
    at 3,600 s drains at ``0.75 mu``, gone 1,200 s into the second hour (inside its sub-step ``[4,500,
    4,800)``); those served after it meet the objective. Measured: SLO attainment 0.1148 in hourly steps,
    0.1153 at 300 s steps, 0.1162 replayed at request level (one run: the trace is the arrivals)."""
    from conftest import write_trace
    from test_fluid_backlog_load import MU, batching_pool

    t = np.concatenate([np.arange(round(1.25 * MU * 3600)) / (1.25 * MU),
                        3600 + np.arange(round(0.25 * MU * 3600)) / (0.25 * MU)])
    arrival = {"process": "trace", "format": "fleetsim",
               "path": str(write_trace(tmp_path / "t.csv", [(float(x), 10, 10) for x in t]))}

    def run(fidelity: str, step_s: float = 3600.0) -> dict:
        sc = batching_pool(fidelity, step_s=step_s)
        sc["workload"]["arrival"] = arrival
        return sim.run(sc).summary

    hourly, fine, replay = run("fluid"), run("fluid", 300.0), run("request")
    assert 0.10 < replay["slo"]["attainment"] < 0.13
    assert hourly["slo"]["attainment"] == pytest.approx(replay["slo"]["attainment"], abs=0.002)
    assert hourly["slo"]["attainment"] == pytest.approx(fine["slo"]["attainment"], abs=0.001)
    assert hourly["latency"]["queue"]["mean"] == pytest.approx(replay["latency"]["queue"]["mean"], rel=0.01)
