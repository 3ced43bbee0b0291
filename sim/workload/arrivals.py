"""Arrival processes: when requests arrive, as lazily generated blocks of times (seconds).

Every process yields :class:`ArrivalBlock` s whose times are non-decreasing across blocks and
all ``< horizon_s``. Blocks are generated with a fixed internal size, independent of the caller's
chunk size, so one seed gives the same times however the caller chunks them.

Processes (rates in requests/s; ``g(t)`` is the growth factor, 1 without ``growth``):

* ``poisson {rate}``: exponential gaps of mean ``1/rate``; with growth, a time change (below).
* ``gamma {rate, cv}``: renewal process with gamma gaps, shape ``k = 1/cv**2``, mean ``1/rate``.
  The first arrival comes one gap after ``t = 0``. With growth, a time change (below).
* ``compound_poisson {rate, clump_mean}``: batch Poisson: clumps at one instant, their times Poisson at
  ``rate / clump_mean`` (with growth, the same time change), each clump's size geometric on 1, 2, ...
  with mean ``clump_mean`` (:func:`_compound`); ``rate`` requests/s on average.
* ``diurnal {mean_rate, peak_to_trough, peak_hour, period, weekly}``: non-homogeneous Poisson
  with intensity ::

      rate(t) = mean_rate * W(t) * g(t) * (1 + a cos(2 pi (c(t) - 3600 peak_hour) / period))
      a = (peak_to_trough - 1) / (peak_to_trough + 1)

  where ``c(t)`` is the calendar clock in seconds since midnight of the start day (``start`` +
  ``t``; ``t = 0`` is midnight of a Monday when no start is given) and ``W(t)`` is
  ``weekly[weekday]`` of the calendar day containing ``t`` (Monday = 0; 1 when ``weekly`` is
  omitted). Weekly factors multiply the daily cycle, so one day's mean rate is
  ``mean_rate * weekly[day]`` and the mean over a week is ``mean_rate`` when the factors average
  1. ``max / min`` of the daily cycle is ``peak_to_trough``.
  Generated exactly by thinning (Lewis and Shedler, 1979): candidates from a homogeneous Poisson
  process at a bound ``R >= rate(t)`` that is constant per calendar day, each kept with
  probability ``rate(t) / R``.
* ``piecewise {times, rates}``: Poisson with ``rates[i]`` on ``[times[i], times[i+1])``, the last
  rate thereafter; with growth, thinned exactly like ``diurnal``.
* ``trace {path, format, time_scale, rate_scale, loop}``: replays a file's times, see
  :func:`sim.workload.trace_replay.trace_blocks`.
* ``burst {count, at}`` (or ``offline``): ``count`` arrivals at time ``at`` (0 by default), none if
  ``at >= horizon``; growth does not apply.
* ``closed {concurrency, think_time_s, think}``: clients whose send times the run decides
  (:mod:`sim.workload.closed`); here an endless stream of placeholder times 0, one per request the
  clients will send, so the generator draws their lengths and classes in send order.

Growth ``{monthly: m}``: ``g(t) = (1 + m) ** (t / T)`` with ``T = 30.4375 days`` (an average
Gregorian month), ``t`` in seconds since ``t = 0``. For the non-homogeneous processes it multiplies
the intensity inside the thinning (exact). For ``poisson`` and ``gamma`` it is a time change: the
renewal process runs in operational time ``s`` and arrives at ``t = G^{-1}(s)`` with
``G(t) = integral_0^t g(u) du = T (g(t) - 1) / ln(1 + m)``, so the rate at ``t`` is ``rate * g(t)``
and, for Poisson, the result is exactly the non-homogeneous Poisson process with that rate. For
traces, ``g(t)`` multiplies the expected number of copies of each request (see
:func:`sim.workload.trace_replay.trace_blocks`). ``g``, ``G`` and ``G^{-1}``: :mod:`sim.workload.growth`;
the blocks all of them yield: :mod:`sim.workload.arrival_block`.
"""
from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from sim.scenario.workload import (
    ArrivalProcess,
    BurstArrival,
    ClosedArrival,
    CompoundPoissonArrival,
    DiurnalArrival,
    GammaArrival,
    Growth,
    PiecewiseArrival,
    PoissonArrival,
    TraceArrival,
)
from sim.workload.arrival_block import BLOCK, ArrivalBlock
from sim.workload.growth import MONTH_S, growth_factor, growth_integral, growth_inverse
from sim.workload.trace_replay import trace_blocks, trace_rate_problem, trace_requests_expected

