"""Each class's own waits behind a fluid backlog, first come, first served across classes.

A backlogged step's waits (:class:`~sim.fluid.backlog.StepWaits`) are read at evenly spread instants
``s`` of the step: the request served at ``s`` waited ``W(s)`` and so arrived at ``s - W(s)``. First
come, first served, its class does not change its wait; which class it is of is the class mix of the
arrivals at that instant (each class's share of the pool's arrivals in the sub-step it arrived in,
:func:`~sim.fluid.substep.sub_mix`, the sub-steps the waits are read on; its step's mix where the classes
rise and fall together inside the step, or without sub-steps). A class's
waits are therefore the step's waits at the instants its own requests are served, each weighted by the
rate served then times the class's share of the arrivals when that request arrived
(:func:`class_waits`); summed over the classes the weights are the step's.

Giving every class the step's whole spread of waits (as before) charged a class that arrived late in a
step the waits of the backlog ahead of it, and one whose backlog is served the next step the next
step's: class a at 1.5/s for an hour, then class b at 0.5/s (one server, exact 1 s service), in hourly
steps. An arrival of a at ``t`` waits ``0.5 t`` (mean 900 s over the hour); the backlog of 1,800 left
at the hour drains at 0.5/s, so b arriving ``x`` into the second hour waits ``1,800 - 0.5 x`` (mean
900 s too). Each step's whole spread read a 800 s and b 1,200 s (``tests/test_review_fluid_s18.py``).

Class 0 arrives in step 0, class 1 in step 1; step 1 serves at 17.5 s a request that waited 10 s
(arrived at 7.5 s: class 0) and at 32.5 s one that waited 5 s (arrived at 27.5 s: class 1):

    >>> from sim.fluid.backlog import StepWaits
    >>> sw = StepWaits(np.array([0.0, 7.5]), np.array([1]), np.array([[10.0, 5.0]]), np.array([[5.0, 5.0]]))
    >>> cw = class_waits(sw, np.array([0.0, 10.0, 40.0]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> [c.mean.tolist() for c in cw], [c.rate.tolist() for c in cw]
    ([[0.0, 10.0], [0.0, 5.0]], [[[5.0, 0.0]], [[0.0, 5.0]]])
"""
from __future__ import annotations

import numpy as np

from sim.fluid.backlog import StepWaits, rate_mean
from sim.fluid.substep import sub_edges


def arrival_class_share(sw: StepWaits, edges: np.ndarray, cls_frac: np.ndarray,
                        mix_sub: np.ndarray | None = None) -> np.ndarray:
    """``(rows, points, classes)``: each class's share of the arrivals at the instant the request served
    at each of ``sw``'s instants arrived (``s - W(s)``; ``cls_frac``: steps x classes, each step's mix;
    ``mix_sub``: steps x sub-steps x classes, each sub-step's, :func:`~sim.fluid.substep.sub_mix`)."""
    edges = np.asarray(edges, dtype=np.float64)
    cls_frac = np.asarray(cls_frac, dtype=np.float64)
    rows = np.asarray(sw.rows, dtype=np.int64)
    points = sw.waits.shape[1]
    x = (np.arange(points) + 0.5) / points
    s = edges[rows, None] + x[None, :] * (edges[rows + 1] - edges[rows])[:, None]
    arrived = s - sw.waits
    if mix_sub is not None:
        fine = sub_edges(edges, mix_sub.shape[1])
        k = np.clip(np.searchsorted(fine, arrived, side="right") - 1, 0, len(fine) - 2)
        return mix_sub.reshape(-1, mix_sub.shape[2])[k]
    k = np.clip(np.searchsorted(edges, arrived, side="right") - 1, 0, len(edges) - 2)
    return cls_frac[k]


def class_waits(sw: StepWaits, edges: np.ndarray, cls_frac: np.ndarray,
                mix_sub: np.ndarray | None = None) -> list[StepWaits]:
    """One :class:`~sim.fluid.backlog.StepWaits` per class (columns of ``cls_frac``): the step's waits
    at each instant, each weighted by the rate served then times the class's share of the arrivals
    when the request served then arrived (:func:`arrival_class_share`); per step the class's mean wait
    (the step's mean where it has no request behind the backlog); each instant keeps its place on the
    curve (``sw.pos``: the load is the pool's, whichever class is served)."""
    share = arrival_class_share(sw, edges, cls_frac, mix_sub)
    out = []
    for c in range(share.shape[2]):
        rate = sw.rate * share[:, :, c]
        mean = sw.mean.copy()
        mean[sw.rows] = rate_mean(sw.waits, rate, mean[sw.rows])
        out.append(StepWaits(mean, sw.rows, sw.waits, rate, sw.pos))
    return out
