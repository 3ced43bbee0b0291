"""A revenue-share cap per agreement year (``cap_period: year``) and a cap on the reverse share,
worked out by hand.

Each agreement year (from the agreement's ``from`` date to the same day a year later) has a cap of
``cap_usd`` of its own; ``cap_used_usd`` is what was paid toward the year in progress at the run's
start; a minimum's true-up spends the cap of the year its period closes in. Every expected number
is plain arithmetic from the terms and the calendar, compared with what ``fleetsim run`` and
``fleetsim reprice`` write.
"""
from __future__ import annotations

import json

import pytest

from sim.cli import main
from money_files import assert_repriced_as_fresh, scenario, write_scenario as _write, run as _run, rows as _rows, col as _col


# From 2025-01-01 for 181 days (Jan 31, Feb 28, Mar 31, Apr 30, May 31, Jun 30: the run ends Jul 1).
# The deal began 2024-05-16: its years turn on May 16; $600 of the year to 2025-05-16 was paid before the run.
DEAL = {"period": "month", "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
        "revenue": [{"name": "subs", "usd_per_month": 3000}],
        "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "settle": "quarter", "from": "2024-05-16",
                        "cap_usd": 1000, "cap_used_usd": 600, "cap_period": "year", "minimum_usd": 500}]}


def _scenario(economics: dict) -> dict:
    return scenario("capyear", economics, duration="181d")


def test_each_agreement_year_has_its_own_cap_and_the_true_up_spends_the_new_years(tmp_path):
    """10 % of $3,000 a month is $300 a month. The year to May 16 has $400 left: January's 300 and
    $100 of February, then nothing; Q1's $500 minimum finds no room (capped). The year from May 16
    starts afresh: May 16-31 is 16 of 31 days, 300 x 16/31 = 154.84; June 300; Q2 = 454.84 forward,
    and its true-up to $500, 45.16, fits the new year's cap. Paid in all: 400 + 500 = 900."""
    out = _run(tmp_path, _scenario(DEAL))
    may = 300 * 16 / 31
    q2 = may + 300
    sett = _rows(out, "settlements.csv")
    assert [(s["period"], s["capped"]) for s in sett] == [("2025-Q1", "True"), ("2025-Q2", "True")]
    assert _col(sett, "forward_usd") == pytest.approx([400, q2], abs=1e-6)
    assert _col(sett, "minimum_usd") == pytest.approx([500, 500], abs=1e-6)
    assert _col(sett, "shortfall_usd") == pytest.approx([0, 500 - q2], abs=1e-6)
    rows = _rows(out, "cashflow.csv")
    # Q2 settles at Jul 1 00:00, the horizon's end: a cash-only row after it
    assert [r["period"] for r in rows] == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07"]
    assert _col(rows, "revenue_share_paid_usd") == pytest.approx([300, 100, 0, 0, may, 300 + 500 - q2, 0],
                                                                 abs=1e-6)
    assert _col(rows, "cash_revenue_share_paid_usd") == pytest.approx([0, 0, 0, 400, 0, 0, 500], abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["revenue_share_paid"] == pytest.approx(900, rel=1e-12)
    assert cf["revenue_share_shortfall_paid"] == pytest.approx(500 - q2, rel=1e-12)


def test_a_lifetime_cap_repriced_to_a_yearly_one_is_a_fresh_runs_money_and_bad_periods_are_refused(
        tmp_path, capsys):
    """The same deal with its cap over its lifetime: the $400 left is spent by February 10 and nothing
    more is paid, true-ups included."""
    econ = json.loads(json.dumps(DEAL))
    del econ["agreements"][0]["cap_period"]
    base = _run(tmp_path, _scenario(econ), "base")
    sett = _rows(base, "settlements.csv")
    assert _col(sett, "forward_usd") == pytest.approx([400, 0], abs=1e-6)
    assert _col(sett, "shortfall_usd") == [0, 0]
    assert json.loads((base / "summary.json").read_text())["cashflow"]["revenue_share_paid"] == pytest.approx(400)
    fresh = _run(tmp_path, _scenario(DEAL), "fresh")
    assert_repriced_as_fresh(tmp_path, base, fresh, ["economics.agreements.0.cap_period=year"])

    path = _write(tmp_path, _scenario(DEAL), "bad")
    for sets, words in (
            (["economics.agreements.0.cap_period=decade"],
             "economics.agreements.0.cap_period: must be one of 'lifetime' or 'year' (got 'decade')"),
            (["economics.agreements.0.cap_usd=null", "economics.agreements.0.cap_used_usd=0"],
             "economics.agreements.0.cap_period: needs cap_usd (the cap per year)")):
        capsys.readouterr()
        assert main(["run", str(path), *[a for s in sets for a in ("--set", s)],
                     "--out", str(tmp_path / "bad_out"), "--quiet"]) == 2
        assert f"{path}: {words}" in capsys.readouterr().err


def test_a_capped_reverse_share_stops_at_what_its_cap_leaves(tmp_path, capsys):
    """The partner shares 10 % of its $1,000 a month back, capped at $250 over the deal's life, $50 of
    it paid before the run: $100 in January, $100 in February, then nothing. The forward 10 % of
    $3,000 a month is uncapped: Q1 nets 900 - 200 = 700, Q2 900 - 0 = 900."""
    econ = {"period": "month", "compute": DEAL["compute"],
            "revenue": [*DEAL["revenue"], {"name": "resale", "owner": "partner", "usd_per_month": 1000}],
            "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "settle": "quarter",
                            "reverse": {"rate": 0.1, "base": ["resale"], "cap_usd": 250, "cap_used_usd": 50}}]}
    out = _run(tmp_path, _scenario(econ))
    sett = _rows(out, "settlements.csv")
    assert list(sett[0])[-1] == "capped"                          # no minimum: no minimum columns
    assert [(s["period"], s["capped"]) for s in sett] == [("2025-Q1", "True"), ("2025-Q2", "True")]
    assert _col(sett, "forward_usd") == pytest.approx([900, 900], abs=1e-6)
    assert _col(sett, "reverse_usd") == pytest.approx([200, 0], abs=1e-6)
    assert _col(sett, "provider_net_usd") == pytest.approx([-700, -900], abs=1e-6)
    rows = _rows(out, "cashflow.csv")
    assert _col(rows, "revenue_share_received_usd") == pytest.approx([100, 100, 0, 0, 0, 0, 0], abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["revenue_share_received"] == pytest.approx(200, rel=1e-12)
    assert cf["revenue_share_net"] == pytest.approx(200 - 1800, rel=1e-12)

    path = _write(tmp_path, _scenario(econ), "bad")
    for sets, words in (
            (["economics.agreements.0.reverse.cap_usd=null"],
             "economics.agreements.0.reverse.cap_used_usd: needs cap_usd (the lifetime cap it was paid toward)"),
            (["economics.agreements.0.reverse.cap_used_usd=300"],
             "economics.agreements.0.reverse.cap_used_usd: must not exceed cap_usd (got 300 of a 250 cap)"),
            (["economics.agreements.0.reverse.cap_usd=-1"],
             "economics.agreements.0.reverse.cap_usd: must be >= 0 (got -1")):
        capsys.readouterr()
        assert main(["run", str(path), *[a for s in sets for a in ("--set", s)],
                     "--out", str(tmp_path / "bad_out"), "--quiet"]) == 2
        assert f"{path}: {words}" in capsys.readouterr().err
