"""The note under a sharded pool (``scale: K``) sizes the whole fleet; for an autoscaled shard it used the
count the shard started at times K, a fleet size the run never had (``scenarios/diurnal_week.yaml``:
"25 replicas, 100 GPUs in all" for 25 shards that averaged 2.29 replicas of 4 GPUs, 229 GPUs, and
billed 38,442 GPU-hours over 168 hours). It now reads the shard's mean, which the bill must agree with:
GPU-hours provisioned / hours / GPUs per replica.

The pool is ``test_fluid_tolerance``'s M/M/1 one (4 replicas, one GPU each, offered 4.3 replicas' worth
at a ``load_factor`` target of 0.5, no band): a fifth replica from the 60 s decision on, over 7,200 s,
a mean of (4 x 60 + 5 x 7,140) / 7,200 = 4.9917 per shard, 49.9 in ten shards.
"""
from __future__ import annotations

import pytest

import sim
from sim.humanize import number
from sim.report.overview import shard_notes

from test_fluid_tolerance import _pool

from conftest import curve_cache


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def test_an_autoscaled_shards_fleet_is_sized_by_its_mean_as_billed():
    sc = _pool(4, 4.3, 0.0)
    sc["fleet"]["pools"][0]["scale"] = 10
    s = sim.run(sc).summary
    billed = s["gpu_hours"]["provisioned"] / (7200 / 3600) / s["pools"]["servers"]["gpus_per_replica"]
    assert billed == pytest.approx(10 * (4 * 60 + 5 * 7140) / 7200, rel=1e-12)
    assert f"({number(billed)} replicas, {number(billed)} GPUs in all on average)" in shard_notes(s)[0]
    assert number(billed) == "49.9"


def test_a_fixed_shard_keeps_its_count():
    sc = _pool(4, 4.3, 0.0)
    del sc["fleet"]["pools"][0]["autoscale"]
    sc["fleet"]["pools"][0]["scale"] = 10
    assert "(40 replicas, 40 GPUs in all)" in shard_notes(sim.run(sc).summary)[0]
