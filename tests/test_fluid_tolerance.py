"""The fluid tier's autoscaler honours ``autoscale.tolerance``, the Kubernetes HPA's band.

The HPA keeps the current replicas while ``1 - tolerance <= metric / target <= 1 + tolerance`` and
otherwise asks for ``ceil(n x metric / target)``. On a pool of M/M/1 replicas (``test_queueing_theory``:
one request at a time, ``ceil(X)`` prompt tokens, ``X ~ Exp(1000)``, at 1 ms a token) a replica's
capacity is ``mu = (1 - e^{-1/1000}) / 0.001`` requests/s and a request costs ``1 / mu`` seconds,
so the ``load_factor`` of ``n`` replicas at ``lam`` requests/s is ``lam / (n mu)``: where the pool
settles is hand arithmetic, and depends on where it starts (hysteresis).
"""
from __future__ import annotations

import copy
import json
import math
import warnings

import pytest

import sim
import sim.fluid.scaled_step as scaled_step
from sim.errors import ScenarioWarning
from sim.fluid.autoscale import settled_replicas

from test_queueing_theory import _queue_scenario

from conftest import curve_cache

MU = (1.0 - math.exp(-1.0 / 1000.0)) / 0.001
TARGET = 0.5


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _pool(start: int, wanted: float, tolerance: float | None) -> dict:
    """``start`` replicas offered ``lam`` with ``lam / (mu x target) = wanted``: the HPA's
    ``n x metric / target`` at any ``n``."""
    sc = _queue_scenario(c=start, lam=wanted * TARGET * MU, prompt={"dist": "exponential", "mean": 1000,
                                                                    "max": 100_000},
                         seed=1, duration=7200.0, warmup=0.0)
    sc["fidelity"] = "fluid"
    sc["fluid"] = {"step": 600}
    sc["metrics"] = {"interval": 60.0, "records": "none"}
    auto = {"metric": "load_factor", "target": TARGET, "interval": 60, "min": 1, "max": 16, "cooldown": 0,
            "scale_up_delay": 60}
    if tolerance is not None:
        auto["tolerance"] = tolerance
    sc["fleet"]["pools"][0]["autoscale"] = auto
    return sc


def _summary(sc: dict) -> str:
    """The run's summary as JSON bytes, its wall-clock time left out."""
    s = dict(sim.run(copy.deepcopy(sc)).summary)
    s.pop("wall_seconds")
    return json.dumps(s, sort_keys=True)


def _replicas(sc: dict) -> list[float]:
    return [float(x) for x in sim.run(sc).timeseries[:, 2]]


def test_a_pool_inside_the_band_keeps_its_size_and_outside_it_moves_as_the_rule_says():
    # rising: at 4 replicas the ratio is 4.3 / 4 = 1.075, inside the default band: kept at 4;
    # without the band ceil(4.3) = 5 from the first step on (one interval in: a mean of 4.9 over it)
    assert set(_replicas(_pool(4, 4.3, None))) == {4.0}
    off = _replicas(_pool(4, 4.3, 0.0))
    assert set(off[1:]) == {5.0} and 4.0 < off[0] < 5.0
    # 4.6 / 4 = 1.15 is outside: ceil(4.6) = 5 with or without the band
    assert _replicas(_pool(4, 4.6, 0.1)) == _replicas(_pool(4, 4.6, 0.0))
    # falling: at 12 replicas 10.9 / 12 = 0.908 is inside: 12 kept where the rule alone asks for 11
    assert set(_replicas(_pool(12, 10.9, 0.1))) == {12.0}
    assert set(_replicas(_pool(12, 10.9, 0.0))[1:]) == {11.0}


def test_where_the_pool_settles_depends_on_where_it_starts():
    # one load, 3.1 replicas' worth: from 3 the ratio is 1.033 (kept at 3); from 5 it is 0.62,
    # outside, so the rule moves it to ceil(3.1) = 4, where 0.775 is outside too and it stays
    assert set(_replicas(_pool(3, 3.1, 0.1))) == {3.0}
    assert set(_replicas(_pool(5, 3.1, 0.1))[1:]) == {4.0}
    # a wider band holds 5 as well: 0.62 >= 1 - 0.4
    assert set(_replicas(_pool(5, 3.1, 0.4))) == {5.0}


def test_tolerance_zero_is_the_rule_without_the_band_byte_for_byte(monkeypatch):
    """``tolerance: 0`` runs the fluid autoscaler exactly as before the key was read: the same
    summary as a run whose per-step answer is :func:`settled_replicas` (the rule alone)."""
    sc = _pool(4, 4.3, 0.0)
    sc["workload"]["arrival"] = {"process": "diurnal", "mean_rate": 4.3 * TARGET * MU, "peak_to_trough": 3,
                                 "period": 7200.0, "peak_hour": 0.5}
    without = _summary(sc)
    with_band = copy.deepcopy(sc)
    with_band["fleet"]["pools"][0]["autoscale"]["tolerance"] = 0.1
    assert _summary(with_band) != without     # the band matters here

    def rule_alone(a, curve, rate, backlog, s_each, replicas, t, step_s=None):
        return settled_replicas(a.metric, a.target, a.min, a.max, curve, rate, backlog, s_each)

    monkeypatch.setattr(scaled_step, "hpa_settled", rule_alone)
    assert _summary(sc) == without


def _warned_run(sc: dict) -> tuple[list[float], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reps = _replicas(sc)
    return reps, [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)
                  and "autoscale.tolerance" in str(w.message)]


def test_the_fluid_tier_is_warned_about_a_band_that_holds_the_pool_and_the_run_does_what_it_says():
    # from 1 the band holds every reading: 5 replicas at 3.1 replicas' worth never shrink
    held, said = _warned_run(_pool(5, 3.1, 1.0))
    assert set(held) == {5.0}
    assert len(said) == 1 and said[0].startswith("fleet.pools.0.autoscale.tolerance: ")
    assert "keeps the pool from ever shrinking" in said[0]
    # utilization reads at most 1: against 0.95 the ratio is at most 1.053, inside the band, so a
    # saturated replica (offered 3 mu) is never joined; without the band ceil(1.053) = 2, then more
    sat = _pool(1, 6.0, None)
    sat["fleet"]["pools"][0]["autoscale"].update(metric="utilization", target=0.95)
    held, said = _warned_run(sat)
    assert set(held) == {1.0} and len(said) == 1 and "never grows" in said[0]
    sat["fleet"]["pools"][0]["autoscale"]["tolerance"] = 0.0
    grows, quiet = _warned_run(sat)
    assert max(grows) >= 2.0 and quiet == []
