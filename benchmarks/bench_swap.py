"""What putting a result folder in place costs: the swap of :func:`sim.atomic.staged_folder` over an earlier result.

Runs the scenario once (``--out``) to have a real result folder, then swaps a copy of it in over that folder
``--repeat`` times, each time into a fresh stage. Prints one JSON object: the folder's files and bytes, and wall
milliseconds (median and range) of ``synced`` alone (each staged file and folder flushed to disk and listed, what
the swap's journal records so that a swap a hard kill cut short can be finished), of the whole swap (stage
synced, journal written, the old result moved aside, the new one in, the old one deleted), and of a swap into a
new folder (``fresh_ms``: one rename, as a run writing a new ``--out`` makes). The copy into the stage is not
counted. ``fsyncs_per_swap``: the files and folders one swap over the earlier result flushes.

    python benchmarks/bench_swap.py                           # baseline, 20 swaps
    python benchmarks/bench_swap.py --repeat 50 --dir DIR     # on the file system holding DIR
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _stats(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.yaml"))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--dir", default=None, help="where to write (a temporary folder in it; default: the system's)")
    args = ap.parse_args()

    import sim
    from sim.atomic import staged_folder
    from sim.metrics.output import RESULT_NAMES
    from sim.swap_journal import synced

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        result, copy = Path(tmp) / "result", Path(tmp) / "copy"
        sim.run(args.scenario, overrides=["duration=10m", "warmup=0"], quiet=True).write(result)
        shutil.copytree(result, copy)
        files = [p for p in copy.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        sync_ms, swap_ms = [], []
        for _ in range(args.repeat):
            with staged_folder(result, RESULT_NAMES) as stage:
                shutil.copytree(copy, stage, dirs_exist_ok=True)
                t0 = time.perf_counter()
                synced(stage)
                sync_ms.append((time.perf_counter() - t0) * 1e3)
                t1 = time.perf_counter()
            swap_ms.append((time.perf_counter() - t1) * 1e3)      # (synced again inside: the swap as it runs)
        fresh_ms = []
        for i in range(args.repeat):
            with staged_folder(Path(tmp) / f"fresh{i}", RESULT_NAMES) as stage:
                shutil.copytree(copy, stage, dirs_exist_ok=True)
                t1 = time.perf_counter()
            fresh_ms.append((time.perf_counter() - t1) * 1e3)
            shutil.rmtree(Path(tmp) / f"fresh{i}")
        fsyncs = _fsyncs(result, copy, RESULT_NAMES)
    print(json.dumps({"scenario": Path(args.scenario).name, "files": len(files),
                      "bytes": size, "repeat": args.repeat,
                      "synced_ms": _stats(sync_ms), "swap_ms": _stats(swap_ms), "fresh_ms": _stats(fresh_ms),
                      "fsyncs_per_swap": fsyncs}))


def _fsyncs(result: Path, copy: Path, names) -> int:
    """``fsync`` calls of one swap over the earlier result (files and folders flushed: a count, the same on every
    machine, where the times above depend on the disk and its load)."""
    import os

    from sim.atomic import staged_folder

    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        return real(fd)

    with staged_folder(result, names) as stage:
        shutil.copytree(copy, stage, dirs_exist_ok=True)
        os.fsync = fsync
    os.fsync = real
    return len(calls)


if __name__ == "__main__":
    main()
