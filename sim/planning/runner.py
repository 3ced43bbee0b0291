"""Runners: ``runner(scenario_dict, seed) -> summary dict``, the one thing planning asks of a run.

:class:`SimulationRunner` (the default) validates the dict and runs the simulator through
:func:`sim.api.run`; :class:`sim.planning.erlang.MMcRunner` answers from queueing theory.
A runner must be picklable (a module-level class or function) to travel to worker processes.
A runner that can run a point at a scaled capacity (the capacity band of ``plan`` and
``saturation``) takes ``runner(scenario_dict, seed, capacity=c)`` and says so with a true
``scales_capacity`` attribute (:func:`check_scales_capacity`).
"""
from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Runner = Callable[[dict, int], dict]

NO_CAPACITY = "needs the simulator (a custom runner has no capacity to scale)"
"""Why the capacity band refuses a runner that cannot scale capacity."""


@dataclass(frozen=True)
class SimulationRunner:
    """Run a raw scenario dict with the simulator; ``source``/``base_dir`` name its file and folder.

    ``checked``: the configurations were checked before the points ran (planning's ``validate``),
    which issued the scenario's warnings once; loading the scenario again for each point then keeps
    them to itself rather than repeat them per point. ``capacity_band`` (per cent) runs each point
    with the capacity band (:func:`sim.api.run`'s argument: the summary's ``capacity_band`` block).
    """

    source: str = "<scenario>"
    base_dir: str = "."
    checked: bool = False
    capacity_band: float | None = None
    scales_capacity = True

    def __call__(self, scenario: dict, seed: int, capacity: float = 1.0) -> dict[str, Any]:
        from sim.api import run
        from sim.errors import ScenarioWarning
        from sim.fluid.burst import COMPOUND_SAID, GAMMA_SAID, compound_said_first
        from sim.scenario.load import scenario_from_dict

        data = copy.deepcopy(scenario)
        data["seed"] = int(seed)
        with warnings.catch_warnings():
            if self.checked:
                warnings.simplefilter("ignore", ScenarioWarning)
            loaded = scenario_from_dict(data, self.source, self.base_dir)
        with warnings.catch_warnings():
            if self.checked:        # the checks said it (sim.fluid.burst.gamma_warning)
                warnings.filterwarnings("ignore", GAMMA_SAID, ScenarioWarning)
                if compound_said_first(loaded.scenario.workload):      # and this (compound_warning)
                    warnings.filterwarnings("ignore", COMPOUND_SAID, ScenarioWarning)
            return run(loaded, quiet=True, capacity_band=self.capacity_band, capacity=capacity).summary

    @staticmethod
    def preload() -> None:
        """Import the simulator now: before a process pool forks its workers, so that each of them
        does not import it again (~0.3 s of CPU a worker)."""
        import sim.api  # noqa: F401


def check_scales_capacity(runner: Runner, name: str = "capacity_band") -> None:
    """:class:`~sim.errors.InputError` naming ``name`` unless ``runner`` runs a point at a scaled
    capacity (the simulator does; a custom runner says so with ``scales_capacity = True``)."""
    if not getattr(runner, "scales_capacity", False):
        from sim.errors import InputError

        raise InputError(f"{name}: {NO_CAPACITY}")


def resolve_runner(runner: Runner | None, validate: bool | None, source: str,
                   base_dir: str) -> tuple[Runner, bool]:
    """``runner`` (default: the simulator on the scenario ``source`` in ``base_dir``) and whether to
    validate every configuration first (default: when that runner is the simulator)."""
    if validate is None:
        validate = runner is None or isinstance(runner, SimulationRunner)
    if runner is None:
        runner = SimulationRunner(source, base_dir)
    if isinstance(runner, SimulationRunner):
        runner = dataclasses.replace(runner, checked=validate)
    return runner, validate
