"""The money, audited through the command line against arithmetic worked by hand from the inputs.

Each scenario is written here from docs/economics.md alone and run with ``fleetsim run`` (and
``reprice`` / ``report``); every expected number is computed below from the scenario's own prices,
dates and GPU counts — and, for token revenue, from the tokens the simulator wrote to
``requests.csv.gz`` — never by calling the money layer. The workloads are bursts of fixed-size
requests at t = 0 on fixed fleets, so the GPU-hours are the fleet times the calendar.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from money_files import TOKENS, col as _money, rows as _rows, write_scenario


def _scenario(start: str, duration: str, economics: dict, replicas: int = 2, tp: int = 2, **over) -> dict:
    sc = {"name": "audit", "seed": 7, "start": start, "duration": duration, "warmup": 0, "model": "llama-3-8b",
          "workload": {"arrival": {"process": "burst", "count": 10, "at": 0}, **TOKENS},
          "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": replicas, "tensor_parallel": tp}]},
          "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "economics": economics,
          "metrics": {"interval": "1h"}}     # months of 10-second rows would be most of the time
    sc.update(over)
    return sc


def _run(tmp_path: Path, sc: dict, name: str = "run", sets: tuple[str, ...] = ()) -> Path:
    path = write_scenario(tmp_path, sc, name)
    out = tmp_path / name
    args = [a for s in sets for a in ("--set", s)]
    assert main(["run", str(path), *args, "--out", str(out), "--quiet", "--json", "--figures", "none"]) == 0
    return out


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _requests(folder: Path) -> list[dict]:
    with gzip.open(folder / "requests.csv.gz", "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def test_compute_revenue_and_unit_costs_across_leap_day_and_month_end(tmp_path):
    """4 GPUs at $2/h from 2024-02-28 for 3 days: Feb 28 and 29 (leap day) are 48 h = $384, Mar 1 is
    $192; token revenue is tokens x list prices from requests.csv; the unit costs divide by them."""
    api = {"name": "api", "usd_per_million_input_tokens": 1.5, "usd_per_million_output_tokens": 6.0,
           "usd_per_request": 0.01}
    out = _run(tmp_path, _scenario("2024-02-28", "3d", {"compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}],
                                                          "revenue": [api]}))
    rows, s = _rows(out), _summary(out)
    assert [r["period"] for r in rows] == ["2024-02", "2024-03"]
    assert [float(r["covered_s"]) for r in rows] == [2 * 86400, 86400]
    assert _money(rows, "compute_usd") == [4 * 48 * 2.0, 4 * 24 * 2.0]
    done = [r for r in _requests(out) if r["status"] == "completed"]
    tin, tout = sum(int(r["prompt_tokens"]) for r in done), sum(int(r["output_tokens"]) for r in done)
    assert len(done) == 10 and (tin, tout) == (10_000, 1_000)
    revenue = (tin * 1.5 + tout * 6.0) / 1e6 + len(done) * 0.01             # 0.015 + 0.006 + 0.1
    assert s["cashflow"]["revenue"] == pytest.approx(revenue, rel=1e-12)
    assert _money(rows, "revenue_usd") == [pytest.approx(0.121, abs=1e-6), 0.0]
    cost = s["cost"]
    assert cost["compute_usd"] == 576.0 and cost["gpu_hours_billed"] == 288.0
    assert cost["per_million_output_tokens"] == pytest.approx(576.0 / (tout / 1e6), rel=1e-12)
    assert cost["per_million_tokens"] == pytest.approx(576.0 / ((tin + tout) / 1e6), rel=1e-12)
    assert cost["per_request"] == pytest.approx(576.0 / 10, rel=1e-12)
    assert s["cashflow"]["net"] == pytest.approx(revenue - 576.0, rel=1e-12)


def test_tiers_fill_in_order_across_a_quarter_end(tmp_path):
    """Reserved 1 GPU at $1 (Mar 30 - Apr 1 inclusive), then spot up to 2 GPUs at $0.50, the rest
    on demand at $3, for 4 provisioned GPUs from 2024-03-29 for 5 days; Q1 holds Mar 29-31."""
    compute = [{"pool": "main", "tier": "reserved", "gpus": 1, "usd_per_gpu_hour": 1.0,
                "from": "2024-03-30", "until": "2024-04-01"},
               {"pool": "main", "tier": "spot", "gpus": 2, "usd_per_gpu_hour": 0.5},
               {"pool": "main", "tier": "on_demand", "usd_per_gpu_hour": 3.0}]
    out = _run(tmp_path, _scenario("2024-03-29", "5d", {"period": "quarter", "compute": compute}))
    rows = _rows(out)
    no_reservation = 24 * (2 * 0.5 + 2 * 3.0)            # a day of 4 GPUs: 2 spot + 2 on demand
    reserved = 24 * (1 * 1.0 + 2 * 0.5 + 1 * 3.0)        # a day with 1 reserved: 2 spot + 1 on demand
    assert [r["period"] for r in rows] == ["2024-Q1", "2024-Q2"]
    assert _money(rows, "compute_usd") == [no_reservation + 2 * reserved, reserved + no_reservation]
    assert _money(rows, "compute_reserved_usd") == [48.0, 24.0]
    assert _money(rows, "compute_spot_usd") == [3 * 24 * 2 * 0.5, 2 * 24 * 2 * 0.5]
    assert _money(rows, "compute_on_demand_usd") == [24 * 2 * 3 + 48 * 3, 24 * 3 + 24 * 2 * 3]
    billed = _summary(out)["cost"]["gpu_hours_billed_by_tier"]
    assert billed == {"reserved": 72.0, "spot": 240.0, "on_demand": 168.0}    # 480 = 4 GPUs x 120 h


DEAL = {
    "period": "month",
    "compute": [{"pool": "main", "usd_per_gpu_hour": 0.0}],
    "revenue": [{"name": "subs", "usd_per_month": 1000, "subscribers": 3, "growth_per_month": 0.1,
                 "from": "2024-01-15"},
                {"name": "resale", "owner": "partner", "usd_per_month": 500}],
    "agreements": [{"name": "share", "payer": "provider", "payee": "partner", "rate": 0.2, "base": ["subs"],
                    "reverse": {"rate": 0.1, "base": ["resale"]}, "settle": "quarter", "payment_lag": "45d",
                    "cap_usd": 1500}],
    "training": {"usd_per_month": 3100, "terms": {"invoice": "month", "net": "30d"}},
    "credits": [{"name": "c1", "usd": 5000, "applies_to": "training"}],
    "opening": [{"name": "rec", "kind": "receivable", "usd": 700, "due": "2024-02-10"},
                {"name": "pay", "kind": "payable", "usd": 250, "due": "2024-06-01"}],
}


def test_flat_lines_capped_netted_share_credits_terms_and_opening_balances(tmp_path):
    """120 days from 2024-01-01 (ends 2024-04-30 00:00, 29 of April's 30 days), worked by hand."""
    out = _run(tmp_path, _scenario("2024-01-01", "120d", DEAL, replicas=1, tp=1))
    rows, cf = _rows(out), _summary(out)["cashflow"]
    # subscriptions: 3 x $1000, +10 %/month from the month holding `from` (Jan 15: 17 of 31 days)
    subs = [3000 * 17 / 31, 3300.0, 3630.0, 3993 * 29 / 30]
    resale = [500.0, 500.0, 500.0, 500 * 29 / 30]
    fwd_uncapped = [0.2 * x for x in subs]
    fwd = [fwd_uncapped[0], fwd_uncapped[1], 1500 - fwd_uncapped[0] - fwd_uncapped[1], 0.0]   # cap hit in March
    rev = [0.1 * x for x in resale]
    training = [3100.0, 3100.0, 3100.0, 3100 * 29 / 30]
    credits = [3100.0, 1900.0, 0.0, 0.0]                         # $5,000 consumed in time order
    in_horizon = rows[:4]
    assert [r["period"] for r in rows] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06",
                                           "2024-08"]
    assert [r["after_horizon"] for r in rows] == ["False"] * 4 + ["True"] * 3
    for col, want in (("revenue_usd", subs), ("partner_revenue_usd", resale), ("revenue_share_paid_usd", fwd),
                      ("revenue_share_received_usd", rev), ("training_usd", training),
                      ("credits_applied_usd", credits)):
        assert _money(in_horizon, col) == pytest.approx(want, abs=1e-6), col
    net = [s - t + c - f + r for s, t, c, f, r in zip(subs, training, credits, fwd, rev)]
    assert _money(in_horizon, "net_usd") == pytest.approx(net, abs=1e-6)
    # settlements: quarter end (the midnight it ends at) + 45 days; Q1 nets 1500 - 150, Q2 is the partner's
    sett = _rows(out, "settlements.csv")
    assert [(r["period"], r["cash_date"], r["cash_direction"]) for r in sett] == [
        ("2024-Q1", "2024-05-16", "provider pays"), ("2024-Q2", "2024-08-15", "partner pays")]
    assert [float(r["net_usd"]) for r in sett] == pytest.approx([1500 - 150, -sum(rev[3:])], abs=1e-6)
    # cash: training invoiced monthly, paid net 30 (Jan: Mar 2, fully credited; Feb: Mar 31, 1200;
    # Mar: May 1 and Apr: May 31, both after the horizon), revenue as it accrues, the receivable on Feb 10
    assert _money(rows, "cash_training_usd") == pytest.approx([0, 0, 1200, 0, 3100 + training[3], 0, 0], abs=1e-6)
    assert _money(rows, "cash_opening_usd") == [0, 700, 0, 0, 0, -250, 0]
    assert _money(rows, "cash_revenue_share_paid_usd")[4] == pytest.approx(1350, abs=1e-6)
    assert _money(rows, "cash_revenue_share_received_usd")[6] == pytest.approx(rev[3], abs=1e-6)
    assert cf["cash_net"] == pytest.approx(sum(subs) + 700 - 1200, rel=1e-12)
    assert cf["net"] == pytest.approx(sum(net), rel=1e-12)
    assert cf["revenue_share_outstanding"] == pytest.approx(-(1350 - rev[3]), rel=1e-12)
    assert cf["payables_end"] == pytest.approx(3100 + training[3] + 250, rel=1e-12)
    assert cf["cash_net_after_all_lags"] == pytest.approx(sum(net) + 700 - 250, rel=1e-12)
    assert float(rows[-1]["cumulative_cash_usd"]) == pytest.approx(cf["cash_net_after_all_lags"], abs=1e-6)


