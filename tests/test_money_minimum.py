"""A minimum guarantee on a revenue-share agreement (take-or-pay), worked out by hand.

The payer owes max(forward share, minimum) each settlement period; the minimum is prorated by the
share of the period's seconds inside the run and the agreement's window; the true-up is its own
ledger line (``<agreement>:minimum``) booked in the period's last month inside the run, counts
toward the cap, and is netted with the reverse share into the one settlement payment. Every
expected number below is plain arithmetic from the terms and the calendar, compared with what
``fleetsim run`` and ``fleetsim reprice`` write.
"""
from __future__ import annotations

import json

import pytest

from sim.cli import main
from money_files import assert_repriced_as_fresh, scenario, write_scenario as _write, run as _run, rows as _rows, col as _col


# From 2025-01-01 for 120 days: Jan 31 + Feb 28 + Mar 31 + Apr 30 = 120, the run ends 2025-05-01 00:00.
# Q1 has 90 days, all inside; Q2 has 91 days (Apr 30, May 31, Jun 30), 30 of them inside.
DEAL = {"period": "month", "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
        "revenue": [{"name": "subs", "usd_per_month": 3000}, {"name": "resale", "owner": "partner",
                                                              "usd_per_month": 1000}],
        "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "reverse": {"rate": 0.05, "base": ["resale"]},
                        "settle": "quarter", "payment_lag": "10d", "minimum_usd": 1200}]}


def _scenario(economics: dict) -> dict:
    return scenario("minimum", economics, duration="120d")


def test_the_payer_tops_up_to_the_minimum_each_quarter_prorated_and_netted_with_the_reverse_share(tmp_path):
    """10 % of $3,000 a month is $900 in Q1, below the $1,200 minimum: a $300 true-up. Q2 is cut to 30
    of its 91 days: forward $300 (April), minimum 1200 x 30/91 = $395.60.., true-up $95.60... The
    partner's 5 % of $1,000 a month comes back: $150 and $50. Settled 10 days after each quarter:
    Q1's 900 + 300 - 150 = $1,050 on Apr 11 (inside the run), Q2's on Jul 11 (after it)."""
    out = _run(tmp_path, _scenario(DEAL))
    q2_min = 1200 * 30 / 91
    q2_short = q2_min - 300
    assert q2_short == pytest.approx(95.6044, abs=1e-4)
    sett = _rows(out, "settlements.csv")
    assert list(sett[0])[-2:] == ["minimum_usd", "shortfall_usd"]
    assert [(s["period"], s["cash_date"], s["cash_direction"], s["capped"]) for s in sett] == [
        ("2025-Q1", "2025-04-11", "provider pays", "False"), ("2025-Q2", "2025-07-11", "provider pays", "False")]
    assert _col(sett, "forward_usd") == pytest.approx([900, 300], abs=1e-6)
    assert _col(sett, "reverse_usd") == pytest.approx([150, 50], abs=1e-6)
    assert _col(sett, "minimum_usd") == pytest.approx([1200, q2_min], abs=1e-6)
    assert _col(sett, "shortfall_usd") == pytest.approx([300, q2_short], abs=1e-6)
    q1_net, q2_net = 900 + 300 - 150, 300 + q2_short - 50
    assert _col(sett, "net_usd") == pytest.approx([q1_net, q2_net], abs=1e-6)
    assert _col(sett, "provider_net_usd") == pytest.approx([-q1_net, -q2_net], abs=1e-6)

    # the true-up is its own ledger line, in the quarter's last month inside the run (March; April for Q2)
    ledger = [e for e in _rows(out, "ledger.csv") if e["line"] == "deal:minimum"]
    assert [(e["category"], e["accrual_date"], e["cash_date"]) for e in ledger] == [
        ("revenue_share_paid", "2025-03-01", "2025-04-11"), ("revenue_share_paid", "2025-04-01", "2025-07-11")]
    assert _col(ledger, "amount_usd") == pytest.approx([-300, -q2_short], abs=1e-6)

    rows = _rows(out, "cashflow.csv")
    assert [(r["period"], r["after_horizon"]) for r in rows] == [
        ("2025-01", "False"), ("2025-02", "False"), ("2025-03", "False"), ("2025-04", "False"),
        ("2025-07", "True")]
    assert _col(rows, "revenue_share_paid_usd") == pytest.approx([300, 300, 600, 300 + q2_short, 0], abs=1e-6)
    assert _col(rows, "revenue_share_received_usd") == pytest.approx([50, 50, 50, 50, 0], abs=1e-6)
    # one netted payment per settlement: Q1's in April, Q2's after the run
    assert _col(rows, "cash_revenue_share_paid_usd") == pytest.approx([0, 0, 0, q1_net, q2_net], abs=1e-6)
    assert _col(rows, "cash_revenue_share_received_usd") == [0] * 5

    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    compute = 120 * 24 * 1.0
    assert cf["revenue"] == pytest.approx(12000, rel=1e-12) and cf["compute_cost"] == pytest.approx(compute)
    assert cf["revenue_share_paid"] == pytest.approx(1200 + 300 + q2_short, rel=1e-12)
    assert cf["revenue_share_shortfall_paid"] == pytest.approx(300 + q2_short, rel=1e-12)
    assert cf["revenue_share_shortfall_received"] == 0.0
    assert cf["revenue_share_received"] == pytest.approx(200, rel=1e-12)
    assert cf["net"] == pytest.approx(12000 - compute - (1500 + q2_short) + 200, rel=1e-12)
    assert cf["cash_net"] == pytest.approx(12000 - compute - q1_net, rel=1e-12)
    assert cf["revenue_share_outstanding"] == pytest.approx(-q2_net, rel=1e-12)


