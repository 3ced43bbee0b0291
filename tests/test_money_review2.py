"""A second look at the minimum guarantee, the compute commit and the yearly cap: cases worked out
by hand (plain arithmetic from the terms and the calendar) that the first tests did not cover,
checked against what ``fleetsim run``, ``reprice``, ``compare`` and ``report`` write."""
from __future__ import annotations

import json

import pytest

from sim.cli import main
from sim.report.comparison import compare
from sim.report.html_report import metrics_section
from money_files import scenario, run as _run, rows as _rows, col as _col


# From 2025-01-01 for 120 days (Jan 31, Feb 28, Mar 31, Apr 30 days; the run ends May 1 00:00), one GPU
# in each of two pools held the whole time: main at $1/hour ($24 a day), aux at $0.50/hour.
COMPUTE = [{"pool": "main", "usd_per_gpu_hour": 1.0}, {"pool": "aux", "usd_per_gpu_hour": 0.5}]
QUARTER_COMMIT = {"name": "q", "pool": "main", "commit_usd": 2500, "period": "quarter", "payment_lag": "30d"}


def _scenario(economics: dict, start: str = "2025-01-01", duration: str = "120d") -> dict:
    return scenario("review", economics, duration=duration, start=start, pools=("main", "aux"))


def test_a_commit_shortfall_is_a_row_of_the_metrics_table_and_of_compare_so_net_adds_up(tmp_path):
    """main bills $24 a day: Q1's 90 days 2,160 against a $2,500 commit, $340 short; Q2 is cut to 30
    of its 91 days, 2,500 x 30/91 = 824.18 against April's 720: $104.18 short. The net is revenue
    12,000 - compute 120 x 36 = 4,320 - the 444.18 of shortfalls: the page's metrics table and
    ``fleetsim compare`` name the shortfall as they name training or SLA credits, so the rows shown
    add up to the net; a run without a commit has no such row."""
    revenue = [{"name": "subs", "usd_per_month": 3000}]
    plain = _run(tmp_path, _scenario({"compute": COMPUTE, "revenue": revenue}), "plain")
    commit = _run(tmp_path, _scenario({"compute": COMPUTE, "revenue": revenue, "commits": [QUARTER_COMMIT]}),
                  "commit")
    short = (2500 - 90 * 24) + (2500 * 30 / 91 - 30 * 24)
    assert short == pytest.approx(444.1758, abs=1e-4)
    s = json.loads((commit / "summary.json").read_text())
    assert s["cashflow"]["net"] == pytest.approx(12000 - 120 * 36 - short, rel=1e-12)

    page = metrics_section(s)
    assert "compute commit shortfall</td>" in page and "$444.18" in page
    assert "compute commit shortfall" not in metrics_section(json.loads((plain / "summary.json").read_text()))

    rows = {r.key: r for r in compare([plain, commit]).rows}
    row = rows["cashflow.compute_commit_shortfall"]
    assert row.label == "compute commit shortfall"
    assert row.values == [0.0, pytest.approx(short, rel=1e-12)]
    assert "cashflow.compute_commit_shortfall" not in {r.key for r in compare([plain, plain]).rows}


SUBS = {"name": "subs", "usd_per_month": 3000}          # 10 % of it is $300 forward a month
RESALE = {"name": "resale", "owner": "partner", "usd_per_month": 1000}


