"""The running batch of a replica and what one iteration does to it.

Part of :class:`~sim.serving.replica.Replica` (a base class holding no state of its own): the
steps every engine path calls by name -- the event-by-event engine, fast decode runs
(:mod:`sim.serving.decode_run`) and the lean loop alike.

* admission (:meth:`Iterations._admit`): a waiting request takes its KV blocks and enters the batch
  (on a pipelined replica, at the micro-batch boundary it waited for: :meth:`Iterations._lead`);
* the decode batch is kept as aggregates (``n_dec`` decoders, ``ctx_sum`` of their contexts, the
  iteration counter ``dc``); a decoder's context is ``join_len + (dc - join_dc)`` and its
  completion is an entry of ``heap`` keyed by the ``dc`` at which it emits its last token
  (:meth:`Iterations._join_decode`, :meth:`Iterations._leave_decode`);
* preemption (:meth:`Iterations._make_room`): while the next decode iteration needs more blocks
  than are free, the policy's victim loses its KV cache and goes back to the front of the queue,
  to be recomputed (prompt plus generated tokens as one prefill);
* the end of an iteration (:meth:`Iterations._finish_iteration`): the decoders' new blocks are
  taken, inter-token gaps booked, finished prefills emit a token (and complete, hand off or join
  the decode batch), finished decoders complete.
"""
from __future__ import annotations

import heapq

from sim.perf.base import BatchShape
from sim.serving.batching import decode_shape, prefill_shape
from sim.serving.mid_cycle import point_lead, shape_fractions
from sim.serving.request import Req

_STEP_CACHE = 4096  # distinct batch shapes whose step time a replica remembers


