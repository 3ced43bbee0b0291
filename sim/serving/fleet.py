"""The fleet: pools of replicas, the router in front of them, the arrival feed and the sampler.

One SimPy process feeds arrivals (no process per request), one per replica runs its engine, one
samples the time series; autoscalers (:mod:`sim.serving.autoscaler`) and failure processes
(:mod:`sim.serving.failures`) add, drain, fail and repair replicas. Everything the run needs (rng,
recorder, warmup) hangs off the :class:`Fleet`, never a global.

Replica lifecycle and money: a replica is provisioned from the moment it is requested (warming,
serving, idle, draining and failed-and-held time all count) until it is released; each lifetime
is one ``(start_s, end_s)`` entry of :attr:`PoolRuntime.intervals` (filled by
:meth:`Fleet.close`). ``Fleet.events`` logs every lifecycle change as ``(time_s, pool, replica,
kind)`` with ``kind`` an index into :data:`EVENT_KINDS`.

Failures: the requests a failed replica held (queued, running, or with their KV cache in transfer
from it) are retried (``Req.retries`` += 1, routed again as new arrivals but keeping the tokens
already emitted) or, past the pool's ``max_retries``, finished with status FAILED.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import simpy

from sim.metrics.records import GapLog, RequestLog
from sim.perf.base import StepTimeModel
from sim.scenario.catalog import GPUSpec, ModelSpec
from sim.scenario.schema import Pool, Scenario
from sim.serving.autoscaler import Autoscaler
from sim.serving.disaggregation import transfer_time_s
from sim.serving.failures import failure_process, failure_rng
from sim.serving.replica import Replica
from sim.serving.request import COMPLETED, FAILED, IN_FLIGHT, R_NO_REPLICA, R_RETRIES, REJECTED, Req
from sim.serving.router import least_outstanding, make_router

EVENT_KINDS = ("provision", "ready", "drain", "release", "fail", "repair")
EV_PROVISION, EV_READY, EV_DRAIN, EV_RELEASE, EV_FAIL, EV_REPAIR = range(6)


@dataclass
class PoolRuntime:
    """A pool as the engine sees it: catalog entries, step-time model, KV capacity, replicas."""

    index: int
    cfg: Pool
    gpu: GPUSpec
    model: ModelSpec
    step_model: StepTimeModel
    kv_blocks: int
    kv_bytes_per_token: int
    weight_dtype: str
    max_context: int
    replicas: list[Replica] = field(default_factory=list)   # every replica ever provisioned, in order
    intervals: list[tuple[float, float]] = field(default_factory=list)  # provisioned (start, end) per replica
    live: list[Replica] = field(default_factory=list)       # provisioned and not yet released
    role: str = "both"                                       # "prefill"/"decode" under disaggregation
    n_prov: int = 0                                          # replicas provisioned now
    prov_acc_s: float = 0.0                                  # replica-seconds provisioned up to prov_t_s
    prov_t_s: float = 0.0
    released_busy_s: float = 0.0                             # busy seconds of released replicas
    released_up_s: float = 0.0
    released_down_s: float = 0.0

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def gpus_per_replica(self) -> int:
        return self.cfg.tensor_parallel

    def provision_change(self, t: float, delta: int) -> None:
        """The number of provisioned replicas changes by ``delta`` at ``t``."""
        self.prov_acc_s += self.n_prov * (t - self.prov_t_s)
        self.prov_t_s = t
        self.n_prov += delta

    def provisioned_seconds(self, t: float) -> float:
        """Replica-seconds provisioned over ``[0, t]`` (``t`` not before the last change)."""
        return self.prov_acc_s + self.n_prov * (t - self.prov_t_s)

    def busy_seconds(self, t: float) -> float:
        return self.released_busy_s + sum(r.busy_at(t) for r in self.live)

    def up_seconds(self, t: float) -> float:
        """Replica-seconds ready and not failed over ``[0, t]``."""
        return self.released_up_s + sum(r.up_s + (t - r.up_since if r.up_since >= 0 else 0.0) for r in self.live)

    def peak_flops(self) -> float:
        tf = {"bf16": self.gpu.bf16_tflops, "fp8": self.gpu.fp8_tflops, "fp4": self.gpu.fp4_tflops}
        return float(tf.get(self.weight_dtype) or self.gpu.bf16_tflops) * 1e12


class Fleet:
    """Routes requests to replicas and records what happens to them."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, pools: list[PoolRuntime],
                 class_prio: list[int], fast: bool, seed: int) -> None:
        self.env = env
        self.scenario = scenario
        self.pools = pools
        self.warmup = scenario.warmup
        self.frontend_s = scenario.fleet.frontend_s   # added to first-token and completion times
        self.class_prio = class_prio
        from sim.workload import classes as _classes

        self.class_prefix = [c.shared_prefix_tokens for c in _classes(scenario.workload)]
        # the routers' stream: spawn key (4,), apart from the workload's (0..2,) and failures' (3, ...)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4,)))
        self.log = RequestLog.for_scenario(scenario)          # metrics.records: all | sample | none
        self.gaps = GapLog(mode=scenario.metrics.records)
        self.itl_add = self.gaps.add              # (gap, count): the engines call these per iteration
        self.itl_add_run = self.gaps.add_run
        self.arrived = 0
        self.preemptions = 0
        self.in_flight: dict[int, Req] = {}
        self.fast = fast
        self.seed = seed
        self.replicas: list[Replica] = []     # every replica ever provisioned (index = replica id)
        self.live: list[Replica] = []         # provisioned, not released (what routers look at)
        self.events: list[tuple[float, int, int, int]] = []
        self.retry_events = 0
        self.requests_retried = 0             # requests re-queued at least once
        self.requests_failed = 0
        self.e2e_sum_s = [0.0, 0.0]           # completed requests: [not retried, retried]
        self.e2e_n = [0, 0]
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
        for p in pools:
            for _ in range(p.cfg.replicas):
                self.add_replica(p, ready=True)
        self.policy = scenario.fleet.router.policy
        self.central: deque[Req] | None = deque() if self.policy == "central_queue" else None
        self.router = make_router(scenario.fleet.router, self)
        # State-independent routing (the choice does not depend on replica state): route each request
        # when it is generated and let replicas take their arrivals themselves -- no arrival event or
        # interrupt per request. The reference engine always routes at arrival time.
        pools_static = all(p.cfg.autoscale is None and p.cfg.failures is None and p.cfg.batching.policy != "static"
                           for p in pools)
        self.prerouted = (fast and pools_static and d is None and self.central is None
                          and (self.policy in ("round_robin", "random") or len(self.replicas) == 1))
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
            from sim.serving import replica as _replica

            for rep in self.replicas:
                rep.pulls = True
                rep.lean = (_replica.LEAN and rep.policy == "continuous" and not rep.chunked and not rep.full
                            and not rep.prefix_caching and rep.role == "both")
        self.samples: list[tuple] = []
        self.end_time = 0.0
        for p in pools:
            if p.cfg.autoscale is not None:
                self.autoscalers.append(Autoscaler(self, p, p.cfg.autoscale))

    # ------------------------------------------------------------------ replica lifecycle
    def add_replica(self, p: PoolRuntime, ready: bool) -> Replica:
        """Provision a replica in pool ``p`` now (``ready``: serving at once, else warming)."""
        t = self.env.now
        rep = Replica(self.env, self, p, len(self.replicas), len(p.replicas), self.fast, role=p.role, ready=ready)
        p.replicas.append(rep)
        p.live.append(rep)
        self.replicas.append(rep)
        self.live.append(rep)
        p.provision_change(t, +1)
        self.events.append((t, p.index, rep.index, EV_PROVISION))
        if ready:
            self._on_ready(rep)
        return rep

    def mark_ready(self, rep: Replica) -> None:
        """A warming replica finished provisioning and loading weights."""
        if rep.released or rep.ready:
            return
        rep.become_ready()
        self._on_ready(rep)
        if self.central is not None:
            self.pull(rep)

    def _on_ready(self, rep: Replica) -> None:
        self.events.append((self.env.now, rep.pool.index, rep.index, EV_READY))
        fcfg = rep.pool.cfg.failures
        if fcfg is not None:
            self.env.process(failure_process(self, rep, fcfg, failure_rng(self.seed, rep.pool.index, rep.local_index)))

    def drain(self, rep: Replica) -> None:
        """Scale down ``rep``: no new requests; released when it holds nothing."""
        if rep.draining or rep.released:
            return
        self.events.append((self.env.now, rep.pool.index, rep.index, EV_DRAIN))
        rep.start_drain()

    def release(self, rep: Replica) -> None:
        """Give ``rep`` back: its provisioned interval ends now."""
        if rep.released:
            return
        t = self.env.now
        p = rep.pool
        rep.released = True
        rep.alive = False
        rep.accepting = False
        rep.prov_end_s = t
        rep.close_books(t)
        p.live.remove(rep)
        self.live.remove(rep)
        p.provision_change(t, -1)
        p.released_busy_s += rep.busy_acc
        p.released_up_s += rep.up_s
        p.released_down_s += rep.down_s
        self.events.append((t, p.index, rep.index, EV_RELEASE))
        if rep._idle is not None and not rep._idle.triggered:
            rep._idle.succeed()

    def fail_replica(self, rep: Replica) -> None:
        """``rep`` fails now; what it held is retried elsewhere (or failed past ``max_retries``)."""
        if rep.released or not rep.alive:
            return
        self.events.append((self.env.now, rep.pool.index, rep.index, EV_FAIL))
        evicted = rep.fail()
        max_retries = rep.pool.cfg.failures.max_retries if rep.pool.cfg.failures is not None else 0
        if rep.draining:
            self.release(rep)
        for r in sorted(evicted, key=lambda q: q.rid):
            self.retry(r, max_retries)

    def repair_replica(self, rep: Replica) -> None:
        if rep.released or rep.alive:
            return
        self.events.append((self.env.now, rep.pool.index, rep.index, EV_REPAIR))
        rep.repair()
        if self.central is not None:
            self.pull(rep)

    def retry(self, r: Req, max_retries: int) -> None:
        """Route a request again after the replica holding it failed."""
        r.retries += 1
        self.retry_events += 1
        if r.retries == 1:
            self.requests_retried += 1
        if r.retries > max_retries:
            self.fail_request(r)
            return
        self.route(r)

    def fail_request(self, r: Req) -> None:
        r.reason = R_RETRIES
        self.requests_failed += 1
        self.in_flight.pop(r.rid, None)
        self.log.append(self._row(r, FAILED, -1.0))

    # ------------------------------------------------------------------ disaggregation
    def hand_off(self, r: Req, src: Replica, t: float) -> None:
        """Prefill done on ``src``: move ``r``'s KV cache (``target`` tokens) over the link."""
        nbytes = r.target * src.pool.kv_bytes_per_token
        dt = transfer_time_s(r.target, src.pool.kv_bytes_per_token, self.scenario.fleet.disaggregated.link_gbps)
        self.transfers += 1
        self.transfer_s += dt
        self.transfer_bytes += nbytes
        epoch = r.epoch
        ev = self.env.timeout(max(t - self.env.now, 0.0) + dt)
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
            if not rep.released:
                rep.settle(t)
                rep.close_books(t)
        for p in self.pools:
            p.intervals = [(r.prov_start_s, min(r.prov_end_s if r.released else t, t))
                           for r in p.replicas if r.prov_start_s <= t]

    # ------------------------------------------------------------------ arrivals and routing
    def feed(self, chunks: Iterator, horizon_s: float):
        """SimPy process: release every generated request at its arrival time."""
        if self.prerouted:
            yield from self._feed_ahead(chunks, horizon_s)
            return
        env = self.env
        rid = 0
        prio = self.class_prio
        for ch in chunks:
            arr = ch.arrival_s.tolist()
            pr = ch.prompt_tokens.tolist()
            out = ch.output_tokens.tolist()
            cl = ch.class_idx.tolist()
            for i in range(len(arr)):
                t = arr[i]
                if t >= horizon_s:
                    return
                if t > env.now:
                    yield env.timeout(t - env.now)
                c = cl[i]
                r = Req(rid, t, pr[i], out[i], c, prio[c] if c < len(prio) else 0)
                rid += 1
                self.arrived += 1
                self.in_flight[r.rid] = r
                self.route(r)

    def _feed_ahead(self, chunks: Iterator, horizon_s: float):
        """Pre-routing feed: route whole chunks ahead of time (two chunks of look-ahead).

        Replicas never look past ``known_until`` (the last generated arrival) without the next
        chunk being loaded first: chunk k+2 is loaded when the clock reaches chunk k+1's first arrival.
        """
        env = self.env
        it = iter(chunks)
        prio = self.class_prio
        firsts: deque[float] = deque()
        rid = 0

        def load() -> bool:
            nonlocal rid
            ch = next(it, None)
            if ch is None or not len(ch.arrival_s):
                self.known_until = math.inf
                return False
            arr = ch.arrival_s.tolist()
            pr = ch.prompt_tokens.tolist()
            out = ch.output_tokens.tolist()
            cl = ch.class_idx.tolist()
            last = None
            in_flight, router, n_prio = self.in_flight, self.router, len(prio)
            first_rid = rid
            for t, p, o, c in zip(arr, pr, out, cl):
                if t >= horizon_s:
                    break
                r = Req(rid, t, p, o, c, prio[c] if c < n_prio else 0)
                in_flight[rid] = r
                rid += 1
                rep, reason = router(r)
                if rep is None:
                    self.reject(r, reason or R_NO_REPLICA)
                else:
                    rep.assign(r)
                last = t
            self.arrived += rid - first_rid
            if last is None:
                self.known_until = math.inf
                return False
            firsts.append(arr[0])
            self.known_until = last
            return True

        more = load() and load()
        self._wake_idle()
        while more and len(firsts) >= 2:
            firsts.popleft()
            t1 = firsts[0]
            if t1 > env.now:
                self._next_feed = t1
                self._resync()
                yield env.timeout(t1 - env.now)
            more = load()
            self._wake_idle()
        self._next_feed = math.inf
        self._resync()
        if more:
            self.known_until = math.inf
            self._wake_idle()

    def set_horizon(self, t: float) -> None:
        """The SimPy run goes on until ``t`` (``env.run(until=t)``)."""
        self.horizon = t
        self._resync()

    def _resync(self) -> None:
        self.sync_t = min(self._next_sample, self._next_feed, self.horizon)

    def _wake_idle(self) -> None:
        for rep in self.replicas:
            if rep._idle is not None and not rep._idle.triggered:
                rep._idle.succeed()

    def route(self, r: Req) -> None:
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
                self.central.append(r)
            else:
                rep.enqueue(r)
            return
        rep, reason = self.router(r)
        if rep is None:
            self.reject(r, reason or R_NO_REPLICA)
        else:
            rep.enqueue(r)

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

    def _fit_anywhere(self, r: Req) -> int:
        reason = R_NO_REPLICA
        for p in self.pools:
            if p.live:
                reason = p.live[0].can_fit(r)
                if reason == 0:
                    return 0
        return reason

    def _free_replica(self, r: Req) -> Replica | None:
        best = None
        best_out = 0
        for rep in self.live:
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
        while q and rep.free_slots() > 0:
            r = q[0]
            if rep.can_fit(r):
                # this request cannot run here; leave it for another pool's replica
                break
            q.popleft()
            rep.enqueue(r)

    # ------------------------------------------------------------------ outcomes
    def _row(self, r: Req, status: int, t: float) -> tuple:
        fe = self.frontend_s   # times as the client sees them
        return (r.rid, r.arrival, r.sched, r.first_tok + fe if r.first_tok >= 0 else r.first_tok,
                t + fe if status == COMPLETED else -1.0,
                r.prompt, r.output, r.gen, r.preempt, r.retries, r.pool, r.replica, r.cls, status, r.reason)

    def complete(self, r: Req, t: float) -> None:
        k = 1 if r.retries else 0
        self.e2e_sum_s[k] += t + self.frontend_s - r.arrival
        self.e2e_n[k] += 1
        self.in_flight.pop(r.rid, None)
        self.log.append(self._row(r, COMPLETED, t))

    def reject(self, r: Req, reason: int) -> None:
        if reason == R_NO_REPLICA:
            self.no_replica_rejects += 1
        r.reason = reason
        self.in_flight.pop(r.rid, None)
        self.log.append(self._row(r, REJECTED, -1.0))

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

    # ------------------------------------------------------------------ time series
    def sampler(self, interval: float):
        env = self.env
        self._prev_busy = {p.index: 0.0 for p in self.pools}
        self._prev_prov = {p.index: 0.0 for p in self.pools}
        self._last_sample = 0.0
        while True:
            self._next_sample = env.now + interval
            self._resync()
            yield env.timeout(interval)
            self.sample(env.now, interval, self._prev_busy)
            self._last_sample = env.now

    def final_sample(self, t: float) -> None:
        """A last row at the end of the run (covering the partial interval since the last one)."""
        last = getattr(self, "_last_sample", 0.0)
        if t - last > 1e-9:
            self.sample(t, t - last, self._prev_busy)
            self._last_sample = t

    def sample(self, t: float, interval: float, prev_busy: dict) -> None:
        """One row per pool. ``replicas`` is the mean number provisioned over the interval (so
        ``sum(replicas * interval)`` is exactly the provisioned replica-seconds); ``busy_frac`` is
        busy / provisioned time over the interval; queue, running and KV are instantaneous."""
        central = len(self.central) if self.central is not None else 0
        prev_prov = self._prev_prov
        for p in self.pools:
            reps = [r for r in p.live if r.alive and r.ready]
            n = len(reps)
            queue = sum(r.arrived_waiting(t) for r in reps) if self.prerouted else sum(len(r.waiting) for r in reps)
            running = sum(len(r.active) for r in reps)
            kv = sum(r.kv_used_at(t) for r in reps)
            busy = p.busy_seconds(t)
            prov = p.provisioned_seconds(t)
            d_prov = prov - prev_prov[p.index]
            frac = (busy - prev_busy[p.index]) / d_prov if d_prov > 0 else 0.0
            prev_busy[p.index] = busy
            prev_prov[p.index] = prov
            kv_frac = kv / (n * p.kv_blocks) if n and p.kv_blocks else 0.0
            self.samples.append((t, p.index, d_prov / interval if interval > 0 else float(p.n_prov), queue, central,
                                 running, kv, kv_frac, min(max(frac, 0.0), 1.0)))
