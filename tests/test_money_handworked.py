"""The deal's cash flows worked out by hand, the way a finance reviewer checks a model.

Each scenario below is small: one GPU (or a few) at a round price, flat revenue lines in round
amounts, and a burst of requests at t = 0 (or none inside the horizon). Every expected number is
plain arithmetic in the test, written from the agreement's terms and the calendar (how many days
each month and quarter has, when the settlement falls), never from the money layer's own helpers,
and compared with what ``fleetsim run`` (and ``fleetsim reprice``) write: the summary's
``cashflow``/``cost`` blocks, ``cashflow.csv`` and ``settlements.csv``.

Edges covered: months of 28, 29, 30 and 31 days; a run starting mid-month and mid-quarter; a leap
day inside a payment lag; quarter, year and ISO-week-year boundaries; a lag landing exactly on the
horizon's end; the partner as payer at 100 %; shares of 0 % and 100 %; a lifetime cap; a flat line
whose window began before the run (its growth counts from there) and shrinks; credits exhausted and
credits expiring unused; a price step on a date; no demand at all; discounting of lagged lumps;
cents (every row foots, a tenants' split adds up); receivables net of the service credits on the
same invoice; a quarter's service credit on the invoice that closes the quarter; a cap partly used
before the run; re-pricing a moved agreement window.
"""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from sim.cli import main
from money_files import NO_DEMAND, TOKENS, run as _run, rows as _rows, col as _col

DAY_H = 24


def _scenario(start: str, duration: str, economics: dict, gpus: int = 1, count: int = 10, **over) -> dict:
    sc = {"name": "handworked", "seed": 3, "start": start, "duration": duration, "warmup": 0,
          "model": "llama-3-8b",
          "workload": {"arrival": {"process": "burst", "count": count, "at": 0}, **TOKENS},
          "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": gpus, "tensor_parallel": 1}]},
          "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "economics": economics, "metrics": {"interval": "1h"}}
    sc.update(over)
    return sc


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _completed(folder: Path) -> list[dict]:
    with gzip.open(folder / "requests.csv.gz", "rt", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["status"] == "completed"]


# ------------------------------------------------------------------ cents: every row foots
THIRDS = {"period": "month", "rounding": "cents", "compute": [{"pool": "main", "usd_per_gpu_hour": 1 / 3}],
          "revenue": [{"name": "a", "usd_per_month": 100 / 3}, {"name": "b", "usd_per_month": 200 / 3},
                      {"name": "p", "owner": "partner", "usd_per_month": 10 / 3}],
          "agreements": [{"rate": 1 / 3, "base": ["a", "b"], "reverse": {"rate": 0.2, "base": ["p"]},
                          "settle": "quarter", "payment_lag": "60d"}]}


