"""What measuring the load factor's scheduler factor (:mod:`sim.serving.saturated`) adds to a run.

Runs a scenario (default the bundled baseline, one hour) with the factor measured and with the
measurement replaced by the closed form alone (factor 1), interleaved ``--repeat`` times in one
process, the measurement cache emptied before each measured run (a fresh process pays it once per
pool configuration). One JSON object per run on stdout, then the medians::

    python benchmarks/bench_scheduler_factor.py
    python benchmarks/bench_scheduler_factor.py --set fleet.pools.0.batching.scheduler=trtllm --repeat 5

Fields: ``kind`` (``measured`` or ``closed_form``), ``repeat``, ``wall_s``, ``cpu_s``; the summary:
``median_wall_s`` and ``median_cpu_s`` per kind and ``added_cpu_s`` (their difference).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import sim
import sim.api
from sim.serving import saturated

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "baseline.yaml"))
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    measured = sim.api.scheduler_factor
    times: dict[str, list[tuple[float, float]]] = {"measured": [], "closed_form": []}
    for i in range(args.repeat):
        for kind in ("measured", "closed_form"):
            saturated._CACHE.clear()
            sim.api.scheduler_factor = measured if kind == "measured" else (lambda *a, **k: 1.0)
            w0, c0 = time.perf_counter(), time.process_time()
            sim.run(args.scenario, overrides=(*args.overrides, "metrics.records=none"))
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            times[kind].append((wall, cpu))
            print(json.dumps({"kind": kind, "repeat": i, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}), flush=True)
    sim.api.scheduler_factor = measured
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    print(json.dumps({"summary": True, **{f"median_wall_s_{k}": round(w, 3) for k, (w, _) in med.items()},
                      **{f"median_cpu_s_{k}": round(c, 3) for k, (_, c) in med.items()},
                      "added_cpu_s": round(med["measured"][1] - med["closed_form"][1], 3)}))


if __name__ == "__main__":
    main()
