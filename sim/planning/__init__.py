"""Capacity planning: sweeps, replications with confidence intervals, searches, executors.

Planning orchestrates runs and never reaches inside one: a point is a raw scenario dict plus a
seed, handed to a ``runner(scenario_dict, seed) -> summary`` (the simulator by default).

    >>> from sim.planning import sweep, plan, saturation          # doctest: +SKIP
    >>> rows = sweep("scenarios/baseline.yaml", {"fleet.pools.0.replicas": [4, 8]}, seeds=3)  # doctest: +SKIP
    >>> answer = plan("scenarios/baseline.yaml", ["fleet.pools.0.replicas=1..64"],          # doctest: +SKIP
    ...               constraints=["latency.ttft.p99<=2.0"]).best
"""
from sim.planning.capacity import PlanResult, plan
from sim.planning.constraints import Constraint, parse_constraint
from sim.planning.erlang import MMcRunner, erlang_c
from sim.planning.executors import make_executor
from sim.planning.knobs import Knob, parse_knob
from sim.planning.runner import SimulationRunner
from sim.planning.saturation import SaturationResult, saturation
from sim.planning.stats import MeanCI, mean_ci
from sim.planning.sweep import SweepResult, sweep

__all__ = [
    "Constraint", "Knob", "MMcRunner", "MeanCI", "PlanResult", "SaturationResult",
    "SimulationRunner", "SweepResult", "erlang_c", "make_executor", "mean_ci", "parse_constraint",
    "parse_knob", "plan", "saturation", "sweep",
]