def test_cents_statement_rows_foot_and_a_60_day_lag_crosses_the_leap_day(tmp_path):
    """From 2023-12-15 for 100 days (Dec 15-31 is 17 days, Jan 31, Feb 29, Mar 1-23 is 23: the run ends
    2024-03-24 00:00). Lines of $33.33.., $66.66.. and the partner's $3.33.. a month, a third of the
    provider's revenue paid, a fifth of the partner's back, netted quarterly, paid 60 days after the
    quarter: 2023-Q4 on 2024-03-01 (Jan 31 + Feb 29 = 60 days), 2024-Q1 on 2024-05-31.

    With ``rounding: cents`` each amount is rounded once to the cent and each row's nets are the sums of
    its rounded parts, so a reader adding a row up gets the printed net (Jan: 100 - 248 - 33.33 + 0.67 =
    -180.66, not the exact -180.666.. rounded to -180.67)."""
    out = _run(tmp_path, _scenario("2023-12-15", "100d", THIRDS))
    rows = _rows(out)
    assert [r["period"] for r in rows] == ["2023-12", "2024-01", "2024-02", "2024-03", "2024-05"]
    days = [17, 31, 29, 23]
    month_len = [31, 31, 29, 31]
    share = [d / m for d, m in zip(days, month_len)]            # share of each month covered
    a = [round(100 / 3 * s, 2) for s in share]                  # 18.28, 33.33, 33.33, 24.73
    b = [round(200 / 3 * s, 2) for s in share]                  # 36.56, 66.67, 66.67, 49.46
    assert a == [18.28, 33.33, 33.33, 24.73] and b == [36.56, 66.67, 66.67, 49.46]
    revenue = [round(x + y, 2) for x, y in zip(a, b)]           # 54.84, 100.00, 100.00, 74.19
    compute = [d * DAY_H / 3 for d in days]                     # 136, 248, 232, 184
    paid = [18.28, 33.33, 33.33, 24.73]                         # a third of 54.84.., 100, 100, 74.19..
    received = [round(0.2 * 10 / 3 * s, 2) for s in share]      # 0.37, 0.67, 0.67, 0.49
    in_horizon = rows[:4]
    assert _col(in_horizon, "revenue_a_usd") == a and _col(in_horizon, "revenue_b_usd") == b
    assert _col(in_horizon, "revenue_usd") == revenue
    assert _col(in_horizon, "compute_usd") == compute
    assert _col(in_horizon, "revenue_share_paid_usd") == paid
    assert _col(in_horizon, "revenue_share_received_usd") == received
    net = [round(r - c - p + q, 2) for r, c, p, q in zip(revenue, compute, paid, received)]
    assert net == [-99.07, -180.66, -164.66, -134.05]
    assert _col(in_horizon, "net_usd") == net
    # cash: revenue and compute as they accrue; Q4's net (18.2796 - 0.3656 = 17.914..) on Mar 1,
    # Q1's (a third of 274.19.. less a fifth of 9.14..) = 89.57 after the horizon, on May 31
    q4_net, q1_net = 17.91, 89.57
    cash = [revenue[0] - compute[0], revenue[1] - compute[1], revenue[2] - compute[2],
            revenue[3] - compute[3] - q4_net, -q1_net]
    assert _col(rows, "cash_net_usd") == pytest.approx(cash, abs=1e-6)
    assert _col(rows, "cash_revenue_share_paid_usd") == [0, 0, 0, q4_net, q1_net]
    running = [round(sum(cash[:k + 1]), 2) for k in range(5)]
    assert _col(rows, "cumulative_cash_usd") == running == [-81.16, -229.16, -361.16, -488.88, -578.45]
    for r in rows:                                              # every row foots to the cent
        c = {k: float(v or 0) for k, v in r.items() if k.endswith("_usd")}
        assert c["revenue_usd"] == pytest.approx(c["revenue_a_usd"] + c["revenue_b_usd"], abs=1e-6)
        assert c["gross_margin_usd"] == pytest.approx(c["revenue_usd"] - c["compute_usd"], abs=1e-6)
        assert c["revenue_share_net_usd"] == pytest.approx(
            c["revenue_share_received_usd"] - c["revenue_share_paid_usd"], abs=1e-6)
        assert c["net_usd"] == pytest.approx(c["gross_margin_usd"] + c["revenue_share_net_usd"], abs=1e-6)
        assert c["cash_net_usd"] == pytest.approx(
            c["cash_revenue_usd"] - c["cash_compute_usd"] - c["cash_revenue_share_paid_usd"]
            + c["cash_revenue_share_received_usd"], abs=1e-6)
    sett = _rows(out, "settlements.csv")
    assert [(s["period"], s["cash_date"], float(s["provider_net_usd"])) for s in sett] == [
        ("2023-Q4", "2024-03-01", -q4_net), ("2024-Q1", "2024-05-31", -q1_net)]
    # the summary's totals stay exact: 100 x (2 + 40/31) of revenue, 2,400 GPU-hours at a third
    cf = _summary(out)["cashflow"]
    assert cf["revenue"] == pytest.approx(100 * (2 + 40 / 31), rel=1e-12)
    assert cf["compute_cost"] == pytest.approx(800.0, rel=1e-12)
    assert cf["cash_net"] == pytest.approx(sum(cash[:4]), abs=0.02)


