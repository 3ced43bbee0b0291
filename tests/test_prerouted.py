"""Pre-routed arrivals (fast engine, state-independent routers) against routing at arrival time.

With round-robin or random routing (or a single replica), the fast engine routes requests when they
are generated and each replica takes its own arrivals at iteration boundaries; the reference engine
routes every request at its arrival time. Records, summaries and time series must agree bit for bit.
"""
from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
import simpy
from hypothesis import given, settings

import sim
from sim.api import _as_loaded, _run_request_level, build_pools
from sim.serving.fleet import Fleet
from sim.serving.request import R_CONTEXT, REJECTED

from conftest import scenario

COLS = ("arrival_s", "sched_s", "first_token_s", "completion_s")
INTS = ("preemptions", "replica", "pool", "status", "generated_tokens", "reason")


def _same_summary(a: dict, b: dict) -> bool:
    """The summaries are equal apart from wall time and the engine's name."""
    skip = ("wall_seconds", "engine")
    return {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in b.items() if k not in skip}


def _case(name: str) -> dict:
    pp = 2 if name.endswith("_pp2") else 1   # <case>_pp2: two pipeline stages (admission at micro-batch boundaries)
    name = name.removesuffix("_pp2")
    wl = {"arrival": {"process": "poisson", "rate": 24},
          "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.2, "max": 3000},
          "output_tokens": {"dist": "lognormal", "mean": 120, "cv": 1.2, "max": 1500}}
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 4,
            "batching": {"scheduler": "vllm-v0", "max_num_seqs": 32, "max_batched_tokens": 4096}}
    sc = scenario(workload=wl, duration=90, warmup=5, perf={"model": "roofline"})
    sc["fleet"] = {"router": "round_robin", "pools": [pool]}
    if name == "random":
        sc["fleet"]["router"] = "random"
    elif name == "single_preempting":
        pool.update(replicas=1, gpu_memory_utilization=0.2)
        wl["arrival"]["rate"] = 8
    elif name == "chunked_priority":
        pool["batching"].update(chunked_prefill=True, max_batched_tokens=512, policy="priority")
    elif name == "mixed_pools":
        sc["fleet"]["pools"] = [pool, dict(pool, name="h100", gpu="h100-sxm", replicas=2)]
    elif name.startswith("preset_"):   # preset_<scheduler>[_preempting]: each iteration rule of the lean loop
        scheduler = name.split("_")[1]
        pool["batching"] = {"scheduler": scheduler, "max_num_seqs": 32,
                            "max_batched_tokens": 4096 if scheduler in ("vllm-v0", "trtllm") else 512}
        if name.endswith("_preempting"):
            pool.update(replicas=1, gpu_memory_utilization=0.2)
            wl["arrival"]["rate"] = 8
        if name.endswith("_priority"):   # admission and preemption by class priority
            pool["batching"]["policy"] = "priority"
            pool.update(replicas=1, gpu_memory_utilization=0.2)
            wl["arrival"]["rate"] = 8
            wl["classes"] = [{"name": "hi", "share": 0.3, "priority": 2}, {"name": "lo", "share": 0.7, "priority": 0}]
        if name.endswith("_prefix"):   # prefix caching: a chat class shares a 512-token system prompt
            pool["batching"]["prefix_caching"] = True
            wl["classes"] = [{"name": "chat", "share": 0.6, "shared_prefix_tokens": 512,
                              "prompt_tokens": {"dist": "uniform", "low": 600, "high": 1500}},
                             {"name": "api", "share": 0.4}]
    if pp > 1:
        for p in sc["fleet"]["pools"]:
            p["pipeline_parallel"] = pp
    return sc


LEAN_CASES = ["round_robin", "single_preempting", "mixed_pools", "preset_vllm-v1", "preset_vllm-v1_preempting",
              "preset_vllm-v1_prefix", "preset_vllm-v1_priority", "preset_trtllm", "preset_trtllm_preempting",
              "preset_trtllm_prefix", "preset_sglang", "preset_sglang_preempting", "round_robin_pp2",
              "preset_vllm-v1_pp2", "preset_vllm-v1_preempting_pp2", "preset_trtllm_pp2"]


