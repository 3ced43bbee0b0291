"""The central queue when request classes are pinned to pools (``fleet.router.classes``) or taken
by class priority (every pool's ``batching.policy: priority``).

``router: central_queue`` keeps one FCFS queue for the fleet. With classes pinned to pools a
replica may take only the requests of the classes its pool serves, so one queue per set of pools
a class may use (classes pinned to the same pools, and the classes free to use any pool, share
one): a replica with a free sequence slot takes the oldest request (in the order they joined)
among the heads of the queues its pool serves that it can hold. No class waits behind another
class's request that its replicas may not take. With ``priority`` each queue is a heap on
``(-priority, order)`` and the replica takes the highest class's oldest request among the heads, as
a replica's own queue orders them (:class:`sim.serving.waiting.Waiting`): the fleet is then a
non-preemptive priority queue on ``c`` servers.

>>> from types import SimpleNamespace as NS
>>> q = PinnedQueue([NS(index=frozenset({0})), None], n_pools=2)
>>> q.append(NS(cls=1, rid=7)); q.append(NS(cls=0, rid=8))
>>> rep1 = NS(pool=NS(index=1), can_fit=lambda r: 0)
>>> q.take(rep1).rid, q.take(rep1), len(q), q.waiting_for(0), q.waiting_for(1)
(7, None, 1, 1, 0)
>>> q = PinnedQueue([None, None], n_pools=1, priority=True)
>>> for rid, (cls, prio) in enumerate([(0, 0), (1, 2), (0, 0), (1, 2)]):
...     q.append(NS(cls=cls, rid=rid, prio=prio))
>>> rep0 = NS(pool=NS(index=0), can_fit=lambda r: 0)
>>> [q.take(rep0).rid for _ in range(4)]
[1, 3, 0, 2]
"""
from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING

from sim.serving.patience import drop_expired

if TYPE_CHECKING:
    from sim.serving.replica import Replica
    from sim.serving.request import Req
    from sim.serving.router import PoolSet


class PinnedQueue:
    """FCFS queues (heaps on class priority with ``priority``), one per set of pools
    (``class_sets[c]``: class ``c``'s :class:`~sim.serving.router.PoolSet`, or None for any pool);
    ``len`` counts every waiting request."""

    def __init__(self, class_sets: list["PoolSet | None"], n_pools: int, priority: bool = False) -> None:
        self.priority = priority
        queues: dict[frozenset | None, deque | list] = {}
        self._of_class: list[deque] = []
        for s in class_sets:
            key = s.index if s is not None else None
            self._of_class.append(queues.setdefault(key, [] if priority else deque()))
        self._of_pool = [[q for key, q in queues.items() if key is None or i in key] for i in range(n_pools)]
        self._n = 0
        self._seq = 0

    def __len__(self) -> int:
        return self._n

    def append(self, r: "Req") -> None:
        """``r`` joins the queue of its class's pools."""
        if self.priority:
            heapq.heappush(self._of_class[r.cls], ((-r.prio, self._seq), r))
        else:
            self._of_class[r.cls].append((self._seq, r))
        self._seq += 1
        self._n += 1

    def take(self, rep: "Replica") -> "Req | None":
        """The oldest (with ``priority``: highest class's oldest) waiting request ``rep`` may take
        and can hold (removed), or None."""
        best = None
        for q in self._of_pool[rep.pool.index]:
            if q and (best is None or q[0][0] < best[0][0]) and rep.can_fit(q[0][1]) == 0:
                best = q
        if best is None:
            return None
        self._n -= 1
        return heapq.heappop(best)[1] if self.priority else best.popleft()[1]

    def waiting_for(self, pool_index: int) -> int:
        """Requests waiting that a replica of pool ``pool_index`` may take."""
        return sum(len(q) for q in self._of_pool[pool_index])

    def expire(self, t: float) -> list["Req"]:
        """Take out the requests whose clients gave up by ``t`` (:mod:`sim.serving.patience`)."""
        gone_all = []
        for q in {id(q): q for q in self._of_class}.values():
            gone_all.extend(drop_expired(q, t, key=1, heap=self.priority))
        self._n -= len(gone_all)
        return gone_all
