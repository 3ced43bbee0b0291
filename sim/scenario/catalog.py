"""Catalogs of GPUs and model architectures, read from the YAML files in ``data/``.

A :class:`GPUSpec` holds datasheet numbers (dense TFLOPS per precision, HBM size and bandwidth,
one-way scale-up link bandwidth) plus the calibrated efficiency factors the roofline step-time
model needs. A :class:`ModelSpec` holds a transformer's architecture from its published config.

    >>> get_gpu("h100-sxm").hbm_tbps
    3.35
    >>> get_model("llama-2-7b").n_kv_heads
    32
    >>> get_model({"n_layers": 2, "hidden": 64, "n_heads": 4, "ffn_hidden": 128, "vocab": 100}).head_dim
    16

Units: TFLOPS = 1e12 FLOP/s; ``hbm_gb`` = HBM capacity as the vendor quotes it, which is binary
(an "80 GB" H100 reports 81,559 MiB to the driver), so bytes = ``hbm_gb * 2**30``; ``hbm_tbps`` = 1e12 bytes/s;
``interconnect_gbps`` = 1e9 **bytes**/s **per direction** per GPU (vendors quote NVLink
bidirectional: H100's "900 GB/s" is stored as 450).
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import yaml

from sim.errors import InputError, ScenarioError, given
from sim.io import reads_as_number
from sim.scenario.architecture import ModelSpec, architecture_params, check_architecture
from sim.scenario.hf_config import hf_fields, read_hf_config
from sim.scenario.types import MAX_COUNT, MAX_NAME, plain_name

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
    def hbm_bytes_per_s(self) -> float:
        return self.hbm_tbps * 1e12

    @property
    def link_bytes_per_s(self) -> float:
        """One-way scale-up link bandwidth in bytes/s."""
        return self.interconnect_gbps * 1e9


def _read_yaml(filename: str) -> dict[str, Any]:
    text = resources.files("sim.scenario").joinpath("data", filename).read_text(encoding="utf-8")
    # libyaml's safe loader where PyYAML has it: the same data, 12 ms -> 2 ms for the two files
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def _gpus() -> dict[str, GPUSpec]:
    out = {}
    for name, d in _read_yaml("gpus.yaml").items():
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


@functools.cache
def _models() -> dict[str, ModelSpec]:
    raw = _read_yaml("models.yaml")
    out = {}
    for name, d in raw.items():
        d = dict(d)
        base = d.pop("same_as", None)
        if base is not None:
            d = {**raw[base], **d}
        hf = d.pop("hf_config", None)
        if hf is not None:  # architecture from a shipped config.json, catalog keys on top
            path = resources.files("sim.scenario").joinpath("data", hf)
            d = {**hf_fields(json.loads(path.read_text(encoding="utf-8")), f"models.yaml: {name}: {hf}"), **d}
        for k in ("n_params", "n_active_params"):  # YAML 1.1 reads "6.74e9" as a string
            d[k] = float(d[k])
        out[name] = ModelSpec(name=name, **d)
    return out


def gpu_names() -> list[str]:
    """Catalog GPU names, sorted."""
    return sorted(_gpus())


def model_names() -> list[str]:
    """Catalog model names, sorted."""
    return sorted(_models())


_GPU_NUMBERS = ("bf16_tflops", "fp8_tflops", "fp4_tflops", "hbm_gb", "hbm_tbps", "interconnect_gbps", "tdp_w",
                "flops_efficiency", "bw_efficiency", "overhead_s", "overlap_exponent", "attention_prefill_efficiency",
                "attention_decode_efficiency")
_GPU_ALIASES = {"hbm_bandwidth_tbps": "hbm_tbps"}
_GPU_ALLOWED = set(_GPU_NUMBERS) | set(_GPU_ALIASES) | {"name", "like", "gpus_per_node", "display_name"}


def _finite(v: Any) -> float | None:
    """``v`` as a finite float; ``None`` for a boolean, text, NaN, an infinity or an integer past
    a float's range (1.8e308), which an inline mapping may hold where a number belongs. Text that reads as
    a number counts as one, as in the rest of the scenario: YAML reads ``1e-6`` (no dot) as text.

        >>> _finite("1e-6"), _finite("abc"), _finite("nan"), _finite(True)
        (1e-06, None, None, None)
    """
    if isinstance(v, str) and reads_as_number(v):
        v = float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        x = float(v)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def _number_words(v: Any) -> str:
    """What a positive number field of an inline mapping allows, for the message about ``v``."""
    past = isinstance(v, int) and not isinstance(v, bool) and v > 0
    return "a number > 0 and at most 1.8e308 (a float's range)" if past else "a number > 0"


def _shown(v: Any) -> str:
    """``repr(v)`` cut to 60 characters: a 400-digit integer is named, not printed whole."""
    text = repr(v)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _text_problems(d: Mapping[str, Any], kind: str, keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """The naming fields of an inline mapping that are not text (a list or mapping would become
    its Python spelling in every table and figure); a ``name`` or ``display_name`` that is not a name
    as every other of a scenario (:data:`~sim.scenario.types.Name`: not empty, at most 200 characters,
    no control character), which titles, tables and CSV cells show."""
    problems = []
    for k in (k for k in keys if k in d):
        v = d[k]
        if not isinstance(v, str):
            problems.append((f"{kind}.{k}", f"must be text (got {_shown(v)})"))
        elif k not in ("name", "display_name"):
            continue
        elif not v:
            problems.append((f"{kind}.{k}", "must not be empty (got '')"))
        elif len(v) > MAX_NAME:
            problems.append((f"{kind}.{k}", f"must be at most {MAX_NAME} characters (got {len(v):,})"))
        else:
            try:
                plain_name(v)
            except ValueError as exc:
                problems.append((f"{kind}.{k}", str(exc)))
    return problems


def get_gpu(name: str | Mapping[str, Any]) -> GPUSpec:
    """The catalog GPU called ``name``, or an inline datasheet mapping.

    An inline GPU takes every field it does not give from the catalog GPU named by ``like``
    (default ``h100-sxm``), including the calibrated efficiency factors, which are a stack's and a
    GPU family's rather than one part's. Numbers: ``bf16_tflops``, ``fp8_tflops``, ``fp4_tflops``
    (dense; ``null`` = no such tensor cores), ``hbm_gb``, ``hbm_tbps`` (or ``hbm_bandwidth_tbps``),
    ``interconnect_gbps`` (one-way GB/s), ``tdp_w``, ``flops_efficiency``, ``bw_efficiency``,
    ``overhead_s``, ``overlap_exponent``, ``attention_prefill_efficiency``, ``attention_decode_efficiency``
    (``null`` = no published rate); ``gpus_per_node``; ``name`` and ``display_name`` are names as a pool's
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
        nullable = key in ("fp8_tflops", "fp4_tflops", "attention_prefill_efficiency", "attention_decode_efficiency")
        x = _finite(v)
        if v is None and nullable:
            vals[key] = None
        elif x is None or x < 0 or (x == 0 and key not in ("overhead_s",)):
            problems.append((f"gpu.{k}", f"must be {_number_words(v)}{' or null' if nullable else ''} "
                                         f"(got {_shown(v)})"))
        elif x > GPU_NUMBER_MAX:
            problems.append((f"gpu.{k}", f"must be at most {GPU_NUMBER_MAX:g} (got {_shown(v)}); a datasheet number "
                                         "a million times today's is a slip, and past it memory in bytes overflows"))
        elif key in _GPU_DATASHEET and x < GPU_NUMBER_MIN:
            problems.append((f"gpu.{k}", f"must be at least {GPU_NUMBER_MIN:g} (got {_shown(v)}); a datasheet number "
                                         "a millionth of its unit is a slip of units"))
        else:
            vals[key] = x
    for k in ("flops_efficiency", "bw_efficiency", "attention_prefill_efficiency", "attention_decode_efficiency"):
        if vals.get(k) is not None and vals[k] > 1:
            problems.append((f"gpu.{k}", f"must be a fraction in (0, 1] (got {vals[k]!r})"))
    if "overlap_exponent" in vals and vals["overlap_exponent"] < 1:
        problems.append(("gpu.overlap_exponent", f"must be >= 1 (got {vals['overlap_exponent']!r})"))
    gpn = d.get("gpus_per_node", base.gpus_per_node)
    if isinstance(gpn, bool) or not isinstance(gpn, int) or gpn < 1:
        problems.append(("gpu.gpus_per_node", f"must be an integer >= 1 (got {_shown(gpn)})"))
    problems += _text_problems(d, "gpu", ("name", "display_name"))
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