@pytest.mark.parametrize("name", ["round_robin", "random", "single_preempting", "chunked_priority", "mixed_pools",
                                  "preset_vllm-v1", "preset_vllm-v1_preempting", "preset_vllm-v1_prefix",
                                  "preset_vllm-v1_priority",
                                  "preset_trtllm_preempting", "preset_sglang_preempting", "round_robin_pp2",
                                  "preset_vllm-v1_pp2", "preset_vllm-v1_preempting_pp2"])
def test_prerouted_fast_engine_equals_reference(name):
    sc = _case(name)
    assert _prerouted(dict(sc, engine="fast"))  # the fast run below takes the pre-routed path
    fast = sim.run(dict(sc, engine="fast"))
    ref = sim.run(dict(sc, engine="reference"))
    a, b = fast.records, ref.records
    assert len(a) == len(b) > 500
    for col in COLS:
        assert np.array_equal(a[col], b[col]), col
    for col in INTS:
        assert np.array_equal(a[col], b[col]), col
    if name.endswith("preempting") and "trtllm" not in name:
        assert fast.summary["requests"]["preemptions"] > 0
    assert fast.summary["requests"] == ref.summary["requests"]
    for k in ("throughput", "slo"):
        assert fast.summary[k] == ref.summary[k]
    for k, v in fast.summary["latency"].items():
        assert v == ref.summary["latency"][k], k
    assert _same_summary(fast.summary, ref.summary)
    assert np.array_equal(fast.timeseries, ref.timeseries)


def _prerouted(sc: dict) -> bool:
    """Whether the fleet of scenario ``sc`` routes its requests ahead of time."""
    loaded = _as_loaded(sc, [])
    fleet = Fleet(simpy.Environment(), loaded.scenario, build_pools(loaded), [0],
                  fast=loaded.scenario.engine == "fast", seed=1)
    return fleet.prerouted


def test_prerouting_is_used_only_where_routing_ignores_state():
    prerouted = _prerouted
    sc = _case("round_robin")
    assert prerouted(sc)
    assert not prerouted(dict(sc, engine="reference"))
    lo = _case("round_robin")
    lo["fleet"]["router"] = "least_outstanding"
    assert not prerouted(lo)
    single = _case("single_preempting")
    single["fleet"]["router"] = "least_outstanding"
    assert prerouted(single)
    assert prerouted(_routing_case("random"))   # random over replicas that all take the same requests
    assert not prerouted(_routing_case("random_mixed_context"))   # its fallback reads the replicas' queues


@pytest.mark.parametrize("name", LEAN_CASES)
def test_lean_path_equals_general_fast_path(name, monkeypatch):
    """The lean path (Replica._ahead) books exactly what the general fast path books, bit for bit,
    under every scheduler preset's iteration rule, including runs cut by arrivals, prompts chunked
    across iterations, preemptions (handed to the general path) and rejections."""
    from sim.serving import replica

    sc = _case(name)
    sc["workload"]["prompt_tokens"]["max"] = 5000  # some prompts over the context (or the 4096-token budget): rejected
    used = []
    prompts = []
    orig = replica.Replica._ahead
    orig_prompts = replica.Replica._lean_prompts

    def counting(self, limit):
        used.append(1)
        return orig(self, limit)

    def counting_prompts(self, clock, limit, n_act):
        step = orig_prompts(self, clock, limit, n_act)
        prompts.append((step is True, len(self.prefilling), self.kv.pinned))
        return step

    monkeypatch.setattr(replica.Replica, "_ahead", counting)
    monkeypatch.setattr(replica.Replica, "_lean_prompts", counting_prompts)
    lean = sim.run(dict(sc, engine="fast"))
    assert len(used) >= 5   # (every sampler row at least; a replica that never preempts runs ahead between them)
    if name.startswith("preset_") and "vllm-v0" not in name:
        assert sum(booked for booked, _, _ in prompts) > 100   # the chunked family's iterations took the lean loop
        if "trtllm" not in name:
            assert any(partial for _, partial, _ in prompts)    # prompts split across iterations
    if name.endswith("_prefix"):
        assert any(pinned for _, _, pinned in prompts)   # prefixes cached (and read) on the lean path
    used.clear()
    general = _run_request_level(_as_loaded(dict(sc, engine="fast"), []), lean=False)
    assert not used
    assert lean.records.dtype == general.records.dtype
    for col in lean.records.dtype.names:
        assert np.array_equal(lean.records[col], general.records[col]), col
    assert lean.summary["requests"]["rejected"] > 0
    if (name.endswith("preempting") and "trtllm" not in name) or name.endswith("priority"):
        assert lean.summary["requests"]["preemptions"] > 0
    assert lean.summary["requests"] == general.summary["requests"]
    for k in ("throughput", "slo"):
        assert lean.summary[k] == general.summary[k], k
    for k, v in lean.summary["latency"].items():
        assert v == general.summary["latency"][k], k
    assert _same_summary(lean.summary, general.summary)
    assert np.array_equal(lean.timeseries, general.timeseries)


