"""Request classes pinned to pools (``fleet.router.classes``).

Two classes, each with its own Poisson arrivals, pinned to two one-replica pools serving one
request at a time (``max_num_seqs: 1``, one output token, ``ceil(X)`` prompt tokens with
``X ~ Exp(1000)`` at 1 ms a token, as in ``test_queueing_theory``): each pool is an M/G/1 queue at
its own ``ρ``, whatever the router, with the Pollaczek–Khinchine mean wait
``W_q = λ E[S²] / (2 (1 - ρ))`` of the geometric service (``E[S²] = (1 + q) / (1 - q)² ms²``,
``q = e^{-1/1000}``). Without the pins any router would mix the two streams over both pools.
"""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

import sim
from sim.errors import ScenarioError
from sim.scenario.load import scenario_from_dict
from sim.serving import saturated

from conftest import scenario
from test_queueing_theory import LONG_CONTEXT_MODEL, _ci99

Q = math.exp(-1.0 / 1000.0)
MEAN_S = 0.001 / (1.0 - Q)                          # 1.0005 s
SECOND_MOMENT_S2 = 1e-6 * (1.0 + Q) / (1.0 - Q) ** 2
RHO = {"a": 0.5, "b": 0.7}
R = 16
DURATION, WARMUP = 10000.0, 300.0


def pk_wait_s(lam: float) -> float:
    """Pollaczek–Khinchine mean wait of the M/G/1 queue at rate ``lam`` of this service."""
    return lam * SECOND_MOMENT_S2 / (2.0 * (1.0 - lam * MEAN_S))


def _pinned(router: str, seed: int = 1, duration: float = DURATION, warmup: float = WARMUP,
            pins: dict | None = None) -> dict:
    sc = scenario(seed=seed, duration=duration, warmup=warmup, model=LONG_CONTEXT_MODEL,
                  metrics={"interval": 10.0, "records": "all"})
    sc["workload"] = {"prompt_tokens": {"dist": "exponential", "mean": 1000, "max": 100_000},
                      "output_tokens": {"dist": "fixed", "value": 1},
                      "classes": [{"name": f"to_{k}", "arrival": {"process": "poisson", "rate": rho / MEAN_S}}
                                  for k, rho in RHO.items()]}
    pool = {"gpu": "h100-sxm", "replicas": 1, "batching": {"max_num_seqs": 1, "max_batched_tokens": 200_000}}
    sc["fleet"] = {"router": {"policy": router, "classes": {"to_a": "a", "to_b": ["b"]} if pins is None else pins},
                   "pools": [{"name": k, **copy.deepcopy(pool)} for k in RHO]}
    sc["perf"] = {"model": "linear", "base_s": 0.0, "per_prefill_token_s": 0.001, "per_decode_token_s": 0.0,
                  "per_context_token_s": 0.0}
    return sc


@pytest.fixture(scope="module")
def pinned_runs():
    return [sim.run(_pinned("least_outstanding", seed=s)) for s in range(1, R + 1)]


def test_each_class_is_served_only_by_its_pool(pinned_runs):
    for res in pinned_runs:
        rec = res.records
        for c, pool in ((0, 0), (1, 1)):
            mine = rec["cls"] == c
            assert mine.sum() > 1000
            assert np.all(rec["pool"][mine & (rec["status"] == 1)] == pool)


def test_each_pinned_pool_is_an_mg1_queue_at_its_own_rho(pinned_runs):
    for c, (name, rho) in enumerate(RHO.items()):
        waits = []
        for res in pinned_runs:
            rec = res.records
            m = (rec["arrival_s"] >= WARMUP) & (rec["status"] == 1) & (rec["cls"] == c)
            waits.append(float(np.mean(rec["sched_s"][m] - rec["arrival_s"][m])))
        m, half = _ci99(np.array(waits))
        theory = pk_wait_s(rho / MEAN_S)
        assert abs(m - theory) <= half and half < 0.12 * theory, (name, m, half, theory)


def test_each_pinned_pool_reads_its_own_rho(pinned_runs):
    """Batch of one, linear step model: the load factor is the pool's utilization ``ρ`` (its
    scheduler factor 1 to rounding, measured on the one class that reaches it)."""
    for name, rho in RHO.items():
        lf = np.array([res.summary["pools"][name]["load_factor"] for res in pinned_runs])
        busy = np.array([res.summary["pools"][name]["gpu_busy"] for res in pinned_runs])
        m, half = _ci99(lf)
        assert abs(m - rho) <= half + 0.005, (name, m, half)
        np.testing.assert_allclose(lf, busy, rtol=0.01)


