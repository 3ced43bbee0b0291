"""Overloads shorter than a step: the rate within a step, on sub-steps.

Each step's demand is split over ``SUB`` sub-steps as the rate function falls within it
(:func:`sub_spread`). Capacity left idle before the rate rises inside a step cannot serve the arrivals
after the rise: a step ends with the backlog of the plain fluid queue on its sub-steps
(:func:`lost_capacity`, :func:`end_backlog`; one server at 0.5/s for half an hour, then 1.5/s, its
capacity 1/s: 900 at the hour's end, not the step mean's none), busy at capacity only on the sub-steps
that hold a backlog (:func:`at_capacity_subs`), and the waits of a backlogged step are read on the
sub-steps (:func:`sub_waits`), as are those of a step whose backlog builds and clears inside it
(:func:`hidden_backlog`: none at its start or end; before, its requests waited nothing), and the run's
``in_flight_peak`` reads the sub-steps' backlog, and the time series' queue is its mean over them
(:func:`~sim.fluid.in_system.queue_mean`). What the steps still average away is the time series within
them (one server at 1.5 times capacity for 30 minutes inside an hour whose mean is its
capacity: a 900-request peak, 300 left at the hour's end; ``docs/scaling.md``), what an autoscaler reads,
and any swing shorter than a sub-step. This module
serves each pool's admitted demand on the sub-steps as a plain fluid queue at the step's serving
capacity (the reflected net input ``Q = X - min(0, min X)``, ``X`` the cumulative arrivals less
capacity) and says how long a wait the steps hid (:func:`warn_hidden`).

    >>> steps = np.array([3600.0])
    >>> sub = np.array([[225.0, 675.0, 675.0, 675.0, 675.0, 225.0, 225.0, 225.0]])  # 450 s each
    >>> round(hidden_wait(sub, np.array([1.0]), steps), 1)      # 1.5/s for 1,800 s against 1/s
    900.0
    >>> round(hidden_wait(sub.sum(axis=1, keepdims=True), np.array([1.0]), steps), 1)   # the step's mean
    0.0
"""
from __future__ import annotations

import math

import numpy as np

from sim.fluid.backlog import longest_wait

SUB = 12
"""Sub-steps per step (five minutes of an hourly step)."""


def sub_edges(edges: np.ndarray, sub: int = SUB) -> np.ndarray:
    """``sub`` equal sub-steps of every step between ``edges``."""
    edges = np.asarray(edges, dtype=np.float64)
    inner = edges[:-1, None] + np.diff(edges)[:, None] * (np.arange(sub) / sub)[None, :]
    return np.append(inner.ravel(), edges[-1])


def hidden_wait(admitted_sub: np.ndarray, capacity_rps: np.ndarray, dt_s: np.ndarray,
                cap_spread: np.ndarray | None = None) -> float:
    """The longest wait (s) of the fluid queue run on sub-steps: ``admitted_sub`` is ``(steps, sub)``
    requests, served at ``capacity_rps`` per step (requests/s, its mean) over steps of ``dt_s``, each
    sub-step its ``cap_spread`` share of it (even by default; :mod:`sim.fluid.no_replica`)."""
    admitted_sub = np.asarray(admitted_sub, dtype=np.float64)
    n, sub = admitted_sub.shape
    rate = np.repeat(np.asarray(capacity_rps, dtype=np.float64), sub)
    if cap_spread is not None:
        rate = rate * np.asarray(cap_spread, dtype=np.float64).ravel() * sub
    net = admitted_sub.ravel() - rate * np.repeat(np.asarray(dt_s, dtype=np.float64) / sub, sub)
    q = sub_queue(0.0, net)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(rate > 0, q / rate, np.where(q > 1e-9, np.inf, 0.0))
    return float(wait.max()) if len(wait) else 0.0


