"""SLO attainment behind a fluid backlog, request by request.

A request served behind a backlog waits its first-come-first-served wait ``W`` (:mod:`sim.fluid.backlog`)
and then what the curve's requests wait at the load served: while the backlog lasts the pool serves at
capacity and ``W`` *is* its queue, so it adds only what exceeds the curve's own queue there
(``max(W - q, 0)``, :meth:`~sim.fluid.backlog.StepWaits.beyond`). The request meets the TTFT objective
``T`` when that reduced wait plus the curve's TTFT is within ``T``: at each instant of the step read
(:data:`~sim.fluid.backlog.POINTS`), the curve's attainment at the load served then times the share
of its TTFTs within ``T - max(W - q, 0)`` over the share within ``T`` (the TPOT part of the objective
is taken as the curve's, apart from the wait), weighted by the rate served then (:func:`backlog_attainment`).
No wait: the curve's attainment at that load.

Before, a step's attainment was the curve's at the step's mean load times the share of its services
whose *whole* wait was within ``T``: the curve's queue was counted twice, and an hourly step that is
half at a light load and half behind a backlog read the light half at the step's heavier mean load
(0.5/s for half an hour, then 1.5/s, then 0.5/s against one server at 1/s, objective 5 s: 1,800 of the
5,400 requests meet it at a light load and about 16 of the 3,600 behind the backlog, 0.336 by hand;
hourly steps read 0.302 where 60 s steps read 0.334; ``tests/test_review_fluid_s18.py``).

A curve whose TTFTs are half 0.5 s, half 8 s (attainment 0.5 at every load, its queue 1 s), objective
5 s: a request that waits 6 s behind the backlog waits 5 s beyond the curve's queue, and its 0.5 s half
no longer meets the objective (6 s, within it: 0.5 s + 5 s):

    >>> from sim.fluid.backlog import REF, StepWaits
    >>> ttft = np.zeros((2, REF.n_bins)); ttft[:, REF.bin_index(np.array([0.5, 8.0]))] = 0.5
    >>> sw = StepWaits(np.array([0.0, 6.0]), np.array([0, 1]), np.array([[0.0], [6.0]]), np.ones((2, 1)))
    >>> def read(limit_s):
    ...     return backlog_attainment(sw, np.ones(2), np.array([1.0, 2.0]), np.array([0.5, 0.5]), ttft,
    ...                               np.array([1.0, 1.0]), limit_s, np.full(2, 0.5)).tolist()
    >>> read(5.0), read(6.0)
    ([0.5, 0.0], [0.5, 0.5])
"""
from __future__ import annotations

import numpy as np

from sim.fluid.backlog import CENTRES, StepWaits, rate_mean


def backlog_attainment(sw: StepWaits, per_replica: np.ndarray, rates: np.ndarray, attainment: np.ndarray,
                       ttft_rows: np.ndarray, queue_mean: np.ndarray, limit_s: float,
                       base: np.ndarray, add_s: float = 0.0) -> np.ndarray:
    """Per step, the share of the requests served that meet the SLO (module docstring): ``base`` (the
    curve's attainment at each step's load) where no request waits behind a backlog; in the steps
    behind one (``sw.rows``), each instant read at the load served then (``sw.rate`` requests per step
    over ``per_replica``, the serving replica-seconds of the step, unless ``sw`` knows its place,
    :meth:`~sim.fluid.backlog.StepWaits.on_curve`: a class's waits weigh its own requests, not the load) on
    the curve's grid ``rates``:
    ``attainment``, normalised TTFT histogram rows ``ttft_rows`` and mean queue time ``queue_mean``
    per grid point; ``limit_s`` the TTFT objective; ``add_s``: what a saturated replica's TTFT service part
    adds to the top grid point's at the instants at capacity (``sw.full``,
    :func:`~sim.fluid.sums.service_add`)."""
    out = np.array(base, dtype=np.float64, copy=True)
    rows = np.asarray(sw.rows, dtype=np.int64)
    if not len(rows):
        return out
    if sw.pos is None:
        sw = sw.on_curve(rates, per_replica)
    waits, rate = sw.waits, sw.rate
    i, w = sw.pos

    def at(v):
        v = np.nan_to_num(np.asarray(v, dtype=np.float64))
        return v[i] * (1 - w) + v[i + 1] * w

    cum = np.cumsum(np.asarray(ttft_rows, dtype=np.float64), axis=1)

    def cdf(x):                          # share of the curve's TTFTs within x (each bin at its centre)
        b = np.searchsorted(CENTRES, x, side="right") - 1
        ok = b >= 0
        b = np.clip(b, 0, len(CENTRES) - 1)
        return np.where(ok, cum[i, b] * (1 - w) + cum[i + 1, b] * w, 0.0)

    extra = np.maximum(waits - at(queue_mean), 0.0)
    if add_s and sw.full is not None:
        extra = extra + add_s * sw.full
    whole = cdf(np.full_like(extra, float(limit_s)))
    met = at(attainment) * np.divide(cdf(limit_s - extra), whole, out=np.zeros_like(whole), where=whole > 0)
    met = np.where(extra != 0, np.minimum(met, 1.0), at(attainment))
    out[rows] = rate_mean(met, rate, out[rows])
    return out
