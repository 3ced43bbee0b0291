"""Fleet routers: which replica a new request goes to.

A router is a function ``route(req) -> (replica | None, reject_reason)`` built by
:func:`make_router` from the ``fleet.router`` block. Replicas that are not accepting (warming up,
draining, failed) or whose pool can never serve the request are skipped. Routers look at the
fleet's live replicas (provisioned and not released), so they follow autoscaling.

* ``round_robin``: next replica in turn.
* ``random``: uniformly random replica (seeded).
* ``least_outstanding``: fewest queued + running requests (ties: next in turn), across all pools.
* ``central_queue``: handled by the fleet: one global FCFS queue (with ``classes``, one per set of
  pools; by class priority when every pool's policy is ``priority``: :mod:`sim.serving.pinned_queue`);
  a replica takes a request only when it has a free sequence slot (with ``max_num_seqs: 1`` the
  fleet is an M/G/c queue).
* ``weighted``: pick a pool with probability proportional to ``weights``, then least outstanding.
* ``spillover``: the ``primary`` pool's least-loaded replica unless its outstanding requests reach
  ``threshold``; then the ``overflow`` pool's (if the overflow pool has no replica that can take it,
  the primary's least-loaded one).

Waiting rooms (``fleet.pools[].max_waiting``): ``least_outstanding``, ``weighted`` and ``spillover``
pass over a replica whose room is full (:meth:`~sim.serving.replica.Replica.has_room`) for one that
can take the request, as a gateway retries a 503 on another host: the spillover's primary overflows
when it cannot take the request even under its ``threshold``, a weighted draw of a full pool goes to
another pool's replica with room. Only when no replica can take it is it refused (``queue_full``), at
the replica the rule without rooms picks. ``round_robin`` and ``random`` keep their state-independent
choice (the fast engine routes them ahead of the clock) and refuse at a full replica.

With ``classes`` (``{class: pool or [pools]}``) a pinned class's requests see only its pools'
replicas (a :class:`PoolSet`): the policy chooses among those alone, with state of its own per set
of pools (round robin's turn, ...); classes not listed see the whole fleet, as without the key.
Under ``weighted`` a class draws among its pools' weights; under ``spillover`` a class pinned to
one of ``primary`` and ``overflow`` goes to that pool's least outstanding replica.

Under ``fleet.disaggregated`` the router is not used: arrivals go to the least outstanding
prefill replica, transferred requests to the least outstanding decode replica.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from sim.serving.request import R_NO_REPLICA, Req

if TYPE_CHECKING:
    from sim.scenario.schema import Router
    from sim.serving.fleet import Fleet
    from sim.serving.pool import PoolRuntime
    from sim.serving.replica import Replica

Route = Callable[[Req], "tuple[Replica | None, int]"]


def least_outstanding(reps: list["Replica"], r: Req, start: int) -> "tuple[Replica | None, int]":
    """The accepting replica with the fewest queued + running requests that can serve ``r``
    (scanning from ``start``; first found wins ties), or ``(None, reason)``. A replica whose waiting
    room is full (:meth:`~sim.serving.replica.Replica.has_room`) is passed over for one that can
    take the request now; only when none can is the least outstanding of them returned (its room
    then refuses the request, ``queue_full``)."""
    best = None
    best_out = 0
    roomy = None                 # the least outstanding of those with room (all of them without rooms)
    roomy_out = 0
    reason = R_NO_REPLICA
    n = len(reps)
    for k in range(n):
        rep = reps[(start + k) % n]
        if not rep.accepting:
            continue
        why = rep.can_fit(r)
        if why:
            reason = why
            continue
        o = rep.outstanding
        if best is None or o < best_out:
            best, best_out = rep, o
        if (roomy is None or o < roomy_out) and (rep.max_waiting is None or rep.has_room()):
            roomy, roomy_out = rep, o
            if o == 0:
                break
    if roomy is not None:
        return roomy, 0
    return best, (0 if best is not None else reason)


class PoolSet:
    """The replicas of some of the fleet's pools, as a router sees a fleet: ``pools``, ``live`` (their
    provisioned, not released replicas in provisioning order; the fleet keeps it as it scales) and
    the routers' random stream ``rng``."""

    def __init__(self, pools: list["PoolRuntime"], rng: np.random.Generator) -> None:
        self.pools = pools
        self.index = frozenset(p.index for p in pools)
        self.live: list["Replica"] = []
        self.rng = rng


def class_pool_sets(cfg: "Router", pools: list["PoolRuntime"], class_names: list[str],
                    rng: np.random.Generator) -> list[PoolSet | None]:
    """One entry per class (in ``class_idx`` order): the :class:`PoolSet` of the pools
    ``cfg.classes`` pins it to (classes pinned to the same pools share one), or None for a class
    free to go to any pool."""
    sets: dict[frozenset, PoolSet] = {}
    out: list[PoolSet | None] = []
    for name in class_names:
        pinned = cfg.pools_of(name)
        if pinned is None:
            out.append(None)
            continue
        chosen = [p for p in pools if p.name in pinned]   # in the fleet's order
        key = frozenset(p.index for p in chosen)
        if key not in sets:
            sets[key] = PoolSet(chosen, rng)
        out.append(sets[key])
    return out


