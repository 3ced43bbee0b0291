"""The fluid tier's ITL mean weighs each inter-token gap once, as its percentiles and the request level do.

Two pools of the ``conftest`` replica, each class pinned to one: ``short`` requests of 2 output tokens (one
gap each) on ``x``, ``long`` ones of 40 (39 gaps) on ``y``, 10/s of each. The request level's ITL is every
gap's (``weighted_stats`` of the gap log): nearly all of them ``y``'s, whose batches decode ~20 times as
many sequences and step slower, so the fleet's mean gap is close to ``y``'s TPOT, ``(1 x TPOT_x + 39 x
TPOT_y) / 40`` by hand from each class's TPOT mean (a request's TPOT is the mean of its gaps). Weighted by
requests, as the fluid tier's mean was, it read about the average of the two pools' (0.0175 s against
the request level's 0.0213 s), under its own median.
"""
from __future__ import annotations

import copy
import warnings

import pytest

import sim
from conftest import curve_cache, scenario


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _two_pools(fidelity: str) -> dict:
    sc = scenario(duration=900.0, warmup=0, seed=5, metrics={"records": "none"})
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 20.0},
                      "prompt_tokens": {"dist": "fixed", "value": 100},
                      "output_tokens": {"dist": "fixed", "value": 2},
                      "classes": [{"name": "short", "share": 0.5, "output_tokens": {"dist": "fixed", "value": 2}},
                                  {"name": "long", "share": 0.5, "output_tokens": {"dist": "fixed", "value": 40}}]}
    sc["fleet"]["router"] = {"policy": "round_robin", "classes": {"short": "x", "long": "y"}}
    sc["fleet"]["pools"] = [{**copy.deepcopy(sc["fleet"]["pools"][0]), "name": n} for n in ("x", "y")]
    sc["fidelity"] = fidelity
    if fidelity == "fluid":          # a short calibration: the loads here are well inside the grid
        sc["fluid"] = {"grid": [0.02, 0.1, 0.3, 0.5, 0.7, 0.9], "calibration_duration": 300.0,
                       "calibration_requests": 3000}
    return sc


def test_the_fluid_itl_mean_is_gap_weighted_as_the_request_levels():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        req, fluid = (sim.run(_two_pools(f)).summary for f in ("request", "fluid"))
    for s in (req, fluid):
        tpot = {c: s["classes"][c]["latency"]["tpot"]["mean"] for c in ("short", "long")}
        by_hand = (1 * tpot["short"] + 39 * tpot["long"]) / 40          # every gap one entry
        by_request = (tpot["short"] + tpot["long"]) / 2                 # every request one entry
        assert by_request < 0.9 * by_hand                               # the two weightings far apart here
        assert s["latency"]["itl"]["mean"] == pytest.approx(by_hand, rel=0.02), s["engine"]
    assert fluid["latency"]["itl"]["mean"] == pytest.approx(req["latency"]["itl"]["mean"], rel=0.03)
    # the mean and the median of the same gaps: both the long requests' (the mean no longer under p50 by a
    # fifth, as the requests' average put it)
    assert fluid["latency"]["itl"]["mean"] >= 0.95 * fluid["latency"]["itl"]["p50"]


def test_requests_of_one_output_token_have_no_itl_in_either_tier():
    """A request whose only output token comes with its prefill has no inter-token gap, so a run of them
    has no ITL to report: ``None`` for the mean and every percentile at request level, and in the fluid tier
    (which read 0 s before, each step's percentiles averaged where no gap was served)."""
    sc = scenario(duration=300.0, warmup=0, seed=2, metrics={"records": "none"})
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 5.0},
                      "prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 1}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [sim.run({**sc, "fidelity": f, **({"fluid": {"grid": [0.1, 0.5, 0.9], "calibration_duration": 120.0,
                                                            "calibration_requests": 500}} if f == "fluid" else {})})
                .summary for f in ("request", "fluid")]
    for s in runs:
        assert s["requests"]["completed"] > 1000, s["engine"]
        assert s["latency"]["itl"] == {"mean": None, "p50": None, "p90": None, "p99": None}, s["engine"]


def test_a_given_curve_without_gap_rows_is_refused_by_name():
    """``run_fluid(curves=...)`` with a curve that has no inter-token-gap histogram (one built by hand, or
    older than format 14): a ValueError naming the pool and ``hists['itl']`` (it was a bare KeyError 'itl'
    deep in the sums)."""
    import dataclasses
    from pathlib import Path

    from sim.fluid.capacity import capacity_curve
    from sim.fluid.run import run_fluid
    from sim.scenario.load import load_scenario

    sc = scenario(duration=300.0, warmup=0, seed=2, metrics={"records": "none"})
    sc.update(fidelity="fluid", fluid={"grid": [0.1, 0.5, 0.9], "calibration_duration": 120.0,
                                       "calibration_requests": 500})
    loaded = load_scenario(sc)
    curve = capacity_curve(loaded.scenario, 0, Path(loaded.base_dir))
    bare = dataclasses.replace(curve, hists={m: h for m, h in curve.hists.items() if m != "itl"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_fluid(loaded, curves=[curve]).summary["latency"]["itl"]["p50"] > 0
        with pytest.raises(ValueError, match=rf"pool '{curve.pool}'.*hists\['itl'\]"):
            run_fluid(loaded, curves=[bare])