def test_the_true_up_counts_toward_the_cap_and_a_partner_paid_minimum_is_received(tmp_path):
    """With a $1,400 lifetime cap, Q1 pays 900 forward + 300 true-up = 1,200; April's forward stops at
    the $200 left, and Q2's true-up (95.60.. owed) finds nothing left: capped. Without the true-up
    counting, April would have paid its whole $300. A second agreement: the partner pays 20 % of its
    $1,000 a month, at least $250 a month, settled monthly with no lag: $50 received each month."""
    econ = json.loads(json.dumps(DEAL))
    ag = econ["agreements"][0]
    ag.update(cap_usd=1400)
    del ag["reverse"]
    econ["agreements"].append({"name": "resale_share", "payer": "partner", "payee": "provider", "rate": 0.2,
                               "base": ["resale"], "settle": "month", "minimum_usd": 250})
    out = _run(tmp_path, _scenario(econ))
    sett = _rows(out, "settlements.csv")
    deal = [s for s in sett if s["agreement"] == "deal"]
    assert [(s["period"], s["capped"]) for s in deal] == [("2025-Q1", "False"), ("2025-Q2", "True")]
    assert _col(deal, "forward_usd") == pytest.approx([900, 200], abs=1e-6)
    assert _col(deal, "shortfall_usd") == pytest.approx([300, 0], abs=1e-6)
    resale = [s for s in sett if s["agreement"] == "resale_share"]
    assert [(s["period"], s["cash_date"], s["cash_direction"]) for s in resale] == [
        ("2025-01", "2025-02-01", "partner pays"), ("2025-02", "2025-03-01", "partner pays"),
        ("2025-03", "2025-04-01", "partner pays"), ("2025-04", "2025-05-01", "partner pays")]
    assert _col(resale, "forward_usd") == pytest.approx([200] * 4, abs=1e-6)
    assert _col(resale, "minimum_usd") == pytest.approx([250] * 4, abs=1e-6)
    assert _col(resale, "provider_net_usd") == pytest.approx([250] * 4, abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["revenue_share_paid"] == pytest.approx(1400, rel=1e-12)
    assert cf["revenue_share_shortfall_paid"] == pytest.approx(300, rel=1e-12)
    assert cf["revenue_share_received"] == pytest.approx(1000, rel=1e-12)
    assert cf["revenue_share_shortfall_received"] == pytest.approx(200, rel=1e-12)
    # April's $250 lands at the horizon's end (May 1 00:00): owed, not yet cash
    assert cf["revenue_share_outstanding"] == pytest.approx(250 - 200, rel=1e-12)   # + April's 250 - Q2's 200


def test_a_repriced_minimum_is_a_fresh_runs_money_and_bad_minimums_are_refused(tmp_path, capsys):
    econ = json.loads(json.dumps(DEAL))
    del econ["agreements"][0]["minimum_usd"]
    base = _run(tmp_path, _scenario(econ), "base")
    assert list(_rows(base, "settlements.csv")[0])[-1] == "capped"       # no minimum: the columns as before
    fresh = _run(tmp_path, _scenario(DEAL), "fresh")
    assert_repriced_as_fresh(tmp_path, base, fresh, ["economics.agreements.0.minimum_usd=1200"])

    path = _write(tmp_path, _scenario(DEAL), "bad")
    for value, words in (("-1", "economics.agreements.0.minimum_usd: must be >= 0 (got -1"),
                         ("lots", "economics.agreements.0.minimum_usd:"),
                         ("inf", "economics.agreements.0.minimum_usd:")):
        capsys.readouterr()
        assert main(["run", str(path), "--set", f"economics.agreements.0.minimum_usd={value}",
                     "--out", str(tmp_path / "bad_out"), "--quiet"]) == 2
        assert f"{path}: {words}" in capsys.readouterr().err
    # the true-up's ledger line is <agreement>:minimum, so no agreement may be named like one
    capsys.readouterr()
    assert main(["run", str(path), "--set", "economics.agreements.0.name=deal:minimum",
                 "--out", str(tmp_path / "bad_out"), "--quiet"]) == 2
    assert (f"{path}: economics.agreements.0.name: must not end in ':minimum': the ledger names a minimum "
            "guarantee's true-up <agreement>:minimum (got 'deal:minimum')") in capsys.readouterr().err
