"""The report's settings table names a fluid run's step as the scenario set it (it said "hourly" whatever
`fluid.step` was)."""
import pytest

from sim.report.scenario_words import scenario_described

BASE = {"name": "p", "model": "llama-3-8b", "duration": 86_400.0, "fidelity": "fluid",
        "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 2}]}}


@pytest.mark.parametrize("fluid, words", [
    ({"step": 3600.0}, "fluid (capacity curves, 1 h steps)"),
    ({"step": 900.0}, "fluid (capacity curves, 15 m steps)"),
    ({"step": 86_400.0}, "fluid (capacity curves, 1 d steps)"),
    (None, "fluid (capacity curves, 1 h steps)"),          # the schema's default, as an older scenario.json
])
def test_the_fidelity_row_names_the_fluid_step(fluid, words):
    scenario = {**BASE, **({} if fluid is None else {"fluid": fluid})}
    _, settings = scenario_described("p", scenario, {})
    assert dict(settings)["fidelity"] == words


def test_a_request_level_run_has_no_fidelity_row():
    _, settings = scenario_described("p", {**BASE, "fidelity": "request"}, {})
    assert "fidelity" not in dict(settings)
