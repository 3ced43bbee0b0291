"""Per-period statement (accrual and cash), cumulative cash and net present value.

Rows are calendar periods (the config's ``period``). A row's accrual columns sum the ledger by
accrual interval, its cash columns by cash time. Cash that moves at or after the horizon (lagged
revenue-share settlements) goes to rows flagged ``after_horizon`` that carry only cash: a period
the horizon cuts short gets two rows, the ``partial`` one (cash up to the horizon, so its
``cumulative_cash_usd`` equals the summary's ``cash_net``) and an ``after_horizon`` one.

Cash columns hold only money that moved: a netted revenue-share settlement is one payment, shown
in ``cash_revenue_share_paid_usd`` or ``cash_revenue_share_received_usd`` by its sign (the gross
sides stay in the accrual columns); a credit moves no cash, it lowers the cash column of the cost
it offsets (``cash_training_usd`` is training cost minus the credits applied to it).

Finance columns: ``gross_margin_pct`` (gross margin / revenue; empty without revenue),
``cash_opening_usd`` (only when the config has ``opening`` balances: those collected, positive,
or paid, negative, in the row), ``energy_usd`` and ``cash_energy_usd`` (only when an ``owned``
pool's energy is costed), ``sla_credits_usd`` and ``cash_sla_credits_usd`` (only when service
credits are owed), ``pv_cash_usd`` (the row's cash discounted to t = 0 with the NPV convention below; the rows sum
to ``npv_usd``) and ``discount_factor`` (``pv_cash_usd / cash_net_usd``: the factor the row's cash
was discounted by; empty without cash). With ``rounding: cents`` every money cell is rounded to
the cent (halves away from zero) and every total and net of a row is re-summed from its rounded
parts, so each row foots (:func:`round_to_cents`).

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
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from collections.abc import Iterable, Sequence

import numpy as np

from sim.economics.calendar import period_floor, period_label, period_next
from sim.economics.ledger import LedgerEntry, agreement_of
from sim.economics.timeline import Timeline
from sim.text_table import column_blocks, shown_width, table_lines

YEAR_S = 365.0 * 86400.0

# (column stem, ledger category); accrual column is f"{stem}_usd", cash column f"cash_{stem}_usd".
CATEGORY_COLUMNS = (("revenue", "revenue"), ("compute", "compute"), ("training", "training"),
                    ("credits_applied", "credit"), ("revenue_share_paid", "revenue_share_paid"),
                    ("revenue_share_received", "revenue_share_received"))
# categories whose columns appear only when the ledger has them (energy of owned pools, SLA credits,
# a compute commit's shortfall)
OPTIONAL_COLUMNS = (("energy", "energy"), ("sla_credits", "sla_credit"),
                    ("compute_commit_shortfall", "compute_commit"))
# stems with a cash column: a credit is not cash (it lowers the cash paid for what it offsets)
CASH_STEMS = tuple(stem for stem, cat in CATEGORY_COLUMNS if cat != "credit")


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
                    period: str, revenue_lines: Sequence[str], tiers: Sequence[str],
                    discount_rate: float = 0.0) -> list[dict]:
    """Statement rows (dicts with the same keys in the same order), oldest first."""
    rows = _Rows(tl, period, _zero_columns(entries, revenue_lines, tiers))
    for s in tl.starts_s:  # every covered period gets a row, even an empty one
        rows.at(tl.calendar.date_at(float(s)))
    _book_entries(rows, entries, discount_rate)
    for i, amount in enumerate(partner_by_segment):
        if amount:
            rows.at(tl.calendar.date_at(float(tl.starts_s[i])))["partner_revenue_usd"] += float(amount)
    out = rows.in_order()
    _derived_columns(out)
    return out


def _zero_columns(entries: Sequence[LedgerEntry], revenue_lines: Sequence[str], tiers: Sequence[str]) -> dict:
    """Every money column of a row, in the statement's order, at zero (the ratios empty): revenue
    and compute with their lines and tiers, the other categories, the nets, cash by stem (opening
    balances and optional categories only when the ledger has them), then the running columns."""
    present = {e.category for e in entries}
    optional = [stem for stem, cat in OPTIONAL_COLUMNS if cat in present]
    r = {"revenue_usd": 0.0}
    r.update({f"revenue_{n}_usd": 0.0 for n in revenue_lines})
    r["compute_usd"] = 0.0
    r.update({f"compute_{t}_usd": 0.0 for t in tiers})
    for stem, _ in CATEGORY_COLUMNS[2:]:
        r[f"{stem}_usd"] = 0.0
    r.update({"revenue_share_net_usd": 0.0, "gross_margin_usd": 0.0, "net_usd": 0.0,
              "partner_revenue_usd": 0.0})
    for stem in CASH_STEMS:
        r[f"cash_{stem}_usd"] = 0.0
    if "opening" in present:
        r["cash_opening_usd"] = 0.0
    for stem in optional:
        r[f"{stem}_usd"] = 0.0
        r[f"cash_{stem}_usd"] = 0.0
    r.update({"cash_net_usd": 0.0, "cumulative_cash_usd": 0.0, "gross_margin_pct": None,
              "pv_cash_usd": 0.0, "discount_factor": None})
    return r


class _Rows:
    """The statement's rows by (period start, after the horizon), each made on first use with
    its period, dates and the share of the period the horizon covers, every column at zero."""

    def __init__(self, tl: Timeline, period: str, zero: dict) -> None:
        self.tl, self.period, self.zero = tl, period, zero
        self.rows: dict[tuple[dt.date, bool], dict] = {}

    def at(self, d: dt.date, after: bool = False) -> dict:
        """The row of the period holding date ``d`` (its cash-only twin after the horizon)."""
        p0 = period_floor(d, self.period)
        if (p0, after) not in self.rows:
            cal, horizon_s = self.tl.calendar, self.tl.horizon_s
            p1 = period_next(p0, self.period)
            s0, s1 = cal.seconds_at(p0), cal.seconds_at(p1)
            covered = 0.0 if after else max(0.0, min(s1, horizon_s) - max(s0, 0.0))
            first = max(p0, cal.date_at(horizon_s)) if after else p0
            self.rows[(p0, after)] = {
                "period": period_label(p0, self.period), "start": first.isoformat(), "end": p1.isoformat(),
                "covered_s": covered, "partial": bool(0 < covered < s1 - s0), "after_horizon": after,
                **self.zero}
        return self.rows[(p0, after)]

    def in_order(self) -> list[dict]:
        return [self.rows[k] for k in sorted(self.rows)]


def _book_entries(rows: _Rows, entries: Sequence[LedgerEntry], discount_rate: float) -> None:
    """Each entry into the accrual columns of its accrual period (opening balances were accrued
    before the horizon: cash only) and the cash columns of its cash period; revenue-share entries
    of one settlement (an agreement name and settlement period, paid at one instant; its minimum's true-up
    included) are netted into one payment, a row of ``settlements.csv``: two settlements of one name paid at
    the same moment (monthly terms' last month and quarterly terms' first quarter) stay two payments."""
    horizon_s = rows.tl.horizon_s
    stem_of = {cat: stem for stem, cat in (*CATEGORY_COLUMNS, *OPTIONAL_COLUMNS)}
    settled: dict[tuple, float] = {}     # (row, agreement, settlement period, cash time) -> provider net
    by_id = {}
    for e in entries:
        mag = abs(e.amount_usd)
        stem = stem_of.get(e.category)
        if e.category != "opening":
            r = rows.at(e.accrual_date)
            r[f"{stem}_usd"] += mag
            r["net_usd"] += e.amount_usd
            if e.category == "revenue":
                r[f"revenue_{e.line}_usd"] += mag
            elif e.category == "compute":
                r[f"compute_{e.line.rsplit(':', 1)[1]}_usd"] += mag
        c = rows.at(e.cash_date, e.cash_start_s >= horizon_s)
        c["cash_net_usd"] += e.amount_usd
        c["pv_cash_usd"] += present_value((e,), discount_rate)
        if e.category == "opening":
            c["cash_opening_usd"] += e.amount_usd
        elif e.category == "credit":
            c[f"cash_{e.offsets}_usd"] -= mag
        elif e.category.startswith("revenue_share"):
            key = (id(c), agreement_of(e.line), e.settlement, e.cash_start_s)
            by_id[id(c)] = c
            settled[key] = settled.get(key, 0.0) + e.amount_usd
        else:
            c[f"cash_{stem}_usd"] += mag
    for (rid, *_), net in settled.items():
        side = "received" if net > 0 else "paid"
        by_id[rid][f"cash_revenue_share_{side}_usd"] += abs(net)


def _derived_columns(out: list[dict]) -> None:
    """Gross margin, net revenue share, cumulative cash and the ratios of each row, in order."""
    cum = 0.0
    for r in out:
        r["gross_margin_usd"] = r["revenue_usd"] - r["compute_usd"]
        r["revenue_share_net_usd"] = r["revenue_share_received_usd"] - r["revenue_share_paid_usd"]
        cum += r["cash_net_usd"]
        r["cumulative_cash_usd"] = cum
        if r["revenue_usd"] > 0:
            r["gross_margin_pct"] = r["gross_margin_usd"] / r["revenue_usd"]
        if r["cash_net_usd"] != 0:
            r["discount_factor"] = r["pv_cash_usd"] / r["cash_net_usd"]


def to_cents(x: float) -> float:
    """``x`` rounded to the cent, halves away from zero, on its shortest decimal form (1.005 -> 1.01).

    >>> to_cents(1.005), to_cents(-2.675), to_cents(-0.001)
    (1.01, -2.68, 0.0)
    """
    if not abs(x) < 2.0 ** 53:      # a whole number already (or not finite, for the caller to refuse)
        return x + 0.0
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) + 0.0  # no "-0.0"


# a row's sums, each (column, [(sign, part), ...]); a part a row lacks (an optional column) counts 0
_NETS = (("gross_margin_usd", ((1, "revenue_usd"), (-1, "compute_usd"))),
         ("revenue_share_net_usd", ((1, "revenue_share_received_usd"), (-1, "revenue_share_paid_usd"))),
         ("net_usd", ((1, "revenue_usd"), (-1, "compute_usd"), (-1, "training_usd"), (1, "credits_applied_usd"),
                      (-1, "revenue_share_paid_usd"), (1, "revenue_share_received_usd"), (-1, "energy_usd"),
                      (-1, "sla_credits_usd"), (-1, "compute_commit_shortfall_usd"))),
         ("cash_net_usd", ((1, "cash_revenue_usd"), (-1, "cash_compute_usd"), (-1, "cash_training_usd"),
                           (-1, "cash_revenue_share_paid_usd"), (1, "cash_revenue_share_received_usd"),
                           (1, "cash_opening_usd"), (-1, "cash_energy_usd"), (-1, "cash_sla_credits_usd"),
                           (-1, "cash_compute_commit_shortfall_usd"))))


def _foot(r: dict, column: str, parts: Sequence[tuple[int, str]]) -> None:
    """``r[column]`` becomes the signed sum of its (rounded) parts, to the cent."""
    r[column] = to_cents(sum(sign * r.get(k, 0.0) for sign, k in parts))


def _allot_cents(exact: dict[str, float], total: float) -> dict[str, float]:
    """``total`` (to the cent) split in whole cents in proportion to the ``exact`` amounts, all of
    one sign: each share's quota ``total x amount / sum of amounts`` is cut to its cent, then the
    cents still missing go one each to the largest remainders, the first listed first on a tie --
    the largest-remainder (Hamilton) rule. The shares add up to ``total``, each is within a cent of
    its quota, a zero amount gets nothing even when ``total`` (summed from rounded parts) is a few
    cents off the amounts' sum, and a negative total is the mirror of the positive one.

    >>> _allot_cents({"a": 8 / 3, "b": 8 / 3, "c": 8 / 3}, 8.0)
    {'a': 2.67, 'b': 2.67, 'c': 2.66}
    >>> _allot_cents({"idle": 0.0, "a": 1.0, "b": 2.0}, -3.01)
    {'idle': 0.0, 'a': -1.0, 'b': -2.01}
    """
    amounts = {k: Fraction(Decimal(repr(v))) for k, v in exact.items()}   # on the shortest decimal, as to_cents
    if any(a < 0 for a in amounts.values()) and any(a > 0 for a in amounts.values()):
        raise ValueError(f"a largest-remainder split needs amounts of one sign (got {exact})")
    want = int(Decimal(repr(total)).scaleb(2).to_integral_value(rounding=ROUND_HALF_UP))
    whole = abs(sum(amounts.values()))
    if whole == 0:
        if want:
            raise ValueError(f"cannot split {total!r} among amounts that are all zero")
        return {k: 0.0 for k in exact}
    quota = {k: abs(want) * abs(a) / whole for k, a in amounts.items()}
    cents = {k: math.floor(q) for k, q in quota.items()}
    missing = abs(want) - sum(cents.values())           # 0 <= missing < the number of shares with a remainder
    for k in sorted(quota, key=lambda k: cents[k] - quota[k])[:missing]:
        cents[k] += 1
    sign = -1 if want < 0 else 1
    return {k: sign * c / 100 + 0.0 for k, c in cents.items()}


def round_to_cents(rows: list[dict], revenue_lines: Sequence[str] = (), tiers: Sequence[str] = ()) -> None:
    """Round every money cell (``*_usd``) of the rows to the cent in place, each amount once, and
    make every row foot: a total is the sum of its rounded parts (``revenue_usd`` of the
    ``revenue_lines`` columns, ``compute_usd`` of the ``tiers`` columns, a class's margin of its
    revenue and compute; the classes' compute and the unallocated compute split ``compute_usd`` by
    :func:`_allot_cents`), each net of the rounded amounts it nets (``net_usd``, ``cash_net_usd``,
    ``gross_margin_usd``, ``revenue_share_net_usd``), and ``cumulative_cash_usd`` the running sum of
    the rounded ``cash_net_usd``. A total can so differ from the exact amount rounded by half a cent
    per part; the summary's totals stay exact."""
    cum = 0.0
    for r in rows:
        shares = {k: v for k, v in r.items() if k.startswith("class_") and k.endswith("_compute_usd")}
        for k, v in r.items():
            if k.endswith("_usd") and isinstance(v, float):
                r[k] = to_cents(v)
        if revenue_lines:
            _foot(r, "revenue_usd", [(1, f"revenue_{n}_usd") for n in revenue_lines])
        if tiers:
            _foot(r, "compute_usd", [(1, f"compute_{t}_usd") for t in tiers])
        if any(shares.values()):             # (a period without compute has nothing to split)
            r.update(_allot_cents(shares, r["compute_usd"]))
        for k in [k for k in r if k.startswith("class_") and k.endswith("_margin_usd")]:
            cls = k[:-len("_margin_usd")]
            _foot(r, k, ((1, f"{cls}_revenue_usd"), (-1, f"{cls}_compute_usd")))
        for column, parts in _NETS:
            _foot(r, column, parts)
        cum = to_cents(cum + r["cash_net_usd"])
        r["cumulative_cash_usd"] = cum


