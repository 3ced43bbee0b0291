"""Truncated length distributions (truncate: resample | clip) and burst (offline) arrivals."""
from __future__ import annotations

import math

import numpy as np
import pytest

import sim
from sim.scenario.workload import ExponentialTokens, LognormalTokens
from sim.workload.lengths import sample_tokens

from conftest import scenario


def test_resampled_exponential_has_the_truncated_mean():
    d = ExponentialTokens(dist="exponential", mean=1000, max=2000, truncate="resample")
    x = sample_tokens(d, np.random.default_rng(7), 400_000)
    assert x.min() >= 1 and x.max() <= 2000
    # E[X | X <= M] for X ~ Exp(mean), plus about 0.5 for the ceiling
    m, M = 1000.0, 2000.0
    expect = m - M * math.exp(-M / m) / (1 - math.exp(-M / m)) + 0.5
    assert x.mean() == pytest.approx(expect, rel=0.005)
    # no point mass at the cap (clip would put exp(-2) = 13.5 % there)
    assert np.mean(x == 2000) < 0.001
    clipped = sample_tokens(ExponentialTokens(dist="exponential", mean=1000, max=2000), np.random.default_rng(7), 400_000)
    assert np.mean(clipped == 2000) == pytest.approx(math.exp(-2), rel=0.02)


def test_resampled_lognormal_stays_in_bounds_without_point_masses():
    d = LognormalTokens(dist="lognormal", mean=1000, cv=1.0, min=200, max=2000, truncate="resample")
    x = sample_tokens(d, np.random.default_rng(3), 300_000)
    assert x.min() >= 200 and x.max() <= 2000
    assert np.mean(x == 2000) < 0.001 and np.mean(x == 200) < 0.002
    # the conditional mean of the continuous lognormal on [199.5, 2000.5] (closed form)
    from scipy.special import ndtr
    s2 = math.log1p(1.0)
    mu, s = math.log(1000) - s2 / 2, math.sqrt(s2)
    a, b = (math.log(199.5) - mu) / s, (math.log(2000.5) - mu) / s
    expect = math.exp(mu + s2 / 2) * (ndtr(b - s) - ndtr(a - s)) / (ndtr(b) - ndtr(a))
    assert x.mean() == pytest.approx(expect, rel=0.005)


@pytest.mark.parametrize("dist", [
    ExponentialTokens(dist="exponential", mean=300, max=500, truncate="resample"),
    LognormalTokens(dist="lognormal", mean=300, cv=2, max=500, truncate="resample")])
def test_resampling_keeps_draws_element_wise(dist):
    a = sample_tokens(dist, np.random.default_rng(5), 8)
    rng = np.random.default_rng(5)
    b = np.concatenate([sample_tokens(dist, rng, 3), sample_tokens(dist, rng, 5)])
    assert a.tolist() == b.tolist()


def test_burst_puts_every_request_at_once_and_drain_gives_offline_throughput():
    sc = scenario(duration=1, drain=True)
    sc["workload"]["arrival"] = {"process": "burst", "count": 6}
    res = sim.run(sc)
    r = res.records
    assert len(r) == 6 and np.all(r["arrival_s"] == 0.0) and np.all(r["status"] == 1)
    # one prefill of 600 tokens (0.07 s), then 9 decodes of 6 sequences (0.016 s)
    makespan = 0.07 + 9 * 0.016
    assert r["completion_s"].max() == pytest.approx(makespan, rel=1e-12)
    assert res.summary["throughput"]["output_tokens_per_s"] == pytest.approx(60 / makespan, rel=1e-9)


def test_offline_is_a_name_for_burst_and_bad_counts_are_clear_errors(tmp_path):
    import yaml

    from sim.errors import ScenarioError
    from sim.scenario.load import load_scenario

    sc = scenario(duration=1, drain=True)
    sc["workload"]["arrival"] = {"process": "offline", "count": 3, "at": "0.5s"}
    assert np.all(sim.run(sc).records["arrival_s"] == 0.5)
    sc["workload"]["arrival"] = {"process": "burst", "count": 0}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    with pytest.raises(ScenarioError, match="workload.arrival.*count"):
        load_scenario(path)


def test_resampling_far_in_a_tail_stays_near_the_mode_side_bound():
    far_above = LognormalTokens(dist="lognormal", mean=10, cv=0.5, min=30, max=2000, truncate="resample")
    x = sample_tokens(far_above, np.random.default_rng(2), 20_000)
    # the density falls steeply above the mode, so most values sit just above min
    assert x.min() >= 30 and np.median(x) < 40
    unreachable = LognormalTokens(dist="lognormal", mean=10, cv=0.1, min=10**6, max=2 * 10**6, truncate="resample")
    assert sample_tokens(unreachable, np.random.default_rng(2), 3).tolist() == [10**6] * 3
