"""The benchmark harness still runs and prints what BENCHMARKS.md quotes (no timing is asserted)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_engine.py"


@pytest.mark.parametrize("extra, fields", [
    ([], {"case", "engine", "requests", "completed", "simulated_s", "wall_s", "simulate_s", "write_s",
          "requests_per_wall_s", "peak_rss_mb", "cpu_s", "events"}),
    (["--cli"], {"case", "engine", "via", "requests", "simulated_s", "wall_s", "requests_per_wall_s"}),
])
def test_quick_reference_case_prints_one_json_row(extra, fields):
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--case", "ref1", "--engine", "fast", *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (row,) = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert "error" not in row, row
    assert fields <= set(row)
    assert row["case"] == "ref1" and row["engine"] == "fast"
    assert row["requests"] > 4_000 and row["simulated_s"] == pytest.approx(500.0)
    assert row["requests_per_wall_s"] == pytest.approx(row["requests"] / row["wall_s"], rel=0.01)
