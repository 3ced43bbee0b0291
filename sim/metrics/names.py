"""A summary key as a planner says it: its name in words and its unit, and a value with its bound in both.

:data:`METRICS` is the one table of these words: the run page's metrics table, the terminal summary,
the figures' labels and the planner's why-not sentences all read it. Machine-readable output
(``summary.json``, ``plan.csv``) keeps the dotted keys and raw numbers; these words are for what a
person reads.

    >>> said("latency.ttft.p99", 485.0), said("slo.attainment", 0.9899), said("cost.compute_usd", 7.5)
    ('TTFT p99 485 s', 'SLO attainment 98.99 %', 'compute cost $7.50')
    >>> bound_words("latency.ttft.p99", "<=", 2.0)
    'needs <= 2 s'
"""
from __future__ import annotations

import math

from sim import humanize

_LATENCIES = {"ttft": "TTFT", "tpot": "TPOT", "itl": "ITL", "e2e": "end-to-end", "queue": "queue wait"}
#: every summary key said by name: its words (short enough for a table heading, clear in a sentence)
#: and its display unit (``s``, ``USD``, ``%`` for a share stored as a fraction, ``h``, a rate such as
#: ``req/s``, or ``""``); a key not here is said by its last parts, underscores as spaces
METRICS: dict[str, tuple[str, str]] = {
    "requests.arrived": ("requests arrived", ""), "requests.completed": ("requests completed", ""),
    "requests.rejected": ("requests rejected", ""), "requests.in_flight": ("requests in flight at the end", ""),
    "requests.abandoned": ("requests abandoned (client gave up waiting)", ""),
    "requests.abandoned_share": ("share abandoned (client gave up waiting)", "%"),
    "requests.refused_share": ("share refused (waiting room full)", "%"),
    **{f"latency.{k}.{q}": (f"{words} {q}", "s") for k, words in _LATENCIES.items()
       for q in ("mean", "p50", "p90", "p99")},
    "throughput.requests_per_s": ("throughput", "req/s"),
    "throughput.input_tokens_per_s": ("input throughput", "tok/s"),
    "throughput.output_tokens_per_s": ("output throughput", "tok/s"),
    "slo.attainment": ("SLO attainment", "%"), "slo.goodput_rps": ("goodput", "req/s"),
    "utilization.gpu_busy": ("GPU busy", "%"), "utilization.kv_cache_mean": ("KV cache use (mean)", "%"),
    "utilization.mfu": ("MFU", "%"), "utilization.mbu": ("MBU", "%"),
    "utilization.load_factor": ("load factor", ""),
    "failures.availability": ("replica availability", "%"), "failures.failures": ("replica failures", ""),
    "failures.requests_retried": ("requests retried after a failure", ""),
    "failures.requests_failed": ("requests failed (no retries left)", ""),
    "stability.stable": ("stable (no growing backlog)", ""), "stability.verdict": ("stability verdict", ""),
    "stability.backlog_growth_per_s": ("backlog growth", "req/s"),
    "stability.offered_load_factor": ("offered load factor", ""),
    "stability.admitted_load_factor": ("admitted load factor", ""),
    "gpu_hours.provisioned": ("GPU-hours provisioned", "h"), "gpu_hours.busy": ("GPU-hours busy", "h"),
    "cost.compute_usd": ("compute cost", "USD"),
    "cost.compute_with_commits_usd": ("compute cost with the commits' shortfalls", "USD"),
    "cost.per_million_output_tokens": ("cost per million output tokens", "USD"),
    "cashflow.revenue": ("revenue", "USD"), "cashflow.compute_cost": ("compute cost (ledger)", "USD"),
    "cashflow.revenue_share_paid": ("revenue share paid", "USD"),
    "cashflow.revenue_share_received": ("revenue share received", "USD"),
    "cashflow.training_cost": ("training cost", "USD"), "cashflow.credits_applied": ("credits applied", "USD"),
    "cashflow.energy_cost": ("energy cost (owned pools)", "USD"), "cashflow.sla_credits": ("SLA credits owed", "USD"),
    "cashflow.compute_commit_shortfall": ("compute commit shortfall", "USD"),
    "cashflow.revenue_share_net": ("net revenue share (accrual; + received)", "USD"),
    "cashflow.cash_revenue_share_net": ("net revenue share (cash; + received)", "USD"),
    "cashflow.net": ("net (accrual)", "USD"), "cashflow.cash_net": ("net (cash)", "USD"),
}
#: a pool's own keys (``pools.<name>.<key>``) with the fleet's key whose words and unit they have
POOL_KEYS = {"gpu_hours_provisioned": "gpu_hours.provisioned", "gpu_busy": "utilization.gpu_busy",
             "kv_cache_mean": "utilization.kv_cache_mean", "mfu": "utilization.mfu", "mbu": "utilization.mbu",
             "load_factor": "utilization.load_factor"}


def unit_of(metric: str) -> str:
    """The display unit of a summary key (:data:`METRICS`; a class's, a pool's or a band side's key
    has its base key's): ``s`` for latencies, ``USD`` for money, ``%`` for shares (stored as
    fractions), ``h`` for GPU-hours, a rate's unit; for a key not in the table ``s`` when it ends in
    ``_s`` (not ``_per_s``), ``USD`` for money, else ``""``.

        >>> unit_of("latency.ttft.p99"), unit_of("cost.compute_usd"), unit_of("slo.attainment"), unit_of("throughput.requests_per_s")
        ('s', 'USD', '%', 'req/s')
        >>> unit_of("classes.chat.latency.ttft.p99"), unit_of("pools.main.gpu_busy"), unit_of("slo.ttft_s")
        ('s', '%', 's')
    """
    key = _base(metric)
    if key in METRICS:
        return METRICS[key][1]
    if key.endswith("_s") and not key.endswith("_per_s"):
        return "s"                   # (a rate such as throughput.requests_per_s is no time)
    if key.startswith(("cost.", "cashflow.")) or key.endswith("_usd"):
        return "USD"
    return ""


