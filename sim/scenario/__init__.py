"""Scenarios: the schema (pydantic), loading YAML/TOML files, ``--set`` overrides, catalogs.

>>> from sim.scenario import load_scenario
>>> loaded = load_scenario("scenarios/baseline.yaml", ["fleet.pools.0.replicas=8"])  # doctest: +SKIP
>>> loaded.scenario.fleet.pools[0].replicas  # doctest: +SKIP
8
"""
from sim.scenario.load import LoadedScenario, apply_overrides, load_scenario, read_file, scenario_from_dict
from sim.scenario.schema import Scenario

__all__ = ["LoadedScenario", "Scenario", "apply_overrides", "load_scenario", "read_file", "scenario_from_dict"]
