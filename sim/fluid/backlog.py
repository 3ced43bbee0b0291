"""What a fluid backlog does to latency percentiles.

A step of the fluid tier serves its requests through the capacity curve at the step's load; while
a backlog is carried, each of them also waits ``W`` seconds first: the wait, first come first
served, of the requests the fluid queue serves in that step (:func:`step_waits`), and is read at the
load served when it is served (:meth:`StepWaits.on_curve`: at capacity while the backlog lasts). The
queue's cumulative arrivals ``A(t)`` and services ``D(t)`` are linear within a step (the fluid tier's
rate is constant within one; piecewise linear on its sub-steps where the rate varies inside it,
:func:`~sim.fluid.substep.sub_waits`); the request served at ``s`` is the ``D(s)``-th to arrive, at
``A^{-1}(D(s))``, and waited ``s - A^{-1}(D(s))``. ``W`` is the mean of that over the step's
services (what the means add). Within a step that wait is a (piecewise-)linear function of ``s``: a
backlog growing through a step, or clearing halfway through it, makes the step's requests wait a spread
of times, so the step's TTFT, E2E and queue-time distributions are the curve's **shifted by each
request's own wait**: read at evenly spread instants of the step, each weighted by the rate served then
(:class:`StepWaits`), a value in histogram bin ``b`` (geometric centre ``c_b``) moves to the bin of
``c_b + wait`` (each wait taken at its own bin's centre, within half a 1 % bin, so that the instants
read at one grid row of the curve, as every instant served at capacity is, are shifted together).
Mixing the shifted rows over steps gives percentiles that include the backlog, as a request-level
run's do (one mean per step read a backlog clearing halfway through an hourly step at p90 424 s
where it is 795 s: ``tests/test_tiers_within_step.py``). Error bound of a percentile: the wait at its
bin's centre (0.5 %), the sum placed in its own bin and read at that bin's centre (0.5 % more), so about
1 % of the value; and the wait is read at :data:`POINTS` instants of the step, a staircase of a 144th of
a step (25 s of an hour).

(The wait of the newest arrival, ``backlog / capacity``, is what a request arriving then will
wait, not what those served meanwhile waited: while a backlog grows at ``lambda - mu`` they arrived
when it was shorter, and charging them the newest's overstated their waits by ``lambda / mu``.)

Requests still in the backlog at the end of the run are counted as the request-level tier counts
its in-flight requests (:mod:`sim.metrics.summary`): those waiting longer than the TTFT objective
enter TTFT and queue percentiles at their age at the end — a lower bound — and count against SLO
attainment. First come, first served,
the ``B`` waiting requests are the last ``B`` to arrive, and their ages are read off ``A(t)`` back
from the end (:func:`backlog_ages`).

    >>> from sim.metrics.histogram import LogHistogram
    >>> h = LogHistogram()
    >>> row = np.zeros(h.n_bins); row[h.bin_index(np.array([0.5]))[0]] = 1.0
    >>> rows = np.vstack([row, row])              # a two-point curve, the same at both loads
    >>> out = mix_rows(rows, np.array([0]), np.array([0.0]), np.array([10.0]), StepWaits.single(np.array([100.0])))
    >>> h.counts = out; h.total = 10.0; h.sum = 1005.0; h.min, h.max = 0.0, 1e7
    >>> abs(h.quantile(50) - 100.5) / 100.5 < 0.01
    True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from sim.fluid.curve import grid_position
from sim.metrics.histogram import LogHistogram

REF = LogHistogram()
AGE_POINTS = 64
"""Evenly spaced ages that stand for the end-of-run backlog's spread of ages."""


def _centres() -> np.ndarray:
    k = np.arange(REF.n_bins, dtype=np.float64)
    c = REF.lo * np.exp((k - 0.5) * REF._log_g)
    c[0] = 0.0
    return c


CENTRES = _centres()
"""The geometric centre of each reference bin (0 for bin 0): where a bin's values are taken to lie."""


