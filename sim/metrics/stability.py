"""Did the fleet keep up? Backlog growth over the end of a run, the same definition in both tiers.

A run is *unstable* when the number of requests in the system (waiting + running, every pool,
plus a central queue) grows over the **tail** of the run — the last half, after warmup — faster
than chance explains. In an overloaded M/M/c queue (arrival rate ``λ`` above the service capacity
``c μ``) the queue grows linearly at ``λ - c μ`` requests/s once the transient is over; that slope
is what ``backlog_growth_per_s`` estimates (least-squares slope of the in-system count over the
tail window).

Verdict: unstable when the growth over the tail window exceeds both ``3 sqrt(N)`` and ``2 % N``,
``N`` being the requests that arrived in the window (estimated as the run's arrivals x window /
horizon). The first term is the scale of Poisson noise in the counts, the second keeps a long
stable run near saturation (whose queue wanders by a few per cent of its arrivals) from being
called unstable. An M/M/c queue at ``ρ = 1.2`` grows by ``(1 - 1/1.2) N = 17 % N``: unstable.

    >>> t = np.arange(0.0, 1001.0, 10.0)
    >>> s = stability(t, 0.8 * t, arrived=4800, end_s=1000.0, warmup_s=0.0, in_flight_at_end=800)
    >>> s["stable"], round(s["backlog_growth_per_s"], 3)
    (False, 0.8)

A diurnal run whose peak outruns the fleet but whose backlog drains before the end is stable
here (its SLO attainment tells the rest); ``in_flight_peak`` shows the worst moment. A run with
``drain: true`` is judged over its arrivals (the tail ends at ``duration``): after them the backlog
only shrinks, and counted in, it made an overloaded fleet read "cannot tell" (M/D/1 at ``ρ = 1.2``).

**Cannot tell.** A backlog that grows by less than the allowance is invisible, so the test only
resolves overloads whose growth share ``1 - 1/ρ`` exceeds ``resolution = allowance / N``: over
``N = 1,000`` arrivals about 9.5 %, over 100,000 the 2 % floor. A fleet a few per cent over
capacity (M/M/c at ``ρ = 1.03`` grows by 2.9 % of its arrivals) passes the backlog test on any run
shorter than some ten thousand arrivals. So "stable" also needs the capacity side: the offered
load factor (``utilization.load_factor`` x the admitted requests' worth of work / the worth it
counts, completed requests plus the part done on those in flight: every admitted request's full
cost over what the fleet could serve at its batch limits, :mod:`sim.perf.utilization`; with
``drain: true`` the capacity of the arrival window, up to ``duration``, not of the drain after it:
:func:`sim.metrics.fleet_summary.arrival_window_load_factor`) must leave more headroom than the run
resolves, ``offered_load_factor <= 1 - min(resolution, MAX_MARGIN)``.
Otherwise the verdict is ``"cannot tell"`` (``stable`` is ``None``): lengthen the run, or read
the load factor. ``MAX_MARGIN`` bounds the margin for runs too short to resolve anything: a load
factor below 0.75 is taken as below capacity whatever the run's length.

    >>> s = stability(t, 0.01 * t, arrived=4120, end_s=1000.0, warmup_s=0.0, in_flight_at_end=10,
    ...               offered_load_factor=1.03)
    >>> s["stable"], s["verdict"], round(s["resolution"], 3)
    (None, 'cannot tell', 0.066)
"""
from __future__ import annotations

import math

import numpy as np

from sim import humanize
from sim.metrics.names import amount

NOISE_SIGMAS = 3.0
"""Growth over the tail within this many Poisson standard deviations of its arrivals is noise."""
MIN_GROWTH_SHARE = 0.02
"""Growth over the tail below this share of its arrivals is not called unstable."""
MAX_MARGIN = 0.25
"""The most headroom below capacity a "stable" verdict asks of the offered load factor (a run too
short to resolve an overload relies on the capacity estimate alone; the step-time model behind it
is within 24 % of 29 published throughput measurements, docs/validation.md)."""
VERDICTS = {"stable": True, "unstable": False, "cannot tell": None}
#: reject reasons of demand turned away (``requests.rejected_by_reason``): the request was offered and
#: the fleet had no room (``queue_full``: ``max_waiting``), no time (``timeout``: ``patience_s``) or no
#: live replica (``no_replica``: a pool scaled to zero, or every replica warming, draining or failed)
#: for it. Its work counts in the offered load factor; a request the fleet could never serve (a prompt
#: past the context, ...) does not
OVERLOAD_REASONS = ("queue_full", "timeout", "no_replica")


