"""Trace replay (``process: trace``): a loaded trace file's rows as :class:`~sim.workload.arrival_block.ArrivalBlock` s,
their times scaled, each request copied or thinned (``rate_scale``, times the growth factor), optionally looped
(:func:`trace_blocks`); how fast such copies may arrive (:func:`trace_rate_problem`) and how many requests a
replay holds, counted without drawing any (:func:`trace_requests_expected`). Reading the file:
:mod:`sim.workload.traces`.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from sim.scenario.workload import MAX_ARRIVAL_RATE, MIN_ARRIVAL_RATE, Growth, TraceArrival
from sim.workload.arrival_block import BLOCK, ArrivalBlock
from sim.workload.growth import growth_factor


def trace_blocks(trace, process: TraceArrival, horizon_s: float, rng: np.random.Generator, *,
                 growth: Growth | None = None) -> Iterator[ArrivalBlock]:
    """Replay a loaded trace: times scaled, requests copied or thinned, optionally looped.

    * ``time_scale`` multiplies every time (hence every inter-arrival time): row ``i`` arrives
      at ``time_scale * t_i``, where ``t_i`` is the file's time (relative to its first row for
      ``azure``, as written for ``fleetsim`` and ``burstgpt``).
    * ``rate_scale`` (times ``g(t)`` with growth) is the expected number of copies ``m`` of each
      request: ``floor(m)`` copies plus one more with probability ``m - floor(m)`` (independent
      per request). The first copy keeps the row's time; further copies arrive uniformly at random
      within the row's inter-arrival gap ``[t_i, t_{i+1})`` (the mean gap after the last row). Every
      copy keeps the row's lengths and tenant, so ``rate_scale: 2`` doubles the arrival rate over any
      window longer than a few gaps with exactly the same length mix; ``rate_scale: 0.5`` keeps each
      request with probability 1/2. With ``rate_scale: 1`` and no growth the file is reproduced exactly.
    * ``loop: true`` repeats the trace every ``P = t_last + mean gap`` seconds (scaled), or every
      ``loop_period`` seconds of the file's time (scaled: at least the span of its rows, which may then
      share one time), until the horizon; otherwise arrivals stop at the trace's end
      (:func:`loop_period_s`).

    A trace whose first (scaled) time is at or after ``horizon_s`` would replay nothing at all:
    that raises :class:`sim.errors.InputError` naming the file, the first timestamp and the
    duration. Some rows inside and some after is normal (the run is shorter than the trace).
    """
    ts = trace.arrival_s * process.time_scale
    n = ts.size
    if n == 0:
        return
    too_fast = trace_rate_problem(ts, process)
    if too_fast:
        from sim.errors import InputError
        err = InputError(f"{trace.path}: {too_fast}")
        err.field = "rate_scale"        # the field at fault, beside the one naming the file
        raise err
    mean_gap = (ts[-1] - ts[0]) / (n - 1) if n > 1 else 0.0
    period = loop_period_s(trace, process, ts) if process.loop else float(ts[-1] + mean_gap)
    gaps = np.empty(n)
    gaps[:-1] = np.diff(ts)
    gaps[-1] = mean_gap if process.loop_period is None or not process.loop else \
        min(mean_gap, float(ts[0]) + period - float(ts[-1]))        # (no copy after the next pass's first row)
    if ts[0] >= horizon_s:
        from sim.errors import InputError
        raise InputError(_outside_window(trace, process, float(ts[0]), horizon_s))
    plain = process.rate_scale == 1.0 and (growth is None or growth.monthly == 0)
    rep = 0
    while True:
        offset = rep * period
        for lo in range(0, n, BLOCK):
            hi = min(n, lo + BLOCK)
            t = ts[lo:hi] + offset
            if t[0] >= horizon_s:
                return
            rows = np.arange(lo, hi)
            if plain:
                keep = t < horizon_s
                yield ArrivalBlock(t[keep], trace.prompt_tokens[lo:hi][keep],
                                   trace.output_tokens[lo:hi][keep], trace.tenant[lo:hi][keep])
                continue
            m = process.rate_scale * growth_factor(t, growth)
            base = np.floor(m)
            copies = (base + (rng.random(t.size) < (m - base))).astype(np.int64)
            idx = np.repeat(np.arange(t.size), copies)
            first = np.repeat(np.cumsum(copies) - copies, copies)
            rank = np.arange(idx.size) - first
            u = rng.random(idx.size)
            tt = t[idx] + np.where(rank > 0, u * gaps[lo:hi][idx], 0.0)
            order = np.argsort(tt, kind="stable")
            tt, r = tt[order], rows[idx[order]]
            keep = tt < horizon_s
            tt, r = tt[keep], r[keep]
            if tt.size:
                yield ArrivalBlock(tt, trace.prompt_tokens[r], trace.output_tokens[r], trace.tenant[r])
        if not process.loop:
            return
        rep += 1


def loop_period_s(trace, process: TraceArrival, ts: np.ndarray) -> float:
    """The seconds after which a looped replay repeats the rows at ``ts`` (the file's times, scaled by
    ``time_scale``): ``loop_period`` scaled where it is given, else the last row plus the mean gap between
    rows. :class:`sim.errors.InputError` where it cannot loop: rows of one time without a ``loop_period``, a
    ``loop_period`` shorter than the rows' span (a pass would begin before the last one ended), or one that
    scales to 0 s.

        >>> from types import SimpleNamespace as NS
        >>> from sim.scenario.workload import TraceArrival
        >>> rows = NS(path="x.csv", arrival_s=np.array([1.0, 2.0, 4.0]))
        >>> loop_period_s(rows, TraceArrival(process="trace", path="x.csv", loop=True), rows.arrival_s)
        5.5
        >>> loop_period_s(rows, TraceArrival(process="trace", path="x.csv", loop=True, loop_period=10, time_scale=2),
        ...               2 * rows.arrival_s)
        20.0
    """
    from sim.errors import InputError

    period = _period(ts, process)
    if period is not None:
        return period
    if process.loop_period is None:
        raise InputError(f"{trace.path}: cannot loop a trace with fewer than two distinct times; give "
                         "loop_period, the seconds after which it repeats")
    raw = float(trace.arrival_s[-1] - trace.arrival_s[0])
    scaled = float(process.loop_period) * process.time_scale
    shown = f" ({scaled:.6g} s with time_scale {process.time_scale:g})" if process.time_scale != 1 else ""
    err = InputError(f"{trace.path}: loop_period {process.loop_period:g} s{shown} "
                     + (f"is shorter than the trace, whose rows span {raw:.12g} s: a pass would begin before "
                        f"the last one ended; give loop_period at least {raw:.12g}" if scaled > 0 else
                        "is 0 s once scaled: give a longer loop_period or a larger time_scale"))
    err.field = "loop_period"
    raise err


def _period(ts: np.ndarray, process: TraceArrival) -> float | None:
    """:func:`loop_period_s` of rows at ``ts`` (scaled), ``None`` where they cannot loop. A ``loop_period`` short of
    the rows' span by float rounding alone (that span as written, to 12 figures, scaled by ``time_scale``: its
    product may fall an ulp below the scaled rows' difference) loops at the span, so that passes never overlap."""
    n = ts.size
    span = float(ts[-1] - ts[0]) if n else 0.0
    if process.loop_period is None:
        return float(ts[-1] + span / (n - 1)) if n > 1 and span > 0 else None
    period = float(process.loop_period) * process.time_scale
    if not period > 0 or period < span * (1.0 - 1e-9):
        return None
    return max(period, span)


