"""One model replica (tensor_parallel x pipeline_parallel GPUs) running an iteration-level batching engine.

The scheduler follows the engine the pool's ``batching.scheduler`` preset names (vLLM V1 by
default; vLLM V0, TensorRT-LLM, SGLang; see :mod:`sim.scenario.schedulers`):

* waiting requests are admitted FCFS (``priority``: by class priority, then FCFS) while the
  batch stays within ``max_num_seqs`` sequences, ``max_batched_tokens`` tokens and free KV-cache
  blocks (a whole prompt's blocks are allocated on admission, keeping a 1 % watermark free;
  ``kv_reservation: full`` also keeps every admitted request's whole sequence available);
  admission stops at the first request that does not fit (head-of-line);
* without ``mixed_batches`` an iteration that admits prefills runs prefills only (decodes stall);
  with it an iteration first takes every running decode (one token each), then continues partial
  prefills, then admits new prefills, all within the token budget; ``chunked_prefill`` splits a
  prompt to the budget left, otherwise a prompt waits until it fits whole
  (:mod:`sim.serving.batching` has one policy per combination);
* a prefill's last chunk emits the request's first (or next, after recompute) token;
* when a decode needs a KV block and none is free, the newest running sequence (``priority``: the
  newest of the lowest class) is preempted, its blocks freed, and it is recomputed later from the
  front of the queue (prompt plus tokens generated so far);
* ``static`` batching waits for ``batch_size`` requests (or until the oldest has been queued here
  for ``timeout_s``), reserves their full KV cache, runs one prefill iteration and decodes until
  the last one finishes (transferred requests of a decode pool skip the prefill).

The pieces live in modules named for them: the queue (:mod:`sim.serving.waiting`), the KV
cache (:mod:`sim.serving.kv_cache`), the batching policies and victim choice
(:mod:`sim.serving.batching`), the running batch and one iteration's bookkeeping
(:mod:`sim.serving.iteration`), fast decode runs (:mod:`sim.serving.decode_run`), the lean
loop (:mod:`sim.serving.lean`) and the SimPy process with its two engines, ``reference`` and
``fast`` (:mod:`sim.serving.engine_loop`); this module holds the replica's state, what the router
and the sampler read of it, and its lifecycle.

Lifecycle (driven by the fleet, the autoscaler and the failure process): a replica is *warming*
(provisioned, not routable) until ready, then *serving*; *draining* stops routing to it and it is
released once it holds nothing; a *failure* kills it at that instant (the iteration in progress is
lost, and so is one ending at that very instant: :mod:`sim.serving.clock`; iterations of a fast run
that ended before the failure count, as in the reference engine),
evicts everything it holds back to the fleet, and the replica serves again after its repair.

Roles (prefill/decode disaggregation): a ``prefill`` replica hands a request off after the prefill
that emits its first token, keeping the prompt's KV blocks until the transfer to a decode replica
ends; a ``decode`` replica admits transferred requests (``kv_ready``) straight into the decode batch
once their KV blocks fit (head of line, no prefill iteration).
"""
from __future__ import annotations

from bisect import bisect_right
from collections import deque
from typing import TYPE_CHECKING

import simpy

from sim.perf.base import BatchShape, StepTimeModel, decode_run_fn, decode_step_fn
from sim.scenario.schedulers import budget_caps_prompts
from sim.serving.batching import make_batching
from sim.serving.decode_run import FAIL, DecodeRun
from sim.serving.engine_loop import EngineLoop
from sim.serving.kv_cache import KVCache
from sim.serving.mid_cycle import counts_at, outstanding_at, run_cycle
from sim.serving.request import R_BUDGET, R_CONTEXT, R_KV, R_QUEUE_FULL, R_TIMEOUT, Req, served_output
from sim.serving.waiting import Waiting

if TYPE_CHECKING:
    from sim.serving.fleet import Fleet
    from sim.serving.pool import PoolRuntime

