"""Revenue: tokens of completed requests priced per line, plus flat monthly lines.

* A request earns on the line named by its ``revenue_line`` (``-1``: the first token-priced line
  in the config), priced by the line active at its completion time (lines may share a name
  with non-overlapping ``from``/``until`` windows to express a price change):
  ``weight x (input x usd_per_million_input + output x usd_per_million_output) / 1e6
  + weight x usd_per_request``, booked at the completion time.
* A flat line books ``usd_per_month`` (x ``subscribers`` when given) x ``(1 + growth_per_month)^k``
  for the k-th calendar month of its window, prorated by the seconds of that month covered.

Lines owned by the partner are computed the same way; they are not the provider's revenue and
are kept out of the ledger, but they can be the base of a reverse revenue share.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from sim.economics.calendar import period_next
from sim.economics.ledger import LedgerEntry
from sim.economics.timeline import Timeline, window_s
from sim.economics.usage import Usage
from sim.scenario.economics import EconomicsConfig, RevenueLine


@dataclass(frozen=True)
class RevenueBook:
    """Revenue per line per segment (USD), the provider's ledger entries and notes."""

    by_line: dict[str, np.ndarray]
    owner: dict[str, str]
    entries: tuple[LedgerEntry, ...]
    notes: list[str] = field(default_factory=list)
    request_usd: np.ndarray | None = None
    """Per usage row: what it earned on the provider's token-priced lines (USD)."""

    def total(self, owner: str) -> float:
        return float(sum(v.sum() for k, v in self.by_line.items() if self.owner[k] == owner))


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def monthly_amounts(usd_per_month: float, growth_per_month: float, from_: dt.date | None,
                    until: dt.date | None, tl: Timeline) -> np.ndarray:
    """USD per segment of a flat monthly amount, prorated by seconds of each calendar month.

    Month ``k`` of the window (k = 0 for the month containing ``from``, or ``start``) is worth
    ``usd_per_month x (1 + growth_per_month)^k``.
    """
    cal = tl.calendar
    first = (from_ or cal.start).replace(day=1)
    active = tl.window_mask(from_, until)
    out = np.zeros(tl.n)
    for i in np.flatnonzero(active):
        d = cal.date_at(float(tl.starts_s[i]))
        m0 = d.replace(day=1)
        month_s = cal.seconds_at(period_next(m0, "month")) - cal.seconds_at(m0)
        k = _months_between(first, m0)
        out[i] = usd_per_month * (1.0 + growth_per_month) ** k * tl.durations_s[i] / month_s
    return out


def request_usd(line: RevenueLine, input_tokens: np.ndarray, output_tokens: np.ndarray,
                weight: np.ndarray) -> np.ndarray:
    """What each request earns on a token-priced ``line`` (USD)."""
    usd = weight * ((line.usd_per_million_input_tokens or 0.0) * input_tokens
                    + (line.usd_per_million_output_tokens or 0.0) * output_tokens) / 1e6
    return usd + weight * (line.usd_per_request or 0.0)


def row_lines(cfg: EconomicsConfig, revenue_line: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Each row's revenue line name (``-1``: the provider's first token-priced line, or ``""``)."""
    default = next((ln.name for ln in cfg.revenue if ln.token_priced and ln.owner == "provider"), None)
    lut = np.array([*names, default or ""], dtype=object)
    return lut[np.where(revenue_line < 0, len(names), revenue_line)]


def book_revenue(cfg: EconomicsConfig, usage: Usage, tl: Timeline) -> RevenueBook:
    """Revenue per line over the timeline. Requests naming a line the config does not define earn
    nothing (a note says so when the config has revenue lines at all; :func:`sim.economics.validate`
    reports it as a problem when given the workload's line names)."""
    cal = tl.calendar
    names = list(dict.fromkeys(line.name for line in cfg.revenue))
    by_line = {n: np.zeros(tl.n) for n in names}
    owner = {line.name: line.owner for line in cfg.revenue}
    notes: list[str] = []

    # Token-priced lines.
    n_req = len(usage.completion_s)
    per_request_usd = np.zeros(n_req)
    # requests without a revenue line earn on the provider's first token-priced line
    default = next((line.name for line in cfg.revenue if line.token_priced and line.owner == "provider"), None)
    if n_req:
        present = np.flatnonzero(np.bincount(usage.revenue_line + 1)) - 1   # sorted distinct indices, -1 first
        used = {usage.revenue_line_names[i] for i in present if i >= 0}
        unknown = sorted(used - owner.keys())
        if unknown and cfg.revenue:
            notes.append(f"requests name revenue lines {unknown} that economics.revenue does not "
                         f"define (defined: {names}): they earn nothing")
        if default is None and cfg.revenue and np.any(usage.revenue_line < 0):
            notes.append(f"{int(np.sum(usage.revenue_line < 0))} completed requests have no revenue "
                         "line and no token-priced line exists: they earn nothing")
        seg = tl.index(usage.completion_s)
        w = np.asarray(usage.weight, dtype=float)
        t = np.asarray(usage.completion_s, dtype=float)
        line_of_req = row_lines(cfg, usage.revenue_line, usage.revenue_line_names)
        priced = np.zeros(n_req, dtype=bool)
        for line in cfg.revenue:
            if not line.token_priced:
                continue
            lo, hi = window_s(cal, line.from_, line.until)
            mask = (line_of_req == line.name) & (t >= lo) & (t < hi)
            priced |= mask
            usd = request_usd(line, usage.input_tokens, usage.output_tokens, w)
            by_line[line.name] += np.bincount(seg[mask], weights=usd[mask], minlength=tl.n)
            if line.owner == "provider":
                per_request_usd[mask] += usd[mask]
        token_names = np.array(sorted({ln.name for ln in cfg.revenue if ln.token_priced}), dtype=object)
        missed = int(np.sum(~priced & np.isin(line_of_req, token_names)))
        if missed:
            notes.append(f"{missed} completed requests finished outside every window of their "
                         "revenue line: they earn nothing")

    # Flat monthly lines.
    for line in cfg.revenue:
        if line.usd_per_month is None:
            continue
        per_month = line.usd_per_month * (line.subscribers if line.subscribers is not None else 1.0)
        by_line[line.name] += monthly_amounts(per_month, line.growth_per_month, line.from_,
                                              line.until, tl)

    entries = []
    for name in names:
        if owner[name] != "provider":
            continue
        for i in np.flatnonzero(by_line[name]):
            a, b = float(tl.starts_s[i]), float(tl.ends_s[i])
            d = cal.date_at(a)
            entries.append(LedgerEntry("revenue", name, float(by_line[name][i]), d, d, a, b, a, b))
    return RevenueBook(by_line, owner, tuple(entries), notes, per_request_usd)
