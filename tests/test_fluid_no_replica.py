"""A fluid pool with no replica ready (:mod:`sim.fluid.no_replica`): arrivals turned away ``no_replica``, or
held behind a central queue while the first replica boots, as the request level does.

The case: one pool at ``replicas: 0``, ``autoscale.min: 0``, a 1-minute interval and a 3-minute
``scale_up_delay``; no arrivals for 30 minutes, then 5 requests/s for 30 minutes, on the linear step model
of exactly 0.25 s an iteration (100-token prompts, 4 output tokens: 1 s a request alone, 64 at once), in
30-minute fluid steps. By hand: the autoscaler's first decision on the traffic comes at 1,860 s (a minute
into it), its replica serves at 2,040 s; so ``5 x 240 = 1,200`` arrivals meet no replica. Behind a central
queue only those before the replica is provisioned are turned away, ``5 x 60 = 300``, and the ``900`` that
arrive while it boots wait for it: from 180 s down to 0, a mean of 90 s. Within a sub-step the fluid
queue serves evenly, so those waits are read to a sub-step's length: 5-minute steps (25 s sub-steps) read
them, 30-minute steps (150 s sub-steps, the replica serving in the last 60 s of the second) read the mean
queue time 4.3 s where by hand it is 9.4 s.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.fluid.autoscale import Replicas
from sim.fluid.no_replica import level_subs, turned_away

RATE, DELAY, INTERVAL, QUIET = 5.0, 180.0, 60.0, 1800.0


def scenario(router: str = "least_outstanding", seed: int = 1) -> dict:
    return {"name": "from_zero", "seed": seed, "duration": "1h", "model": "llama-3-8b", "engine": "fast",
            "workload": {"arrival": {"process": "piecewise", "times": [0, QUIET], "rates": [0, RATE]},
                         "prompt_tokens": {"dist": "fixed", "value": 100},
                         "output_tokens": {"dist": "fixed", "value": 4}},
            "perf": {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
                     "per_context_token_s": 0.0},
            "slo": {"ttft_s": 5.0, "tpot_s": 1.0},
            "fleet": {"router": {"policy": router},
                      "pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 0, "batching": {"max_num_seqs": 64},
                                 "autoscale": {"metric": "load_factor", "target": 0.6, "min": 0, "max": 4,
                                               "interval": "1m", "scale_up_delay": "3m"}}]}}


def fluid(router: str = "least_outstanding", step: str = "30m") -> dict:
    return sim.run(scenario(router), overrides=["fidelity=fluid", f"fluid.step={step}"]).summary


def test_the_sub_steps_read_the_boot_by_hand():
    mean, none = level_subs(0.0, [(QUIET + INTERVAL + DELAY, 1.0)], QUIET, 3600.0, 12)
    assert none.tolist() == [1.0, 0.6] + [0.0] * 10            # ready 240 s into the step: 150 s sub-steps
    assert mean.tolist() == [0.0, 0.4] + [1.0] * 10
    assert turned_away(np.full(12, 1.0 / 12), none) * RATE * 1800.0 == pytest.approx(RATE * 240.0, rel=1e-12)


def test_the_ready_log_integrates_to_the_steps_serving_mean():
    """Two paths that must agree: the sub-steps' replicas serving (the ready log) and Replicas.step's mean."""
    r = Replicas(2, delay_s=90.0, cooldown_s=0.0)
    for t, target, lag in ((0.0, 5, 30.0), (600.0, 1, 20.0), (1200.0, 0, 10.0), (1800.0, 3, 60.0)):
        ready, seen = r.ready, len(r.readies)
        serving = r.step(t, 600.0, target, lag_s=lag)[1]
        mean, _ = level_subs(ready, r.readies[seen:], t, t + 600.0, 12)
        assert float(mean.mean()) == pytest.approx(serving, rel=1e-12, abs=1e-12)


def test_a_backlog_grows_while_replicas_boot_and_the_even_spread_hid_it():
    """An hour at 1.5/s on one replica serving 1/s, a second one ready 1,200 s in (6,000 served in the hour,
    1.67/s on average): by hand the queue grows 0.5/s to 600 at 1,200 s and drains 0.5/s to 0 at 2,400 s;
    the step's mean capacity spread evenly over it holds none."""
    from sim.fluid.no_replica import capacity_spread
    from sim.fluid.substep import hidden_backlog

    mean, none = level_subs(1.0, [(1200.0, 1.0)], 0.0, 3600.0, 12)
    assert not none.any() and float(mean.mean()) * 3600.0 == 6000.0
    spread = np.full((1, 12), 1.0 / 12)
    args = (spread, np.array([5400.0]), np.array([6000.0]), np.zeros(1), np.zeros(1))
    q, within = hidden_backlog(*args, capacity_spread(mean)[None, :])
    assert np.round(q[0], 9).tolist() == [150.0, 300.0, 450.0, 600.0, 450.0, 300.0, 150.0] + [0.0] * 5
    assert within.tolist() == [True]
    q, within = hidden_backlog(*args)
    assert not q.any() and within.tolist() == [False]


