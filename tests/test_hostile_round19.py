"""Hostile input, round 19: ``--allow-large`` given to one ``sim.cli.main`` call lifting the limits of
every later call in the same process, and the newest features (waiting rooms, patience, stepped
revenue-share brackets, ``--objective cost_with_commits``, ``compare`` of unlike folders) at their edges.

Each is exit 2 from the command line (an :class:`~sim.errors.InputError` or
:class:`~sim.errors.ScenarioError` from Python) with a message naming the file, the field and what is
allowed; never a traceback, an internal error, or a result that silently means something else.
"""
from __future__ import annotations

import os

import pytest
import yaml

import hostile_cases as hc
from sim.limits import ENV, MAX_REPLICAS

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ --allow-large is one command's
def test_allow_large_lifts_the_limits_of_its_own_command_only(tmp_path, capsys, monkeypatch):
    """``main([..., "--allow-large"])`` set ``FLEETSIM_ALLOW_LARGE=1`` for the rest of the process: the
    next ``main`` call without the flag ran past the limits (and a test of the limits after it failed)."""
    monkeypatch.delenv(ENV, raising=False)
    sc = hc._small()
    sc["fleet"]["pools"][0]["replicas"] = MAX_REPLICAS + 1
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path), "--allow-large"]) == 0
    assert ENV not in os.environ
    capsys.readouterr()
    assert _main(["validate", str(path)]) == 2
    assert f"implies {MAX_REPLICAS + 1:,} replicas" in "\n".join(_err(capsys))


def test_allow_large_leaves_a_variable_set_by_the_user_as_it_was(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ENV, "yes")
    sc = hc._small()
    sc["fleet"]["pools"][0]["replicas"] = MAX_REPLICAS + 1
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path), "--allow-large"]) == 0
    assert os.environ[ENV] == "yes"
    assert _main(["validate", str(path)]) == 0      # the user's own variable still allows it