def money(x: float) -> str:
    """Compact USD: ``-1.23M``, ``456.00k``, ``12.34``."""
    a = abs(x)
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.2f}{suf}"
    return f"{x:.2f}"


#: each statement column's heading (``cashflow.csv`` names), the same on the terminal, the report page and the chart
HEADINGS = {"period": "period", "revenue_usd": "revenue", "compute_usd": "compute", "training_usd": "training",
            "credits_applied_usd": "credits", "energy_usd": "energy", "sla_credits_usd": "SLA credits",
            "compute_commit_shortfall_usd": "commit shortfall", "revenue_share_paid_usd": "share paid",
            "revenue_share_received_usd": "share received", "revenue_share_net_usd": "net share",
            "net_usd": "net (accrual)", "cash_net_usd": "net (cash)", "cumulative_cash_usd": "cumulative cash"}


#: what a period's cash-only row after the horizon says after its period, wherever the statement is shown
#: (the terminal, the report page, the cash-flow chart): the run's last period, cut short, has its own
#: row ``2025-04 (partial)`` and then this one, ``2025-04 after the end †``
AFTER_END = "after the end †"


def flag(value) -> bool:
    """A row's ``partial``/``after_horizon``: True, or ``"True"`` as read back from ``cashflow.csv``."""
    return value is True or value == "True"