_REQUIRED = ("n_layers", "hidden", "n_heads", "ffn_hidden", "vocab")
_OPTIONAL_INT = ("n_kv_heads", "head_dim", "n_experts", "experts_per_token", "max_context")
_OPTIONAL_COUNT = ("position_embeddings", "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim",
                   "v_head_dim", "shared_ffn_hidden", "first_k_dense", "dense_ffn_hidden", "sliding_window",
                   "sliding_layers", "attention_sinks")
_OPTIONAL_STR = {"mlp": ("gated", "plain"), "attention": ("gqa", "mla"), "norm": ("rmsnorm", "layernorm"),
                 "weight_dtype": PRECISIONS, "expert_weight_dtype": PRECISIONS}
_ALLOWED = (set(_REQUIRED) | set(_OPTIONAL_INT) | set(_OPTIONAL_COUNT) | set(_OPTIONAL_STR)
            | {"name", "n_params", "n_active_params", "source", "activation", "tied_embeddings", "hf_config"})


def get_model(name_or_mapping: str | Mapping[str, Any]) -> ModelSpec:
    """A catalog model by name, or a validated inline architecture.

    An inline mapping needs ``n_layers, hidden, n_heads, ffn_hidden, vocab``; ``n_kv_heads``
    defaults to ``n_heads``, ``head_dim`` to ``hidden // n_heads``, ``n_experts`` and
    ``experts_per_token`` to 1, ``max_context`` to 4096, parameter counts to the architecture's,
    ``mlp`` to ``gated``, ``tied_embeddings`` to false; the other fields of
    :class:`~sim.scenario.architecture.ModelSpec` (MLA, MoE, sliding window) to their Llama-style
    defaults. ``{hf_config: path/to/config.json}`` reads the architecture from a Hugging Face
    config (:mod:`sim.scenario.hf_config`); other keys of the mapping override it.
    Problems raise :class:`~sim.errors.ScenarioError` with paths ``model.<field>``; an unknown
    name raises ``KeyError`` listing the catalog names.
    """
    if isinstance(name_or_mapping, str):
        try:
            return _models()[name_or_mapping]
        except KeyError:
            raise KeyError(f"unknown model {given(name_or_mapping)}; allowed: {', '.join(model_names())} "
                           "or an inline mapping of the architecture") from None
    if not isinstance(name_or_mapping, Mapping):
        raise ScenarioError([("model", f"must be a catalog name ({', '.join(model_names())}) "
                                       f"or a mapping of the architecture (got {given(name_or_mapping)})")])
    hf = name_or_mapping.get("hf_config")
    d = _with_hf_config(dict(name_or_mapping))
    # a field the config gave (not the mapping) is said of the file: the scenario has no such key
    read = set(d) - set(name_or_mapping) if hf is not None else set()

    def said(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [("model.hf_config", f"{hf}: {path.removeprefix('model.')} (from the file): {msg}")
                if path.removeprefix("model.") in read else (path, msg) for path, msg in problems]

    problems = _field_problems(d)
    if problems:
        raise ScenarioError(said(problems))
    spec = _inline_spec(d)
    problems = [(f"model.{k}", m) for k, m in check_architecture(spec)]
    if problems:
        raise ScenarioError(said(problems))
    return _with_parameter_counts(spec, d)


def _with_hf_config(d: dict) -> dict:
    """An inline mapping with the fields of its ``hf_config`` (a Hugging Face config.json) under
    its own keys; the model is named after the config's folder unless the mapping names it."""
    hf = d.pop("hf_config", None)
    if hf is None:
        return d
    if not isinstance(hf, str) or not hf.strip():
        raise ScenarioError([("model.hf_config", f"must be a path to a config.json (got {hf!r})")])
    try:
        fields = read_hf_config(hf)
    except InputError as exc:
        raise ScenarioError([("model.hf_config", str(exc))]) from None
    fields.setdefault("name", _stem(hf))
    return {**fields, **d}


def _field_problems(d: dict) -> list[tuple[str, str]]:
    """Every problem of an inline mapping's fields on their own: unknown or missing keys, counts
    that are not whole numbers in range, names outside their choices, a non-boolean switch."""
    problems = [(f"model.{k}", f"unknown field; allowed: {', '.join(sorted(_ALLOWED))}")
                for k in sorted(set(d) - _ALLOWED)]
    problems += [(f"model.{k}", "required for an inline architecture") for k in _REQUIRED if k not in d]
    for keys, least, words in ((_REQUIRED + _OPTIONAL_INT, 1, "> 0"), (_OPTIONAL_COUNT, 0, ">= 0")):
        for k in (k for k in keys if k in d):
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                problems.append((f"model.{k}", f"must be an integer {words} (got {_shown(v)})"))
            elif v > MAX_COUNT:
                problems.append((f"model.{k}", f"must be <= {MAX_COUNT} (got {_shown(v)})"))
    for k, allowed in _OPTIONAL_STR.items():
        if k in d and d[k] not in allowed and not (d[k] is None and k.endswith("dtype")):
            problems.append((f"model.{k}", f"must be one of {', '.join(allowed)} (got {d[k]!r})"))
    problems += _text_problems(d, "model", ("name", "source", "activation"))
    if "tied_embeddings" in d and not isinstance(d["tied_embeddings"], bool):
        problems.append(("model.tied_embeddings", f"must be true or false (got {d['tied_embeddings']!r})"))
    return problems


def _inline_spec(d: dict) -> ModelSpec:
    """The architecture of a checked inline mapping, with its defaults and the parameter counts
    still zero; a ``head_dim`` is required when the heads do not divide the hidden size."""
    n_heads = d["n_heads"]
    if "head_dim" not in d and d["hidden"] % n_heads:
        raise ScenarioError([("model.head_dim",
                              f"required when n_heads={n_heads} does not divide hidden={d['hidden']}")])
    extra = {k: d[k] for k in _OPTIONAL_COUNT + tuple(_OPTIONAL_STR) if k in d}
    return ModelSpec(name=str(d.get("name", "custom")), n_layers=d["n_layers"], hidden=d["hidden"],
                     n_heads=n_heads, n_kv_heads=d.get("n_kv_heads", n_heads),
                     head_dim=d.get("head_dim", d["hidden"] // n_heads),
                     ffn_hidden=d["ffn_hidden"], vocab=d["vocab"], n_params=0.0, n_active_params=0.0,
                     n_experts=d.get("n_experts", 1), experts_per_token=d.get("experts_per_token", 1),
                     max_context=d.get("max_context", 4096), source=str(d.get("source", "inline")),
                     activation=str(d.get("activation", "silu" if d.get("mlp", "gated") == "gated" else "gelu")),
                     tied_embeddings=bool(d.get("tied_embeddings", False)), **extra)


def _with_parameter_counts(spec: ModelSpec, d: dict) -> ModelSpec:
    """``spec`` with its total and active parameter counts: the mapping's, else the architecture's."""
    total, active = architecture_params(spec)
    problems = []
    counts = {}
    for k, default in (("n_params", total), ("n_active_params", active)):
        v = d.get(k, default)
        counts[k] = _finite(v)
        if counts[k] is None or counts[k] <= 0:
            problems.append((f"model.{k}", f"must be {_number_words(v)} (got {_shown(v)})"))
        elif counts[k] < 1:         # 1e-300 parameters: weights of no bytes, a slip of units
            problems.append((f"model.{k}", f"must be at least 1 (a count of parameters; got {_shown(v)})"))
    if not problems and counts["n_active_params"] > counts["n_params"]:
        problems.append(("model.n_active_params", f"must be <= n_params={counts['n_params']:g}: a token uses at most "
                                                  f"every parameter (got {counts['n_active_params']:g})"))
    if problems:
        raise ScenarioError(problems)
    return replace(spec, **counts)


def _stem(path: str) -> str:
    """A model name from a config path: its folder for ``.../Name/config.json``, else the file stem."""
    import pathlib

    p = pathlib.Path(path)
    return p.parent.name if p.stem == "config" and p.parent.name else p.stem
