"""The fluid tier's busy share on ``n`` replicas (:mod:`sim.fluid.busy`) against queueing theory and
against request-level runs of the same pool.

A replica under continuous batching behaves like an infinite-server queue at light load: busy
``P(N >= 1) = 1 - exp(-lam E[T])`` (M/G/inf), and ``n`` replicas behind a router that fills idle
replicas first are busy ``E[min(N, n)] / n`` of the time, ``N`` Poisson of mean ``n lam E[T]``.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import sim
from sim.fluid.busy import busy_on, load_of, spread_busy
from sim.fluid.capacity import capacity_curve
from sim.scenario.load import load_scenario

from test_fluid import QUICK, _linear_scenario

from conftest import curve_cache


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _pmf_mean_min(m: float, n: int) -> float:
    """``E[min(N, n)]``, ``N`` Poisson of mean ``m``, summed term by term (another path than the closed form)."""
    return sum(min(k, n) * math.exp(-m) * m ** k / math.factorial(k) for k in range(120))


@pytest.mark.parametrize("load", [0.05, 0.3, 1.0, 2.5])
def test_one_replica_is_an_infinite_server_queue_and_n_fill_idle_ones_first(load):
    assert float(spread_busy(1, load)) == pytest.approx(1.0 - math.exp(-load), rel=1e-12)
    shares = [float(spread_busy(n, load)) for n in (1, 2, 3, 4, 8)]
    for n, share in zip((1, 2, 3, 4, 8), shares):
        assert share == pytest.approx(_pmf_mean_min(n * load, n) / n, rel=1e-10)
    # spreading: busier on more replicas, never beyond one request each (E[min(N, n)] <= E[N])
    assert all(a < b for a, b in zip(shares, shares[1:])) and shares[-1] <= load


def test_round_robin_with_equal_request_times_is_the_spread_formula():
    """Every n-th arrival of a Poisson stream, each request T seconds: the replica is busy over the union
    of ``[a, a + T]``, exactly ``E[min(N, n)] / n`` with ``N`` Poisson of mean ``n lam T`` in the long run."""
    rng = np.random.default_rng(4)
    lam, t_req = 0.2, 5.0                      # per replica; L = 1
    for n in (1, 2, 4):
        arrivals = np.cumsum(rng.exponential(1.0 / (n * lam), 400_000 * n))[::n]    # this replica's
        busy = np.minimum(np.diff(arrivals), t_req).sum() / (arrivals[-1] - arrivals[0])
        assert busy == pytest.approx(float(spread_busy(n, lam * t_req)), abs=0.004)


@pytest.mark.parametrize("g", [1, 2, 4])
def test_the_load_a_groups_share_stands_for_reads_that_share_back(g):
    busy = np.array([0.0, 0.1, 0.45, 0.8, 0.97, 1.0])
    load = load_of(g, busy)
    assert load[0] == 0.0 and math.isinf(load[-1])
    assert np.allclose(spread_busy(g, load[:-1]), busy[:-1], rtol=1e-12, atol=1e-15)


def _fixed(n: int, per_rps: float) -> dict:
    sc = _linear_scenario(1, 4.0, 3600)
    sc.update(duration=1500, warmup=300, seed=9)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": n * per_rps}
    sc["fleet"]["pools"][0]["replicas"] = n
    return sc


def test_busy_share_on_n_replicas_is_the_request_levels_at_light_load():
    """The curve of one replica read on one and on three behind ``least_outstanding``, against
    request-level runs at the same load per replica (about 0.5 and 1 request in the system per
    replica): within 12 %. The reading is 3-9 % above these runs: the model is the bound of a router
    that never leaves a replica idle while another holds two requests (it does not move requests, so
    it does, now and then: a few per cent at one request per replica), and the curve's grid runs and
    these runs measure a request's time on its replica within +-3 % each (1,000 requests). The curve
    read as it was, one replica's share on each of three, is 15-22 % low and fails this."""
    loaded = load_scenario(_linear_scenario(1, 4.0, 3600))
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    assert curve.meta["group_replicas"] == 1
    for per in (0.8, 1.6):
        one = sim.run(_fixed(1, per)).summary
        three = sim.run(_fixed(3, per)).summary
        for n, s in ((1, one), (3, three)):
            served = s["throughput"]["requests_per_s"] / n
            got = float(busy_on(curve, served, n, router="least_outstanding"))
            assert got == pytest.approx(s["utilization"]["gpu_busy"], rel=0.12)
        served = three["throughput"]["requests_per_s"] / 3
        assert float(curve.at_served(curve.busy, served)) < 0.88 * three["utilization"]["gpu_busy"]
        # theory at light load: one replica is M/G/inf on the time a request spends on it, a little less
        # than its time in the system (E2E: its wait for a first iteration included)
        mg_inf = 1.0 - math.exp(-one["throughput"]["requests_per_s"] * one["latency"]["e2e"]["mean"])
        assert 0.9 * mg_inf <= one["utilization"]["gpu_busy"] <= mg_inf



def test_a_pool_of_many_replicas_reads_its_share_without_a_term_per_replica():
    """A year of hourly steps of a large pool: each step's share is read in closed form (Poisson tails),
    not by summing a term per replica, which held steps x replicas numbers at once (3,000 replicas: 210 MB
    an array, several arrays; 100,000: 7 GB each). At ``L`` requests per replica the share is
    ``E[min(N, n)] / n`` with ``N`` Poisson of mean ``nL``; far from ``L = 1`` it is ``min(L, 1)`` to
    within the Poisson tail beyond ``n``, which at ``n = 100,000`` lies more than 50 standard deviations
    away (``e^-1250`` and below, zero in doubles)."""
    import tracemalloc
    from types import SimpleNamespace as NS

    curve = NS(busy=np.array([0.0, 1 - np.exp(-1.0)]), served_rps=np.array([0.0, 0.2]),
               meta={"group_replicas": 1, "fleet_router": "least_outstanding"})
    steps = 8760
    per = np.where(np.arange(steps) % 2 == 0, 0.1, 0.15)           # L = 0.5 and 0.75
    tracemalloc.start()
    shares = busy_on(curve, per, np.full(steps, 3000.0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * steps * 8                        # a few arrays of one value per step
    assert np.allclose(shares, 5 * per, rtol=0, atol=1e-12)           # min(L, 1): the tails 16 sd away
    big = spread_busy(np.full(steps, 100_000.0), np.where(per < 0.12, 0.5, 2.0))
    assert np.array_equal(np.unique(big), [0.5, 1.0])
    # one count and many: the same numbers as one at a time, and as the term-by-term sum at a small n
    assert float(spread_busy(3, 0.8)) == spread_busy(np.array([3.0, 1.0]), np.array([0.8, 0.8]))[0]
    assert float(spread_busy(np.array([1.0]), 0.3)[0]) == pytest.approx(1.0 - math.exp(-0.3), rel=1e-15)
    assert float(spread_busy(40, 0.9)) == pytest.approx(_pmf_mean_min(36.0, 40) / 40, rel=1e-12)
