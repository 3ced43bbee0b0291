"""Scenarios: the schema (pydantic), loading YAML/TOML files, ``--set`` overrides, catalogs.

>>> from sim.scenario import load_scenario
>>> loaded = load_scenario("scenarios/baseline.yaml", ["fleet.pools.0.replicas=8"])  # doctest: +SKIP
>>> loaded.scenario.fleet.pools[0].replicas  # doctest: +SKIP
8

The names below are imported on first use, so importing one small module of the package (the
``economics:`` block's schema, say, for ``fleetsim reprice``) does not load the whole scenario
schema and loader.
"""
from __future__ import annotations

import importlib
from typing import Any

_HOME = {"LoadedScenario": "load", "apply_overrides": "overrides", "load_scenario": "load", "read_file": "load",
         "scenario_from_dict": "load", "Scenario": "schema"}

__all__ = ["LoadedScenario", "Scenario", "apply_overrides", "load_scenario", "read_file", "scenario_from_dict"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'sim.scenario' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sim.scenario.{_HOME[name]}"), name)
