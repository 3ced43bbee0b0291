"""``stability.in_flight_peak`` at request level: the most requests in the system at once, counted at every
arrival and departure (:mod:`sim.serving.in_system`), not at the time series' samples.

Both feeds: a pre-routed fleet (``random`` router, ``fast`` engine: a chunk's arrivals registered ahead of
the clock) and one routed at each arrival (``reference`` engine, or a central queue).
"""
from __future__ import annotations

import pytest

import sim
from conftest import write_trace
from sim.report_text import peak_words
from tiers_pool import pool
from test_stability_peak_line import burst_scenario

FEEDS = [("fast", "random"), ("reference", "random"), ("fast", "central_queue")]


def _schedule(tmp_path, times: list[float], engine: str, router: str) -> dict:
    """``tiers_pool``'s one server (one request at a time, exactly 1 s each) under arrivals at ``times``."""
    trace = write_trace(tmp_path / "t.csv", [(t, 1000, 1) for t in times])
    sc = pool("request", {"process": "trace", "path": str(trace), "format": "fleetsim"}, duration=30.0)
    sc["engine"] = engine
    sc["fleet"]["router"] = router
    return sim.run(sc).summary


@pytest.mark.parametrize("engine,router", FEEDS)
def test_a_known_overlap_between_two_samples_is_counted_exactly(tmp_path, engine, router):
    """Arrivals at 0, 0.1, 0.2, 1.5, 1.6, 1.7 and 1.8 s, first come first served, 1 s each: departures at
    1, 2, 3, ... 7 s. By hand: 3 in the system at 0.2 s, 2 after 1 s, then 3, 4, 5, 6 by 1.8 s (7 arrived, 1
    left), 5 at 2 s, falling to 0 at 7 s. The peak is 6; the time series (a row every 60 s) sees none of it."""
    s = _schedule(tmp_path, [0.0, 0.1, 0.2, 1.5, 1.6, 1.7, 1.8], engine, router)
    assert s["requests"]["completed"] == 7
    b = s["stability"]
    assert (b["in_flight_peak"], b["in_flight_at_end"], b["in_flight_peak_basis"]) == (6, 0, "exact")
    assert peak_words(b) == "peak 6 in system (0 at the end)"


@pytest.mark.parametrize("engine,router", FEEDS)
def test_requests_left_at_the_end_count_and_the_peak_is_reached_before(tmp_path, engine, router):
    """One arrival every 0.5 s from 0 to 9.5 s, the run ending at 10.25 s (no drain): departures at 1, 2, ...
    10 s. The last arrival (9.5 s) meets 20 arrived and 9 gone: 11 in the system, the peak; 10 are left
    at the end (20 arrived, 10 served)."""
    trace = write_trace(tmp_path / "t.csv", [(0.5 * k, 1000, 1) for k in range(20)])
    sc = pool("request", {"process": "trace", "path": str(trace), "format": "fleetsim"}, duration=10.25)
    sc["engine"] = engine
    sc["fleet"]["router"] = router
    s = sim.run(sc).summary
    assert (s["requests"]["completed"], s["requests"]["in_flight"]) == (10, 10)
    assert (s["stability"]["in_flight_peak"], s["stability"]["in_flight_at_end"]) == (11, 10)


def test_a_burst_that_comes_and_goes_between_two_samples():
    """40 requests at once at t = 5 s to one idle H100 serving Llama-3-8B, 10 output tokens each: all 40 are
    in the system at 5 s, and the batch is done well before the 10 s sample (ten decode steps of a few ms
    each after a 4,000-token prefill), which saw 0. The peak is exactly the 40."""
    result = sim.run(burst_scenario("1m", 10))
    b = result.summary["stability"]
    ts = result.timeseries
    assert ts[ts[:, 0] == 10.0][:, [3, 5]].sum() == 0                 # the sample after the burst: empty
    assert (b["in_flight_peak"], b["in_flight_at_end"]) == (40, 0)


def test_settled_in_pieces_and_booked_out_of_order_it_is_the_brute_force_count():
    """Random arrivals (booked ahead in ascending arrays) and departures (booked out of time order, at
    most a window ahead of each settle, as replicas running ahead do), settled every 5 s: the peak and the
    count at each settle are those of counting every instant by brute force."""
    import numpy as np

    from sim.serving.in_system import InSystemPeak

    rng = np.random.default_rng(7)
    arr = np.sort(rng.uniform(0, 100, 400))
    dep = arr + rng.exponential(6.0, len(arr))          # each request leaves after it arrives
    p = InSystemPeak()
    p.arrive_many(arr[:250])
    p.arrive_many(arr[250:])
    booked = np.zeros(len(dep), dtype=bool)
    for t in np.arange(5.0, 201.0, 5.0):
        due = ~booked & (dep <= t + 5.0)                # booked up to a window ahead, in random order
        for d in rng.permutation(dep[due]):
            p.depart(float(d))
        booked |= due
        got = p.settle(float(t))
        assert got == int(np.sum(arr <= t) - np.sum(dep <= t))
    grid = np.concatenate((arr, dep))                   # the count only rises at an arrival: check them all
    brute = max(int(np.sum(arr <= x) - np.sum(dep <= x)) for x in grid)
    assert p.peak == brute
