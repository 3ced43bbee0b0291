"""Per-period statement (accrual and cash), cumulative cash and net present value.

Rows are calendar periods (the config's ``period``). A row's accrual columns sum the ledger by
accrual interval, its cash columns by cash time; rows after the horizon appear only when cash
still moves in them (lagged revenue-share settlements) and are flagged ``after_horizon``. A row
whose period the horizon does not fully cover is flagged ``partial``.

Cost columns hold positive magnitudes; ``*_net_usd``, ``net_usd`` and cash totals are signed
(positive: money in for the provider).

NPV convention: annual effective ``discount_rate`` r, time in years = simulated seconds /
(365 x 86400) from t = 0 (Actual/365 Fixed), discount factor ``v(t) = (1 + r)^-t``. A lump sum
``a`` at ``t`` is worth ``a v(t)``; an amount ``a`` spread uniformly over ``[t0, t1)`` is worth
the closed form ``a (v(t0) - v(t1)) / (ln(1 + r) (t1 - t0))``.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence

import numpy as np

from sim.economics.calendar import period_floor, period_label, period_next
from sim.economics.ledger import LedgerEntry
from sim.economics.timeline import Timeline

YEAR_S = 365.0 * 86400.0

# (column stem, ledger category); accrual column is f"{stem}_usd", cash column f"cash_{stem}_usd".
CATEGORY_COLUMNS = (("revenue", "revenue"), ("compute", "compute"), ("training", "training"),
                    ("credits_applied", "credit"), ("revenue_share_paid", "revenue_share_paid"),
                    ("revenue_share_received", "revenue_share_received"))


def present_value(entries: Iterable[LedgerEntry], discount_rate: float, t0_s: float = 0.0) -> float:
    """Sum of the entries' cash flows discounted to ``t0_s`` (see the module's convention)."""
    if discount_rate == 0:
        return float(sum(e.amount_usd for e in entries))
    delta = math.log1p(discount_rate)
    total = 0.0
    for e in entries:
        a, b = (e.cash_start_s - t0_s) / YEAR_S, (e.cash_end_s - t0_s) / YEAR_S
        if b <= a:
            total += e.amount_usd * math.exp(-delta * a)
        else:
            total += e.amount_usd * (math.exp(-delta * a) - math.exp(-delta * b)) / (delta * (b - a))
    return total


def build_statement(entries: Sequence[LedgerEntry], partner_by_segment: np.ndarray, tl: Timeline,
                    period: str, revenue_lines: Sequence[str], tiers: Sequence[str]) -> list[dict]:
    """Statement rows (dicts with the same keys in the same order), oldest first."""
    cal = tl.calendar
    rows: dict[dt.date, dict] = {}

    def row(d: dt.date) -> dict:
        p0 = period_floor(d, period)
        if p0 not in rows:
            p1 = period_next(p0, period)
            s0, s1 = cal.seconds_at(p0), cal.seconds_at(p1)
            covered = max(0.0, min(s1, tl.horizon_s) - max(s0, 0.0))
            r = {"period": period_label(p0, period), "start": p0.isoformat(), "end": p1.isoformat(),
                 "covered_s": covered, "partial": bool(0 < covered < s1 - s0),
                 "after_horizon": bool(covered == 0)}
            r["revenue_usd"] = 0.0
            r.update({f"revenue_{n}_usd": 0.0 for n in revenue_lines})
            r["compute_usd"] = 0.0
            r.update({f"compute_{t}_usd": 0.0 for t in tiers})
            for stem, _ in CATEGORY_COLUMNS[2:]:
                r[f"{stem}_usd"] = 0.0
            r.update({"revenue_share_net_usd": 0.0, "gross_margin_usd": 0.0, "net_usd": 0.0,
                      "partner_revenue_usd": 0.0})
            for stem, _ in CATEGORY_COLUMNS:
                r[f"cash_{stem}_usd"] = 0.0
            r.update({"cash_net_usd": 0.0, "cumulative_cash_usd": 0.0})
            rows[p0] = r
        return rows[p0]

    for s in tl.starts_s:  # every covered period gets a row, even an empty one
        row(cal.date_at(float(s)))
    stem_of = {cat: stem for stem, cat in CATEGORY_COLUMNS}
    for e in entries:
        stem = stem_of[e.category]
        mag = abs(e.amount_usd)
        r = row(e.accrual_date)
        r[f"{stem}_usd"] += mag
        r["net_usd"] += e.amount_usd
        if e.category == "revenue":
            r[f"revenue_{e.line}_usd"] += mag
        elif e.category == "compute":
            r[f"compute_{e.line.rsplit(':', 1)[1]}_usd"] += mag
        c = row(e.cash_date)
        c[f"cash_{stem}_usd"] += mag
        c["cash_net_usd"] += e.amount_usd
    for i, amount in enumerate(partner_by_segment):
        if amount:
            row(cal.date_at(float(tl.starts_s[i])))["partner_revenue_usd"] += float(amount)

    out = [rows[k] for k in sorted(rows)]
    cum = 0.0
    for r in out:
        r["gross_margin_usd"] = r["revenue_usd"] - r["compute_usd"]
        r["revenue_share_net_usd"] = r["revenue_share_received_usd"] - r["revenue_share_paid_usd"]
        cum += r["cash_net_usd"]
        r["cumulative_cash_usd"] = cum
    return out


def money(x: float) -> str:
    """Compact USD: ``-1.23M``, ``456.00k``, ``12.34``."""
    a = abs(x)
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.2f}{suf}"
    return f"{x:.2f}"


def format_statement(rows: Sequence[dict], currency: str = "USD") -> str:
    """A plain-text table of the statement for a terminal."""
    cols = (("period", "period"), ("revenue_usd", "revenue"), ("compute_usd", "compute"),
            ("training_usd", "training"), ("credits_applied_usd", "credits"),
            ("revenue_share_paid_usd", "share paid"), ("revenue_share_received_usd", "share recv"),
            ("net_usd", "net"), ("cash_net_usd", "cash net"), ("cumulative_cash_usd", "cum cash"))
    table = [[h for _, h in cols]]
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r[key]
            cells.append(v if isinstance(v, str) else money(v))
        flag = " (partial)" if r["partial"] else (" (after horizon: cash only)" if r["after_horizon"] else "")
        cells[0] = cells[0] + flag
        table.append(cells)
    widths = [max(len(row[j]) for row in table) for j in range(len(cols))]
    lines = [f"Cash-flow statement ({currency}; accrual columns, then cash)"]
    for k, row in enumerate(table):
        lines.append("  ".join(c.ljust(widths[0]) if j == 0 else c.rjust(widths[j])
                               for j, c in enumerate(row)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
