"""Simulated seconds on a calendar: t = 0 is ``start`` at 00:00 UTC; no time zones, no DST.

Periods are calendar-aligned: a day, an ISO week (Monday to Sunday), a month, a quarter
(Jan/Apr/Jul/Oct) or a year. A moment exactly on a boundary belongs to the period it starts.

>>> import datetime as dt
>>> cal = Calendar(dt.date(2024, 12, 15))
>>> cal.date_at(17 * 86400.0), period_label(dt.date(2025, 1, 1), "quarter")
(datetime.date(2025, 1, 1), '2025-Q1')
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass

PERIODS = ("day", "week", "month", "quarter", "year")
SECONDS_PER_DAY = 86400.0
LAST_YEAR = 9000
"""The last calendar year a run may touch (a scenario's ``start`` and what its cash moves after it, a
saved usage file's start): cash dated past it would run off Python's calendar (year 10000)."""
HOURS_PER_MONTH = 365 * 24 / 12
"""Hours in the average month a monthly bill is quoted for (730: a 365-day year over 12): the report's
"about $X per month" and the planner's ``$/month`` both use it, so the two agree for one fleet."""


def period_floor(d: dt.date, period: str) -> dt.date:
    """First day of the period that contains ``d``."""
    if period == "day":
        return d
    if period == "week":
        return d - dt.timedelta(days=d.weekday())
    if period == "month":
        return d.replace(day=1)
    if period == "quarter":
        return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    if period == "year":
        return dt.date(d.year, 1, 1)
    raise ValueError(f"period must be one of {PERIODS} (got {period!r})")


def period_next(d: dt.date, period: str) -> dt.date:
    """First day of the period after the one that contains ``d``."""
    p = period_floor(d, period)
    if period == "day":
        return p + dt.timedelta(days=1)
    if period == "week":
        return p + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    m = p.month - 1 + months
    return dt.date(p.year + m // 12, m % 12 + 1, 1)


def period_label(d: dt.date, period: str) -> str:
    """Human label of the period that contains ``d``: ``2025-01-31``, ``2025-W05``,
    ``2025-01``, ``2025-Q1`` or ``2025``."""
    p = period_floor(d, period)
    if period == "day":
        return p.isoformat()
    if period == "week":
        y, w, _ = p.isocalendar()
        return f"{y}-W{w:02d}"
    if period == "month":
        return f"{p.year}-{p.month:02d}"
    if period == "quarter":
        return f"{p.year}-Q{(p.month - 1) // 3 + 1}"
    return f"{p.year}"


@dataclass(frozen=True)
class Calendar:
    """Maps simulated seconds to dates and back, from ``start`` (00:00 UTC)."""

    start: dt.date

    def seconds_at(self, d: dt.date) -> float:
        """Simulated seconds at 00:00 UTC of day ``d``."""
        return (d - self.start).days * SECONDS_PER_DAY

    def date_at(self, t_s: float) -> dt.date:
        """The calendar day containing simulated second ``t_s``."""
        return self.start + dt.timedelta(days=math.floor(t_s / SECONDS_PER_DAY))

    def datetime_at(self, t_s: float) -> dt.datetime:
        """UTC datetime of simulated second ``t_s``."""
        base = dt.datetime.combine(self.start, dt.time(), tzinfo=dt.timezone.utc)
        return base + dt.timedelta(seconds=t_s)

    def period_start_s(self, t_s: float, period: str) -> float:
        """Simulated seconds at the start of the period containing ``t_s``."""
        return self.seconds_at(period_floor(self.date_at(t_s), period))

    def period_end_s(self, t_s: float, period: str) -> float:
        """Simulated seconds at the end (exclusive) of the period containing ``t_s``."""
        return self.seconds_at(period_next(self.date_at(t_s), period))

    def boundaries_s(self, period: str, t0_s: float, t1_s: float) -> list[float]:
        """Period starts strictly inside ``(t0_s, t1_s)``, in order."""
        out = []
        d = period_next(self.date_at(t0_s), period)
        while (s := self.seconds_at(d)) < t1_s:
            if s > t0_s:
                out.append(s)
            d = period_next(d, period)
        return out


def anniversaries(anchor: dt.date, start: dt.date, horizon_s: float) -> list[dt.date]:
    """The anniversaries of ``anchor`` after ``start`` (t = 0) and before the horizon's end, in
    order; a Feb 29 anchor's fall on Feb 28 in the years without one.

    >>> anniversaries(dt.date(2024, 2, 29), dt.date(2024, 6, 1), 800 * SECONDS_PER_DAY)
    [datetime.date(2025, 2, 28), datetime.date(2026, 2, 28)]
    """
    out = []
    year = max(anchor.year + 1, start.year)
    while year <= LAST_YEAR:
        day = anchor.day if anchor.month != 2 or anchor.day < 29 or calendar.isleap(year) else 28
        d = dt.date(year, anchor.month, day)
        t_s = (d - start).days * SECONDS_PER_DAY
        if t_s >= horizon_s:
            break
        if t_s > 0:
            out.append(d)
        year += 1
    return out