@pytest.mark.parametrize("router", ["round_robin", "random", "central_queue", "weighted", "spillover"])
def test_every_router_keeps_pinned_classes_on_their_pools(router):
    sc = _pinned(router, duration=600.0, warmup=0.0)
    sc["fleet"]["router"].update({"weighted": {"weights": {"a": 1.0, "b": 3.0}},
                                  "spillover": {"primary": "a", "overflow": "b", "threshold": 1}}.get(router, {}))
    rec = sim.run(sc).records
    assert {(int(c), int(p)) for c, p in zip(rec["cls"], rec["pool"]) if p >= 0} == {(0, 0), (1, 1)}


def test_one_replica_pools_queue_alike_in_the_central_queue_and_their_own():
    """A pool of one replica taking one request at a time serves its class in arrival order whether
    the requests wait in the fleet's central queue (one queue per set of pools) or the replica's."""
    a = sim.run(_pinned("central_queue", duration=1200.0, warmup=0.0)).records
    b = sim.run(_pinned("least_outstanding", duration=1200.0, warmup=0.0)).records
    order_a, order_b = np.argsort(a["rid"]), np.argsort(b["rid"])
    for col in ("sched_s", "completion_s", "pool", "cls"):
        np.testing.assert_array_equal(a[col][order_a], b[col][order_b])


def _summary_bytes(res) -> bytes:
    s = dict(res.summary)
    s.pop("wall_seconds", None)
    return json.dumps(s, sort_keys=True).encode()


@pytest.mark.parametrize("router", ["round_robin", "random", "least_outstanding", "central_queue", "weighted"])
def test_classes_pinned_to_every_pool_change_nothing(router):
    """Pinning every class to every pool is the fleet without pins, byte for byte."""
    free = _pinned(router, duration=600.0, warmup=30.0)
    free["workload"]["classes"][0]["arrival"]["rate"] = 1.5 / MEAN_S       # more than pool a alone serves
    free["fleet"]["router"]["classes"] = None
    if router == "weighted":
        free["fleet"]["router"]["weights"] = {"a": 1.0, "b": 2.0}
    everywhere = copy.deepcopy(free)
    everywhere["fleet"]["router"]["classes"] = {"to_a": ["a", "b"], "to_b": ["b", "a"]}
    x, y = sim.run(free), sim.run(everywhere)
    assert _summary_bytes(x) == _summary_bytes(y)
    assert x.records.tobytes() == y.records.tobytes()


def test_a_class_not_listed_goes_to_any_pool():
    sc = _pinned("round_robin", duration=600.0, warmup=0.0, pins={"to_a": "a"})
    rec = sim.run(sc).records
    assert set(rec["pool"][rec["cls"] == 0].tolist()) == {0}
    assert set(rec["pool"][rec["cls"] == 1].tolist()) == {0, 1}


def test_pinned_classes_follow_an_autoscaled_pool():
    sc = _pinned("round_robin", duration=1800.0, warmup=0.0)
    sc["workload"]["classes"][1]["arrival"]["rate"] = 2.5 / MEAN_S     # pool b must grow to about 3 replicas
    sc["fleet"]["pools"][1]["autoscale"] = {"metric": "queue", "target": 2, "interval": 30, "min": 1, "max": 6}
    res = sim.run(sc)
    rec = res.records
    assert np.all(rec["pool"][(rec["cls"] == 1) & (rec["pool"] >= 0)] == 1)
    assert np.all(rec["pool"][(rec["cls"] == 0) & (rec["pool"] >= 0)] == 0)
    assert len(set(rec["replica"][rec["cls"] == 1].tolist())) >= 3


