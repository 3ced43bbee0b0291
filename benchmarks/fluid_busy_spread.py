"""Busy share on n replicas: request-level runs against the fluid tier's reading, and diurnal_week in both tiers.

``scenarios/diurnal_week.yaml``'s pool (Llama-3-70B, tensor-parallel 4 on A100s, its two classes and
lengths) at fixed replica counts (no autoscaler, ``scale: 1``), constant Poisson arrivals for 3 h
after the first 30 min (warmup), behind ``least_outstanding`` or ``round_robin``. Each run's measured
busy share (``utilization.gpu_busy``) is printed with what the fluid tier reads for the same served
rate per replica: on ``n`` replicas (:func:`sim.fluid.busy.busy_on`, ``new``) and one replica's curve
share as it was read before (``old``). ``--week`` adds ``diurnal_week`` itself in both tiers (hourly
fluid steps): replicas per hour (mean), GPU-hours and the run's busy share, with the HPA's tolerance
band and without (``tolerance: 0``); ``--steady`` the same autoscaled pool at constant Poisson loads for
9 h in both tiers, its mean replicas after the first hour; ``--mean-reading``: the fluid autoscaler on
the metric's expected value, not its readings' noise (``fluid.reading_noise: false``). One JSON object
per line::

    python benchmarks/fluid_busy_spread.py                        # 2 routers x 4 counts x 4 rates
    python benchmarks/fluid_busy_spread.py --router least_outstanding --replicas 3 --rates 0.1 --week
    python benchmarks/fluid_busy_spread.py --router --steady 0.1 0.2 0.3 0.36 0.45

``docs/fleet_dynamics.md`` ("Busy time across replica counts") quotes the numbers.
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "diurnal_week.yaml"


def fixed(base: dict, router: str, n: int, per_rps: float) -> dict:
    sc = copy.deepcopy(base)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": per_rps * n}
    sc.update(duration=3 * 3600, warmup=1800, seed=1)
    sc.pop("start", None)
    pool = sc["fleet"]["pools"][0]
    pool.update(replicas=n, scale=1)
    pool.pop("autoscale")
    sc["fleet"]["router"] = router
    return sc


FLUID = {"fidelity": "fluid"}      # --mean-reading adds fluid.reading_noise: false


def week(tolerance: float | None) -> list[dict]:
    import numpy as np

    import sim

    over = {} if tolerance is None else {"fleet.pools.0.autoscale.tolerance": tolerance}
    out = []
    for tier in ("request", "fluid"):
        res = sim.run(str(SCENARIO), overrides={**over, **(FLUID if tier == "fluid" else {})})
        ts = res.timeseries
        if tier == "fluid":
            per_hour = ts[:, 2]
        else:
            edges = np.arange(0.0, 7 * 86400.0 + 1.0, 3600.0)
            per_hour = np.array([ts[(ts[:, 0] > a) & (ts[:, 0] <= b), 2].mean() for a, b in zip(edges[:-1], edges[1:])])
        out.append({"week": tier, "tolerance": tolerance, "replicas_per_hour": round(float(per_hour.mean()), 3),
                    "gpu_hours": round(res.summary["gpu_hours"]["provisioned"], 1),
                    "gpu_busy": round(res.summary["utilization"]["gpu_busy"], 4), "per_hour": per_hour})
    gap = float(np.abs(out[0].pop("per_hour") - out[1].pop("per_hour")).mean())
    out[1]["mean_abs_gap_replicas"] = round(gap, 3)
    return out


def steady(base: dict, rate: float) -> dict:
    import sim

    sc = copy.deepcopy(base)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": rate}
    sc.update(duration=9 * 3600, warmup=3600)
    out = {"steady_rate": rate}
    for tier in ("request", "fluid"):
        ts = sim.run(copy.deepcopy(sc), overrides=FLUID if tier == "fluid" else {}).timeseries
        out[tier] = round(float(ts[ts[:, 0] > 3600, 2].mean()), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    import yaml

    import sim
    from sim.fluid.busy import busy_on
    from sim.fluid.capacity import capacity_curve
    from sim.scenario.load import load_scenario

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--router", nargs="*", default=["least_outstanding", "round_robin"], help="none: no fixed runs")
    ap.add_argument("--replicas", nargs="+", type=int, default=[1, 2, 3, 4])
    ap.add_argument("--rates", nargs="+", type=float, default=[0.05, 0.1, 0.2, 0.3], help="requests/s per replica")
    ap.add_argument("--week", action="store_true", help="also diurnal_week in both tiers")
    ap.add_argument("--steady", nargs="*", type=float, default=[], help="also constant loads (requests/s) in both tiers")
    ap.add_argument("--mean-reading", action="store_true",
                    help="the fluid autoscaler on the metric's expected value (fluid.reading_noise: false)")
    a = ap.parse_args(argv)
    if a.mean_reading:
        FLUID["fluid.reading_noise"] = False
    base = yaml.safe_load(SCENARIO.read_text())
    curve = capacity_curve(load_scenario(str(SCENARIO)).scenario, 0, SCENARIO.parent)
    for router in a.router:
        for n in a.replicas:
            for rate in a.rates:
                s = sim.run(fixed(base, router, n, rate)).summary
                served = s["throughput"]["requests_per_s"] / n
                print(json.dumps({"router": router, "replicas": n, "rate_per_replica": rate,
                                  "served_per_replica": round(served, 4), "busy": round(s["utilization"]["gpu_busy"], 4),
                                  "new": round(float(busy_on(curve, served, n, router=router)), 4),
                                  "old": round(float(curve.at_served(curve.busy, served)), 4)}), flush=True)
    for rate in a.steady:
        print(json.dumps(steady(base, rate)), flush=True)
    if a.week:
        for tolerance in (None, 0.0):
            for row in week(tolerance):
                print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