def trace_rate_problem(times_s: np.ndarray, process: TraceArrival) -> str | None:
    """Why ``rate_scale`` copies of the rows at ``times_s`` (scaled by ``time_scale``) arrive faster than any
    arrival process may (:data:`~sim.scenario.workload.MAX_ARRIVAL_RATE` requests/s on average: ``rate_scale``
    over the mean gap between rows, the copies of a row being spread over its gap), or slower
    (:data:`~sim.scenario.workload.MIN_ARRIVAL_RATE`, the floor of every ``rate``), or ``None``. A trace whose
    rows share one time has no gap to spread copies over: at most that many copies of it.

        >>> from sim.scenario.workload import TraceArrival
        >>> day = np.array([0.0, 86_400.0, 172_800.0])
        >>> trace_rate_problem(day, TraceArrival(process="trace", path="x.csv", rate_scale=1e8)) is None
        True
        >>> print(trace_rate_problem(day, TraceArrival(process="trace", path="x.csv", rate_scale=1e12)))
        rate_scale 1e+12 copies of rows a mean 86,400 s apart arrive at 1.16e+07 requests/s; at most 1e+07 requests/s, as for every arrival process: rate_scale at most 8.64e+11 for this trace
    """
    ts = np.asarray(times_s, dtype=float) * process.time_scale
    n = ts.size
    gap = (float(ts[-1]) - float(ts[0])) / (n - 1) if n > 1 else 0.0
    if process.rate_scale < 1.0 and gap > 0 and process.rate_scale / gap < MIN_ARRIVAL_RATE:
        return (f"rate_scale {process.rate_scale:g} copies of rows a mean {gap:,.6g} s apart arrive at "
                f"{process.rate_scale / gap:.3g} requests/s; at least {MIN_ARRIVAL_RATE:g} requests/s, about one "
                f"request in 31,700 years, as for every arrival process (no run is long enough to see a request "
                f"at a smaller rate): rate_scale at least {_figures(min(MIN_ARRIVAL_RATE * gap, 1.0), up=True)} "
                f"for this trace")
    if process.rate_scale <= 1.0:
        return None
    if gap <= 0:
        if process.rate_scale <= MAX_ARRIVAL_RATE:
            return None
        return (f"rate_scale {process.rate_scale:g} copies of rows that all share one time arrive at once; at most "
                f"{MAX_ARRIVAL_RATE:g} copies of such a trace (the copies of a row are spread over its gap to the "
                "next, and these rows have none)")
    rate = process.rate_scale / gap
    if rate <= MAX_ARRIVAL_RATE:
        return None
    return (f"rate_scale {process.rate_scale:g} copies of rows a mean {gap:,.6g} s apart arrive at {rate:.3g} "
            f"requests/s; at most {MAX_ARRIVAL_RATE:g} requests/s, as for every arrival process: rate_scale at most "
            f"{_figures(MAX_ARRIVAL_RATE * gap, up=False)} for this trace")


