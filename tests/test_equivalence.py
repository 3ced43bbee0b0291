"""The fast (event-skipping) engine against the reference (one iteration per event) engine.

Both must produce the same requests on the same seed: every integer column equal, every time equal
up to floating-point summation order (the fast engine sums a run's step times with ``cumsum``, the
reference engine one by one: relative differences ~1e-12), and the same summary. The cases cover
the engine's branches: roofline and linear step models, lognormal lengths, chunked prefill, KV
pressure with preemption, priority classes, static batching, a central queue and several replicas.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim

from conftest import scenario

INT_COLS = ("rid", "prompt_tokens", "output_tokens", "generated_tokens", "preemptions", "retries", "pool",
            "replica", "cls", "status", "reason")
TIME_COLS = ("arrival_s", "sched_s", "first_token_s", "completion_s")


def _lognormal(rate: float, prompt: float = 600, output: float = 150) -> dict:
    return {"arrival": {"process": "poisson", "rate": rate},
            "prompt_tokens": {"dist": "lognormal", "mean": prompt, "cv": 1.0, "max": 3000},
            "output_tokens": {"dist": "lognormal", "mean": output, "cv": 1.0, "max": 1000}}


def _roofline(**over) -> dict:
    sc = scenario(duration=90, warmup=10, workload=_lognormal(6.0), perf={"model": "roofline"}, **over)
    sc["fleet"]["pools"][0]["gpu"] = "a100-80gb"
    return sc


def _case(name: str) -> dict:
    if name == "roofline_lognormal":
        return _roofline()
    if name == "chunked_prefill":
        sc = _roofline()
        sc["fleet"]["pools"][0]["batching"] = {"max_num_seqs": 64, "max_batched_tokens": 512, "chunked_prefill": True}
        return sc
    if name == "kv_pressure_preemption":
        sc = scenario(duration=60, workload=_lognormal(8.0, 800, 300))
        sc["fleet"]["pools"][0]["gpu_memory_utilization"] = 0.205   # a few thousand KV tokens only
        return sc
    if name == "priority_classes":
        sc = scenario(duration=60, workload=_lognormal(10.0, 300, 80))
        sc["workload"]["classes"] = [{"name": "hi", "share": 0.3, "priority": 2},
                                     {"name": "lo", "share": 0.7, "priority": 0}]
        sc["fleet"]["pools"][0]["batching"] = {"policy": "priority", "max_num_seqs": 16, "max_batched_tokens": 4096}
        return sc
    if name == "static_batching":
        sc = scenario(duration=60, workload=_lognormal(4.0, 300, 80))
        sc["fleet"]["pools"][0]["batching"] = {"policy": "static", "batch_size": 8, "timeout_s": 0.5,
                                               "max_batched_tokens": 100000}
        return sc
    if name == "central_queue_4_replicas":
        sc = scenario(duration=60, workload=_lognormal(25.0, 300, 80))
        sc["fleet"]["router"] = "central_queue"
        sc["fleet"]["pools"][0].update(replicas=4, batching={"max_num_seqs": 8, "max_batched_tokens": 4096})
        return sc
    if name == "least_outstanding_3_replicas":
        sc = _roofline()
        sc["workload"] = _lognormal(15.0)
        sc["fleet"]["router"] = "least_outstanding"
        sc["fleet"]["pools"][0]["replicas"] = 3
        return sc
    if name.startswith("preset_"):  # preset_<scheduler>[_kv]: each engine rule, with KV pressure if _kv
        scheduler = name.split("_")[1]
        sc = _case("kv_pressure_preemption") if name.endswith("_kv") else _roofline()
        sc["fleet"]["pools"][0]["batching"] = {"scheduler": scheduler, "max_num_seqs": 64,
                                               "max_batched_tokens": 512 if scheduler in ("sglang", "vllm-v1") else 8192}
        if name.endswith("_kv"):
            sc["fleet"]["pools"][0]["max_model_len"] = 3000
        return sc
    raise KeyError(name)


CASES = ["roofline_lognormal", "chunked_prefill", "kv_pressure_preemption", "priority_classes", "static_batching",
         "central_queue_4_replicas", "least_outstanding_3_replicas", "preset_vllm-v0", "preset_vllm-v0_kv",
         "preset_vllm-v1", "preset_vllm-v1_kv",
         "preset_trtllm", "preset_trtllm_kv", "preset_sglang", "preset_sglang_kv"]


def _assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert len(a) == len(b)
    for col in INT_COLS:
        assert np.array_equal(a[col], b[col]), col
    for col in TIME_COLS:
        assert np.array_equal(a[col], b[col]), col      # bit for bit


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


_RUNS: dict = {}


def _pair(case: str, warmup: float | None = None):
    """(fast, reference) results of a case, run once per module."""
    key = (case, warmup)
    if key not in _RUNS:
        sc = _case(case)
        if warmup is not None:
            sc["warmup"] = warmup
        _RUNS[key] = (sim.run(dict(sc, engine="fast")), sim.run(dict(sc, engine="reference")))
    return _RUNS[key]


def _assert_same_summary(fast, ref, skip=()) -> None:
    f, r = _flat(fast.summary), _flat(ref.summary)
    for key in sorted(set(f) & set(r)):
        if key == "wall_seconds" or any(key.startswith(p) for p in skip):
            continue
        assert f[key] == r[key], key                    # bit for bit
    assert set(f) == set(r)


@pytest.mark.parametrize("case", CASES)
def test_fast_engine_gives_the_reference_engines_requests(case):
    fast, ref = _pair(case)
    assert fast.summary["requests"]["completed"] > 20      # the case did something
    _assert_same(fast.records, ref.records)


@pytest.mark.parametrize("case", CASES)
def test_fast_engine_gives_the_reference_engines_summary_without_warmup(case):
    fast, ref = _pair(case, warmup=0.0)
    _assert_same_summary(fast, ref)
    assert np.array_equal(fast.timeseries, ref.timeseries)


def test_itl_after_warmup_matches_reference():
    fast, ref = _pair("roofline_lognormal")           # warmup 10 s
    _assert_same_summary(fast, ref)


def test_summary_after_warmup_matches_reference_except_itl():
    fast, ref = _pair("roofline_lognormal")
    _assert_same_summary(fast, ref, skip=("latency.itl",))


def test_kv_pressure_case_really_preempts():
    fast, ref = _pair("kv_pressure_preemption")
    assert fast.summary["requests"]["preemptions"] > 0
    assert fast.summary["requests"]["preemptions"] == ref.summary["requests"]["preemptions"]
