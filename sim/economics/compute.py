"""Compute cost: provisioned GPU time billed per pool under its pricing tiers.

Rules (per pool, at every instant ``t``; ``P(t)`` provisioned GPUs, ``R(t)`` reserved GPUs of the
tiers whose window contains ``t``):

* ``reserved`` tiers bill ``gpus x usd_per_gpu_hour`` for every second of ``[0, horizon]`` in
  their window, provisioned or not (a commitment);
* the excess ``max(P(t) - R(t), 0)`` is filled into the ``spot``/``on_demand`` tiers in the
  order listed, each up to its ``gpus`` cap (uncapped when absent), then into an implicit
  uncapped on-demand tier at ``gpu_hour_usd`` if that is set;
* whatever is left is unbilled and reported in ``unbilled_gpu_hours`` with a note.

``billing_granularity`` rounds each provisioned interval's length up to a whole second, minute
or hour before billing (the rounded tail extends the interval; any of it beyond the horizon is
booked in the last segment). A pool with neither a ``compute`` entry nor ``gpu_hour_usd``
costs nothing and is named in the notes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.economics.ledger import LedgerEntry
from sim.economics.timeline import Timeline
from sim.economics.usage import Usage
from sim.scenario.economics import ComputePrice, EconomicsConfig

GRANULARITY_S = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


@dataclass(frozen=True)
class ComputeBill:
    """Compute cost of a run: ledger entries plus totals (USD, GPU-hours)."""

    entries: tuple[LedgerEntry, ...]
    cost_by_segment_usd: np.ndarray
    by_tier_usd: dict[str, float]
    by_pool_usd: dict[str, float]
    billed_gpu_hours: dict[str, float]
    provisioned_gpu_hours: float
    unbilled_gpu_hours: float
    reserved_idle_gpu_hours: float
    notes: list[str] = field(default_factory=list)
    by_pool_segment_usd: dict[str, np.ndarray] = field(default_factory=dict)
    """Compute cost per segment of each billed pool (every tier): what a compute commit compares."""

    @property
    def total_usd(self) -> float:
        return float(sum(self.by_tier_usd.values()))


def billed_duration_s(duration_s: np.ndarray, granularity: str) -> np.ndarray:
    """Interval lengths rounded up to the billing granularity (seconds)."""
    g = GRANULARITY_S[granularity]
    return np.ceil(np.round(np.asarray(duration_s, dtype=float) / g, 9)) * g


def _pool_prices(cfg: EconomicsConfig, pool: str) -> list[ComputePrice]:
    prices = [c for c in cfg.compute if c.pool == pool]
    if cfg.gpu_hour_usd is not None:
        # the usage's own pool name, not input: unchecked, as a result folder saved before a name rule
        # (' p ', a space at either end) is still priced
        prices.append(ComputePrice.model_construct(pool=pool, tier="on_demand", usd_per_gpu_hour=cfg.gpu_hour_usd))
    return prices


def bill_compute(cfg: EconomicsConfig, usage: Usage, tl: Timeline) -> ComputeBill:
    """Bill every pool of ``usage`` (and every pool priced in ``cfg``) over the timeline."""
    pools = list(dict.fromkeys([*usage.pools(), *(c.pool for c in cfg.compute)]))
    acc = _Accounts(tl)
    prov_total_s = 0.0
    for pool in pools:
        s, end, g = usage.intervals.of_pool(pool)
        e = s + billed_duration_s(end - s, cfg.billing_granularity)
        prov_total_s += float(np.sum(g * (end - s)))
        prices = _pool_prices(cfg, pool)
        if not prices:
            if len(s):
                acc.notes.append(f"pool {pool}: no compute price and no gpu_hour_usd; its "
                                 f"{np.sum(g * (e - s)) / 3600:.6g} GPU-hours cost 0")
                acc.unbilled_s += float(np.sum(g * (e - s)))
            continue
        acc.bill_pool(pool, prices, *usage.gpu_steps(pool, e, tl.edges_s))
    entries, by_tier, total = acc.ledger()
    per_pool: dict[str, np.ndarray] = {}
    for (pool, _), cost in acc.seg_cost.items():
        per_pool[pool] = per_pool.get(pool, np.zeros(tl.n)) + cost
    return ComputeBill(entries, total, by_tier, acc.by_pool, acc.billed_h, prov_total_s / 3600,
                       acc.unbilled_s / 3600, acc.idle_s / 3600, acc.notes, per_pool)


class _Accounts:
    """Compute cost per (pool, tier) and segment as the pools are billed, with billed, unbilled
    and reserved-but-idle GPU time."""

    def __init__(self, tl: Timeline) -> None:
        self.tl = tl
        self.seg_cost: dict[tuple[str, str], np.ndarray] = {}
        self.by_pool: dict[str, float] = {}
        self.billed_h: dict[str, float] = {}
        self.notes: list[str] = []
        self.unbilled_s = self.idle_s = 0.0

    def _book(self, pool: str, tier: str, cost: np.ndarray, gpu_h: float) -> float:
        self.seg_cost.setdefault((pool, tier), np.zeros(self.tl.n))
        self.seg_cost[(pool, tier)] += cost
        self.billed_h[tier] = self.billed_h.get(tier, 0.0) + gpu_h
        return float(cost.sum())

    def bill_pool(self, pool: str, prices: list[ComputePrice], t0: np.ndarray, level: np.ndarray,
                  dt_s: np.ndarray) -> None:
        """One pool's provisioned GPUs, a step function ``level`` on elementary intervals that
        never cross a segment edge: reserved GPUs are paid whether used or not; the GPUs above
        them go to the flexible tiers in order, each up to its cap, within its window."""
        tl = self.tl
        seg = tl.index(t0)
        inside = t0 < tl.horizon_s
        r_seg = np.zeros(tl.n)
        pool_cost = 0.0
        for p in (p for p in prices if p.tier == "reserved"):
            active = tl.window_mask(p.from_, p.until).astype(float)
            r_seg += p.gpus * active
            cost = p.gpus * p.usd_per_gpu_hour * tl.durations_s * active / 3600.0
            pool_cost += self._book(pool, "reserved", cost, float(np.sum(p.gpus * tl.durations_s * active)) / 3600)
        r = r_seg[seg]
        self.idle_s += float(np.sum(np.maximum(r - level, 0.0) * dt_s * inside))
        excess = np.maximum(level - r, 0.0)
        for p in (p for p in prices if p.tier != "reserved"):
            active = tl.window_mask(p.from_, p.until)[seg]
            cap = np.inf if p.gpus is None else p.gpus
            take = np.where(active, np.minimum(excess, cap), 0.0)
            excess = excess - take
            gpu_s = np.bincount(seg, weights=take * dt_s, minlength=tl.n)
            pool_cost += self._book(pool, p.tier, gpu_s * p.usd_per_gpu_hour / 3600.0, float(gpu_s.sum()) / 3600)
        left = float(np.sum(excess * dt_s))
        if left > 1e-9:
            self.unbilled_s += left
            self.notes.append(f"pool {pool}: {left / 3600:.6g} provisioned GPU-hours exceed every "
                              "priced tier's cap and no gpu_hour_usd is set; they cost 0")
        self.by_pool[pool] = pool_cost

    def ledger(self) -> tuple[tuple[LedgerEntry, ...], dict[str, float], np.ndarray]:
        """One ledger entry per pool, tier and segment with a cost; cost by tier; cost by segment."""
        tl, cal = self.tl, self.tl.calendar
        entries: list[LedgerEntry] = []
        by_tier: dict[str, float] = {}
        total = np.zeros(tl.n)
        for (pool, tier), cost in self.seg_cost.items():
            by_tier[tier] = by_tier.get(tier, 0.0) + float(cost.sum())
            total += cost
            for i in np.flatnonzero(cost):
                a, b = float(tl.starts_s[i]), float(tl.ends_s[i])
                d = cal.date_at(a)
                entries.append(LedgerEntry("compute", f"{pool}:{tier}", -float(cost[i]), d, d, a, b, a, b))
        return tuple(entries), by_tier, total