# ------------------------------------------------------------------ the partner pays 100 %, capped, no demand
def test_partner_pays_all_of_its_line_capped_settled_yearly_with_no_demand_and_discounted(tmp_path):
    """From 2024-10-05 for 150 days (to 2025-03-04 00:00) with no request inside the horizon. The partner
    pays 100 % of its $300/month line from Nov 20 2024 to Feb 10 2025 (inclusive), capped at $500 for
    the agreement's life, settled per calendar year 31 days after the year ends; 10 %/year discount."""
    econ = {"period": "quarter", "discount_rate": 0.1, "compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}],
            "revenue": [{"name": "api", "usd_per_million_output_tokens": 10.0},
                        {"name": "resale", "owner": "partner", "usd_per_month": 300}],
            "agreements": [{"payer": "partner", "payee": "provider", "rate": 1.0, "base": ["resale"],
                            "settle": "year", "payment_lag": "31d", "cap_usd": 500,
                            "from": "2024-11-20", "until": "2025-02-10"}]}
    out = _run(tmp_path, _scenario("2024-10-05", "150d", econ, workload=NO_DEMAND))
    s = _summary(out)
    assert s["requests"]["completed"] == 0
    cost, cf = s["cost"], s["cashflow"]
    # Oct 5-31 27 d, Nov 30, Dec 31 = 88 days in Q4; Jan 31, Feb 28, Mar 1-3 = 62 days in Q1
    assert cost["compute_usd"] == 150 * DAY_H * 2.0 == 7200.0
    assert cost["per_million_output_tokens"] is None and cost["per_request"] is None
    assert cf["revenue"] == 0.0
    partner = [300 * 27 / 31 + 300 + 300, 300 + 300 + 300 * 3 / 31]
    assert _col(_rows(out)[:2], "partner_revenue_usd") == pytest.approx(partner, abs=1e-6)
    # the window holds Nov 20-30 (11 of 30 days), December; then January and Feb 1-10 (10 of 28 days)
    share_2024 = 300 * 11 / 30 + 300                            # 410
    uncapped_2025 = 300 + 300 * 10 / 28                         # 407.14.., of which the cap leaves 90
    assert share_2024 < 500 < share_2024 + uncapped_2025
    share_2025 = 500 - share_2024
    sett = _rows(out, "settlements.csv")
    assert [(r["period"], r["cash_date"], r["cash_direction"], r["capped"]) for r in sett] == [
        ("2024", "2025-02-01", "partner pays", "False"), ("2025", "2026-02-01", "partner pays", "True")]
    assert _col(sett, "provider_net_usd") == pytest.approx([share_2024, share_2025], abs=1e-6)
    assert cf["revenue_share_received"] == pytest.approx(500, rel=1e-12)
    assert cf["net"] == pytest.approx(500 - 7200, rel=1e-12)
    # the 2024 settlement lands in 2025-Q1 (in the horizon), the 2025 one after it: outstanding
    assert cf["cash_net"] == pytest.approx(share_2024 - 7200, rel=1e-12)
    assert cf["revenue_share_outstanding"] == pytest.approx(share_2025, rel=1e-12)
    # discounting: a lump a at t years (Actual/365) is worth a x 1.1^-t; Feb 1 2026 is day 484
    rows = _rows(out)
    assert [r["period"] for r in rows] == ["2024-Q4", "2025-Q1", "2026-Q1"]
    assert float(rows[2]["pv_cash_usd"]) == pytest.approx(share_2025 * 1.1 ** (-484 / 365), abs=1e-6)
    # compute is $48 a day spread evenly: the year-fraction integral of 1.1^-t over each day
    ln = 0.09531017980432486                                     # ln 1.1
    compute_pv = -48 * sum((1.1 ** (-d / 365) - 1.1 ** (-(d + 1) / 365)) / (ln / 365) for d in range(150))
    lump_2024 = share_2024 * 1.1 ** (-119 / 365)                 # Feb 1 2025 is day 119
    assert cf["npv_usd"] == pytest.approx(compute_pv + lump_2024 + float(rows[2]["pv_cash_usd"]), rel=1e-9)


# ------------------------------------------------------------------ shares of 0 % and 100 %; bad shares
SHARES = {"compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
          "revenue": [{"name": "subs", "usd_per_month": 310}, {"name": "resale", "owner": "partner",
                                                               "usd_per_month": 1000}],
          "agreements": [{"name": "all", "rate": 1.0, "base": ["subs"], "settle": "month"},
                         {"name": "none", "rate": 0.0, "base": ["subs"], "reverse": {"rate": 0.0, "base": ["resale"]},
                          "settle": "month"}]}


