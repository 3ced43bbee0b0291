"""Read a Hugging Face ``config.json`` as published into :class:`~sim.scenario.architecture.ModelSpec` fields.

Families (``model_type``): ``llama``, ``mistral``, ``qwen2``, ``qwen3``, ``qwen3_moe``, ``mixtral``,
``deepseek_v3`` (and ``deepseek_v2``), ``gpt_oss``, ``opt``, ``gpt2``. Each key of the file is one of:

- **read**: it sets a field of the architecture (``hidden_size`` -> ``hidden``, ...);
- **checked**: read and refused when its value describes arithmetic the model does not express
  (e.g. Qwen3-MoE ``decoder_sparse_step != 1``, OPT ``word_embed_proj_dim != hidden_size``);
- **inert**: known not to change FLOPs, bytes or memory (dropout, token ids, RoPE base, epsilons,
  training-only losses, ...);
- anything else is an error naming the key: a silent default could misprice the model.

    >>> f = hf_fields({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
    ...                "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100})
    >>> (f["hidden"], f["n_kv_heads"], f["head_dim"], f["tied_embeddings"])
    (64, 4, 16, False)

Problems raise :class:`~sim.errors.InputError` (``file: field: message``; the CLI exits 2).
"""
from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping
from typing import Any

from sim.errors import InputError
from sim.scenario.safe_text import read_input_text

FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "mixtral", "deepseek_v2", "deepseek_v3",
            "gpt_oss", "opt", "gpt2")

_INERT = {
    "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "use_cache", "bos_token_id",
    "eos_token_id", "pad_token_id", "initializer_range", "rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon",
    "rope_theta", "rope_scaling", "rope_parameters", "attention_dropout", "hidden_dropout", "dropout",
    "attention_bias", "mlp_bias", "pretraining_tp", "auto_map", "_name_or_path", "output_router_logits",
    "router_aux_loss_coef", "aux_loss_alpha", "seq_aux", "norm_topk_prob", "router_jitter_noise", "tokenizer_class",
    "prefix", "bias", "enable_bias", "init_std", "layerdrop", "activation_dropout", "attn_pdrop", "embd_pdrop",
    "resid_pdrop", "summary_activation", "summary_first_dropout", "summary_proj_to_labels", "summary_type",
    "summary_use_proj", "task_specific_params", "scale_attn_weights", "reorder_and_upcast_attn",
    "scale_attn_by_inverse_layer_idx", "n_ctx", "do_sample", "max_length", "num_nextn_predict_layers",
    "routed_scaling_factor", "scoring_func", "topk_method", "n_group", "topk_group", "ep_size",
    "initial_context_length", "swiglu_limit", "rope_ntk_alpha", "rope_ntk_beta", "experts_per_token",
    "is_decoder", "output_projection", "output_past", "head_dim_original", "use_qk_norm", "generation_config", "keep_window_size",
    "quantization_config", "compression_config", "tie_word_embeddings",
}
"""Keys of any family that do not change the arithmetic (or are read for every family)."""

_PLAIN_ACTS = {"relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu"}


#: what each key a family requires is, and what the model needs it for (said when it is missing)
_LAYERS = "the number of transformer layers (n_layers), needed for every layer's weights, FLOPs and KV cache"
_WIDTH = "the model width (hidden), needed for the size of every weight matrix and activation"
_MLP = "the MLP width (ffn_hidden), needed for the MLP's weights and FLOPs"
NEEDED = {
    "num_hidden_layers": _LAYERS, "n_layer": _LAYERS,
    "hidden_size": _WIDTH, "n_embd": _WIDTH,
    "num_attention_heads": "the number of attention heads (n_heads), needed for the attention FLOPs and the head "
                           "size (hidden_size / num_attention_heads)",
    "n_head": "the number of attention heads (n_heads), needed for the attention FLOPs and the head size "
              "(n_embd / n_head)",
    "vocab_size": "the vocabulary size (vocab), needed for the embedding and output-layer weights and FLOPs",
    "intermediate_size": _MLP, "ffn_dim": _MLP,
    "moe_intermediate_size": "one expert's MLP width (ffn_hidden), needed for the experts' weights and FLOPs",
    "head_dim": "the size of one attention head (head_dim), needed for the attention FLOPs and the KV cache; "
                "hidden_size is not a multiple of num_attention_heads, so it cannot be derived",
    "num_local_experts": "the number of experts (n_experts), needed for the experts' weights",
    "num_experts": "the number of experts (n_experts), needed for the experts' weights",
    "n_routed_experts": "the number of routed experts (n_experts), needed for the experts' weights",
    "num_experts_per_tok": "the experts each token is routed to (experts_per_token), needed for the experts' "
                           "FLOPs and weight reads",
    "kv_lora_rank": "the rank of the compressed KV (kv_lora_rank), needed for the MLA KV cache and attention FLOPs",
    "qk_rope_head_dim": "the rotary part of a head (qk_rope_head_dim), needed for the MLA KV cache and attention "
                        "FLOPs",
    "qk_nope_head_dim": "the non-rotary part of a head (qk_nope_head_dim), needed for the MLA attention FLOPs",
    "v_head_dim": "the value head size (v_head_dim), needed for the MLA attention FLOPs and output projection",
}


