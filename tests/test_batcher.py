"""A request batcher in front of the fleet (``fleet.router.batcher``, :mod:`sim.serving.batcher`).

The mechanism is AMD's MLPerf harness batcher: arrivals wait in one list; the batcher looks at each
arrival and ``timeout_s`` after it last looked, and sends the first ``max_requests`` as one group to
one replica when the list holds that many or ``timeout_s`` has passed since the last dispatch.
Checked by hand on short timelines, against the renewal-reward mean wait under Poisson arrivals,
and for bytes: a batcher of groups of one is no batcher, and both engines agree with one.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import sim
from sim.errors import ScenarioError
from sim.scenario.load import scenario_from_dict
from sim.serving import saturated
from sim.serving.batcher import Batcher
from sim.serving.request import COMPLETED, R_CONTEXT, REJECTED, Req

from conftest import scenario, write_trace
from test_equivalence import _assert_same, _assert_same_summary


def _reqs(times: list[float]) -> list[Req]:
    return [Req(i, t, 100, 10, 0, 0) for i, t in enumerate(times)]


def _groups(times: list[float], max_requests: int = 96, timeout_s: float = 0.3) -> list[tuple[float, list[int]]]:
    b = Batcher(max_requests, timeout_s)
    out = []
    for r in _reqs(times):
        out += b.arrive(r)
    out += b.flush()
    return [(t, [r.rid for r in g]) for t, g in out]


def test_three_arrivals_leave_together_one_timeout_after_the_last_look():
    # 0.0 starts the timer; at 0.1 and 0.25 the batcher looks (0.1 and 0.25 s since the start: < 0.3) and waits
    # 0.3 s for the next arrival; none comes, so at 0.25 + 0.3 = 0.55 it looks again and sends all three
    assert _groups([0.0, 0.1, 0.25]) == [(0.55, [0, 1, 2])]
    # a fourth arrival at 0.35 (0.35 s since the start) is looked at first and leaves with the three
    assert _groups([0.0, 0.1, 0.25, 0.35]) == [(0.35, [0, 1, 2, 3])]
    # max_requests 2: the second arrival fills a group (sent at once, the timer restarts at 0.1); the third
    # waits for the timeout after its own look
    assert _groups([0.0, 0.1, 0.25], max_requests=2) == [(0.1, [0, 1]), (0.55, [2])]
    # one group per look: a burst of five with max_requests 2 leaves two at the second and third arrivals
    # (each fills a group), the fifth at the timeout after the last look
    assert _groups([0.0, 0.0, 0.0, 0.0, 0.0], max_requests=2) == [(0.0, [0, 1]), (0.0, [2, 3]), (0.3, [4])]
    # max_requests 1: every request leaves at its arrival (no batcher)
    assert _groups([0.0, 0.1, 0.25], max_requests=1) == [(0.0, [0]), (0.1, [1]), (0.25, [2])]


def test_a_dispatch_sets_queued_at_and_keeps_arrival():
    b = Batcher(96, 0.3)
    reqs = _reqs([0.0, 0.1, 0.25])
    for r in reqs:
        assert b.arrive(r) == []
    (t, group), = b.flush()
    assert [r.queued_at for r in group] == [0.55] * 3 and [r.arrival for r in group] == [0.0, 0.1, 0.25]


def test_poisson_arrivals_match_the_renewal_reward_wait():
    # at rate lam with lam * timeout >> 1 a cycle is timeout + Exp(1/lam) (the arrival that finds the timer
    # expired leaves with the group): lam * timeout + 1 requests a group, each waiting on average
    # (lam timeout^2 / 2 + timeout) / (lam timeout + 1)
    lam, tau, n = 50.0, 0.2, 200_000
    times = np.cumsum(np.random.default_rng(7).exponential(1.0 / lam, n)).tolist()
    b = Batcher(10_000, tau)
    waits, sizes = [], []
    for r in _reqs(times):
        for t, g in b.arrive(r):
            sizes.append(len(g))
            waits += [t - x.arrival for x in g]
    assert np.mean(sizes) == pytest.approx(lam * tau + 1, rel=0.01)
    assert np.mean(waits) == pytest.approx((lam * tau ** 2 / 2 + tau) / (lam * tau + 1), rel=0.01)
    assert max(sizes) < 10_000 and min(waits) == 0.0


def _run(tmp_path, rows, batcher=None, engine="fast", router="round_robin", replicas=1, **over):
    sc = scenario(duration=10, metrics={"interval": 1.0, "records": "all"}, engine=engine, drain=True, **over)
    sc["workload"] = {"arrival": {"process": "trace", "path": str(write_trace(tmp_path / "t.csv", rows))}}
    sc["fleet"]["router"] = {"policy": router, **({"batcher": batcher} if batcher else {})}
    sc["fleet"]["pools"][0]["replicas"] = replicas
    return sim.run(sc)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_hand_worked_group_is_prefilled_together_at_its_dispatch(tmp_path, engine):
    # three 100-token prompts at 0, 0.1 and 0.25 s reach the idle replica together at 0.55 s; one prefill
    # iteration of 300 tokens takes 0.01 + 300 x 1e-4 = 0.04 s, so every first token comes at 0.59 s
    res = _run(tmp_path, [(0.0, 100, 10), (0.1, 100, 10), (0.25, 100, 10)],
               batcher={"max_requests": 96, "timeout_s": 0.3}, engine=engine)
    rec = res.records
    assert rec["arrival_s"].tolist() == [0.0, 0.1, 0.25]
    assert rec["sched_s"].tolist() == [0.55] * 3
    assert rec["first_token_s"] == pytest.approx([0.59] * 3, abs=1e-12)
    assert res.summary["latency"]["ttft"]["mean"] == pytest.approx((0.59 + 0.49 + 0.34) / 3, abs=1e-12)


def test_each_group_goes_to_one_replica_in_turn(tmp_path):
    rows = [(0.01 * i, 100, 10) for i in range(100)]     # 100 arrivals 10 ms apart, groups of 31 (+ 7)
    rec = _run(tmp_path, rows, batcher={"max_requests": 96, "timeout_s": 0.3}, replicas=4).records
    sched = rec["sched_s"]
    starts = sorted(set(np.round(sched, 9).tolist()))
    assert len(starts) == 4
    for k, t in enumerate(starts):
        mine = np.isclose(sched, t, rtol=0, atol=1e-9)
        assert set(rec["replica"][mine].tolist()) == {k % 4}


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_request_its_groups_replica_can_never_serve_is_routed_alone(tmp_path, engine):
    # the middle prompt is longer than the model's 4,096-token context: rejected on its own, while the
    # group's other two go together to the replica the router picked for the first
    res = _run(tmp_path, [(0.0, 100, 10), (0.1, 5000, 10), (0.2, 100, 10)],
               batcher={"max_requests": 96, "timeout_s": 0.3}, engine=engine, replicas=2)
    rec = res.records
    assert rec["status"].tolist() == [COMPLETED, REJECTED, COMPLETED]
    assert rec["reason"][1] == R_CONTEXT
    assert rec["replica"][[0, 2]].tolist() == [0, 0] and rec["sched_s"][[0, 2]].tolist() == [0.5, 0.5]


def _poisson(router="round_robin", batcher=None, engine="fast", seed=3, replicas=3, duration=120):
    sc = scenario(seed=seed, duration=duration, engine=engine, metrics={"interval": 5.0, "records": "all"})
    sc["workload"]["arrival"]["rate"] = 30.0
    sc["fleet"]["router"] = {"policy": router, **({"batcher": batcher} if batcher else {})}
    sc["fleet"]["pools"][0]["replicas"] = replicas
    return sim.run(sc)


def _same(a, b) -> None:
    assert a.summary["requests"]["completed"] > 1000
    _assert_same(a.records, b.records)
    _assert_same_summary(a, b, skip=("engine",))


@pytest.mark.parametrize("router,engine", [("round_robin", "fast"), ("round_robin", "reference"),
                                           ("least_outstanding", "fast"), ("random", "fast")])
def test_groups_of_one_are_no_batcher(router, engine):
    _same(_poisson(router, None, engine), _poisson(router, {"max_requests": 1, "timeout_s": 0.3}, engine))


@pytest.mark.parametrize("router", ["round_robin", "least_outstanding"])
def test_both_engines_agree_with_a_batcher(router):
    b = {"max_requests": 8, "timeout_s": 0.25}
    _same(_poisson(router, b, "fast"), _poisson(router, b, "reference"))


def test_at_light_load_a_request_waits_the_batchers_renewal_reward_wait():
    # 30 requests/s on 3 nearly idle replicas: no request is admitted before its group is sent (its dispatch
    # worked out by a Batcher from the run's arrival times), and the mean wait to admission is the
    # renewal-reward one (above; e^(-7.5) of the cycles end by the timeout), the replicas adding almost nothing
    lam, tau = 30.0, 0.25
    res = _poisson(batcher={"max_requests": 1000, "timeout_s": tau}, duration=600)
    rec = res.records
    b = Batcher(1000, tau)
    sent = {}
    for rid, t in zip(rec["rid"].tolist(), rec["arrival_s"].tolist()):
        sent.update((r.rid, td) for td, g in b.arrive(Req(rid, t, 1, 1, 0, 0)) for r in g)
    sent.update((r.rid, td) for td, g in b.flush() for r in g)
    done = rec["sched_s"] >= 0
    d = np.array([sent[i] for i in rec["rid"][done].tolist()])
    assert np.all(rec["sched_s"][done] >= d)
    wait = (lam * tau ** 2 / 2 + tau) / (lam * tau + 1)
    assert float(np.mean(rec["sched_s"][done] - rec["arrival_s"][done])) == pytest.approx(wait, rel=0.03)


def _problems(sc: dict) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(sc)
    return exc.value.problems


@pytest.mark.parametrize("batcher,field,msg", [
    ({"max_requests": 0, "timeout_s": 0.3}, "fleet.router.batcher.max_requests", "must be >= 1 (got 0)"),
    ({"max_requests": True, "timeout_s": 0.3}, "fleet.router.batcher.max_requests", "true"),
    ({"max_requests": 8, "timeout_s": 0}, "fleet.router.batcher.timeout_s", "must be > 0 (got 0)"),
    ({"max_requests": 8}, "fleet.router.batcher.timeout_s", "required"),
    ({"max_requests": 8, "timeout_s": 0.3, "timeout": 1}, "fleet.router.batcher.timeout", ""),
])
def test_bad_batcher_settings_are_refused_at_their_field(batcher, field, msg):
    sc = scenario()
    sc["fleet"]["router"] = {"policy": "round_robin", "batcher": batcher}
    got = dict(_problems(sc))
    assert field in got and msg in got[field].lower(), got


def test_a_batcher_is_refused_where_a_group_has_no_one_replica():
    sc = scenario()
    sc["fleet"]["router"] = {"policy": "central_queue", "batcher": {"max_requests": 8, "timeout_s": 0.3}}
    (field, msg), = _problems(sc)
    assert field == "fleet.router.batcher" and "central_queue keeps no replica queues" in msg

    sc = scenario()
    sc["fleet"]["pools"].append({**copy.deepcopy(sc["fleet"]["pools"][0]), "name": "other"})
    sc["fleet"]["disaggregated"] = {"prefill_pool": "main", "decode_pool": "other", "link_gbps": 400}
    sc["fleet"]["router"] = {"policy": "least_outstanding", "batcher": {"max_requests": 8, "timeout_s": 0.3}}
    assert ("fleet.router.batcher", "the router, and so its batcher, is not used under fleet.disaggregated; "
                                    "remove one of the two") in _problems(sc)


def test_the_load_factors_saturated_measurement_runs_the_engine_without_the_batcher():
    # the scheduler factor is the pool's engine's: its saturated window is the same behind a batcher or not
    from sim.api import build_pools

    sc = scenario(duration=600)
    plain = scenario_from_dict(copy.deepcopy(sc))
    sc["fleet"]["router"] = {"policy": "round_robin", "batcher": {"max_requests": 8, "timeout_s": 0.3}}
    held = scenario_from_dict(sc)
    pool = build_pools(held)[0]
    reqs = saturated.workload_sample(held.scenario.workload, 600.0, held.base_dir, pool=pool)
    (a, ta), (b, tb) = (saturated.saturated_window(x.scenario, pool, reqs) for x in (held, plain))
    assert len(a) > 100 and ta == tb and a.tobytes() == b.tobytes()


def test_the_fluid_tier_refuses_a_batcher():
    from sim.fluid.unsupported import refused

    sc = scenario()
    sc["fleet"]["router"] = {"policy": "round_robin", "batcher": {"max_requests": 8, "timeout_s": 0.3}}
    assert [f for f, _ in refused(scenario_from_dict(sc).scenario)] == ["fleet.router.batcher"]
