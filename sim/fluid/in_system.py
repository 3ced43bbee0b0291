"""Requests in the system as the fluid tier counts them for the stability block (:mod:`sim.fluid.run`).

The time series holds each step's end: a pool's queue (the curve's, Little's law at the step's rate, or
the backlog where longer) and its running requests, a saturated replica's where the step ends behind a
backlog (:func:`saturated_running`); the last rows' sum is ``stability.in_flight_at_end``
(:func:`in_system_at_end`). A backlog that builds and clears between the steps' ends is read at the
sub-steps' ends (:func:`sub_in_system`), which ``stability.in_flight_peak`` reads (an estimate,
``in_flight_peak_basis: "estimate"``).
"""
from __future__ import annotations

import numpy as np

from sim.fluid.curve import CapacityCurve
from sim.fluid.pool_queue import PoolQueue
from sim.metrics.stability import in_system_rows


def in_system_at_end(ts: np.ndarray, n_pools: int) -> float:
    """Requests in the system at the time series' last instant (every pool's queue and running
    sequences, and the central queue, repeated on each pool's row), as the stability block sums them
    (:func:`sim.metrics.stability.in_system_rows`); 0 without rows."""
    if not len(ts):
        return 0.0
    last = ts[ts[:, 0] == ts[-1, 0]]
    return float(np.sum(in_system_rows(last, n_pools)))


def sub_in_system(curve: CapacityCurve, q: PoolQueue, up: np.ndarray, at_end: np.ndarray) -> np.ndarray | None:
    """``(steps, sub-steps)``: the pool's requests in the system at each sub-step's end where its sub-steps
    hold a backlog (the backlog plus a saturated replica's running requests, Little's law: ``max_rps`` x
    its service time), elsewhere the step's end's (``at_end``: queue and running); ``None`` without
    sub-steps. What the run's ``in_flight_peak`` reads, so that a backlog that builds and clears inside
    a step counts in it (the time series holds each step's end)."""
    if q.sub_q is None:
        return None
    held = q.sub_q > 1e-9 * np.maximum(up * curve.max_rps, 1.0)[:, None]
    return np.where(held, q.sub_q + saturated_running(curve, up)[:, None], at_end[:, None])


def saturated_running(curve: CapacityCurve, up: np.ndarray) -> np.ndarray:
    """Per step, the requests running on ``up`` replicas at capacity (Little's law: ``max_rps`` x a
    saturated replica's service time, its E2E less the queue; the top grid point's where not measured)."""
    sat = curve.sat_service_mean["e2e"] if curve.sat_service_mean else \
        float(curve.latency["e2e"]["mean"][-1] - curve.latency["queue"]["mean"][-1])
    return up * curve.max_rps * float(np.nan_to_num(sat))


__all__ = ["in_system_at_end", "saturated_running", "sub_in_system"]
