"""Small truths of this round: ``--set KEY VALUE`` (a space for the ``=``) says what to write, an unknown
economics key says the nearest valid one, a trace cell with Python's digit underscores is a bad row."""
from __future__ import annotations

import pytest

from sim.cli import main

SET_SPACE = ["--set", "economics.gpu_hour_usd", "3"]


@pytest.mark.parametrize("command", [
    ["reprice", "results/baseline"],
    ["run", "scenarios/baseline.yaml"],
    ["sweep", "scenarios/baseline.yaml", "--grid", "fleet.pools.0.replicas=1,2"],
    ["plan", "scenarios/baseline.yaml", "--vary", "fleet.pools.0.replicas=1..2"],
    ["validate", "scenarios/baseline.yaml"],
])
def test_set_with_a_space_says_to_write_key_equals_value(command, capsys):
    """argparse took ``economics.gpu_hour_usd`` as the override and said only "unrecognized arguments: 3"."""
    with pytest.raises(SystemExit) as e:
        main(command + SET_SPACE)
    assert e.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert ("unrecognized arguments: 3 (--set takes KEY=VALUE as one word: write --set economics.gpu_hour_usd=3)"
            in err), err


def test_a_stray_word_after_a_whole_override_gets_no_set_hint(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "scenarios/baseline.yaml", "--set", "economics.gpu_hour_usd=3", "extra"])
    assert e.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "unrecognized arguments: extra;" in err and "one word" not in err


def test_an_unknown_economics_key_says_the_nearest_valid_one():
    """``gpu_hour_us`` (one letter short of ``gpu_hour_usd``, ratio 22/23 by difflib) was said with the 15 allowed
    keys and no hint; a key near none of them still gets none."""
    from sim.errors import ScenarioError
    from sim.scenario.load import scenario_from_dict
    from tests.conftest import scenario
    for typo, near in [("gpu_hour_us", " (did you mean gpu_hour_usd?)"), ("flux_capacitor", "")]:
        with pytest.raises(ScenarioError) as e:
            scenario_from_dict(scenario(economics={typo: 3}))
        (field, msg), = e.value.problems
        assert field == f"economics.{typo}"
        assert msg.startswith(f"unknown key '{typo}'{near}; allowed: agreements, "), msg


def test_set_and_reprice_say_the_nearest_economics_key(capsys):
    from sim.economics.reprice import _parsed
    from sim.errors import ScenarioError
    with pytest.raises(ScenarioError) as e:
        _parsed({"economics": {"gpu_hour_us": 3}})       # what reprice --set economics.gpu_hour_us=3 validates
    assert "unknown key 'gpu_hour_us' (did you mean gpu_hour_usd?)" in str(e.value)
    assert main(["validate", "scenarios/baseline.yaml", "--set", "economics.gpu_hour_us=3"]) == 2
    assert "economics.gpu_hour_us: unknown key 'gpu_hour_us' (did you mean gpu_hour_usd?); allowed:" in \
        " ".join(capsys.readouterr().err.split())
