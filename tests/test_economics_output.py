"""The result's files and table: CSV rows match the statement, writes are atomic, PNG is a PNG."""
from __future__ import annotations

import csv
import datetime as dt

import pytest

from sim.economics import evaluate, parse_economics
from sim.economics.synthetic import usage_from_rows

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
    paths = r.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cashflow.csv", "cashflow.png", "ledger.csv",
                                                           "usage.npz"]
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
    assert "2025-02 (partial)" in text and "2025-05 (after horizon" in text
