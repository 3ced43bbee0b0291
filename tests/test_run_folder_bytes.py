"""Same seed, same result folder: two ``fleetsim run`` of one scenario write the same bytes in every
file, ``summary.json``'s ``wall_seconds`` (the wall-clock time, README "What every output means")
aside; another seed writes other requests.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import scenario

ROOT = Path(__file__).resolve().parents[1]


def _run(path: Path, out: Path, *extra: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--out", str(out), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_runs_with_one_seed_write_the_same_bytes_and_another_seed_does_not(tmp_path):
    sc = scenario(duration=40, warmup=5, seed=7)
    sc["fleet"]["pools"][0]["replicas"] = 2
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    _run(path, tmp_path / "a")
    _run(path, tmp_path / "b")
    _run(path, tmp_path / "c", "--set", "seed=8")
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert set(a) == set(b) == set(c) and {"summary.json", "requests.csv.gz", "timeseries.csv"} <= set(a)
    for name in a:
        if name == "summary.json":   # every line but the wall-clock time's
            la, lb = ([ln for ln in f[name].splitlines() if b'"wall_seconds"' not in ln] for f in (a, b))
            assert la == lb and len(la) == len(a[name].splitlines()) - 1
        else:
            assert a[name] == b[name], name
    assert a["requests.csv.gz"] != c["requests.csv.gz"]
    assert json.loads(a["summary.json"])["requests"] != json.loads(c["summary.json"])["requests"]
