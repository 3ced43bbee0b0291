"""Checks of an ``economics:`` block against the rest of the scenario.

Field-level limits (non-negative prices, rates in [0, 1] ...) are enforced by the schema
(:func:`sim.scenario.economics.parse_economics`); this module checks relations: pools and revenue
lines that exist, windows that make sense, credits that have something to offset. Problems are
``(field_path, message)`` pairs; things that are legal but probably unintended are issued as
:class:`EconomicsWarning` via :func:`warnings.warn`.
"""
from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence

from sim.economics.terms import compute_terms
from sim.economics.timeline import window_s
from sim.economics.calendar import Calendar
from sim.scenario.economics import EconomicsConfig


class EconomicsWarning(UserWarning):
    """A legal but probably unintended economics setting."""


def _fmt_s(seconds: float) -> str:
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds:g} s"


def check(cfg: EconomicsConfig, pool_names: Sequence[str] | None, horizon_s: float,
          start: dt.date, revenue_lines: Sequence[str] = ()) -> tuple[list[tuple[str, str]], list[str]]:
    """Problems and warning messages (not yet issued). ``pool_names=None`` skips pool checks."""
    problems: list[tuple[str, str]] = []
    warn: list[str] = []
    cal = Calendar(start)
    p = "economics"

    def window_warn(path: str, block) -> None:
        lo, hi = window_s(cal, block.from_, block.until)
        if lo >= horizon_s:
            warn.append(f"{path}.from: {block.from_} is after the simulated horizon "
                        f"(ends {cal.datetime_at(horizon_s):%Y-%m-%d %H:%M} UTC); it never applies")
        if hi <= 0:
            warn.append(f"{path}.until: {block.until} is before start {start}; it never applies")

    if pool_names is not None:
        known = list(pool_names)
        for i, name in enumerate(cfg.energy.owned):
            if name not in known:
                problems.append((f"{p}.energy.owned.{i}", f"unknown pool {name!r} (pools: {', '.join(known) or 'none'})"))
        for name in cfg.energy.pools:
            if name not in known:
                problems.append((f"{p}.energy.pools.{name}", f"unknown pool {name!r} (pools: {', '.join(known) or 'none'})"))
        for i, c in enumerate(cfg.compute):
            if c.pool not in known:
                problems.append((f"{p}.compute.{i}.pool",
                                 f"unknown pool {c.pool!r} (pools: {', '.join(known) or 'none'})"))
        if cfg.gpu_hour_usd is None and (cfg.compute or cfg.revenue or cfg.agreements):
            # an empty block is a deliberate cost-free run (the result's notes still say so)
            unpriced = [n for n in known if not any(c.pool == n for c in cfg.compute)]
            if unpriced:
                warn.append(f"{p}: pools {unpriced} have no compute price and gpu_hour_usd is not set; "
                            "their GPUs cost 0")
    for i, c in enumerate(cfg.compute):
        window_warn(f"{p}.compute.{i}", c)
    flex_uncapped: dict[str, int] = {}
    for i, c in enumerate(cfg.compute):
        if c.tier != "reserved" and c.gpus is None and c.from_ is None and c.until is None:
            if c.pool in flex_uncapped:
                k = flex_uncapped[c.pool]
                warn.append(f"{p}.compute.{i}: pool {c.pool} already has an uncapped {cfg.compute[k].tier} "
                            f"tier (compute.{k}) that takes all GPUs beyond the reservation; this tier "
                            "is never used")
            else:
                flex_uncapped[c.pool] = i

    owner: dict[str, str] = {}
    for j, line in enumerate(cfg.revenue):
        window_warn(f"{p}.revenue.{j}", line)
        if line.sla is not None and line.owner != "provider":
            problems.append((f"{p}.revenue.{j}.sla", "a service level applies to the provider's own lines "
                             "(this line is owned by the partner)"))
        if line.name in owner:
            if owner[line.name] != line.owner:
                problems.append((f"{p}.revenue.{j}.owner", f"line {line.name!r} is defined with owner "
                                 f"{owner[line.name]} earlier (got {line.owner})"))
            lo, hi = window_s(cal, line.from_, line.until)
            for k, other in enumerate(cfg.revenue[:j]):
                if other.name == line.name:
                    olo, ohi = window_s(cal, other.from_, other.until)
                    if lo < ohi and olo < hi:
                        problems.append((f"{p}.revenue.{j}.name",
                                         f"line {line.name!r} is defined twice (revenue.{k}) with "
                                         "overlapping from/until windows; a repeated name needs "
                                         "disjoint windows (a price change on a date)"))
        owner.setdefault(line.name, line.owner)
    names = list(owner)
    if cfg.revenue:
        for name in dict.fromkeys(revenue_lines):
            if name not in owner:
                problems.append((f"{p}.revenue", f"the workload names revenue line {name!r}, which is "
                                 f"not defined here (lines: {', '.join(names)})"))

    for i, ag in enumerate(cfg.agreements):
        path = f"{p}.agreements.{i}"
        window_warn(path, ag)
        for key, base, who in (("base", ag.base, ag.payer),
                               ("reverse.base", ag.reverse.base if ag.reverse else [], ag.payee)):
            for j, name in enumerate(base):
                if name in base[:j]:
                    problems.append((f"{path}.{key}.{j}", f"revenue line {name!r} is listed twice "
                                     f"(also {key}.{base.index(name)}); each line's revenue counts once, "
                                     "so list it once"))
                elif name not in owner:
                    problems.append((f"{path}.{key}.{j}", f"unknown revenue line {name!r} "
                                     f"(lines: {', '.join(names) or 'none'})"))
                elif owner[name] != who:
                    warn.append(f"{path}.{key}.{j}: line {name!r} is owned by the {owner[name]}, but "
                                f"this share is paid by the {who}; usually a party shares its own revenue")
        if ag.payment_lag > horizon_s:
            warn.append(f"{path}.payment_lag: {_fmt_s(ag.payment_lag)} is longer than the simulated "
                        f"horizon ({_fmt_s(horizon_s)}); no settlement cash moves within it, so cash "
                        "totals lag accrual totals")
    for i, c in enumerate(cfg.credits):
        window_warn(f"{p}.credits.{i}", c)
        if c.applies_to == "training" and cfg.training is None:
            problems.append((f"{p}.credits.{i}.applies_to", "applies to training but economics.training "
                             "is not set (set training: {usd_per_month: ...} or applies_to: compute)"))
    if cfg.training is not None:
        window_warn(f"{p}.training", cfg.training)
    on_compute = [i for i, c in enumerate(cfg.credits) if c.applies_to in ("compute", "any")]
    if on_compute and cfg.compute and compute_terms(cfg) is None and any(c.terms for c in cfg.compute):
        problems.append((f"{p}.credits.{on_compute[0]}.applies_to", "credits on compute are paid on the compute "
                         "invoices' terms, so every compute price needs the same terms (and gpu_hour_usd none)"))
    for i, b in enumerate(cfg.opening):
        if b.due < start:
            problems.append((f"{p}.opening.{i}.due", f"{b.due} is before start {start}; an opening balance "
                             "is settled on or after t = 0"))
    return problems, warn


def validate(cfg: EconomicsConfig, pool_names: Sequence[str], horizon_s: float,
             start: dt.date, revenue_lines: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(field_path, message)`` problems of ``cfg`` in a scenario with these pools, horizon
    (simulated seconds) and ``start`` date; warnings are issued as :class:`EconomicsWarning`.

    ``revenue_lines``: the line names the workload's classes use; each must be defined in
    ``economics.revenue`` unless that list is empty (a cost-only scenario).
    """
    problems, warn = check(cfg, pool_names, horizon_s, start, revenue_lines)
    for w in warn:
        warnings.warn(w, EconomicsWarning, stacklevel=2)
    return problems