def turned_away(requests: dict) -> int:
    """Requests the fleet refused for want of room, time or a replica (:data:`OVERLOAD_REASONS`).

        >>> turned_away({"rejected_by_reason": {"queue_full": 40, "timeout": 2, "kv_capacity": 1}})
        42
        >>> turned_away({"rejected_by_reason": {"no_replica": 5, "context_length": 3}})
        5
    """
    reasons = requests.get("rejected_by_reason") or {}
    return int(sum(reasons.get(r, 0) for r in OVERLOAD_REASONS))


def offered_count(requests: dict) -> float:
    """The requests whose work was offered to the fleet: the admitted ones (arrived - rejected) and
    those refused by a full waiting room, abandoned by their client or turned away for want of a live
    replica (:func:`turned_away`).

        >>> offered_count({"arrived": 100, "rejected": 70, "rejected_by_reason": {"queue_full": 60, "kv_capacity": 10}})
        90
        >>> offered_count({"arrived": 516, "rejected": 49, "rejected_by_reason": {"no_replica": 49}})
        516
    """
    return requests["arrived"] - requests.get("rejected", 0) + turned_away(requests)


def in_system_rows(ts: np.ndarray, n_pools: int) -> np.ndarray:
    """Requests in the system on each time-series row (``time_s, pool, replicas, queue_len,
    central_queue, running, ...``): the pool's queue and running sequences, plus its share of the
    central queue, which every pool's row repeats. Summed over the rows of one instant, the fleet's.

        >>> in_system_rows(np.array([[60.0, 0, 2, 3, 4, 5], [60.0, 1, 2, 1, 4, 2]]), 2).tolist()
        [10.0, 5.0]
    """
    ts = np.asarray(ts, dtype=np.float64)
    return ts[:, 3] + ts[:, 5] + ts[:, 4] / max(n_pools, 1)