def _figures(value: float, up: bool) -> str:
    """``value`` (> 0) to six significant figures, rounded up (``up``) or down: the least or the most scale a
    trace takes, which rounded the other way the trace would refuse (1e-12 x a 0.123456449 s gap is taken from
    1.23457e-13, not 1.23456e-13; 1e7 x a 2/3 s gap up to 6.66666e+06, not 6.66667e+06).

        >>> _figures(1.23456449e-13, up=True), _figures(2e7 / 3, up=False), _figures(1.0, up=True)
        ('1.23457e-13', '6.66666e+06', '1')
    """
    shown = float(f"{value:.6g}")
    if shown < value if up else shown > value:
        step = 10.0 ** (math.floor(math.log10(shown)) - 5)
        shown = float(f"{shown + step if up else shown - step:.6g}")
    return f"{shown:.6g}"


def trace_requests_expected(arrival_s: np.ndarray, process: TraceArrival, horizon_s: float,
                            growth: Growth | None = None) -> float:
    """The requests :func:`trace_blocks` replays before ``horizon_s``, counted from the file's times
    (``arrival_s``, as :func:`sim.workload.traces.read_trace` gives them) without drawing any: the
    rows whose replayed time (every loop's) falls inside the window, each weighted by its expected
    copies ``rate_scale * g(t)``. Exact with ``rate_scale: 1`` and no growth; otherwise the
    expectation, except that a copy drawn into the row's gap past ``horizon_s`` counts.

    With ``loop`` the ``k``-th repetition of row ``i`` arrives at ``t_i + k P``, so its growth is
    ``g(t_i) g(P)^k`` and the full repetitions sum as a geometric series (``inf`` past a float).

        >>> from sim.scenario.workload import TraceArrival
        >>> t = np.array([0.0, 1.0, 2.0, 3.0])          # period 4 s when looped
        >>> trace_requests_expected(t, TraceArrival(process="trace", path="x.csv"), 2.5)
        3.0
        >>> trace_requests_expected(t, TraceArrival(process="trace", path="x.csv", loop=True, rate_scale=2), 10.0)
        20.0
    """
    ts = np.asarray(arrival_s, dtype=float) * process.time_scale
    n = ts.size
    inside = ts < horizon_s
    if n == 0 or not inside.any():
        return 0.0
    weight = growth_factor(ts, growth) if growth is not None and growth.monthly else np.ones(n)
    period = _period(ts, process) if process.loop else None
    if period is None:      # not looped, or cannot be: the run says so (a Python float: inf past its range, no
        return process.rate_scale * float(weight[inside].sum())     # numpy "overflow encountered" printed)
    try:    # passes wholly inside the window (their last row before its end): at most one more is cut there, as
        #     the next begins no sooner than this one's last row (a period at least the rows' span)
        full = max(0, math.ceil((horizon_s - float(ts[-1])) / period))
    except OverflowError:
        return math.inf
    q = float(growth_factor(period, growth)) if growth is not None and growth.monthly else 1.0
    try:
        series = float(full) if q == 1.0 else (q ** full - 1.0) / (q - 1.0)
        tail = q ** full * float(weight[ts + full * period < horizon_s].sum())
    except OverflowError:
        return math.inf
    total = process.rate_scale * (float(weight.sum()) * series + tail)
    return total if math.isfinite(total) else math.inf


def _outside_window(trace, process: TraceArrival, first_s: float, horizon_s: float) -> str:
    """Why a trace replays no request at all: every row falls at or after the end of the run."""
    from sim.workload.traces import COLUMNS

    column = COLUMNS.get(process.format, ("timestamp",))[0]
    raw = float(trace.arrival_s[0])
    scaled = f" (replayed at {first_s:.12g} s with time_scale {process.time_scale:g})" \
        if process.time_scale != 1 else ""
    return (f"{trace.path}: no request falls inside the run: the trace's first row has {column} {raw:.12g} s"
            f"{scaled}, at or after the scenario's duration ({horizon_s:.12g} s); a trace is replayed from "
            f"t = 0 with no start offset, so every row falls after the end of the run. Set duration above "
            f"{first_s:.12g} s, or make the trace's times start near 0 (subtract {raw:.12g} from every {column})")


__all__ = ["loop_period_s", "trace_blocks", "trace_rate_problem", "trace_requests_expected"]
