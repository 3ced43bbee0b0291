"""The GPU catalog, read from ``data/gpus.yaml``, and inline datasheets (``like:``).

A :class:`GPUSpec` holds datasheet numbers (dense TFLOPS per precision, HBM size and bandwidth,
one-way scale-up link bandwidth) plus the calibrated efficiency factors the roofline step-time
model needs.

    >>> get_gpu("h100-sxm").hbm_tbps
    3.35

Units: TFLOPS = 1e12 FLOP/s; ``hbm_gb`` = HBM capacity as the vendor quotes it, which is binary
(an "80 GB" H100 reports 81,559 MiB to the driver), so bytes = ``hbm_gb * 2**30``; ``hbm_tbps`` = 1e12 bytes/s;
``interconnect_gbps`` = 1e9 **bytes**/s **per direction** per GPU (vendors quote NVLink
bidirectional: H100's "900 GB/s" is stored as 450).

``reported_memory_gib`` is the total the CUDA (ROCm) runtime reports for the part,
``torch.cuda.mem_get_info()``'s second value, in GiB: less than the datasheet's (79.19 GiB on an "80 GB" H100),
and what vLLM V1 and SGLang share out (their memory rules in :mod:`sim.perf.memory_rules`); ``None`` where no
published log a reader can find gives it (``data/gpus.yaml`` says which parts, and why), and then the rules take the
datasheet figure (:func:`sim.perf.memory_rules.memory_gib`; :attr:`GPUSpec.engine_memory_gib` says the same).

    >>> g = get_gpu("h100-sxm"); (g.hbm_gb, g.reported_memory_gib, g.engine_memory_gib)
    (80, 79.19, 79.19)
    >>> get_gpu("h20").engine_memory_gib
    96
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sim.errors import ScenarioError, given
from sim.scenario.catalog_fields import finite, number_words, read_data, shown, text_problems

PRECISIONS = ("bf16", "fp8", "fp4")


@dataclass(frozen=True, slots=True)
class Efficiency:
    """Fraction of peak FLOP/s and HBM bandwidth reached, and fixed seconds per iteration."""

    flops_efficiency: float
    bw_efficiency: float
    overhead_s: float


@dataclass(frozen=True, slots=True)
class GPUSpec:
    """One GPU's datasheet numbers and calibrated efficiency factors (see module docstring for units).

    ``flops_efficiency``, ``bw_efficiency`` and ``overhead_s`` are the bf16 calibration;
    ``precision_factors`` holds ``(precision, flops_eff, bw_eff, overhead_s)`` for other weight
    precisions. Use :meth:`efficiency` rather than reading them directly.
    ``overlap_exponent`` is the exponent ``p`` of the smooth roofline of this GPU family's GEMMs,
    ``t = (t_flops**p + t_bytes**p)**(1/p)``: ``inf`` is the hard ``max`` (perfect overlap of
    compute and memory traffic), 1 their sum (no overlap); see :mod:`sim.perf.roofline`.
    ``attention_prefill_efficiency`` and ``attention_decode_efficiency`` are the fractions of the attention
    precision's peak that published attention kernels reach on this GPU (prompt attention, decode attention),
    whatever the weights' precision; ``None`` where no rate is published (:meth:`attention_efficiency`).
    """

    name: str
    display_name: str
    bf16_tflops: float
    fp8_tflops: float | None
    fp4_tflops: float | None
    hbm_gb: float
    hbm_tbps: float
    interconnect_gbps: float
    tdp_w: float
    flops_efficiency: float
    bw_efficiency: float
    overhead_s: float
    sources: tuple[str, ...] = ()
    precision_factors: tuple[tuple[str, float, float, float], ...] = ()
    overlap_exponent: float = math.inf
    gpus_per_node: int = 8
    attention_prefill_efficiency: float | None = None
    attention_decode_efficiency: float | None = None
    reported_memory_gib: float | None = None

    def peak_tflops(self, precision: str) -> float:
        """Dense peak TFLOPS for ``precision`` (bf16, fp8, fp4); ``ValueError`` if unsupported."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
        value = getattr(self, f"{precision}_tflops")
        if value is None:
            supported = [p for p in PRECISIONS if getattr(self, f"{p}_tflops") is not None]
            raise ValueError(f"{self.name} has no {precision} tensor cores; supported: {', '.join(supported)}")
        return float(value)

    def efficiency(self, precision: str = "bf16") -> Efficiency:
        """Calibrated efficiency factors for weights in ``precision`` (falls back to bf16's)."""
        for p, fe, be, oh in self.precision_factors:
            if p == precision:
                return Efficiency(fe, be, oh)
        return Efficiency(self.flops_efficiency, self.bw_efficiency, self.overhead_s)

    def attention_efficiency(self, phase: str, weights: Efficiency) -> float:
        """Fraction of the attention precision's peak the attention kernels of ``phase`` (``prefill`` or
        ``decode``) reach: the catalog's published-kernel figure, or where this GPU has none the GEMMs' factor
        ``weights`` (the weights' calibration, the model before attention had its own)."""
        value = self.attention_prefill_efficiency if phase == "prefill" else self.attention_decode_efficiency
        return weights.flops_efficiency if value is None else float(value)

    @property
    def hbm_bytes(self) -> float:
        """HBM capacity in bytes (vendor "GB" of HBM are GiB)."""
        return self.hbm_gb * 2**30

    @property
    def engine_memory_gib(self) -> float:
        """The memory the CUDA runtime reports in GiB (:attr:`reported_memory_gib`), the datasheet's
        ``hbm_gb`` where it is not known."""
        return self.hbm_gb if self.reported_memory_gib is None else self.reported_memory_gib

    @property
    def hbm_bytes_per_s(self) -> float:
        return self.hbm_tbps * 1e12

    @property
    def link_bytes_per_s(self) -> float:
        """One-way scale-up link bandwidth in bytes/s."""
        return self.interconnect_gbps * 1e9