def name_of(metric: str) -> str:
    """A summary key in words (:data:`METRICS`): ``TTFT p99``, ``SLO attainment``; a class's or a
    pool's key says whose (``TTFT p99 of class chat``); a key without a name of its own, its last parts.

        >>> name_of("latency.e2e.mean"), name_of("classes.chat.latency.ttft.p99"), name_of("pools.main.gpu_busy")
        ('end-to-end mean', 'TTFT p99 of class chat', 'GPU busy of pool main')
    """
    parts = metric.split(".")
    if parts[0] in ("classes", "pools") and len(parts) > 2:
        rest = ".".join(parts[2:])
        rest = POOL_KEYS.get(rest, rest) if parts[0] == "pools" else rest
        return f"{name_of(rest)} of {parts[0][:-2] if parts[0] == 'classes' else 'pool'} {parts[1]}"
    if parts[0] == "capacity_band" and len(parts) > 2:
        return f"{name_of('.'.join(parts[2:]))} ({parts[1]} side of the capacity band)"
    if metric in METRICS:
        return METRICS[metric][0]
    return " ".join(parts[1:] if len(parts) > 1 else parts).replace("_", " ")


def heading(metric: str) -> str:
    """A summary key's words with the unit of its bare numbers, for an axis: ``TTFT p99 (s)``; a share
    (drawn as a fraction) and GPU-hours (the words say hours) have none.

        >>> heading("latency.ttft.p99"), heading("cost.compute_usd"), heading("throughput.output_tokens_per_s")
        ('TTFT p99 (s)', 'compute cost (USD)', 'output throughput (tok/s)')
    """
    words, unit = name_of(metric), unit_of(metric)
    return words if unit in ("", "%", "h") else f"{words} ({unit})"


def _base(metric: str) -> str:
    """The key whose unit a class's, a pool's or a band side's key has."""
    parts = metric.split(".")
    if parts[0] in ("classes", "pools", "capacity_band") and len(parts) > 2:
        rest = ".".join(parts[2:])
        return POOL_KEYS.get(rest, rest) if parts[0] == "pools" else rest
    return metric


def amount(metric: str, value: float, scale_of: float | None = None) -> str:
    """``value`` of ``metric`` in its unit: seconds (milliseconds when ``scale_of``, the number it is
    compared with, is under a second), money, a share as a per cent, a rate with its unit; four
    significant figures, never in scientific notation.

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
        return f"{_per_cent(value, scale_of)} %"
    return humanize.number(value, digits=4) + (f" {unit}" if unit not in ("", "h") else "")


def _per_cent(value: float, scale_of: float | None = None) -> str:
    """A share as a per cent to four significant figures, with more decimals where that would read as
    0 %, 100 % or ``scale_of`` (the bound it is compared with) without being it: an attainment of
    0.99999 reads ``99.999``, not ``100``, and 0.98996 beside a bound of 0.99 reads ``98.996``, not the
    bound's ``99`` (:func:`sim.humanize.share`'s ``apart``).

        >>> _per_cent(0.0196), _per_cent(0.99999), _per_cent(0.98996, 0.99), _per_cent(1.0), _per_cent(0.0)
        ('1.96', '99.999', '98.996', '100', '0')
    """
    text = humanize.number(value * 100, digits=4)
    marks = tuple(m for m in (0.0, 1.0, scale_of) if isinstance(m, (int, float)) and math.isfinite(m) and m != value
                  and text in (humanize.number(m * 100, digits=4), _bound_per_cent(m)))
    return humanize.share(value, 2, apart=marks).removesuffix("%") if marks else text


def _bound_per_cent(bound: float) -> str:
    """A share's bound as a per cent with every digit it was given: 0.99995 is ``99.995``, not the ``100``
    four significant figures would make of it.

        >>> _bound_per_cent(0.99995), _bound_per_cent(0.99), _bound_per_cent(0.5)
        ('99.995', '99', '50')
    """
    return f"{round(bound * 100, 10):,.12g}"


def said(metric: str, value: float, scale_of: float | None = None) -> str:
    """The metric's name and its value in its unit (:func:`name_of`, :func:`amount`)."""
    return f"{name_of(metric)} {amount(metric, value, scale_of)}"


def bound_words(metric: str, op: str, bound: float) -> str:
    """What a constraint asks, in the metric's unit: ``needs <= 2 s``, ``needs >= 99 %``; a share's bound
    with every digit given (``needs >= 99.995 %``, never ``100 %`` for a bound short of it).

        >>> bound_words("slo.attainment", ">=", 0.99995), bound_words("latency.ttft.p99", "<=", 2.0)
        ('needs >= 99.995 %', 'needs <= 2 s')
    """
    if unit_of(_base(metric)) == "%" and isinstance(bound, (int, float)) and math.isfinite(bound):
        return f"needs {op} {_bound_per_cent(bound)} %"
    return f"needs {op} {amount(metric, bound, bound)}"
