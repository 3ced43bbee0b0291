"""The result's files and table: CSV rows match the statement, writes are atomic, PNG is a PNG."""
from __future__ import annotations

import csv
import datetime as dt

import pytest

from sim.economics import evaluate, parse_economics
from sim.economics.synthetic import usage_from_rows
from sim.report.cashflow import write_cashflow_png

DAY = 86400.0


def _result():
    cfg = parse_economics({
        "gpu_hour_usd": 2.0, "period": "month",
        "revenue": [{"name": "api", "usd_per_million_output_tokens": 10.0},
                    {"name": "subs", "usd_per_month": 3.0e4}],
        "agreements": [{"rate": 0.2, "base": ["api", "subs"], "settle": "quarter", "payment_lag": "30d"}]})
    reqs = [(i * DAY + 100, 500, 100_000, -1) for i in range(40)]
    u = usage_from_rows(40 * DAY, intervals=[("main", 2, 0, 40 * DAY)], requests=reqs)
    return evaluate(cfg, dt.date(2025, 1, 1), u)


def test_write_produces_csv_ledger_and_png_atomically(tmp_path):
    r = _result()
    paths = r.write(tmp_path) + [write_cashflow_png(r, tmp_path)]    # the chart is drawn by the report layer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cashflow.csv", "cashflow.png", "ledger.csv",
                                                           "settlements.csv", "usage.npz"]
    assert paths[-1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "cashflow.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [x["period"] for x in rows] == [x["period"] for x in r.statement] == ["2025-01", "2025-02", "2025-05"]
    assert rows[1]["partial"] == "True" and rows[2]["after_horizon"] == "True"
    assert sum(float(x["cash_net_usd"]) for x in rows) == pytest.approx(r.cashflow["net"], abs=1e-3)
    with open(tmp_path / "ledger.csv") as fh:
        ledger = list(csv.DictReader(fh))
    assert len(ledger) == len(r.ledger)
    assert sum(float(x["amount_usd"]) for x in ledger) == pytest.approx(r.cashflow["net"], abs=1e-3)


def test_ledger_columns_and_table_text():
    r = _result()
    cols = r.ledger_columns()
    assert set(cols) >= {"category", "line", "amount_usd", "accrual_date", "cash_date"}
    shares = [c for c, cash in zip(cols["category"], cols["cash_date"]) if c == "revenue_share_paid"]
    assert shares and all(d == dt.date(2025, 5, 1)
                          for c, d in zip(cols["category"], cols["cash_date"]) if c == "revenue_share_paid")
    text = r.format_table()
    lines = text.splitlines()
    assert [line.split("  ")[0].rstrip() for line in lines[3:]] == [
        "2025-01", "2025-02 (partial)", "after the end †", "2025-05",
        "† after the horizon: only the cash that lands then (lagged settlements and invoices)"]
    period = lines[1].split("  ")[0]      # the period column as wide as its longest period's label
    assert len(period.rstrip()) == len("period") and len(lines[2].split("  ")[0]) == len("2025-02 (partial)")
    assert lines[6].split() == ["2025-05", *lines[6].split()[-2:]]     # only cash after the end: no accrual amounts


def test_the_money_layer_writes_no_chart(tmp_path):
    """The chart is the report layer's: ``write`` leaves no PNG, and asking it for one says where it is."""
    r = _result()
    r.write(tmp_path)
    assert not list(tmp_path.glob("*.png"))
    with pytest.raises(ValueError, match="write_cashflow_png"):
        r.write(tmp_path, figure=True)


def test_settlements_csv_one_row_per_agreement_period(tmp_path):
    # 40 days from Jan 1 on 2 GPUs; every day one request of 100,000 output tokens at $10/M = $1/day
    # (40 days), plus 30,000/month of subscriptions (January and 9 days of February: 30,000 +
    # 30,000 x 9/28). Q1 settles Apr 1 + 30 days = May 1: the provider pays 20 % of it all.
    r = _result()
    r.write(tmp_path, figure=False)
    with open(tmp_path / "settlements.csv") as fh:
        (row,) = list(csv.DictReader(fh))
    forward = 0.2 * (40 * 1.0 + 30_000 + 30_000 * 9 / 28)
    assert row["agreement"] == "revenue_share" and row["period"] == "2025-Q1"
    assert (row["period_start"], row["period_end"], row["cash_date"]) == ("2025-01-01", "2025-04-01", "2025-05-01")
    assert float(row["forward_usd"]) == pytest.approx(forward, abs=1e-6)
    assert float(row["provider_net_usd"]) == pytest.approx(-forward, abs=1e-6)
    assert row["cash_direction"] == "provider pays" and row["capped"] == "False"