def test_a_share_of_all_the_revenue_and_a_share_of_nothing(tmp_path, capsys):
    """From 2025-01-20 for 45 days (Jan 20-31 is 12 days, February 28, Mar 1-5 is 5: ends Mar 6). The
    provider pays 100 % of $310/month ($10 a day in January and March, $11.07 in February), settled
    monthly with no lag: at the midnight that ends each month. The 0 % agreement settles nothing."""
    out = _run(tmp_path, _scenario("2025-01-20", "45d", SHARES))
    subs = [310 * 12 / 31, 310.0, 310 * 5 / 31]                # 120, 310, 50
    sett = _rows(out, "settlements.csv")
    assert [(r["agreement"], r["period"], r["cash_date"], r["cash_direction"]) for r in sett] == [     # by period
        ("all", "2025-01", "2025-02-01", "provider pays"), ("none", "2025-01", "2025-02-01", "nothing"),
        ("all", "2025-02", "2025-03-01", "provider pays"), ("none", "2025-02", "2025-03-01", "nothing"),
        ("all", "2025-03", "2025-04-01", "provider pays"), ("none", "2025-03", "2025-04-01", "nothing")]
    assert _col(sett, "provider_net_usd") == pytest.approx([v for x in subs for v in (-x, 0)], abs=1e-6)
    rows = _rows(out)
    assert [r["period"] for r in rows] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert _col(rows, "revenue_share_paid_usd") == pytest.approx([*subs, 0], abs=1e-6)
    assert _col(rows, "cash_revenue_share_paid_usd") == pytest.approx([0, subs[0], subs[1], subs[2]], abs=1e-6)
    cf = _summary(out)["cashflow"]
    compute = 45 * DAY_H * 1.0
    assert cf["net"] == pytest.approx(-compute, rel=1e-12)        # everything earned is paid on
    assert cf["cash_net"] == pytest.approx(sum(subs) - compute - subs[0] - subs[1], rel=1e-12)
    assert cf["revenue_share_outstanding"] == pytest.approx(-subs[2], rel=1e-12)
    # a negative share or one above 100 % is refused naming the file and the field
    path = tmp_path / "run.yaml"
    for value, words in (("-0.2", "must be >= 0 (got -0.2)"), ("1.2", "must be <= 1 (got 1.2)")):
        capsys.readouterr()
        assert main(["run", str(path), "--set", f"economics.agreements.1.reverse.rate={value}",
                     "--out", str(tmp_path / "bad"), "--quiet"]) == 2
        assert f"{path}: economics.agreements.1.reverse.rate: {words}" in capsys.readouterr().err


# ------------------------------------------------------------------ growth from before the run, credits
def test_a_shrinking_line_begun_before_the_run_training_growth_and_credits_used_up_or_expired(tmp_path):
    """From 2024-03-10 for 60 days (Mar 10-31 is 22 days, April 30, May 1-8 is 8: ends May 9).

    * subs: $1,000 a month from 2024-01-01 shrinking 10 % a month, until 2024-04-15: March is its
      third month (k = 2: $810), April the fourth ($729, half of it);
    * training: $300 a month growing 50 % a month from the run's start (March k = 0);
    * compute: one GPU at $1/h; a $600 promo credit for compute expires on Mar 31 with $72 unused;
      a $1,000 grant for anything from Apr 1 covers April's training first, then compute until used up.
    """
    econ = {"compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
            "revenue": [{"name": "subs", "usd_per_month": 1000, "growth_per_month": -0.1, "from": "2024-01-01",
                         "until": "2024-04-15"}],
            "training": {"usd_per_month": 300, "growth_per_month": 0.5},
            "credits": [{"name": "promo", "usd": 600, "applies_to": "compute", "until": "2024-03-31"},
                        {"name": "grant", "usd": 1000, "applies_to": "any", "from": "2024-04-01"}]}
    out = _run(tmp_path, _scenario("2024-03-10", "60d", econ))
    rows, cf = _rows(out), _summary(out)["cashflow"]
    assert [r["period"] for r in rows] == ["2024-03", "2024-04", "2024-05"]
    subs = [810 * 22 / 31, 729 * 15 / 30, 0.0]
    training = [300 * 22 / 31, 450.0, 675 * 8 / 31]
    compute = [22 * DAY_H, 30 * DAY_H, 8 * DAY_H]               # 528, 720, 192
    credits = [528.0, 450 + 550, 0.0]                            # promo covers March; grant: training, then compute
    assert _col(rows, "revenue_usd") == pytest.approx(subs, abs=1e-6)
    assert _col(rows, "training_usd") == pytest.approx(training, abs=1e-6)
    assert _col(rows, "compute_usd") == pytest.approx(compute, abs=1e-6)
    assert _col(rows, "credits_applied_usd") == pytest.approx(credits, abs=1e-6)
    # a credit moves no cash: it lowers the cash paid for what it offsets
    assert _col(rows, "cash_compute_usd") == pytest.approx([0.0, 720 - 550, 192.0], abs=1e-6)
    assert _col(rows, "cash_training_usd") == pytest.approx([training[0], 0.0, training[2]], abs=1e-6)
    assert cf["credits_unused"] == pytest.approx(72.0, rel=1e-12)
    net = sum(subs) - sum(compute) - sum(training) + sum(credits)
    assert cf["net"] == pytest.approx(net, rel=1e-12) and cf["cash_net"] == pytest.approx(net, rel=1e-12)


