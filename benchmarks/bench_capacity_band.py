"""What ``fleetsim run --capacity-band`` costs: a plain run, a run with its capacity scaled (the
step-time model wrapped in :class:`sim.perf.scaled.ScaledCapacity`) and a run with the band (the
point run plus two scaled ones), interleaved ``--repeat`` times in one process, CPU seconds
(``time.process_time``: less disturbed by other processes on a shared machine than wall time).
One JSON object per measurement on stdout, then a summary object with the medians::

    python benchmarks/bench_capacity_band.py                  # the baseline at 86 req/s for 10 m, 3 repeats
    python benchmarks/bench_capacity_band.py --rate 60 --duration 20m --repeat 5
    python benchmarks/bench_capacity_band.py --fluid          # the derived provider-partner scenario (fluid tier)

``--fluid`` runs a ``fidelity: fluid`` scenario as it is (no rate or duration override), after one
untimed run that measures its capacity curves into the cache (``cold_cpu_s``): the band then costs
two more passes over the steps on the curves rescaled in time, no measurement.

Fields: ``kind`` (``plain``, ``scaled``, ``band``), ``repeat``, ``cpu_s``, ``wall_s``, ``requests``;
the summary: ``median_cpu_s`` per kind, ``scaled_over_plain`` (the wrapper's cost per run) and
``band_over_plain`` (about 3 when the wrapper is free).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import sim

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.yaml"))
    ap.add_argument("--rate", type=float, default=86.0, help="arrival rate, requests/s")
    ap.add_argument("--duration", default="10m")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fluid", action="store_true", help="a fluid-tier scenario as it is (default: the derived "
                                                         "provider-partner scenario); the curves measured first")
    args = ap.parse_args()
    if args.fluid:
        path = args.scenario if args.scenario != ap.get_default("scenario") else \
            str(ROOT / "scenarios" / "provider_partner_derived.yaml")
        loaded = sim.load_scenario(path)
        c0 = time.process_time()
        sim.run(loaded)
        print(json.dumps({"kind": "cold", "cpu_s": round(time.process_time() - c0, 3)}), flush=True)
    else:
        loaded = sim.load_scenario(args.scenario, [f"workload.arrival.rate={args.rate}",
                                                   f"duration={args.duration}", "warmup=1m"])
    kinds = {"plain": {}, "scaled": {"capacity": 1.03}, "band": {"capacity_band": 3.0}}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(args.repeat):
        for kind, kw in kinds.items():
            c0, w0 = time.process_time(), time.perf_counter()
            res = sim.run(loaded, **kw)
            c, w = time.process_time() - c0, time.perf_counter() - w0
            cpu[kind].append(c)
            print(json.dumps({"kind": kind, "repeat": i, "cpu_s": round(c, 3), "wall_s": round(w, 3),
                              "requests": res.summary["requests"]["arrived"]}), flush=True)
    med = {k: statistics.median(v) for k, v in cpu.items()}
    print(json.dumps({"median_cpu_s": {k: round(v, 3) for k, v in med.items()},
                      "scaled_over_plain": round(med["scaled"] / med["plain"], 3),
                      "band_over_plain": round(med["band"] / med["plain"], 3)}))


if __name__ == "__main__":
    main()
