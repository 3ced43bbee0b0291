"""A second look at stepped revenue-share rates and the plan's ``cost_with_commits`` objective.

Every expected number is worked by hand from the terms and the calendar (a flat line is prorated by
the days of each month), then compared with what ``fleetsim run``, ``sweep`` and ``plan`` write.
"""
from __future__ import annotations


import pytest

from money_files import col, rows, run, scenario, without_no_demand_warning, write_scenario
from sim.cli import main
from sim.planning import MMcRunner, plan

COMPUTE = [{"pool": "main", "usd_per_gpu_hour": 1.0}]


def test_a_window_opening_mid_run_and_mid_year_counts_its_brackets_from_its_own_from(tmp_path):
    """From 2025-01-01 for 500 days (to 2026-05-16); the deal runs from 2025-03-15, its years turning on
    Mar 15; $1,000 of base counted before the run; 20 % of the first $10,000 a year, then 10 %.
    $3,100 a month: March's window is 17 of 31 days, 1,700 (340); April and May 620 (running 5,800 and
    8,900); June 1,100 at 20 % and 2,000 at 10 %, 420; then 310 a month. 2026-03: Mar 1-14 (1,400) at
    10 % and Mar 15-31 (1,700) at 20 % in the new year, 480; April 620; May 1-15 (1,500) 300."""
    econ = {"period": "month", "compute": COMPUTE, "revenue": [{"name": "subs", "usd_per_month": 3100}],
            "agreements": [{"name": "deal", "rate": [{"up_to_usd": 10000, "rate": 0.2}, {"rate": 0.1}],
                            "base": ["subs"], "settle": "month", "from": "2025-03-15", "tier_period": "year",
                            "base_used_usd": 1000}]}
    out = run(tmp_path, scenario("window", econ, duration="500d"))
    paid = col(rows(out), "revenue_share_paid_usd")
    assert paid[:17] == pytest.approx([0, 0, 340, 620, 620, 420] + [310] * 8 + [480, 620, 300], abs=1e-6)


def test_a_29_february_from_turns_its_years_on_28_february(tmp_path):
    """From 2024-01-01 for 430 days (to 2025-03-06); the deal from 2024-02-29, 20 % of the first $20,000
    a year, then 10 %; $2,900 a month. Feb 29 2024 is one day, 100 (20); March to August 2,900 a month
    (580; running 17,500 at August's end); September 2,500 at 20 % and 400 at 10 %, 540; October to
    January 290. The year turns on 2025-02-28: Feb 1-27 at 10 % (2,900 x 27/28 x 0.1 = 279.64), Feb 28
    at 20 % (20.71); Mar 1-5 at 20 % (2,900 x 5/31 x 0.2 = 93.55)."""
    econ = {"period": "month", "compute": COMPUTE, "revenue": [{"name": "subs", "usd_per_month": 2900}],
            "agreements": [{"name": "deal", "rate": [{"up_to_usd": 20000, "rate": 0.2}, {"rate": 0.1}],
                            "base": ["subs"], "settle": "month", "from": "2024-02-29", "tier_period": "year"}]}
    out = run(tmp_path, scenario("leap", econ, duration="430d", start="2024-01-01"))
    feb = 2900 * 27 / 28 * 0.1 + 2900 / 28 * 0.2
    assert col(rows(out), "revenue_share_paid_usd")[:15] == pytest.approx(
        [0, 20] + [580] * 6 + [540] + [290] * 4 + [feb, 2900 * 5 / 31 * 0.2], abs=1e-6)


