"""Runners: ``runner(scenario_dict, seed) -> summary dict``, the one thing planning asks of a run.

:class:`SimulationRunner` (the default) validates the dict and runs the simulator through
:func:`sim.api.run`; :class:`sim.planning.erlang.MMcRunner` answers from queueing theory.
A runner must be picklable (a module-level class or function) to travel to worker processes.
"""
from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Runner = Callable[[dict, int], dict]


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

    def __call__(self, scenario: dict, seed: int) -> dict[str, Any]:
        from sim.api import run
        from sim.errors import ScenarioWarning
        from sim.scenario.load import scenario_from_dict

        data = copy.deepcopy(scenario)
        data["seed"] = int(seed)
        with warnings.catch_warnings():
            if self.checked:
                warnings.simplefilter("ignore", ScenarioWarning)
            loaded = scenario_from_dict(data, self.source, self.base_dir)
        return run(loaded, quiet=True, capacity_band=self.capacity_band).summary


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
