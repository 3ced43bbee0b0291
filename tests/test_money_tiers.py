"""Stepped (tiered) revenue-share rates, worked out by hand.

A bracketed ``rate`` is marginal, like income tax: each dollar of base revenue pays the rate of the
bracket the running base revenue is in when it accrues; the running total counts over the
agreement's life or restarts every agreement year (``tier_period: year``), from ``base_used_usd``.
Every expected number below is plain arithmetic from the terms and the calendar, compared with what
``fleetsim run`` and ``fleetsim reprice`` write.
"""
from __future__ import annotations

import json

import pytest

from sim.cli import main
from money_files import assert_repriced_as_fresh, scenario, write_scenario as _write, run as _run, rows as _rows, col as _col


# From 2025-01-01 for 120 days (Jan 31, Feb 28, Mar 31, Apr 30: the run ends May 1); Q2 is 30 of its 91 days.
# $3,000 a month of base revenue: 20 % of the first $5,000, 10 % of the rest.
STEPPED = [{"up_to_usd": 5000, "rate": 0.2}, {"rate": 0.1}]
DEAL = {"period": "month", "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
        "revenue": [{"name": "subs", "usd_per_month": 3000},
                    {"name": "resale", "owner": "partner", "usd_per_month": 1000}],
        "agreements": [{"name": "deal", "rate": STEPPED, "base": ["subs"], "settle": "quarter",
                        "payment_lag": "10d",
                        "reverse": {"rate": [{"up_to_usd": 1500, "rate": 0.1}, {"rate": 0.0}], "base": ["resale"]}}]}


def _copy(economics: dict) -> dict:
    return json.loads(json.dumps(economics))


