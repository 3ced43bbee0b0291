"""The fluid tier's autoscaler waits out the scale-up delay, as the request-level one does.

A replica the autoscaler adds costs money from the decision and serves ``scale_up_delay`` seconds
later (:mod:`sim.serving.autoscaler`); the fluid tier used to scale instantly and so reported no
backlog during a ramp. Checked by hand on a fluid queue, and against request-level runs of a
ramp (the documented tolerance of the tiers: replicas per step and GPU-hours within 10 %).
"""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

import sim
from sim.api import build_pools
from sim.fluid import run_fluid
from sim.fluid.autoscale import Replicas, scale_step
from sim.fluid.pool_queue import fluid_queue
from sim.scenario.load import load_scenario

from conftest import curve_cache, scenario
from test_fluid import QUICK


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _one_second_requests(autoscale: dict) -> dict:
    """Replicas that serve one request at a time, each exactly 1 s (1,000 prompt tokens at 1 ms, one
    output token): a request costs ``s = 1`` replica-second at the batch limits and a replica
    serves ``max_rps = 1``/s."""
    sc = scenario(duration=420, warmup=0, seed=1)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 1.0},
                      "prompt_tokens": {"dist": "fixed", "value": 1000},
                      "output_tokens": {"dist": "fixed", "value": 1}}
    sc["perf"] = {"model": "linear", "base_s": 0.0, "per_prefill_token_s": 0.001, "per_decode_token_s": 0.0,
                  "per_context_token_s": 0.0}
    sc["fleet"]["pools"][0].update(replicas=2, batching={"max_num_seqs": 1}, autoscale=autoscale)
    return sc


def test_replicas_warm_up_across_steps_and_warming_ones_leave_first():
    r = Replicas(2, delay_s=90.0, cooldown_s=0.0)
    # +3 at t = 0: ready at 90 s, a step and a half later
    assert r.step(0.0, 60.0, 5) == (5.0, 2.0)
    assert r.step(60.0, 60.0, 5) == (5.0, 2.0 + 3 * 30 / 60)
    # +2 at 120 s (ready at 210 s), then down to 6 decided 30 s into the next step: one of the two
    # still warming goes (provisioned, never serving), the other serves from 210 s
    assert r.step(120.0, 60.0, 7) == (7.0, 5.0)
    assert r.step(180.0, 60.0, 6, lag_s=30.0) == ((7 * 30 + 6 * 30) / 60, (5 * 60 + 1 * 30) / 60)
    assert r.ready == 6 and r.warming == []
    # down to 3 decided 30 s in: three serving replicas leave then
    assert r.step(240.0, 60.0, 3, lag_s=30.0) == (4.5, 4.5)
    # every replica ever provisioned, as the request tier counts them: the first 2, +3, +2 (the
    # warming one dropped at 210 s was provisioned all the same); up again to 5 provisions 2 new
    assert r.n0 + r.summary()["replicas_provisioned"] == 2 + 3 + 2
    r.step(300.0, 60.0, 5)
    assert r.n0 + r.summary()["replicas_provisioned"] == 2 + 3 + 2 + 2


def test_the_stabilization_window_spans_short_steps():
    """Load falls after the first 60 s step; decisions every 60 s read the interval before them, so
    the last one that sees the high load is at 60 s. With a 150 s window the pool keeps 4 until the
    decision at 240 s (the one at 180 s still has the 60 s recommendation in its window), as the
    request-level autoscaler's would; without one it shrinks at 120 s."""
    cfg = SimpleNamespace(min=1, max=10, target=0.5, interval=60.0)
    for cooldown, expected in ((150.0, [4, 4, 4, 4, 1]), (0.0, [4, 4, 1, 1, 1])):
        r = Replicas(4, delay_s=0.0, cooldown_s=cooldown)
        got = [scale_step(r, cfg, 1.0, 60.0 * k, 60.0, settled) for k, settled in enumerate([4, 1, 1, 1, 1])]
        assert [p for p, _ in got] == expected, cooldown
        assert all(p == s for p, s in got)


