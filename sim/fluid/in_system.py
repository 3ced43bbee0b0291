"""Requests in the system as the fluid tier counts them for the stability block (:mod:`sim.fluid.run`).

The time series holds each step's end: a pool's queue (the curve's, Little's law at the step's rate, or
the backlog where longer) and its running requests, a saturated replica's where the step ends behind a
backlog (:func:`saturated_running`); the last rows' sum is ``stability.in_flight_at_end``
(:func:`in_system_at_end`). A backlog that builds and clears between the steps' ends is read at the
sub-steps' ends (:func:`sub_in_system`), which ``stability.in_flight_peak`` reads (an estimate,
``in_flight_peak_basis: "estimate"``). A step that a replay's curve holds ends at its last sub-step's rate
(:func:`replayed_end`), its queue the pool's backlog on the trace's sub-steps: the waits of its swings are
the curve's at its mean, not a queue left at its end.
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
    its service time), elsewhere ``at_end``: the step's queue and running at its mean load (Little's law;
    the backlog and a saturated replica's where the step ends behind one), its mean-load count, which a
    replayed step's row, read at its end (:func:`replayed_end`), does not hold; ``None`` without
    sub-steps. What the run's ``in_flight_peak`` reads, so that a backlog that builds and clears inside
    a step counts in it (the time series holds each step's end)."""
    if q.sub_q is None:
        return None
    held = q.sub_q > 1e-9 * np.maximum(up * curve.max_rps, 1.0)[:, None]
    return np.where(held, q.sub_q + saturated_running(curve, up)[:, None], at_end[:, None])


def end_rate(offered: np.ndarray, reject_share: float, dt_s: np.ndarray, counts: np.ndarray | None,
             held: np.ndarray | None) -> np.ndarray | None:
    """Per step, the pool's admitted requests/s over its last sub-step where a replay's curve holds the step
    (``held``: :func:`~sim.fluid.replay.held_steps`; ``counts``: the trace's own shares of each step's
    arrivals in its sub-steps), NaN elsewhere; ``None`` where no step is held or without sub-steps.

        >>> counts = np.array([[0.5, 0.5], [0.9, 0.1]])
        >>> end_rate(np.array([100.0, 100.0]), 0.0, np.array([10.0, 10.0]), counts, np.array([False, True])).tolist()
        [nan, 2.0]
    """
    if counts is None or held is None or not held.any():
        return None
    rate = offered * (1.0 - reject_share) * counts[:, -1] * counts.shape[1] / dt_s
    return np.where(held, rate, np.nan)


def replayed_end(curve: CapacityCurve, up: np.ndarray, rate: np.ndarray | None, queue: np.ndarray,
                 running: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The queue and running requests at each step's end where ``rate`` (the pool's requests/s at the step's
    end: :func:`end_rate`) is a number: no queue beyond the pool's own (its backlog on the trace's sub-steps,
    which the caller takes where longer), and Little's law at ``rate`` on the curve's mean service time (its
    E2E less its queue time) running; elsewhere ``queue`` and ``running`` (the step's mean rate's, Little's law
    on the curve's queue and service times). A replayed step's curve holds the waits of its swings at the
    step's mean: a surge that cleared inside the step left them in the curve's queue time, and the step's
    mean rate times it counted a queue of the surge's at the step's end, which the pool's queue had cleared."""
    if rate is None:
        return queue, running
    on = np.isfinite(rate) & (up > 0)
    r = np.where(on, rate, 0.0)
    per = np.divide(r, up, out=np.zeros_like(r), where=on)
    svc = curve.at(curve.latency["e2e"]["mean"], per) - curve.at(curve.latency["queue"]["mean"], per)
    return np.where(on, 0.0, queue), np.where(on, r * np.nan_to_num(svc), running)


def saturated_running(curve: CapacityCurve, up: np.ndarray) -> np.ndarray:
    """Per step, the requests running on ``up`` replicas at capacity (Little's law: ``max_rps`` x a
    saturated replica's service time, its E2E less the queue; the top grid point's where not measured)."""
    sat = curve.sat_service_mean["e2e"] if curve.sat_service_mean else \
        float(curve.latency["e2e"]["mean"][-1] - curve.latency["queue"]["mean"][-1])
    return up * curve.max_rps * float(np.nan_to_num(sat))


__all__ = ["end_rate", "in_system_at_end", "replayed_end", "saturated_running", "sub_in_system"]