# ------------------------------------------------------------------ ISO weeks across the year end, weekly invoices
def test_weekly_statement_across_the_iso_year_with_weekly_invoices_and_a_lag_ending_on_the_horizon(tmp_path):
    """From Monday 2024-12-23 for 21 days: ISO weeks 2024-W52, 2025-W01 (Dec 30 - Jan 5) and 2025-W02;
    the run ends Monday Jan 13 00:00. $310/month is $10 a day in both months, so $70 a week. Revenue is
    invoiced weekly, paid 7 days after the week: W52's on Jan 6, W01's on Jan 13 (exactly the end of the
    horizon: after it), W02's on Jan 20. Half of it is paid on, settled monthly at the month's end:
    December's 9 days ($45) on Jan 1, January's 12 ($60) on Feb 1 (2025-W05)."""
    econ = {"period": "week", "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
            "revenue": [{"name": "subs", "usd_per_month": 310, "terms": {"invoice": "week", "net": "7d"}}],
            "agreements": [{"rate": 0.5, "base": ["subs"], "settle": "month"}]}
    out = _run(tmp_path, _scenario("2024-12-23", "21d", econ))
    rows, cf = _rows(out), _summary(out)["cashflow"]
    assert [(r["period"], r["after_horizon"]) for r in rows] == [
        ("2024-W52", "False"), ("2025-W01", "False"), ("2025-W02", "False"),
        ("2025-W03", "True"), ("2025-W04", "True"), ("2025-W05", "True")]
    week = 7 * DAY_H * 1.0                                       # $168 of compute a week
    assert _col(rows, "revenue_usd") == pytest.approx([70, 70, 70, 0, 0, 0], abs=1e-6)
    assert _col(rows, "revenue_share_paid_usd") == pytest.approx([35, 35, 35, 0, 0, 0], abs=1e-6)
    assert _col(rows, "net_usd") == pytest.approx([70 - week - 35] * 3 + [0] * 3, abs=1e-6)
    assert _col(rows, "cash_revenue_usd") == pytest.approx([0, 0, 70, 70, 70, 0], abs=1e-6)
    assert _col(rows, "cash_revenue_share_paid_usd") == pytest.approx([0, 45, 0, 0, 0, 60], abs=1e-6)
    cash = [-week, -week - 45, 70 - week, 70, 70, -60]
    assert _col(rows, "cash_net_usd") == pytest.approx(cash, abs=1e-6)
    assert cf["cash_net"] == pytest.approx(sum(cash[:3]), rel=1e-12)
    assert cf["receivables_end"] == pytest.approx(140, rel=1e-12)
    assert cf["revenue_share_outstanding"] == pytest.approx(-60, rel=1e-12)
    assert cf["net"] == pytest.approx(3 * (70 - week - 35), rel=1e-12)
    assert cf["cash_net_after_all_lags"] == pytest.approx(cf["net"], rel=1e-12)


