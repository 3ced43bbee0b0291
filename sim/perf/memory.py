"""Memory plan of one replica: weights, activation reserve, and what is left for the KV cache.

Mirrors how vLLM sizes its paged KV cache: each of the ``tp`` GPUs may use
``gpu_memory_utilization`` of its HBM; from that come its shard of the weights and an activation
reserve; the rest is cut into blocks of ``block_size`` tokens. For the whole replica::

    kv_capacity_bytes = hbm_bytes * gpu_memory_utilization * tp - weights_bytes - activation_reserve_bytes
    kv_blocks = floor(kv_capacity_bytes / (kv_bytes_per_token * block_size))

**Activation reserve** (per GPU, documented estimate of what vLLM's profiling run finds):
``1 GiB`` for the CUDA context, NCCL buffers and CUDA graphs, plus the peak activations of one
forward pass over ``max_batched_tokens`` tokens at 2 bytes per element: the residual stream,
normalised input, attention output and QKV (``4 * hidden``) and the gated MLP's up/gate
intermediate (``2 * ffn_hidden * experts_per_token / tp``).

**KV bytes per token** (whole replica): ``2 (K and V) * n_layers * kv_heads * head_dim *
bytes(kv_dtype)``, where ``kv_heads = max(n_kv_heads, tp)``: when TP exceeds the number of KV
heads each GPU keeps a copy of one head (as vLLM does). Llama-2-7B in bf16:
``2 * 32 * 32 * 128 * 2 = 524,288`` bytes = 512 KiB per token.

    >>> from sim.scenario.catalog import get_gpu, get_model
    >>> memory_plan(get_model("llama-2-7b"), get_gpu("h100-sxm"), tp=1).kv_bytes_per_token
    524288
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sim.scenario.catalog import GPUSpec, ModelSpec

BYTES_PER_ELEMENT = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp4": 0.5}
"""Bytes per weight or KV element; fp4 ignores the (small) block-scale overhead."""

RUNTIME_RESERVE_BYTES = 2**30
"""Per-GPU memory taken by the CUDA context, NCCL buffers and CUDA graphs (1 GiB)."""


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    """How one replica's HBM is split (bytes; ``kv_*`` are for the whole replica)."""

    weights_bytes_per_gpu: float
    kv_bytes_per_token: int
    activation_reserve_bytes: float
    kv_capacity_bytes: float
    kv_blocks: int
    kv_tokens: int
    block_size: int
    fits: bool
    reason: str


def check_parallelism(model: ModelSpec, tp: int) -> str | None:
    """``None`` if tensor-parallel size ``tp`` can shard ``model``, else what is allowed.

    TP must divide the attention heads, and either divide the KV heads or be a multiple of them.
    """
    allowed = [t for t in range(1, model.n_heads + 1)
               if model.n_heads % t == 0 and (model.n_kv_heads % t == 0 or t % model.n_kv_heads == 0)]
    if isinstance(tp, bool) or not isinstance(tp, int) or tp not in allowed:
        return (f"tensor_parallel must divide n_heads={model.n_heads} (and n_kv_heads={model.n_kv_heads} "
                f"must divide it or be divisible by it): {', '.join(map(str, allowed))} (got {tp!r})")
    return None


def kv_bytes_per_token(model: ModelSpec, tp: int = 1, kv_dtype: str = "bf16") -> int:
    """KV-cache bytes one token occupies across the whole replica (see module docstring)."""
    kv_heads = max(model.n_kv_heads, tp)
    return int(2 * model.n_layers * kv_heads * model.head_dim * BYTES_PER_ELEMENT[kv_dtype])


def activation_reserve_bytes_per_gpu(model: ModelSpec, tp: int, max_batched_tokens: int = 8192) -> float:
    """Per-GPU activation and runtime reserve in bytes (see module docstring)."""
    per_token = 4 * model.hidden + 2 * model.ffn_hidden * model.experts_per_token / tp
    return RUNTIME_RESERVE_BYTES + max_batched_tokens * per_token * 2.0


def memory_plan(model: ModelSpec, gpu: GPUSpec, tp: int, gpu_memory_utilization: float = 0.9,
                weight_dtype: str = "bf16", kv_dtype: str = "bf16", block_size: int = 16,
                max_batched_tokens: int = 8192) -> MemoryPlan:
    """Weights, activation reserve and KV-cache blocks of one replica of ``tp`` GPUs.

    MoE models must hold every expert's weights (``n_params``), not only the active ones.
    ``fits`` is False when the weights and reserve leave no room for a single KV block; ``reason``
    says why, or how many tokens (and ``max_context`` sequences) the cache holds.
    """
    problem = check_parallelism(model, tp)
    if problem:
        raise ValueError(problem)
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1] (got {gpu_memory_utilization})")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1 (got {block_size})")
    weights_per_gpu = model.n_params * BYTES_PER_ELEMENT[weight_dtype] / tp
    reserve_per_gpu = activation_reserve_bytes_per_gpu(model, tp, max_batched_tokens)
    usable_per_gpu = gpu.hbm_bytes * gpu_memory_utilization
    capacity = (usable_per_gpu - weights_per_gpu - reserve_per_gpu) * tp
    kv_tok = kv_bytes_per_token(model, tp, kv_dtype)
    blocks = max(0, math.floor(capacity / (kv_tok * block_size))) if capacity > 0 else 0
    tokens = blocks * block_size
    gib = 2**30
    if blocks == 0:
        reason = (f"{model.name} does not fit on {tp}x {gpu.name}: weights {weights_per_gpu / gib:.1f} GiB + "
                  f"reserve {reserve_per_gpu / gib:.1f} GiB per GPU exceed "
                  f"{gpu_memory_utilization:g} x {gpu.hbm_bytes / gib:.0f} GiB = {usable_per_gpu / gib:.1f} GiB; "
                  f"use a larger tensor_parallel, a smaller weight_dtype or a GPU with more memory")
    else:
        reason = (f"KV cache holds {tokens:,} tokens ({blocks:,} blocks of {block_size}), "
                  f"{tokens / model.max_context:.1f} sequences of max_context={model.max_context}")
        if tokens < model.max_context:
            reason += "; a single sequence of max_context does not fit"
    return MemoryPlan(weights_bytes_per_gpu=weights_per_gpu, kv_bytes_per_token=kv_tok,
                      activation_reserve_bytes=reserve_per_gpu * tp, kv_capacity_bytes=max(capacity, 0.0),
                      kv_blocks=blocks, kv_tokens=tokens, block_size=block_size, fits=blocks > 0,
                      reason=reason)
