"""What an autoscaled pool runs through one fluid step (:func:`plan_step`, read by :mod:`sim.fluid.pool_queue`).

Per step the autoscaler settles at the replicas the step's load and carried backlog ask for
(:mod:`sim.fluid.autoscale`), decided on its readings' noise (:mod:`sim.fluid.reading_noise`). A pool with
nothing provisioned stays so until an arrival meets no replica: its decisions on the step's load start
after the step's quiet lead (:func:`~sim.fluid.no_replica.quiet_lead`), the first at the request level's
next decision time (:func:`~sim.fluid.no_replica.wake_window`: nothing changes before it, so the window may
start before the step). Where the replicas serving change inside the step, each sub-step is served by
those ready in it (:func:`~sim.fluid.no_replica.level_subs`, :func:`~sim.fluid.no_replica.capacity_spread`),
and under a ``zero`` rule (:func:`~sim.fluid.no_replica.zero_rule`) the share of each sub-step with no
replica to take an arrival is turned away ``no_replica``, or, behind a central queue while one is
provisioned but none is ready, held.

:func:`plan_step` reads the autoscaler's timeline (:class:`~sim.fluid.autoscale.Replicas`) and moves it on
by one step; the queue's arrays are the caller's to write (:class:`StepPlan`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.fluid.autoscale import Replicas, decision_lag, hpa_holds, hpa_settled, scale_step
from sim.fluid.curve import CapacityCurve
from sim.fluid.no_replica import NONE_PROVISIONED, capacity_spread, level_subs, quiet_lead, wake_window


@dataclass(frozen=True)
class StepPlan:
    """One autoscaled step: the replicas provisioned (``n``, billed) and serving (``serving``), each the
    mean over the step; where the replicas serving change inside it, each sub-step's share of its capacity
    (``cap_row``, else ``None``: an even share), and under a zero rule the share of each sub-step whose
    arrivals are turned away (``away``) and held while a replica boots (``hold``; both ``None`` where
    ``cap_row`` is, or without the rule)."""

    n: float
    serving: float
    cap_row: np.ndarray | None = None
    away: np.ndarray | None = None
    hold: np.ndarray | None = None


@dataclass(frozen=True)
class Scaler:
    """An autoscaled pool's fixed inputs to :func:`plan_step`: its ``autoscale`` block, capacity curve, seconds of
    replica work per request (``s_each``), the metric's saturated reading (``m_sat``,
    :func:`~sim.fluid.autoscale.saturated_metric`), the zero rule and whether readings carry their noise."""

    a: object
    curve: CapacityCurve
    s_each: float
    m_sat: float
    zero: str | None
    reading_noise: bool


def plan_step(sc: Scaler, replicas: Replicas, t0: float, dt: float, admitted: float, b: float,
              spread_row: np.ndarray | None, sub: int) -> StepPlan:
    """Where the autoscaler settles for the step ``[t0, t0 + dt)`` whose ``admitted`` arrivals (over its
    sub-steps as ``spread_row``, ``None``: evenly) join a backlog ``b``, and what its replicas serve
    through the step's ``sub`` sub-steps (:class:`StepPlan`); ``replicas`` moves on to the step's end."""
    a = sc.a
    seen = (replicas.ready, replicas.total, len(replicas.readies), len(replicas.moves))
    woken = bool(sc.zero) and seen[1] <= 0
    idle = quiet_lead(spread_row, dt) if woken and spread_row is not None else 0.0
    h = dt - idle
    start = wake_window(t0 + idle, float(a.interval)) if woken else t0
    w = t0 + dt - start
    rate = (admitted + b) / h                            # its tolerance band included
    lag = decision_lag(start, w, float(a.interval))      # None: no decision in the step
    step = h if sc.reading_noise else None              # the readings' noise (sim.fluid.reading_noise)
    settled = hpa_settled(a, sc.curve, rate, b, sc.s_each, replicas, start + (w if lag is None else lag), step)
    prov, serve = scale_step(replicas, a, sc.m_sat, start, w, settled,
                             held=hpa_holds(a, sc.curve, rate, b, sc.s_each, step))
    n, serving = (prov * w / dt, serve * w / dt) if start != t0 else (prov, serve)
    if not (seen[0] <= 0 or len(replicas.readies) > seen[2]):      # the replicas serving never change inside it
        return StepPlan(n, serving)
    t1 = t0 + dt
    ready, no_ready = level_subs(seen[0], replicas.readies[seen[2]:], t0, t1, sub)
    replicas.readies.clear()                             # read: a long run keeps no log of them
    if sc.zero is None:
        return StepPlan(n, serving, capacity_spread(ready))
    away = (level_subs(seen[1], replicas.moves[seen[3]:], t0, t1, sub)[1]
            if sc.zero == NONE_PROVISIONED else no_ready)
    hold = np.clip(no_ready - away, 0.0, None)           # provisioned, none ready: held (central_queue)
    return StepPlan(n, serving, capacity_spread(ready), away, hold)
