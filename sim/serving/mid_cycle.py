"""Who still waits on a pipelined replica mid-cycle: the requests its micro-batches took, and the
clients who left, counted at the instant a reader looks.

A pipelined replica (``pipeline_parallel > 1``) books a cycle at its end, but a request queued during
the cycle ``(s, t]`` joins a micro-batch at an admission point inside it, ``t`` minus its lead
(:meth:`~sim.serving.iteration.Iterations._lead`), and stays in the replica's queue until ``t``. A reader
of the queue at an instant ``a`` inside the cycle (a waiting room counting an arrival, the router's
outstanding count, the autoscaler's ``queue`` metric, a time-series row) counts, of the requests queued
in it:

* **taken** by ``a``: its admission point ``p`` is before ``a`` (an arrival at ``p`` itself comes
  before it), its client was still there at ``p`` (deadline after ``p``; no deadline holds for one
  admitted before: handed off by a prefill replica, or retried after its replica failed), and no request that waited
  from before ``s`` and is still there at ``t`` is ahead of it (taken first, at ``t``, it holds back
  those behind it). It holds no place in the waiting room from ``p`` on; it is running, so it stays in
  the outstanding count, even if its client's deadline passes before ``t``;
* **gone**: its client's deadline is at or before ``a`` and it was not taken before it;
* **waiting**: any other.

The same rule decides its fate at ``t`` (:meth:`~sim.serving.waiting.Waiting.expire_at_boundary`, the
lead), so a reader mid-cycle (the cycle in progress) and the engine at ``t`` (a pre-routed request
taken at the boundary after its arrival, before the batch is formed: the cycle just booked) count the
same requests. A request is taken at its point only if the batch formed at ``t`` has a sequence
slot for it (``max_num_seqs`` less the requests still admitted after those leaving at ``t``), the
slots going in the order of the points (the queue's order at one point): a request of a higher
priority queued later does not take the slot of one taken before it arrived, and the engine admits
the requests taken inside the cycle first at ``t``, in that order (:func:`taken_first`,
:meth:`~sim.serving.waiting.Waiting.lift`). It must also surely fit the token budget and the KV blocks
of the batch at ``t`` as its policy admits it there (:meth:`Cycle.admits`, bounded from the state at the
boundary); where that cannot be shown it is not taken (it holds its place until ``t``), so a waiting
room never holds more than its limit (a request a preemption puts back comes on top of it: never
refused, it counts as waiting, as vLLM's waiting queue counts a preempted request put back at its front).

Where the cycle does not reach ``t`` (the replica fails inside it, or the run ends there), a request
taken by then has started (:func:`start_taken`): a failure retries it as a running request and the run's
end leaves it in flight, whatever its client's deadline.

>>> point_lead(1.0, 0.0, 0.5, 2, None)    # PP2 without a flow shop: micro-batch 2 at 0.5
0.5
>>> point_lead(1.0, 0.0, 0.6, 2, None)    # after it: the next cycle's first, at its end
0.0
"""
from __future__ import annotations

import math
from bisect import bisect_left
from typing import TYPE_CHECKING

from sim.perf.pipeline import admission_offsets, pipeline_cycle
from sim.serving.batching import decode_shape, prefill_shape

if TYPE_CHECKING:
    from sim.serving.replica import Replica
    from sim.serving.request import Req


def point_lead(t: float, s: float, v: float, m: int, fractions: list[float] | None) -> float:
    """How long before the end ``t`` of the cycle ``(s, t]`` a request visible at ``v`` inside it joins
    one of its ``m`` micro-batches (0: at ``t``), at the admission points ``fractions`` of the cycle
    (None: ``j c / m``); the rule of :meth:`~sim.serving.iteration.Iterations._point_lead`."""
    if m == 1:
        return 0.0
    c = t - s
    if fractions is None:
        j = min(m, max(1, math.ceil((v - s) * m / c)))
        return (m - j) * c / m
    for f in fractions[1:]:
        if s + f * c >= v:
            return c - f * c
    return 0.0


