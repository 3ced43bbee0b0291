"""The noise of the autoscaler's ``utilization`` reading (:mod:`sim.fluid.reading_noise`) against an
M/G/inf process simulated here event by event, against the request level's readings of the same pool,
and the fluid tier's decision on it against the request level's replicas.

A reading is the busy share of ``n`` replicas over one interval ``W``: the time-average of
``min(N(t), n) / n`` behind a router that fills idle replicas first, ``N`` the pool's requests in the
system. Its variance follows from the M/G/inf covariance of ``N(0)`` and ``N(tau)``.
"""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from scipy.special import ndtr

import sim
from sim.fluid.busy import behind
from sim.fluid.capacity import capacity_curve
from sim.fluid.reading_noise import busy_reading_sd, busy_var, min_cov, readings, residual, z_largest
from sim.scenario.load import load_scenario

from test_fluid import QUICK, _linear_scenario


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path_factory.getbasetemp() / "fleetsim-cache"))


def _window_means(lam: float, mean_t: float, cv2: float, n: int, window: float, count: int, seed: int) -> np.ndarray:
    """Time-averages of ``min(N(t), n)`` over ``count`` consecutive windows of an M/G/inf queue with
    Poisson arrivals at ``lam`` and gamma times in the system (mean ``mean_t``, ``cv2``; 0: fixed),
    from its arrival and departure events (the first ``20 mean_t`` seconds dropped: the queue fills)."""
    rng = np.random.default_rng(seed)
    lead = 20.0 * mean_t
    horizon = lead + count * window
    arrivals = np.sort(rng.uniform(0.0, horizon, rng.poisson(lam * horizon)))
    stay = (np.full(len(arrivals), mean_t) if cv2 == 0 else
            rng.gamma(1.0 / cv2, mean_t * cv2, len(arrivals)))
    edges = lead + window * np.arange(count + 1)
    times = np.concatenate([arrivals, arrivals + stay, edges])
    steps = np.concatenate([np.ones(len(arrivals)), -np.ones(len(arrivals)), np.zeros(len(edges))])
    order = np.argsort(times, kind="stable")
    times, level = times[order], np.cumsum(steps[order])
    area = np.concatenate([[0.0], np.cumsum(np.minimum(level[:-1], n) * np.diff(times))])
    at_edges = np.interp(edges, times, area)
    return np.diff(at_edges) / window


@pytest.mark.parametrize("n, load, mean_t, cv2, window", [
    (1, 0.6, 20.0, 1.0, 300.0),      # one replica: busy 1{N >= 1}, exponential times
    (4, 0.6, 20.0, 0.6, 300.0),      # diurnal_week's pool at 0.45 requests/s: N crosses n
    (3, 1.2, 5.0, 0.0, 60.0),        # fixed times: N mostly at n
    (200, 0.3, 10.0, 0.5, 60.0),     # n far past N: min(N, n) = N
])
def test_reading_variance_is_the_mg_inf_processes(n, load, mean_t, cv2, window):
    """Sample variance of 3,000 simulated readings against the closed form, within 4 standard errors
    of a sample variance (``var sqrt(2 / (count - 1))``, the readings nearly Gaussian and, with
    ``W >> E[T]``, nearly independent)."""
    count = 3000
    lam = n * load / mean_t
    got = _window_means(lam, mean_t, cv2, n, window, count, seed=n) / n
    want = busy_var(n * load, n, window, mean_t, cv2) / (n * n)
    assert got.var(ddof=1) == pytest.approx(want, rel=4.0 * math.sqrt(2.0 / (count - 1)))


def test_the_covariance_at_lag_zero_is_the_variance_of_min_n_n():
    """``rho = 1``: ``N(tau) = N(0)``, so the covariance is ``Var(min(N, n))``, summed term by term."""
    m, n = 3.3, 4
    terms = [(min(k, n), math.exp(-m) * m ** k / math.factorial(k)) for k in range(80)]
    mean = sum(v * p for v, p in terms)
    var = sum(v * v * p for v, p in terms) - mean * mean
    assert float(min_cov(m, n, np.array([1.0]))[0]) == pytest.approx(var, rel=1e-10)
    assert float(min_cov(m, n, np.array([0.0]))[0]) == pytest.approx(0.0, abs=1e-12)   # independent


