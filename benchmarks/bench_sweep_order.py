"""What handing a sweep's points over longest expected first saves, apart from a shared machine's noise.

Runs a sweep's points one at a time in this process (``executor="serial"``: each point's ``wall_s`` is its
own, not shared with another worker of the sweep), then plays the pool's list schedule on those times: ``m``
workers, each taking the next point in the order handed over as it comes free. It prints one JSON object
per case with the makespan of grid order and of the order :func:`sim.planning.order.longest_first` gives
(the one ``run_points`` uses), for each ``m``, and the ratio; ``--repeat`` runs the sweep again (new
times, the same schedule rule) for medians and the spread::

    python benchmarks/bench_sweep_order.py                     # every case, 2 and 4 workers
    python benchmarks/bench_sweep_order.py --case rates --repeat 3 --workers 2

Cases (the bundled baseline, ``--set duration=30m``): ``rates`` (``workload.arrival.rate=3,6,12,24,48``,
a rising rate), ``readme`` (README's ``fleet.pools.0.replicas=2,4,8 --seeds 3``: equal expected requests,
ties to more replicas) and ``mixed`` (``fleet.pools.0.replicas=2,8 x workload.arrival.rate=6,24`` x 2 seeds).
The schedule is a model of the pool (a worker's start-up and the results' return are left out); the
measured wall time of whole sweeps is ``bench_planning.py``'s.
"""
from __future__ import annotations

import argparse
import heapq
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE = ROOT / "scenarios" / "baseline.yaml"
SETS = ["duration=30m"]
CASES = {
    "rates": (["workload.arrival.rate=3,6,12,24,48"], 1),
    "readme": (["fleet.pools.0.replicas=2,4,8"], 3),
    "mixed": (["fleet.pools.0.replicas=2,8", "workload.arrival.rate=6,24"], 2),
}


def makespan(times: list[float], workers: int) -> float:
    """The end of the last point when ``workers`` take ``times`` in this order, each the next as it comes free."""
    free = [0.0] * workers
    for t in times:
        heapq.heappush(free, heapq.heappop(free) + t)
    return max(free)


def one(case: str, workers: list[int]) -> dict:
    import sim
    from sim.planning.knobs import configurations, parse_knobs
    from sim.planning.order import longest_first
    from sim.planning.points import make_points
    from sim.planning.source import ScenarioSource

    grid, seeds = CASES[case]
    res = sim.sweep(BASELINE, grid, seeds=seeds, overrides=SETS, executor="serial", figures=False, progress=False)
    wall = {r["key"]: r["wall_s"] for r in res.records}
    points = make_points(ScenarioSource.from_any(BASELINE, SETS), configurations(parse_knobs(grid)), seeds)
    keys = [p.key for p in points]
    work = {p.key: p.work for p in points}
    order = longest_first(keys, work.get)
    out = {"case": case, "points": len(keys), "sum_s": round(sum(wall.values()), 3)}
    for m in workers:
        g, l = makespan([wall[k] for k in keys], m), makespan([wall[k] for k in order], m)
        out[f"w{m}"] = {"grid_s": round(g, 3), "longest_first_s": round(l, 3), "ratio": round(l / g, 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="rates, readme, mixed (default: all)")
    ap.add_argument("--repeat", type=int, default=1, help="sweeps per case (default 1)")
    ap.add_argument("--workers", type=int, action="append", help="pool sizes to play (default 2 and 4)")
    args = ap.parse_args()
    workers = args.workers or [2, 4]
    for case in args.case or list(CASES):
        rounds = []
        for r in range(args.repeat):
            row = one(case, workers)
            rounds.append(row)
            print(json.dumps({**row, "round": r}), flush=True)
        summary = {"case": case, "summary": True, "repeat": args.repeat}
        for m in workers:
            ratios = [x[f"w{m}"]["ratio"] for x in rounds]
            summary[f"w{m}_ratio"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
