"""The fluid tier's MBU counts the bytes its capacity curve's request-level runs moved: each grid point
records the HBM bytes per busy replica-second that its run's iterations moved (as the request level's
MBU counts them, ``sim.perf.utilization.steps_bytes``), and the fluid steps count their busy
replica-seconds at those bytes, read at their load, and at capacity at a saturated replica's. Against the
request level's own summary (the same run, another path to its bytes), against a curve cached before the
field existed, under a scaled capacity, against the request level's MBU of a pool at and past capacity,
and on two steps worked by hand (one at capacity, one draining its backlog)."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import sim
from sim.fluid import capacity as capacity_mod
from sim.fluid import capacity_curve, run_fluid
from sim.fluid.busy import behind, busy_on
from sim.fluid.scaled_curve import at_capacity
from sim.io import cache_dir
from sim.scenario.catalog import get_gpu
from sim.scenario.load import load_scenario

from test_fluid import QUICK, _linear_scenario


@pytest.fixture(scope="module")
def _module_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fluid-mbu-cache")


@pytest.fixture(autouse=True)
def _cache(_module_cache, monkeypatch):
    """This file's own curve cache, shared by its tests: the two curves (one roofline replica, the two-replica
    linear pool) are measured once, not once a test, and each test reads (or measures) them the same way in
    any order; the cached-without-bytes test restores the file it damages by measuring it again."""
    monkeypatch.setenv("FLEETSIM_CACHE", str(_module_cache))


def _roofline_scenario() -> dict:
    sc = _linear_scenario(1, 4.0, 3600)
    sc["perf"] = {"model": "roofline"}
    return sc


def test_each_grid_point_records_the_bytes_its_run_moved_per_busy_second():
    """A grid point's bytes per busy second are those its run's iterations moved after the warmup over the
    busy replica-seconds they took (at the rate it admitted then); the summaries say the same bytes another
    way: a run's ``mbu x provisioned replica-seconds x peak`` and ``gpu_busy x`` the same seconds, the
    grid run's (re-run with the grid's seed) less those of the same run stopped at the warmup (the same
    arrivals and events up to there). Equal but for the work in flight at the warmup and at the end (a fast
    run's decode iterations are booked when the run ends; a closed run's books count them up to its end):
    at the top grid point 0.27 % apart, where the whole run's bytes per busy second are 0.76 % off."""
    loaded = load_scenario(_roofline_scenario())
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    assert curve.hbm_busy is not None and len(curve.hbm_busy) == len(curve.rates_rps)
    template = capacity_mod.pool_template(loaded.scenario, 0, loaded.base_dir)
    k = len(curve.rates_rps) - 1                        # the top grid run (index 0 is the idle point)
    group = curve.meta["group_replicas"]
    assert group in (1, 2, 4)                           # a rate per replica x the group: the grid's to the bit
    rate = curve.rates_rps[k] * group
    warm, dur = capacity_mod.grid_run_length(QUICK, rate, group)
    whole = capacity_mod._run(template, loaded.base_dir, rate, dur, warm, QUICK.seed + k)
    first = capacity_mod._run(template, loaded.base_dir, rate, warm, 0.0, QUICK.seed + k)    # (no warmup: same runs)
    peak = get_gpu(whole.summary["pools"]["main"]["gpu"]).hbm_bytes_per_s

    def moved(res) -> tuple[float, float]:
        pool, seconds = res.summary["pools"]["main"], group * res.summary["simulated_seconds"]
        return pool["mbu"] * seconds * peak, pool["gpu_busy"] * seconds
    (b1, s1), (b0, s0) = moved(whole), moved(first)
    window = (b1 - b0) / (s1 - s0)
    assert curve.hbm_busy[k] == pytest.approx(window, rel=5e-3)      # measured 0.27 % apart
    assert abs(curve.hbm_busy[k] - window) < abs(curve.hbm_busy[k] - b1 / s1)   # the whole run's: 0.76 %
    # paired with the rate the run admitted over the same window, per replica
    after = whole.records[whole.records["arrival_s"] >= warm]
    assert curve.hbm_rps[k] == (len(after) - int(np.sum(after["status"] == 2))) / (dur - warm) / group
    assert curve.hbm_at(curve.hbm_rps[k]) == curve.hbm_busy[k]
    # no GPU moves bytes faster than its peak; a fuller batch's iterations lean to compute: fewer bytes a second
    assert np.all(curve.hbm_busy <= peak)
    assert curve.hbm_busy[-1] < curve.hbm_busy[1]
    assert curve.hbm_busy[0] == curve.hbm_busy[1]       # the idle point: the lightest's (never read: nothing busy)


def test_a_curve_cached_without_its_bytes_is_measured_again(monkeypatch):
    """A curve cached by a version that did not record the bytes (its file without ``hbm_busy``) is never
    read with MBU missing: it is measured again and the cache rewritten."""
    loaded = load_scenario(_roofline_scenario())
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    path = cache_dir() / f"capacity-{curve.key}.json"
    old = json.loads(path.read_text())
    del old["hbm_busy"]
    path.write_text(json.dumps(old))
    measured = []
    real = capacity_mod.measure_curve
    monkeypatch.setattr(capacity_mod, "measure_curve", lambda *a, **k: measured.append(1) or real(*a, **k))
    again = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    assert measured == [1]
    assert np.array_equal(again.hbm_busy, curve.hbm_busy)          # the same seeds: the same runs
    assert json.loads(path.read_text())["hbm_busy"] == curve.hbm_busy.tolist()


