"""sim.serving.clock.at against SimPy's own Timeout: the same event wherever the engines use it
(conditions, run(until=...), interrupts), only scheduled at t itself rather than at now + (t - now).

Independent of the code: SimPy's Timeout is the reference for every behaviour but the time, and
the time is checked against t itself (hand-picked floats where now + (t - now) != t).
"""
from __future__ import annotations

import pytest
import simpy

from sim.serving.clock import At, arrival_at, at, boundary_at, wake_at

NOW, T = 0.551, 1.969            # now + (T - now) != T in floating point


def _trace(make) -> list:
    """What a process sees waiting on ``make(env, t)`` in several SimPy constructs."""
    env = simpy.Environment()
    seen = []

    def one():
        yield env.timeout(NOW)
        got = yield make(env, T, "v")
        seen.append(("value", got, env.now == T))
        other = env.timeout(5.0)
        res = yield make(env, 3.0) | other                     # the earlier of the two
        seen.append(("or", len(res.todict()), other in res, env.now))
        res = yield make(env, 4.0) & env.timeout(0.5)           # both
        seen.append(("and", len(res.todict()), env.now))
        res = yield make(env, 2.0) | env.event()                # in the past: at once
        seen.append(("past", env.now))

    def sleeper():
        try:
            yield make(env, 100.0)
            seen.append(("woke", env.now))
        except simpy.Interrupt as i:
            seen.append(("interrupted", i.cause, env.now))
            yield make(env, 7.0)
            seen.append(("after", env.now))

    def waker(p):
        yield env.timeout(6.0)
        p.interrupt("go")

    env.process(one())
    p = env.process(sleeper())
    env.process(waker(p))
    env.run(until=50.0)
    seen.append(("until", env.now))
    return seen


def test_at_behaves_as_timeout_in_conditions_interrupts_and_run_until():
    def timeout(env, t, value=None):
        return env.timeout(max(t - env.now, 0.0), value)

    got, want = _trace(at), _trace(timeout)
    # the only difference: the first wait lands on T exactly with at, not with a timeout of T - now
    assert got[0] == ("value", "v", True) and want[0] == ("value", "v", False)
    assert got[1:] == want[1:]
    assert ("interrupted", "go", 6.0) in got and ("after", 7.0) in got and ("until", 50.0) in got


def test_run_until_the_time_itself_stops_before_the_event():
    for make in (lambda env, t: env.timeout(t - env.now), at):
        env = simpy.Environment()
        ev = make(env, 2.5)
        env.run(until=2.5)
        assert env.now == 2.5 and not ev.processed       # SimPy's until comes first at its instant
        env.run(until=2.6)
        assert ev.processed


def test_at_is_scheduled_as_simpy_schedules_a_timeout():
    """The entry At pushes on SimPy's queue has the shape Environment.schedule gives a Timeout
    (time, priority, event id, event): a SimPy release that changes its queue fails here."""
    env = simpy.Environment()
    a = At(env, 1.0)
    t = env.timeout(1.0)
    (ta, pa, ia, ea), (tt, pt, it, et) = sorted(env._queue, key=lambda e: e[2])
    assert (ta, pa, ea) == (tt, pt, a) and et is t and it == ia + 1
    assert env.peek() == 1.0 and a.triggered and a.ok


def test_a_time_that_is_not_a_number_is_refused():
    env = simpy.Environment()
    with pytest.raises(ValueError, match="nan"):
        at(env, float("nan"))
    assert env._queue == []


def test_one_instants_events_come_in_kind_order_whenever_they_were_scheduled():
    """At one instant: arrivals (in the order scheduled), the ends of iterations by replica number, the
    ordinary events (SimPy's own Timeout, in the order scheduled), idle replicas' wake-ups; each scheduled
    here in the reverse of that order, from different earlier times."""
    env = simpy.Environment()
    seen = []

    def wait(delay, make, name):
        yield env.timeout(delay)
        yield make(env)
        seen.append(name)

    kinds = [(lambda e: wake_at(e, 5.0), "wake"), (lambda e: e.timeout(5.0 - e.now), "row"),
             (lambda e: at(e, 5.0), "ordinary"), (lambda e: boundary_at(e, 5.0, 3), "end 3"),
             (lambda e: boundary_at(e, 5.0, 0), "end 0"), (lambda e: arrival_at(e, 5.0), "arrival 1"),
             (lambda e: arrival_at(e, 5.0), "arrival 2")]
    for k, (make, name) in enumerate(kinds):
        env.process(wait(0.5 * k, make, name))
    env.run()
    assert seen == ["arrival 1", "arrival 2", "end 0", "end 3", "row", "ordinary", "wake"]
    assert env.now == 5.0
