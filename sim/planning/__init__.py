"""Capacity planning: sweeps, replications with confidence intervals, searches, executors.

Planning orchestrates runs and never reaches inside one: a point is a raw scenario dict plus a
seed, handed to a ``runner(scenario_dict, seed) -> summary`` (the simulator by default).

    >>> from sim.planning import sweep, plan, saturation          # doctest: +SKIP
    >>> rows = sweep("scenarios/baseline.yaml", {"fleet.pools.0.replicas": [4, 8]}, seeds=3)  # doctest: +SKIP
    >>> answer = plan("scenarios/baseline.yaml", ["fleet.pools.0.replicas=1..64"],          # doctest: +SKIP
    ...               constraints=["latency.ttft.p99<=2.0"]).best

The names below are imported on first use, so a command that needs one small module of the package
(``fleetsim run`` its line wrapping and its folder lock, ``fleetsim compare`` its table) does not load
the searches, the executors and the economics they summarise.

``sweep`` and ``saturation`` are the functions, though ``sim.planning.sweep`` and
``sim.planning.saturation`` are also modules: importing those modules does not bind their names here
(:class:`_Package`), as when this file imported every name at once. Reach the modules through
``importlib.import_module`` or ``from sim.planning.sweep import ...``. The other modules are reached as
attributes (``sim.planning.runner``), each imported on first use.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_HOME = {
    "PlanResult": "capacity", "plan": "capacity",
    "Constraint": "constraints", "parse_constraint": "constraints",
    "MMcRunner": "erlang", "erlang_c": "erlang",
    "make_executor": "executors",
    "Knob": "knobs", "parse_knob": "knobs",
    "SimulationRunner": "runner",
    "SaturationResult": "saturation", "saturation": "saturation",
    "MeanCI": "stats", "mean_ci": "stats",
    "SweepResult": "sweep", "sweep": "sweep",
}

__all__ = [
    "Constraint", "Knob", "MMcRunner", "MeanCI", "PlanResult", "SaturationResult",
    "SimulationRunner", "SweepResult", "erlang_c", "make_executor", "mean_ci", "parse_constraint",
    "parse_knob", "plan", "saturation", "sweep",
]

_FUNCTIONS_NAMED_AS_MODULES = frozenset({"sweep", "saturation"})


class _Package(types.ModuleType):
    """This package, whose names ``sweep`` and ``saturation`` stay the functions: the import system
    binds a submodule, once loaded, as an attribute of its package; for those two that binding is
    dropped, and the name is looked up on first use (:func:`__getattr__`) like the others."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS_NAMED_AS_MODULES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            # a submodule (``import sim.planning`` then ``sim.planning.runner``), as when this file
            # imported them all
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'sim.planning' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sim.planning.{_HOME[name]}"), name)
    globals()[name] = value          # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


sys.modules[__name__].__class__ = _Package
