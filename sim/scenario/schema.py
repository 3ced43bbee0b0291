"""The scenario schema: one pydantic model per block, the single source of truth for names and units.

Times are seconds (durations also accept ``"90s"``, ``"30m"``, ``"2h30m"``, ``"7d"``: :mod:`sim.scenario.durations`),
money is USD.
Blocks owned by other layers are imported from their modules (``workload``, ``perf``,
``economics``); this module holds the top level, the fleet and the engine options::

    name: baseline
    seed: 1
    duration: 1h
    warmup: 5m
    model: llama-3-8b
    workload: {arrival: {process: poisson, rate: 12}, prompt_tokens: {...}, output_tokens: {...}}
    fleet:
      router: least_outstanding
      pools: [{name: main, gpu: h100-sxm, replicas: 4, tensor_parallel: 1,
               batching: {policy: continuous, max_num_seqs: 256, max_batched_tokens: 8192}}]
    perf: {model: roofline}
    slo: {ttft_s: 2.0, tpot_s: 0.1}
    economics: {gpu_hour_usd: 2.5}
"""
from __future__ import annotations

import datetime as _dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from sim.scenario.economics import EconomicsConfig
from sim.scenario.perf import PerfConfig, RooflinePerf
from sim.scenario.schedulers import DEFAULT_SCHEDULER, PRESETS, SchedulerName, resolve_batching
from sim.scenario.types import (MAX_COUNT, WHOLE_NUMBER, Day, Duration, Name, Strict, Switch, field_error,
                                 not_a_boolean)
from sim.scenario.workload import WorkloadConfig

BatchingPolicy = Literal["continuous", "priority", "static"]
RouterPolicy = Literal["round_robin", "random", "least_outstanding", "central_queue", "weighted", "spillover"]


