"""Clients who give up waiting (``workload.patience_s``): each request's deadline, and the requests
past it taken out of the queue they wait in.

A request that has not been admitted to a batch (``Req.sched < 0``) by ``arrival + patience``
leaves: a row with status ``rejected`` and reason ``timeout`` (``requests.abandoned``). Only the
waiting room is left: a request admitted once is never cancelled (not while it runs, and not while
a preempted request waits for its recompute), although vLLM aborts a running request whose client
disconnects; what a planner reads here is the share of clients who never got a token started.

A request retried after its replica failed keeps its deadline: the retry is the fleet's, unseen by
the client, whose clock started when it first sent the request (and one admitted before the failure
stays admitted: ``sched`` is its first admission, so it no longer gives up).

Patience is ``patience_s`` exactly (``patience: fixed``) or exponential of that mean; a class's own
``patience_s``/``patience`` come before the workload's, and a class with neither waits however
long it takes. The draws come from their own stream (:func:`sim.workload.streams.patience_stream`),
one standard exponential per request in id order whatever its class, so patience moves no other
draw and one class's setting moves no other class's deadlines.

A patience is positive, so a deadline is after its arrival even where ``arrival + patience`` rounds
to the arrival (a patience below the clock's resolution there): the next representable time.

Abandonment is applied where a queue is read, at the instant it is read: at each iteration boundary
before admission (a request whose deadline is at or before the boundary is gone; a later one can be
admitted), at an arrival before a waiting room is counted, when a replica takes from the central
queue, and at each time-series row. What is removed depends on the instant only, so the fast and
the reference engine remove the same requests and write the same rows.

>>> from sim.scenario.workload import WorkloadConfig
>>> p = Patience(WorkloadConfig(patience_s=30.0), seed=1)
>>> from sim.serving.request import Req
>>> reqs = [Req(i, 10.0 * i, 5, 5, 0, 0) for i in range(3)]
>>> p.assign(reqs)
>>> [r.deadline for r in reqs]
[30.0, 40.0, 50.0]
"""
from __future__ import annotations

import heapq
import math

import numpy as np

from sim.workload.streams import patience_stream


def scales(workload) -> list[tuple[float, bool]] | None:
    """Per class (in ``class_idx`` order): ``(patience_s, exponential)``, ``inf`` for a class that
    waits however long it takes; None when no request ever gives up."""
    rows = workload.classes or [None]
    out = []
    for c in rows:
        s = c.patience_s if c is not None and c.patience_s is not None else workload.patience_s
        kind = c.patience if c is not None and c.patience is not None else workload.patience
        out.append((float(s) if s is not None else math.inf, kind == "exponential"))
    return out if any(math.isfinite(s) for s, _ in out) else None


class Patience:
    """Deadlines of the requests of a run (``Req.deadline``: ``arrival + patience``)."""

    def __init__(self, workload, seed: int) -> None:
        self.scales = scales(workload) or []
        self.rng = patience_stream(seed)

    def assign(self, reqs: list) -> None:
        """Set the deadline of each of ``reqs`` (in id order; one draw each)."""
        if not reqs:
            return
        draws = self.rng.standard_exponential(len(reqs)).tolist()
        sc = self.scales
        for r, e in zip(reqs, draws):
            s, exponential = sc[r.cls] if r.cls < len(sc) else (math.inf, False)
            d = r.arrival + (s * e if exponential and s != math.inf else s)
            # a patience below the clock's resolution at the arrival (patience_s: 1e-300, or 1e-15 an hour
            # in) still outlasts the arrival instant, so an idle replica takes the request, as at 1e-9
            r.deadline = d if d > r.arrival else math.nextafter(r.arrival, math.inf)


def expired(items, t: float, key=None, after: float = math.inf) -> tuple[list, list]:
    """Split ``items`` (requests, or entries holding one at ``key``) into those still waiting at
    ``t`` and the requests that gave up by then (never admitted, deadline at or before ``t``; those
    queued after ``after`` are judged later and stay)."""
    keep, gone = [], []
    for it in items:
        r = it if key is None else it[key]
        if r.sched < 0 and r.deadline <= t and r.queued_at <= after:
            gone.append(r)
        else:
            keep.append(it)
    return keep, gone


def n_gone(items, t: float, key=None) -> int:
    """How many of ``items`` (requests, or entries holding one at ``key``) gave up by ``t`` (never
    admitted, deadline at or before ``t``: the rule of :func:`expired`, whatever their ``queued_at``)."""
    n = 0
    for it in items:
        r = it if key is None else it[key]
        if r.sched < 0 and r.deadline <= t:
            n += 1
    return n


def drop_expired(q, t: float, key=None, heap: bool = False, after: float = math.inf) -> list:
    """Take out of the queue ``q`` (a deque, or with ``heap`` a heap list) the requests that gave up
    by ``t`` (:func:`expired`; those queued after ``after`` stay) and return them; the others keep
    their order."""
    keep, gone = expired(q, t, key, after)
    if gone:
        if heap:
            q[:] = keep
            heapq.heapify(q)        # the keys (priority, order) keep the pop order
        else:
            q.clear()
            q.extend(keep)
    return gone


def soonest(items, key=None) -> float:
    """The earliest deadline among the never-admitted requests of ``items`` (inf: none)."""
    best = math.inf
    for it in items:
        r = it if key is None else it[key]
        if r.sched < 0 and r.deadline < best:
            best = r.deadline
    return best


__all__ = ["Patience", "drop_expired", "expired", "n_gone", "scales", "soonest"]