def in_system_by_time(times: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum per-pool rows sampled at the same instants: ``(unique times, total in system)``."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) == 0:
        return np.zeros(0), np.zeros(0)
    t, inv = np.unique(times, return_inverse=True)
    return t, np.bincount(inv, weights=np.asarray(counts, dtype=np.float64), minlength=len(t))


def stability(times: np.ndarray, in_system: np.ndarray, *, arrived: float, end_s: float, warmup_s: float,
              in_flight_at_end: float, offered_load_factor: float | None = None,
              admitted_load_factor: float | None = None, peak: int | None = None) -> dict:
    """The ``stability`` summary block (see the module docstring).

    Parameters
    ----------
    times, in_system : requests in the system (waiting + running) at sample times, seconds.
    arrived : requests that arrived over the whole run.
    end_s, warmup_s : the end of the arrivals (the run's end; ``duration`` for a drained run, whose
        samples after it are ignored) and warmup, seconds.
    in_flight_at_end : requests neither completed, rejected nor failed at the end.
    offered_load_factor : work offered / work the fleet could serve at its batch limits; ``None``
        (unknown) judges by the backlog alone.
    admitted_load_factor : the same for the admitted requests alone, what the verdict judges when
        some were refused by a full waiting room or abandoned (the backlog is made of the admitted
        ones: the verdict stays the backlog's); ``None``: ``offered_load_factor``.
    peak : the most requests in the system at once, counted at every arrival and departure
        (``in_flight_peak_basis: "exact"``, what the request level passes); ``None``: the largest of
        ``in_system`` (``"estimate"``: the fluid tier's, read at its steps' ends, which it raises to its
        sub-steps' largest). Either way never under the count at the end.
    """
    t = np.asarray(times, dtype=np.float64)
    n = np.asarray(in_system, dtype=np.float64)
    start = max(float(warmup_s), float(end_s) / 2.0) if end_s > warmup_s else 0.0
    sel = (t >= start - 1e-9) & (t <= end_s + 1e-9)   # a drained run's samples after end_s are not its tail
    tt, nn = t[sel], n[sel]
    if len(tt) >= 2 and tt[-1] > tt[0]:
        window = float(tt[-1] - tt[0])
        growth = float(np.polyfit(tt - tt[0], nn, 1)[0])
    else:
        window = float(end_s) if end_s > 0 else 0.0
        growth = float(in_flight_at_end) / window if window > 0 else 0.0
    n_window = float(arrived) * window / end_s if end_s > 0 else 0.0
    allowance = max(NOISE_SIGMAS * math.sqrt(max(n_window, 1.0)), MIN_GROWTH_SHARE * n_window)
    resolution = allowance / max(n_window, 1.0)
    judged = offered_load_factor if admitted_load_factor is None else admitted_load_factor
    verdict = verdict_of(growth * window > allowance, judged, resolution, arrived)
    return {"stable": VERDICTS[verdict], "verdict": verdict, "backlog_growth_per_s": growth,
            "in_flight_at_end": int(round(in_flight_at_end)),
            "in_flight_peak": max(int(peak) if peak is not None else int(round(float(n.max()))) if len(n) else 0,
                                  int(round(in_flight_at_end))),
            "in_flight_peak_basis": "estimate" if peak is None else "exact",
            "window_s": window, "arrival_rate_per_s": n_window / window if window > 0 else 0.0,
            "offered_load_factor": offered_load_factor if offered_load_factor is None
            or math.isfinite(offered_load_factor) else None, "resolution": resolution}


def closed_loop(block: dict, clients: int) -> dict:
    """A ``stability`` block of a closed loop (``workload.arrival.process: closed``): ``clients``
    clients keep at most that many requests in the system, so no backlog can grow without bound and
    the fleet always keeps up with the demand it lets through (a slower fleet is met with fewer
    arrivals: the arrival rate is its throughput). The verdict is ``stable``; the measured slope is
    kept, ``closed_loop_clients`` says why it means nothing more, and the offered load factor reads
    as for any run (the work the clients sent over what the fleet could serve at its batch limits).

        >>> b = closed_loop({"stable": None, "verdict": "cannot tell", "backlog_growth_per_s": 0.001}, 64)
        >>> b["stable"], b["verdict"], b["closed_loop_clients"], growth_words(b)
        (True, 'stable', 64, 'bounded (closed loop: 64 clients)')
        >>> growth_words({**b, "offered_load_factor": 2.1})
        'bounded (closed loop: 64 clients, queueing: they send 2.1x what the batch limits serve)'

    The verdict is the backlog's; whether the clients wait on the fleet is the offered load factor's
    (above 1: they send more than the batch limits serve, and the requests queue up to ``clients``)
    and the latencies'. The growth words say both.
    """
    return {**block, "stable": True, "verdict": "stable", "closed_loop_clients": int(clients)}


def verdict_of(grew: bool, offered_load_factor: float | None, resolution: float, arrived: float) -> str:
    """``"unstable"`` when the backlog grew past its allowance; else ``"stable"`` when nothing
    arrived, the offered load is unknown, or it leaves more headroom than the run resolves
    (``<= 1 - min(resolution, MAX_MARGIN)``); else ``"cannot tell"`` (module docstring).

        >>> verdict_of(False, 0.9, 0.02, 10**5), verdict_of(False, 0.9, 0.12, 1000), verdict_of(True, 0.5, 0.02, 10**5)
        ('stable', 'cannot tell', 'unstable')
    """
    if grew:
        return "unstable"
    if arrived <= 0 or offered_load_factor is None:
        return "stable"
    return "stable" if offered_load_factor <= 1.0 - min(resolution, MAX_MARGIN) else "cannot tell"


def offered_load_factor(load_factor: float | None, requests: dict, served: float | None = None,
                        offered: float | None = None) -> float | None:
    """The fleet's load factor scaled from the work it served to the work it was offered, every
    offered request (:func:`offered_count`: the admitted ones, arrived - rejected, and those a full
    waiting room refused or whose client gave up waiting) at its full cost: x ``offered`` / ``served``.
    A fleet overloaded 3x behind a waiting room serves at its batch limits and refuses two arrivals in
    three: the admitted work alone read 1.0, the work offered reads 3.

    ``served`` is the requests' worth of work the load factor counts (the completed requests plus
    the part done on those in flight at the end, :func:`sim.metrics.utilization.in_flight_work`);
    ``offered`` the offered requests' worth in the same unit (a request of the served mix: the
    admitted mix priced as such, the refused ones at the admitted mix). Without them, the completed
    and the offered requests. Infinite when it was offered work and served none, ``None`` when the
    load factor is unknown.

        >>> offered_load_factor(0.95, {"arrived": 120, "rejected": 20, "completed": 90}, served=95.0)
        1.0
        >>> offered_load_factor(0.95, {"arrived": 120, "rejected": 20, "completed": 90}, 95.0, offered=114.0)
        1.14
        >>> offered_load_factor(1.0, {"arrived": 300, "rejected": 200, "completed": 100,
        ...                           "rejected_by_reason": {"queue_full": 200}})
        3.0
    """
    if load_factor is None:
        return None
    admitted = offered_count(requests)
    done = requests.get("completed", 0) if served is None else served
    if done <= 0:
        return math.inf if admitted > 0 else 0.0
    return load_factor * (admitted if offered is None else offered) / done


def timeseries_stability(ts: np.ndarray, requests: dict, warmup_s: float, end_s: float, n_pools: int,
                         load_factor: float | None = None, served: float | None = None,
                         offered: float | None = None, peak: int | None = None) -> dict:
    """The ``stability`` block from a run's time series (both tiers write the same columns:
    ``time_s, pool, replicas, queue_len, central_queue, running, ...``): requests in the system
    are every pool's queue and running sequences plus the central queue (repeated on every pool's
    row); ``requests`` is the summary's ``requests`` block, ``load_factor`` the fleet's, ``served``
    and ``offered`` the requests' worth of work it counts and that was admitted
    (:func:`offered_load_factor` scales it to the work offered); ``peak``: the most requests in the system
    at once where it was counted exactly (every arrival and departure: the request level), else the
    time series' largest (:func:`stability`)."""
    ts = np.asarray(ts, dtype=np.float64)
    if len(ts):
        t, n = in_system_by_time(ts[:, 0], in_system_rows(ts, n_pools))
    else:
        t, n = np.zeros(0), np.zeros(0)
    olf = offered_load_factor(load_factor, requests, served, offered)
    return stability(t, n, arrived=requests["arrived"], end_s=float(end_s), warmup_s=float(warmup_s),
                     in_flight_at_end=requests["in_flight"], offered_load_factor=olf,
                     admitted_load_factor=admitted_share(olf, requests), peak=peak)


def admitted_share(offered_lf: float | None, requests: dict) -> float | None:
    """The offered load factor of the admitted requests alone (arrived - rejected): ``offered_lf``
    x admitted / offered (:func:`offered_count`; the refused ones are priced at the admitted mix);
    ``None`` when none was turned away (it is ``offered_lf``) or the load factor is unknown.

        >>> admitted_share(3.0, {"arrived": 300, "rejected": 200, "rejected_by_reason": {"queue_full": 200}})
        1.0
    """
    away = turned_away(requests)
    if offered_lf is None or away <= 0 or not math.isfinite(offered_lf):
        return None
    offered = offered_count(requests)
    return offered_lf * (offered - away) / offered if offered > 0 else None


def noise_rate(block: dict) -> float | None:
    """The backlog growth (requests/s) a ``stability`` block's run cannot tell from noise: the
    allowance over its tail window (``resolution`` x the window's arrivals, at least one) per second of
    the window; ``None`` when the block lacks what it takes (a summary written before it was reported).

        >>> noise_rate({"resolution": 0.02, "arrival_rate_per_s": 12.0, "window_s": 1800.0})
        0.24
    """
    res, rate, window = (block.get(k) for k in ("resolution", "arrival_rate_per_s", "window_s"))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (res, rate, window)) \
            or window <= 0:
        return None
    return res * max(rate * window, 1.0) / window


