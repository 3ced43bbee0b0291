"""The fluid autoscaler's reading near a band's edge: request-level runs over seeds against the fluid tier.

``scenarios/diurnal_week.yaml``'s pool (its ``utilization`` autoscaler: target 0.6, tolerance 0.1,
5-minute interval, 30-minute window), at constant Poisson loads. ``--readings RATE N``: ``N`` fixed
replicas behind ``least_outstanding`` for ``--hours`` (no autoscaler), the run's five-minute busy
readings (the time series' ``gpu_busy`` column, one per interval) against the curve's mean
(:func:`sim.fluid.busy.busy_on`) and SD (:func:`sim.fluid.reading_noise.busy_reading_sd`), and the
share of the run's hours (12 readings each) holding a reading past the band's upper side, against
``1 - Phi((band - mean) / sd)^12`` on the run's moments and on the curve's (above one half the fluid
tier scales up in that step). ``--steady RATE ...``: the autoscaled pool for 9 h at each load,
request level at seeds ``1 .. --seeds``, fluid tier (hourly steps) with and without
``fluid.reading_noise``; mean replicas after the first hour, and per hour the median over the seeds.
One JSON object per line::

    python benchmarks/fluid_reading_edge.py --readings 0.42 4 --readings 0.52 5
    python benchmarks/fluid_reading_edge.py --steady 0.33 0.38 0.40 0.42 0.48 0.52 0.56 --seeds 7

``docs/fleet_dynamics.md`` ("Reading noise in the fluid tier") quotes the numbers.
"""
from __future__ import annotations

import argparse
import copy
import json

from fluid_busy_spread import SCENARIO, fixed

INTERVAL_S = 300.0       # diurnal_week's autoscaler interval: one reading each
PER_HOUR = 12            # readings a one-hour fluid step holds


def readings(base: dict, rate: float, n: int, hours: int) -> dict:
    import numpy as np
    from scipy.stats import norm

    import sim
    from sim.fluid.busy import behind, busy_on
    from sim.fluid.capacity import capacity_curve
    from sim.fluid.reading_noise import busy_reading_sd
    from sim.scenario.load import load_scenario

    sc = fixed(base, "least_outstanding", n, rate / n)
    sc.update(duration=hours * 3600, warmup=600, seed=11)
    sc["metrics"] = {"interval": INTERVAL_S, "records": "none"}
    ts = sim.run(sc).timeseries
    got = ts[ts[:, 0] > 600.0 + INTERVAL_S, 8]
    auto = base["fleet"]["pools"][0]["autoscale"]
    band = auto["target"] * (1.0 + auto.get("tolerance", 0.1))
    curve = behind(capacity_curve(load_scenario(str(SCENARIO)).scenario, 0, SCENARIO.parent), "least_outstanding")
    mean, sd = float(busy_on(curve, rate / n, n)), busy_reading_sd(curve, rate / n, n, INTERVAL_S)
    hourly = got[: len(got) // PER_HOUR * PER_HOUR].reshape(-1, PER_HOUR).max(axis=1)

    def p_cross(m: float, s: float) -> float:
        return round(1.0 - float(norm.cdf((band - m) / s)) ** PER_HOUR, 3)
    return {"rate": rate, "replicas": n, "readings": int(len(got)), "band": band,
            "run_mean": round(float(got.mean()), 4), "run_sd": round(float(got.std(ddof=1)), 4),
            "curve_mean": round(mean, 4), "curve_sd": round(sd, 4), "hours": int(len(hourly)),
            "hours_crossing": round(float((hourly > band).mean()), 3),
            "p_cross_run_moments": p_cross(float(got.mean()), float(got.std(ddof=1))),
            "p_cross_curve": p_cross(mean, sd)}


def steady(base: dict, rate: float, seeds: int) -> dict:
    import numpy as np

    import sim

    sc = copy.deepcopy(base)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": rate}
    sc.update(duration=9 * 3600, warmup=3600)
    runs, hours = [], []
    for seed in range(1, seeds + 1):
        ts = sim.run({**copy.deepcopy(sc), "seed": seed}).timeseries
        runs.append(round(float(ts[ts[:, 0] > 3600, 2].mean()), 3))
        hours.append([float(ts[(ts[:, 0] > a) & (ts[:, 0] <= a + 3600), 2].mean()) for a in range(3600, 9 * 3600, 3600)])
    out = {"steady_rate": rate, "request": runs, "request_median": float(np.median(runs)),
           "request_median_per_hour": [round(float(x), 2) for x in np.median(np.array(hours), axis=0)]}
    for noise in (True, False):
        ts = sim.run(copy.deepcopy(sc), overrides={"fidelity": "fluid", "fluid.reading_noise": noise}).timeseries
        out[f"fluid_reading_noise_{str(noise).lower()}"] = round(float(ts[ts[:, 0] > 3600, 2].mean()), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    import yaml

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", nargs=2, action="append", default=[], metavar=("RATE", "N"),
                    help="a fixed pool of N replicas at RATE requests/s")
    ap.add_argument("--hours", type=int, default=48, help="simulated hours of each --readings run")
    ap.add_argument("--steady", nargs="*", type=float, default=[], help="constant loads (requests/s), autoscaled")
    ap.add_argument("--seeds", type=int, default=7, help="request-level seeds of each --steady load")
    a = ap.parse_args(argv)
    base = yaml.safe_load(SCENARIO.read_text())
    for rate, n in a.readings:
        print(json.dumps(readings(base, float(rate), int(n), a.hours)), flush=True)
    for rate in a.steady:
        print(json.dumps(steady(base, rate, a.seeds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
