"""A summary key as a planner says it: its name in words and its unit, and a value with its bound in both.

Machine-readable output (``summary.json``, ``plan.csv``) keeps the dotted keys and raw numbers; these
words are for sentences a person reads, such as why a configuration misses a constraint.

    >>> said("latency.ttft.p99", 485.0), said("slo.attainment", 0.9899), said("cost.compute_usd", 7.5)
    ('TTFT p99 485 s', 'SLO attainment 98.99 %', 'compute cost $7.50')
    >>> bound_words("latency.ttft.p99", "<=", 2.0)
    'needs <= 2 s'
"""
from __future__ import annotations

import math

from sim import humanize

_LATENCIES = {"ttft": "TTFT", "tpot": "TPOT", "itl": "ITL", "e2e": "end-to-end latency", "queue": "queue wait"}
#: keys with a name of their own (others are said by their last parts, underscores as spaces)
NAMES = {
    "slo.attainment": "SLO attainment", "slo.goodput_rps": "goodput",
    "throughput.requests_per_s": "throughput", "throughput.output_tokens_per_s": "output tokens/s",
    "utilization.gpu_busy": "GPU busy", "utilization.kv_cache_mean": "KV cache use (mean)",
    "utilization.mfu": "MFU", "utilization.mbu": "MBU", "utilization.load_factor": "load factor",
    "stability.backlog_growth_per_s": "backlog growth",
    "gpu_hours.provisioned": "GPU-hours provisioned", "gpu_hours.busy": "GPU-hours busy",
    "cost.compute_usd": "compute cost", "cost.per_million_output_tokens": "cost per million output tokens",
    "cashflow.net": "net (accrual)", "cashflow.cash_net": "net (cash)",
}
#: units written after a number that are not seconds, money or shares
_RATES = {"throughput.requests_per_s": "req/s", "slo.goodput_rps": "req/s",
          "throughput.output_tokens_per_s": "tok/s", "stability.backlog_growth_per_s": "req/s"}


def unit_of(metric: str) -> str:
    """The display unit of a summary key: ``s`` for latencies, ``USD`` for money, ``%`` for shares
    (stored as fractions), else ``""``.

        >>> unit_of("latency.ttft.p99"), unit_of("cost.compute_usd"), unit_of("slo.attainment"), unit_of("throughput.requests_per_s")
        ('s', 'USD', '%', '')
    """
    if metric.startswith("latency.") or metric.endswith("_s") and not metric.endswith("_per_s"):
        return "s"                   # (a rate such as throughput.requests_per_s is no time)
    if metric.startswith(("cost.", "cashflow.")) or metric.endswith("_usd"):
        return "USD"
    if metric in ("slo.attainment",) or metric.startswith("utilization.") and metric != "utilization.load_factor":
        return "%"
    return ""


def name_of(metric: str) -> str:
    """A summary key in words: ``TTFT p99``, ``SLO attainment``; a class's or a pool's key says whose
    (``TTFT p99 of class chat``); a key without a name of its own, its last parts.

        >>> name_of("latency.e2e.mean"), name_of("classes.chat.latency.ttft.p99"), name_of("pools.main.gpu_busy")
        ('end-to-end latency mean', 'TTFT p99 of class chat', 'gpu busy of pool main')
    """
    parts = metric.split(".")
    if parts[0] in ("classes", "pools") and len(parts) > 2:
        return f"{name_of('.'.join(parts[2:]))} of {parts[0][:-2] if parts[0] == 'classes' else 'pool'} {parts[1]}"
    if parts[0] == "capacity_band" and len(parts) > 2:
        return f"{name_of('.'.join(parts[2:]))} ({parts[1]} side of the capacity band)"
    if metric in NAMES:
        return NAMES[metric]
    if parts[0] == "latency" and len(parts) == 3 and parts[1] in _LATENCIES:
        return f"{_LATENCIES[parts[1]]} {parts[2]}"
    return " ".join(parts[1:] if len(parts) > 1 else parts).replace("_", " ")


def _base(metric: str) -> str:
    """The key whose unit a class's, a pool's or a band side's key has."""
    parts = metric.split(".")
    return ".".join(parts[2:]) if parts[0] in ("classes", "pools", "capacity_band") and len(parts) > 2 else metric


def amount(metric: str, value: float, scale_of: float | None = None) -> str:
    """``value`` of ``metric`` in its unit: seconds (milliseconds when ``scale_of``, the number it is
    compared with, is under a second), money, a share as a per cent; four significant figures, never
    in scientific notation.

        >>> amount("latency.ttft.p99", 0.921, 0.01), amount("latency.ttft.p99", 401.7), amount("slo.attainment", 0.0196)
        ('921 ms', '401.7 s', '1.96 %')
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return "missing"
    key = _base(metric)
    unit = unit_of(key)
    if unit == "s":
        ms = abs(scale_of if scale_of is not None else value) < 1
        return f"{humanize.number(value * 1000 if ms else value, digits=4)} {'ms' if ms else 's'}"
    if unit == "USD":
        return humanize.money(value) if key != "cost.per_million_output_tokens" or abs(value) >= 0.01 else \
            f"${humanize.number(value, digits=3)}"
    if unit == "%":
        return f"{humanize.number(value * 100, digits=4)} %"
    rate = _RATES.get(key)
    return humanize.number(value, digits=4) + (f" {rate}" if rate else "")


def said(metric: str, value: float, scale_of: float | None = None) -> str:
    """The metric's name and its value in its unit (:func:`name_of`, :func:`amount`)."""
    return f"{name_of(metric)} {amount(metric, value, scale_of)}"


def bound_words(metric: str, op: str, bound: float) -> str:
    """What a constraint asks, in the metric's unit: ``needs <= 2 s``, ``needs >= 99 %``."""
    return f"needs {op} {amount(metric, bound, bound)}"