def test_a_pinned_pool_is_measured_on_the_classes_that_reach_it():
    sc = _pinned("least_outstanding", duration=600.0, warmup=0.0, pins={"to_a": "a"})
    loaded = scenario_from_dict(sc)
    from sim.api import build_pools

    pools = build_pools(loaded)
    assert saturated.reaching(loaded.scenario, pools[0]).tolist() == [True, True]
    assert saturated.reaching(loaded.scenario, pools[1]).tolist() == [False, True]
    sample = saturated.workload_sample(loaded.scenario.workload, 600.0, loaded.base_dir, pool=pools[1],
                                       reach=saturated.reaching(loaded.scenario, pools[1]))
    assert len(sample) > 100 and set(sample.class_idx.tolist()) == {1}
    free = scenario_from_dict(_pinned("least_outstanding", pins={})).scenario
    assert saturated.reaching(free, pools[1]) is None


def _problems(sc: dict) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(sc)
    return exc.value.problems


def test_pins_that_cannot_work_are_refused_at_their_field():
    sc = _pinned("spillover", pins={"to_a": ["a", "c"], "nobody": "a", "to_b": ["b", "b"]})
    sc["fleet"]["router"].update(primary="a", overflow="b", threshold=2)
    got = dict(_problems(sc))
    assert got["fleet.router.classes.to_a"] == "unknown pool 'c'; allowed: a, b"
    assert got["fleet.router.classes.nobody"] == "unknown class 'nobody'; allowed: to_a, to_b"
    assert got["fleet.router.classes.to_b"] == "names pool 'b' twice"

    sc = _pinned("spillover")
    sc["fleet"]["pools"].append({**copy.deepcopy(sc["fleet"]["pools"][0]), "name": "c"})
    sc["fleet"]["router"].update(primary="a", overflow="b", threshold=2, classes={"to_a": ["a", "c"]})
    assert _problems(sc) == [("fleet.router.classes.to_a", "pool 'c' gets no request under the spillover "
                                                          "router, which sends to primary 'a' and overflow 'b' only")]

    sc = _pinned("weighted")
    sc["fleet"]["router"]["weights"] = {"a": 1.0, "b": 0.0}
    assert _problems(sc) == [("fleet.router.classes.to_b", "none of its pools (b) has a weight above 0 in "
                                                          "fleet.router.weights: the weighted router would send "
                                                          "the class nowhere")]

    sc = _pinned("least_outstanding")
    sc["fleet"]["pools"][1]["replicas"] = 0
    assert _problems(sc) == [("fleet.router.classes.to_b", "its pools (b) have replicas: 0 and no autoscale: every "
                                                          "request of class 'to_b' would be rejected")]

    sc = _pinned("least_outstanding")
    sc["fleet"]["pools"][0]["max_model_len"] = 4096
    sc["workload"]["classes"][0]["prompt_tokens"] = {"dist": "uniform", "low": 5000, "high": 9000}
    assert _problems(sc) == [("fleet.router.classes.to_a", "every prompt of class 'to_a' is at least 5,000 tokens, "
                                                          "longer than the longest context its pools serve (4,096 "
                                                          "tokens, max_model_len): every request of it would be "
                                                          "rejected")]

    sc = _pinned("least_outstanding")
    sc["fleet"]["router"]["classes"] = {"to_a": []}
    assert _problems(sc) == [("fleet.router.classes", "each class needs at least one pool (got an empty list "
                                                      "for 'to_a')")]


def test_pins_under_disaggregation_are_refused(tmp_path, capsys):
    from sim.cli import main

    sc = _pinned("least_outstanding")
    sc["fleet"]["disaggregated"] = {"prefill_pool": "a", "decode_pool": "b", "link_gbps": 400}
    assert _problems(sc) == [("fleet.router.classes", "is not used under fleet.disaggregated: every request is "
                                                      "prefilled in 'a' and decoded in 'b' whatever its class; "
                                                      "remove fleet.router.classes")]
    import yaml

    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["validate", str(path)]) == 2
    assert f"{path}: fleet.router.classes: is not used under fleet.disaggregated" in capsys.readouterr().err


def test_the_fluid_tier_takes_classes_free_or_pinned_to_several_pools():
    """A class not pinned, or pinned to several pools, is split as its router splits it
    (tests/test_fluid_pinned.py); nothing at ``fleet.router.classes`` is refused."""
    from sim.fluid.unsupported import refused

    for pins in ({"to_a": "a"}, {"to_a": "a", "to_b": ["a", "b"]}):
        sc = _pinned("least_outstanding", pins=pins)
        assert refused(scenario_from_dict(sc, check=False).scenario) == []


