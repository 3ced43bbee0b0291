"""Kernel sets: what a serving stack's kernels cost beyond the GEMM roofline.

The roofline prices the GEMMs with the GPU catalog's calibrated factors. The other kernels of a
layer behave differently in different serving stacks, and a :class:`KernelSet` says how, per layer
and iteration:

- **element-wise kernels** (norms, residual add, rotary embedding, gated activation) take
  ``max(elementwise_floor_s, bytes / (hbm_bw * elementwise_bw_fraction))``: a kernel has a minimum
  duration (launch, ramp-up of a grid too small to fill the GPU), and large ones stream their bytes
  at a fraction of peak bandwidth;
- **attention** takes ``max(FLOPs / (peak * attention_flops_fraction), KV bytes / (hbm_bw *
  attention_bw_fraction))``, plus ``prefill_attention_floor_s`` in an iteration with prompt tokens and
  ``decode_attention_floor_s`` in one with decoding sequences (one kernel call per phase).

A fraction left ``None`` is the GEMMs' calibrated factor (``flops_efficiency``, ``bw_efficiency``).

Two sets, selected by ``perf.kernels`` (docs/performance_model.md, "Kernel sets"):

``trtllm`` (default)
    TensorRT-LLM-class fused kernels: no floors, attention and element-wise traffic at the GEMMs'
    factors. It is the model the catalog is calibrated and validated with (TensorRT-LLM and MLPerf
    rows, docs/validation.md); TensorRT-LLM fuses the element-wise work into its GEMM and attention
    kernels and replays the step as a CUDA graph, so no per-kernel floor is resolved by those rows.
``pytorch``
    One PyTorch operator per kernel, with vLLM-class attention kernels, as the Vidur project profiled
    Llama-2-7B on an A100 (Sarathi-Serve's layers with vLLM-derived norm, rotary and activation
    kernels, timed one operator at a time; github.com/microsoft/vidur, commit 7d47513, MIT licence:
    ``data/profiling/compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv`` and a 109-row sample of its
    attention profile). The numbers are :func:`sim.perf.vidur.fit_kernel_set` on those files, rounded:
    the five element-wise operators take 28 µs per layer at one token and stream at 52 % of peak HBM
    bandwidth when large (least squares on log error over the 259 token counts 1-4,096); decode
    attention has a 13 µs per-layer floor and reads the KV cache at 85 % of peak bandwidth, prefill
    attention a 0.149 ms floor and 28.5 % of peak FLOPs (least squares on relative error over the
    sample's 68 decode and 41 prefill rows). Applied to every GPU; on Vidur's H100 profile (not used
    in the fit) the element-wise times are 12 % high in the median (H100's own fit: 23 µs, 57 %).

    >>> KERNEL_SETS["trtllm"].elementwise_floor_s
    0.0
    >>> kernel_set("pytorch").attention_bw_fraction
    0.853
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KernelSet:
    """Per-kernel characteristics of one serving stack (seconds per layer per iteration; fractions of
    the GPU's peak FLOP/s or HBM bandwidth, ``None`` = the GEMMs' calibrated factor)."""

    name: str
    elementwise_floor_s: float = 0.0
    elementwise_bw_fraction: float | None = None
    attention_flops_fraction: float | None = None
    attention_bw_fraction: float | None = None
    prefill_attention_floor_s: float = 0.0
    decode_attention_floor_s: float = 0.0


KERNEL_SETS: dict[str, KernelSet] = {
    "trtllm": KernelSet("trtllm"),
    "pytorch": KernelSet("pytorch", elementwise_floor_s=27.6e-6, elementwise_bw_fraction=0.524,
                         attention_flops_fraction=0.285, attention_bw_fraction=0.853,
                         prefill_attention_floor_s=148.6e-6, decode_attention_floor_s=13.1e-6),
}
"""The kernel sets ``perf.kernels`` names (see module docstring for the sources of each number)."""


def kernel_set(name: str) -> KernelSet:
    """The kernel set called ``name``; ``ValueError`` naming the allowed ones otherwise."""
    try:
        return KERNEL_SETS[name]
    except KeyError:
        raise ValueError(f"unknown kernel set {name!r}; allowed: {', '.join(KERNEL_SETS)}") from None
