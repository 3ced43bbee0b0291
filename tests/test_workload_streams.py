"""A run's random streams are laid out once (``sim.workload.streams``): every user of a stream
gets it from there, and the layout is the one the docs promise (spawn keys under ``SeedSequence(seed)``)."""
import numpy as np

from sim.scenario.workload import ClosedArrival
from sim.workload.closed import think_times
from sim.workload.streams import arrival_stream, stream_seeds


def test_layout_is_the_documented_spawn_keys():
    # arrivals child 0: workload.arrival at 0, class i's own arrival at 1 + i; classes child 1;
    # lengths child 2: class i's (prompt, output) at (2, i, 0) and (2, i, 1)
    arrivals, classes, lengths = stream_seeds(42, 3)
    assert [s.spawn_key for s in arrivals] == [(0, 0), (0, 1), (0, 2), (0, 3)]
    assert classes.spawn_key == (1,)
    assert [(p.spawn_key, o.spawn_key) for p, o in lengths] == [((2, i, 0), (2, i, 1)) for i in range(3)]
    assert all(s.entropy == 42 for s in (*arrivals, classes, *(x for pair in lengths for x in pair)))


def test_closed_loop_think_times_draw_from_the_arrival_stream():
    """Exponential think times of mean Z are Z times standard exponential draws of workload.arrival's
    stream, built here from its spawn key rather than through the module."""
    z = 2.5
    draw = think_times(ClosedArrival(process="closed", concurrency=3, think_time_s=z, think="exponential"), 9)
    got = np.array([draw() for _ in range(5000)])        # more than one block of draws
    raw = np.random.default_rng(np.random.SeedSequence(9, spawn_key=(0, 0))).standard_exponential(5000)
    assert np.array_equal(got, raw * z)
    assert np.array_equal(arrival_stream(9).standard_exponential(5000), raw)


def test_failure_and_router_streams_are_their_documented_spawn_keys():
    """Failures at (3, pool, replica), the routers at (4,): apart from the workload's three."""
    from sim.serving.failures import failure_rng
    from sim.workload.streams import router_stream

    want = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(3, 1, 2))).random(4)
    assert np.array_equal(failure_rng(5, 1, 2).random(4), want)
    router = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(4,))).random(4)
    assert np.array_equal(router_stream(5).random(4), router)
