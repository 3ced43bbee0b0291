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

A set is named in a ``perf:`` block (``kernels``, ``kernel_factors``; :func:`build_kernels` builds
one from the two outside a scenario, for ``fleetsim calibrate``), and a calibration file fitted with a
set other than ``trtllm`` records it (:func:`kernel_record`), so that a block running another set
can be warned (:func:`kernel_mismatch`).

    >>> KERNEL_SETS["trtllm"].elementwise_floor_s
    0.0
    >>> kernel_set("pytorch").attention_bw_fraction
    0.853
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from sim.errors import InputError


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


def build_kernels(name: str | None, factors: object, where: str = "",
                  labels: dict[str, str] | None = None) -> KernelSet:
    """The kernel set ``name`` (default ``trtllm``) with the numbers of the mapping ``factors`` in place,
    built and checked as a scenario's ``perf.kernels`` / ``perf.kernel_factors`` are
    (:func:`sim.perf.kernels_for`); :class:`~sim.errors.InputError` starting with ``where`` and naming
    the field (``labels`` renames ``kernels`` and ``kernel_factors``, e.g. as command-line flags)."""
    from pydantic import ValidationError

    from sim.perf import kernels_for
    from sim.scenario.perf import KernelFactors, RooflinePerf
    try:
        return kernels_for(RooflinePerf(kernels=name or "trtllm", kernel_factors=factors))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        field = ".".join([(labels or {}).get(loc[0], loc[0]), *loc[1:]])
        msg = {"extra_forbidden": f"unknown key; allowed: {', '.join(KernelFactors.model_fields)}",
               "model_type": "must be a mapping of kernel numbers",
               "model_attributes_type": "must be a mapping of kernel numbers"}.get(
            err["type"], err["msg"].removeprefix("Value error, "))
        got = "" if "(got" in msg else f" (got {err.get('input')!r})"
        raise InputError(f"{where}{field}: {msg}{got}") from None


def kernel_record(kernels: KernelSet | None) -> dict:
    """``{kernels: NAME, kernel_factors: {...}}`` as a calibration file records a set: its name and the
    numbers in which it differs from the named set; empty for the default ``trtllm`` set.

        >>> kernel_record(KERNEL_SETS["trtllm"]), kernel_record(KERNEL_SETS["pytorch"])
        ({}, {'kernels': 'pytorch'})
    """
    if kernels is None or kernels == KERNEL_SETS["trtllm"]:
        return {}
    named = KERNEL_SETS.get(kernels.name, KERNEL_SETS["trtllm"])
    factors = {f.name: getattr(kernels, f.name) for f in fields(KernelSet) if f.name != "name"
               and getattr(kernels, f.name) != getattr(named, f.name)}
    return {"kernels": kernels.name, **({"kernel_factors": factors} if factors else {})}


def described(kernels: KernelSet) -> str:
    """A kernel set as a ``perf:`` block names it: ``kernels: pytorch``, and the numbers that differ from
    the named set as ``kernel_factors``.

        >>> described(KERNEL_SETS["trtllm"])
        'kernels: trtllm'
    """
    given = kernel_record(kernels).get("kernel_factors", {})
    return f"kernels: {kernels.name}" + (" with kernel_factors {" + ", ".join(f"{n}: {v:.4g}" for n, v in
                                                                             given.items()) + "}" if given else "")


def kernel_mismatch(fitted: KernelSet | None, kernels: KernelSet) -> str | None:
    """Why factors fitted with the kernel set ``fitted`` (a calibration file's record) mislead a ``perf:``
    block that runs ``kernels``; ``None`` when the file records no set (a ``trtllm`` or Vidur GEMM fit, an
    older file) or the same one.

        >>> kernel_mismatch(KERNEL_SETS["pytorch"], KERNEL_SETS["pytorch"]) is None
        True
        >>> kernel_mismatch(KERNEL_SETS["pytorch"], KERNEL_SETS["trtllm"])[:60]
        'fitted with kernels: pytorch, but this perf block runs kerne'
    """
    if fitted is None or fitted == kernels:
        return None
    return (f"fitted with {described(fitted)}, but this perf block runs {described(kernels)}: the "
            f"factors were fitted net of the other set's element-wise and attention kernel times; name the "
            f"same set in the perf block, or refit with fleetsim calibrate --kernels {kernels.name}")