def test_year_two_of_a_deal_with_a_yearly_cap_a_minimum_and_a_second_stepped_agreement(tmp_path):
    """From 2025-01-01 for 120 days; ``deal`` began 2023-03-01, so the run starts in its second year
    (to Mar 1), in which $8,000 of base and $1,500 of cap went before the run. Brackets 20 % of the
    first $10,000 a year, then 10 %; cap $2,000 a year; minimum $650 a month.
    January: 2,000 at 20 % and 1,000 at 10 % = 500, all the cap leaves (2,000 - 1,500); its minimum's
    150 finds no room (capped). February: 0 paid, 650 owed, no room (capped). March 1 opens year 3:
    the brackets and the cap restart: March 600 and April 600, each 50 short of the minimum (paid).
    ``api`` (life, quarterly) pays 50 % of its first $1,500 and 25 % above: 500, 375, 250, 250; its
    reverse steps UP, 10 % of the partner's first $2,500 and 30 % above: 100, 100, 200, 300. Q1 nets
    1,125 - 400 = 725 paid; Q2 250 - 300: the partner pays 50."""
    econ = {"period": "month", "compute": COMPUTE,
            "revenue": [{"name": "subs", "usd_per_month": 3000}, {"name": "api", "usd_per_month": 1000},
                        {"name": "resale", "owner": "partner", "usd_per_month": 1000}],
            "agreements": [
                {"name": "deal", "rate": [{"up_to_usd": 10000, "rate": 0.2}, {"rate": 0.1}], "base": ["subs"],
                 "settle": "month", "from": "2023-03-01", "tier_period": "year", "base_used_usd": 8000,
                 "cap_usd": 2000, "cap_period": "year", "cap_used_usd": 1500, "minimum_usd": 650},
                {"name": "api", "rate": [{"up_to_usd": 1500, "rate": 0.5}, {"rate": 0.25}], "base": ["api"],
                 "settle": "quarter",
                 "reverse": {"rate": [{"up_to_usd": 2500, "rate": 0.1}, {"rate": 0.3}], "base": ["resale"]}}]}
    out = run(tmp_path, scenario("year2", econ, duration="120d"))
    sett = rows(out, "settlements.csv")
    deal = [s for s in sett if s["agreement"] == "deal"]
    assert [(s["period"], s["capped"]) for s in deal] == [
        ("2025-01", "True"), ("2025-02", "True"), ("2025-03", "False"), ("2025-04", "False")]
    assert col(deal, "forward_usd") == pytest.approx([500, 0, 600, 600], abs=1e-6)
    assert col(deal, "shortfall_usd") == pytest.approx([0, 0, 50, 50], abs=1e-6)
    api = [s for s in sett if s["agreement"] == "api"]
    assert col(api, "forward_usd") == pytest.approx([1125, 250], abs=1e-6)
    assert col(api, "reverse_usd") == pytest.approx([400, 300], abs=1e-6)
    assert col(api, "provider_net_usd") == pytest.approx([-725, 50], abs=1e-6)
    assert [s["cash_direction"] for s in api] == ["provider pays", "partner pays"]
    assert col(rows(out), "revenue_share_received_usd")[:4] == pytest.approx([100, 100, 200, 300], abs=1e-6)


def test_base_used_beyond_every_closed_bracket_pays_the_open_rate_from_the_first_dollar(tmp_path):
    """$9,000 counted before the run, past both edges ($5,000 and $8,000): every dollar pays the open
    bracket's 10 %, 300 a month of $3,000; the reverse, $2,600 used past its $2,500 edge, 30 % of the
    partner's $1,000, 300 a month: the two net to nothing."""
    econ = {"period": "month", "compute": COMPUTE,
            "revenue": [{"name": "subs", "usd_per_month": 3000},
                        {"name": "resale", "owner": "partner", "usd_per_month": 1000}],
            "agreements": [{"name": "deal", "base": ["subs"], "settle": "month", "base_used_usd": 9000,
                            "rate": [{"up_to_usd": 5000, "rate": 0.2}, {"up_to_usd": 8000, "rate": 0.15},
                                     {"rate": 0.1}],
                            "reverse": {"rate": [{"up_to_usd": 2500, "rate": 0.05}, {"rate": 0.3}],
                                        "base": ["resale"], "base_used_usd": 2600}}]}
    out = run(tmp_path, scenario("beyond", econ, duration="59d"))
    cf = rows(out)
    assert col(cf, "revenue_share_paid_usd")[:2] == pytest.approx([300, 300], abs=1e-6)
    assert col(cf, "revenue_share_received_usd")[:2] == pytest.approx([300, 300], abs=1e-6)
    assert col(rows(out, "settlements.csv"), "provider_net_usd") == pytest.approx([0, 0], abs=1e-6)


STEPPED = {"period": "month", "compute": COMPUTE, "revenue": [{"name": "subs", "usd_per_month": 3000}],
           "agreements": [{"name": "deal", "rate": [{"up_to_usd": 5000, "rate": 0.2}, {"rate": 0.1}],
                           "base": ["subs"], "settle": "quarter"}]}