def test_a_ramp_builds_the_backlog_the_scale_up_delay_implies_by_hand():
    """Hand-worked fluid queue, 60 s steps, ``load_factor`` target 0.5 (``n = ceil(rate x s / 0.5)``
    with ``rate`` the step's demand plus the backlog to clear), decisions every 60 s (each reads the
    interval before it, so a step's first decision is at its end), min 2, max 10, delay 90 s.
    Demand: 60 requests a step, then 240 from t = 120 s. A saturated replica reads load factor
    ``1``, so one decision reaches at most twice the replicas then serving.

    ====  ==========  =======  =========  ==================================  ======  ======
    step  demand + B  settles  decided    serving (warming ready at)          served  B end
    ====  ==========  =======  =========  ==================================  ======  ======
    0, 1  60          2        2          2                                   60      0
    2     240         8        4 @ 180    2 (+2 at 270)                       120     120
    3     360         10       4          2                                   120     240
    4     480         10       8 @ 300    2 + 2 x 30/60 = 3 (+4 at 390)       180     300
    5     540         10       8          4                                   240     300
    6     540         10       10 @ 420   4 + 4 x 30/60 = 6 (+2 at 510)       360     180
    7     420         10       10         8                                   420     0
    ====  ==========  =======  =========  ==================================  ======  ======

    Replicas are billed from their decision (``n``: 2, 2, 2, 4, 4, 8, 8, 10). Without the delay the
    pool serves 4 from 180 s and 8 from 240 s, and the backlog peaks at 120."""
    auto = {"metric": "load_factor", "target": 0.5, "interval": 60, "min": 2, "max": 10, "cooldown": 0,
            "scale_up_delay": 90}
    (pool,) = build_pools(load_scenario(_one_second_requests(auto)))
    curve = SimpleNamespace(reject_share=0.0, max_rps=1.0, prompt_tokens_mean=1000.0, output_tokens_mean=1.0)
    offered = np.array([60.0, 60.0, 240.0, 240.0, 240.0, 240.0, 240.0, 240.0])
    dt = np.full(8, 60.0)
    q = fluid_queue(pool, curve, offered, dt)
    assert q.n.tolist() == [2, 2, 2, 4, 4, 8, 8, 10]
    assert q.serving.tolist() == [2, 2, 2, 2, 3, 4, 6, 8]
    assert q.served.tolist() == [60, 60, 120, 120, 180, 240, 360, 420]
    assert q.b_end.tolist() == [0, 0, 120, 240, 300, 300, 180, 0]
    instant = copy.deepcopy(pool)
    instant.cfg = pool.cfg.model_copy(update={"autoscale": pool.cfg.autoscale.model_copy(
        update={"scale_up_delay": 0.0})})
    q0 = fluid_queue(instant, curve, offered[:5], dt[:5])
    assert q0.serving.tolist() == q0.n.tolist() == [2, 2, 2, 4, 8]
    assert q0.b_end.tolist() == [0, 0, 120, 120, 0]


def _ramp(delay_s: float) -> dict:
    """A pool at 4 req/s for 20 minutes, then 16 req/s: the autoscaler must add replicas that take
    ``delay_s`` to come up."""
    sc = scenario(duration=3600, warmup=0, seed=2)
    sc["workload"] = {"arrival": {"process": "piecewise", "times": [0, 1200], "rates": [4.0, 16.0]},
                      "prompt_tokens": {"dist": "lognormal", "mean": 200, "cv": 1.0, "max": 2000},
                      "output_tokens": {"dist": "lognormal", "mean": 50, "cv": 1.0, "max": 500}}
    sc["fleet"]["pools"][0].update(replicas=2, autoscale={"target": 0.6, "interval": 60, "min": 1, "max": 30,
                                                          "cooldown": 300, "scale_up_delay": delay_s})
    sc["metrics"] = {"interval": 60}
    sc["slo"] = {"ttft_s": 0.3, "tpot_s": 0.06}
    return sc


STEP_S = 60.0


def test_the_tiers_agree_on_a_ramp_with_a_slow_scale_up():
    """A 10-minute scale-up delay: both tiers bill the warming replicas (GPU-hours within the tiers'
    10 %) and both pile up a backlog while they warm, where the instant fluid pool had none."""
    sc = _ramp(600.0)
    exact = sim.run(copy.deepcopy(sc))
    fluid = run_fluid(load_scenario(sc), step_s=STEP_S, settings=QUICK)
    r, f = exact.summary, fluid.summary
    assert f["gpu_hours"]["provisioned"] == pytest.approx(r["gpu_hours"]["provisioned"], rel=0.10)
    edges = np.arange(0.0, 3601.0, STEP_S)
    ts = exact.timeseries
    rq = np.array([ts[(ts[:, 0] > a) & (ts[:, 0] <= b), 2].mean() for a, b in zip(edges[:-1], edges[1:])])
    assert np.abs(rq - fluid.timeseries[:, 2]).mean() <= 0.10 * rq.mean()
    # requests waiting at the worst moment of the ramp: the fluid backlog against the request-level queue
    q_exact = (ts[:, 3] + ts[:, 4]).max()
    q_fluid = fluid.timeseries[:, 3].max()
    assert q_fluid == pytest.approx(q_exact, rel=0.25)
    instant = run_fluid(load_scenario(_ramp(0.0)), step_s=STEP_S, settings=QUICK).summary
    assert instant["latency"]["ttft"]["p99"] < 0.5 * f["latency"]["ttft"]["p99"]
    assert f["latency"]["ttft"]["p99"] == pytest.approx(r["latency"]["ttft"]["p99"], rel=0.25)
