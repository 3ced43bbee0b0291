"""The fluid tier on trace replays burstier than Poisson, against the request level.

``scenarios/azure_conv_replay.yaml`` (Llama-3-8B on H100s, 425 s of the Azure 2023 conversation or
code sample) at a few ``rate_scale`` multiples and replica counts: each case run once in the fluid tier
(its default hourly step: one 425 s step, twelve 35 s sub-steps), its capacity curves measured under the
trace's own arrivals (``fluid``, sim/fluid/replay.py) and under Poisson arrivals as before
(``fluid_poisson_curves``), and at request level on ``--seeds`` seeds (``rate_scale`` above 1 draws which copies of a row arrive where in its gap), and the same case
with the trace's times replaced by Poisson arrivals at the same mean rate and the trace's lengths (the
arrival process the capacity curves are measured under: ``poisson_control``). One JSON object per case
on stdout: the index of dispersion of the trace's counts in ~1 s windows against each sub-step's mean
(:func:`sim.fluid.burst.measure`; Poisson's is 1 within the noise given), whether the fluid run warned and
what its curves were measured under (``modelled``), and TTFT and TPOT p50/p99 of each (the request
level's mean over the seeds)::

    python benchmarks/fluid_burst.py                       # every case, 3 seeds (a few minutes)
    python benchmarks/fluid_burst.py --case conv:10:3 --seeds 5

``docs/scaling.md`` ("Trace arrivals burstier than Poisson") quotes the numbers.
"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "azure_conv_replay.yaml"
CASES = ("conv:1:1", "conv:3:1", "conv:10:3", "conv:10:4", "code:1:1", "code:3:2", "code:10:4")
STATS = ("ttft.p50", "ttft.p99", "tpot.p50", "tpot.p99")


def overrides(trace: str, scale: float, replicas: int, fidelity: str, seed: int, poisson: float | None) -> list[str]:
    """The case's overrides; ``poisson``: Poisson arrivals at that rate (requests/s) with the trace's lengths."""
    path = f"traces/azure_{trace}_2023_first2000.csv"
    out = [f"fleet.pools.0.replicas={replicas}", "fleet.pools.0.gpu=h100-sxm", f"fidelity={fidelity}",
           f"seed={seed}"]
    if poisson is None:
        return out + [f"workload.arrival.path={path}", f"workload.arrival.rate_scale={scale}"]
    rate = poisson
    lengths = json.dumps({"dist": "trace", "path": path, "format": "azure"})
    return out + [f'workload.arrival={json.dumps({"process": "poisson", "rate": rate})}',
                  f"workload.prompt_tokens={lengths}", f"workload.output_tokens={lengths}"]


def stats(summary: dict) -> dict:
    lat = summary["latency"]
    return {k: lat[k.split(".")[0]][k.split(".")[1]] for k in STATS}


def trace_rate(trace: str, scale: float) -> float:
    """The replayed trace's mean arrival rate over the scenario's duration (requests/s; the code sample's
    2,000 rows span more than the 425 s replayed)."""
    from sim.api import _as_loaded
    from sim.fluid.demand import expected_arrivals

    loaded = _as_loaded(str(SCENARIO), overrides(trace, scale, 1, "fluid", 1, None))
    sc = loaded.scenario
    end = float(sc.duration)
    return float(expected_arrivals(sc.workload, np.array([0.0, end]), base_dir=Path(loaded.base_dir)).sum()) / end


def run_case(case: str, seeds: int, control: bool) -> dict:
    import sim
    from sim.api import _as_loaded
    from sim.fluid.burst import measure
    from sim.fluid.capacity import capacity_curve
    from sim.fluid.run import run_fluid
    from sim.fluid.substep import sub_arrivals

    trace, scale, replicas = case.split(":")
    scale, replicas = float(scale), int(replicas)
    poisson = trace_rate(trace, scale) if control else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fluid = sim.run(str(SCENARIO), overrides=overrides(trace, scale, replicas, "fluid", 1, poisson)).summary
    warned = any("burstier than Poisson" in str(w.message) for w in caught)
    loaded = _as_loaded(str(SCENARIO), overrides(trace, scale, replicas, "fluid", 1, poisson))
    sc = loaded.scenario
    with warnings.catch_warnings():     # the same run on curves measured under Poisson arrivals, as before
        warnings.simplefilter("ignore")
        plain = run_fluid(loaded, curves=[capacity_curve(sc, i, Path(loaded.base_dir))
                                          for i in range(len(sc.fleet.pools))]).summary
    edges = np.array([0.0, float(sc.duration)])
    m = measure(sc, edges, sub_arrivals(sc, edges, np.diff(edges), Path(loaded.base_dir)), Path(loaded.base_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [sim.run(str(SCENARIO), overrides=overrides(trace, scale, replicas, "request", s, poisson)).summary
                for s in range(1, seeds + 1)]
    req = [stats(x) for x in runs]
    loads = [x["utilization"]["load_factor"] for x in runs]
    f, p = stats(fluid), stats(plain)
    r = {k: float(np.mean([x[k] for x in req])) for k in STATS}
    return {"case": case + (":poisson_control" if control else ""), "seeds": seeds,
            "rate_rps": round(trace_rate(trace, scale), 3),
            "dispersion_1s": None if m is None else round(m["index"], 3),
            "noise": None if m is None else round(m["noise"], 3), "fluid_warned": warned,
            "modelled": (fluid["fidelity"].get("arrival_dispersion") or {}).get("modelled"),
            "fluid": {k: round(v, 4) for k, v in f.items()}, "request": {k: round(v, 4) for k, v in r.items()},
            "fluid_poisson_curves": {k: round(v, 4) for k, v in p.items()},
            "request_load_factor": round(float(np.mean(loads)), 3),
            "request_stability": [x["stability"]["verdict"] for x in runs],
            "fluid_vs_request": {k: round(f[k] / r[k] - 1.0, 3) for k in STATS},
            "fluid_poisson_curves_vs_request": {k: round(p[k] / r[k] - 1.0, 3) for k in STATS}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", help="TRACE:RATE_SCALE:REPLICAS, e.g. conv:10:3 (repeatable)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-control", action="store_true", help="skip the Poisson control of each case")
    a = ap.parse_args(argv)
    for case in a.case or CASES:
        print(json.dumps(run_case(case, a.seeds, False)), flush=True)
        if not a.no_control:
            print(json.dumps(run_case(case, a.seeds, True)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