def make_router(cfg: "Router", fleet: "Fleet") -> Route:
    """The routing function of ``cfg.policy`` for ``fleet``: ``route(request) -> (replica or None,
    reason code)``; with classes pinned to pools (``fleet.class_sets``), one router per set of
    pools and the fleet-wide one for classes not pinned, each request taking its class's."""
    build = _ROUTERS.get(cfg.policy)
    if build is None:
        raise ValueError(f"unknown router policy {cfg.policy!r}")
    sets = getattr(fleet, "class_sets", None)
    if not sets or all(s is None for s in sets):
        return build(cfg, fleet)
    built: dict[int, Route] = {}
    for s in sets:
        if s is not None and id(s) not in built:
            built[id(s)] = build(cfg, s)
    whole = build(cfg, fleet) if any(s is None for s in sets) else None
    routes = [built[id(s)] if s is not None else whole for s in sets]

    def route(r: Req):
        return routes[r.cls](r)
    return route


def _round_robin(cfg: "Router", fleet: "Fleet | PoolSet") -> Route:
    """The next live replica in turn that can take the request."""
    reps = fleet.live  # provisioned, not released; updated in place as the fleet scales
    state = {"next": 0}

    def route(r: Req):
        n = len(reps)
        if n:
            # the usual case first: the next replica in turn takes it (~0.1 us a request)
            i = state["next"] % n
            rep = reps[i]
            if rep.accepting and not rep.can_fit(r):
                state["next"] = (i + 1) % n
                return rep, 0
        reason = R_NO_REPLICA
        for k in range(n):
            rep = reps[(state["next"] + k) % n]
            if rep.accepting:
                why = rep.can_fit(r)
                if why:
                    reason = why
                    continue
                state["next"] = (state["next"] + k + 1) % n
                return rep, 0
        return None, reason
    return route


def _random(cfg: "Router", fleet: "Fleet | PoolSet") -> Route:
    """A live replica drawn uniformly; the least outstanding one when it cannot take the request."""
    reps = fleet.live
    rng = fleet.rng

    def route(r: Req):
        live = [rep for rep in reps if rep.accepting]
        if not live:
            return None, R_NO_REPLICA
        rep = live[int(rng.integers(len(live)))]
        why = rep.can_fit(r)
        if why:
            return least_outstanding(live, r, 0)
        return rep, 0
    return route


def _least_outstanding(cfg: "Router", fleet: "Fleet | PoolSet") -> Route:
    """The replica with the fewest requests outstanding (ties rotate)."""
    reps = fleet.live
    state = {"next": 0}

    def route(r: Req):
        n = len(reps)
        rep, why = least_outstanding(reps, r, state["next"] if n else 0)
        if n:
            state["next"] = (state["next"] + 1) % n
        return rep, why
    return route


def _weighted(cfg: "Router", fleet: "Fleet | PoolSet") -> Route:
    """A pool drawn by weight, its least outstanding replica; any pool's when it has none."""
    reps = fleet.live
    pools = {p.name: p for p in fleet.pools}
    names = [k for k, w in (cfg.weights or {}).items() if w > 0 and k in pools]
    if not names:           # none of these pools is weighted (validation refuses it): least outstanding
        return _least_outstanding(cfg, fleet)
    weights = [cfg.weights[k] for k in names]
    total = sum(weights)
    cum = []
    acc = 0.0
    for w in weights:
        acc += w / total
        cum.append(acc)
    rng = fleet.rng

    def route(r: Req):
        u = float(rng.random())
        i = next((j for j, c in enumerate(cum) if u < c), len(cum) - 1)
        rep, why = least_outstanding(pools[names[i]].live, r, 0)
        if rep is None:  # the chosen pool cannot take it: any pool that can
            return least_outstanding(reps, r, 0)
        if not rep.has_room():   # the chosen pool's rooms are full: any pool's replica with room
            other, _ = least_outstanding(reps, r, 0)
            if other is not None and other.has_room():
                return other, 0
        return rep, why
    return route


def _spillover(cfg: "Router", fleet: "Fleet | PoolSet") -> Route:
    """The primary pool while its least outstanding replica is under the threshold, else the overflow
    (the least outstanding replica of a set of pools holding only one of the two)."""
    pools = {p.name: p for p in fleet.pools}
    if cfg.primary not in pools or cfg.overflow not in pools:
        return _least_outstanding(cfg, fleet)      # a class pinned to one of the two: that pool alone
    primary = pools[cfg.primary]
    overflow = pools[cfg.overflow]
    threshold = cfg.threshold

    def route(r: Req):
        rep, why = least_outstanding(primary.live, r, 0)
        if rep is not None and rep.outstanding < threshold and rep.has_room():
            return rep, 0
        rep2, why2 = least_outstanding(overflow.live, r, 0)
        if rep2 is not None and rep2.has_room():
            return rep2, 0
        if rep is not None and rep.has_room():   # over the threshold, but the overflow cannot take it
            return rep, 0
        # no replica of either pool has room: refused (queue_full) where the threshold sends it
        if rep is not None and (rep.outstanding < threshold or rep2 is None):
            return rep, 0
        return (rep2, 0) if rep2 is not None else (None, why or why2)
    return route


_ROUTERS = {"round_robin": _round_robin, "random": _random, "least_outstanding": _least_outstanding,
            "central_queue": _least_outstanding, "weighted": _weighted, "spillover": _spillover}
