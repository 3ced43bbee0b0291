"""A run's ``summary.json`` read back and checked against what fleetsim writes (:func:`read_summary`,
:func:`summary_problems`): a block where it writes a block, a number where it writes a number, each
number within its :func:`~sim.metrics.schema.natural_range` (shares within [0, 1], no negative
latency), the same in each request class's and capacity-band side's block; a ``fingerprints`` block of
SHA-256 fingerprints (:mod:`sim.report.fingerprint`).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sim.errors import given, json_kind
from sim.metrics.schema import FIXED_KEYS, natural_range
from sim.metrics.stability import VERDICTS
from sim.report.fingerprint import fingerprint_problems
from sim.report.folder_problems import raise_problems, read_json_object

#: summary blocks that are JSON objects when present (``pools`` and ``classes``: of one object each)
_BLOCKS = ("requests", "latency", "throughput", "slo", "utilization", "gpu_hours", "stability", "cost",
           "cashflow", "pools", "classes", "workload", "capacity_band", "autoscale", "failures",
           "disaggregation")
#: blocks whose every value is a number (or null), nested objects included
_NUMERIC_BLOCKS = ("requests", "latency", "throughput", "slo", "utilization", "gpu_hours")
#: other keys the report and the terminal summary read as numbers; ``*`` is any pool's name
_NUMERIC_KEYS = ("seed", "simulated_seconds", "wall_seconds", "cost.compute_usd",
                 "cost.per_million_output_tokens", "cashflow.revenue", "cashflow.compute_cost",
                 "cashflow.revenue_share_paid", "cashflow.revenue_share_received", "cashflow.net",
                 "stability.backlog_growth_per_s", "stability.offered_load_factor",
                 *(f"pools.*.{k}" for k in ("replicas", "replicas_mean", "tensor_parallel", "pipeline_parallel",
                                            "expert_parallel", "gpus_per_replica", "scale", "gpu_hours_provisioned",
                                            "gpu_busy", "kv_cache_mean", "mfu", "mbu", "load_factor")))


def read_summary(folder: Path | str) -> dict[str, Any] | None:
    """``summary.json`` of a run, or ``None`` when the folder has none; raises
    :class:`~sim.errors.InputError` for a file that is not JSON and
    :class:`~sim.errors.ScenarioError` for one that is not a summary as fleetsim writes it
    (:func:`summary_problems`)."""
    path = Path(folder) / "summary.json"
    if not path.exists():
        return None
    data = read_json_object(path, "summary")
    raise_problems(summary_problems(data), path)
    return data


def summary_problems(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, problem)`` for each value of a summary that fleetsim would not have written: a block
    that is not an object, a number that is not a number (``true``/``false`` are not numbers
    either), a number outside its :func:`~sim.metrics.schema.natural_range` (an attainment of 1.5,
    a negative latency). Keys fleetsim does not know are left alone; so are missing ones (an
    earlier version's summary has fewer).

        >>> summary_problems({"slo": {"attainment": 1.5}, "latency": {"ttft": {"p99": "fast"}}, "pools": []})
        ... # doctest: +NORMALIZE_WHITESPACE
        [('pools', 'expected an object, got a list'), ('slo.attainment', '1.5 is outside [0, 1]'),
         ('latency.ttft.p99', "expected a number, got 'fast'")]
    """
    if not any(k in summary for k in ("scenario", "simulated_seconds", *_BLOCKS)):
        return [("", "not a fleetsim summary (none of its keys: scenario, simulated_seconds, requests, "
                     "latency, slo, ...)")]
    problems = []
    for scope, block in _scopes(summary):
        for name in _BLOCKS:
            value = block.get(name)
            if value is not None and not isinstance(value, dict):
                problems.append((scope + name, f"expected an object, got {json_kind(value)}"))
        for name in ("pools", "classes"):
            for key, value in (block.get(name) if isinstance(block.get(name), dict) else {}).items():
                if not isinstance(value, dict):
                    problems.append((f"{scope}{name}.{key}", f"expected an object, got {json_kind(value)}"))
        numeric = {k for name in _NUMERIC_BLOCKS if isinstance(block.get(name), dict)
                   for k, _ in _leaves(block[name], name + ".")}
        numeric |= {k for pattern in _NUMERIC_KEYS for k in _matches(block, pattern)}
        kinds = dict(_kind_problems(block))
        problems.extend((scope + key, problem) for key, problem in kinds.items())
        for key, value in _leaves(block):
            if key in kinds:
                continue
            if key in numeric and value is not None and not _is_json_number(value):
                problems.append((scope + key, f"expected a number, got {given(value)}"))
            elif _is_json_number(value):
                lo, hi = natural_range(scope + key)
                if not math.isfinite(value):
                    problems.append((scope + key, f"{value} is not a finite number (fleetsim writes null)"))
                elif not lo <= value <= hi:
                    problems.append((scope + key, f"{given(value)} is outside [{lo:g}, {hi:g}]"))
    return problems + fingerprint_problems(summary)