def growth_words(block: dict) -> str:
    """A ``stability`` block's backlog growth as a planner reads it, on the run page and in the
    terminal alike: within the noise the verdict allows (:func:`noise_rate`; a run judged stable or
    too short to tell) ``none measurable (< 0.24 req/s)``, its four-digit noise being no measure of
    anything; else the growth (or shrinking, a negative one) in requests/s. A rate too small to read per
    second reads per hour or per day (:func:`sim.humanize.small_rate_below`, as the throughput does).

        >>> b = {"resolution": 0.02, "arrival_rate_per_s": 12.0, "window_s": 1800.0, "verdict": "stable"}
        >>> growth_words({**b, "backlog_growth_per_s": -0.00024}), growth_words({**b, "backlog_growth_per_s": -1.5})
        ('none measurable (< 0.24 req/s)', '-1.5 req/s')
        >>> growth_words({**b, "backlog_growth_per_s": 0.8, "verdict": "unstable"})
        '0.8 req/s'
        >>> growth_words({**b, "backlog_growth_per_s": 0.001, "verdict": "unstable"})
        '3.6 req/h'
    """
    clients = block.get("closed_loop_clients")
    if isinstance(clients, int) and not isinstance(clients, bool):
        words = f"bounded (closed loop: {clients:,} {'client' if clients == 1 else 'clients'}"
        lf = block.get("offered_load_factor")
        if isinstance(lf, (int, float)) and not isinstance(lf, bool) and math.isfinite(lf) and lf > 1.0:
            words += f", queueing: they send {lf:,.3g}x what the batch limits serve"
        return words + ")"
    growth = block.get("backlog_growth_per_s")
    if not isinstance(growth, (int, float)) or isinstance(growth, bool) or not math.isfinite(growth):
        return "–"
    noise = noise_rate(block)
    if noise is not None and block.get("verdict") != "unstable" and abs(growth) <= noise:
        if growth == 0 or noise <= 0:
            return "none"
        noise, per = humanize.per_longer(noise, "req/s")  # a small one per hour or day (the one rule)
        power = math.floor(math.log10(noise)) - 1         # the bound to two digits, rounded up, never 1e-05
        bound = math.ceil(noise / 10.0 ** power - 1e-9) * 10.0 ** power
        return f"none measurable (< {bound:,.{max(0, -power)}f} {per})"
    growth, per = humanize.per_longer(growth, "req/s")
    return f"{humanize.number(growth, digits=4)} {per}"