def test_drain_with_prerouted_replicas_matches_the_reference_engine():
    """``drain: true`` keeps running past ``duration`` in steps (the sync horizon moves with each
    step): every request finishes, at the same times as on the reference engine."""
    sc = dict(_case("round_robin"), drain=True, duration=40)
    fast = sim.run(dict(sc, engine="fast"))
    ref = sim.run(dict(sc, engine="reference"))
    assert fast.summary["requests"]["in_flight"] == 0 and fast.summary["requests"]["completed"] > 500
    assert fast.summary["simulated_seconds"] == ref.summary["simulated_seconds"]
    assert fast.summary["simulated_seconds"] > 40
    a, b = fast.records, ref.records
    for col in COLS:
        assert np.array_equal(a[col], b[col]), col
    for col in INTS:
        assert np.array_equal(a[col], b[col]), col
    assert _same_summary(fast.summary, ref.summary)
    assert np.array_equal(fast.timeseries, ref.timeseries)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), scheduler=st.sampled_from(["vllm-v0", "vllm-v1", "trtllm", "sglang"]),
       budget=st.sampled_from([256, 512, 2048]), mem=st.sampled_from([0.2, 0.25]), prefix=st.booleans(),
       replicas=st.sampled_from([1, 3]), warmup=st.sampled_from([0.0, 4.0]), priority=st.booleans())
def test_lean_path_equals_general_path_on_random_workloads(seed, scheduler, budget, mem, prefix, replicas, warmup,
                                                           priority):
    """Random pre-routed workloads under each preset (KV pressure, split prompts, prefix caching,
    class priority): the lean loop and the general path give the same records, summary and time
    series, bit for bit."""
    wl = {"arrival": {"process": "poisson", "rate": 7.0 * replicas},
          "prompt_tokens": {"dist": "lognormal", "mean": 350, "cv": 1.2, "max": 1500},
          "output_tokens": {"dist": "lognormal", "mean": 90, "cv": 1.2, "max": 600},
          "classes": [{"name": "chat", "share": 0.5, "shared_prefix_tokens": 96, "priority": 1},
                      {"name": "api", "share": 0.5}]}
    split = scheduler in ("vllm-v1", "sglang")
    batching = {"scheduler": scheduler, "max_num_seqs": 24, "prefix_caching": prefix,
                "max_batched_tokens": budget if split else 2048, "policy": "priority" if priority else "continuous"}
    sc = scenario(seed=seed, duration=30, warmup=warmup, workload=wl, perf={"model": "roofline"}, engine="fast")
    sc["fleet"] = {"router": "round_robin",
                   "pools": [{"name": "main", "gpu": "a100-80gb", "replicas": replicas, "max_model_len": 1536,
                              "gpu_memory_utilization": mem, "batching": batching}]}
    loaded = _as_loaded(sc, [])
    lean = _run_request_level(loaded, lean=True)
    general = _run_request_level(_as_loaded(sc, []), lean=False)
    for col in lean.records.dtype.names:
        assert np.array_equal(lean.records[col], general.records[col]), col
    assert _same_summary(lean.summary, general.summary)
    assert np.array_equal(lean.timeseries, general.timeseries)


ROUTING_CASES = ["round_robin", "random", "random_mixed_context", "pinned_round_robin", "pinned_random",
                 "batcher_round_robin", "single_least_outstanding"]