def row_label(row: dict, partial: str = " (partial)", after: str = f" {AFTER_END}") -> str:
    """A statement row's period as its tables and chart label it: ``2025-04 (partial)`` for a period the
    horizon cuts short, ``2025-04 after the end †`` for the cash of a period that lands after the horizon
    (``cashflow.csv``'s ``period`` column stays the bare period).

        >>> row_label({"period": "2025-04", "partial": True, "after_horizon": False})
        '2025-04 (partial)'
        >>> row_label({"period": "2025-04", "partial": "False", "after_horizon": "True"})
        '2025-04 after the end †'
    """
    return (str(row.get("period", "")) + (partial if flag(row.get("partial")) else "")
            + (after if flag(row.get("after_horizon")) else ""))


def after_end_grouped(table: list[list[str]], rows: Sequence[dict], keep: Sequence[int] = ()) -> list[list[str]]:
    """A terminal table of statement ``rows`` (``table``: the headings, then one line of cells per row, its
    label first) with the rows whose cash lands after the horizon under a line ``after the end †`` of their
    own, each labelled by its period alone and its cells blank where zero but those of the columns ``keep``
    (the cash); as it is when those rows are not the last ones.

        >>> rows = [{"period": "2025-04", "partial": True}, {"period": "2025-05", "after_horizon": True}]
        >>> after_end_grouped([["period", "net", "cash"], ["2025-04 (partial)", "1.00", "0.00"],
        ...                    ["2025-05 after the end †", "0.00", "1.00"]], rows, keep=[2])[2:]
        [['after the end †', '', ''], ['2025-05', '', '1.00']]
    """
    after = [flag(r.get("after_horizon")) for r in rows]
    if not any(after) or after != sorted(after):
        return table
    zero = lambda cell: cell.lstrip("-$").replace(",", "").strip("0.") == ""
    late = [[row_label(r, after=""), *("" if j not in keep and zero(c) else c for j, c in enumerate(cells[1:], 1))]
            for r, cells in zip(rows[after.index(True):], table[1 + after.index(True):])]
    return [*table[:1 + after.index(True)], [AFTER_END] + [""] * (len(table[0]) - 1), *late]


