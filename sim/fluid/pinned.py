"""Request classes pinned to pools (``fleet.router.classes``) in the fluid tier: each pool's share
of each class's demand, as the request-level router splits it.

Under pins the router chooses, for each request, among its class's pools alone (a class not listed
may go to any pool; :mod:`sim.serving.router`). The fluid tier gives pool ``p`` the part
``x[c, p]`` of class ``c``'s expected demand ``d_c`` that router sends there (:func:`split`):

* ``round_robin`` and ``random``: every live replica of the class's pools takes the same share, so
  ``x[c, p] = d_c n_p / sum_q n_q`` over the class's pools ``q`` (``n``: replicas);
* ``weighted``: the class draws a pool by ``weights`` among its pools with a weight above 0:
  ``x[c, p] = d_c w_p / sum_q w_q``;
* ``least_outstanding`` and ``central_queue`` send a request to whichever replica it may use has
  room, a join-the-shortest-queue system; in the fluid limit it keeps no replica idle that a
  waiting request may use, and loads the pools a class may use evenly. Its split is the
  water-filling :func:`water_fill` over the pools' nominal capacities ``c_p = n_p x max_p`` (the
  curve's saturation throughput, as :func:`sim.fluid.run.pool_shares` takes it without pins): the
  set of pools ``S`` whose ratio (demand of the classes that may use only pools of ``S``) /
  ``c(S)`` is highest runs at that load ratio, those classes fill it, and the rest is filled the
  same way with what is left. With one class on every pool this is ``pool_shares``' split by
  capacity; with class A on pools 1 and 2 and class B on pool 2 alone, B's demand above what
  evens the two pools out leaves A on pool 1 only (and a pool 2 flooded by B gets no A at all).
  Within one such set a class spreads over its pools in the way that evens the load with the least
  preference between them (the largest-entropy flow, found by iterative proportional fitting).

``spillover`` is refused by the fluid tier with or without pins (:func:`sim.fluid.unsupported.refused`).

Known limits: water-filling is the heavy-traffic split of joining the shortest queue; at light
load the router compares a few requests outstanding and rotates its ties, so it spreads a class
more evenly than the capacities do (docs/fleet_dynamics.md has the measured gap). The split takes
the pools' configured ``replicas`` (an autoscaled pool's ``n`` follows its share, not the other
way round), as the split without pins does; over capacity,
where both tiers serve each pool at its capacity, a join-the-shortest-queue router evens the
pools' backlogs per replica, the fluid split their load ratios (so the backlog each class sees
may differ). A pool's capacity curve is measured on the class mix it gets at the long-run demand
(:func:`curve_mix`), with every replica's capacity taken as equal there; its latency under another
mix is read off that curve.

>>> reach = np.array([[True, True], [False, True]])       # class A on pools 1 and 2, B on pool 2
>>> water_fill(np.array([3.0, 1.0]), reach, np.array([2.0, 2.0])).tolist()
[[2.0, 1.0], [0.0, 1.0]]
>>> water_fill(np.array([1.0, 3.0]), reach, np.array([2.0, 2.0])).tolist()   # pool 2 flooded by B
[[1.0, 0.0], [0.0, 3.0]]
"""
from __future__ import annotations

import dataclasses
from itertools import combinations

import numpy as np

from sim.workload import class_names

WORK_CONSERVING = ("least_outstanding", "central_queue")
"""Routers that send each request where its class has room: split by :func:`water_fill`."""

_FIT_TOL = 1e-10
"""Relative error in the pools' loads at which :func:`water_fill`'s proportional fitting stops."""

_FIT_ROUNDS = 1000
"""Most rounds of the fitting (a set of pools with a part almost as loaded as the whole converges
slowly); the pools' loads are exact whatever the rounds, only the class mix of each is fitted."""


