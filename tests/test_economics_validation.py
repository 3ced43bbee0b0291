"""Bad economics input gives a clear (field_path, message) problem or a warning."""
from __future__ import annotations

import datetime as dt
import warnings

import pytest

from sim.economics import EconomicsWarning, evaluate, parse_economics, validate
from sim.economics.synthetic import usage_from_rows
from sim.errors import ScenarioError

JAN1 = dt.date(2025, 1, 1)
DAY = 86400.0
LINES = [{"name": "api", "usd_per_million_output_tokens": 10.0},
         {"name": "resale", "usd_per_month": 1.0e6, "owner": "partner"}]


def problems_of(block) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as exc:
        parse_economics(block)
    return exc.value.problems


def test_negative_price_names_the_field_and_the_value():
    (p,) = problems_of({"compute": [{"pool": "main", "usd_per_gpu_hour": -1}]})
    assert p == ("economics.compute.0.usd_per_gpu_hour", "must be >= 0 (got -1)")


def test_rate_outside_unit_interval():
    (p,) = problems_of({"revenue": LINES, "agreements": [{"rate": 1.5, "base": ["api"]}]})
    assert p == ("economics.agreements.0.rate", "must be a fraction in [0, 1] (got 1.5)")
    (q,) = problems_of({"revenue": LINES, "agreements": [{"rate": 0.2, "base": ["api"],
                                                          "reverse": {"rate": -0.1, "base": ["resale"]}}]})
    assert q[0] == "economics.agreements.0.reverse.rate" and "[0, 1]" in q[1]


def test_unknown_key_period_and_missing_reservation_size():
    assert problems_of({"gpu_hour_usd": 1, "perod": "month"})[0][0] == "economics.perod"
    (p,) = problems_of({"period": "fortnight"})
    assert p[0] == "economics.period" and "'month'" in p[1] and "fortnight" in p[1]
    (r,) = problems_of({"compute": [{"pool": "main", "tier": "reserved", "usd_per_gpu_hour": 2}]})
    assert r == ("economics.compute.0.gpus", "is required for a reserved tier (the committed GPU count)")


def test_bad_duration_and_reversed_window():
    (p,) = problems_of({"revenue": LINES, "agreements": [{"rate": 0.2, "base": ["api"],
                                                          "payment_lag": "soon"}]})
    assert p[0] == "economics.agreements.0.payment_lag" and "'45d'" not in p[1] and "7d" in p[1]
    (q,) = problems_of({"training": {"usd_per_month": 1, "from": "2025-03-01", "until": "2025-02-01"}})
    assert q == ("economics.training.until", "must not be before from (got from 2025-03-01, until 2025-02-01)")


def test_unknown_pool_is_a_problem_with_the_known_pools_listed():
    cfg = parse_economics({"gpu_hour_usd": 2, "compute": [{"pool": "main", "usd_per_gpu_hour": 1},
                                       {"pool": "mian", "usd_per_gpu_hour": 1}]})
    assert validate(cfg, ["main", "decode"], DAY, JAN1) == [
        ("economics.compute.1.pool", "unknown pool 'mian' (pools: main, decode)")]


def test_unknown_revenue_line_in_base_and_reverse_base():
    cfg = parse_economics({"gpu_hour_usd": 1, "revenue": LINES, "agreements": [
        {"rate": 0.2, "base": ["api", "subscriptions"], "reverse": {"rate": 0.2, "base": ["resales"]}}]})
    probs = validate(cfg, ["main"], DAY, JAN1)
    assert probs == [("economics.agreements.0.base.1", "unknown revenue line 'subscriptions' (lines: api, resale)"),
                     ("economics.agreements.0.reverse.base.0", "unknown revenue line 'resales' (lines: api, resale)")]
    with pytest.raises(ScenarioError) as exc:       # evaluate refuses the same config
        evaluate(cfg, JAN1, usage_from_rows(DAY))
    assert exc.value.problems[0][0] == "economics.agreements.0.base.1"


def test_credit_for_training_without_a_training_line():
    cfg = parse_economics({"credits": [{"name": "c", "usd": 10}]})
    assert validate(cfg, [], DAY, JAN1)[0][0] == "economics.credits.0.applies_to"


def test_overlapping_same_name_lines_are_a_problem():
    cfg = parse_economics({"revenue": [{"name": "api", "usd_per_month": 1},
                                       {"name": "api", "usd_per_month": 2, "from": "2025-01-10"}]})
    assert validate(cfg, [], 30 * DAY, JAN1)[0][0] == "economics.revenue.1.name"


def test_lag_longer_than_horizon_warns():
    cfg = parse_economics({"gpu_hour_usd": 1, "revenue": LINES, "agreements": [
        {"rate": 0.2, "base": ["api"], "payment_lag": "45d"}]})
    with pytest.warns(EconomicsWarning, match="payment_lag.*longer than the simulated horizon"):
        assert validate(cfg, ["main"], 7 * DAY, JAN1) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(cfg, ["main"], 60 * DAY, JAN1)     # 45 days inside 60: silent


