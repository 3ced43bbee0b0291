"""A pool's busy share on ``n`` replicas, read off a curve measured on a group of ``g``.

Busy time counts a replica as busy whenever any request runs on it. Under continuous batching a
replica's requests overlap, so at light load it behaves like an infinite-server queue (M/G/inf): with
Poisson arrivals at ``lam`` and requests in the system ``E[T]`` each, the number on it is Poisson with
mean ``L = lam E[T]`` and its busy share is ``P(N >= 1) = 1 - exp(-L)``, not the single server's
``lam E[service]``.

How busy a replica is at a given load per replica depends on how many replicas share the load and how
the router splits it. Under ``random`` each replica sees Poisson arrivals at ``lam`` whatever ``n``:
``1 - exp(-L)``. A router that sends a request to an idle replica while there is one (``least_outstanding``,
``weighted`` inside a pool, ``central_queue``'s free replica with the fewest outstanding) keeps the
pool's ``N`` requests (Poisson, mean ``n L``) on up to ``n`` replicas: busy ``E[min(N, n)] / n``
(:func:`spread_busy`), exactly so for ``round_robin`` when every request takes the same time (a
replica is idle when none of its last arrivals, every ``n``-th of the pool's, is younger than ``T``). It
rises towards ``L`` as ``n`` grows: at ``L = 1``, 0.63 on one replica, 0.73 on two, 0.80 on four.

A capacity curve measures its busy share on one replica or a group of ``g`` behind the scenario's
router (:func:`sim.fluid.template.group_size`: ``g = min(replicas, 4)``, ``replicas`` the pool's
initial count); an autoscaled pool runs other counts. :func:`busy_on` finds the ``L`` that the model
gives each grid point's share on ``g`` replicas (so a curve measured on ``n`` reads its own share),
interpolates it in the rate served and reads the model at it on ``n``. Measured on
``scenarios/diurnal_week.yaml``'s pool (Llama-3-70B on four A100s, fixed replicas, Poisson arrivals at
0.05-0.3 requests/s per replica, 2.5 h after a 30 min warmup: ``docs/fleet_dynamics.md``, "Busy time
across replica counts"), its one-replica curve read on two to four replicas behind ``least_outstanding``
is 0-5 % above the runs (mean 2 %; a request that finds every replica busy joins one, which may leave
another idle later while it holds two: :func:`spread_busy` is the bound without that), where read as
it was, one replica's share, it was 7-22 % below them; behind ``round_robin``, whose replicas are not
filled idle ones first, 2-11 % above (6-18 % below before).

    >>> round(float(spread_busy(1, 1.0)), 4), round(float(spread_busy(2, 1.0)), 4), round(float(spread_busy(4, 1.0)), 4)
    (0.6321, 0.7293, 0.8046)
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import pdtr, pdtrc

SPREADING = frozenset({"least_outstanding", "weighted", "central_queue", "round_robin"})
"""Routers that spread a pool's requests over its replicas (an idle replica first, or in turn)."""


def spread_busy(n: np.ndarray | int | float, load: np.ndarray | float) -> np.ndarray:
    """``E[min(N, n)] / n`` with ``N`` Poisson of mean ``n x load`` (``load``: requests in the system per
    replica): the busy share of ``n`` replicas (one count, or one per ``load``) whose router sends a
    request to an idle one while there is one. ``E[min(N, n)] = m P(N <= n - 2) + n P(N >= n)`` with
    ``m = n x load`` (``k P(N = k) = m P(N = k - 1)``), the Poisson tails in closed form (the regularized
    incomplete gamma function: :func:`scipy.special.pdtr`, ``pdtrc``), so a pool of any size costs the
    same; one replica: ``1 - exp(-load)``.

        >>> round(float(spread_busy(3, 0.8)), 4)      # N ~ Poisson(2.4): (0.2177 + 2 x 0.2613 + 3 x 0.4303) / 3
        0.677
    """
    load = np.asarray(load, dtype=np.float64)
    count = np.asarray(n, dtype=np.float64)
    m = count * load
    one = -np.expm1(-m)
    if count.ndim == 0 and count <= 1:
        return one
    with np.errstate(invalid="ignore"):
        many = (m * pdtr(np.maximum(count - 2, 0), m) + count * pdtrc(count - 1, m)) / count
    return np.where(count <= 1, one, many)


def load_of(g: int, busy: np.ndarray) -> np.ndarray:
    """The requests in the system per replica ``L`` at which :func:`spread_busy` on ``g`` replicas is
    ``busy`` (``busy`` below 1; ``inf`` at 1). Between ``busy`` (``E[min(N, g)] <= E[N]``) and
    ``-log(1 - busy)`` (one replica's, the least spread): 60 bisections of that bracket."""
    b = np.clip(np.asarray(busy, dtype=np.float64), 0.0, 1.0)
    inner = b < 1.0
    hi = np.where(inner, -np.log1p(-np.where(inner, b, 0.0)), np.inf)
    if g == 1:
        return hi
    lo = np.where(inner, b, np.inf)
    top = np.where(inner, hi, 0.0)
    low = np.where(inner, lo, 0.0)
    for _ in range(60):
        mid = 0.5 * (low + top)
        below = spread_busy(g, mid) < b
        low, top = np.where(below, mid, low), np.where(below, top, mid)
    return np.where(inner, 0.5 * (low + top), np.inf)