def test_a_sweep_varies_one_bracket_s_rate_and_edge(tmp_path):
    """120 days of $3,000 a month ($12,000). 0.1 then 0.1 above $5,000: 1,200; 0.3 on the first
    $5,000: 1,500 + 700 = 2,200. Edge at 3,000: 600 + 900 = 1,500; at 6,000: 1,200 + 600 = 1,800."""
    path = write_scenario(tmp_path, scenario("sweep", STEPPED, duration="120d"), "sweep")
    paid = {}
    for knob, values in (("rate.0.rate", "0.1,0.3"), ("rate.0.up_to_usd", "3000,6000")):
        out = tmp_path / knob
        assert main(["sweep", str(path), "--grid", f"economics.agreements.0.{knob}={values}", "--out", str(out),
                     "--quiet", "--no-figures"]) == 0
        for p in rows(out, "sweep.csv"):
            paid[(knob, float(p[f"economics.agreements.0.{knob}"]))] = float(p["cashflow.revenue_share_paid"])
    assert paid == {("rate.0.rate", 0.1): pytest.approx(1200), ("rate.0.rate", 0.3): pytest.approx(2200),
                    ("rate.0.up_to_usd", 3000): pytest.approx(1500), ("rate.0.up_to_usd", 6000): pytest.approx(1800)}


@pytest.mark.parametrize("override, words", [
    ("economics.agreements.0.rate=20%",
     "economics.agreements.0.rate: must be a fraction in [0, 1] or a list of brackets such as "
     "[{up_to_usd: 1.0e9, rate: 0.2}, {rate: 0.15}] (got '20%'; 20 % is 0.2)"),
    ("economics.agreements.0.rate=null",
     "economics.agreements.0.rate: must be a fraction in [0, 1] or a list of brackets"),
    ("economics.agreements.0.rate=[0.2, 0.1]",
     "economics.agreements.0.rate: must be a fraction in [0, 1] or a list of brackets such as "
     "[{up_to_usd: 1.0e9, rate: 0.2}, {rate: 0.15}] (got 0.2 as bracket 0: each bracket is a mapping of "
     "up_to_usd and rate)"),
    ("economics.agreements.0.reverse={rate: [{up_to_usd: 10, rate: 0.1}, 0.2], base: [subs]}",
     "economics.agreements.0.reverse.rate: must be a fraction in [0, 1] or a list of brackets"),
])
def test_a_rate_in_neither_form_is_refused_saying_both(tmp_path, capsys, override, words):
    """A flat rate's old message ("must be a number") hid the brackets; a list of bare numbers said each
    was not a mapping, without saying what a bracket is."""
    path = write_scenario(tmp_path, scenario("bad", STEPPED, duration="30d"), "bad")
    assert main(["run", str(path), "--set", override, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = without_no_demand_warning(capsys.readouterr().err)
    assert f"{path}: {words}" in err
    assert err.count(f"{path}:") == 1


def test_the_analytic_runner_plans_by_cost_with_commits(tmp_path):
    """Erlang C at 10 req/s, 1 s of service, a mean wait of at most 0.1 s: 13 servers (test_planning's
    answer). The M/M/c model has no commits, so ranking by the compute with the commits' shortfalls
    gives the same answer at the same 13 GPU-hours x $1 (it was refused: no such key)."""
    base = {"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}}
    res = plan(base, ["fleet.pools.0.replicas=1..32"], constraints=["latency.queue.mean<=0.1"], executor="serial",
               objective="cost_with_commits", out=tmp_path / "plan", figures=False,
               runner=MMcRunner(service_s=1.0, duration_s=3600.0))
    assert res.objective == "cost.compute_with_commits_usd"
    assert res.best["fleet.pools.0.replicas"] == 13
    assert res.best["cost.compute_with_commits_usd.mean"] == pytest.approx(13.0)


def test_the_plan_s_answer_names_the_cost_it_ranked_by(tmp_path, capsys):
    """test_money_plan's plan: pool a at $2/GPU-hour under a $4-an-hour commit, pool b at $1; 2 of a and
    1 of b bill and pay $5 for the hour. The answer says so in words, over the window, as the default's
    "compute cost $4.00 for the simulated window" does."""
    econ = {"compute": [{"pool": "a", "usd_per_gpu_hour": 2.0}, {"pool": "b", "usd_per_gpu_hour": 1.0}],
            "commits": [{"name": "a_commit", "pool": "a", "commit_usd": 2976, "period": "month"}]}
    path = write_scenario(tmp_path, scenario("commit_plan", econ, duration="1h", pools=("a", "b")), "plan")
    assert main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1,2", "--vary", "fleet.pools.1.replicas=1,2",
                 "--constraint", "gpu_hours.provisioned>=3", "--objective", "cost_with_commits",
                 "--out", str(tmp_path / "out"), "--no-figures", "--quiet"]) == 0
    answer = " ".join(capsys.readouterr().out.split())
    assert ("cheapest meeting all constraints: fleet.pools.0.replicas=2, fleet.pools.1.replicas=1 (3 GPUs, "
            "$3,650/month; compute cost with the commits' shortfalls $5.00 for the simulated window)") in answer
