"""Fast decode runs: many decode iterations of an unchanged batch taken in one step.

When the next iteration is decode-only, nothing changes the batch until the next completion,
the next KV-block shortfall, or an arrival. The fast engine plans that run of ``k`` iterations
at once (:class:`DecodeRun`: its start, the end time and step time of each iteration, and the
new KV blocks it takes), waits once, and books it (:meth:`DecodeRuns._end_run`). The end times
are sequential sums (``t = t + step``), so they equal the reference engine's clock bit for bit.
Short runs (up to :data:`SHORT_RUN` iterations) are summed in plain Python by the step model's
``decode_run``, long ones with numpy. A long run of a replica that is not pre-routed (an arrival
routed there by the fleet's state cuts it, and half of them are cut within ~25 iterations) is
planned lazily where the step model has a plain-Python ``decode_run``: its first
:data:`LAZY_RUN` iterations in Python, the rest (numpy) only when the run reaches their end
uncut (:meth:`DecodeRuns._extend`). Either way the iterations, their step times and end times are
the same: the plan only decides how much of them is worked out ahead.

An event that cuts a run short (an arrival routed here, a drain) takes effect at the first
iteration boundary at or after it -- the moment the reference engine would have seen it. At the
end of the simulation a run in progress is settled up to the end time (:meth:`DecodeRuns.settle`).

The lean loop that runs a pre-routed replica's iterations and runs ahead of the SimPy clock
(:mod:`sim.serving.lean`) books short runs in place with the same float operations.
"""
from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np
import simpy

from sim.serving.iteration import Iterations
from sim.serving.kv_cache import run_needs
from sim.serving.clock import boundary_at

MAX_RUN = 2048  # iterations per fast run (bounds array sizes; a longer run just continues)
LAZY_RUN = 64  # a lazily planned long run's iterations worked out first (numpy's per-call cost, ~45 us, is ~120 of these; 32 and 48 measured slower on the baseline)
SHORT_RUN = 24  # runs of up to this many iterations (or cut short by an arrival within about as many) are summed in plain Python (numpy's per-call cost is higher)
FAIL = "failure"  # interrupt cause: the replica failed (its process ends)
RUN, STEP = "run", "step"  # kinds of step the lean loop hands back (DecodeRuns._ahead)


class DecodeRun:
    """A run of decode iterations of an unchanged batch: ``start`` (s), ``ends[i]`` and
    ``steps[i]`` (s) of iteration ``i``, and the new KV blocks per iteration as a period of
    ``block_size`` phases ``rot`` summing to ``per`` (see :meth:`~sim.serving.kv_cache.KVCache.period`).
    A lazily planned run has ``more`` iterations after ``ends[-1]`` not worked out yet, the first of
    them with context ``ctx`` (:meth:`DecodeRuns._extend`)."""

    __slots__ = ("start", "ends", "steps", "rot", "per", "more", "ctx")

    def __init__(self, start: float, ends, steps, rot: list[int], per: int, more: int = 0, ctx: int = 0) -> None:
        self.start = start
        self.ends = ends
        self.steps = steps
        self.rot = rot
        self.per = per
        self.more = more
        self.ctx = ctx

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
        more = 0
        lazy = self._lazy and not self.pulls
        if lazy and k > LAZY_RUN:
            # lazily: the first LAZY_RUN iterations now, the rest when the run gets there (_extend)
            more, k = k - LAZY_RUN, LAZY_RUN
        if k <= SHORT_RUN or lazy:
            # the same sequential sums as the reference engine's clock
            steps, ends = self.decode_run(n, base, k, start, na)
        else:
            steps, ends = self._sums(n, base, k, start)
            if na < ends[-1]:
                k = int(np.searchsorted(ends, na, side="left")) + 1
                steps, ends = steps[:k], ends[:k]
        rot, per = self.kv.period(self.dc, n)
        return DecodeRun(start, ends, steps, rot, per, more, base + n * k)

    def _sums(self, n: int, ctx: int, k: int, start: float):
        """Step times and end times (numpy) of ``k`` decode iterations of ``n`` sequences from ``start``,
        the first with context ``ctx``: the reference engine's sequential sums, as a cumulative sum."""
        steps = self.model.decode_times(n, ctx + n * np.arange(k, dtype=np.int64))
        return steps, np.cumsum(np.concatenate(([start], steps)))[1:]

    def _extend(self, run: DecodeRun) -> None:
        """A lazily planned run reached the end of what was worked out, uncut: the rest of its
        iterations (numpy), continuing the contexts and the sequential sums of the end times."""
        steps, ends = self._sums(self.n_dec, run.ctx, run.more, run.ends[-1])
        run.steps = np.concatenate((run.steps, steps))
        run.ends = np.concatenate((run.ends, ends))
        run.more = 0

    def _wait_run(self, run: DecodeRun):
        """Wait (SimPy) for a fast run to end, or for the first boundary after an event that cuts it
        short; returns how many of its iterations ran."""
        env = self.env
        self.run = run
        self.run_start = run.start
        try:
            while True:
                yield boundary_at(env, float(run.ends[-1]), self.index)
                if not run.more or self._cut:   # (cut: an event came during its last iteration worked out)
                    break
                self._extend(run)
            j = len(run.ends) - 1
        except simpy.Interrupt as exc:
            if exc.cause == FAIL:
                raise
            ends = run.ends
            t = env.now
            j = min(bisect_left(ends, t), len(ends) - 1)  # the first boundary at or after the event
            # waited for even when it is now: booked where the reference engine books that iteration's
            # end among the events of the instant (sim.serving.clock.boundary_at)
            yield boundary_at(env, float(ends[j]), self.index)
        self.run = None
        self._cut = False
        self.run_start = -1.0
        return j + 1

    def _end_run(self, run: DecodeRun, m: int) -> None:
        """Book the first ``m`` iterations of a fast run and complete the requests that finished."""
        end = self._apply_run(run, m)
        self._busy(run.start, end)
        self._cycle_booked(run.start if m == 1 else float(run.ends[m - 2]), [], self.n_dec, self.ctx_sum - self.n_dec)
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

    def _mix_add(self, prompts: int, tokens: int) -> None:
        """Count the iteration just booked (``prompts`` prompt chunks and the decoders of ``cyc_seqs``,
        ``tokens`` tokens) in ``token_mix``: ``(prompts, decodes, tokens)`` -> iterations of that mix."""
        key = (prompts, self.cyc_seqs - prompts, tokens)
        self.token_mix[key] = self.token_mix.get(key, 0) + 1

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
        self.iterations += m
        self.micro_batches_run += m * min(self.mb_most, n)
        if self.token_mix is not None:   # (an MoE: the experts read grow concavely with the tokens)
            self.token_mix[0, n, n] = self.token_mix.get((0, n, n), 0) + m
        self.kv_read += m * (self.ctx_sum + n) + n * (m * (m - 1) // 2)   # contexts ctx_sum + n, + 2n, ...
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