def hidden_message(pool: str, step_s: float, wait_sub_s: float, wait_step_s: float, ttft_s: float) -> str | None:
    """The warning for a pool whose sub-steps wait ``wait_sub_s`` where its steps waited
    ``wait_step_s`` at most, or ``None`` when the steps hide nothing that matters: a wait within the
    TTFT objective, within a tenth of a step, or within twice what the steps show."""
    from sim.humanize import duration

    if not wait_sub_s > max(ttft_s, 0.1 * step_s, 2.0 * wait_step_s):
        return None
    seen = f"they show {duration(wait_step_s)}" if wait_step_s > 0 else "they show none"
    # an infinite wait is a sub-step holding requests with no replica serving: no duration to print
    waits = (": with no replica serving, requests wait until one is ready" if math.isinf(wait_sub_s) else
             f" and requests wait up to {duration(wait_sub_s)}")
    return (f"fluid.step: the arrival rate varies within the {duration(step_s)} steps: served at "
            f"{duration(step_s / SUB)} resolution, pool {pool} falls behind{waits}; its latencies, SLO "
            f"attainment, in_flight_peak and time series (each row its step's mean queue) count that, but the "
            f"backlog at the steps' ends ({seen}) and an autoscaler, which reads each step's mean rate, do not, "
            f"nor any swing shorter than {duration(step_s / SUB)}; set a shorter fluid.step "
            f"(at most the shortest overload that matters) or check the busiest hours at fidelity: request")


def sub_arrivals(sc, edges: np.ndarray, dt_s: np.ndarray, base_dir) -> np.ndarray | None:
    """``(steps, SUB, classes)``: each class's expected arrivals in each sub-step of each step (the rate
    function integrated per sub-step; a trace's arrivals counted per sub-step, which reads it a second
    time), read once for :func:`sub_spread` and :func:`class_spread`; ``None`` without steps."""
    from sim.fluid.demand import expected_arrivals

    if len(dt_s) == 0:
        return None
    fine = expected_arrivals(sc.workload, sub_edges(edges), start=sc.start, base_dir=base_dir, seed=sc.seed, sub=5)
    return fine.reshape(len(dt_s), SUB, fine.shape[1])


def sub_spread(fine: np.ndarray | None, total: np.ndarray) -> np.ndarray | None:
    """``(steps, SUB)``: the share of each step's demand (``total``) that falls in each of its sub-steps,
    all classes (``fine``: :func:`sub_arrivals`); ``None`` without steps."""
    if fine is None:
        return None
    fine = fine.sum(axis=2)
    return np.divide(fine, total[:, None], out=np.full_like(fine, 1.0 / SUB), where=total[:, None] > 0)