class Replica(EngineLoop):
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
        self.chunked = self.split or self.mixed  # scheduled by the chunked / mixed policies
        # reserve each request's whole sequence on admission (TensorRT-LLM's GUARANTEED_NO_EVICT)
        self.full = b.kv_reservation == "full" and b.policy != "static" and role == "both"
        self.committed = 0                    # full reservation: final KV blocks of the admitted requests
        self.batching = make_batching(b)
        self.prefix_caching = b.prefix_caching and role == "both" and b.policy != "static"
        self.kv = KVCache(pool.kv_blocks, b.block_size, whole=b.policy == "static",
                          prefix_caching=self.prefix_caching)
        self._fit = self._fit_rule()
        self._fit_prompt, self._fit_total = self._fit_limits()
        self.model: StepTimeModel = pool.step_model
        self.decode_step = decode_step_fn(pool.step_model)
        self.decode_run = decode_run_fn(pool.step_model)
        # long runs planned lazily (DecodeRuns._plan_run) where the model sums steps in plain Python cheaply
        self._lazy = getattr(pool.step_model, "decode_run", None) is not None
        self._step_cache: dict[BatchShape, float] = {}
        self._lean_times = pool.step_times    # lean path: times of iterations with prompts (the pool's)
        self.waiting = Waiting(self.policy == "priority")
        # the waiting room (fleet.pools[].max_waiting): an arrival finding this many requests waiting is refused
        mw = pool.cfg.max_waiting
        self.max_waiting = mw if mw is not None and role != "decode" else None
        self.patient = fleet.patience is not None   # clients may give up waiting (workload.patience_s)
        self.active: dict[int, Req] = {}      # admitted (prefilling or decoding), in admission order
        self.prefilling: dict[int, Req] = {}  # chunked: partially prefilled, in admission order
        self.n_dec = 0
        self.ctx_sum = 0
        self.dc = 0
        self.heap: list = []                  # (finish_dc, order, epoch, req)
        self.order = 0
        self.last_tok_groups: dict[float, int] = {}  # measured decoders by the time of their last token
        self.n_meas = 0                       # decoders that arrived after warmup (their gaps count as ITL)
        self.clock = 0.0
        self.busy_acc = 0.0                   # busy seconds of closed busy stretches
        self.busy_from = -1.0                 # the open busy stretch: from its first iteration's start
        self.busy_to = -1.0                   # ... to the end of its last booked iteration
        self.run_start = -1.0                 # >= 0 while an iteration or run is in progress
        self.run_info: tuple = ()             # pipelined: the iteration in progress (end, prefills, n_dec, ctx_sum)
        self.run: DecodeRun | None = None     # the fast run in progress
        self._cut = False                     # the fast run was cut short by an event (ends at the next boundary)
        self.last_dec_end = -1.0              # end of the last decode iteration
        self.cyc_start = -1.0                 # start of the last iteration booked (it ended at busy_to)
        self.cyc_seqs = 0                     # ... the sequences it ran (its micro-batches: Iterations._lead)
        self.cyc_shape: BatchShape | None = None  # ... and its shape (a pipelined replica's)
        self._cyc_fractions: list[float] | None = None  # ... its admission points (Iterations._admission_fractions)
        self._hol = -1.0                      # a boundary where a request that waited through the cycle was admitted
        self.lead_max = 0.0                   # the largest lead admitted since the batch was last empty (a bound)
        # micro-batches a pipelined replica schedules per cycle: its admission points (see Iterations._lead);
        # a static batch runs to its end, admitting nothing
        pp = pool.cfg.pipeline_parallel
        self.slots = (pool.cfg.pipeline_micro_batches or pp) if pp > 1 and b.policy != "static" else 1
        self._pp = pp
        # micro-batches of whole sequences an iteration is cut into at most (the step model's and MBU's,
        # sim.perf.parallel.micro_batch_sizes; a static batch's too): min(this, its sequences)
        self.mb_most = (pool.cfg.pipeline_micro_batches or pp) if pp > 1 else 1
        # the flow shop of a cycle, where the step model prices one (its micro-batches' admission points)
        inner = getattr(self.model, "inner", self.model)
        self._pp_schedule = getattr(inner, "pipeline_schedule", None) if self.slots > 1 else None
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
        self.outgoing: dict[int, Req] = {}
        self.tokens_processed = 0             # prefill + decode tokens (for MFU)
        self.iterations = 0                   # iterations booked, and the cached KV tokens they read:
        self.kv_read = 0                      # decoders' contexts, prompt chunks' priors (for MBU)
        self.micro_batches_run = 0            # ... the micro-batches they ran: each reads the stage's weights once
        # an MoE's iterations by (prompts, decodes, tokens): the experts one reads are concave in its tokens
        self.token_mix: dict[tuple[int, int, int], int] | None = {} if pool.model.is_moe else None
        self.pulls = False                    # arrivals pre-routed here: the engine takes them itself
        self.receive = self.enqueue           # a routed request reaches it (Fleet.place; assign when pulls)
        self.incoming: deque[Req] = deque()   # pre-routed requests not yet queued here (``queued_at`` order)
        self.lean = False                     # takes the lean path (set with ``pulls``, see _ahead)
        self._idle: simpy.Event | None = None
        self.proc = env.process(self._loop())

    # ------------------------------------------------------------------ what the router sees
    @property
    def outstanding(self) -> int:
        """Queued or running now (pipelined: :func:`~sim.serving.mid_cycle.outstanding_at`)."""
        if self.slots > 1 and self.waiting.soonest <= self.env.now:
            return outstanding_at(self, self.env.now)
        return len(self.waiting) + len(self.active)

    def free_slots(self) -> int:
        return self.max_seqs - self.outstanding

    def _fit_rule(self) -> tuple[int, int, bool, int, int]:
        """What :meth:`can_fit` depends on: ``(context, longest prompt, prompt blocks only, block size, cap)``;
        the longest prompt is the token budget where a prompt must fit it whole, the prefill role counts
        the prompt's blocks only, ``cap`` is the KV blocks above the watermark."""
        ctx = self.pool.max_context
        prompt = ctx
        if budget_caps_prompts(self.pool.cfg.batching) and self.role != "decode":    # (SGLang runs one alone)
            prompt = min(prompt, self.budget)
        kv = self.kv
        return ctx, prompt, self.role == "prefill", kv.block_size, kv.total - kv.watermark

    def _fit_limits(self) -> tuple[int, int]:
        """``(prompt, prompt + output)`` limits under which a request surely fits (see can_fit)."""
        ctx, prompt, prompt_only, bs, cap = self._fit
        if prompt_only:
            return prompt, -1   # no shortcut: the prefill role counts the prompt's blocks only
        # the whole output fits the context, so need = ceil((prompt + output - 1) / bs) <= cap
        return prompt, min(ctx, cap * bs + 1)

    def fit_key(self) -> tuple:
        """What :meth:`can_fit` depends on: replicas with equal keys take and refuse the same requests
        (for the same reason)."""
        return self._fit

    def can_fit(self, r: Req) -> int:
        """0 if ``r`` can ever be served here, else a rejection reason code."""
        p = r.prompt
        if p <= self._fit_prompt and p + r.output <= self._fit_total and r.output > 0:
            return 0  # the common case without the general arithmetic (~0.2 us of ~0.4 per request)
        return self._why_not(r)

    def _why_not(self, r: Req) -> int:
        """:meth:`can_fit` worked out in full (from :meth:`_fit_rule`)."""
        ctx, longest, prompt_only, _, cap = self._fit
        p = r.prompt
        if p > ctx:  # as vLLM: a prompt of exactly the context length is served
            return R_CONTEXT
        if p > longest:
            return R_BUDGET
        blocks_for = self.kv.blocks_for
        need = blocks_for(p) if prompt_only else blocks_for(p + max(1, min(r.output, ctx - p)) - 1)
        if need > cap:
            return R_KV
        return 0

    def enqueue(self, r: Req) -> None:
        """A routed request joins this replica's queue (visible at the next iteration boundary)."""
        r.replica = self.index
        r.pool = self.pool.index
        r.queued_at = self.env.now
        if r.prompt + r.output > self.pool.max_context:  # generation stops at the context limit
            r.output = served_output(r.prompt, r.output, self.pool.max_context)
        if self.patient:
            self.expire(self.env.now)
            if r.sched < 0 and r.deadline <= self.env.now:   # a retried request whose client already left
                self.fleet.reject(r, R_TIMEOUT)
                return
        if self.max_waiting is not None and self.room_full(r):
            self.fleet.reject(r, R_QUEUE_FULL)
            return
        self.waiting.push(r)
        self._wake()

    def has_room(self) -> bool:
        """Whether this replica takes a request arriving now without refusing it (:meth:`room_full`
        at ``env.now``; always without a waiting room): what a router asks before it picks a replica,
        so that a replica whose room is full is passed over for one that can take the request."""
        return self.max_waiting is None or not self._full_at(self.env.now)

    def room_full(self, r: Req) -> bool:
        """Whether the waiting room (``max_waiting``) refuses ``r`` at its arrival (``r.queued_at``):
        ``max_waiting`` requests are waiting, and the replica was not idle when ``r`` arrived. An idle
        replica (nothing running or waiting) takes an arrival at once, so ``max_waiting: 0`` is a loss
        system (a request is served only if it finds its replica idle: M/M/1/1 for one sequence at a time),
        not a replica that refuses everything; with a room of one or more, an idle replica has room anyway."""
        return self._full_at(r.queued_at)

    def _full_at(self, a: float) -> bool:
        """Whether the waiting room refuses an arrival at ``a`` (:meth:`room_full`). A request whose
        client gave up by ``a`` holds no place (vLLM V1's ``Scheduler.finish_requests`` drops it), nor,
        on a pipelined replica, one a micro-batch took mid-cycle, though the queue keeps both until
        the cycle's end (:func:`~sim.serving.mid_cycle.counts_at`)."""
        n = self.waiting.present(a) if self.slots == 1 else counts_at(self, a)[0]
        return n >= self.max_waiting and bool(n or not self._idle_at(a))

    def _idle_at(self, a: float) -> bool:
        """Whether nothing ran at the instant ``a``: nothing running (``active``), and the last booked
        iteration (``busy_to``) ended before ``a``. An arrival at the very instant an iteration ends finds
        the replica busy: routed at its arrival it comes before that end on both engines
        (:func:`sim.serving.clock.arrival_at`); pre-routed, it is taken after the iteration ending then is
        booked, and so is one taken at a boundary after it arrived (a pre-routed request arriving
        mid-iteration), which finds the iteration that ended there."""
        return not self.active and self.busy_to < a

    def expire(self, t: float) -> int:
        """Requests whose clients gave up by ``t`` leave the queue (:mod:`sim.serving.patience`);
        returns how many did. A pipelined replica (:meth:`_expire_pipelined`) takes a request queued
        during a cycle at a micro-batch boundary inside it, so the client's deadline is met against
        that instant, known at the cycle's end."""
        gone = self._expire_pipelined(t) if self.slots > 1 else self.waiting.expire(t)
        for r in gone:
            self.fleet.reject(r, R_TIMEOUT)
        return len(gone)

    def _expire_pipelined(self, t: float) -> list[Req]:
        """:meth:`expire` on a pipelined replica. While a cycle runs (from ``s``), a request queued
        after ``s`` may already have joined one of its micro-batches, before its deadline, though the
        engine books it at the cycle's end (:meth:`~sim.serving.iteration.Iterations._lead`): it stays
        until then. At the end ``t`` of the cycle ``(s, t]`` it has gone if its deadline came before the
        micro-batch boundary it would have joined (``t`` minus its lead) or it is behind a request that
        waited through the cycle (:meth:`Waiting.expire_at_boundary`); one whose deadline falls between
        that boundary and ``t`` is admitted at this boundary, with its lead, or, if no batch takes it,
        leaves after the batch is formed (:meth:`expire_left`). Any other replica: ``t`` against the
        deadline, as without pipelining."""
        w = self.waiting
        if w.soonest > t:
            return []
        start = self._cycle_in_progress(t)
        if start is not None:
            return w.expire(t, after=start)
        if self.busy_to == t and self.cyc_start >= 0:
            s = self.cyc_start
            return w.expire_at_boundary(t, s, lambda r: t - self._point_lead(t, s, r.queued_at))
        return w.expire(t)

    def _cycle_in_progress(self, t: float) -> float | None:
        """The start of the iteration (cycle) in progress at ``t`` (its end not yet booked), or None."""
        if self.run is not None:
            at = run_cycle(self.run, t)
            return None if at is None else at[1]
        return self.run_start if self.run_start >= 0 else None

    def expire_left(self, t: float) -> None:
        """After a pipelined replica formed its batch at the boundary ``t``: a request whose client's
        deadline fell inside the cycle that ended, after the micro-batch boundary it could have joined,
        and that no batch took, has gone (:meth:`_expire_pipelined`)."""
        for r in self.waiting.expire(t):
            self.fleet.reject(r, R_TIMEOUT)

    # ------------------------------------------------------------------ pre-routed arrivals
    def assign(self, r: Req) -> None:
        """A request routed here ahead of time (state-independent routing): it joins the queue
        at its ``queued_at`` (its arrival, or its dispatch by ``fleet.router.batcher``), taken by the
        engine at the first iteration boundary at or after it."""
        r.replica = self.index
        r.pool = self.pool.index
        if r.prompt + r.output > self.pool.max_context:
            r.output = served_output(r.prompt, r.output, self.pool.max_context)
        self.incoming.append(r)

    def next_arrival(self) -> float:
        """When the next pre-routed request arrives (or the feed's look-ahead horizon)."""
        return self.incoming[0].queued_at if self.incoming else self.fleet.known_until

    def _ingest(self, t: float) -> None:
        inc = self.incoming
        if self.max_waiting is not None:
            while inc and inc[0].queued_at <= t:
                self.arrive_limited(inc.popleft())
            return
        while inc and inc[0].queued_at <= t:
            self.waiting.push(inc.popleft())

    def ingest_arrived(self, t: float) -> None:
        """At the end of the run: the pre-routed requests that arrived by ``t`` join the queue or,
        with a full waiting room, are refused (as the next boundary would have taken them)."""
        inc = self.incoming
        while inc and inc[0].queued_at < t:
            r = inc.popleft()
            if self.max_waiting is None:
                self.waiting.push(r)
            else:
                self.arrive_limited(r)

    def arrive_limited(self, r: Req) -> None:
        """A pre-routed request reaches a replica with a waiting room (``max_waiting``) at its
        ``queued_at``: queued, or refused if the room is full. Taken in ``queued_at`` order at the
        first iteration boundary at or after it, so the room holds what it held at that instant
        (admission happens only at boundaries), as when the request is queued at its arrival."""
        if self.room_full(r):
            self.fleet.reject(r, R_QUEUE_FULL, at=r.queued_at)    # refused on arrival: never in the system
        else:
            self.waiting.push(r)

    # ------------------------------------------------------------------ state at an instant
    def kv_used_at(self, t: float) -> int:
        """KV blocks in use at ``t`` (inside a fast run: with the iterations finished by ``t``)."""
        run = self.run
        if run is None:
            return self.kv.used
        return self.kv.used + run.new_blocks(bisect_right(run.ends, t))

    def tokens_at(self, t: float) -> int:
        """Tokens processed by ``t`` (inside a fast run: with the iterations finished by ``t``, an
        iteration ending at ``t`` included, as the reference engine has booked it by then)."""
        run = self.run
        if run is None:
            return self.tokens_processed
        return self.tokens_processed + self.n_dec * bisect_right(run.ends, t)

    def busy_at(self, t: float) -> float:
        """Busy seconds up to ``t`` (an iteration or run in progress counts up to ``t``)."""
        acc = self.busy_acc
        start = self.run_start
        if self.busy_from >= 0:
            if start >= 0 and t > start and start == self.busy_to:
                return acc + (t - self.busy_from)   # the work in progress continues the open stretch
            acc = acc + (self.busy_to - self.busy_from)
        if start >= 0 and t > start:
            return acc + (t - start)
        return acc

    def _busy(self, start: float, end: float) -> None:
        """Book work from ``start`` to ``end``: it extends the open busy stretch if it starts where
        that one ended, else the open stretch is closed and a new one begins. Busy time is summed
        per stretch (not per iteration), so an iteration-level and an event-skipping engine that
        run the same iterations book the same seconds, bit for bit."""
        if start != self.busy_to:
            if self.busy_from >= 0:
                self.busy_acc += self.busy_to - self.busy_from
            self.busy_from = start
        self.busy_to = end

    def busy_closed(self, t: float) -> None:
        """Close the books on busy time at ``t`` (work in progress counts up to ``t``)."""
        self.busy_acc = self.busy_at(t)
        self.busy_from = self.busy_to = -1.0
        self.run_start = -1.0

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
        self.kv.used -= r.blocks
        self.kv.in_transfer -= r.blocks
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
        kv = self.kv
        for r in list(self.outgoing.values()):   # transfers reading from this replica's memory
            kv.used -= r.blocks
            r.blocks = 0
            out.append(r)
        self.outgoing.clear()
        kv.in_transfer = 0
        self.heap.clear()
        kv.forget_prefixes()          # a failed replica's prefix cache is gone
        out.extend(self.waiting.drain())
        for r in out:
            r.lose_kv()
        return out