DAY_S = 86400.0


@dataclass(frozen=True)
class ArrivalCalendar:
    """Where ``t = 0`` falls on the clock: seconds after midnight and the weekday (Monday = 0).

    The clock keeps ``start``'s UTC offset throughout (no daylight-saving shifts).
    """

    clock0_s: float = 0.0
    weekday0: int = 0

    @classmethod
    def from_start(cls, start: datetime.datetime | datetime.date | None) -> ArrivalCalendar:
        """A plain date means midnight of that date."""
        if start is None:
            return cls()
        if not isinstance(start, datetime.datetime):
            start = datetime.datetime.combine(start, datetime.time())
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return cls((start - midnight).total_seconds(), start.weekday())

    def day_index(self, t_s: np.ndarray) -> np.ndarray:
        """Calendar days since the start day (0 for the start day itself)."""
        return np.floor((self.clock0_s + np.asarray(t_s)) / DAY_S).astype(np.int64)

    def weekday(self, t_s: np.ndarray) -> np.ndarray:
        return (self.weekday0 + self.day_index(t_s)) % 7

    def next_midnight(self, t_s: float) -> float:
        """The first midnight strictly after ``t_s`` (in seconds since ``t = 0``)."""
        return (math.floor((self.clock0_s + t_s) / DAY_S) + 1) * DAY_S - self.clock0_s


# ------------------------------------------------------------------------------- processes
#: below this ``cv`` a gamma process's shape ``1 / cv**2`` overflows a float (numpy draws shapes up to
#: 1e300 exactly: the gaps' relative spread, ``cv``, is then far below float precision)
GAMMA_MIN_CV = 1e-150


def arrival_blocks(process: ArrivalProcess, horizon_s: float, rng: np.random.Generator, *,
                   growth: Growth | None = None, calendar: ArrivalCalendar = ArrivalCalendar(),
                   trace=None) -> Iterator[ArrivalBlock]:
    """Blocks of arrival times in ``[0, horizon_s)`` for one process.

    ``trace`` is the loaded :class:`sim.workload.traces.TraceData` for ``process: trace``.
    """
    if isinstance(process, PoissonArrival):
        yield from _renewal(lambda n: rng.standard_exponential(n) / process.rate, horizon_s, growth)
    elif isinstance(process, GammaArrival):
        if process.cv < GAMMA_MIN_CV:    # cv**2 underflows: the gaps are 1 / rate to within float precision
            yield from _renewal(lambda n: np.full(n, 1.0 / process.rate), horizon_s, growth)
        else:
            shape = 1.0 / (process.cv * process.cv)
            scale = 1.0 / (process.rate * shape)
            yield from _renewal(lambda n: rng.standard_gamma(shape, n) * scale, horizon_s, growth)
    elif isinstance(process, CompoundPoissonArrival):
        yield from _compound(process, horizon_s, rng, growth)
    elif isinstance(process, DiurnalArrival):
        yield from _diurnal(process, horizon_s, rng, growth, calendar)
    elif isinstance(process, PiecewiseArrival):
        yield from _piecewise(process, horizon_s, rng, growth, calendar)
    elif isinstance(process, BurstArrival):
        left = process.count if process.at < horizon_s else 0
        while left > 0:
            k = min(left, BLOCK)
            yield ArrivalBlock(np.full(k, float(process.at)))
            left -= k
    elif isinstance(process, ClosedArrival):
        # a closed loop's send times are the clients' (sim.serving.closed_feed): here only as many
        # requests as it asks for, in send order, their times left at 0
        while True:
            yield ArrivalBlock(np.zeros(BLOCK))
    elif isinstance(process, TraceArrival):
        if trace is None:
            raise ValueError("process: trace needs its loaded trace data")
        yield from trace_blocks(trace, process, horizon_s, rng, growth=growth)
    else:
        raise TypeError(f"unknown arrival process {process!r}")


