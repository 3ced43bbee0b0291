"""Reading a CSV trace: wall seconds of ``read_trace`` on a generated ``fleetsim`` trace.

Writes a trace of ``--rows`` rows (times rising by 0.05 s, prompt and output counts from a fixed
seed; with ``--tenant`` a fourth column naming one of four tenants) to a temporary folder, reads it
``--repeat`` times in this process and prints one JSON object: rows, file size, the best and median
read (seconds) and the best per row (microseconds). ``--loop-only`` times the numeric rows' loop alone
(``sim.workload.trace_csv._read_numeric_csv`` over the rows already split into cells, in memory): the
fast path without the file and CSV reading around it. Compare two trees by running the script under each
(``PYTHONPATH`` first on the path), interleaved.

    python benchmarks/bench_trace_read.py                      # 1,000,000 rows, 5 reads
    python benchmarks/bench_trace_read.py --rows 200000 --repeat 9 --tenant
    python benchmarks/bench_trace_read.py --loop-only --repeat 9
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this checkout after the PYTHONPATH entries (sys.path[0] is this script's folder, then those): a tree put
# there is the one timed, as the docstring says; without PYTHONPATH, this one
sys.path.insert(1 + len([p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]), str(ROOT))

import numpy as np  # noqa: E402

from sim.workload.trace_csv import _read_numeric_csv  # noqa: E402
from sim.workload.trace_rows import TraceRows  # noqa: E402
from sim.workload.traces import read_trace  # noqa: E402


def write_trace(path: Path, rows: int, tenant: bool) -> None:
    rng = np.random.default_rng(7)
    t = np.cumsum(np.full(rows, 0.05))
    p = rng.integers(1, 8000, rows)
    o = rng.integers(1, 1000, rows)
    names = ["acme", "globex", "initech", ""]
    with path.open("w") as fh:
        fh.write("timestamp_s,prompt_tokens,output_tokens" + (",tenant\n" if tenant else "\n"))
        for i in range(rows):
            fh.write(f"{t[i]:.6f},{p[i]},{o[i]}" + (f",{names[i % 4]}\n" if tenant else "\n"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tenant", action="store_true", help="a tenant column as well")
    ap.add_argument("--loop-only", action="store_true", help="time the numeric rows' loop alone, in memory")
    args = ap.parse_args()
    if args.loop_only:
        return loop_only(args)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.csv"
        write_trace(path, args.rows, args.tenant)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            data = read_trace(path)
            times.append(time.perf_counter() - t0)
        assert len(data.arrival_s) == args.rows
        size = path.stat().st_size
    print(json.dumps({"rows": args.rows, "tenant": args.tenant, "bytes": size, "best_s": round(min(times), 4),
                      "median_s": round(statistics.median(times), 4),
                      "best_us_per_row": round(min(times) / args.rows * 1e6, 4)}))


def loop_only(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.csv"
        write_trace(path, args.rows, args.tenant)
        lines = path.read_text().splitlines()
    width = len(lines[0].split(","))
    records = [(i + 2, line.split(",")) for i, line in enumerate(lines[1:])]
    cols = ("timestamp_s", "prompt_tokens", "output_tokens")
    times = []
    for _ in range(args.repeat):
        rows = TraceRows("trace.csv", skip_bad_rows=False)
        t0 = time.perf_counter()
        _read_numeric_csv(iter(records), rows, cols, 0, 1, 2, 3 if args.tenant else None, width)
        times.append(time.perf_counter() - t0)
        assert len(rows.t) == args.rows
    print(json.dumps({"rows": args.rows, "tenant": args.tenant, "loop_only": True, "best_s": round(min(times), 4),
                      "median_s": round(statistics.median(times), 4),
                      "best_us_per_row": round(min(times) / args.rows * 1e6, 4)}))


if __name__ == "__main__":
    main()