def shape_fractions(rep: "Replica", shape) -> list[float] | None:
    """The admission points of a cycle of ``shape`` as fractions of it, from its flow shop (None where
    the step model prices none): :meth:`~sim.serving.iteration.Iterations._admission_fractions`."""
    schedule = rep._pp_schedule
    if schedule is None:
        return None
    jobs = schedule(shape)
    cycle = pipeline_cycle(jobs, rep._pp)
    return [o / cycle for o in admission_offsets(jobs)]


class Cycle:
    """The cycle ``(s, t]`` of ``seqs`` sequences whose micro-batches take the requests queued in it;
    ``leaving``: how many of the admitted requests leave the batch at ``t`` (a callable, worked out
    when needed)."""

    __slots__ = ("s", "t", "m", "_rep", "_shape", "_fractions", "_leaving", "_work")

    def __init__(self, rep: "Replica", s: float, t: float, seqs: int, shape, leaving,
                 work: tuple = ((), 0, -1)) -> None:
        self.s = s
        self.t = t
        self.m = min(rep.slots, seqs)
        self._rep = rep
        self._shape = shape        # a BatchShape, or a callable making it (worked out when needed)
        self._fractions: list[float] | None = None
        self._leaving = leaving
        # what the cycle still does to the batch by t: (its prompt chunks, the KV blocks its decode
        # iterations take, the decode iteration counter at t; -1: the replica's, the cycle booked)
        self._work = work

    def seats(self) -> int:
        """Sequences the batch formed at ``t`` can admit (``max_num_seqs`` less those still admitted)."""
        rep = self._rep
        return rep.max_seqs - len(rep.active) + self._leaving()

    def admits(self, reqs: "list[Req]") -> int:
        """How many of ``reqs`` (queued requests, in the order the engine takes them at ``t``, within
        the sequence slots) the batch formed at ``t`` surely admits under the token budget, the KV
        blocks (with the watermark, a full reservation, the prefill gate) and without a preemption at
        ``t``, as its policy (:mod:`sim.serving.batching`) admits them: a head-of-line prefix.

        What the batch at ``t`` starts from is bounded from the state now: the KV blocks in use grow
        by those the cycle's decode iterations take and the next decode iteration's need by one
        block per prompt finishing in the cycle (completions at ``t`` only free blocks); the budget
        is spent first by every admitted request still running (one token a decoder where decodes
        share it, the rest of a prompt still prefilling), those leaving at ``t`` included. Where the
        bound cannot show a request is admitted it is not counted taken (it holds its place until
        ``t``): never more taken than the engine admits, so the waiting room never holds more than
        its limit.

        Two refusals here are never reached by a request queued inside the cycle, and are the engine's
        rule where they would be: a whole prompt over the budget (``mixed`` without chunking) is refused
        at load (``max_batched_tokens >= max_model_len``: :data:`~sim.scenario.schedulers.BUDGET_REFUSALS`),
        and a recompute (prompt plus the tokens generated) stays under ``max_model_len``, so none is
        over-long; on a decode replica a request still needing its prompt is one a preemption put back,
        queued before the cycle (it holds back those behind it: :func:`taken_points`)."""
        rep = self._rep
        kv = rep.kv
        bs = kv.block_size
        prefills, grow, dc = self._work
        dc = rep.dc if dc < 0 else dc
        joiners = 0
        chunks = {}
        for r, c in prefills:
            chunks[r.rid] = c
            if r.pf_done + c >= r.target:
                joiners += 1
        cap = kv.total - kv.watermark
        used = kv.used + grow + kv.needs_at(dc) + joiners     # blocks in use at t and the next decode's
        decode_role = rep.role == "decode"
        pct = rep.batching.min_free_pct
        if pct and not decode_role and not 100 * (kv.total - used) > pct * kv.total:
            return 0                 # the prefill gate may be shut at t (prefill_gate_open)
        continuous = rep.batching.name == "continuous"
        split = mixed = False
        budget = rep.budget
        if not continuous and not decode_role:
            split, mixed = rep.batching.split, rep.batching.mixed
            for r in rep.active.values():
                rest = 0 if r.decoding else r.target - r.pf_done - chunks.get(r.rid, 0)
                budget -= rest if rest > 0 else (1 if mixed else 0)
        full = rep.full
        committed = rep.committed
        pinned = kv.pinned
        if full and kv.prefix_caching:      # prompts finishing in the cycle may pin their class's prefix
            pinned += sum(kv.blocks_for(r.target) for r in rep.active.values() if not r.decoding)
        n = 0
        for r in reqs:
            target = r.target
            if decode_role:
                if not r.kv_ready:
                    break                                  # a prompt to prefill here: not foreseen
                blocks = kv.blocks_for(target) + 1         # it joins the decode batch at t
            else:
                hit = kv.prefix_hit(r.cls, target)
                need = target - hit
                if continuous:
                    if need > budget and (n or need <= rep.budget):
                        break
                elif budget <= 0 or (not split and need > budget):
                    break
                blocks = kv.blocks_for(target) - hit // bs
                if full:
                    final = kv.blocks_for(target + r.output - r.gen - 1) - hit // bs
                    if committed + pinned + final > cap:
                        break
                    committed += final
                budget -= min(need, budget) if split else need
            if used + blocks > cap:
                break
            used += blocks
            n += 1
        return n

    def point(self, v: float) -> float:
        """The admission point of a request visible at ``v`` (``t``: none inside the cycle)."""
        if self.m == 1:
            return self.t
        fr = self._fractions
        if fr is None and self._rep._pp_schedule is not None:
            shape = self._shape() if callable(self._shape) else self._shape
            fr = self._fractions = shape_fractions(self._rep, shape)
        return self.t - point_lead(self.t, self.s, v, self.m, fr)


