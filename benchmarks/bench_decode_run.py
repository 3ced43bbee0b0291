"""Microseconds per call of the roofline's ``decode_run``, the fast engine's innermost loop.

Times :meth:`sim.perf.roofline.RooflineModel.decode_run` (``timeit``, best of ``--repeat`` rounds of
``--number`` calls) for runs of ``k`` iterations of a batch of 32 sequences at a 1,000-token mean
context, no event cutting them (``stop`` infinite), on the bundled baseline's configuration (Llama-3-8B
on one H100) and the reference workload's (Llama-2-7B on one A100-80GB); one JSON object per case.
Put the tree to time first on ``PYTHONPATH`` to compare two checkouts::

    PYTHONPATH=. python benchmarks/bench_decode_run.py
    PYTHONPATH=../before python benchmarks/bench_decode_run.py --repeat 7
"""
from __future__ import annotations

import argparse
import json
import math
import timeit

CONFIGS = {"baseline": ("llama-3-8b", "h100-sxm"), "reference": ("llama-2-7b", "a100-80gb")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="rounds, the best taken (default 5)")
    ap.add_argument("--number", type=int, default=20000, help="calls per round (default 20,000)")
    args = ap.parse_args()
    from sim.perf.roofline import RooflineModel
    from sim.scenario.catalog import get_gpu, get_model

    for name, (model, gpu) in CONFIGS.items():
        m = RooflineModel(get_model(model), get_gpu(gpu), 1)
        for k in (8, 24, 64):
            call = lambda: m.decode_run(32, 32 * 1000, k, 0.0, math.inf)  # noqa: E731
            rounds = timeit.repeat(call, number=args.number, repeat=args.repeat)
            print(json.dumps({"case": name, "k": k, "us_per_call": round(min(rounds) / args.number * 1e6, 3),
                              "us_per_call_median": round(sorted(rounds)[len(rounds) // 2] / args.number * 1e6, 3)}), flush=True)


if __name__ == "__main__":
    main()