def test_the_fluid_tier_serves_each_pinned_class_on_its_pool_as_the_request_level_tier_does(tmp_path, monkeypatch):
    """Classes pinned each to one pool: the fluid tier gives each pool its classes' demand and
    measures its curve on their mix; per pool and per class it reads what a request-level run reads."""
    from sim.fluid import run_fluid
    from sim.scenario.load import load_scenario

    from test_fluid import QUICK

    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    sc = scenario(duration=7200, warmup=0, seed=5)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 6.0},
                      "prompt_tokens": {"dist": "lognormal", "mean": 200, "cv": 1.0, "max": 2000},
                      "output_tokens": {"dist": "lognormal", "mean": 50, "cv": 1.0, "max": 500},
                      "classes": [{"name": "short", "share": 0.75},
                                  {"name": "long", "share": 0.25,
                                   "prompt_tokens": {"dist": "lognormal", "mean": 1500, "cv": 0.5, "max": 3500},
                                   "output_tokens": {"dist": "lognormal", "mean": 150, "cv": 0.5, "max": 500}}]}
    sc["fleet"]["router"] = {"policy": "least_outstanding", "classes": {"short": "a", "long": "b"}}
    sc["fleet"]["pools"] = [{**copy.deepcopy(sc["fleet"]["pools"][0]), "name": n, "replicas": 1} for n in ("a", "b")]
    sc["slo"] = {"ttft_s": 0.5, "tpot_s": 0.06}
    exact = sim.run(copy.deepcopy(sc)).summary
    fluid = run_fluid(load_scenario(sc), step_s=600.0, settings=QUICK).summary
    for name in ("a", "b"):
        r, f = exact["pools"][name], fluid["pools"][name]
        assert f["load_factor"] == pytest.approx(r["load_factor"], rel=0.05), name
        assert f["gpu_busy"] == pytest.approx(r["gpu_busy"], rel=0.05), name
    for name in ("short", "long"):
        r, f = exact["classes"][name], fluid["classes"][name]
        # the fluid tier serves the expected demand, the run its Poisson draw (10,800 long requests: ±3 %
        # is three standard deviations); its mean E2E comes from a curve measured with short runs
        assert f["throughput"]["requests_per_s"] == pytest.approx(r["throughput"]["requests_per_s"], rel=0.04), name
        assert f["latency"]["e2e"]["mean"] == pytest.approx(r["latency"]["e2e"]["mean"], rel=0.15), name
    # the pools' load differs by their classes (without the pins each would serve the whole mix)
    assert exact["pools"]["b"]["load_factor"] > 1.2 * exact["pools"]["a"]["load_factor"]


def test_the_bundled_dedicated_pool_scenario_keeps_each_tenant_on_its_pool():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scenarios" / "dedicated_long_context.yaml"
    res = sim.run(str(path), overrides=["duration=4m", "warmup=0"])
    rec = res.records
    assert res.class_names == ["chat", "documents"] and res.pool_names == ["shared", "long"]
    routed = rec["pool"] >= 0
    assert set(rec["pool"][routed & (rec["cls"] == 0)].tolist()) == {0}
    assert set(rec["pool"][routed & (rec["cls"] == 1)].tolist()) == {1}
    assert res.summary["requests"]["rejected"] == 0


def test_a_pool_no_class_reaches_is_warned_about_and_validate_says_who_reaches_each(tmp_path, capsys):
    import warnings

    import yaml

    from sim.cli import main
    from sim.errors import ScenarioWarning

    sc = _pinned("least_outstanding", pins={"to_a": "a", "to_b": "a"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scenario_from_dict(sc)
    notes = [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]
    assert notes == ["fleet.pools.1: no class may reach pool 'b' (fleet.router.classes pins every class to "
                     "other pools): it serves nothing and is billed all the same"]
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(_pinned("least_outstanding", pins={"to_a": "a"})))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "classes routed here (fleet.router.classes): to_a (pinned), to_b (any pool)" in out
    assert "classes routed here (fleet.router.classes): to_b (any pool)" in out


def test_the_report_header_names_the_pins():
    from sim.report.overview import overview

    sc = scenario_from_dict(_pinned("round_robin", pins={"to_a": "a", "to_b": ["a", "b"]})).scenario
    settings = dict(overview({"scenario": "test"}, sc.model_dump(mode="json")).settings)
    assert settings["router"] == "round_robin"
    assert settings["classes pinned to pools"] == "to_a → a; to_b → a, b"
