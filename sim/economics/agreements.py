"""Revenue-share agreements: accrue, cap, net both ways, settle per period with a lag.

For an agreement with ``payer``, ``payee``, ``rate``, ``base`` and optional ``reverse``:

* forward (payer -> payee) accrues ``rate x revenue(base lines)`` in every segment inside the
  agreement's window; the running total is truncated at ``cap_usd`` (lifetime, this agreement)
  less ``cap_used_usd`` (paid toward it before the run), so a cap reached mid-period pays only
  what is left of it;
* a ``minimum_usd`` (take-or-pay) makes the payer owe at least that much forward per ``settle``
  period, prorated by the share of the period's seconds inside both the horizon and the window:
  the shortfall ``max(minimum - forward, 0)`` is a true-up of its own (ledger line
  ``<agreement>:minimum``), booked in the period's last segment and counted toward the cap (a
  true-up the cap would exceed pays only what is left of it; later forward accrues against what
  remains);
* reverse (payee -> payer) accrues ``reverse.rate x revenue(reverse.base lines)``, uncapped;
* each calendar ``settle`` period the two are netted: ``net = forward + shortfall - reverse``; the payer pays
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
from sim.economics.ledger import MINIMUM_SUFFIX, LedgerEntry
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
    minimum_usd: float | None = None
    """The period's minimum guarantee, prorated (``None``: the agreement has none)."""
    shortfall_usd: float = 0.0
    """The take-or-pay true-up: what the payer owes beyond the forward share to reach the minimum."""

    @property
    def net_usd(self) -> float:
        """Forward plus shortfall minus reverse: what the payer owes the payee (negative: the payee owes)."""
        return self.forward_usd + self.shortfall_usd - self.reverse_usd

    def row(self, cents: bool = False, minimum: bool = False) -> list:
        """The ``settlements.csv`` row (:data:`SETTLEMENT_COLUMNS`, then :data:`MINIMUM_COLUMNS` when
        ``minimum``); ``cents``: amounts to the cent."""
        usd = [self.forward_usd, self.reverse_usd, self.net_usd, self.provider_net_usd]
        extra = [self.minimum_usd, self.shortfall_usd] if minimum else []
        if cents:
            usd = [to_cents(v) for v in usd]
            extra = [to_cents(v) if v is not None else None for v in extra]
        direction = "provider pays" if self.provider_net_usd < 0 else (
            "partner pays" if self.provider_net_usd > 0 else "nothing")
        return [self.agreement, self.period, self.period_start.isoformat(), self.period_end.isoformat(),
                *usd, direction, self.cash_date.isoformat(), self.cash_s, self.capped,
                *("" if v is None else v for v in extra)]


#: ``settlements.csv``: one row per agreement and settlement period; ``provider_net_usd`` is the
#: one cash movement from the provider's side (negative: the provider pays), on ``cash_date``
SETTLEMENT_COLUMNS = ("agreement", "period", "period_start", "period_end", "forward_usd", "reverse_usd",
                      "net_usd", "provider_net_usd", "cash_direction", "cash_date", "cash_s", "capped")
#: appended to ``settlements.csv`` when an agreement has a ``minimum_usd``: the period's prorated
#: minimum (empty for an agreement without one) and the true-up paid to reach it
MINIMUM_COLUMNS = ("minimum_usd", "shortfall_usd")


def _line_sum(book: RevenueBook, names: list[str], n: int) -> np.ndarray:
    out = np.zeros(n)
    for name in names:
        out += book.by_line[name]
    return out


def settle_agreements(cfg: EconomicsConfig, book: RevenueBook, tl: Timeline
                      ) -> tuple[tuple[LedgerEntry, ...], tuple[Settlement, ...]]:
    """Ledger entries and settlements of every agreement in ``cfg``."""
    entries: list[LedgerEntry] = []
    settlements: list[Settlement] = []
    for ag in cfg.agreements:
        e, s = _settle(ag, book, tl)
        entries += e
        settlements += s
    return tuple(entries), tuple(settlements)


def _settle(ag, book: RevenueBook, tl: Timeline) -> tuple[list[LedgerEntry], list[Settlement]]:
    """One agreement's ledger entries and settlements, period by period in time order (a true-up
    spends cap that the periods after it cannot)."""
    cal = tl.calendar
    entries: list[LedgerEntry] = []
    settlements: list[Settlement] = []
    active = tl.window_mask(ag.from_, ag.until).astype(float)
    fwd = ag.rate * _line_sum(book, ag.base, tl.n) * active
    capped_seg = np.zeros(tl.n, dtype=bool)
    # what the cap leaves after the payments made before the run
    left = np.inf if ag.cap_usd is None else ag.cap_usd - ag.cap_used_usd
    cum = np.cumsum(fwd)
    rev = (ag.reverse.rate * _line_sum(book, ag.reverse.base, tl.n) * active
           if ag.reverse is not None else np.zeros(tl.n))
    provider_pays = ag.payer == "provider"

    groups: dict[float, list[int]] = {}
    for i in range(tl.n):
        if active[i]:
            groups.setdefault(cal.period_start_s(float(tl.starts_s[i]), ag.settle), []).append(i)
    trued_up = 0.0          # true-ups so far: they count toward the cap
    paid = 0.0              # forward paid so far (capped)
    for p0, idx in groups.items():
        p_end = cal.period_end_s(p0, ag.settle)
        if ag.cap_usd is not None:
            room = left - trued_up
            capped_cum = np.minimum(cum[idx], room)
            capped_seg[idx] = cum[idx] > room * (1 + 1e-12)
            fwd[idx] = np.diff(capped_cum, prepend=paid)
            paid = float(capped_cum[-1])
        cash_s = p_end + ag.payment_lag
        cash_d = cal.date_at(cash_s)
        f, r = float(fwd[idx].sum()), float(rev[idx].sum())
        minimum, short, capped = None, 0.0, bool(capped_seg[idx].any())
        if ag.minimum_usd is not None:
            covered = float(tl.durations_s[idx].sum())
            minimum = ag.minimum_usd * covered / (p_end - p0)
            owed = max(minimum - f, 0.0)
            short = min(owed, max(left - trued_up - paid, 0.0)) if ag.cap_usd is not None else owed
            capped = capped or short < owed
            trued_up += short
        net = f + short - r
        settlements.append(Settlement(
            ag.name, period_label(cal.date_at(p0), ag.settle), cal.date_at(p0),
            cal.date_at(p_end), f, r, -net if provider_pays else net, cash_d, cash_s, capped, minimum, short))
        for i in idx:
            a, b = float(tl.starts_s[i]), float(tl.ends_s[i])
            d = cal.date_at(a)
            out, into = (fwd[i], rev[i]) if provider_pays else (rev[i], fwd[i])
            if out:
                entries.append(LedgerEntry("revenue_share_paid", ag.name, -float(out), d, cash_d,
                                           a, b, cash_s, cash_s))
            if into:
                entries.append(LedgerEntry("revenue_share_received", ag.name, float(into), d,
                                           cash_d, a, b, cash_s, cash_s))
        if short:       # known when the period closes: booked in its last segment inside the run
            last = idx[-1]
            a, b = float(tl.starts_s[last]), float(tl.ends_s[last])
            entries.append(LedgerEntry("revenue_share_paid" if provider_pays else "revenue_share_received",
                                       ag.name + MINIMUM_SUFFIX, -short if provider_pays else short,
                                       cal.date_at(a), cash_d, a, b, cash_s, cash_s))
    return entries, settlements
