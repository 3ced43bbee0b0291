"""The constraint grammar: ``<metric><op><bound>`` with a dotted summary key, one of ``<=, <, >=, >``
and a number, read from text once for everything that reads one (the planner's
:func:`sim.planning.constraints.parse_constraint`, the plan page's words)::

    >>> split_constraint("latency.ttft.p99<=2.0")
    ('latency.ttft.p99', '<=', 2.0)

The bound is checked against the metric's unit (:func:`sim.metrics.names.unit_of`): a share's
(``slo.attainment``, ``utilization.*``: fractions) from 0 to 1, a latency's not negative, and one
some value can meet (not a share ``>1``, nor a share or a latency ``<0``)::

    >>> split_constraint("slo.attainment>=99")
    Traceback (most recent call last):
    ...
    sim.metrics.constraint_text.ConstraintError: slo.attainment: a share, written from 0 to 1 (99 % is 0.99); got 99
"""
from __future__ import annotations

import math
import re

from sim.metrics.names import unit_of
from sim.scenario.durations import parse_duration

_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*([^<>=\s]\S*)\s*$")


class ConstraintError(ValueError):
    """A malformed constraint string."""


def _seconds(metric: str, written: str) -> str:
    """For a bound with a time unit on a metric in seconds (``500ms``, ``1m30s``: a duration as a scenario writes
    one), the number to write instead.

        >>> _seconds("latency.ttft.p99", "500ms"), _seconds("slo.attainment", "500ms"), _seconds("latency.e2e.p99", "x")
        ('; latencies are in seconds: write 0.5', '', '')
        >>> _seconds("latency.e2e.p99", "1m30s")
        '; latencies are in seconds: write 90'
    """
    if unit_of(metric) != "s":
        return ""
    try:
        return f"; latencies are in seconds: write {parse_duration(written):g}"
    except ValueError:
        return ""


_LOOSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%")
_DOLLARS = re.compile(r"\$\s*([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)")


def _number_hint(metric: str, written: str) -> str:
    """For a bound written with its unit, the number to write instead: a time in seconds, a share
    from 0 to 1, dollars without the sign.

        >>> _number_hint("latency.ttft.p99", "1 s"), _number_hint("slo.attainment", "99.5%")
        ('; latencies are in seconds: write 1', '; a share is written from 0 to 1: write 0.995')
        >>> _number_hint("cost.per_million_output_tokens", "$0.50"), _number_hint("slo.attainment", "$1")
        ('; money is in USD without the sign: write 0.5', '')
    """
    unit, text = unit_of(metric), written.strip()
    if (m := _PERCENT.fullmatch(text)) and unit == "%":
        return f"; a share is written from 0 to 1: write {float(m.group(1)) / 100:g}"
    if (m := _DOLLARS.fullmatch(text)) and unit == "USD":
        return f"; money is in USD without the sign: write {float(m.group(1).replace(',', '')):g}"
    return _seconds(metric, text)


def split_constraint(text: str) -> tuple[str, str, float]:
    """``(metric, op, bound)`` of ``<metric><op><bound>``; the bound a finite number in ASCII digits
    within its metric's range (see the module). Raises :class:`ConstraintError` saying what is wrong."""
    m = _RE.match(text)
    if not m or not text.isascii():
        loose = _LOOSE.match(text) if text.isascii() else None
        hint = _number_hint(loose.group(1), loose.group(3)) if loose else ""
        if hint:        # a bound with its unit after a space (1 s): said as the number to write
            raise ConstraintError(f"{loose.group(1)}: bound must be a number (got {loose.group(3)!r}){hint}")
        raise ConstraintError(
            f"expected METRIC<=NUMBER, METRIC>=NUMBER, METRIC<NUMBER or METRIC>NUMBER, "
            f"e.g. latency.ttft.p99<=2.0 (got {text!r}){'' if text.isascii() else '; ASCII letters and digits only'}")
    metric, op, written = m.groups()
    try:
        bound = float(written)
    except ValueError:
        raise ConstraintError(f"{metric}: bound must be a number (got {written!r}){_number_hint(metric, written)}") from None
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
    return metric, op, bound