def test_a_bracket_crossed_mid_quarter_pays_each_dollar_at_its_brackets_rate(tmp_path):
    """The running base is $3,000 at the end of January and $6,000 at the end of February: January
    pays 20 % of 3,000 = 600; February 20 % of the 2,000 up to $5,000 and 10 % of the 1,000 above
    it, 400 + 100 = 500; March and April 10 %, 300 each. Q1 = 1,400, Q2 (April) = 300. The reverse
    share steps down to 0 above $1,500 of resale: January 100, February 10 % of 500 = 50, then 0.
    Netted: Q1 1,400 - 150 = 1,250 paid Apr 11; Q2 300 paid Jul 11, after the run."""
    out = _run(tmp_path, scenario("tiers", DEAL, duration="120d"))
    rows = _rows(out, "cashflow.csv")
    assert [r["period"] for r in rows[:4]] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert _col(rows, "revenue_share_paid_usd")[:4] == pytest.approx([600, 500, 300, 300], abs=1e-6)
    assert _col(rows, "revenue_share_received_usd")[:4] == pytest.approx([100, 50, 0, 0], abs=1e-6)
    sett = _rows(out, "settlements.csv")
    assert [(s["period"], s["cash_date"], s["capped"]) for s in sett] == [
        ("2025-Q1", "2025-04-11", "False"), ("2025-Q2", "2025-07-11", "False")]
    assert _col(sett, "forward_usd") == pytest.approx([1400, 300], abs=1e-6)
    assert _col(sett, "reverse_usd") == pytest.approx([150, 0], abs=1e-6)
    assert _col(sett, "provider_net_usd") == pytest.approx([-1250, -300], abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["revenue_share_paid"] == pytest.approx(1700, rel=1e-12)
    assert cf["revenue_share_received"] == pytest.approx(150, rel=1e-12)
    assert cf["revenue"] == pytest.approx(12000, rel=1e-12)


def test_a_cap_reached_inside_the_upper_bracket_stops_the_share_and_the_minimum(tmp_path):
    """With a lifetime cap of $1,500 the share runs 600, 1,100, 1,400 by the end of March (Q1: 1,400,
    above its $1,000 minimum) and meets the cap in April, in the 10 % bracket: April pays the $100
    left (capped). Q2's minimum, 1,000 x 30/91, is short of the 100 paid by 229.67, and the cap
    leaves nothing for the true-up."""
    econ = _copy(DEAL)
    del econ["agreements"][0]["reverse"]
    econ["agreements"][0].update(cap_usd=1500, minimum_usd=1000)
    out = _run(tmp_path, scenario("tiers_cap", econ, duration="120d"))
    sett = _rows(out, "settlements.csv")
    assert [(s["period"], s["capped"]) for s in sett] == [("2025-Q1", "False"), ("2025-Q2", "True")]
    assert _col(sett, "forward_usd") == pytest.approx([1400, 100], abs=1e-6)
    assert _col(sett, "minimum_usd") == pytest.approx([1000, 1000 * 30 / 91], abs=1e-6)
    assert _col(sett, "shortfall_usd") == [0, 0]
    assert _col(_rows(out, "cashflow.csv"), "revenue_share_paid_usd")[:4] == pytest.approx([600, 500, 300, 100],
                                                                                            abs=1e-6)


# From 2025-01-01 for 181 days (the run ends Jul 1). The deal began 2024-05-16: its years turn on May 16;
# $30,000 of base revenue accrued in the year to 2025-05-16 before the run.
YEARLY = {"period": "month", "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
          "revenue": [{"name": "subs", "usd_per_month": 3000}],
          "agreements": [{"name": "deal", "rate": [{"up_to_usd": 33000, "rate": 0.2}, {"rate": 0.1}],
                          "base": ["subs"], "settle": "quarter", "from": "2024-05-16", "base_used_usd": 30000,
                          "tier_period": "year"}]}


def test_the_brackets_restart_each_agreement_year(tmp_path):
    """The year to May 16 has $3,000 of its $33,000 first bracket left: January pays 20 % (600),
    February to May 15 pay 10 % (300 a month; May 1-15 is 15 of 31 days: 145.16). On May 16 the
    running base restarts: May 16-31 pays 20 % of 3,000 x 16/31 (309.68), June 600. Over the
    agreement's life instead the brackets never restart: May 300, June 300."""
    out = _run(tmp_path, scenario("tiers_year", YEARLY, duration="181d"), "year")
    may = 0.1 * 3000 * 15 / 31 + 0.2 * 3000 * 16 / 31
    assert _col(_rows(out, "cashflow.csv"), "revenue_share_paid_usd")[:6] == pytest.approx(
        [600, 300, 300, 300, may, 600], abs=1e-6)
    assert _col(_rows(out, "settlements.csv"), "forward_usd") == pytest.approx([1200, 300 + may + 600], abs=1e-6)

    life = _copy(YEARLY)
    life["agreements"][0]["tier_period"] = "life"
    base = _run(tmp_path, scenario("tiers_year", life, duration="181d"), "life")
    assert _col(_rows(base, "cashflow.csv"), "revenue_share_paid_usd")[:6] == pytest.approx(
        [600, 300, 300, 300, 300, 300], abs=1e-6)
    assert_repriced_as_fresh(tmp_path, base, out, ["economics.agreements.0.tier_period=year"])


def test_one_open_bracket_is_the_flat_rate_and_a_flat_rate_repriced_to_brackets_is_a_fresh_run(tmp_path):
    """``rate: [{rate: 0.2}]`` is the contract ``rate: 0.2``: the same bytes in every money file."""
    flat = _copy(DEAL)
    flat["agreements"][0]["rate"] = 0.2
    del flat["agreements"][0]["reverse"]
    one = _copy(flat)
    one["agreements"][0]["rate"] = [{"rate": 0.2}]
    a, b = _run(tmp_path, scenario("tiers", flat, duration="120d"), "flat"), _run(
        tmp_path, scenario("tiers", one, duration="120d"), "one")
    for name in ("cashflow.csv", "ledger.csv", "settlements.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    stepped = _copy(flat)
    stepped["agreements"][0]["rate"] = STEPPED
    fresh = _run(tmp_path, scenario("tiers", stepped, duration="120d"), "stepped")
    assert_repriced_as_fresh(tmp_path, a, fresh,
                             ["economics.agreements.0.rate=[{up_to_usd: 5000, rate: 0.2}, {rate: 0.1}]"])


@pytest.mark.parametrize("override, words", [
    ("economics.agreements.0.rate=[{up_to_usd: 5000, rate: 0.2}, {up_to_usd: 4000, rate: 0.1}, {rate: 0}]",
     "economics.agreements.0.rate.1.up_to_usd: must be above 5000, the previous bracket's up_to_usd: "
     "brackets must ascend (got 4000)"),
    ("economics.agreements.0.rate=[{up_to_usd: 5000, rate: 1.5}, {rate: 0.1}]",
     "economics.agreements.0.rate.0.rate: must be <= 1 (got 1.5)"),
    ("economics.agreements.0.rate=[{up_to_usd: 5000, rate: 0.2}, {up_to_usd: 9000, rate: 0.1}]",
     "economics.agreements.0.rate.1.up_to_usd: the last bracket must be open: leave up_to_usd out (got 9000)"),
    ("economics.agreements.0.rate=[{rate: 0.2}, {rate: 0.1}]",
     "economics.agreements.0.rate.0.up_to_usd: is required on every bracket but the last (bracket 0 of 2)"),
    ("economics.agreements.0.rate=[]", "economics.agreements.0.rate: must have at least 1 item(s) (got 0)"),
    ("economics.agreements.0.rate=1.5", "economics.agreements.0.rate: must be <= 1 (got 1.5)"),
    ("economics.agreements.0.rate={up_to_usd: 5000, rate: 0.2}",
     "economics.agreements.0.rate: must be a fraction in [0, 1] or a list of brackets"),
    ("economics.agreements.0.reverse.rate=[{up_to_usd: -1, rate: 0.2}, {rate: 0.1}]",
     "economics.agreements.0.reverse.rate.0.up_to_usd: must be >= 0 (got -1)"),
    ("economics.agreements.0.tier_period=decade",
     "economics.agreements.0.tier_period: must be one of 'life', 'lifetime' or 'year' (got 'decade')"),
])
def test_bad_brackets_are_refused_naming_the_file_and_the_field(tmp_path, capsys, override, words):
    path = _write(tmp_path, scenario("tiers", DEAL, duration="120d"), "bad")
    assert main(["run", str(path), "--set", override, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert f"{path}: {words}" in capsys.readouterr().err


def test_a_yearly_tier_or_base_used_without_brackets_is_refused(tmp_path, capsys):
    flat = _copy(YEARLY)
    flat["agreements"][0]["rate"] = 0.2
    path = _write(tmp_path, scenario("tiers", flat, duration="30d"), "flat")
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert f"{path}: economics.agreements.0.base_used_usd: needs a bracketed rate" in capsys.readouterr().err
    assert main(["run", str(path), "--set", "economics.agreements.0.base_used_usd=0",
                 "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert f"{path}: economics.agreements.0.tier_period: needs a bracketed rate" in capsys.readouterr().err
