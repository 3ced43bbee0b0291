"""A pool's step-time model is built one way (:func:`sim.scenario.pool_setup.pool_step_model`): the
step the shortest-step limit (:func:`sim.limits.step_problems`) prices is the step a run's pool takes
(:func:`sim.api.build_pools`), bit for bit, layout and published expert precision included."""
from __future__ import annotations

import pytest

from sim.api import build_pools
from sim.perf import build_step_model
from sim.perf.base import BatchShape
from sim.scenario.load import scenario_from_dict
from sim.scenario.pool_setup import pool_layout, pool_setup, pool_setups, pool_step_model

SHAPES = [BatchShape(decode_seqs=1, decode_context_tokens=1),
          BatchShape(prefill_tokens=512, prefill_seqs=1, prefill_attn_pairs=512 * 513 / 2, prefill_kv_tokens=512,
                     decode_seqs=8, decode_context_tokens=8 * 700)]


def _loaded(tmp_path, pools, perf=None):
    raw = {"name": "s", "duration": 60, "model": "llama-3-8b",
           "workload": {"arrival": {"process": "poisson", "rate": 1},
                        "prompt_tokens": {"dist": "fixed", "value": 100},
                        "output_tokens": {"dist": "fixed", "value": 10}},
           "fleet": {"pools": pools}, "perf": perf or {"model": "roofline"}}
    return scenario_from_dict(raw, str(tmp_path / "s.yaml"), tmp_path)


POOLS = [
    {"name": "dense", "gpu": "h100-sxm", "replicas": 1},
    {"name": "moe", "gpu": "h100-sxm", "replicas": 1, "model": "gpt-oss-120b", "tensor_parallel": 2},
    {"name": "fp8", "gpu": "h100-sxm", "replicas": 1, "perf": {"model": "roofline", "weight_dtype": "fp8"}},
    {"name": "pp", "gpu": "a100-80gb", "replicas": 1, "pipeline_parallel": 2, "tensor_parallel": 2},
]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_step_the_limit_prices_is_the_step_a_run_takes(tmp_path, shape):
    loaded = _loaded(tmp_path, POOLS)
    built = build_pools(loaded, scheduler_factors=False)
    for pool, cfg in zip(built, loaded.scenario.fleet.pools):
        assert pool_step_model(loaded.scenario, cfg, tmp_path).step_time(shape) == pool.step_model.step_time(shape)


def test_the_routed_experts_are_priced_at_the_precision_the_model_is_published_in(tmp_path):
    """gpt-oss is published with MXFP4 experts: the pool's step reads fp4 expert weights (fewer bytes,
    a shorter decode step than the same model's experts read at the block's bf16)."""
    loaded = _loaded(tmp_path, POOLS[1:2])
    sc, cfg = loaded.scenario, loaded.scenario.fleet.pools[0]
    model, gpu, perf, wdt, _, _ = pool_setup(sc, cfg)
    assert model.expert_weight_dtype == "fp4" and wdt == "bf16"
    bf16_experts = build_step_model(perf, model, gpu, 2, tmp_path, layout=pool_layout(cfg, gpu), expert_dtype="bf16")
    shape = SHAPES[0]
    assert pool_step_model(sc, cfg, tmp_path).step_time(shape) < bf16_experts.step_time(shape)


def test_loading_and_running_a_scenario_plan_each_pools_memory_once(tmp_path, monkeypatch):
    """The scenario's checks make each pool's memory plan; building the run's pools reuses it."""
    import sim.perf.memory

    made = []
    real = sim.perf.memory.memory_plan
    monkeypatch.setattr(sim.perf.memory, "memory_plan", lambda *a, **k: made.append(a) or real(*a, **k))
    loaded = _loaded(tmp_path, POOLS)
    assert len(made) == len(POOLS)
    built = build_pools(loaded, scheduler_factors=False)
    assert len(made) == len(POOLS)
    assert [p.kv_blocks for p in built] == [plan.kv_blocks for _, plan in loaded.memory_plans.values()]


def test_the_memory_plans_the_checks_keep_are_those_a_pool_makes_afresh(tmp_path):
    loaded = _loaded(tmp_path, POOLS)
    sc = loaded.scenario
    assert [s[5] for s in pool_setups(loaded)] == [pool_setup(sc, p)[5] for p in sc.fleet.pools]
    unchecked = scenario_from_dict(loaded.raw, loaded.source, tmp_path, check=False)
    assert unchecked.memory_plans == {}
    assert pool_setups(unchecked) == pool_setups(loaded)