@functools.cache
def _gpus() -> dict[str, GPUSpec]:
    out = {}
    for name, d in read_data("gpus.yaml").items():
        d = dict(d)
        prec = d.pop("precision", None) or {}
        factors = tuple((p, float(v["flops_efficiency"]), float(v["bw_efficiency"]), float(v["overhead_s"]))
                        for p, v in prec.items())
        d["sources"] = tuple(d.get("sources", ()))
        p = float(d.pop("overlap_exponent", math.inf))
        if not p >= 1:
            raise ValueError(f"gpus.yaml: {name}.overlap_exponent: must be >= 1 (got {p!r})")
        out[name] = GPUSpec(name=name, precision_factors=factors, overlap_exponent=p, **d)
    return out


def gpu_names() -> list[str]:
    """Catalog GPU names, sorted."""
    return sorted(_gpus())


_GPU_NUMBERS = ("bf16_tflops", "fp8_tflops", "fp4_tflops", "hbm_gb", "hbm_tbps", "interconnect_gbps", "tdp_w",
                "flops_efficiency", "bw_efficiency", "overhead_s", "overlap_exponent", "attention_prefill_efficiency",
                "attention_decode_efficiency", "reported_memory_gib")
_GPU_ALIASES = {"hbm_bandwidth_tbps": "hbm_tbps"}
_GPU_ALLOWED = set(_GPU_NUMBERS) | set(_GPU_ALIASES) | {"name", "like", "gpus_per_node", "display_name"}