def _routing_case(name: str) -> dict:
    """A pre-routed fleet whose routing meets every branch of a decision: requests no replica can
    serve (prompts past the context and past the budget: rejected with their reason), replicas one
    request fits and another does not (``random_mixed_context``: the draw falls back to the least
    outstanding replica that fits: replica state, so this fleet is routed at arrival on both
    engines), classes pinned to pools, a batcher's groups."""
    sc = _case("mixed_pools")
    sc["duration"] = 40
    wl = sc["workload"]
    wl["prompt_tokens"]["max"] = 6000      # past the 4096-token context and budget: rejected
    main, h100 = sc["fleet"]["pools"]
    if name == "random_mixed_context":
        sc["fleet"]["router"] = "random"
        main["max_model_len"] = 1024           # long prompts fit only the h100 pool
    elif name.startswith("random"):
        sc["fleet"]["router"] = "random"
    elif name.startswith("pinned_"):
        wl["classes"] = [{"name": "chat", "share": 0.6}, {"name": "batch", "share": 0.3},
                         {"name": "any", "share": 0.1}]
        sc["fleet"]["router"] = {"policy": name.removeprefix("pinned_"),
                                 "classes": {"chat": "main", "batch": ["h100"]}}
    elif name == "batcher_round_robin":
        sc["fleet"]["router"] = {"policy": "round_robin", "batcher": {"max_requests": 3, "timeout_s": 0.05}}
    elif name == "single_least_outstanding":
        sc["fleet"] = {"router": "least_outstanding", "pools": [main]}
        main["replicas"] = 1
    return sc


@pytest.mark.parametrize("name", ROUTING_CASES)
def test_routing_ahead_decides_as_routing_at_arrival(name, monkeypatch):
    """The feed that routes whole chunks ahead of the clock and the one that routes each request at
    its arrival (the reference engine) make the same decision for every request: the same replica
    and pool, or the same rejection with the same reason, and both through ``Fleet.place`` once a
    request."""
    from sim.serving import fleet as fleet_mod

    sc = _routing_case(name)
    assert _prerouted(dict(sc, engine="fast")) == (name != "random_mixed_context")
    # per fleet (the load factor's measurement builds its own): prerouted, requests; keyed by the fleet
    # itself, kept alive, as a freed fleet's id may be a later one's
    placed: dict[Fleet, list] = {}
    orig = fleet_mod.Fleet.place

    def counting(self, reqs):
        placed.setdefault(self, [self.prerouted, 0])[1] += len(reqs)
        return orig(self, reqs)

    monkeypatch.setattr(fleet_mod.Fleet, "place", counting)
    fast = sim.run(dict(sc, engine="fast"))
    ref = sim.run(dict(sc, engine="reference"))
    a, b = fast.records, ref.records
    assert len(a) == len(b) > 500
    ahead = name != "random_mixed_context"
    both = {n for pre, n in placed.values() if pre == ahead} & {n for pre, n in placed.values() if not pre}
    if "batcher" in name:     # one decision a group (and one for a request its group's replica can never serve)
        assert any(len(a) / 3 <= n < len(a) for n in both)
    else:
        assert len(a) in both
    for col in ("rid", "arrival_s", "queue_s", "pool", "replica", "cls", "status", "reason"):
        if col == "queue_s":   # a batcher's dispatch time (the request's queued_at) shows as sched - arrival >= 0
            assert np.array_equal(a["sched_s"] >= a["arrival_s"], b["sched_s"] >= b["arrival_s"])
            continue
        assert np.array_equal(a[col], b[col]), col
    reasons = set(a["reason"][a["status"] == REJECTED].tolist())
    assert {R_CONTEXT} <= reasons                       # rejected up front, with the same reason
    served = a["pool"] >= 0   # routed (a request the batcher still holds at the end is not)
    assert len(set(zip(a["pool"][served].tolist(), a["replica"][served].tolist()))) == (1 if "single" in name else 6)
    if name == "random_mixed_context":
        long = served & (a["prompt_tokens"] > 1024)
        assert long.sum() > 5 and set(a["pool"][long].tolist()) == {1}   # the fallback chose among the pool that fits
    if name.startswith("pinned_"):
        for cls, pool in ((0, 0), (1, 1)):
            assert set(a["pool"][served & (a["cls"] == cls)].tolist()) == {pool}
    assert _same_summary(fast.summary, ref.summary)
