"""A committed compute spend (a cloud commit, take-or-pay), worked out by hand.

In each commit period the compute billed for the commit's pool (every pool when it names none) is
compared with ``commit_usd`` prorated by the share of the period inside the run; a shortfall is
billed too, as a ``compute_commit`` ledger entry in the period's last month inside the run, paid at
the period's end plus ``payment_lag``. Every expected number is plain arithmetic from the prices
and the calendar, compared with what ``fleetsim run`` and ``fleetsim reprice`` write.
"""
from __future__ import annotations

import json

import pytest

from sim.cli import main
from money_files import assert_repriced_as_fresh, scenario, write_scenario as _write, run as _run, rows as _rows, col as _col


# From 2025-01-01 for 120 days (Jan 31, Feb 28, Mar 31, Apr 30 days; the run ends May 1 00:00), one GPU
# in each of two pools held the whole time: main at $1/hour, aux at $0.50/hour.
COMMITS = {"period": "month",
           "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}, {"pool": "aux", "usd_per_gpu_hour": 0.5}],
           "commits": [{"name": "main_commit", "pool": "main", "commit_usd": 730, "period": "month"},
                       {"name": "fleet_commit", "commit_usd": 3300, "period": "quarter", "payment_lag": "15d"}]}


def _scenario(economics: dict) -> dict:
    return scenario("commit", economics, duration="120d", pools=("main", "aux"))


def test_a_monthly_pool_commit_and_a_quarterly_fleet_commit_bill_their_shortfalls(tmp_path):
    """main bills 24 x days dollars a month: 744, 672, 744, 720. Against $730 a month, February is $58
    short and April $10. Both pools bill 36 x days: Q1 (90 days) 3,240 against $3,300, $60 short; Q2 is
    cut to 30 of its 91 days: 3,300 x 30/91 = 1,087.91.. against April's 1,080, $7.91.. short."""
    out = _run(tmp_path, _scenario(COMMITS))
    q2_commit = 3300 * 30 / 91
    q2_short = q2_commit - 30 * 36
    assert q2_short == pytest.approx(7.9121, abs=1e-4)
    ledger = [e for e in _rows(out, "ledger.csv") if e["category"] == "compute_commit"]
    assert [(e["line"], e["accrual_date"], e["cash_date"]) for e in ledger] == [
        ("main_commit", "2025-02-01", "2025-03-01"), ("fleet_commit", "2025-03-01", "2025-04-16"),
        ("fleet_commit", "2025-04-01", "2025-07-16"), ("main_commit", "2025-04-01", "2025-05-01")]
    assert _col(ledger, "amount_usd") == pytest.approx([-58, -60, -q2_short, -10], abs=1e-6)

    rows = _rows(out, "cashflow.csv")
    assert [(r["period"], r["after_horizon"]) for r in rows] == [
        ("2025-01", "False"), ("2025-02", "False"), ("2025-03", "False"), ("2025-04", "False"),
        ("2025-05", "True"), ("2025-07", "True")]
    compute = [36 * d for d in (31, 28, 31, 30)]
    assert _col(rows, "compute_usd") == pytest.approx([*compute, 0, 0], abs=1e-6)
    short = [0, 58, 60, 10 + q2_short, 0, 0]
    assert _col(rows, "compute_commit_shortfall_usd") == pytest.approx(short, abs=1e-6)
    assert _col(rows, "net_usd") == pytest.approx([-c - s for c, s in zip([*compute, 0, 0], short)], abs=1e-6)
    cash_short = [0, 0, 58, 60, 10, q2_short]                  # Mar 1, Apr 16, May 1 and Jul 16
    assert _col(rows, "cash_compute_commit_shortfall_usd") == pytest.approx(cash_short, abs=1e-6)
    assert _col(rows, "cash_net_usd") == pytest.approx(
        [-c - s for c, s in zip([*compute, 0, 0], cash_short)], abs=1e-6)

    s = json.loads((out / "summary.json").read_text())
    cf, cost = s["cashflow"], s["cost"]
    total_short = 58 + 60 + 10 + q2_short
    assert cf["compute_cost"] == pytest.approx(120 * 36, rel=1e-12)      # the billed compute, as before
    assert cf["compute_commit_shortfall"] == pytest.approx(total_short, rel=1e-12)
    assert cost["compute_commit_shortfall_usd"] == pytest.approx(total_short, rel=1e-12)
    assert cf["net"] == pytest.approx(-120 * 36 - total_short, rel=1e-12)
    assert cf["cash_net"] == pytest.approx(-120 * 36 - 58 - 60, rel=1e-12)
    assert cf["payables_end"] == pytest.approx(10 + q2_short, rel=1e-12)
    assert cf["cash_net_after_all_lags"] == pytest.approx(cf["net"], rel=1e-12)


