"""Fleet routers: which replica a new request goes to.

A router is a function ``route(req) -> (replica | None, reject_reason)`` built by
:func:`make_router` from the ``fleet.router`` block. Replicas that are not accepting (warming up,
draining, failed) or whose pool can never serve the request are skipped. Routers look at the
fleet's live replicas (provisioned and not released), so they follow autoscaling.

* ``round_robin``: next replica in turn.
* ``random``: uniformly random replica (seeded).
* ``least_outstanding``: fewest queued + running requests (ties: next in turn), across all pools.
* ``central_queue``: handled by the fleet: one global FCFS queue; a replica takes a request only
  when it has a free sequence slot (with ``max_num_seqs: 1`` the fleet is an M/G/c queue).
* ``weighted``: pick a pool with probability proportional to ``weights``, then least outstanding.
* ``spillover``: the ``primary`` pool's least-loaded replica unless its outstanding requests reach
  ``threshold``; then the ``overflow`` pool's (if the overflow pool has no replica that can take it,
  the primary's least-loaded one).

Under ``fleet.disaggregated`` the router is not used: arrivals go to the least outstanding
prefill replica, transferred requests to the least outstanding decode replica.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from sim.serving.request import R_NO_REPLICA, Req

if TYPE_CHECKING:
    from sim.scenario.schema import Router
    from sim.serving.fleet import Fleet
    from sim.serving.replica import Replica

Route = Callable[[Req], "tuple[Replica | None, int]"]


def least_outstanding(reps: list["Replica"], r: Req, start: int) -> "tuple[Replica | None, int]":
    """The accepting replica with the fewest queued + running requests that can serve ``r``
    (scanning from ``start``; first found wins ties), or ``(None, reason)``."""
    best = None
    best_out = 0
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
            if o == 0:
                break
    return best, (0 if best is not None else reason)


def make_router(cfg: "Router", fleet: "Fleet") -> Route:
    """The routing function of ``cfg.policy`` for ``fleet``: ``route(request) -> (replica or None,
    reason code)``."""
    build = _ROUTERS.get(cfg.policy)
    if build is None:
        raise ValueError(f"unknown router policy {cfg.policy!r}")
    return build(cfg, fleet)


def _round_robin(cfg: "Router", fleet: "Fleet") -> Route:
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


def _random(cfg: "Router", fleet: "Fleet") -> Route:
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


def _least_outstanding(cfg: "Router", fleet: "Fleet") -> Route:
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


def _weighted(cfg: "Router", fleet: "Fleet") -> Route:
    """A pool drawn by weight, its least outstanding replica; any pool's when it has none."""
    reps = fleet.live
    pools = {p.name: p for p in fleet.pools}
    names = [k for k, w in (cfg.weights or {}).items() if w > 0]
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
        return rep, why
    return route


def _spillover(cfg: "Router", fleet: "Fleet") -> Route:
    """The primary pool while its least outstanding replica is under the threshold, else the overflow."""
    pools = {p.name: p for p in fleet.pools}
    primary = pools[cfg.primary]
    overflow = pools[cfg.overflow]
    threshold = cfg.threshold

    def route(r: Req):
        rep, why = least_outstanding(primary.live, r, 0)
        if rep is not None and rep.outstanding < threshold:
            return rep, 0
        rep2, why2 = least_outstanding(overflow.live, r, 0)
        if rep2 is not None:
            return rep2, 0
        return (rep, 0) if rep is not None else (None, why or why2)
    return route


_ROUTERS = {"round_robin": _round_robin, "random": _random, "least_outstanding": _least_outstanding,
            "central_queue": _least_outstanding, "weighted": _weighted, "spillover": _spillover}
