"""Small truths left by round 20's reviews: each check below failed before its fix."""
from __future__ import annotations

import pytest

from sim.errors import ScenarioError
from sim.scenario.load import scenario_from_dict
from tests.conftest import scenario


def _autoscaled(metric: str, target: float) -> dict:
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 1,
            "batching": {"max_num_seqs": 64, "max_batched_tokens": 4096},
            "autoscale": {"metric": metric, "target": target, "min": 1, "max": 8}}
    return scenario(fleet={"router": "least_outstanding", "pools": [pool]})


@pytest.mark.parametrize("metric,target,expected", [
    # desired = ceil(n x metric / target): 1e-300 made the ratio overflow, 1e308 left the pool never growing
    ("load_factor", 1e-300, "is a fraction for metric load_factor: must be >= 0.01 (got 1e-300); allowed 0.01 "
                            "to 1 (1: the pool at its batch limits): any load would ask for autoscale.max replicas"),
    ("load_factor", 1e308, "must be <= 1 (got 1e+308); allowed 0.01 to 1 (1: the pool at its batch limits): a higher "
                           "target is not reached"),
    ("queue", 1e308, "is outstanding requests per serving replica for metric queue: must be <= 1e+06"),
    ("queue", 1e-300, "must be >= 0.01 (got 1e-300)"),
    ("ttft", 1e-300, "is seconds of mean time to first token for metric ttft: must be >= 0.001 (got 1e-300); "
                     "allowed 0.001 to 86400 s (a millisecond to a day)"),
    ("ttft", 1e308, "must be <= 86400 (got 1e+308)"),
    ("kv", 1e-300, "is a fraction for metric kv: must be >= 0.01"),
])
def test_an_autoscale_target_past_what_its_metric_reads_is_refused(metric, target, expected):
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(_autoscaled(metric, target))
    assert str(e.value).startswith("<scenario>: fleet.pools.0.autoscale.target: ") and expected in str(e.value)


@pytest.mark.parametrize("metric,target", [("load_factor", 0.01), ("load_factor", 1.0), ("queue", 1e6),
                                           ("ttft", 1e-3), ("ttft", 86_400), ("utilization", 1.0)])
def test_the_targets_at_the_bounds_are_taken(metric, target):
    assert scenario_from_dict(_autoscaled(metric, target)).scenario.fleet.pools[0].autoscale.target == target