LOAD_CAP = 50.0
"""Requests in the system per replica read for a saturated grid point (busy share 1): every model reads
a share of 1 there (``1 - exp(-50)``), and a finite number interpolates."""


def grid_loads(curve) -> np.ndarray:
    """The requests in the system per replica ``L`` of each of the curve's grid points: its busy share
    inverted on the group it was measured on (:func:`load_of`), at most :data:`LOAD_CAP`."""
    return np.minimum(load_of(int(curve.meta.get("group_replicas", 1)), curve.busy), LOAD_CAP)


def busy_on(curve, per_rps: np.ndarray | float, n: np.ndarray | float, router: str | None = None) -> np.ndarray:
    """The busy share of a pool's ``n`` serving replicas (a step's mean: between two counts it is read
    on both and weighed by the fractional part) at ``per_rps`` requests/s served per replica, from its
    curve measured on ``g`` replicas; ``router``: the scenario's (``curve.meta["fleet_router"]`` where
    ``None``, :func:`behind`, else the group's). See the module docstring.

    The load ``L`` of each grid point (:func:`grid_loads`) is interpolated linearly over the rates the
    grid runs served, not the busy share: ``L = lam E[T]`` is close to linear in the rate while a busy
    share such as ``1 - exp(-L)`` is concave, and the curve's light-load points lie far apart (0.06,
    0.14, 0.30 requests/s on ``diurnal_week``'s replica): read linearly between them the share was 4 %
    low at 0.1 and 0.2 requests/s (0.427 and 0.667, where a one-replica run measured 0.453 and 0.695;
    read through ``L``, 0.444 and 0.699).

        >>> from types import SimpleNamespace as NS
        >>> curve = NS(busy=np.array([0.0, 1 - np.exp(-1.0)]), served_rps=np.array([0.0, 0.2]),
        ...            meta={"group_replicas": 1, "fleet_router": "least_outstanding"})
        >>> [round(float(busy_on(curve, 0.2, k)), 4) for k in (1, 2, 4, 2.5)]     # L = 1 on each
        [0.6321, 0.7293, 0.8046, 0.7526]
        >>> round(float(busy_on(curve, 0.1, 1)), 4)              # L = 0.5: 1 - exp(-0.5), not 0.6321 / 2
        0.3935
        >>> round(float(busy_on(curve, 0.2, 4, router="random")), 4)              # each replica Poisson
        0.6321
    """
    if not curve.meta.get("busy_overlap", True):          # one request at a time: busy = work, no spread
        return np.clip(curve.at_served(curve.busy, per_rps), 0.0, 1.0) * np.ones(np.shape(n))
    router = router or curve.meta.get("fleet_router") or curve.meta.get("group_router")
    served, loads = curve.meta.get("busy_grid") or _busy_grid(curve)
    load = np.interp(per_rps, served, loads)
    if router not in SPREADING:
        return spread_busy(1, load) * np.ones(np.shape(n))
    k = np.maximum(np.asarray(n, dtype=np.float64), 1.0)      # between two counts: both, by the fraction
    lo = np.floor(k)
    frac = k - lo
    share = (1.0 - frac) * spread_busy(lo, load) + frac * spread_busy(lo + 1.0, load)
    return share if np.ndim(share) else np.float64(share)


def behind(curve, router: str, batching=None):
    """``curve`` with the router its pool's replicas run behind (``meta["fleet_router"]``), which
    :func:`busy_on` reads (the group a curve is measured on runs ``round_robin`` when it is one
    replica, whatever the scenario's router: :func:`sim.fluid.template.pool_template`), its grid
    points' loads against the rates they served (``meta["busy_grid"]``, :func:`grid_loads`), computed
    once, and whether its requests overlap (``meta["busy_overlap"]``): not under ``batching`` (the
    pool's) of one sequence at a time or static batches, whose busy share is the work done, the
    curve's read linearly in the rate served and the same on any number of replicas (an M/G/c server
    is busy ``lam E[S]``), as before."""
    overlap = batching is None or (batching.policy != "static" and batching.max_num_seqs > 1)
    return replace(curve, meta={**curve.meta, "fleet_router": router, "busy_grid": _busy_grid(curve),
                                "busy_overlap": overlap})


def _busy_grid(curve) -> tuple[np.ndarray, np.ndarray]:
    """The rates the curve's grid runs served, in increasing order, and their loads (:func:`grid_loads`)."""
    served = np.asarray(curve.served_rps, dtype=np.float64)
    order = np.argsort(served, kind="stable")
    return served[order], grid_loads(curve)[order]
