"""A decoder-only transformer's architecture and the parameter counts it implies.

:class:`ModelSpec` describes the variants served in 2026: grouped-query attention (MHA and MQA are
its ends) or multi-head latent attention (MLA, DeepSeek-V2/V3), gated (SwiGLU) or plain (GELU/ReLU)
MLPs, mixture-of-experts layers with shared experts and leading dense layers, sliding-window
layers, tied or untied embeddings, learned absolute position embeddings. Every field beyond the
Llama-style core has a default that reproduces a Llama-style model, so older catalog entries and
inline models are unchanged.

    >>> m = ModelSpec("tiny", n_layers=2, hidden=64, n_heads=4, n_kv_heads=4, head_dim=16, ffn_hidden=128,
    ...               vocab=100, n_params=0.0, n_active_params=0.0)
    >>> architecture_params(m)[0]      # 2 x (4*64*64 + 3*64*128 + 2*64) + 2*100*64 + 64
    95040.0
    >>> kv_elements_per_token(m)       # 2 (K and V) x 2 layers x 4 heads x 16
    256

Parameter arithmetic (per layer unless said):

- attention, GQA: ``hidden * (q_dim + 2 * kv_dim) + q_dim * hidden`` (Q, K, V, O).
- attention, MLA: ``hidden*q_lora + q_lora*heads*(nope+rope)`` (or ``hidden*heads*(nope+rope)`` without a
  query LoRA) ``+ hidden*(kv_lora+rope) + kv_lora*heads*(nope+v) + heads*v*hidden`` plus the two
  LoRA norms (``q_lora + kv_lora``) (DeepSeek-V2 paper, arXiv:2405.04434, section 2.1).
- MLP of width ``f``: ``3*hidden*f`` gated, ``2*hidden*f`` plain.
- MoE layer: ``n_experts`` routed MLPs of width ``ffn_hidden``, one shared MLP of width ``shared_ffn_hidden``
  (DeepSeek: ``n_shared_experts * moe_intermediate_size``), a router ``hidden * n_experts``.
  The first ``first_k_dense`` layers are dense MLPs of width ``dense_ffn_hidden``.
- norms: two per layer, ``hidden`` each (``2*hidden`` for LayerNorm, which has a bias).
- outside the layers: embedding ``vocab*hidden``, lm head ``vocab*hidden`` unless tied, learned
  positions ``position_embeddings*hidden``, final norm.
Biases of linear layers (OPT, GPT-2, Qwen2's QKV, gpt-oss) are not counted: under 0.1 % of any
catalog model.
"""
from __future__ import annotations

from dataclasses import dataclass

MLP_KINDS = ("gated", "plain")
ATTENTION_KINDS = ("gqa", "mla")
NORM_KINDS = ("rmsnorm", "layernorm")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A decoder-only transformer (see module docstring for the arithmetic).

    ``ffn_hidden`` is one expert's intermediate size (the MLP width of a dense model); ``n_experts``
    = 1 for dense models, else each token is routed to ``experts_per_token`` of them.
    ``n_params``/``n_active_params`` are counts of parameters (total / used per token).
    MLA fields (``attention: mla``): ``q_lora_rank`` (0 = no query compression), ``kv_lora_rank``,
    ``qk_rope_head_dim``, ``qk_nope_head_dim``, ``v_head_dim``. ``sliding_layers`` of the
    ``n_layers`` attend only to the last ``sliding_window`` tokens (plus ``attention_sinks``
    first tokens kept, StreamingLLM-style). ``weight_dtype`` is the precision the weights are
    published in (``None``: bf16/fp16), ``expert_weight_dtype`` that of the routed experts when it
    differs (gpt-oss ships MXFP4 experts).
    """

    name: str
    n_layers: int
    hidden: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_hidden: int
    vocab: int
    n_params: float
    n_active_params: float
    n_experts: int = 1
    experts_per_token: int = 1
    max_context: int = 4096
    source: str = ""
    mlp: str = "gated"
    activation: str = "silu"
    norm: str = "rmsnorm"
    tied_embeddings: bool = False
    position_embeddings: int = 0
    attention: str = "gqa"
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    shared_ffn_hidden: int = 0
    first_k_dense: int = 0
    dense_ffn_hidden: int = 0
    sliding_window: int = 0
    sliding_layers: int = 0
    attention_sinks: int = 0
    weight_dtype: str | None = None
    expert_weight_dtype: str | None = None

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def is_mla(self) -> bool:
        return self.attention == "mla"

    @property
    def q_dim(self) -> int:
        """Width of the query projection: ``n_heads * head_dim`` (MLA: ``n_heads * (nope + rope)``)."""
        if self.is_mla:
            return self.n_heads * (self.qk_nope_head_dim + self.qk_rope_head_dim)
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of one of K or V, ``n_kv_heads * head_dim``."""
        return self.n_kv_heads * self.head_dim

    @property
    def o_dim(self) -> int:
        """Width of the attention output entering the O projection."""
        return self.n_heads * (self.v_head_dim if self.is_mla else self.head_dim)

    @property
    def mlp_matrices(self) -> int:
        """Weight matrices per MLP: 3 (gate, up, down) gated, 2 (up, down) plain."""
        return 3 if self.mlp == "gated" else 2

    @property
    def moe_layers(self) -> int:
        """Layers with routed experts (0 for a dense model)."""
        return self.n_layers - self.first_k_dense if self.is_moe else 0

    @property
    def full_attention_layers(self) -> int:
        """Layers whose KV cache grows with the whole context."""
        return self.n_layers - (self.sliding_layers if self.sliding_window else 0)


