"""A second look at the money fixes: the cents split among tenants and where a period's service
credit is paid when the run ends before the period does.

Expected numbers are worked by hand in each test (quotas of a split, calendar arithmetic for due
dates), or, for the many-tenant check, are properties of the largest-remainder rule itself
(the shares add up, each is within a cent of its exact quota, a zero amount gets nothing),
checked with exact fractions independently of the code's float path.
"""
from __future__ import annotations

import csv
import gzip
import json
import random
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.economics.statement import _allot_cents, round_to_cents


# ------------------------------------------------------------------ the tenants' cents
def test_a_tenant_with_no_usage_is_never_charged_a_cent_of_the_rounding():
    """Three tiers of 1.005, 1.005 and 0.99 round to 1.01 + 1.01 + 0.99 = 3.01, a cent over their
    exact 3.00. Tenant a used a third, b two thirds, c nothing (listed first). The 3.01 is split
    by the quotas 3.01/3 = 1.00333 and 2.00667: 1.00 and 2.01 (b has the larger remainder); c,
    with no usage, gets 0.00 -- not the stray cent of the tiers' rounding."""
    row = {"revenue_usd": 0.0, "compute_usd": 3.0, "compute_reserved_usd": 1.005, "compute_spot_usd": 1.005,
           "compute_on_demand_usd": 0.99, "class_c_revenue_usd": 0.0, "class_c_compute_usd": 0.0,
           "class_c_margin_usd": 0.0, "class_a_revenue_usd": 0.0, "class_a_compute_usd": 1.0,
           "class_a_margin_usd": -1.0, "class_b_revenue_usd": 0.0, "class_b_compute_usd": 2.0,
           "class_b_margin_usd": -2.0, "class_unallocated_compute_usd": 0.0, "net_usd": -3.0,
           "cash_net_usd": 0.0, "cumulative_cash_usd": 0.0}
    round_to_cents([row], (), ("reserved", "spot", "on_demand"))
    assert row["compute_usd"] == 3.01
    assert (row["class_c_compute_usd"], row["class_a_compute_usd"], row["class_b_compute_usd"]) == (0.0, 1.0, 2.01)
    assert row["class_unallocated_compute_usd"] == 0.0
    assert (row["class_c_margin_usd"], row["class_b_margin_usd"]) == (0.0, -2.01)


def test_a_refund_splits_as_the_mirror_of_the_charge():
    """$8.00 among three equal shares is 2.67, 2.67, 2.66 (a tie: the first listed first); -$8.00
    is -2.67, -2.67, -2.66, not a different tenant carrying the odd cent because of the sign."""
    thirds = {"a": 8 / 3, "b": 8 / 3, "c": 8 / 3}
    assert _allot_cents(thirds, 8.0) == {"a": 2.67, "b": 2.67, "c": 2.66}
    assert _allot_cents({k: -v for k, v in thirds.items()}, -8.0) == {"a": -2.67, "b": -2.67, "c": -2.66}


def test_whole_cents_stay_put_and_seven_sevenths_of_a_dollar_add_up():
    """Amounts already in whole cents that add up to the total are left as they are; $1 among
    seven equal tenants is 14 2/7 cents each: 14 cents each (98) and the 2 cents left to the first
    two of the tie."""
    assert _allot_cents({"a": 0.1, "b": 0.2, "c": 1234567.89, "d": 0.0}, 1234568.19) == {
        "a": 0.1, "b": 0.2, "c": 1234567.89, "d": 0.0}
    assert list(_allot_cents({str(i): 1 / 7 for i in range(7)}, 1.0).values()) == [0.15, 0.15] + [0.14] * 5


def test_amounts_of_both_signs_or_a_total_over_nothing_are_refused():
    with pytest.raises(ValueError, match="one sign"):
        _allot_cents({"a": 1.0, "b": -0.5}, 0.5)
    with pytest.raises(ValueError, match="all zero"):
        _allot_cents({"a": 0.0}, 0.01)
    assert _allot_cents({"a": 0.0, "b": 0.0}, 0.0) == {"a": 0.0, "b": 0.0}


