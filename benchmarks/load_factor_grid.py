"""Does ``utilization.load_factor`` read 1.0 on a saturated pool, whatever its scheduler?

Runs the bundled baseline (Llama-3-8B, 4 x H100) far above capacity (400 requests/s) for every
scheduler preset (``vllm-v0``, ``vllm-v1``, ``trtllm``, ``sglang``) x three length mixes
(prompt/output means 1000/250, prompt-heavy 4000/100, decode-heavy 200/1000), plus Llama-3-70B at
tensor parallelism 4, Mixtral-8x7B at tensor parallelism 2 (MoE) and a replay of the Azure
conversation trace sample compressed 100-fold in time and looped; then two pools whose mixes differ
(:data:`TWO_POOLS`: a ``chat`` pool under vLLM V1 whose 4,096-token context refuses a long-prompt
class, which goes to a ``long`` pool under TensorRT-LLM; least outstanding routing, and spillover
with a threshold never reached, which in this run sends the chat class to ``chat`` only; and
each class pinned to its pool by ``fleet.router.classes``, so both pools' mixes are known before
the run) and a class mix that changes half way through a half-hour run (:data:`SHIFT`: a
long-prompt class joins the chat traffic at 15 minutes, each phase about 10 % over what the pool
serves) and ``scenarios/disaggregated.yaml`` at 60 requests/s with eight prefill replicas, its
decode pool the bottleneck, and with its own two, its prefill pool the bottleneck (the pool that is
not the bottleneck is printed, not counted). One JSON object per run (per pool for the two-pool cases) on stdout: ``load_factor``
(now), ``closed_form`` (the load factor the closed form alone gives: the run's value over the
pool's scheduler factor, which it scales linearly), ``scheduler_factor``, ``wall_s``; then a
summary with the largest ``|load_factor - 1|`` of the pools whose mix is known before the run (the
``long`` pool can serve the chat class too: the router decides during the run how much of it
``long`` gets, so its factor is measured on all it can serve; printed, not counted)::

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
CHAT = "{dist: lognormal, mean: 400, cv: 1.0, max: 3000}"
CHAT_OUT = "{dist: lognormal, mean: 300, cv: 1.0, max: 1000}"
LONG = ("prompt_tokens: {dist: lognormal, mean: 6000, cv: 0.2, max: 7900}, "
        "output_tokens: {dist: lognormal, mean: 100, cv: 0.5, max: 250}")
TWO_POOLS = (f"workload.prompt_tokens={CHAT}", f"workload.output_tokens={CHAT_OUT}", "workload.arrival.rate=300",
             f"workload.classes=[{{name: chat, share: 0.4}}, {{name: long, share: 0.6, {LONG}}}]",
             "fleet.pools=[{name: chat, gpu: h100-sxm, replicas: 2, max_model_len: 4096, "
             "batching: {scheduler: vllm-v1}}, {name: long, gpu: h100-sxm, replicas: 2, batching: {scheduler: trtllm}}]")
PINNED = "fleet.router={policy: spillover, primary: chat, overflow: long, threshold: 1000000}"
CLASSES = "fleet.router={policy: least_outstanding, classes: {chat: chat, long: long}}"
SHIFT = (f"workload.prompt_tokens={CHAT}", f"workload.output_tokens={CHAT_OUT}", "workload.arrival=null",
         "workload.classes=[{name: chat, arrival: {process: piecewise, times: [0s, 15m], rates: [75, 45]}}, "
         f"{{name: long, arrival: {{process: piecewise, times: [0s, 15m], rates: [0, 5]}}, {LONG}}}]",
         "fleet.pools.0.replicas=2", "fleet.pools.0.batching.scheduler=trtllm")
DISAGG = ("workload.arrival.rate=60", "fleet.pools.0.replicas=8")     # eight prefill replicas: decode the bottleneck
PREFILL_BOUND = ("workload.arrival.rate=60",)                         # its two prefill replicas: prefill the bottleneck


def cases() -> list[tuple[str, tuple[str, ...]]]:
    """``(name, overrides)`` of every run of the grid (the two-pool and shifting-mix cases are
    :func:`mix_cases`)."""
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


def mix_cases() -> list[tuple[str, tuple[str, ...], str | None, tuple[str, ...], Path]]:
    """``(name, overrides, duration or None for the grid's, pools not counted, scenario)``: pools not
    counted are those whose mix the run decides and a disaggregated fleet's pool that is not its
    bottleneck (it is not saturated)."""
    return [("two pools, least outstanding", TWO_POOLS, None, ("long",), BASELINE),
            ("two pools, spillover (chat class kept on chat)", (*TWO_POOLS, PINNED), None, ("long",), BASELINE),
            ("two pools, classes pinned (fleet.router.classes)", (*TWO_POOLS, CLASSES), None, (), BASELINE),
            ("trtllm, long class joins at 15m", SHIFT, "30m", (), BASELINE),
            ("disaggregated, decode-bound", DISAGG, None, ("prefill",), ROOT / "scenarios" / "disaggregated.yaml"),
            ("disaggregated, prefill-bound", PREFILL_BOUND, None, ("decode",), ROOT / "scenarios" / "disaggregated.yaml")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", default="10m")
    ap.add_argument("--warmup", default="1m")
    args = ap.parse_args()
    worst = 0.0
    runs = [(name, ov, None, (), BASELINE) for name, ov in cases()] + mix_cases()
    for name, overrides, duration, decided, path in runs:
        ov = (*overrides, f"duration={duration or args.duration}", f"warmup={args.warmup}", "metrics.records=none")
        t0 = time.perf_counter()
        res = sim.run(str(path), overrides=ov)
        wall = time.perf_counter() - t0
        pools = build_pools(load_scenario(str(path), ov), scheduler_factors=True)
        for pool in pools:
            lf = float(res.summary["pools"][pool.cfg.name]["load_factor"] if len(pools) > 1
                       else res.summary["utilization"]["load_factor"])
            factor = pool.scheduler_factor
            if pool.cfg.name not in decided:
                worst = max(worst, abs(lf - 1.0))
            print(json.dumps({"case": name, **({"pool": pool.cfg.name} if len(pools) > 1 else {}),
                              "load_factor": round(lf, 4), "closed_form": round(lf / factor, 4),
                              "scheduler_factor": round(factor, 4), "wall_s": round(wall, 2)}), flush=True)
    print(json.dumps({"summary": True, "worst_abs_error": round(worst, 4)}))


if __name__ == "__main__":
    main()
