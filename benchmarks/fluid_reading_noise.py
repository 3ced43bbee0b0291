"""The fluid tier's autoscaler on its readings' noise or on the expected value: cost and outcome.

``scenarios/diurnal_week.yaml`` at ``fidelity: fluid`` (hourly steps, its ``utilization`` autoscaler),
with ``fluid.reading_noise`` true (the default: the median of the largest of each step's readings,
:mod:`sim.fluid.reading_noise`) and false (the metric's expected value). Each setting is run once to
warm the capacity curve's cache and the imports, then ``--repeat`` times; the CPU time of each run
(``time.process_time``, this process only: the shared machine's other load does not count) is
printed with the run's GPU-hours, mean replicas per hour and the autoscaler's decisions. One JSON
object per setting::

    python benchmarks/fluid_reading_noise.py
    python benchmarks/fluid_reading_noise.py --scenario scenarios/diurnal_week.yaml --repeat 9
    python benchmarks/fluid_reading_noise.py --repeat 3 --set workload.arrival.mean_rate=20 fleet.pools.0.autoscale.max=400

``BENCHMARKS.md`` ("The fluid autoscaler's reading noise") records the numbers.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "diurnal_week.yaml"


def main(argv: list[str] | None = None) -> int:
    import sim

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(SCENARIO))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="scenario overrides, e.g. a larger pool")
    a = ap.parse_args(argv)
    for noise in (False, True):
        over = [*a.set, "fidelity=fluid", f"fluid.reading_noise={str(noise).lower()}"]
        sim.run(a.scenario, overrides=over)                     # warm: the curve's cache, imports
        cpu = []
        for _ in range(a.repeat):
            t = time.process_time()
            res = sim.run(a.scenario, overrides=over)
            cpu.append(time.process_time() - t)
        s = res.summary
        print(json.dumps({"reading_noise": noise, "cpu_s_median": round(statistics.median(cpu), 3),
                          "cpu_s": [round(c, 3) for c in cpu],
                          "gpu_hours": round(s["gpu_hours"]["provisioned"], 1),
                          "replicas_per_step": round(float(res.timeseries[:, 2].mean()), 3),
                          "gpu_busy": round(s["utilization"]["gpu_busy"], 4),
                          "autoscale": s["autoscale"]}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
