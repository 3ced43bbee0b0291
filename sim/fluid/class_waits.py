"""Each class behind a fluid backlog, first come, first served across classes: its own waits
(:func:`class_waits`) and its share of the services (:func:`served_mix`).

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
        out.append(StepWaits(mean, sw.rows, sw.waits, rate, sw.pos, sw.full))
    return out


def served_mix(admitted: np.ndarray, served: np.ndarray, b_start: np.ndarray, cls_frac: np.ndarray,
               spread: np.ndarray | None = None, mix_sub: np.ndarray | None = None) -> np.ndarray:
    """Per step (rows) and class (columns), each class's share of the requests the pool served, first
    come, first served: a step that starts with a backlog serves it first, each of its requests of the
    class mix of the step it arrived in (``cls_frac``, constant within a step), or, given the steps'
    arrivals over their sub-steps (``spread``) and each class's share of them (``mix_sub``,
    :func:`~sim.fluid.substep.sub_mix`), of the sub-step it arrived in; a step without one serves its own
    arrivals, of its own mix. Before, every step's services took its own demand's mix, so a class
    that stopped arriving while its backlog was still served was counted as the classes arriving then.

    Class a at 1.5/s for an hour, then class b at 0.5/s (one server at 1/s): the second hour serves the
    1,800 of a left waiting, then 1,800 of b:

        >>> served_mix(np.array([5400.0, 1800.0]), np.array([3600.0, 3600.0]), np.array([0.0, 1800.0]),
        ...            np.array([[1.0, 0.0], [0.0, 1.0]])).tolist()
        [[1.0, 0.0], [0.5, 0.5]]

    Class a at 2/s for half an hour, then class b at 2/s (one step, its mix half and half): the 3,600 the
    first hour serves are all a's, the 3,600 of b left wait for the second:

        >>> mix_sub = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]]])
        >>> served_mix(np.array([7200.0, 0.0]), np.array([3600.0, 3600.0]), np.array([0.0, 3600.0]),
        ...            np.full((2, 2), 0.5), np.array([[0.5, 0.5], [0.5, 0.5]]), mix_sub).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    admitted = np.asarray(admitted, dtype=np.float64)
    served = np.asarray(served, dtype=np.float64)
    cls_frac = np.asarray(cls_frac, dtype=np.float64)
    out = cls_frac.copy()
    b_start = np.asarray(b_start, dtype=np.float64)
    by_sub = spread is not None and mix_sub is not None
    # a step serves other than its own arrivals' mix only behind a backlog: one it starts with, or, where
    # the mix changes inside it, one it ends with (what it serves is then its earlier arrivals)
    behind = b_start > 0
    if by_sub:
        behind |= b_start + admitted - served > 1e-9 * np.maximum(admitted, 1.0)
    rows = np.flatnonzero(behind & (served > 0))
    if not len(rows):
        return out
    if by_sub:                                   # arrivals per sub-step, each of its own mix
        parts = (spread * admitted[:, None]).ravel()
        mix = mix_sub.reshape(-1, cls_frac.shape[1])
    else:
        parts, mix = admitted, cls_frac
    n = len(parts)
    cum = np.concatenate(([0.0], np.cumsum(parts)))
    cum_c = np.vstack([np.zeros(cls_frac.shape[1]), np.cumsum(parts[:, None] * mix, axis=0)])
    done = np.concatenate(([0.0], np.cumsum(served)))

    def by_class(count: np.ndarray) -> np.ndarray:     # arrivals of each class among the first ``count``
        k = np.clip(np.searchsorted(cum, count, side="left") - 1, 0, n - 1)
        step = cum[k + 1] - cum[k]
        frac = np.clip(np.divide(count - cum[k], step, out=np.ones_like(count), where=step > 0), 0.0, 1.0)
        return cum_c[k] + frac[:, None] * (cum_c[k + 1] - cum_c[k])

    part = by_class(done[rows + 1]) - by_class(done[rows])
    tot = part.sum(axis=1)
    out[rows] = np.where(tot[:, None] > 0, part / np.where(tot > 0, tot, 1.0)[:, None], cls_frac[rows])
    return out
