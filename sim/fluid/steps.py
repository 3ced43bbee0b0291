"""A fluid run's step grid: its step and calibration settings, and each step's expected demand.

The step is the ``step_s`` argument, else the scenario's ``fluid.step``, else :data:`DEFAULT_STEP_S`
(one hour); the last step ends at the run's ``duration`` (shorter where the duration is not a whole
number of steps). Each step's demand is the expected arrivals of each class
(:func:`~sim.fluid.demand.expected_arrivals`), and its share after the warmup is what counts in the
run's means and percentiles.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.fluid.capacity import CalibrationSettings
from sim.fluid.demand import expected_arrivals

DEFAULT_STEP_S = 3600.0


def step_options(sc, step_s: float | None, settings: CalibrationSettings | None) -> tuple[float, CalibrationSettings]:
    """Step and calibration settings: arguments first, then an optional ``fluid:`` scenario block
    (``step``, ``grid``, ``calibration_duration``, ``calibration_requests``), then the defaults."""
    block = getattr(sc, "fluid", None)
    if step_s is None:
        step_s = float(getattr(block, "step", None) or DEFAULT_STEP_S)
    if settings is None:
        base = CalibrationSettings()
        grid = getattr(block, "grid", None)
        settings = CalibrationSettings(
            fractions=tuple(float(x) for x in grid) if grid else base.fractions,
            min_duration_s=float(getattr(block, "calibration_duration", None) or base.min_duration_s),
            min_requests=int(getattr(block, "calibration_requests", None) or base.min_requests),
            probe_duration_s=base.probe_duration_s, seed=base.seed)
    if step_s <= 0:
        raise ValueError(f"fluid step must be > 0 s (got {step_s})")
    return step_s, settings


@dataclass(frozen=True)
class Steps:
    """The step grid and each step's expected demand (requests per class)."""

    edges: np.ndarray
    dt_s: np.ndarray
    demand: np.ndarray              # steps x classes
    total: np.ndarray               # per step, all classes
    cls_frac: np.ndarray            # each class's share of a step's demand
    after_warm: np.ndarray          # share of each step after the warm-up

    @property
    def n(self) -> int:
        return len(self.dt_s)


def step_grid(sc, step_s: float, base_dir: Path) -> Steps:
    """The steps of ``step_s`` seconds over the scenario's ``duration`` and their expected demand."""
    end = float(sc.duration)
    edges = np.append(np.arange(0.0, end, float(step_s)), end)
    dt_s = np.diff(edges)
    demand = expected_arrivals(sc.workload, edges, start=sc.start, base_dir=base_dir, seed=sc.seed)
    n_cls = demand.shape[1]
    total = demand.sum(axis=1)
    cls_frac = np.divide(demand, total[:, None], out=np.full_like(demand, 1.0 / n_cls), where=total[:, None] > 0)
    after_warm = np.clip((edges[1:] - np.maximum(edges[:-1], sc.warmup)) / dt_s, 0.0, 1.0)
    return Steps(edges, dt_s, demand, total, cls_frac, after_warm)