def get_gpu(name: str | Mapping[str, Any]) -> GPUSpec:
    """The catalog GPU called ``name``, or an inline datasheet mapping.

    An inline GPU takes every field it does not give from the catalog GPU named by ``like``
    (default ``h100-sxm``), including the calibrated efficiency factors, which are a stack's and a
    GPU family's rather than one part's. Numbers: ``bf16_tflops``, ``fp8_tflops``, ``fp4_tflops``
    (dense; ``null`` = no such tensor cores), ``hbm_gb``, ``hbm_tbps`` (or ``hbm_bandwidth_tbps``),
    ``interconnect_gbps`` (one-way GB/s), ``tdp_w``, ``flops_efficiency``, ``bw_efficiency``,
    ``overhead_s``, ``overlap_exponent``, ``attention_prefill_efficiency``, ``attention_decode_efficiency``
    (``null`` = no published rate), ``reported_memory_gib`` (the total the CUDA runtime reports, at most
    ``hbm_gb``; ``null`` or not given with an ``hbm_gb`` of its own = the datasheet figure); ``gpus_per_node``; ``name`` and ``display_name`` are names as a pool's
    (at most 200 characters, no control character) and not a catalog GPU's (an inline datasheet is not the
    catalog part, whose name results would give it). An unknown catalog name raises
    ``KeyError`` listing the allowed names; a bad mapping :class:`~sim.errors.ScenarioError` with
    paths ``gpu.<field>``.

        >>> g = get_gpu({"name": "a100-40gb", "like": "a100-80gb", "hbm_gb": 40, "hbm_tbps": 1.555})
        >>> (g.hbm_gb, g.bf16_tflops, g.fp8_tflops)
        (40.0, 312, None)
    """
    if isinstance(name, Mapping):
        return _inline_gpu(name)
    try:
        return _gpus()[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown GPU {given(name)}; allowed: {', '.join(gpu_names())} "
                       "or an inline mapping of the datasheet") from None


#: the largest number an inline datasheet may give (1e12 GB of HBM, 1e12 TFLOP/s, ...): ~1e6 times any
#: shipping GPU's, well inside what the memory plan and step times compute with
GPU_NUMBER_MAX = 1e12
#: the smallest datasheet number an inline GPU may give (TFLOPS, GB, TB/s, Gb/s, W): a millionth of a
#: unit is a slip of units, and a step priced from it would take longer than any run (``sim.limits.MAX_STEP_S``)
GPU_NUMBER_MIN = 1e-6
_GPU_DATASHEET = ("bf16_tflops", "fp8_tflops", "fp4_tflops", "hbm_gb", "hbm_tbps", "interconnect_gbps", "tdp_w")


DEFAULT_LIKE = "h100-sxm"
"""The catalog GPU an inline datasheet without ``like`` takes its factors from."""


def gpu_family(gpu: str | Mapping[str, Any]) -> str:
    """The catalog GPU whose efficiency factors a pool's ``gpu`` entry uses: a catalog name itself, an
    inline datasheet's ``like`` (:data:`DEFAULT_LIKE` when it gives none).

        >>> gpu_family("a100-80gb"), gpu_family({"name": "x", "hbm_gb": 40}), gpu_family({"like": "b200"})
        ('a100-80gb', 'h100-sxm', 'b200')
    """
    return gpu if isinstance(gpu, str) else str(gpu.get("like", DEFAULT_LIKE))