def run_cycle(run, t: float) -> tuple[int, float] | None:
    """``(j, start)`` of the iteration of the fast ``run`` whose end is the first at or after ``t`` (its
    ``j``-th; ``start`` the run's own start for the first, else the iteration before's end), or None past
    the run's last booked end."""
    ends = run.ends
    j = bisect_left(ends, t)
    if j >= len(ends):
        return None
    return j, (float(ends[j - 1]) if j else run.start)


def cycle_at(rep: "Replica", a: float) -> Cycle | None:
    """The cycle of a pipelined replica whose micro-batches take the requests queued at ``a``: the one
    in progress, if ``a`` is inside it (``s < a <= t``); without one, the cycle just booked if its end
    is the replica's clock and ``a`` is inside it (the engine at that boundary, before it forms the next
    batch); else None."""
    run = rep.run
    if run is not None:
        at = run_cycle(run, a)
        if at is None or not at[1] < a:
            return None
        j, s = at
        n = rep.n_dec
        ctx = rep.ctx_sum + j * n
        dc = rep.dc + j + 1
        return Cycle(rep, s, float(run.ends[j]), n, lambda: decode_shape(n, ctx), lambda: finishing(rep, dc),
                     ((), run.new_blocks(j + 1), rep.dc + j + 1))
    if rep.run_start >= 0:
        s = rep.run_start
        t, prefills, n_dec, ctx_sum = rep.run_info
        if not s < a <= t:
            return None
        return Cycle(rep, s, t, len(prefills) + n_dec,
                     lambda: prefill_shape(prefills, n_dec, ctx_sum) if prefills else decode_shape(n_dec, ctx_sum),
                     lambda: finishing(rep, rep.dc + 1 if n_dec else -1, prefills),
                     (prefills, rep.kv.needs_at(rep.dc) if n_dec else 0, rep.dc + 1 if n_dec else rep.dc))
    if rep.busy_to == rep.clock and rep.cyc_start < a <= rep.busy_to and rep.cyc_shape is not None:
        # booked: the requests that left the batch at its end are out of it already
        return Cycle(rep, rep.cyc_start, rep.busy_to, rep.cyc_seqs, rep.cyc_shape, lambda: 0)
    return None


