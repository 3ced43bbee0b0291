"""A request batcher in front of the fleet (``fleet.router.batcher``): arrivals go to replicas in groups.

An API gateway or benchmark harness may hold requests and forward them in groups rather than one by
one. The mechanism modelled is AMD's MLPerf Llama-2-70B harness (``--enable-batcher``; the
``batch_samples_loop`` of its ``SyncServerSUT``, in the MLPerf v4.1 flat-layout harness and in
v5.0's ``harness_llm/backends/vllm/sync_sut.py``), exactly as it runs:

* arrivals are appended to one list, in arrival order;
* the batcher *looks* when a request arrives (after appending it) and, if none arrives, ``timeout_s``
  after it last looked (it blocks on its queue with that timeout);
* when it looks and the list is not empty and either holds ``max_requests`` or ``timeout_s`` has
  passed since the last dispatch, the first ``max_requests`` requests go, as one group, to one
  replica (the router's choice for the group's first request), and the dispatch timer restarts.
  One group per look. The timer starts at the first arrival.

So under a steady stream a group leaves at the first arrival at least ``timeout_s`` after the
previous dispatch (and holds that arrival); after a gap it leaves ``timeout_s`` after the last
arrival. Under Poisson arrivals at rate ``λ`` with ``e^(-λ timeout_s)`` negligible, a cycle is
``timeout_s`` plus the wait for the next arrival (``1/λ``, memoryless), a group holds ``λ timeout_s + 1``
requests on average and a request waits ``(λ timeout_s² / 2 + timeout_s) / (λ timeout_s + 1)`` on
average (renewal reward; ``tests/test_batcher.py``).

The dispatch times depend on the arrival times alone, so :class:`Batcher` works them out as the feed
hands it arrivals; a request's ``queued_at`` becomes its dispatch time, when a replica can first take
it, while ``arrival`` (what TTFT and E2E are measured from) stays the client's.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.serving.request import Req

Group = tuple[float, "list[Req]"]
"""A dispatch: its time and the requests sent, in arrival order."""


class Batcher:
    """The batcher's state as arrivals pass through it (see the module docstring)."""

    def __init__(self, max_requests: int, timeout_s: float) -> None:
        self.max_requests = max_requests
        self.timeout_s = timeout_s
        self.pending: list[Req] = []
        self.last_dispatch = -math.inf   # the timer: set at the first arrival, then at each dispatch
        self.last_look = -math.inf       # when the batcher last looked (its queue wait's timeout runs from it)
        self.started = False

    def _dispatch(self, t: float) -> Group:
        n = self.max_requests
        group = self.pending[:n]
        del self.pending[:n]
        for r in group:
            r.queued_at = t
        self.last_dispatch = t
        return t, group

    def due_before(self, t: float) -> list[Group]:
        """The groups its queue-wait timeouts send before ``t`` (no arrival in between): a timeout
        fires ``timeout_s`` after each look, and with requests waiting it always dispatches (the last
        dispatch was at or before the last look)."""
        out = []
        while self.pending and self.last_look + self.timeout_s < t:
            self.last_look += self.timeout_s
            out.append(self._dispatch(self.last_look))
        return out

    def arrive(self, r: "Req") -> list[Group]:
        """``r`` arrives: the groups sent since the last arrival, then the one (if any) sent as the
        batcher looks at ``r.arrival``."""
        t = r.arrival
        out = self.due_before(t)
        if not self.started:
            self.started = True
            self.last_dispatch = t
        self.pending.append(r)
        self.last_look = t
        if len(self.pending) >= self.max_requests or t - self.last_dispatch >= self.timeout_s:
            out.append(self._dispatch(t))
        return out

    def flush(self) -> list[Group]:
        """No more arrivals: the groups the timeouts send until the list is empty."""
        return self.due_before(math.inf)
