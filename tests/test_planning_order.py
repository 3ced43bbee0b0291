"""A batch of points is handed to the executor longest expected first; results stay in grid order.

The expected work is arithmetic on the scenario (expected requests x nominal tokens per request, ties
to more replicas), checked here by hand; the order only changes when each point runs, so a sweep's
files are the same bytes as the same sweep handed over in grid order (points validated without the
simulator carry no estimate and keep their grid order) and on a process pool.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.planning.executors import LocalExecutor, SerialExecutor
from sim.planning.order import NO_ESTIMATE, expected_work, longest_first
from sim.planning.points import make_points
from sim.planning.source import ScenarioSource
from sim.scenario.load import load_scenario

from test_planning_speed import files

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SETS = ["duration=2m", "warmup=20s", "metrics.interval=30"]


class Recording(SerialExecutor):
    """Runs each call in this process, in the order handed over, and remembers that order (as a pool of
    workers would be handed it: ``one_at_a_time`` is False)."""

    one_at_a_time = False

    def __init__(self) -> None:
        self.handed: list[tuple[float, int, int]] = []

    def map_unordered(self, fn, tasks):
        for _runner, scenario, seed, _capacity in tasks:
            self.handed.append((scenario["workload"]["arrival"]["rate"],
                                scenario["fleet"]["pools"][0]["replicas"], seed))
        yield from super().map_unordered(fn, tasks)


def test_expected_work_by_hand():
    # the baseline: Poisson 12/s for an hour, lognormal prompts of mean 1,000 and outputs of mean 250, 4 replicas
    assert expected_work(load_scenario(BASELINE)) == (12 * 3600 * (1000 + 250), 4.0)
    fixed = {"duration": 600, "model": "llama-3-8b",
             "workload": {"arrival": {"process": "poisson", "rate": 5},
                          "prompt_tokens": {"dist": "uniform", "low": 100, "high": 300},
                          "output_tokens": {"dist": "empirical", "values": [10, 50], "weights": [3, 1]}},
             "fleet": {"pools": [{"name": "a", "gpu": "h100-sxm", "replicas": 3}]}}
    assert expected_work(load_scenario(fixed)) == (5 * 600 * (200 + 20), 3.0)


def test_longest_first_is_stable_and_ties_go_to_more_replicas():
    work = {"a": (10.0, 2.0), "b": (30.0, 1.0), "c": (10.0, 8.0), "d": (10.0, 2.0), "e": NO_ESTIMATE}
    assert longest_first(list("abcde"), work.get) == ["b", "c", "a", "d", "e"]
    assert longest_first(list("edcba"), work.get) == ["b", "c", "d", "a", "e"]


def test_a_sweep_hands_its_longest_points_over_first_and_writes_grid_order(tmp_path):
    grid = ["workload.arrival.rate=2,8,4", "fleet.pools.0.replicas=1,2"]
    rec = Recording()
    res = sim.sweep(BASELINE, grid, seeds=2, overrides=SETS, executor=rec, out=tmp_path / "longest", figures=False)
    # expected work: rate x 120 s x 1,250 tokens, then replicas; each configuration's seeds 1 and 2 in turn
    assert rec.handed == [(8, 2, 1), (8, 2, 2), (8, 1, 1), (8, 1, 2), (4, 2, 1), (4, 2, 2), (4, 1, 1), (4, 1, 2),
                          (2, 2, 1), (2, 2, 2), (2, 1, 1), (2, 1, 2)]
    assert [(r["config"]["workload.arrival.rate"], r["config"]["fleet.pools.0.replicas"], r["seed"])
            for r in res.records] == [(2, 1, 1), (2, 1, 2), (2, 2, 1), (2, 2, 2), (8, 1, 1), (8, 1, 2),
                                      (8, 2, 1), (8, 2, 2), (4, 1, 1), (4, 1, 2), (4, 2, 1), (4, 2, 2)]
    # handed over in grid order (no estimates without validation): the same bytes; and on a pool of two
    grid_order = Recording()
    sim.sweep(BASELINE, grid, seeds=2, overrides=SETS, executor=grid_order, validate=False,
              out=tmp_path / "grid", figures=False)
    assert grid_order.handed == sorted(grid_order.handed, key=lambda h: ([2, 8, 4].index(h[0]), h[1], h[2]))
    with LocalExecutor(2) as pool:
        sim.sweep(BASELINE, grid, seeds=2, overrides=SETS, executor=pool, out=tmp_path / "pool", figures=False)
    want = files(tmp_path / "grid")
    assert files(tmp_path / "longest") == want and files(tmp_path / "pool") == want


def test_points_carry_their_estimate_and_keep_configuration_major_order():
    source = ScenarioSource.from_any(BASELINE, SETS)
    pts = make_points(source, [("workload.arrival.rate=3",), ("workload.arrival.rate=9",)], seeds=2)
    assert [p.work for p in pts] == [(3 * 120 * 1250, 4.0)] * 2 + [(9 * 120 * 1250, 4.0)] * 2
    assert [p.seed for p in pts] == [1, 2, 1, 2]


def _started(i: int, delay: float) -> float:
    import time

    t = time.time()
    time.sleep(delay)
    return t


def test_every_executor_starts_the_points_in_the_order_handed_over():
    """One worker at a time: the start times follow the order of the tasks handed over (on Dask by the
    priority each is submitted with, not by its queues' ties)."""
    pytest.importorskip("distributed")
    from sim.planning.executors import DaskExecutor

    tasks = [(i, 0.02) for i in range(10)]
    for make in (SerialExecutor, lambda: DaskExecutor(workers=1)):
        with make() as ex:
            started = dict(ex.map_unordered(_started, tasks))
        assert sorted(started, key=started.get) == list(range(10))


def test_an_executor_running_one_call_at_a_time_is_handed_grid_order(tmp_path):
    """Serial (or one local worker): no order is faster, and a sweep interrupted there keeps its first points."""
    class Serial(Recording):
        one_at_a_time = True

    rec = Serial()
    sim.sweep(BASELINE, ["workload.arrival.rate=2,8,4"], overrides=SETS, executor=rec, out=tmp_path / "s",
              figures=False)
    assert [h[0] for h in rec.handed] == [2, 8, 4]
    assert SerialExecutor.one_at_a_time and LocalExecutor(1).one_at_a_time and not LocalExecutor(2).one_at_a_time
