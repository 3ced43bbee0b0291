"""The lean loop: a pre-routed replica's iterations and decode runs ahead of the SimPy clock.

A pre-routed replica (see :class:`~sim.serving.fleet.Fleet`) does not interact with any other,
so it runs every iteration and decode run that ends before ``Fleet.sync_t`` -- the next instant
anything else reads or feeds it -- without a SimPy event. :meth:`LeanLoop._ahead` does that in
one plain loop for the common configurations, either

* prompt-only iterations of whole prompts (vLLM V0 without chunked prefill: the ``continuous``
  policy; FCFS, no prefix caching, no full KV reservation), or
* the chunked family (``chunked``: vLLM V1, the default, or V0 with chunked prefill; ``mixed``:
  TensorRT-LLM, with its full KV reservation; ``prefill_first``: SGLang), FCFS or by class
  priority, with or without prefix caching: decodes first (when prompts share the iteration),
  then partial prefills, then new prompts within the token budget, as
  :meth:`sim.serving.batching.Chunked.schedule` forms them (:meth:`LeanLoop._lean_prompts`).

Both share the decode-run part: a short run is planned by the step model's ``decode_run`` and
booked in place; a long one not cut short soon by an arrival goes through
:meth:`~sim.serving.decode_run.DecodeRuns._plan_run` (numpy). The time of an iteration with
prompts is looked up in the pool's table (``PoolRuntime.step_times``), keyed by what it depends
on: the decoders it carries, their context sum and the prompt chunks (with their priors). A mixed
iteration's key changes with the context sum, so one replica meets few repeats; the replicas of a
pool share one step model and so one table.

It calls the same steps as the general path where a call costs nothing measurable
(:meth:`~sim.serving.iteration.Iterations._admit`, ``_emit_first``, ``_join_decode``,
``_leave_decode``, ``_finish_prefilled``, ``_complete_finished`` after an iteration with prompts,
:meth:`~sim.serving.decode_run.DecodeRuns._plan_run` and
:meth:`~sim.serving.decode_run.DecodeRuns._end_run` for long runs) and writes out the steps
taken once per prompt-only iteration, decode run or completion -- admission
(:func:`~sim.serving.batching.admit_whole_prompts`, the admission loop of
:meth:`~sim.serving.batching.Chunked.schedule`), the end of an iteration with prompts
(``_finish_iteration``, ``_finish_prefills``),
the run length (:meth:`~sim.serving.decode_run.DecodeRuns._run_length`), booking a short run
(:meth:`~sim.serving.decode_run.DecodeRuns._book_run`) and completions (``_complete_finished``)
-- where calling them measured 2-10 % each of the reference workload's CPU time.
``tests/test_prerouted.py`` checks that it books exactly what the general path books, bit for
bit, for every scheduler preset. It hands back to the general path where a preemption, a request
that can never be admitted or idling past ``sync_t`` needs it.
"""
from __future__ import annotations

from heapq import heappop

from sim.serving.batching import prefill_shape
from sim.serving.decode_run import MAX_RUN, RUN, SHORT_RUN, STEP, DecodeRun, DecodeRuns
from sim.serving.mid_cycle import taken_first


LEAN_TIMES = 32768
"""Distinct iterations with prompts whose step time a pool remembers (~4 MB when full). Under
``vllm-v1`` the reference workload (100,000 requests) meets ~40,000 distinct ones on one replica,
~8,000 on a pool of 8 (~4,400 each)."""


