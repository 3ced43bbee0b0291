"""What a finished fleet hands up: the request log, time series, provisioned intervals, busy time
and tokens per pool, the lifecycle event log and the dynamics blocks of the summary.

:meth:`sim.serving.fleet.Fleet.finish` builds a :class:`FleetOutcome` at the end of the run; the
API layer summarises and prices it without reaching into replicas.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.metrics.records import GapLog, RequestLog
    from sim.serving.pool import PoolRuntime

# lifecycle events of ``FleetOutcome.events``: (time_s, pool, replica, kind index)
EVENT_KINDS = ("provision", "ready", "drain", "release", "fail", "repair")
EV_PROVISION, EV_READY, EV_DRAIN, EV_RELEASE, EV_FAIL, EV_REPAIR = range(6)
EVENT_DTYPE = np.dtype([("time_s", "f8"), ("pool", "i4"), ("replica", "i4"), ("kind", "i1")])


@dataclass(frozen=True)
class PoolUsage:
    """One pool over the run: provisioned ``(start_s, end_s)`` per replica lifetime, busy
    replica-seconds (each replica's capped at the end of the run), tokens processed (prefill and
    decode, for MFU), replicas ever provisioned and the mean provisioned over the run, the iterations run and the
    cached KV tokens they read (for MBU); a
    prefill-role pool (disaggregation) also the prompts it ran to their first token and their tokens
    (what its load factor counts: it completes no request itself)."""

    pool: "PoolRuntime"
    intervals: tuple[tuple[float, float], ...]
    busy_replica_s: float
    tokens_processed: int
    replicas_provisioned_total: int
    replicas_mean: float
    prefills: int = 0
    prefill_tokens: int = 0
    #: iterations its replicas ran and the cached KV tokens those read (MBU's bytes:
    #: :func:`sim.perf.utilization.steps_bytes`)
    iterations: int = 0
    kv_read: int = 0
    #: the micro-batches those iterations ran (each reads the stage's weights once; = ``iterations`` on one stage)
    micro_batches: int = 0
    #: an MoE pool's iterations by ``(prompts, decodes, tokens)`` (the experts they read); ``None`` for a dense model
    token_mix: dict | None = None


def merged_mix(replicas) -> dict | None:
    """The replicas' ``token_mix`` counts added up (``None`` when they keep none: a dense model)."""
    out: dict | None = None
    for r in replicas:
        if r.token_mix is not None:
            out = {} if out is None else out
            for key, count in r.token_mix.items():
                out[key] = out.get(key, 0) + count
    return out


@dataclass
class FleetOutcome:
    """Everything the summary, the time series and the money need from a finished run."""

    end_s: float
    log: "RequestLog"
    gaps: "GapLog"
    in_flight_rows: list[tuple]
    timeseries: list[tuple]
    preemptions: int
    pools: list[PoolUsage]
    events: np.ndarray
    dynamics: dict = field(default_factory=dict)   # "autoscale", "failures", "disaggregation" blocks
    #: the most requests in the system at once, counted at every arrival and departure
    #: (:class:`~sim.serving.in_system.InSystemPeak`, which every :class:`~sim.serving.fleet.Fleet` sets); ``None``:
    #: the stability block reads the time series' largest instead (``in_flight_peak_basis: "estimate"``)
    in_flight_peak: int | None = None