# ------------------------------------------------------------------ a price step on the leap day, a commitment
def test_a_price_step_after_the_leap_day_and_a_commitment_above_what_runs(tmp_path):
    """From 2024-02-27 for 4 days (Feb 27, 28, 29, Mar 1). Two GPUs run; three are reserved at $1/h
    (a commitment paid whether used or not); on-demand beyond it is never needed. A second pool of one
    GPU is on demand at $4/h through Feb 29 and $3/h from Mar 1: a price step on a date."""
    econ = {"period": "quarter",
            "compute": [{"pool": "main", "tier": "reserved", "gpus": 3, "usd_per_gpu_hour": 1.0},
                        {"pool": "main", "usd_per_gpu_hour": 9.0},
                        {"pool": "side", "usd_per_gpu_hour": 4.0, "until": "2024-02-29"},
                        {"pool": "side", "usd_per_gpu_hour": 3.0, "from": "2024-03-01"}]}
    sc = _scenario("2024-02-27", "4d", econ, gpus=2)
    sc["fleet"]["pools"].append({"name": "side", "gpu": "h100-sxm", "replicas": 1, "tensor_parallel": 1})
    out = _run(tmp_path, sc)
    cost = _summary(out)["cost"]
    reserved = 3 * 4 * DAY_H * 1.0                              # 288, of which a third idle
    side = 3 * DAY_H * 4.0 + DAY_H * 3.0                        # 288 + 72
    assert cost["by_tier"] == pytest.approx({"reserved": reserved, "on_demand": side}, rel=1e-12)
    assert cost["by_pool"] == pytest.approx({"main": reserved, "side": side}, rel=1e-12)
    assert cost["gpu_hours_reserved_idle"] == pytest.approx(4 * DAY_H, rel=1e-12)
    assert cost["gpu_hours_billed"] == pytest.approx(3 * 96 + 96, rel=1e-12)
    rows = _rows(out)
    assert [r["period"] for r in rows] == ["2024-Q1"]
    assert float(rows[0]["compute_usd"]) == pytest.approx(reserved + side, abs=1e-6)


# ------------------------------------------------------------------ receivables net of service credits
def _missed_sla_scenario(economics: dict) -> dict:
    """From 2024-02-28 for 3 days: 10 requests that fit and 8 of which half (3,000 prompt tokens) are
    rejected once the pool's max_model_len is 2,048, so attainment misses the 99 % the line promises
    (10 % credited back); the line is invoiced monthly, net 30."""
    classes = [{"name": "ok", "arrival": {"process": "burst", "count": 10, "at": 0}, **TOKENS},
               {"name": "long", "arrival": {"process": "burst", "count": 8, "at": 0},
                "prompt_tokens": {"dist": "empirical", "values": [1500, 3000], "weights": [1, 1]},
                "output_tokens": {"dist": "fixed", "value": 100}}]
    api = {"name": "api", "usd_per_million_input_tokens": 1.5, "usd_per_million_output_tokens": 6.0,
           "usd_per_request": 0.01, "sla": {"attainment": 0.99, "credit_pct": 0.1},
           "terms": {"invoice": "month", "net": "30d"}}
    return _scenario("2024-02-28", "3d", {**economics, "compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}],
                                          "revenue": [api]}, workload={"classes": classes})


def test_receivables_at_the_end_are_the_invoice_net_of_its_service_credit(tmp_path):
    """Requests of 3,000 prompt tokens are rejected (max_model_len 2,048), so the month's attainment
    misses the 99 % the line promises and 10 % of its revenue is credited back. The line is invoiced
    monthly, net 30: February's invoice (revenue less the credit on it) is due Mar 31, after the run's
    end on Mar 2, so the provider is owed 90 % of the revenue, not all of it."""
    sc = _missed_sla_scenario({})
    sc["fleet"]["pools"][0]["max_model_len"] = 2048
    out = _run(tmp_path, sc)
    done = _completed(out)
    assert 10 < len(done) < 18 and all(r["prompt_tokens"] in ("1000", "1500") for r in done)
    revenue = sum((int(r["prompt_tokens"]) * 1.5 + int(r["output_tokens"]) * 6.0) / 1e6 + 0.01 for r in done)
    cf = _summary(out)["cashflow"]
    assert cf["revenue"] == pytest.approx(revenue, rel=1e-12)
    assert cf["sla_credits"] == pytest.approx(0.1 * revenue, rel=1e-12)
    assert cf["cash_net"] == pytest.approx(-3 * DAY_H * 2.0, rel=1e-12)     # compute only: the invoice is not due
    assert cf["receivables_end"] == pytest.approx(0.9 * revenue, rel=1e-12)
    assert cf["payables_end"] == 0.0
    # what is still owed either way is exactly what cash lacks of the accrual once every lag has passed
    assert cf["cash_net_after_all_lags"] - cf["cash_net"] == pytest.approx(
        cf["receivables_end"] - cf["payables_end"] + cf["revenue_share_outstanding"], rel=1e-12)


