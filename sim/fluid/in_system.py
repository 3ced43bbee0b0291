"""Requests in the system as the fluid tier counts them: its time series' rows and the stability block (:mod:`sim.fluid.run`).

A row holds its step's means, as the request level's rows, sampled every ``metrics.interval``, average over
it: a pool's queue is the time mean over the step of its backlog on the sub-steps (:func:`queue_mean`: linear
within each, reflected at 0; a queue that grows from 0 to ``B`` over a step has a mean of ``B / 2``) or, where
longer, the curve's (Little's law at the step's rate); behind ``router: central_queue`` it is the fleet's
central queue's (:func:`behind_central`), where the request level's waiting requests are. Its running
requests are a saturated replica's (:func:`saturated_running`) over the part of the step at capacity, their
mean with the rest's. The stability block reads each step's end (the backlog, or the curve's queue where
longer, plus the running requests, a saturated replica's where it ends behind a backlog): its backlog
growth their slope, the last step's ``stability.in_flight_at_end``
(:func:`in_system_at_end`).
A backlog that builds and clears between the steps' ends is read at the sub-steps' ends
(:func:`sub_in_system`), which ``stability.in_flight_peak`` reads (an estimate, ``in_flight_peak_basis:
"estimate"``). A step that a replay's curve holds ends at its last sub-step's rate (:func:`replayed_end`),
its queue the pool's backlog on the trace's sub-steps: the waits of its swings are the curve's at its mean,
not a queue left at its end.
"""
from __future__ import annotations

import numpy as np

from sim.fluid.curve import CapacityCurve
from sim.fluid.pool_queue import PoolQueue
from sim.fluid.substep import sub_queue
from sim.metrics.stability import in_system_rows


def queue_mean(b_start: np.ndarray, sub_in: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per step, the time mean of ``max(Q(t), floor)`` over its sub-steps (``sub_in``, steps x sub-steps:
    what each adds to the queue, arrivals less capacity, :func:`~sim.fluid.substep.sub_net`): ``Q`` the
    plain fluid queue from each step's starting backlog ``b_start``, reflected at 0
    (:func:`~sim.fluid.substep.sub_queue`), linear within a sub-step; ``floor`` the step's queue at its
    mean load (the curve's, Little's law), which a backlog replaces where longer, not adds to
    (:meth:`~sim.fluid.backlog.StepWaits.beyond`). A line from ``u`` to ``v`` spends the share
    ``(u - f) / (u - v)`` of its sub-step above ``f`` when it crosses it: ``f`` plus the triangle above.

    A queue growing from 0 to 900 over a step has a mean of 450; one draining from 900 to 0 in its first
    half, 225; above a floor of 300, the growing one spends two thirds of the step above it:
    ``300 + (2 / 3) x 600 / 2 = 500``:

        >>> grow, drain = np.full((1, 4), 225.0), np.array([[-450.0, -450.0, 0.0, 0.0]])
        >>> queue_mean(np.zeros(1), grow, np.zeros(1)).tolist(), queue_mean(np.array([900.0]), drain, np.zeros(1)).tolist()
        ([450.0], [225.0])
        >>> queue_mean(np.zeros(1), grow, np.array([300.0])).tolist()
        [500.0]
    """
    sub_in = np.asarray(sub_in, dtype=np.float64)
    b_start = np.asarray(b_start, dtype=np.float64)
    ends = sub_queue(b_start[:, None], sub_in)
    u = np.concatenate([b_start[:, None], ends[:, :-1]], axis=1)       # each sub-step's start
    f = np.asarray(floor, dtype=np.float64)[:, None]
    hi, lo = u - f, u + sub_in - f        # the line above the floor at the start and end (unreflected: the
    #                                       reflected queue is max(line, 0), and the floor is at least 0)
    cross = np.maximum(hi, lo) ** 2 / (2.0 * np.maximum(np.abs(hi - lo), 1e-300))
    above = np.where((hi >= 0) & (lo >= 0), (hi + lo) / 2.0, np.where((hi <= 0) & (lo <= 0), 0.0, cross))
    return f[:, 0] + above.mean(axis=1)


def behind_central(ts: np.ndarray, n_pools: int) -> np.ndarray:
    """Time-series rows (``time_s, pool, replicas, queue_len, central_queue, ...``, sorted by time then pool,
    every pool a row at each time) of a fleet behind ``router: central_queue``: the pools' waiting requests in
    the fleet's central queue, where the request level keeps them (a replica takes one only with a free
    sequence slot, :meth:`~sim.serving.fleet.Fleet.pull`), repeated on every pool's row as the request level
    writes it; none in a pool's own queue. Requests in the system (:func:`~sim.metrics.stability.in_system_rows`)
    are the same.

        >>> behind_central(np.array([[60.0, 0, 1, 3.0, 0.0, 1.0], [60.0, 1, 1, 2.0, 0.0, 1.0]]), 2).tolist()
        [[60.0, 0.0, 1.0, 0.0, 5.0, 1.0], [60.0, 1.0, 1.0, 0.0, 5.0, 1.0]]
    """
    out = np.array(ts, dtype=np.float64, copy=True)
    if len(out):
        out[:, 4] = np.repeat(out[:, 3].reshape(-1, n_pools).sum(axis=1), n_pools)
        out[:, 3] = 0.0
    return out


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


__all__ = ["behind_central", "end_rate", "in_system_at_end", "queue_mean", "replayed_end", "saturated_running",
           "sub_in_system"]
