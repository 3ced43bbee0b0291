"""A plan's headroom: the slack of a judged configuration's tightest constraint, in a planner's words;
and ``--columns``. The planner columns themselves (GPUs, replicas, GPU-hours, money per hour, per month
and per million output tokens) are :mod:`sim.report.planner_columns`, shared with ``report.html``.
"""
from __future__ import annotations

from typing import Any, Mapping

from sim.report.planner_columns import COLUMNS, HOURS_PER_MONTH, plain, planner_cells, planner_values

__all__ = ["COLUMNS", "HOURS_PER_MONTH", "plain", "planner_cells", "planner_values", "tightest",
           "headroom_words", "headroom_fields", "parse_columns"]


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
        >>> headroom_words(ttft, 0.06954, ttft.slack(0.06954)), headroom_words(ttft, 0.00243, ttft.slack(0.00243))
        ('×70 over', '×2.4 over')
        >>> att = parse_constraint("slo.attainment>=0.99")
        >>> headroom_words(att, 0.9899, att.slack(0.9899))
        '-0.01%'
        >>> net = parse_constraint("cashflow.net>=-100")
        >>> headroom_words(net, -5000.0, net.slack(-5000.0))
        'missed by 4,900'
    """
    if slack != slack:
        return "-"
    if slack >= -1:
        pct = slack * 100
        return f"{pct:.2g}%" if 0 < abs(pct) < 0.05 else f"{pct:,.1f}%"     # -0.01%, never -0.0%
    if constraint.upper and constraint.bound > 0:
        ratio = value / constraint.bound   # > 2 here: a whole number from 10 on, else one decimal
        return f"×{ratio:,.0f} over" if ratio >= 10 else f"×{ratio:.1f} over"
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
