"""Check a scenario file without running it; print each pool's memory plan."""
from __future__ import annotations

import argparse
import sys

from sim.errors import path_argument
from sim.humanize import plural


#: after the per-sequence length when the pool sets no ``max_model_len``
UNSET_LEN = " (unset: the model's context)"

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=path_argument, help="a scenario file (YAML or TOML), e.g. scenarios/baseline.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field before checking (repeatable)")
    p.add_argument("--allow-large", action="store_true",
                   help="report the work estimate but accept a scenario past the work limits")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="trace replay: count the malformed rows run --skip-bad-rows would leave out instead of failing")


def main(args: argparse.Namespace) -> int:
    from sim.scenario.pool_setup import pool_context, pool_setups
    from sim.scenario.load import load_scenario

    from sim.errors import ScenarioError, printable
    from sim.humanize import gib, plural
    from sim.limits import estimate, refusals

    from sim.workload.validation import trace_row_problems

    loaded = load_scenario(args.scenario, args.overrides)
    sc = loaded.scenario
    bad_rows, skipped = trace_row_problems(sc.workload, loaded.base_dir, args.skip_bad_rows, sc.duration)
    if bad_rows:
        raise ScenarioError(bad_rows, args.scenario)
    too_big = refusals(loaded, args.allow_large or None)     # without the flag: FLEETSIM_ALLOW_LARGE, as run reads it
    if too_big:
        raise ScenarioError(too_big, args.scenario)
    work = estimate(loaded, count_traces=True)
    lines = [f"{args.scenario}: ok ({sc.name}: {len(sc.fleet.pools)} {plural(len(sc.fleet.pools), 'pool')}, "
             f"duration {duration_words(sc.duration)})",
             f"  work: ~{work.requests:,.0f} requests, up to {work.replicas:,.0f} {plural(round(work.replicas), 'replica')}"
             + (f", {work.fluid_steps:,.0f} fluid steps" if sc.fidelity == "fluid" else "")
             + (f", ~{work.failure_events:,.0f} failure/repair events" if work.failure_events else "")]
    lines += [f"  {where}: {what}" for where, what in skipped]
    for p, setup in zip(sc.fleet.pools, pool_setups(loaded)):
        model, gpu, _, wdt, kdt, plan = setup
        per_seq = pool_context(p, model)
        pp = p.pipeline_parallel
        shape = f"{p.tensor_parallel} {gpu.name}" if pp == 1 else f"{pp} stages x {p.tensor_parallel} {gpu.name}"
        layout = "".join([f", EP{p.expert_parallel}" if p.expert_parallel > 1 else "",
                          ", data-parallel attention" if p.data_parallel_attention else ""])
        gpus = p.tensor_parallel * pp
        per_node = p.gpus_per_node or gpu.gpus_per_node
        nodes = f", {-(-gpus // per_node)} nodes of {per_node}" if gpus > per_node else ""
        reserve = plan.activation_reserve_bytes / gpus
        kv_per_gpu = plan.kv_capacity_bytes / gpus
        lines.append(
            f"  pool {p.name}: {p.replicas} x {shape} ({gpus} {plural(gpus, 'GPU')}/replica{nodes}{layout}), "
            f"{model.name} ({wdt} weights, {kdt} KV)\n"
            f"    per GPU: weights {gib(plan.weights_bytes_per_gpu)} GiB + "
            # SGLang's share is of the memory left after its runtime: the runtime is not one of its terms
            + (f"KV cache {gib(kv_per_gpu)} GiB of {plan.budget}, after a runtime reserve of {gib(reserve)} GiB; "
               if plan.engine == "sglang" else
               f"activation/runtime reserve {gib(reserve)} GiB + KV cache {gib(kv_per_gpu)} GiB of "
               f"{plan.budget or f'{p.gpu_memory_utilization:g} x {gpu.hbm_gb:g} GiB'}; ")
            + f"KV {plan.kv_bytes_per_token / 1024:,.1f} KiB/token "
            f"per replica\n"
            f"    KV cache {gib(plan.kv_capacity_bytes)} GiB = {plan.kv_blocks:,} blocks = {plan.kv_tokens:,} tokens; "
            f"max concurrent sequences: {_longest_words(p, plan, per_seq)}, up to {p.batching.max_num_seqs} "
            f"(max_num_seqs) at {plan.kv_tokens // max(p.batching.max_num_seqs, 1):,} tokens each\n"
            f"    batching: {_batching(p.batching)}")
        stack = _step_model_words(p.perf or sc.perf)
        if stack:
            lines.append(f"    step time: {stack}")
        reach = _reaching_classes(sc, p.name)
        if reach:
            lines.append(f"    classes routed here (fleet.router.classes): {reach}")
        note = _flops_level_note(p, wdt, sc.perf, dense=model.n_experts <= 1)
        if note:
            lines.append(f"    note: {note}")
        note = _moe_level_note(p, sc.perf, model.n_experts > 1, gpus <= per_node)
        if note:
            lines.append(f"    note: {note}")
    from sim.planning.table import fill

    # each line broken to the terminal, its continuations indented under it (to a file or a pipe: whole)
    sys.stdout.write(printable("\n".join(fill(line, indent="  ") for line in "\n".join(lines).splitlines())) + "\n")
    return 0


