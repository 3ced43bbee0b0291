"""Fast decode runs: many decode iterations of an unchanged batch taken in one step.

When the next iteration is decode-only, nothing changes the batch until the next completion,
the next KV-block shortfall, or an arrival. The fast engine plans that run of ``k`` iterations
at once (:class:`DecodeRun`: its start, the end time and step time of each iteration, and the
new KV blocks it takes), waits once, and books it (:meth:`DecodeRuns._end_run`). The end times
are sequential sums (``t = t + step``), so they equal the reference engine's clock bit for bit.
Short runs (up to :data:`SHORT_RUN` iterations) are summed in plain Python by the step model's
``decode_run``, long ones with numpy.

An event that cuts a run short (an arrival routed here, a drain) takes effect at the first
iteration boundary at or after it -- the moment the reference engine would have seen it. At the
end of the simulation a run in progress is settled up to the end time (:meth:`DecodeRuns.settle`).

**The lean loop** (:meth:`DecodeRuns._ahead`) runs whole iterations and runs of a pre-routed
replica ahead of the SimPy clock, up to ``Fleet.sync_t``, in one plain loop for the common
configuration (FCFS continuous batching, no chunked prefill, no prefix caching). It calls the
same steps as the general path where a call costs nothing measurable
(:meth:`~sim.serving.iteration.Iterations._admit`, ``_emit_first``, ``_join_decode``,
``_leave_decode``, :meth:`DecodeRuns._plan_run` and :meth:`DecodeRuns._end_run` for long runs)
and writes out the steps taken once per prefill iteration, decode run or completion --
admission (:func:`~sim.serving.batching.admit_whole_prompts`), finishing whole prefills
(``_finish_prefills``), the run length (:meth:`DecodeRuns._run_length`), booking a short run
(:meth:`DecodeRuns._book_run`) and completions (``_complete_finished``) -- where calling them
measured 2-10 % each of the reference workload's CPU time.
``tests/test_prerouted.py`` checks that it books exactly what the general path books, bit for bit.
It hands back to the general path where a preemption, a request that can never be admitted or
idling past ``sync_t`` needs it.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from heapq import heappop

import numpy as np
import simpy

from sim.serving.batching import prefill_shape
from sim.serving.iteration import _STEP_CACHE, Iterations
from sim.serving.kv_cache import run_needs

MAX_RUN = 2048  # iterations per fast run (bounds array sizes; a longer run just continues)
SHORT_RUN = 24  # runs of up to this many iterations (or cut short by an arrival within about as many) are summed in plain Python (numpy's per-call cost is higher)
FAIL = "failure"  # interrupt cause: the replica failed (its process ends)
RUN, STEP = "run", "step"  # kinds of step the lean loop hands back (DecodeRuns._ahead)


class DecodeRun:
    """A run of decode iterations of an unchanged batch: ``start`` (s), ``ends[i]`` and
    ``steps[i]`` (s) of iteration ``i``, and the new KV blocks per iteration as a period of
    ``block_size`` phases ``rot`` summing to ``per`` (see :meth:`~sim.serving.kv_cache.KVCache.period`)."""

    __slots__ = ("start", "ends", "steps", "rot", "per")

    def __init__(self, start: float, ends, steps, rot: list[int], per: int) -> None:
        self.start = start
        self.ends = ends
        self.steps = steps
        self.rot = rot
        self.per = per

    def new_blocks(self, m: int) -> int:
        """KV blocks the first ``m`` iterations take."""
        return run_needs(self.rot, self.per, m)


class DecodeRuns(Iterations):
    """Planning, waiting for, booking and settling fast runs; the lean loop. Part of
    :class:`~sim.serving.replica.Replica`."""

    def _run_length(self) -> int:
        """How many identical-batch decode iterations can run before anything changes (>= 1)."""
        if self.n_dec == 0:
            return 0
        heap = self.heap
        self._drop_stale()
        k = heap[0][0] - self.dc if heap else MAX_RUN
        k = min(k, MAX_RUN)
        if k <= 1:
            return k
        return self.kv.iterations_that_fit(k, self.dc, self.n_dec)

    _fast_k = _run_length  # the name the batching policies call

    def _plan_run(self, k: int) -> DecodeRun:
        """A fast run: ``k`` decode iterations of an unchanged batch, or fewer if a pre-routed
        request arrives first (the run then ends at the boundary at or after its arrival)."""
        n = self.n_dec
        base = self.ctx_sum + n
        start = self.clock
        na = self.next_arrival() if self.pulls else math.inf
        if k <= SHORT_RUN:
            # the same sequential sums as the reference engine's clock
            steps, ends = self.decode_run(n, base, k, start, na)
        else:
            steps = self.model.decode_times(n, base + n * np.arange(k, dtype=np.int64))
            ends = np.cumsum(np.concatenate(([start], steps)))[1:]
            if na < ends[-1]:
                k = int(np.searchsorted(ends, na, side="left")) + 1
                steps, ends = steps[:k], ends[:k]
        rot, per = self.kv.period(self.dc, n)
        return DecodeRun(start, ends, steps, rot, per)

    def _wait_run(self, run: DecodeRun):
        """Wait (SimPy) for a fast run to end, or for the first boundary after an event that cuts it
        short; returns how many of its iterations ran."""
        env = self.env
        ends = run.ends
        k = len(ends)
        j = k - 1
        self.run = run
        self.run_start = run.start
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

    def _end_run(self, run: DecodeRun, m: int) -> None:
        """Book the first ``m`` iterations of a fast run and complete the requests that finished."""
        end = self._apply_run(run, m)
        self._busy(run.start, end)
        self.clock = end
        heap = self.heap
        if heap and heap[0][0] <= self.dc:
            self._complete_finished(end)
        if self.fleet.central is not None:
            self.fleet.pull(self)

    def _apply_run(self, run: DecodeRun, m: int) -> float:
        """Book the first ``m`` iterations of a fast run; returns the end time of the last one."""
        ends = run.ends
        end = float(ends[m - 1])
        steps = run.steps
        self._book_run(run.start, float(ends[0]), end, float(steps[0]), steps[1:m], m, run.new_blocks(m))
        return end

    def _book_run(self, start: float, first_end: float, end: float, first_step: float, later_steps, m: int,
                  new_blocks: int) -> None:
        """``m`` decode iterations ended at ``first_end`` .. ``end`` (``later_steps``: the step times
        of the 2nd to ``m``-th) and took ``new_blocks`` KV blocks: gaps, tokens, contexts."""
        n = self.n_dec
        n_meas = self.n_meas
        self.fleet.itl_add_run(self.last_tok_groups, start, first_end, first_step, later_steps, n_meas)
        self.last_tok_groups = {end: n_meas} if n_meas else {}
        self.last_dec_end = end
        self.tokens_processed += n * m
        self.kv.used += new_blocks
        self.dc += m
        self.ctx_sum += n * m

    def settle(self, t: float) -> None:
        """Bring the books up to time ``t`` (the end of the run): iterations of a fast run that
        finished by ``t`` are applied, and busy time includes an iteration still in progress."""
        run = self.run
        if run is not None:
            m = bisect_left(run.ends, t)  # iterations that ended before t
            if m > 0:
                self._apply_run(run, m)
            self.run = None
            self._cut = False
        self.busy_closed(t)

    def _ahead(self, limit: float):
        """The lean loop, for pre-routed replicas with FCFS continuous batching, no chunked prefill
        and no prefix caching (the common case, and the reference workload's).

        Runs whole iterations and decode runs that end before ``limit`` (``Fleet.sync_t``); a single
        decode iteration is a run of one. Returns ``None`` at an iteration boundary where the
        general path takes over (idle until past ``limit``, a preemption, a request that can never
        be admitted), or the started step that reaches ``limit``: ``(RUN, run)`` or
        ``(STEP, tokens, prefills, dt)`` for a prefill iteration whose requests are admitted.
        """
        inc = self.incoming
        dq = self.waiting._dq
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
        pf_cache = self._pf_cache
        itl_run = fleet.itl_add_run
        complete = fleet.complete
        dt_last = 0.0      # the last decode step's time (an estimate of the next ones)
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
            n_act = len(active)
            if dq and n_act < max_seqs:
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
                    key = tuple(needs)
                    dt = pf_cache.get(key)
                    if dt is None:
                        dt = self._step_time(prefill_shape(prefills, 0, 0))
                        if len(pf_cache) < _STEP_CACHE:
                            pf_cache[key] = dt
                    end = clock + dt
                    if not end < limit:
                        return STEP, sum(needs), prefills, dt
                    if clock != self.busy_to:   # a new busy stretch (as _busy, inlined)
                        if self.busy_from >= 0:
                            self.busy_acc += self.busy_to - self.busy_from
                        self.busy_from = clock
                    self.busy_to = end
                    self.clock = end
                    self.tokens_processed += sum(needs)
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
            na = inc[0].arrival if inc else fleet.known_until
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
