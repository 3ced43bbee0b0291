"""Request classes pinned to pools (``fleet.router.classes``) in the fluid tier.

The fluid tier splits demand between pools by shares (:func:`sim.fluid.run.pool_shares`); a class
pinned to exactly one pool needs no split: that pool serves all of it. So pins that pin every class
to one pool (a partition of the classes) are modelled: each pool's fluid queue gets its classes'
demand, step by step, and its class mix (:func:`pinned_demand`); its capacity curve is measured on
their mix (:func:`sim.fluid.capacity.pool_template`). A class free to go to any pool, or pinned to
several, is split request by request by the router; :func:`loose_pins` says which, and the fluid
tier refuses it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from sim.errors import given
from sim.workload import class_names


def loose_pins(sc) -> str:
    """What keeps ``fleet.router.classes`` from being a partition (every class pinned to exactly one
    pool), in words, or "" (no pins, or a partition)."""
    router = sc.fleet.router
    if not router.classes:
        return ""
    for name in class_names(sc.workload):
        pools = router.pools_of(name)
        if pools is None:
            return f"class {given(name)} is not pinned and may go to any pool"
        if len(pools) > 1:
            return f"class {given(name)} is pinned to {len(pools)} pools"
    return ""


def pinned_demand(sc, pools, steps):
    """Under ``fleet.router.classes`` (a partition, :func:`loose_pins`): each pool's steps with
    the demand of the classes pinned to it alone (its ``total`` and class mix); None without pins.
    ``steps`` is the run's step grid (:class:`sim.fluid.run._Steps`: ``demand`` per class, ``total``
    and ``cls_frac``), copied with each pool's own."""
    router = sc.fleet.router
    if not router.classes:
        return None
    out = []
    for p in pools:
        mine = np.array([p.name in router.pools_of(c) for c in class_names(sc.workload)], dtype=np.float64)
        demand = steps.demand * mine
        total = demand.sum(axis=1)
        frac = np.divide(demand, total[:, None], out=np.zeros_like(demand), where=total[:, None] > 0)
        out.append(dataclasses.replace(steps, total=total, cls_frac=frac))
    return out
