"""The demand-driven provider-partner scenario (`scenarios/provider_partner_derived.yaml`).

Fast tests run a short window with a coarse capacity curve and check the run against arithmetic
done by hand from the file's published inputs (arrivals from the diurnal, growing rate; compute
at $1.30 per provisioned GPU-hour; a prorated subscription month; 20 % of revenue). The slow test
runs the whole horizon and pins the figures `docs/economics.md` reports.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

import sim
from sim.economics import EconomicsWarning
from sim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "provider_partner_derived.yaml"
MONTH_S = 30.4375 * 86400
# A coarse curve keeps the measurement to seconds; the money arithmetic below does not depend on it.
# Its saturation throughput is measured over 3,000 completions: over 300 it read 25 % low, and a
# saturated pool's load factor (what the autoscaler reads) then stays below a 0.9 target, so
# the fluid autoscaler, like the request-level one, could not scale the pool up at all.
QUICK = ["duration=7d", "fluid.grid=[0.1,0.4,0.7,0.9,1.0]", "fluid.calibration_duration=60",
         "fluid.calibration_requests=3000"]


def test_loads_and_validates_without_problems_or_warnings(recwarn):
    loaded = load_scenario(SCENARIO)
    assert loaded.scenario.fidelity == "fluid"
    assert loaded.scenario.duration == 639 * 86400                 # Jan 1 2024 .. Sep 30 2025
    pool = loaded.scenario.fleet.pools[0]
    assert pool.autoscale is not None and pool.scale == 1.0         # sized by the autoscaler, not by `scale`
    assert [w for w in recwarn if issubclass(w.category, EconomicsWarning)] == []


def test_shares_and_rates_follow_from_the_commented_figures():
    raw = yaml.safe_load(SCENARIO.read_text())
    wl = raw["workload"]
    chat, api = wl["classes"]
    assert chat["share"] + api["share"] == pytest.approx(1.0, abs=1e-4)
    # 6e9 API tokens/min (Oct 6 2025) back-cast to Jan 1 2024 at the growth, over 2,250 tokens per request
    months = (644 - 0) / 30.4375                                     # Jan 1 2024 -> Oct 6 2025 is 644 days
    api_rps = 6e9 / 60 / (1 + wl["growth"]["monthly"]) ** months / (
        api["prompt_tokens"]["mean"] + api["output_tokens"]["mean"])
    assert wl["arrival"]["mean_rate"] * api["share"] == pytest.approx(api_rps, rel=2e-3)
    # growth: 100M -> 800M weekly users from Nov 6 2023 to Oct 6 2025 (700 days)
    assert wl["growth"]["monthly"] == pytest.approx(8 ** (30.4375 / 700) - 1, abs=1e-4)


@pytest.fixture(scope="module")
def week():
    # a week is shorter than the 45-day settlement lag: validation says so, and the run goes on
    with pytest.warns(EconomicsWarning, match="payment_lag"):
        return sim.run(SCENARIO, overrides=QUICK)


def test_short_window_runs_and_the_money_is_the_hand_worked_arithmetic(week):
    s, cf = week.summary, week.summary["cashflow"]
    raw = yaml.safe_load(SCENARIO.read_text())
    arr, g = raw["workload"]["arrival"], raw["workload"]["growth"]["monthly"]
    horizon = 7 * 86400
    # expected arrivals: mean rate x the growth integral (whole days of the cosine average to 1;
    # the product with the slow exponential moves it by well under 0.1 %)
    growth_integral = MONTH_S / math.log1p(g) * ((1 + g) ** (horizon / MONTH_S) - 1)
    assert s["requests"]["arrived"] == pytest.approx(arr["mean_rate"] * growth_integral, rel=1e-3)
    assert s["requests"]["completed"] == pytest.approx(s["requests"]["arrived"], rel=1e-3)
    # compute: $1.30 per provisioned GPU-hour, busy or idle
    assert cf["compute_cost"] == pytest.approx(1.30 * s["gpu_hours"]["provisioned"], rel=1e-9)
    # subscriptions: 5.9M x $20, 7 of January's 31 days
    assert cf["revenue_by_line"]["chatgpt"] == pytest.approx(20.0 * 5.9e6 * 7 / 31, rel=1e-9)
    # the API line earns GPT-4o-mini list prices ($0.15 / $0.60 per million) on the served tokens
    api = s["classes"]["api"]["throughput"]
    tokens_usd = (0.15 * api["input_tokens_per_s"] + 0.60 * api["output_tokens_per_s"]) * horizon / 1e6
    assert cf["revenue_by_line"]["api"] == pytest.approx(tokens_usd, rel=1e-6)
    # the forward share is 20 % of all provider revenue, nothing comes back (no reverse base)
    assert cf["revenue_share_paid"] == pytest.approx(0.2 * cf["revenue"], rel=1e-9)
    assert cf["revenue_share_received"] == 0


def test_the_autoscaler_follows_the_daily_cycle(week):
    replicas = week.timeseries[:, 2].astype(float)             # time_s, pool, replicas, ...
    # peak-to-trough 2 in demand: the hourly fleet size swings by close to that factor
    assert replicas.max() / replicas.min() == pytest.approx(2.0, rel=0.15)


@pytest.mark.slow
def test_whole_horizon_gives_the_documented_figures():
    r = sim.run(SCENARIO)
    rows = {row["period"]: row for row in r.economics.statement}
    spend_2024 = sum(rows[f"2024-Q{q}"]["compute_usd"] for q in range(1, 5))
    spend_2025 = sum(rows[f"2025-Q{q}"]["compute_usd"] for q in range(1, 4))
    share_2024 = sum(rows[f"2024-Q{q}"]["revenue_share_paid_usd"] for q in range(1, 5))
    share_2025 = sum(rows[f"2025-Q{q}"]["revenue_share_paid_usd"] for q in range(1, 4))
    # docs/economics.md, "The story, derived"
    assert spend_2024 == pytest.approx(DOC["spend_2024"], rel=5e-3)
    assert spend_2025 == pytest.approx(DOC["spend_2025"], rel=5e-3)
    assert share_2024 == pytest.approx(DOC["share_2024"], rel=5e-3)
    assert share_2025 == pytest.approx(DOC["share_2025"], rel=5e-3)
    assert r.summary["slo"]["attainment"] >= 0.99


# the derived figures in docs/economics.md ("The story, derived"), accrual basis
DOC = {"spend_2024": 431.9e6, "spend_2025": 814.2e6, "share_2024": 521.0e6, "share_2025": 988.0e6}
