"""A pool with no replica to take its arrivals, inside the fluid tier's steps.

At request level (:mod:`sim.serving.router`, :mod:`sim.serving.fleet`) a request that arrives while no
replica of the fleet is accepting, every one warming or draining or none provisioned (a pool scaled to
zero, ``autoscale.min: 0``), is rejected ``no_replica`` on arrival; behind ``fleet.router.policy:
central_queue`` it is rejected only while no replica is provisioned at all, and one that arrives while a
replica warms waits in the central queue until that replica is ready. The autoscaler brings a pool at
zero one replica back at its first decision after such a rejection (:mod:`sim.serving.autoscaler`),
which serves ``scale_up_delay`` later.

The fluid tier's autoscaled pools keep that timeline (:class:`~sim.fluid.autoscale.Replicas`: each change
of the replicas serving, ``readies``, and of those provisioned, ``moves``); this module reads it within a
step, per sub-step (:data:`~sim.fluid.substep.SUB` of them): the replicas serving through each sub-step
(:func:`level_subs`), which is the capacity of the sub-step's fluid queue (:func:`capacity_spread`:
backlog grows while replicas boot), and the share of each sub-step with none to take an arrival, which
times the arrivals there (taken evenly within a sub-step) is the expected count turned away
(:func:`turned_away`). One pool at zero, an hourly step of 5 requests/s, its first replica provisioned a
minute in and serving three minutes later: ``5 x 240 = 1,200`` turned away:

    >>> mean, none = level_subs(0.0, [(240.0, 1.0)], 0.0, 3600.0, 12)     # ready at 240 s
    >>> mean[:2].tolist(), none[:2].tolist()                             # five-minute sub-steps
    ([0.2, 1.0], [0.8, 0.0])
    >>> round(float(turned_away(np.full(12, 1.0 / 12), none) * 5.0 * 3600.0), 6)
    1200.0

Behind a central queue the arrivals held while the first replica boots wait for it, each from its arrival
to the replica's ready time, then behind the others while the replica drains them: a wait of up to the boot
(``scale_up_delay``). The sub-steps' fluid queue serves a sub-step's arrivals and capacity evenly, so it
reads those waits only to a sub-step's resolution: constant 5 requests/s, a 3-minute boot, hourly steps
(five-minute sub-steps) read a mean queue time of 0.12 s where the request level reads 5.1 s (by hand at
least ``900 x 90 / 17,700 = 4.6`` s: 900 held, 90 s each on average), 6-minute steps 5.1 s. The run says so
(:func:`hold_message`) where a sub-step is longer than a sixth of the boot.

Only a fleet of one pool is read so: with several, the request level's router sends a request another
pool's replica while one pool has none, where the fluid tier's shares are fixed per pool
(:func:`sim.fluid.run.pool_shares`), so its steps leave such a pool's arrivals in its backlog, as before.
"""
from __future__ import annotations

import math

import numpy as np

NONE_READY = "ready"
"""Arrivals are turned away while no replica is serving (every router but ``central_queue``)."""
NONE_PROVISIONED = "provisioned"
"""Arrivals are turned away only while no replica is provisioned (``central_queue``: held while one warms)."""


def zero_rule(router_policy: str, pools: int) -> str | None:
    """When a pool's arrivals meet no replica: :data:`NONE_READY`, :data:`NONE_PROVISIONED` behind a central
    queue, or ``None`` for a fleet of several pools (see the module docstring).

        >>> zero_rule("round_robin", 1), zero_rule("central_queue", 1), zero_rule("least_outstanding", 2)
        ('ready', 'provisioned', None)
    """
    if pools != 1:
        return None
    return NONE_PROVISIONED if router_policy == "central_queue" else NONE_READY


