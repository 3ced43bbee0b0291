"""One model replica (``tensor_parallel`` GPUs) running an iteration-level batching engine.

The scheduler follows vLLM (V0 semantics):

* waiting requests are admitted FCFS (``priority``: by class priority, then FCFS) while the
  batch stays within ``max_num_seqs`` sequences, ``max_batched_tokens`` tokens and free KV-cache
  blocks (a whole prompt's blocks are allocated on admission, keeping a 1 % watermark free);
  admission stops at the first request that does not fit (head-of-line);
* without chunked prefill an iteration that admits prefills runs prefills only (decodes stall);
  with ``chunked_prefill`` an iteration first takes every running decode (one token each), then
  continues partial prefills, then admits new prefills, all within the token budget;
* a prefill's last chunk emits the request's first (or next, after recompute) token;
* when a decode needs a KV block and none is free, the newest running sequence (``priority``: the
  newest of the lowest class) is preempted, its blocks freed, and it is recomputed later from the
  front of the queue (prompt plus tokens generated so far);
* ``static`` batching waits for ``batch_size`` requests (or until the oldest has been queued here
  for ``timeout_s``), reserves their full KV cache, runs one prefill iteration and decodes until
  the last one finishes (transferred requests of a decode pool skip the prefill).

Two engines share this code. ``reference`` advances one iteration per SimPy timeout. ``fast``
(the default) jumps over a run of decode iterations whose batch does not change, summing the
step times (one vectorised call), and stops at the next completion, KV-block exhaustion or
arrival; an arrival inside a run takes effect at the first iteration boundary at or after it,
exactly when the reference engine would see it. Both produce the same records. With pre-routed
arrivals (see :class:`~sim.serving.fleet.Fleet`) a fast replica runs ahead of the SimPy clock up
to ``Fleet.sync_t`` without an event per step, through :meth:`Replica._ahead` (the lean path for
FCFS continuous batching without chunked prefill or prefix caching) or the general path.

Lifecycle (driven by the fleet, the autoscaler and the failure process): a replica is *warming*
(provisioned, not routable) until ready, then *serving*; *draining* stops routing to it and it is
released once it holds nothing; a *failure* kills it at that instant (the iteration in progress is
lost; iterations of a fast run that ended before the failure count, as in the reference engine),
evicts everything it holds back to the fleet, and the replica serves again after its repair.

Roles (prefill/decode disaggregation): a ``prefill`` replica hands a request off after the prefill
that emits its first token, keeping the prompt's KV blocks until the transfer to a decode replica
ends; a ``decode`` replica admits transferred requests (``kv_ready``) straight into the decode batch
once their KV blocks fit (head of line, no prefill iteration).
"""
from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections import deque
from typing import TYPE_CHECKING

import numpy as np
import simpy

from sim.perf.base import BatchShape, StepTimeModel, decode_run_fn, decode_step_fn
from sim.serving.request import R_BUDGET, R_CONTEXT, R_KV, Req

if TYPE_CHECKING:
    from sim.serving.fleet import Fleet, PoolRuntime

_MAX_RUN = 2048  # iterations per fast run (bounds array sizes; a longer run just continues)
_SHORT_RUN = 24  # runs of up to this many iterations (or cut short by an arrival within about as many) are summed in plain Python (numpy's per-call cost is higher)
_STEP_CACHE = 4096  # distinct batch shapes whose step time a replica remembers
FAIL = "failure"  # interrupt cause: the replica failed (its process ends)
_RUN, _STEP = "run", "step"  # kinds of step the lean path hands back (Replica._ahead)
LEAN = True  # pre-routed FCFS replicas take the lean path (tests turn it off to compare)


class Waiting:
    """The replica's queue: FCFS deque, or (priority policy) a heap on (-priority, order)."""

    __slots__ = ("priority", "_dq", "_heap", "_front", "_back")

    def __init__(self, priority: bool) -> None:
        self.priority = priority
        self._dq: deque[Req] = deque()
        self._heap: list = []
        self._front = 0
        self._back = 0

    def __len__(self) -> int:
        return len(self._heap) if self.priority else len(self._dq)

    def push(self, r: Req) -> None:
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


