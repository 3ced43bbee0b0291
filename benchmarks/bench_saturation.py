"""How precisely the fluid tier's capacity curve measures a replica's saturation throughput, and at what cost.

Measures the whole capacity curve (:func:`sim.fluid.capacity.measure_curve`, the default
calibration: 3,000 requests) of the M/M/1 pool of ``docs/fleet_dynamics.md`` ("Routers as queueing
systems": one replica serving one request at a time, ``ceil(X)`` prompt tokens with ``X``
exponential of mean 1,000 at 1 ms a token, one output token; service mean
``0.001 / (1 - exp(-1/1000)) = 1.0005 s``, so ``mu = 0.9995`` requests/s in closed form) for
``--seeds`` calibration seeds, then the bundled baseline pool's curve (Llama-3-8B, H100, roofline,
measured on a group of four replicas behind least outstanding) for ``--repeat`` seeds, against a
reference: the same group saturated (256 requests/s) for 600 s after 120 s, its completions per
second and replica (no closed form for a batching replica; its batch is in steady state long before
120 s). One JSON object per curve on stdout, then a summary::

    python benchmarks/bench_saturation.py                  # 50 seeds, 3 baseline curves
    python benchmarks/bench_saturation.py --seeds 200 --repeat 0

Fields: ``case``, ``seed``, ``max_rps``, ``rel_err`` (against ``mu`` or the reference), ``wall_s``,
``cpu_s``; the summary, per case: ``mean_rel_err`` with its standard error, the ``sd_rel_err`` of
one curve, the ``max_abs_rel_err`` and the median wall and CPU seconds of a curve. It calls the same functions of
:mod:`sim.fluid.capacity` in earlier versions of the code, so it runs on them too
(``PYTHONPATH=<a checkout> python benchmarks/bench_saturation.py``).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from sim.fluid.capacity import CalibrationSettings, _run, measure_curve, pool_template
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
MU = (1.0 - math.exp(-1.0 / 1000.0)) / 0.001     # 1 / E[0.001 ceil(X)], X ~ Exp(mean 1000)
MM1 = {"name": "mm1", "seed": 1, "duration": "24h", "model": "llama-3.1-8b",
       "workload": {"arrival": {"process": "poisson", "rate": 1.1},
                    "prompt_tokens": {"dist": "exponential", "mean": 1000},
                    "output_tokens": {"dist": "fixed", "value": 1}},
       "fleet": {"router": "random",
                 "pools": [{"name": "servers", "gpu": "h100-sxm", "replicas": 1,
                            "batching": {"max_num_seqs": 1, "max_batched_tokens": 200000}}]},
       "perf": {"model": "linear", "base_s": 0, "per_prefill_token_s": 0.001, "per_decode_token_s": 0,
                "per_context_token_s": 0}}


def curve(path: Path, seed: int) -> tuple[float, float, float]:
    """``(max_rps, wall seconds, CPU seconds)`` of pool 0's curve of the scenario at ``path``,
    calibration ``seed``."""
    sc = load_scenario(str(path)).scenario
    t0, c0 = time.perf_counter(), time.process_time()
    c = measure_curve(pool_template(sc, 0, path.parent), path.parent, CalibrationSettings(seed=seed), "servers")
    return c.max_rps, time.perf_counter() - t0, time.process_time() - c0


def reference_rps(path: Path) -> float:
    """Completions per second and replica of the baseline pool's group saturated for 600 s after 120 s."""
    sc = load_scenario(str(path)).scenario
    t = pool_template(sc, 0, path.parent)
    res = _run(t, path.parent, 256.0, 720.0, 120.0, 1)
    return res.summary["throughput"]["requests_per_s"] / int(t["fleet"]["pools"][0]["replicas"])


def stats(errs: list[float], walls: list[float], cpus: list[float]) -> dict:
    """The summary of one case's relative errors, wall and CPU seconds."""
    out = {"median_wall_s": round(statistics.median(walls), 3), "median_cpu_s": round(statistics.median(cpus), 3)} \
        if walls else {}
    if len(errs) < 2:
        return out
    return {"mean_rel_err": round(statistics.mean(errs), 6),
            "se_mean_rel_err": round(statistics.stdev(errs) / math.sqrt(len(errs)), 6),
            "sd_rel_err": round(statistics.stdev(errs), 6), "max_abs_rel_err": round(max(map(abs, errs)), 6), **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    errs, walls, cpus, base_walls, base_cpus = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mm1.yaml"
        path.write_text(yaml.safe_dump(MM1))
        for seed in range(1, args.seeds + 1):
            rps, wall, cpu = curve(path, seed)
            errs.append(rps / MU - 1.0)
            walls.append(wall)
            cpus.append(cpu)
            print(json.dumps({"case": "mm1", "seed": seed, "max_rps": round(rps, 6), "rel_err": round(errs[-1], 6),
                              "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}), flush=True)
    base_errs = []
    baseline = ROOT / "scenarios" / "baseline.yaml"
    ref = reference_rps(baseline) if args.repeat else None
    for seed in range(1, args.repeat + 1):
        rps, wall, cpu = curve(baseline, seed)
        base_walls.append(wall)
        base_cpus.append(cpu)
        base_errs.append(rps / ref - 1.0)
        print(json.dumps({"case": "baseline", "seed": seed, "max_rps": round(rps, 6), "rel_err": round(base_errs[-1], 6),
                          "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}), flush=True)
    print(json.dumps({"summary": True, "mm1": {"mu": MU, **stats(errs, walls, cpus)},
                      "baseline": {"reference_rps": ref, **stats(base_errs, base_walls, base_cpus)}}))


if __name__ == "__main__":
    main()