@pytest.mark.parametrize("m, n", [(0.4, 1), (2.4, 4), (6.0, 5), (12.0, 20)])
def test_the_covariance_is_the_sum_over_the_shared_and_the_own_counts(m, n):
    """``N(0) = A + B``, ``N(tau) = A + B'``, three independent Poisson counts: the covariance of
    ``min(., n)`` enumerated over all three (another path than the survival sums)."""
    from scipy.stats import poisson
    k = np.arange(80)
    for rho in (0.15, 0.5, 0.9):
        pa, pb = poisson.pmf(k, m * rho), poisson.pmf(k, m * (1.0 - rho))
        f = np.minimum(k[:, None, None] + k[None, :, None], n)          # a + b
        g = np.minimum(k[:, None, None] + k[None, None, :], n)          # a + b'
        joint = pa[:, None, None] * pb[None, :, None] * pb[None, None, :]
        mean = float((joint * f).sum())
        want = float((joint * f * g).sum()) - mean * mean
        assert float(min_cov(m, n, np.array([rho]))[0]) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_residual_share_is_the_gamma_stationary_excess():
    """``rho(tau) = integral_tau^inf P(T > u) du / E[T]``, integrated numerically from the gamma's
    survival function (another path than the incomplete-gamma closed form)."""
    from scipy.integrate import quad
    from scipy.stats import gamma
    mean, cv2 = 8.0, 0.4
    dist = gamma(1.0 / cv2, scale=mean * cv2)
    for tau in (0.0, 3.0, 8.0, 25.0):
        want = quad(dist.sf, tau, np.inf)[0] / mean
        assert float(residual(np.array([tau]), mean, cv2)[0]) == pytest.approx(want, rel=1e-8, abs=1e-14)


def test_the_step_reads_the_median_of_its_largest_reading():
    """``z_k``: half of the maxima of ``k`` standard normal readings lie below it (``Phi(z)^k = 1/2``),
    and the step and window counts are those of the request level's decisions."""
    for k in (1, 2, 6, 12, 100):
        assert float(ndtr(z_largest(k))) ** k == pytest.approx(0.5, rel=1e-12)
    draws = np.random.default_rng(3).standard_normal((200_000, 12)).max(axis=1)
    assert np.median(draws) == pytest.approx(z_largest(12), abs=0.01)
    assert readings(3600.0, 300.0, 1800.0) == (12, 6)      # diurnal_week: 12 decisions an hour, 6 in the window


def _fixed_pool(router: str, n: int, per_rps: float) -> dict:
    sc = _linear_scenario(1, per_rps * n, 3600.0, replicas=n)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": per_rps * n}
    sc["fleet"]["router"] = router
    sc.update(duration=4 * 3600, warmup=600)
    sc["metrics"] = {"interval": 60.0, "records": "none"}
    return sc


def _readings_against_theory(router: str, n: int, per_rps: float) -> tuple[float, float, int]:
    sc = _fixed_pool(router, n, per_rps)
    loaded = load_scenario(copy.deepcopy(sc))
    curve = behind(capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK), router)
    res = sim.run(copy.deepcopy(sc))
    ts = res.timeseries
    busy = ts[ts[:, 0] > 600.0 + 60.0, 8]            # each a 60 s interval's busy share: the reading
    served = res.summary["throughput"]["requests_per_s"] / n
    return float(busy.std(ddof=1)), busy_reading_sd(curve, served, n, 60.0), len(busy)


def _check_readings(router: str, n: int, per_rps: float) -> None:
    """The sample SD of the request level's readings against the fluid tier's, within 4 standard errors
    of a sample SD (``sd / sqrt(2 (count - 1))``: 229 readings, 4.7 %). Measured: random, 3 replicas at
    1 request/s each: 0.0351 run, 0.0364 theory; least outstanding, 2 at 2/s: 0.0379, 0.0391; random, 1
    at 1.5/s: 0.0552, 0.0601 (the curve's busy share there 4 % above the run's)."""
    got, want, count = _readings_against_theory(router, n, per_rps)
    assert want == pytest.approx(got, rel=4.0 / math.sqrt(2.0 * (count - 1)))


