"""Working capital: payment terms per line and balances open at t = 0.

Terms move an entry's cash, never its accrual: with ``terms: {invoice: month, net: 30d}`` on a
compute price, the compute accrued in January is one payment on Jan 31 24:00 + 30 days = Mar 2
(2025). Which terms apply:

* a revenue or SLA-credit entry: those of its line's definition whose ``from``/``until`` window
  holds it (an SLA credit over a statement period is invoiced with the invoice period holding the
  period's last day, when its attainment is known: past the horizon if the run ends first);
* a compute entry (``pool:tier``): those of the first ``compute`` price of that pool and tier
  whose window holds it (the implicit ``gpu_hour_usd`` price has none: paid as accrued);
* a training entry: ``training.terms``;
* a credit: the terms of the cost it offsets, so an invoice is paid net of the credits on it
  (credits on compute need every compute price to share one ``terms``: checked by
  :func:`sim.economics.validate`);
* revenue-share entries keep their settlement's ``payment_lag``.

An opening balance is a cash-only ``opening`` ledger entry on its ``due`` date: positive for a
receivable collected, negative for a payable paid. It carries no accrual (it was accrued before
the horizon), so ``net`` ignores it and ``cash_net_after_all_lags`` = ``net`` + the opening
balances' net.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sim.economics.ledger import LedgerEntry
from sim.economics.timeline import Timeline, window_s
from sim.scenario.economics import EconomicsConfig, PaymentTerms


def _in_window(tl: Timeline, block, t_s: float) -> bool:
    lo, hi = window_s(tl.calendar, block.from_, block.until)
    return lo <= t_s < hi


def compute_terms(cfg: EconomicsConfig) -> PaymentTerms | None:
    """The one ``terms`` every compute price shares (``None`` when they have none, or differ)."""
    found = [c.terms for c in cfg.compute] + ([None] if cfg.gpu_hour_usd is not None else [])
    return found[0] if found and all(t == found[0] for t in found) else None


def terms_of(cfg: EconomicsConfig, tl: Timeline, e: LedgerEntry) -> PaymentTerms | None:
    """The payment terms that apply to entry ``e`` (see the module docstring)."""
    t = e.accrual_start_s
    if e.category in ("revenue", "sla_credit"):
        return next((ln.terms for ln in cfg.revenue if ln.name == e.line and _in_window(tl, ln, t)), None)
    if e.category == "compute":
        pool, _, tier = e.line.rpartition(":")
        return next((c.terms for c in cfg.compute if c.pool == pool and c.tier == tier
                     and _in_window(tl, c, t)), None)
    if e.category == "training" or (e.category == "credit" and e.offsets == "training"):
        return cfg.training.terms if cfg.training is not None else None
    if e.category == "credit":
        return compute_terms(cfg)
    return None


def pay_on_terms(cfg: EconomicsConfig, tl: Timeline, entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """``entries`` with the cash of each moved to its invoice's due date (unchanged without terms)."""
    cal = tl.calendar
    out = []
    for e in entries:
        terms = terms_of(cfg, tl, e)
        if terms is not None:
            # invoiced with the period holding the entry's last instant: a segment's entry lies in one
            # invoice period; an SLA credit is known (so credited) only on the invoice that closes its
            # statement period, even when the run ends before the period does
            end_s = (cal.period_end_s(e.accrual_start_s, cfg.period) if e.category == "sla_credit"
                     else e.accrual_end_s)
            last = max(e.accrual_start_s, end_s - 1e-3)
            due = cal.period_end_s(last, terms.invoice) + terms.net
            e = dataclasses.replace(e, cash_date=cal.date_at(due), cash_start_s=due, cash_end_s=due)
        out.append(e)
    return out


def opening_entries(cfg: EconomicsConfig, tl: Timeline) -> tuple[LedgerEntry, ...]:
    """One cash-only ``opening`` entry per opening balance."""
    cal = tl.calendar
    out = []
    for b in cfg.opening:
        due = cal.seconds_at(b.due)
        amount = b.usd if b.kind == "receivable" else -b.usd
        out.append(LedgerEntry("opening", b.name, float(amount), cal.start, b.due, 0.0, 0.0, due, due))
    return tuple(out)