# ------------------------------------------------------------------ reprice a moved agreement window
def test_reprice_moving_the_agreement_into_mid_february_is_the_hand_computed_money_and_a_fresh_run(
        tmp_path, capsys):
    """The 100 % agreement of the 0/100 test, re-priced to start on Feb 15 and pay 40 %: January pays
    nothing, February's 14 days of $310/28 pay 40 % = $62 on Mar 1, March's $50 pays $20 on Apr 1."""
    base = _run(tmp_path, _scenario("2025-01-20", "45d", SHARES), "base")
    sets = ["economics.agreements.0.from=2025-02-15", "economics.agreements.0.rate=0.4"]
    assert main(["reprice", str(base), *[a for s in sets for a in ("--set", s)], "--out", str(tmp_path / "re"),
                 "--quiet", "--json"]) == 0
    capsys.readouterr()
    econ = {**SHARES, "agreements": [{**SHARES["agreements"][0], "from": "2025-02-15", "rate": 0.4},
                                     SHARES["agreements"][1]]}
    fresh = _run(tmp_path, _scenario("2025-01-20", "45d", econ), "fresh")
    re = tmp_path / "re"
    feb, mar = 0.4 * 310 * 14 / 28, 0.4 * 50                    # 62, 20
    sett = [r for r in _rows(re, "settlements.csv") if r["agreement"] == "all"]
    assert [(r["period"], r["cash_date"]) for r in sett] == [("2025-02", "2025-03-01"), ("2025-03", "2025-04-01")]
    assert _col(sett, "provider_net_usd") == pytest.approx([-feb, -mar], abs=1e-6)
    cf = _summary(re)["cashflow"]
    assert cf["revenue_share_paid"] == pytest.approx(feb + mar, rel=1e-12)
    assert cf["net"] == pytest.approx(480 - 45 * DAY_H - feb - mar, rel=1e-12)
    for name in ("cashflow.csv", "settlements.csv", "ledger.csv"):
        assert (re / name).read_bytes() == (fresh / name).read_bytes(), name
    assert _summary(re)["cashflow"] == _summary(fresh)["cashflow"]


# ------------------------------------------------------------------ a run inside a capped deal's life
def test_a_cap_partly_used_before_the_run_leaves_only_the_rest_to_pay(tmp_path, capsys):
    """A deal capped at $1,000 for its life of which $900 was paid before this run (2027-01-01, 90 days:
    Jan 31, Feb 28, Mar 31). 20 % of $310 a month is $62 in January and $62 in February: the cap has $100
    left, so February pays $38 and March nothing; one quarterly settlement of $100, capped."""
    econ = {"compute": [{"pool": "main", "usd_per_gpu_hour": 0.0}],
            "revenue": [{"name": "subs", "usd_per_month": 310}],
            "agreements": [{"rate": 0.2, "base": ["subs"], "cap_usd": 1000, "cap_used_usd": 900}]}
    out = _run(tmp_path, _scenario("2027-01-01", "90d", econ))
    rows = _rows(out)          # the settlement falls on Apr 1, the horizon's end: a cash-only row after it
    assert [r["period"] for r in rows] == ["2027-01", "2027-02", "2027-03", "2027-04"]
    assert _col(rows, "revenue_share_paid_usd") == pytest.approx([62, 100 - 62, 0, 0], abs=1e-6)
    assert _col(rows, "cash_revenue_share_paid_usd") == pytest.approx([0, 0, 0, 100], abs=1e-6)
    (q1,) = _rows(out, "settlements.csv")
    assert (q1["period"], float(q1["forward_usd"]), q1["capped"]) == ("2027-Q1", 100.0, "True")
    assert _summary(out)["cashflow"]["net"] == pytest.approx(3 * 310 - 100, rel=1e-12)
    # more paid than the cap, or a paid amount without a cap, is refused naming the field
    path = tmp_path / "run.yaml"
    for sets, words in ((["economics.agreements.0.cap_used_usd=1200"],
                         "economics.agreements.0.cap_used_usd: must not exceed cap_usd (got 1200 of a 1000 cap)"),
                        (["economics.agreements.0.cap_usd=null"],
                         "economics.agreements.0.cap_used_usd: needs cap_usd")):
        capsys.readouterr()
        assert main(["run", str(path), *[a for s in sets for a in ("--set", s)], "--out", str(tmp_path / "bad"),
                     "--quiet"]) == 2
        assert f"{path}: {words}" in capsys.readouterr().err