def test_unpriced_pool_and_window_after_horizon_warn():
    cfg = parse_economics({"training": {"usd_per_month": 1, "from": "2026-01-01"},
                           "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}]})
    with pytest.warns(EconomicsWarning) as rec:
        validate(cfg, ["main", "spare"], DAY, JAN1)
    text = " ".join(str(w.message) for w in rec)
    assert "no compute price" in text and "never applies" in text


def test_workload_revenue_line_missing_from_economics():
    cfg = parse_economics({"gpu_hour_usd": 1, "revenue": LINES})
    assert validate(cfg, ["main"], DAY, JAN1, revenue_lines=["api", "chat"]) == [
        ("economics.revenue", "the workload names revenue line 'chat', which is not defined here "
                              "(lines: api, resale)")]
    with pytest.warns(EconomicsWarning, match="names revenue line 'chat' but no line is defined: the run books no revenue"):
        assert validate(parse_economics({"gpu_hour_usd": 1}), ["main"], DAY, JAN1, revenue_lines=["chat"]) == []


def test_an_empty_economics_block_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate(parse_economics({}), ["main"], DAY, JAN1) == []


def test_a_line_listed_twice_in_a_base_is_a_problem_not_a_doubled_share():
    cfg = parse_economics({"gpu_hour_usd": 1, "revenue": LINES, "agreements": [
        {"rate": 0.2, "base": ["api", "api"], "reverse": {"rate": 0.2, "base": ["resale", "resale"]}}]})
    probs = validate(cfg, ["main"], DAY, JAN1)
    assert [p for p, _ in probs] == ["economics.agreements.0.base.1", "economics.agreements.0.reverse.base.1"]
    assert "'api' is listed twice (also base.0)" in probs[0][1]
    with pytest.raises(ScenarioError):           # evaluate refuses it rather than paying 40 %
        evaluate(cfg, JAN1, usage_from_rows(DAY))


def test_validate_command_refuses_a_doubled_base(capsys):
    from pathlib import Path

    from sim.cli import main

    path = Path(__file__).resolve().parents[1] / "scenarios" / "provider_partner_2024.yaml"
    assert main(["validate", str(path), "--set", "economics.agreements.0.base=[chatgpt, chatgpt]"]) == 2
    assert "economics.agreements.0.base.1: revenue line 'chatgpt' is listed twice" in capsys.readouterr().err


def test_opening_balance_before_start_and_compute_credits_on_mixed_terms():
    cfg = parse_economics({"opening": [{"name": "x", "kind": "payable", "usd": 1, "due": "2024-12-31"}]})
    assert validate(cfg, [], DAY, JAN1) == [
        ("economics.opening.0.due", "2024-12-31 is before start 2025-01-01; an opening balance is settled "
                                    "on or after t = 0")]
    cfg = parse_economics({"compute": [{"pool": "main", "usd_per_gpu_hour": 1, "gpus": 2, "terms": {"net": "30d"}},
                                       {"pool": "main", "tier": "spot", "usd_per_gpu_hour": 1}],
                           "credits": [{"name": "c", "usd": 5, "applies_to": "compute"}]})
    assert validate(cfg, ["main"], DAY, JAN1)[0][0] == "economics.credits.0.applies_to"
    (p,) = problems_of({"compute": [{"pool": "main", "usd_per_gpu_hour": 1, "terms": {"invoice": "fortnight"}}]})
    assert p[0] == "economics.compute.0.terms.invoice"


def test_energy_for_an_unknown_pool_is_a_problem():
    cfg = parse_economics({"energy": {"owned": ["mian"], "pools": {"decode": {"idle_w": 50}}}})
    assert [p for p, _ in validate(cfg, ["main"], DAY, JAN1)] == ["economics.energy.owned.0",
                                                                  "economics.energy.pools.decode"]
    (p,) = problems_of({"energy": {"tariff": [{"from_hour": 7, "to_hour": 7, "usd_per_kwh": 0.1}]}})
    assert p == ("economics.energy.tariff.0.to_hour", "must be after from_hour (got 7-7)")


def test_sla_on_a_partner_line_is_a_problem():
    cfg = parse_economics({"revenue": [{"name": "resale", "usd_per_month": 1, "owner": "partner",
                                        "sla": {"attainment": 0.99, "credit_pct": 0.1}}]})
    assert validate(cfg, [], DAY, JAN1)[0][0] == "economics.revenue.0.sla"


@pytest.mark.parametrize("raw,path,message", [
    ({"revenue": LINES, "agreements": [{"rate": 0.2, "base": ["api"], "payment_lag": -86400}]},
     "economics.agreements.0.payment_lag", "must be >= 0 (got -86400 s)"),
    ({"revenue": LINES, "agreements": [{"rate": 0.2, "base": ["api"], "payer": "partner", "payee": "partner"}]},
     "economics.agreements.0.payee", "must differ from payer (got both partner)"),
    ({"compute": [{"pool": "main", "usd_per_gpu_hour": 1, "preemption_rate_per_hour": 0.5}]},
     "economics.compute.0.preemption_rate_per_hour", "applies to tier spot only (got tier on_demand)"),
    ({"revenue": [{"name": "seats", "usd_per_request": 1, "subscribers": 10}]},
     "economics.revenue.0.subscribers", "needs usd_per_month (the price per subscriber per month)"),
    ({"revenue": [{"name": "api", "usd_per_request": 1, "terms": {"net": -60}}]},
     "economics.revenue.0.terms.net", "must be >= 0 (got -60 s)"),
])
def test_checks_across_fields_name_the_field_in_the_path_not_the_message(raw, path, message):
    assert problems_of(raw) == [(path, message)]