class Replica:
    """State and SimPy process of one replica. Created and driven by :class:`~sim.serving.fleet.Fleet`."""

    def __init__(self, env: simpy.Environment, fleet: "Fleet", pool: "PoolRuntime", index: int,
                 local_index: int, fast: bool, role: str = "both", ready: bool = True) -> None:
        self.env = env
        self.fleet = fleet
        self.pool = pool
        self.index = index            # fleet-wide replica id
        self.local_index = local_index
        self.fast = fast
        self.role = role                      # "both", or "prefill"/"decode" under disaggregation
        b = pool.cfg.batching
        self.policy = b.policy
        self.max_seqs = b.max_num_seqs
        self.budget = b.max_batched_tokens
        self.split = b.chunked_prefill        # prompts split to the token budget
        self.mixed = b.mixed_batches          # prompts share iterations with running decodes
        self.chunked = self.split or self.mixed  # the general (chunked / mixed) scheduling path
        # reserve each request's whole sequence on admission (TensorRT-LLM's GUARANTEED_NO_EVICT)
        self.full = b.kv_reservation == "full" and b.policy != "static" and role == "both"
        self.committed = 0                    # full reservation: final KV blocks of the admitted requests
        self.bs = b.block_size
        self.static_size = b.batch_size or 0
        self.prefix_caching = b.prefix_caching and role == "both" and b.policy != "static"
        self.cached_prefix: dict[int, int] = {}   # class -> KV blocks of its shared prefix held in the cache
        self.pinned = 0                           # blocks held by cached prefixes (part of ``used``)
        self.static_timeout = b.timeout_s
        self.total_blocks = pool.kv_blocks
        self.watermark = int(0.01 * self.total_blocks)
        self._fit_prompt, self._fit_total = self._fit_limits()
        self.model: StepTimeModel = pool.step_model
        self.decode_step = decode_step_fn(pool.step_model)
        self.decode_run = decode_run_fn(pool.step_model)
        self._step_cache: dict[BatchShape, float] = {}
        self._pf_cache: dict[tuple, float] = {}  # lean path: prefill-only iteration time by prompt lengths
        self.waiting = Waiting(self.policy == "priority")
        self.active: dict[int, Req] = {}      # admitted (prefilling or decoding), in admission order
        self.prefilling: dict[int, Req] = {}  # chunked: partially prefilled, in admission order
        self.n_dec = 0
        self.ctx_sum = 0
        self.dc = 0
        self.res = [0] * self.bs              # decoders by (join_dc - join_len) % bs
        self.heap: list = []                  # (finish_dc, order, epoch, req)
        self.used = 0                         # KV blocks in use
        self.order = 0
        self.last_tok_groups: dict[float, int] = {}  # measured decoders by the time of their last token
        self.n_meas = 0                       # decoders that arrived after warmup (their gaps count as ITL)
        self.clock = 0.0
        self.busy_acc = 0.0
        self.run_start = -1.0                 # >= 0 while an iteration or run is in progress
        self.run: tuple | None = None         # (start_clock, ends, steps, rot, per) of a fast run in progress
        self._cut = False                     # the fast run was cut short by an event (ends at the next boundary)
        self.last_dec_end = -1.0              # end of the last decode iteration
        self.accepting = ready                # routable: ready, not draining, not failed
        self.alive = True                     # the engine process runs (False while failed or once released)
        self.ready = ready                    # provisioning finished
        self.draining = False
        self.released = False
        self.prov_start_s = env.now
        self.prov_end_s = -1.0
        self.up_since = env.now if ready else -1.0  # start of the current serving (up) period
        self.up_s = 0.0                       # closed up periods (ready and not failed)
        self.down_s = 0.0                     # closed failed periods
        self.down_since = -1.0
        self.failures = 0
        self.xfer_blocks = 0                  # prefill role: KV blocks held by outgoing transfers
        self.outgoing: dict[int, Req] = {}
        self.tokens_processed = 0             # prefill + decode tokens (for MFU)
        self.pulls = False                    # arrivals pre-routed here: the engine takes them itself
        self.incoming: deque[Req] = deque()   # pre-routed requests not yet arrived (arrival order)
        self.lean = False                     # takes the lean path (set with ``pulls``, see _ahead)
        self._idle: simpy.Event | None = None
        self.proc = env.process(self._loop())

    # ------------------------------------------------------------------ what the router sees
    @property
    def outstanding(self) -> int:
        return len(self.waiting) + len(self.active)

    def free_slots(self) -> int:
        return self.max_seqs - len(self.waiting) - len(self.active)

    def _fit_limits(self) -> tuple[int, int]:
        """``(prompt, prompt + output)`` limits under which a request surely fits (see can_fit)."""
        ctx = self.pool.max_context
        prompt = ctx
        if not self.split and self.policy != "static" and self.role != "decode":
            prompt = min(prompt, self.budget)
        if self.role == "prefill":
            return prompt, -1   # no shortcut: the prefill role counts the prompt's blocks only
        # the whole output fits the context, so need = ceil((prompt + output - 1) / bs) <= cap
        return prompt, min(ctx, (self.total_blocks - self.watermark) * self.bs + 1)

    def can_fit(self, r: Req) -> int:
        """0 if ``r`` can ever be served here, else a rejection reason code."""
        p = r.prompt
        if p <= self._fit_prompt and p + r.output <= self._fit_total and r.output > 0:
            return 0  # the common case without the general arithmetic (~0.2 us of ~0.4 per request)
        return self._why_not(r)

    def _why_not(self, r: Req) -> int:
        """:meth:`can_fit` worked out in full."""
        if r.prompt > self.pool.max_context:  # as vLLM: a prompt of exactly the context length is served
            return R_CONTEXT
        if not self.split and self.policy != "static" and r.prompt > self.budget and self.role != "decode":
            return R_BUDGET
        out = max(1, min(r.output, self.pool.max_context - r.prompt))
        need = -(-(r.prompt + out - 1) // self.bs) if self.role != "prefill" else -(-r.prompt // self.bs)
        if need > self.total_blocks - self.watermark:
            return R_KV
        return 0

    def enqueue(self, r: Req) -> None:
        """A routed request joins this replica's queue (visible at the next iteration boundary)."""
        r.replica = self.index
        r.pool = self.pool.index
        r.queued_at = self.env.now
        if r.prompt + r.output > self.pool.max_context:
            r.output = max(1, self.pool.max_context - r.prompt)  # generation stops at the context limit
        self.waiting.push(r)
        self._wake()

    # ------------------------------------------------------------------ pre-routed arrivals
    def assign(self, r: Req) -> None:
        """A request routed here ahead of time (state-independent routing): it joins the queue
        at its arrival time, taken by the engine at the first iteration boundary at or after it."""
        r.replica = self.index
        r.pool = self.pool.index
        r.queued_at = r.arrival
        if r.prompt + r.output > self.pool.max_context:
            r.output = max(1, self.pool.max_context - r.prompt)
        self.incoming.append(r)

    def next_arrival(self) -> float:
        """When the next pre-routed request arrives (or the feed's look-ahead horizon)."""
        return self.incoming[0].arrival if self.incoming else self.fleet.known_until

    def _ingest(self, t: float) -> None:
        inc = self.incoming
        while inc and inc[0].arrival <= t:
            self.waiting.push(inc.popleft())

    def arrived_waiting(self, t: float) -> int:
        """Queued requests at ``t``, including pre-routed ones that arrived by then."""
        c = len(self.waiting)
        for r in self.incoming:
            if r.arrival > t:
                break
            c += 1
        return c

    def _wake(self) -> None:
        """Something changed from outside (arrival, freed blocks, drain): let the engine look again."""
        if self._idle is not None and not self._idle.triggered:
            self._idle.succeed()
        elif self.run is not None and not self._cut:
            ends = self.run[1]
            if len(ends) >= 2 and ends[-2] >= self.env.now:
                # the run would otherwise go on past the next boundary: cut it there
                self._cut = True
                self.proc.interrupt()

    # ------------------------------------------------------------------ state at an instant
    def kv_used_at(self, t: float) -> int:
        run = self.run
        if run is None:
            return self.used
        j = bisect_right(run[1], t)  # iterations finished by t
        return self.used + self._run_needs(run, j)

    def _block_needs(self) -> tuple[list[int], int]:
        """New KV blocks the coming decode iterations allocate: they repeat with period ``block_size``;
        ``rot[i]`` is iteration ``i``'s (decoders whose context crosses a block boundary then) and
        ``per`` one period's, which is every decoder once."""
        if self.policy == "static":
            return [], 0
        i = self.dc % self.bs
        res = self.res
        return res[i:] + res[:i], self.n_dec

    def _run_needs(self, run: tuple, m: int) -> int:
        """New KV blocks the first ``m`` iterations of ``run`` allocate (period ``block_size``)."""
        rot, per = run[3], run[4]
        if not per or m <= 0:
            return 0
        q, r = divmod(m, len(rot))
        return q * per + sum(rot[:r])

    def busy_at(self, t: float) -> float:
        if self.run_start >= 0 and t > self.run_start:
            return self.busy_acc + (t - self.run_start)
        return self.busy_acc

    # ------------------------------------------------------------------ the engine loop
    def _loop(self):
        try:
            yield from self._engine()
        except simpy.Interrupt as exc:
            if exc.cause != FAIL:  # pragma: no cover - only failures interrupt outside a fast run
                raise

    def _engine(self):
        env = self.env
        fleet = self.fleet
        while True:
            if not self.alive:
                return
            if self.draining and not self.active and not len(self.waiting) and not self.outgoing:
                self.fleet.release(self)
                return
            pending = self._ahead(fleet.sync_t) if self.lean else None
            if pending is None:
                if self.pulls:
                    inc = self.incoming
                    if inc:
                        t = self.clock if self.clock >= env.now else env.now
                        if inc[0].arrival <= t:
                            self._ingest(t)
                    if not self.active and not len(self.waiting):
                        na = self.next_arrival()
                        if na == math.inf:
                            self._idle = env.event()
                            yield self._idle
                            self._idle = None
                            self.clock = max(self.clock, env.now)
                        elif na < fleet.sync_t:
                            self.clock = max(na, self.clock)  # ahead of the SimPy clock (see Fleet.sync_t)
                        else:
                            yield env.timeout(max(na - env.now, 0.0))
                            self.clock = max(na, env.now)
                        continue
                if not self.active and not self._static_ready():
                    if len(self.waiting) and self.policy == "static" and self.static_timeout is not None:
                        first = self._static_deadline()
                        self._idle = env.event()
                        wait = max(first - env.now, 0.0)
                        yield self._idle | env.timeout(wait)
                    else:
                        self._idle = env.event()
                        yield self._idle
                    self._idle = None
                    self.clock = env.now
                    continue
                self.clock = max(self.clock, env.now)
                step = self._schedule()
                if step is None and self.outgoing:
                    # blocks held by outgoing KV transfers: wait for one to finish
                    self._idle = env.event()
                    yield self._idle
                    self._idle = None
                    self.clock = max(self.clock, env.now)
                    continue
                if step is None:
                    # nothing schedulable and nothing running: the head request can never be admitted
                    r = self.waiting.pop()
                    self.fleet.reject(r, R_KV)
                    continue
                shape, prefills, decode, k_fast = step
                run = self._plan_run(k_fast) if k_fast > 1 else None
                if run is None:
                    if shape.prefill_tokens == 0:
                        dt = self.decode_step(shape.decode_seqs, shape.decode_context_tokens)
                    else:
                        dt = self._step_time(shape)
                    tokens = shape.prefill_tokens + shape.decode_seqs
            elif pending[0] is _RUN:
                run = pending[1]       # the lean path's step that reaches the next sync point
            else:
                run = None
                _, tokens, prefills, dt = pending
                decode = False
            if run is not None:
                if self.pulls and run[1][-1] < fleet.sync_t:
                    m = len(run[1])   # runs ahead of the SimPy clock (see Fleet.sync_t)
                else:
                    m = yield from self._wait_run(run)
                self._end_run(run, m)
                continue
            start = self.clock
            end = start + dt
            if not (self.pulls and end < fleet.sync_t):
                self.run_start = start
                yield env.timeout(end - env.now)
                self.run_start = -1.0
            self.busy_acc += dt
            self.clock = end
            self.tokens_processed += tokens
            self._finish_iteration(end, dt, prefills, decode)

    def _step_time(self, shape: BatchShape) -> float:
        dt = self._step_cache.get(shape)
        if dt is None:
            dt = self.model.step_time(shape)
            if len(self._step_cache) < _STEP_CACHE:
                self._step_cache[shape] = dt
        return dt

    def _ahead(self, limit: float):
        """The fast engine's lean path, for pre-routed replicas with FCFS continuous batching, no
        chunked prefill and no prefix caching (the common case, and the reference workload's).

        Runs whole iterations and decode runs that end before ``limit`` (``Fleet.sync_t``) in one
        plain loop, with the same float operations and bookkeeping as the general path
        (:meth:`_schedule`, :meth:`_finish_iteration`, :meth:`_plan_run`, :meth:`_end_run`); a
        single decode iteration is a run of one. Returns ``None`` at an iteration boundary where
        the general path takes over (idle until past ``limit``, a preemption, a request that can
        never be admitted), or the started step that reaches ``limit``: ``(_RUN, run)`` or
        ``(_STEP, tokens, prefills, dt)`` for a prefill iteration whose requests are admitted.
        """
        inc = self.incoming
        dq = self.waiting._dq
        active = self.active
        heap = self.heap
        res = self.res
        fleet = self.fleet
        bs = self.bs
        total = self.total_blocks
        cap = total - self.watermark
        max_seqs = self.max_seqs
        budget0 = self.budget
        pf_cache = self._pf_cache
        dt_last = 0.0      # the last decode step's time (an estimate of the next ones)
        itl_run = fleet.itl_add_run
        if self.clock < self.env.now:
            self.clock = self.env.now
        while True:
            clock = self.clock
            while inc and inc[0].arrival <= clock:
                dq.append(inc.popleft())
            if not active and not dq:
                na = inc[0].arrival if inc else fleet.known_until
                if not na < limit:
                    return None
                if na > clock:
                    self.clock = na
                continue
            # admission (as _schedule without chunked prefill)
            n_act = len(active)
            if dq and n_act < max_seqs:
                prefills = []
                needs = []
                budget = budget0
                while dq and n_act < max_seqs:
                    r = dq[0]
                    need = r.target
                    if need > budget and (prefills or need <= budget0):
                        break
                    blocks = -(-need // bs)
                    if self.used + blocks > cap:
                        break
                    self._admit(blocks)
                    prefills.append((r, need))
                    needs.append(need)
                    budget -= need
                    n_act += 1
                if prefills:
                    # a prefill-only iteration; its time depends only on the prompt lengths
                    key = tuple(needs)
                    dt = pf_cache.get(key)
                    if dt is None:
                        dt = self._step_time(self._prefill_shape(prefills, 0))
                        if len(pf_cache) < _STEP_CACHE:
                            pf_cache[key] = dt
                    end = clock + dt
                    if not end < limit:
                        return _STEP, sum(needs), prefills, dt
                    self.busy_acc += dt
                    self.clock = end
                    self.tokens_processed += sum(needs)
                    # as _finish_iteration for whole prefills
                    for r, _ in prefills:
                        r.pf_done = r.target
                        if self._emit_first(r, end):
                            self._finish_prefilled(r, end)
                        else:
                            self._join_decode(r, end)
                    continue
            n = self.n_dec
            dc = self.dc
            if n == 0 or res[dc % bs] > total - self.used:
                return None  # nothing to run (a request that never fits), or a preemption
            # how many identical iterations (as _fast_k)
            while heap:
                e = heap[0]
                r = e[3]
                if e[2] != r.epoch or not r.decoding or r.rid not in active:
                    heapq.heappop(heap)
                    continue
                break
            k = heap[0][0] - dc if heap else _MAX_RUN
            if k > _MAX_RUN:
                k = _MAX_RUN
            if k > 1 and total - self.used < (k // bs + 1) * n:
                k = self._fast_k()  # KV blocks may run out within the run
            na = inc[0].arrival if inc else fleet.known_until
            if k > _SHORT_RUN and na - clock > _SHORT_RUN * dt_last:
                # a long run not cut short soon by an arrival: vectorised (numpy's per-call cost
                # pays off); one an arrival cuts within ~_SHORT_RUN steps stays in the loop below
                run = self._plan_run(k)
                if not run[1][-1] < limit:
                    return _RUN, run
                self._end_run(run, len(run[1]))
                continue
            # a short run, planned and booked inline (as _plan_run, _apply_run and _end_run)
            steps, ends = self.decode_run(n, self.ctx_sum + n, k, clock, na)
            m = len(ends)
            dt_last = steps[-1]
            end = ends[-1]
            i = dc % bs
            if not end < limit:
                return _RUN, (clock, ends, steps, res[i:] + res[:i], n)
            n_meas = self.n_meas
            itl_run(self.last_tok_groups, ends[0], steps[1:], n_meas)
            self.last_tok_groups = {end: n_meas} if n_meas else {}
            self.last_dec_end = end
            self.tokens_processed += n * m
            q, rr = divmod(m, bs)
            # new blocks (as _run_needs): the first rr entries of res rotated to start at i, summed
            # in place instead of from a rotated copy (~10 ms per 100,000 requests)
            j = i + rr
            self.used += q * n + (sum(res[i:j]) if j <= bs else sum(res[i:]) + sum(res[:j - bs]))
            dc += m
            self.dc = dc
            self.ctx_sum += n * m
            self.busy_acc += end - clock
            self.clock = end
            if heap and heap[0][0] <= dc:
                done = []
                while heap and heap[0][0] <= dc:
                    _, _, epoch, r = heapq.heappop(heap)
                    if epoch != r.epoch or not r.decoding or r.rid not in active:
                        continue
                    done.append(r)
                for r in done:
                    self._leave_decode(r)
                    del active[r.rid]
                    fleet.complete(r, end)

    # ------------------------------------------------------------------ scheduling one iteration
    def _static_ready(self) -> bool:
        if self.policy != "static":
            return len(self.waiting) > 0
        if not len(self.waiting):
            return False
        if len(self.waiting) >= self.static_size or self.draining:
            return True
        if self.static_timeout is None:
            return False
        return self.env.now >= self._static_deadline()

    def _static_deadline(self) -> float:
        return self.waiting.peek().queued_at + (self.static_timeout or 0.0)

    def _blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.bs)

    def _prefix_hit(self, r: Req) -> int:
        """Prompt tokens of ``r`` already in this replica's prefix cache (whole blocks, never the
        last token: vLLM always computes at least one token)."""
        if not self.prefix_caching:
            return 0
        pb = self.cached_prefix.get(r.cls, 0)
        if not pb:
            return 0
        return min(pb, (r.target - 1) // self.bs) * self.bs

    def _cache_prefix(self, r: Req) -> None:
        """After ``r``'s prefill: its class's shared prefix stays cached (blocks move to the cache)."""
        prefix = self.fleet.class_prefix[r.cls] if r.cls < len(self.fleet.class_prefix) else 0
        if not prefix or r.cls in self.cached_prefix or r.pb:
            return
        pb = min(prefix, r.target - 1) // self.bs
        if pb <= 0:
            return
        self.cached_prefix[r.cls] = pb
        self.pinned += pb
        r.blocks -= pb          # the request now reads them from the cache
        r.pb = pb

    def _admit(self, blocks: int, hit: int = 0) -> Req:
        """Take the head of the queue into the batch, holding ``blocks`` KV blocks of its own and
        reading ``hit`` prompt tokens (whole blocks) from the prefix cache."""
        r = self.waiting.pop()
        self.order += 1
        r.order = self.order
        r.pf_done = hit
        r.pb = hit // self.bs
        r.decoding = False
        r.blocks = blocks
        self.used += blocks
        self.active[r.rid] = r
        if r.sched < 0:
            r.sched = self.clock
        return r

    def _full_blocks(self, r: Req, hit: int) -> int:
        """KV blocks ``r`` will own at its last token (whole-sequence reservation)."""
        return self._blocks_for(r.target + r.output - r.gen - 1) - hit // self.bs

    def _schedule(self):
        """Pick the next iteration's batch. Returns (shape, prefills, decode?, fast_k) or None."""
        if self.policy == "static":
            return self._schedule_static()
        if self.role == "decode":
            self._admit_transferred()
        prefills: list[tuple[Req, int]] = []
        if not self.chunked:
            budget = self.budget
            n_seqs = len(self.active)
            w = self.waiting
            while (w._heap if w.priority else w._dq) and n_seqs < self.max_seqs:
                r = self.waiting.peek()
                hit = self._prefix_hit(r)
                need = r.target - hit
                if need > budget and (prefills or need <= self.budget):
                    break  # over the token budget (an over-long recompute runs alone)
                blocks = self._blocks_for(r.target) - hit // self.bs
                if self.used + blocks > self.total_blocks - self.watermark:
                    break
                final = self._full_blocks(r, hit) if self.full else 0
                if final and self.committed + self.pinned + final > self.total_blocks - self.watermark:
                    break
                self._admit(blocks, hit)
                r.rsv = final
                self.committed += final
                prefills.append((r, need))
                budget -= need
                n_seqs += 1
            if prefills:
                return self._prefill_shape(prefills, 0), prefills, False, 0
            if self.n_dec == 0:
                return None
            self._make_room()
            if self.n_dec == 0:
                return self._schedule()
            k = self._fast_k() if self.fast else 0
            return (self._decode_shape() if k <= 1 else None), prefills, True, k
        # chunked / mixed: decodes first (mixed), then partial prefills, then new ones
        reserved = 0
        if self.n_dec:
            self._make_room()
            reserved = self._needs_now()
        mixed = self.mixed
        budget = self.budget - self.n_dec if mixed else self.budget
        n_seqs = len(self.active)
        for r in list(self.prefilling.values()):
            if budget <= 0:
                break
            chunk = min(r.target - r.pf_done, budget)
            prefills.append((r, chunk))
            budget -= chunk
        cap = self.total_blocks - self.watermark
        while budget > 0 and len(self.waiting) and n_seqs < self.max_seqs:
            r = self.waiting.peek()
            hit = self._prefix_hit(r)
            need = r.target - hit
            if not self.split and need > budget and (prefills or need <= self.budget or (mixed and self.n_dec)):
                break  # a whole prompt waits for room in the budget (an over-long recompute runs alone)
            blocks = self._blocks_for(r.target) - hit // self.bs
            if self.used + reserved + blocks > cap:
                break
            final = self._full_blocks(r, hit) if self.full else 0
            if final and self.committed + self.pinned + final > cap:
                break  # the whole sequence's blocks must stay available
            self._admit(blocks, hit)
            r.rsv = final
            self.committed += final
            self.prefilling[r.rid] = r
            chunk = min(need, budget) if self.split else need
            prefills.append((r, chunk))
            budget -= chunk
            n_seqs += 1
        if not prefills and self.n_dec == 0:
            return None
        if not prefills:
            k = self._fast_k() if self.fast else 0
            return (self._decode_shape() if k <= 1 else None), prefills, True, k
        if not mixed:
            return self._prefill_shape(prefills, 0), prefills, False, 0
        return self._prefill_shape(prefills, self.n_dec), prefills, self.n_dec > 0, 0

    def _admit_transferred(self) -> None:
        """Decode role: transferred requests at the head of the queue join the decode batch directly."""
        n_seqs = len(self.active)
        while len(self.waiting) and n_seqs < self.max_seqs:
            r = self.waiting.peek()
            if not r.kv_ready:
                break
            blocks = self._blocks_for(r.target)
            if self.used + blocks > self.total_blocks - self.watermark:
                break
            self._admit(blocks)
            r.kv_ready = False
            self._join_decode(r, r.last_tok)
            n_seqs += 1

    def _schedule_static(self):
        if self.n_dec == 0 and not self.prefilling and not self.active:
            prefills = []
            n = 0
            while len(self.waiting) and n < self.static_size:
                r = self.waiting.peek()
                # the whole final context: a prefill emits a token without adding context, a
                # transferred request (kv_ready) already holds ``target`` tokens and has emitted ``gen``
                final = r.target + r.output - r.gen - (0 if r.kv_ready else 1)
                blocks = self._blocks_for(final)
                if self.used + blocks > self.total_blocks:
                    break
                self._admit(blocks)
                n += 1
                if r.kv_ready:
                    r.kv_ready = False
                    self._join_decode(r, r.last_tok)
                else:
                    prefills.append((r, r.target))
            if not n:
                return None
            if prefills:
                return self._prefill_shape(prefills, 0), prefills, False, 0
        k = self._fast_k() if self.fast else 0
        return self._decode_shape(), [], True, k

    def _prefill_shape(self, prefills: list[tuple[Req, int]], n_dec: int) -> BatchShape:
        tokens = 0
        pairs = 0.0
        kv = 0
        for r, chunk in prefills:
            prior = r.pf_done
            tokens += chunk
            pairs += chunk * (prior + (chunk + 1) / 2)
            kv += prior + chunk
        return BatchShape(prefill_tokens=tokens, prefill_seqs=len(prefills), prefill_attn_pairs=pairs,
                          prefill_kv_tokens=kv, decode_seqs=n_dec,
                          decode_context_tokens=(self.ctx_sum + n_dec) if n_dec else 0)

    def _decode_shape(self) -> BatchShape:
        return BatchShape(decode_seqs=self.n_dec, decode_context_tokens=self.ctx_sum + self.n_dec)

    def _needs_now(self) -> int:
        return self.res[self.dc % self.bs] if self.policy != "static" else 0

    def _make_room(self) -> None:
        """Preempt the newest sequences until this iteration's decode blocks fit."""
        while self.n_dec and self._needs_now() > self.total_blocks - self.used:
            self._preempt(self._victim())

    def _victim(self) -> Req:
        if self.policy == "priority":
            low = min(r.prio for r in self.active.values())
            for r in reversed(self.active.values()):
                if r.prio == low:
                    return r
        return next(reversed(self.active.values()))

    def _drop_kv(self, r: Req) -> None:
        """``r`` loses its KV cache here: out of the decode batch, or its prefill blocks freed."""
        if r.decoding:
            self._leave_decode(r)
        else:
            self.committed -= r.rsv
            r.rsv = 0
            self.prefilling.pop(r.rid, None)
            self.used -= r.blocks
            r.blocks = 0
            r.pb = 0

    def _preempt(self, r: Req) -> None:
        del self.active[r.rid]
        self._drop_kv(r)
        r.preempt += 1
        r.epoch += 1
        r.kv_ready = False
        r.target = r.prompt + r.gen
        r.pf_done = 0
        self.fleet.preemptions += 1
        self.waiting.push_front(r)

    def _leave_decode(self, r: Req) -> None:
        """Take a decoder out of the batch; its emitted tokens and last-token time become explicit."""
        # (attributes read once into locals here and in _join_decode: ~10 ms per 100,000 requests)
        ran = self.dc - r.join_dc
        ctx = r.join_len + ran
        r.gen += ran
        if ran > 0:
            r.last_tok = self.last_dec_end
        self.n_dec -= 1
        self.ctx_sum -= ctx
        bs = self.bs
        self.res[(r.join_dc - r.join_len) % bs] -= 1
        self.committed -= r.rsv
        r.rsv = 0
        self.used -= (-(-ctx // bs) - r.pb) if self.policy != "static" else r.blocks
        r.blocks = 0
        r.pb = 0
        r.decoding = False
        if r.arrival >= self.fleet.warmup:
            self.n_meas -= 1
            g = self.last_tok_groups
            c = g.get(r.last_tok, 0) - 1
            if c > 0:
                g[r.last_tok] = c
            else:
                g.pop(r.last_tok, None)

    def _join_decode(self, r: Req, t: float) -> None:
        r.decoding = True
        target = r.target
        dc = self.dc
        r.join_len = target
        r.join_dc = dc
        self.n_dec += 1
        self.ctx_sum += target
        bs = self.bs
        self.res[(dc - target) % bs] += 1
        if self.policy != "static":
            # decoders' blocks are implied by their context length
            self.used += -(-target // bs) - r.pb - r.blocks
        heapq.heappush(self.heap, (dc + (r.output - r.gen), r.order, r.epoch, r))
        if r.arrival >= self.fleet.warmup:
            self.n_meas += 1
            g = self.last_tok_groups
            g[t] = g.get(t, 0) + 1

    # ------------------------------------------------------------------ applying an iteration
    def _finish_iteration(self, end: float, dt: float, prefills: list, decode: bool) -> None:
        fleet = self.fleet
        done: list[Req] = []
        if decode:
            needs = self._needs_now()
            if self.policy != "static":
                self.used += needs
            n = self.n_dec
            for t0, c in self.last_tok_groups.items():
                fleet.itl_add(end - t0, c)
            self.last_tok_groups = {end: self.n_meas} if self.n_meas else {}
            self.last_dec_end = end
            self.dc += 1
            self.ctx_sum += n
            heap = self.heap
            while heap and heap[0][0] <= self.dc:
                _, _, epoch, r = heapq.heappop(heap)
                if epoch != r.epoch or not r.decoding or r.rid not in self.active:
                    continue
                done.append(r)
        for r, chunk in prefills:
            r.pf_done += chunk
            if r.pf_done < r.target:
                continue
            self.prefilling.pop(r.rid, None)
            if self.prefix_caching:
                self._cache_prefix(r)
            if self._emit_first(r, end):
                self._finish_prefilled(r, end)
            elif self.role == "prefill":
                del self.active[r.rid]
                self.xfer_blocks += r.blocks
                self.outgoing[r.rid] = r
                fleet.hand_off(r, self, end)
            else:
                self._join_decode(r, end)
        for r in done:
            self._leave_decode(r)
            del self.active[r.rid]
            fleet.complete(r, end)
        if fleet.central is not None:
            fleet.pull(self)

    def _emit_first(self, r: Req, end: float) -> bool:
        """``r``'s prefill ended at ``end`` and emitted its next token; True if that was its last."""
        if r.gen > 0 and r.last_tok >= 0 and r.arrival >= self.fleet.warmup:
            self.fleet.itl_add(end - r.last_tok, 1)  # the stall a preempted request saw
        r.gen += 1
        if r.first_tok < 0:
            r.first_tok = end
        r.last_tok = end
        return r.gen >= r.output

    def _finish_prefilled(self, r: Req, end: float) -> None:
        """``r`` completes at the end of its prefill: its blocks are freed."""
        del self.active[r.rid]
        self.used -= r.blocks
        r.blocks = 0
        self.committed -= r.rsv
        r.rsv = 0
        self.fleet.complete(r, end)

    def _fast_k(self) -> int:
        """How many identical-batch decode iterations can run before anything changes (>= 1)."""
        if self.n_dec == 0:
            return 0
        heap = self.heap
        while heap:
            f, _, epoch, r = heap[0]
            if epoch != r.epoch or not r.decoding or r.rid not in self.active:
                heapq.heappop(heap)
                continue
            break
        k = heap[0][0] - self.dc if heap else _MAX_RUN
        k = min(k, _MAX_RUN)
        if k <= 1:
            return k
        if self.policy != "static":
            # new blocks needed per iteration repeat with period block_size: find the first
            # iteration whose cumulative need exceeds the free blocks (it would preempt)
            free = self.total_blocks - self.used
            bs = self.bs
            per = self.n_dec
            if free >= (k // bs + 1) * per:
                return k  # k iterations need at most that many new blocks
            period, per = self._block_needs()
            q, rem = divmod(free, per)
            cum = 0
            for i in range(bs):
                cum += period[i]
                if cum > rem:
                    return min(k, max(q * bs + i, 0))  # iteration q*bs+i would need a preemption: stop before it
        return k

    def _plan_run(self, k: int) -> tuple:
        """A fast run: ``k`` decode iterations of an unchanged batch, or fewer if a pre-routed request
        arrives first (the run then ends at the boundary at or after its arrival).
        Returns ``(start, ends, steps, rot, per)``."""
        n = self.n_dec
        base = self.ctx_sum + n
        start = self.clock
        na = self.next_arrival() if self.pulls else math.inf
        if k <= _SHORT_RUN:
            # the same sequential sums as the reference engine's clock
            steps, ends = self.decode_run(n, base, k, start, na)
        else:
            steps = self.model.decode_times(n, base + n * np.arange(k, dtype=np.int64))
            ends = np.cumsum(np.concatenate(([start], steps)))[1:]
            if na < ends[-1]:
                k = int(np.searchsorted(ends, na, side="left")) + 1
                steps, ends = steps[:k], ends[:k]
        rot, per = self._block_needs()
        return start, ends, steps, rot, per

    def _wait_run(self, run: tuple):
        """Wait (SimPy) for a fast run to end, or for the first boundary after an event that cuts it
        short; returns how many of its iterations ran."""
        env = self.env
        start, ends = run[0], run[1]
        k = len(ends)
        j = k - 1
        self.run = run
        self.run_start = start
        try:
            yield env.timeout(float(ends[-1]) - env.now)
        except simpy.Interrupt as exc:
            if exc.cause == FAIL:
                raise
            t = env.now
            j = min(bisect_left(ends, t), k - 1)  # the first boundary at or after the event
            if ends[j] > t:
                yield env.timeout(float(ends[j]) - env.now)
        self.run = None
        self._cut = False
        self.run_start = -1.0
        return j + 1

    def _end_run(self, run: tuple, m: int) -> None:
        """Book the first ``m`` iterations of a fast run and complete the requests that finished."""
        end = self._apply_run(run, m)
        self.busy_acc += end - run[0]
        self.clock = end
        heap = self.heap
        dc = self.dc
        if heap and heap[0][0] <= dc:
            done = []
            active = self.active
            while heap and heap[0][0] <= dc:
                _, _, epoch, r = heapq.heappop(heap)
                if epoch != r.epoch or not r.decoding or r.rid not in active:
                    continue
                done.append(r)
            fleet = self.fleet
            for r in done:
                self._leave_decode(r)
                del active[r.rid]
                fleet.complete(r, end)
        if self.fleet.central is not None:
            self.fleet.pull(self)

    def _apply_run(self, run: tuple, m: int) -> float:
        """Book the first ``m`` iterations of a fast run; returns the end time of the last one."""
        _, ends, steps, _, _ = run
        n = self.n_dec
        end = float(ends[m - 1])
        fleet = self.fleet
        fleet.itl_add_run(self.last_tok_groups, float(ends[0]), steps[1:m], self.n_meas)
        self.last_tok_groups = {end: self.n_meas} if self.n_meas else {}
        self.last_dec_end = end
        self.tokens_processed += n * m
        if self.policy != "static":
            self.used += self._run_needs(run, m)
        self.dc += m
        self.ctx_sum += n * m
        return end

    # ------------------------------------------------------------------ end of the run
    def settle(self, t: float) -> None:
        """Bring the books up to time ``t`` (the end of the run): iterations of a fast run that
        finished by ``t`` are applied, and busy time includes an iteration still in progress."""
        run = self.run
        if run is not None:
            m = bisect_left(run[1], t)  # iterations that ended before t
            if m > 0:
                self._apply_run(run, m)
            self.run = None
            self._cut = False
        if self.run_start >= 0 and t > self.run_start:
            self.busy_acc += t - self.run_start
            self.run_start = -1.0

    def generated(self, r: Req) -> int:
        """Tokens ``r`` has emitted so far (decoders advance implicitly with ``dc``)."""
        return r.gen + (self.dc - r.join_dc) if r.decoding else r.gen

    # ------------------------------------------------------------------ lifecycle: ready, drain, fail, repair
    def become_ready(self) -> None:
        """Provisioning finished: the replica is routable from now on."""
        self.ready = True
        self.accepting = not self.draining
        self.up_since = self.env.now
        self.clock = max(self.clock, self.env.now)

    def start_drain(self) -> None:
        """Stop routing here; the engine releases the replica once it holds nothing."""
        self.draining = True
        self.accepting = False
        if not self.alive or not self.ready:
            self.fleet.release(self)   # failed or still warming: nothing to finish
            return
        self._wake()

    def transfer_done(self, r: Req) -> None:
        """Prefill role: the KV cache of ``r`` has left; its blocks are free."""
        if self.outgoing.pop(r.rid, None) is None:
            return
        self.used -= r.blocks
        self.xfer_blocks -= r.blocks
        r.blocks = 0
        if self.alive:
            self._wake()

    def fail(self) -> list[Req]:
        """The replica fails now: the iteration in progress is lost, everything held is evicted.

        Returns the evicted requests (the fleet retries or fails them). Busy time runs to the
        failure instant; the replica stays provisioned until :meth:`repair` (or release).
        """
        t = self.env.now
        self.settle(t)
        self.failures += 1
        if self.up_since >= 0:
            self.up_s += t - self.up_since
            self.up_since = -1.0
        self.down_since = t
        self.alive = False
        self.accepting = False
        out = self.evict_all()
        self.last_tok_groups = {}
        self.n_meas = 0
        self.clock = t
        if self.proc.is_alive:
            self.proc.interrupt(FAIL)
        return out

    def repair(self) -> None:
        """Back in service after a failure: a fresh engine process on an empty replica."""
        t = self.env.now
        if self.down_since >= 0:
            self.down_s += t - self.down_since
            self.down_since = -1.0
        self.up_since = t
        self.alive = True
        self.accepting = not self.draining
        self.clock = t
        self._idle = None
        self.proc = self.env.process(self._loop())

    def close_books(self, t: float) -> None:
        """Close the open up or down period at ``t`` (release or end of the run)."""
        if self.up_since >= 0:
            self.up_s += t - self.up_since
            self.up_since = -1.0
        if self.down_since >= 0:
            self.down_s += t - self.down_since
            self.down_since = -1.0

    def evict_all(self) -> list[Req]:
        """Remove every request (a failure): they lose their KV cache and must be recomputed."""
        out = []
        for r in list(self.active.values()):
            self._drop_kv(r)
            out.append(r)
        self.active.clear()
        for r in list(self.outgoing.values()):   # transfers reading from this replica's memory
            self.used -= r.blocks
            r.blocks = 0
            out.append(r)
        self.outgoing.clear()
        self.xfer_blocks = 0
        self.heap.clear()
        self.used -= self.pinned          # a failed replica's prefix cache is gone
        self.pinned = 0
        self.cached_prefix.clear()
        out.extend(self.waiting.drain())
        for r in out:
            r.epoch += 1
            r.kv_ready = False
            r.target = r.prompt + r.gen
            r.pf_done = 0
        return out
