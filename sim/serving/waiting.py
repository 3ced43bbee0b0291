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

from sim.serving.patience import drop_expired, soonest
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

    def expire(self, t: float) -> list[Req]:
        """Take out the requests whose clients gave up by ``t`` (never admitted, deadline at or
        before ``t``: :mod:`sim.serving.patience`); the others keep their order."""
        if self.soonest > t:
            return []
        if self.priority:
            gone = drop_expired(self._heap, t, key=2, heap=True)
            self.soonest = soonest(self._heap, key=2)
        else:
            gone = drop_expired(self._dq, t)
            self.soonest = soonest(self._dq)
        return gone
