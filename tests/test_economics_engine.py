"""The engine hands the money layer the usage it promised: provisioned GPUs x time x price, and
revenue from completed requests' tokens, scaled by the pool's shard factor."""
from __future__ import annotations

from pathlib import Path

import pytest

import sim

BASE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def runs():
    common = ["duration=2m", "warmup=0", "economics.gpu_hour_usd=2.5",
              'economics.revenue=[{"name": "api", "usd_per_million_input_tokens": 2.5, '
              '"usd_per_million_output_tokens": 10.0}]']
    one = sim.run(BASE, overrides=common)
    scaled = sim.run(BASE, overrides=[*common, "fleet.pools.0.scale=10"])
    return one, scaled


def test_compute_is_provisioned_gpus_times_hours_times_rate(runs):
    one, _ = runs
    # baseline: 4 replicas x 1 H100 for 2 minutes at 2.5 USD per GPU-hour
    assert one.summary["cost"]["compute_usd"] == pytest.approx(4 * (120 / 3600) * 2.5)
    assert one.summary["cashflow"]["compute_cost"] == one.summary["cost"]["compute_usd"]


def test_revenue_is_tokens_of_completed_requests(runs):
    one, _ = runs
    rec = one.records
    done = rec[rec["status"] == 1]
    expected = (2.5 * done["prompt_tokens"].sum() + 10.0 * done["generated_tokens"].sum()) / 1e6
    assert one.summary["cashflow"]["revenue"] == pytest.approx(expected)


def test_shard_scale_multiplies_cost_and_revenue(runs):
    one, scaled = runs
    assert scaled.summary["cost"]["compute_usd"] == pytest.approx(10 * one.summary["cost"]["compute_usd"])
    assert scaled.summary["cashflow"]["revenue"] == pytest.approx(10 * one.summary["cashflow"]["revenue"])
    assert any("shard" in n for n in scaled.economics.notes)