def _renewal(gaps: Callable[[int], np.ndarray], horizon_s: float,
             growth: Growth | None) -> Iterator[ArrivalBlock]:
    """A renewal process in operational time, mapped to real time by ``G^{-1}``."""
    s_end = growth_integral(horizon_s, growth)
    s0 = 0.0
    while True:
        s = s0 + np.cumsum(gaps(BLOCK))
        s0 = float(s[-1])
        done = s0 >= s_end
        if done:
            s = s[s < s_end]
        t = growth_inverse(s, growth)
        t = t[t < horizon_s]
        if t.size:
            yield ArrivalBlock(t)
        if done:
            return


def _compound(process: CompoundPoissonArrival, horizon_s: float, rng: np.random.Generator,
              growth: Growth | None) -> Iterator[ArrivalBlock]:
    """Batch Poisson arrivals: each block of clump times (a Poisson process at ``rate / clump_mean``, in
    operational time with growth, :func:`_renewal`) repeated by geometric sizes of mean ``clump_mean``
    (``P(b = k) = p (1 - p)^(k - 1)``, ``p = 1 / clump_mean``), drawn after the block's gaps; yielded in
    pieces of about :data:`BLOCK` requests (a whole clump each), as the other processes are, not the block's
    ``BLOCK`` clumps at once (``clump_mean: 1e4``: 650 million requests, gigabytes in one array).

        >>> from sim.scenario.workload import CompoundPoissonArrival as C
        >>> t = np.concatenate([b.arrival_s for b in arrival_blocks(C(process="compound_poisson", rate=50.0, clump_mean=4.0),
        ...                                                   2000.0, np.random.default_rng(3))])
        >>> round(t.size / 2000.0), round(t.size / np.unique(t).size, 1)      # requests/s, requests per clump
        (50, 4.0)
    """
    p = 1.0 / process.clump_mean
    for block in _renewal(lambda n: rng.standard_exponential(n) / (process.rate * p), horizon_s, growth):
        sizes = rng.geometric(p, block.arrival_s.size)
        ends = np.cumsum(sizes)
        lo = 0
        while lo < sizes.size:          # up to the clump that reaches BLOCK more requests (at least one clump)
            hi = max(lo + 1, int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + BLOCK, side="right")))
            yield ArrivalBlock(np.repeat(block.arrival_s[lo:hi], sizes[lo:hi]))
            lo = hi


def _thinned(segments: Iterator[tuple[float, float, float]], intensity: Callable[[np.ndarray], np.ndarray],
             rng: np.random.Generator, exact_bound: bool) -> Iterator[ArrivalBlock]:
    """Non-homogeneous Poisson arrivals by thinning.

    ``segments`` yields ``(a, b, bound)`` with ``intensity(t) <= bound`` on ``[a, b)``. Candidates
    form a homogeneous Poisson process of rate ``bound`` on each segment (restarting at ``a`` is
    exact by memorylessness) and each is kept with probability ``intensity(t) / bound``; if
    ``exact_bound``, the intensity equals the bound and every candidate is kept.
    """
    for a, b, bound in segments:
        if bound <= 0 or b <= a:
            continue
        expected = bound * (b - a)
        n = int(min(BLOCK, math.ceil(expected + 6.0 * math.sqrt(expected) + 16.0)))
        t0 = a
        while True:
            t = t0 + np.cumsum(rng.standard_exponential(n)) / bound
            t0 = float(t[-1])
            done = t0 >= b
            if done:
                t = t[t < b]
            if not exact_bound and t.size:
                t = t[rng.random(t.size) * bound < intensity(t)]
            if t.size:
                yield ArrivalBlock(t)
            if done:
                break


