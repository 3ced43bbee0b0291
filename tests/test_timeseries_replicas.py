"""``timeseries.csv``'s ``replicas`` column is the mean replicas provisioned over each row's interval, so
``sum(replicas x interval x GPUs per replica)`` is the provisioned GPU-seconds the bill counts: the two
must agree in the file a planner opens, not only in memory. A cast to integers wrote a row a replica
joined part-way through as the count before it (a fluid step of 600 s with a fifth replica from 60 s on,
a mean of 4.9, read 4), so the column under-counted the bill and the replica curve lagged a row.

The pool is ``test_fluid_tolerance``'s M/M/1 one: 4 replicas offered 4.3 replicas' worth at a
``load_factor`` target of 0.5 with no tolerance band, so the first decision, 60 s in, asks for
``ceil(4.3) = 5`` (hand arithmetic in that module's docstring).
"""
from __future__ import annotations

import csv

import pytest

import sim
from sim.metrics.output import write_result

from test_fluid_tolerance import _pool

from conftest import curve_cache


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _written(sc: dict, folder) -> tuple[dict, list[dict]]:
    res = sim.run(sc)
    write_result(res, folder, figures="none")
    with open(folder / "timeseries.csv", newline="") as f:
        return res.summary, list(csv.DictReader(f))


def _provisioned_gpu_hours(rows: list[dict], gpus_per_replica: int) -> float:
    edges = [0.0] + [float(r["time_s"]) for r in rows]
    return sum(float(r["replicas"]) * (b - a) for r, a, b in zip(rows, edges, edges[1:])) * gpus_per_replica / 3600


def test_a_replica_joining_mid_row_is_written_with_its_fraction_and_the_column_sums_to_the_bill(tmp_path):
    summary, rows = _written(_pool(4, 4.3, 0.0), tmp_path / "fluid")
    # first step 0-600 s: 4 replicas, a fifth provisioned at the 60 s decision: (4 x 60 + 5 x 540) / 600
    assert rows[0]["replicas"] == repr((4 * 60 + 5 * 540) / 600) == "4.9"
    assert {r["replicas"] for r in rows[1:]} == {"5.0"}
    pool = summary["pools"]["servers"]
    assert _provisioned_gpu_hours(rows, pool["gpus_per_replica"]) == pytest.approx(
        summary["gpu_hours"]["provisioned"], rel=1e-12)       # one sum, two orders of adding
    assert summary["gpu_hours"]["provisioned"] == pytest.approx((4 * 60 + 5 * 7140) / 3600, rel=1e-12)


def test_a_fixed_fleet_still_writes_whole_replicas(tmp_path):
    sc = _pool(4, 4.3, 0.0)
    del sc["fleet"]["pools"][0]["autoscale"]
    summary, rows = _written(sc, tmp_path / "fixed")
    assert {r["replicas"] for r in rows} == {"4"}
    assert _provisioned_gpu_hours(rows, 1) == summary["gpu_hours"]["provisioned"] == 4 * 7200 / 3600
