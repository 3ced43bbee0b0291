"""CPU time of the fluid tier's expected arrivals (:func:`sim.fluid.demand.expected_arrivals`) over a year of
hourly steps and over their sub-steps (:func:`sim.fluid.substep.sub_edges`), a ``piecewise`` intensity with
a breakpoint every 3 h 17 s (2,916 of them, rates 0-6 requests/s) and ``growth.monthly: 0.05``: the exact
integral the tier uses, against the midpoint rule on 60 points a step (5 a sub-step) it used before,
computed here from :func:`sim.fluid.demand.rate_at`. One JSON object on stdout: the best of three CPU
times (``time.process_time``, seconds) of each, and the year's arrivals by each::

    python benchmarks/fluid_demand.py
"""
from __future__ import annotations

import json
import time

import numpy as np


def midpoint(process, edges: np.ndarray, growth, sub: int) -> np.ndarray:
    from sim.fluid.demand import rate_at

    a, b = edges[:-1], edges[1:]
    t = a[:, None] + (b - a)[:, None] * ((np.arange(sub) + 0.5) / sub)[None, :]
    return rate_at(process, t.ravel(), growth=growth).reshape(t.shape).mean(axis=1) * (b - a)


def best_cpu(fn) -> tuple[float, float]:
    best, total = float("inf"), 0.0
    for _ in range(3):
        t0 = time.process_time()
        total = float(np.sum(fn()))
        best = min(best, time.process_time() - t0)
    return best, total


def main() -> int:
    from sim.fluid.demand import expected_arrivals
    from sim.fluid.substep import sub_edges
    from sim.scenario.workload import WorkloadConfig

    times = list(range(0, 365 * 86400, 3 * 3600 + 17))
    w = WorkloadConfig.model_validate({"arrival": {"process": "piecewise", "times": times,
                                                   "rates": [float(i % 7) for i in range(len(times))]},
                                       "growth": {"monthly": 0.05}})
    edges = np.arange(0.0, 365 * 86400 + 1, 3600.0)
    out = {"breakpoints": len(times), "steps": len(edges) - 1}
    for label, e, sub in (("steps", edges, 60), ("sub_steps", sub_edges(edges), 5)):
        out[f"exact_{label}_cpu_s"], out[f"exact_{label}_arrivals"] = best_cpu(lambda: expected_arrivals(w, e, sub=sub))
        out[f"midpoint_{label}_cpu_s"], out[f"midpoint_{label}_arrivals"] = best_cpu(
            lambda: midpoint(w.arrival, e, w.growth, sub))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
