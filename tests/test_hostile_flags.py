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
        try:
            return main(argv)
        except SystemExit as exc:       # argparse's own errors
            return exc.code


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


@pytest.mark.parametrize("argv,name", [
    (["run", ""], "scenario"), (["validate", " "], "scenario"),
    (["sweep", "", "--grid", "seed=1,2"], "scenario"), (["plan", "", "--vary", "fleet.pools.0.replicas=1,2"], "scenario"),
    (["saturation", ""], "scenario"), (["report", ""], "DIR"), (["reprice", ""], "RESULT_DIR"),
    (["run", "S", "--out", ""], "--out"), (["sweep", "S", "--grid", "seed=1,2", "--out", ""], "--out"),
    (["reprice", "R", "--out", ""], "--out"), (["calibrate", "", "--gpu", "h100-sxm", "--model", "llama-3-8b"], "points"),
])
def test_an_empty_path_is_refused(scenario, tmp_path, capsys, monkeypatch, argv, name):
    """``Path("")`` is ``.``: on main ``run S --out ""`` wrote its result folder into the current folder, and
    ``report ""`` read it; an empty scenario was said to be 'a folder, not a regular file'."""
    monkeypatch.chdir(tmp_path)
    argv = [str(scenario) if a == "S" else str(tmp_path) if a == "R" else a for a in argv]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert _main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fleetsim {argv[0]}: error: argument {name}: give a file or folder name (got ") and \
        len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