def _longest_words(pool, plan, per_seq: int) -> str:
    """How many sequences of the longest length the pool serves fit its KV cache at once: ``max_model_len``'s, or
    under ``scheduler: sglang`` with a cache shorter than that (SGLang starts, serving sequences up to its cache:
    :func:`sim.perf.memory.admitted_tokens`) the longest it serves."""
    from sim.perf.memory import admitted_tokens

    unset = "" if pool.max_model_len else UNSET_LEN
    if plan.kv_tokens >= per_seq or plan.engine != "sglang":
        fit = min(pool.batching.max_num_seqs, plan.kv_tokens // max(per_seq, 1)) if plan.kv_tokens >= per_seq else 0
        return f"{fit} at max_model_len={per_seq:,}{unset}"
    served = admitted_tokens(plan.kv_blocks, pool.batching.block_size)     # the whole cache admission may take
    return (f"none at max_model_len={per_seq:,}{unset}: SGLang serves sequences of at most {served:,} tokens (its "
            f"cache above the 1 % watermark), one of those at a time")


def duration_words(seconds: float) -> str:
    """A scenario's duration as validate says it: in seconds under a day, from a day on in days and hours
    with the seconds after them (``3.16224e+07 s`` was hard to read):

        >>> duration_words(3600), duration_words(31_622_400)
        ('3600 s', '366 d (31,622,400 s)')
    """
    from sim.humanize import duration

    if seconds < 86_400:
        return f"{seconds:g} s"
    return f"{duration(seconds)} ({seconds:,.0f} s)" if seconds < 1e12 else duration(seconds)


def _reaching_classes(sc, pool: str) -> str:
    """The classes that may reach ``pool`` under ``fleet.router.classes`` (pinned to it, or to no
    pool: "any pool"), or "" without the key."""
    from sim.workload import class_names

    router = sc.fleet.router
    if not router.classes or sc.fleet.disaggregated is not None:
        return ""
    pinned = [c for c in class_names(sc.workload) if pool in (router.pools_of(c) or ())]
    free = [c for c in class_names(sc.workload) if router.pools_of(c) is None]
    words = [f"{c} (pinned)" for c in pinned] + [f"{c} (any pool)" for c in free]
    return ", ".join(words) or "none"


def _step_model_words(perf) -> str:
    """The step-time model when it is not the default roofline with the default kernel set: which one, and for a
    roofline its kernel set (``perf.kernels``) and the factors replacing the set's own (``perf.kernel_factors``)."""
    kind = getattr(perf, "model", "roofline")
    if kind != "roofline":
        return kind
    kernels = getattr(perf, "kernels", "trtllm")
    factors = getattr(perf, "kernel_factors", None)
    given = {k: v for k, v in (factors.model_dump() if hasattr(factors, "model_dump") else {}).items() if v is not None}
    if kernels == "trtllm" and not given:
        return ""
    return f"roofline, kernel set {kernels}" + (
        " with " + ", ".join(f"{k} {v:g}" for k, v in sorted(given.items())) if given else "")


def _flops_level_note(pool, weight_dtype: str, scenario_perf, dense: bool) -> str | None:
    """The large-batch Hopper fp8 note of a roofline pool of a dense model (``dense``; the measured levels
    are dense models', :func:`sim.perf.levels.large_batch_note`)."""
    from sim.perf.levels import large_batch_note
    from sim.perf.utilization import sequences_per_iteration

    perf = pool.perf or scenario_perf
    if getattr(perf, "model", None) != "roofline":
        return None
    flops_set = perf.flops_efficiency is not None or perf.calibration is not None
    return large_batch_note(pool.gpu, weight_dtype, sequences_per_iteration(pool.batching), flops_set, dense)


def _moe_level_note(pool, scenario_perf, moe: bool, one_node: bool) -> str | None:
    """The MoE decode level's note of a roofline pool whose stage fits one node (``one_node``;
    :func:`sim.perf.levels.moe_decode_note`)."""
    from sim.perf.levels import moe_decode_note

    perf = pool.perf or scenario_perf
    if getattr(perf, "model", None) != "roofline":
        return None
    return moe_decode_note(moe and one_node, bool(pool.data_parallel_attention) and pool.tensor_parallel > 1,
                           perf.moe_decode_efficiency is not None)


def _batching(b) -> str:
    """One line saying what a pool's batching (after its scheduler preset) does."""
    if b.policy == "static":
        return f"static, {b.batch_size} requests per batch"
    how = ("prompts join the decode iterations" if b.mixed_batches else "prompts run in iterations of their own")
    how += ", chunked to the budget" if b.chunked_prefill else ", whole"
    keep = "whole sequence reserved (never preempted)" if b.kv_reservation == "full" else "preempt newest when out"
    return (f"scheduler {b.scheduler} ({b.policy}): {how}; {b.max_batched_tokens:,} tokens, {b.max_num_seqs} "
            f"sequences per iteration; KV: {keep}")