def test_a_scaled_capacity_moves_the_same_bytes_in_less_busy_time():
    """A replica ``c`` times as fast runs the same iterations in ``1 / c`` of the time: ``c`` times the bytes
    per busy second, each grid point's paired with its rate served ``x c`` (``sim.fluid.scaled_curve``), as
    MFU (FLOPs per second) scales."""
    loaded = load_scenario(_roofline_scenario())
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    fast = at_capacity(curve, 1.25)
    assert np.array_equal(fast.hbm_busy, curve.hbm_busy * 1.25)
    assert np.array_equal(fast.hbm_at(1.25 * curve.hbm_rps[2:4]), 1.25 * curve.hbm_busy[2:4])
    # so each grid point's requests move the same bytes each: bytes per busy second x busy share / rate served
    per_request = curve.hbm_busy[1:] * curve.busy[1:] / curve.served_rps[1:]
    assert fast.hbm_busy[1:] * fast.busy[1:] / fast.served_rps[1:] == pytest.approx(per_request, rel=1e-12)
    # and a saturated replica's: the same bytes a request at c times the rate, read at the faster max_rps
    assert fast.hbm_sat / fast.max_rps == pytest.approx(curve.hbm_sat / curve.max_rps, rel=1e-12)
    assert fast.hbm_at(fast.max_rps) == fast.hbm_sat


@pytest.mark.parametrize("factor, tol", [(1.0, 0.035), (40.0 / 26.162, 0.015)])
def test_a_pool_at_capacity_moves_a_saturated_replicas_bytes_in_both_tiers(factor, tol):
    """A pool held at capacity runs its batches full, and a fuller batch moves fewer bytes a busy second (its
    weights read once an iteration for more sequences): the fluid tier prices its steps at capacity at the
    bytes per busy second of the saturated run ``max_rps`` is read from (``hbm_sat``), not at the top grid
    point's (90 % of ``max_rps`` here), whose batch is far from full. The cross-tier pool (two replicas,
    ``test_cross_tier.py``) at its capacity and at its overloaded case, 40 requests/s (1.53 x): fluid MBU
    against the request level's. Read flat past the top grid point, as before, the overloaded case read
    0.183 for the request level's 0.124 (+48 %); now +0.5 %, and -0.7 % at capacity. The tolerances are
    the seed spread (``python benchmarks/fluid_mbu_saturation.py``): at capacity the request level's MBU
    over seeds 1-5 has a standard deviation of 1.0 % (its queue wanders, its batches sometimes not full),
    overloaded 0.1 %, and the saturated bytes over calibration seeds 1-6 0.27 %; about three of them."""
    sc = _linear_scenario(1, 1.0, 3600.0, replicas=2)
    loaded = load_scenario(sc)
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    assert curve.hbm_sat is not None and curve.hbm_at(curve.max_rps) == curve.hbm_sat
    assert curve.hbm_sat < curve.hbm_busy[-1]              # fuller batches than the top grid point's
    rate = factor * 2 * curve.max_rps
    sc["workload"]["arrival"] = {"process": "poisson", "rate": rate}
    exact = sim.run(copy.deepcopy(sc)).summary["utilization"]
    fluid = run_fluid(load_scenario(sc), step_s=600.0, settings=QUICK).summary["utilization"]
    assert exact["gpu_busy"] > 0.999 and fluid["gpu_busy"] > 0.999
    assert fluid["mbu"] == pytest.approx(exact["mbu"], rel=tol)


def test_a_step_that_drains_its_backlog_counts_its_time_at_capacity_at_the_saturated_bytes():
    """Worked by hand on two 600-s steps of the cross-tier pool (two replicas, capacity ``C`` a step): the
    first offered ``1.5 C``, at capacity all of it, leaving ``0.5 C``; the second offered ``0.25 C``, at
    capacity until that backlog is gone, ``0.5 / (1 - 0.25) = 2/3`` of it (served at ``C`` while
    ``0.25 C`` a step joins), then busy at the arrivals' rate, ``0.25 max_rps`` a replica, its busy share
    the curve's there behind the router. Bytes: the time at capacity at a saturated replica's
    (``hbm_sat``), the rest of the busy time at the arrivals' rate's; the busy share the same split."""
    sc = _linear_scenario(1, 1.0, 3600.0, replicas=2)
    loaded = load_scenario(copy.deepcopy(sc))
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    cap = 2 * curve.max_rps
    sc["duration"] = 1200.0
    sc["workload"]["arrival"] = {"process": "piecewise", "times": [0.0, 600.0], "rates": [1.5 * cap, 0.25 * cap]}
    pool = run_fluid(load_scenario(sc), step_s=600.0, settings=QUICK).summary["pools"]["main"]
    full = 2.0 / 3.0
    rest = np.array([0.25 * curve.max_rps])
    off = (1.0 - full) * float(busy_on(behind(curve, "least_outstanding"), rest, np.array([2.0]))[0])
    assert 0.0 < off < 1.0 - full
    moved = 2 * 600.0 * curve.hbm_sat + 2 * 600.0 * (full * curve.hbm_sat + off * float(curve.hbm_at(rest)[0]))
    assert pool["gpu_busy"] == pytest.approx((1.0 + full + off) / 2.0, rel=1e-12)
    assert pool["mbu"] == pytest.approx(moved / (2 * 1200.0 * get_gpu(pool["gpu"]).hbm_bytes_per_s), rel=1e-12)