def _inline_gpu(d: Mapping[str, Any]) -> GPUSpec:
    problems: list[tuple[str, str]] = []
    for k in sorted(set(d) - _GPU_ALLOWED, key=str):
        problems.append((f"gpu.{k}", f"unknown field; allowed: {', '.join(sorted(_GPU_ALLOWED))}"))
    like = d.get("like", DEFAULT_LIKE)
    if not isinstance(like, str) or like not in _gpus():
        problems.append(("gpu.like", f"unknown GPU {given(like)}; allowed: {', '.join(gpu_names())}"))
        raise ScenarioError(problems)
    base = _gpus()[like]
    vals: dict[str, Any] = {}
    for alias, key in _GPU_ALIASES.items():     # one of them would be dropped silently
        if alias in d and key in d:
            problems.append((f"gpu.{alias}", f"is another name for {key}, also given: give one of them"))
    for k, v in d.items():
        key = _GPU_ALIASES.get(k, k)
        if key not in _GPU_NUMBERS:
            continue
        # null: no such tensor cores; no published attention-kernel rate (the catalog's own null)
        nullable = key in ("fp8_tflops", "fp4_tflops", "attention_prefill_efficiency", "attention_decode_efficiency",
                           "reported_memory_gib")
        x = finite(v)
        if v is None and nullable:
            vals[key] = None
        elif x is None or x < 0 or (x == 0 and key not in ("overhead_s",)):
            problems.append((f"gpu.{k}", f"must be {number_words(v)}{' or null' if nullable else ''} "
                                         f"(got {shown(v)})"))
        elif x > GPU_NUMBER_MAX:
            problems.append((f"gpu.{k}", f"must be at most {GPU_NUMBER_MAX:g} (got {shown(v)}); a datasheet number "
                                         "a million times today's is a slip, and past it memory in bytes overflows"))
        elif key in _GPU_DATASHEET and x < GPU_NUMBER_MIN:
            problems.append((f"gpu.{k}", f"must be at least {GPU_NUMBER_MIN:g} (got {shown(v)}); a datasheet number "
                                         "a millionth of its unit is a slip of units"))
        else:
            vals[key] = x
    for k in ("flops_efficiency", "bw_efficiency", "attention_prefill_efficiency", "attention_decode_efficiency"):
        if vals.get(k) is not None and vals[k] > 1:
            problems.append((f"gpu.{k}", f"must be a fraction in (0, 1] (got {vals[k]!r})"))
    if "overlap_exponent" in vals and vals["overlap_exponent"] < 1:
        problems.append(("gpu.overlap_exponent", f"must be >= 1 (got {vals['overlap_exponent']!r})"))
    # a datasheet of its own does not keep the like: part's CUDA-reported total (an 80 GB part's on a 40 GB one)
    if "hbm_gb" in vals and "reported_memory_gib" not in vals:
        vals["reported_memory_gib"] = None
    hbm, reported = vals.get("hbm_gb", base.hbm_gb), vals.get("reported_memory_gib")
    if reported is not None and hbm is not None and reported > hbm:
        problems.append(("gpu.reported_memory_gib", f"must be at most hbm_gb ({hbm:g}): the runtime reports less "
                                                    f"than the datasheet, not more (got {reported:g})"))
    gpn = d.get("gpus_per_node", base.gpus_per_node)
    if isinstance(gpn, bool) or not isinstance(gpn, int) or gpn < 1:
        problems.append(("gpu.gpus_per_node", f"must be an integer >= 1 (got {shown(gpn)})"))
    problems += text_problems(d, "gpu", ("name", "display_name"))
    problems += _catalog_name_problems(d, like)
    if problems:
        raise ScenarioError(problems)
    name = str(d.get("name", f"custom ({like})"))
    # an inline datasheet replaces the whole efficiency set: per-precision factors only when inherited unchanged
    own_eff = any(k in vals for k in ("flops_efficiency", "bw_efficiency", "overhead_s"))
    return replace(base, name=name, display_name=str(d.get("display_name", name)), gpus_per_node=gpn,
                   sources=("inline",), precision_factors=() if own_eff else base.precision_factors, **vals)


def _catalog_name_problems(d: Mapping[str, Any], like: str) -> list[tuple[str, str]]:
    """An inline GPU called by a catalog GPU's name: refused. Results, tables and notes name a pool's GPU
    by it, so the catalog GPU's name on another datasheet (or on the factors of another ``like``) would
    pass its numbers off as the catalog part's."""
    problems = []
    for k in ("name", "display_name"):
        v = d.get(k)
        if isinstance(v, str) and v.strip().lower() in _gpus():
            cat = v.strip().lower()
            problems.append((f"gpu.{k}", f"{v.strip()} names the catalog GPU {cat}, which an inline datasheet is not "
                                         f"(results would credit this datasheet's numbers and the factors of like: "
                                         f"{like} to it): for the catalog GPU write gpu: {cat}; for a variant of it "
                                         f"write like: {cat} and a name of its own, e.g. {cat}-custom"))
    return problems
