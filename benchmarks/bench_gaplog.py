"""CPU time and memory of the inter-token gap log (``records: all``) on synthetic pairs, one JSON
object per case on stdout.

Cases: ``distinct`` (every gap distinct: the worst case of reducing the pairs to distinct gaps,
where sorting them buys no memory) and ``tied`` (gaps rounded to 10 us: a few thousand distinct
values, as a real run's step times); ``distinct_once``/``tied_once``: the same pairs kept as they
come and sorted once by the summary, as before the gap log reduced them. The pairs come as arrays of 200 gaps of one count each (the
fast engine's decode runs); the time covers adding them, ``GapLog.arrays()`` and the ITL figures
(``weighted_stats``), best of ``--repeat``; ``peak_rss_mb`` is the process's, the pairs' own
array included; ``reduced_values`` counts the values the reductions sorted (``distinct_weighted``'s
inputs, summed), a measure of their work free of the machine's load.

    python benchmarks/bench_gaplog.py --pairs 12e6
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sim.metrics.records as records  # noqa: E402
from sim.metrics.records import GapLog  # noqa: E402
from sim.metrics.summary import weighted_stats  # noqa: E402

_reduce = records.distinct_weighted
_passed = [0, 0]       # values passed through distinct_weighted, calls


def _counted(values, weights):
    _passed[0] += len(values)
    _passed[1] += 1
    return _reduce(values, weights)


records.distinct_weighted = _counted     # counts the work of the reductions; the same function


def run(case: str, n: int, repeat: int) -> dict:
    rng = np.random.default_rng(1)
    g = rng.random(n) * 0.05 + 0.01
    once = case.endswith("_once")
    if case.startswith("tied"):
        g = np.round(g, 5)
    times = []
    for _ in range(repeat):
        _passed[:] = [0, 0]
        t = time.process_time()
        if once:      # the pairs kept as they come and sorted once at the end (before the gap log reduced them)
            parts = [(g[i:i + 200], np.full(len(g[i:i + 200]), 3)) for i in range(0, n, 200)]
            v, c = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        else:
            log = GapLog("all")
            for i in range(0, n, 200):
                log.add_array(g[i:i + 200], 3)
            v, c = log.arrays()
            del log
        stats = weighted_stats(v, c)
        times.append(time.process_time() - t)
        distinct = len(np.unique(v)) if once else len(v)
        del v, c
    return {"case": case, "pairs": n, "distinct": distinct, "cpu_s": round(min(times), 3),
            "cpu_s_all": [round(x, 3) for x in times], "reduced_values": _passed[0],
            "reductions": _passed[1], "itl": stats,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=float, default=12e6)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--case", action="append", choices=["distinct", "tied", "distinct_once", "tied_once"])
    a = ap.parse_args(argv)
    for case in a.case or ["distinct", "tied"]:
        print(json.dumps(run(case, int(a.pairs), a.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