def _without_blank_late_rows(table: list[list[str]]) -> list[list[str]]:
    """A block of a statement's terminal table without the rows under ``after the end †`` that are blank in
    it (only cash lands then, and the block has no cash column), nor that line when no row is left under it.

        >>> _without_blank_late_rows([["period", "net"], ["2025-04", "1.00"], [AFTER_END, ""], ["2025-05", ""]])
        [['period', 'net'], ['2025-04', '1.00']]
    """
    if not any(row[0] == AFTER_END for row in table):
        return table
    at = next(i for i, row in enumerate(table) if row[0] == AFTER_END)
    late = [row for row in table[at + 1:] if any(cell for cell in row[1:])]
    return [*table[:at], *([table[at], *late] if late else [])]


def format_statement(rows: Sequence[dict], currency: str = "USD", width: int | None = None) -> str:
    """A plain-text table of the statement for a terminal. The periods whose cash lands after the horizon
    come last, under a line ``after the end †`` (the † said under the table, as on the report page), each
    labelled by its period alone and its accrual columns left blank where zero (only cash lands then):
    the period column is as wide as the periods' own labels (``2025-04 (partial)``), not 23 characters for
    ``2025-05 after the end †`` (:func:`row_label`, the page's and the chart's label). Wider than
    ``width`` (None: no limit), the table is set in blocks of columns one under the other, each with the
    period column (:func:`sim.text_table.table_lines`); a block in which the late periods have nothing
    (only cash lands then) shows neither them nor their ``after the end †`` line.

        >>> row = dict.fromkeys(("revenue_usd", "compute_usd", "training_usd", "credits_applied_usd",
        ...                      "revenue_share_paid_usd", "revenue_share_received_usd", "net_usd"), 0.0)
        >>> rows = [{**row, "period": "2025-04", "partial": True, "after_horizon": False, "revenue_usd": 10.0,
        ...          "net_usd": 10.0, "cash_net_usd": 0.0, "cumulative_cash_usd": 0.0},
        ...         {**row, "period": "2025-05", "partial": False, "after_horizon": True, "cash_net_usd": 10.0,
        ...          "cumulative_cash_usd": 10.0}]
        >>> [line[:19].rstrip() for line in format_statement(rows).splitlines()[3:6]]
        ['2025-04 (partial)', 'after the end †', '2025-05']
    """
    optional = tuple(f"{stem}_usd" for stem, _ in OPTIONAL_COLUMNS if rows and f"{stem}_usd" in rows[0])
    cols = ("period", "revenue_usd", "compute_usd", "training_usd", "credits_applied_usd", *optional,
            "revenue_share_paid_usd", "revenue_share_received_usd", "net_usd", "cash_net_usd", "cumulative_cash_usd")
    table = [[HEADINGS[key] for key in cols]]
    table += [[row_label(r), *(r[key] if isinstance(r[key], str) else money(r[key]) for key in cols[1:])]
              for r in rows]
    table = after_end_grouped(table, rows, keep=(cols.index("cash_net_usd"), cols.index("cumulative_cash_usd")))
    lines = [f"Cash-flow statement ({currency}; accrual columns, then cash)"]
    widths = [max(shown_width(row[j]) for row in table) for j in range(len(table[0]))]
    for b, block in enumerate(column_blocks(widths, width)):    # (the period column as wide in each block)
        part = [[row[j] for j in block] for row in table]
        part[0][0] = part[0][0].ljust(widths[0])
        lines += [""] if b else []
        lines += table_lines(_without_blank_late_rows(part), None)
    if any(flag(r["after_horizon"]) for r in rows):     # (said once here, not in a period column 23 wide)
        lines.append("† after the horizon: only the cash that lands then (lagged settlements and invoices)")
    return "\n".join(lines)
