"""A planner's first hour, continued: the names and paths a newcomer types first get an answer that
says what to write."""
import pytest

from sim.cli import main


def _err(capsys) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize("override,line", [
    # the names as people say them: a GPU without its form factor, a model with its -instruct suffix
    ("fleet.pools.0.gpu=h200", "fleet.pools.0.gpu: unknown GPU 'h200' (did you mean h200-sxm?); allowed: a100-80gb"),
    ("fleet.pools.0.gpu=H100", "fleet.pools.0.gpu: unknown GPU 'H100' (did you mean h100-pcie or h100-sxm?); "),
    ("fleet.pools.0.gpu=mi300", "fleet.pools.0.gpu: unknown GPU 'mi300' (did you mean mi300x?); "),
    ("model=llama-3.1-70b-instruct", "model: unknown model 'llama-3.1-70b-instruct' (did you mean llama-3.1-70b?); "),
    ("model=Llama-3-8B", "model: unknown model 'Llama-3-8B' (did you mean llama-3-8b?); "),
    # a name near none stays as it was (README's error example), and so does one near too many
    ("fleet.pools.0.gpu=h900", "fleet.pools.0.gpu: unknown GPU 'h900'; allowed: a100-80gb"),
    ("model=llama-3", "model: unknown model 'llama-3'; allowed: "),
])
def test_an_unknown_catalog_name_says_the_near_one(capsys, override, line):
    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert f"scenarios/baseline.yaml: {line}" in _err(capsys)


def test_an_unknown_pool_a_router_names_says_the_near_one(capsys):
    assert main(["validate", "scenarios/mixed_fleet.yaml", "--set", "fleet.router.primary=h10"]) == 2
    err = _err(capsys)
    assert "fleet.router.primary: unknown pool 'h10' (did you mean h100?); allowed: h100, a100" in err


@pytest.mark.parametrize("override,line", [
    ("fleet.pools[0].replicas=3", "--set: fleet.pools[0].replicas: a list item is written by its index as a part "
                                  "of the dotted path: fleet.pools.0.replicas, not [0]"),
    ("economics.agreements[0].rate=0.15", "economics.agreements[0].rate: a list item is written by its index as a "
                                          "part of the dotted path: economics.agreements.0.rate, not [0]"),
])
def test_a_list_index_in_brackets_says_the_dotted_path(capsys, override, line):
    """Python's and jq's ``pools[0]`` used to read as an unknown key ``pools[0]`` of ``fleet``."""
    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert line in _err(capsys)
