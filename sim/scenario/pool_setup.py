"""What one pool of a valid scenario is built from: its catalog entries, precisions, layout, memory
plan and step-time model.

Every place that needs a pool's step-time model (a run's pools, :func:`sim.api.build_pools`; the
shortest-step limit, :func:`sim.limits.step_problems`) builds it here, through
:func:`pool_step_model`, so the two cannot drift apart. It sits in the layer that knows both the
scenario and the domain models (it asks :mod:`sim.perf` for the memory plan and the step model);
see the layers in docs/architecture.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sim.scenario.catalog import get_gpu, get_model

if TYPE_CHECKING:
    from sim.perf.base import StepTimeModel


def pool_setup(sc, pool):
    """``(model, gpu, perf, weight_dtype, kv_dtype, memory_plan)`` of one pool of a valid scenario."""
    from sim.perf.memory import memory_plan

    model = get_model(pool.model if pool.model is not None else sc.model)
    gpu = get_gpu(pool.gpu)
    perf = pool.perf or sc.perf
    wdt, edt, kdt = pool_dtypes(perf, model)
    b = pool.batching
    plan = memory_plan(model, gpu, pool_layout(pool, gpu), pool.gpu_memory_utilization, wdt, kdt,
                       b.block_size, b.max_batched_tokens, b.max_num_seqs, edt)
    return model, gpu, perf, wdt, kdt, plan


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
    pool's ``perf`` block (or the scenario's), model, GPU, layout and weight and expert precisions,
    with relative paths resolved against ``base_dir`` (the scenario file's folder). ``setup``: the
    pool's :func:`pool_setup`, when the caller has it already.

    Raises what :func:`pool_setup` and :func:`~sim.perf.build_step_model` raise (``ValueError`` for
    a layout the model cannot use or a precision the GPU lacks)."""
    from sim.perf import build_step_model

    model, gpu, perf, wdt, _, _ = setup if setup is not None else pool_setup(sc, pool)
    return build_step_model(perf, model, gpu, pool.tensor_parallel, base_dir, layout=pool_layout(pool, gpu),
                            weight_dtype=wdt, expert_dtype=pool_dtypes(perf, model)[1])
