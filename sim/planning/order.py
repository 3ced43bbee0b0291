"""The order a batch of points is handed to an executor: the longest expected first.

A process pool (or a Dask cluster) starts points in the order it is handed them. A batch in grid order
often ends with its longest points (a rising rate, a longer horizon), started last while the other
workers idle. Handed over longest first (the LPT rule: on ``m`` workers its makespan is at most
``4/3 - 1/(3m)`` of the best order's, Graham 1969, "Bounds on multiprocessing timing anomalies"), the
short points fill in behind the long ones.

The estimate is arithmetic on the validated scenario, no run: the expected requests of
:func:`sim.limits.estimate` times the nominal tokens per request (prompt + output,
:func:`sim.workload.lengths.nominal_tokens`; 1 when a length comes from a trace file), which the
request-level engine's work grows with; at ``fidelity: fluid``, the number of fluid steps. Ties (a grid
of replica counts at one rate) go to the point with more request-level replicas, each of which steps
its own batch. Equal estimates keep their grid order.

An executor that runs one call at a time (``serial``, ``local`` with one worker) is handed its batch in
grid order: one worker's makespan is the same in any order, and a sweep interrupted there keeps its
first points, as a user resuming it expects.

The order changes when each point is done, never what it gives: every point carries its own seed, and
the results are stored by key and returned by index (:func:`sim.planning.points.run_points`), so the
tables and files are the same bytes in any order.

    >>> longest_first(["a", "b", "c", "d"], {"a": (1.0, 2.0), "b": (5.0, 1.0), "c": (1.0, 4.0), "d": (1.0, 2.0)}.get)
    ['b', 'c', 'a', 'd']
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

Work = tuple[float, float]
"""``(work, replicas)``: a point's expected work and its request-level replicas (the tie-break)."""

NO_ESTIMATE: Work = (0.0, 0.0)
"""What a point validated without the simulator carries: it keeps its place among its likes."""


def expected_work(loaded) -> Work:
    """The work a loaded scenario (:class:`~sim.scenario.load.LoadedScenario`) implies, for ordering only."""
    from sim.limits import estimate
    from sim.workload.lengths import nominal_tokens

    sc = loaded.scenario
    est = estimate(loaded)
    if sc.fidelity == "fluid":
        return float(est.fluid_steps), 0.0
    w = sc.workload
    tokens = sum(t for t in (nominal_tokens(w.prompt_tokens), nominal_tokens(w.output_tokens)) if t is not None)
    return float(est.requests) * max(tokens, 1.0), float(est.replicas)


def longest_first(items: Sequence[T], work: Callable[[T], Work]) -> list[T]:
    """``items`` by descending ``work``; equal ones in their given order (a stable sort)."""
    return sorted(items, key=lambda it: tuple(-x for x in work(it)))
