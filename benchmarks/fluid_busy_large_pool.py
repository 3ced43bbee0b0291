"""Reading a large pool's busy share (:func:`sim.fluid.busy.busy_on`): peak memory and CPU time.

A year of hourly fluid steps (8,760) of one pool at a fixed replica count, its busy share read on
every step at once, as :func:`sim.fluid.run.run_fluid` reads it. Peak memory is ``tracemalloc``'s
(numpy's arrays included), time is CPU time (``time.process_time``); one JSON object per count::

    python benchmarks/fluid_busy_large_pool.py
    python benchmarks/fluid_busy_large_pool.py --replicas 10 3000 --steps 8760

``BENCHMARKS.md`` ("A large pool's busy share in the fluid tier") quotes the numbers.
"""
from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from types import SimpleNamespace

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from sim.fluid.busy import busy_on

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", nargs="+", type=int, default=[10, 300, 3000])
    ap.add_argument("--steps", type=int, default=8760)
    a = ap.parse_args(argv)
    # one replica's curve: busy 1 - exp(-1) at 0.2 requests/s (one request in the system per replica)
    curve = SimpleNamespace(busy=np.array([0.0, 1 - np.exp(-1.0)]), served_rps=np.array([0.0, 0.2]),
                            meta={"group_replicas": 1, "fleet_router": "least_outstanding"})
    per = np.where(np.arange(a.steps) % 2 == 0, 0.1, 0.15)
    for n in a.replicas:
        tracemalloc.start()
        t = time.process_time()
        share = busy_on(curve, per, np.full(a.steps, float(n)))
        cpu = time.process_time() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(json.dumps({"replicas": n, "steps": a.steps, "peak_mb": round(peak / 2**20, 2),
                          "cpu_s": round(cpu, 4), "mean_share": round(float(share.mean()), 6)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
