"""The ``perf:`` scenario block: which step-time model prices a batch iteration.

A discriminated union on ``model``::

    perf: {model: roofline}                                  # default; weight_dtype/kv_dtype bf16
    perf: {model: roofline, weight_dtype: fp8, calibration: calib/h100.yaml}
    perf: {model: linear, base_s: 0.01, per_decode_token_s: 0.0002}
    perf: {model: table, path: profiles/h100_llama2_7b.csv}  # roofline outside the grid

It may appear at the top level and, as an override, on a pool. Relative paths are resolved
against the scenario file's folder by :func:`sim.perf.build_step_model`.

    >>> parse_perf({"model": "linear", "base_s": 0.01}).base_s
    0.01
    >>> parse_perf(None).model
    'roofline'
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, TypeAdapter, field_validator, model_validator

from sim.scenario.types import Duration, Strict, Switch, field_error


def _nonneg(v: float | None) -> float | None:
    if v is not None and (not math.isfinite(v) or v < 0):
        raise ValueError(f"must be a finite number >= 0 (got {v!r})")
    return v


def _fraction(v: float | None) -> float | None:
    if v is not None and not (0 < v <= 1):
        raise ValueError(f"must be a fraction in (0, 1] (got {v!r})")
    return v


FLOOR_WARN_S = 1e-3
"""A kernel floor above this many seconds per layer is probably a unit slip (microseconds written as
seconds): Vidur's A100 profiles of Llama-2-7B measure floors of 13-149 us per layer
(github.com/microsoft/vidur; :mod:`sim.perf.kernels`)."""


class KernelFactors(Strict):
    """Numbers of a kernel set that replace the named set's (``perf.kernel_factors``; each optional).

    Floors are seconds per layer and iteration (``moe_routing_s`` and ``moe_finalize_s`` per MoE layer,
    ``fp8_linear_floor_s`` per block-fp8 linear GEMM);
    fractions are of the GPU's peak FLOP/s or HBM bandwidth, in (0, 1]. ``fleetsim calibrate --vidur-mlp ... --vidur-attention ...`` measures them
    from Vidur-style profiles of your stack (:mod:`sim.perf.kernels` for what each one prices).
    """

    elementwise_floor_s: Duration | None = None
    elementwise_bw_fraction: float | None = None
    attention_flops_fraction: float | None = None
    attention_bw_fraction: float | None = None
    prefill_attention_floor_s: Duration | None = None
    decode_attention_floor_s: Duration | None = None
    moe_routing_s: Duration | None = None
    moe_finalize_s: Duration | None = None
    fp8_linear_floor_s: Duration | None = None
    fp8_gemm_flops_fraction: float | None = None

    _n = field_validator("elementwise_floor_s", "prefill_attention_floor_s", "decode_attention_floor_s",
                         "moe_routing_s", "moe_finalize_s", "fp8_linear_floor_s")(_nonneg)
    _f = field_validator("elementwise_bw_fraction", "attention_flops_fraction", "attention_bw_fraction",
                         "fp8_gemm_flops_fraction")(_fraction)


class RooflinePerf(Strict):
    """Analytic roofline: FLOPs and HBM bytes per iteration, calibrated efficiency, TP all-reduce.

    ``weight_dtype`` selects the tensor-core peak and bytes per weight; ``kv_dtype`` the bytes per
    KV-cache element. ``calibration`` is a YAML file written by ``fleetsim calibrate``; the three
    explicit factors override both it and the GPU catalog. ``overhead_s`` is the fixed CPU time of an
    iteration; ``cpu_per_seq_s`` and ``cpu_per_token_s`` add time per sampling sequence and per token,
    ``cpu_per_stream_token_s`` per token streamed to a client, counted only when ``streaming`` is true
    (the default; false for an offline run whose requests return once, complete)
    (:mod:`sim.perf.overhead`, with the published measurements it cites). ``overlap_exponent`` (>= 1; default the
    GPU catalog's) shapes the smooth GEMM roofline, ``(t_flops**p + t_bytes**p)**(1/p)``.
    ``attention_kv_sharing``: ``grouped`` (default, modern kernels: a grouped-query model's KV heads
    are read once per query group) or ``per_query_head`` (a generation kernel that reads the KV cache
    once per query head, as TensorRT-LLM v0.5 did; see docs/performance_model.md).
    ``expert_dtype`` is the routed experts' weight precision (default: the model's published one when
    it has its own, e.g. gpt-oss's MXFP4 = fp4, else ``weight_dtype``); the experts' GEMMs still run
    at the ``weight_dtype`` peak (weight-only quantization dequantizes on load).
    ``moe_decode_efficiency`` (default none) is a measured MoE decode level (:data:`sim.perf.levels.MOE_DECODE_LEVELS`):
    each decoding sequence adds its token's active-parameter FLOPs at that fraction of the GEMM rate
    (docs/performance_model.md, "The MoE decode level").
    ``kernels`` selects the serving stack's kernel set (:mod:`sim.perf.kernels`): ``trtllm`` (default:
    fused kernels, no per-kernel floors, attention FLOPs at the GPU catalog's attention kernel
    efficiencies; the calibrated, validated model), ``pytorch`` (one PyTorch operator per kernel and vLLM-class attention, with the kernel
    floors and attention efficiencies measured in Vidur's profiles), ``vllm`` (``trtllm`` plus the MoE
    routing kernels of a traced vLLM DeepSeek decode step), or ``sglang-0.4`` / ``vllm-0.7`` (``trtllm`` /
    ``vllm`` with the block-fp8 linear GEMMs at the measured rate of the CUTLASS block-fp8 kernel those early-2025
    releases ran, and ``sglang-0.4`` with SGLang 0.4.3's absorbed MLA for prompt batches holding a cached
    prefix); ``kernel_factors`` replaces any of that set's numbers (:class:`KernelFactors`).
    """

    model: Literal["roofline"] = "roofline"
    weight_dtype: Literal["bf16", "fp8", "fp4"] = "bf16"
    kv_dtype: Literal["bf16", "fp8"] = "bf16"
    calibration: str | None = None
    flops_efficiency: float | None = None
    bw_efficiency: float | None = None
    overhead_s: Duration | None = None
    overlap_exponent: float | None = None
    attention_kv_sharing: Literal["grouped", "per_query_head"] = "grouped"
    kernels: Literal["trtllm", "pytorch", "vllm", "sglang-0.4", "vllm-0.7"] = Field("trtllm", description=(
        "kernel set (sim.perf.kernels): trtllm = fused kernels, the calibrated default; pytorch = one PyTorch "
        "operator per kernel with vLLM-class attention, as Vidur measured them (kernel floors, own attention "
        "efficiencies); vllm = trtllm plus vLLM's MoE routing kernels per MoE layer, as traced on H200; "
        "sglang-0.4, vllm-0.7 = trtllm, vllm with the block-fp8 linear GEMMs at the measured rate of early-2025 "
        "releases' CUTLASS block-fp8 kernel (sglang-0.4: and SGLang 0.4.3's absorbed MLA for prompt chunks)"))
    kernel_factors: KernelFactors | None = None
    expert_dtype: Literal["bf16", "fp8", "fp4"] | None = None
    cpu_per_seq_s: float = Field(0.0, description="CPU seconds per iteration per sequence that samples "
                                                  "(scheduling, detokenization, streaming); default 0")
    cpu_per_token_s: float = Field(0.0, description="CPU seconds per iteration per token processed "
                                                    "(input preparation); default 0")
    cpu_per_stream_token_s: float = Field(0.0, description="CPU seconds per token returned to a streaming client "
                                                           "(detokenization, response, serialization); default 0")
    moe_decode_efficiency: float | None = Field(None, description=(
        "MoE decode level (sim.perf.levels.MOE_DECODE_LEVELS; opt-in, default none): every decoding sequence adds "
        "its token's active-parameter FLOPs at this fraction of the GEMM rate, on the busiest data-parallel "
        "attention rank; a fraction in (0, 1]"))
    streaming: Switch = Field(True, description="clients receive each token as it is generated (counts "
                                              "cpu_per_stream_token_s); false for offline runs")

    _f = field_validator("flops_efficiency", "bw_efficiency", "moe_decode_efficiency")(_fraction)
    _o = field_validator("overhead_s", "cpu_per_seq_s", "cpu_per_token_s", "cpu_per_stream_token_s")(_nonneg)

    @field_validator("overlap_exponent")
    @classmethod
    def _p(cls, v: float | None) -> float | None:
        if v is not None and not v >= 1:
            raise ValueError(f"must be a number >= 1 (1 = FLOPs and memory time add, .inf = max) (got {v!r})")
        return v


class LinearPerf(Strict):
    """Step time linear in the batch's aggregates (seconds).

    ``step = base_s + per_prefill_token_s * prefill_tokens + per_decode_token_s * decode_seqs
    + per_context_token_s * (decode_context_tokens + prefill_kv_tokens - prefill_tokens)``;
    an empty batch takes 0 s. At least one coefficient is above 0.
    """

    model: Literal["linear"]
    base_s: Duration = 0.0
    per_prefill_token_s: float = 0.0
    per_decode_token_s: float = 0.0
    per_context_token_s: float = 0.0

    _n = field_validator("base_s", "per_prefill_token_s", "per_decode_token_s", "per_context_token_s")(_nonneg)

    @model_validator(mode="after")
    def _takes_time(self) -> "LinearPerf":
        # all four 0: every iteration takes 0 s, and the run reported latencies of 0 with a GPU busy 0 % of the
        # time yet doing work (its MFU and MBU above 0)
        if not (self.base_s or self.per_prefill_token_s or self.per_decode_token_s or self.per_context_token_s):
            raise field_error("base_s", "every coefficient of the linear model is 0, so every iteration would take "
                                        "0 s (a GPU that serves any load at no latency); give base_s or a per-token "
                                        "time such as per_decode_token_s")
        return self


class TablePerf(Strict):
    """Measured step times on a grid (CSV: prefill_tokens, decode_seqs, context_tokens, step_s).

    Interpolated inside the grid; outside it the roofline (settings in ``roofline``) is used,
    with one warning per model instance.
    """

    model: Literal["table"]
    path: str
    fallback: Literal["roofline"] = "roofline"
    roofline: RooflinePerf = Field(default_factory=RooflinePerf)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must be a path to a CSV file (got an empty string)")
        return v


def kernel_floor_warnings(perf: Any, where: str) -> list[tuple[str, str]]:
    """``(field, message)`` for each kernel floor of a ``perf`` block (at ``where``; a table's fallback
    roofline included) above :data:`FLOOR_WARN_S`: legal, but probably microseconds written as seconds.

        >>> kernel_floor_warnings(parse_perf({"kernel_factors": {"decode_attention_floor_s": 13}}), "perf")[0][0]
        'perf.kernel_factors.decode_attention_floor_s'
    """
    if isinstance(perf, TablePerf):
        return kernel_floor_warnings(perf.roofline, f"{where}.roofline")
    factors = getattr(perf, "kernel_factors", None)
    out = []
    for name in ("elementwise_floor_s", "prefill_attention_floor_s", "decode_attention_floor_s", "moe_routing_s",
                 "moe_finalize_s", "fp8_linear_floor_s"):
        v = getattr(factors, name, None)
        if v is not None and v > FLOOR_WARN_S:
            hint = f", e.g. {v:g}e-6 or '{v / 1e3:g}ms' for {v:g} us" if v < 1e6 else ""
            out.append((f"{where}.kernel_factors.{name}",
                        f"{v:g} s per layer and iteration is more than {FLOOR_WARN_S * 1e3:g} ms (Vidur measured "
                        f"13-149 us per layer on an A100); floors are seconds{hint}"))
    return out


def _roofline_unless_said(data: Any) -> Any:
    """A ``perf:`` mapping without ``model``: the roofline (as no ``perf:`` block at all is) when no key
    of it belongs to another kind only; a key of ``linear`` or ``table`` asks for the kind by name.

    A key of no kind (a misspelling) is then named as an unknown key of the roofline, with its keys.

        >>> _roofline_unless_said({"overhead_s": 0.002})
        {'overhead_s': 0.002, 'model': 'roofline'}
    """
    if not isinstance(data, dict) or "model" in data:
        return data
    roofline = set(RooflinePerf.model_fields)
    others = {kind: sorted(str(k) for k in data if k in cls.model_fields and k not in roofline)
              for kind, cls in (("linear", LinearPerf), ("table", TablePerf))}
    kinds = [kind for kind, keys in others.items() if keys]
    if not kinds:
        return {**data, "model": "roofline"}
    whose = ", ".join(f"{', '.join(others[kind])} {'is a key' if len(others[kind]) == 1 else 'are keys'} of {kind}"
                      for kind in kinds)
    raise ValueError(f"missing key 'model', which says which kind this is: {whose}, not of the roofline (what a "
                     f"block without model is); write {' or '.join(f'model: {kind}' for kind in kinds)}")


PerfConfig = Annotated[Union[RooflinePerf, LinearPerf, TablePerf], Field(discriminator="model"),
                       BeforeValidator(_roofline_unless_said)]
"""The ``perf:`` block: one of :class:`RooflinePerf`, :class:`LinearPerf`, :class:`TablePerf`; without
``model``, the roofline when every key given is one of its keys (``perf: {overhead_s: 0.002}``)."""

_ADAPTER: TypeAdapter = TypeAdapter(PerfConfig)


def parse_perf(data: Any) -> RooflinePerf | LinearPerf | TablePerf:
    """Validate a ``perf:`` mapping (``None`` -> the default roofline)."""
    if data is None:
        return RooflinePerf()
    if isinstance(data, (RooflinePerf, LinearPerf, TablePerf)):
        return data
    return _ADAPTER.validate_python(data)
