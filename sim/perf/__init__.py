"""How long one batch iteration of one replica takes: roofline, linear and measured-table models.

Pure functions of a batch's shape (no SimPy). The engine builds one model per pool with
:func:`build_step_model` and calls ``step_time(shape)`` per iteration, or ``decode_times`` for a
run of pure-decode iterations (bit-identical to per-iteration calls).

    >>> from sim.scenario.catalog import get_gpu, get_model
    >>> from sim.scenario.perf import parse_perf
    >>> from sim.perf.base import BatchShape
    >>> sm = build_step_model(parse_perf({"model": "linear", "base_s": 0.02}), get_model("llama-3-8b"),
    ...                       get_gpu("h100-sxm"), tp=1, base_dir=pathlib.Path("."))
    >>> sm.step_time(BatchShape(decode_seqs=1, decode_context_tokens=10))
    0.02
"""
from __future__ import annotations

import pathlib
from dataclasses import replace

from sim.paths import resolve_path
from sim.perf.base import BatchShape, StepTimeModel
from sim.perf.kernels import KERNEL_SETS, KernelSet, kernel_set
from sim.perf.linear import LinearModel
from sim.perf.memory import MemoryPlan, check_parallelism, memory_plan
from sim.perf.parallel import Layout
from sim.perf.overhead import CpuOverhead
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import Efficiency, GPUSpec, ModelSpec
from sim.scenario.perf import LinearPerf, RooflinePerf, TablePerf

__all__ = ["BatchShape", "StepTimeModel", "LinearModel", "RooflineModel", "MemoryPlan", "memory_plan", "Layout",
           "check_parallelism", "build_step_model", "KERNEL_SETS", "KernelSet", "kernels_for", "roofline_efficiency",
           "roofline_factors"]


def roofline_factors(cfg: RooflinePerf, gpu: GPUSpec, base_dir: pathlib.Path) -> tuple[Efficiency, float]:
    """Efficiency factors and smooth-roofline overlap exponent for ``cfg``.

    Each comes from the GPU catalog (for the weight precision), is replaced by a calibration file's
    if ``cfg.calibration`` is set (its ``overlap_exponent`` only if the file has one), then by any
    explicit value in ``cfg`` (``flops_efficiency``, ``bw_efficiency``, ``overhead_s``,
    ``overlap_exponent``).
    """
    eff, p = gpu.efficiency(cfg.weight_dtype), gpu.overlap_exponent
    if cfg.calibration is not None:
        from sim.perf.calibration import load_calibration
        cal = load_calibration(resolve_path(cfg.calibration, base_dir))
        eff = cal.efficiency
        if cal.overlap_exponent is not None:
            p = cal.overlap_exponent
    if cfg.flops_efficiency is not None:
        eff = replace(eff, flops_efficiency=cfg.flops_efficiency)
    if cfg.bw_efficiency is not None:
        eff = replace(eff, bw_efficiency=cfg.bw_efficiency)
    if cfg.overhead_s is not None:
        eff = replace(eff, overhead_s=cfg.overhead_s)
    if cfg.overlap_exponent is not None:
        p = cfg.overlap_exponent
    return eff, p


def kernels_for(cfg: RooflinePerf) -> KernelSet:
    """The kernel set ``cfg.kernels`` names, with any number ``cfg.kernel_factors`` gives in its place."""
    ks = kernel_set(cfg.kernels)
    if cfg.kernel_factors is None:
        return ks
    given = {k: v for k, v in cfg.kernel_factors.model_dump().items() if v is not None}
    return replace(ks, **given) if given else ks


def roofline_efficiency(cfg: RooflinePerf, gpu: GPUSpec, base_dir: pathlib.Path) -> Efficiency:
    """Efficiency factors for ``cfg`` (the first half of :func:`roofline_factors`)."""
    return roofline_factors(cfg, gpu, base_dir)[0]


def build_step_model(perf_cfg: RooflinePerf | LinearPerf | TablePerf, model: ModelSpec, gpu: GPUSpec, tp: int,
                     base_dir: pathlib.Path, layout: Layout | None = None, weight_dtype: str | None = None,
                     expert_dtype: str | None = None) -> StepTimeModel:
    """The step-time model a ``perf:`` block describes, for one replica of ``tp`` GPUs (or ``layout``).

    Relative paths (calibration, table) resolve against ``base_dir``, the scenario file's folder.
    Roofline factors and overlap exponent: catalog < calibration file < explicit ``perf:`` keys
    (:func:`roofline_factors`). ``weight_dtype``, if given, replaces the block's; ``expert_dtype``
    is the routed experts' precision (default the block's ``expert_dtype``, else ``weight_dtype``).
    Raises ``ValueError`` for a layout the model cannot use or a precision the GPU lacks, and
    :class:`~sim.errors.InputError` for unreadable calibration or table files.
    """
    if isinstance(perf_cfg, LinearPerf):
        return LinearModel(perf_cfg.base_s, perf_cfg.per_prefill_token_s, perf_cfg.per_decode_token_s,
                           perf_cfg.per_context_token_s)
    lay = layout if layout is not None else Layout(tp=tp)
    problem = check_parallelism(model, lay)
    if problem:
        raise ValueError(problem)

    def roofline(cfg: RooflinePerf) -> RooflineModel:
        if weight_dtype is not None and weight_dtype != cfg.weight_dtype:
            cfg = cfg.model_copy(update={"weight_dtype": weight_dtype})
        eff, p = roofline_factors(cfg, gpu, base_dir)
        return RooflineModel(model, gpu, lay.tp, cfg.weight_dtype, cfg.kv_dtype, eff, p, cfg.attention_kv_sharing,
                             layout=lay, expert_dtype=expert_dtype or getattr(cfg, "expert_dtype", None),
                             cpu=CpuOverhead(eff.overhead_s, cfg.cpu_per_seq_s, cfg.cpu_per_token_s,
                                             cfg.cpu_per_stream_token_s if cfg.streaming else 0.0),
                             kernels=kernels_for(cfg), moe_decode_efficiency=cfg.moe_decode_efficiency)

    if isinstance(perf_cfg, RooflinePerf):
        return roofline(perf_cfg)
    if isinstance(perf_cfg, TablePerf):
        from sim.perf.table import TableModel
        return TableModel.from_csv(resolve_path(perf_cfg.path, base_dir), roofline(perf_cfg.roofline))
    raise TypeError(f"unknown perf config {perf_cfg!r}")
