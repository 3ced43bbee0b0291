"""What measuring the load factor's scheduler factor (:mod:`sim.serving.saturated`) adds to a run.

Runs a scenario (default the bundled baseline, one hour) with the factor measured (``cold``: an
empty ``$FLEETSIM_CACHE``), read from the disk cache the cold run filled (``warm``: what every later
process pays) and replaced by the closed form alone (``closed_form``: factor 1), interleaved
``--repeat`` times in one process, the in-process cache emptied before each run. One JSON object
per run on stdout, then the medians::

    python benchmarks/bench_scheduler_factor.py
    python benchmarks/bench_scheduler_factor.py --set fleet.pools.0.batching.scheduler=trtllm --repeat 5

Fields: ``kind`` (``cold``, ``warm`` or ``closed_form``), ``repeat``, ``wall_s``, ``cpu_s``; the
summary: ``median_wall_s`` and ``median_cpu_s`` per kind, ``added_cpu_s`` (cold over closed form)
and ``warm_added_cpu_s`` (warm over closed form).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
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
    times: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "closed_form": []}
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["FLEETSIM_CACHE"] = cache
            for kind in ("cold", "warm", "closed_form"):
                saturated._CACHE.clear()
                sim.api.scheduler_factor = measured if kind != "closed_form" else (lambda *a, **k: 1.0)
                w0, c0 = time.perf_counter(), time.process_time()
                sim.run(args.scenario, overrides=(*args.overrides, "metrics.records=none"))
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                times[kind].append((wall, cpu))
                print(json.dumps({"kind": kind, "repeat": i, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}),
                      flush=True)
    sim.api.scheduler_factor = measured
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    print(json.dumps({"summary": True, **{f"median_wall_s_{k}": round(w, 3) for k, (w, _) in med.items()},
                      **{f"median_cpu_s_{k}": round(c, 3) for k, (_, c) in med.items()},
                      "added_cpu_s": round(med["cold"][1] - med["closed_form"][1], 3),
                      "warm_added_cpu_s": round(med["warm"][1] - med["closed_form"][1], 3)}))


if __name__ == "__main__":
    main()
