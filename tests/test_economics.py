"""The money layer's mechanisms, each against hand-worked arithmetic."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from sim.economics import evaluate, parse_economics
from sim.economics.synthetic import usage_from_rows

DAY = 86400.0
HOUR = 3600.0
JAN1 = dt.date(2025, 1, 1)


def econ(**block):
    return parse_economics(block)


def row(result, period):
    return next(r for r in result.statement if r["period"] == period)


# ---------------------------------------------------------------- compute
def test_reserved_billed_always_on_demand_beyond_reservation():
    # 6 GPUs for the first hour, 2 GPUs for the second; 4 reserved at $2, on demand at $3.5.
    cfg = econ(compute=[{"pool": "main", "tier": "reserved", "gpus": 4, "usd_per_gpu_hour": 2.0},
                        {"pool": "main", "tier": "on_demand", "usd_per_gpu_hour": 3.5}])
    u = usage_from_rows(2 * HOUR, intervals=[("main", 6, 0, HOUR), ("main", 2, HOUR, 2 * HOUR)])
    r = evaluate(cfg, JAN1, u)
    assert r.cost["by_tier"]["reserved"] == pytest.approx(4 * 2.0 * 2)       # 16: idle or not
    assert r.cost["by_tier"]["on_demand"] == pytest.approx(2 * 3.5 * 1)      # 7: 2 GPUs beyond, 1 h
    assert r.cashflow["compute_cost"] == pytest.approx(23.0)
    assert r.cost["gpu_hours_reserved_idle"] == pytest.approx(2.0)           # 2 of 4 idle in hour 2
    assert r.cost["gpu_hours_provisioned"] == pytest.approx(8.0)
    assert r.cost["gpu_hours_billed"] == pytest.approx(8.0 + 2.0)


def test_reserved_alone_bills_whole_horizon_without_any_usage():
    cfg = econ(compute=[{"pool": "main", "tier": "reserved", "gpus": 10, "usd_per_gpu_hour": 1.5}])
    r = evaluate(cfg, JAN1, usage_from_rows(3 * HOUR))
    assert r.cashflow["compute_cost"] == pytest.approx(10 * 1.5 * 3)


def test_spot_capped_then_on_demand_in_listed_order():
    cfg = econ(compute=[{"pool": "main", "tier": "spot", "gpus": 1, "usd_per_gpu_hour": 1.0},
                        {"pool": "main", "tier": "on_demand", "usd_per_gpu_hour": 4.0}])
    u = usage_from_rows(HOUR, intervals=[("main", 3, 0, HOUR)])
    r = evaluate(cfg, JAN1, u)
    assert r.cost["by_tier"] == pytest.approx({"spot": 1.0, "on_demand": 8.0})


def test_shorthand_rate_prices_unlisted_pools_and_unpriced_pool_costs_zero_with_a_note():
    u = usage_from_rows(HOUR, intervals=[("a", 2, 0, HOUR), ("b", 1, 0, HOUR)])
    r = evaluate(econ(gpu_hour_usd=2.5, compute=[{"pool": "a", "usd_per_gpu_hour": 1.0}]), JAN1, u)
    assert r.cost["by_pool"] == pytest.approx({"a": 2.0, "b": 2.5})
    r0 = evaluate(econ(), JAN1, u)
    assert r0.cashflow["compute_cost"] == 0.0
    assert any("no compute price" in n for n in r0.notes)
    assert r0.cost["gpu_hours_unbilled"] == pytest.approx(3.0)


@pytest.mark.parametrize("granularity,duration_s,billed_s", [
    ("hour", 61 * 60, 2 * HOUR), ("hour", HOUR, HOUR), ("minute", 90.5, 120.0),
    ("second", 90.5, 91.0), ("second", 90.0, 90.0)])
def test_billing_granularity_rounds_each_interval_up(granularity, duration_s, billed_s):
    cfg = econ(gpu_hour_usd=3600.0, billing_granularity=granularity)   # $1 per GPU-second
    r = evaluate(cfg, JAN1, usage_from_rows(2 * HOUR, intervals=[("main", 1, 0, duration_s)]))
    assert r.cashflow["compute_cost"] == pytest.approx(billed_s)


def test_rounding_applies_per_interval_not_per_pool():
    cfg = econ(gpu_hour_usd=1.0, billing_granularity="hour")
    u = usage_from_rows(HOUR, intervals=[("main", 1, 0, 600), ("main", 1, 1200, 1800)])
    assert evaluate(cfg, JAN1, u).cashflow["compute_cost"] == pytest.approx(2.0)


def test_cost_per_million_output_tokens_per_request_and_utilization_adjusted():
    cfg = econ(gpu_hour_usd=2.0)
    reqs = [(100.0, 1000, 500_000, -1, 2.0), (200.0, 0, 500_000, -1, 2.0)]   # weight 2 -> 2M tokens
    u = usage_from_rows(HOUR, intervals=[("main", 4, 0, HOUR)], requests=reqs,
                        busy_gpu_seconds={"main": HOUR})                          # 1 of 4 GPU-hours busy
    c = evaluate(cfg, JAN1, u).cost
    assert c["compute_usd"] == pytest.approx(8.0)
    assert c["per_million_output_tokens"] == pytest.approx(8.0 / 2.0)
    assert c["per_request"] == pytest.approx(8.0 / 4)
    assert c["utilization"] == pytest.approx(0.25)
    assert c["utilization_adjusted_per_million_output_tokens"] == pytest.approx(1.0)


# ---------------------------------------------------------------- revenue
def test_token_revenue_by_line_with_weights_and_default_line():
    cfg = econ(revenue=[{"name": "api", "usd_per_million_input_tokens": 2.5,
                         "usd_per_million_output_tokens": 10.0},
                        {"name": "batch", "usd_per_million_output_tokens": 5.0, "usd_per_request": 0.01}])
    reqs = [(10.0, 400_000, 100_000, -1), (20.0, 0, 200_000, 1, 3.0), (30.0, 200_000, 0, 0)]
    r = evaluate(cfg, JAN1, usage_from_rows(HOUR, requests=reqs, names=("api", "batch")))
    assert r.cashflow["revenue_by_line"]["api"] == pytest.approx(0.6 * 2.5 + 0.1 * 10.0)
    assert r.cashflow["revenue_by_line"]["batch"] == pytest.approx(3 * (0.2 * 5.0 + 0.01))


def test_price_change_on_a_date_with_same_name_disjoint_windows():
    cfg = econ(revenue=[{"name": "api", "usd_per_million_output_tokens": 10.0, "until": "2025-01-01"},
                        {"name": "api", "usd_per_million_output_tokens": 4.0, "from": "2025-01-02"}])
    reqs = [(0.5 * DAY, 0, 1_000_000, -1), (1.5 * DAY, 0, 1_000_000, -1)]
    r = evaluate(cfg, JAN1, usage_from_rows(2 * DAY, requests=reqs))
    assert r.cashflow["revenue"] == pytest.approx(14.0)


def test_request_naming_an_undefined_line_earns_nothing_and_says_so():
    cfg = econ(revenue=[{"name": "api", "usd_per_million_output_tokens": 10.0}])
    u = usage_from_rows(HOUR, requests=[(1.0, 0, 1_000_000, 0), (2.0, 0, 1_000_000, -1)], names=("ghost",))
    r = evaluate(cfg, JAN1, u)
    assert r.cashflow["revenue"] == pytest.approx(10.0)          # only the default-line request
    assert any("ghost" in n for n in r.notes)
    assert not evaluate(econ(), JAN1, u).notes                    # a cost-only config stays quiet


def test_flat_lines_prorated_by_seconds_of_each_month_with_growth():
    # 15 Jan .. 15 Feb 2025: 17 of 31 January days, 14 of 28 February days.
    cfg = econ(revenue=[{"name": "subs", "usd_per_month": 20, "subscribers": 1000,
                         "growth_per_month": 0.1}])
    r = evaluate(cfg, dt.date(2025, 1, 15), usage_from_rows(31 * DAY))
    jan, feb = row(r, "2025-01"), row(r, "2025-02")
    assert jan["revenue_subs_usd"] == pytest.approx(20_000 * 17 / 31)
    assert feb["revenue_subs_usd"] == pytest.approx(20_000 * 1.1 * 14 / 28)
    assert jan["partial"] and feb["partial"]
    assert jan["covered_s"] == 17 * DAY


def test_two_hour_run_gives_one_partial_month_row():
    cfg = econ(gpu_hour_usd=2.0, revenue=[{"name": "subs", "usd_per_month": 744.0}])
    r = evaluate(cfg, JAN1, usage_from_rows(2 * HOUR, intervals=[("main", 1, 0, 2 * HOUR)]))
    assert [x["period"] for x in r.statement] == ["2025-01"]
    assert r.statement[0]["partial"] is True
    assert r.statement[0]["revenue_usd"] == pytest.approx(2.0)    # 744 USD over 744 hours
    assert "partial" in r.format_table()


# ---------------------------------------------------------------- agreements
SHARE_LINES = [{"name": "api", "usd_per_month": 1.0e6},
               {"name": "resale", "usd_per_month": 3.0e6, "owner": "partner"}]


def test_netting_partner_owes_more_so_provider_receives_the_net():
    cfg = econ(revenue=SHARE_LINES, period="month", agreements=[{
        "rate": 0.2, "base": ["api"], "reverse": {"rate": 0.2, "base": ["resale"]},
        "settle": "month", "payment_lag": 0}])
    r = evaluate(cfg, JAN1, usage_from_rows(31 * DAY))
    (s,) = r.settlements
    assert s.forward_usd == pytest.approx(2.0e5) and s.reverse_usd == pytest.approx(6.0e5)
    assert s.provider_net_usd == pytest.approx(4.0e5)
    assert r.cashflow["revenue_share_paid"] == pytest.approx(2.0e5)
    assert r.cashflow["revenue_share_received"] == pytest.approx(6.0e5)
    assert r.cashflow["revenue"] == pytest.approx(1.0e6)               # partner line excluded
    assert r.cashflow["partner_revenue"] == pytest.approx(3.0e6)
    assert s.cash_date == dt.date(2025, 2, 1)
    assert row(r, "2025-02")["cash_net_usd"] == pytest.approx(4.0e5)  # one netted movement
    assert row(r, "2025-01")["cash_revenue_share_paid_usd"] == 0.0


def test_netting_provider_owes_more_and_partner_as_payer():
    lines = [{"name": "api", "usd_per_month": 5.0e6}, {"name": "resale", "usd_per_month": 1.0e6,
                                                         "owner": "partner"}]
    forward = econ(revenue=lines, agreements=[{"rate": 0.2, "base": ["api"], "settle": "month",
                                               "reverse": {"rate": 0.1, "base": ["resale"]}}])
    (s,) = evaluate(forward, JAN1, usage_from_rows(31 * DAY)).settlements
    assert s.provider_net_usd == pytest.approx(-(1.0e6 - 1.0e5))
    mirrored = econ(revenue=lines, agreements=[{"payer": "partner", "payee": "provider", "rate": 0.1,
                                                "base": ["resale"], "settle": "month",
                                                "reverse": {"rate": 0.2, "base": ["api"]}}])
    (m,) = evaluate(mirrored, JAN1, usage_from_rows(31 * DAY)).settlements
    assert m.provider_net_usd == pytest.approx(s.provider_net_usd)


def test_quarterly_settlement_with_lag_crossing_the_year_end():
    # Q4 2024 simulated; settles at 2025-01-01 + 45 days = 2025-02-15.
    cfg = econ(revenue=[{"name": "api", "usd_per_month": 1.0e6}], period="month",
               agreements=[{"rate": 0.2, "base": ["api"], "settle": "quarter", "payment_lag": "45d"}])
    r = evaluate(cfg, dt.date(2024, 10, 1), usage_from_rows(92 * DAY))
    (s,) = r.settlements
    assert s.period == "2024-Q4" and s.forward_usd == pytest.approx(6.0e5)
    assert s.cash_date == dt.date(2025, 2, 15)
    feb = row(r, "2025-02")
    assert feb["after_horizon"] and feb["cash_revenue_share_paid_usd"] == pytest.approx(6.0e5)
    assert [x["period"] for x in r.statement] == ["2024-10", "2024-11", "2024-12", "2025-02"]
    assert r.cashflow["cash_net"] == pytest.approx(3.0e6)              # nothing settled in 2024
    assert r.cashflow["revenue_share_outstanding"] == pytest.approx(-6.0e5)


def test_cap_reached_mid_period_pays_only_what_is_left():
    # 2e5 accrues per month; cap 5e5 is reached half-way through March, inside Q1.
    cfg = econ(revenue=[{"name": "api", "usd_per_month": 1.0e6}], period="month",
               agreements=[{"rate": 0.2, "base": ["api"], "settle": "quarter", "cap_usd": 5.0e5}])
    r = evaluate(cfg, JAN1, usage_from_rows((31 + 28 + 31 + 30) * DAY))
    q1, q2 = r.settlements
    assert q1.forward_usd == pytest.approx(5.0e5) and q1.capped
    assert q2.forward_usd == 0.0
    assert row(r, "2025-03")["revenue_share_paid_usd"] == pytest.approx(1.0e5)
    assert row(r, "2025-04")["revenue_share_paid_usd"] == 0.0
    assert r.cashflow["revenue_share_paid"] == pytest.approx(5.0e5)


def test_agreement_until_date_and_a_new_regime_from_the_next_day():
    # One-way 20% until 14 Feb, then 10% from 15 Feb: Feb accrues 14/28 at each rate.
    cfg = econ(revenue=[{"name": "api", "usd_per_month": 1.0e6}], period="month", agreements=[
        {"name": "old", "rate": 0.2, "base": ["api"], "settle": "month", "until": "2025-02-14"},
        {"name": "new", "rate": 0.1, "base": ["api"], "settle": "month", "from": "2025-02-15"}])
    r = evaluate(cfg, JAN1, usage_from_rows((31 + 28 + 31) * DAY))
    by = {(s.agreement, s.period): s.forward_usd for s in r.settlements}
    assert by == pytest.approx({("old", "2025-01"): 2.0e5, ("old", "2025-02"): 1.0e5,
                                ("new", "2025-02"): 0.5e5, ("new", "2025-03"): 1.0e5})
    assert row(r, "2025-02")["revenue_share_paid_usd"] == pytest.approx(1.5e5)


# ---------------------------------------------------------------- credits
def test_training_credits_exhausted_mid_month_then_cash_pays():
    # 2.5e8/month of training; a 1.1e9 credit covers Jan-Apr and 1e8 of May.
    cfg = econ(training={"usd_per_month": 2.5e8}, period="month",
               credits=[{"name": "azure", "usd": 1.1e9, "applies_to": "training"}])
    horizon = (31 + 28 + 31 + 30 + 31 + 30) * DAY
    r = evaluate(cfg, JAN1, usage_from_rows(horizon))
    cash = [x["cash_net_usd"] for x in r.statement]
    assert cash == pytest.approx([0, 0, 0, 0, -1.5e8, -2.5e8])
    assert r.cashflow["credits_applied"] == pytest.approx(1.1e9)
    assert r.cashflow["credits_unused"] == 0.0
    assert r.cashflow["training_cost"] == pytest.approx(1.5e9)
    assert r.cashflow["net"] == pytest.approx(-4.0e8)


def test_compute_credit_offsets_compute_and_reports_unused():
    cfg = econ(gpu_hour_usd=1.0, credits=[{"name": "promo", "usd": 5.0, "applies_to": "compute"}])
    r = evaluate(cfg, JAN1, usage_from_rows(HOUR, intervals=[("main", 3, 0, HOUR)]))
    assert r.cashflow["credits_applied"] == pytest.approx(3.0)
    assert r.cashflow["net"] == pytest.approx(0.0)
    assert any("$2.00 unused" in n for n in r.notes)


# ---------------------------------------------------------------- totals, NPV
def _full_config(lag="45d", rate=0.0):
    return econ(gpu_hour_usd=2.0, period="month", discount_rate=rate,
                compute=[{"pool": "main", "tier": "reserved", "gpus": 2, "usd_per_gpu_hour": 1.5}],
                revenue=[{"name": "api", "usd_per_million_output_tokens": 10.0},
                         {"name": "subs", "usd_per_month": 2.0e4, "growth_per_month": 0.05},
                         {"name": "resale", "usd_per_month": 1.0e4, "owner": "partner"}],
                agreements=[{"rate": 0.2, "base": ["api", "subs"], "settle": "quarter",
                             "payment_lag": lag, "reverse": {"rate": 0.2, "base": ["resale"]}}],
                training={"usd_per_month": 1.0e3}, credits=[{"name": "c", "usd": 2.5e3}])


def _full_usage(days=200):
    reqs = [(i * DAY + 0.5 * DAY, 1000, 50_000, -1) for i in range(days)]
    return usage_from_rows(days * DAY, intervals=[("main", 3, 0, days * DAY)], requests=reqs)


def test_accrual_and_cash_totals_agree_once_all_lags_have_passed():
    r = evaluate(_full_config(), dt.date(2025, 3, 10), _full_usage())
    cf = r.cashflow
    assert cf["net"] == pytest.approx(cf["revenue"] - cf["compute_cost"] - cf["revenue_share_paid"]
                                      + cf["revenue_share_received"] - cf["training_cost"]
                                      + cf["credits_applied"])
    assert sum(x["cash_net_usd"] for x in r.statement) == pytest.approx(cf["net"])
    assert sum(x["net_usd"] for x in r.statement) == pytest.approx(cf["net"])
    assert r.statement[-1]["cumulative_cash_usd"] == pytest.approx(cf["net"])
    assert cf["cash_net"] != pytest.approx(cf["net"])            # the last settlements are after the horizon
    assert cf["cash_net"] + cf["revenue_share_outstanding"] == pytest.approx(cf["net"])


def test_npv_of_a_uniform_cost_stream_matches_the_continuous_annuity():
    # $1/GPU-hour, one GPU for 365 days: PV = -8760 * (1 - 1.1^-1) / ln(1.1).
    cfg = econ(gpu_hour_usd=1.0, discount_rate=0.10)
    r = evaluate(cfg, JAN1, usage_from_rows(365 * DAY, intervals=[("main", 1, 0, 365 * DAY)]))
    assert r.cashflow["npv_usd"] == pytest.approx(-8760 * (1 - 1 / 1.1) / math.log(1.1), rel=1e-9)


def test_npv_of_a_lump_settlement_one_year_out():
    # A flat 1.2e6/year line shared 25%, settled yearly with no lag: 3e5 paid on 2026-01-01.
    cfg = econ(discount_rate=0.10, revenue=[{"name": "api", "usd_per_month": 1.0e5}],
               agreements=[{"rate": 0.25, "base": ["api"], "settle": "year"}])
    r = evaluate(cfg, JAN1, usage_from_rows(365 * DAY))
    share_pv = r.cashflow["npv_usd"] - evaluate(econ(discount_rate=0.10, revenue=[
        {"name": "api", "usd_per_month": 1.0e5}]), JAN1, usage_from_rows(365 * DAY)).cashflow["npv_usd"]
    assert share_pv == pytest.approx(-3.0e5 / 1.1)


def test_npv_at_zero_rate_is_the_undiscounted_total():
    r = evaluate(_full_config(rate=0.0), JAN1, _full_usage(60))
    assert r.cashflow["npv_usd"] == pytest.approx(r.cashflow["net"])


# ---------------------------------------------------------------- calendar
def test_calendar_periods_iso_weeks_quarters_and_leap_year():
    from sim.economics.calendar import Calendar, period_label, period_next

    assert period_label(dt.date(2024, 12, 30), "week") == "2025-W01"          # ISO week of 30 Dec 2024
    assert period_next(dt.date(2024, 2, 10), "month") == dt.date(2024, 3, 1)
    assert period_next(dt.date(2024, 11, 5), "quarter") == dt.date(2025, 1, 1)
    cal = Calendar(dt.date(2024, 2, 28))
    assert cal.date_at(2 * DAY) == dt.date(2024, 3, 1)                        # 29 Feb exists
    assert cal.boundaries_s("month", 0.0, 40 * DAY) == [2 * DAY, 33 * DAY]


def test_weekly_statement_rows_split_a_flat_line_by_iso_week():
    # Wed 1 Jan 2025 .. Tue 14 Jan: 5 days of W01, 7 of W02, 2 of W03; 31 USD/month = 1 USD/day.
    cfg = econ(period="week", revenue=[{"name": "subs", "usd_per_month": 31.0}])
    r = evaluate(cfg, JAN1, usage_from_rows(14 * DAY))
    assert [(x["period"], round(x["revenue_usd"], 9), x["partial"]) for x in r.statement] == [
        ("2025-W01", 5.0, True), ("2025-W02", 7.0, False), ("2025-W03", 2.0, True)]


# ---------------------------------------------------------------- cash columns are cash
def test_partial_last_row_holds_no_cash_paid_after_the_horizon():
    # Jan 1 - Jul 20 2025 (200 days), quarterly statement, 1e6/month of API revenue, 20 % share
    # settled quarterly 45 days late: Q1 (6e5) paid May 16, Q2 (6e5) paid Aug 15, the partial Q3
    # (19/31 of July: 122,580.65) paid Nov 15. Aug 15 is after the horizon: not in the partial Q3 row.
    cfg = econ(revenue=[{"name": "api", "usd_per_month": 1.0e6}], period="quarter",
               agreements=[{"rate": 0.2, "base": ["api"], "settle": "quarter", "payment_lag": "45d"}])
    r = evaluate(cfg, JAN1, usage_from_rows(200 * DAY))
    assert [(x["period"], x["partial"], x["after_horizon"]) for x in r.statement] == [
        ("2025-Q1", False, False), ("2025-Q2", False, False), ("2025-Q3", True, False),
        ("2025-Q3", False, True), ("2025-Q4", False, True)]
    q3, q3_after, q4 = r.statement[2:]
    july = 1.0e6 * 19 / 31
    assert q3["cash_net_usd"] == pytest.approx(july, abs=1e-6)
    assert q3["cash_revenue_share_paid_usd"] == 0.0
    assert q3["cumulative_cash_usd"] == pytest.approx(6.0e6 + july - 6.0e5, abs=1e-6)
    assert q3["cumulative_cash_usd"] == pytest.approx(r.cashflow["cash_net"], abs=1e-6)
    assert q3_after["start"] == "2025-07-20" and q3_after["cash_revenue_share_paid_usd"] == pytest.approx(6.0e5)
    assert q3_after["revenue_usd"] == 0.0 and q3_after["covered_s"] == 0.0
    assert q4["cash_revenue_share_paid_usd"] == pytest.approx(0.2 * july, abs=1e-6)
    assert r.statement[-1]["cumulative_cash_usd"] == pytest.approx(r.cashflow["cash_net_after_all_lags"], abs=1e-6)


def test_netted_settlement_is_one_cash_payment_gross_sides_stay_accrual():
    # forward 0.2 x 1e6 = 2e5 owed by the provider, reverse 0.2 x 3e6 = 6e5 owed by the partner:
    # one payment of 4e5 to the provider on Feb 1.
    cfg = econ(revenue=SHARE_LINES, period="month", agreements=[{
        "rate": 0.2, "base": ["api"], "reverse": {"rate": 0.2, "base": ["resale"]},
        "settle": "month", "payment_lag": 0}])
    r = evaluate(cfg, JAN1, usage_from_rows(31 * DAY))
    jan, feb = r.statement
    assert jan["revenue_share_paid_usd"] == pytest.approx(2.0e5)
    assert jan["revenue_share_received_usd"] == pytest.approx(6.0e5)
    assert feb["cash_revenue_share_received_usd"] == pytest.approx(4.0e5)
    assert feb["cash_revenue_share_paid_usd"] == 0.0
    assert feb["cash_net_usd"] == pytest.approx(4.0e5)


def test_credits_are_not_cash_they_lower_the_cash_paid_for_the_cost():
    # 30,000 of training in January, 14,232 of it covered by a credit: 15,768 paid in cash.
    # 1 GPU all January at $2/h = 1,488 of compute, 488 of it covered: 1,000 paid.
    cfg = econ(gpu_hour_usd=2.0, training={"usd_per_month": 30_000.0}, period="month",
               credits=[{"name": "t", "usd": 14_232.0, "applies_to": "training"},
                        {"name": "c", "usd": 488.0, "applies_to": "compute"}])
    r = evaluate(cfg, JAN1, usage_from_rows(31 * DAY, intervals=[("main", 1, 0, 31 * DAY)]))
    (jan,) = r.statement
    assert jan["training_usd"] == pytest.approx(30_000.0) and jan["compute_usd"] == pytest.approx(1_488.0)
    assert jan["credits_applied_usd"] == pytest.approx(14_720.0)
    assert jan["cash_training_usd"] == pytest.approx(15_768.0)
    assert jan["cash_compute_usd"] == pytest.approx(1_000.0)
    assert "cash_credits_applied_usd" not in jan
    assert jan["cash_net_usd"] == pytest.approx(-16_768.0)


# ---------------------------------------------------------------- finance metrics
def test_irr_of_a_year_of_spread_cost_and_a_lump_return_is_ten_percent():
    import doctest

    from sim.economics import chargeback, energy, finance, statement, usage
    from sim.economics.finance import irr
    from sim.economics.ledger import LedgerEntry

    for module in (chargeback, energy, finance, statement, usage):
        assert doctest.testmod(module).failed == 0, module.__name__
    # $1/hour over a year is worth 8760 (1 - 1.1^-1) / ln 1.1 at 10 %; a lump of that x 1.1 at
    # the year's end returns exactly 10 %.
    year = 365 * DAY
    pv_cost = 8760 * (1 - 1 / 1.1) / math.log(1.1)
    flows = [LedgerEntry("compute", "c", -8760.0, JAN1, JAN1, 0.0, year, 0.0, year),
             LedgerEntry("revenue_share_received", "a", pv_cost * 1.1, JAN1, JAN1, year, year, year, year)]
    assert irr(flows) == pytest.approx(0.10, abs=1e-10)
    assert irr(flows[:1]) is None                     # money only goes out: no rate makes NPV zero


def test_payback_margin_and_present_value_per_row():
    # Training 3,000 in January only; 1,100/month of revenue; 1 GPU at $1/h (744 h in January,
    # 672 in February, 744 in March). Cumulative cash: Jan 1,100 - 3,000 - 744 = -2,644;
    # Feb -2,644 + 1,100 - 672 = -2,216; Mar -2,216 + 1,100 - 744 = -1,860; never paid back in Q1.
    # With 10,000/month of revenue instead, January is -3,744 + 10,000 > 0: paid back in January.
    block = dict(gpu_hour_usd=1.0, period="month", discount_rate=0.1,
                 training={"usd_per_month": 3000.0, "until": "2025-01-31"})
    u = usage_from_rows(90 * DAY, intervals=[("main", 1, 0, 90 * DAY)])
    r = evaluate(econ(revenue=[{"name": "subs", "usd_per_month": 1100.0}], **block), JAN1, u)
    assert [x["cumulative_cash_usd"] for x in r.statement] == pytest.approx([-2644.0, -2216.0, -1860.0])
    assert r.cashflow["payback_period"] is None
    assert row(r, "2025-02")["gross_margin_pct"] == pytest.approx((1100 - 672) / 1100)
    assert sum(x["pv_cash_usd"] for x in r.statement) == pytest.approx(r.cashflow["npv_usd"], rel=1e-12)
    jan = row(r, "2025-01")
    assert jan["discount_factor"] == pytest.approx(jan["pv_cash_usd"] / jan["cash_net_usd"])
    assert 1 / 1.1 ** (31 / 365) < jan["discount_factor"] < 1.0        # within January's factors
    rich = evaluate(econ(revenue=[{"name": "subs", "usd_per_month": 10_000.0}], **block), JAN1, u)
    assert rich.cashflow["payback_period"] == "2025-01" and rich.cashflow["payback_end"] == "2025-02-01"


def test_payback_is_the_period_from_which_cumulative_cash_stays_positive():
    from sim.economics.finance import payback_row

    rows = [{"period": p, "cumulative_cash_usd": c} for p, c in
            (("a", 5.0), ("b", -1.0), ("c", 0.0), ("d", 2.0))]
    assert payback_row(rows)["period"] == "c"
    assert payback_row(rows[:2]) is None


def test_rounding_cents_rounds_statement_and_settlements_but_not_totals():
    # 1,000/month for 10 days of January: 1000 x 10/31 = 322.5806...; a 20 % share of it 64.516...
    block = dict(revenue=[{"name": "api", "usd_per_month": 1000.0}], period="month",
                 agreements=[{"rate": 0.2, "base": ["api"], "settle": "month"}])
    exact = evaluate(econ(**block), JAN1, usage_from_rows(10 * DAY))
    cents = evaluate(econ(rounding="cents", **block), JAN1, usage_from_rows(10 * DAY))
    jan, feb = cents.statement
    assert jan["revenue_usd"] == 322.58 and jan["revenue_share_paid_usd"] == 64.52
    assert feb["cash_revenue_share_paid_usd"] == 64.52
    assert feb["cumulative_cash_usd"] == 322.58 - 64.52 == jan["cash_net_usd"] + feb["cash_net_usd"]
    assert cents.cashflow["revenue"] == exact.cashflow["revenue"] == pytest.approx(10000 / 31)
    assert cents.settlements[0].row(cents=True)[4:8] == [64.52, 0.0, 64.52, -64.52]


# ---------------------------------------------------------------- working capital
def test_payment_terms_and_opening_balances_move_cash_not_accrual():
    # 40 days from Jan 1 (to Feb 10 00:00). 1 GPU at $1/h invoiced monthly in arrears, net 30:
    # January's 744 is due Feb 1 + 30 d = Mar 3, Feb 1-9's 216 is due Mar 1 + 30 d = Mar 31.
    # 3,100 of revenue in January (100/day) invoiced daily, net 15: day d (0 = Jan 1) is paid at
    # day d + 16. In the horizon (d + 16 < 40): d = 0..23, 2,400 (1,500 in January, 900 in Feb);
    # 700 is still receivable. Opening: 5,000 receivable collected Jan 10, 2,000 payable due Feb 20.
    cfg = econ(period="month",
               compute=[{"pool": "main", "usd_per_gpu_hour": 1.0, "terms": {"invoice": "month", "net": "30d"}}],
               revenue=[{"name": "subs", "usd_per_month": 3100.0, "until": "2025-01-31",
                         "terms": {"invoice": "day", "net": "15d"}}],
               opening=[{"name": "dec_invoices", "kind": "receivable", "usd": 5000.0, "due": "2025-01-10"},
                        {"name": "dec_power", "kind": "payable", "usd": 2000.0, "due": "2025-02-20"}])
    r = evaluate(cfg, JAN1, usage_from_rows(40 * DAY, intervals=[("main", 1, 0, 40 * DAY)]))
    assert [(x["period"], x["after_horizon"]) for x in r.statement] == [
        ("2025-01", False), ("2025-02", False), ("2025-02", True), ("2025-03", True)]
    jan, feb, feb_after, mar = r.statement
    assert jan["compute_usd"] == pytest.approx(744.0) and jan["cash_compute_usd"] == 0.0
    assert jan["cash_revenue_usd"] == pytest.approx(1500.0) and feb["cash_revenue_usd"] == pytest.approx(900.0)
    assert jan["cash_opening_usd"] == 5000.0 and feb_after["cash_opening_usd"] == -2000.0
    assert feb_after["cash_revenue_usd"] == pytest.approx(700.0)
    assert mar["cash_compute_usd"] == pytest.approx(960.0)
    cf = r.cashflow
    assert cf["net"] == pytest.approx(3100.0 - 960.0)                       # accrual: unchanged by terms
    assert cf["cash_net"] == pytest.approx(2400.0 + 5000.0) == feb["cumulative_cash_usd"]
    assert cf["receivables_end"] == pytest.approx(700.0)
    assert cf["payables_end"] == pytest.approx(960.0 + 2000.0)
    assert cf["opening_net"] == 3000.0
    assert cf["cash_net_after_all_lags"] == pytest.approx(cf["net"] + cf["opening_net"])
    assert sorted({e.cash_date for e in r.ledger if e.category == "compute"}) == [
        dt.date(2025, 3, 3), dt.date(2025, 3, 31)]


def test_without_terms_cash_moves_as_it_accrues():
    cfg = econ(gpu_hour_usd=1.0, revenue=[{"name": "subs", "usd_per_month": 3100.0}])
    r = evaluate(cfg, JAN1, usage_from_rows(31 * DAY, intervals=[("main", 1, 0, 31 * DAY)]))
    (jan,) = r.statement
    assert jan["cash_revenue_usd"] == jan["revenue_usd"] and jan["cash_compute_usd"] == jan["compute_usd"]
    assert r.cashflow["receivables_end"] == 0.0 and r.cashflow["payables_end"] == 0.0
    assert "cash_opening_usd" not in jan


# ---------------------------------------------------------------- chargeback
def _two_tenants(by: str = "tokens"):
    import dataclasses

    import numpy as np

    # 2 GPUs at $1/h for 40 days: January 1,488, Feb 1-9 432. Class a: three requests of 1,000 in +
    # 1,000 out on Jan 5 (6,000 tokens); class b: one of 2,000 in + 1,000 out (3,000 tokens).
    # API at $10 per million output tokens: a earns 0.03, b 0.01. February serves nothing.
    reqs = [(4 * DAY, 1000, 1000, -1)] * 3 + [(4 * DAY, 2000, 1000, -1)]
    u = usage_from_rows(40 * DAY, intervals=[("main", 2, 0, 40 * DAY)], requests=reqs)
    u = dataclasses.replace(u, cls=np.array([0, 0, 0, 1]), class_names=("a", "b"))
    cfg = econ(gpu_hour_usd=1.0, period="month", chargeback_by=by,
               revenue=[{"name": "api", "usd_per_million_output_tokens": 10.0}])
    return evaluate(cfg, JAN1, u)


def test_chargeback_allocates_each_periods_compute_by_tokens():
    r = _two_tenants()
    jan, feb = r.statement
    assert jan["class_a_compute_usd"] == pytest.approx(1488 * 6 / 9)
    assert jan["class_b_compute_usd"] == pytest.approx(1488 * 3 / 9)
    assert jan["class_a_revenue_usd"] == pytest.approx(0.03) and jan["class_b_revenue_usd"] == pytest.approx(0.01)
    assert jan["class_a_margin_usd"] == pytest.approx(0.03 - 992.0)
    assert jan["class_unallocated_compute_usd"] == 0.0
    assert feb["class_unallocated_compute_usd"] == pytest.approx(432.0) and feb["class_a_compute_usd"] == 0.0
    cb = r.cashflow["chargeback"]
    assert cb["by"] == "tokens" and cb["compute_cost_unallocated"] == pytest.approx(432.0)
    assert cb["classes"]["b"]["compute_cost"] == pytest.approx(496.0)
    assert cb["classes"]["a"]["work"] == 6000.0
    assert sum(c["compute_cost"] for c in cb["classes"].values()) + cb["compute_cost_unallocated"] == pytest.approx(
        r.cashflow["compute_cost"])
    assert sum(c["revenue"] for c in cb["classes"].values()) == pytest.approx(r.cashflow["revenue"])


def test_chargeback_by_requests_and_output_tokens():
    assert _two_tenants("requests").cashflow["chargeback"]["classes"]["a"]["compute_cost"] == pytest.approx(1116.0)
    assert _two_tenants("output_tokens").cashflow["chargeback"]["classes"]["b"]["compute_cost"] == pytest.approx(372.0)


# ---------------------------------------------------------------- energy
def _energy_run(**energy):
    import dataclasses

    # 2 H100s (700 W board power) for 10 hours, busy half the time: 105 + (700 - 105) x 0.5 =
    # 402.5 W per GPU at an idle of 15 % of TDP; x PUE 1.2 = 483 W; 2 x 10 h x 0.483 kW = 9.66 kWh.
    u = usage_from_rows(10 * HOUR, intervals=[("main", 2, 0, 10 * HOUR)],
                        busy_gpu_seconds={"main": 2 * 10 * HOUR * 0.5})
    u = dataclasses.replace(u, gpu_tdp_w={"main": 700.0})
    return evaluate(econ(period="day", energy={"pue": 1.2, **energy}), JAN1, u)


def test_energy_kwh_and_co2_for_any_pool_cost_only_for_owned():
    rented = _energy_run(usd_per_kwh=0.10)
    e = rented.cost["energy"]
    assert e["kwh"] == pytest.approx(9.66) and e["facility_watts_per_gpu_by_pool"]["main"] == pytest.approx(483.0)
    assert e["tco2e"] == pytest.approx(9.66 * 0.37 / 1000)
    assert rented.cashflow["energy_cost"] == 0.0 and "energy_usd" not in rented.statement[0]
    owned = _energy_run(usd_per_kwh=0.10, owned=["main"])
    assert owned.cashflow["energy_cost"] == pytest.approx(0.966)
    (day,) = owned.statement
    assert day["energy_usd"] == pytest.approx(0.966) and day["cash_energy_usd"] == pytest.approx(0.966)
    assert owned.cashflow["net"] == pytest.approx(-0.966) == day["net_usd"]


def test_energy_time_of_day_tariff_and_pool_power_override():
    # 00:00-06:00 UTC at $0.05, the other 4 hours at $0.10: 0.966 x (6 x 0.05 + 4 x 0.10) / 1.0
    r = _energy_run(usd_per_kwh=0.10, owned=["main"], tariff=[{"from_hour": 0, "to_hour": 6, "usd_per_kwh": 0.05}])
    assert r.cashflow["energy_cost"] == pytest.approx(2 * 10 * 0.483 * 0.07)
    # idle 200 W, peak 600 W: 400 W at half load, x 1.2 = 480 W
    o = _energy_run(pools={"main": {"idle_w": 200.0, "peak_w": 600.0}})
    assert o.cost["energy"]["kwh"] == pytest.approx(2 * 10 * 0.480)


# ---------------------------------------------------------------- SLO money
def _sla_run(**sla):
    import dataclasses

    import numpy as np

    from sim.economics.usage import Outcomes

    # $10 per million output tokens; 10 completed requests of 1e6 output tokens a day ($100/day).
    # Day 0: all 10 completed, 9 within the SLO (90 %). Day 1: 10 completed, 8 within the SLO, and
    # 2 rejected (1e6 output tokens requested each): 8 / 12 = 66.7 %.
    reqs = [(d * DAY + 100 + k, 0, 1_000_000, -1) for d in (0, 1) for k in range(10)]
    u = usage_from_rows(2 * DAY, requests=reqs)
    t = np.array([r[0] for r in reqs] + [DAY + 200.0, DAY + 300.0])
    status = np.array([1] * 20 + [2, 2])
    met = np.array([True] * 9 + [False] + [True] * 8 + [False] * 2 + [False, False])
    out = Outcomes(t, status, met, np.zeros(22, dtype=np.int64), np.full(22, 1_000_000), np.full(22, -1),
                   np.ones(22))
    u = dataclasses.replace(u, outcomes=out)
    line = {"name": "api", "usd_per_million_output_tokens": 10.0, **({"sla": sla} if sla else {})}
    return evaluate(econ(period="day", revenue=[line]), JAN1, u)


def test_sla_credit_when_a_periods_attainment_falls_below_the_contract():
    r = _sla_run(attainment=0.9, credit_pct=0.1)
    day0, day1 = r.statement
    assert day0["sla_credits_usd"] == 0.0                      # 90 % is not below 90 %
    assert day1["sla_credits_usd"] == pytest.approx(10.0)       # 10 % of day 1's $100
    assert day1["cash_sla_credits_usd"] == pytest.approx(10.0)
    assert r.cashflow["sla_credits"] == pytest.approx(10.0)
    assert r.cashflow["net"] == pytest.approx(200.0 - 10.0)
    assert [(p["period"], round(p["attainment"], 6), p["credit_usd"]) for p in r.cashflow["sla_periods"]] == [
        ("2025-01-01", 0.9, 0.0), ("2025-01-02", round(8 / 12, 6), pytest.approx(10.0))]


def test_revenue_lost_prices_rejected_requests_and_no_sla_means_no_credit_columns():
    r = _sla_run()
    assert r.cashflow["revenue_lost"] == pytest.approx(20.0) and r.cashflow["requests_lost"] == 2.0
    assert r.cashflow["revenue_lost_by_line"] == {"api": pytest.approx(20.0)}
    assert r.cashflow["sla_credits"] == 0.0 and "sla_credits_usd" not in r.statement[0]
    bare = evaluate(econ(revenue=[{"name": "api", "usd_per_million_output_tokens": 10.0,
                                   "sla": {"attainment": 0.9, "credit_pct": 0.1}}]), JAN1, usage_from_rows(DAY))
    assert bare.cashflow["revenue_lost"] is None and any("SLA credits not computed" in n for n in bare.notes)