def test_a_minimum_is_prorated_in_a_first_and_a_last_quarter_the_run_only_partly_covers(tmp_path):
    """From 2025-02-15 for 120 days (to Jun 15): Q1 holds 45 of its 90 days (Feb 15-28, March),
    forward 300 x 14/28 + 300 = 450 against 1,200 x 45/90 = 600: a $150 true-up, booked in March;
    Q2 holds 75 of its 91 days, forward 300 + 300 + 300 x 14/30 = 740 against 1,200 x 75/91 =
    989.01: $249.01, booked in June. Q2 is settled Jul 1, after the run: outstanding."""
    econ = {"compute": COMPUTE, "revenue": [SUBS],
            "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "settle": "quarter", "minimum_usd": 1200}]}
    out = _run(tmp_path, _scenario(econ, start="2025-02-15"))
    sett = _rows(out, "settlements.csv")
    q2_min = 1200 * 75 / 91
    assert [(s["period"], s["cash_date"]) for s in sett] == [("2025-Q1", "2025-04-01"), ("2025-Q2", "2025-07-01")]
    assert _col(sett, "forward_usd") == pytest.approx([450, 740], abs=1e-6)
    assert _col(sett, "minimum_usd") == pytest.approx([600, q2_min], abs=1e-6)
    assert _col(sett, "shortfall_usd") == pytest.approx([150, q2_min - 740], abs=1e-6)
    rows = {r["period"]: r for r in _rows(out, "cashflow.csv")}
    assert float(rows["2025-03"]["revenue_share_paid_usd"]) == pytest.approx(300 + 150, abs=1e-6)
    assert float(rows["2025-06"]["revenue_share_paid_usd"]) == pytest.approx(140 + q2_min - 740, abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["revenue_share_outstanding"] == pytest.approx(-q2_min, rel=1e-12)


def test_a_minimum_under_a_larger_reverse_share_nets_to_the_partner_paying(tmp_path):
    """The partner shares half its $1,000 a month back: $1,500 a quarter against the provider's 900
    forward + 300 true-up = 1,200, so the partner pays the provider $300 for Q1 (Apr 1); Q2 (30 of 91
    days): 300 + 95.60 - 500 = -104.40, the partner pays $104.40 on Jul 1, after the run."""
    econ = {"compute": COMPUTE, "revenue": [SUBS, RESALE],
            "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "reverse": {"rate": 0.5, "base": ["resale"]},
                            "settle": "quarter", "minimum_usd": 1200}]}
    out = _run(tmp_path, _scenario(econ))
    q2_short = 1200 * 30 / 91 - 300
    sett = _rows(out, "settlements.csv")
    assert [s["cash_direction"] for s in sett] == ["partner pays", "partner pays"]
    assert _col(sett, "shortfall_usd") == pytest.approx([300, q2_short], abs=1e-6)
    assert _col(sett, "provider_net_usd") == pytest.approx([300, 500 - 300 - q2_short], abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["revenue_share_paid"] == pytest.approx(1200 + 300 + q2_short, rel=1e-12)
    assert cf["revenue_share_received"] == pytest.approx(2000, rel=1e-12)
    assert cf["cash_revenue_share_net"] == pytest.approx(300, rel=1e-12)
    assert cf["revenue_share_outstanding"] == pytest.approx(500 - 300 - q2_short, rel=1e-12)


def test_a_yearly_cap_from_a_feb_29_start_turns_on_feb_28_and_splits_a_quarter(tmp_path):
    """From 2024-02-29 for 400 days (to 2025-04-04), $1,000 a year, at least $500 a quarter. Year
    one runs to 2025-02-28. 2024-Q1: 300 x 1/29 + 300 = 310.34 (minimum 500 x 32/91, met); Q2's 900
    meets the cap at 1,000 - 310.34 = 689.66; Q3 and Q4 find no room for their true-ups. 2025-Q1:
    Jan 1-Feb 27 lie in year one (nothing), Feb 28 and March in year two: 300/28 + 300 = 310.71,
    and the true-up 500 - 310.71 = 189.29 fits year two's cap. Q2: 3 days, 30 against 500 x 3/91."""
    econ = {"period": "quarter", "compute": COMPUTE, "revenue": [SUBS],
            "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "settle": "quarter", "minimum_usd": 500,
                            "cap_usd": 1000, "cap_period": "year"}]}
    out = _run(tmp_path, _scenario(econ, start="2024-02-29", duration="400d"))
    sett = _rows(out, "settlements.csv")
    q1_24 = 300 / 29 + 300
    q1_25 = 300 / 28 + 300
    assert [s["period"] for s in sett] == ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2"]
    assert [s["capped"] for s in sett] == ["False", "True", "True", "True", "True", "False"]
    assert _col(sett, "forward_usd") == pytest.approx([q1_24, 1000 - q1_24, 0, 0, q1_25, 30], abs=1e-6)
    assert _col(sett, "minimum_usd") == pytest.approx([500 * 32 / 91, 500, 500, 500, 500, 500 * 3 / 91], abs=1e-6)
    assert _col(sett, "shortfall_usd") == pytest.approx([0, 0, 0, 0, 500 - q1_25, 0], abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["revenue_share_paid"] == pytest.approx(1000 + 500 + 30, rel=1e-12)


def test_a_quarterly_commit_on_one_of_two_pools_ignores_credits_and_is_discounted_at_its_cash_date(tmp_path):
    """main alone is committed ($2,500 a quarter, paid 30 days after it): Q1 $340 short (paid May 1,
    at the horizon: a payable), Q2 $104.18 (Jul 31). aux's compute does not count; a $500 compute
    credit lowers January's cash but not what the commit compares. At 10 % a year the $340 is worth
    340 x 1.1^(-120/365) and the $104.18 104.18 x 1.1^(-211/365)."""
    econ = {"period": "month", "discount_rate": 0.1, "compute": COMPUTE, "commits": [QUARTER_COMMIT],
            "credits": [{"name": "promo", "usd": 500, "applies_to": "compute"}]}
    out = _run(tmp_path, _scenario(econ))
    q2 = 2500 * 30 / 91 - 720
    ledger = [e for e in _rows(out, "ledger.csv") if e["category"] == "compute_commit"]
    assert [(e["accrual_date"], e["cash_date"]) for e in ledger] == [("2025-03-01", "2025-05-01"),
                                                                     ("2025-04-01", "2025-07-31")]
    assert _col(ledger, "amount_usd") == pytest.approx([-340, -q2], abs=1e-6)
    rows = {r["period"]: r for r in _rows(out, "cashflow.csv")}
    assert float(rows["2025-05"]["pv_cash_usd"]) == pytest.approx(-340 * 1.1 ** (-120 / 365), abs=1e-6)
    assert float(rows["2025-07"]["pv_cash_usd"]) == pytest.approx(-q2 * 1.1 ** (-211 / 365), abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["credits_applied"] == pytest.approx(500, rel=1e-12)
    assert cf["payables_end"] == pytest.approx(340 + q2, rel=1e-12)
    assert cf["net"] == pytest.approx(-120 * 36 + 500 - 340 - q2, rel=1e-12)


def test_a_shortfall_is_never_negative_so_its_interval_over_seeds_and_a_summary_check_stop_at_zero():
    """A shortfall is max(owed - paid, 0): over three seeds of 0, 0 and $30 the mean is $10 and the
    Student-t interval's lower end (10 - 4.303 x 17.32/sqrt 3 = -33.0) is clipped at 0, as a compute
    cost's is; a summary saying -5 of it is one fleetsim would not have written."""
    from sim.planning.stats import aggregate
    from sim.report.result_folder import summary_problems
    for key in ("cashflow.compute_commit_shortfall", "cashflow.revenue_share_shortfall_paid",
                "cashflow.revenue_share_shortfall_received"):
        ci = aggregate([{key: 0.0}, {key: 0.0}, {key: 30.0}])[key]
        assert ci.mean == pytest.approx(10.0)
        assert ci.low == 0.0 and ci.high == pytest.approx(10 + 4.302653 * (300 ** 0.5) / 3 ** 0.5, rel=1e-6)
        block, name = key.split(".")
        assert summary_problems({"simulated_seconds": 1.0, block: {name: -5.0}}) == [(key, "-5.0 is outside [0, inf]")]


def test_the_terminal_cash_flow_line_names_the_commit_shortfall_it_subtracts(tmp_path, capsys):
    """Re-pricing the $2,500 quarterly commit down to $10 takes its 444.18 of shortfalls away: the
    net rises from 12,000 - 4,320 - 444.18 = 7,235.82 to 7,680.00, and the line says where the
    difference went (the shortfall, and what it was) instead of a net that moved on its own."""
    from sim.report_text import cashflow_lines
    econ = {"compute": COMPUTE, "revenue": [SUBS], "commits": [QUARTER_COMMIT]}
    out = _run(tmp_path, _scenario(econ))
    s = json.loads((out / "summary.json").read_text())
    line = cashflow_lines(s)[0]
    assert "commit shortfall $444.18" in line and "net $7,235.82" in line
    assert "commit shortfall" not in cashflow_lines(
        json.loads((_run(tmp_path, _scenario({"compute": COMPUTE, "revenue": [SUBS]}), "plain")
                    / "summary.json").read_text()))[0]
    capsys.readouterr()
    assert main(["reprice", str(out), "--set", "economics.commits.0.commit_usd=10", "--out", str(tmp_path / "re")]) == 0
    text = capsys.readouterr().out
    assert "commit shortfall $0.00 (was $444.18)" in text and "net $7,680.00 (was $7,235.82)" in text


def test_the_verdict_adds_the_commit_shortfall_to_the_compute_bill_it_quotes():
    """The headline quotes the compute bill; under a commit the provider also pays the shortfall, so
    $4,320 billed over 120 days with $444.18 short reads "plus $444.18 of commit shortfall"."""
    from sim.report.overview import overview
    summary = {"scenario": "x", "simulated_seconds": 120 * 86400.0, "pools": {},
               "cost": {"compute_usd": 4320.0, "compute_commit_shortfall_usd": 444.18}}
    assert ("Compute $4,320.00 for 120 d, about $1,095 per month, plus $444.18 of commit shortfall."
            in overview(summary).verdict)
    summary["cost"]["compute_commit_shortfall_usd"] = 0.0
    assert "commit" not in overview(summary).verdict


def _deal(minimum: float, commit: float) -> dict:
    return {"period": "month", "rounding": "cents", "discount_rate": 0.08, "compute": COMPUTE,
            "commits": [{**QUARTER_COMMIT, "commit_usd": commit}], "revenue": [SUBS, RESALE],
            "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "reverse": {"rate": 0.05, "base": ["resale"]},
                            "settle": "quarter", "payment_lag": "45d", "minimum_usd": minimum}]}


