"""What a capacity planner reads off a configuration: GPUs, replicas, GPU-hours and money per hour,
per month and per million output tokens, in plain digits; the same in the terminal's tables
(``fleetsim sweep``, ``plan``) and on ``report.html``, which also picks the configurations a plan's
table compares (:func:`plan_rows`).

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
from collections.abc import Mapping, Sequence
from typing import Any

from sim import humanize
from sim.economics.calendar import HOURS_PER_MONTH
from sim.report.overview import busiest_pool, headroom

COLUMNS = ("GPUs", "replicas", "GPU-hours", "$/hour", "$/month", "$/M out tok", "cost (window)")
"""The planner columns, in the order tables print them."""

_REPLICAS = re.compile(r"^pools\.(.+)\.replicas_mean\.mean$")
_POOL_REPLICAS = re.compile(r"^fleet\.pools\.[^.]+\.replicas$")


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


def percent(value: Any, apart: Sequence[float] = ()) -> str:
    """A share (a fraction, as the summary stores it) in per cent for a table column headed ``(%)``: the
    number alone with two decimals, as ``fleetsim run`` prints attainment, and more where that would read as
    0, 100 or a mark of ``apart`` (a constraint's bound) without being it (:func:`sim.humanize.attainment`), so
    that an attainment short of 1 never reads as 100 beside a bound of 0.99995; no number as :func:`plain`.

        >>> percent(0.9999), percent(0.99999), percent(1.0), percent(0.0), percent(0.0267)
        ('99.99', '99.999', '100.00', '0.00', '2.67')
        >>> percent(0.98996, (0.99,)), percent(1e-6), percent(None)
        ('98.996', '0.0001', '-')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return plain(value)
    return humanize.attainment(float(value), tuple(apart)).removesuffix("%")


def planner_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """:func:`planner_values` formatted for a text table."""
    return {k: plain(v, money=k.startswith("$") or k.startswith("cost")) for k, v in planner_values(row).items()}


def replicas_repeat_a_knob(rows: Sequence[Mapping[str, Any]], knobs: Sequence[str]) -> bool:
    """Whether the ``replicas`` planner column would repeat a knob's column: a knob sets a pool's
    replicas (``fleet.pools.0.replicas``) and, in every row, the fleet's time-averaged replicas read the
    same as that knob's value (one pool, no autoscaling); a table then leaves the planner column out.

        >>> row = {"fleet.pools.0.replicas": 4, "simulated_seconds.mean": 3600.0,
        ...        "pools.main.replicas_mean.mean": 4.0, "pools.main.scale.mean": 1.0}
        >>> replicas_repeat_a_knob([row], ["fleet.pools.0.replicas"]), replicas_repeat_a_knob([row], ["seed"])
        (True, False)
        >>> replicas_repeat_a_knob([{**row, "pools.main.replicas_mean.mean": 3.5}], ["fleet.pools.0.replicas"])
        False
    """
    rows = list(rows)
    if not rows:
        return False
    cells = [planner_cells(r)["replicas"] for r in rows]
    return any(_POOL_REPLICAS.match(k) and all(c == plain(r.get(k)) for c, r in zip(cells, rows))
               for k in knobs)


def _headroom(row: Mapping[str, Any]) -> float:
    v = row.get("headroom")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else -math.inf


def nearest_miss(evaluated: Sequence[Mapping[str, Any]], objective: str,
                 answer: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
    """Of a plan's evaluated configurations that ran but do not meet every constraint, the one that
    came nearest: the largest headroom (the slack of its tightest constraint, least negative); among
    misses whose headroom ties (two fleets both at 0 % attainment, both -100 %), the one nearest the
    ``answer`` (the plan's answer row) in the objective, ``|objective - answer's|``, so that a bisection
    that failed at 2 and 3 replicas before 4 met them names 3, the fleet just short of the answer; with no
    answer, the one with the highest objective (the most a plan tried that still fell short). None when
    every one that ran meets them.

        >>> rows = [{"n": 1, "feasible": False, "headroom": -0.9, "cost.compute_usd.mean": 1.0, "overrides": ["r=1"]},
        ...         {"n": 1, "feasible": False, "headroom": -0.2, "cost.compute_usd.mean": 2.0, "overrides": ["r=2"]},
        ...         {"n": 1, "feasible": True, "headroom": 0.4, "cost.compute_usd.mean": 3.0, "overrides": ["r=3"]}]
        >>> nearest_miss(rows, "cost.compute_usd")["overrides"]
        ['r=2']
        >>> tied = [{**rows[0], "headroom": -1.0}, {**rows[1], "headroom": -1.0}, rows[2]]
        >>> nearest_miss(tied, "cost.compute_usd", rows[2])["overrides"], nearest_miss(tied, "cost.compute_usd")["overrides"]
        (['r=2'], ['r=2'])
    """
    missed = [r for r in evaluated if not r.get("feasible") and _num(r, "n") > 0]
    if not missed:
        return None
    cost = lambda r: _num(r, f"{objective}.mean")
    target = _num(answer, f"{objective}.mean") if answer is not None else math.nan

    def distance(r: Mapping[str, Any]) -> float:
        """How far ``r`` is from the answer in the objective (smaller is nearer; NaN last)."""
        c = cost(r)
        if c != c:
            return math.inf
        return abs(c - target) if target == target else -c

    # headroom compared to 12 significant digits: two misses at -100 % computed apart read as a tie
    return min(missed, key=lambda r: (-_tie(_headroom(r)), distance(r)))


def _tie(value: float) -> float:
    """``value`` to 12 significant digits (infinities as they are), so that equal headrooms computed
    along different paths compare equal."""
    return value if not math.isfinite(value) or value == 0 else float(f"{value:.12g}")


def verdict(row: Mapping[str, Any], answer: str, best: Sequence[str] | None) -> str:
    """What a row of a plan's table is, in one word or two, as the terminal's ``answer`` column and the
    page's ``verdict`` column say it: its label from :func:`plan_rows` (``point``, ``robust``, ``both``,
    ``nearest miss``) if it has one, else ``answer`` for the plan's answer (``best``: its overrides),
    ``meets`` or ``fails`` for another group's row.

        >>> verdict({"overrides": ["r=3"], "feasible": True}, "", ["r=3"])
        'answer'
        >>> [verdict({"overrides": ["r=2"], "feasible": f}, "", ["r=3"]) for f in (True, False)]
        ['meets', 'fails']
        >>> verdict({"overrides": ["r=2"], "feasible": False}, "nearest miss", None)
        'nearest miss'
    """
    if answer:
        return answer
    if best is not None and list(row.get("overrides") or ()) == list(best):
        return "answer"
    return "meets" if row.get("feasible") else "fails"


def plan_rows(shown: Sequence[tuple[Mapping[str, Any], str]], evaluated: Sequence[Mapping[str, Any]],
              objective: str) -> list[tuple[Mapping[str, Any], str]]:
    """The rows a plan's table compares, best first: ``shown`` (each group's answer with its label,
    :func:`sim.metrics.band.answer_rows`), then the configuration that came nearest to meeting the
    constraints among those that did not (:func:`nearest_miss`, labelled ``nearest miss``: on a tie in
    headroom, the one nearest the first shown row that meets them, the answer) unless it is shown already."""
    answer = next((r for r, _ in shown if r.get("feasible")), None)
    miss = nearest_miss(evaluated, objective, answer)
    seen = {tuple(r.get("overrides") or ()) for r, _ in shown}
    if miss is None or tuple(miss.get("overrides") or ()) in seen:
        return list(shown)
    return [*shown, (miss, "nearest miss")]


def traffic_line(row: dict) -> str:
    """How much more traffic a plan's answer takes, from its load factor (:func:`sim.report.overview.headroom`,
    the run verdict's words): a ceiling at the batch limits, since latency bounds are met at less, which
    ``fleetsim saturation`` measures; the table's ``headroom`` column is another thing, the tightest
    constraint's slack, which a planner asking "how much headroom" read as room for traffic. Empty without a
    load factor. Of several pools, the busiest one's (:func:`busiest_pool`): more traffic reaches its batch
    limits first, while the fleet's load factor, their mean by replica-seconds, says room that is not there
    (a disaggregated fleet's one prefill replica at 0.78 beside three decode ones at 0.12 is a fleet at 0.29:
    "about 3.5x this traffic", where the prefill pool takes 28 % more).

        >>> traffic_line({"utilization.load_factor.mean": 0.782})
        "traffic headroom: load factor 0.78: room for about 28% more traffic at the batch limits, less within the constraints: fleetsim saturation with the answer's --set measures it (the table's headroom is the tightest constraint's slack)"
        >>> traffic_line({"utilization.load_factor.mean": 0.996})
        "traffic headroom: load factor 1.00: at capacity (no room for more traffic at the batch limits) (the table's headroom is the tightest constraint's slack)"
        >>> traffic_line({"utilization.load_factor.mean": 0.6, "pools.prefill.load_factor.mean": 0.9,
        ...               "pools.decode.load_factor.mean": 0.3}).split(", less")[0]
        'traffic headroom of pool prefill, the busiest of 2: load factor 0.90: room for about 11% more traffic at the batch limits'
        >>> traffic_line({})
        ''
    """
    busiest = busiest_pool(pools_load_factors(row))
    words = headroom(busiest[1] if busiest else row.get("utilization.load_factor.mean"))
    if not words:
        return ""
    within = (", less within the constraints: fleetsim saturation with the answer's --set measures it"
              if "room for about" in words else "")
    whose = f" of pool {busiest[0]}, the busiest of {busiest[2]}" if busiest else ""
    return f"traffic headroom{whose}: {words}{within} (the table's headroom is the tightest constraint's slack)"


def pools_load_factors(row: Mapping[str, Any]) -> dict[str, Any]:
    """A plan row's mean load factor per pool (``pools.<name>.load_factor.mean``), by pool name, for
    :func:`sim.report.overview.busiest_pool`.

        >>> busiest_pool(pools_load_factors({"pools.a.load_factor.mean": 0.2, "pools.b.c.load_factor.mean": 0.5}))
        ('b.c', 0.5, 2)
    """
    head, tail = "pools.", ".load_factor.mean"
    return {k[len(head):-len(tail)]: v for k, v in row.items() if k.startswith(head) and k.endswith(tail)}