def test_the_request_levels_readings_scatter_as_derived():
    _check_readings("random", 3, 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("router, n, per_rps", [("least_outstanding", 2, 2.0), ("random", 1, 1.5)])
def test_the_request_levels_readings_scatter_as_derived_on_other_pools(router, n, per_rps):
    _check_readings(router, n, per_rps)


def _utilization_ramp(cooldown_s: float) -> dict:
    """``tests/test_cross_tier.py``'s busy-time ramp (2 h, 2 to 6 requests/s, one-minute interval)."""
    sc = _linear_scenario(2, 4.0, 3600.0, replicas=2)
    sc["fleet"]["pools"][0]["autoscale"] = {"metric": "utilization", "target": 0.6, "interval": 60, "min": 1,
                                            "max": 30, "cooldown": cooldown_s, "scale_up_delay": 60}
    return sc


def _fluid_bytes(sc: dict, step_s: float, noise: bool) -> tuple[str, bytes]:
    from sim.fluid import run_fluid
    sc = copy.deepcopy(sc)
    sc["fluid"] = {"reading_noise": noise}
    res = run_fluid(load_scenario(sc), step_s=step_s, settings=QUICK)
    summary = {k: v for k, v in res.summary.items() if k != "wall_seconds"}
    return json.dumps(summary, sort_keys=True, default=str), res.timeseries.tobytes()


def test_one_reading_a_step_and_a_window_of_one_read_the_expected_value_byte_for_byte():
    """``k = w = 1`` (a step no longer than the interval, a window no longer than it): ``z = 0`` on both
    sides, so ``fluid.reading_noise`` true and false are the same run to the byte; ten readings a step
    (10-minute steps) are not."""
    sc = _utilization_ramp(60.0)
    assert _fluid_bytes(sc, 60.0, True) == _fluid_bytes(sc, 60.0, False)
    assert _fluid_bytes(sc, 30.0, True) == _fluid_bytes(sc, 30.0, False)
    assert _fluid_bytes(sc, 600.0, True)[1] != _fluid_bytes(sc, 600.0, False)[1]


def test_metrics_read_at_their_expected_value_do_not_see_the_switch():
    """``load_factor`` (the default metric) is read at its expected value whatever ``fluid.reading_noise``."""
    sc = _utilization_ramp(300.0)
    sc["fleet"]["pools"][0]["autoscale"]["metric"] = "load_factor"
    assert _fluid_bytes(sc, 600.0, True) == _fluid_bytes(sc, 600.0, False)


@pytest.mark.slow
def test_a_steady_load_past_the_band_edge_holds_the_request_levels_count():
    """``diurnal_week``'s pool at a steady 0.48 requests/s for 9 h: the request level holds 5 replicas
    (seeds 1 to 7: 5.0 to 5.37 after the first hour, ``benchmarks/fluid_reading_edge.py``), its readings
    on 4 passing the band now and then; the fluid tier on its readings' noise holds 5 as well, on the
    expected reading 4 (4's mean reading inside the band)."""
    from pathlib import Path

    import yaml
    path = Path(__file__).resolve().parents[1] / "scenarios" / "diurnal_week.yaml"
    sc = yaml.safe_load(path.read_text())
    sc["workload"]["arrival"] = {"process": "poisson", "rate": 0.48}
    sc.update(duration=9 * 3600, warmup=3600)
    sc.pop("start", None)
    ts = sim.run(copy.deepcopy(sc)).timeseries
    request = ts[ts[:, 0] > 3600, 2]
    assert float(np.median(request)) == 5.0
    for noise, want in ((True, 5.0), (False, 4.0)):
        fl = sim.run(copy.deepcopy(sc), overrides={"fidelity": "fluid", "fluid.reading_noise": noise}).timeseries
        assert fl[fl[:, 0] > 3600, 2].tolist() == [want] * 8
