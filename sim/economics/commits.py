"""Committed compute spend (a cloud commit): a take-or-pay floor on the compute billed per period.

A ``commits`` entry ``{name, pool, commit_usd, period, payment_lag, from, until}`` compares, in
every calendar ``period`` (month, quarter or year) inside its window, the compute billed for
``pool`` (every pool when absent: all of the run's compute, every tier, before credits; not the
owned pools' energy) with ``commit_usd``, prorated by the share of the period's seconds inside
both the horizon and the window. When the billed compute falls short, the shortfall
``commit - billed`` is billed too: a ``compute_commit`` ledger entry on the commit's name, booked
in the period's last segment inside the run (it is known when the period closes) and paid at the
period's calendar end plus ``payment_lag``, in one payment. Each commit looks at its own scope:
two commits over the same pool each see all of its compute.

>>> import datetime as dt
>>> from sim.economics.calendar import Calendar
>>> from sim.economics.timeline import Timeline
>>> from sim.scenario.economics import parse_economics
>>> cfg = parse_economics({"commits": [{"commit_usd": 100, "period": "month"}]})
>>> tl = Timeline(Calendar(dt.date(2025, 1, 1)), 59 * 86400.0, np.array([0.0, 31 * 86400.0, 59 * 86400.0]))
>>> [round(e.amount_usd, 6) for e in commit_shortfalls(cfg, {"main": np.array([70.0, 120.0])}, tl)]
[-30.0]
"""
from __future__ import annotations

import numpy as np

from sim.economics.ledger import LedgerEntry
from sim.economics.timeline import Timeline
from sim.scenario.economics import EconomicsConfig


def commit_shortfalls(cfg: EconomicsConfig, by_pool: dict[str, np.ndarray], tl: Timeline) -> tuple[LedgerEntry, ...]:
    """One ``compute_commit`` entry (negative: the provider pays) per commit and period whose billed
    compute (``by_pool``: compute cost per segment of each pool) falls short of the prorated commit."""
    cal = tl.calendar
    out: list[LedgerEntry] = []
    for c in cfg.commits:
        billed = np.zeros(tl.n)
        for pool, cost in by_pool.items():
            if c.pool is None or pool == c.pool:
                billed = billed + cost
        for p0, idx in tl.periods(tl.window_mask(c.from_, c.until), c.period).items():
            p_end = cal.period_end_s(p0, c.period)
            commit = c.commit_usd * (float(tl.durations_s[idx].sum()) / (p_end - p0))
            short = commit - float(billed[idx].sum())
            if short <= 0:
                continue
            a, b = float(tl.starts_s[idx[-1]]), float(tl.ends_s[idx[-1]])
            cash_s = p_end + c.payment_lag
            out.append(LedgerEntry("compute_commit", c.name, -short, cal.date_at(a), cal.date_at(cash_s),
                                   a, b, cash_s, cash_s))
    return tuple(out)
