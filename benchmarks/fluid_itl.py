"""ITL percentiles of the fluid tier against the request level, on two runs that mix loads.

One batching replica (at most 8 sequences, 10-token prompts, a ``linear`` step of ``0.1 s + 0.02 s``
per decoding sequence, the prompt free; saturated it serves ``mu = 3.28`` requests/s), the pool of
``tests/test_fluid_backlog_load.py``:

* ``diurnal``: the same replica with up to 32 sequences at ``0.1 s + 0.005 s`` per decoding sequence
  and lognormal output lengths (mean 60 tokens, cv 1, at most 400), saturated at about 2 requests/s,
  for a day of diurnal arrivals: mean ``0.45`` of that, peak-to-trough 8, peak at 14:00 (80 % of
  capacity), so its inter-token gaps run from a lone request's 0.105 s at night to a nearly full
  batch's 0.26 s at the peak;
* ``backlog``: ``1.25 mu`` for an hour, then ``0.25 mu`` for an hour (10 output tokens), in hourly steps:
  4,800 of the 5,400 ``mu`` served behind a backlog, at capacity.

Each is run once in the fluid tier (hourly steps, the default calibration) and at request level on
``--seeds`` seeds; one JSON object per case on stdout with the ITL mean and percentiles of each (the
request level's mean over the seeds and its standard error, and the percentiles of every seed's gaps
pooled in one log-histogram, which are what a percentile of a discrete mix of step times should be
compared with: one seed's median of gaps that are 0.24 or 0.26 s is one or the other) and the fluid
tier's relative difference from the seeds' mean::

    python benchmarks/fluid_itl.py                       # both cases, 5 seeds (a few minutes)
    python benchmarks/fluid_itl.py --case backlog --seeds 20

``docs/scaling.md`` quotes the numbers.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

MU = 0.8 / (0.1 + 0.02 * 7.2)
MU_LONG = 32 / (0.1 + 0.005 * 32) / 60   # about: 32 sequences of 60 tokens decoding, prefills aside
HOUR = 3600.0
STATS = ("mean", "p50", "p90", "p99")


def scenario(case: str, fidelity: str, seed: int = 1) -> dict:
    """The case's scenario at ``fidelity``."""
    out = {"dist": "fixed", "value": 10}
    seqs, per_decode = 8, 0.02
    if case == "diurnal":
        arrival = {"process": "diurnal", "mean_rate": 0.45 * MU_LONG, "peak_to_trough": 8, "peak_hour": 14.0}
        duration = 24 * HOUR
        out = {"dist": "lognormal", "mean": 60, "cv": 1.0, "max": 400}
        seqs, per_decode = 32, 0.005
    elif case == "backlog":
        arrival = {"process": "piecewise", "times": [0, 3600], "rates": [1.25 * MU, 0.25 * MU]}
        duration = 2 * HOUR
    else:
        raise ValueError(f"case: {case!r}; allowed: diurnal, backlog")
    sc = {"name": f"itl-{case}-{fidelity}", "seed": seed, "duration": duration, "warmup": 0,
          "metrics": {"interval": 60.0, "records": "none"}, "fidelity": fidelity,
          "workload": {"arrival": arrival, "prompt_tokens": {"dist": "fixed", "value": 10}, "output_tokens": out},
          "fleet": {"router": "random", "pools": [{"name": "b", "gpu": "h100-sxm", "replicas": 1,
                                                   "batching": {"max_num_seqs": seqs, "max_batched_tokens": 4096}}]},
          "model": "llama-3-8b",
          "perf": {"model": "linear", "base_s": 0.1, "per_prefill_token_s": 0.0, "per_decode_token_s": per_decode,
                   "per_context_token_s": 0.0},
          "slo": {"ttft_s": 5.0, "tpot_s": 0.3}}
    if fidelity == "fluid":
        sc["fluid"] = {"step": HOUR}
    return sc


def itl(summary: dict) -> dict:
    return {s: summary["latency"]["itl"][s] for s in STATS}


def run_case(case: str, seeds: int) -> dict:
    import sim

    t0 = time.process_time()
    fluid = itl(sim.run(scenario(case, "fluid")).summary)
    t_fluid = time.process_time() - t0
    from sim.metrics.histogram import LogHistogram

    runs, pooled = [], LogHistogram()
    for seed in range(1, seeds + 1):
        res = sim.run(scenario(case, "request", seed=seed))
        runs.append(itl(res.summary))
        pooled.merge(res.extra["gaps"].histogram())      # every seed's gaps in one log-histogram (0.5 %)
    req = {s: float(np.mean([r[s] for r in runs])) for s in STATS}
    se = {s: float(np.std([r[s] for r in runs], ddof=1) / np.sqrt(len(runs))) if len(runs) > 1 else None
          for s in STATS}
    return {"case": case, "seeds": seeds, "fluid_cpu_s": round(t_fluid, 2),
            "fluid": {s: round(v, 5) for s, v in fluid.items()},
            "request": {s: round(v, 5) for s, v in req.items()},
            "request_se": {s: (round(v, 5) if v is not None else None) for s, v in se.items()},
            "request_pooled": {s: round(v, 5) for s, v in pooled.stats(method="inverted_cdf").items()},
            "fluid_vs_request": {s: round(fluid[s] / req[s] - 1.0, 4) for s in STATS}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=("diurnal", "backlog"))
    ap.add_argument("--seeds", type=int, default=5)
    a = ap.parse_args(argv)
    for case in a.case or ["diurnal", "backlog"]:
        print(json.dumps(run_case(case, a.seeds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
