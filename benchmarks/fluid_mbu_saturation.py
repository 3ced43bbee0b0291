"""The fluid tier's MBU and busy share around saturation against the request level's, over seeds.

The cross-tier pool of ``tests/test_cross_tier.py`` (Llama-2-7B on one A100-80GB a replica, the linear
step model of ``tests/conftest.py``: 10 ms + 0.1 ms a prompt token + 1 ms a decoding sequence, 64
sequences, lognormal 200 / 50 tokens; two replicas behind ``least_outstanding``), one hour of constant
Poisson arrivals at ``--factors`` x the fluid tier's capacity (two replicas x its curve's ``max_rps``;
the test's "overloaded" case, 40 requests/s, is 1.53 x). The curve is measured with the tests' quick
calibration (six grid points up to 90 % of ``max_rps``). Request level at seeds ``1 .. --seeds``: MBU
and busy share, their mean and standard deviation; the fluid tier's once (it draws nothing). One JSON
object per load on stdout::

    python benchmarks/fluid_mbu_saturation.py                       # 0.9, 1.0, 1.2, 1.53 x; 5 seeds
    python benchmarks/fluid_mbu_saturation.py --factors 1.0 --seeds 10

``docs/fleet_dynamics.md`` ("MBU of a pool at capacity") and ``BENCHMARKS.md`` quote the numbers.
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics

#: the linear step model of tests/conftest.py (times easy to work by hand)
LINEAR = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 1e-4, "per_decode_token_s": 1e-3,
          "per_context_token_s": 0.0}
#: the tests' quick calibration (tests/test_fluid.py's QUICK)
QUICK = {"fractions": (0.05, 0.2, 0.4, 0.6, 0.75, 0.9), "min_duration_s": 120.0, "min_requests": 1000}


def scenario(rate: float, seed: int) -> dict:
    """test_cross_tier.py's ``_steady(rate)`` at ``seed``: one hour of Poisson arrivals on two replicas."""
    return {"name": "mbu-saturation", "seed": seed, "duration": 3600.0, "warmup": 0, "model": "llama-2-7b",
            "workload": {"arrival": {"process": "poisson", "rate": rate},
                         "prompt_tokens": {"dist": "lognormal", "mean": 200, "cv": 1.0, "max": 2000},
                         "output_tokens": {"dist": "lognormal", "mean": 50, "cv": 1.0, "max": 500}},
            "fleet": {"router": "least_outstanding",
                      "pools": [{"name": "main", "gpu": "a100-80gb", "replicas": 2,
                                 "batching": {"max_num_seqs": 64, "max_batched_tokens": 4096}}]},
            "perf": dict(LINEAR), "slo": {"ttft_s": 0.3, "tpot_s": 0.06}, "economics": {"gpu_hour_usd": 2.0}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", type=float, nargs="+", default=[0.9, 1.0, 1.2, 40.0 / 26.162])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)

    import sim
    from sim.fluid import run_fluid
    from sim.fluid.capacity import CalibrationSettings, capacity_curve
    from sim.scenario.load import load_scenario

    quick = CalibrationSettings(**QUICK)
    loaded = load_scenario(scenario(1.0, 5))
    capacity = 2 * capacity_curve(loaded.scenario, 0, loaded.base_dir, quick).max_rps
    for factor in args.factors:
        rate = round(factor * capacity, 3)
        runs = [sim.run(copy.deepcopy(scenario(rate, s))).summary["utilization"] for s in range(1, args.seeds + 1)]
        fluid = run_fluid(load_scenario(scenario(rate, 5)), step_s=600.0, settings=quick).summary["utilization"]
        mbu = [u["mbu"] for u in runs]
        busy = [u["gpu_busy"] for u in runs]
        print(json.dumps({
            "factor": round(factor, 3), "rate": rate, "capacity": round(capacity, 3),
            "request_mbu": [round(x, 4) for x in mbu], "request_mbu_mean": round(statistics.mean(mbu), 4),
            "request_mbu_sd": round(statistics.stdev(mbu), 4) if len(mbu) > 1 else None,
            "fluid_mbu": round(fluid["mbu"], 4),
            "fluid_vs_mean": round(fluid["mbu"] / statistics.mean(mbu) - 1.0, 4),
            "request_busy_mean": round(statistics.mean(busy), 4), "fluid_busy": round(fluid["gpu_busy"], 4)}),
            flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