def _day_segments(calendar: ArrivalCalendar, horizon_s: float, cuts: list[float] = ()) -> Iterator[tuple[float, float]]:
    """``[a, b)`` pieces of ``[0, horizon_s)`` split at calendar midnights and at ``cuts``."""
    cut_list = sorted(c for c in cuts if 0 < c < horizon_s)
    a = 0.0
    i = 0
    while a < horizon_s:
        b = min(calendar.next_midnight(a), horizon_s)
        while i < len(cut_list) and cut_list[i] <= a:
            i += 1
        if i < len(cut_list) and cut_list[i] < b:
            b = cut_list[i]
        yield a, b
        a = b


def _gmax(a: float, b: float, growth: Growth | None) -> float:
    return max(growth_factor(a, growth), growth_factor(b, growth))


def diurnal_rate(process: DiurnalArrival, t_s: np.ndarray, calendar: ArrivalCalendar = ArrivalCalendar(),
                 growth: Growth | None = None) -> np.ndarray:
    """The intensity (requests/s) of a diurnal process at times ``t_s``; see the module doc."""
    t_s = np.asarray(t_s, dtype=float)
    r = process.peak_to_trough
    amp = (r - 1.0) / (r + 1.0)
    phase = 2.0 * math.pi * (calendar.clock0_s + t_s - 3600.0 * process.peak_hour) / process.period
    rate = process.mean_rate * (1.0 + amp * np.cos(phase))
    if process.weekly is not None:
        rate = rate * np.asarray(process.weekly, dtype=float)[calendar.weekday(t_s)]
    if growth is not None:
        rate = rate * growth_factor(t_s, growth)
    return rate


def _diurnal(process: DiurnalArrival, horizon_s: float, rng: np.random.Generator,
             growth: Growth | None, calendar: ArrivalCalendar) -> Iterator[ArrivalBlock]:
    amp = (process.peak_to_trough - 1.0) / (process.peak_to_trough + 1.0)
    weekly = np.asarray(process.weekly if process.weekly is not None else [1.0] * 7, dtype=float)

    def segments():
        for a, b in _day_segments(calendar, horizon_s):
            w = weekly[int(calendar.weekday(np.array([a]))[0])]
            yield a, b, process.mean_rate * w * (1.0 + amp) * _gmax(a, b, growth)

    yield from _thinned(segments(), lambda t: diurnal_rate(process, t, calendar, growth), rng,
                        exact_bound=False)


def piecewise_rate(process: PiecewiseArrival, t_s: np.ndarray, growth: Growth | None = None) -> np.ndarray:
    """The intensity (requests/s) of a piecewise process at times ``t_s``."""
    t_s = np.asarray(t_s, dtype=float)
    idx = np.searchsorted(np.asarray(process.times, dtype=float), t_s, side="right") - 1
    rate = np.asarray(process.rates, dtype=float)[np.clip(idx, 0, len(process.rates) - 1)]
    rate = np.where(idx >= 0, rate, 0.0)
    if growth is not None:
        rate = rate * growth_factor(t_s, growth)
    return rate


def _piecewise(process: PiecewiseArrival, horizon_s: float, rng: np.random.Generator,
               growth: Growth | None, calendar: ArrivalCalendar) -> Iterator[ArrivalBlock]:
    def segments():
        for a, b in _day_segments(calendar, horizon_s, list(process.times)):
            rate = float(piecewise_rate(process, np.array([a]))[0])
            yield a, b, rate * _gmax(a, b, growth)

    exact = growth is None or growth.monthly == 0
    yield from _thinned(segments(), lambda t: piecewise_rate(process, t, growth), rng, exact_bound=exact)


# ArrivalBlock / BLOCK (sim.workload.arrival_block), the growth functions (sim.workload.growth) and the trace
# replay's (sim.workload.trace_replay) are named here too, where they were defined before
__all__ = [
    "ArrivalBlock", "ArrivalCalendar", "BLOCK", "DAY_S", "MONTH_S", "arrival_blocks", "diurnal_rate",
    "growth_factor", "growth_integral", "growth_inverse", "piecewise_rate", "trace_blocks",
    "trace_rate_problem", "trace_requests_expected",
]
