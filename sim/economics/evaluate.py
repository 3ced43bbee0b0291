"""``evaluate``: a run's usage and an ``economics:`` block in, ledger and statements out.

The order of work: cut the horizon into segments (:mod:`~sim.economics.timeline`), bill compute
(:mod:`~sim.economics.compute`), book revenue (:mod:`~sim.economics.revenue`), training and
credits (:mod:`~sim.economics.credits`), any commit's shortfall (:mod:`~sim.economics.commits`),
accrue and settle revenue shares
(:mod:`~sim.economics.agreements`), then roll the ledger into a statement
(:mod:`~sim.economics.statement`). Everything is a pure function of its inputs.

Totals in ``cashflow`` are the provider's, on an accrual basis over the horizon:
``net = revenue - compute_cost - revenue_share_paid + revenue_share_received
- training_cost + credits_applied - energy_cost - sla_credits - compute_commit_shortfall`` (the last
five are 0 unless training, credits, owned pools' energy, service levels or compute commits are set).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.economics.agreements import Settlement, settle_agreements
from sim.economics.calendar import Calendar
from sim.economics.chargeback import add_chargeback
from sim.economics.commits import commit_shortfalls
from sim.economics.compute import ComputeBill, bill_compute
from sim.economics.credits import apply_credits, training_cost
from sim.economics.energy import EnergyBill, bill_energy
from sim.economics.finance import irr, payback_row
from sim.economics.ledger import CATEGORIES, MINIMUM_SUFFIX, LedgerEntry, sum_by
from sim.economics.result import EconomicsResult
from sim.economics.revenue import RevenueBook, book_revenue
from sim.economics.slo import lost_revenue, sla_credits
from sim.economics.statement import build_statement, present_value, round_to_cents
from sim.economics.terms import opening_entries, pay_on_terms
from sim.economics.timeline import Timeline, build_timeline
from sim.economics.usage import Usage
from sim.economics.validate import check
from sim.errors import ScenarioError
from sim.humanize import money
from sim.scenario.economics import EconomicsConfig


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


@dataclass(frozen=True)
class _Books:
    """Everything one run books before it is rolled into a ledger."""

    bill: ComputeBill
    book: RevenueBook
    training: tuple[LedgerEntry, ...]
    credits: tuple[LedgerEntry, ...]
    unused_credits: dict[str, float]
    shares: tuple[LedgerEntry, ...]
    settlements: tuple[Settlement, ...]
    power: EnergyBill
    sla: tuple[LedgerEntry, ...]
    sla_periods: list[dict]
    lost: dict | None
    commits: tuple[LedgerEntry, ...] = ()

    def lines(self, owner: str) -> list[str]:
        """The revenue lines of ``owner`` (``provider`` or ``partner``), in the book's order."""
        return [n for n, o in self.book.owner.items() if o == owner]


def evaluate(cfg: EconomicsConfig, start: dt.date, usage: Usage) -> EconomicsResult:
    """Cost, revenue, revenue shares and cash flows of one run.

    Raises :class:`~sim.errors.ScenarioError` if ``cfg`` has problems (unknown revenue lines in
    an agreement's base ...) and ``ValueError`` if ``usage`` is inconsistent or its requests
    name revenue lines ``cfg`` does not define.
    """
    usage.check()
    problems, _ = check(cfg, None, usage.horizon_s, start)
    if problems:
        raise ScenarioError(problems)
    cal = Calendar(start)
    tl = build_timeline(cfg, cal, usage.horizon_s)
    # money past a float (gpu_hour_usd 1e308) is an inf the callers' sim.limits.check_money refuses, naming the
    # block; numpy's own warning printed a line of its own first ('overflow encountered in multiply')
    with np.errstate(over="ignore", invalid="ignore"):
        books = _book(cfg, usage, tl)
        ledger = _ledger(cfg, tl, books)
        partner_seg = sum((books.book.by_line[n] for n in books.lines("partner")), np.zeros(tl.n))
        statement, chargeback = _statement(cfg, usage, tl, ledger, books, partner_seg)
        totals = _cashflow_totals(ledger, books, partner_seg)
    cashflow = {**totals,
                **_cash_position(ledger, usage.horizon_s, totals["revenue_share_net"]),
                **_finance(cfg, ledger, statement),
                "chargeback": chargeback,
                "currency": cfg.currency, "period": cfg.period, "start": start.isoformat(),
                "end": cal.datetime_at(usage.horizon_s).isoformat(), "horizon_s": usage.horizon_s}
    cost = _cost(usage, books, cashflow)
    return EconomicsResult(cashflow, cost, statement, ledger, books.settlements, _notes(cfg, usage, books),
                           cfg.currency, usage=usage, config=cfg, start=start)


