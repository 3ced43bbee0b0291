"""What a capacity planner reads off a configuration: GPUs, replicas, GPU-hours and money per hour,
per month and per million output tokens, in plain digits.

Every figure comes from a configuration row's means (:func:`sim.planning.sweep.configuration_rows`):

* ``GPUs``: time-averaged GPUs provisioned = ``gpu_hours.provisioned / simulated hours`` (an
  autoscaled pool counts its mean);
* ``replicas``: time-averaged replicas, every pool's ``replicas_mean x scale``;
* ``GPU-hours``: provisioned over the simulated window;
* ``$/hour`` = compute cost of the window / simulated hours; ``$/month`` = ``$/hour x 730``
  (:data:`sim.economics.calendar.HOURS_PER_MONTH`, 365 x 24 / 12: the month the report's verdict quotes);
* ``$/M out tok``: ``cost.per_million_output_tokens``;
* ``cost (window)``: ``cost.compute_usd``, the compute cost of the simulated window only.

    >>> row = {"simulated_seconds.mean": 1800.0, "gpu_hours.provisioned.mean": 8.0,
    ...        "cost.compute_usd.mean": 35.0, "cost.per_million_output_tokens.mean": 1.25,
    ...        "pools.main.replicas_mean.mean": 4.0, "pools.main.scale.mean": 4.0}
    >>> cells = planner_cells(row)
    >>> cells["GPUs"], cells["replicas"], cells["$/hour"], cells["$/month"], cells["cost (window)"]
    ('16', '16', '$70.00', '$51,100', '$35.00')
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

from sim.economics.calendar import HOURS_PER_MONTH

COLUMNS = ("GPUs", "replicas", "GPU-hours", "$/hour", "$/month", "$/M out tok", "cost (window)")
"""The planner columns, in the order tables print them."""

_REPLICAS = re.compile(r"^pools\.(.+)\.replicas_mean\.mean$")


def _num(row: Mapping[str, Any], key: str) -> float:
    v = row.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def planner_values(row: Mapping[str, Any]) -> dict[str, float]:
    """The planner figures of a configuration row (NaN where the row lacks what one needs)."""
    hours = _num(row, "simulated_seconds.mean") / 3600.0
    gh = _num(row, "gpu_hours.provisioned.mean")
    cost = _num(row, "cost.compute_usd.mean")
    reps = [(_num(row, k), _num(row, f"pools.{m.group(1)}.scale.mean"))
            for k in row if (m := _REPLICAS.match(k))]
    per_hour = cost / hours if hours > 0 else math.nan
    return {"GPUs": gh / hours if hours > 0 else math.nan,
            "replicas": sum(r * (s if s == s else 1.0) for r, s in reps) if reps else math.nan,
            "GPU-hours": gh, "$/hour": per_hour, "$/month": per_hour * HOURS_PER_MONTH,
            "$/M out tok": _num(row, "cost.per_million_output_tokens.mean"), "cost (window)": cost}


def plain(value: Any, money: bool = False) -> str:
    """A number in plain digits with thousands separators, never scientific notation:
    whole numbers from 100 up, 2 decimals from 1 (money always 2 below 100), 3 significant below."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    v = float(value)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    sign, a = ("-" if v < 0 else ""), abs(v)
    if a >= 100 or (abs(a - round(a)) <= 1e-9 * max(a, 1.0) and not money):
        text = f"{a:,.0f}"
    elif a >= 1 or money:
        text = f"{a:,.2f}"
    elif a == 0:
        text = "0"
    else:
        decimals = min(12, 2 - int(math.floor(math.log10(a))))
        text = f"{a:.{decimals}f}"
    return f"{sign}${text}" if money else f"{sign}{text}"


def planner_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """:func:`planner_values` formatted for a text table."""
    return {k: plain(v, money=k.startswith("$") or k.startswith("cost")) for k, v in planner_values(row).items()}


def tightest(row: Mapping[str, Any], constraints) -> tuple[Any, float, float] | None:
    """The constraint of a judged row with the least slack (:meth:`Constraint.slack` of its judged,
    unfavourable-CI-end value), as ``(constraint, judged value, slack)``; None without a constraint
    that has a value and a bound other than 0."""
    found = None
    for c in constraints:
        v = row.get(f"judged:{c}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            s = c.slack(float(v))
            if s == s and (found is None or s < found[2]):
                found = (c, float(v), s)
    return found


def headroom_words(constraint, value: float, slack: float) -> str:
    """A constraint's slack as a planner reads it: a per cent of its bound while the value is within
    the bound's own size of it (``12.5%`` inside, ``-40.0%`` outside), and past that, where a per cent
    runs into the thousands, how far off it is: ``×125 over`` (an upper bound exceeded 125-fold), else
    ``missed by`` the gap.

        >>> from sim.planning.constraints import parse_constraint
        >>> ttft = parse_constraint("latency.ttft.p99<=0.001")
        >>> headroom_words(ttft, 0.1254, ttft.slack(0.1254)), headroom_words(ttft, 0.0009, ttft.slack(0.0009))
        ('×125 over', '10.0%')
        >>> net = parse_constraint("cashflow.net>=-100")
        >>> headroom_words(net, -5000.0, net.slack(-5000.0))
        'missed by 4,900'
    """
    if slack != slack:
        return "-"
    if slack >= -1:
        return f"{slack * 100:,.1f}%"
    if constraint.upper and constraint.bound > 0:
        return f"×{plain(value / constraint.bound)} over"
    return f"missed by {plain(abs(value - constraint.bound))}"


def headroom_fields(row: Mapping[str, Any], constraints) -> dict[str, Any]:
    """A judged row's headroom as table fields: ``headroom`` (the tightest constraint's slack, a share
    of its bound, negative when broken; None without one), ``headroom.constraint`` (which) and
    ``headroom.text`` (:func:`headroom_words`, as the terminal prints it)."""
    t = tightest(row, constraints)
    if t is None:
        return {"headroom": None, "headroom.constraint": "", "headroom.text": "-"}
    c, v, s = t
    return {"headroom": s, "headroom.constraint": str(c), "headroom.text": headroom_words(c, v, s)}


def parse_columns(text: str | None) -> list[str]:
    """``--columns a.b,c.d`` → ``["a.b", "c.d"]`` (empty names dropped)."""
    return [c.strip() for c in (text or "").split(",") if c.strip()]
