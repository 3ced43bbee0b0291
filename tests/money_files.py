"""Run a scenario through ``fleetsim run`` and read its money files: shared by the hand-worked money tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from sim.cli import main

#: fixed lengths; with NO_DEMAND the one request arrives long after the horizon: money without traffic
TOKENS = {"prompt_tokens": {"dist": "fixed", "value": 1000}, "output_tokens": {"dist": "fixed", "value": 100}}
NO_DEMAND = {"arrival": {"process": "burst", "count": 1, "at": 1e9}, **TOKENS}
#: the warning such a scenario gets (a burst at or after the end of the run), which tests of other messages leave out
NO_DEMAND_WARNING = "is at or after the end of the run"


def without_no_demand_warning(err: str) -> str:
    """``err`` (a command's standard error) without the lines warning of :data:`NO_DEMAND`'s late burst."""
    return "\n".join(line for line in err.splitlines() if NO_DEMAND_WARNING not in line)


def scenario(name: str, economics: dict, *, duration: str, start: str = "2025-01-01",
             pools: tuple[str, ...] = ("main",)) -> dict:
    """A scenario without traffic: one H100 held the whole run in each of ``pools``, ``economics`` priced on it."""
    pool = {"gpu": "h100-sxm", "replicas": 1, "tensor_parallel": 1}
    return {"name": name, "seed": 3, "start": start, "duration": duration, "warmup": 0,
            "model": "llama-3-8b", "workload": NO_DEMAND,
            "fleet": {"pools": [{"name": p, **pool} for p in pools]},
            "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "economics": economics, "metrics": {"interval": "1h"}}


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


def assert_repriced_as_fresh(tmp_path: Path, base: Path, fresh: Path, sets: list[str]) -> None:
    """``fleetsim reprice base --set ...`` into ``tmp_path/re`` writes the money files of ``fresh`` (a run of
    the repriced scenario): cashflow, ledger and settlements byte for byte, the same money in the summary."""
    assert main(["reprice", str(base), *[a for s in sets for a in ("--set", s)],
                 "--out", str(tmp_path / "re"), "--quiet"]) == 0
    for name in ("cashflow.csv", "ledger.csv", "settlements.csv"):
        assert (tmp_path / "re" / name).read_bytes() == (fresh / name).read_bytes(), name
    re_sum, fresh_sum = (json.loads((f / "summary.json").read_text()) for f in (tmp_path / "re", fresh))
    assert re_sum["cashflow"] == fresh_sum["cashflow"] and re_sum["cost"] == fresh_sum["cost"]