def test_repricing_only_the_minimum_or_only_the_commit_writes_a_fresh_runs_files_to_the_cent(tmp_path):
    """Under ``rounding: cents`` and an 8 % discount rate: Q2's settlement, 300 + (1,200 x 30/91 -
    300) - 50 = 345.60, lands Aug 15 (Jul 1 + 45 days, day 226), worth 345.60 x 1.08^(-226/365);
    every statement row foots to the cent. Re-pricing the minimum from 1,200 to 900 or the commit
    from 2,500 to 3,000 writes the files a fresh run with that value writes, byte for byte."""
    base = _run(tmp_path, _scenario(_deal(1200, 2500)), "base")
    sett = _rows(base, "settlements.csv")
    assert _col(sett, "net_usd") == [1050.0, 345.6]
    rows = {r["period"]: r for r in _rows(base, "cashflow.csv")}
    assert float(rows["2025-08"]["cash_net_usd"]) == -345.6
    assert float(rows["2025-08"]["pv_cash_usd"]) == pytest.approx(-345.6 * 1.08 ** (-226 / 365), abs=0.006)
    cum = 0.0
    for r in rows.values():
        g = {k: float(v) for k, v in r.items() if k.endswith("_usd") and v}
        assert round(g["revenue_usd"] - g["compute_usd"] - g["compute_commit_shortfall_usd"] - g["revenue_share_paid_usd"]
                     + g["revenue_share_received_usd"], 2) == g["net_usd"]
        assert round(g["cash_revenue_usd"] - g["cash_compute_usd"] - g["cash_compute_commit_shortfall_usd"]
                     - g["cash_revenue_share_paid_usd"] + g["cash_revenue_share_received_usd"], 2) == g["cash_net_usd"]
        cum = round(cum + g["cash_net_usd"], 2)
        assert cum == g["cumulative_cash_usd"]
    for name, override, fresh_deal in (("minimum", "economics.agreements.0.minimum_usd=900", _deal(900, 2500)),
                                       ("commit", "economics.commits.0.commit_usd=3000", _deal(1200, 3000))):
        fresh = _run(tmp_path, _scenario(fresh_deal), f"fresh_{name}")
        assert main(["reprice", str(base), "--set", override, "--out", str(tmp_path / f"re_{name}"), "--quiet"]) == 0
        for f in ("cashflow.csv", "ledger.csv", "settlements.csv"):
            assert (tmp_path / f"re_{name}" / f).read_bytes() == (fresh / f).read_bytes(), (name, f)
        re_s, fresh_s = (json.loads((d / "summary.json").read_text()) for d in (tmp_path / f"re_{name}", fresh))
        assert re_s["cashflow"] == fresh_s["cashflow"] and re_s["cost"] == fresh_s["cost"]


