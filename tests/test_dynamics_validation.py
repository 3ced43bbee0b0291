"""Bad fleet-dynamics input is refused by ``fleetsim validate`` with exit status 2 and a clear line."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import sim.cli

from conftest import scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _pool(**kw):
    return lambda s: s["fleet"]["pools"][0].update(**kw)


def _fleet(**kw):
    return lambda s: s["fleet"].update(**kw)


CASES = {
    "spillover_unknown_pool": (_fleet(router={"policy": "spillover", "primary": "nope", "overflow": "main",
                                              "threshold": 2}),
                               "fleet.router.primary: unknown pool 'nope'; allowed: main"),
    "spillover_missing_fields": (_fleet(router={"policy": "spillover", "primary": "main"}),
                                 "fleet.router.threshold: required for the spillover router"),
    "spillover_threshold_zero": (_fleet(router={"policy": "spillover", "primary": "main", "overflow": "main",
                                                "threshold": 0}), "fleet.router.threshold: must be > 0 (got 0)"),
    "weighted_unknown_pool": (_fleet(router={"policy": "weighted", "weights": {"nope": 1}}),
                              "fleet.router.weights.nope: unknown pool 'nope'"),
    "mttr_zero": (_pool(failures={"mtbf": 100, "mttr": 0}), "fleet.pools.0.failures.mttr: must be > 0 (got 0)"),
    "mtbf_negative": (_pool(failures={"mtbf": -5, "mttr": 3}), "fleet.pools.0.failures.mtbf: must be > 0"),
    "weibull_shape_zero": (_pool(failures={"mtbf": 5, "mttr": 3, "distribution": "weibull", "shape": 0}),
                           "fleet.pools.0.failures.shape: must be >= 0.1 (got 0)"),
    "unknown_distribution": (_pool(failures={"mtbf": 5, "mttr": 3, "distribution": "lognormal"}),
                             "fleet.pools.0.failures.distribution: must be one of 'exponential' or 'weibull'"),
    "negative_retries": (_pool(failures={"mtbf": 5, "mttr": 3, "max_retries": -1}),
                         "fleet.pools.0.failures.max_retries: must be >= 0 (got -1)"),
    "disaggregated_unknown_pool": (_fleet(disaggregated={"prefill_pool": "main", "decode_pool": "x", "link_gbps": 10}),
                                   "fleet.disaggregated.decode_pool: unknown pool 'x'; allowed: main"),
    "disaggregated_same_pool": (_fleet(disaggregated={"prefill_pool": "main", "decode_pool": "main",
                                                      "link_gbps": 10}),
                                "fleet.disaggregated.decode_pool: must differ from prefill_pool"),
    "link_zero": (_fleet(disaggregated={"prefill_pool": "main", "decode_pool": "main", "link_gbps": 0}),
                  "fleet.disaggregated.link_gbps: must be > 0 (got 0)"),
    "autoscale_min_over_max": (_pool(autoscale={"min": 5, "max": 2}),
                               "fleet.pools.0.autoscale.max: must be >= min (got min=5, max=2)"),
    "autoscale_max_below_replicas": (_pool(replicas=4, autoscale={"min": 1, "max": 2}),
                                     "fleet.pools.0.autoscale.max: must be >= replicas (4) (got 2)"),
    "autoscale_target_zero": (_pool(autoscale={"target": 0}), "fleet.pools.0.autoscale.target: must be > 0 (got 0)"),
    "autoscale_unknown_metric": (_pool(autoscale={"metric": "latency"}),
                                 "fleet.pools.0.autoscale.metric: must be one of 'load_factor', 'utilization', 'queue', 'kv' or 'ttft'"),
    "negative_delay": (_pool(autoscale={"scale_up_delay": "-5s"}), "fleet.pools.0.autoscale.scale_up_delay:"),
    "static_without_batch_size": (_pool(batching={"policy": "static"}),
                                  "fleet.pools.0.batching.batch_size: required when policy is static"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_dynamics_input_exits_2_with_the_field_and_reason(case, tmp_path, capsys):
    edit, expected = CASES[case]
    sc = scenario()
    edit(sc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert sim.cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {expected}" in err


@pytest.mark.parametrize("name", ["diurnal_week", "mixed_fleet", "disaggregated", "failures"])
def test_shipped_dynamics_scenarios_validate(name, capsys):
    assert sim.cli.main(["validate", str(SCENARIOS / f"{name}.yaml")]) == 0


def test_diurnal_week_scenario_follows_the_daily_cycle():
    import sim

    res = sim.run(SCENARIOS / "diurnal_week.yaml", overrides=["duration=1d", "warmup=0"])
    ts = res.timeseries
    hour = (ts[:, 0] % 86400) / 3600
    peak = ts[(hour >= 13) & (hour < 18), 2].mean()     # around the 15:00 peak
    trough = ts[(hour >= 1) & (hour < 6), 2].mean()     # around the 03:00 trough
    assert peak >= 2 * trough
    assert trough >= 1.0                                # never below autoscale.min
    s = res.summary
    assert s["autoscale"]["a100"]["scale_ups"] >= 1 and s["autoscale"]["a100"]["scale_downs"] >= 1
    # GPU-hours: mean replicas x 4 GPUs x 24 h x 25 shards
    assert s["gpu_hours"]["provisioned"] == pytest.approx(s["pools"]["a100"]["replicas_mean"] * 4 * 24 * 25, rel=1e-9)
