"""An override written wrong on the command line (``--set`` left out, or ``--set KEY VALUE`` with a space for the
``=``) is said with what to write, also where argparse had another complaint first (a required option missing)
or took the word for the scenario or result folder (which then read as "file not found")."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


def _refused(argv: list[str], capsys) -> str:
    """The one line of stderr of a command line refused with exit status 2 before anything ran."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err            # one line (stderr is no terminal here)
    return err


@pytest.mark.parametrize("argv, said, hint", [
    # the word taken for the scenario or folder: the command has none, so it is the required one that is missing
    (["run", "gpu_hour_usd=3"], "the following arguments are required: scenario",
     "(to change a field, write --set gpu_hour_usd=3)"),
    (["reprice", "economics.gpu_hour_usd=3"], "the following arguments are required: RESULT_DIR",
     "(to change a field, write --set economics.gpu_hour_usd=3)"),
    # --set KEY VALUE whose VALUE was taken for the scenario: it was "3: file not found"
    (["run", "--set", "seed", "3"], "argument --set: 'seed' is not KEY=VALUE",
     "(--set takes KEY=VALUE as one word: write --set seed=3)"),
    # a required option missing was said alone, the hint lost
    (["plan", BASELINE, "--set", "workload.arrival.rate", "50"], "the following arguments are required: --vary",
     "(--set takes KEY=VALUE as one word: write --set workload.arrival.rate=50)"),
    (["plan", BASELINE, "workload.arrival.rate=50"], "the following arguments are required: --vary",
     "(to change a field, write --set workload.arrival.rate=50)"),
    (["sweep", BASELINE, "--set", "seed", "3"], "the following arguments are required: --grid",
     "(--set takes KEY=VALUE as one word: write --set seed=3)"),
    # a stray override after the scenario: argparse's "unrecognized arguments" said nothing more
    (["run", BASELINE, "seed=3"], "unrecognized arguments: seed=3", "(to change a field, write --set seed=3)"),
])
def test_an_override_written_wrong_is_said_with_what_to_write(argv, said, hint, capsys):
    err = _refused(argv, capsys)
    assert f"fleetsim {argv[0]}: error: {said}" in err and hint in err, err
    assert err.rstrip().endswith(f"fleetsim {argv[0]} --help lists the options")
    assert err.count(hint) == 1


@pytest.mark.parametrize("argv, said", [
    (["plan", BASELINE], "the following arguments are required: --vary (e.g. --vary fleet.pools.0.replicas=1..64);"),
    (["run", BASELINE, "--figures", "x=1"], "argument --figures: invalid choice: 'x=1'"),     # an option's value
    (["plan", BASELINE, "--vary", "fleet.pools.0.replicas=1..4", "--capacity-band", "x"], "argument --capacity-band"),
    (["report", "x=1", "--bogus"], "unrecognized arguments: --bogus;"),      # a command without --set: no hint
])
def test_other_errors_are_said_as_argparse_says_them(argv, said, capsys):
    err = _refused(argv, capsys)
    assert said in err and "--set" not in err.replace("--set KEY", ""), err


def test_a_scenario_file_whose_name_has_an_equals_sign_is_read(tmp_path, monkeypatch, capsys):
    """``x=1.yaml`` looks like an override, but it is a file: it is the scenario."""
    shutil.copy(BASELINE, tmp_path / "x=1.yaml")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "x=1.yaml"]) == 0
    assert "write --set" not in capsys.readouterr().err
