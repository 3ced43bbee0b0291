"""How one replica is laid out over GPUs and nodes, and what its collectives cost.

A replica has ``tp * pp`` GPUs: ``pp`` pipeline stages of ``tp`` GPUs each. Within a stage the
attention is tensor-parallel (heads split ``tp`` ways; the default) or, with
``dp_attention``, data-parallel (each GPU runs whole heads for ``1/tp`` of the sequences, as
SGLang's ``--enable-dp-attention`` does for DeepSeek); the routed experts are tensor-parallel
(``ep = 1``: every GPU holds ``1/tp`` of every expert), expert-parallel (``ep = tp``: every GPU
holds ``n_experts / tp`` whole experts) or both (``ep`` dividing ``tp``: ``ep`` groups of
``n_experts / ep`` experts, each expert split ``tp / ep`` ways, TensorRT-LLM's ``moe_ep_size`` x
``moe_tp_size``; :mod:`sim.perf.moe` prices the busiest group). Replicas may span nodes of
``gpus_per_node`` GPUs: a collective whose group does not fit in one node runs at the inter-node
rate ``ib_gbps`` (gigabits per second per GPU; one 400 Gb/s ConnectX-7 NIC per GPU in a DGX H100,
NVIDIA DGX H100 user guide).

    >>> lay = Layout(tp=8, pp=2, gpus_per_node=8)
    >>> lay.gpus, lay.spans_nodes
    (16, True)
    >>> round(lay.link_bytes_per_s(8, 450e9) / 1e9), round(lay.link_bytes_per_s(16, 450e9) / 1e9)
    (450, 50)

**Collective costs** (seconds, per call; ``LINK_EFFICIENCY`` of the link's one-way bandwidth):

- ring all-reduce of ``B`` bytes over ``n`` GPUs: ``latency + 2*(n-1)/n * B / bw`` where ``bw`` is the
  slowest link of the ring (the NIC once the group spans nodes);
- all-to-all (MoE dispatch or combine) where each GPU sends ``B`` bytes spread evenly over ``n``
  GPUs: ``latency + max(B*(g-1)/n / nvlink, B*(n-g)/n / ib)`` with ``g = min(n, gpus_per_node)``
  peers in the node. DeepEP (github.com/deepseek-ai/DeepEP, README) measures ~153 GB/s of 160
  intra-node and 43-47 GB/s of 50 inter-node on H800 + CX7, i.e. 86-95 % of the link.
- pipeline hand-off between stages of ``B`` bytes: ``latency + B / bw`` (NIC if the replica spans nodes).

**Micro-batches** (:func:`micro_batches`). A pipelined iteration is cut into micro-batches of whole
sequences, as engines do: vLLM runs one scheduler per pipeline stage ("virtual engine", one
``Scheduler`` per ``pipeline_parallel_size`` in ``vllm/engine/llm_engine.py``), each scheduling whole
sequences, and SGLang's pipeline event loop keeps ``pp_size`` running micro-batches, each a batch of
whole requests (``SchedulerPPMixin.event_loop_pp``, ``python/sglang/srt/managers/``; github.com/vllm-project/vllm,
github.com/sgl-project/sglang), so a prompt goes through the stages as one micro-batch however long it is. An iteration
of ``P`` prompts and ``D`` decodes has ``m = min(micro_batches, P + D)`` micro-batches; the sequences
are dealt round-robin, prompts first, so micro-batch sizes differ by at most one sequence and the
prompts spread evenly (equal prompts and equal contexts assumed: only aggregates are known).

    >>> from sim.perf.base import BatchShape
    >>> [(n, b.prefill_seqs, b.decode_seqs) for n, b in micro_batches(BatchShape(
    ...     prefill_tokens=2048, prefill_seqs=1, prefill_kv_tokens=2048, decode_seqs=8, decode_context_tokens=8000), 2)]
    [(1, 1, 4), (1, 0, 4)]
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.perf.base import BatchShape

COLLECTIVE_LATENCY_S = 10e-6
"""Fixed cost of one collective call; Vidur's NCCL profiles (github.com/microsoft/vidur,
data/profiling/network/h100_dgx/all_reduce.csv) show 7-40 us for small messages on DGX H100/A100."""

LINK_EFFICIENCY = 0.8
"""Fraction of the one-way link bandwidth a ring all-reduce reaches: Vidur's DGX H100 profile gives a
bus bandwidth of ~364 GB/s for 64 MiB over 8 GPUs against 450 GB/s one-way NVLink4."""

DEFAULT_IB_GBPS = 400.0
"""Inter-node bandwidth per GPU, gigabits/s: one 400 Gb/s InfiniBand NIC per GPU (DGX H100/B200)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Parallelism of one replica (see module docstring)."""

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp_attention: bool = False
    gpus_per_node: int = 8
    ib_gbps: float = DEFAULT_IB_GBPS
    micro_batches: int = 0

    @property
    def gpus(self) -> int:
        """GPUs per replica, ``tp * pp``."""
        return self.tp * self.pp

    @property
    def spans_nodes(self) -> bool:
        return self.gpus > self.gpus_per_node

    @property
    def n_micro_batches(self) -> int:
        """Micro-batches a pipelined iteration is split into (default ``pp``)."""
        return self.micro_batches or self.pp

    @property
    def ib_bytes_per_s(self) -> float:
        return self.ib_gbps * 1e9 / 8

    def link_bytes_per_s(self, group: int, nvlink_bytes_per_s: float) -> float:
        """One-way bandwidth of the slowest link a ring over ``group`` GPUs crosses (before efficiency)."""
        return nvlink_bytes_per_s if group <= self.gpus_per_node else min(nvlink_bytes_per_s, self.ib_bytes_per_s)

    def all_to_all_s_per_byte(self, group: int, nvlink_bytes_per_s: float) -> float:
        """Seconds per byte a GPU sends in an all-to-all over ``group`` GPUs (latency excluded)."""
        if group <= 1:
            return 0.0
        g = min(group, self.gpus_per_node)
        intra = (g - 1) / group / (nvlink_bytes_per_s * LINK_EFFICIENCY)
        inter = (group - g) / group / (self.ib_bytes_per_s * LINK_EFFICIENCY)
        return max(intra, inter)

    def stage_handoff_s_per_byte(self, nvlink_bytes_per_s: float) -> float:
        """Seconds per byte handed from one pipeline stage to the next."""
        return 1.0 / (self.link_bytes_per_s(self.gpus, nvlink_bytes_per_s) * LINK_EFFICIENCY)


def check_layout(n_heads: int, n_kv_heads: int, n_experts: int, is_mla: bool, lay: Layout,
                 n_layers: int) -> list[tuple[str, str]]:
    """``(field, message)`` problems of a layout for a model (field names as in a pool)."""
    out: list[tuple[str, str]] = []
    tp = lay.tp
    if not lay.dp_attention:
        ok_kv = is_mla or n_kv_heads % tp == 0 or tp % n_kv_heads == 0
        if n_heads % tp or not ok_kv:
            allowed = [t for t in range(1, n_heads + 1) if n_heads % t == 0
                       and (is_mla or n_kv_heads % t == 0 or t % n_kv_heads == 0)]
            out.append(("tensor_parallel", f"must divide n_heads={n_heads} (and n_kv_heads={n_kv_heads} must "
                                           f"divide it or be divisible by it): {', '.join(map(str, allowed))} "
                                           f"(got {tp}); or set data_parallel_attention: true"))
    if lay.ep != 1:
        if n_experts <= 1:
            out.append(("expert_parallel", "applies only to mixture-of-experts models (this one is dense)"))
        elif tp % lay.ep or n_experts % lay.ep:
            allowed = [e for e in range(1, tp + 1) if tp % e == 0 and n_experts % e == 0]
            out.append(("expert_parallel", f"must divide tensor_parallel={tp} and n_experts={n_experts} "
                                           f"(1: experts split tensor-parallel; tensor_parallel: whole experts "
                                           f"per GPU): {', '.join(map(str, allowed))} (got {lay.ep})"))
    if lay.pp > n_layers:
        out.append(("pipeline_parallel", f"must be <= n_layers={n_layers} (got {lay.pp})"))
    return out


def micro_batch_sizes(prompts: int, decodes: int, most: int) -> list[tuple[int, int, int]]:
    """``(count, prompts, decodes)`` of the runs of equal micro-batches an iteration of ``prompts``
    prompts and ``decodes`` decodes is cut into with at most ``most`` micro-batches (module docstring):
    the counts add up to ``m = min(most, prompts + decodes)`` (at least 1); three runs at most."""
    p, s = prompts, prompts + decodes
    m = max(1, min(most, s))
    # micro-batch i holds sequences j = i, i + m, ...; prompts are j < p: below index p % m (resp.
    # s % m) a micro-batch holds one prompt (resp. sequence) more
    a, b = (p % m, s % m) if p % m <= s % m else (s % m, p % m)
    out: list[tuple[int, int, int]] = []
    for lo, hi in ((0, a), (a, b), (b, m)):
        if lo < hi:
            k_p = p // m + (lo < p % m)
            out.append((hi - lo, k_p, s // m + (lo < s % m) - k_p))
    return out


def micro_batches(shape: BatchShape, most: int) -> list[tuple[int, BatchShape]]:
    """``(count, micro-batch)`` pairs an iteration of ``shape`` is cut into (:func:`micro_batch_sizes`;
    one micro-batch is ``shape`` itself). Each micro-batch takes its prompts' share of the prefill
    aggregates and its decodes' share of the context (equal prompts and contexts assumed). A shape
    with prompt tokens but ``prefill_seqs = 0`` counts as one prompt."""
    tokens, seqs, pairs, kv, d, ctx = shape
    p = seqs or (1 if tokens > 0 else 0)
    sizes = micro_batch_sizes(p, d, most)
    if sizes[0][0] == 1 and len(sizes) == 1:
        return [(1, shape)]
    out: list[tuple[int, BatchShape]] = []
    for count, k_p, k_d in sizes:
        fp, fd = k_p / (p or 1), k_d / (d or 1)
        out.append((count, BatchShape(tokens * fp, k_p if seqs else 0, pairs * fp, kv * fp, k_d, ctx * fd)))
    return out