def _window(seconds: float) -> str:
    """A window's length for a message: whole seconds, or three significant digits below one second."""
    return f"{seconds:,.0f} s" if seconds >= 1 else f"{seconds:.3g} s"


def turned_away_shares(requests: dict) -> tuple[float, float, float]:
    """The shares of the arrived requests (``requests.arrived``, positive) turned away for each of
    :data:`OVERLOAD_REASONS`: refused by a full waiting room, abandoned by their clients, turned away
    for want of a live replica.

        >>> turned_away_shares({"arrived": 1000, "rejected_by_reason": {"queue_full": 640, "timeout": 10,
        ...                                                          "no_replica": 5, "kv_capacity": 7}})
        (0.64, 0.01, 0.005)
    """
    reasons = requests.get("rejected_by_reason") or {}
    arrived = requests["arrived"]
    refused, abandoned, none_up = (reasons.get(r, 0) / arrived for r in OVERLOAD_REASONS)
    return refused, abandoned, none_up


def overload_shares(summary: dict) -> tuple[float, float, float, float] | None:
    """``(offered load factor, refused share, abandoned share, no-replica share)`` of an overloaded
    run (:func:`overload`, with the share turned away for want of a live replica:
    :func:`turned_away_shares`); else ``None``."""
    lf = (summary.get("stability") or {}).get("offered_load_factor")
    req = summary.get("requests") or {}
    arrived = req.get("arrived")
    if not isinstance(lf, (int, float)) or isinstance(lf, bool) or not lf > 1.0 \
            or not isinstance(arrived, (int, float)) or arrived <= 0 or turned_away(req) <= 0:
        return None
    return (float(lf), *turned_away_shares(req))


def overload(summary: dict) -> tuple[float, float, float] | None:
    """``(offered load factor, refused share, abandoned share)`` of a run offered more work than its
    batch limits serve (offered load factor above 1) that turned some of it away (a full waiting
    room: ``queue_full``; clients who gave up waiting: ``timeout``; no live replica: ``no_replica``,
    said by :func:`overload_words`), shares of the arrived requests; else ``None``. Such a run's backlog is bounded by its waiting room or its clients' patience, so
    its verdict (the backlog's) cannot say the overload: this does.

        >>> overload({"stability": {"offered_load_factor": 2.9}, "requests": {"arrived": 1000,
        ...           "rejected_by_reason": {"queue_full": 640, "timeout": 10}}})
        (2.9, 0.64, 0.01)
        >>> overload({"stability": {"offered_load_factor": 0.8}, "requests": {"arrived": 1000,
        ...           "rejected_by_reason": {"queue_full": 3}}}) is None
        True
    """
    found = overload_shares(summary)
    return None if found is None else found[:3]