def _book(cfg: EconomicsConfig, usage: Usage, tl: Timeline) -> _Books:
    """Bill compute and energy, book revenue, training, credits, revenue shares, SLA credits and
    the revenue lost to missed requests, segment by segment."""
    bill = bill_compute(cfg, usage, tl)
    book = book_revenue(cfg, usage, tl)
    train_seg, train_entries = training_cost(cfg, tl)
    credit_entries, _applied, unused = apply_credits(cfg, train_seg, bill.cost_by_segment_usd, tl)
    share_entries, settlements = settle_agreements(cfg, book, tl)
    power = bill_energy(cfg, usage, tl)
    sla_entries, sla_periods = sla_credits(cfg, usage, tl, book)
    return _Books(bill, book, train_entries, credit_entries, unused, share_entries, settlements, power,
                  sla_entries, sla_periods, lost_revenue(cfg, usage, tl),
                  commit_shortfalls(cfg, bill.by_pool_segment_usd, tl))


def _ledger(cfg: EconomicsConfig, tl: Timeline, books: _Books) -> tuple[LedgerEntry, ...]:
    """Every entry, paid on its terms (revenue, compute, training, credits, SLA credits), with the
    revenue shares, opening balances and energy, sorted by accrual start, category and line."""
    order = {c: k for k, c in enumerate(CATEGORIES)}
    termed = pay_on_terms(cfg, tl, [*books.book.entries, *books.bill.entries, *books.training, *books.credits,
                                    *books.sla])
    return tuple(sorted([*termed, *books.shares, *opening_entries(cfg, tl), *books.power.entries, *books.commits],
                        key=lambda e: (e.accrual_start_s, order[e.category], e.line)))


def _statement(cfg: EconomicsConfig, usage: Usage, tl: Timeline, ledger: tuple[LedgerEntry, ...], books: _Books,
               partner_seg: np.ndarray) -> tuple[list[dict], dict | None]:
    """The statement by period (with per-class chargeback columns when the run has classes),
    rounded to cents if the scenario asks; and the chargeback block."""
    bill = books.bill
    tiers = [t for t in ("reserved", "spot", "on_demand") if t in bill.by_tier_usd]
    statement = build_statement(ledger, partner_seg, tl, cfg.period, books.lines("provider"), tiers,
                                cfg.discount_rate)
    chargeback = None
    if usage.cls is not None and usage.class_names:
        chargeback = add_chargeback(statement, usage, tl, cfg.period, cfg.chargeback_by, books.book.request_usd,
                                    bill.cost_by_segment_usd, columns=len(usage.class_names) > 1)
    if cfg.rounding == "cents":
        round_to_cents(statement, books.lines("provider"), tiers)
    return statement, chargeback


def _cashflow_totals(ledger: tuple[LedgerEntry, ...], books: _Books, partner_seg: np.ndarray) -> dict:
    """The provider's accrual totals over the horizon by category, the net, and revenue by line."""
    revenue = sum_by(ledger, "revenue")
    compute = 0.0 - sum_by(ledger, "compute")          # 0.0 - x: no "-0.0" in the output
    paid = 0.0 - sum_by(ledger, "revenue_share_paid")
    received = sum_by(ledger, "revenue_share_received")
    training = 0.0 - sum_by(ledger, "training")
    credits = sum_by(ledger, "credit")
    energy = 0.0 - sum_by(ledger, "energy")
    sla = 0.0 - sum_by(ledger, "sla_credit")
    commit = 0.0 - sum_by(ledger, "compute_commit")
    lost, by_line = books.lost, books.book.by_line
    true_up = {c: float(sum(e.amount_usd for e in ledger if e.category == c and e.line.endswith(MINIMUM_SUFFIX)))
               for c in ("revenue_share_paid", "revenue_share_received")}
    return {
        "revenue": revenue, "compute_cost": compute, "revenue_share_paid": paid,
        "revenue_share_received": received,
        "net": revenue - compute - paid + received - training + credits - energy - sla - commit,
        "training_cost": training, "credits_applied": credits, "energy_cost": energy,
        "sla_credits": sla, "sla_periods": books.sla_periods,
        "revenue_lost": lost["usd"] if lost is not None else None,
        "revenue_lost_by_line": lost["by_line"] if lost is not None else None,
        "requests_lost": lost["requests"] if lost is not None else None,
        "credits_unused": float(sum(books.unused_credits.values())),
        "gross_margin": revenue - compute, "gross_margin_pct": _ratio(revenue - compute, revenue),
        "revenue_share_net": received - paid,
        "revenue_by_line": {n: float(by_line[n].sum()) for n in books.lines("provider")},
        "partner_revenue": float(partner_seg.sum()),
        "partner_revenue_by_line": {n: float(by_line[n].sum()) for n in books.lines("partner")},
        "compute_cost_by_tier": dict(books.bill.by_tier_usd),
        "revenue_share_shortfall_paid": 0.0 - true_up["revenue_share_paid"],
        "revenue_share_shortfall_received": true_up["revenue_share_received"],
        "compute_commit_shortfall": commit,
    }


