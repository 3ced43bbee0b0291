"""Same seed, same bytes on every machine: a sweep's tables do not depend on the BLAS thread count
or on the executor (local processes, Dask).

``latency.itl.mean`` once came from ``np.dot``, whose last digits depend on how many threads
OpenBLAS splits the sum into; every row of a Dask sweep differed from a local one.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import scenario

ROOT = Path(__file__).resolve().parents[1]


def _sweep(tmp_path: Path, name: str, threads: int, executor: str) -> bytes:
    sc = scenario(duration=150, seed=5)
    sc["workload"]["arrival"]["rate"] = 12.0
    sc["workload"]["output_tokens"] = {"dist": "uniform", "low": 20, "high": 200}
    # ~3 ms steps: ~60,000 inter-token gap entries, past the 10,000 at which OpenBLAS threads a dot
    sc["perf"].update(base_s=0.002, per_decode_token_s=1e-5)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    out = tmp_path / name
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "sim", "sweep", str(path), "--grid", "fleet.pools.0.replicas=1,2",
           "--executor", executor, "--workers", "1", "--out", str(out), "--quiet", "--no-figures"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return (out / "sweep.csv").read_bytes()


def test_sweep_bytes_do_not_depend_on_blas_threads_or_executor(tmp_path):
    one = _sweep(tmp_path, "one", 1, "serial")
    assert b"latency.itl.mean" in one
    assert _sweep(tmp_path, "four", 4, "serial") == one
    pytest.importorskip("distributed")
    assert _sweep(tmp_path, "dask", 4, "dask") == one
