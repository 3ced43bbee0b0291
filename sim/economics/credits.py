"""Training cost and non-cash credits.

The optional training line is a flat monthly cost (prorated by seconds of each calendar month,
compound ``growth_per_month``), so credits aimed at training have something to offset.

Credits are consumed in time order, segment by segment; within a segment in the order listed,
each credit covering its targets (``training``, ``compute``, or ``any`` = training first, then
compute) until it is exhausted. A credit only applies inside its ``from``/``until`` window.
An applied credit is booked as a positive ``credit`` entry over the same interval as the cost it
offsets: it never moves cash, it reduces the cash paid for that cost.
"""
from __future__ import annotations

import numpy as np

from sim.economics.ledger import LedgerEntry
from sim.economics.revenue import monthly_amounts
from sim.economics.timeline import Timeline
from sim.scenario.economics import EconomicsConfig


def training_cost(cfg: EconomicsConfig, tl: Timeline) -> tuple[np.ndarray, tuple[LedgerEntry, ...]]:
    """Training cost per segment (positive USD) and its ledger entries."""
    if cfg.training is None:
        return np.zeros(tl.n), ()
    t = cfg.training
    cost = monthly_amounts(t.usd_per_month, t.growth_per_month, t.from_, t.until, tl)
    entries = []
    for i in np.flatnonzero(cost):
        a, b = float(tl.starts_s[i]), float(tl.ends_s[i])
        d = tl.calendar.date_at(a)
        entries.append(LedgerEntry("training", "training", -float(cost[i]), d, d, a, b, a, b))
    return cost, tuple(entries)


def apply_credits(cfg: EconomicsConfig, training_usd: np.ndarray, compute_usd: np.ndarray,
                  tl: Timeline) -> tuple[tuple[LedgerEntry, ...], dict[str, float], dict[str, float]]:
    """Apply credits to per-segment costs; return entries, applied and unused USD per credit."""
    left = {c.name + f"#{k}": c.usd for k, c in enumerate(cfg.credits)}
    applied = {c.name: 0.0 for c in cfg.credits}
    owed = {"training": np.array(training_usd, dtype=float), "compute": np.array(compute_usd, dtype=float)}
    masks = [tl.window_mask(c.from_, c.until) for c in cfg.credits]
    entries: list[LedgerEntry] = []
    for i in range(tl.n):
        a, b = float(tl.starts_s[i]), float(tl.ends_s[i])
        d = tl.calendar.date_at(a)
        for k, c in enumerate(cfg.credits):
            key = c.name + f"#{k}"
            if not masks[k][i] or left[key] <= 0:
                continue
            targets = ("training", "compute") if c.applies_to == "any" else (c.applies_to,)
            for target in targets:
                take = min(left[key], owed[target][i])
                if take <= 0:
                    continue
                owed[target][i] -= take
                left[key] -= take
                applied[c.name] += take
                entries.append(LedgerEntry("credit", c.name, float(take), d, d, a, b, a, b, target))
    unused = {c.name: 0.0 for c in cfg.credits}
    for k, c in enumerate(cfg.credits):
        unused[c.name] += left[c.name + f"#{k}"]
    return tuple(entries), applied, unused