def finishing(rep: "Replica", dc: int, prefills=()) -> int:
    """Admitted requests that leave the batch when the iteration in progress is booked: decoders whose
    last token is that of decode iteration ``dc`` or earlier (-1: the iteration runs no decode), and
    prompts whose last chunk runs in it that then complete (their first token their last) or, on a
    prefill replica, are handed off (:meth:`~sim.serving.iteration.Iterations._finish_prefills`)."""
    active = rep.active
    n = 0
    if dc >= 0:
        for key, _, epoch, r in rep.heap:
            if key <= dc and epoch == r.epoch and r.decoding and r.rid in active:
                n += 1
    handed_off = rep.role == "prefill"
    for r, chunk in prefills:
        if r.pf_done + chunk >= r.target and (handed_off or r.gen + 1 >= r.output):
            n += 1
    return n


def taken_points(cyc: Cycle, items: "list[Req]") -> list[float]:
    """For ``items`` (the requests in the order they are taken), the instant each is taken inside the
    cycle ``cyc`` (``inf``: not inside it; the module's rule).

    The sequence slots go in the order of the admission points (in the queue's order at one point):
    a request a micro-batch took keeps its slot, though a request of a higher priority queued later
    comes before it in the queue (it was not there at that point; the engine admits the requests
    taken inside the cycle first at its end: :func:`taken_first`)."""
    s, t = cyc.s, cyc.t
    out = [math.inf] * len(items)
    if cyc.m == 1:
        return out
    points = []
    for i, r in enumerate(items):
        if r.queued_at <= s:
            if r.sched >= 0 or r.deadline > t:
                break                # still there at t: taken first there, it holds back those behind it
            continue
        q = cyc.point(r.queued_at)
        if r.sched >= 0 or r.deadline > q:   # admitted before (handed off, retried): no deadline; else
            points.append((q, i))            # its client is there at its point (if not, gone: no slot)
    if points:
        order = sorted(points)[:max(cyc.seats(), 0)]   # max_num_seqs reached at t: no more taken
        if order and order[0][0] < t:
            order = order[:cyc.admits([items[i] for _, i in order])]   # the budget, the KV blocks
        for q, i in order:
            if q < t:
                out[i] = q
    return out


def taken_first(rep: "Replica") -> "list[Req]":
    """At the end ``t`` of a pipelined replica's cycle, before its batch is formed: the queued requests
    a micro-batch took inside the cycle, in the order of their admission points (what
    :meth:`~sim.serving.waiting.Waiting.lift` puts first)."""
    cyc = cycle_at(rep, rep.clock)
    if cyc is None or cyc.m == 1:
        return []
    s, t = cyc.s, cyc.t
    w = rep.waiting
    head = w.peek()
    if head.queued_at <= s and (head.sched >= 0 or head.deadline > t):
        return []                    # it holds back every other (a long queue: no sort)
    if w.priority:
        # those queued inside the cycle ahead of the first request that waited through it, in order
        stop = min((e for e in w._heap if e[2].queued_at <= s and (e[2].sched >= 0 or e[2].deadline > t)),
                   default=None)
        items = [e[2] for e in sorted(e for e in w._heap if e[2].queued_at > s and (stop is None or e < stop))]
    else:
        items = queue_order(rep)
    pts = taken_points(cyc, items)
    return [items[i] for p, i in sorted((p, i) for i, p in enumerate(pts) if p < t)]


def queue_order(rep: "Replica") -> "list[Req]":
    """The replica's waiting requests in the order the engine takes them."""
    w = rep.waiting
    return [e[2] for e in sorted(w._heap)] if w.priority else list(w._dq)


