"""The ledger: every amount of money the provider books, with when it accrues and when it moves.

Amounts are signed from the provider's side: positive is money in (revenue, revenue share
received, credits applied), negative is money out (compute, training, revenue share paid).
Each entry accrues uniformly over ``[accrual_start_s, accrual_end_s)`` and moves in cash
uniformly over ``[cash_start_s, cash_end_s)`` (equal bounds: a lump sum at that instant).
Revenue, compute and training move in cash as they accrue unless the line has payment terms
(:mod:`~sim.economics.terms`); revenue share moves as one netted
payment per settlement period, after the payment lag; credits are non-cash and offset the cost
they apply to in the same interval (so training cash = training cost - credits applied).

Categories: ``revenue``, ``compute``, ``training``, ``credit``, ``revenue_share_paid``,
``revenue_share_received``, ``opening`` (a balance owed at t = 0: cash only, no accrual),
``energy`` (owned pools' electricity), ``sla_credit`` (service credits owed to customers),
``compute_commit`` (a committed compute spend's shortfall, :mod:`~sim.economics.commits`). Lines:
the revenue line name, ``pool:tier``, ``training``, the credit or commit name, or the agreement
name (``<agreement>:minimum`` for a minimum guarantee's true-up, :data:`MINIMUM_SUFFIX`). A
``credit`` entry's ``offsets`` names the category whose cost it reduces (``training`` or
``compute``); other entries leave it empty. A revenue-share entry's ``settlement`` names its settlement
period (not a ``ledger.csv`` column).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CATEGORIES = ("revenue", "compute", "training", "credit", "revenue_share_paid",
              "revenue_share_received", "opening", "energy", "sla_credit", "compute_commit")

#: the ledger line of an agreement's minimum-guarantee true-up is the agreement's name and this
MINIMUM_SUFFIX = ":minimum"


def agreement_of(line: str) -> str:
    """The agreement a revenue-share entry's ``line`` belongs to (its true-up's line names it too).

    >>> agreement_of("revenue_share:minimum"), agreement_of("revenue_share")
    ('revenue_share', 'revenue_share')
    """
    return line[:-len(MINIMUM_SUFFIX)] if line.endswith(MINIMUM_SUFFIX) else line


@dataclass(frozen=True)
class LedgerEntry:
    """One booked amount (USD, signed from the provider's side)."""

    category: str
    line: str
    amount_usd: float
    accrual_date: dt.date
    cash_date: dt.date
    accrual_start_s: float
    accrual_end_s: float
    cash_start_s: float
    cash_end_s: float
    offsets: str = ""
    settlement: str = ""
    """A revenue-share entry's settlement period (``2025-Q1``): the statement nets each settlement into one
    payment, as ``settlements.csv`` has a row per agreement name and period; other entries leave it empty."""

    @property
    def is_lump(self) -> bool:
        return self.cash_end_s <= self.cash_start_s


LEDGER_COLUMNS = ("category", "line", "amount_usd", "accrual_date", "cash_date", "accrual_start_s",
                  "accrual_end_s", "cash_start_s", "cash_end_s")


def sum_by(entries: list[LedgerEntry] | tuple[LedgerEntry, ...], category: str) -> float:
    """Sum of signed amounts in one category."""
    return float(sum(e.amount_usd for e in entries if e.category == category))
