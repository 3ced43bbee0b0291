"""Semantic checks of a ``workload:`` block that pydantic's per-field limits cannot express.

:func:`validate` returns ``(field_path, message)`` pairs such as
``("workload.classes", "shares must sum to 1 (got 0.9)")``; an empty list means the block is
usable. Paths join pydantic-style locations with dots (``workload.classes.1.prompt_tokens``).
"""
from __future__ import annotations

import math
import pathlib

from sim.errors import InputError, given
from sim.paths import resolve_path
from sim.scenario.workload import (
    ArrivalProcess,
    DiurnalArrival,
    EmpiricalTokens,
    LognormalTokens,
    PiecewiseArrival,
    TokenDist,
    TraceArrival,
    TraceTokens,
    UniformTokens,
    WorkloadConfig,
)
from sim.workload.classes import class_names, class_prefix
from sim.workload.closed import workload_problems
from sim.workload.lengths import most_tokens
from sim.workload.traces import check_trace, read_trace

SHARE_TOLERANCE = 1e-9


def _file_problem(where: str, path: str, format: str, base_dir: pathlib.Path) -> list[tuple[str, str]]:
    """A trace file that is missing, unreadable or holds no usable row (read up to its first good row)."""
    resolved = resolve_path(path, base_dir)
    try:
        if resolved.is_dir():
            return [(where, f"{given(path)} is a folder, not a trace file (paths are relative to the scenario's "
                            "folder)")]
        if resolved.exists() and not resolved.is_file():      # /dev/zero, /dev/stdin, a pipe: never ends
            return [(where, f"{given(path)} is not a regular file (a device, pipe or socket cannot be a trace)")]
        if not resolved.is_file():
            return [(where, f"trace file not found: {given(path)} (paths are relative to the scenario's folder)")]
    except OSError as exc:      # a name too long for the file system, say
        return [(where, f"cannot open trace file {given(path)} ({exc.strerror or exc})")]
    try:
        check_trace(resolved, format, display_path=path)
    except InputError as exc:
        return [(where, str(exc))]
    return []


def _dist_problems(where: str, dist: TokenDist, base_dir: pathlib.Path) -> list[tuple[str, str]]:
    out = []
    if isinstance(dist, UniformTokens) and dist.low > dist.high:
        out.append((f"{where}.high", f"must be >= low ({dist.low}) (got {dist.high})"))
    elif isinstance(dist, LognormalTokens) and dist.max is not None and dist.max < dist.min:
        out.append((f"{where}.max", f"must be >= min ({dist.min}) (got {dist.max})"))
    elif isinstance(dist, EmpiricalTokens) and dist.weights is not None:
        if len(dist.weights) != len(dist.values):
            out.append((f"{where}.weights", f"must have one weight per value ({len(dist.values)}) "
                                            f"(got {len(dist.weights)})"))
        elif not sum(dist.weights) > 0:
            out.append((f"{where}.weights", "must not all be 0"))
    elif isinstance(dist, TraceTokens):
        out += _file_problem(f"{where}.path", dist.path, dist.format, base_dir)
    return out


def _arrival_problems(where: str, arrival: ArrivalProcess, base_dir: pathlib.Path) -> list[tuple[str, str]]:
    out = []
    if isinstance(arrival, DiurnalArrival):
        if arrival.period <= 0:
            out.append((f"{where}.period", f"must be > 0 (got {arrival.period:g})"))
        if arrival.weekly is not None:
            if len(arrival.weekly) != 7:
                out.append((f"{where}.weekly", f"must have 7 factors, Monday first (got {len(arrival.weekly)})"))
            elif not sum(arrival.weekly) > 0:
                out.append((f"{where}.weekly", "must not all be 0"))
    elif isinstance(arrival, PiecewiseArrival):
        if len(arrival.times) != len(arrival.rates):
            out.append((f"{where}.rates", f"must have one rate per time ({len(arrival.times)}) "
                                          f"(got {len(arrival.rates)})"))
        if arrival.times and arrival.times[0] != 0:
            out.append((f"{where}.times", f"must start at 0 (got {arrival.times[0]:g})"))
        if any(b <= a for a, b in zip(arrival.times, arrival.times[1:])):
            out.append((f"{where}.times", f"must be strictly increasing (got {list(arrival.times)})"))
        if arrival.rates and not max(arrival.rates) > 0:
            out.append((f"{where}.rates", "must not all be 0"))
    elif isinstance(arrival, TraceArrival):
        out += _file_problem(f"{where}.path", arrival.path, arrival.format, base_dir)
    return out


