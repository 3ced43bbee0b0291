"""The arrival feed: generated workload chunks become requests handed to the router.

One SimPy process walks the arrival-ordered chunks of :func:`sim.workload.generate` (no process
per request). Both feeds build requests the same way (:func:`chunk_requests`):

* :func:`feed_at_arrival` releases each request at its arrival time and routes it then (any
  router; the reference engine always);
* :func:`feed_ahead` (pre-routed fleets: the routing choice cannot depend on replica state)
  routes whole chunks when they are generated, two chunks ahead of the clock; each replica takes
  its own arrivals at iteration boundaries, so no event or interrupt is needed per request.
"""
from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Iterator

from sim.serving.request import R_NO_REPLICA, Req

if TYPE_CHECKING:
    from sim.serving.fleet import Fleet


def chunk_requests(ch, first_rid: int, horizon_s: float, prio: list[int]) -> list[Req]:
    """The requests of one generated chunk (ids from ``first_rid``) arriving before ``horizon_s``;
    ``prio[c]`` is class ``c``'s priority (0 for a class past the list)."""
    n_prio = len(prio)
    out = []
    rid = first_rid
    for t, p, o, c in zip(ch.arrival_s.tolist(), ch.prompt_tokens.tolist(), ch.output_tokens.tolist(),
                          ch.class_idx.tolist()):
        if t >= horizon_s:
            break
        out.append(Req(rid, t, p, o, c, prio[c] if c < n_prio else 0))
        rid += 1
    return out


def feed_at_arrival(fleet: "Fleet", chunks: Iterator, horizon_s: float):
    """SimPy process: release every generated request at its arrival time and route it."""
    env = fleet.env
    rid = 0
    for ch in chunks:
        reqs = chunk_requests(ch, rid, horizon_s, fleet.class_prio)
        for r in reqs:
            t = r.arrival
            if t > env.now:
                yield env.timeout(t - env.now)
            fleet.arrived += 1
            fleet.in_flight[r.rid] = r
            fleet.route(r)
        rid += len(reqs)
        fleet.check_backlog()
        if len(reqs) < len(ch.arrival_s):
            return  # the horizon fell inside this chunk


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

    def load() -> bool:
        nonlocal rid
        ch = next(it, None)
        if ch is None or not len(ch.arrival_s):
            fleet.known_until = math.inf
            return False
        reqs = chunk_requests(ch, rid, horizon_s, fleet.class_prio)
        in_flight, router, reject = fleet.in_flight, fleet.router, fleet.reject
        for r in reqs:
            in_flight[r.rid] = r
            rep, reason = router(r)
            if rep is None:
                reject(r, reason or R_NO_REPLICA)
            else:
                rep.assign(r)
        rid += len(reqs)
        fleet.arrived += len(reqs)
        fleet.check_backlog()
        if not reqs:
            fleet.known_until = math.inf
            return False
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
            yield env.timeout(t1 - env.now)
        more = load()
        fleet.wake_idle()
    fleet.next_feed_at(math.inf)
    if more:
        fleet.known_until = math.inf
        fleet.wake_idle()
