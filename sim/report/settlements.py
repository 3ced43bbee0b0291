"""The run page's revenue-share settlements: one netted payment per agreement and settlement period.

``settlements.csv`` (:data:`sim.economics.agreements.SETTLEMENT_COLUMNS`) says, per agreement and period,
what the payer owes the payee (``forward_usd``), what the payee owes back (``reverse_usd``), their net, who
pays it and the day the cash lands (the period's end plus the agreement's ``payment_lag``). The statement per
period shows the same money as accrual and cash columns, but not who pays whom nor when: a planner asking
what a deal looks like quarter by quarter reads it here. A settlement whose cash lands after the run's
horizon is marked ``†``, as the statement marks its rows of such cash.

The file is read checked (:func:`sim.report.csv_columns.read_columns`): a damaged one is a
:class:`~sim.errors.ScenarioError` naming it, not a table of garbage.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sim import humanize
from sim.report.csv_columns import read_columns
from sim.report.html_page import escape, table

#: the columns of ``settlements.csv`` that are amounts or seconds (the rest are text: names, periods, dates)
NUMERIC = ("forward_usd", "reverse_usd", "net_usd", "provider_net_usd", "cash_s", "minimum_usd", "shortfall_usd")
#: the columns the section needs
REQUIRED = ("agreement", "period", "forward_usd", "reverse_usd", "net_usd", "cash_direction", "cash_date", "cash_s")


def read_settlements(folder: Path | str) -> list[dict[str, Any]] | None:
    """``settlements.csv`` as one dict per row (amounts as floats, NaN for an empty cell), or ``None`` when
    the folder has none; a file that is not as fleetsim writes it raises :class:`~sim.errors.ScenarioError`."""
    path = Path(folder) / "settlements.csv"
    if not path.exists():
        return None
    cols = read_columns(path, numeric=NUMERIC, required=REQUIRED)
    n = len(cols["agreement"]) if "agreement" in cols else 0
    return [{k: (float(v[i]) if k in NUMERIC else str(v[i])) for k, v in cols.items()} for i in range(n)]


def _parties(economics: Any) -> dict[str, tuple[str, str]]:
    """Each agreement's ``(payer, payee)`` by name, from the scenario's ``economics`` block (as
    ``scenario.json`` keeps it: defaults filled in; the schema's defaults for a hand-written one:
    ``revenue_share``, provider to partner)."""
    agreements = economics.get("agreements") if isinstance(economics, dict) else None
    out = {}
    for ag in agreements if isinstance(agreements, list) else []:
        if isinstance(ag, dict):
            out[str(ag.get("name") or "revenue_share")] = (str(ag.get("payer", "provider")),
                                                             str(ag.get("payee", "partner")))
    return out


def settlements_section(rows: list[dict[str, Any]] | None, currency: str = "USD", horizon_s: float | None = None,
                        economics: Any = None) -> str:
    """The settlements as a table under a heading, each amount in ``currency``; empty without any. The
    agreement column (only with several agreements) and the share columns' headings name the parties when
    the scenario's ``economics`` says them; a take-or-pay true-up column only when some period has one; a
    payment landing at or after ``horizon_s`` (the run's end, seconds from its start) marked ``†``: cash
    landing as the run ends is the statement's "after the end" too (:mod:`sim.economics.statement`)."""
    if not rows:
        return ""
    parties = _parties(economics)
    pairs = {parties.get(r["agreement"]) for r in rows}
    payer, payee = next(iter(pairs)) if len(pairs) == 1 and None not in pairs else ("payer", "payee")
    several = len({r["agreement"] for r in rows}) > 1
    shortfall = any(_amount(r.get("shortfall_usd")) for r in rows)
    late = [horizon_s is not None and math.isfinite(r["cash_s"]) and r["cash_s"] >= horizon_s for r in rows]

    def cell(v: Any) -> str:
        return humanize.money(v, currency, compact=None) if isinstance(v, float) and math.isfinite(v) else ""

    header = [*(["agreement"] if several else []), "period", f"share owed {payer} → {payee}",
              *(["minimum true-up"] if shortfall else []), f"share owed back {payee} → {payer}",
              "net payment", "who pays", "cash lands"]
    body = [[*([r["agreement"]] if several else []), r["period"], cell(r["forward_usd"]),
             *([cell(r.get("shortfall_usd"))] if shortfall else []), cell(r["reverse_usd"]),
             cell(abs(r["net_usd"])), r["cash_direction"], r["cash_date"] + (" †" if after else "")]
            for r, after in zip(rows, late)]
    words = (f"One netted payment per {'agreement and ' if several else ''}settlement period (settlements.csv), "
             f"{escape(currency)}: the share of the base revenue owed one way, "
             f"{'the true-up to the minimum, ' if shortfall else ''}the share owed back, and the one payment "
             f"that settles them, paid on the day the cash lands (the period's end plus the payment lag).")
    if any(late):
        words += " † after the run's horizon: owed at the end, paid then (the statement's “after the end” rows)."
    return "<h2>Revenue-share settlements</h2>" + f"<p>{words}</p>" + table(header, body, cls="statement")


def _amount(v: Any) -> bool:
    """Whether ``v`` is a non-zero finite amount."""
    return isinstance(v, float) and math.isfinite(v) and v != 0
