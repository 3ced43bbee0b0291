"""Check a scenario file without running it; print each pool's memory plan."""
from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario file (YAML or TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field before checking (repeatable)")


def main(args: argparse.Namespace) -> int:
    from sim.scenario.checks import pool_setup
    from sim.scenario.load import load_scenario

    loaded = load_scenario(args.scenario, args.overrides)
    sc = loaded.scenario
    lines = [f"{args.scenario}: ok ({sc.name}: {len(sc.fleet.pools)} pool(s), duration {sc.duration:g} s)"]
    gib = 2**30
    for p in sc.fleet.pools:
        model, gpu, _, wdt, kdt, plan = pool_setup(sc, p)
        per_seq = model.max_context
        lines.append(
            f"  pool {p.name}: {p.replicas} x {p.tensor_parallel} {gpu.name}, {model.name} ({wdt} weights, {kdt} KV)\n"
            f"    weights {plan.weights_bytes_per_gpu / gib:.2f} GiB/GPU, activation+runtime reserve "
            f"{plan.activation_reserve_bytes / p.tensor_parallel / gib:.2f} GiB/GPU, "
            f"KV {plan.kv_bytes_per_token / 1024:.0f} KiB/token\n"
            f"    KV cache {plan.kv_capacity_bytes / gib:.1f} GiB = {plan.kv_blocks:,} blocks = {plan.kv_tokens:,} tokens; "
            f"max concurrent sequences: {min(p.batching.max_num_seqs, plan.kv_tokens // max(per_seq, 1)) if plan.kv_tokens >= per_seq else 0} "
            f"at max_context={per_seq}, up to {p.batching.max_num_seqs} (max_num_seqs) at "
            f"{plan.kv_tokens // max(p.batching.max_num_seqs, 1):,} tokens each\n"
            f"    batching: {_batching(p.batching)}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _batching(b) -> str:
    """One line saying what a pool's batching (after its scheduler preset) does."""
    if b.policy == "static":
        return f"static, {b.batch_size} requests per batch"
    how = ("prompts join the decode iterations" if b.mixed_batches else "prompts run in iterations of their own")
    how += ", chunked to the budget" if b.chunked_prefill else ", whole"
    keep = "whole sequence reserved (never preempted)" if b.kv_reservation == "full" else "preempt newest when out"
    return (f"scheduler {b.scheduler} ({b.policy}): {how}; {b.max_batched_tokens:,} tokens, {b.max_num_seqs} "
            f"sequences per iteration; KV: {keep}")