class Iterations:
    """Batch membership and iteration bookkeeping of a :class:`~sim.serving.replica.Replica`."""

    # ------------------------------------------------------------------ step time
    def _step_time(self, shape: BatchShape) -> float:
        dt = self._step_cache.get(shape)
        if dt is None:
            dt = self.model.step_time(shape)
            if len(self._step_cache) < _STEP_CACHE:
                self._step_cache[shape] = dt
        return dt

    # ------------------------------------------------------------------ into and out of the batch
    def _admit(self, blocks: int, hit: int = 0) -> Req:
        """Take the head of the queue into the batch, holding ``blocks`` KV blocks of its own and
        reading ``hit`` prompt tokens (whole blocks) from the prefix cache."""
        r = self.waiting.pop()
        self.order += 1
        r.order = self.order
        r.pf_done = hit
        r.pb = hit // self.kv.block_size
        r.decoding = False
        r.blocks = blocks
        self.kv.used += blocks
        first = not self.active
        self.active[r.rid] = r
        lead = r.lead = self._lead(r) if self.slots > 1 else 0.0
        if first or lead > self.lead_max:
            self.lead_max = lead     # the largest lead since the batch was last empty
        if r.sched < 0:
            r.sched = self.clock - lead
        return r

    def _lead(self, r: Req) -> float:
        """A pipelined replica admits at micro-batch boundaries (:mod:`sim.perf.pipeline`): how long
        before this cycle boundary ``r`` joined a micro-batch.

        The engine books a cycle's tokens at its end; a micro-batch's pass really ends on its own
        phase: the ``m`` micro-batches of a cycle of ``c`` seconds from ``s`` are scheduled at ``s +
        o_j``, ``j = 0 .. m - 1``, the instants :func:`sim.perf.pipeline.admission_offsets` gives for
        the cycle's flow shop (scaled to ``c``), or ``o_j = j c / m`` where the step model prices no
        flow shop (:meth:`_admission_fractions`).
        Only the micro-batches that exist run: a cycle of ``n`` sequences has ``m = min(slots, n)``
        (:func:`sim.perf.parallel.micro_batch_sizes`), and the engines' loops do not schedule into
        the empty ones while those are in flight (vLLM V1's ``step_with_batch_queue`` queues an
        empty batch, which runs no forward pass, and blocks on the oldest real one; SGLang's
        ``event_loop_pp`` and TensorRT-LLM's ``_executor_loop_pp`` skip an empty slot and block on
        the next micro-batch's results), so a request arriving while a lone micro-batch is in flight
        joins it when it comes back, at the cycle's end. A request that became visible at ``v``
        inside the cycle ``(s, s + c]`` that just ended joins the micro-batch scheduled at the
        first admission point ``s + o_j`` at or after ``v`` (the next cycle's first, ``s + c``, if
        none), and it stays on that micro-batch's phase: its prompt is priced in the next cycle as
        now (the same flow-shop cycle, which does not depend on which micro-batch holds the
        prompt), and its tokens come ``c - o_j`` earlier than the cycle ends the engine books (its
        ``lead``: its first token, its completion). Only a request that could have been scheduled mid-cycle leads: one seen after
        the cycle's start, with no request that waited from before that start admitted ahead of it
        at this boundary (head of line)."""
        t = self.clock
        s = self.cyc_start
        v = r.queued_at
        if self.busy_to != t or not v > s:
            if self.busy_to == t:
                self._hol = t    # it waited through the cycle: those behind it wait too
            return 0.0
        if self._hol == t:
            return 0.0
        return self._point_lead(t, s, v)

    def _point_lead(self, t: float, s: float, v: float) -> float:
        """How long before the boundary ``t`` of the cycle ``(s, t]`` just booked a request visible at
        ``v`` inside it joins a micro-batch (:meth:`_lead`, for one no request ahead of it holds back):
        it is admitted at ``t`` minus this."""
        m = min(self.slots, self.cyc_seqs)
        if m == 1:
            return 0.0
        return point_lead(t, s, v, m, self._admission_fractions())

    def _admission_fractions(self) -> list[float] | None:
        """The admission points of the cycle just booked as fractions of it (:meth:`_lead`), from its
        flow shop (:func:`sim.perf.pipeline.admission_offsets`), or None if the step model prices none;
        worked out once per cycle, for the first request admitted mid-cycle."""
        schedule = self._pp_schedule
        if schedule is None:
            return None
        if self._cyc_fractions is None:
            self._cyc_fractions = shape_fractions(self, self.cyc_shape)
        return self._cyc_fractions

    def _cycle_booked(self, start: float, prefills: list, n_dec: int, ctx_sum: int) -> None:
        """The iteration from ``start`` (prompt chunks ``prefills``, ``n_dec`` decoders whose contexts
        sum to ``ctx_sum`` before it) is booked: a pipelined replica's next admissions fall inside it
        (:meth:`_lead`)."""
        self.cyc_start = start
        self.cyc_seqs = len(prefills) + n_dec
        if self.slots > 1:
            self.cyc_shape = prefill_shape(prefills, n_dec, ctx_sum) if prefills else decode_shape(n_dec, ctx_sum)
            self._cyc_fractions = None

    def _join_decode(self, r: Req, t: float) -> None:
        """``r`` (its last token emitted at ``t``) joins the decode batch."""
        r.decoding = True
        target = r.target
        dc = self.dc
        r.join_len = target
        r.join_dc = dc
        self.n_dec += 1
        self.ctx_sum += target
        # its KV blocks now follow from its context (see KVCache: the per-phase block needs)
        kv = self.kv
        bs = kv.block_size
        kv.residues[(dc - target) % bs] += 1
        if not kv.whole:
            kv.used += -(-target // bs) - r.pb - r.blocks
        heapq.heappush(self.heap, (dc + (r.output - r.gen), r.order, r.epoch, r))
        if r.arrival >= self.fleet.warmup:
            self.n_meas += 1
            g = self.last_tok_groups
            g[t] = g.get(t, 0) + 1

    def _leave_decode(self, r: Req) -> None:
        """Take a decoder out of the batch; its emitted tokens and last-token time become explicit."""
        ran = self.dc - r.join_dc
        ctx = r.join_len + ran
        r.gen += ran
        if ran > 0:
            r.last_tok = self.last_dec_end
        self.n_dec -= 1
        self.ctx_sum -= ctx
        kv = self.kv    # its KV blocks are given back
        bs = kv.block_size
        kv.residues[(r.join_dc - r.join_len) % bs] -= 1
        self.committed -= r.rsv
        r.rsv = 0
        kv.used -= (-(-ctx // bs) - r.pb) if not kv.whole else r.blocks
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

    def _drop_kv(self, r: Req) -> None:
        """``r`` loses its KV cache here: out of the decode batch, or its prefill blocks freed."""
        if r.decoding:
            self._leave_decode(r)
        else:
            self.committed -= r.rsv
            r.rsv = 0
            self.prefilling.pop(r.rid, None)
            self.kv.used -= r.blocks
            r.blocks = 0
            r.pb = 0

    def _make_room(self) -> None:
        """Preempt the policy's victims until this iteration's decode blocks fit."""
        kv = self.kv
        while self.n_dec and kv.needs_at(self.dc) > kv.total - kv.used:
            self._preempt(self.batching.victim(self.active))

    def _preempt(self, r: Req) -> None:
        """Recompute preemption: ``r`` gives its blocks back and waits at the front of the queue."""
        del self.active[r.rid]
        self._drop_kv(r)
        r.preempt += 1
        r.lose_kv()
        self.fleet.preemptions += 1
        self.waiting.push_front(r)

    def _cache_prefix(self, r: Req) -> None:
        """After ``r``'s prefill: its class's shared prefix stays cached (blocks move to the cache)."""
        if r.pb:
            return
        prefix = self.fleet.class_prefix[r.cls] if r.cls < len(self.fleet.class_prefix) else 0
        pb = self.kv.pin_prefix(r.cls, prefix, r.target)
        r.blocks -= pb          # the request now reads them from the cache
        r.pb = pb

    # ------------------------------------------------------------------ the end of an iteration
    def _finish_iteration(self, start: float, end: float, dt: float, prefills: list, decode: bool) -> None:
        """Book an iteration of ``dt`` seconds from ``start`` to ``end``: decoders' new blocks and
        tokens, finished prefills, completions.

        A decoder whose last token came at ``start`` (the previous iteration's end) waited ``dt``
        for this one; one whose last token came earlier (it stalled behind prefills) waited
        ``end - t0``. Fast runs book the same gaps (:meth:`GapLog.add_run`)."""
        if decode:
            kv = self.kv
            kv.used += kv.needs_at(self.dc)
            n = self.n_dec
            itl_add = self.fleet.itl_add
            for t0, c in self.last_tok_groups.items():
                itl_add(dt if t0 == start else end - t0, c)
            self.last_tok_groups = {end: self.n_meas} if self.n_meas else {}
            self.last_dec_end = end
            self.dc += 1
            self.ctx_sum += n
        if prefills:
            self._finish_prefills(prefills, end)
        if decode:
            self._complete_finished(end)
        if self.fleet.central is not None:
            self.fleet.pull(self)

    def _finish_prefills(self, prefills: list[tuple[Req, int]], end: float) -> None:
        """Prompt chunks ran until ``end``; a prefill whose last chunk ran emits a token and then
        completes, is handed off (prefill role) or joins the decode batch."""
        for r, chunk in prefills:
            r.pf_done += chunk
            if r.pf_done < r.target:
                continue
            self.prefilling.pop(r.rid, None)
            if self.kv.prefix_caching:
                self._cache_prefix(r)
            if self.role == "prefill":      # the prefill pool's work (its load factor)
                done = self.fleet.pool_prefilled[self.pool.index]
                done[0] += 1
                done[1] += r.target
            if self._emit_first(r, end):
                self._finish_prefilled(r, end)
            elif self.role == "prefill":
                del self.active[r.rid]
                self.kv.in_transfer += r.blocks
                self.outgoing[r.rid] = r
                self.fleet.hand_off(r, self, end)
            else:
                self._join_decode(r, end)

    def _emit_first(self, r: Req, end: float) -> bool:
        """``r``'s prefill ended at ``end`` and emitted its next token; True if that was its last."""
        if r.gen > 0 and r.last_tok >= 0 and r.arrival >= self.fleet.warmup:
            self.fleet.itl_add(end - r.last_tok, 1)  # the stall a preempted request saw
        r.gen += 1
        if r.first_tok < 0:
            r.first_tok = end - r.lead
        r.last_tok = end
        return r.gen >= r.output

    def _finish_prefilled(self, r: Req, end: float) -> None:
        """``r`` completes at the end of its prefill: its blocks are freed."""
        del self.active[r.rid]
        self.kv.used -= r.blocks
        r.blocks = 0
        self.committed -= r.rsv
        r.rsv = 0
        self.fleet.complete(r, end)

    def _complete_finished(self, end: float) -> None:
        """Decoders that emitted their last token by iteration ``dc`` (ended at ``end``) complete.
        Heap entries of preempted or evicted sequences (an old epoch) are dropped."""
        heap = self.heap
        dc = self.dc
        if not heap or heap[0][0] > dc:
            return
        active = self.active
        done = []
        while heap and heap[0][0] <= dc:
            _, _, epoch, r = heapq.heappop(heap)
            if epoch != r.epoch or not r.decoding or r.rid not in active:
                continue
            done.append(r)
        complete = self.fleet.complete
        for r in done:
            self._leave_decode(r)
            del active[r.rid]
            complete(r, end)

    def _drop_stale(self) -> None:
        """Drop heap entries of sequences no longer decoding here (the head is then a live one)."""
        heap = self.heap
        active = self.active
        while heap:
            r = heap[0][3]
            if heap[0][2] != r.epoch or not r.decoding or r.rid not in active:
                heapq.heappop(heap)
                continue
            break

    def generated(self, r: Req) -> int:
        """Tokens ``r`` has emitted so far (decoders advance implicitly with ``dc``)."""
        return r.gen + (self.dc - r.join_dc) if r.decoding else r.gen
