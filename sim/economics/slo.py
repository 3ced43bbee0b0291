"""SLO money: revenue lost to requests the fleet did not serve, and SLA service credits.

Both need every request's outcome (:class:`~sim.economics.usage.Outcomes`: a request-level run
with ``metrics.records: all``); without it they are not computed and the notes say so.

* **Revenue lost**: what each rejected or failed request would have earned on its line's token
  prices at its arrival time, for its requested input and output tokens (an opportunity cost:
  reported, not booked).
* **Service credits**: for a provider line with ``sla: {attainment, credit_pct}``, in every
  statement period the attainment is the weighted share of the line's requests with a known
  outcome (completed, rejected, failed; time = completion, or arrival when not served) that
  completed within their class's SLO. Below ``attainment``, the provider credits ``credit_pct``
  of the line's revenue in that period: a negative ``sla_credit`` entry over the period's
  covered interval (paid on the line's payment terms, on the invoice that closes the period:
  :func:`~sim.economics.terms.pay_on_terms`). A period with no request of the line owes no credit.
"""
from __future__ import annotations

import numpy as np

from sim.economics.calendar import period_floor, period_label, period_next
from sim.economics.ledger import LedgerEntry
from sim.economics.revenue import RevenueBook, request_usd, row_lines
from sim.economics.timeline import Timeline, window_s
from sim.economics.usage import Usage
from sim.scenario.economics import EconomicsConfig

REJECTED, FAILED = 2, 3


def lost_revenue(cfg: EconomicsConfig, usage: Usage, tl: Timeline) -> dict | None:
    """``{usd, by_line, requests}`` of rejected and failed requests (``None``: no outcomes)."""
    o = usage.outcomes
    if o is None:
        return None
    lost = (o.status == REJECTED) | (o.status == FAILED)
    lines = row_lines(cfg, o.revenue_line, usage.revenue_line_names)
    w = np.asarray(o.weight, dtype=float)
    by_line: dict[str, float] = {}
    for line in cfg.revenue:
        if not line.token_priced or line.owner != "provider":
            continue
        lo, hi = window_s(tl.calendar, line.from_, line.until)
        mask = lost & (lines == line.name) & (o.t_s >= lo) & (o.t_s < hi)
        usd = request_usd(line, o.input_tokens, o.output_tokens, w)
        by_line[line.name] = by_line.get(line.name, 0.0) + float(usd[mask].sum())
    return {"usd": float(sum(by_line.values())), "by_line": by_line, "requests": float(w[lost].sum())}


def sla_credits(cfg: EconomicsConfig, usage: Usage, tl: Timeline, book: RevenueBook
                ) -> tuple[tuple[LedgerEntry, ...], list[dict]]:
    """Credit entries and one ``{line, period, attainment, target, requests, credit_usd}`` row per
    line with an SLA and statement period with requests."""
    o = usage.outcomes
    if o is None:
        return (), []
    cal = tl.calendar
    lines = row_lines(cfg, o.revenue_line, usage.revenue_line_names)
    w = np.asarray(o.weight, dtype=float)
    seg_period = np.array([cal.seconds_at(period_floor(cal.date_at(float(s)), cfg.period)) for s in tl.starts_s])
    entries: list[LedgerEntry] = []
    report: list[dict] = []
    for line in cfg.revenue:
        if line.sla is None or line.owner != "provider":
            continue
        lo, hi = window_s(cal, line.from_, line.until)
        mine = (lines == line.name) & (o.t_s >= lo) & (o.t_s < hi) & (o.t_s < tl.horizon_s)
        active = tl.window_mask(line.from_, line.until)
        for p0 in np.unique(seg_period[active]):
            p_start = float(p0)
            p_end = cal.seconds_at(period_next(cal.date_at(p_start), cfg.period))
            in_p = mine & (o.t_s >= p_start) & (o.t_s < p_end)
            known = float(w[in_p].sum())
            if known <= 0:
                continue
            attainment = float(w[in_p & o.met].sum()) / known
            segs = np.flatnonzero(active & (seg_period == p0))
            revenue = float(book.by_line[line.name][segs].sum())
            credit = line.sla.credit_pct * revenue if attainment < line.sla.attainment else 0.0
            report.append({"line": line.name, "period": period_label(cal.date_at(p_start), cfg.period),
                           "attainment": attainment, "target": line.sla.attainment, "requests": known,
                           "credit_usd": credit})
            if credit > 0:
                a, b = float(tl.starts_s[segs[0]]), float(tl.ends_s[segs[-1]])
                d = cal.date_at(a)
                entries.append(LedgerEntry("sla_credit", line.name, -credit, d, d, a, b, a, b))
    return tuple(entries), report
