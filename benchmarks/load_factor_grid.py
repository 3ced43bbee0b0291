"""Does ``utilization.load_factor`` read 1.0 on a saturated pool, whatever its scheduler?

Runs the bundled baseline (Llama-3-8B, 4 x H100) far above capacity (400 requests/s) for every
scheduler preset (``vllm-v0``, ``vllm-v1``, ``trtllm``, ``sglang``) x three length mixes
(prompt/output means 1000/250, prompt-heavy 4000/100, decode-heavy 200/1000), plus Llama-3-70B at
tensor parallelism 4, Mixtral-8x7B at tensor parallelism 2 (MoE) and a replay of the Azure
conversation trace sample compressed 100-fold in time and looped. One JSON object per run on stdout:
``load_factor`` (now), ``closed_form`` (the load factor the closed form alone gives: the run's value
over the pool's scheduler factor, which it scales linearly), ``scheduler_factor``, ``wall_s``; then
a summary with the largest ``|load_factor - 1|``::

    python benchmarks/load_factor_grid.py                  # 10 minutes simulated, 1 minute warmup
    python benchmarks/load_factor_grid.py --duration 3m --warmup 30s
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import sim
from sim.api import build_pools
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SCHEDULERS = ("vllm-v0", "vllm-v1", "trtllm", "sglang")
MIXES = ((1000, 250), (4000, 100), (200, 1000))
TRACE = (f"workload.arrival={{process: trace, path: {ROOT / 'scenarios/traces/azure_conv_2023_first2000.csv'}, "
         "format: azure, time_scale: 0.01, loop: true}")


def cases() -> list[tuple[str, tuple[str, ...]]]:
    """``(name, overrides)`` of every run of the grid."""
    out = []
    for s in SCHEDULERS:
        for p, o in MIXES:
            out.append((f"{s} {p}/{o}", (f"fleet.pools.0.batching.scheduler={s}", "workload.arrival.rate=400",
                                         f"workload.prompt_tokens.mean={p}", f"workload.output_tokens.mean={o}")))
    for s in ("vllm-v1", "trtllm"):
        out.append((f"{s} llama-3-70b tp4", (f"fleet.pools.0.batching.scheduler={s}", "model=llama-3-70b",
                                             "fleet.pools.0.tensor_parallel=4", "fleet.pools.0.replicas=2",
                                             "workload.arrival.rate=100")))
        out.append((f"{s} mixtral-8x7b tp2", (f"fleet.pools.0.batching.scheduler={s}", "model=mixtral-8x7b",
                                              "fleet.pools.0.tensor_parallel=2", "fleet.pools.0.replicas=2",
                                              "fleet.pools.0.max_model_len=8192", "workload.arrival.rate=200")))
        out.append((f"{s} azure-conv trace x100", (f"fleet.pools.0.batching.scheduler={s}",
                                                   "fleet.pools.0.replicas=1", "workload.prompt_tokens=null",
                                                   "workload.output_tokens=null", TRACE)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", default="10m")
    ap.add_argument("--warmup", default="1m")
    args = ap.parse_args()
    worst = 0.0
    for name, overrides in cases():
        ov = (*overrides, f"duration={args.duration}", f"warmup={args.warmup}", "metrics.records=none")
        t0 = time.perf_counter()
        res = sim.run(str(BASELINE), overrides=ov)
        wall = time.perf_counter() - t0
        lf = float(res.summary["utilization"]["load_factor"])
        factor = build_pools(load_scenario(str(BASELINE), ov), scheduler_factors=True)[0].scheduler_factor
        worst = max(worst, abs(lf - 1.0))
        print(json.dumps({"case": name, "load_factor": round(lf, 4), "closed_form": round(lf / factor, 4),
                          "scheduler_factor": round(factor, 4), "wall_s": round(wall, 2)}), flush=True)
    print(json.dumps({"summary": True, "worst_abs_error": round(worst, 4)}))


if __name__ == "__main__":
    main()
