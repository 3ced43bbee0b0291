"""Replica failures: an alternating up/down renewal process per replica.

Once a replica is ready it runs for a time to failure ``U``, is down (failed and held: still
provisioned and billed, serving nothing) for a repair time ``D``, and so on until released.

* ``U``: ``exponential`` with mean ``mtbf``, or ``weibull`` with shape ``k`` and scale
  ``mtbf / Gamma(1 + 1/k)`` (so its mean is ``mtbf``; ``k < 1``: infant mortality, ``k > 1``:
  wear-out);
* ``D``: exponential with mean ``mttr``.

By the renewal-reward theorem the long-run fraction of time a replica is up is
``mtbf / (mtbf + mttr)`` whatever the distributions (the renewal-reward theorem; see Barlow and
Proschan, *Mathematical Theory of Reliability*, 1965). Each replica draws from its own stream
(:func:`sim.workload.streams.failure_stream`), so failure times do not depend on the engine, the load,
or other replicas.

When a replica fails, the iteration in progress is lost and every request it held is retried or
failed (see :meth:`sim.serving.fleet.Fleet.fail_replica`). A failure comes before the iteration ends of
its instant, as an arrival does (:mod:`sim.serving.clock`): an iteration ending as the replica fails is
lost too, and the requests routed again reach the other replicas before their boundaries then.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.metrics.schema import REJECT_REASONS
from sim.serving.clock import arrival_at
from sim.serving.outcome import EV_FAIL
from sim.workload.streams import failure_stream

if TYPE_CHECKING:
    from sim.scenario.schema import Failures
    from sim.serving.fleet import Fleet
    from sim.serving.replica import Replica

def failure_rng(seed: int, pool_index: int, replica_index: int) -> np.random.Generator:
    """The failure stream of one replica (independent of every other stream of the run)."""
    return failure_stream(seed, pool_index, replica_index)


def time_to_failure_s(cfg: "Failures", rng: np.random.Generator) -> float:
    """One draw of the up time (mean ``cfg.mtbf``)."""
    if cfg.distribution == "weibull":
        scale = cfg.mtbf / math.gamma(1.0 + 1.0 / cfg.shape)
        return float(scale * rng.weibull(cfg.shape))
    return float(rng.exponential(cfg.mtbf))


def time_to_repair_s(cfg: "Failures", rng: np.random.Generator) -> float:
    """One draw of the down time (exponential, mean ``cfg.mttr``)."""
    return float(rng.exponential(cfg.mttr))


def failure_process(fleet: "Fleet", rep: "Replica", cfg: "Failures", rng: np.random.Generator):
    """SimPy process: fail and repair ``rep`` until it is released."""
    env = fleet.env
    while True:
        # a failure comes before the iteration ends of its instant, as an arrival does (sim.serving.clock):
        # the iteration ending then is lost with the rest, and the requests routed again reach the other
        # replicas before their boundaries, on both engines
        yield arrival_at(env, env.now + time_to_failure_s(cfg, rng))
        if rep.released:
            return
        fleet.fail_replica(rep)
        yield env.timeout(time_to_repair_s(cfg, rng))
        if rep.released:
            return
        fleet.repair_replica(rep)


def failure_summary(fleet: "Fleet", end_s: float) -> dict:
    """Availability and the requests failures touched (counted by the fleet, so exact whatever
    ``metrics.records`` keeps).

    ``availability`` = up / (up + down) replica-seconds over the pools with ``failures``
    (warming time excluded); ``requests_retried`` = requests re-queued at least once;
    ``retry_events`` = re-queues in all; ``requests_failed`` = requests finished with status FAILED;
    ``retries_rejected_by_reason`` = the retried requests rejected on a retry, by reason (``queue_full``:
    a full waiting room refused the retry, a new arrival to its router, as a gateway answers 429);
    ``e2e_mean_*_s`` compare completed requests that were and were not retried (the latency hit).
    """
    up = down = 0.0
    per_pool = {}
    for p in fleet.pools:
        if p.cfg.failures is None:
            continue
        pu = p.released_up_s + sum(r.up_s for r in p.live)
        pd = p.released_down_s + sum(r.down_s for r in p.live)
        up += pu
        down += pd
        n_fail = sum(1 for e in fleet.events if e[1] == p.index and e[3] == EV_FAIL)
        per_pool[p.name] = {"availability": pu / (pu + pd) if pu + pd > 0 else None, "failures": n_fail,
                            "down_replica_hours": pd / 3600.0,
                            "expected_availability": p.cfg.failures.mtbf / (p.cfg.failures.mtbf + p.cfg.failures.mttr)}
    n, total = fleet.e2e_n, fleet.e2e_sum_s
    return {
        "availability": up / (up + down) if up + down > 0 else None,
        "failures": sum(v["failures"] for v in per_pool.values()),
        "requests_retried": int(fleet.requests_retried),
        "retry_events": int(fleet.retry_events),
        "requests_failed": int(fleet.requests_failed),
        "retries_rejected_by_reason": {REJECT_REASONS[k]: n for k, n in sorted(fleet.retries_rejected.items())},
        "down_replica_hours": down / 3600.0,
        "e2e_mean_retried_s": total[1] / n[1] if n[1] else None,
        "e2e_mean_not_retried_s": total[0] / n[0] if n[0] else None,
        "pools": per_pool,
    }