class _Reader:
    def __init__(self, cfg: Mapping[str, Any], where: str) -> None:
        self.cfg, self.where, self.problems = cfg, where, []

    def fail(self, key: str, msg: str) -> None:
        if all(k != key for k, _ in self.problems):     # a key read twice (DeepSeek's dense MLP) is said once
            self.problems.append((key, msg))

    def missing(self, key: str) -> None:
        need = NEEDED.get(key)
        self.fail(key, f"missing{': ' + need if need else ''}; model_type {self.cfg.get('model_type')} requires it")

    def int(self, key: str, default: int | None = None, *, required: bool = True, allow_zero: bool = False) -> int:
        v = self.cfg.get(key, default)
        if v is None:
            if required:
                self.missing(key)
            return 0
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (v == 0 and not allow_zero):
            self.fail(key, f"must be an integer {'>= 0' if allow_zero else '> 0'} (got {v!r})")
            return 0
        return v

    def switch(self, key: str, default: bool) -> bool:
        """``key`` as true or false (``null`` or absent: ``default``); a string such as ``"false"`` is refused
        (``bool("false")`` is true)."""
        v = self.cfg.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            self.fail(key, f"must be true or false (got {v!r})")
            return default
        return v

    def first(self, *keys: str, default: int | None = None) -> int:
        for k in keys:
            if self.cfg.get(k) is not None:
                return self.int(k)
        if default is not None:
            return default
        self.missing(keys[0])
        return 0


#: ``quantization_config.quant_method`` values read: the weights' dtype and the routed experts' (``None``: bf16)
QUANT_METHODS = {"fp8": ("fp8", None), "mxfp4": (None, "fp4")}    # gpt-oss: experts in MXFP4, the rest bf16


def _dtype(r: _Reader) -> tuple[str | None, str | None]:
    """(weight dtype, routed-expert dtype) the checkpoint is published in, from ``quantization_config``;
    a method not in :data:`QUANT_METHODS` (4-bit AWQ or GPTQ, ...) is refused: read as bf16 it would
    misprice the weights' memory and reads."""
    q = r.cfg.get("quantization_config")
    if q is None:
        return None, None
    if not isinstance(q, Mapping):
        r.fail("quantization_config", f"must be an object with a quant_method (got {q!r})")
        return None, None
    method = q.get("quant_method")
    if not isinstance(method, str) or method.lower() not in QUANT_METHODS:
        r.fail("quantization_config", f"quant_method {method!r} is not modelled (read: {', '.join(QUANT_METHODS)}); "
                                      "remove quantization_config from the file to price the weights as bf16 "
                                      "(or as the scenario model's weight_dtype)")
        return None, None
    return QUANT_METHODS[method.lower()]


def hf_fields(cfg: Mapping[str, Any], where: str = "config.json") -> dict[str, Any]:
    """:class:`~sim.scenario.architecture.ModelSpec` keyword fields read from a parsed ``config.json``.

    Raises :class:`~sim.errors.InputError` listing every problem (``where: key: message``).
    """
    if not isinstance(cfg, Mapping):
        raise InputError(f"{where}: must be a JSON object (a Hugging Face config.json)")
    mt = cfg.get("model_type")
    if mt is None:
        raise InputError(f"{where}: model_type: missing: it names the architecture family the other keys are "
                         f"read by; supported: {', '.join(FAMILIES)}")
    if mt not in FAMILIES:
        raise InputError(f"{where}: model_type: unsupported {mt!r}; supported: {', '.join(FAMILIES)}")
    r = _Reader(cfg, where)
    known = set(_INERT) | _FAMILY_KEYS[mt]
    for k in cfg:
        if k not in known:
            r.fail(k, f"unknown key for model_type {mt}: it may change the arithmetic, so it is not "
                      "ignored silently (remove it if it does not)")
    out: dict[str, Any] = {"source": where}
    if mt == "gpt2":
        _gpt2(r, out)
    elif mt == "opt":
        _opt(r, out)
    else:
        _llama_like(r, mt, out)
    wdt, edt = _dtype(r)
    if wdt:
        out["weight_dtype"] = wdt
    if edt:
        out["expert_weight_dtype"] = edt
    if r.problems:
        raise InputError("\n".join(f"{where}: {k}: {m}" for k, m in r.problems))
    return out


