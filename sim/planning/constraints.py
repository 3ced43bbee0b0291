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
from dataclasses import dataclass

from sim.metrics.constraint_text import ConstraintError, split_constraint
from sim.planning.stats import MeanCI

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


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
    """``<metric><op><bound>`` as a :class:`Constraint` (the grammar and the bound's checks:
    :func:`sim.metrics.constraint_text.split_constraint`, which raises :class:`ConstraintError`).

        >>> parse_constraint("slo.attainment >= 0.99")
        Constraint(metric='slo.attainment', op='>=', bound=0.99)
    """
    return Constraint(*split_constraint(text))


def distinct_bounds(constraints: list[Constraint]) -> list[Constraint]:
    """``constraints``, refused (:class:`ConstraintError`) where two bound one metric from the same side: of
    ``latency.ttft.p99<=2`` and ``latency.ttft.p99<=1`` only the tighter counts, so the other was a slip (an
    earlier bound left on a command line edited); a bound from each side (a range) is two constraints, and
    one bound given twice is one.

        >>> distinct_bounds([parse_constraint("slo.attainment>=0.9"), parse_constraint("slo.attainment<=0.99")])[1]
        Constraint(metric='slo.attainment', op='<=', bound=0.99)
        >>> distinct_bounds([parse_constraint("latency.ttft.p99<=2"), parse_constraint("latency.ttft.p99<=2")])
        [Constraint(metric='latency.ttft.p99', op='<=', bound=2.0)]
        >>> distinct_bounds([parse_constraint("latency.ttft.p99<=2"), parse_constraint("latency.ttft.p99<1")])
        Traceback (most recent call last):
        ...
        sim.metrics.constraint_text.ConstraintError: latency.ttft.p99 is bounded from above twice (<=2 and <1): only the tighter bound would count; give the one you mean
    """
    seen: dict[tuple[str, bool], Constraint] = {}
    kept = []
    for c in constraints:
        other = seen.setdefault((c.metric, c.upper), c)
        if other is not c and (other.op, other.bound) == (c.op, c.bound):
            continue        # the same bound twice (a script's SLO given again): one constraint, nothing to choose
        if other is not c:
            side = "above" if c.upper else "below"
            raise ConstraintError(f"{c.metric} is bounded from {side} twice ({other.op}{other.bound:g} and "
                                  f"{c.op}{c.bound:g}): only the tighter bound would count; give the one you mean")
        kept.append(c)
    return kept
