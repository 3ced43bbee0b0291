"""The fleet's central queue taken by class priority (``router: central_queue`` with every pool's
``batching.policy: priority``) where the fleet is not one pool of alike replicas: pools of different
speeds, replicas that fail and come back, an autoscaled pool, a drained run, classes pinned to pools,
a closed loop; and the warning when only some pools take ``priority`` (the central queue then stays
first come, first served).

The order is worked by hand on two pools of different speeds; the rest holds the fast engine to
the reference engine, request by request and bit for bit, with the order visible in the waits.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import yaml

import sim
from sim.errors import ScenarioWarning
from sim.scenario.load import scenario_from_dict

from conftest import scenario
from test_equivalence import _assert_same, _assert_same_summary

BATCHING = {"policy": "priority", "max_num_seqs": 6, "max_batched_tokens": 4096}
SLOW = {"model": "linear", "base_s": 0.02, "per_prefill_token_s": 2e-4, "per_decode_token_s": 2e-3,
        "per_context_token_s": 0.0}          # twice the conftest model's per-token times
CLASSES = [{"name": "hi", "priority": 2, "arrival": {"process": "poisson", "rate": 5.0}},
           {"name": "mid", "priority": 1, "arrival": {"process": "poisson", "rate": 3.0}},
           {"name": "lo", "priority": 0, "arrival": {"process": "poisson", "rate": 6.0}}]


def _dynamic(case: str) -> dict:
    """A pool of one replica, autoscaled on its queue (1 to 3), and a pool of two replicas half as
    fast that fail (MTBF 60 s, repaired in 20 s); three classes; the arrivals end at 240 s and the
    run drains what is left."""
    sc = scenario(duration=240, seed=5, drain=True, workload={
        "prompt_tokens": {"dist": "lognormal", "mean": 300, "cv": 1.0, "max": 2000},
        "output_tokens": {"dist": "lognormal", "mean": 40, "cv": 1.0, "max": 300},
        "classes": CLASSES})
    sc["fleet"] = {"router": "central_queue", "pools": [
        {"name": "fast", "gpu": "a100-80gb", "replicas": 1, "batching": dict(BATCHING),
         "autoscale": {"metric": "queue", "target": 4, "interval": 10, "min": 1, "max": 3, "scale_up_delay": 15,
                       "cooldown": 20}},
        {"name": "slow", "gpu": "a100-80gb", "replicas": 2, "batching": dict(BATCHING), "perf": SLOW,
         "failures": {"mtbf": 60, "mttr": 20, "max_retries": 2}}]}
    if case == "pinned":        # "lo" only on the failing pool, "hi" anywhere, "mid" free
        sc["fleet"]["router"] = {"policy": "central_queue", "classes": {"hi": ["fast", "slow"], "lo": "slow"}}
    if case == "closed":        # (with decodes: both engines wait for absolute times exactly, sim.serving.clock)
        sc["drain"] = False
        sc["workload"]["arrival"] = {"process": "closed", "concurrency": 24, "think_time_s": 0.5,
                                     "think": "exponential"}
        sc["workload"]["classes"] = [{"name": "hi", "priority": 2, "share": 0.3},
                                     {"name": "lo", "priority": 0, "share": 0.7}]
    return sc


@pytest.mark.parametrize("case", ["open", "pinned", "closed"])
def test_fast_and_reference_engines_agree_with_failures_autoscaling_and_drain(case):
    sc = _dynamic(case)
    fast, ref = sim.run(dict(sc, engine="fast")), sim.run(dict(sc, engine="reference"))
    _assert_same(fast.records, ref.records)
    _assert_same_summary(fast, ref)
    assert np.array_equal(fast.timeseries, ref.timeseries, equal_nan=True)
    s = fast.summary
    assert len(fast.records) > 2000
    assert s["failures"]["failures"] >= 3                                  # replicas did fail and retry
    assert s["failures"]["requests_retried"] > 0
    assert s["autoscale"]["fast"]["scale_ups"] >= 1
    if case != "closed":                                                   # drained: nothing left
        assert s["requests"]["in_flight"] == 0 and s["requests"]["completed"] == s["requests"]["arrived"]
    waits = [s["classes"][k]["latency"]["queue"]["mean"] for k in ("hi", "mid", "lo") if k in s["classes"]]
    assert waits == sorted(waits) and waits[0] < waits[-1]                 # the higher class waits less


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("policy, sched", [("priority", [0.0, 0.0, 1.0, 0.4, 0.8]),
                                           ("continuous", [0.0, 0.0, 0.4, 0.8, 1.0])])
def test_pools_of_different_speeds_take_by_priority_by_hand(engine, policy, sched):
    """One replica of 0.4 s requests (pool "fast": 1,000 prompt tokens at 0.4 ms, one output token)
    and one of 1 s (pool "slow"), one request at a time. Three "lo" at t = 0: the first two start at
    once (the fast replica first: both idle, the fleet's order), the third waits; two "hi" at 0.1.
    By priority the fast replica takes "hi" at 0.4 and the other "hi" at 0.8, and the slow one the
    last "lo" at 1.0; FCFS the fast one takes the "lo" at 0.4 and the first "hi" at 0.8, the slow one
    the second "hi" at 1.0."""
    sc = scenario(duration=10.0, seed=1, engine=engine, model="llama-3-8b", workload={
        "prompt_tokens": {"dist": "fixed", "value": 1000}, "output_tokens": {"dist": "fixed", "value": 1},
        "classes": [{"name": "lo", "priority": 0, "arrival": {"process": "burst", "count": 3, "at": 0.0}},
                    {"name": "hi", "priority": 5, "arrival": {"process": "burst", "count": 2, "at": 0.1}}]})
    linear = {"model": "linear", "base_s": 0.0, "per_decode_token_s": 0.0, "per_context_token_s": 0.0}
    batching = {"policy": policy, "max_num_seqs": 1, "max_batched_tokens": 16384}
    sc["fleet"] = {"router": "central_queue", "pools": [
        {"name": "fast", "gpu": "h100-sxm", "replicas": 1, "batching": batching,
         "perf": dict(linear, per_prefill_token_s=0.0004)},
        {"name": "slow", "gpu": "h100-sxm", "replicas": 1, "batching": batching,
         "perf": dict(linear, per_prefill_token_s=0.001)}]}
    rec = np.sort(sim.run(sc).records, order="rid")
    assert rec["cls"].tolist() == [0, 0, 0, 1, 1]
    assert np.allclose(rec["sched_s"], sched, rtol=0, atol=1e-9), rec["sched_s"]
    assert np.allclose(rec["completion_s"] - rec["sched_s"], np.where(rec["pool"] == 0, 0.4, 1.0), rtol=0, atol=1e-9)


def _mixed(policies: list[str], router: str = "central_queue", priorities: tuple[int, int] = (1, 0)) -> dict:
    sc = scenario(workload={"arrival": {"process": "poisson", "rate": 2.0},
                            "prompt_tokens": {"dist": "fixed", "value": 100},
                            "output_tokens": {"dist": "fixed", "value": 10},
                            "classes": [{"name": "hi", "share": 0.5, "priority": priorities[0]},
                                        {"name": "lo", "share": 0.5, "priority": priorities[1]}]})
    pool = sc["fleet"]["pools"][0]
    sc["fleet"] = {"router": router, "pools": [dict(pool, name=f"p{i}", batching=dict(pool["batching"], policy=p))
                                               for i, p in enumerate(policies)]}
    return sc


def _warned(sc: dict) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scenario_from_dict(sc)
    return [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]


def test_priority_on_some_pools_behind_a_central_queue_is_warned_about(tmp_path, capsys):
    from sim.cli import main

    said = _warned(_mixed(["continuous", "priority", "continuous"]))
    assert said == ["fleet.pools.1.batching.policy: priority orders only this pool's replica queues, which router "
                    "central_queue keeps nearly empty; the fleet's queue, where requests wait, takes them by class "
                    "priority only when every pool's policy is priority, and pools 'p0', 'p2' are not, so the "
                    "classes are served first come, first served: give every pool policy: priority, or none"]
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(_mixed(["priority", "continuous"])))
    assert main(["validate", str(path)]) == 0                  # legal: said, not refused
    err = capsys.readouterr().err
    assert f"{path}: fleet.pools.0.batching.policy: priority orders only" in err
    assert "and pool 'p1' is not," in err


@pytest.mark.parametrize("policies, router, priorities", [
    (["priority", "priority"], "central_queue", (1, 0)),       # the central queue takes by priority
    (["continuous", "continuous"], "central_queue", (1, 0)),   # nobody asked for priority
    (["priority", "continuous"], "least_outstanding", (1, 0)),  # each replica's own queue: as asked
    (["priority", "continuous"], "central_queue", (3, 3))])    # one priority: nothing to order
def test_no_warning_where_the_policy_is_not_lost(policies, router, priorities):
    # (priorities with no priority pool at all are told apart: workload.classes.N.priority, test_first_hour_round19)
    assert [m for m in _warned(_mixed(policies, router, priorities)) if not m.startswith("workload.classes.")] == []