def test_cents_split_of_a_periods_compute_among_tenants_adds_up_to_the_compute(tmp_path):
    """Three tenants send the same work on one GPU at a third of a dollar an hour for a day: $8.00 of
    compute, $2.666.. each. Cut to cents one by one they would be 2.67 three times, $8.01; by the
    largest remainder (a tie: the first listed first) they are 2.67, 2.67 and 2.66, which add up."""
    classes = [{"name": n, "arrival": {"process": "burst", "count": 4, "at": 0}, **TOKENS} for n in "abc"]
    econ = {"rounding": "cents", "compute": [{"pool": "main", "usd_per_gpu_hour": 1 / 3}],
            "revenue": [{"name": "api", "usd_per_million_output_tokens": 7.0}]}
    out = _run(tmp_path, _scenario("2025-06-30", "1d", econ, workload={"classes": classes}))
    (row,) = _rows(out)
    assert float(row["compute_usd"]) == 24 / 3 == 8.0
    split = [float(row[f"class_{n}_compute_usd"]) for n in "abc"]
    assert split == [2.67, 2.67, 2.66] and float(row["class_unallocated_compute_usd"]) == 0.0
    revenue = 4 * 100 * 7.0 / 1e6                               # 0.0028 a tenant: 0.00 to the cent
    for n, cost in zip("abc", split):
        assert float(row[f"class_{n}_revenue_usd"]) == round(revenue, 2) == 0.0
        assert float(row[f"class_{n}_margin_usd"]) == -cost


def test_a_quarters_service_credit_goes_on_the_invoice_that_closes_the_quarter(tmp_path):
    """Statement and SLA periods are quarters, the line is invoiced monthly, net 30. From 2024-02-28
    for 3 days (Feb 28, 29, Mar 1): all requests complete on Feb 28 and the quarter misses its 99 %.
    February's revenue is invoiced at the end of February, due Mar 31; the quarter's credit is known
    only when the quarter's last month is invoiced: March's invoice, due May 1 (Apr 1 + 30 days) --
    not netted into February's invoice a month before the quarter it measures is over."""
    sc = _missed_sla_scenario({"period": "quarter"})
    sc["fleet"]["pools"][0]["max_model_len"] = 2048
    out = _run(tmp_path, sc)
    revenue = sum((int(r["prompt_tokens"]) * 1.5 + int(r["output_tokens"]) * 6.0) / 1e6 + 0.01
                  for r in _completed(out))
    ledger = _rows(out, "ledger.csv")
    assert [(e["category"], e["cash_date"]) for e in ledger if e["category"] in ("revenue", "sla_credit")] == [
        ("revenue", "2024-03-31"), ("sla_credit", "2024-05-01")]
    rows = _rows(out)
    assert [(r["period"], r["after_horizon"]) for r in rows] == [
        ("2024-Q1", "False"), ("2024-Q1", "True"), ("2024-Q2", "True")]
    assert _col(rows, "cash_revenue_usd") == pytest.approx([0, revenue, 0], abs=1e-6)
    assert _col(rows, "cash_sla_credits_usd") == pytest.approx([0, 0, 0.1 * revenue], abs=1e-6)