class Batching(Strict):
    """How one replica forms batches.

    ``scheduler`` names the serving engine whose batching the replica follows (``vllm-v1``, the
    default; ``vllm-v0``; ``trtllm``; ``sglang``): it sets the defaults of ``max_num_seqs``,
    ``max_batched_tokens``, ``chunked_prefill``, ``mixed_batches`` and ``kv_reservation``
    (:mod:`sim.scenario.schedulers`); keys written explicitly override the preset.
    ``continuous`` admits waiting requests FCFS within ``max_num_seqs``, ``max_batched_tokens``
    and free KV blocks; ``mixed_batches`` puts prompts into the iterations of running decodes,
    ``chunked_prefill`` splits prompts to the token budget. ``priority`` is the same with waiting
    requests ordered by class priority (higher first) and preemption victims taken from the lowest
    priority. ``static`` waits for ``batch_size`` requests (or ``timeout_s``) and runs the batch to
    completion before taking more (with the default scheduler only: a preset sets nothing a static batch
    has). ``prefill_min_free_kv_pct`` holds new prompts back while the KV
    cache is fuller than that (:func:`sim.serving.batching.prefill_gate_open`).
    """

    scheduler: SchedulerName = "vllm-v1"
    policy: BatchingPolicy = "continuous"
    max_num_seqs: int = Field(256, ge=1, le=MAX_COUNT, description="sequences per iteration")
    max_batched_tokens: int = Field(8192, ge=1, le=MAX_COUNT, description="tokens per iteration")
    chunked_prefill: Switch = False
    mixed_batches: Switch = Field(False, description="prompts share iterations with running decodes")
    kv_reservation: Literal["prompt", "full"] = Field(
        "prompt", description="KV blocks held on admission: the prompt's (grow, preempt when out) or the "
                              "whole sequence's (never preempted)")
    block_size: int = Field(16, ge=1, le=MAX_COUNT, description="tokens per KV-cache block")
    prefix_caching: Switch = Field(False, description="reuse the KV blocks of a class's shared prompt prefix "
                                                    "(vLLM's automatic prefix caching)")
    prefill_min_free_kv_pct: float = Field(
        0.0, ge=0, lt=100, description="admit new prompts in an iteration only while more than this percentage of "
                                       "the KV blocks is free (ROCm vLLM's VLLM_SCHED_PREFILL_KVC_FREEPCT); 0: always")
    batch_size: int | None = Field(None, ge=1, le=MAX_COUNT, description="static policy: requests per batch")
    timeout_s: Duration | None = Field(None, ge=0, description="static policy: max wait to fill a batch")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        # a preset sets iteration-level batching (chunking, mixing, KV reservation), which a static batch
        # has none of: under policy static every preset runs the same, so another than the default is refused
        # (the default is what a scenario written back out says)
        if isinstance(data, dict) and data.get("policy") == "static" and data.get("scheduler") in PRESETS \
                and data["scheduler"] != DEFAULT_SCHEDULER:
            raise field_error("scheduler", f"sets iteration-level batching (chunked prefill, mixed batches, KV "
                                           f"reservation), and a static batch has none: under policy static every "
                                           f"scheduler runs the same; remove it or use policy continuous or priority "
                                           f"(got {data['scheduler']} with policy static)")
        return resolve_batching(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _gate_needs_iterations(self) -> "Batching":
        # a static batch is admitted whole when it fills (sim.serving.batching.Static): no iteration
        # admits prompts, so a KV gate on them would be taken and never applied
        if self.policy == "static" and self.prefill_min_free_kv_pct:
            raise field_error("prefill_min_free_kv_pct", "applies to iteration-level batching only: a static batch "
                              "is admitted whole, never prompt by prompt; remove it or use policy continuous or "
                              f"priority (got {self.prefill_min_free_kv_pct:g} with policy static)")
        return self


class Autoscale(Strict):
    """Per-pool autoscaler: every ``interval`` compare ``metric`` with ``target`` and resize."""

    metric: Literal["load_factor", "utilization", "queue", "kv", "ttft"] = Field(
        "load_factor", description="load_factor: work / work at the batch limits; utilization: busy time; "
                                   "queue: outstanding requests per replica; kv: KV-cache use; "
                                   "ttft: mean time to first token, seconds")
    target: float = Field(0.7, gt=0)
    interval: Duration = Field(60.0, gt=0)
    min: int = Field(1, ge=0)
    max: int = Field(64, ge=1)
    scale_up_delay: Duration | None = Field(None, ge=0, description="default: weights / load bandwidth")
    cooldown: Duration = Field(300.0, ge=0)
    tolerance: float = Field(0.1, ge=0, description="no change while |metric / target - 1| <= this "
                             "(the Kubernetes HPA's --horizontal-pod-autoscaler-tolerance, default 0.1); 0: none")
    max_scale_up_pods: int | None = Field(4, ge=1, description="a scale-up adds at most this many replicas per "
                                          "scale_up_period (the HPA's default behavior.scaleUp Pods policy, 4); "
                                          "null: no such policy")
    max_scale_up_percent: int | None = Field(100, ge=1, description="a scale-up adds at most this percentage of the "
                                             "replicas per scale_up_period (the HPA's default Percent policy, 100); "
                                             "the larger of the two limits applies; both null: no limit")
    scale_up_period: Duration = Field(15.0, gt=0, description="the period of both scale-up policies (the HPA's "
                                      "periodSeconds, 15 s)")

    @model_validator(mode="after")
    def _min_le_max(self) -> "Autoscale":
        if self.min > self.max:
            raise field_error("max", f"must be >= min (got min={self.min}, max={self.max})")
        return self


class Failures(Strict):
    """Replica failures: time between failures with mean ``mtbf``, repair time with mean ``mttr``."""

    mtbf: Duration = Field(gt=0)
    mttr: Duration = Field(gt=0)
    distribution: Literal["exponential", "weibull"] = "exponential"
    shape: float = Field(1.0, ge=0.1, le=100, description="Weibull shape (distribution: weibull)")
    max_retries: int = Field(3, ge=0)


def _not_boolean(cls: type, v: Any) -> Any:
    """A ``mode="before"`` field validator of whole-number fields: ``true``/``false`` is refused, not
    read as 1/0 (shared by :class:`Pool`, :class:`Batcher` and :class:`Router`)."""
    if isinstance(v, bool):
        raise ValueError(not_a_boolean(WHOLE_NUMBER, v))
    return v


class Pool(Strict):
    """A group of identical replicas (same GPU, model, tensor-parallel size and batching)."""

    name: Name
    gpu: str | dict[str, Any] = Field(description="a catalog name or an inline datasheet mapping")
    replicas: int = Field(ge=0)
    tensor_parallel: int = Field(1, ge=1, le=MAX_COUNT, description="GPUs per pipeline stage")
    pipeline_parallel: int = Field(1, ge=1, le=MAX_COUNT, description="pipeline stages per replica (GPUs per replica: "
                                   "tensor_parallel x pipeline_parallel)")
    pipeline_micro_batches: int | None = Field(None, ge=1, le=MAX_COUNT, description="micro-batches per pipelined "
                                               "iteration; default: pipeline_parallel")
    expert_parallel: int = Field(1, ge=1, le=MAX_COUNT, description="expert groups, dividing tensor_parallel: 1 (experts split "
                                 "tensor-parallel), tensor_parallel (whole experts per GPU, all-to-all "
                                 "dispatch/combine) or between (each expert split tensor_parallel/expert_parallel ways)")
    data_parallel_attention: Switch = Field(False, description="attention data-parallel over the stage's GPUs "
                                          "(SGLang --enable-dp-attention): no KV replication, no attention all-reduce")
    gpus_per_node: int | None = Field(None, ge=1, le=MAX_COUNT, description="default: the GPU catalog's (8 for HGX boards)")
    ib_gbps: float = Field(400.0, gt=0, description="inter-node bandwidth per GPU, gigabits/s")
    model: str | dict[str, Any] | None = Field(None, description="default: the scenario's model")
    max_model_len: int | None = Field(None, ge=2, le=MAX_COUNT, description="longest prompt + output served (vLLM's "
                                      "--max-model-len); default: the model's context length")
    batching: Batching = Field(default_factory=Batching)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    perf: PerfConfig | None = Field(None, description="default: the scenario's perf block")
    scale: float = Field(1.0, ge=1, description="this pool is one shard of `scale` identical ones")
    autoscale: Autoscale | None = None
    failures: Failures | None = None
    max_waiting: int | None = Field(None, ge=0, le=MAX_COUNT, description="each replica's waiting room: a request "
                                    "routed to a replica that already has this many requests waiting (not yet "
                                    "admitted to a batch) is refused at once (reject reason queue_full, as a gateway's "
                                    "HTTP 429); default: no limit (vLLM's queue is unbounded)")

    @field_validator("gpu", mode="before")
    @classmethod
    def _gpu_kind(cls, v: Any) -> Any:
        if not isinstance(v, (str, dict)):
            raise ValueError(f"must be a catalog GPU name or a mapping of the datasheet (got {v!r})")
        return v

    _no_booleans = field_validator("replicas", "tensor_parallel", "pipeline_parallel", "expert_parallel",
                                   "pipeline_micro_batches", "max_waiting", mode="before")(_not_boolean)


PoolNames = Annotated[list[Name], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
"""A pool name or a list of them (a plain name is a list of one)."""


class Batcher(Strict):
    """A request batcher in front of the fleet (an API gateway or benchmark harness that forwards
    requests in groups): arrivals wait in one list; whenever the list is not empty and holds
    ``max_requests`` or ``timeout_s`` has passed since the last dispatch, its first ``max_requests``
    go, as one group, to the one replica the router picks. The batcher looks when a request
    arrives and, if none does, ``timeout_s`` after it last looked (AMD's MLPerf harness,
    ``SyncServerSUT.batch_samples_loop``: :mod:`sim.serving.batcher`)."""

    max_requests: int = Field(ge=1, le=MAX_COUNT, description="most requests dispatched in one group")
    timeout_s: Duration = Field(gt=0, description="a group goes once this long has passed since the last "
                                                  "dispatch (checked at each arrival and this long after "
                                                  "the batcher last looked)")

    _no_booleans = field_validator("max_requests", mode="before")(_not_boolean)


class Router(Strict):
    """Fleet-level routing; a plain string in YAML is shorthand for ``{policy: <string>}``."""

    policy: RouterPolicy = "least_outstanding"
    weights: dict[str, float] | None = Field(None, description="weighted: pool name -> weight")

    @field_validator("weights")
    @classmethod
    def _finite_weights(cls, w: dict[str, float] | None) -> dict[str, float] | None:
        import math as _m

        if w is not None:
            bad = {k: v for k, v in w.items() if not _m.isfinite(v) or v < 0}
            if bad:
                raise ValueError(f"must be finite and >= 0 (got {bad})")
        return w
    primary: str | None = Field(None, description="spillover: pool tried first")
    overflow: str | None = Field(None, description="spillover: pool used when primary is loaded")
    threshold: float | None = Field(None, gt=0, description="spillover: outstanding requests per primary replica")
    classes: dict[Name, PoolNames] | None = Field(
        None, description="request class name -> the pool (or pools) its requests may go to; the policy chooses "
                          "among those only. A class not listed may go to any pool")

    @field_validator("classes")
    @classmethod
    def _some_pool(cls, c: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        """An empty list of pools is refused."""
        empty = [k for k, v in (c or {}).items() if not v]
        if empty:
            raise ValueError(f"each class needs at least one pool (got an empty list for {', '.join(map(repr, empty))})")
        return c

    batcher: Batcher | None = Field(None, description="hold arrivals and send them to replicas in groups "
                                                     "(default: none, each request routed on arrival)")
    max_waiting: int | None = Field(None, ge=0, le=MAX_COUNT, description="router central_queue: the fleet queue's "
                                    "waiting room; an arrival that finds no free replica and this many requests in "
                                    "the central queue is refused at once (reject reason queue_full); default: no limit")

    _no_booleans = field_validator("max_waiting", mode="before")(_not_boolean)

    def pools_of(self, class_name: str) -> list[str] | None:
        """The pools ``class_name`` is pinned to (``fleet.router.classes``), or None: any pool."""
        return (self.classes or {}).get(class_name)


class Disaggregated(Strict):
    """Prefill/decode disaggregation: prefill in one pool, KV cache moved, decode in another."""

    prefill_pool: str
    decode_pool: str
    link_gbps: float = Field(gt=0, description="KV transfer bandwidth, gigabits/s")


class FleetConfig(Strict):
    router: Router = Field(default_factory=Router)
    pools: list[Pool] = Field(min_length=1)

    @property
    def has_waiting_room(self) -> bool:
        """Whether an arrival may be refused for a full waiting room (``max_waiting``, the router's or a pool's)."""
        return self.router.max_waiting is not None or any(p.max_waiting is not None for p in self.pools)
    disaggregated: Disaggregated | None = None
    frontend_s: Duration = Field(0.0, ge=0, description="serving front end outside the engines (HTTP, "
                                 "tokenization, detokenization and streaming, network): added to every "
                                 "request's first-token and completion times, i.e. to TTFT and E2E")

    @model_validator(mode="before")
    @classmethod
    def _router_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("router"), str):
            data = dict(data)
            data["router"] = {"policy": data["router"]}
        return data

    @model_validator(mode="after")
    def _gate_needs_prompts(self) -> "FleetConfig":
        # a disaggregated fleet's decode pool takes requests whose prompt ran elsewhere (their KV moved
        # in): it admits no prompt, so a KV gate on prompts there would be taken and never applied
        d = self.disaggregated
        for i, pool in enumerate(self.pools):
            if d is not None and pool.name == d.decode_pool and pool.batching.prefill_min_free_kv_pct:
                raise field_error(f"pools.{i}.batching.prefill_min_free_kv_pct",
                                  f"gates new prompts, and pool {pool.name} (fleet.disaggregated.decode_pool) runs "
                                  f"none: its requests' prompts run in {d.prefill_pool}; set it there or remove it")
            if d is not None and pool.name == d.decode_pool and pool.max_waiting is not None:
                raise field_error(f"pools.{i}.max_waiting",
                                  f"limits the requests arriving at a pool, and pool {pool.name} "
                                  f"(fleet.disaggregated.decode_pool) takes only requests whose prompt ran in "
                                  f"{d.prefill_pool}: set it on {d.prefill_pool} or remove it")
        for i, pool in enumerate(self.pools):
            if pool.max_waiting is not None and self.router.policy == "central_queue":
                raise field_error(f"pools.{i}.max_waiting",
                                  "limits a replica's own queue, and behind router central_queue requests wait in "
                                  "the fleet's queue (a replica takes one only when it has room): set "
                                  "fleet.router.max_waiting instead")
        if self.router.max_waiting is not None and self.router.policy != "central_queue":
            raise field_error("router.max_waiting",
                              f"limits the fleet's central queue, which only router central_queue keeps (the "
                              f"router is {self.router.policy}, where requests wait at their replica): set "
                              f"fleet.pools[].max_waiting instead, or use router central_queue")
        return self


class Slo(Strict):
    """Per-request service-level objectives; a request attains the SLO if it meets both. Seconds, or a
    duration with its unit (``500ms``), as a request class's ``slo`` takes them."""

    ttft_s: Annotated[Duration, Field(gt=0)] = 2.0
    tpot_s: Annotated[Duration, Field(gt=0)] = 0.1


class Metrics(Strict):
    """What the run keeps. ``records``: all per-request rows, a ``sample`` or ``none``."""

    interval: Duration = Field(10.0, gt=0, description="time-series sampling interval")
    records: Literal["all", "sample", "none"] = "all"
    sample_rate: float = Field(0.01, gt=0, le=1)


class Fluid(Strict):
    """Options of the coarse tier (``fidelity: fluid``): step length, how capacity curves are measured and whether autoscalers read their noise."""

    step: Duration = Field(3600.0, gt=0, description="time step of the fluid tier")
    grid: list[float] | None = Field(None, description="offered loads (fractions of saturation) of the curve")
    calibration_duration: Duration | None = Field(None, gt=0, description="simulated time of each curve point")
    calibration_requests: int | None = Field(None, ge=100, description="minimum requests of each curve point")
    reading_noise: Switch = Field(True, description="autoscalers decide on their readings' sampling noise, as "
                                                    "at request level (false: on the metric's expected value)")

    @field_validator("grid")
    @classmethod
    def _grid_fractions(cls, grid: list[float] | None) -> list[float] | None:
        if grid is not None and (len(grid) < 2 or any(not 0 < g < 1.5 for g in grid)):
            raise ValueError(f"must list at least two load fractions in (0, 1.5) (got {grid})")
        return grid


class Scenario(Strict):
    """A complete what-if: workload, fleet, performance model, SLO and economics."""

    name: Name = "scenario"
    seed: int = Field(1, ge=0)
    start: Day = Field(_dt.date(2025, 1, 1), description="calendar date of simulated t = 0")
    duration: Duration = Field(ge=1e-3, description="simulated time, arrivals stop here; at least 1 ms (no LLM "
                                                    "request is served in less)")
    warmup: Duration = Field(0.0, ge=0, description="requests arriving earlier are excluded from latency statistics")
    drain: Switch = Field(False, description="keep simulating after `duration` until in-flight requests finish")
    model: str | dict[str, Any]
    workload: WorkloadConfig
    fleet: FleetConfig
    perf: PerfConfig = Field(default_factory=lambda: RooflinePerf(model="roofline"))
    slo: Slo = Field(default_factory=Slo)
    economics: EconomicsConfig = Field(default_factory=EconomicsConfig)
    engine: Literal["fast", "reference"] = "fast"
    fidelity: Literal["request", "fluid"] = "request"
    fluid: Fluid = Field(default_factory=Fluid)
    metrics: Metrics = Field(default_factory=Metrics)
