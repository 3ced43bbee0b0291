"""What the ``test_theory_round19_*`` files share: a scenario file run once per seed through
``fleetsim run --out`` as an outside validator would, and its summary, time series and request rows
read back.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.cli import main
from theory_round18_pool import write


@dataclass
class Run:
    summary: dict
    timeseries: list[dict]
    requests: list[dict]

    def completed(self, after: float) -> list[dict]:
        """The completed rows of the requests that arrived at or after ``after`` seconds."""
        return [r for r in self.requests if r["status"] == "completed" and float(r["arrival_s"]) >= after]

    def column(self, rows: list[dict], key: str) -> np.ndarray:
        return np.array([float(r[key]) for r in rows])


def run_seeds(tmp: Path, data: dict, seeds: int, *sets: str) -> list[Run]:
    """``fleetsim run SCENARIO --set seed=k --out DIR`` for ``k = 1 .. seeds`` (no figures); each run's
    ``summary.json``, ``timeseries.csv`` and ``requests.csv.gz``."""
    path = write(tmp, data)
    out = []
    for k in range(1, seeds + 1):
        folder = tmp / f"seed{k}"
        args = ["run", str(path), "--set", f"seed={k}", "--out", str(folder), "--figures", "none", "--quiet"]
        for s in sets:
            args += ["--set", s]
        assert main(args) == 0
        summary = json.loads((folder / "summary.json").read_text())
        with open(folder / "timeseries.csv", newline="") as f:
            series = list(csv.DictReader(f))
        text = gzip.decompress((folder / "requests.csv.gz").read_bytes()).decode()
        out.append(Run(summary, series, list(csv.DictReader(io.StringIO(text)))))
    return out


def in_system(run: Run, pool: str | None = None, after: float = 0.0) -> np.ndarray:
    """The number of requests in the system (waiting plus running) at each time-series sample after
    ``after`` seconds, of one pool or the whole fleet."""
    per_time: dict[float, int] = {}
    for r in run.timeseries:
        t = float(r["time_s"])
        if t > after and (pool is None or r["pool"] == pool):
            per_time[t] = per_time.get(t, 0) + int(r["queue_len"]) + int(r["running"])
    return np.array([per_time[t] for t in sorted(per_time)])


def stationary(P: np.ndarray) -> np.ndarray:
    """The stationary law ``π = π P`` of a transition matrix, ``Σ π = 1``: the balance equations, one of them
    (redundant) replaced by the sum, solved directly (the eigenvector of the eigenvalue 1 is the same law:
    an eigensolver does ~25x the work, ~2.5 CPU s at 401 states on a loaded 2-core machine)."""
    n = P.shape[0]
    lhs = P.T - np.eye(n)
    lhs[-1] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    return np.linalg.solve(lhs, rhs)
