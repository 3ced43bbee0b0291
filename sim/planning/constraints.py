"""Constraints on summary metrics, judged conservatively over replications.

A constraint is ``<metric><op><bound>`` with a dotted summary key and one of ``<=, <, >=, >``::

    >>> c = parse_constraint("latency.ttft.p99<=2.0")
    >>> (c.metric, c.op, c.bound)
    ('latency.ttft.p99', '<=', 2.0)

With several replications a constraint must hold at the unfavourable end of the 95 %
confidence interval of the metric's mean — the upper bound for ``<=``/``<``, the lower bound
for ``>=``/``>`` — not merely at the mean. With one replication, at the value itself.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

from sim.metrics.names import unit_of
from sim.planning.stats import MeanCI

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*([^<>=\s]\S*)\s*$")


class ConstraintError(ValueError):
    """A malformed constraint string."""


class UnknownMetricError(ConstraintError):
    """A constraint, objective or column names a metric no run reports (``metrics``: those it names)."""

    def __init__(self, message: str, metrics=()) -> None:
        super().__init__(message)
        self.metrics = tuple(metrics)


@dataclass(frozen=True, slots=True)
class Constraint:
    metric: str
    op: str
    bound: float

    @property
    def upper(self) -> bool:
        """True for ``<=``/``<`` (the metric must stay below the bound)."""
        return self.op in ("<=", "<")

    def judged_value(self, ci: MeanCI) -> float:
        """The value the bound is compared with: the CI end on the unfavourable side."""
        edge = ci.high if self.upper else ci.low
        return ci.mean if math.isnan(edge) else edge

    def holds(self, ci: MeanCI) -> bool:
        """True when the judged value satisfies the bound (False when the metric is missing)."""
        return self.met(self.judged_value(ci))

    def met(self, value: float) -> bool:
        """True when ``value`` (a judged value) satisfies the bound (False when it is NaN)."""
        return not math.isnan(value) and _OPS[self.op](value, self.bound)

    def slack(self, value: float) -> float:
        """How far ``value`` is inside the bound, as a share of the bound's size: ``(bound - value) /
        |bound|`` for ``<=``/``<``, ``(value - bound) / |bound|`` for ``>=``/``>``; negative outside the
        bound, NaN for a missing value or a bound of 0 (no size to compare with).

            >>> c = Constraint("latency.ttft.p99", "<=", 2.0)
            >>> c.slack(1.5), c.slack(3.0), c.slack(250.0)
            (0.25, -0.5, -124.0)
        """
        if math.isnan(value) or self.bound == 0:
            return math.nan
        return ((self.bound - value) if self.upper else (value - self.bound)) / abs(self.bound)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.bound:g}"


def parse_constraint(text: str) -> Constraint:
    """``<metric><op><bound>`` as a :class:`Constraint`; the bound a finite number in ASCII digits, a
    share's (``slo.attainment``, ``utilization.*``: fractions) from 0 to 1, a latency's not negative, and
    one some value can meet (not a share ``>1``, nor a share or a latency ``<0``).

        >>> parse_constraint("slo.attainment>=99")
        Traceback (most recent call last):
        ...
        sim.planning.constraints.ConstraintError: slo.attainment: a share, written from 0 to 1 (99 % is 0.99); got 99
    """
    m = _RE.match(text)
    if not m or not text.isascii():
        raise ConstraintError(
            f"expected METRIC<=NUMBER, METRIC>=NUMBER, METRIC<NUMBER or METRIC>NUMBER, "
            f"e.g. latency.ttft.p99<=2.0 (got {text!r}){'' if text.isascii() else '; ASCII letters and digits only'}")
    metric, op, written = m.groups()
    try:
        bound = float(written)
    except ValueError:
        raise ConstraintError(f"{metric}: bound must be a number (got {written!r})") from None
    if not math.isfinite(bound):
        raise ConstraintError(f"{metric}: bound must be finite (got {written!r})")
    unit = unit_of(metric)
    if unit == "%" and not 0 <= bound <= 1:
        hint = f" ({written} % is {bound / 100:g})" if 1 < bound <= 100 else ""
        raise ConstraintError(f"{metric}: a share, written from 0 to 1{hint}; got {written}")
    if unit == "s" and bound < 0:
        raise ConstraintError(f"{metric}: a time in seconds, not negative (got {written})")
    # within those bounds, the two a value cannot meet: above a whole share, below no time at all
    if (unit == "%" and op == ">" and bound == 1) or (unit in ("%", "s") and op == "<" and bound == 0):
        what = ("a share is at most 1 (>=1 asks for all of it)" if op == ">" else
                f"a {'share' if unit == '%' else 'time'} is never below 0 (<=0 asks for none)")
        raise ConstraintError(f"{metric}: no value can meet {op}{written}: {what}")
    return Constraint(metric, op, bound)
