"""The coarse (fluid) tier for long horizons: hourly steps served through measured capacity curves.

``fidelity: fluid`` in a scenario makes :func:`sim.api.run` call :func:`run_fluid`. Modules:
:mod:`~sim.fluid.demand` (expected arrivals per step from the workload's rate functions),
:mod:`~sim.fluid.capacity` (per-replica capacity curves measured by short request-level runs,
cached on disk), :mod:`~sim.fluid.curve` (a curve's quantities against offered load, interpolated),
:mod:`~sim.fluid.scaled_curve` (a curve at a scaled capacity, by rescaling time), :mod:`~sim.fluid.steps` (the step grid and
each step's expected demand) and :mod:`~sim.fluid.run` (the stepping, summary, time series and ledger).
"""
from sim.fluid.capacity import CalibrationSettings, cache_dir, capacity_curve, measure_curve
from sim.fluid.curve import CapacityCurve
from sim.fluid.demand import expected_arrivals, rate_at
from sim.fluid.run import run_fluid
from sim.fluid.steps import DEFAULT_STEP_S

__all__ = ["CalibrationSettings", "CapacityCurve", "DEFAULT_STEP_S", "cache_dir", "capacity_curve",
           "expected_arrivals", "measure_curve", "rate_at", "run_fluid"]
