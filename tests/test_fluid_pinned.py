"""The fluid tier with classes pinned to several pools (``fleet.router.classes``): each pool's part of
each class, as the request-level router splits it (:mod:`sim.fluid.pinned`).

Hand-worked splits for the static routers and for the water-filling of the work-conserving ones;
the join-the-shortest-queue property (a class uses only the least-loaded of its pools) on random
instances; one class on two identical pools under round robin against the fleet without pins
(equal, not close); and a pool flooded by a class pinned to it alone, with a class free to use
both pools, against a request-level run.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import sim
from sim.errors import ScenarioError
from sim.fluid import run_fluid
from sim.fluid.pinned import split, static_fractions, water_fill
from sim.metrics.schema import COMPLETED
from sim.scenario.load import load_scenario, scenario_from_dict

from conftest import curve_cache, scenario
from test_fluid import QUICK


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _fleet(policy: str, pins: dict | None, replicas=(1, 1), shares=(0.5, 0.5), rate: float = 6.0,
           weights: dict | None = None, duration: float = 7200.0) -> dict:
    sc = scenario(duration=duration, warmup=0, seed=5)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rate},
                      "prompt_tokens": {"dist": "lognormal", "mean": 200, "cv": 1.0, "max": 2000},
                      "output_tokens": {"dist": "lognormal", "mean": 50, "cv": 1.0, "max": 500},
                      "classes": [{"name": n, "share": s} for n, s in zip(("a", "b"), shares)]}
    sc["fleet"]["router"] = {"policy": policy, **({"classes": pins} if pins is not None else {}),
                             **({"weights": weights} if weights else {})}
    sc["fleet"]["pools"] = [{**copy.deepcopy(sc["fleet"]["pools"][0]), "name": n, "replicas": r}
                            for n, r in zip(("x", "y"), replicas)]
    sc["slo"] = {"ttft_s": 0.5, "tpot_s": 0.06}
    return sc


def _sc(d: dict):
    return scenario_from_dict(d, check=False).scenario


# ------------------------------------------------------------------------------- the split
def test_round_robin_and_random_split_a_class_by_replicas_among_its_pools_and_weighted_by_weights():
    demand = np.array([[12.0, 6.0]])
    for policy in ("round_robin", "random"):
        sc = _sc(_fleet(policy, {"a": ["x", "y"], "b": "y"}, replicas=(1, 3)))
        # a: 1 of 4 replicas on x, 3 on y; b only on y
        assert split(sc, demand, np.ones(2)).tolist() == [[[3.0, 9.0], [0.0, 6.0]]]
    sc = _sc(_fleet("weighted", {"a": ["x", "y"], "b": "y"}, weights={"x": 3, "y": 1}))
    assert split(sc, demand, np.ones(2)).tolist() == [[[9.0, 3.0], [0.0, 6.0]]]
    # a class not pinned goes anywhere: by replicas over the whole fleet
    sc = _sc(_fleet("round_robin", {"b": "y"}, replicas=(1, 3)))
    assert split(sc, demand, np.ones(2)).tolist() == [[[3.0, 9.0], [0.0, 6.0]]]
    # pools a class may use but that have no weight get none of it
    assert static_fractions(sc.fleet.router.model_copy(update={"policy": "weighted", "weights": {"x": 2.0}}),
                            np.array([[True, True]]), np.array([1, 3]), ["x", "y"]).tolist() == [[1.0, 0.0]]


def test_water_filling_evens_the_load_where_the_pins_allow_by_hand():
    reach = np.array([[True, True], [False, True]])            # a on x and y, b on y only
    cap = np.array([2.0, 6.0])
    # 8 requests in all over a capacity of 8: both pools at ratio 1 (x: 2, y: 6 = 4 of b + 2 of a)
    assert water_fill(np.array([4.0, 4.0]), reach, cap).tolist() == [[2.0, 2.0], [0.0, 4.0]]
    # b alone loads y past what a's evening-out could: y at 9/6, a all on x at 1/2
    assert water_fill(np.array([1.0, 9.0]), reach, cap).tolist() == [[1.0, 0.0], [0.0, 9.0]]
    # one class on every pool: by capacity, the split without pins (sim.fluid.run.pool_shares)
    assert water_fill(np.array([4.0]), np.array([[True, True]]), cap).tolist() == [[1.0, 3.0]]
    # a pool without capacity gets nothing, unless a class may use nothing else
    out = water_fill(np.array([4.0, 2.0]), np.array([[True, True], [True, False]]), np.array([0.0, 1.0]))
    assert out.tolist() == [[0.0, 4.0], [2.0, 0.0]]


def test_water_filling_sends_each_class_only_to_the_least_loaded_of_its_pools():
    """The fluid limit of joining the shortest queue, on random pins, demands and capacities: every
    class's demand is served, only where it is pinned, and only on pools at the lowest load ratio
    among its own (so no pool is more loaded than a class that could relieve it leaves it)."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        n_cls, n_pools = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        reach = rng.random((n_cls, n_pools)) < 0.6
        reach[np.arange(n_cls), rng.integers(0, n_pools, n_cls)] = True
        demand = rng.exponential(size=n_cls) * (rng.random(n_cls) < 0.9)
        cap = rng.uniform(0.2, 3.0, size=n_pools)
        x = water_fill(demand, reach, cap)
        assert not x[~reach].any()
        assert np.allclose(x.sum(axis=1), demand, rtol=1e-3, atol=0.0)
        ratio = x.sum(axis=0) / cap
        for c in range(n_cls):
            used = x[c] > 1e-6 * demand[c]
            assert np.all(ratio[used] <= ratio[reach[c]].min() * (1 + 1e-9))