def _cash_position(ledger: tuple[LedgerEntry, ...], horizon_s: float, share_net: float) -> dict:
    """Cash paid within the horizon, revenue shares still outstanding, cash once every lag has
    paid, the opening balances, and what is still owed either way at the end of the horizon."""
    in_horizon = [e for e in ledger if e.cash_start_s < horizon_s]
    cash_share = sum(e.amount_usd for e in in_horizon if e.category.startswith("revenue_share"))
    owed = [e for e in ledger if e.cash_start_s >= horizon_s and not e.category.startswith("revenue_share")]
    # an invoice is collected net of the service credits on it (sla_credit entries are paid on the line's terms);
    # a credit larger than what its invoice bills is owed to the customer: a payable, not a negative receivable
    invoices: dict[tuple[str, float], float] = {}
    for e in owed:
        if e.category in ("revenue", "sla_credit"):
            invoices[(e.line, e.cash_start_s)] = invoices.get((e.line, e.cash_start_s), 0.0) + e.amount_usd
    return {
        "cash_net": float(sum(e.amount_usd for e in in_horizon)),
        "cash_revenue_share_net": float(cash_share),
        "revenue_share_outstanding": share_net - float(cash_share),
        "cash_net_after_all_lags": float(sum(e.amount_usd for e in ledger)),
        "opening_net": sum_by(ledger, "opening"),
        "receivables_end": float(sum(v for v in invoices.values() if v > 0)
                                 + sum(e.amount_usd for e in owed if e.category == "opening" and e.amount_usd > 0)),
        "payables_end": 0.0 - float(sum(e.amount_usd for e in owed if e.category in ("compute", "training", "credit",
                                                                                     "compute_commit")
                                        or (e.category == "opening" and e.amount_usd < 0))
                                    + sum(v for v in invoices.values() if v < 0)),
    }


def _finance(cfg: EconomicsConfig, ledger: tuple[LedgerEntry, ...], statement: list[dict]) -> dict:
    """Net present value, internal rate of return and the payback period of the ledger."""
    payback = payback_row(statement)
    return {
        "npv_usd": present_value(ledger, cfg.discount_rate),
        "discount_rate": cfg.discount_rate,
        "irr": irr(ledger),
        "payback_period": payback["period"] if payback is not None else None,
        "payback_end": payback["end"] if payback is not None else None,
        "rounding": cfg.rounding,
    }


def _notes(cfg: EconomicsConfig, usage: Usage, books: _Books) -> tuple[str, ...]:
    """What a reader should know about the numbers: billing and revenue caveats, the shard scale,
    SLA credits that could not be computed, credits left unused."""
    notes = [*books.bill.notes, *books.book.notes]
    if usage.scale_note:
        notes.append(usage.scale_note)
    if usage.outcomes is None and any(ln.sla is not None for ln in cfg.revenue):
        notes.append("no per-request outcomes (a request-level run with metrics.records: all keeps them): "
                     "SLA credits not computed")
    for name, left in books.unused_credits.items():
        if left > 0:
            notes.append(f"credit {name}: {money(left, compact=None)} unused at the end of the horizon")
    return tuple(notes)


def _cost(usage: Usage, books: _Books, cashflow: dict) -> dict:
    """Compute cost per token, request and GPU-hour, GPU-hours billed, provisioned and busy, and
    the cost adjusted for the share of billed hours that was busy."""
    bill = books.bill
    compute = cashflow["compute_cost"]
    w = np.asarray(usage.weight, dtype=float)
    out_tok = float(np.sum(w * usage.output_tokens))
    in_tok = float(np.sum(w * usage.input_tokens))
    n_req = float(np.sum(w))
    billed_h = float(sum(bill.billed_gpu_hours.values()))
    busy_h = float(sum(usage.busy_gpu_seconds.values())) / 3600
    per_m_out = _ratio(compute, out_tok / 1e6)
    per_req = _ratio(compute, n_req)
    busy_share = _ratio(busy_h, billed_h)
    return {
        "compute_usd": compute, "per_million_output_tokens": per_m_out,
        "per_million_tokens": _ratio(compute, (in_tok + out_tok) / 1e6), "per_request": per_req,
        "by_tier": dict(bill.by_tier_usd), "by_pool": dict(bill.by_pool_usd),
        "gpu_hours_billed": billed_h, "gpu_hours_billed_by_tier": dict(bill.billed_gpu_hours),
        "gpu_hours_provisioned": bill.provisioned_gpu_hours, "gpu_hours_busy": busy_h,
        "gpu_hours_unbilled": bill.unbilled_gpu_hours,
        "gpu_hours_reserved_idle": bill.reserved_idle_gpu_hours,
        "usd_per_gpu_hour_blended": _ratio(compute, billed_h),
        "utilization": _ratio(busy_h, bill.provisioned_gpu_hours),
        "utilization_billed": busy_share,
        "utilization_adjusted_per_million_output_tokens":
            per_m_out * busy_share if per_m_out is not None and busy_share is not None else None,
        "utilization_adjusted_per_request":
            per_req * busy_share if per_req is not None and busy_share is not None else None,
        "requests": n_req, "input_tokens": in_tok, "output_tokens": out_tok,
        "training_usd": cashflow["training_cost"], "credits_applied_usd": cashflow["credits_applied"],
        "energy": books.power.summary,
        "compute_commit_shortfall_usd": cashflow["compute_commit_shortfall"],
        "compute_with_commits_usd": compute + cashflow["compute_commit_shortfall"],
    }