def test_a_commit_the_compute_meets_bills_nothing_and_windows_prorate(tmp_path):
    """main's commit of $700 a month from Feb 10 to Mar 31: February's window holds 19 of 28 days,
    700 x 19/28 = 475 against main's 24 x 19 = 456 billed in it: $19 short; March bills 744 >= 700."""
    econ = {"compute": COMMITS["compute"],
            "commits": [{"pool": "main", "commit_usd": 700, "from": "2025-02-10", "until": "2025-03-31"}]}
    out = _run(tmp_path, _scenario(econ))
    ledger = [e for e in _rows(out, "ledger.csv") if e["category"] == "compute_commit"]
    assert [(e["line"], e["accrual_date"], e["cash_date"]) for e in ledger] == [
        ("compute_commit", "2025-02-10", "2025-03-01")]
    assert float(ledger[0]["amount_usd"]) == pytest.approx(-(700 * 19 / 28 - 24 * 19), abs=1e-6) == -19
    # no commit at all: no commit columns, the shortfall keys are zero
    plain = _run(tmp_path, _scenario({"compute": COMMITS["compute"]}), "plain")
    assert "compute_commit_shortfall_usd" not in _rows(plain, "cashflow.csv")[0]
    assert json.loads((plain / "summary.json").read_text())["cashflow"]["compute_commit_shortfall"] == 0.0


def test_a_repriced_commit_is_a_fresh_runs_money_and_bad_commits_are_refused(tmp_path, capsys):
    base = _run(tmp_path, _scenario({"period": "month", "compute": COMMITS["compute"]}), "base")
    fresh = _run(tmp_path, _scenario(COMMITS), "fresh")
    sets = ["economics.commits=[{name: main_commit, pool: main, commit_usd: 730}, {name: fleet_commit, "
            "commit_usd: 3300, period: quarter, payment_lag: 15d}]"]
    assert_repriced_as_fresh(tmp_path, base, fresh, sets)

    path = _write(tmp_path, _scenario(COMMITS), "bad")
    for sets, words in (
            (["economics.commits.0.commit_usd=-5"], "economics.commits.0.commit_usd: must be >= 0 (got -5"),
            (["economics.commits.0.period=week"],
             "economics.commits.0.period: must be one of 'month', 'quarter' or 'year' (got 'week')"),
            (["economics.commits.0.pool=nope"], "economics.commits.0.pool: unknown pool 'nope' (pools: main, aux)"),
            (["economics.commits.1.payment_lag=-1d"], "economics.commits.1.payment_lag: must be >= 0"),
            (["economics.commits.1.payment_lag=1e15"],
             "economics.commits.1.payment_lag: moves cash after the year 9000"),
            (["economics.commits.0.commit=5"], "economics.commits.0.commit: unknown key 'commit' (did you mean commit_usd?); allowed: "
                                               "commit_usd, from, name, payment_lag, period, pool, until")):
        capsys.readouterr()
        assert main(["run", str(path), *[a for s in sets for a in ("--set", s)],
                     "--out", str(tmp_path / "bad_out"), "--quiet"]) == 2
        assert f"{path}: {words}" in capsys.readouterr().err
    # re-pricing refuses what a run refuses, naming the field (it was an OverflowError's one line)
    for field in ("economics.commits.1.payment_lag", "economics.agreements.0.payment_lag"):
        extra = ["--set", "economics.revenue=[{name: s, usd_per_month: 1}]",
                 "--set", "economics.agreements=[{rate: 0.1, base: [s]}]"] if "agreements" in field else []
        capsys.readouterr()
        assert main(["reprice", str(fresh), *extra, "--set", f"{field}=1e15", "--quiet"]) == 2
        assert f"{fresh}: {field}: moves cash after the year 9000" in capsys.readouterr().err