def test_water_filling_many_steps_at_once_splits_each_as_alone():
    """Steps are split together for speed; each step's split is the one it gets alone, bit for bit
    (a step's bytes never depend on the other steps of the run)."""
    rng = np.random.default_rng(11)
    reach = np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1]], dtype=bool)
    demand = rng.exponential(size=(200, 4)) * (rng.random((200, 4)) < 0.8)
    cap = np.array([1.0, 2.0, 1.5])
    together = water_fill(demand, reach, cap)
    for k in range(len(demand)):
        assert np.array_equal(together[k], water_fill(demand[k], reach, cap)), k


def test_a_partition_of_the_classes_gives_each_pool_its_classes_demand_exactly():
    rng = np.random.default_rng(3)
    demand = rng.exponential(size=(50, 2)) * 1000
    for policy in ("round_robin", "random", "weighted", "least_outstanding", "central_queue"):
        sc = _sc(_fleet(policy, {"a": "x", "b": ["y"]}, replicas=(2, 3), weights={"x": 1, "y": 4}))
        out = split(sc, demand, np.array([2.5, 1.0]))
        assert np.array_equal(out[:, :, 0], demand * [1.0, 0.0]) and np.array_equal(out[:, :, 1], demand * [0.0, 1.0])


# ------------------------------------------------------------------------- against runs
def test_one_class_on_two_identical_pools_under_round_robin_is_the_fleet_without_pins():
    """Pinning the only class to both pools changes nothing: the same per-pool rates, bit for bit."""
    free = _fleet("round_robin", None, shares=(1.0,))
    free["workload"]["classes"] = [{"name": "a", "share": 1.0}]
    pinned = copy.deepcopy(free)
    pinned["fleet"]["router"]["classes"] = {"a": ["x", "y"]}
    f = run_fluid(load_scenario(free), step_s=600.0, settings=QUICK)
    p = run_fluid(load_scenario(pinned), step_s=600.0, settings=QUICK)
    assert np.array_equal(p.timeseries, f.timeseries)
    for name in ("x", "y"):
        assert p.summary["pools"][name] == f.summary["pools"][name]
    for key in ("requests", "throughput", "latency", "slo", "utilization", "gpu_hours", "cost"):
        assert p.summary[key] == f.summary[key], key