def _kind_problems(block: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(key, problem)`` for each key of :data:`~sim.metrics.schema.FIXED_KEYS` (and of
    :data:`_NUMERIC_KEYS`) that holds an object where fleetsim writes a number (``slo.attainment:
    {}`` has no leaf to be found wrong), for each step on its way that is no object (``latency.ttft: 5``),
    and for a stability verdict that is not one of fleetsim's texts (``stability.verdict: 3``).

        >>> list(_kind_problems({"slo": {"attainment": {}}, "latency": {"ttft": 5}, "stability": {"verdict": 3}}))
        ... # doctest: +NORMALIZE_WHITESPACE
        [('latency.ttft', 'expected an object (mean, p50, p90, p99), got a number'),
         ('slo.attainment', 'expected a number, got an object'),
         ('stability.verdict', "expected one of 'stable', 'unstable', 'cannot tell', got a number")]
    """
    seen = set()
    numeric = sorted({*FIXED_KEYS, *(k for pattern in _NUMERIC_KEYS
                                     for k in _matches(block, pattern))})
    for key in numeric:
        parts = key.split(".")
        node: Any = block
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                break
            node, path = node[part], ".".join(parts[:depth + 1])
            last = depth == len(parts) - 1
            if path in seen:
                continue
            if last and isinstance(node, dict):      # (a list is a leaf: said by the number check)
                seen.add(path)
                yield path, f"expected a number, got {json_kind(node)}"
            elif not last and node is not None and not isinstance(node, dict) and depth > 0:
                seen.add(path)
                inner = sorted({k.split(".")[depth + 1] for k in numeric if k.startswith(path + ".")})
                yield path, f"expected an object ({', '.join(inner)}), got {json_kind(node)}"
    stability = block.get("stability")
    if isinstance(stability, dict):
        verdict = stability.get("verdict")
        if verdict is not None and verdict not in VERDICTS:
            allowed = ", ".join(repr(v) for v in VERDICTS)
            yield "stability.verdict", f"expected one of {allowed}, got {json_kind(verdict)}"
        stable = stability.get("stable")
        if stable is not None and not isinstance(stable, bool):
            yield "stability.stable", f"expected true, false or null, got {json_kind(stable)}"
        elif (isinstance(stable, bool) or stable is None and "stable" in stability) and verdict in VERDICTS \
                and VERDICTS[verdict] is not stable:
            yield "stability.stable", (f"{json.dumps(stable)} does not go with the verdict {verdict!r} "
                                       f"(fleetsim writes {json.dumps(VERDICTS[verdict])})")


def _scopes(summary: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The summary, and each request class's and capacity-band side's block within it, which
    hold the same keys (``classes.chat.slo.attainment``)."""
    yield "", summary
    for name in ("classes", "capacity_band"):
        inner = summary.get(name)
        for key, value in (inner.items() if isinstance(inner, dict) else ()):
            if isinstance(value, dict):
                yield f"{name}.{key}.", value


def _leaves(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted key, value)`` under ``node`` that is not itself an object (classes and
    capacity-band sides are left to :func:`_scopes`)."""
    for key, value in node.items():
        if isinstance(value, dict):
            if not prefix and key in ("classes", "capacity_band"):
                continue
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _matches(block: Mapping[str, Any], pattern: str) -> Iterator[str]:
    """The dotted keys of ``block`` that ``pattern`` names (``*``: any key at that level)."""
    head, _, rest = pattern.partition(".")
    keys = (block if head == "*" else [head] if head in block else []) if isinstance(block, dict) else []
    for key in keys:
        if not rest:
            yield key
        else:
            yield from (f"{key}.{k}" for k in _matches(block[key], rest))


def _is_json_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
