"""The fleet part of a run's summary, assembled once for both tiers.

What a pool did over a run (:class:`PoolUsage`: provisioned and busy GPU-seconds, FLOPs done,
mean KV-cache use, requests served and their token means, the iterations run and the KV they read
(MBU's bytes), or the bytes the fluid tier read off its curves) becomes the summary's ``pools.<name>`` blocks, ``utilization``, ``gpu_hours`` and
``stability`` (:func:`fleet_summary`). The request-level tier (:func:`sim.api.assemble`) measures
those quantities from its replicas and time series; the fluid tier (:func:`sim.fluid.run.run_fluid`)
reads them off capacity curves step by step; the arithmetic after that is this one function.

Units: seconds and GPU-seconds of one simulated shard (a pool's ``scale`` multiplies them here),
FLOPs, shares in 0..1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.metrics.stability import (admitted_share, closed_loop, offered_count, offered_load_factor,
                                  timeseries_stability)
from sim.metrics.utilization import (fleet_utilization, pool_bytes, pool_kv_dtype, pool_seconds_per_request,
                                     pool_utilization)


@dataclass(frozen=True)
class PoolUsage:
    """What one pool (a :class:`~sim.serving.pool.PoolRuntime`) did over a run, for one shard."""

    pool: Any
    #: GPU-seconds provisioned and busy (replica-seconds x GPUs per replica)
    provisioned_gpu_s: float
    busy_gpu_s: float
    #: FLOPs of useful work done (the MFU numerator)
    flops_done: float
    #: the pool's mean share of KV-cache blocks in use
    kv_cache_mean: float
    #: requests served (completed, plus the work done on those in flight at the end:
    #: :func:`sim.metrics.utilization.in_flight_work`) and the completed ones' mean prompt / output
    #: tokens (load factor and MBU)
    requests: float
    prompt_mean: float
    output_mean: float
    #: the tier's own keys of the pool block: ``lead`` right after ``replicas``, ``tail`` after the
    #: utilization keys (``load_factor``, ``mbu``), where the request tier adds ``replicas_mean``
    #: (summary key order is part of the output)
    lead: dict = field(default_factory=dict)
    tail: dict = field(default_factory=dict)
    #: the requests routed to the pool (completed and in flight at the end) and their worth of work
    #: at full cost, in requests of the served mix (what ``requests`` counts): the offered load
    #: factor's numerator (:func:`sim.metrics.stability.offered_load_factor`). ``None`` when the
    #: served and the admitted mix are one (the fluid tier's curves): the admitted count is then the
    #: offered worth
    routed: float | None = None
    offered: float | None = None
    #: GPU-seconds provisioned up to ``duration`` (the arrival window; a drained run goes on after
    #: it), what the offered load factor's capacity counts (:func:`arrival_window_load_factor`).
    #: ``None`` when the run ends at ``duration``: ``provisioned_gpu_s`` then
    arrival_window_gpu_s: float | None = None
    #: ``(iterations, tokens, kv_read, micro_batches, token_mix)``: the iterations the pool's replicas ran, the
    #: tokens they processed, the cached KV tokens they read, the micro-batches they ran and (an MoE) the
    #: iterations by (prompts, decodes, tokens), what MBU's bytes count
    #: (:func:`sim.perf.utilization.steps_bytes`); ``None`` when the tier runs no iterations (the fluid
    #: tier's curves): MBU then counts ``hbm_bytes``
    steps: tuple[int, ...] | None = None
    #: the HBM bytes per GPU the fluid tier's busy replicas moved: their busy replica-seconds at the bytes
    #: per busy second its curve's grid runs moved, read at each step's load
    #: (:meth:`sim.fluid.curve.CapacityCurve.hbm_at`); ``None`` at request level (``steps``)
    hbm_bytes: float | None = None


def layout_keys(cfg) -> dict:
    """A pool block's layout keys from its scenario entry: ``tensor_parallel`` (GPUs per pipeline
    stage), ``pipeline_parallel``, ``expert_parallel`` and ``gpus_per_replica`` (``tp x pp``: what
    GPU-hours and money count per replica)."""
    return {"tensor_parallel": cfg.tensor_parallel, "pipeline_parallel": cfg.pipeline_parallel,
            "expert_parallel": cfg.expert_parallel, "gpus_per_replica": cfg.tensor_parallel * cfg.pipeline_parallel}


@dataclass(frozen=True)
class FleetSummary:
    """The blocks :func:`fleet_summary` assembles, plus each pool's scaled busy GPU-seconds
    (what the money layer's energy line reads) and the HBM bytes per GPU its MBU counts, one shard's
    (:func:`~sim.metrics.utilization.pool_bytes`; ``None`` where there is no MBU: what a capacity
    curve's grid runs record, :mod:`sim.fluid.grid`)."""

    pools: dict[str, dict]
    utilization: dict
    gpu_hours: dict
    stability: dict
    busy_gpu_s_by_pool: dict[str, float]
    hbm_bytes_by_pool: dict[str, float | None] = field(default_factory=dict)


def fleet_summary(scenario, usage: list[PoolUsage], *, kv_cache_mean: float, timeseries: np.ndarray,
                  requests: dict, end_s: float, in_flight_peak: int | None = None) -> FleetSummary:
    """Per-pool blocks and the fleet's utilization, GPU-hours and stability from each pool's usage.

    ``kv_cache_mean`` is the fleet's mean KV-cache share (each tier weighs its samples by
    replicas); ``timeseries`` (rows of :data:`sim.metrics.schema.TS_COLUMNS`) and ``requests``
    (the summary's ``requests`` block) feed :func:`sim.metrics.stability.timeseries_stability`;
    ``in_flight_peak``: the most requests in the system at once, counted at every arrival and departure
    (``None``: the time series' largest, an estimate).
    """
    prov_s = busy_s = flops_cap = flops_done = 0.0
    per_pool: dict[str, dict] = {}
    busy_by_pool: dict[str, float] = {}
    bytes_by_pool: dict[str, float | None] = {}
    util_w: list[tuple] = []
    for u in usage:
        p = u.pool
        gpr = p.gpus_per_replica
        scale = p.cfg.scale
        p_prov, p_busy = u.provisioned_gpu_s, u.busy_gpu_s
        prov_s += p_prov * scale
        busy_s += p_busy * scale
        flops_cap += p_prov * p.peak_flops() * scale
        # no GPU computes faster than its peak: a step model faster than that (a linear model's steps
        # of 0.1 ms) would read an MFU above 1, which no run can reach
        flops_done += min(u.flops_done, p_busy * p.peak_flops()) * scale
        busy_by_pool[p.name] = p_busy * scale
        busy_share = p_busy / p_prov if p_prov else 0.0
        block = {"gpu": p.gpu.name, "replicas": p.cfg.replicas, **u.lead, **layout_keys(p.cfg), "scale": scale,
                 "kv_blocks_per_replica": p.kv_blocks,
                 "gpu_hours_provisioned": p_prov * scale / 3600.0, "gpu_hours_busy": p_busy * scale / 3600.0,
                 "gpu_busy": busy_share, "kv_cache_mean": u.kv_cache_mean}
        moved = pool_bytes(p, pool_kv_dtype(scenario, p), steps=u.steps, hbm_bytes=u.hbm_bytes,
                           busy_replica_seconds=p_busy / gpr)
        bytes_by_pool[p.name] = moved
        util = pool_utilization(p, requests=u.requests, prompt_mean=u.prompt_mean, output_mean=u.output_mean,
                                replica_seconds=p_prov / gpr, moved=moved, ran=bool(u.steps and u.steps[0] > 0))
        block.update(util)
        block.update(u.tail)
        per_pool[p.name] = block
        util_w.append((util, p_prov / gpr * scale, p_prov * scale))
    utilization = {"gpu_busy": busy_s / prov_s if prov_s else 0.0, "kv_cache_mean": kv_cache_mean,
                   "mfu": flops_done / flops_cap if flops_cap else 0.0, **fleet_utilization(util_w)}
    gpu_hours = {"provisioned": prov_s / 3600.0, "busy": busy_s / 3600.0}
    # arrivals stop at `duration`: after it a drained run's backlog only shrinks, so whether the fleet
    # kept up is judged over the arrival window (an offline job, all of it at once, over its whole run)
    horizon = end_s if scenario.workload.offline else min(end_s, scenario.duration)
    lf, served, offered = bottleneck_stage(scenario, usage, per_pool, utilization["load_factor"], requests,
                                           horizon < end_s)
    stability = timeseries_stability(timeseries, requests, scenario.warmup, horizon, len(usage),
                                     load_factor=lf, served=served, offered=offered, peak=in_flight_peak)
    if scenario.workload.closed is not None:
        stability = closed_loop(stability, scenario.workload.closed.concurrency)
    if admits(scenario):
        # what the verdict judged: the admitted requests' work alone (the offered load factor counts the refused too)
        olf = stability["offered_load_factor"]
        own = admitted_share(olf, requests)
        stability["admitted_load_factor"] = olf if own is None else own
    return FleetSummary(per_pool, utilization, gpu_hours, stability, busy_by_pool, bytes_by_pool)


def admits(scenario) -> bool:
    """Whether the scenario may turn offered requests away for want of room or time: a waiting room
    (``fleet.pools[].max_waiting``, ``fleet.router.max_waiting``) or clients' patience
    (``workload.patience_s``, a class's). Then the stability block also has ``admitted_load_factor``
    (a summary's keys depend on the scenario, never on its numbers)."""
    return scenario.fleet.has_waiting_room or scenario.workload.patient


def bottleneck_stage(scenario, usage: list[PoolUsage], per_pool: dict[str, dict], load_factor: float,
                     requests: dict, drained: bool) -> tuple[float | None, float, float | None]:
    """What the offered load factor scales (:func:`sim.metrics.stability.offered_load_factor`): the
    load factor over the arrival window (:func:`arrival_window_load_factor`), the work served and the
    work offered of the fleet's bottleneck stage. Pools that share the requests (each request served
    by one of them) are one stage, the fleet (``load_factor`` is its load factor). Under
    ``fleet.disaggregated`` every request passes through the prefill pool and then the decode pool,
    so each is a stage of its own and the fleet keeps up only if both do: the stage whose offered
    load factor is the larger. The prefill pool's work served is the prompts it ran
    (:func:`sim.metrics.utilization.prefill_served`); every admitted request is offered to it (its
    mix priced as the prompts it ran); the decode pool's as one pool's (:func:`offered_work`)."""
    if not usage:
        return None, 0.0, None
    stages = [(usage, load_factor)]
    if scenario.fleet.disaggregated is not None:
        stages = [([u], per_pool[u.pool.name]["load_factor"]) for u in usage]
    best = None
    for pools, lf in stages:
        stage = (arrival_window_load_factor(pools, lf, drained), sum(u.requests for u in pools),
                 offered_work(pools, requests))
        value = offered_load_factor(*stage[:1], requests, *stage[1:])
        if best is None or value > best[0]:
            best = (value, stage)
    return best[1]


def arrival_window_load_factor(usage: list[PoolUsage], load_factor: float, drained: bool) -> float:
    """The fleet's load factor with the work it counts over the capacity of the arrival window
    (``0..duration``) instead of the whole run: what the offered load factor scales
    (:func:`sim.metrics.stability.offered_load_factor`). A drained run (``drained``) serves on after
    ``duration``; priced over that drain too, an overloaded fleet's offered load read ~1.0 (M/D/1 at
    ``rho = 1.2``: 0.999). Over the arrival window it reads the work offered per second of capacity
    while work was offered, as an undrained run does. ``load_factor`` itself is the fleet's (its
    replica-seconds over the whole run, drain included)."""
    if not drained:
        return load_factor
    whole = sum(u.provisioned_gpu_s / u.pool.gpus_per_replica * u.pool.cfg.scale for u in usage)
    window = sum((u.provisioned_gpu_s if u.arrival_window_gpu_s is None else u.arrival_window_gpu_s)
                 / u.pool.gpus_per_replica * u.pool.cfg.scale for u in usage)
    return load_factor * whole / window if window > 0 else load_factor


def offered_work(usage: list[PoolUsage], requests: dict) -> float | None:
    """The offered requests' worth of work in requests of the served mix: the pools' ``offered``
    scaled from the requests routed to them to every offered one (arrived - rejected: those still
    in a central queue, or failed; and those refused by a full waiting room or abandoned:
    :func:`sim.metrics.stability.offered_count`; all taken at the routed ones' mix); ``None`` when a
    pool does not say (the offered count is then the worth)."""
    if not usage or any(u.offered is None or u.routed is None for u in usage):
        return None
    routed = sum(u.routed for u in usage)
    admitted = offered_count(requests)
    return sum(u.offered for u in usage) * admitted / routed if routed > 0 else None


def offered_requests(pool, completed: float, prompt_mean: float, output_mean: float, in_flight_prompt,
                     in_flight_output) -> tuple[float, float]:
    """``(routed, offered)`` of one pool (:class:`PoolUsage`): the requests routed to it (``completed``
    of mean ``prompt_mean`` / ``output_mean`` tokens, and those in flight at the end with their
    prompt and output lengths) and their worth at full cost in requests of the completed mix. A
    short overloaded run completes its short requests first: priced at the completed mix, the work
    still queued would read light. A prefill-role pool counts none (its load factor is 0)."""
    k = len(in_flight_prompt)
    if getattr(pool, "role", "both") == "prefill" or completed + k <= 0:
        return 0.0, 0.0
    routed = completed + k
    pin = (completed * prompt_mean + float(np.sum(in_flight_prompt))) / routed
    pout = (completed * output_mean + float(np.sum(in_flight_output))) / routed
    each = pool_seconds_per_request(pool, prompt_mean, output_mean)      # what the load factor counts
    return routed, routed * pool_seconds_per_request(pool, pin, pout) / each if each > 0 else routed