def reach(sc) -> np.ndarray | None:
    """Which pools each class may use (classes x pools, booleans; a class not pinned: every pool),
    or None without ``fleet.router.classes``."""
    router = sc.fleet.router
    if not router.classes:
        return None
    names = [p.name for p in sc.fleet.pools]
    rows = []
    for c in class_names(sc.workload):
        pins = router.pools_of(c)
        rows.append([pins is None or n in pins for n in names])
    return np.array(rows, dtype=bool)


def static_fractions(router, reach_: np.ndarray, replicas: np.ndarray, names: list[str]) -> np.ndarray:
    """Each class's fraction per pool under ``round_robin`` and ``random`` (by ``replicas``) or
    ``weighted`` (by ``router.weights`` above 0), among the pools it may use; pools with nothing
    to divide by share the class evenly."""
    if router.policy == "weighted":
        w = np.array([max(float((router.weights or {}).get(n, 0.0)), 0.0) for n in names])
    else:
        w = np.asarray(replicas, dtype=np.float64)
    out = np.zeros(reach_.shape)
    for c, row in enumerate(reach_):
        wc = np.where(row, w, 0.0)
        out[c] = wc / wc.sum() if wc.sum() > 0 else row / row.sum()
    return out


def _subsets(up: np.ndarray) -> np.ndarray:
    """Every non-empty set of the pools ``up`` marks, as masks, smallest first."""
    pools = np.flatnonzero(up)
    return np.array([np.isin(np.arange(len(up)), s) for size in range(1, len(pools) + 1)
                     for s in combinations(pools, size)], dtype=bool).reshape(-1, len(up))