def test_many_tenants_the_largest_remainder_properties_hold():
    """Random splits (up to 40 tenants, some idle, totals a few cents off the amounts' sum as a
    total footed from rounded tiers is): the cents add up to the total, each share is within one
    cent of its exact quota, an idle tenant gets nothing, and the sign of the total is kept."""
    rng = random.Random(16)
    for _ in range(400):
        n = rng.randint(1, 40)
        exact = {f"t{i}": (0.0 if rng.random() < 0.2 else rng.uniform(0, 10 ** rng.randint(-2, 9))) for i in range(n)}
        if not any(exact.values()):
            exact["t0"] = 1.0
        sign = rng.choice((1, -1))
        exact = {k: sign * v for k, v in exact.items()}
        whole = sum(Fraction(repr(v)) for v in exact.values())
        total_cents = round(whole * 100) + sign * rng.randint(0, 3)
        got = _allot_cents(exact, total_cents / 100)
        got_cents = {k: round(Fraction(repr(v)) * 100) for k, v in got.items()}
        assert sum(got_cents.values()) == total_cents
        for k, v in exact.items():
            quota = Fraction(total_cents) * Fraction(repr(v)) / whole
            assert abs(got_cents[k] - quota) < 1
            if v == 0:
                assert got_cents[k] == 0


# ------------------------------------------------------------------ a quarter's credit when the run ends mid-quarter
TOKENS = {"prompt_tokens": {"dist": "fixed", "value": 1000}, "output_tokens": {"dist": "fixed", "value": 100}}


def _sla_run(tmp_path: Path, period: str, invoice: str, start: str = "2024-01-30", duration: str = "3d",
             credit_pct: float = 0.1, net: str = "30d") -> tuple[float, Path]:
    """From ``start`` (2024-01-30 for 3 days, ends Feb 2), one GPU; 18 requests at t = 0 of which the
    ones with 3,000 prompt tokens are rejected (2,048 context), so attainment misses the line's 99 %
    and ``credit_pct`` of the revenue is credited. All requests finish on the first day. Returns the
    revenue and the folder."""
    classes = [{"name": "ok", "arrival": {"process": "burst", "count": 10, "at": 0}, **TOKENS},
               {"name": "long", "arrival": {"process": "burst", "count": 8, "at": 0},
                "prompt_tokens": {"dist": "empirical", "values": [1500, 3000], "weights": [1, 1]},
                "output_tokens": {"dist": "fixed", "value": 100}}]
    api = {"name": "api", "usd_per_million_input_tokens": 1.5, "usd_per_million_output_tokens": 6.0,
           "usd_per_request": 0.01, "sla": {"attainment": 0.99, "credit_pct": credit_pct},
           "terms": {"invoice": invoice, "net": net}}
    sc = {"name": "review", "seed": 3, "start": start, "duration": duration, "warmup": 0, "model": "llama-3-8b",
          "workload": {"classes": classes},
          "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1, "tensor_parallel": 1,
                               "max_model_len": 2048}]},
          "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "metrics": {"interval": "1d"},
          "economics": {"period": period, "compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}],
                        "revenue": [api]}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--figures", "none"]) == 0
    with gzip.open(out / "requests.csv.gz", "rt", newline="") as fh:
        done = [r for r in csv.DictReader(fh) if r["status"] == "completed"]
    assert 10 < len(done) < 18
    return sum((int(r["prompt_tokens"]) * 1.5 + int(r["output_tokens"]) * 6.0) / 1e6 + 0.01 for r in done), out


def _termed(out: Path) -> list[tuple[str, str]]:
    with open(out / "ledger.csv", newline="") as fh:
        return [(e["category"], e["cash_date"]) for e in csv.DictReader(fh) if e["category"] in ("revenue", "sla_credit")]


def test_a_quarters_credit_in_a_run_that_ends_in_the_quarters_second_month_waits_for_the_quarter(tmp_path):
    """Quarterly statement and SLA, the line invoiced monthly, net 30; the run ends on Feb 2,
    mid-quarter. January's invoice is due Feb 1 + 30 d = Mar 2. The quarter's credit is known when
    the quarter ends, so it is on March's invoice, due Apr 1 + 30 d = May 1 -- not on February's
    (due Mar 1 + 30 d = Mar 31), which the run's end happens to fall in."""
    revenue, out = _sla_run(tmp_path, "quarter", "month")
    assert _termed(out) == [("revenue", "2024-03-02"), ("sla_credit", "2024-05-01")]
    with open(out / "cashflow.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["period"], r["after_horizon"]) for r in rows] == [
        ("2024-Q1", "False"), ("2024-Q1", "True"), ("2024-Q2", "True")]
    assert [float(r["cash_sla_credits_usd"]) for r in rows] == pytest.approx([0, 0, 0.1 * revenue], abs=1e-9)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["sla_credits"] == pytest.approx(0.1 * revenue, rel=1e-12)
    # both still to come, on two invoices: January's bills the revenue, March's (no revenue inside the run) only
    # credits, so the credit is owed to the customer, not netted into January's invoice
    assert cf["receivables_end"] == pytest.approx(revenue, rel=1e-12)
    assert cf["payables_end"] == pytest.approx(0.1 * revenue, rel=1e-12)
    assert cf["cash_net_after_all_lags"] - cf["cash_net"] == pytest.approx(
        cf["receivables_end"] - cf["payables_end"] + cf["revenue_share_outstanding"], rel=1e-12)