class LeanLoop(DecodeRuns):
    """The lean loop of a pre-routed replica. Part of :class:`~sim.serving.replica.Replica`."""

    def _ahead(self, limit: float):
        """The lean loop of a pre-routed replica (see the module's docstring for the iteration
        rules and admission orders it takes).

        Runs whole iterations and decode runs that end before ``limit`` (``Fleet.sync_t``); a single
        decode iteration is a run of one. Returns ``None`` at an iteration boundary where the
        general path takes over (idle until past ``limit``, a preemption, a request that can never
        be admitted), or the started step that reaches ``limit``: ``(RUN, run)`` or
        ``(STEP, tokens, prefills, dt, decode, read)`` for an iteration with prompts whose requests are
        admitted (``decode``: the running decoders step in it too; ``read``: the cached KV tokens it reads).
        """
        inc = self.incoming
        waiting = self.waiting
        dq = waiting._heap if waiting.priority else waiting._dq   # the queue (priority: chunked rules only)
        arrive = waiting.push if waiting.priority else dq.append
        if self.max_waiting is not None:
            arrive = self.arrive_limited      # a waiting room (fleet.pools[].max_waiting)
        active = self.active
        heap = self.heap
        kv = self.kv
        res = kv.residues
        fleet = self.fleet
        bs = kv.block_size
        total = kv.total
        max_seqs = self.max_seqs
        budget0 = self.budget
        cap = total - kv.watermark
        times = self._lean_times
        itl_run = fleet.itl_add_run
        complete = fleet.complete
        chunked = self.chunked
        prefilling = self.prefilling
        dt_last = 0.0      # the last decode step's time (an estimate of the next ones)
        if self.clock < self.env.now:
            self.clock = self.env.now
        while True:
            clock = self.clock
            while inc and inc[0].queued_at <= clock:
                arrive(inc.popleft())
            if not active and not dq:
                na = inc[0].queued_at if inc else fleet.known_until
                if not na < limit:
                    return None
                if na > clock:
                    self.clock = na
                continue
            n_act = len(active)
            if chunked:
                if prefilling or (dq and n_act < max_seqs):
                    step = self._lean_prompts(clock, limit, n_act)
                    if step is True:
                        continue
                    if step is not None:
                        return step or None    # False: a preemption first (the general path)
            elif dq and n_act < max_seqs:
                # admission as admit_whole_prompts (FCFS, no prefix cache), inlined: the helper's
                # set-up per prefill iteration costs ~5 % of the reference workload
                prefills = []
                needs = []
                budget = budget0
                while dq and n_act < max_seqs:
                    r = dq[0]
                    need = r.target
                    if need > budget and (prefills or need <= budget0):
                        break
                    blocks = -(-need // bs)
                    if kv.used + blocks > cap:
                        break
                    self._admit(blocks)
                    prefills.append((r, need))
                    needs.append(need)
                    budget -= need
                    n_act += 1
                if prefills:
                    # a prefill-only iteration; its time depends only on the prompt lengths
                    key = (0, 0, *needs)   # (no decoders: see LEAN_TIMES)
                    dt = times.get(key)
                    if dt is None:
                        dt = self._step_time(prefill_shape(prefills, 0, 0))
                        if len(times) < LEAN_TIMES:
                            times[key] = dt
                    end = clock + dt
                    if not end < limit:
                        return STEP, sum(needs), prefills, dt, False, 0
                    if clock != self.busy_to:   # a new busy stretch (as _busy, inlined)
                        if self.busy_from >= 0:
                            self.busy_acc += self.busy_to - self.busy_from
                        self.busy_from = clock
                    self.busy_to = end
                    self._cycle_booked(clock, prefills, 0, 0)
                    self.clock = end
                    self.tokens_processed += sum(needs)
                    self.iterations += 1     # (whole prompts without a cached prefix: no KV read)
                    self.micro_batches_run += min(self.mb_most, self.cyc_seqs)
                    if self.token_mix is not None:
                        self._mix_add(len(prefills), sum(needs))
                    for r, _ in prefills:   # as _finish_prefills for whole prompts (a call costs ~2 %)
                        r.pf_done = r.target
                        if self._emit_first(r, end):
                            self._finish_prefilled(r, end)
                        else:
                            self._join_decode(r, end)
                    continue
            n = self.n_dec
            dc = self.dc
            if n == 0 or res[dc % bs] > total - kv.used:
                return None  # nothing to run (a request that never fits), or a preemption
            # the run length (as _run_length, inlined: one call per run is measurable here)
            e = heap[0]
            r = e[3]
            if e[2] != r.epoch or not r.decoding or r.rid not in active:
                self._drop_stale()
            k = heap[0][0] - dc
            if k > MAX_RUN:
                k = MAX_RUN
            if k > 1 and total - kv.used < (k // bs + 1) * n:
                k = kv.iterations_that_fit(k, dc, n)  # KV blocks may run out within the run
            na = inc[0].queued_at if inc else fleet.known_until
            if k > SHORT_RUN and na - clock > SHORT_RUN * dt_last:
                # a long run not cut short soon by an arrival: vectorised (numpy's per-call cost
                # pays off); one an arrival cuts within ~SHORT_RUN steps stays in the loop below
                run = self._plan_run(k)
                if not run.ends[-1] < limit:
                    return RUN, run
                self._end_run(run, len(run.ends))
                continue
            # a short run, planned and booked here (as _plan_run and _end_run, without the run object)
            steps, ends = self.decode_run(n, self.ctx_sum + n, k, clock, na)
            m = len(ends)
            dt_last = steps[-1]
            end = ends[-1]
            i = dc % bs
            if not end < limit:
                return RUN, DecodeRun(clock, ends, steps, res[i:] + res[:i], n)
            # booked as _book_run does, inlined (one call per run is measurable here)
            n_meas = self.n_meas
            itl_run(self.last_tok_groups, clock, ends[0], steps[0], steps[1:], n_meas)
            self.last_tok_groups = {end: n_meas} if n_meas else {}
            self.last_dec_end = end
            self.tokens_processed += n * m
            self.iterations += m
            self.micro_batches_run += m * min(self.mb_most, n)
            if self.token_mix is not None:   # (as _book_run)
                self.token_mix[0, n, n] = self.token_mix.get((0, n, n), 0) + m
            self.kv_read += m * (self.ctx_sum + n) + n * (m * (m - 1) // 2)   # as _book_run
            q, rr = divmod(m, bs)
            # new blocks (as run_needs): the first rr entries of res rotated to start at i, summed
            # in place instead of from a rotated copy (~10 ms per 100,000 requests)
            j = i + rr
            kv.used += q * n + (sum(res[i:j]) if j <= bs else sum(res[i:]) + sum(res[:j - bs]))
            dc += m
            self.dc = dc
            self.ctx_sum += n * m
            if clock != self.busy_to:   # a new busy stretch (as _busy, inlined)
                if self.busy_from >= 0:
                    self.busy_acc += self.busy_to - self.busy_from
                self.busy_from = clock
            self.busy_to = end
            self._cycle_booked(ends[-2] if m > 1 else clock, (), n, self.ctx_sum - n)
            self.clock = end
            if heap[0][0] <= dc:
                # as _complete_finished, inlined (a call per completion costs ~2 % of ref8)
                done = []
                while heap and heap[0][0] <= dc:
                    _, _, epoch, r = heappop(heap)
                    if epoch != r.epoch or not r.decoding or r.rid not in active:
                        continue
                    done.append(r)
                for r in done:
                    self._leave_decode(r)
                    del active[r.rid]
                    complete(r, end)

    def _lean_prompts(self, clock: float, limit: float, n_act: int):
        """An iteration with prompts under the chunked family's rules, formed as
        :meth:`~sim.serving.batching.Chunked.schedule` forms it (FCFS, or by class priority): with
        ``mixed`` every running decoder first, then the partial prefills, then new prompts (whole,
        or split to the budget left with ``split``), within ``max_num_seqs``, the token budget and
        the free blocks above the watermark beside the decoders' next blocks (and with
        ``kv_reservation: full`` every admitted request's whole sequence). If it ends before
        ``limit`` it is booked here as :meth:`~sim.serving.iteration.Iterations._finish_iteration`
        books it (written out, with ``_finish_prefills`` for a replica of both roles). Its time
        comes from the pool's table (:data:`LEAN_TIMES`); a prompt's cached prefix (prefix caching)
        counts as its prior, as ``prefill_shape`` takes it.

        Returns True (booked), None (no prompt fits: the decoders run), False (the decoders' next
        blocks do not fit: a preemption, which the general path makes) or the started step that
        reaches ``limit`` (``(STEP, tokens, prefills, dt, decode, read)``, its requests admitted)."""
        kv = self.kv
        n = self.n_dec
        reserved = 0
        if n:
            reserved = kv.residues[self.dc % kv.block_size]
            if reserved > kv.total - kv.used:
                return False
        mixed = self.mixed
        budget0 = self.budget
        budget = budget0 - n if mixed else budget0
        prefills = []
        chunks = []     # the step-time cache key: (prior, chunk) of partial prefills, then new chunks
        prefilling = self.prefilling
        if prefilling:
            for r in prefilling.values():
                if budget <= 0:
                    break
                chunk = r.target - r.pf_done
                if chunk > budget:
                    chunk = budget
                prefills.append((r, chunk))
                chunks.append((r.pf_done, chunk))
                budget -= chunk
        waiting = self.waiting
        prio = waiting.priority
        dq = waiting._heap if prio else waiting._dq
        caching = kv.prefix_caching
        lifted = None
        if prio and self.slots > 1 and budget > 0 and dq and n_act < self.max_seqs:
            first = taken_first(self)   # taken inside the cycle: admitted first (sim.serving.mid_cycle)
            if first:
                lifted = waiting.lift(first)
        if budget > 0 and dq and n_act < self.max_seqs:
            max_seqs = self.max_seqs
            split = self.split
            full = self.full
            bs = kv.block_size
            cap = kv.total - kv.watermark - reserved
            hit = 0
            while budget > 0 and dq and n_act < max_seqs:
                r = dq[0][2] if prio else dq[0]   # the head (as Waiting.peek)
                target = r.target
                if caching:
                    hit = kv.prefix_hit(r.cls, target)
                need = target - hit
                if not split and need > budget and (prefills or need <= budget0 or (mixed and n)):
                    break   # a whole prompt waits for room in the budget (an over-long recompute runs alone)
                blocks = -(-target // bs) - hit // bs
                if kv.used + blocks > cap:
                    break
                if full:    # as full_reservation: the whole sequence's blocks stay available
                    final = -(-(target + r.output - r.gen - 1) // bs) - hit // bs
                    if self.committed + kv.pinned + final > cap + reserved:
                        break
                    self._admit(blocks, hit)
                    r.rsv = final
                    self.committed += final
                else:
                    self._admit(blocks, hit)
                prefilling[r.rid] = r
                chunk = budget if split and need > budget else need
                prefills.append((r, chunk))
                chunks.append((hit, chunk) if hit else chunk)   # a prompt's cached prefix is its prior
                budget -= chunk
                n_act += 1
        if lifted is not None:
            waiting.settle_lift(lifted)
        if not prefills:
            return None
        ctx_sum = self.ctx_sum if mixed else 0
        key = (n if mixed else 0, ctx_sum, *chunks)
        times = self._lean_times
        dt = times.get(key)
        if dt is None:
            dt = self.model.step_time(prefill_shape(prefills, n, ctx_sum) if mixed else prefill_shape(prefills, 0, 0))
            if len(times) < LEAN_TIMES:
                times[key] = dt
        tokens = budget0 - budget   # the prompt tokens, and (mixed) one per decoder
        end = clock + dt
        decode = mixed and n > 0
        # the cached KV tokens it reads (as prefill_shape counts them): the chunks' priors, the decoders' contexts
        read = sum([r.pf_done for r, _ in prefills]) + (ctx_sum + n if decode else 0)
        if not end < limit:
            return STEP, tokens, prefills, dt, decode, read
        self._busy(clock, end)
        self._cycle_booked(clock, prefills, n if decode else 0, ctx_sum)
        self.clock = end
        self.tokens_processed += tokens
        self.iterations += 1
        self.micro_batches_run += min(self.mb_most, self.cyc_seqs)
        self.kv_read += read
        if self.token_mix is not None:
            self._mix_add(len(prefills), tokens)
        if decode:   # the decoders' step, as _finish_iteration books it
            kv.used += reserved
            g = self.last_tok_groups
            if g:
                itl_add = self.fleet.itl_add
                for t0, c in g.items():
                    itl_add(dt if t0 == clock else end - t0, c)
            n_meas = self.n_meas
            self.last_tok_groups = {end: n_meas} if n_meas else {}
            self.last_dec_end = end
            self.dc += 1
            self.ctx_sum = ctx_sum + n
        for r, chunk in prefills:   # as _finish_prefills (both roles on this replica)
            done = r.pf_done + chunk
            r.pf_done = done
            if done < r.target:
                continue
            del prefilling[r.rid]
            if caching:
                self._cache_prefix(r)
            if self._emit_first(r, end):
                self._finish_prefilled(r, end)
            else:
                self._join_decode(r, end)
        if decode:
            heap = self.heap
            if heap[0][0] <= self.dc:
                self._complete_finished(end)
        return True