def level_subs(start: float, changes, t0: float, t1: float, sub: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, none)`` over ``sub`` equal sub-steps of ``[t0, t1)``: the time-weighted mean of a count
    that is ``start`` at ``t0`` and moves by ``c`` at each ``(time, c)`` of ``changes`` (those at or before
    ``t0`` count from the start, those at or after ``t1`` not at all), and the share of each sub-step in
    which it is at most 0.

        >>> [x.tolist() for x in level_subs(2.0, [(30.0, -2.0), (45.0, 1.0)], 0.0, 60.0, 2)]
        [[2.0, 0.5], [0.0, 0.5]]
    """
    dt = (t1 - t0) / sub
    level = start + sum(c for u, c in changes if u <= t0)
    cuts = sorted((u, c) for u, c in changes if t0 < u < t1)
    lowest, x = level, level
    for _, c in cuts:
        x += c
        lowest = min(lowest, x)
    if lowest > 1e-9:       # never at 0: the means from the integral at the sub-steps' edges (a step's few changes)
        edges = [t0 + j * dt for j in range(sub)] + [t1]
        area = [level * (e - t0) + sum(c * (e - u) for u, c in cuts if e > u) for e in edges]
        return np.array([(area[j + 1] - area[j]) / dt for j in range(sub)]), np.zeros(sub)
    mean = np.zeros(sub)
    none = np.zeros(sub)
    at = t0
    for j in range(sub):
        end = t1 if j == sub - 1 else t0 + (j + 1) * dt
        while True:
            nxt = cuts[0][0] if cuts and cuts[0][0] < end else end
            mean[j] += level * (nxt - at)
            if level <= 1e-9:
                none[j] += nxt - at
            at = nxt
            if nxt >= end:
                break
            level += cuts.pop(0)[1]
    return mean / dt, none / dt


def quiet_lead(spread_row: np.ndarray, dt_s: float) -> float:
    """The seconds of a step before its first sub-step that holds arrivals (``spread_row``, its share of
    the step's; 0 where none does): a pool with nothing provisioned stays so through them, as at request
    level, where its autoscaler brings a replica back only at its first decision after an arrival met none
    (:mod:`sim.serving.autoscaler`); the fluid tier's decisions on the step's load start after them, which
    the first arrival is taken to open (the first of them at the request level's next decision time,
    :func:`wake_window`).

        >>> quiet_lead(np.array([0.0] * 6 + [1.0 / 6] * 6), 3600.0), quiet_lead(np.zeros(4), 60.0)
        (1800.0, 0.0)
    """
    held = np.flatnonzero(np.asarray(spread_row) > 0)
    return float(held[0]) * dt_s / len(spread_row) if len(held) else 0.0


def wake_window(t: float, interval: float) -> float:
    """Where the decisions of a pool with nothing provisioned, whose first arrival comes at ``t`` (the end of
    its :func:`quiet_lead`), start: one ``interval`` before the request level's first decision after ``t``,
    which comes at the next multiple of ``interval`` from the run's start (:mod:`sim.serving.autoscaler`), so
    that the fluid tier's first decision, one interval into them (:func:`~sim.fluid.autoscale.decision_lag`),
    is that one; it may lie before the step. Traffic from 1,830 s under a minute's interval: the replica is
    provisioned at 1,860 s, not at 1,890 s.

        >>> wake_window(1830.0, 60.0), wake_window(1800.0, 60.0), wake_window(90.0, 60.0)
        (1800.0, 1800.0, 60.0)
    """
    return math.floor(t / interval + 1e-9) * interval


def capacity_spread(mean: np.ndarray) -> np.ndarray:
    """Each sub-step's share of a step's serving capacity, from the replicas serving through each
    (:func:`level_subs`): even where none serves at all.

        >>> capacity_spread(np.array([0.0, 1.0, 3.0])).tolist(), capacity_spread(np.zeros(2)).tolist()
        ([0.0, 0.25, 0.75], [0.5, 0.5])
    """
    total = float(mean.sum())
    return mean / total if total > 0 else np.full(len(mean), 1.0 / len(mean))


def _arrival_share(spread: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """Each sub-step's share of its step's arrivals: ``spread``, or even over ``like``'s last axis without one."""
    return np.full(like.shape, 1.0 / like.shape[-1]) if spread is None else np.asarray(spread, dtype=np.float64)


def turned_away(spread: np.ndarray | None, none: np.ndarray) -> float | np.ndarray:
    """The share of a step's arrivals that meet no replica: each sub-step's arrivals (``spread``, its
    share of the step's; even without one) times the share of it with none (``none``); a step's row, or
    one per step where both are ``(steps, sub)``."""
    none = np.asarray(none, dtype=np.float64)
    return (_arrival_share(spread, none) * none).sum(axis=-1)


def admitted_spread(spread: np.ndarray | None, none: np.ndarray) -> np.ndarray:
    """The step's admitted arrivals over its sub-steps once those that met no replica are gone (even
    where none are left).

        >>> admitted_spread(np.array([[0.5, 0.25, 0.25]]), np.array([[1.0, 0.5, 0.0]])).tolist()
        [[0.0, 0.3333333333333333, 0.6666666666666666]]
    """
    none = np.asarray(none, dtype=np.float64)
    kept = _arrival_share(spread, none) * (1.0 - none)
    tot = kept.sum(axis=-1, keepdims=True)
    return np.divide(kept, tot, out=np.full_like(kept, 1.0 / none.shape[-1]), where=tot > 0)


HOLD_RESOLUTION = 6
"""Sub-steps at most ``1 / HOLD_RESOLUTION`` of the boot read a boot's hold (measured: 6-minute steps, 30 s
sub-steps of a 3-minute boot, read a mean queue time of 5.13 s against the request level's 5.1 s). A bound, not
a sharp edge: shorter still, the reading turns on the boot's start and end meeting sub-step edges (5-minute
steps read 4.59 s, unwarned; 12-minute ones 5.10 s, warned: ``docs/scaling.md``)."""


def hold_message(pool: str, step_s: float, sub: int, boot_s: float, held: float) -> str | None:
    """The warning for a pool behind a central queue whose ``held`` arrivals (expected count over the run) wait
    while its first replica boots for ``boot_s``, read on sub-steps too long to show that wait; ``None`` when
    nothing is held or the ``step_s / sub`` sub-steps are within a :data:`HOLD_RESOLUTION` th of the boot.

        >>> hold_message("p", 360.0, 12, 180.0, 900.0) is None
        True
        >>> hold_message("p", 3600.0, 12, 180.0, 900.0)[:68]
        'fluid.step: pool p comes up from zero replicas behind router central'
    """
    from sim.humanize import duration, duration_at_most

    if not held >= 1.0 or step_s / sub <= boot_s / HOLD_RESOLUTION:
        return None
    fix = sub * boot_s / HOLD_RESOLUTION
    return (f"fluid.step: pool {pool} comes up from zero replicas behind router central_queue: about {held:,.0f} "
            f"requests arrive while its replica boots (scale_up_delay {duration(boot_s)}) and wait in the central "
            f"queue until it is ready, each up to {duration(boot_s)} plus the backlog's drain; the "
            f"{duration(step_s)} steps serve each {duration(step_s / sub)} sub-step's arrivals and capacity "
            f"evenly, so its queue time, latencies and SLO attainment leave most of that wait out; set "
            f"fluid.step: {duration_at_most(fix)} or shorter, or check at fidelity: request")


def warn_hold(pool: str, dt_s: np.ndarray, sub: int, boot_s: float, held: np.ndarray | None) -> None:
    """:func:`hold_message` as a :class:`~sim.errors.ScenarioWarning` (``dt_s``: the steps' lengths; ``held``: per
    step, or ``None``), on the arrivals held in steps whose sub-steps are too long to read them: a run's last
    step, cut short by its end, may read a hold its longer steps would not (an hour and five minutes in hourly
    steps: the last one's 25 s sub-steps read a 3-minute boot)."""
    import warnings

    from sim.errors import ScenarioWarning

    if held is None:
        return
    dt_s = np.asarray(dt_s, dtype=np.float64)
    coarse = dt_s / sub > boot_s / HOLD_RESOLUTION
    message = hold_message(pool, float(dt_s[coarse].max()), sub, boot_s, float(held[coarse].sum())) \
        if coarse.any() else None
    if message:
        warnings.warn(message, ScenarioWarning, stacklevel=3)
