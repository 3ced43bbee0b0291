"""A living fleet: autoscaling, failures, static batching and routing across mixed pools.

Hand-worked timelines use the linear step model of tests/conftest.py: 0.01 s per iteration plus
1e-4 s per prefill token plus 1e-3 s per decoding sequence.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import sim
import sim.serving.failures as failures_mod
from sim.serving.fleet import EV_DRAIN, EV_FAIL, EV_PROVISION, EV_READY, EV_RELEASE, EV_REPAIR
from sim.serving.request import COMPLETED, FAILED, REJECT_REASONS

from conftest import scenario

ENGINES = ["fast", "reference"]
FIXED = {"prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 10}}


def _rec(result, rid):
    r = result.records
    return r[r["rid"] == rid][0]


def _conserved(summary) -> bool:
    r = summary["requests"]
    return r["arrived"] == r["completed"] + r["rejected"] + r["in_flight"] + r["failed"]


def _provisioned_integral_s(events: np.ndarray, pool: int, end: float) -> float:
    """Replica-seconds provisioned, integrated from the provision/release event log alone."""
    ev = events[events["pool"] == pool]
    t = np.concatenate([ev["time_s"][ev["kind"] == EV_PROVISION], ev["time_s"][ev["kind"] == EV_RELEASE], [end]])
    step = np.concatenate([np.ones(np.sum(ev["kind"] == EV_PROVISION)), -np.ones(np.sum(ev["kind"] == EV_RELEASE)),
                           [0.0]])
    order = np.argsort(t, kind="stable")
    t, step = t[order], step[order]
    count = np.cumsum(step)
    return float(np.sum(count[:-1] * np.diff(t)))


# ---------------------------------------------------------------------------------------- autoscaling
STEP_UP_S, STEP_DOWN_S, INTERVAL_S, DELAY_S, COOLDOWN_S = 100.0, 300.0, 10.0, 30.0, 60.0


def _step_scenario(engine: str = "fast", metric: str = "utilization", target: float = 0.5) -> dict:
    sc = scenario(engine=engine, duration=600,
                  workload={"arrival": {"process": "piecewise", "times": [0, STEP_UP_S, STEP_DOWN_S],
                                        "rates": [2, 40, 2]}, **FIXED})
    sc["fleet"]["pools"][0]["autoscale"] = {"metric": metric, "target": target, "interval": INTERVAL_S, "min": 1,
                                            "max": 6, "scale_up_delay": DELAY_S, "cooldown": COOLDOWN_S}
    return sc


@pytest.mark.parametrize("engine", ENGINES)
def test_autoscaler_follows_a_load_step_with_delay_and_cooldown(engine):
    res = sim.run(_step_scenario(engine))
    ev = res.extra["events"]
    prov = ev[ev["kind"] == EV_PROVISION]
    ready = ev[ev["kind"] == EV_READY]
    drains = ev[ev["kind"] == EV_DRAIN]
    # at 2 req/s one replica is ~25 % busy (< 50 % target): nothing happens before the step
    scaled = prov[prov["time_s"] > 0]
    assert len(scaled) >= 2
    assert scaled["time_s"].min() > STEP_UP_S
    assert scaled["time_s"].min() <= STEP_UP_S + 2 * INTERVAL_S
    # every added replica serves exactly scale_up_delay after it was provisioned
    for row in scaled:
        t_ready = ready[ready["replica"] == row["replica"]]["time_s"]
        assert len(t_ready) == 1 and t_ready[0] - row["time_s"] == pytest.approx(DELAY_S, abs=1e-9)
    # the load falls at 300 s; the stabilization window keeps the replicas for `cooldown`
    assert len(drains) >= 1
    assert drains["time_s"].min() >= STEP_DOWN_S + COOLDOWN_S
    assert drains["time_s"].min() <= STEP_DOWN_S + COOLDOWN_S + 2 * INTERVAL_S
    # back to min: the time series ends at one provisioned replica, peaked above one
    ts = res.timeseries
    assert ts[-1, 2] == pytest.approx(1.0)
    assert ts[:, 2].max() > 1.0
    assert _conserved(res.summary)


def test_gpu_hours_equal_the_integral_of_provisioned_replicas():
    sc = _step_scenario()
    sc["fleet"]["pools"][0]["tensor_parallel"] = 2
    res = sim.run(sc)
    end = res.summary["simulated_seconds"]
    gpu_h = res.summary["gpu_hours"]["provisioned"]
    from_events = _provisioned_integral_s(res.extra["events"], 0, end) * 2 / 3600.0
    from_series = float(np.sum(res.timeseries[:, 2] * INTERVAL_S)) * 2 / 3600.0
    assert gpu_h == pytest.approx(from_events, rel=1e-12)
    assert gpu_h == pytest.approx(from_series, rel=1e-12)
    # more than the one replica it started with, less than max all the time
    assert 2 * end / 3600.0 < gpu_h < 6 * 2 * end / 3600.0
    # and money follows: the linear pricing bills exactly these GPU-hours
    assert res.summary["cost"]["compute_usd"] == pytest.approx(2.0 * gpu_h, rel=1e-9)


def test_warming_replicas_cost_money_but_serve_nothing():
    res = sim.run(_step_scenario())
    ev = res.extra["events"]
    rec = res.records
    for row in ev[(ev["kind"] == EV_PROVISION) & (ev["time_s"] > 0)]:
        t_ready = ev[(ev["kind"] == EV_READY) & (ev["replica"] == row["replica"])]["time_s"][0]
        mine = rec[rec["replica"] == row["replica"]]
        assert len(mine) == 0 or mine["sched_s"].min() >= t_ready


@pytest.mark.parametrize("metric,target", [("queue", 4.0), ("kv", 0.002), ("load_factor", 0.5), ("ttft", 0.05)])
def test_queue_and_kv_metrics_scale_up_under_a_step(metric, target):
    res = sim.run(_step_scenario(metric=metric, target=target))
    ev = res.extra["events"]
    scaled = ev[(ev["kind"] == EV_PROVISION) & (ev["time_s"] > 0)]
    assert len(scaled) >= 1
    assert scaled["time_s"].min() > STEP_UP_S - INTERVAL_S
    assert _conserved(res.summary)


def test_scale_down_drains_running_requests_before_release():
    # long requests (500 tokens, > 5 s each) and a queue target: the pool shrinks while its
    # replicas still hold requests; none may be lost
    sc = _step_scenario(metric="queue", target=4)
    sc["workload"]["output_tokens"] = {"dist": "fixed", "value": 500}
    sc["workload"]["arrival"]["rates"] = [0.2, 4.0, 0.2]
    sc["fleet"]["pools"][0]["autoscale"]["cooldown"] = 20
    res = sim.run(sc)
    ev = res.extra["events"]
    rec = res.records
    drains = ev[ev["kind"] == EV_DRAIN]
    assert len(drains) >= 1
    waited = 0
    for row in drains:
        rel = ev[(ev["kind"] == EV_RELEASE) & (ev["replica"] == row["replica"])]
        t_rel = rel["time_s"][0] if len(rel) else np.inf
        mine = rec[rec["replica"] == row["replica"]]
        # no request is routed to a draining replica, and it is released only when its last one is done
        assert np.all(mine["arrival_s"] <= row["time_s"])
        done = mine[mine["status"] == COMPLETED]
        if len(done):
            assert t_rel >= done["completion_s"].max() - 1e-9
            waited += t_rel > row["time_s"]
    assert waited >= 1
    assert res.summary["requests"]["failed"] == 0 and _conserved(res.summary)


def test_autoscaled_fleet_gives_identical_records_on_both_engines():
    recs = []
    for engine in ENGINES:
        sc = _step_scenario(engine, metric="queue", target=4)
        sc["workload"]["output_tokens"] = {"dist": "uniform", "low": 50, "high": 600}
        sc["workload"]["arrival"]["rates"] = [0.5, 5.0, 0.5]
        sc["fleet"]["pools"][0]["autoscale"]["cooldown"] = 20
        res = sim.run(sc)
        assert res.summary["autoscale"]["main"]["replicas_drained"] >= 1
        recs.append((res.records, res.extra["events"]))
    assert np.array_equal(recs[0][0], recs[1][0])
    assert np.array_equal(recs[0][1], recs[1][1])


def test_pool_scaled_to_zero_comes_back_when_requests_are_turned_away():
    sc = scenario(duration=600, workload={"arrival": {"process": "piecewise", "times": [0, 50, 400],
                                                      "rates": [2, 0, 2]}, **FIXED})
    sc["fleet"]["pools"][0]["autoscale"] = {"metric": "queue", "target": 4, "interval": 10, "min": 0, "max": 2,
                                            "scale_up_delay": 30, "cooldown": 60}
    res = sim.run(sc)
    ev = res.extra["events"]
    released = ev[ev["kind"] == EV_RELEASE]
    assert released["time_s"].min() <= 50 + 60 + 2 * 10            # idle pool emptied after the cooldown
    back = ev[(ev["kind"] == EV_PROVISION) & (ev["time_s"] > 400)]
    assert len(back) >= 1 and back["time_s"].min() <= 400 + 10      # first tick after the turned-away arrivals
    rec = res.records
    turned_away = rec[(rec["status"] == 2) & (rec["arrival_s"] >= 400)]
    assert len(turned_away) > 0 and np.all(turned_away["arrival_s"] < back["time_s"].min() + 30)
    assert np.all(rec[rec["status"] == COMPLETED]["sched_s"] >= 0)
    # billed: 0..release, then from the new provisioning to the end
    gpu_s = res.summary["gpu_hours"]["provisioned"] * 3600
    assert gpu_s == pytest.approx(released["time_s"].min() + 600 - back["time_s"].min(), rel=1e-9)


# ---------------------------------------------------------------------------------------- failures
def _scripted(monkeypatch, up_s: list[float], down_s: list[float]):
    """Replace the failure draws by fixed sequences (then 'never')."""
    ups = itertools.chain(up_s, itertools.repeat(1e12))
    downs = itertools.chain(down_s, itertools.repeat(1e12))
    monkeypatch.setattr(failures_mod, "time_to_failure_s", lambda cfg, rng: next(ups))
    monkeypatch.setattr(failures_mod, "time_to_repair_s", lambda cfg, rng: next(downs))


@pytest.mark.parametrize("engine", ENGINES)
def test_failure_mid_decode_retries_on_another_replica_keeping_emitted_tokens(trace_scenario, monkeypatch, engine):
    # replica 0 fails at 1.05 s (replica 1 never). The request arrived at 1.0 on replica 0:
    # prefill ends 1.020 (token 1), decodes end 1.031 (2), 1.042 (3); the decode running at 1.05 is lost.
    _scripted(monkeypatch, [1.05, 1e12], [])
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 2, "batching": {"max_num_seqs": 64},
            "failures": {"mtbf": 1000, "mttr": 10, "max_retries": 1}}
    res = sim.run(trace_scenario([(1.0, 100, 10)], fleet={"router": "least_outstanding", "pools": [pool]},
                                 engine=engine, duration=5))
    r = _rec(res, 0)
    # replica 1 recomputes prompt + 3 tokens = 103 tokens (0.0203 s), emitting token 4, then 6 decodes
    recompute_end = 1.05 + 0.01 + 103 * 1e-4
    assert r["status"] == COMPLETED and r["retries"] == 1 and r["replica"] == 1
    assert r["first_token_s"] == pytest.approx(1.02, rel=1e-12)
    assert r["generated_tokens"] == 10
    assert r["completion_s"] == pytest.approx(recompute_end + 6 * 0.011, rel=1e-12)
    # the client saw one long gap: from token 3 (1.042) to token 4
    assert res.summary["latency"]["itl"]["p99"] == pytest.approx(recompute_end - 1.042, rel=1e-9)
    f = res.summary["failures"]
    assert f["failures"] == 1 and f["requests_retried"] == 1 and f["requests_failed"] == 0
    # replica 0 was up 1.05 s of 5 s and replica 1 all 5 s (never repaired within the run)
    assert f["availability"] == pytest.approx((1.05 + 5.0) / 10.0, rel=1e-12)
    # busy time: replica 0 worked from 1.0 to the failure; replica 1 the recompute and 6 decodes
    busy_s = (1.05 - 1.0) + (recompute_end + 6 * 0.011 - 1.05)
    assert res.summary["gpu_hours"]["busy"] * 3600 == pytest.approx(busy_s, rel=1e-9)
    # failed-and-held: both replicas are billed for the whole run
    assert res.summary["gpu_hours"]["provisioned"] * 3600 == pytest.approx(10.0, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_past_max_retries_a_request_fails(trace_scenario, monkeypatch, engine):
    _scripted(monkeypatch, [1.05, 1e12], [])
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 2,
            "failures": {"mtbf": 1000, "mttr": 10, "max_retries": 0}}
    res = sim.run(trace_scenario([(1.0, 100, 10), (2.0, 100, 10)], fleet={"pools": [pool]}, engine=engine,
                                 duration=5))
    r0, r1 = _rec(res, 0), _rec(res, 1)
    assert r0["status"] == FAILED and REJECT_REASONS[r0["reason"]] == "max_retries" and r0["retries"] == 1
    assert r1["status"] == COMPLETED and r1["replica"] == 1
    s = res.summary
    assert s["requests"]["failed"] == 1 and s["failures"]["requests_failed"] == 1 and _conserved(s)


@pytest.mark.parametrize("engine", ENGINES)
def test_repaired_replica_serves_again(trace_scenario, monkeypatch, engine):
    # one replica: down from 1.0 to 3.0; an arrival at 2.0 finds no replica, one at 4.0 is served
    _scripted(monkeypatch, [1.0], [2.0])
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 1, "failures": {"mtbf": 1000, "mttr": 10}}
    res = sim.run(trace_scenario([(2.0, 100, 10), (4.0, 100, 10)], fleet={"pools": [pool]}, engine=engine,
                                 duration=6))
    assert REJECT_REASONS[_rec(res, 0)["reason"]] == "no_replica"
    assert _rec(res, 1)["completion_s"] == pytest.approx(4.0 + 0.02 + 9 * 0.011, rel=1e-12)
    ev = res.extra["events"]
    assert list(ev["time_s"][ev["kind"] == EV_FAIL]) == [1.0]
    assert list(ev["time_s"][ev["kind"] == EV_REPAIR]) == [3.0]
    assert res.summary["failures"]["availability"] == pytest.approx(4.0 / 6.0, rel=1e-12)


@pytest.mark.parametrize("dist,shape", [("exponential", 1.0), ("weibull", 2.0)])
def test_long_run_availability_matches_mtbf_over_mtbf_plus_mttr(dist, shape):
    # 8 replicas x 40,000 s with MTBF 100 s, MTTR 25 s: about 2,560 up/down cycles. For an
    # alternating renewal process the time-up fraction over T has variance about
    # (mu_d^2 s_u^2 + mu_u^2 s_d^2) / (mu_u + mu_d)^3 / T (Takacs, 1957, the central limit theorem
    # for the up time of an alternating renewal process);
    # exponential up and down times give 6.4 / T per replica, i.e. a standard deviation of 0.0045
    # for the pooled 320,000 replica-seconds (less for Weibull shape 2). 0.02 is > 4 sigma.
    mtbf, mttr = 100.0, 25.0
    sc = scenario(duration=40000, workload={"arrival": {"process": "poisson", "rate": 0.02}, **FIXED})
    sc["fleet"]["pools"][0].update(replicas=8, failures={"mtbf": mtbf, "mttr": mttr, "distribution": dist,
                                                         "shape": shape})
    sc["metrics"] = {"interval": 3600}
    res = sim.run(sc)
    f = res.summary["failures"]
    assert f["availability"] == pytest.approx(mtbf / (mtbf + mttr), abs=0.02)
    assert f["failures"] == pytest.approx(8 * 40000 / (mtbf + mttr), rel=0.1)
    assert _conserved(res.summary)


def test_failures_under_load_lose_no_request_and_both_engines_agree():
    recs = []
    for engine in ENGINES:
        sc = scenario(engine=engine, duration=120, workload={"arrival": {"process": "poisson", "rate": 30},
                                                             "prompt_tokens": {"dist": "uniform", "low": 50, "high": 500},
                                                             "output_tokens": {"dist": "uniform", "low": 5, "high": 300}})
        sc["fleet"]["pools"][0].update(replicas=3, failures={"mtbf": 20, "mttr": 5, "max_retries": 2})
        res = sim.run(sc)
        s = res.summary
        assert _conserved(s)
        assert s["failures"]["requests_retried"] > 0
        done = res.records[res.records["status"] == COMPLETED]
        assert np.all(done["generated_tokens"] == done["output_tokens"])
        recs.append(res.records)
    assert np.array_equal(recs[0], recs[1])


# ---------------------------------------------------------------------------------------- static batching
@pytest.mark.parametrize("engine", ENGINES)
def test_static_batching_waits_for_a_full_batch_or_the_timeout(trace_scenario, engine):
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 1,
            "batching": {"policy": "static", "batch_size": 2, "timeout_s": 0.5}}
    rows = [(0.0, 100, 5), (0.1, 100, 10), (0.15, 100, 10), (0.2, 100, 10), (0.3, 100, 10)]
    res = sim.run(trace_scenario(rows, fleet={"pools": [pool]}, engine=engine))
    a, b, c, d, e = (_rec(res, i) for i in range(5))
    # A waits for B: one prefill of 200 tokens (0.03 s) at 0.1 gives both their first token
    t1 = 0.1 + 0.01 + 200 * 1e-4
    assert a["sched_s"] == b["sched_s"] == pytest.approx(0.1)
    assert a["first_token_s"] == b["first_token_s"] == pytest.approx(t1, rel=1e-12)
    # A needs 4 decodes of the pair (0.012 s), B 5 more alone (0.011 s)
    assert a["completion_s"] == pytest.approx(t1 + 4 * 0.012, rel=1e-12)
    t_b = t1 + 4 * 0.012 + 5 * 0.011
    assert b["completion_s"] == pytest.approx(t_b, rel=1e-12)
    # C (0.15) and D (0.2) wait for the whole batch to finish, then run together
    t2 = t_b + 0.03
    assert c["sched_s"] == d["sched_s"] == pytest.approx(t_b, rel=1e-12)
    assert c["completion_s"] == d["completion_s"] == pytest.approx(t2 + 9 * 0.012, rel=1e-12)
    # E (0.3) is alone: it starts at its timeout, 0.3 + 0.5 (after C and D are done)
    assert t2 + 9 * 0.012 < 0.8
    assert e["sched_s"] == pytest.approx(0.8, rel=1e-12)
    assert e["completion_s"] == pytest.approx(0.8 + 0.02 + 9 * 0.011, rel=1e-12)


# ---------------------------------------------------------------------------------------- mixed pools
def _two_pools(router, a_replicas=1, b_replicas=1) -> dict:
    return {"router": router, "pools": [
        {"name": "h100", "gpu": "h100-sxm", "replicas": a_replicas, "batching": {"max_num_seqs": 64}},
        {"name": "a100", "gpu": "a100-80gb", "replicas": b_replicas, "batching": {"max_num_seqs": 64}}]}


@pytest.mark.parametrize("engine", ENGINES)
def test_spillover_uses_the_overflow_pool_only_past_the_threshold(trace_scenario, engine):
    router = {"policy": "spillover", "primary": "h100", "overflow": "a100", "threshold": 2}
    rows = [(0.0, 100, 10), (0.0, 100, 10), (0.0, 100, 10), (1.0, 100, 10)]
    res = sim.run(trace_scenario(rows, fleet=_two_pools(router), engine=engine))
    # two requests fill the primary replica to the threshold; the third spills; at 1.0 all is idle
    assert [int(_rec(res, i)["pool"]) for i in range(4)] == [0, 0, 1, 0]
    assert res.summary["pools"]["a100"]["gpu_hours_busy"] > 0


def test_weighted_router_splits_by_weight():
    router = {"policy": "weighted", "weights": {"h100": 3, "a100": 1}}
    res = sim.run(scenario(duration=200, fleet=_two_pools(router),
                           workload={"arrival": {"process": "poisson", "rate": 10}, **FIXED}))
    rec = res.records
    n = len(rec)
    share = np.mean(rec["pool"] == 0)
    # binomial(n, 0.75): standard deviation sqrt(0.75 * 0.25 / n) ~ 0.0097 at n ~ 2000; 4 sigma
    assert share == pytest.approx(0.75, abs=4 * np.sqrt(0.75 * 0.25 / n))


@pytest.mark.parametrize("engine", ENGINES)
def test_least_outstanding_balances_across_pools(trace_scenario, engine):
    rows = [(0.0, 100, 10)] * 4
    res = sim.run(trace_scenario(rows, fleet=_two_pools("least_outstanding"), engine=engine))
    pools = sorted(int(_rec(res, i)["pool"]) for i in range(4))
    assert pools == [0, 0, 1, 1]
    s = res.summary["pools"]
    assert set(s) == {"h100", "a100"}
    assert s["h100"]["gpu"] != s["a100"]["gpu"]


@pytest.mark.parametrize("router", ["least_outstanding", "central_queue", "round_robin"])
def test_drain_run_with_autoscaling_and_failures_finishes_every_request(router):
    recs = []
    for engine in ENGINES:
        sc = _step_scenario(engine, metric="queue", target=4)
        sc.update(drain=True, duration=320)
        sc["fleet"]["router"] = router
        sc["fleet"]["pools"][0]["failures"] = {"mtbf": 50, "mttr": 10, "max_retries": 5}
        res = sim.run(sc)
        r = res.summary["requests"]
        assert r["in_flight"] == 0 and _conserved(res.summary)
        assert res.summary["failures"]["requests_retried"] > 0
        # billing ends with the run: no interval outlives it
        end = res.summary["simulated_seconds"]
        assert res.summary["gpu_hours"]["provisioned"] * 3600 == pytest.approx(
            _provisioned_integral_s(res.extra["events"], 0, end), rel=1e-9)
        recs.append(res.records)
    assert np.array_equal(recs[0], recs[1])


def test_failure_counts_in_the_summary_match_the_records():
    sc = scenario(duration=120, workload={"arrival": {"process": "poisson", "rate": 30},
                                          "prompt_tokens": {"dist": "uniform", "low": 50, "high": 500},
                                          "output_tokens": {"dist": "uniform", "low": 5, "high": 300}})
    sc["fleet"]["pools"][0].update(replicas=3, failures={"mtbf": 20, "mttr": 5, "max_retries": 1})
    res = sim.run(sc)
    rec, f = res.records, res.summary["failures"]
    assert f["requests_retried"] == int(np.sum(rec["retries"] > 0)) > 0
    assert f["retry_events"] == int(np.sum(rec["retries"]))
    assert f["requests_failed"] == int(np.sum(rec["status"] == FAILED)) > 0
    done = rec["status"] == COMPLETED
    e2e = rec["completion_s"] - rec["arrival_s"]
    assert f["e2e_mean_retried_s"] == pytest.approx(float(np.mean(e2e[done & (rec["retries"] > 0)])), rel=1e-9)
    assert f["e2e_mean_not_retried_s"] == pytest.approx(float(np.mean(e2e[done & (rec["retries"] == 0)])), rel=1e-9)
