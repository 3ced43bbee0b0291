"""Revenue-share agreements: accrue, cap, net both ways, settle per period with a lag.

For an agreement with ``payer``, ``payee``, ``rate``, ``base`` and optional ``reverse``:

* forward (payer -> payee) accrues ``rate x revenue(base lines)`` in every segment inside the
  agreement's window (a bracketed ``rate`` steps on the running base revenue: :mod:`sim.economics.tiers`); the running total is truncated at ``cap_usd`` (lifetime, this agreement;
  or per agreement year with ``cap_period: year``, the years counted from ``from``, else from the
  run's start) less ``cap_used_usd`` (paid toward it before the run, in the cap period in progress
  at the start), so a cap reached mid-period pays only what is left of it;
* a ``minimum_usd`` (take-or-pay) makes the payer owe at least that much forward per ``settle``
  period, prorated by the share of the period's seconds inside both the horizon and the window:
  the shortfall ``max(minimum - forward, 0)`` is a true-up of its own (ledger line
  ``<agreement>:minimum``), booked in the period's last segment and counted toward the cap (a
  true-up the cap would exceed pays only what is left of it; later forward accrues against what
  remains);
* reverse (payee -> payer) accrues ``reverse.rate x revenue(reverse.base lines)``, truncated at
  ``reverse.cap_usd`` less ``reverse.cap_used_usd`` over the agreement's life when set;
* each calendar ``settle`` period the two are netted: ``net = forward + shortfall - reverse``; the payer pays
  ``net`` when positive, the payee pays ``-net`` otherwise, in one cash movement at the end of
  the settlement period plus ``payment_lag``. A period cut short by the horizon or the window
  still settles at its calendar end.

The ledger keeps both gross sides (``revenue_share_paid`` and ``revenue_share_received``,
provider's view) with that settlement's cash time, so cash paid minus received is the net.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np

from sim.economics.calendar import period_label
from sim.economics.ledger import MINIMUM_SUFFIX, LedgerEntry
from sim.economics.revenue import RevenueBook
from sim.economics.statement import to_cents
from sim.economics.tiers import brackets_of, share as tiered_share
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


def _accrue(rate, base: np.ndarray, tier_year: np.ndarray, used: float) -> np.ndarray:
    """The share per segment of ``base`` (the base revenue inside the window) at ``rate``: a fraction,
    or brackets of the running base revenue restarting with each ``tier_year`` (:mod:`sim.economics.tiers`)."""
    brackets = brackets_of(rate)
    return rate * base if brackets is None else tiered_share(base, brackets, tier_year, used)


def settle_agreements(cfg: EconomicsConfig, book: RevenueBook, tl: Timeline
                      ) -> tuple[tuple[LedgerEntry, ...], tuple[Settlement, ...]]:
    """Ledger entries and settlements of every agreement in ``cfg``: one settlement per agreement name and
    period (:func:`_one_per_period`)."""
    entries: list[LedgerEntry] = []
    settlements: list[Settlement] = []
    for ag in cfg.agreements:
        e, s = _settle(ag, book, tl)
        entries += e
        settlements += s
    return tuple(entries), _one_per_period(settlements)


def _one_per_period(settlements: list[Settlement]) -> tuple[Settlement, ...]:
    """Settlements of one agreement name, period and cash time as one: a name repeated with disjoint windows
    (new terms from a date, :func:`sim.economics.validate.check`) whose windows meet inside one settlement
    period is one agreement settling that period once, as the statement nets it into one payment; its row
    sums both terms' shares (and prorated minimums), capped when either was. Same-name windows meeting in a
    period with different cash times are refused by the check, so none reaches here in two rows. The rows
    come in time order, by period (its end, when it settles, then its start: a quarter before the month
    ending with it), then by agreement name.
    """
    merged: dict[tuple[str, str, float], Settlement] = {}
    for s in settlements:
        key = (s.agreement, s.period, s.cash_s)
        if (m := merged.get(key)) is None:
            merged[key] = s
            continue
        minimum = None if m.minimum_usd is None and s.minimum_usd is None else \
            (m.minimum_usd or 0.0) + (s.minimum_usd or 0.0)
        merged[key] = replace(m, forward_usd=m.forward_usd + s.forward_usd, reverse_usd=m.reverse_usd + s.reverse_usd,
                              provider_net_usd=m.provider_net_usd + s.provider_net_usd,
                              capped=m.capped or s.capped, minimum_usd=minimum,
                              shortfall_usd=m.shortfall_usd + s.shortfall_usd)
    # in time order, then by name: the agreements' listed order put a second agreement's January after the
    # first's December
    return tuple(sorted(merged.values(), key=lambda s: (s.period_end, s.period_start, s.agreement, s.cash_s)))


def _settle(ag, book: RevenueBook, tl: Timeline) -> tuple[list[LedgerEntry], list[Settlement]]:
    """One agreement's ledger entries and settlements, period by period in time order (a true-up
    spends cap that the periods after it cannot)."""
    cal = tl.calendar
    entries: list[LedgerEntry] = []
    settlements: list[Settlement] = []
    active = tl.window_mask(ag.from_, ag.until).astype(float)
    tier_year = (tl.agreement_years(ag.from_) if ag.tier_period == "year"
                 else np.zeros(tl.n, dtype=np.int64))
    fwd = _accrue(ag.rate, _line_sum(book, ag.base, tl.n) * active, tier_year, ag.base_used_usd)
    capped_seg = np.zeros(tl.n, dtype=bool)
    rev = (_accrue(ag.reverse.rate, _line_sum(book, ag.reverse.base, tl.n) * active, tier_year,
                   ag.reverse.base_used_usd) if ag.reverse is not None else np.zeros(tl.n))
    rev_capped = np.zeros(tl.n, dtype=bool)
    if ag.reverse is not None and ag.reverse.cap_usd is not None:
        left_r = ag.reverse.cap_usd - ag.reverse.cap_used_usd
        rev_capped = np.cumsum(rev) > left_r * (1 + 1e-12)
        rev = np.diff(np.minimum(np.cumsum(rev), left_r), prepend=0.0)
    provider_pays = ag.payer == "provider"
    cap = _Cap(ag, tl, fwd)

    for p0, idx in tl.periods(active > 0, ag.settle).items():
        p_end = cal.period_end_s(p0, ag.settle)
        if ag.cap_usd is not None:
            for y in dict.fromkeys(cap.year[idx].tolist()):
                sub = [i for i in idx if cap.year[i] == y]
                fwd[sub], capped_seg[sub] = cap.pay(y, sub)
        cash_s = p_end + ag.payment_lag
        cash_d = cal.date_at(cash_s)
        f, r = float(fwd[idx].sum()), float(rev[idx].sum())
        minimum, short, capped = None, 0.0, bool(capped_seg[idx].any() or rev_capped[idx].any())
        if ag.minimum_usd is not None:
            covered = float(tl.durations_s[idx].sum())
            minimum = ag.minimum_usd * (covered / (p_end - p0))
            owed = max(minimum - f, 0.0)
            short = cap.true_up(int(cap.year[idx[-1]]), owed) if ag.cap_usd is not None else owed
            capped = capped or short < owed
        net = f + short - r                # (0.0 - net, not -net: nothing to pay is 0.0, never -0.0)
        label = period_label(cal.date_at(p0), ag.settle)
        settlements.append(Settlement(
            ag.name, label, cal.date_at(p0),
            cal.date_at(p_end), f, r, (0.0 - net) if provider_pays else net, cash_d, cash_s, capped, minimum, short))
        for i in idx:
            a, b = float(tl.starts_s[i]), float(tl.ends_s[i])
            d = cal.date_at(a)
            out, into = (fwd[i], rev[i]) if provider_pays else (rev[i], fwd[i])
            if out:
                entries.append(LedgerEntry("revenue_share_paid", ag.name, -float(out), d, cash_d,
                                           a, b, cash_s, cash_s, settlement=label))
            if into:
                entries.append(LedgerEntry("revenue_share_received", ag.name, float(into), d,
                                           cash_d, a, b, cash_s, cash_s, settlement=label))
        if short:       # known when the period closes: booked in its last segment inside the run
            last = idx[-1]
            a, b = float(tl.starts_s[last]), float(tl.ends_s[last])
            entries.append(LedgerEntry("revenue_share_paid" if provider_pays else "revenue_share_received",
                                       ag.name + MINIMUM_SUFFIX, -short if provider_pays else short,
                                       cal.date_at(a), cash_d, a, b, cash_s, cash_s, settlement=label))
    return entries, settlements


class _Cap:
    """An agreement's cap per cap period: its lifetime (one period) or each agreement year (from its
    ``from`` date, or the run's start without one, to the same day a year later; Feb 29 to Feb 28).
    The first period's room is ``cap_usd - cap_used_usd``, a later one's ``cap_usd``; forward share
    and true-ups both spend it."""

    def __init__(self, ag, tl: Timeline, fwd: np.ndarray) -> None:
        self.year = (tl.agreement_years(ag.from_) if ag.cap_period == "year"
                     else np.zeros(tl.n, dtype=np.int64))
        self.cum = np.zeros(tl.n)            # forward accrued within each cap period, uncapped
        for y in np.unique(self.year):
            mask = self.year == y
            self.cum[mask] = np.cumsum(fwd[mask])
        cap = np.inf if ag.cap_usd is None else ag.cap_usd
        self.first_room = cap - ag.cap_used_usd      # what the cap leaves after the payments before the run
        self.cap = cap
        self.paid: dict[int, float] = {}             # forward paid so far in each cap period (capped)
        self.trued_up: dict[int, float] = {}         # true-ups so far in each cap period

    def room(self, y: int) -> float:
        """What cap period ``y`` leaves for forward share after its true-ups."""
        return (self.first_room if y == 0 else self.cap) - self.trued_up.get(y, 0.0)

    def pay(self, y: int, sub: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Forward share paid in segments ``sub`` of cap period ``y`` (in time order), and which of
        them the cap cut."""
        room = self.room(y)
        capped_cum = np.minimum(self.cum[sub], room)
        paid = np.diff(capped_cum, prepend=self.paid.get(y, 0.0))
        self.paid[y] = float(capped_cum[-1])
        return paid, self.cum[sub] > room * (1 + 1e-12)

    def true_up(self, y: int, owed: float) -> float:
        """The part of a true-up of ``owed`` that cap period ``y`` leaves room for, spent."""
        short = min(owed, max(self.room(y) - self.paid.get(y, 0.0), 0.0))
        self.trued_up[y] = self.trued_up.get(y, 0.0) + short
        return short