def factor_words(lf: float) -> str:
    """An offered load factor above 1 for an overload's message: three significant digits, more when
    three would round it to 1 (an overload said as "offered 1x" reads as none), "just over 1" past
    six decimals.

        >>> [factor_words(x) for x in (2.94, 1.5, 1.04, 1.004, 1.0004, 1.00000001)]
        ['2.94', '1.5', '1.04', '1.004', '1.0004', 'just over 1']
    """
    said = f"{lf:,.3g}"
    if lf > 1 and said == "1":
        for d in range(3, 7):
            if float(said := f"{lf:.{d}f}") > 1:
                return said
        return "just over 1"
    return said


def overload_words(summary: dict) -> str | None:
    """:func:`overload` in words, the same on the run page and in the terminal (``None`` when it is
    ``None``).

        >>> overload_words({"stability": {"offered_load_factor": 2.94}, "requests": {"arrived": 1000,
        ...                 "rejected_by_reason": {"queue_full": 640, "timeout": 10}}})
        'overloaded: offered 2.94x the work its batch limits serve; of the requests arrived, 64.0 % were refused (waiting room full) and 1.0 % abandoned (their clients gave up waiting)'
        >>> overload_words({"stability": {"offered_load_factor": 1.5}, "requests": {"arrived": 1000,
        ...                 "rejected_by_reason": {"no_replica": 250}}})
        'overloaded: offered 1.5x the work its batch limits serve; of the requests arrived, 25.0 % were turned away (no replica up to take them)'
        >>> overload_words({"stability": {"offered_load_factor": 1.003}, "requests": {"arrived": 1000,
        ...                 "rejected_by_reason": {"queue_full": 3}}})
        'overloaded: offered 1.003x the work its batch limits serve; of the requests arrived, 0.3 % were refused (waiting room full)'
    """
    found = overload_shares(summary)
    if found is None:
        return None
    lf, refused, abandoned, none_up = found
    said = [f"{share:.1%}".replace("%", " %") + words for share, words in
            ((refused, " refused (waiting room full)"), (abandoned, " abandoned (their clients gave up waiting)"),
             (none_up, " turned away (no replica up to take them)"))
            if share > 0]
    said[0] = said[0].replace(" % ", " % were ", 1)
    return f"overloaded: offered {factor_words(lf)}x the work its batch limits serve; of the requests arrived, " + " and ".join(said)


def warning(summary: dict) -> str | None:
    """One line for stderr when the run did not keep up (``None`` when it did or was not judged); an
    overload met by refusals (:func:`overload`) is said whatever the backlog's verdict."""
    words = overload_words(summary)
    if words is not None:
        return (f"warning: the fleet is {words}; the latencies describe the admitted requests only "
                f"(add capacity, or see requests and stability in the summary)")
    s = summary.get("stability")
    if not s or s.get("stable", True):
        return None
    if s.get("verdict") == "cannot tell":
        lf = s.get("offered_load_factor")
        if lf is None:
            offered = "no request completed to compare the work offered with what the fleet could serve"
        else:
            offered = f"the work offered is {lf:,.3g} of what it could serve at its batch limits (offered load factor)"
        return (f"warning: the run is too short to tell whether the fleet keeps up: {offered}, and a backlog "
                f"growing by less than {s['resolution']:.1%} of the {s['arrival_rate_per_s'] * s['window_s']:,.0f} "
                f"requests of the last {_window(s['window_s'])} is lost in the noise; lengthen duration, or add "
                f"capacity (see stability in the summary)")
    left = s["in_flight_at_end"]
    end = (f"{left:,} requests were still in flight at the end" if left else
           "the backlog was served only after the arrivals stopped (drain)")
    return (f"warning: the fleet did not keep up: the backlog grew by "
            f"{amount('stability.backlog_growth_per_s', s['backlog_growth_per_s'])} over the last "
            f"{_window(s['window_s'])} and {end}; latency percentiles and SLO attainment describe a "
            f"growing queue, not a steady state (add capacity, or see stability in the summary)")
