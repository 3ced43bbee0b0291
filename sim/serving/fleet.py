"""The fleet: pools of replicas, routing, replica lifecycle and what becomes of each request.

One SimPy process feeds arrivals (:mod:`sim.serving.feed`; no process per request), one per
replica runs its engine, one samples the time series (:mod:`sim.serving.sampler`); autoscalers (:mod:`sim.serving.autoscaler`) and failure processes
(:mod:`sim.serving.failures`) add, drain, fail and repair replicas. Everything the run needs (rng,
recorder, warmup) hangs off the :class:`Fleet`, never a global.

Replica lifecycle (provision, ready, drain, release, fail, repair, retries) is
:class:`~sim.serving.lifecycle.ReplicaLifecycle`, a base of :class:`Fleet`; each replica's
provisioned lifetime is one ``(start_s, end_s)`` entry of :attr:`PoolRuntime.intervals` (filled by
:meth:`Fleet.close`).

At the end, :meth:`Fleet.finish` hands up a :class:`~sim.serving.outcome.FleetOutcome` (request
log, time series, per-pool usage, event log, dynamics blocks): the API layer reads nothing else.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Iterator

import numpy as np
import simpy

from sim.metrics.records import GapLog, RequestLog
from sim.scenario.schema import Scenario
from sim.serving.autoscaler import Autoscaler
from sim.serving.batcher import Batcher
from sim.serving.closed_feed import feed_closed
from sim.serving.disaggregation import transfer_summary, transfer_time_s
from sim.serving.failures import failure_summary
from sim.serving.feed import feed_ahead, feed_at_arrival
from sim.serving.in_system import InSystemPeak
from sim.serving.lifecycle import ReplicaLifecycle
from sim.serving.mid_cycle import start_taken
from sim.serving.outcome import (EV_DRAIN, EV_FAIL, EV_PROVISION, EV_READY, EV_RELEASE, EV_REPAIR, EVENT_DTYPE,
                                 EVENT_KINDS, FleetOutcome, PoolUsage, merged_mix)
from sim.serving.pinned_queue import PinnedQueue
from sim.serving.pool import PoolRuntime
from sim.serving.replica import Replica
from sim.serving.patience import Patience, drop_expired
from sim.serving.patience import scales as patience_scales
from sim.serving.request import COMPLETED, IN_FLIGHT, R_NO_REPLICA, R_QUEUE_FULL, R_TIMEOUT, REJECTED, Req
from sim.serving.router import PoolSet, class_pool_sets, least_outstanding, make_router
from sim.serving.sampler import Sampler
from sim.serving.clock import arrival_at, at
from sim.workload.streams import router_stream

__all__ = ["EVENT_KINDS", "EV_DRAIN", "EV_FAIL", "EV_PROVISION", "EV_READY", "EV_RELEASE", "EV_REPAIR", "Fleet"]


class Fleet(ReplicaLifecycle):
    """Routes requests to replicas and records what happens to them."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, pools: list[PoolRuntime],
                 class_prio: list[int], fast: bool, seed: int, lean: bool = True) -> None:
        """``fast``: the event-skipping engine (else one SimPy timeout per iteration); ``lean``:
        pre-routed FCFS replicas take the lean loop (``False`` compares it with the general path)."""
        self.env = env
        self.scenario = scenario
        self.pools = pools
        self.warmup = scenario.warmup
        self.frontend_s = scenario.fleet.frontend_s   # added to first-token and completion times
        self.class_prio = class_prio
        from sim.workload import classes as _classes

        self.class_prefix = [c.shared_prefix_tokens for c in _classes(scenario.workload)]
        # clients who give up waiting (workload.patience_s): each request's deadline, set by the feed
        self.patience = Patience(scenario.workload, seed) if patience_scales(scenario.workload) else None
        self.rng = router_stream(seed)          # apart from the workload's and the failures' streams
        self.log = RequestLog.for_scenario(scenario)          # metrics.records: all | sample | none
        self.gaps = GapLog(mode=scenario.metrics.records)
        self.itl_add = self.gaps.add              # (gap, count): the engines call these per iteration
        self.itl_add_run = self.gaps.add_run
        self.arrived = 0
        self.preemptions = 0
        self.in_flight: dict[int, Req] = {}
        self.in_system = InSystemPeak()         # every arrival and departure: the exact peak in the system
        # a closed loop's clients (sim.serving.closed_feed) learn here that a request left the system:
        # on_done(r, t) at the time t the client learns it: completed (its last token, the frontend's delay
        # included), rejected or failed
        self.on_done = None
        self.max_in_flight = math.inf         # requests in the system memory holds (the API sets it)
        self.fast = fast
        self.seed = seed
        self.replicas: list[Replica] = []     # every replica ever provisioned (index = replica id)
        self.live: list[Replica] = []         # provisioned, not released (what routers look at)
        self.events: list[tuple[float, int, int, int]] = []
        self.retry_events = 0
        self.requests_retried = 0             # requests re-queued at least once
        self.requests_failed = 0
        self.retries_rejected: dict[int, int] = {}   # reason -> requests rejected after a retry (failures summary)
        self.e2e_sum_s = [0.0, 0.0]           # completed requests: [not retried, retried]
        self.e2e_n = [0, 0]
        self.pool_done = [[0, 0, 0, 0.0] for _ in pools]   # per pool: completed, prompt and generated tokens, TTFT s
        self.pool_prefilled = [[0, 0] for _ in pools]      # per prefill-role pool: prompts run, their tokens
        self.no_replica_rejects = 0
        self.transfers = 0
        self.transfer_s = 0.0
        self.transfer_bytes = 0.0
        self.autoscalers: list[Autoscaler] = []
        d = scenario.fleet.disaggregated
        by_name = {p.name: p for p in pools}
        self.prefill_pool = by_name[d.prefill_pool] if d is not None else None
        self.decode_pool = by_name[d.decode_pool] if d is not None else None
        if d is not None:
            self.prefill_pool.role = "prefill"
            self.decode_pool.role = "decode"
        # fleet.router.classes: per class, the pools it is pinned to (None: any pool)
        router = scenario.fleet.router
        self.class_sets: list[PoolSet | None] = []
        if router.classes and d is None:
            self.class_sets = class_pool_sets(router, pools, [c.name for c in _classes(scenario.workload)], self.rng)
        self.pool_sets = list({id(s): s for s in self.class_sets if s is not None}.values())
        for p in pools:
            for _ in range(p.cfg.replicas):
                self.add_replica(p, ready=True)
        self.policy = router.policy
        self.central: deque[Req] | PinnedQueue | None = None
        if self.policy == "central_queue":
            # taken by class priority when every pool's replicas would take their own queue so
            # (batching.policy: priority); one queue for every class unless classes are pinned
            by_priority = all(p.cfg.batching.policy == "priority" for p in pools)
            if self.pool_sets or by_priority:
                sets = self.class_sets or [None] * len(class_prio)
                self.central = PinnedQueue(sets, len(pools), priority=by_priority)
            else:
                self.central = deque()
        self.router = make_router(scenario.fleet.router, self)
        # the central queue's waiting room (fleet.router.max_waiting; no limit: inf)
        self.central_room = router.max_waiting if router.max_waiting is not None else math.inf
        b = router.batcher   # fleet.router.batcher: arrivals leave for replicas in groups (None: one by one)
        self.batcher = Batcher(b.max_requests, b.timeout_s) if b is not None else None
        # State-independent routing (the choice does not depend on replica state): route each request
        # when it is generated and let replicas take their arrivals themselves -- no arrival event or
        # interrupt per request. The reference engine always routes at arrival time.
        pools_static = all(p.cfg.autoscale is None and p.cfg.failures is None and p.cfg.batching.policy != "static"
                           for p in pools)
        # ``random`` falls back to the least outstanding replica that can serve a request the drawn one
        # cannot (state); when every replica takes and refuses the same requests, no other can either
        fit_alike = len({rep.fit_key() for rep in self.replicas}) <= 1
        # a closed loop's arrivals depend on completions: routed at arrival, no replica runs ahead
        self.prerouted = (fast and pools_static and d is None and self.central is None
                          and scenario.workload.closed is None and self.patience is None
                          and (self.policy == "round_robin" or (self.policy == "random" and fit_alike)
                               or len(self.replicas) == 1))
        self.known_until = 0.0
        # Pre-routed replicas are independent of each other, so each runs ahead of the SimPy clock,
        # without an event per iteration, through every iteration that ends before ``sync_t``: the
        # next instant anything else looks at them or feeds them (sampler, feed, end of the run).
        # The iteration that reaches ``sync_t`` is a real SimPy timeout, so at that instant every
        # replica is in the state the event-by-event engine would have.
        self.sync_t = 0.0
        self._next_sample = 0.0    # until the sampler and the feed have started: no running ahead
        self._next_feed = 0.0
        self.horizon = math.inf
        if self.prerouted:
            for rep in self.replicas:
                rep.pulls = True
                rep.receive = rep.assign     # each routed request joins it at its queued_at
                # the chunked family's rules (FCFS or by class priority, full KV reservation, prefix
                # caching), or prompt-only iterations of FCFS whole prompts without either; not with
                # a KV gate on prompts (batching.prefill_gate_open: the general path's rule only)
                rep.lean = (lean and rep.role == "both" and rep.policy != "static"
                            and not rep.batching.min_free_pct
                            and (rep.chunked or not (rep.policy == "priority" or rep.full or rep.prefix_caching)))
        self.sampler = Sampler(self)
        self.end_time = 0.0
        for p in pools:
            if p.cfg.autoscale is not None:
                self.autoscalers.append(Autoscaler(self, p, p.cfg.autoscale))

    # ------------------------------------------------------------------ disaggregation
    def hand_off(self, r: Req, src: Replica, t: float) -> None:
        """Prefill done on ``src``: move ``r``'s KV cache (``target`` tokens) over the link."""
        nbytes = r.target * src.pool.kv_bytes_per_token
        dt = transfer_time_s(r.target, src.pool.kv_bytes_per_token, self.scenario.fleet.disaggregated.link_gbps)
        self.transfers += 1
        self.transfer_s += dt
        self.transfer_bytes += nbytes
        epoch = r.epoch
        # the cache lands as an arrival lands on the decode pool: before the iteration ends of its
        # instant, so a decode replica ending an iteration then admits it at once (sim.serving.clock)
        ev = arrival_at(self.env, max(t, self.env.now) + dt)
        ev.callbacks.append(lambda _ev: self._transfer_end(r, src, epoch))

    def _transfer_end(self, r: Req, src: Replica, epoch: int) -> None:
        if r.epoch != epoch:
            return  # the source failed mid-transfer: the request was already retried
        src.transfer_done(r)
        rep, why = least_outstanding(self.decode_pool.live, r, 0)
        if rep is None:
            self.reject(r, why or R_NO_REPLICA)
            return
        r.kv_ready = True
        rep.enqueue(r)

    # ------------------------------------------------------------------ end of the run
    def close(self, t: float) -> None:
        """Settle every replica at ``t`` and fill each pool's provisioned intervals."""
        for rep in self.replicas:
            if rep.max_waiting is not None and rep.incoming:
                # pre-routed requests that arrived during the iteration in progress: a full waiting
                # room refuses them at their arrival, as at the boundary that would have taken them
                rep.ingest_arrived(t)
            if not rep.released:
                rep.settle(t)
                rep.close_books(t)
        for p in self.pools:
            p.intervals = [(r.prov_start_s, min(r.prov_end_s if r.released else t, t))
                           for r in p.replicas if r.prov_start_s <= t]

    def latest_clock(self) -> float:
        """The furthest any replica's clock has run (replicas may run ahead of the SimPy clock)."""
        return max((r.clock for r in self.replicas), default=self.env.now)

    def finish(self, end: float) -> FleetOutcome:
        """Close the books at ``end`` (settle, last time-series row) and hand up the outcome."""
        counts = self.sampler.pipelined_counts(end)   # before close settles the cycles in progress
        for rep in self.live:
            if rep.alive and rep.slots > 1:
                # a request a micro-batch took inside the cycle the run ends in runs (in flight, first
                # admitted at its boundary, as the last row counts it), though its client's deadline
                # passes before that cycle's end (the last row's expiry keeps it), patience or not; a
                # pre-routed request that arrived in that cycle joins the queue first (or its room refuses it)
                rep.ingest_arrived(end)
                start_taken(rep, end)
        self.close(end)
        if self.patience is not None:
            # clients gone by the end have left (timeout), whether or not a last row is due: the rows'
            # clock adds up its intervals and may stop a rounding short of the end (0.04375 s 16 times:
            # 0.6999999999999998 of 0.7), and a pipelined replica's last row kept the requests queued
            # in the cycle in progress, judged at its end, which the run does not reach
            self.expire_all(end)
        self.sampler.final(end, counts)
        self.in_system.settle(end)
        self.end_time = end
        pools = [PoolUsage(pool=p, intervals=tuple(p.intervals),
                           busy_replica_s=sum(min(r.busy_at(end), end) for r in p.replicas),
                           tokens_processed=sum(r.tokens_processed for r in p.replicas),
                           iterations=sum(r.iterations for r in p.replicas), kv_read=sum(r.kv_read for r in p.replicas),
                           micro_batches=sum(r.micro_batches_run for r in p.replicas),
                           token_mix=merged_mix(p.replicas),
                           prefills=self.pool_prefilled[p.index][0], prefill_tokens=self.pool_prefilled[p.index][1],
                           replicas_provisioned_total=len(p.replicas),
                           replicas_mean=(sum(e - s0 for s0, e in p.intervals) / end if end > 0
                                          else float(p.n_prov)))
                 for p in self.pools]
        dynamics: dict = {}
        if self.autoscalers:
            dynamics["autoscale"] = {a.pool.name: a.summary() for a in self.autoscalers}
        if any(p.cfg.failures is not None for p in self.pools):
            dynamics["failures"] = failure_summary(self, end)
        if self.prefill_pool is not None:
            dynamics["disaggregation"] = transfer_summary(self)
        return FleetOutcome(end_s=end, log=self.log, gaps=self.gaps, in_flight_rows=self.in_flight_rows(),
                            in_flight_peak=self.in_system.peak,
                            timeseries=self.sampler.rows, preemptions=self.preemptions, pools=pools,
                            events=np.array(self.events, dtype=EVENT_DTYPE), dynamics=dynamics)

    # ------------------------------------------------------------------ arrivals and routing
    def start(self, chunks: Iterator, horizon_s: float, interval_s: float) -> simpy.Process:
        """Start the arrival feed (returned) and the sampler (a row every ``interval_s``)."""
        if self.scenario.workload.closed is not None:
            proc = self.env.process(feed_closed(self, chunks, horizon_s))
        else:
            feed = feed_ahead if self.prerouted else feed_at_arrival
            proc = self.env.process(feed(self, chunks, horizon_s))
        self.env.process(self.sampler.process(interval_s))
        return proc

    def set_horizon(self, t: float) -> None:
        """The SimPy run goes on until ``t`` (``env.run(until=t)``)."""
        self.horizon = t
        self._resync()

    def next_sample_at(self, t: float) -> None:
        """The sampler's next row is at ``t`` (a sync point for replicas running ahead)."""
        self._next_sample = t
        self._resync()

    def next_feed_at(self, t: float) -> None:
        """The feed loads its next chunk at ``t`` (a sync point for replicas running ahead)."""
        self._next_feed = t
        self._resync()

    def _resync(self) -> None:
        self.sync_t = min(self._next_sample, self._next_feed, self.horizon)

    def wake_idle(self) -> None:
        """New arrivals are known: idle replicas look again."""
        for rep in self.replicas:
            if rep._idle is not None and not rep._idle.triggered:
                rep._idle.succeed()

    def route(self, r: Req) -> None:
        if self.patience is not None:
            # what the router reads (queue lengths) as it is now: clients who gave up have left
            self.expire_all(self.env.now)
        if self.prefill_pool is not None:
            self._route_disaggregated(r)
            return
        if self.central is not None:
            reason = self._fit_anywhere(r)
            if reason:
                self.reject(r, reason)
                return
            rep = self._free_replica(r)
            if rep is None:
                if len(self.central) >= self.central_room:   # fleet.router.max_waiting: refused at once
                    self.reject(r, R_QUEUE_FULL)
                    return
                self.central.append(r)
            else:
                rep.enqueue(r)
            return
        self.place((r,))

    def place(self, reqs: "list[Req] | tuple[Req, ...]") -> Replica | None:
        """Each of ``reqs``, in order, to the replica the router picks, or rejected: the one routing
        decision of both feeds (a whole chunk at a time ahead of the clock, one request at its
        arrival). A pre-routed fleet's replica takes the request at its ``r.queued_at``
        (:meth:`Replica.assign`), any other queues it now (:meth:`Replica.enqueue`): whichever its
        ``receive`` is, set once, when the fleet decides to route ahead. Returns the last request's
        replica (None: rejected)."""
        router, reject = self.router, self.reject
        rep = None
        for r in reqs:
            rep, reason = router(r)
            if rep is None:
                reject(r, reason or R_NO_REPLICA)
            else:
                rep.receive(r)
        return rep

    def send_group(self, reqs: list[Req]) -> None:
        """A batcher's group (``fleet.router.batcher``) goes to the replica the router picks for its
        first request (one routing decision, at the dispatch; taken as :meth:`place` hands it); a
        request that replica can never serve (a prompt past its context, ...) is routed alone."""
        rep = None
        for r in reqs:
            if rep is not None and not rep.can_fit(r):   # can_fit: 0, or the reason it never can
                rep.receive(r)
            else:
                chosen = self.place((r,))
                if rep is None:
                    rep = chosen

    def _route_disaggregated(self, r: Req) -> None:
        """Least outstanding prefill replica; rejected up front if no decode replica could hold it."""
        dec = self.decode_pool
        if dec.replicas:
            why = dec.replicas[0].can_fit(r)
            if why:
                self.reject(r, why)
                return
        rep, why = least_outstanding(self.prefill_pool.live, r, 0)
        if rep is None:
            self.reject(r, why or R_NO_REPLICA)
        else:
            rep.enqueue(r)

    def _set_of(self, r: Req) -> "PoolSet | Fleet":
        """The replicas ``r`` may go to: its class's pools (``fleet.router.classes``) or the fleet."""
        s = self.class_sets[r.cls] if self.class_sets else None
        return s if s is not None else self

    def _fit_anywhere(self, r: Req) -> int:
        reason = R_NO_REPLICA
        for p in self._set_of(r).pools:
            if p.live:
                reason = p.live[0].can_fit(r)
                if reason == 0:
                    return 0
        return reason

    def _free_replica(self, r: Req) -> Replica | None:
        best = None
        best_out = 0
        for rep in self._set_of(r).live:
            if rep.accepting and rep.free_slots() > 0 and rep.can_fit(r) == 0:
                o = rep.outstanding
                if best is None or o < best_out:
                    best, best_out = rep, o
        return best

    def pull(self, rep: Replica) -> None:
        """Central queue: hand waiting requests to ``rep`` while it has free sequence slots."""
        q = self.central
        if not q or not rep.accepting:
            return
        if self.patience is not None:
            self.expire_central(self.env.now)
            rep.expire(self.env.now)        # its free slots as they are now
        if isinstance(q, PinnedQueue):
            while rep.free_slots() > 0:
                r = q.take(rep)
                if r is None:
                    break
                rep.enqueue(r)
            return
        while q and rep.free_slots() > 0:
            r = q[0]
            if rep.can_fit(r):
                # this request cannot run here; leave it for another pool's replica
                break
            q.popleft()
            rep.enqueue(r)

    def expire_central(self, t: float) -> None:
        """Requests whose clients gave up by ``t`` leave the central queue (:mod:`sim.serving.patience`)."""
        q = self.central
        gone = q.expire(t) if isinstance(q, PinnedQueue) else drop_expired(q, t)
        for r in gone:
            self.reject(r, R_TIMEOUT)

    def expire_all(self, t: float) -> None:
        """Every queue at ``t``: the clients who gave up by then have left (a time-series row)."""
        if self.central is not None:
            self.expire_central(t)
        for rep in self.live:
            if rep.alive:
                rep.expire(t)

    def central_waiting(self, pool: PoolRuntime) -> int:
        """Requests in the central queue a replica of ``pool`` may take (0 without one)."""
        if self.central is None:
            return 0
        return self.central.waiting_for(pool.index) if isinstance(self.central, PinnedQueue) else len(self.central)

    # ------------------------------------------------------------------ outcomes
    def _row(self, r: Req, status: int, t: float) -> tuple:
        fe = self.frontend_s   # times as the client sees them
        return (r.rid, r.arrival, r.sched, r.first_tok + fe if r.first_tok >= 0 else r.first_tok,
                t + fe if status == COMPLETED else -1.0,
                r.prompt, r.output, r.gen, r.preempt, r.retries, r.pool, r.replica, r.cls, status, r.reason)

    def complete(self, r: Req, t: float) -> None:
        """``r`` emitted its last token at the end of the iteration ending at ``t`` (its micro-batch's
        pass, ``r.lead`` earlier on a pipelined replica: :meth:`~sim.serving.iteration.Iterations._lead`)."""
        t -= r.lead
        k = 1 if r.retries else 0
        self.e2e_sum_s[k] += t + self.frontend_s - r.arrival
        self.e2e_n[k] += 1
        done = self.pool_done[r.pool]
        done[0] += 1
        done[1] += r.prompt
        done[2] += r.gen
        done[3] += r.first_tok - r.arrival
        self.in_flight.pop(r.rid, None)
        self.in_system.depart(t)
        self.log.append(self._row(r, COMPLETED, t))
        if self.on_done is not None:
            self.on_done(r, t + self.frontend_s)    # when the client sees the last token

    def reject(self, r: Req, reason: int, at: float | None = None) -> None:
        """``r`` leaves refused: now, or ``at`` where the refusal is decided later than it happened (a
        pre-routed request a full waiting room refuses at its ``queued_at``, read at the next boundary)."""
        if reason == R_NO_REPLICA:
            self.no_replica_rejects += 1
        r.reason = reason
        if r.retries:               # a retry refused (or its client gone), not a fresh arrival
            self.retries_rejected[reason] = self.retries_rejected.get(reason, 0) + 1
        self.in_flight.pop(r.rid, None)
        # it left when refused (a pre-routed one at its arrival at the earliest), or when its client gave up
        self.in_system.depart(r.deadline if reason == R_TIMEOUT and r.deadline < math.inf
                              else max(self.env.now if at is None else at, r.arrival))
        self.log.append(self._row(r, REJECTED, -1.0))
        if self.on_done is not None:
            self.on_done(r, self.env.now)

    def check_backlog(self) -> None:
        """Raise :class:`~sim.errors.ScenarioError` when more requests are in the system than
        ``max_in_flight``: a fleet that falls this far behind would fill the machine's memory with
        waiting requests (and its latencies would mean nothing) before the run could end."""
        n = len(self.in_flight)
        if n > self.max_in_flight:
            from sim.errors import ScenarioError
            raise ScenarioError([("workload.arrival", f"the fleet falls behind: {n:,} requests in the system at "
                                                      f"t = {self.env.now:,.6g} s, more than this machine's memory "
                                                      f"holds ({self.max_in_flight:,.0f}); the run cannot finish "
                                                      f"(even with --allow-large): add replicas or lower the rate")])

    def in_flight_rows(self) -> list[tuple]:
        rows = []
        for r in self.in_flight.values():
            if r.decoding and 0 <= r.replica < len(self.replicas):
                g = r.gen
                r.gen = self.replicas[r.replica].generated(r)
                rows.append(self._row(r, IN_FLIGHT, -1.0))
                r.gen = g
            else:
                rows.append(self._row(r, IN_FLIGHT, -1.0))
        return rows