def _at_loads(policy: str, load_a: float, load_b: float, duration: float):
    """a on x and y, b on y alone, at ``load_a`` of x's and ``load_b`` of y's capacity (the curves'
    ``max_rps``, measured first): the scenario, the two capacities and the two rates."""
    sc = _fleet(policy, {"a": ["x", "y"], "b": "y"}, duration=duration)
    probe = run_fluid(load_scenario(sc), step_s=300.0, settings=QUICK).summary
    mx, my = (probe["pools"][n]["max_rps_per_replica"] for n in ("x", "y"))
    lam_a, lam_b = load_a * mx, load_b * my
    sc["workload"]["arrival"]["rate"] = lam_a + lam_b
    sc["workload"]["classes"] = [{"name": "a", "share": lam_a / (lam_a + lam_b)},
                                 {"name": "b", "share": lam_b / (lam_a + lam_b)}]
    return sc, mx, my, lam_a, lam_b


@pytest.mark.parametrize("policy", ["least_outstanding", "central_queue"])
def test_a_pool_flooded_by_its_own_class_sends_the_shared_class_to_the_other_pool_as_the_request_level_tier(policy):
    """Class a may use pools x and y, class b only y, under a work-conserving router (least
    outstanding; a central queue, where y's replicas take the older of a's and b's heads); b alone offers y 1.3
    times its capacity. Joining the shortest queue sends a's requests to x (y's queue only grows),
    so x serves a at 0.5 of its capacity and y serves b at its capacity, its backlog growing: a's
    latency is x's at half load, b's is the backlog's wait. The fluid tier's water-filling gives
    the same split; the pools' throughput agrees within the run's sampling error and the curve's,
    a's latency within the 15 % of the pinned-to-one-pool comparison (tests/test_class_pinning.py),
    b's TTFT (a growing backlog, minutes) each tier's against its hand-worked wait."""
    sc, mx, my, lam_a, lam_b = _at_loads(policy, 0.5, 1.3, 1800.0)
    fluid = run_fluid(load_scenario(sc), step_s=300.0, settings=QUICK)
    assert [fluid.summary["pools"][n]["max_rps_per_replica"] for n in ("x", "y")] == [mx, my]   # the same curves
    exact = sim.run(copy.deepcopy(sc))
    rec = exact.records
    done = rec["status"] == COMPLETED
    served_a = rec["pool"][done & (rec["cls"] == 0)]
    # a joined y only while y's queue was short, at the start: under 2 % of its requests
    assert np.mean(served_a == 1) < 0.02
    for name in ("x", "y"):    # each pool's served work (a: x's, b: y's)
        assert fluid.summary["pools"][name]["load_factor"] == pytest.approx(
            exact.summary["pools"][name]["load_factor"], rel=0.06), name
    fs, rs = fluid.summary["classes"], exact.summary["classes"]
    # x serves a (Poisson count: 1,800 s x ~lam_a requests, sd ~2 %), y serves b at its capacity
    assert fs["a"]["throughput"]["requests_per_s"] == pytest.approx(rs["a"]["throughput"]["requests_per_s"], rel=0.06)
    assert fs["b"]["throughput"]["requests_per_s"] == pytest.approx(rs["b"]["throughput"]["requests_per_s"], rel=0.06)
    assert fs["b"]["throughput"]["requests_per_s"] == pytest.approx(my, rel=0.01)
    assert fs["a"]["latency"]["e2e"]["mean"] == pytest.approx(rs["a"]["latency"]["e2e"]["mean"], rel=0.15)
    # b's wait, by hand: y's backlog grows at g = 0.3 of its capacity, so at time t it is g t
    # seconds of work. First come, first served, a request served at t arrived at t / (1 + g) and
    # waited g t / (1 + g): a mean of g T / (2 (1 + g)) over the run, in both tiers
    # (sim.fluid.backlog.step_waits; the fluid tier charged the newest arrival's wait, g t, before:
    # g T / 2, 270 s against 208 s).
    g, T = 0.3, 1800.0
    assert fs["b"]["latency"]["ttft"]["mean"] == pytest.approx(g * T / (2 * (1 + g)), rel=0.03)
    assert rs["b"]["latency"]["ttft"]["mean"] == pytest.approx(g * T / (2 * (1 + g)), rel=0.1)
    for s in (fs, rs):
        assert s["b"]["latency"]["ttft"]["mean"] > 100 * s["a"]["latency"]["ttft"]["mean"]
        assert s["a"]["slo"]["attainment"] > 0.9 > s["b"]["slo"]["attainment"]