def validate(cfg: WorkloadConfig, base_dir: pathlib.Path = pathlib.Path(".")) -> list[tuple[str, str]]:
    """Problems with ``cfg`` as ``(field_path, message)`` pairs; empty if it can be generated.

    ``base_dir`` is the folder trace paths are relative to (the scenario file's folder).
    """
    base_dir = pathlib.Path(base_dir)
    out: list[tuple[str, str]] = []
    if cfg.arrival is not None:
        out += _arrival_problems("workload.arrival", cfg.arrival, base_dir)
    out += workload_problems(cfg)
    for field in ("prompt_tokens", "output_tokens"):
        dist = getattr(cfg, field)
        if dist is not None:
            out += _dist_problems(f"workload.{field}", dist, base_dir)

    if not cfg.classes:
        if cfg.arrival is None:
            out.append(("workload.arrival", "required: an arrival process such as {process: poisson, rate: 12}"))
            return out
        out += _length_sources("workload", cfg.prompt_tokens, cfg.output_tokens, cfg.arrival)
        out += _prefix_problems("workload.shared_prefix_tokens", cfg.shared_prefix_tokens, cfg.prompt_tokens,
                                "workload.prompt_tokens", "the workload")
        return out

    names = [c.name for c in cfg.classes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        out.append(("workload.classes", f"class names must be unique (got {', '.join(map(repr, dupes))} twice)"))
    shared = [c for c in cfg.classes if c.share is not None]
    for i, c in enumerate(cfg.classes):
        where = f"workload.classes.{i}"
        if (c.share is None) == (c.arrival is None):
            out.append((where, f"give exactly one of share (a fraction of workload.arrival) or arrival "
                               f"(its own process) (class {c.name!r} has "
                               f"{'both' if c.share is not None else 'neither'})"))
        if c.arrival is not None:
            out += _arrival_problems(f"{where}.arrival", c.arrival, base_dir)
        for field in ("prompt_tokens", "output_tokens"):
            dist = getattr(c, field)
            if dist is not None:
                out += _dist_problems(f"{where}.{field}", dist, base_dir)
        source = c.arrival if c.share is None else cfg.arrival
        out += _length_sources(where, c.prompt_tokens or cfg.prompt_tokens,
                               c.output_tokens or cfg.output_tokens, source)
        own = c.shared_prefix_tokens is not None
        out += _prefix_problems(f"{where if own else 'workload'}.shared_prefix_tokens",
                                class_prefix(c, cfg), c.prompt_tokens or cfg.prompt_tokens,
                                f"{where if c.prompt_tokens else 'workload'}.prompt_tokens", f"class {c.name!r}")
    if shared:
        total = math.fsum(c.share for c in shared)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            out.append(("workload.classes", f"shares must sum to 1 (got {total:.12g})"))
        if cfg.arrival is None:
            out.append(("workload.arrival", "required: classes with a share split workload.arrival"))
    elif cfg.arrival is not None:
        out.append(("workload.arrival", "not used: every class has its own arrival "
                                        "(remove it, or give the classes a share instead)"))
    return out


def trace_files(cfg: WorkloadConfig) -> list[tuple[str, str, str]]:
    """Every trace file the workload names, as ``(field path, path as written, format)``: the
    arrival process's and the token lengths', the workload's and each class's."""
    blocks = [("workload", cfg)] + [(f"workload.classes.{i}", c) for i, c in enumerate(cfg.classes or [])]
    out = []
    for where, block in blocks:
        for field in ("arrival", "prompt_tokens", "output_tokens"):
            item = getattr(block, field, None)
            if isinstance(item, (TraceArrival, TraceTokens)):
                out.append((f"{where}.{field}.path", item.path, item.format))
    return out


def trace_row_problems(cfg: WorkloadConfig, base_dir: pathlib.Path, skip_bad_rows: bool = False,
                       duration: float | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every row of every trace the workload names, read as a run reads it: ``(problems, skipped)``.

    ``problems``: the first bad row of each file as ``(field path, message)`` (with
    ``skip_bad_rows``, only a file left with no request); with the run's ``duration``, also an arrival
    trace the run would refuse to replay (its first row at or after the end of the run, or ``loop``
    over rows of one time without a ``loop_period``, or with one shorter than the rows' span). ``skipped`` (only with ``skip_bad_rows``):
    ``(field path, what a run would leave out)`` per file with bad rows. :func:`validate` reads a
    trace only up to its first good row (a run reads it whole anyway); ``fleetsim validate`` reads
    it all."""
    import numpy as np

    from sim.workload.trace_replay import trace_blocks, trace_rate_problem

    problems, skipped = [], []
    blocks = [("workload", cfg)] + [(f"workload.classes.{i}", c) for i, c in enumerate(cfg.classes or [])]
    replayed = {f"{w}.arrival.path": b.arrival for w, b in blocks if isinstance(b.arrival, TraceArrival)}
    for where, path, format in trace_files(cfg):
        resolved = resolve_path(path, base_dir)
        if not resolved.is_file():
            continue        # validate() has said so
        try:
            data = read_trace(resolved, format, skip_bad_rows=skip_bad_rows, display_path=path)
        except InputError as exc:
            problems.append((where, str(exc)))
            continue
        too_fast = trace_rate_problem(data.arrival_s, replayed[where]) if where in replayed else None
        if too_fast:        # (the run says so before its first request; the block below reads no copies)
            problems.append((f"{where.removesuffix('.path')}.rate_scale", f"{path}: {too_fast}"))
        if where in replayed and duration is not None:
            try:        # what the run checks before it replays the first row (it said ok, and the run refused)
                once = replayed[where].model_copy(update={"rate_scale": 1.0})   # (no copies drawn: one block read)
                next(trace_blocks(data, once, duration, np.random.default_rng(0)), None)
            except InputError as exc:
                field = getattr(exc, "field", None)      # a key beside the path at fault (loop_period)
                problems.append((f"{where.removesuffix('.path')}.{field}" if field else where, str(exc)))
        if where == "workload.arrival.path" and cfg.classes:     # the run refused it, validate said ok
            unknown = unknown_tenants(data, class_names(cfg))
            if unknown:
                problems.append((where, unknown))
        if data.bad_rows:
            first = f"; the first, {data.messages[0].removeprefix(f'{path}: ')}" if data.messages else ""
            skipped.append((where, f"{path}: {data.bad_rows:,} bad {'row' if data.bad_rows == 1 else 'rows'} "
                                   f"left out by --skip-bad-rows{first}"))
    return problems, skipped


def unknown_tenants(trace, names: list[str]) -> str | None:
    """Why the trace's tenants cannot name the workload's classes ``names`` (a tenant that is not one of
    them), or ``None`` when they can (or the trace names none)."""
    unknown = [n for n in trace.tenant_names if n not in names]
    if not unknown:
        return None
    return (f"{trace.path}: tenant(s) {', '.join(map(repr, unknown))} are not classes "
            f"(classes: {', '.join(map(repr, names))})")


longest_prompt = most_tokens
"""The most tokens a prompt distribution can draw (:func:`sim.workload.lengths.most_tokens`), by the name
it had here."""


def _prefix_problems(where: str, prefix: int, prompt: TokenDist | None, prompt_where: str,
                     whose: str) -> list[tuple[str, str]]:
    """A shared prefix longer than every prompt it leads: the prefix cache kept each prompt but its last
    token (as though every prompt were the prefix) and nothing said the two numbers disagree."""
    longest = most_tokens(prompt)
    if not prefix or longest is None or prefix <= longest:
        return []
    return [(where, f"{prefix:,} tokens is longer than any prompt of {whose} ({prompt_where} draws at most "
                    f"{longest:,}): a prompt cannot begin with a shared prefix longer than itself; give at most "
                    f"{longest:,}, or longer prompts")]


def _length_sources(where: str, prompt: TokenDist | None, output: TokenDist | None,
                    source: ArrivalProcess | None) -> list[tuple[str, str]]:
    out = []
    if source is None or isinstance(source, TraceArrival):
        return out
    for field, dist in (("prompt_tokens", prompt), ("output_tokens", output)):
        if dist is None:
            also = f" (or at workload.{field} for every class)" if where != "workload" else ""
            out.append((f"{where}.{field}", "required: a distribution such as {dist: lognormal, mean: 1000, cv: 1}"
                                            f"{also}; only trace arrivals carry their own lengths"))
    return out


__all__ = ["SHARE_TOLERANCE", "longest_prompt", "resolve_path", "trace_files", "trace_row_problems", "unknown_tenants",
           "validate"]
