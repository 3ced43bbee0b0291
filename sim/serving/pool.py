"""A pool as the engine sees it: its catalog entries, step-time model, KV capacity and replicas.

Built by :func:`sim.api.build_pools` from the scenario's ``fleet.pools``; the fleet adds and
releases replicas and keeps the provisioned replica-seconds (the money follows them) here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sim.perf.base import StepTimeModel
from sim.scenario.catalog import GPUSpec, ModelSpec
from sim.scenario.schema import Pool

if TYPE_CHECKING:
    from sim.serving.replica import Replica


@dataclass
class PoolRuntime:
    """A pool as the engine sees it: catalog entries, step-time model, KV capacity, replicas."""

    index: int
    cfg: Pool
    gpu: GPUSpec
    model: ModelSpec
    step_model: StepTimeModel
    kv_blocks: int
    kv_bytes_per_token: int
    weight_dtype: str
    max_context: int
    replicas: list["Replica"] = field(default_factory=list)   # every replica ever provisioned, in order
    intervals: list[tuple[float, float]] = field(default_factory=list)  # provisioned (start, end) per replica
    live: list["Replica"] = field(default_factory=list)       # provisioned and not yet released
    role: str = "both"                                       # "prefill"/"decode" under disaggregation
    # the load factor's per-request cost on this pool's engine over the closed form's (measured by
    # sim.serving.saturated when the run is built; 1.0: the closed form alone)
    scheduler_factor: float = 1.0
    n_prov: int = 0                                          # replicas provisioned now
    prov_acc_s: float = 0.0                                  # replica-seconds provisioned up to prov_t_s
    prov_t_s: float = 0.0
    released_busy_s: float = 0.0                             # busy seconds of released replicas
    released_up_s: float = 0.0
    released_down_s: float = 0.0
    # step times of iterations with prompts, keyed (decoders, their context sum, (prior, chunk) of each
    # partial prefill..., each new prompt's tokens...): one step model, so the pool's replicas share them
    # (the lean loop's; at most LEAN_TIMES entries, see sim.serving.lean)
    step_times: dict[tuple, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def gpus_per_replica(self) -> int:
        return self.cfg.tensor_parallel * self.cfg.pipeline_parallel

    def provision_change(self, t: float, delta: int) -> None:
        """The number of provisioned replicas changes by ``delta`` at ``t``."""
        self.prov_acc_s += self.n_prov * (t - self.prov_t_s)
        self.prov_t_s = t
        self.n_prov += delta

    def provisioned_seconds(self, t: float) -> float:
        """Replica-seconds provisioned over ``[0, t]`` (``t`` not before the last change)."""
        return self.prov_acc_s + self.n_prov * (t - self.prov_t_s)

    def busy_seconds(self, t: float) -> float:
        return self.released_busy_s + sum(r.busy_at(t) for r in self.live)

    def up_seconds(self, t: float) -> float:
        """Replica-seconds ready and not failed over ``[0, t]``."""
        return self.released_up_s + sum(r.up_s + (t - r.up_since if r.up_since >= 0 else 0.0) for r in self.live)

    def peak_flops(self) -> float:
        tf = {"bf16": self.gpu.bf16_tflops, "fp8": self.gpu.fp8_tflops, "fp4": self.gpu.fp4_tflops}
        return float(tf.get(self.weight_dtype) or self.gpu.bf16_tflops) * 1e12
