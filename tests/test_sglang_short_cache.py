"""SGLang starts with a KV cache shorter than ``max_model_len`` and serves up to it; vLLM refuses to start.

SGLang (``python/sglang/srt/managers/tp_worker.py``) sets ``max_req_len = min(context_len - 1,
max_total_num_tokens - 1)`` and only asserts it is positive ("Memory pool size is too small"); an input at or
past it is rejected (``managers/utils.py``, ``validate_input_length``: "Input length (...) exceeds the maximum
allowed length") and generation stops there. vLLM V1 refuses to start ("To serve at least one request with
the models's max seq len ..."). Worked by hand: Llama-3.1-8B (8.03e9 bf16 weights, 14.96 GiB; 128 KiB of KV a
token) on one H100 at ``mem_fraction_static`` 0.2: 0.2 x (79.19 - 0.25) GiB - 14.96 GiB = 0.831 GiB = 6,807
tokens, 425 blocks of 16 = 6,800 tokens, of which the 421 blocks above the 1 % watermark (4 blocks) admit
6,736 tokens.
"""
from __future__ import annotations

import warnings

import pytest

import sim
from sim.metrics.schema import COMPLETED, REJECTED
from sim.scenario.load import scenario_from_dict

POOL = {"name": "main", "gpu": "h100-sxm", "replicas": 1, "gpu_memory_utilization": 0.2,
        "batching": {"scheduler": "sglang", "max_num_seqs": 64, "max_batched_tokens": 8192,
                     "chunked_prefill": True}}


def _pool(scheduler: str, fraction: float = 0.2) -> dict:
    return {**POOL, "gpu_memory_utilization": fraction, "batching": {**POOL["batching"], "scheduler": scheduler}}


def test_sglang_starts_with_a_short_cache_and_says_so():
    from tests.conftest import scenario
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        loaded = scenario_from_dict(scenario(model="llama-3.1-8b", fleet={"pools": [_pool("sglang")]}))
    assert loaded.memory_plans[0][1].kv_tokens == 6800
    words = [str(w.message) for w in got if "KV cache holds" in str(w.message)]
    assert words == [
        "fleet.pools.0: the KV cache holds 6,800 tokens, fewer than one sequence of max_model_len=131,072: SGLang "
        "starts and serves sequences of at most 6,736 tokens (those its blocks above the 1 % watermark hold), "
        "rejecting a longer prompt ('Input length ... exceeds the maximum allowed length') and stopping generation "
        "there; set a smaller fleet.pools.0.max_model_len, a larger gpu_memory_utilization, tensor_parallel or "
        "pipeline_parallel to serve max_model_len"]


def test_vllm_refuses_to_start_with_the_same_short_cache():
    from sim.errors import ScenarioError
    from tests.conftest import scenario
    with pytest.raises(ScenarioError) as e:
        # 0.22 x 79.19 GiB less the weights and vLLM's ~0.9 GiB reserve: a cache of ~12,000 tokens
        scenario_from_dict(scenario(model="llama-3.1-8b", fleet={"pools": [_pool("vllm-v1", 0.22)]}))
    assert "fewer than one sequence of max_model_len=131,072 (vLLM refuses to start)" in str(e.value)


def test_sglang_serves_up_to_its_cache_and_rejects_longer_prompts(trace_scenario):
    rows = [(0.0, 1000, 50),       # well inside: served whole
            (1.0, 6737, 10),       # past the 6,736 tokens the cache admits: rejected as SGLang rejects it
            (2.0, 6000, 1000),     # fits, its output cut where the cache ends: 6,736 - 6,000 = 736 tokens
            (3.0, 6736, 10)]       # exactly the cache: served, one token (as a prompt of the context length)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sim.run(trace_scenario(rows, model="llama-3.1-8b", fleet={"pools": [_pool("sglang")]}))
    rec = res.records
    assert list(rec["status"]) == [COMPLETED, REJECTED, COMPLETED, COMPLETED]
    assert list(rec["generated_tokens"][[0, 2, 3]]) == [50, 736, 1]
    assert res.summary["requests"]["rejected_by_reason"] == {"prompt_exceeds_max_context": 1}


def test_validate_says_what_sglang_serves_with_a_short_cache(tmp_path, capsys):
    """``fleetsim validate`` said "max concurrent sequences: 0 at max_model_len" for a pool SGLang starts and
    serves: it now says the longest sequence served (6,736 tokens, above) and that one of them fits at once;
    a vLLM pool that does start keeps the count at max_model_len."""
    import yaml

    from sim.cli import main
    from tests.conftest import scenario
    data = scenario(model="llama-3.1-8b", fleet={"pools": [_pool("sglang")]})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["validate", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("max concurrent sequences: none at max_model_len=131,072 (unset: the model's context): SGLang serves "
            "sequences of at most 6,736 tokens (its cache above the 1 % watermark), one of those at a time, up to "
            "64 (max_num_seqs) at 106 tokens each") in out
    data["fleet"]["pools"][0].update(gpu_memory_utilization=0.9, max_model_len=4096)   # ~459,000 tokens: 112 of 4,096
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 0
    assert "max concurrent sequences: 64 at max_model_len=4,096, up to 64" in " ".join(capsys.readouterr().out.split())


def _problems(data: dict) -> list[tuple[str, str]]:
    from sim.errors import ScenarioError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scenario_from_dict(data)
        except ScenarioError as exc:
            return exc.problems
    return []


@pytest.mark.parametrize("prompt, refused", [(6737, True), (6736, False)])
def test_validate_refuses_prompts_longer_than_the_short_cache_serves(prompt, refused):
    """Validate's check of a prompt distribution no pool can hold used max_model_len (131,072): prompts of
    6,737 tokens passed it and were all rejected at run time (the run above). It now uses the 6,736 tokens the
    cache admits; a prompt of exactly that passes, as the run serves it."""
    from tests.conftest import scenario
    wl = scenario()["workload"] | {"prompt_tokens": {"dist": "fixed", "value": prompt}}
    got = _problems(scenario(model="llama-3.1-8b", workload=wl, fleet={"pools": [_pool("sglang")]}))
    want = [("workload.prompt_tokens", "every prompt is at least 6,737 tokens, longer than the longest context a "
                                       "pool serves (6,736 tokens, the KV cache of sglang pool 'main' above its 1 % "
                                       "watermark): every request would be rejected")]
    assert got == (want if refused else [])


def test_class_pin_check_uses_what_the_short_cache_serves():
    """A class pinned to the short-cache sglang pool, every prompt of it 7,000 tokens, is refused at its pin; a
    vLLM pool beside it with a whole context (the free class goes there) keeps the workload's check quiet."""
    from tests.conftest import scenario
    wl = scenario()["workload"] | {"classes": [
        {"name": "long", "share": 0.5, "prompt_tokens": {"dist": "fixed", "value": 7000}},
        {"name": "short", "share": 0.5}]}
    big = {"name": "big", "gpu": "h100-sxm", "replicas": 1, "max_model_len": 8192,
           "batching": {"max_num_seqs": 64, "max_batched_tokens": 8192}}
    got = _problems(scenario(model="llama-3.1-8b", workload=wl,
                             fleet={"router": {"policy": "least_outstanding", "classes": {"long": "main"}},
                                    "pools": [_pool("sglang"), big]}))
    assert got == [("fleet.router.classes.long",
                    "every prompt of class 'long' is at least 7,000 tokens, longer than the longest context its "
                    "pools serve (6,736 tokens, the KV cache of sglang pool 'main' above its 1 % watermark): every "
                    "request of it would be rejected")]
