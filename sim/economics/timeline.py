"""The horizon cut into segments on which every money rate is constant in kind.

Segment edges are the union of: 0 and the horizon, the statement period's boundaries, month
boundaries (flat lines are prorated per month), every agreement's settlement boundaries, every
compute commit's periods, the invoice periods of payment terms, the anniversaries of agreements
capped or tiered per year, and the ``from``/``until`` edges of every dated block. So each segment lies inside one statement
period, one month, one settlement period per agreement, one period per commit, and is wholly inside or outside every
window; the ledger is written per segment.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.economics.calendar import Calendar, anniversaries, period_floor
from sim.scenario.economics import EconomicsConfig


@dataclass(frozen=True)
class Timeline:
    """Segments ``[edges_s[i], edges_s[i+1])`` covering ``[0, horizon_s]``."""

    calendar: Calendar
    horizon_s: float
    edges_s: np.ndarray

    @property
    def n(self) -> int:
        return len(self.edges_s) - 1

    @property
    def starts_s(self) -> np.ndarray:
        return self.edges_s[:-1]

    @property
    def ends_s(self) -> np.ndarray:
        return self.edges_s[1:]

    @property
    def durations_s(self) -> np.ndarray:
        return np.diff(self.edges_s)

    def index(self, t_s: np.ndarray) -> np.ndarray:
        """Segment index of each time; times at or after the horizon go to the last segment,
        times before 0 to the first."""
        idx = np.searchsorted(self.edges_s, np.asarray(t_s, dtype=float), side="right") - 1
        return np.clip(idx, 0, self.n - 1)

    def window_mask(self, from_: dt.date | None, until: dt.date | None) -> np.ndarray:
        """Segments inside the window ``[from 00:00, until+1 00:00)``."""
        lo, hi = window_s(self.calendar, from_, until)
        return (self.starts_s >= lo) & (self.ends_s <= hi)

    def agreement_years(self, anchor: dt.date | None) -> np.ndarray:
        """Each segment's agreement year, counted from 0 for the year in progress at the start: the
        years turn on the anniversaries of ``anchor`` (the agreement's ``from``; the run's start
        when ``None``)."""
        cal = self.calendar
        edges = [cal.seconds_at(d) for d in anniversaries(anchor or cal.start, cal.start, self.horizon_s)]
        return np.searchsorted(np.array(edges, dtype=float), self.starts_s, side="right")

    def periods(self, mask: np.ndarray, period: str) -> dict[float, list[int]]:
        """The segments of ``mask`` grouped by the calendar ``period`` each starts in: the period's
        start (seconds) to its segments' indexes, both in time order."""
        groups: dict[float, list[int]] = {}
        for i in np.flatnonzero(mask):
            groups.setdefault(self.calendar.period_start_s(float(self.starts_s[i]), period), []).append(int(i))
        return groups

    def months(self) -> tuple[np.ndarray, list[dt.date]]:
        """Per segment: index into the list of month starts it lies in."""
        firsts = [period_floor(self.calendar.date_at(s), "month") for s in self.starts_s]
        uniq = sorted(set(firsts))
        pos = {d: i for i, d in enumerate(uniq)}
        return np.array([pos[d] for d in firsts], dtype=np.int64), uniq


def window_s(cal: Calendar, from_: dt.date | None, until: dt.date | None) -> tuple[float, float]:
    """Simulated seconds bounding a ``from``/``until`` window (``until`` inclusive)."""
    lo = cal.seconds_at(from_) if from_ is not None else -np.inf
    hi = cal.seconds_at(until + dt.timedelta(days=1)) if until is not None else np.inf
    return lo, hi


def build_timeline(cfg: EconomicsConfig, cal: Calendar, horizon_s: float) -> Timeline:
    """Segments for ``cfg`` over ``[0, horizon_s]``."""
    edges = {0.0, float(horizon_s)}
    dated = [*cfg.compute, *cfg.revenue, *cfg.agreements, *cfg.credits, *cfg.commits]
    if cfg.training is not None:
        dated.append(cfg.training)
    periods = ({cfg.period, "month"} | {a.settle for a in cfg.agreements} | {c.period for c in cfg.commits}
               | {b.terms.invoice for b in dated if getattr(b, "terms", None) is not None})
    for p in periods:
        edges.update(cal.boundaries_s(p, 0.0, horizon_s))
    for block in dated:
        for s in window_s(cal, block.from_, block.until):
            if 0.0 < s < horizon_s:
                edges.add(float(s))
    for ag in cfg.agreements:
        if "year" in (ag.cap_period, ag.tier_period):   # each agreement year has a cap, or brackets, of its own
            edges.update(cal.seconds_at(d) for d in anniversaries(ag.from_ or cal.start, cal.start, horizon_s))
    return Timeline(cal, float(horizon_s), np.array(sorted(edges)))
