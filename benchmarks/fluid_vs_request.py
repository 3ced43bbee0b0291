"""The fluid tier against the request level on the bundled baseline pool over two diurnal days.

``scenarios/baseline.yaml`` (4 x H100, Llama-3-8B, roofline, least outstanding) with two calendar
days of diurnal traffic (mean 20 requests/s, peak-to-trough 3, peak at 14:00), no warmup,
``records: none``, run at ``fidelity: request`` and at ``fidelity: fluid`` (hourly steps, the default
calibration). One JSON object per tier on stdout (wall seconds and the summary numbers compared),
then one with the fluid tier's relative difference from the request level per number::

    python benchmarks/fluid_vs_request.py                  # both tiers (the request level ~6-10 min)
    python benchmarks/fluid_vs_request.py --tier fluid     # the fluid tier alone

``docs/scaling.md`` ("Checked") quotes the differences.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HOURS = 48.0


def scenario(fidelity: str) -> dict:
    """The baseline with two diurnal days at ``fidelity``."""
    sc = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    sc.update(name=f"baseline-2d-{fidelity}", duration=HOURS * 3600.0, warmup=0, fidelity=fidelity)
    sc["workload"]["arrival"] = {"process": "diurnal", "mean_rate": 20.0, "peak_to_trough": 3, "peak_hour": 14.0}
    sc["metrics"] = {"records": "none"}
    return sc


def numbers(summary: dict) -> dict:
    """The summary numbers the comparison reads."""
    out = {"requests": summary["requests"]["completed"],
           "busy_gpu_hours": summary["gpu_hours"]["busy"],
           "input_tokens_per_s": summary["throughput"]["input_tokens_per_s"],
           "output_tokens_per_s": summary["throughput"]["output_tokens_per_s"],
           "slo_attainment": summary["slo"]["attainment"],
           "mfu": summary["utilization"]["mfu"]}
    for m in ("ttft", "tpot", "e2e", "itl", "queue"):
        for s in ("mean", "p50", "p90", "p99"):
            out[f"{m}_{s}"] = summary["latency"][m][s]
    return out


def run_tier(fidelity: str) -> dict:
    import sim

    t0 = time.perf_counter()
    res = sim.run(scenario(fidelity))
    return {"tier": fidelity, "wall_s": round(time.perf_counter() - t0, 1), **numbers(res.summary)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", choices=("both", "fluid", "request"), default="both")
    a = ap.parse_args(argv)
    rows = {}
    for tier in (("request", "fluid") if a.tier == "both" else (a.tier,)):
        rows[tier] = run_tier(tier)
        print(json.dumps(rows[tier]), flush=True)
    if len(rows) == 2:
        f, r = rows["fluid"], rows["request"]
        diff = {k: (round(f[k] / r[k] - 1.0, 4) if isinstance(r[k], float) and r[k] and f[k] is not None else None)
                for k in r if k not in ("tier", "wall_s", "slo_attainment")}
        diff["slo_attainment"] = [f["slo_attainment"], r["slo_attainment"]]
        print(json.dumps({"fluid_vs_request": diff}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
