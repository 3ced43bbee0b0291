"""Revenue-share agreements: accrue, cap, net both ways, settle per period with a lag.

For an agreement with ``payer``, ``payee``, ``rate``, ``base`` and optional ``reverse``:

* forward (payer -> payee) accrues ``rate x revenue(base lines)`` in every segment inside the
  agreement's window; the running total is truncated at ``cap_usd`` (lifetime, this agreement)
  less ``cap_used_usd`` (paid toward it before the run), so a cap reached mid-period pays only
  what is left of it;
* reverse (payee -> payer) accrues ``reverse.rate x revenue(reverse.base lines)``, uncapped;
* each calendar ``settle`` period the two are netted: ``net = forward - reverse``; the payer pays
  ``net`` when positive, the payee pays ``-net`` otherwise, in one cash movement at the end of
  the settlement period plus ``payment_lag``. A period cut short by the horizon or the window
  still settles at its calendar end.

The ledger keeps both gross sides (``revenue_share_paid`` and ``revenue_share_received``,
provider's view) with that settlement's cash time, so cash paid minus received is the net.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.economics.calendar import period_label
from sim.economics.ledger import LedgerEntry
from sim.economics.revenue import RevenueBook
from sim.economics.statement import to_cents
from sim.economics.timeline import Timeline
from sim.scenario.economics import EconomicsConfig


@dataclass(frozen=True)
class Settlement:
    """One agreement's netted settlement for one period (USD, accrual amounts)."""

    agreement: str
    period: str
    period_start: dt.date
    period_end: dt.date
    forward_usd: float
    reverse_usd: float
    provider_net_usd: float
    cash_date: dt.date
    cash_s: float
    capped: bool

    @property
    def net_usd(self) -> float:
        """Forward minus reverse: what the payer owes the payee (negative: the payee owes)."""
        return self.forward_usd - self.reverse_usd

    def row(self, cents: bool = False) -> list:
        """The ``settlements.csv`` row (:data:`SETTLEMENT_COLUMNS`); ``cents``: amounts to the cent."""
        usd = [self.forward_usd, self.reverse_usd, self.net_usd, self.provider_net_usd]
        if cents:
            usd = [to_cents(v) for v in usd]
        direction = "provider pays" if self.provider_net_usd < 0 else (
            "partner pays" if self.provider_net_usd > 0 else "nothing")
        return [self.agreement, self.period, self.period_start.isoformat(), self.period_end.isoformat(),
                *usd, direction, self.cash_date.isoformat(), self.cash_s, self.capped]


#: ``settlements.csv``: one row per agreement and settlement period; ``provider_net_usd`` is the
#: one cash movement from the provider's side (negative: the provider pays), on ``cash_date``
SETTLEMENT_COLUMNS = ("agreement", "period", "period_start", "period_end", "forward_usd", "reverse_usd",
                      "net_usd", "provider_net_usd", "cash_direction", "cash_date", "cash_s", "capped")


def _line_sum(book: RevenueBook, names: list[str], n: int) -> np.ndarray:
    out = np.zeros(n)
    for name in names:
        out += book.by_line[name]
    return out


def settle_agreements(cfg: EconomicsConfig, book: RevenueBook, tl: Timeline
                      ) -> tuple[tuple[LedgerEntry, ...], tuple[Settlement, ...]]:
    """Ledger entries and settlements of every agreement in ``cfg``."""
    cal = tl.calendar
    entries: list[LedgerEntry] = []
    settlements: list[Settlement] = []
    for ag in cfg.agreements:
        active = tl.window_mask(ag.from_, ag.until).astype(float)
        fwd = ag.rate * _line_sum(book, ag.base, tl.n) * active
        capped_seg = np.zeros(tl.n, dtype=bool)
        if ag.cap_usd is not None:
            left = ag.cap_usd - ag.cap_used_usd          # what the cap leaves after payments before the run
            cum = np.minimum(np.cumsum(fwd), left)
            capped_seg = np.cumsum(fwd) > left * (1 + 1e-12)
            fwd = np.diff(cum, prepend=0.0)
        rev = (ag.reverse.rate * _line_sum(book, ag.reverse.base, tl.n) * active
               if ag.reverse is not None else np.zeros(tl.n))
        provider_pays = ag.payer == "provider"

        groups: dict[float, list[int]] = {}
        for i in range(tl.n):
            if active[i]:
                groups.setdefault(cal.period_start_s(float(tl.starts_s[i]), ag.settle), []).append(i)
        for p0, idx in groups.items():
            p_end = cal.period_end_s(p0, ag.settle)
            cash_s = p_end + ag.payment_lag
            cash_d = cal.date_at(cash_s)
            f, r = float(fwd[idx].sum()), float(rev[idx].sum())
            settlements.append(Settlement(
                ag.name, period_label(cal.date_at(p0), ag.settle), cal.date_at(p0),
                cal.date_at(p_end), f, r, (r - f) if provider_pays else (f - r), cash_d, cash_s,
                bool(capped_seg[idx].any())))
            for i in idx:
                a, b = float(tl.starts_s[i]), float(tl.ends_s[i])
                d = cal.date_at(a)
                paid, received = (fwd[i], rev[i]) if provider_pays else (rev[i], fwd[i])
                if paid:
                    entries.append(LedgerEntry("revenue_share_paid", ag.name, -float(paid), d, cash_d,
                                               a, b, cash_s, cash_s))
                if received:
                    entries.append(LedgerEntry("revenue_share_received", ag.name, float(received), d,
                                               cash_d, a, b, cash_s, cash_s))
    return tuple(entries), tuple(settlements)
