"""The model catalog, read from ``data/models.yaml`` (``hf/``: the shipped Hugging Face config.json
files), and inline architectures (a mapping, or ``hf_config:`` a config.json).

A :class:`~sim.scenario.architecture.ModelSpec` holds a transformer's architecture from its published config.

    >>> get_model("llama-2-7b").n_kv_heads
    32
    >>> get_model({"n_layers": 2, "hidden": 64, "n_heads": 4, "ffn_hidden": 128, "vocab": 100}).head_dim
    16
"""
from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from typing import Any

from sim.errors import InputError, ScenarioError, given
from sim.scenario.architecture import ModelSpec, architecture_params, check_architecture
from sim.scenario.catalog_fields import finite, number_words, read_data, shown, text_problems
from sim.scenario.gpu_catalog import PRECISIONS
from sim.scenario.hf_config import hf_fields, read_hf_config
from sim.scenario.types import MAX_COUNT


@functools.cache
def _models() -> dict[str, ModelSpec]:
    raw = read_data("models.yaml")
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


def model_names() -> list[str]:
    """Catalog model names, sorted."""
    return sorted(_models())


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

    d = _counts_from_text(d)
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


def _counts_from_text(d: dict) -> dict:
    """``d`` with each count written as text that spells a whole number (``n_layers: "32"``) as that
    number, as every other whole-number field of a scenario reads it (``replicas: "4"`` is 4); other
    text stays, for :func:`_field_problems` to refuse.

        >>> _counts_from_text({"n_layers": " 32 ", "hidden": "4096.5", "name": "7"})
        {'n_layers': 32, 'hidden': '4096.5', 'name': '7'}
    """
    out = dict(d)
    for k in _REQUIRED + _OPTIONAL_INT + _OPTIONAL_COUNT:
        if isinstance(out.get(k), str):
            try:
                out[k] = int(out[k].strip())
            except ValueError:
                pass
    return out


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
                problems.append((f"model.{k}", f"must be an integer {words} (got {shown(v)})"))
            elif v > MAX_COUNT:
                problems.append((f"model.{k}", f"must be <= {MAX_COUNT} (got {shown(v)})"))
    for k, allowed in _OPTIONAL_STR.items():
        if k in d and d[k] not in allowed and not (d[k] is None and k.endswith("dtype")):
            problems.append((f"model.{k}", f"must be one of {', '.join(allowed)} (got {d[k]!r})"))
    problems += text_problems(d, "model", ("name", "source", "activation"))
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
        counts[k] = finite(v)
        if counts[k] is None or counts[k] <= 0:
            problems.append((f"model.{k}", f"must be {number_words(v)} (got {shown(v)})"))
        elif counts[k] < 1:         # 1e-300 parameters: weights of no bytes, a slip of units
            problems.append((f"model.{k}", f"must be at least 1 (a count of parameters; got {shown(v)})"))
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
