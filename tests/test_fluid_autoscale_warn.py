"""The fluid tier's warnings for what its steps hide from an autoscaled pool
(:func:`sim.fluid.substep.autoscale_messages`): a rate that varies within a step past the autoscaler's
tolerance, and ``autoscale.min: 0`` where the fluid tier does not scale to zero as the request level does.

The case is a planner's ramp: Llama-3-8B on H100s, a piecewise rate of 0 / 5 / 60 / 120 requests/s from
0 / 30 / 60 / 90 minutes for two hours, one pool autoscaled from ``min: 0``. In hourly steps it ran
silently at 100 % SLO attainment with no rejection, where the request level rejects ``no_replica``
and misses the SLO; by hand its first hour holds 0/s then 5/s (each sub-step 100 % off the hour's
mean of 2.5/s) and its second 60/s then 120/s (33 % off 90/s), and its breakpoints' largest common
divisor is 30 minutes.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.fluid.substep import SUB, autoscale_messages, resolving_step, sub_arrivals, within_step_swing
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def ramp(arrival=None, autoscale=None, duration="2h"):
    return {
        "name": "ramp", "seed": 1, "duration": duration, "model": "llama-3-8b",
        "workload": {"arrival": arrival or {"process": "piecewise", "times": [0, "30m", "60m", "90m"],
                                             "rates": [0, 5, 60, 120]},
                     "prompt_tokens": {"dist": "lognormal", "mean": 1000, "cv": 1.0, "max": 8192},
                     "output_tokens": {"dist": "lognormal", "mean": 250, "cv": 1.0, "max": 2048}},
        "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1,
                             "autoscale": autoscale or {"metric": "utilization", "target": 0.6, "interval": "1m",
                                                        "min": 0, "max": 16, "scale_up_delay": "3m"}}]},
        "perf": {"model": "roofline"},
        "slo": {"ttft_s": 2.0, "tpot_s": 0.1},
    }


def messages(loaded, step_s=3600.0):
    sc = loaded.scenario
    edges = np.append(np.arange(0.0, float(sc.duration), step_s), float(sc.duration))
    fine = sub_arrivals(sc, edges, np.diff(edges), Path(loaded.base_dir))
    return autoscale_messages(sc, np.diff(edges), fine, [(i, p.name, p.autoscale) for i, p in enumerate(sc.fleet.pools)])


def test_the_ramps_swing_by_hand():
    loaded = load_scenario(ramp())
    sc = loaded.scenario
    edges = np.array([0.0, 3600.0, 7200.0])
    fine = sub_arrivals(sc, edges, np.diff(edges), Path(loaded.base_dir))[:, :, 0]
    assert fine[0].tolist() == [0.0] * 6 + [5.0 * 300] * 6          # 5-minute sub-steps
    assert fine[1].tolist() == [60.0 * 300] * 6 + [120.0 * 300] * 6
    assert within_step_swing(fine[:, :, None]) == 1.0
    assert within_step_swing(fine[1:, :, None]) == pytest.approx(30.0 / 90.0)


def test_the_ramp_warns_of_the_step_not_of_min_zero():
    """Its rate is 0, then 5/s and more: never between 0 and one request a minute, so the pool goes to zero
    in the fluid tier where it does at request level, and turns arrivals away there (sim.fluid.no_replica)."""
    out = messages(load_scenario(ramp()))
    assert len(out) == 1
    assert out[0].startswith("fluid.step: the arrival rate varies within the 1 h steps (up to 100% off")
    assert "set fluid.step: 30 m or shorter" in out[0]


def test_min_zero_in_a_fleet_of_two_pools_is_said_at_a_rate_of_zero():
    """With a second pool the request level's router sends a request to the other pool's replicas while
    this one has none; the fluid tier's fixed shares do not, and leave no_replica out: said."""
    sc = ramp()
    sc["fleet"]["pools"].append({"name": "spare", "gpu": "h100-sxm", "replicas": 1})
    out = messages(load_scenario(sc))
    assert len(out) == 2 and out[1].startswith("fleet.pools.0.autoscale.min: 0 (pool main)")
    assert "several pools" in out[1] and "no_replica" in out[1]


def test_the_steps_the_warning_names_hold_the_rate_and_silence_it():
    out = messages(load_scenario(ramp(autoscale={"metric": "utilization", "target": 0.6, "min": 1})), 1800.0)
    assert out == []


def test_a_flat_or_step_aligned_rate_does_not_warn():
    flat = {"metric": "utilization", "target": 0.6, "min": 1}
    assert messages(load_scenario(ramp({"process": "poisson", "rate": 20}, flat))) == []
    aligned = {"process": "piecewise", "times": [0, "1h"], "rates": [5, 120]}
    assert messages(load_scenario(ramp(aligned, flat))) == []
    # the same rise half an hour in: past any tolerance
    inside = {"process": "piecewise", "times": [0, "30m"], "rates": [5, 120]}
    assert len(messages(load_scenario(ramp(inside, flat)))) == 1


def test_a_tolerance_wider_than_the_swing_holds_the_warning():
    """The second hour alone swings 33 %: an autoscaler that ignores 40 % would not follow it."""
    rise = {"process": "piecewise", "times": [0, "30m"], "rates": [60, 120]}
    wide = {"metric": "utilization", "target": 0.6, "min": 1, "tolerance": 0.4}
    assert messages(load_scenario(ramp(rise, wide, "1h"))) == []
    assert len(messages(load_scenario(ramp(rise, dict(wide, tolerance=0.3), "1h")))) == 1


def test_min_zero_is_said_where_an_interval_may_pass_without_an_arrival():
    """At 20/s a minute never passes idle; at 0.01/s (0.6 a minute) one may, as in the ramp's first half hour."""
    zero = {"metric": "utilization", "target": 0.6, "interval": "1m", "min": 0}
    assert messages(load_scenario(ramp({"process": "poisson", "rate": 20}, zero))) == []
    out = messages(load_scenario(ramp({"process": "poisson", "rate": 0.01}, zero)))
    assert len(out) == 1 and out[0].startswith("fleet.pools.0.autoscale.min: 0")
    assert "scales a pool to zero only at a rate of 0" in out[0]
    assert messages(load_scenario(ramp({"process": "poisson", "rate": 0.01}, dict(zero, interval="2m")))) == []


def test_a_pool_without_autoscale_is_left_to_the_backlog_check():
    sc = ramp()
    del sc["fleet"]["pools"][0]["autoscale"]
    assert messages(load_scenario(sc)) == []


@pytest.mark.parametrize("name", ["diurnal_week", "provider_partner_derived"])
def test_the_bundled_autoscaled_scenarios_gain_no_warning(name):
    """diurnal_week's 4:1 cosine moves at most ~9 % off an hour's mean in a 5-minute sub-step
    (0.6 sin / (1 + 0.6 cos) <= 0.75, times 2 pi / 24 per hour, times 27.5 minutes), under 10 %."""
    assert messages(load_scenario(ROOT / "scenarios" / f"{name}.yaml")) == []


def test_resolving_step():
    from types import SimpleNamespace as NS

    assert resolving_step(NS(process="piecewise", times=[0, 1200, 3000]), 3600.0) == 600.0
    assert resolving_step(NS(process="piecewise", times=[0, 0.5]), 3600.0) == 3600.0 / SUB


@pytest.mark.slow
def test_the_fluid_run_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim.run(ramp(), overrides=["fidelity=fluid"])
    said = [str(w.message) for w in caught]
    assert any("fluid.step: the arrival rate varies within the 1 h steps" in m for m in said)
    assert not any("fleet.pools.0.autoscale.min: 0" in m for m in said)
