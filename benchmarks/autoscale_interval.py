"""CPU time of a run whose autoscaler decides often: the scale-down stabilization window's cost per decision.

The baseline's pool and lengths (Llama-3-8B on H100s, Poisson 12 requests/s, lognormal prompts of mean
1,000 tokens and outputs of mean 250), 4 replicas autoscaled on ``load_factor`` (target 0.7, 1 to 8
replicas, the default 300 s cooldown) for 120 s of simulated time, every ``interval``. One JSON object per
interval on stdout: the decisions the run makes (``duration / interval``) and the process's CPU seconds
for the run (``time.process_time``; wall time on a shared machine is not comparable)::

    python benchmarks/autoscale_interval.py                       # 1 ms, 10 ms, 100 ms, 15 s
    python benchmarks/autoscale_interval.py --interval 0.001

BENCHMARKS.md ("An autoscaler deciding every millisecond") quotes the numbers.
"""
from __future__ import annotations

import argparse
import json
import time

DURATION_S = 120.0


def scenario(interval: float) -> dict:
    return {"name": "autoscale_interval", "seed": 1, "duration": DURATION_S, "model": "llama-3-8b",
            "metrics": {"records": "none"},
            "workload": {"arrival": {"process": "poisson", "rate": 12},
                         "prompt_tokens": {"dist": "lognormal", "mean": 1000, "cv": 1.0, "max": 8192},
                         "output_tokens": {"dist": "lognormal", "mean": 250, "cv": 1.0, "max": 2048}},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 4,
                                 "autoscale": {"metric": "load_factor", "target": 0.7, "interval": interval,
                                               "min": 1, "max": 8}}]}}


def main(argv: list[str] | None = None) -> int:
    import warnings

    import sim

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", nargs="+", type=float, default=[0.001, 0.01, 0.1, 15.0])
    a = ap.parse_args(argv)
    for interval in a.interval:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # (the interval's own warning is not what is measured)
            start = time.process_time()
            s = sim.run(scenario(interval)).summary
            cpu = time.process_time() - start
        print(json.dumps({"interval_s": interval, "decisions": int(DURATION_S / interval),
                          "completed": s["requests"]["completed"], "cpu_s": round(cpu, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