def split(cyc: Cycle | None, items: "list[Req]", a: float) -> tuple[int, int]:
    """``(waiting, taken)`` among ``items`` (queued requests in the order they are taken) at ``a``,
    inside the cycle ``cyc`` (None: none takes them mid-cycle; the module's rule)."""
    if cyc is None or cyc.m == 1:
        return sum(1 for r in items if r.sched >= 0 or r.deadline > a), 0
    waiting = taken = 0
    for r, p in zip(items, taken_points(cyc, items)):
        if p < a:
            taken += 1
        elif r.sched >= 0 or r.deadline > a:
            waiting += 1
    return waiting, taken


def counts_at(rep: "Replica", a: float) -> tuple[int, int]:
    """``(waiting, taken)`` among a pipelined replica's queued requests at ``a``: those waiting there
    (neither taken nor gone), and those its micro-batches have taken (running, though still queued)."""
    w = rep.waiting
    cyc = cycle_at(rep, a) if len(w) else None
    if cyc is None or cyc.m == 1:
        return w.present(a), 0
    return split(cyc, queue_order(rep), a)


def arrived_counts(rep: "Replica", t: float) -> tuple[int, int]:
    """:func:`counts_at` on a pre-routed pipelined replica, whose requests that arrived since its last
    boundary are not queued yet (taken at the next, where a full waiting room refuses them as
    :meth:`~sim.serving.replica.Replica.arrive_limited` does): counted as if each had been queued at
    its arrival."""
    inc = []
    for r in rep.incoming:
        if r.queued_at > t:
            break
        inc.append(r)
    if not inc:
        return counts_at(rep, t)
    room = rep.max_waiting if rep.max_waiting is not None else math.inf
    w = rep.waiting
    keyed = sorted(w._heap) if w.priority else [(0, i, r) for i, r in enumerate(w._dq)]
    back = w._back if w.priority else len(keyed)
    for r in inc:
        a = r.queued_at
        items = [e[2] for e in keyed]
        if room != math.inf:
            n = split(cycle_at(rep, a), items, a)[0]
            if n >= room and (n or not rep._idle_at(a)):
                continue             # refused when the replica takes it
        back += 1
        keyed.append(((-r.prio if w.priority else 0), back, r))
        if w.priority:
            keyed.sort(key=lambda e: (e[0], e[1]))
    return split(cycle_at(rep, t), [e[2] for e in keyed], t)


def taken_at(rep: "Replica", a: float) -> "list[tuple[Req, float]]":
    """A pipelined replica's queued requests its micro-batches have taken by ``a`` inside the cycle in
    progress (the module's rule), each with the instant it was taken, in the queue's order."""
    w = rep.waiting
    cyc = cycle_at(rep, a) if len(w) else None
    if cyc is None or cyc.m == 1:
        return []
    items = queue_order(rep)
    return [(r, p) for r, p in zip(items, taken_points(cyc, items)) if p < a]


def start_taken(rep: "Replica", a: float) -> None:
    """Where the cycle in progress will not reach its end (the replica fails at ``a``, or the run ends
    then): each request a micro-batch took by ``a`` runs from that instant (``sched``, its first
    admission), as one admitted at a boundary, so it no longer gives up waiting and a failure retries it
    as a running request."""
    for r, p in taken_at(rep, a):
        if r.sched < 0:
            r.sched = p


def outstanding_at(rep: "Replica", a: float) -> int:
    """A pipelined replica's requests in the system at ``a``: running (admitted, or taken by a
    micro-batch mid-cycle) or waiting; a client who left mid-cycle before a micro-batch took its
    request is not counted, though the queue keeps the request until the cycle's end."""
    waiting, taken = counts_at(rep, a)
    return len(rep.active) + waiting + taken


__all__ = ["Cycle", "arrived_counts", "counts_at", "cycle_at", "finishing", "outstanding_at", "point_lead",
           "queue_order", "shape_fractions", "split", "start_taken", "taken_at", "taken_first", "taken_points"]
