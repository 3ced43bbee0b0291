"""Finance metrics of a ledger and its statement: IRR, payback, margin and present value per row.

* **IRR**: the annual effective rate ``r`` at which the net present value of every cash flow
  (the ledger, lagged settlements included, with the NPV convention of
  :mod:`~sim.economics.statement`: uniform flows in closed form, lumps at their instant) is zero,
  found with :func:`scipy.optimize.brentq` in the first bracket of a fixed grid of rates from
  -99 % up where the NPV changes sign; ``None`` when it never does (all flows of one sign, or a
  root beyond 10^6 = 100,000,000 % a year, as a horizon of hours easily gives).
* **Payback**: the first statement row from which cumulative cash stays >= 0 through the last
  row; ``None`` when the last row's cumulative cash is negative (not paid back).

Per-row margin and present value are statement columns (:mod:`~sim.economics.statement`).

>>> import datetime as dt
>>> d, year = dt.date(2025, 1, 1), 365 * 86400.0
>>> flows = [LedgerEntry("compute", "c", -100.0, d, d, 0.0, 0.0, 0.0, 0.0),
...          LedgerEntry("revenue", "r", 110.0, d, d, year, year, year, year)]
>>> round(irr(flows), 12)
0.1
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim.economics.ledger import LedgerEntry
from sim.economics.statement import YEAR_S

#: rates scanned for a sign change of the NPV, lowest first (annual effective)
IRR_GRID = (-0.99, -0.9, -0.5, -0.2, 0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6)


def irr(entries: Sequence[LedgerEntry]) -> float | None:
    """Internal rate of return of the entries' cash flows (see the module docstring)."""
    if not entries:
        return None
    amount = np.array([e.amount_usd for e in entries])
    a = np.array([e.cash_start_s for e in entries]) / YEAR_S
    b = np.array([e.cash_end_s for e in entries]) / YEAR_S
    lump = b <= a
    width = np.where(lump, 1.0, b - a)

    def npv(r: float) -> float:   # present_value, vectorised over the entries
        if r == 0.0:
            return float(amount.sum())
        delta = math.log1p(r)
        with np.errstate(over="ignore", invalid="ignore"):
            va, vb = np.exp(-delta * a), np.exp(-delta * b)
            return float(np.sum(amount * np.where(lump, va, (va - vb) / (delta * width))))

    values = [npv(r) for r in IRR_GRID]
    for (r0, f0), (r1, f1) in zip(zip(IRR_GRID, values), zip(IRR_GRID[1:], values[1:])):
        if f0 == 0.0:
            return r0
        if math.isfinite(f0) and math.isfinite(f1) and (f0 < 0) != (f1 < 0):
            from scipy.optimize import brentq   # only when there is a root: scipy costs ~0.2 s to import

            return float(brentq(npv, r0, r1, xtol=1e-14, rtol=1e-12, maxiter=200))
    return None


def payback_row(rows: Sequence[dict]) -> dict | None:
    """The first row from which ``cumulative_cash_usd`` stays >= 0 to the end (``None``: never)."""
    found = None
    for r in reversed(rows):
        if r["cumulative_cash_usd"] < 0:
            break
        found = r
    return found
