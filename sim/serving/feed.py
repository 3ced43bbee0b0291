"""The arrival feed: generated workload chunks become requests handed to the router.

One SimPy process walks the arrival-ordered chunks of :func:`sim.workload.generate` (no process
per request). Both feeds build requests the same way (:func:`chunk_requests`) and route them
through the one routing decision, :meth:`~sim.serving.fleet.Fleet.place`:

* :func:`feed_at_arrival` releases each request at its arrival time and routes it then (any
  router; the reference engine always);
* :func:`feed_ahead` (pre-routed fleets: the routing choice cannot depend on replica state)
  routes whole chunks when they are generated, two chunks ahead of the clock; each replica takes
  its own arrivals at iteration boundaries, so no event or interrupt is needed per request.

With ``fleet.router.batcher`` both hand arrivals to the batcher (:mod:`sim.serving.batcher`) and
route its groups instead, each at its dispatch time (ahead of time: a replica takes a request at
its ``queued_at``).
"""
from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Iterator

from sim.serving.request import Req
from sim.serving.clock import arrival_at, at

if TYPE_CHECKING:
    from sim.serving.fleet import Fleet


def chunk_fields(ch, prio: list[int]) -> Iterator[tuple[int, int, int, int]]:
    """``(prompt, output, class, priority)`` of each request of one generated chunk, in order;
    ``prio[c]`` is class ``c``'s priority (0 for a class past the list). Every feed's requests take
    their lengths and classes from here (the closed loop's send times are its clients')."""
    n_prio = len(prio)
    classes = ch.class_idx.tolist()
    return zip(ch.prompt_tokens.tolist(), ch.output_tokens.tolist(), classes,
               [prio[c] if c < n_prio else 0 for c in classes])


def chunk_requests(ch, first_rid: int, horizon_s: float, prio: list[int]) -> list[Req]:
    """The requests of one generated chunk (ids from ``first_rid``) arriving before ``horizon_s``
    (their fields from :func:`chunk_fields`)."""
    out = []
    rid = first_rid
    for t, (p, o, c, pr) in zip(ch.arrival_s.tolist(), chunk_fields(ch, prio)):
        if t >= horizon_s:
            break
        out.append(Req(rid, t, p, o, c, pr))
        rid += 1
    return out


def feed_at_arrival(fleet: "Fleet", chunks: Iterator, horizon_s: float):
    """SimPy process: release every generated request at its arrival time and route it (with
    ``fleet.router.batcher``: hand it to the batcher, and route each group at its dispatch time)."""
    env = fleet.env
    batcher = fleet.batcher
    rid = 0
    for ch in chunks:
        reqs = chunk_requests(ch, rid, horizon_s, fleet.class_prio)
        fleet.in_system.arrive_many(ch.arrival_s[:len(reqs)])
        if fleet.patience is not None:
            fleet.patience.assign(reqs)
        for r in reqs:
            t = r.arrival
            if batcher is not None:
                yield from _send_at(fleet, batcher.due_before(t))
            if t > env.now:
                yield arrival_at(env, t)    # before an iteration ending at t (sim.serving.clock)
            fleet.arrived += 1
            fleet.in_flight[r.rid] = r
            if batcher is None:
                fleet.route(r)
            else:
                yield from _send_at(fleet, batcher.arrive(r))
        rid += len(reqs)
        fleet.check_backlog()
        if len(reqs) < len(ch.arrival_s):
            break  # the horizon fell inside this chunk
    if batcher is not None:
        yield from _send_at(fleet, batcher.flush())


def _send_at(fleet: "Fleet", groups: list):
    """Route each of a batcher's groups at its dispatch time."""
    env = fleet.env
    for t, group in groups:
        if t > env.now:
            yield arrival_at(env, t)
        fleet.send_group(group)


def feed_ahead(fleet: "Fleet", chunks: Iterator, horizon_s: float):
    """SimPy process of a pre-routed fleet: route whole chunks ahead of time (two chunks of
    look-ahead).

    Replicas never look past ``fleet.known_until`` (the last generated arrival) without the next
    chunk being loaded first: chunk k+2 is loaded when the clock reaches chunk k+1's first arrival.
    """
    env = fleet.env
    it = iter(chunks)
    firsts: deque[float] = deque()
    rid = 0

    batcher = fleet.batcher

    def last() -> bool:
        """No more arrivals: the batcher's last groups (sent after the last arrival) go too, those
        sent after the run's end only if it drains (else they are still waiting when it ends)."""
        if batcher is not None:
            drain = fleet.scenario.drain
            for t, group in batcher.flush():
                if t < horizon_s or drain:
                    fleet.send_group(group)
        fleet.known_until = math.inf
        return False

    def load() -> bool:
        nonlocal rid
        ch = next(it, None)
        if ch is None or not len(ch.arrival_s):
            return last()
        reqs = chunk_requests(ch, rid, horizon_s, fleet.class_prio)
        fleet.in_system.arrive_many(ch.arrival_s[:len(reqs)])
        if fleet.patience is not None:
            fleet.patience.assign(reqs)
        in_flight = fleet.in_flight
        if batcher is None:
            # every request of the chunk is in flight before the first is routed (a rejection takes
            # it out again): the same dict, in the same order, as one request at a time
            for r in reqs:
                in_flight[r.rid] = r
            fleet.place(reqs)
        else:
            # a group sent by the last arrival of the chunk leaves at or before it; the requests
            # still waiting leave after it, so the replicas may run up to ``known_until``
            for r in reqs:
                in_flight[r.rid] = r
                for _, group in batcher.arrive(r):
                    fleet.send_group(group)
        rid += len(reqs)
        fleet.arrived += len(reqs)
        fleet.check_backlog()
        if not reqs:
            return last()
        firsts.append(reqs[0].arrival)
        fleet.known_until = reqs[-1].arrival
        return True

    more = load() and load()
    fleet.wake_idle()
    while more and len(firsts) >= 2:
        firsts.popleft()
        t1 = firsts[0]
        if t1 > env.now:
            fleet.next_feed_at(t1)
            yield at(env, t1)
        more = load()
        fleet.wake_idle()
    fleet.next_feed_at(math.inf)
    if more:
        last()
        fleet.wake_idle()
