"""The base scenario of a sweep, kept as a raw dict so that each point is the base plus overrides.

Planning never reaches inside a run: it resolves a point's scenario as plain data
(:func:`sim.scenario.apply_overrides` on the raw mapping), hashes it for the point store, ships
it to a worker, and the worker validates and runs it. Relative file references in a scenario
(trace files, profile tables) resolve against ``base_dir``, the scenario file's folder.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import given


@dataclass(frozen=True)
class ScenarioSource:
    """A raw scenario mapping with the file it came from (``source``) and its folder."""

    data: dict[str, Any]
    source: str = "<scenario>"
    base_dir: str = field(default_factory=lambda: str(Path.cwd()))

    @classmethod
    def from_any(cls, scenario: Any, overrides: Sequence[str] = ()) -> "ScenarioSource":
        """From a path (YAML/TOML), a raw dict, a validated ``Scenario`` model or another source.

        ``overrides`` (``"a.b.0.c=value"``) are applied to the base before anything else.
        """
        if isinstance(scenario, ScenarioSource):
            src = scenario
        elif isinstance(scenario, (str, Path)):
            path = Path(scenario)
            src = cls(read_raw(path), str(scenario), str(path.resolve().parent))
        elif isinstance(scenario, dict):
            from sim.scenario.raw_values import plain_values       # numpy's scalars as Python's (np.bool_)

            src = cls(plain_values(copy.deepcopy(scenario)))
        elif hasattr(scenario, "raw") and hasattr(scenario, "scenario"):   # a loaded scenario
            src = cls(copy.deepcopy(scenario.raw), str(scenario.source), str(scenario.base_dir))
        elif hasattr(scenario, "model_dump"):                                # a Scenario model
            src = cls(scenario.model_dump(mode="json"))
        else:
            raise TypeError(f"scenario must be a path, a dict or a Scenario (got {given(scenario)}, of type "
                            f"{type(scenario).__name__})")
        if overrides:
            src = cls(src.resolve(overrides), src.source, src.base_dir)
        return src

    @property
    def seed(self) -> int:
        """The scenario's own seed (replication ``i`` of a sweep runs with ``seed + i``).

        Absent from the file, it is the schema's default.
        """
        value = self.data.get("seed")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            from sim.scenario.schema import Scenario

            return int(Scenario.model_fields["seed"].default)
        except (ImportError, KeyError, TypeError, ValueError):  # pragma: no cover
            return 1

    def resolve(self, overrides: Sequence[str]) -> dict[str, Any]:
        """A deep copy of the base with ``overrides`` applied (raises :class:`ScenarioError`)."""
        from sim.scenario.load import apply_overrides

        return apply_overrides(copy.deepcopy(self.data), overrides)

    def validate(self, data: dict[str, Any], scaled: bool = False):
        """The loaded scenario (a :class:`~sim.scenario.load.LoadedScenario`) of ``data``; raise
        :class:`ScenarioError` if it is not a valid scenario, is past a work limit (:mod:`sim.limits`)
        or, when it is to run at a ``scaled`` capacity (the capacity band), holds what the fluid tier
        cannot rescale (:func:`sim.fluid.scaled_curve.refused_at_capacity`)."""
        from sim.errors import ScenarioError
        from sim.limits import check_work
        from sim.scenario.load import scenario_from_dict

        loaded = scenario_from_dict(copy.deepcopy(data), self.source, self.base_dir)
        check_work(loaded)
        sc = loaded.scenario
        if sc.fidelity == "fluid":     # the gamma and merged-clumps warnings said once here, not by every point's run
            from sim.fluid.burst import compound_said_first, compound_warning, gamma_message, gamma_warning
            from sim.fluid.demand import expected_arrivals

            clumps = compound_said_first(sc.workload)
            if gamma_message(sc.workload) or clumps:
                edges = np.array([0.0, float(sc.duration)])
                arrivals = expected_arrivals(sc.workload, edges, start=sc.start, base_dir=Path(loaded.base_dir),
                                             seed=sc.seed)[None]
                gamma_warning(sc, arrivals)
                if clumps:
                    compound_warning(sc, arrivals)
        if scaled and loaded.scenario.fidelity == "fluid":
            from sim.fluid.scaled_curve import refused_at_capacity

            problems = refused_at_capacity(loaded.scenario)
            if problems:
                raise ScenarioError([(f, f"{m} (a scaled capacity at fidelity: fluid)") for f, m in problems],
                                    self.source)
        return loaded


def read_raw(path: Path) -> dict[str, Any]:
    """The raw mapping in a YAML or TOML scenario file (errors as :class:`ScenarioError`)."""
    from sim.scenario.load import read_file

    return read_file(path)