@pytest.mark.parametrize("period", ["day", "week", "quarter", "year"])
def test_every_period_sums_to_the_same_totals(tmp_path, period):
    """Days, ISO weeks, quarters and a year of the same deal add up to the monthly statement."""
    month = _run(tmp_path, _scenario("2024-01-01", "120d", DEAL, replicas=1, tp=1), "month")
    other = _run(tmp_path, _scenario("2024-01-01", "120d", {**DEAL, "period": period}, replicas=1, tp=1), period)
    for col in ("revenue_usd", "training_usd", "credits_applied_usd", "revenue_share_paid_usd",
                "revenue_share_received_usd", "net_usd", "cash_net_usd"):
        a, b = _rows(month), _rows(other)
        assert sum(_money(b, col)) == pytest.approx(sum(_money(a, col)), abs=1e-6 * (len(a) + len(b))), col
    assert _summary(other)["cashflow"]["net"] == pytest.approx(_summary(month)["cashflow"]["net"], rel=1e-12)


def test_chargeback_sla_credit_and_revenue_lost(tmp_path):
    """Three classes; prompts of 3,000 tokens are rejected (max_model_len 2,048): they miss the SLO and
    are revenue lost; compute is split by each class's tokens; March served nothing (unallocated)."""
    classes = [
        {"name": "a", "arrival": {"process": "burst", "count": 10, "at": 0}, **TOKENS},
        {"name": "b", "arrival": {"process": "burst", "count": 30, "at": 0},
         "prompt_tokens": {"dist": "fixed", "value": 500}, "output_tokens": {"dist": "fixed", "value": 50}},
        {"name": "c", "arrival": {"process": "burst", "count": 8, "at": 0},
         "prompt_tokens": {"dist": "empirical", "values": [1500, 3000], "weights": [1, 1]},
         "output_tokens": {"dist": "fixed", "value": 100}}]
    api = {"name": "api", "usd_per_million_input_tokens": 1.5, "usd_per_million_output_tokens": 6.0,
           "usd_per_request": 0.01, "sla": {"attainment": 0.99, "credit_pct": 0.1}}
    sc = _scenario("2024-02-28", "3d", {"compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}], "revenue": [api]},
                   workload={"classes": classes})
    sc["fleet"]["pools"][0]["max_model_len"] = 2048
    out = _run(tmp_path, sc)
    reqs, cf = _requests(out), _summary(out)["cashflow"]
    done = [r for r in reqs if r["status"] == "completed"]
    lost = [r for r in reqs if r["status"] == "rejected"]
    assert len(done) + len(lost) == 48 and lost and all(r["prompt_tokens"] == "3000" for r in lost)

    def earns(r):
        return (int(r["prompt_tokens"]) * 1.5 + int(r["output_tokens"]) * 6.0) / 1e6 + 0.01
    revenue = sum(earns(r) for r in done)
    assert cf["revenue"] == pytest.approx(revenue, rel=1e-12)
    assert cf["revenue_lost"] == pytest.approx(sum(earns(r) for r in lost), rel=1e-12)
    assert cf["requests_lost"] == len(lost)
    # attainment: completed within the SLO over completed + rejected; below 0.99 owes 10 % of February
    (sla,) = cf["sla_periods"]
    assert sla["attainment"] == pytest.approx(len(done) / 48, rel=1e-12)
    assert cf["sla_credits"] == pytest.approx(0.1 * revenue, rel=1e-12)
    assert cf["net"] == pytest.approx(revenue - 576.0 - 0.1 * revenue, rel=1e-12)
    work = {k: sum(int(r["prompt_tokens"]) + int(r["output_tokens"]) for r in done if r["class"] == k)
            for k in "abc"}
    cb = cf["chargeback"]
    for k in "abc":
        assert cb["classes"][k]["compute_cost"] == pytest.approx(384.0 * work[k] / sum(work.values()), rel=1e-12)
        assert cb["classes"][k]["revenue"] == pytest.approx(sum(earns(r) for r in done if r["class"] == k),
                                                            rel=1e-12)
    assert cb["compute_cost_unallocated"] == 192.0


def test_energy_is_watts_times_pue_times_hours_at_the_hour_s_tariff(tmp_path):
    """4 GPUs at 500 W (idle = peak), PUE 1.2: 2.4 kW for 72 h = 172.8 kWh; a day costs 18 h at
    $0.10 and 6 h (14-20 UTC) at $0.30 per kWh."""
    energy = {"owned": ["main"], "usd_per_kwh": 0.1, "pue": 1.2, "kg_co2e_per_kwh": 0.37,
              "tariff": [{"from_hour": 14, "to_hour": 20, "usd_per_kwh": 0.3}],
              "pools": {"main": {"idle_w": 500, "peak_w": 500}}}
    out = _run(tmp_path, _scenario("2024-02-28", "3d", {"compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}],
                                                          "energy": energy}))
    s = _summary(out)
    day = 2.4 * (18 * 0.1 + 6 * 0.3)
    assert s["cost"]["energy"]["kwh"] == pytest.approx(172.8, rel=1e-12)
    assert s["cost"]["energy"]["tco2e"] == pytest.approx(172.8 * 0.37 / 1000, rel=1e-12)
    assert _money(_rows(out), "energy_usd") == pytest.approx([2 * day, day], abs=1e-6)
    assert s["cashflow"]["net"] == pytest.approx(-576.0 - 3 * day, rel=1e-12)


def test_billing_granularity_and_the_documented_npv(tmp_path):
    """90 minutes at hour granularity bill 2 h per GPU; a year of $1/h at 10 % is worth −$8,355.5."""
    out = _run(tmp_path, _scenario("2024-02-28", "90m", {"compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}],
                                                           "billing_granularity": "hour"}), "hour")
    cost = _summary(out)["cost"]
    assert (cost["gpu_hours_provisioned"], cost["gpu_hours_billed"], cost["compute_usd"]) == (6.0, 8.0, 16.0)
    year = _run(tmp_path, _scenario("2025-01-01", "365d", {"compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
                                                             "discount_rate": 0.1}, replicas=1, tp=1), "year")
    npv = -8760 * (1 - 1.1 ** -1) / math.log(1.1)
    assert _summary(year)["cashflow"]["npv_usd"] == pytest.approx(npv, rel=1e-12)
    assert round(npv, 1) == -8355.5


def test_cents_round_half_away_from_zero(tmp_path):
    """10 requests at $0.1005 earn $1.005, shown as 1.01 with rounding: cents; the summary stays exact."""
    econ = {"rounding": "cents", "compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}],
            "revenue": [{"name": "api", "usd_per_request": 0.1005}]}
    out = _run(tmp_path, _scenario("2024-02-28", "3d", econ))
    assert [r["revenue_usd"] for r in _rows(out)] == ["1.010000", "0.000000"]
    assert _summary(out)["cashflow"]["revenue"] == pytest.approx(1.005, rel=1e-12)


def test_reprice_moves_money_by_the_hand_computed_difference_and_leaves_the_run(tmp_path, capsys):
    api = {"name": "api", "usd_per_million_input_tokens": 1.5, "usd_per_million_output_tokens": 6.0,
           "usd_per_request": 0.01}
    out = _run(tmp_path, _scenario("2024-02-28", "3d", {"compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}],
                                                          "revenue": [api]}))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
    assert main(["reprice", str(out), "--set", "economics.compute.0.usd_per_gpu_hour=3.25",
                 "--set", "economics.revenue.0.usd_per_request=0.02", "--out", str(tmp_path / "re"),
                 "--quiet", "--json"]) == 0
    capsys.readouterr()
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()} == before
    a, b = _summary(out), _summary(tmp_path / "re")
    assert b["cost"]["compute_usd"] - a["cost"]["compute_usd"] == 288 * (3.25 - 2.0)
    assert b["cashflow"]["revenue"] - a["cashflow"]["revenue"] == pytest.approx(10 * 0.01, rel=1e-12)
    assert b["latency"] == a["latency"] and b["requests"] == a["requests"]


