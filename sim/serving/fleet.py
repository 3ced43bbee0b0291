"""The fleet: pools of replicas, the router in front of them, the arrival feed and the sampler.

One SimPy process feeds arrivals (no process per request), one per replica runs its engine, one
samples the time series. Everything the run needs (rng, recorder, warmup) hangs off the
:class:`Fleet`, never a global.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import simpy

from sim.metrics.records import GapLog, RequestLog
from sim.perf.base import StepTimeModel
from sim.scenario.catalog import GPUSpec, ModelSpec
from sim.scenario.schema import Pool, Scenario
from sim.serving.replica import Replica
from sim.serving.request import COMPLETED, IN_FLIGHT, R_NO_REPLICA, REJECTED, Req
from sim.serving.router import make_router


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
    replicas: list[Replica] = field(default_factory=list)
    intervals: list[tuple[float, float]] = field(default_factory=list)  # provisioned (start, end) per replica

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def gpus_per_replica(self) -> int:
        return self.cfg.tensor_parallel

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
        self.class_prio = class_prio
        self.rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
        self.log = RequestLog()
        self.gaps = GapLog()
        self.arrived = 0
        self.preemptions = 0
        self.in_flight: dict[int, Req] = {}
        self.replicas: list[Replica] = []
        for p in pools:
            for i in range(p.cfg.replicas):
                rep = Replica(env, self, p, len(self.replicas), i, fast)
                p.replicas.append(rep)
                p.intervals.append((0.0, -1.0))
                self.replicas.append(rep)
        self.policy = scenario.fleet.router.policy
        self.central: deque[Req] | None = deque() if self.policy == "central_queue" else None
        self.router = make_router(scenario.fleet.router, self)
        self.samples: list[tuple] = []
        self.end_time = 0.0

    # ------------------------------------------------------------------ arrivals and routing
    def feed(self, chunks: Iterator, horizon_s: float):
        """SimPy process: release every generated request at its arrival time."""
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

    def route(self, r: Req) -> None:
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

    def _fit_anywhere(self, r: Req) -> int:
        reason = R_NO_REPLICA
        for p in self.pools:
            if p.replicas:
                reason = p.replicas[0].can_fit(r)
                if reason == 0:
                    return 0
        return reason

    def _free_replica(self, r: Req) -> Replica | None:
        best = None
        best_out = 0
        for rep in self.replicas:
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
        return (r.rid, r.arrival, r.sched, r.first_tok, t if status == COMPLETED else -1.0,
                r.prompt, r.output, r.gen, r.preempt, r.retries, r.pool, r.replica, r.cls, status, r.reason)

    def complete(self, r: Req, t: float) -> None:
        self.in_flight.pop(r.rid, None)
        self.log.append(self._row(r, COMPLETED, t))

    def reject(self, r: Req, reason: int) -> None:
        r.reason = reason
        self.in_flight.pop(r.rid, None)
        self.log.append(self._row(r, REJECTED, -1.0))

    def itl_add(self, gap: float, count: int) -> None:
        self.gaps.add(gap, count)

    def itl_add_array(self, gaps: np.ndarray, count: int) -> None:
        self.gaps.add_array(gaps, count)

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
        self._last_sample = 0.0
        while True:
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
        central = len(self.central) if self.central is not None else 0
        for p in self.pools:
            reps = [r for r in p.replicas if r.alive]
            n = len(reps)
            queue = sum(len(r.waiting) for r in reps)
            running = sum(len(r.active) for r in reps)
            kv = sum(r.kv_used_at(t) for r in reps)
            busy = sum(r.busy_at(t) for r in p.replicas)
            frac = (busy - prev_busy[p.index]) / (n * interval) if n else 0.0
            prev_busy[p.index] = busy
            kv_frac = kv / (n * p.kv_blocks) if n and p.kv_blocks else 0.0
            self.samples.append((t, p.index, n, queue, central, running, kv, kv_frac, min(max(frac, 0.0), 1.0)))