def test_a_months_credit_invoiced_quarterly_is_on_the_same_invoice_as_its_revenue(tmp_path):
    """Monthly statement and SLA, the line invoiced quarterly, net 30: January's revenue and
    January's credit are both on the Q1 invoice, due Apr 1 + 30 d = May 1; February has no
    requests, so no credit."""
    revenue, out = _sla_run(tmp_path, "month", "quarter")
    assert _termed(out) == [("revenue", "2024-05-01"), ("sla_credit", "2024-05-01")]
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert [(p["period"], p["credit_usd"]) for p in cf["sla_periods"]] == [("2024-01", pytest.approx(0.1 * revenue))]
    assert cf["receivables_end"] == pytest.approx(0.9 * revenue, rel=1e-12)


def test_a_credit_larger_than_the_invoice_it_sits_on_is_owed_to_the_customer_not_a_negative_receivable(tmp_path):
    """The whole of Q1 2024 (91 days to Apr 1), quarterly SLA at a 50 % credit, invoiced monthly, net
    0. All the revenue is January's, collected Feb 1 inside the run; the quarter's credit is on
    March's invoice, due Apr 1 = the horizon, which bills nothing. At the end the provider is owed
    nothing and owes the customer half the revenue: receivables 0, payables 0.5 x revenue (not
    receivables of -0.5 x revenue); the cash still to move is the same either way."""
    revenue, out = _sla_run(tmp_path, "quarter", "month", start="2024-01-01", duration="91d", credit_pct=0.5,
                            net="0d")
    assert _termed(out) == [("revenue", "2024-02-01"), ("sla_credit", "2024-04-01")]
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["cash_net"] == pytest.approx(revenue - 91 * 24 * 2.0, rel=1e-12)     # compute: $2 an hour, as accrued
    assert (cf["receivables_end"], cf["payables_end"]) == (0.0, pytest.approx(0.5 * revenue, rel=1e-12))
    assert cf["cash_net_after_all_lags"] - cf["cash_net"] == pytest.approx(
        cf["receivables_end"] - cf["payables_end"] + cf["revenue_share_outstanding"], rel=1e-12)


# ------------------------------------------------------------------ a cap already used up
def test_a_cap_used_up_before_the_run_pays_nothing_forward_but_the_reverse_share_still_settles(tmp_path):
    """A $1,000 lifetime cap of which all $1,000 was paid before the run (2027-01-01, 90 days): the
    20 % forward share of $310 a month pays nothing, and every settlement period with a forward
    amount cut is flagged capped. The uncapped reverse share, half of the partner's $100 a month,
    still comes back: $150 for the quarter, so the provider's net is 3 x 310 + 150 = $1,080."""
    econ = {"compute": [{"pool": "main", "usd_per_gpu_hour": 0.0}],
            "revenue": [{"name": "subs", "usd_per_month": 310}, {"name": "p", "owner": "partner", "usd_per_month": 100}],
            "agreements": [{"rate": 0.2, "base": ["subs"], "cap_usd": 1000, "cap_used_usd": 1000,
                            "reverse": {"rate": 0.5, "base": ["p"]}}]}
    sc = {"name": "review", "seed": 3, "start": "2027-01-01", "duration": "90d", "warmup": 0, "model": "llama-3-8b",
          "workload": {"arrival": {"process": "burst", "count": 1, "at": 1e9}, **TOKENS},
          "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1, "tensor_parallel": 1}]},
          "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "metrics": {"interval": "1h"}, "economics": econ}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--figures", "none"]) == 0
    with open(out / "settlements.csv", newline="") as fh:
        (q1,) = list(csv.DictReader(fh))
    assert (q1["period"], float(q1["forward_usd"]), float(q1["reverse_usd"]), q1["capped"]) == (
        "2027-Q1", 0.0, pytest.approx(150.0, rel=1e-12), "True")
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert (cf["revenue_share_paid"], cf["revenue_share_received"]) == (0.0, pytest.approx(150.0, rel=1e-12))
    assert cf["net"] == pytest.approx(3 * 310 + 150, rel=1e-12)
