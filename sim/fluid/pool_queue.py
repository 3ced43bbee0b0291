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

from sim.fluid.autoscale import Replicas, decision_lag, hpa_holds, hpa_settled, saturated_metric, scale_step
from sim.fluid.curve import CapacityCurve
from sim.fluid.no_replica import (NONE_PROVISIONED, admitted_spread, capacity_spread, level_subs, quiet_lead, turned_away,
                                  wake_window)
from sim.fluid.substep import SUB, at_capacity_subs, backlogged, end_backlog, hidden_backlog, lost_capacity
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
    replica's boot (``boot_s``), which :func:`~sim.fluid.no_replica.hold_message` reads."""

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
        m_sat = saturated_metric(a.metric, curve, s_each)
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
    for k in range(n_steps):                             # sequential in the backlog
        b_start[k] = b
        if a is not None:                                # where the autoscaler settles this step
            seen = (replicas.ready, replicas.total, len(replicas.readies), len(replicas.moves))
            # a pool with nothing provisioned stays so until an arrival meets no replica: its autoscaler's
            # decisions on the step's load start there (sim.fluid.no_replica.quiet_lead), the first at the
            # request level's next decision time (wake_window: nothing changes before it, so the window may
            # start before the step)
            woken = bool(zero) and seen[1] <= 0
            idle = quiet_lead(spread[k], float(dt_s[k])) if woken and spread is not None else 0.0
            h = float(dt_s[k]) - idle
            start = wake_window(t0 + idle, float(a.interval)) if woken else t0
            w = t0 + float(dt_s[k]) - start
            rate = (admitted[k] + b) / h                      # its tolerance band included
            lag = decision_lag(start, w, float(a.interval))     # None: no decision in the step
            step = h if reading_noise else None           # the readings' noise (sim.fluid.reading_noise)
            settled = hpa_settled(a, curve, rate, b, s_each, replicas, start + (w if lag is None else lag), step)
            prov, serve = scale_step(replicas, a, m_sat, start, w, settled,
                                     held=hpa_holds(a, curve, rate, b, s_each, step))
            n[k], serving[k] = (prov * w / dt_s[k], serve * w / dt_s[k]) if start != t0 else (prov, serve)
            cap[k] = serving[k] * curve.max_rps * dt_s[k]
            if seen[0] <= 0 or len(replicas.readies) > seen[2]:     # the replicas serving change inside it
                t1 = t0 + float(dt_s[k])
                ready, no_ready = level_subs(seen[0], replicas.readies[seen[2]:], t0, t1, sub)
                replicas.readies.clear()                 # read: a long run keeps no log of them
                if cap_spread is None:
                    cap_spread = np.full((n_steps, sub), 1.0 / sub)
                cap_spread[k] = capacity_spread(ready)
                if zero is not None:                     # arrivals that meet no replica are turned away
                    away = (level_subs(seen[1], replicas.moves[seen[3]:], t0, t1, sub)[1]
                            if zero == NONE_PROVISIONED else no_ready)
                    hold = np.clip(no_ready - away, 0.0, None)     # provisioned, none ready: held (central_queue)
                    if hold.any():
                        held = np.zeros(n_steps) if held is None else held
                        held[k] = admitted[k] * float(turned_away(None if spread is None else spread[k], hold))
                    if away.any():
                        none = np.zeros((n_steps, sub)) if none is None else none
                        none[k] = away
                        admitted[k] *= 1.0 - turned_away(None if spread is None else spread[k], away)
                        rejected[k] = offered[k] - admitted[k]
        t0 += float(dt_s[k])
        work = admitted[k] + b
        served[k] = min(work, cap[k])
        if spread is not None:                           # capacity idle before a rise inside the step is lost
            row = spread[k] if none is None or not none[k].any() else admitted_spread(spread[k], none[k])
            part = None if cap_spread is None else cap_spread[k]
            if a is not None:
                p_k, m_k = (x[0] for x in lost_capacity(row[None, :], admitted[k:k + 1], cap[k:k + 1],
                                                        None if part is None else part[None, :]))
            else:
                p_k, m_k = p_sub[k], m_sub[k]
            left = end_backlog(b, float(p_k), float(m_k))
            if left > work - served[k] + 1e-9 * max(cap[k], 1.0):
                if full is None:
                    full = np.full(n_steps, np.nan)
                full[k] = at_capacity_subs(b, row, float(admitted[k]), float(cap[k]), part)
                served[k] = work - left
        b = work - served[k]
        b_end[k] = b
    moves = replicas.summary(t0) if a is not None else None     # a decision at the run's end makes none
    total = (p.cfg.replicas + moves["replicas_provisioned"] if moves is not None else
             follow.provisioned_total if follow is not None else p.cfg.replicas)
    sub_q = None
    adm_spread = spread if none is None or spread is None else admitted_spread(spread, none)
    if spread is not None:                               # a backlog that builds and clears inside a step
        sub_q, within = hidden_backlog(adm_spread, admitted, cap, b_start, b_end, cap_spread)
        if within.any():
            full = np.full(n_steps, np.nan) if full is None else full
            full[within] = np.mean(backlogged(sub_q[within], cap[within]), axis=1)   # at_capacity_subs
    no_replica = None if none is None else offered * turned_away(spread, none)
    return PoolQueue(n, serving, served, rejected, b_start, b_end, int(total), full, sub_q, moves, cap_spread,
                     none, no_replica, adm_spread if none is not None else None, held,
                     float(delay) if a is not None else 0.0)
