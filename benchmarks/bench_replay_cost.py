"""What measuring a capacity curve under a trace's own arrivals costs (sim/fluid/replay.py), against the
Poisson curve the same case had before.

``scenarios/azure_conv_replay.yaml`` (H100s) at a ``rate_scale`` and replica count: for each seed, the
pool's curve measured afresh (an empty cache folder) the way a fluid run measures it
(:func:`sim.fluid.run.measured_curves`): under the trace's own arrivals where they are clumped, and with
``rate_scale`` above 1 another replay, so another curve, for every seed; then the curve under Poisson
arrivals (the template without arrivals of its own, what every seed shared before), once. Each: wall
seconds and the requests its grid runs simulated. Then (``--count-days``) one count of the trace's arrivals
(:func:`sim.fluid.substep.sub_arrivals` and :func:`sim.fluid.burst.measure`: a fluid run made it twice, to choose
its curves' arrivals and for its warning and summary, and makes it once since :class:`sim.fluid.run.Counted`),
on the conversation sample looped over that many days, against the run on cached curves. One JSON object on
stdout::

    python benchmarks/bench_replay_cost.py                        # conv:10:3, 3 seeds
    python benchmarks/bench_replay_cost.py --case code:1:1 --seeds 2 --count-days 7
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "azure_conv_replay.yaml"


def _loaded(sets: list[str]):
    from sim.api import _as_loaded

    return _as_loaded(str(SCENARIO), sets)


def curve_cost(case: str, seeds: int) -> dict:
    from sim.fluid.capacity import capacity_curve
    from sim.fluid.run import _options, measured_curves

    trace, scale, replicas = case.split(":")
    sets = [f"workload.arrival.path=traces/azure_{trace}_2023_first2000.csv", f"workload.arrival.rate_scale={scale}",
            f"fleet.pools.0.replicas={replicas}", "fleet.pools.0.gpu=h100-sxm", "fidelity=fluid"]
    out = {"case": case, "replay": []}
    for seed in range(1, seeds + 1):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["FLEETSIM_CACHE"] = cache
            loaded = _loaded(sets + [f"seed={seed}"])
            t0 = time.perf_counter()
            (curve,) = measured_curves(loaded)
            out["replay"].append({"seed": seed, "wall_s": round(time.perf_counter() - t0, 2), "key": curve.key,
                                  "arrival": (curve.meta.get("arrival") or {}).get("process", "poisson"),
                                  "requests": curve.meta["runs"]["requests"]})
    with tempfile.TemporaryDirectory() as cache:
        os.environ["FLEETSIM_CACHE"] = cache
        loaded = _loaded(sets)
        t0 = time.perf_counter()
        curve = capacity_curve(loaded.scenario, 0, Path(loaded.base_dir), _options(loaded.scenario, None, None)[1])
        out["poisson"] = {"wall_s": round(time.perf_counter() - t0, 2), "requests": curve.meta["runs"]["requests"]}
    replay = sum(r["wall_s"] for r in out["replay"])
    out["replay_total_s"] = round(replay, 2)
    out["distinct_replay_curves"] = len({r["key"] for r in out["replay"]})
    out["ratio_vs_one_poisson_curve"] = round(replay / out["poisson"]["wall_s"], 2)
    return out


def count_cost(days: int) -> dict:
    from sim.api import run
    from sim.fluid.burst import measure
    from sim.fluid.run import _steps
    from sim.fluid.substep import sub_arrivals

    with tempfile.TemporaryDirectory() as cache:
        os.environ["FLEETSIM_CACHE"] = cache
        sets = ["workload.arrival.loop=true", f"duration={days}d", "fidelity=fluid"]
        loaded = _loaded(sets)
        sc, base = loaded.scenario, Path(loaded.base_dir)
        steps = _steps(sc, 3600.0, base)
        t0 = time.perf_counter()
        fine = sub_arrivals(sc, steps.edges, steps.dt_s, base)
        measure(sc, steps.edges, fine, base)
        once = time.perf_counter() - t0
        run(_loaded(sets))                       # the curve measured and cached
        t0 = time.perf_counter()
        summary = run(_loaded(sets)).summary
        cached = time.perf_counter() - t0
    return {"days": days, "requests": summary["requests"]["arrived"], "count_once_s": round(once, 3),
            "run_on_cached_curves_s": round(cached, 3), "second_count_share": round(once / cached, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="conv:10:3", help="TRACE:RATE_SCALE:REPLICAS (default conv:10:3)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--count-days", type=int, default=0, help="also time the counting on the looped sample (days)")
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    out = curve_cost(a.case, a.seeds)
    if a.count_days:
        out["counting"] = count_cost(a.count_days)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