def attention_params(m: ModelSpec) -> int:
    """Attention weights of one layer (see module docstring)."""
    h = m.hidden
    if not m.is_mla:
        return h * (m.q_dim + 2 * m.kv_dim) + m.q_dim * h
    q = (h * m.q_lora_rank + m.q_lora_rank * m.q_dim + m.q_lora_rank) if m.q_lora_rank else h * m.q_dim
    kv = (h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
          + m.kv_lora_rank * m.n_heads * (m.qk_nope_head_dim + m.v_head_dim))
    return q + kv + m.o_dim * h


def layer_param_groups(m: ModelSpec) -> dict[str, int]:
    """Parameter totals over all layers by group: ``attention``, ``dense_mlp`` (dense layers'
    MLPs), ``shared`` (MoE layers' shared experts and routers) and ``expert`` (ONE routed expert
    summed over the MoE layers); plus ``outer`` (embeddings, lm head, final norm) and ``norms``."""
    h, mult = m.hidden, m.mlp_matrices
    norm = (2 if m.norm == "layernorm" else 1) * h
    lm = m.moe_layers
    dense_layers = m.n_layers - lm
    dense_f = m.dense_ffn_hidden or m.ffn_hidden
    outer = m.vocab * h * (1 if m.tied_embeddings else 2) + m.position_embeddings * h + norm
    return {
        "attention": m.n_layers * attention_params(m),
        "dense_mlp": dense_layers * mult * h * dense_f,
        "shared": lm * (mult * h * m.shared_ffn_hidden + h * m.n_experts),
        "expert": lm * mult * h * m.ffn_hidden,
        "norms": m.n_layers * 2 * norm,
        "outer": outer,
    }


def architecture_params(m: ModelSpec) -> tuple[float, float]:
    """(total, active-per-token) parameter counts implied by the architecture.

    Active counts the ``experts_per_token`` routed experts of each MoE layer and everything else
    (embedding and lm head included, as Mixtral's and DeepSeek's model cards count them).
    """
    g = layer_param_groups(m)
    base = g["attention"] + g["dense_mlp"] + g["shared"] + g["norms"] + g["outer"]
    if not m.is_moe:
        return float(base), float(base)
    return float(base + g["expert"] * m.n_experts), float(base + g["expert"] * m.experts_per_token)


def kv_elements_per_token(m: ModelSpec, layers: int | None = None) -> int:
    """KV-cache elements one token occupies over ``layers`` layers (default all), unsharded.

    GQA: ``2 * n_kv_heads * head_dim`` per layer; MLA: ``kv_lora_rank + qk_rope_head_dim`` (the
    compressed latent and the decoupled RoPE key, shared by all heads).
    """
    n = m.n_layers if layers is None else layers
    per_layer = (m.kv_lora_rank + m.qk_rope_head_dim) if m.is_mla else 2 * m.kv_dim
    return n * per_layer


def check_architecture(m: ModelSpec) -> list[tuple[str, str]]:
    """``(field, message)`` problems of a spec whose fields are individually valid."""
    out: list[tuple[str, str]] = []
    if m.mlp not in MLP_KINDS:
        out.append(("mlp", f"must be one of {', '.join(MLP_KINDS)} (got {m.mlp!r})"))
    if m.attention not in ATTENTION_KINDS:
        out.append(("attention", f"must be one of {', '.join(ATTENTION_KINDS)} (got {m.attention!r})"))
    if m.norm not in NORM_KINDS:
        out.append(("norm", f"must be one of {', '.join(NORM_KINDS)} (got {m.norm!r})"))
    if m.is_mla:
        for k in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
            if getattr(m, k) <= 0:
                out.append((k, "required (an integer > 0) for attention: mla"))
    else:       # read by MLA's attention only: on another it would be taken and priced nowhere
        out += [(k, f"applies only to attention: mla (this model's is {m.attention}; got {getattr(m, k)})")
                for k in ("q_lora_rank", "kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")
                if getattr(m, k)]
    if not m.is_moe:    # a dense model's MLPs are all ffn_hidden wide (FLOPs); its weights would read these
        out += [(k, f"applies only to a mixture of experts (n_experts > 1; this model has {m.n_experts}; got "
                    f"{getattr(m, k)})") for k in ("shared_ffn_hidden", "first_k_dense", "dense_ffn_hidden")
                if getattr(m, k)]
    if not m.is_mla and m.n_heads % m.n_kv_heads:
        out.append(("n_kv_heads", f"must divide n_heads={m.n_heads} (got {m.n_kv_heads})"))
    if m.experts_per_token > m.n_experts:
        out.append(("experts_per_token", f"must be <= n_experts={m.n_experts} (got {m.experts_per_token})"))
    if m.first_k_dense >= m.n_layers and m.is_moe:
        out.append(("first_k_dense", f"must be < n_layers={m.n_layers} (got {m.first_k_dense})"))
    if m.sliding_layers > m.n_layers:
        out.append(("sliding_layers", f"must be <= n_layers={m.n_layers} (got {m.sliding_layers})"))
    elif m.sliding_layers == m.n_layers and m.sliding_window:
        # the paged cache counts the full-attention layers' KV per token (sim.perf.memory): with none, a
        # token takes no block and the cache's size divided by zero
        out.append(("sliding_layers", f"must be < n_layers={m.n_layers}: a model whose every layer attends to a "
                                      "sliding window is not modelled (the KV cache holds the full-attention "
                                      "layers' tokens; give at least one)"))
    if m.sliding_layers and not m.sliding_window:
        out.append(("sliding_window", "required (an integer > 0) when sliding_layers > 0"))
    if m.sliding_window and not m.sliding_layers:       # no layer would attend to the window
        out.append(("sliding_layers", "required (an integer > 0: how many layers attend to the window) when "
                                      f"sliding_window > 0 (got sliding_window={m.sliding_window})"))
    return out