def test_spillover_stays_refused_with_pins_to_several_pools():
    sc = _fleet("spillover", {"a": ["x", "y"], "b": "y"})
    sc["fleet"]["router"].update(primary="x", overflow="y", threshold=4)
    sc["fidelity"] = "fluid"
    with pytest.raises(ScenarioError) as exc:
        sim.run(sc)
    assert [f for f, _ in exc.value.problems] == ["fleet.router"]
    assert "spillover routing" in exc.value.problems[0][1]


def test_each_pools_curve_is_measured_on_its_part_of_each_class():
    """Round robin, a (40 %) on x (1 replica) and y (3), b (60 %) on y: x's curve serves a alone,
    y's three quarters of a and all of b, in those proportions; under least outstanding on equal
    pools, b alone loads y past what a could even out (0.6 > 1.0 / 2), so y's curve serves b alone."""
    from sim.fluid.capacity import pool_template

    sc = _sc(_fleet("round_robin", {"a": ["x", "y"], "b": "y"}, replicas=(1, 3), shares=(0.4, 0.6)))
    x, y = (pool_template(sc, i)["workload"]["classes"] for i in (0, 1))
    assert [c["share"] for c in x] == [1.0, 0.0] and x[1]["prompt_tokens"] == {"dist": "fixed", "value": 1}
    assert [c["share"] for c in y] == pytest.approx([0.3 / 0.9, 0.6 / 0.9], rel=1e-12)
    sc = _sc(_fleet("least_outstanding", {"a": ["x", "y"], "b": "y"}, shares=(0.4, 0.6)))
    x, y = (pool_template(sc, i)["workload"]["classes"] for i in (0, 1))
    assert [c["share"] for c in x] == [1.0, 0.0] and [c["share"] for c in y] == [0.0, 1.0]


def test_a_class_topping_up_the_pool_the_other_class_loads_splits_as_at_request_level():
    """a (0.9 of a pool's capacity) on x and y, b (0.5) on y alone, least outstanding: the
    water-filling evens both pools at 0.7, a's 0.2 on y. A request-level run (one hour) splits
    within 5 % of that in load factor (joining the shortest queue spreads a a little more evenly
    than the capacities do at this load: it compares a few requests outstanding, and its ties
    rotate); each class's mean E2E within 25 % (a's, read at x's 0.69 against the run's 0.67, is
    the furthest)."""
    sc, mx, my, lam_a, lam_b = _at_loads("least_outstanding", 0.9, 0.5, 3600.0)
    fluid = run_fluid(load_scenario(sc), step_s=300.0, settings=QUICK).summary
    exact = sim.run(copy.deepcopy(sc))
    ratio = (lam_a + lam_b) / (mx + my)                    # both pools at this load, by hand
    hand = (ratio * my - lam_b) / lam_a                     # a's share on y
    parts = split(load_scenario(sc).scenario, np.array([[lam_a, lam_b]]), np.array([mx, my]))[0]
    assert parts[0, 1] / lam_a == pytest.approx(hand, rel=1e-9) and parts[1].tolist() == [0.0, lam_b]
    for name in ("x", "y"):
        assert fluid["pools"][name]["load_factor"] == pytest.approx(exact.summary["pools"][name]["load_factor"],
                                                                    rel=0.05), name
    rec = exact.records
    done = rec["status"] == COMPLETED
    on_y = float(np.mean(rec["pool"][done & (rec["cls"] == 0)] == 1))
    assert on_y == pytest.approx(hand, abs=0.04)            # measured: 0.249 against 0.223
    for c in ("a", "b"):    # measured: a 1.64 s against 1.39 s (x at 0.69 against 0.67), b 1.54 s against 1.47 s
        assert fluid["classes"][c]["latency"]["e2e"]["mean"] == pytest.approx(
            exact.summary["classes"][c]["latency"]["e2e"]["mean"], rel=0.25), c