@pytest.mark.parametrize("override, line", [
    ("economics.compute.0.usd_per_gpu_hour=-1", "economics.compute.0.usd_per_gpu_hour: must be >= 0 (got -1)"),
    ("economics.agreements=[{payer: provider, payee: partner, rate: 1.5, base: [api]}]",
     "economics.agreements.0.rate: must be <= 1 (got 1.5)"),
    ("economics.currency=EUR", "economics.currency: must be USD: every price and amount is in US dollars"),
    ("economics.revenue.0.price=2", "economics.revenue.0.price: unknown key 'price'"),
    ("economics.revenue=[{name: api, usd_per_request: 1, until: 2024-03-01}, {name: api, usd_per_request: 2, "
     "from: 2024-02-29}]", "economics.revenue.1.name: line 'api' is defined twice (revenue.0) with overlapping"),
    ("economics.energy={owned: [main], tariff: [{from_hour: 10, to_hour: 14, usd_per_kwh: 1}, "
     "{from_hour: 12, to_hour: 16, usd_per_kwh: 2}]}",
     "economics.energy.tariff.1: hours 12-16 overlap tariff.0 (10-14)"),
])
def test_bad_money_input_names_file_and_field_with_exit_2(tmp_path, capsys, override, line):
    path = tmp_path / "bad.yaml"
    econ = {"compute": [{"pool": "main", "usd_per_gpu_hour": 2.0}], "revenue": [{"name": "api", "usd_per_request": 1}]}
    path.write_text(yaml.safe_dump(_scenario("2024-02-28", "3d", econ)))
    capsys.readouterr()
    assert main(["run", str(path), "--set", override, "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {line}" in err
    # a refused compute price is not also reported as a pool without one (an echo of the same field)
    assert "have no compute price" not in err


def test_report_statement_shows_every_cost_its_net_subtracts(tmp_path, capsys):
    """The page's statement has training and credits columns when the deal has them, so each row's
    net (accrual) adds up from the row, and marks the rows after the horizon as cash only."""
    import html as html_lib
    import re

    out = _run(tmp_path, _scenario("2024-01-01", "120d", DEAL, replicas=1, tp=1))
    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text()
    section = page[page.index("<h2>Statement per month</h2>"):]
    section = section[:section.index("</table>")]
    head = re.findall(r"<th>(.*?)</th>", section)
    assert head == ["period", "revenue", "compute", "training", "credits", "share paid", "share received",
                    "net share", "net (accrual)", "net (cash)", "cumulative cash"]
    assert "net (accrual) = revenue − compute − training + credits + net share" in html_lib.unescape(section)
    body = [re.findall(r"<td>(.*?)</td>", r) for r in section.split("<tr>")[2:]]

    def usd(cell: str) -> float:      # (a row after the horizon leaves its accrual cells blank: nothing accrues)
        return float(html_lib.unescape(cell).replace("$", "").replace(",", "") or 0.0)
    for cells in body:
        v = dict(zip(head[1:], map(usd, cells[1:])))
        assert v["revenue"] - v["compute"] - v["training"] + v["credits"] + v["net share"] == pytest.approx(
            v["net (accrual)"], abs=0.011), cells[0]
    assert [html_lib.unescape(c[0]) for c in body][3:] == ["2024-04 (partial)", "2024-05 after the end †",
                                                          "2024-06 after the end †", "2024-08 after the end †"]
    assert all(c[1:-2] == [""] * (len(head) - 3) and c[-2] and c[-1] for c in body[4:])   # their cash only
    assert "Rows labelled “after the end †” fall after the horizon" in html_lib.unescape(section)
    # the metrics table lists every term of the run's net, so it adds up there too
    metrics = page[page.index("<h2>Metrics</h2>"):]
    metrics = dict(re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>", metrics[:metrics.index("</table>")]))
    m = {k: usd(v) for k, v in metrics.items() if html_lib.unescape(v).lstrip("-").startswith("$")}
    assert m["revenue"] - m["compute cost (ledger)"] - m["revenue share paid"] + m["revenue share received"] \
        - m["training cost"] + m["credits applied"] == pytest.approx(m["net (accrual)"], abs=0.011)
    assert "energy cost (owned pools)" not in m and "SLA credits owed" not in m     # zero: not shown


def test_irr_npv_and_payback_of_a_payable_repaid_by_a_flat_line(tmp_path):
    """$1,000 paid at t = 0, then $100 a month spread over each calendar month of 2025: the IRR is
    the rate at which the closed-form present values (docs' NPV convention) sum to zero, solved here
    by bisection; cumulative cash reaches 0 at the end of October."""
    import datetime as dt

    econ = {"compute": [{"pool": "main", "usd_per_gpu_hour": 0.0}], "discount_rate": 0.05,
            "revenue": [{"name": "s", "usd_per_month": 100}],
            "opening": [{"name": "o", "kind": "payable", "usd": 1000, "due": "2025-01-01"}]}
    out = _run(tmp_path, _scenario("2025-01-01", "365d", econ, replicas=1, tp=1))
    cf = _summary(out)["cashflow"]
    t0 = dt.date(2025, 1, 1)
    months = [((dt.date(2025, m, 1) - t0).days / 365, (dt.date(2025 + m // 12, m % 12 + 1, 1) - t0).days / 365)
              for m in range(1, 13)]

    def npv(r: float) -> float:
        v = lambda t: (1 + r) ** -t    # noqa: E731
        return -1000 + sum(100 * (v(a) - v(b)) / (math.log(1 + r) * (b - a)) for a, b in months)
    lo, hi = 0.01, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if npv(mid) > 0 else (lo, mid)
    assert cf["npv_usd"] == pytest.approx(npv(0.05), rel=1e-12)
    assert cf["irr"] == pytest.approx(lo, rel=1e-9)
    assert (cf["payback_period"], cf["payback_end"]) == ("2025-10", "2025-11-01")
    assert sum(_money(_rows(out), "pv_cash_usd")) == pytest.approx(npv(0.05), abs=1e-5)


def test_price_change_regimes_window_cut_settlements_and_compute_credits_on_quarterly_terms(tmp_path):
    """A line re-priced on Feb 15; a two-way share until Mar 15, then one-way with a $500 cap; a
    $1,000 compute credit from Feb 1 on compute invoiced quarterly, net 10 days; 200 days of 2024."""
    econ = {"period": "quarter",
            "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0, "terms": {"invoice": "quarter", "net": "10d"}}],
            "revenue": [{"name": "subs", "usd_per_month": 1000, "until": "2024-02-14"},
                        {"name": "subs", "usd_per_month": 2000, "from": "2024-02-15"},
                        {"name": "resale", "owner": "partner", "usd_per_month": 400}],
            "agreements": [{"name": "both", "payer": "provider", "payee": "partner", "rate": 0.2, "base": ["subs"],
                            "reverse": {"rate": 0.2, "base": ["resale"]}, "settle": "month", "payment_lag": "0d",
                            "until": "2024-03-15"},
                           {"name": "oneway", "payer": "provider", "payee": "partner", "rate": 0.2,
                            "base": ["subs"], "settle": "month", "payment_lag": "0d", "from": "2024-03-16",
                            "cap_usd": 500}],
            "credits": [{"name": "cc", "usd": 1000, "applies_to": "compute", "from": "2024-02-01"}]}
    out = _run(tmp_path, _scenario("2024-01-01", "200d", econ, replicas=1, tp=1))
    rows = _rows(out)
    feb = 1000 * 14 / 29 + 2000 * 15 / 29
    assert _money(rows, "revenue_usd")[:3] == pytest.approx([1000 + feb + 2000, 6000, 2000 * 18 / 31], abs=1e-6)
    sett = [(r["agreement"], r["period"], round(float(r["forward_usd"]), 6), round(float(r["reverse_usd"]), 6),
             r["cash_date"]) for r in _rows(out, "settlements.csv")]
    assert sett[:5] == [
        ("both", "2024-01", 200.0, 80.0, "2024-02-01"),
        ("both", "2024-02", round(0.2 * feb, 6), 80.0, "2024-03-01"),
        ("both", "2024-03", round(0.2 * 2000 * 15 / 31, 6), round(0.2 * 400 * 15 / 31, 6), "2024-04-01"),
        ("oneway", "2024-03", round(0.2 * 2000 * 16 / 31, 6), 0.0, "2024-04-01"),
        ("oneway", "2024-04", round(500 - 0.2 * 2000 * 16 / 31, 6), 0.0, "2024-05-01")]
    assert all(f == 0 for _, _, f, _, _ in sett[5:])
    q1, q2, q3 = 91 * 24 * 1.0, 91 * 24 * 1.0, 18 * 24 * 1.0
    assert _money(rows, "compute_usd") == [q1, q2, q3, 0.0]
    assert _money(rows, "credits_applied_usd") == [1000.0, 0.0, 0.0, 0.0]
    # each quarter's invoice is paid 10 days after the quarter ends, net of the credit
    assert _money(rows, "cash_compute_usd") == [0.0, q1 - 1000, q2, q3]
    assert rows[3]["after_horizon"] == "True"


def test_the_monthly_bill_is_one_month_in_the_verdict_and_the_planner(tmp_path, capsys):
    """4 GPUs at $2/h are $8/h: $5,840 a month of 365 x 24 / 12 = 730 h, in the run's verdict and in
    a sweep's ``$/month`` alike (the planner used 30.4-day months, $5,836.80, beside the verdict's)."""
    from sim.planning.planner import planner_values

    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(_scenario("2024-02-28", "3d", {"compute": [{"pool": "main",
                                                                              "usd_per_gpu_hour": 2.0}]})))
    capsys.readouterr()
    assert main(["run", str(path), "--out", str(tmp_path / "m"), "--figures", "none"]) == 0
    assert "compute $576.00 for 3 d, about $5,840 per month" in " ".join(capsys.readouterr().out.split())
    s = _summary(tmp_path / "m")
    row = {"simulated_seconds.mean": s["simulated_seconds"], "gpu_hours.provisioned.mean": s["gpu_hours"]["provisioned"],
           "cost.compute_usd.mean": s["cost"]["compute_usd"]}
    assert planner_values(row)["$/month"] == pytest.approx(8.0 * 730, rel=1e-12)


def test_lagged_cash_after_the_horizon_is_discounted_as_a_lump_sum_on_its_day(tmp_path):
    """At 10 % a year (Actual/365 from 2024-01-01): May's cash is March's training invoice (paid May 1,
    day 121), the Q1 settlement (May 16, day 136) and April's invoice (May 31, day 151)."""
    out = _run(tmp_path, _scenario("2024-01-01", "120d", {**DEAL, "discount_rate": 0.1}, replicas=1, tp=1))
    rows = {r["period"]: float(r["pv_cash_usd"]) for r in _rows(out)}
    v = lambda day: 1.1 ** (-day / 365)    # noqa: E731
    assert rows["2024-05"] == pytest.approx(-3100 * v(121) - 1350 * v(136) - 3100 * 29 / 30 * v(151), abs=1e-6)
    assert rows["2024-06"] == pytest.approx(-250 * v(152), abs=1e-6)
    assert rows["2024-08"] == pytest.approx(0.1 * 500 * 29 / 30 * v(227), abs=1e-6)
