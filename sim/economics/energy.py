"""GPU energy: kWh, tCO2e and, for owned pools, an ``energy`` cost line.

Per pool, every provisioned GPU draws ``P = idle_w + (peak_w - idle_w) x u`` watts, where ``u``
is the pool's busy share over the run (busy GPU-seconds / provisioned GPU-seconds: the money
layer sees the run's average, not its time profile) — the linear idle-to-peak interpolation of
power in utilization. ``peak_w`` is the catalog's ``tdp_w`` (the datasheet board power) and
``idle_w`` is ``idle_fraction x tdp_w`` (default 0.15: an assumption; GPU datasheets publish no
idle power) unless ``energy.pools.<pool>`` sets either. Facility energy is ``P x pue x
provisioned time``. Price: ``usd_per_kwh``, or the ``tariff`` of the UTC hour of day. Emissions:
``kg_co2e_per_kwh`` (default 0.37: roughly the US grid average, EPA eGRID2022's 823 lb CO2/MWh =
0.373 kg/kWh; set your grid's). Energy is costed only for ``owned`` pools (a rented GPU's price
includes its power); kWh and tCO2e are reported for every pool.

>>> round(gpu_watts(idle_w=100.0, peak_w=700.0, busy=0.5), 9)
400.0
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.economics.ledger import LedgerEntry
from sim.economics.timeline import Timeline
from sim.economics.usage import Usage
from sim.scenario.economics import EconomicsConfig

HOUR_S = 3600.0


def gpu_watts(idle_w: float, peak_w: float, busy: float) -> float:
    """Board power of one GPU busy a share ``busy`` of the time (linear in utilization)."""
    return idle_w + (peak_w - idle_w) * busy


@dataclass(frozen=True)
class EnergyBill:
    """kWh and cost per segment (owned pools), totals and ledger entries."""

    entries: tuple[LedgerEntry, ...]
    summary: dict


def _hourly_price(cfg: EconomicsConfig) -> np.ndarray:
    price = np.full(24, cfg.energy.usd_per_kwh)
    for t in cfg.energy.tariff:
        price[t.from_hour:t.to_hour] = t.usd_per_kwh
    return price


def bill_energy(cfg: EconomicsConfig, usage: Usage, tl: Timeline) -> EnergyBill:
    """Energy of every pool with a known GPU power; cost entries for the ``owned`` pools."""
    e = cfg.energy
    price = _hourly_price(cfg)
    prov = usage.provisioned_gpu_seconds()
    kwh_by_pool: dict[str, float] = {}
    watts_by_pool: dict[str, float] = {}
    usd_by_pool: dict[str, float] = {}
    entries: list[LedgerEntry] = []
    hour_edges = (np.arange(HOUR_S, tl.horizon_s, HOUR_S) if len(e.tariff) else np.zeros(0))
    for pool in usage.pools():
        tdp = usage.gpu_tdp_w.get(pool)
        over = e.pools.get(pool)
        peak = over.peak_w if over is not None and over.peak_w is not None else tdp
        if peak is None:
            continue
        idle = over.idle_w if over is not None and over.idle_w is not None else e.idle_fraction * peak
        busy = min(1.0, usage.busy_gpu_seconds.get(pool, 0.0) / prov[pool]) if prov.get(pool) else 0.0
        watts = gpu_watts(idle, peak, busy) * e.pue
        s, end, g = usage.intervals.of_pool(pool)
        end = np.minimum(end, tl.horizon_s)
        # GPUs provisioned, a step function on elementary intervals inside segments (and hours)
        t0, level, dt_s = usage.gpu_steps(pool, end, np.concatenate([tl.edges_s, hour_edges]))
        inside = t0 < tl.horizon_s
        kwh = level * dt_s * inside * watts / 3.6e6
        kwh_by_pool[pool] = float(kwh.sum())
        watts_by_pool[pool] = watts
        if pool not in e.owned:
            continue
        hour = ((t0 % 86400.0) // HOUR_S).astype(np.int64)
        usd = np.bincount(tl.index(t0), weights=kwh * price[hour], minlength=tl.n)
        usd_by_pool[pool] = float(usd.sum())
        for i in np.flatnonzero(usd):
            a, b = float(tl.starts_s[i]), float(tl.ends_s[i])
            d = tl.calendar.date_at(a)
            entries.append(LedgerEntry("energy", pool, -float(usd[i]), d, d, a, b, a, b))
    total = float(sum(kwh_by_pool.values()))
    summary = {"kwh": total, "kwh_by_pool": kwh_by_pool, "tco2e": total * e.kg_co2e_per_kwh / 1000.0,
               "facility_watts_per_gpu_by_pool": watts_by_pool, "pue": e.pue, "usd": float(sum(usd_by_pool.values())),
               "usd_by_pool": usd_by_pool, "kg_co2e_per_kwh": e.kg_co2e_per_kwh}
    return EnergyBill(tuple(entries), summary)
