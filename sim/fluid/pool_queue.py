"""One pool's fluid queue over the fluid tier's steps (:mod:`sim.fluid.run`, step 3).

The curve's rejected share is refused; the admitted work plus the backlog carried from the previous
step is served up to ``serving x max_rps x step``; the rest is the next backlog. Where the rate rises
inside a step past the capacity, the capacity left idle before the rise is lost (the step ends with the
backlog of the plain fluid queue on its sub-steps, :mod:`sim.fluid.substep`), and where a backlog builds
and clears inside a step the step is at capacity through the sub-steps that hold it
(:func:`~sim.fluid.substep.hidden_backlog`). A pool with ``autoscale`` runs, per step, the replicas its
autoscaler settles at (:mod:`sim.fluid.autoscale`), each sub-step served by those ready in it, and turns
away ``no_replica`` the arrivals that meet none (:mod:`sim.fluid.no_replica`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.fluid.autoscale import Replicas, saturated_metric
from sim.fluid.curve import CapacityCurve
from sim.fluid.no_replica import admitted_spread, turned_away
from sim.fluid.scaled_step import Scaler, plan_step
from sim.fluid.substep import (SUB, at_capacity_subs, backlogged, end_backlog, hidden_backlog, lost_capacity,
                              sub_net)
from sim.metrics.utilization import pool_seconds_per_request
from sim.serving.autoscaler import default_scale_up_delay_s


@dataclass(frozen=True)
class PoolQueue:
    """One pool's fluid queue over the steps: replicas provisioned (``n``, billed) and serving
    (``serving``: ``n`` less those still warming up), requests served and refused, backlog, and
    the replicas ever provisioned (``provisioned_total``: the pool's ``replicas`` plus every
    autoscaler scale-up's new ones) and, for an autoscaled pool, its decisions (``autoscale``:
    :meth:`~sim.fluid.autoscale.Replicas.summary`, the request level's ``summary["autoscale"]``).
    Where its replicas serving change inside a step (:mod:`sim.fluid.no_replica`): each sub-step's share of
    the step's capacity (``cap_spread``), the share of each sub-step with no replica to take an arrival
    (``none``), the arrivals turned away so (``no_replica``, among ``rejected``) and the admitted ones over
    the sub-steps (``spread``): ``cap_spread`` ``None`` where the replicas serving never change inside a
    step, the other three where no arrival meets no replica. Behind a central queue, the arrivals held while
    a replica is provisioned and none is ready (``held``, per step; ``None`` where none are) and an autoscaled
    replica's boot (``boot_s``), which :func:`~sim.fluid.no_replica.hold_message` reads. With sub-steps, what
    each adds to the queue (``sub_in``: arrivals less capacity, :func:`~sim.fluid.substep.sub_net`), from which
    ``sub_q`` is the queue at their ends and :func:`~sim.fluid.in_system.queue_mean` the queue's mean."""

    n: np.ndarray
    serving: np.ndarray
    served: np.ndarray
    rejected: np.ndarray
    b_start: np.ndarray
    b_end: np.ndarray
    provisioned_total: int
    full: np.ndarray | None = None      # per step, the share at capacity where its sub-steps lost some (else NaN)
    sub_q: np.ndarray | None = None     # steps x sub-steps: the backlog at each sub-step's end (hidden_backlog)
    autoscale: dict | None = None       # the autoscaler's decisions (Replicas.summary); None: not autoscaled
    cap_spread: np.ndarray | None = None    # steps x sub-steps: each one's share of its step's capacity
    none: np.ndarray | None = None          # steps x sub-steps: the share of each with no replica to take an arrival
    no_replica: np.ndarray | None = None    # per step, the arrivals turned away for want of a replica
    spread: np.ndarray | None = None        # steps x sub-steps: the admitted arrivals' spread
    held: np.ndarray | None = None          # per step, the arrivals held while a replica boots (central_queue)
    boot_s: float = 0.0                     # an autoscaled replica's boot (scale_up_delay), seconds
    sub_in: np.ndarray | None = None        # steps x sub-steps: what each adds to the queue (sub_net), sub_q's input

    @property
    def backlog(self) -> float:
        """The backlog left at the end of the run."""
        return float(self.b_end[-1]) if len(self.b_end) else 0.0


def fluid_queue(p, curve: CapacityCurve, offered: np.ndarray, dt_s: np.ndarray,
                 spread: np.ndarray | None = None, follow: PoolQueue | None = None,
                 zero: str | None = None, reading_noise: bool = True) -> PoolQueue:
    """Serve ``offered`` requests per step through pool ``p``'s curve: the curve's rejected share is
    refused, the rest plus the carried backlog is served up to ``serving x max x step``. Without an
    autoscaler ``serving = n = replicas``; with one, ``n`` is where it settles each step and
    ``serving`` leaves out the replicas still warming up (:class:`~sim.fluid.autoscale.Replicas`).
    ``spread`` (each step's demand over its sub-steps, :func:`~sim.fluid.substep.sub_spread`): where the
    rate rises inside a step past the capacity, the capacity left idle before the rise serves nobody,
    and the step ends with the sub-steps' backlog (:func:`~sim.fluid.substep.end_backlog`), not the
    step mean's. ``follow``: another queue of the same pool whose replicas this one runs (provisioned,
    serving and ever provisioned, its autoscaler not run again): a replay's latencies read a queue of their
    own (:mod:`sim.fluid.run`) on the fleet the run bills, the counts queue's, and turns away its arrivals
    where that one has no replica. ``zero`` (:func:`~sim.fluid.no_replica.zero_rule`): when an autoscaled
    pool's arrivals meet no replica, turned away ``no_replica`` (``None``: never). ``reading_noise``: the
    autoscaler decides on its readings' noise (:mod:`sim.fluid.reading_noise`), else on the metric's
    expected value (``fluid.reading_noise: false``)."""
    n_steps = len(dt_s)
    admitted = offered * (1.0 - curve.reject_share)
    rejected = offered - admitted
    a = p.cfg.autoscale
    n = np.full(n_steps, float(p.cfg.replicas))
    serving = n.copy()
    s_each = pool_seconds_per_request(p, curve.prompt_tokens_mean, curve.output_tokens_mean)
    cap = n * curve.max_rps * dt_s
    served = np.zeros(n_steps)
    b_start = np.zeros(n_steps)
    b_end = np.zeros(n_steps)
    b = 0.0
    if a is not None:
        delay = a.scale_up_delay if a.scale_up_delay is not None else default_scale_up_delay_s(p)
        replicas = Replicas(p.cfg.replicas, delay, a.cooldown)
        scaler = Scaler(a, curve, s_each, saturated_metric(a.metric, curve, s_each), zero, reading_noise)
    sub = spread.shape[1] if spread is not None else SUB
    cap_spread = none = held = None
    if follow is not None:                               # the replicas another queue of the pool settled at
        a = None
        n, serving = follow.n.copy(), follow.serving.copy()
        cap = serving * curve.max_rps * dt_s
        cap_spread, none = follow.cap_spread, follow.none
        if none is not None:                             # its arrivals met no replica where that queue's did
            admitted = admitted * (1.0 - turned_away(spread, none))
            rejected = offered - admitted
    full = None
    if spread is not None and a is None:
        adm_spread = admitted_spread(spread, none) if none is not None else spread
        p_sub, m_sub = lost_capacity(adm_spread, admitted, cap, cap_spread)
    t0 = 0.0
    for k in range(n_steps):                             # sequential in the backlog: decide, serve, record
        b_start[k] = b
        if a is not None:                                # decide: where the autoscaler settles this step
            plan = plan_step(scaler, replicas, t0, float(dt_s[k]), admitted[k], b,
                             None if spread is None else spread[k], sub)
            n[k], serving[k] = plan.n, plan.serving
            cap[k] = serving[k] * curve.max_rps * dt_s[k]
            if plan.cap_row is not None:                 # the replicas serving change inside it
                if cap_spread is None:
                    cap_spread = np.full((n_steps, sub), 1.0 / sub)
                cap_spread[k] = plan.cap_row
            if plan.hold is not None and plan.hold.any():    # held while a replica boots (central_queue)
                held = np.zeros(n_steps) if held is None else held
                held[k] = admitted[k] * float(turned_away(None if spread is None else spread[k], plan.hold))
            if plan.away is not None and plan.away.any():    # arrivals that meet no replica are turned away
                none = np.zeros((n_steps, sub)) if none is None else none
                none[k] = plan.away
                admitted[k] *= 1.0 - turned_away(None if spread is None else spread[k], plan.away)
                rejected[k] = offered[k] - admitted[k]
        t0 += float(dt_s[k])
        row = part = lost = None                         # serve: on the sub-steps where there are some
        if spread is not None:
            row = spread[k] if none is None or not none[k].any() else admitted_spread(spread[k], none[k])
            part = None if cap_spread is None else cap_spread[k]
            lost = None if a is not None else (p_sub[k], m_sub[k])
        served[k], lost_full = serve_step(b, admitted[k], cap[k], row, part, lost)
        if lost_full is not None:                        # record: at capacity in part only
            full = np.full(n_steps, np.nan) if full is None else full
            full[k] = lost_full
        b = admitted[k] + b - served[k]
        b_end[k] = b
    moves = replicas.summary(t0) if a is not None else None     # a decision at the run's end makes none
    total = (p.cfg.replicas + moves["replicas_provisioned"] if moves is not None else
             follow.provisioned_total if follow is not None else p.cfg.replicas)
    sub_q = sub_in = None
    adm_spread = spread if none is None or spread is None else admitted_spread(spread, none)
    if spread is not None:                               # a backlog that builds and clears inside a step
        sub_in = sub_net(adm_spread, admitted, cap, cap_spread)
        sub_q, within = hidden_backlog(adm_spread, admitted, cap, b_start, b_end, cap_spread)
        if within.any():
            full = np.full(n_steps, np.nan) if full is None else full
            full[within] = np.mean(backlogged(sub_q[within], cap[within]), axis=1)   # at_capacity_subs
    no_replica = None if none is None else offered * turned_away(spread, none)
    return PoolQueue(n, serving, served, rejected, b_start, b_end, int(total), full, sub_q, moves, cap_spread,
                     none, no_replica, adm_spread if none is not None else None, held,
                     float(delay) if a is not None else 0.0, sub_in)


def serve_step(b: float, admitted: float, cap: float, row: np.ndarray | None = None, part: np.ndarray | None = None,
               lost: tuple[float, float] | None = None) -> tuple[float, float | None]:
    """``(served, full)`` of one step that starts with a backlog ``b``, takes ``admitted`` arrivals and serves
    up to ``cap`` (requests per step): the plain fluid queue at the step's mean, or, with the arrivals over
    its sub-steps (``row``, each sub-step served its ``part`` of ``cap``, evenly without one; ``lost``: the
    step's ``(P, m)`` of :func:`~sim.fluid.substep.lost_capacity`, worked out from them without it), the
    queue on its sub-steps where capacity left idle before a rise of the rate is lost. ``full``: the share of
    its sub-steps at capacity where they lost some, else ``None``. One server at 0.5/s for half an hour then
    1.5/s, its capacity 1/s: 2,700 served of 3,600, 900 left, at capacity through half the step.

        >>> row = np.array([0.25] * 6 + [0.75] * 6) / 6
        >>> serve_step(0.0, 3600.0, 3600.0), serve_step(0.0, 3600.0, 3600.0, row)
        ((3600.0, None), (2700.0, 0.5))
    """
    work = admitted + b
    served = min(work, cap)
    if row is None:
        return served, None
    if lost is None:
        lost = tuple(float(x[0]) for x in lost_capacity(row[None, :], np.array([admitted]), np.array([cap]),
                                                        None if part is None else part[None, :]))
    left = end_backlog(b, float(lost[0]), float(lost[1]))
    if left > work - served + 1e-9 * max(cap, 1.0):
        return work - left, at_capacity_subs(b, row, float(admitted), float(cap), part)
    return served, None