def class_spread(fine: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """``(steps, SUB, classes)``: the share of each class's step demand (``demand``, steps x classes) in
    each sub-step (``fine``: :func:`sub_arrivals`; uniform where a class sends nothing in a step); for
    pools that take their own part of each class (``fleet.router.classes``), whose rate within a step is
    not the fleet's (:func:`pool_spread`). Only called where :func:`sub_spread` is not ``None``."""
    d = np.asarray(demand, dtype=np.float64)[:, None, :]
    return np.divide(fine, d, out=np.full_like(fine, 1.0 / SUB), where=d > 0)


def pool_spread(shares: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """``(steps, SUB)``: a pool's demand over its sub-steps from its part of each class's demand
    (``demand``, steps x classes) and each class's spread (:func:`class_spread`): a pool pinned to a
    class that rises within a step rises with it, whatever the other classes do.

        >>> shares = np.array([[[0.25, 0.5], [0.75, 0.5]]])          # class 0 rises, class 1 is flat
        >>> pool_spread(shares, np.array([[100.0, 0.0]])).tolist()               # class 0 alone
        [[0.25, 0.75]]
        >>> pool_spread(shares, np.array([[100.0, 100.0]])).tolist()             # half of each
        [[0.375, 0.625]]
    """
    demand = np.asarray(demand, dtype=np.float64)
    total = demand.sum(axis=1)
    part = (shares * demand[:, None, :]).sum(axis=2)
    return np.divide(part, total[:, None], out=np.full_like(part, 1.0 / shares.shape[1]), where=total[:, None] > 0)


def sub_mix(shares: np.ndarray, demand: np.ndarray, cls_frac: np.ndarray) -> np.ndarray | None:
    """``(steps, SUB, classes)``: each class's share of a pool's arrivals in each sub-step, from its part
    of each class's demand (``demand``, steps x classes) and each class's spread (:func:`class_spread`);
    the step's mix ``cls_frac`` where the classes rise and fall together (or nothing arrives), so a
    step's classes are told apart inside it only where they differ; ``None`` where they never do (the
    step's mix is the sub-steps').

        >>> shares = np.array([[[1.0, 0.0], [0.0, 1.0]]])       # class 0 in the first half, class 1 in the second
        >>> sub_mix(shares, np.array([[100.0, 100.0]]), np.array([[0.5, 0.5]])).tolist()
        [[[1.0, 0.0], [0.0, 1.0]]]
        >>> sub_mix(np.full((1, 2, 2), 0.5), np.array([[100.0, 100.0]]), np.array([[0.5, 0.5]])) is None
        True
    """
    part = shares * np.asarray(demand, dtype=np.float64)[:, None, :]
    tot = part.sum(axis=2, keepdims=True)
    mix = np.divide(part, tot, out=np.zeros_like(part), where=tot > 0)
    alike = (np.ptp(shares, axis=2, keepdims=True) <= 1e-12) | (tot <= 0)
    if alike.all():
        return None
    return np.where(alike, np.asarray(cls_frac, dtype=np.float64)[:, None, :], mix)


def lost_capacity(spread: np.ndarray, admitted: np.ndarray, capacity: np.ndarray,
                  cap_spread: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per step, ``(P, m)``: what the sub-steps add to a backlog, arrivals less capacity (``P``, the step's
    ``admitted - capacity``), and the lowest that running sum reaches at a sub-step's end (``m``). A step
    that starts with a backlog ``b`` ends with :func:`end_backlog` ``= b + P - min(0, b + m)``: the plain
    fluid queue on its sub-steps (reflected at 0), which keeps no capacity left idle before a rise of the
    rate for the requests after it. With a constant rate it is ``max(b + P, 0)``, the step's own queue.

        >>> p, m = lost_capacity(np.array([[0.25] * 6 + [0.75] * 6]) / 6, np.array([3600.0]), np.array([3600.0]))
        >>> float(p[0]), float(m[0]), float(end_backlog(0.0, p[0], m[0]))  # 0.5/s then 1.5/s against 1/s
        (0.0, -900.0, 900.0)
    """
    run = np.cumsum(sub_net(spread, admitted, capacity, cap_spread), axis=1)
    return run[:, -1], run.min(axis=1)


def end_backlog(b: float, p: float, m: float) -> float:
    """The backlog at a step's end from ``b`` at its start (:func:`lost_capacity`)."""
    return b + p - min(0.0, b + m)


def sub_net(spread: np.ndarray, admitted: np.ndarray, capacity: np.ndarray,
            cap_spread: np.ndarray | None = None) -> np.ndarray:
    """``(steps, SUB)``: what each sub-step adds to a queue, its arrivals (``spread`` of the step's
    ``admitted``) less its part of the step's ``capacity`` (requests per step): an even part, or its
    ``cap_spread`` share where the replicas serving change inside the step (:mod:`sim.fluid.no_replica`:
    those still booting serve nobody); one step's row when ``spread`` is one row and the others are
    numbers."""
    spread = np.asarray(spread, dtype=np.float64)
    sub = spread.shape[-1]
    adm, cap = np.asarray(admitted, dtype=np.float64), np.asarray(capacity, dtype=np.float64)
    if spread.ndim == 1:
        return spread * adm - (cap / sub if cap_spread is None else cap * np.asarray(cap_spread, dtype=np.float64))
    if cap_spread is None:
        return spread * adm[:, None] - cap[:, None] / sub
    return spread * adm[:, None] - cap[:, None] * np.asarray(cap_spread, dtype=np.float64)


def sub_queue(b, net: np.ndarray) -> np.ndarray:
    """The plain fluid queue at the end of each sub-step (last axis) from ``b`` at the start: the net
    input reflected at 0, ``X - min(0, min X)`` with ``X = b + cumsum(net)`` and ``min X`` its running
    minimum (the lowest ``X`` up to each sub-step, not over the step); the one queue the sub-steps
    are read with (:func:`at_capacity_subs`, :func:`sub_waits`, :func:`hidden_wait`).

        >>> sub_queue(0.0, np.array([-1.0, 2.0, -3.0, 1.0])).tolist()
        [0.0, 2.0, 0.0, 1.0]
    """
    x = b + np.cumsum(net, axis=-1)
    return x - np.minimum(np.minimum.accumulate(x, axis=-1), 0.0)


def hidden_backlog(spread: np.ndarray, admitted: np.ndarray, capacity: np.ndarray, b_start: np.ndarray,
                   b_end: np.ndarray, cap_spread: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(sub_q, within)``: the backlog at each sub-step's end (steps x sub-steps, the queue of
    :func:`sub_queue` from each step's starting backlog ``b_start``, each step serving up to its
    ``capacity``), and per step whether a backlog builds and clears inside it (none at its start or end,
    some at a sub-step's end). Such a step is as busy, and its requests wait, as its sub-steps say: one
    server at 0.5/s, then 1.02/s for ten minutes, then 0.5/s, a backlog of 12 at the ten minutes' end
    that the step's mean rate (0.63/s here) never builds.

        >>> spread = np.array([[300.0, 612.0, 300.0, 300.0]]) / 1512.0    # 600 s sub-steps: 0.5/s, 1.02/s, 0.5/s
        >>> q, within = hidden_backlog(spread, np.array([1512.0]), np.array([2400.0]), np.zeros(1), np.zeros(1))
        >>> [round(float(x), 6) for x in q[0]], within.tolist()                  # against 1/s
        ([0.0, 12.0, 0.0, 0.0], [True])
    """
    capacity = np.asarray(capacity, dtype=np.float64)
    b_start = np.asarray(b_start, dtype=np.float64)
    sub_q = sub_queue(b_start[:, None], sub_net(spread, admitted, capacity, cap_spread))
    within = ~((b_start + np.asarray(b_end, dtype=np.float64)) > 0) & backlogged(sub_q, capacity).any(axis=1)
    return sub_q, within


def backlogged(sub_q: np.ndarray, capacity) -> np.ndarray:
    """Which sub-steps end with a backlog (last axis of ``sub_q``, :func:`sub_queue`): more waiting than a
    billionth of the step's ``capacity`` (requests per step, per row or one number; at least a billionth
    of a request), so that rounding in the running sums is no backlog.

        >>> backlogged(np.array([[0.0, 2e-7, 5.0]]), np.array([3600.0])).tolist()
        [[False, False, True]]
    """
    return sub_q > 1e-9 * np.maximum(np.asarray(capacity, dtype=np.float64), 1.0)[..., None]


def at_capacity_subs(b: float, spread_row: np.ndarray, admitted: float, capacity: float,
                     cap_row: np.ndarray | None = None) -> float:
    """The share of a step's sub-steps that end with a backlog (the pool at capacity through them), the
    queue started at ``b``: what the busy share reads for a step whose sub-steps lost capacity."""
    q = sub_queue(b, sub_net(spread_row, admitted, capacity, cap_row))
    return float(np.mean(backlogged(q, capacity)))


def sub_waits(edges: np.ndarray, admitted: np.ndarray, b_start: np.ndarray, capacity: np.ndarray,
              spread: np.ndarray, rows: np.ndarray, points: int,
              cap_spread: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per step of ``rows`` and evenly spread instant of it, the first-come-first-served wait (s) of
    the request served then and the rate served then (requests per step), with arrivals and services
    taken per sub-step (``spread``: each step's demand over its sub-steps; the queue on them from each
    step's starting backlog ``b_start``, :func:`sub_queue`, each sub-step serving what it holds up to its
    part of ``capacity``): where the rate varies inside a step, the requests served after a rise waited
    longer than those before it (see :mod:`sim.fluid.backlog`). Only the steps of ``rows`` are served on
    their sub-steps: the services before a step are the arrivals before it less its starting backlog.
    ``cap_spread``: each sub-step's share of its step's capacity (even by default; :mod:`sim.fluid.no_replica`).

        >>> row = np.array([[0.25] * 6 + [0.75] * 6]) / 6     # 0.5/s, then 1.5/s against 1/s
        >>> w, r = sub_waits(np.array([0.0, 3600.0]), np.array([3600.0]), np.zeros(1), np.array([3600.0]), row,
        ...                  np.array([0]), 4)
        >>> [round(float(x)) for x in w[0]], [round(float(x)) for x in r[0]]   # served at 450, 1350, 2250, 3150 s
        ([0, 0, 150, 450], [1800, 1800, 3600, 3600])
    """
    from sim.fluid.backlog import arrival_times

    edges = np.asarray(edges, dtype=np.float64)
    admitted = np.asarray(admitted, dtype=np.float64)
    n, sub = spread.shape
    rows = np.asarray(rows, dtype=np.int64)
    a_sub = spread * admitted[:, None]
    cum_a = np.concatenate(([0.0], np.cumsum(a_sub.ravel())))
    b = np.asarray(b_start, dtype=np.float64)[rows]
    part = None if cap_spread is None else np.asarray(cap_spread, dtype=np.float64)[rows]
    q = sub_queue(b[:, None], sub_net(spread[rows], admitted[rows], np.asarray(capacity, dtype=np.float64)[rows], part))
    q0 = np.column_stack([b, q[:, :-1]])                                 # the queue at each sub-step's start
    d_sub = np.maximum(q0 + a_sub[rows] - q, 0.0)                         # served in each sub-step
    x = (np.arange(points) + 0.5) / points
    s = edges[rows, None] + x[None, :] * (edges[rows + 1] - edges[rows])[:, None]
    j = np.minimum((x * sub).astype(np.int64), sub - 1)                   # the sub-step of each instant
    f = (x * sub - j)[None, :]                                            # how far into it
    done = np.cumsum(d_sub, axis=1) - d_sub                               # served in the step before it
    # within a sub-step the plain fluid queue: at capacity while a backlog is left, then as the requests
    # arrive (min(c f, q0 + a f)); spread evenly over the sub-step, the requests served after a backlog
    # cleared inside it read a wait
    cap_rows = np.asarray(capacity, dtype=np.float64)[rows][:, None]
    c_sub = np.broadcast_to(cap_rows / sub, (len(rows), sub))[:, j] if part is None else (cap_rows * part)[:, j]
    a_j = a_sub[rows][:, j]
    busy = c_sub * f < q0[:, j] + a_j * f
    d = (cum_a[rows * sub] - b)[:, None] + done[:, j] + np.minimum(c_sub * f, q0[:, j] + a_j * f)
    arrived = arrival_times(cum_a, sub_edges(edges, sub), d.ravel()).reshape(s.shape)
    return np.maximum(s - arrived, 0.0), np.where(busy, c_sub, a_j) * sub


def read_on_subs(waits, edges: np.ndarray, admitted: np.ndarray, b_start: np.ndarray, capacity: np.ndarray,
                 spread: np.ndarray | None, cap_spread: np.ndarray | None = None) -> None:
    """Where the rate or the replicas serving (``cap_spread``, :func:`sub_waits`) vary inside the steps, the
    backlogged steps' waits (a :class:`~sim.fluid.backlog.StepWaits`, in place) read per sub-step
    (:func:`sub_waits`: after a rise longer than before it), and their means."""
    varies = cap_spread is not None and np.ptp(cap_spread) > 1e-12
    if spread is None or not len(waits.rows) or not (np.ptp(spread) > 1e-12 or varies):
        return
    from sim.fluid.backlog import rate_mean

    waits.waits[:], waits.rate[:] = sub_waits(edges, admitted, b_start, capacity, spread, waits.rows,
                                              waits.waits.shape[1], cap_spread)
    waits.mean[waits.rows] = rate_mean(waits.waits, waits.rate)


def warn_hidden(sc, dt_s: np.ndarray, spread: np.ndarray | None, pools: list) -> None:
    """A :class:`~sim.errors.ScenarioWarning` for each pool whose steps hide a backlog
    (:func:`hidden_message`). ``pools`` holds ``(name, offered per step, reject share, serving
    replicas per step, max_rps, backlog at each step's end[, the pool's own spread[, each sub-step's
    share of the capacity]])``; each pool's sub-steps split its step's offer as its demand falls within
    the step (its own spread, else the fleet's ``spread``, :func:`sub_spread`; ``None``: no steps)."""
    import warnings

    from sim.errors import ScenarioWarning

    if spread is None:
        return
    step_s = float(dt_s[0])
    for name, offered, reject, serving, max_rps, b_end, *own in pools:
        spread_p = own[0] if own and own[0] is not None else spread
        cap = np.asarray(serving, dtype=np.float64) * max_rps
        cap_spread = own[1] if len(own) > 1 else None
        message = hidden_message(name, step_s, hidden_wait(spread_p * (offered * (1.0 - reject))[:, None], cap, dt_s,
                                                           cap_spread),
                                 longest_wait(b_end, cap), sc.slo.ttft_s)
        if message:
            warnings.warn(message, ScenarioWarning, stacklevel=3)


RATE_FUNCTIONS = ("poisson", "gamma", "compound_poisson", "diurnal", "piecewise")
"""Processes whose sub-step arrivals are a rate function's integral, not a trace's counts."""


def within_step_swing(fine: np.ndarray) -> float:
    """The most any step's sub-step arrivals (``fine``, :func:`sub_arrivals`, all classes) depart from
    the step's mean, as a share of it (0: flat in every step; steps that receive nothing are flat).

        >>> within_step_swing(np.array([[[0.0]] * 6 + [[5.0]] * 6, [[60.0]] * 6 + [[120.0]] * 6]))
        1.0
    """
    r = np.asarray(fine, dtype=np.float64).sum(axis=2)
    mean = r.mean(axis=1, keepdims=True)
    dev = np.divide(np.abs(r - mean), mean, out=np.zeros_like(r), where=mean > 0)
    return float(dev.max()) if dev.size else 0.0


def resolving_step(arrival, step_s: float) -> float:
    """A ``fluid.step`` that holds the rate constant within each step: for ``piecewise`` the largest that
    divides its breakpoints (whole seconds), else the sub-steps' length ``step_s / SUB``.

        >>> from types import SimpleNamespace as NS
        >>> resolving_step(NS(process="piecewise", times=[0, 1800, 3600, 5400]), 3600.0)
        1800.0
        >>> resolving_step(NS(process="diurnal"), 3600.0)
        300.0
    """
    import math

    times = getattr(arrival, "times", None) if getattr(arrival, "process", None) == "piecewise" else None
    if times and all(float(t) == int(t) for t in times):
        g = 0
        for t in times:
            g = math.gcd(g, int(t))
        if 0 < g < step_s:
            return float(g)
    return step_s / SUB


def autoscale_messages(sc, dt_s: np.ndarray, fine: np.ndarray | None, pools: list) -> list[str]:
    """What the fluid tier's steps hide from an autoscaled pool (``pools``: ``(index, name, autoscale block
    or None)``). Its autoscaler settles each step at the step's mean rate and serves the whole step with those
    replicas (:mod:`sim.fluid.autoscale`), so a rate that leaves the step's mean by more than the HPA's
    tolerance band (``autoscale.tolerance``, at least its default 0.1) inside a step is one the request
    level's autoscaler follows, late by its interval and ``scale_up_delay``, and the steps do not; and a
    pool at ``autoscale.min: 0``, which at request level scales to zero after an interval that passes
    idle and then rejects arrivals ``no_replica`` until a replica is up: the fluid tier turns those away
    in a fleet of one pool (:mod:`sim.fluid.no_replica`), where its pool goes to zero only at a rate of
    0, so it is said where the fleet's rate lies between 0 and one request per autoscaler ``interval``
    in some sub-step (an interval may then pass idle); in a fleet of several pools, whose shares the
    fluid tier fixes, where it falls below one request per interval. ``dt_s``: the steps' lengths;
    ``fine``: :func:`sub_arrivals`.

        >>> from types import SimpleNamespace as NS
        >>> sc = NS(workload=NS(arrival=NS(process="poisson", rate=1.0), classes=[]))
        >>> autoscale_messages(sc, np.array([3600.0]), np.ones((1, SUB, 1)), [(0, "a", NS(tolerance=0.1, min=1))])
        []
    """
    from sim.humanize import duration

    out = []
    step_s = float(dt_s[0])
    scaled = [(i, name, a) for i, name, a in pools if a is not None]
    arrivals = [a for a in [sc.workload.arrival] + [c.arrival for c in sc.workload.classes or []] if a is not None]
    rated = bool(arrivals) and all(a.process in RATE_FUNCTIONS for a in arrivals)
    if scaled and fine is not None and rated:
        swing = within_step_swing(fine)
        tol = max([max(a.tolerance, 0.1) for _, _, a in scaled])
        if swing > tol:
            fix = min(resolving_step(a, step_s) for a in arrivals)
            names = ", ".join(name for _, name, _ in scaled)
            out.append(f"fluid.step: the arrival rate varies within the {duration(step_s)} steps (up to "
                       f"{swing:.0%} off a step's mean, past the autoscaler's {tol:.0%} tolerance): the "
                       f"autoscaler of pool {names} settles at each step's mean rate and serves the whole step "
                       f"with it, not late by its interval and scale_up_delay as the rate rises, so its "
                       f"queueing, rejections and SLO attainment may read far too good; set fluid.step: "
                       f"{duration(fix)} or shorter, or check at fidelity: request")
    rate = None if fine is None else fine.sum(axis=2) / (np.asarray(dt_s, dtype=np.float64)[:, None] / SUB)
    alone = len(pools) == 1              # sim.fluid.no_replica.zero_rule
    for i, name, a in scaled:
        if a.min != 0 or rate is None:
            continue
        per = rate * float(a.interval)
        if alone and bool(((per > 0) & (per < 1.0)).any()):
            out.append(f"fleet.pools.{i}.autoscale.min: 0 (pool {name}): the rate falls below one request per "
                       f"autoscaler interval without reaching 0 in some {duration(step_s / SUB)} sub-step; at request "
                       f"level an interval may then pass with no request, the pool scale to zero and the next "
                       f"arrivals be rejected no_replica until a replica is up (scale_up_delay); the fluid tier "
                       f"scales a pool to zero only at a rate of 0, so its no_replica count and SLO attainment may "
                       f"leave those out; check at fidelity: request")
        elif not alone and float(per.min()) < 1.0:
            out.append(f"fleet.pools.{i}.autoscale.min: 0 (pool {name}): at request level a pool scaled to zero rejects "
                       f"arrivals no_replica while no replica of the fleet is up (scale_up_delay); in a fleet of "
                       f"several pools the fluid tier never does, it keeps each pool's share of the arrivals in its "
                       f"backlog, so its rejected count and SLO attainment leave those out; check at fidelity: request")
    return out


def warn_autoscaled(sc, dt_s: np.ndarray, fine: np.ndarray | None, pools: list) -> None:
    """Each of :func:`autoscale_messages` as a :class:`~sim.errors.ScenarioWarning`."""
    import warnings

    from sim.errors import ScenarioWarning

    for message in autoscale_messages(sc, dt_s, fine, pools):
        warnings.warn(message, ScenarioWarning, stacklevel=3)