def _fit(demand: np.ndarray, kernel: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Per step, the flow of each class's ``demand`` (steps x classes) over the pools ``kernel``
    (classes x pools, > 0 where a class may go) allows, meeting each pool's ``load`` (steps x pools):
    iterative proportional fitting from ``kernel`` (the largest-entropy such flow), each step on its
    own until it converges, each pool's column scaled to its ``load`` at the end (exact pool loads;
    the classes' sums to the fitting's tolerance). Steps x classes x pools."""
    b = np.ones(load.shape)
    done = np.zeros(len(load), dtype=bool)
    for _ in range(_FIT_ROUNDS):
        kb = kernel[None, :, :] * b[:, None, :]
        rows = kb.sum(axis=2, keepdims=True)
        x = demand[:, :, None] * np.divide(kb, rows, out=np.zeros_like(kb), where=rows > 0)
        got = x.sum(axis=1)
        done |= np.max(np.abs(got - load), axis=1) <= _FIT_TOL * load.sum(axis=1)
        if done.all():
            break
        b[~done] *= np.divide(load, got, out=np.ones_like(load), where=got > 0)[~done]
    return load[:, None, :] * np.divide(x, got[:, None, :], out=np.zeros_like(x), where=got[:, None, :] > 0)


def water_fill(demand: np.ndarray, reach_: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """A work-conserving router's split of ``demand`` (per class; or steps x classes, each step on
    its own) over pools of capacity ``cap`` (requests/s or per step, any unit): classes x pools (or
    steps x classes x pools; module docstring).

    Each round finds, per step, the smallest set ``S`` of the pools left with the highest ratio of
    the demand of the classes left that may use no other pool left to ``cap(S)``; those classes
    fill ``S`` at that ratio (a class with one pool of ``S`` all of it there, exactly; the others
    fitted, :func:`_fit`), and leave with ``S``. A class with demand whose pools all have no
    capacity shares it evenly among them."""
    one = np.ndim(demand) == 1
    d = np.atleast_2d(np.asarray(demand, dtype=np.float64))
    cap = np.asarray(cap, dtype=np.float64)
    n_steps, n_cls = d.shape
    x = np.zeros((n_steps, n_cls, len(cap)))
    up = cap > 0
    stranded = (d > 0) & ~(reach_ & up).any(axis=1)
    x += np.where(stranded[:, :, None], d[:, :, None] * (reach_ / np.maximum(reach_.sum(axis=1, keepdims=True), 1)),
                  0.0)
    left_c = (d > 0) & ~stranded
    left_p = np.broadcast_to(up, (n_steps, len(cap))).copy()
    subs = _subsets(up)
    for _ in range(len(cap)):
        busy = np.flatnonzero(left_c.any(axis=1))
        if not len(busy):
            break
        ratio = np.full((len(busy), len(subs)), -np.inf)
        inside = np.zeros((len(subs), len(busy), n_cls), dtype=bool)
        for m, sub in enumerate(subs):
            ok = ~np.any(sub & ~left_p[busy], axis=1)                       # S among the pools left
            out = np.any(reach_[None, :, :] & (left_p[busy] & ~sub)[:, None, :], axis=2)
            inside[m] = left_c[busy] & ~out
            ratio[ok, m] = (d[busy] * inside[m]).sum(axis=1)[ok] / cap[sub].sum()
        best = ratio.max(axis=1, keepdims=True)
        pick = np.argmax(ratio * (1.0 + 1e-12) >= best, axis=1)              # the smallest such set
        for m in np.unique(pick):
            at = pick == m
            ks, sub = busy[at], subs[m]
            ins = inside[m][at]
            cols = np.flatnonzero(sub)
            load = ratio[at, m][:, None] * cap[cols][None, :]
            in_s = reach_[:, cols]
            for c in np.flatnonzero(in_s.sum(axis=1) == 1):                  # one pool here: all there
                j = int(np.flatnonzero(in_s[c])[0])
                x[ks, c, cols[j]] += np.where(ins[:, c], d[ks, c], 0.0)
                load[:, j] -= np.where(ins[:, c], d[ks, c], 0.0)
            spread = ins & (in_s.sum(axis=1) > 1)[None, :]
            if spread.any():
                kernel = np.where(in_s, cap[cols][None, :], 0.0)
                x[np.ix_(ks, np.arange(n_cls), cols)] += _fit(d[ks] * spread, kernel, np.maximum(load, 0.0))
            left_p[ks] &= ~sub
            left_c[ks] &= ~ins
    return x[0] if one else x


def split(sc, demand: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Each pool's part of each class's ``demand`` (steps x classes) under ``fleet.router.classes``
    and the router's policy: steps x classes x pools. ``cap`` is each pool's nominal capacity (used
    by the work-conserving routers only)."""
    r = reach(sc)
    router = sc.fleet.router
    if router.policy not in WORK_CONSERVING:
        frac = static_fractions(router, r, np.array([p.replicas for p in sc.fleet.pools]),
                                [p.name for p in sc.fleet.pools])
        return demand[:, :, None] * frac[None, :, :]
    rows, back = np.unique(demand, axis=0, return_inverse=True)   # steps of equal demand split alike
    return water_fill(rows, r, cap)[np.asarray(back).ravel()]


def curve_mix(sc, shares: list[float]) -> np.ndarray:
    """Each pool's part of each class's long-run ``shares`` of the demand (classes x pools), the mix
    its capacity curve is measured on: :func:`split` at the long-run demand, with every replica of
    equal capacity (the curves that would say otherwise are the ones being measured)."""
    replicas = np.array([float(p.replicas) for p in sc.fleet.pools])
    return split(sc, np.asarray(shares, dtype=np.float64)[None, :], replicas)[0]


def pool_steps(sc, steps, cap: np.ndarray):
    """Under ``fleet.router.classes``: each pool's steps with its part of each class's demand
    (:func:`split`; its ``demand``, ``total`` and class mix ``cls_frac``), copies of ``steps`` (the
    run's step grid, :class:`sim.fluid.steps.Steps`); None without pins."""
    if not sc.fleet.router.classes:
        return None
    parts = split(sc, steps.demand, cap)
    out = []
    for k in range(parts.shape[2]):
        demand = parts[:, :, k]
        total = demand.sum(axis=1)
        frac = np.divide(demand, total[:, None], out=np.zeros_like(demand), where=total[:, None] > 0)
        out.append(dataclasses.replace(steps, demand=demand, total=total, cls_frac=frac))
    return out
