"""Where a request waits on a replica: the queue admission takes from.

FCFS is a deque; the ``priority`` policy keeps a heap on ``(-priority, order)``, so a higher
class goes first and requests of one class keep their arrival order. A preempted request goes
back to the *front* (it is recomputed before anything that arrived after it): in the heap that
is an order number below every other.

>>> from sim.serving.request import Req
>>> w = Waiting(priority=True)
>>> for rid, prio in [(0, 0), (1, 2), (2, 0), (3, 2)]:
...     w.push(Req(rid, 0.0, 10, 10, 0, prio))
>>> w.push_front(Req(4, 0.0, 10, 10, 0, 0))   # a preempted class-0 request: first of its class
>>> [w.pop().rid for _ in range(len(w))]
[1, 3, 4, 0, 2]
"""
from __future__ import annotations

import heapq
import math
from collections import deque

from sim.serving.patience import drop_expired, n_gone, soonest
from sim.serving.request import Req


class Waiting:
    """The replica's queue: FCFS deque, or (priority policy) a heap on (-priority, order)."""

    __slots__ = ("priority", "_dq", "_heap", "_front", "_back", "soonest")

    def __init__(self, priority: bool) -> None:
        self.priority = priority
        self._dq: deque[Req] = deque()
        self._heap: list = []
        self._front = 0
        self._back = 0
        self.soonest = math.inf    # no waiting request's client gives up before (a lower bound)

    def __len__(self) -> int:
        return len(self._heap) if self.priority else len(self._dq)

    def push(self, r: Req) -> None:
        if r.deadline < self.soonest:
            self.soonest = r.deadline
        if self.priority:
            self._back += 1
            heapq.heappush(self._heap, (-r.prio, self._back, r))
        else:
            self._dq.append(r)

    def push_front(self, r: Req) -> None:
        if self.priority:
            self._front -= 1
            heapq.heappush(self._heap, (-r.prio, self._front, r))
        else:
            self._dq.appendleft(r)

    def peek(self) -> Req:
        return self._heap[0][2] if self.priority else self._dq[0]

    def pop(self) -> Req:
        return heapq.heappop(self._heap)[2] if self.priority else self._dq.popleft()

    def drain(self) -> list[Req]:
        if self.priority:
            out = [e[2] for e in sorted(self._heap)]
            self._heap.clear()
        else:
            out = list(self._dq)
            self._dq.clear()
        return out

    def lift(self, first: list[Req]) -> list:
        """Priority queue: take ``first`` (queued requests) before every other, in that order, until
        :meth:`settle_lift`; returns what that needs (their own places in the queue).

        >>> from sim.serving.request import Req
        >>> w = Waiting(priority=True)
        >>> a, b, c = Req(0, 0.0, 10, 10, 0, 0), Req(1, 0.0, 10, 10, 0, 0), Req(2, 0.0, 10, 10, 0, 2)
        >>> for r in (a, b, c):
        ...     w.push(r)
        >>> saved = w.lift([b])
        >>> w.pop().rid, w.peek().rid
        (1, 2)
        >>> w.settle_lift(saved)
        >>> [w.pop().rid for _ in range(len(w))]
        [2, 0]
        """
        ids = {id(r) for r in first}
        saved = [e for e in self._heap if id(e[2]) in ids]
        rest = sorted(e for e in self._heap if id(e[2]) not in ids)
        self._heap[:] = [(-math.inf, k, r) for k, r in enumerate(first)] + rest   # sorted: a heap
        return saved

    def settle_lift(self, saved: list) -> None:
        """After :meth:`lift`: the lifted requests still queued go back to their own places."""
        lifted = {id(e[2]) for e in self._heap if e[0] == -math.inf}
        if lifted:
            self._heap[:] = sorted([e for e in self._heap if e[0] != -math.inf]
                                   + [e for e in saved if id(e[2]) in lifted])

    def expire(self, t: float, after: float = math.inf) -> list[Req]:
        """Take out the requests whose clients gave up by ``t`` (never admitted, deadline at or
        before ``t``: :mod:`sim.serving.patience`); the others keep their order. Those queued after
        ``after`` stay (a pipelined replica judges them at the end of the cycle in progress:
        :meth:`expire_at_boundary`)."""
        if self.soonest > t:
            return []
        if self.priority:
            gone = drop_expired(self._heap, t, key=2, heap=True, after=after)
            self.soonest = soonest(self._heap, key=2)
        else:
            gone = drop_expired(self._dq, t, after=after)
            self.soonest = soonest(self._dq)
        return gone

    def present(self, t: float) -> int:
        """How many wait at ``t`` as the front end counts them: the queue less the requests whose client
        gave up by ``t`` that :meth:`expire` kept (on a pipelined replica, those queued during the cycle
        in progress, whose fate the engine books at its end: each has either left or joined a
        micro-batch before ``t``, and waits in neither case). ``len`` when no client gave up by ``t``."""
        if self.soonest > t:
            return len(self)
        if self.priority:
            return len(self._heap) - n_gone(self._heap, t, key=2)
        return len(self._dq) - n_gone(self._dq, t)

    def expire_at_boundary(self, t: float, s: float, admitted_at) -> list[Req]:
        """:meth:`expire` at the boundary ``t`` of a pipelined replica's cycle ``(s, t]``: a request
        queued inside the cycle would have joined a micro-batch at ``admitted_at(r)`` (before ``t``),
        so it stays if its client was still there then (deadline after it) and no request that waited
        through the cycle is ahead of it (taken first, at ``t``, it holds back those behind it:
        :meth:`~sim.serving.iteration.Iterations._lead`); every other request whose deadline is at or
        before ``t`` has gone."""
        if self.soonest > t:
            return []
        items = sorted(self._heap) if self.priority else list(self._dq)   # in the order they are taken
        keep, gone = [], []
        held = False
        for it in items:
            r = it[2] if self.priority else it
            if r.sched < 0 and r.deadline <= t and (held or r.queued_at <= s or r.deadline <= admitted_at(r)):
                gone.append(r)
                continue
            keep.append(it)
            if r.queued_at <= s:
                held = True
        if gone:
            if self.priority:
                self._heap[:] = keep        # sorted: a heap
            else:
                self._dq.clear()
                self._dq.extend(keep)
        self.soonest = soonest(self._heap, key=2) if self.priority else soonest(self._dq)
        return gone