def test_a_true_up_that_meets_the_lifetime_cap_pays_only_its_room_and_the_reverse_share_still_nets(tmp_path):
    """A $1,000 lifetime cap: Q1's 900 forward leaves 100 of room, so the $300 true-up pays 100 and
    the settlement is capped: 900 + 100 - 150 reverse = 850. From then on nothing forward is paid:
    Q2 (30 of 91 days) owes 1,200 x 30/91 but finds no room, and the partner's $50 reverse share
    comes back alone: the partner pays $50."""
    econ = {"compute": COMPUTE, "revenue": [SUBS, RESALE],
            "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "reverse": {"rate": 0.05, "base": ["resale"]},
                            "settle": "quarter", "minimum_usd": 1200, "cap_usd": 1000}]}
    out = _run(tmp_path, _scenario(econ))
    sett = _rows(out, "settlements.csv")
    assert [(s["capped"], s["cash_direction"]) for s in sett] == [("True", "provider pays"), ("True", "partner pays")]
    assert _col(sett, "forward_usd") == pytest.approx([900, 0], abs=1e-6)
    assert _col(sett, "minimum_usd") == pytest.approx([1200, 1200 * 30 / 91], abs=1e-6)
    assert _col(sett, "shortfall_usd") == pytest.approx([100, 0], abs=1e-6)
    assert _col(sett, "provider_net_usd") == pytest.approx([-850, 50], abs=1e-6)
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["revenue_share_paid"] == pytest.approx(1000, rel=1e-12)
    assert cf["revenue_share_shortfall_paid"] == pytest.approx(100, rel=1e-12)
    assert cf["revenue_share_received"] == pytest.approx(200, rel=1e-12)


