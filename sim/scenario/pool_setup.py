"""What one pool of a valid scenario is built from: its catalog entries, precisions, layout, memory
plan and step-time model.

Every place that needs a pool's step-time model (a run's pools, :func:`sim.api.build_pools`; the
shortest-step limit, :func:`sim.limits.step_problems`; the MLPerf Server benchmark) builds it here,
through :func:`pool_step_model`, so they cannot drift apart. Each pool's memory plan is made once
per scenario load, by the scenario's checks (:func:`pool_memory_plan`), and reused
(:func:`pool_setups`). It sits in the layer that knows both the
scenario and the domain models (it asks :mod:`sim.perf` for the memory plan and the step model);
see the layers in docs/architecture.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sim.scenario.catalog import get_gpu, get_model

if TYPE_CHECKING:
    from sim.perf.base import StepTimeModel


def pool_setup(sc, pool, plan=None):
    """``(model, gpu, perf, weight_dtype, kv_dtype, memory_plan)`` of one pool of a valid scenario;
    ``plan``: the pool's memory plan when the caller has it already (:func:`pool_setups`)."""
    model, gpu, perf = pool_entries(sc, pool)
    wdt, edt, kdt = pool_dtypes(perf, model)
    if plan is None:
        plan = pool_memory_plan(pool, model, gpu, wdt, edt, kdt)
    return model, gpu, perf, wdt, kdt, plan


def pool_setups(loaded) -> list[tuple]:
    """:func:`pool_setup` of every pool of a loaded scenario, in order, each with the memory plan the
    scenario's checks computed when it was loaded (``loaded.memory_plans``), so that loading and
    running a scenario plan each pool's memory once."""
    sc = loaded.scenario
    known = loaded.memory_plans
    return [pool_setup(sc, p, known[i][1] if i in known and known[i][0] is p else None)
            for i, p in enumerate(sc.fleet.pools)]


def pool_entries(sc, pool) -> tuple:
    """``(model, gpu, perf)``: one pool's catalog entries and the ``perf`` block it uses (its own, else
    the scenario's)."""
    return get_model(pool_model(sc, pool)), get_gpu(pool.gpu), pool.perf or sc.perf


def pool_model(sc, pool):
    """The model ``pool`` serves as the scenario gives it (a catalog name or an inline architecture):
    the pool's own ``model``, else the scenario's."""
    return pool.model if pool.model is not None else sc.model


def pool_context(pool, model) -> int:
    """The longest sequence a replica of ``pool`` serves, in tokens: its ``max_model_len``, else its
    model's context, and never past the model's context."""
    return min(model.max_context, pool.max_model_len or model.max_context)


def served_context(pool, model, plan=None) -> int:
    """The longest sequence a replica of ``pool`` really serves, in tokens: :func:`pool_context`, or under
    ``scheduler: sglang`` with a KV cache (``plan``, its memory plan) shorter than that, the tokens its cache
    admits one sequence into (:func:`sim.perf.memory.admitted_tokens`: SGLang starts and serves up to its
    cache). What a run rejects a longer prompt at, and what validate's checks of prompts no pool can hold use."""
    context = pool_context(pool, model)
    if plan is not None and plan.engine == "sglang" and 0 < plan.kv_tokens < context:
        from sim.perf.memory import admitted_tokens
        context = min(context, admitted_tokens(plan.kv_blocks, pool.batching.block_size))
    return context


def served_context_limit(pool, model, plan=None) -> tuple[int, str]:
    """``(served_context, what sets it)``: :func:`served_context` worked out once, with what sets it in words
    (``max_model_len``, or an ``sglang`` pool's KV cache)."""
    context = served_context(pool, model, plan)
    if context < pool_context(pool, model):
        return context, f"the KV cache of sglang pool {pool.name!r} above its 1 % watermark"
    return context, "max_model_len"


def pool_memory_plan(pool, model, gpu, weight_dtype: str, expert_dtype: str | None, kv_dtype: str):
    """The :func:`~sim.perf.memory.memory_plan` of one replica of ``pool`` at the given precisions
    (:func:`pool_dtypes`), by the memory rule of its ``batching.scheduler``'s engine
    (:func:`sim.perf.memory_rules.engine_of`: ``gpu_memory_utilization`` is vLLM's share of the total memory,
    or SGLang's ``mem_fraction_static``; ``vllm-v0`` and ``trtllm`` pools keep fleetsim's earlier sizing)."""
    from sim.perf.memory import memory_plan
    from sim.perf.memory_rules import engine_of

    b = pool.batching
    return memory_plan(model, gpu, pool_layout(pool, gpu), pool.gpu_memory_utilization, weight_dtype, kv_dtype,
                       b.block_size, b.max_batched_tokens, b.max_num_seqs, expert_dtype,
                       engine=engine_of(b.scheduler))


def pool_dtypes(perf, model) -> tuple[str, str | None, str]:
    """``(weight, expert weight, KV)`` precisions of a pool. The routed experts default to the
    precision the model is published in when it has its own (gpt-oss: MXFP4 = fp4); everything
    else is the ``perf`` block's (bf16 unless set)."""
    wdt = getattr(perf, "weight_dtype", "bf16")
    edt = getattr(perf, "expert_dtype", None) or model.expert_weight_dtype
    return wdt, edt, getattr(perf, "kv_dtype", "bf16")


def pool_layout(pool, gpu):
    """The :class:`~sim.perf.parallel.Layout` of one pool's replicas."""
    from sim.perf.parallel import Layout

    return Layout(tp=pool.tensor_parallel, pp=pool.pipeline_parallel, ep=pool.expert_parallel,
                  dp_attention=pool.data_parallel_attention,
                  gpus_per_node=pool.gpus_per_node or gpu.gpus_per_node, ib_gbps=pool.ib_gbps,
                  micro_batches=pool.pipeline_micro_batches or 0)


def pool_step_model(sc, pool, base_dir: Path, setup: tuple | None = None) -> "StepTimeModel":
    """The step-time model of one replica of ``pool``: :func:`sim.perf.build_step_model` of the
    pool's ``perf`` block (or the scenario's), model, GPU, layout and weight and expert precisions
    (:func:`pool_dtypes`), with relative paths resolved against ``base_dir`` (the scenario file's
    folder). ``setup``: the pool's :func:`pool_setup`, when the caller has it already (its model, GPU
    and ``perf`` block are used; the memory plan is not needed).

    Raises what :func:`pool_entries` and :func:`~sim.perf.build_step_model` raise (``ValueError`` for
    a layout the model cannot use or a precision the GPU lacks)."""
    from sim.perf import build_step_model

    model, gpu, perf = setup[:3] if setup is not None else pool_entries(sc, pool)
    wdt, edt, _ = pool_dtypes(perf, model)
    return build_step_model(perf, model, gpu, pool.tensor_parallel, base_dir, layout=pool_layout(pool, gpu),
                            weight_dtype=wdt, expert_dtype=edt)
