"""The closed-loop feed: ``N`` clients, each with at most one request in the system.

One SimPy process per client (:mod:`sim.workload.closed` says what a client does). A client sends a
request at the current time and routes it at once (the at-arrival routing of
:func:`sim.serving.feed.feed_at_arrival`: the next arrival depends on this one's completion, so
nothing can be routed ahead), then waits on an event the fleet's ``on_done`` hook fires when the
request completes (at its completion time plus the frontend's delay, when the client sees the last
token), is rejected or fails (at that instant); it then thinks and sends the next, until the clock
reaches the end of the arrivals (``duration``). The requests' lengths and classes are taken from the
generated chunks in send order; their arrival times are the send times.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import simpy

from sim.serving.feed import chunk_fields
from sim.serving.request import Req
from sim.serving.clock import arrival_at
from sim.workload.closed import first_send, think_times

if TYPE_CHECKING:
    from sim.serving.fleet import Fleet


def _lengths(chunks: Iterator, prio: list[int]) -> Iterator[tuple[int, int, int, int]]:
    """``(prompt, output, class, priority)`` of each generated request, in order (:func:`chunk_fields`)."""
    for ch in chunks:
        yield from chunk_fields(ch, prio)


def feed_closed(fleet: "Fleet", chunks: Iterator, horizon_s: float):
    """SimPy process: start the clients of ``fleet.scenario.workload.arrival`` (a closed loop) at
    t = 0, or client ``i`` at ``i * ramp_up_s / concurrency`` (:func:`~sim.workload.closed.first_send`),
    and end when every client has stopped (its last request out of the system after
    ``horizon_s``, or its think time past it)."""
    env = fleet.env
    process = fleet.scenario.workload.closed
    think = think_times(process, fleet.seed)
    source = _lengths(chunks, fleet.class_prio)
    waiting: dict[int, simpy.Event] = {}
    next_rid = [0]

    def done(r: Req, t: float) -> None:
        ev = waiting.pop(r.rid, None)
        if ev is not None:
            ev.succeed(t)

    fleet.on_done = done

    def client(i: int):
        start = first_send(process, i)
        if start > 0.0:         # (no timeout at all without a ramp-up: the events of every run before it)
            yield arrival_at(env, start)
        while env.now < horizon_s:
            p, o, c, prio = next(source)
            r = Req(next_rid[0], env.now, p, o, c, prio)
            next_rid[0] += 1
            fleet.arrived += 1
            fleet.in_flight[r.rid] = r
            fleet.in_system.arrive(env.now)
            ev = env.event()
            waiting[r.rid] = ev
            fleet.route(r)
            wake = (yield ev) + think()
            if wake > env.now:
                yield arrival_at(env, wake)     # a send, before an iteration ending then (sim.serving.clock)

    yield env.all_of([env.process(client(i)) for i in range(process.concurrency)])
