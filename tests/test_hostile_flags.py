"""Hostile command-line flags and files not in the hostile-input audit (:mod:`hostile_cases`), each refused
with exit status 2 and one clear line naming the flag or the file and what is allowed."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

import hostile_cases as hc
from sim.cli import main
from sim.planning.cli_support import WORKERS_PER_CORE
from sim.planning.executors import default_workers


def _main(argv: list[str]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(argv)


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(hc._small()))
    return path


@pytest.mark.parametrize("argv", [
    ["sweep", "--grid", "fleet.pools.0.replicas=1,2"],
    ["plan", "--vary", "fleet.pools.0.replicas=1,2"],
    ["saturation"],
    ["sweep", "--grid", "fleet.pools.0.replicas=1,2", "--executor", "dask"],
])
def test_more_workers_than_this_machine_can_run_are_refused(scenario, tmp_path, capsys, argv):
    """On main ``--workers 100000`` was taken: a sweep of 100,000 points would have started as many processes."""
    cap = WORKERS_PER_CORE * default_workers()
    rc = _main([argv[0], str(scenario), *argv[1:], "--workers", str(cap + 1), "--out", str(tmp_path / "r"),
                "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"--workers: {cap + 1:,} worker processes on this machine's ") and \
        f"is too many: at most {cap:,} ({WORKERS_PER_CORE} per core" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_workers_up_to_the_cap_run(scenario, tmp_path, capsys):
    cap = WORKERS_PER_CORE * default_workers()
    assert _main(["sweep", str(scenario), "--grid", "fleet.pools.0.replicas=1,2", "--workers", str(cap),
                  "--out", str(tmp_path / "r"), "--quiet", "--no-figures"]) == 0, capsys.readouterr().err
