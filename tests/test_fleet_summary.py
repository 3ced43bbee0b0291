"""The fleet-summary assembler both tiers call, against hand-worked arithmetic."""
from __future__ import annotations

import numpy as np
import pytest

from sim.api import build_pools
from sim.metrics.fleet_summary import PoolUsage, fleet_summary
from sim.scenario.load import load_scenario


def _scenario():
    return load_scenario({
        "name": "two-pools", "seed": 1, "duration": "1h", "model": "llama-3-8b",
        "workload": {"arrival": {"process": "poisson", "rate": 1.0},
                     "prompt_tokens": {"dist": "fixed", "value": 100},
                     "output_tokens": {"dist": "fixed", "value": 10}},
        "fleet": {"pools": [{"name": "a", "gpu": "h100-sxm", "replicas": 2},
                            {"name": "b", "gpu": "h100-sxm", "replicas": 1, "tensor_parallel": 2, "scale": 3}]}})


def _usage(pool, prov, busy, flops, kv, **kw):
    return PoolUsage(pool=pool, provisioned_gpu_s=prov, busy_gpu_s=busy, flops_done=flops, kv_cache_mean=kv,
                     requests=0.0, prompt_mean=0.0, output_mean=0.0, **kw)


def test_gpu_hours_busy_share_and_mfu_weigh_each_pool_by_its_scale():
    loaded = _scenario()
    a, b = build_pools(loaded)
    # pool a: 2 replicas x 1 GPU for an hour = 7,200 GPU-s, busy 3,600; pool b: one shard of 2 GPUs
    # for an hour (7,200 GPU-s) busy 1,800, times scale 3; FLOPs of 10 % and 25 % of the provisioned peak
    usage = [_usage(a, 7200.0, 3600.0, 0.1 * 7200.0 * a.peak_flops(), 0.5, lead={"note": 1}),
             _usage(b, 7200.0, 1800.0, 0.25 * 7200.0 * b.peak_flops(), 0.2, tail={"extra": "x"})]
    f = fleet_summary(loaded.scenario, usage, kv_cache_mean=0.3, timeseries=np.zeros((0, 9)),
                      requests={"arrived": 0, "in_flight": 0}, end_s=3600.0)
    assert f.gpu_hours == {"provisioned": (7200 + 3 * 7200) / 3600, "busy": (3600 + 3 * 1800) / 3600}
    assert f.utilization["gpu_busy"] == pytest.approx((3600 + 3 * 1800) / (7200 + 3 * 7200))
    assert f.utilization["mfu"] == pytest.approx((0.1 * 7200 + 0.25 * 3 * 7200) / (7200 + 3 * 7200))
    assert f.utilization["kv_cache_mean"] == 0.3
    assert f.busy_gpu_s_by_pool == {"a": 3600.0, "b": 3 * 1800.0}
    assert f.pools["a"]["gpu_busy"] == 0.5 and f.pools["b"]["gpu_busy"] == 0.25
    assert f.pools["b"]["gpu_hours_provisioned"] == 6.0 and f.pools["b"]["tensor_parallel"] == 2
    # the tier's own keys keep their places: lead after "replicas", tail last, after the
    # utilization keys (where the request tier adds replicas_mean)
    keys = list(f.pools["a"])
    assert keys[:3] == ["gpu", "replicas", "note"]
    keys = list(f.pools["b"])
    assert keys[-3:] == ["load_factor", "mbu", "extra"]
    assert f.pools["a"]["load_factor"] == 0.0            # nothing served


def test_mfu_counts_no_more_flops_than_the_busy_gpus_can_do():
    """A pool reporting more FLOPs than its busy GPU-seconds at peak (a step model faster than the GPU:
    a linear model of 0.1 ms iterations) is counted at its busy time x peak: MFU is then its busy share,
    never above 1."""
    loaded = _scenario()
    a, _ = build_pools(loaded)
    f = fleet_summary(loaded.scenario, [_usage(a, 7200.0, 3600.0, 3.0 * 7200.0 * a.peak_flops(), 0.5)],
                      kv_cache_mean=0.3, timeseries=np.zeros((0, 9)), requests={"arrived": 0, "in_flight": 0},
                      end_s=3600.0)
    assert f.utilization["mfu"] == 3600.0 / 7200.0