def test_a_pool_at_zero_turns_away_what_arrives_before_its_replica_serves():
    s = fluid()
    req = s["requests"]
    assert req["rejected_by_reason"] == {"no_replica": 1200}          # 5/s x 240 s
    assert req["rejected"] == 1200 and req["arrived"] == 9000
    assert req["completed"] + req["rejected"] + req["in_flight"] == req["arrived"]


def test_an_hourly_step_keeps_the_pool_at_zero_until_its_traffic():
    """One hourly step whose first half is quiet: the pool stays at zero through it, as at request level
    (its autoscaler brings a replica back at its first decision after an arrival met none), so its replica
    is provisioned at 1,860 s and billed 1,740 s, and the same 1,200 arrivals meet none. Before, the step's
    one decision came a minute into the hour: a replica ready through the quiet half, none turned away."""
    s = fluid(step="1h")
    assert s["requests"]["rejected_by_reason"] == {"no_replica": 1200}
    assert s["gpu_hours"]["provisioned"] == pytest.approx((3600.0 - QUIET - INTERVAL) / 3600.0, rel=1e-12)
    assert s["autoscale"]["p"]["scale_ups"] == 1


@pytest.mark.parametrize("step", ["45s", "90s", "5m", "30m"])
def test_traffic_that_starts_between_decisions_brings_the_replica_back_at_the_next_one(step):
    """Traffic from 1,830 s: the first arrival meets no replica then; the request level's autoscaler
    decides at the multiples of its interval from the run's start, so at 1,860 s it provisions the replica,
    ready at 2,040 s: ``5 x 210 = 1,050`` turned away (1,054 at request level, seed 1), at any step length
    whose sub-steps are shorter than the interval. (Before, the first decision came an interval after the
    sub-step of the first arrival: 1,885 s in 5-minute steps, 1,175 turned away.)"""
    sc = scenario()
    sc["workload"]["arrival"] = {"process": "piecewise", "times": [0, 1830.0], "rates": [0, RATE]}
    s = sim.run(sc, overrides=["fidelity=fluid", f"fluid.step={step}"]).summary
    assert s["requests"]["rejected_by_reason"] == {"no_replica": round(RATE * (1860.0 + DELAY - 1830.0))}
    assert s["gpu_hours"]["provisioned"] == pytest.approx((3600.0 - 1860.0) / 3600.0, rel=1e-12)


def test_behind_a_central_queue_the_boot_is_waited_out():
    assert fluid("central_queue")["requests"]["rejected_by_reason"] == {"no_replica": 300}     # 5/s x 60 s
    s = fluid("central_queue", "5m")
    assert s["requests"]["rejected_by_reason"] == {"no_replica": 300}
    # the 900 that arrived while the replica booted waited 180 s down to 0: 90 s each, of 8,700 served
    assert s["latency"]["queue"]["mean"] == pytest.approx(900 * 90.0 / 8700, rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("router, by_hand", [("least_outstanding", 1200), ("central_queue", 300)])
def test_the_request_level_turns_away_as_many(router, by_hand):
    """Four seeds at request level: their mean no_replica count within three standard errors of the fluid
    tier's (Poisson: sd sqrt(1,200) = 35 a seed), and the queue time behind the boot alike."""
    away, queue = [], []
    for seed in range(1, 5):
        s = sim.run(scenario(router, seed)).summary
        away.append(s["requests"]["rejected_by_reason"].get("no_replica", 0))
        queue.append(s["latency"]["queue"]["mean"])
        assert s["gpu_hours"]["provisioned"] == pytest.approx((3600.0 - QUIET - INTERVAL) / 3600.0, rel=1e-9)
    f = fluid(router, "5m")
    assert f["requests"]["rejected_by_reason"]["no_replica"] == by_hand
    se = np.std(away, ddof=1) / 2.0
    assert abs(np.mean(away) - by_hand) <= 3.0 * max(se, np.sqrt(by_hand) / 2.0)
    assert f["latency"]["queue"]["mean"] == pytest.approx(np.mean(queue), rel=0.2, abs=0.5)


@pytest.mark.slow
def test_the_request_level_brings_the_replica_back_at_its_next_decision():
    """Traffic from 1,830 s, four seeds at request level: the replica provisioned at 1,860 s in each (its
    GPU-hours), and their mean no_replica count within three standard errors of the fluid tier's 1,050."""
    away = []
    for seed in range(1, 5):
        sc = scenario(seed=seed)
        sc["workload"]["arrival"] = {"process": "piecewise", "times": [0, 1830.0], "rates": [0, RATE]}
        s = sim.run(sc).summary
        away.append(s["requests"]["rejected_by_reason"].get("no_replica", 0))
        assert s["gpu_hours"]["provisioned"] == pytest.approx((3600.0 - 1860.0) / 3600.0, rel=1e-9)
    se = max(np.std(away, ddof=1), np.sqrt(1050.0)) / 2.0
    assert abs(np.mean(away) - 1050.0) <= 3.0 * se, away
