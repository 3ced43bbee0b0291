"""The scheduler factor is measured on the mix its pool serves (``sim.serving.saturated``): the
requests the pool can serve (the admission rules every router respects), spread over the whole run.

Checked against what is not the code: a pool whose context refuses a long-prompt class reads 1.0
when overloaded (it read 3.1: fed the whole mix, its measurement replica refused most requests and
sat idle), the admission rules agree request by request with the replica's own, and a class that
joins half way through the run is in the sample in the share its arrival rates give by hand.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy

import sim
from sim.api import build_pools
from sim.scenario.load import scenario_from_dict
from sim.serving import saturated
from sim.serving.replica import Replica
from sim.serving.request import Req

from conftest import scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
LONG = {"prompt_tokens": {"dist": "lognormal", "mean": 6000, "cv": 0.2, "max": 7900},
        "output_tokens": {"dist": "lognormal", "mean": 100, "cv": 0.5, "max": 250}}


@pytest.mark.parametrize("batching,max_len", [({"scheduler": "vllm-v1"}, 4096),
                                              ({"scheduler": "trtllm"}, None),
                                              ({"scheduler": "vllm-v0"}, 6000),
                                              ({"policy": "static", "batch_size": 8}, 3000)])
def test_servable_is_the_replicas_own_admission_request_by_request(batching, max_len):
    """:func:`saturated.servable` on arrays against :meth:`Replica.can_fit` on each request, on a
    pool with a small KV cache (0.3 of an H100's memory for Llama-3-8B), so the context and KV rules
    refuse some requests (the token budget rule cannot: a budget under the context is refused
    without chunked prefill, as vLLM refuses it)."""
    sc = scenario(duration=60)
    sc["model"] = "llama-3-8b"
    sc["fleet"]["pools"][0].update(gpu="h100-sxm", gpu_memory_utilization=0.3, batching=batching,
                                   **({"max_model_len": max_len} if max_len else {}))
    pool = build_pools(scenario_from_dict(sc))[0]
    rng = np.random.default_rng(5)
    prompt = rng.integers(1, 12_000, 3000)
    output = rng.integers(1, 4000, 3000)
    env = simpy.Environment()
    rep = Replica.__new__(Replica)
    Replica.__init__(rep, env, type("F", (), {"patience": None})(), pool, 0, 0, fast=False)   # a fleet without patience
    own = [rep.can_fit(Req(0, 0.0, int(p), int(o), 0, 0)) == 0 for p, o in zip(prompt, output)]
    got = saturated.servable(pool, prompt, output)
    assert got.tolist() == own
    assert 0 < sum(own) < len(own)


def _two_pools(rate: float) -> dict:
    sc = scenario(duration=120)
    sc.update(model="llama-3-8b", warmup=0)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rate},
                      "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.0, "max": 3000},
                      "output_tokens": {"dist": "lognormal", "mean": 300, "cv": 1.0, "max": 1000},
                      "classes": [{"name": "chat", "share": 0.4}, {"name": "long", "share": 0.6, **LONG}]}
    sc["fleet"] = {"router": "least_outstanding", "pools": [
        {"name": "chat", "gpu": "h100-sxm", "replicas": 1, "max_model_len": 4096, "batching": {"scheduler": "vllm-v1"}},
        {"name": "long", "gpu": "h100-sxm", "replicas": 1, "batching": {"scheduler": "trtllm"}}]}
    sc["perf"] = {"model": "roofline"}
    sc["metrics"] = {"records": "none"}
    return sc


def test_a_pool_that_refuses_a_class_is_measured_on_the_rest_and_reads_one_overloaded():
    """A vLLM V1 pool whose 4,096-token context refuses the long-prompt class (60 % of requests;
    they go to a TensorRT-LLM pool) is measured on the chat class alone: its measurement replica
    used to be fed the whole mix, refuse most of it and idle, so the overloaded pool read 3.1."""
    res = sim.run(_two_pools(150.0))
    req = res.summary["requests"]
    assert req["in_flight"] > req["completed"] and not req["rejected"]       # overloaded, nothing refused
    assert res.summary["pools"]["chat"]["load_factor"] == pytest.approx(1.0, abs=0.03)
    pools = build_pools(scenario_from_dict(_two_pools(150.0)), scheduler_factors=True)
    sample = saturated.workload_sample(scenario_from_dict(_two_pools(150.0)).scenario.workload, 120.0, Path("."),
                                       pool=pools[0])
    # the chat pool's mix: the chat class and the few long-class requests (~3 % of that class) short enough for its context
    assert sample.prompt_tokens.max() <= 4096 and np.mean(sample.class_idx == 1) < 0.06
    assert pools[0].scheduler_factor < 1.1


def test_the_sample_spans_the_run_a_class_that_joins_late_included():
    """Chat at 75 requests/s for 15 minutes, then 45/s with a long class at 5/s for 15 more:
    67,500 + 40,500 chat and 4,500 long requests, so the long class is 4,500 / 112,500 = 4 % of
    the run's requests (the first 45,000, all a measurement used to draw, held none). The sample
    (every k-th request) holds it in that share within its binomial spread, in the first 2,000
    requests of its shuffled order too (all a steady engine's window serves)."""
    sc = scenario(duration=1800)
    sc["workload"] = {"prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 10},
                      "classes": [{"name": "chat", "arrival": {"process": "piecewise", "times": [0, 900],
                                                               "rates": [75, 45]}},
                                  {"name": "long", "arrival": {"process": "piecewise", "times": [0, 900],
                                                               "rates": [0, 5]}, **LONG}]}
    wl = scenario_from_dict(sc).scenario.workload
    sample = saturated.workload_sample(wl, 1800.0, Path("."))
    share = float(np.mean(sample.class_idx == 1))
    sd = (0.04 * 0.96 / len(sample)) ** 0.5
    assert len(sample) > saturated.SAMPLE // 2 // 2 and abs(share - 0.04) < 5 * sd + 0.002
    head = float(np.mean(sample.class_idx[:2000] == 1))
    assert abs(head - 0.04) < 5 * (0.04 * 0.96 / 2000) ** 0.5
    again = saturated.workload_sample(wl, 1800.0, Path("."))
    assert sample.prompt_tokens.tobytes() == again.prompt_tokens.tobytes()     # deterministic
    assert sample.class_idx.tobytes() == again.class_idx.tobytes()


def test_the_generator_is_read_for_at_most_max_drawn_requests(monkeypatch):
    """A workload of more requests than :data:`MAX_DRAWN` is sampled over its first ``MAX_DRAWN``:
    the cost of a measurement stays bounded however long the run (the fluid tier's year-long runs)."""
    monkeypatch.setattr(saturated, "MAX_DRAWN", 100_000)
    monkeypatch.setattr(saturated, "SAMPLE", 10_000)
    sc = scenario(duration=3600)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": 200}          # 720,000 requests
    wl = scenario_from_dict(sc).scenario.workload
    seen = []
    real = saturated.generate

    def counting(*a, **k):
        for ch in real(*a, **k):
            seen.append(len(ch))
            yield ch

    monkeypatch.setattr(saturated, "generate", counting)
    sample = saturated.workload_sample(wl, 3600.0, Path("."))
    assert 100_000 <= sum(seen) < 100_000 + 65536 and 5000 <= len(sample) <= 10_000


DISAGG = ROOT / "scenarios" / "disaggregated.yaml"


def test_a_saturated_decode_pool_reads_one_and_an_idle_one_does_not():
    """``scenarios/disaggregated.yaml`` (Llama-3-70B, TP4 H100s) with eight prefill replicas for
    its three decode replicas, overloaded at 60 requests/s: the decode pool is the bottleneck (its
    KV cache full) and reads 1.0 (with the closed form alone, which prices a prefill the pool does
    not run, and the prefill share counted for requests queued there: 3.47); the eight prefill
    replicas run about 7.9 prompts/s each at their batch limits (below), so at 60/s they read about
    60 / 63 (0.94 over 10 minutes). With the bundled two prefill replicas the prefill pool is the
    bottleneck and reads 1.0 (the prompts it ran at the closed form's prefill cost), and the decode
    pool, a third busy, reads well under 1 (0.305). The offered load factor is the bottleneck
    stage's: the decode pool's 1.0 x the 16 % more work than it served offered; the prefill pool's
    1.0 x 60 / 15.8 requests/s offered over served (it read 0.32 and 0.70 with the prefill pool at 0)."""
    def run(prefill_replicas: int) -> dict:
        return sim.run(str(DISAGG), overrides=("workload.arrival.rate=60", f"fleet.pools.0.replicas={prefill_replicas}",
                                               "duration=4m", "warmup=1m", "metrics.records=none")).summary
    decode_bound = run(8)
    assert decode_bound["requests"]["in_flight"] > 2 * 3 * 256       # queued beyond the decode batches: overloaded
    assert decode_bound["pools"]["decode"]["kv_cache_mean"] > 0.9
    assert decode_bound["pools"]["decode"]["load_factor"] == pytest.approx(1.0, abs=0.03)
    assert 0.85 < decode_bound["pools"]["prefill"]["load_factor"] < 0.98
    assert decode_bound["stability"]["offered_load_factor"] == pytest.approx(1.16, abs=0.04)
    prefill_bound = run(2)
    assert prefill_bound["pools"]["decode"]["kv_cache_mean"] < 0.3
    assert prefill_bound["pools"]["decode"]["load_factor"] < 0.5
    assert prefill_bound["pools"]["prefill"]["load_factor"] == pytest.approx(1.0, abs=0.03)
    assert prefill_bound["stability"]["offered_load_factor"] == pytest.approx(60 / 15.8, rel=0.05)


def test_the_decode_measurement_leaves_the_runs_records_alone(monkeypatch):
    """The decode pool's measurement (its own fleet, seed and pool copies) changes no byte of the
    run's records: the same run with the factor replaced by 1 has the same records."""
    over = ("duration=2m", "warmup=0s", "metrics.records=all")
    measured = sim.run(str(DISAGG), overrides=over)
    assert build_pools(sim.api.load_scenario(str(DISAGG), over), scheduler_factors=True)[1].scheduler_factor != 1.0
    monkeypatch.setattr(sim.api, "scheduler_factor", lambda *a, **k: 1.0)
    plain = sim.run(str(DISAGG), overrides=over)
    assert measured.records.tobytes() == plain.records.tobytes()
