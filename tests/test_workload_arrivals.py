"""Arrival processes checked against their definitions: gamma renewal, diurnal thinning, piecewise, growth."""
from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
from scipy import integrate, stats

from sim.scenario.workload import DiurnalArrival, Growth
from sim.workload import WorkloadConfig, generate, validate
from sim.workload.arrivals import MONTH_S, diurnal_rate, growth_integral
from sim.workload.growth import growth_factor, growth_inverse

LENGTHS = {"prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 10}}


def arrivals(arrival: dict, horizon_s: float, seed: int = 1, **kw) -> np.ndarray:
    extra = {k: kw.pop(k) for k in list(kw) if k in ("growth", "classes")}
    cfg = WorkloadConfig.model_validate({"arrival": arrival, **LENGTHS, **extra})
    return np.concatenate([c.arrival_s for c in generate(cfg, horizon_s, seed, **kw)])


def chi_square_pvalue(observed: np.ndarray, expected: np.ndarray) -> float:
    """Pearson chi-square of Poisson counts against known means (no fitted parameters)."""
    stat = float(((observed - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(stat, df=observed.size))


def test_gamma_interarrivals_have_requested_mean_and_cv():
    t = arrivals({"process": "gamma", "rate": 5.0, "cv": 2.0}, 40_000.0)
    gaps = np.diff(np.concatenate([[0.0], t]))
    shape = 1 / 2.0 ** 2
    # KS against Gamma(k = 1/cv^2, scale = 1/(rate k)); fixed seed, n ~ 200k
    assert stats.kstest(gaps, "gamma", args=(shape, 0, 1 / (5.0 * shape))).pvalue > 0.01
    assert gaps.mean() == pytest.approx(0.2, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(2.0, rel=0.03)


def test_gamma_with_cv_one_is_poisson():
    t = arrivals({"process": "gamma", "rate": 3.0, "cv": 1.0}, 30_000.0)
    assert stats.kstest(np.diff(t), "expon", args=(0, 1 / 3.0)).pvalue > 0.01


@pytest.mark.parametrize("cv", [1e-100, 1e-151, 1e-308, 5e-324])
def test_gamma_with_a_vanishing_cv_is_deterministic(cv):
    # 1 / cv**2 overflowed (a division by zero, an internal error) below cv ~ 1e-154
    gaps = np.diff(np.concatenate([[0.0], arrivals({"process": "gamma", "rate": 4.0, "cv": cv}, 100.0)]))
    assert len(gaps) == 399 and np.abs(gaps - 0.25).max() <= 1e-12      # at 0.25, 0.5, ..., 99.75


def reference_diurnal_rate(t_s, mean_rate, ratio, peak_hour, weekly=None, clock0_s=0.0, weekday0=0):
    """The documented rate function, written out independently of the implementation."""
    a = (ratio - 1) / (ratio + 1)
    clock = clock0_s + t_s
    r = mean_rate * (1 + a * np.cos(2 * np.pi * (clock - peak_hour * 3600) / 86400))
    if weekly is not None:
        r = r * np.asarray(weekly)[(weekday0 + np.floor(clock / 86400).astype(int)) % 7]
    return r


def hourly_expected(horizon_h: int, **rate_kw) -> np.ndarray:
    out = np.empty(horizon_h)
    for h in range(horizon_h):
        out[h] = integrate.quad(lambda x: float(reference_diurnal_rate(np.array(x), **rate_kw)),
                                h * 3600, (h + 1) * 3600)[0]
    return out


def test_diurnal_counts_per_hour_match_the_integrated_rate():
    weekly = [1.1, 1.2, 1.2, 1.1, 1.0, 0.7, 0.7]            # averages 1.0
    arrival = {"process": "diurnal", "mean_rate": 0.5, "peak_to_trough": 4.0, "peak_hour": 15,
               "weekly": weekly}
    t = arrivals(arrival, 7 * 86400.0, seed=3)
    observed = np.bincount((t // 3600).astype(int), minlength=168)
    expected = hourly_expected(168, mean_rate=0.5, ratio=4.0, peak_hour=15, weekly=weekly)
    # Counts in disjoint hours of a non-homogeneous Poisson process are independent Poisson with
    # these means (~400-3000 each), so the statistic is chi-square with 168 degrees of freedom;
    # p > 0.001 fails a correct generator once in a thousand seeds (the seed is fixed).
    assert chi_square_pvalue(observed, expected) > 0.001
    # the week's total is mean_rate x one week when the weekly factors average 1
    assert abs(t.size - 0.5 * 7 * 86400) < 4 * math.sqrt(0.5 * 7 * 86400)


def test_diurnal_respects_the_calendar_start():
    start = datetime.datetime(2024, 5, 15, 6, 0)             # a Wednesday, 06:00
    weekly = [1, 1, 3, 1, 1, 0, 0]                           # Wednesdays are busy, weekends empty
    arrival = {"process": "diurnal", "mean_rate": 0.2, "peak_to_trough": 3.0, "peak_hour": 9,
               "weekly": weekly}
    t = arrivals(arrival, 6 * 86400.0, seed=4, start=start)
    # hours counted on the calendar: 06:00 Wed is clock 6h on weekday 2
    observed = np.bincount((t // 3600).astype(int), minlength=144)
    expected = hourly_expected(144, mean_rate=0.2, ratio=3.0, peak_hour=9, weekly=weekly,
                               clock0_s=6 * 3600, weekday0=2)
    nonzero = expected > 0
    assert observed[~nonzero].sum() == 0                      # nothing on Saturday/Sunday
    assert chi_square_pvalue(observed[nonzero], expected[nonzero]) > 0.001


def test_diurnal_rate_function_properties():
    p = DiurnalArrival(process="diurnal", mean_rate=10, peak_to_trough=3.0, peak_hour=14)
    day = integrate.quad(lambda x: float(diurnal_rate(p, np.array([x]))[0]), 0, 86400, limit=200)[0]
    assert day / 86400 == pytest.approx(10, rel=1e-9)                       # mean over a period
    t = np.arange(0, 86400, 60.0)
    r = diurnal_rate(p, t)
    assert r.max() / r.min() == pytest.approx(3.0, rel=1e-6)
    assert t[np.argmax(r)] == 14 * 3600


def test_piecewise_counts_follow_the_pieces():
    arrival = {"process": "piecewise", "times": [0, "1h", "90m"], "rates": [2.0, 0.0, 5.0]}
    t = arrivals(arrival, 3 * 3600.0, seed=5)
    for lo, hi, rate in ((0, 3600, 2.0), (3600, 5400, 0.0), (5400, 10800, 5.0)):
        n = ((t >= lo) & (t < hi)).sum()
        mean = rate * (hi - lo)
        assert abs(n - mean) <= 4 * math.sqrt(mean)
    inner = t[t >= 5400]
    assert stats.kstest(np.diff(inner), "expon", args=(0, 1 / 5.0)).pvalue > 0.01


def test_piecewise_problems():
    cfg = WorkloadConfig.model_validate({"arrival": {"process": "piecewise", "times": [10, 5], "rates": [1]},
                                         **LENGTHS})
    paths = [p for p, _ in validate(cfg, ".")]
    assert paths == ["workload.arrival.rates", "workload.arrival.times", "workload.arrival.times"]


def test_growth_integral_matches_numerical_integration():
    g = Growth(monthly=0.3)
    t = 2.5 * MONTH_S
    num = integrate.quad(lambda x: 1.3 ** (x / MONTH_S), 0, t)[0]
    assert growth_integral(t, g) == pytest.approx(num, rel=1e-10)



@pytest.mark.parametrize("monthly", [0.3, -0.5, 0.0])
def test_growth_integral_over_pieces_is_the_difference_of_its_integrals_from_zero(monthly):
    """The one form serves the generator (from ``t = 0``, scalars) and the fluid tier's demand (pieces
    ``[u, v)`` of arrays, times a rate): each piece is ``G(v) - G(u)``, the pieces of three months add up
    to ``G`` of three months, and each piece against quadrature."""
    g = Growth(monthly=monthly) if monthly else None
    cuts = np.array([0.0, 1830.0, 3600.0, 0.7 * MONTH_S, 2.0 * MONTH_S, 3.0 * MONTH_S])
    pieces = growth_integral(cuts[1:], g, cuts[:-1], rate=2.0)
    assert isinstance(pieces, np.ndarray) and isinstance(growth_integral(3600.0, g), float)
    whole = [growth_integral(float(t), g) for t in cuts]
    assert pieces == pytest.approx(2.0 * np.diff(whole), rel=1e-9)
    assert pieces.sum() == pytest.approx(2.0 * whole[-1], rel=1e-12)
    base = 1.0 + monthly
    for (u, v), got in zip(zip(cuts[:-1], cuts[1:]), pieces):
        assert got == pytest.approx(2.0 * integrate.quad(lambda x: base ** (x / MONTH_S), u, v)[0], rel=1e-9)


def test_a_growth_integral_past_a_floats_range_is_inf_not_an_error():
    """The work limits read an integral that overflows as infinitely many requests (refused), not an error."""
    with np.errstate(all="raise"):
        assert growth_integral(1e6 * MONTH_S, Growth(monthly=1.0)) == math.inf


@pytest.mark.parametrize("monthly", [0.0835, -0.5])
def test_growth_arrays_are_the_c_librarys_floats_element_by_element_on_any_cpu(monthly):
    """A request-level run with growth draws its arrival times through ``G^{-1}`` and its horizon through
    ``G``; the fluid tier its step demands through ``g`` and the integral over pieces. numpy's ``power``,
    ``expm1`` and ``log1p`` run in AVX-512 code where the CPU has it, their last bit off the C library's for
    5-10 % of arguments, so the same seed gave other arrival times on another machine. Each array is
    the element-by-element value of the scalar form, itself :mod:`math`'s (the generator's horizon
    ``math.expm1(k t) / k``, as it read before the one vectorised form), equal to the bit; a decline's
    operational time past its total maps to ``inf``."""
    g = Growth(monthly=monthly)
    k = math.log1p(monthly) / MONTH_S
    rng = np.random.default_rng(3)
    t = rng.uniform(0.0, 12 * MONTH_S, 20_000)
    u = t * rng.uniform(0.0, 1.0, t.size)
    assert growth_factor(t, g).tolist() == [(1.0 + monthly) ** (x / MONTH_S) for x in t.tolist()]
    assert [growth_integral(x, g) for x in t.tolist()] == [math.expm1(k * x) / k for x in t.tolist()]
    pieces = growth_integral(t, g, u, rate=3.0).tolist()
    assert pieces == [3.0 * (1.0 + monthly) ** (b / MONTH_S) * (math.expm1(k * (a - b)) / k)
                      for a, b in zip(t.tolist(), u.tolist())]
    past = [-2.0 / k] if k < 0 else []          # twice a decline's total, -1 / k
    s = np.concatenate([growth_integral(t, g), [0.0], past])
    want = [math.log1p(k * x) / k if k * x > -1.0 else math.inf for x in s.tolist()]
    assert growth_inverse(s, g).tolist() == want
    assert (math.inf in want) == (k < 0)

@pytest.mark.parametrize("process", ["poisson", "gamma"])
def test_growth_multiplies_the_rate_by_month(process):
    arrival = {"process": process, "rate": 0.01} | ({"cv": 1.5} if process == "gamma" else {})
    t = arrivals(arrival, 4 * MONTH_S, seed=6, growth={"monthly": 0.3})
    counts = np.bincount((t // MONTH_S).astype(int), minlength=4)
    # expected in month m: rate * integral of 1.3^(x/T) over the month = rate T 1.3^m 0.3/ln 1.3
    expected = 0.01 * MONTH_S * 1.3 ** np.arange(4) * 0.3 / math.log(1.3)
    cv = 1.5 if process == "gamma" else 1.0
    # counts of a renewal process have variance ~ cv^2 x mean
    assert np.all(np.abs(counts - expected) < 4 * cv * np.sqrt(expected))
    assert counts[3] / counts[0] == pytest.approx(1.3 ** 3, rel=0.03)


def test_growth_with_diurnal_thins_exactly():
    arrival = {"process": "diurnal", "mean_rate": 0.05, "peak_to_trough": 2.0, "peak_hour": 12}
    t = arrivals(arrival, 90 * 86400.0, seed=8, growth={"monthly": 1.0})
    days = np.bincount((t // 86400).astype(int), minlength=90)
    # diurnal cycle integrates to mean_rate per day; growth: integral of 2^(x/T) over day d
    k = math.log(2) / MONTH_S
    d = np.arange(90)
    expected = 0.05 * (np.exp(k * (d + 1) * 86400) - np.exp(k * d * 86400)) / k
    assert chi_square_pvalue(days, expected) > 0.001


def test_declining_growth_stops_adding_requests():
    t = arrivals({"process": "poisson", "rate": 0.01}, 6 * MONTH_S, seed=9, growth={"monthly": -0.5})
    expected_total = 0.01 * growth_integral(6 * MONTH_S, Growth(monthly=-0.5))
    assert abs(t.size - expected_total) < 4 * math.sqrt(expected_total)
    assert (np.diff(t) >= 0).all() and t.max() < 6 * MONTH_S


def test_a_start_date_means_its_midnight():
    arrival = {"process": "diurnal", "mean_rate": 0.1, "weekly": [1, 1, 1, 1, 1, 1, 0]}
    a = arrivals(arrival, 3 * 86400.0, seed=2, start=datetime.date(2024, 6, 1))        # a Saturday
    b = arrivals(arrival, 3 * 86400.0, seed=2, start=datetime.datetime(2024, 6, 1, 0, 0))
    np.testing.assert_array_equal(a, b)
    assert ((a >= 86400) & (a < 2 * 86400)).sum() == 0                               # Sunday is empty