def test_a_settlement_with_nothing_to_pay_writes_a_zero_not_a_negative_zero(tmp_path):
    """A $600 lifetime cap on $300 a month is spent by the end of February: March and April settle
    nothing either way, and settlements.csv says 0.000000 for them (as it did before minimums), not
    -0.000000, a negative zero a spreadsheet or a diff reads as a payment's sign."""
    econ = {"compute": COMPUTE, "revenue": [SUBS],
            "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"], "settle": "month", "cap_usd": 600}]}
    sett = _rows(_run(tmp_path, _scenario(econ)), "settlements.csv")
    assert [(s["period"], s["forward_usd"], s["net_usd"], s["provider_net_usd"], s["cash_direction"])
            for s in sett[2:]] == [("2025-03", "0.000000", "0.000000", "0.000000", "nothing"),
                                   ("2025-04", "0.000000", "0.000000", "0.000000", "nothing")]
    assert _col(sett, "provider_net_usd")[:2] == [-300.0, -300.0]


def test_cents_rounding_leaves_amounts_past_float_cents_alone_instead_of_failing(tmp_path, capsys):
    """From 2^53 up every float is a whole number, so rounding one to the cent changes nothing; a
    $1e300 commit under ``rounding: cents`` is huge but finite money (Q1 short by 1e300 - 2,160, Q2
    by 1e300 x 30/91) and the run writes it, where rounding it asked Decimal for 300 digits and
    stopped with an internal error."""
    from sim.economics.statement import to_cents
    assert to_cents(2.0 ** 53 + 2) == 2.0 ** 53 + 2 and to_cents(-1e300) == -1e300
    assert to_cents(-2.675) == -2.68 and to_cents(2.0 ** 51 + 0.5) == 2.0 ** 51 + 0.5
    econ = {"rounding": "cents", "compute": COMPUTE, "commits": [{**QUARTER_COMMIT, "commit_usd": 1e300}]}
    out = _run(tmp_path, _scenario(econ))
    cf = json.loads((out / "summary.json").read_text())["cashflow"]
    assert cf["compute_commit_shortfall"] == pytest.approx(1e300 + 1e300 * 30 / 91, rel=1e-12)
