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
