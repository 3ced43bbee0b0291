"""The fluid tier against the request level and M/M/1 theory near and above saturation.

One replica serving one request at a time behind ``central_queue`` (1 output token, exponential prompts
of mean 1,000 tokens at 1 ms a token: an M/M/1 queue with mean service 1.0005 s, ``mu = 0.9995``/s),
``rho x mu`` Poisson arrivals for 24 h (the first hour warmup), seed 1, ``records: none``: at request
level, in the fluid tier with the default calibration and with ``calibration_requests: 30000``. One JSON
object per (rho, tier) on stdout: requests in flight at the end (``requests.in_flight``, and the stability
block's ``in_flight_at_end``), queue-time mean, E2E mean and p99, the curve's ``max_rps_per_replica``::

    python benchmarks/fluid_mm1.py                  # rho 0.9, 0.95, 1.1, 1.2 (a few minutes)
    python benchmarks/fluid_mm1.py --rho 1.1

``docs/scaling.md`` ("Saturation throughput") quotes the numbers; the theory they are set against is
there too (above capacity, the expected requests in the system of an M/M/1 queue started empty).
"""
from __future__ import annotations

import argparse
import json

MU = 1 / 1.0005


def scenario(rho: float, fidelity: str, calibration_requests: int | None = None) -> dict:
    sc = {"name": "mm1", "seed": 1, "duration": 86400.0, "warmup": 3600.0, "model": "llama-3-8b",
          "fidelity": fidelity, "metrics": {"records": "none"},
          "workload": {"arrival": {"process": "poisson", "rate": rho * MU},
                       "prompt_tokens": {"dist": "exponential", "mean": 1000, "max": 8000},
                       "output_tokens": {"dist": "fixed", "value": 1}},
          "fleet": {"router": "central_queue",
                    "pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1,
                               "batching": {"policy": "continuous", "max_num_seqs": 1, "max_batched_tokens": 16384}}]},
          "perf": {"model": "linear", "per_prefill_token_s": 0.001}}
    if calibration_requests:
        sc["fluid"] = {"calibration_requests": calibration_requests}
    return sc


def main(argv: list[str] | None = None) -> int:
    import sim

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rho", type=float, action="append")
    a = ap.parse_args(argv)
    for rho in a.rho or [0.9, 0.95, 1.1, 1.2]:
        for fidelity, cal in (("request", None), ("fluid", None), ("fluid", 30000)):
            s = sim.run(scenario(rho, fidelity, cal)).summary
            print(json.dumps({"rho": rho, "tier": fidelity, "calibration_requests": cal,
                              "in_flight": s["requests"]["in_flight"],
                              "in_flight_at_end": s["stability"].get("in_flight_at_end"),
                              "queue_mean_s": round(s["latency"]["queue"]["mean"], 1),
                              "e2e_mean_s": round(s["latency"]["e2e"]["mean"], 2),
                              "e2e_p99_s": round(s["latency"]["e2e"]["p99"], 1),
                              "max_rps_per_replica": s["pools"]["main"].get("max_rps_per_replica")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
