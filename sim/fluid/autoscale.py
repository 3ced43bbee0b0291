"""The autoscaler in the fluid tier: the replicas the request-level autoscaler settles at.

The request-level autoscaler (:mod:`sim.serving.autoscaler`) applies the Kubernetes HPA rule
``desired = ceil(n x metric / target)`` every interval; it stops moving at the smallest ``n`` whose
metric is at or below the target. The fluid tier runs that ``n`` in each step, with the metric
read the same way, from the capacity curve at the per-replica load ``rate / n``:

* ``load_factor``: ``rate x s / n`` with ``s`` the seconds one request costs at the batch limits
  (:func:`sim.perf.utilization.seconds_per_request`), so ``n = ceil(rate x s / target)``;
* ``utilization``: the curve's busy share at ``rate / n`` (1 beyond the curve's saturation);
* ``kv``: the curve's mean KV-cache use at ``rate / n``;
* ``ttft``: the curve's mean TTFT at ``rate / n`` plus the wait behind the backlog carried into
  the step, ``backlog / (n max_rps)``;
* ``queue``: requests in the system per replica, ``(rate / n) x E2E(rate / n)`` (Little's law on
  the curve's mean E2E) plus the backlog carried into the step over ``n``.

``rate`` is the step's admitted demand plus the backlog to clear, per second. Clamped to
``[min, max]``. When the answer falls, the previous step's replicas stay for the first
``cooldown`` seconds of the step (the HPA's scale-down stabilization window), so the step runs
the time-weighted mean. What the fluid tier leaves out: the scale-up delay (replicas warming
cost money but serve nothing yet), the metric's sampling noise, and the transient of a pool
starting far from where it settles.
"""
from __future__ import annotations

import math

import numpy as np


def _metric(kind: str, curve, rate: float, n: int, backlog: float, s_each: float) -> float:
    per = rate / n
    if kind == "load_factor":
        return per * s_each
    if per > curve.rates_rps[-1] * (1 + 1e-9) and kind in ("utilization", "kv"):
        return 1.0 if kind == "utilization" else float(curve.kv[-1])
    if kind == "utilization":
        return float(curve.at(curve.busy, per))
    if kind == "kv":
        return float(curve.at(curve.kv, per))
    if kind in ("ttft", "queue") and per > curve.max_rps:
        return math.inf                        # this many replicas cannot keep up: the queue grows
    if kind == "ttft":
        return float(curve.at(np.nan_to_num(curve.latency["ttft"]["mean"]), per)) + backlog / (n * curve.max_rps)
    e2e = float(curve.at(np.nan_to_num(curve.latency["e2e"]["mean"]), per))
    return per * e2e + backlog / n


def settled_replicas(kind: str, target: float, lo: int, hi: int, curve, rate_rps: float, backlog: float = 0.0,
                     s_each: float = 0.0) -> int:
    """Smallest ``n`` in ``[lo, hi]`` whose metric at ``rate_rps`` is at or below ``target`` (``hi`` if
    none is); see the module docstring. The metric falls as ``n`` grows, so this bisects."""
    if rate_rps <= 0 and backlog <= 0:
        return lo
    if kind == "load_factor":
        return int(min(max(math.ceil(rate_rps * s_each / target - 1e-9), lo), hi))
    a, b = max(lo, 1), hi
    if _metric(kind, curve, rate_rps, b, backlog, s_each) > target:
        return hi
    while a < b:
        mid = (a + b) // 2
        if _metric(kind, curve, rate_rps, mid, backlog, s_each) <= target:
            b = mid
        else:
            a = mid + 1
    return max(a, lo)
