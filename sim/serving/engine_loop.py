"""The SimPy process of a replica: form a batch, run it, book it; idle when there is nothing to run.

Part of :class:`~sim.serving.replica.Replica` (a base class holding no state of its own), on top of
the iteration bookkeeping (:mod:`sim.serving.iteration`), fast decode runs
(:mod:`sim.serving.decode_run`) and the lean loop (:mod:`sim.serving.lean`). It owns how the
process waits and is woken: :meth:`EngineLoop._sleep` until :meth:`EngineLoop._wake` (an arrival,
freed blocks, a drain) or a timeout, and the cut of a fast run that an event ends early.

Two engines share this code. ``reference`` advances one iteration per SimPy timeout. ``fast``
(the default) jumps over a run of decode iterations whose batch does not change, summing the
step times (one vectorised call), and stops at the next completion, KV-block exhaustion or
arrival; an arrival inside a run takes effect at the first iteration boundary at or after it,
exactly when the reference engine would see it (a pipelined replica's request then runs on the phase
of the micro-batch it joined: :meth:`~sim.serving.iteration.Iterations._lead`). Both produce the same records. With pre-routed
arrivals (see :class:`~sim.serving.fleet.Fleet`) a fast replica runs ahead of the SimPy clock up
to ``Fleet.sync_t`` without an event per step, through :meth:`~sim.serving.lean.LeanLoop._ahead` (the lean path for
FCFS admission without prefix caching, under every iteration rule but static batching) or the general path.
"""
from __future__ import annotations

import math

import simpy

from sim.serving.decode_run import FAIL, RUN
from sim.serving.lean import LeanLoop
from sim.serving.mid_cycle import taken_first
from sim.serving.request import R_KV
from sim.serving.clock import at, boundary_at, wake_at


class EngineLoop(LeanLoop):
    """The engine loop of a :class:`~sim.serving.replica.Replica` and its waits."""

    def _wake(self) -> None:
        """Something changed from outside (arrival, freed blocks, drain): let the engine look again."""
        if self._idle is not None and not self._idle.triggered:
            self._idle.succeed()
        elif self.run is not None and not self._cut:
            ends = self.run.ends
            if len(ends) >= 2 and ends[-2] >= self.env.now:
                # the run would otherwise go on past the next boundary: cut it there
                self._cut = True
                self.proc.interrupt()
            elif self.run.more:
                # the next boundary ends what is worked out of a lazy run: it stops there, uncut
                self._cut = True

    def _loop(self):
        try:
            yield from self._engine()
        except simpy.Interrupt as exc:
            if exc.cause != FAIL:  # pragma: no cover - only failures interrupt outside a fast run
                raise

    def _engine(self):
        """The replica's life as a SimPy process: form a batch, run it, book it; idle when empty."""
        env = self.env
        fleet = self.fleet
        while True:
            if not self.alive:
                return
            if self.draining and not self.active and not len(self.waiting) and not self.outgoing:
                fleet.release(self)
                return
            pending = self._ahead(fleet.sync_t) if self.lean else None
            if pending is None:
                if (yield from self._wait_for_work()):
                    continue
                if self.patient and self.expire(self.clock) and not self.active and not len(self.waiting):
                    continue    # every waiting request's client gave up: idle again
                lifted = None
                if self.slots > 1 and self.waiting.priority and len(self.waiting):
                    first = taken_first(self)   # taken inside the cycle: admitted first (sim.serving.mid_cycle)
                    if first:
                        lifted = self.waiting.lift(first)
                step = self.batching.schedule(self)
                if lifted is not None:
                    self.waiting.settle_lift(lifted)
                if self.patient and self.slots > 1:
                    self.expire_left(self.clock)
                if step is None:
                    if self.outgoing:
                        # blocks held by outgoing KV transfers: wait for one to finish
                        yield from self._sleep()
                        self.clock = max(self.clock, env.now)
                    else:
                        # nothing schedulable and nothing running: the head request can never be admitted
                        fleet.reject(self.waiting.pop(), R_KV)
                    continue
                shape, prefills, decode, k_fast = step
                run = self._plan_run(k_fast) if k_fast > 1 else None
                if run is None:
                    if shape.prefill_tokens == 0:
                        dt = self.decode_step(shape.decode_seqs, shape.decode_context_tokens)
                    else:
                        dt = self._step_time(shape)
                    tokens = shape.prefill_tokens + shape.decode_seqs
                    read = shape.decode_context_tokens + shape.prefill_kv_tokens - shape.prefill_tokens
            elif pending[0] is RUN:
                run = pending[1]       # the lean loop's step that reaches the next sync point
            else:
                run = None
                _, tokens, prefills, dt, decode, read = pending
            if run is not None:
                if self.pulls and run.ends[-1] < fleet.sync_t:
                    m = len(run.ends)   # runs ahead of the SimPy clock (see Fleet.sync_t)
                else:
                    m = yield from self._wait_run(run)
                self._end_run(run, m)
                continue
            start = self.clock
            end = start + dt
            if not (self.pulls and end < fleet.sync_t):
                if self.slots > 1:    # what a reader mid-cycle needs of it (sim.serving.mid_cycle)
                    self.run_info = (end, prefills, self.n_dec if decode else 0, self.ctx_sum)
                self.run_start = start
                yield boundary_at(env, end, self.index)
                self.run_start = -1.0
            self._busy(start, end)
            self._cycle_booked(start, prefills, self.n_dec if decode else 0, self.ctx_sum)
            self.clock = end
            self.tokens_processed += tokens
            self.iterations += 1
            self.micro_batches_run += min(self.mb_most, self.cyc_seqs)
            self.kv_read += read
            if self.token_mix is not None:
                self._mix_add(len(prefills), tokens)
            self._finish_iteration(start, end, dt, prefills, decode)

    def _sleep(self, until: float | None = None):
        """Wait (SimPy) until :meth:`_wake` (or the time ``until``)."""
        env = self.env
        self._idle = env.event()
        if until is None:
            yield self._idle
        else:
            yield self._idle | at(env, until)
        self._idle = None

    def _wait_for_work(self):
        """At an iteration boundary of the general path: take pre-routed arrivals, and wait while
        there is nothing to run. Returns True if it waited (the engine looks again), else False
        with the clock at the boundary."""
        env = self.env
        if self.pulls:
            inc = self.incoming
            if inc:
                t = self.clock if self.clock >= env.now else env.now
                if inc[0].queued_at <= t:
                    self._ingest(t)
            if not self.active and not len(self.waiting):
                na = self.next_arrival()
                if na == math.inf:
                    yield from self._sleep()
                    self.clock = max(self.clock, env.now)
                elif na < self.fleet.sync_t:
                    self.clock = max(na, self.clock)  # ahead of the SimPy clock (see Fleet.sync_t)
                else:
                    yield wake_at(env, na)     # after a time-series row at na (sim.serving.clock)
                    self.clock = max(na, env.now)
                return True
        batching = self.batching
        if not self.active and not batching.ready(self):
            if len(self.waiting) and batching.name == "static" and batching.timeout_s is not None:
                yield from self._sleep(batching.deadline(self))
            else:
                yield from self._sleep()
            self.clock = env.now
            return True
        self.clock = max(self.clock, env.now)
        return False
