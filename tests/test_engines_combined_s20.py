"""Both engines write the same requests, time series and summary on scenarios that combine what each
other test takes one or two at a time: waiting rooms (and every router that passes over a full one),
class priorities, clients' patience (fixed and exponential, per class), pipeline parallelism,
prefill/decode disaggregation, replica failures and their retries, and autoscalers on every metric.

Each scenario is drawn from its seed (:func:`combined`), a short Poisson run with lognormal lengths on
the linear step model of tests/conftest.py. Seeds 162, 166, 168, 223, 338 and 347 of the ~370 first
drawn wrote different rows on the two engines before a failure stopped retrying a queued request
whose client had already given up (``test_failure_patience_s20.py``); the default runs three of them,
the ``slow`` one 150 seeds.
"""
from __future__ import annotations

import copy
import random

import pytest

import sim
from conftest import scenario
from test_ties_round20 import differs


def combined(seed: int) -> dict:
    """A scenario drawn from ``seed``: rooms, priorities, patience, PP, disaggregation, failures and
    autoscalers, each present or not."""
    R = random.Random(seed)
    sc = scenario(duration=R.choice([20, 40]))
    sc["seed"] = seed
    wl = {"arrival": {"process": "poisson", "rate": R.choice([4, 8, 16, 30])},
          "prompt_tokens": {"dist": "lognormal", "mean": R.choice([100, 400]), "cv": 1.0, "max": 2000},
          "output_tokens": {"dist": "lognormal", "mean": R.choice([10, 40]), "cv": 1.0, "max": 200}}
    if R.random() < 0.7:
        wl["patience_s"] = R.choice([0.05, 0.2, 0.5, 1.0])
        wl["patience"] = R.choice(["fixed", "exponential"])
    prio = R.random() < 0.6
    if prio:
        wl["classes"] = [{"name": "hi", "share": 0.4, "priority": 2}, {"name": "lo", "share": 0.6, "priority": 0}]
        if "patience_s" in wl and R.random() < 0.5:
            wl["classes"][1]["patience_s"] = R.choice([0.1, 2.0])
    sc["workload"] = wl
    disagg = R.random() < 0.3
    npools = 2 if (disagg or R.random() < 0.5) else 1
    pools = []
    for i in range(npools):
        p = {"name": "ab"[i], "gpu": "a100-80gb", "replicas": R.choice([1, 2, 3]),
             "batching": {"max_num_seqs": R.choice([2, 4, 8]), "max_batched_tokens": R.choice([1024, 4096])}}
        if prio:
            p["batching"]["policy"] = "priority"
        if R.random() < 0.5:
            p["batching"]["chunked_prefill"] = True
        if R.random() < 0.6:
            p["pipeline_parallel"] = R.choice([2, 4])
        if R.random() < 0.6:
            p["max_waiting"] = R.choice([0, 1, 3, 8])
        if R.random() < 0.4:
            p["failures"] = {"mtbf": R.choice([3, 8]), "mttr": R.choice([0.5, 2]), "max_retries": R.choice([0, 2])}
        if R.random() < 0.4:
            p["autoscale"] = {"metric": R.choice(["load_factor", "queue", "kv", "utilization", "ttft"]),
                              "target": 0.5, "interval": R.choice([1, 2.5]), "min": R.choice([0, 1]), "max": 4,
                              "scale_up_delay": R.choice([0, 1.5]), "cooldown": R.choice([0, 3])}
        pools.append(p)
    router = R.choice(["least_outstanding", "round_robin", "random", "central_queue"]
                      + (["spillover", "weighted"] if npools == 2 else []))
    rt = {"policy": router}
    if router == "spillover":
        rt.update(primary="a", overflow="b", threshold=R.choice([1, 2, 4]))
    if router == "weighted":
        rt["weights"] = {"a": 0.8, "b": 0.2}
    if router == "central_queue":           # its room is the router's
        for p in pools:
            p.pop("max_waiting", None)
        if R.random() < 0.5:
            rt["max_waiting"] = R.choice([0, 2, 5])
    sc["fleet"] = {"router": rt, "pools": pools}
    if disagg:                              # the decode pool takes only handed-off requests: no room
        pools[1].pop("max_waiting", None)
        sc["fleet"]["disaggregated"] = {"prefill_pool": "a", "decode_pool": "b", "link_gbps": R.choice([1, 10, 100])}
    return sc


def _differs(seed: int) -> str:
    sc = combined(seed)
    return differs(*(sim.run({**copy.deepcopy(sc), "engine": e}) for e in ("fast", "reference")))


@pytest.mark.parametrize("seed", [168, 223, 347])
def test_the_engines_agree_where_a_failure_met_a_client_gone(seed):
    assert _differs(seed) == ""


@pytest.mark.slow
def test_the_engines_agree_on_combined_scenarios():
    assert [(s, d) for s in range(150) if (d := _differs(s))] == []