def mix_rows(hists: np.ndarray, i: np.ndarray, w: np.ndarray, weight: np.ndarray,
             waits: "StepWaits | None" = None, shift: bool = True, full_row: np.ndarray | None = None) -> np.ndarray:
    """Counts of the mixture ``sum_k weight_k ((1 - w_k) hists[i_k] + w_k hists[i_k + 1])`` with step
    ``k``'s values shifted by the waits behind its backlog (see the module docstring): each of its
    instants' wait, weighted by the requests served then (:class:`StepWaits`), and, in the steps where a
    request waited (:attr:`StepWaits.spread`), read at the load served then where ``waits`` knows it
    (:meth:`StepWaits.on_curve`: at the top of the curve while the backlog lasts); ``shift=False``: read
    so but not shifted (TPOT), the instants at capacity (``waits.full``) read ``full_row`` where given (a
    saturated replica's); no ``waits``: every step at its ``(i, w)``, unshifted.

    ``hists`` is ``(grid, bins)`` of normalised rows; the other arguments are per step.
    """
    g, bins = hists.shape
    i = np.asarray(i)
    w = np.asarray(w, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    plain = np.ones(len(weight), dtype=bool)
    if waits is not None:
        plain[waits.rows[waits.spread]] = False
    hw = np.bincount(i[plain], weights=(weight * (1 - w))[plain], minlength=g) \
        + np.bincount(i[plain] + 1, weights=(weight * w)[plain], minlength=g)
    out = (hw[:, None] * hists).sum(axis=0)     # not BLAS `@`: same bytes whatever the thread count
    if waits is None:
        return out
    # each step's waits on the reference bins (each at its bin's centre, within half a bin, 0.5 %), summed
    # over the instants read at the same grid row, then each such row shifted by each wait once
    j = np.flatnonzero(waits.spread)
    j = j[weight[waits.rows[j]] > 0]
    if not len(j):
        return out
    k = waits.rows[j]
    step_w, step_r = waits.waits[j], waits.rate[j]
    tot = step_r.sum(axis=1)
    share = step_r / tot[:, None] * weight[k][:, None]
    if waits.pos is None:
        at_i, at_w = (np.repeat(x[k][:, None], step_w.shape[1], axis=1) for x in (i, w))
    else:
        at_i, at_w = (x[j] for x in waits.pos)
    if not shift:
        if full_row is not None and waits.full is not None:
            full = waits.full[j]
            out = out + float(share[full].sum()) * np.asarray(full_row, dtype=np.float64)
            share = np.where(full, 0.0, share)
        hw = np.bincount(at_i.ravel(), weights=(share * (1 - at_w)).ravel(), minlength=g) \
            + np.bincount(at_i.ravel() + 1, weights=(share * at_w).ravel(), minlength=g)
        return out + (hw[:, None] * hists).sum(axis=0)
    # each instant's mass split between its two grid rows (the shift is linear in the row), summed per
    # (grid row, wait bin): as many rows to shift as the curve has, however many loads the instants read
    wait_bin = np.tile(REF.bin_index(step_w.ravel()), 2)
    row_of = np.concatenate([at_i.ravel(), at_i.ravel() + 1])
    part = np.concatenate([(share * (1 - at_w)).ravel(), (share * at_w).ravel()])
    keep = part > 0
    cells, at = np.unique(row_of[keep] * bins + wait_bin[keep], return_inverse=True)
    mass = np.bincount(at.ravel(), weights=part[keep], minlength=len(cells))
    grid_rows = np.unique(cells // bins)
    starts = np.searchsorted(cells // bins, np.append(grid_rows, g + 1))
    for g_k, gi in enumerate(grid_rows):
        lo, hi = starts[g_k], starts[g_k + 1]
        row = hists[int(gi)]
        nz = np.flatnonzero(row)
        u = cells[lo:hi] % bins
        bins_at = REF.bin_index((CENTRES[nz][None, :] + CENTRES[u][:, None]).ravel())
        out += np.bincount(bins_at, weights=(mass[lo:hi][:, None] * row[nz][None, :]).ravel(), minlength=bins)
    return out


def arrival_times(cum: np.ndarray, edges: np.ndarray, count: np.ndarray) -> np.ndarray:
    """When the ``count``-th request arrived, with ``cum`` the cumulative arrivals at the step
    ``edges`` (``cum[0] = 0``) and a constant rate within each step (the first instant it was reached)."""
    n = len(edges) - 1
    k = np.clip(np.searchsorted(cum, count, side="left") - 1, 0, n - 1)
    step = cum[k + 1] - cum[k]
    frac = np.divide(count - cum[k], step, out=np.ones_like(np.asarray(count, dtype=np.float64)), where=step > 0)
    return edges[k] + np.clip(frac, 0.0, 1.0) * (edges[k + 1] - edges[k])


POINTS = 144
"""Instants per step at which the fluid queue's first-come-first-served waits are read: 12 per sub-step
(:data:`sim.fluid.substep.SUB` = 12; 25 s of an hour), so that no instant's span straddles two
sub-steps, each wait the queue's own at its instant, not interpolated between instants. A span holds a
change of regime (a backlog starting or clearing) only where it falls inside a sub-step, and reads it at
its midpoint: the hour of ``tests/test_fluid_hidden_backlog.py``, its backlog starting and clearing on
sub-step boundaries, reads SLO attainment 0.5070 for 0.5067 by hand. Before, 64 instants of 56.25 s,
whose spans straddled the sub-steps, read 0.498 (the two spans the backlog starts and clears in read as
wholly behind it), their waits interpolated between the instants (four per span) across the kinks
where it starts and clears."""


def fcfs_points(edges: np.ndarray, admitted: np.ndarray, served: np.ndarray, capacity: np.ndarray,
                points: int = POINTS, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per step (rows) and evenly spread instant ``s`` of it (columns): the wait (s) of the request the
    fluid queue serves at ``s``, first come first served, and the rate it serves at then (requests
    per step, the weight of that instant). Within a step the queue serves at ``capacity`` while a
    backlog is left and then as the requests arrive: ``D(s) = D(t) + min(capacity x, admitted x +
    B(t))`` at the fraction ``x`` of the step; the request served at ``s`` is the ``D(s)``-th to
    arrive, at ``A^{-1}(D(s))`` (see the module docstring). ``rows``: only those steps (all by default)."""
    edges = np.asarray(edges, dtype=np.float64)
    admitted = np.asarray(admitted, dtype=np.float64)
    served = np.asarray(served, dtype=np.float64)
    capacity = np.maximum(np.asarray(capacity, dtype=np.float64), served)
    cum_a = np.concatenate(([0.0], np.cumsum(admitted)))
    cum_d = np.concatenate(([0.0], np.cumsum(served)))
    k = np.arange(len(served)) if rows is None else np.asarray(rows, dtype=np.int64)
    b_start = cum_a[k] - cum_d[k]
    x = (np.arange(points) + 0.5) / points
    s = edges[k, None] + x[None, :] * (edges[k + 1] - edges[k])[:, None]
    full = capacity[k, None] * x[None, :]
    follow = admitted[k, None] * x[None, :] + np.maximum(b_start, 0.0)[:, None]
    d = cum_d[k, None] + np.minimum(np.minimum(full, follow), served[k, None])
    rate = np.where(full < follow, capacity[k, None], admitted[k, None]) * (served[k] > 0)[:, None]
    a = arrival_times(cum_a, edges, d.ravel()).reshape(d.shape)
    return np.maximum(s - a, 0.0), rate


def rate_mean(values: np.ndarray, rate: np.ndarray, fill: np.ndarray | float = 0.0) -> np.ndarray:
    """Per row, the mean of ``values`` weighted by ``rate`` (the requests served at each instant);
    ``fill`` where a row serves nobody.

        >>> rate_mean(np.array([[10.0, 20.0], [5.0, 7.0]]), np.array([[1.0, 3.0], [0.0, 0.0]]), -1.0).tolist()
        [17.5, -1.0]
    """
    tot = rate.sum(axis=1)
    out = np.array(np.broadcast_to(np.asarray(fill, dtype=np.float64), tot.shape), dtype=np.float64)
    return np.divide((values * rate).sum(axis=1), tot, out=out, where=tot > 0)


@dataclass(frozen=True)
class StepWaits:
    """The waits behind a backlog, first come, first served, of the requests served in each step
    (:func:`step_waits`): per step their ``mean`` (s; 0 where nothing is queued), and for the steps
    behind a backlog (``rows``) the wait at each of :data:`POINTS` evenly spread instants (``waits``)
    with the rate served then (``rate``, its weight): the distribution the step's latencies are
    shifted by (:func:`mix_rows`). ``pos``: at each instant, where the load served then falls on the
    capacity curve's grid (lower index, weight of the upper neighbour; :meth:`on_curve`): at capacity
    while the backlog lasts, at the arrivals' rate after it, so a step the backlog clears halfway through
    reads half its requests at the top of the curve, not all of them at the step's mean load. ``full``:
    per row and instant, whether the pool serves at capacity then (its batch full: the TPOT a saturated
    replica's, where the curve knows it, :func:`mix_rows`)."""

    mean: np.ndarray
    rows: np.ndarray
    waits: np.ndarray
    rate: np.ndarray
    pos: tuple[np.ndarray, np.ndarray] | None = None
    full: np.ndarray | None = None

    @property
    def spread(self) -> np.ndarray:
        """Per row, whether any request served in it waited (what shifts its latencies, and what reads
        them instant by instant at the load served then, :meth:`step_means`, :func:`mix_rows`; a row
        whose waits are all 0, as after :meth:`beyond` a backlog shorter than the curve's own queue, is
        read at the step's load)."""
        return ((self.waits > 0) & (self.rate > 0)).any(axis=1)

    def on_curve(self, rates: np.ndarray, per_replica: np.ndarray, max_rps: float = np.inf) -> "StepWaits":
        """These waits with each instant's place on a curve's grid ``rates`` (requests/s per replica):
        the rate served then (``rate``, requests per step) over ``per_replica``, the serving
        replica-seconds of each step; at capacity (``full``) where that is ``max_rps`` (to a millionth).

            >>> sw = StepWaits(np.zeros(1), np.array([0]), np.array([[9.0, 0.0]]), np.array([[3600.0, 1800.0]]))
            >>> [x.tolist() for x in sw.on_curve(np.array([0.0, 0.5, 0.95]), np.array([3600.0])).pos]
            [[[1, 1]], [[1.0, 0.0]]]
        """
        per = np.asarray(per_replica, dtype=np.float64)[self.rows]
        load = np.divide(self.rate, per[:, None], out=np.zeros_like(self.rate), where=per[:, None] > 0)
        return replace(self, pos=grid_position(np.asarray(rates, dtype=np.float64), load),
                       full=(load >= max_rps * (1.0 - 1e-6)) & (self.rate > 0))

    def at(self, values: np.ndarray) -> np.ndarray:
        """``(rows, points)``: a per-grid-point curve quantity at each instant's load (:meth:`on_curve`;
        0 where nobody is served)."""
        i, w = self.pos
        v = np.asarray(values, dtype=np.float64)
        return np.where(self.rate > 0, v[i] * (1 - w) + v[i + 1] * w, 0.0)

    def step_means(self, per_instant: np.ndarray, step_values: np.ndarray) -> np.ndarray:
        """Per step, ``step_values`` (a quantity read at the step's load), but in the steps whose requests
        waited (:attr:`spread`) the mean of ``per_instant`` (one value per row and instant) over the
        requests served there."""
        out = np.array(step_values, dtype=np.float64, copy=True)
        live = self.spread
        r = self.rows[live]
        out[r] = rate_mean(per_instant[live], self.rate[live], out[r])
        return out

    def at_full(self, add_s: float) -> "StepWaits":
        """These waits with ``add_s`` added at the instants at capacity (:attr:`full`; at least 0): what a
        saturated replica's service part adds to the curve's top grid point's, the histograms' shift.

            >>> sw = StepWaits(np.zeros(1), np.array([0]), np.array([[9.0, 0.0]]), np.array([[2.0, 1.0]]),
            ...                full=np.array([[True, False]]))
            >>> sw.at_full(0.5).waits.tolist(), sw.at_full(-10.0).waits.tolist()
            ([[9.5, 0.0]], [[0.0, 0.0]])
        """
        if self.full is None or not add_s:
            return self
        return replace(self, waits=np.maximum(self.waits + add_s * self.full, 0.0))

    def beyond(self, queue_s: np.ndarray) -> "StepWaits":
        """The waits less the queueing the curve already holds, ``queue_s`` per step or, ``(rows,
        points)``, per instant (its mean queue time at the load served), at least 0: while a backlog is
        carried the pool serves at capacity, and the fluid queue's first-come-first-served wait *is* its
        queue. The curve read at its top point holds a stationary queue of its own (one server with an
        exact 1 s service: 9.5 s at 95 % of capacity); adding the backlog's whole wait to it counted that
        queue twice, and a request behind a backlog waits ``max(wait, queue_s)`` on average, not their sum
        (one server at 1.5 times capacity for 1,000 s: a mean wait of 248.7 s where the fluid limit is
        238.5 s and 40 request-level seeds read 233 +- 11 s).

            >>> sw = StepWaits.single(np.array([0.0, 4.0, 100.0])).beyond(np.array([10.0, 10.0, 10.0]))
            >>> sw.mean.tolist(), sw.waits[:, 0].tolist()
            ([0.0, 0.0, 90.0], [0.0, 0.0, 90.0])
        """
        q = np.nan_to_num(np.asarray(queue_s, dtype=np.float64))
        waits = np.maximum(self.waits - (q if q.ndim == 2 else q[self.rows, None]), 0.0)
        mean = np.zeros(len(self.mean))
        mean[self.rows] = rate_mean(waits, self.rate)
        return StepWaits(mean, self.rows, waits, self.rate, self.pos, self.full)

    @classmethod
    def single(cls, waits_s: np.ndarray) -> "StepWaits":
        """Every request served in step ``k`` waits ``waits_s[k]`` (one instant per step)."""
        waits_s = np.asarray(waits_s, dtype=np.float64)
        return cls(waits_s, np.arange(len(waits_s)), waits_s[:, None], np.ones((len(waits_s), 1)))


def step_waits(edges: np.ndarray, admitted: np.ndarray, served: np.ndarray, capacity: np.ndarray,
               queued: np.ndarray) -> StepWaits:
    """Per step, the backlog waits, first come first served, of the requests served
    (:func:`fcfs_points`; none where nothing is ``queued``): their mean and their spread over the step
    (:class:`StepWaits`).

    A backlog growing at 0.5 requests/s from ``t = 0`` (arrivals 1.5/s, service 1/s): the request
    served at ``s`` arrived at ``s / 1.5`` and waited ``s / 3``, not the newest arrival's
    ``0.5 s / 1``; a third of the first step's services waited at most 100 s:

        >>> edges, on = np.array([0.0, 600.0, 1200.0]), np.array([True, True])
        >>> sw = step_waits(edges, np.array([900.0, 900.0]), np.array([600.0, 600.0]), np.full(2, 600.0), on)
        >>> [round(float(x), 6) for x in sw.mean], round(float(rate_mean(sw.waits <= 100.0, sw.rate)[0]), 3)
        ([100.0, 300.0], 0.5)

    A backlog of 300 (arrivals at 1/s for 600 s, served at 0.5/s) drained at 1/s in a step of arrivals
    at 0.5/s is gone 600 s into it: its first 300 services wait 300 s, the next 300 from 300 s down to 0
    (the arrivals at 0.5/s behind it), and the 300 after it nothing:

        >>> sw = step_waits(np.array([0.0, 600.0, 1800.0]), np.array([600.0, 600.0]),
        ...                 np.array([300.0, 900.0]), np.array([300.0, 1200.0]), on)
        >>> round(float(sw.mean[1]), 1), round(float(rate_mean(sw.waits <= 5.0, sw.rate)[1]), 2)   # 305 of 900
        (150.0, 0.34)

    (the 300 and the 5 served in the drain's last 5 s: 0.339; at 64 instants, before, those 5 fell
    between the instants read: 0.33)
    """
    rows = np.flatnonzero(queued)                       # only the steps behind a backlog
    waits, rate = fcfs_points(edges, admitted, served, capacity, rows=rows)
    mean = np.zeros(len(queued))
    mean[rows] = rate_mean(waits, rate)
    return StepWaits(mean, rows, waits, rate)


def at_capacity_share(b_start: np.ndarray, b_end: np.ndarray, admitted: np.ndarray,
                      capacity: np.ndarray) -> np.ndarray:
    """Per step, the share of it the pool serves at capacity: all of it while a backlog is left at its
    end, none without a backlog, and ``B / (capacity - admitted)`` when the backlog ``B`` it starts with
    is gone within it (served at capacity, joined by the step's arrivals, as :func:`fcfs_points`).

        >>> at_capacity_share(np.array([0.0, 900.0, 0.0]), np.array([900.0, 0.0, 0.0]),
        ...                   np.array([4500.0, 1800.0, 1800.0]), np.full(3, 3600.0)).tolist()
        [1.0, 0.5, 0.0]
    """
    b_start, b_end = np.asarray(b_start, dtype=np.float64), np.asarray(b_end, dtype=np.float64)
    room = np.asarray(capacity, dtype=np.float64) - np.asarray(admitted, dtype=np.float64)
    drained = np.divide(b_start, room, out=np.ones_like(b_start), where=room > 0)
    return np.where(b_end > 0, 1.0, np.where(b_start > 0, np.clip(drained, 0.0, 1.0), 0.0))


def _backlog_window(edges: np.ndarray, admitted: np.ndarray, backlog: float, min_age_s: float,
                    max_age_s: float) -> tuple[np.ndarray, float, float, float] | None:
    """``(cum, b, lo, hi)``: the cumulative arrivals at ``edges``, the end backlog ``b`` (at most every
    arrival) and, counted back from the last arrival, the ranks ``[lo, hi]`` of those of it aged
    between ``min_age_s`` and ``max_age_s``; ``None`` when there is none."""
    if not backlog > 0 or len(edges) < 2 or not math.isfinite(backlog):
        return None
    cum = np.concatenate(([0.0], np.cumsum(np.asarray(admitted, dtype=np.float64))))
    b = min(backlog, cum[-1])

    def younger(age: float) -> float:      # how many of the backlog arrived within the last ``age`` seconds
        if not age < math.inf:
            return b
        return float(np.clip(cum[-1] - np.interp(edges[-1] - max(age, 0.0), edges, cum), 0.0, b))

    lo, hi = younger(min_age_s), younger(max_age_s)
    return (cum, b, lo, hi) if hi > lo else None


def backlog_ages(edges: np.ndarray, admitted: np.ndarray, backlog: float, min_age_s: float,
                 max_age_s: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Ages (s) and weights (requests) of the end-of-run backlog older than ``min_age_s`` (one that
    already missed a TTFT objective) and at most ``max_age_s`` old (arrived after the warmup): the last
    ``backlog`` requests to arrive (``admitted`` per step between ``edges``), at ``AGE_POINTS`` evenly
    spaced ranks between the two ages. The weights add up to the count in that age range exactly: the
    backlog less those that arrived within the last ``min_age_s`` (and within ``max_age_s``).

        >>> ages, n = backlog_ages(np.array([0.0, 600.0]), np.array([900.0]), 900.0, 5.0)
        >>> round(float(ages.max()), 3), round(float(n.sum()), 3)   # arrived at 1.5/s: 600 s, not 900
        (595.352, 892.5)
        >>> round(float(backlog_ages(np.array([0.0, 600.0]), np.array([900.0]), 900.0, 5.0, 300.0)[1].sum()), 3)
        442.5
    """
    edges = np.asarray(edges, dtype=np.float64)
    window = _backlog_window(edges, admitted, backlog, min_age_s, max_age_s)
    if window is None:
        return np.zeros(0), np.zeros(0)
    cum, b, lo, hi = window
    rank = lo + (np.arange(AGE_POINTS) + 0.5) / AGE_POINTS * (hi - lo)
    ages = edges[-1] - arrival_times(cum, edges, cum[-1] - rank)
    return ages, np.full(AGE_POINTS, (hi - lo) / AGE_POINTS * backlog / b)


def backlog_by_step(edges: np.ndarray, admitted: np.ndarray, backlog: float, min_age_s: float = 0.0,
                    max_age_s: float = math.inf) -> np.ndarray:
    """Per step, how many of the end-of-run backlog aged between ``min_age_s`` and ``max_age_s``
    (:func:`backlog_ages`) arrived in it, exactly: first come, first served, the backlog is the last
    arrivals, so a step's part is its arrivals among them.

        >>> backlog_by_step(np.array([0.0, 3600.0, 7200.0]), np.array([10800.0, 900.0]), 4500.0).tolist()
        [3600.0, 900.0]
        >>> backlog_by_step(np.array([0.0, 3600.0, 7200.0]), np.array([10800.0, 900.0]), 4500.0, 5.0).tolist()
        [3600.0, 898.75]
    """
    edges = np.asarray(edges, dtype=np.float64)
    out = np.zeros(max(len(edges) - 1, 0))
    window = _backlog_window(edges, admitted, backlog, min_age_s, max_age_s)
    if window is None:
        return out
    cum, b, lo, hi = window
    back = cum[-1] - cum                           # arrivals after each edge: a step's ranks from the end
    return np.clip(np.minimum(back[:-1], hi) - np.maximum(back[1:], lo), 0.0, None) * backlog / b


def arrival_steps(edges: np.ndarray, ages: np.ndarray) -> np.ndarray:
    """The step (index between ``edges``) in which a request of age ``ages`` at the run's end arrived.

        >>> arrival_steps(np.array([0.0, 600.0, 1200.0]), np.array([10.0, 600.0, 700.0, 1200.0])).tolist()
        [1, 1, 0, 0]
    """
    edges = np.asarray(edges, dtype=np.float64)
    t = edges[-1] - np.asarray(ages, dtype=np.float64)
    return np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)


def priority_message(index: int, pool: str, policy: str, priorities: list[int], longest_wait_s: float,
                     ttft_s: float) -> str | None:
    """The warning for pool ``index`` (``pool``) under batching ``policy`` whose carried backlog made a
    request wait ``longest_wait_s`` at most, serving classes of ``priorities``; ``None`` when there is
    nothing to tell: not ``policy: priority``, one priority only, or no wait beyond the TTFT objective
    ``ttft_s`` (the order would not change who misses it). The carried backlog is first come, first
    served, where the request level takes a priority pool's queue by class priority.

        >>> priority_message(0, "a", "priority", [2, 0], 600.0, 5.0)[:60]
        'fleet.pools.0.batching.policy: pool a carries a backlog (wai'
        >>> priority_message(0, "a", "continuous", [2, 0], 600.0, 5.0) is None
        True
    """
    from sim.humanize import duration

    if policy != "priority" or len(set(priorities)) < 2 or not longest_wait_s > ttft_s:
        return None
    return (f"fleet.pools.{index}.batching.policy: pool {pool} carries a backlog (waits up to "
            f"{duration(longest_wait_s)}), which the fluid tier serves first come, first served: every class "
            f"waits it alike, where priority would serve the higher classes first; read the per-class "
            f"latency and SLO under overload at fidelity: request")


def longest_wait(backlog_end: np.ndarray, capacity_rps: np.ndarray) -> float:
    """The longest wait (s) a step's end backlog makes at the step's serving capacity (requests/s): 0
    without a backlog or a capacity.

        >>> longest_wait(np.array([0.0, 900.0, 300.0]), np.array([1.0, 1.5, 0.0]))
        600.0
    """
    cap = np.asarray(capacity_rps, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.max(np.where(cap > 0, np.asarray(backlog_end, dtype=np.float64) / cap, 0.0), initial=0.0))


def warn_priority(index: int, pool: str, policy: str, priorities: list[int], backlog_end: np.ndarray,
                  capacity_rps: np.ndarray, ttft_s: float) -> None:
    """A :class:`~sim.errors.ScenarioWarning` (:func:`priority_message`) for pool ``index`` when its
    backlog at a step's end, over its serving capacity (requests/s), makes a request wait past ``ttft_s``."""
    import warnings

    from sim.errors import ScenarioWarning

    message = priority_message(index, pool, policy, priorities, longest_wait(backlog_end, capacity_rps), ttft_s)
    if message:
        warnings.warn(message, ScenarioWarning, stacklevel=3)
