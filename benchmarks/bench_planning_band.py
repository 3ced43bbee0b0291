"""What the capacity band costs ``fleetsim plan`` and ``fleetsim saturation``, counted in runs.

A search's time is its runs' time, and the number of runs does not depend on how loaded the machine
is, so this counts them: how many (configuration, capacity) pairs a plan runs without and with the
band, and how many probes each side of a saturation search takes beside the point's. The analytic
M/M/c runner (Erlang C) stands in for the simulator, so every verdict is exact and the counts are the
searches' own; ``--simulate`` adds the M/D/1 saturation search on the simulator (four simulated hours
a probe) with CPU seconds (``time.process_time``). One JSON object per case on stdout::

    python benchmarks/bench_planning_band.py
    python benchmarks/bench_planning_band.py --simulate

Fields: ``case``, ``plain_runs`` and ``band_runs`` (a plan: pairs run; a saturation search: probes),
``ratio``; a plan's ``answer`` and ``robust``; a saturation search's ``rate`` and each side's rate.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sim.planning import MMcRunner, plan, saturation

ROOT = Path(__file__).resolve().parents[1]
BASE = {"seed": 1, "workload": {"arrival": {"rate": 10.0}},
        "fleet": {"pools": [{"replicas": 1, "gpu": "a100-80gb"}]}}
PLANS = ((2.0, 0.1), (4.0, 0.05), (6.0, 0.2), (10.0, 0.2), (37.0, 0.05))
"""(arrival rate, bound on the mean wait) of each plan case; service 1.0005 s, replicas 1..128."""


class Counting(MMcRunner):
    """The analytic runner, counting the runs it is asked for (serial executor: in this process)."""

    calls: list

    def __call__(self, scenario, seed, capacity=1.0):
        self.calls.append(capacity)
        return super().__call__(scenario, seed, capacity)


def _runner() -> Counting:
    r = Counting(service_s=1.0005)
    object.__setattr__(r, "calls", [])
    return r


def plans() -> None:
    for rate, bound in PLANS:
        counts, answers = {}, {}
        for band in (None, 3.0):
            runner = _runner()
            res = plan(BASE, ["fleet.pools.0.replicas=1..128"], constraints=[f"latency.queue.mean<={bound}"],
                       overrides=[f"workload.arrival.rate={rate}"], runner=runner, executor="serial",
                       capacity_band=band)
            counts[band] = len(runner.calls)
            answers[band] = res.best["overrides"][0], res.robust["overrides"][0] if res.robust else None
        print(json.dumps({"case": f"plan rate={rate:g} mean wait<={bound:g}", "plain_runs": counts[None],
                          "band_runs": counts[3.0], "ratio": round(counts[3.0] / counts[None], 3),
                          "answer": answers[None][0], "robust": answers[3.0][1]}))


def saturations() -> None:
    for servers in (1, 4, 16):
        res = saturation(BASE, runner=MMcRunner(service_s=0.2), overrides=[f"fleet.pools.0.replicas={servers}"],
                         executor="serial", capacity_band=3.0, rel_tol=0.01)
        _print_saturation(f"saturation M/M/{servers}", res)


def _print_saturation(case: str, res, **extra) -> None:
    sides = {s: res.band[s] for s in ("slower", "faster")}
    band_runs = len(res.probes) + sum(len(b["probes"]) for b in sides.values())
    print(json.dumps({"case": case, "plain_runs": len(res.probes), "band_runs": band_runs,
                      "ratio": round(band_runs / len(res.probes), 3), "rate": res.rate,
                      **{f"{s}_rate": b["rate"] for s, b in sides.items()},
                      **{f"{s}_probes": len(b["probes"]) for s, b in sides.items()}, **extra}))


def simulated() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_capacity_band import queue_scenario

    sc = queue_scenario(lam=0.5, duration=4 * 3600.0, warmup=600.0)
    sc["slo"] = {"ttft_s": 1000.0, "tpot_s": 1000.0}
    t0 = time.process_time()
    res = saturation(sc, attainment=0.5, constraints=["latency.queue.mean<=2"], rel_tol=0.01, executor="serial",
                     capacity_band=3)
    _print_saturation("saturation M/D/1 on the simulator (4 h a probe)", res,
                      cpu_s=round(time.process_time() - t0, 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--simulate", action="store_true", help="add the M/D/1 saturation search on the simulator")
    args = ap.parse_args()
    plans()
    saturations()
    if args.simulate:
        simulated()


if __name__ == "__main__":
    main()