def _llama_like(r: _Reader, mt: str, out: dict[str, Any]) -> None:
    c = r.cfg
    out["n_layers"] = L = r.int("num_hidden_layers")
    out["hidden"] = h = r.int("hidden_size")
    out["n_heads"] = nh = r.int("num_attention_heads")
    out["n_kv_heads"] = r.int("num_key_value_heads", nh)
    out["vocab"] = r.int("vocab_size")
    out["max_context"] = r.int("max_position_embeddings", 4096)
    out["tied_embeddings"] = r.switch("tie_word_embeddings", False)
    act = c.get("hidden_act", "silu")
    if act not in ("silu", "swiglu", "gelu", "gelu_pytorch_tanh"):
        r.fail("hidden_act", f"unsupported gated activation {act!r} (silu, gelu)")
    out["activation"] = act
    hd = c.get("head_dim")
    # without hidden_size or the head count (said missing already) there is no head size to ask for
    out["head_dim"] = r.int("head_dim") if hd is not None or (h and nh and h % nh) else (h // nh if nh else 0)
    out["ffn_hidden"] = r.int("intermediate_size")
    if mt == "mixtral" or mt == "gpt_oss":
        out["n_experts"] = r.int("num_local_experts")
        out["experts_per_token"] = r.first("num_experts_per_tok", "experts_per_token")
    if mt == "qwen3_moe":
        out["n_experts"] = r.int("num_experts")
        out["experts_per_token"] = r.int("num_experts_per_tok")
        out["ffn_hidden"] = r.int("moe_intermediate_size")
        if c.get("decoder_sparse_step", 1) != 1:
            r.fail("decoder_sparse_step", f"only 1 (every layer MoE) is modelled (got {c['decoder_sparse_step']!r})")
        if c.get("mlp_only_layers"):
            r.fail("mlp_only_layers", "dense layers among MoE layers are not modelled (must be empty)")
    if mt in ("deepseek_v2", "deepseek_v3"):
        out["attention"] = "mla"
        out["q_lora_rank"] = r.int("q_lora_rank", 0, allow_zero=True) if c.get("q_lora_rank") is not None else 0
        for k in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
            out[k] = r.int(k)
        out["head_dim"] = out["qk_nope_head_dim"] + out["qk_rope_head_dim"]
        out["n_kv_heads"] = nh                  # K and V are per head after decompression
        out["n_experts"] = r.int("n_routed_experts")
        out["experts_per_token"] = r.int("num_experts_per_tok")
        out["ffn_hidden"] = f = r.int("moe_intermediate_size")
        out["shared_ffn_hidden"] = r.int("n_shared_experts", 0, allow_zero=True) * f
        out["first_k_dense"] = r.int("first_k_dense_replace", 0, allow_zero=True)
        out["dense_ffn_hidden"] = r.int("intermediate_size")
        if c.get("moe_layer_freq", 1) != 1:
            r.fail("moe_layer_freq", f"only 1 (every layer after first_k_dense_replace) is modelled "
                                     f"(got {c['moe_layer_freq']!r})")
    _sliding(r, mt, L, out)


def _sliding(r: _Reader, mt: str, n_layers: int, out: dict[str, Any]) -> None:
    c = r.cfg
    window = c.get("sliding_window")
    types = c.get("layer_types")
    if types is not None and n_layers:      # (without num_hidden_layers, said missing, there is no count to check)
        if not isinstance(types, list) or len(types) != n_layers or \
                not all(t in ("sliding_attention", "full_attention") for t in types):
            r.fail("layer_types", f"must list {n_layers} of sliding_attention/full_attention")
            return
        n_sliding = types.count("sliding_attention")
    elif mt in ("qwen2", "qwen3", "qwen3_moe"):
        # Qwen uses the window only when use_sliding_window is true, on layers >= max_window_layers
        used = r.switch("use_sliding_window", False)
        n_sliding = (n_layers - r.int("max_window_layers", n_layers, allow_zero=True)) if used else 0
        if n_sliding < 0:
            r.fail("max_window_layers", f"must be <= num_hidden_layers={n_layers} (got {c['max_window_layers']!r})")
            return
    else:
        n_sliding = n_layers if window else 0
    if n_sliding and window:
        out["sliding_window"] = r.int("sliding_window")
        out["sliding_layers"] = max(0, n_sliding)


def _opt(r: _Reader, out: dict[str, Any]) -> None:
    c = r.cfg
    out["n_layers"] = r.int("num_hidden_layers")
    out["hidden"] = h = r.int("hidden_size")
    out["n_heads"] = nh = r.int("num_attention_heads")
    out["n_kv_heads"] = nh
    out["head_dim"] = h // nh if nh else 0
    out["ffn_hidden"] = r.int("ffn_dim")
    out["vocab"] = r.int("vocab_size")
    out["max_context"] = r.int("max_position_embeddings", 2048)
    out["position_embeddings"] = out["max_context"] + 2     # OPT's learned positions carry an offset of 2
    out["mlp"], out["norm"] = "plain", "layernorm"
    out["activation"] = str(c.get("activation_function", "relu"))
    out["tied_embeddings"] = r.switch("tie_word_embeddings", True)
    if h and c.get("word_embed_proj_dim", h) != h:
        r.fail("word_embed_proj_dim", f"an embedding projection (OPT-350m) is not modelled: must equal "
                                      f"hidden_size={h} (got {c['word_embed_proj_dim']!r})")


def _gpt2(r: _Reader, out: dict[str, Any]) -> None:
    c = r.cfg
    out["n_layers"] = r.int("n_layer")
    out["hidden"] = h = r.int("n_embd")
    out["n_heads"] = nh = r.int("n_head")
    out["n_kv_heads"] = nh
    out["head_dim"] = h // nh if nh else 0
    out["ffn_hidden"] = r.int("n_inner") if c.get("n_inner") is not None else 4 * h
    out["vocab"] = r.int("vocab_size")
    out["max_context"] = out["position_embeddings"] = r.int("n_positions", 1024)
    out["mlp"], out["norm"] = "plain", "layernorm"
    out["activation"] = str(c.get("activation_function", "gelu_new"))
    out["tied_embeddings"] = r.switch("tie_word_embeddings", True)


_COMMON = {"num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "vocab_size",
           "max_position_embeddings", "intermediate_size", "head_dim", "sliding_window", "hidden_act", "layer_types"}
_QWEN = _COMMON | {"use_sliding_window", "max_window_layers"}
_FAMILY_KEYS: dict[str, set[str]] = {
    "llama": _COMMON, "mistral": _COMMON, "qwen2": _QWEN, "qwen3": _QWEN,
    "qwen3_moe": _QWEN | {"num_experts", "num_experts_per_tok", "moe_intermediate_size", "decoder_sparse_step",
                          "mlp_only_layers"},
    "mixtral": _COMMON | {"num_local_experts", "num_experts_per_tok"},
    "gpt_oss": _COMMON | {"num_local_experts", "num_experts_per_tok"},
    "deepseek_v2": _COMMON | {"q_lora_rank", "kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim",
                              "n_routed_experts", "n_shared_experts", "num_experts_per_tok",
                              "moe_intermediate_size", "first_k_dense_replace", "moe_layer_freq"},
    "opt": {"num_hidden_layers", "hidden_size", "num_attention_heads", "ffn_dim", "vocab_size",
            "max_position_embeddings", "word_embed_proj_dim", "do_layer_norm_before", "_remove_final_layer_norm",
            "activation_function"},
    "gpt2": {"n_layer", "n_embd", "n_head", "n_inner", "vocab_size", "n_positions", "activation_function"},
}
_FAMILY_KEYS["deepseek_v3"] = _FAMILY_KEYS["deepseek_v2"]


def read_hf_config(path: str | pathlib.Path) -> dict[str, Any]:
    """:func:`hf_fields` of the JSON file at ``path`` (``InputError`` if unreadable).

    A folder, a device or a FIFO is refused before anything is read, as is a file past the scenario
    loader's size limit (:func:`~sim.scenario.safe_text.read_input_text`); so is JSON nested too deeply
    for Python's parser.
    """
    p = pathlib.Path(path)
    text = read_input_text(p, "the Hugging Face config").removeprefix("\ufeff")    # an editor's byte-order mark
    try:
        cfg = json.loads(text, object_pairs_hook=_once, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from None
    except _NotJSON as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{p}: not valid JSON (nested too deeply to read; a config.json is a flat object)") from None
    return hf_fields(cfg, str(p))


class _NotJSON(ValueError):
    """What Python's JSON reader takes and a config.json must not hold."""


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of ``pairs``; a key given twice is refused (``json`` keeps the last one silently)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _NotJSON(f"key {k!r} given twice in one object: which one the model has is unclear; give it once")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are no JSON numbers (Python's reader takes them)."""
    raise _NotJSON(f"{name} is not a JSON number; a config.json gives every count as a number")
