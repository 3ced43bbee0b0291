"""The time-series sampler: one row per pool every ``metrics.interval`` seconds.

Columns (see :data:`sim.metrics.schema.TS_COLUMNS`): time, pool, mean replicas provisioned over
the interval (so ``sum(replicas * interval)`` is exactly the provisioned replica-seconds), queue
length, central-queue length, running sequences, KV blocks in use and their share of the ready
replicas' blocks (instantaneous), and the busy fraction (busy / provisioned time over the
interval). State inside a fast run is computed on demand (``Replica.kv_used_at``, ``busy_at``).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.serving.mid_cycle import arrived_counts, counts_at

if TYPE_CHECKING:
    from sim.serving.fleet import Fleet
    from sim.serving.replica import Replica


def queue_counts(rep: "Replica", t: float, prerouted: bool) -> tuple[int, int]:
    """``(waiting, running)`` on ``rep`` at ``t``: the queue without the clients gone by then (and the
    pre-routed requests arrived by then that its room takes), the admitted requests; on a pipelined
    replica a request a micro-batch took mid-cycle is running, not waiting (:mod:`sim.serving.mid_cycle`)."""
    if rep.slots > 1:
        waiting, taken = arrived_counts(rep, t) if prerouted else counts_at(rep, t)
        return waiting, len(rep.active) + taken
    return (arrived_waiting(rep, t) if prerouted else rep.waiting.present(t)), len(rep.active)


def arrived_waiting(rep: "Replica", t: float) -> int:
    """Queued requests at ``t`` on a pre-routed replica (not pipelined), including the pre-routed ones
    that arrived by then (those a full waiting room will refuse not counted)."""
    c = rep.waiting.present(t)
    room = rep.max_waiting if rep.max_waiting is not None else math.inf
    for r in rep.incoming:
        if r.queued_at > t:
            break
        if c < room or (not c and rep._idle_at(r.queued_at)):   # an idle replica takes one: room_full
            c += 1
    return c


def pipelined_pending(rep: "Replica") -> float:
    """An instant before every departure a pipelined replica has yet to book: it books a cycle at its
    end, a request's tokens its ``lead`` earlier (the micro-batch it joined: kept in the cycles after),
    and a client gone from a request queued inside the cycle in progress at its deadline, after the
    cycle's start (``inf``: nothing in progress). A read: it changes nothing, so rows read as often as
    ``metrics.interval`` asks (the engine keeps ``lead_max``, the largest lead since its batch was last
    empty: :meth:`~sim.serving.iteration.Iterations._admit`)."""
    start = rep.run.start if rep.run is not None else rep.run_start
    if start < 0:
        if not rep.active:
            return math.inf
        start = rep.clock
    return start - (rep.lead_max if rep.active else 0.0)


def settled_before(fleet: "Fleet", t: float) -> float:
    """The latest instant up to ``t`` by which every arrival's fate is booked: before the first pre-routed
    request a waiting room has yet to take or refuse (decided at the boundary after its ``queued_at``,
    which may come after a time-series row: :class:`~sim.serving.in_system.InSystemPeak` must not count
    it as in the system meanwhile), and before any departure a pipelined replica has yet to book
    (:func:`pipelined_pending`: over a cycle longer than the rows' interval, a completion or a client
    gone mid-cycle was booked after rows had counted it in the system up to the row before)."""
    for rep in fleet.live:
        if rep.slots > 1 and rep.alive:
            t = min(t, pipelined_pending(rep))
    if not fleet.prerouted:
        return t
    for rep in fleet.live:
        if rep.max_waiting is not None and rep.incoming and rep.incoming[0].queued_at <= t:
            t = math.nextafter(rep.incoming[0].queued_at, -math.inf)
    return t


class Sampler:
    """Samples a fleet's pools; ``rows`` holds the time series as tuples."""

    def __init__(self, fleet: "Fleet") -> None:
        self.fleet = fleet
        self.rows: list[tuple] = []
        self._prev_busy = {p.index: 0.0 for p in fleet.pools}
        self._prev_prov = {p.index: 0.0 for p in fleet.pools}
        self._last = 0.0

    def process(self, interval: float):
        """SimPy process: a row every ``interval`` seconds."""
        env = self.fleet.env
        while True:
            self.fleet.next_sample_at(env.now + interval)
            yield env.timeout(interval)
            self.sample(env.now, interval)
            self._last = env.now

    def pipelined_counts(self, t: float) -> dict[int, tuple[int, int]]:
        """``queue_counts`` of the pipelined replicas at the run's end ``t``, taken before the fleet
        settles them (:meth:`~sim.serving.fleet.Fleet.close`): a request a micro-batch took inside the
        cycle in progress runs, and that cycle is gone once settled (:meth:`final`)."""
        fleet = self.fleet
        return {r.index: queue_counts(r, t, fleet.prerouted)
                for p in fleet.pools for r in p.live if r.alive and r.ready and r.slots > 1}

    def final(self, t: float, counts: dict[int, tuple[int, int]] | None = None) -> None:
        """A last row at the end of the run (covering the partial interval since the last one);
        ``counts``: :meth:`pipelined_counts`."""
        if t - self._last > 1e-9:
            self.sample(t, t - self._last, counts)
            self._last = t

    def sample(self, t: float, interval: float, counts: dict[int, tuple[int, int]] | None = None) -> None:
        """One row per pool at ``t`` covering the ``interval`` seconds before it (``counts``: a replica's
        waiting and running requests where they are given)."""
        fleet = self.fleet
        # the exact peak in the system: every arrival and departure up to the last row is booked by now,
        # but for a waiting room's refusals of pre-routed requests, decided at its next boundary
        fleet.in_system.settle(settled_before(fleet, self._last))
        if fleet.patience is not None:
            fleet.expire_all(t)     # clients who gave up by t are no longer in a queue
        central = len(fleet.central) if fleet.central is not None else 0
        prev_busy, prev_prov = self._prev_busy, self._prev_prov
        for p in fleet.pools:
            reps = [r for r in p.live if r.alive and r.ready]
            n = len(reps)
            queue = running = 0
            for r in reps:
                waiting, run = counts[r.index] if counts and r.index in counts else queue_counts(r, t, fleet.prerouted)
                queue += waiting
                running += run
            kv = sum(r.kv_used_at(t) for r in reps)
            busy = p.busy_seconds(t)
            prov = p.provisioned_seconds(t)
            d_prov = prov - prev_prov[p.index]
            frac = (busy - prev_busy[p.index]) / d_prov if d_prov > 0 else 0.0
            prev_busy[p.index] = busy
            prev_prov[p.index] = prov
            kv_frac = kv / (n * p.kv_blocks) if n and p.kv_blocks else 0.0
            self.rows.append((t, p.index, d_prov / interval if interval > 0 else float(p.n_prov), queue, central,
                              running, kv, kv_frac, min(max(frac, 0.0), 1.0)))
