"""Run a scenario through ``fleetsim run`` and read its money files: shared by the hand-worked money tests."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from sim.cli import main


def write_scenario(tmp_path: Path, sc: dict, name: str) -> Path:
    """``sc`` saved as ``<name>.yaml`` in ``tmp_path``."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return path


def run(tmp_path: Path, sc: dict, name: str = "run") -> Path:
    """``fleetsim run`` of ``sc`` into ``tmp_path/<name>`` (no figures); the result folder."""
    out = tmp_path / name
    assert main(["run", str(write_scenario(tmp_path, sc, name)), "--out", str(out), "--quiet",
                 "--figures", "none"]) == 0
    return out


def rows(folder: Path, name: str = "cashflow.csv") -> list[dict]:
    """The rows of a result folder's CSV file, as dicts of text."""
    with open(folder / name, newline="") as fh:
        return list(csv.DictReader(fh))


def col(table: list[dict], column: str) -> list[float]:
    """One column of ``rows``' output as numbers (an empty cell is 0)."""
    return [float(r[column] or 0) for r in table]
