"""Warnings from the Python API read as the command line's: ``file: field: message``, one line,
without Python's ``module.py:89: EconomicsWarning:`` prefix and source line; filters and
``pytest.warns`` still see them, and nothing of the warnings module is left changed afterwards."""
from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import yaml

import sim
from sim.economics import EconomicsWarning
from sim.errors import InputWarning, ScenarioWarning, warning_text, warnings_as_problems

from conftest import scenario

LATE_CREDIT = {"gpu_hour_usd": 2.0, "credits": [{"name": "promo", "usd": 5, "applies_to": "compute",
                                                  "from": "2031-01-01"}]}
MESSAGE = "economics.credits.0.from: 2031-01-01 is after the simulated horizon (ends 2025-01-01 00:00 UTC); " \
          "it never applies"


def _late_credit_file(tmp_path):
    path = tmp_path / "late.yaml"
    path.write_text(yaml.safe_dump(scenario(duration=10, economics=LATE_CREDIT)))
    return path


def test_python_api_prints_warnings_as_the_cli_does(tmp_path):
    path = _late_credit_file(tmp_path)
    # each call once, every warning shown (the default filter shows one per code location)
    code = (f"import pathlib, sim, sim.api, yaml; path = {str(path)!r}; sim.run(path); sim.load_scenario(path); "
            "sim.api.run(path); sim.run(yaml.safe_load(pathlib.Path(path).read_text()))")
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"{path}: {MESSAGE}"] * 3 + [f"<scenario>: {MESSAGE}"]
    cli = subprocess.run([sys.executable, "-m", "sim", "validate", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert cli.stderr == f"{path}: {MESSAGE}\n"                     # the command line's line, the same


def test_filters_and_pytest_warns_still_see_them(tmp_path):
    path = _late_credit_file(tmp_path)
    before = warnings.formatwarning
    with pytest.warns(EconomicsWarning, match="credits.0.from"):
        sim.run(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EconomicsWarning)
        with pytest.raises(EconomicsWarning, match="credits.0.from"):
            sim.run(path)
    assert warnings.formatwarning is before                        # put back, after a raise too


def test_only_fleetsims_warnings_change_their_form():
    with warnings_as_problems("x.yaml"):
        ours = warnings.formatwarning(EconomicsWarning("economics.x: odd"), EconomicsWarning, "m.py", 3)
        table = warnings.formatwarning(InputWarning("steps.csv: outside the grid"), InputWarning, "m.py", 3)
        other = warnings.formatwarning(DeprecationWarning("old"), DeprecationWarning, "m.py", 3)
    assert ours == "x.yaml: economics.x: odd\n" and table == "steps.csv: outside the grid\n"
    assert other.startswith("m.py:3: DeprecationWarning: old")
    assert warning_text("x.yaml: economics.x: odd", ScenarioWarning, "x.yaml") == "x.yaml: economics.x: odd"
    assert warning_text("pool\x1b[31m: odd", ScenarioWarning, "") == "pool\\x1b[31m: odd"   # terminal-safe


def test_errors_doctests():
    import doctest

    import sim.errors
    result = doctest.testmod(sim.errors)
    assert result.attempted >= 2 and result.failed == 0
