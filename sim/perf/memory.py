"""Memory plan of one replica: weights, the engine's reserve, and what is left for the KV cache.

Each of the ``tp`` GPUs holds its shard of the weights; the serving engine keeps back a reserve (activations
of its profiling run, CUDA libraries, collective buffers) and sizes the cache by its own rule from the
pool's ``gpu_memory_utilization`` (``f``): vLLM ``f * H - W - R`` (a share of the total memory ``H``), SGLang
``f * (H - C) - W`` (``mem_fraction_static``), TensorRT-LLM ``f * (H - W - R)`` (a share of the memory left
free; ``engine="trtllm"`` only: the ``trtllm`` and ``vllm-v0`` presets keep vLLM's rule with V0's terms,
``legacy``); :mod:`sim.perf.memory_rules` has the rules, their terms and sources. For the whole replica::

    kv_capacity_bytes = tp * kv_bytes_per_gpu(engine, H, f, W, R)
    kv_blocks = floor(kv_capacity_bytes / (kv_bytes_per_token * block_size))

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
from contextvars import ContextVar
from dataclasses import dataclass, replace

from sim import humanize
from sim.perf import memory_rules
from sim.perf.parallel import Layout, check_layout
from sim.scenario.architecture import kv_elements_per_token, layer_param_groups
from sim.scenario.catalog import GPUSpec, ModelSpec

BYTES_PER_ELEMENT = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp4": 0.5}
"""Bytes per weight or KV element; fp4 ignores the (small) block-scale overhead."""

RUNTIME_RESERVE_BYTES = memory_rules.RUNTIME_BYTES
"""Per-GPU memory outside the framework's allocator on one GPU (:data:`sim.perf.memory_rules.RUNTIME_BYTES`,
0.25 GiB; a tensor-parallel group adds its collective buffers, :func:`~sim.perf.memory_rules.runtime_bytes`).
Until the engines' rules were told apart this was the 1 GiB every pool reserved, now the ``legacy`` rule's
:data:`~sim.perf.memory_rules.V0_RUNTIME_BYTES`. Kept for callers; the plan itself does not read it."""


ADMISSION_WATERMARK = 0.01
"""Share of a replica's KV blocks admission keeps free (vLLM's ``watermark=0.01``;
:class:`sim.serving.kv_cache.KVCache`)."""


def admitted_tokens(blocks: int, block_size: int) -> int:
    """Token slots of the blocks a cache of ``blocks`` admits one sequence into, those above the watermark: the
    longest sequence a ``sglang`` pool whose cache is shorter than its context serves (SGLang starts with it,
    ``max_req_len = min(context_len - 1, max_total_num_tokens - 1)``), so that one cut there is served.

        >>> admitted_tokens(425, 16)      # 4 blocks kept free
        6736
    """
    return (blocks - int(ADMISSION_WATERMARK * blocks)) * block_size


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
    engine: str = "vllm"
    budget: str = ""
    """The engine's rule in words (``0.9 x 80 GiB``; :func:`sim.perf.memory_rules.budget_words`)."""


def check_parallelism(model: ModelSpec, tp: int | Layout) -> str | None:
    """``None`` if the layout (or tensor-parallel size ``tp``) can shard ``model``, else what is allowed.

    TP must divide the attention heads, and either divide the KV heads or be a multiple of them
    (MLA and data-parallel attention: any TP); see :func:`sim.perf.parallel.check_layout`.
    """
    lay = tp if isinstance(tp, Layout) else None
    t = lay.tp if lay is not None else tp
    if isinstance(t, bool) or not isinstance(t, int) or t < 1:
        return f"tensor_parallel must be an integer >= 1 (got {t!r})"
    problems = check_layout(model.n_heads, model.n_kv_heads, model.n_experts, model.is_mla,
                            lay if lay is not None else Layout(tp=t), model.n_layers)
    return "; ".join(f"{k} {m}" for k, m in problems) or None


def stage_layers(model: ModelSpec, pp: int) -> int:
    """Layers of the largest of ``pp`` pipeline stages, ``ceil(n_layers / pp)``."""
    return -(-model.n_layers // pp)


@dataclass(frozen=True, slots=True)
class StageWeights:
    """Per-GPU weights of the largest pipeline stage (bytes), as the roofline reads them.

    ``fixed_bytes``: attention, dense MLPs, shared experts and routers (read every step);
    ``expert_bytes``: ONE routed expert over the stage's MoE layers (the dense MLP of a dense
    model), read once per distinct expert hit; ``lm_head_bytes`` and ``embedding_bytes``;
    ``active_params_per_token``: parameters a token multiplies through in the stage (linear FLOPs
    are twice that); ``mlp_width_per_layer``: summed MLP GEMM output widths per token and layer.
    """

    fixed_bytes: float
    expert_bytes: float
    n_experts: int
    lm_head_bytes: float
    embedding_bytes: float
    active_params_per_token: float
    mlp_width_per_layer: float

    @property
    def resident_bytes(self) -> float:
        """Weights one GPU of the largest stage holds (lm head and embedding: both on one stage
        only when there is a single stage; the larger of the two otherwise)."""
        return self.fixed_bytes + self.expert_bytes * self.n_experts + self.lm_head_bytes + self.embedding_bytes


def stage_weights(model: ModelSpec, lay: Layout, weight_dtype: str = "bf16",
                  expert_dtype: str | None = None) -> StageWeights:
    """Per-GPU weight bytes of ``model`` laid out as ``lay`` (see :class:`StageWeights`).

    Everything is split ``tp`` ways except the attention under data-parallel attention, which
    every GPU holds whole (and the dense layers, shared experts and router with it when the experts
    are whole per GPU, :func:`data_parallel_dense`). A single stage holds all layers (exact integer
    arithmetic: the same numbers the roofline always used); ``pp`` stages hold ``ceil(n_layers / pp)``
    each.
    """
    m, tp = model, lay.tp
    wb = BYTES_PER_ELEMENT[weight_dtype]
    ewb = BYTES_PER_ELEMENT[expert_dtype or weight_dtype]
    g = layer_param_groups(m)
    h, k = m.hidden, m.experts_per_token
    attn = g["attention"] * (tp if lay.dp_attention else 1)
    if m.is_moe:
        # data-parallel attention with whole experts per GPU: everything but the routed experts is
        # data-parallel too, whole on every GPU (dense layers, shared experts, router)
        dp = tp if data_parallel_dense(m, lay) else 1
        fixed, expert = attn + (g["dense_mlp"] + g["shared"]) * dp, g["expert"]
        active = g["attention"] + g["dense_mlp"] + g["shared"] + g["expert"] * k
        if m.first_k_dense or m.shared_ffn_hidden:
            width = m.mlp_matrices * (m.first_k_dense * (m.dense_ffn_hidden or m.ffn_hidden)
                                      + m.moe_layers * (m.ffn_hidden * k + m.shared_ffn_hidden)) / m.n_layers
        else:
            width = m.mlp_matrices * m.ffn_hidden * k
    else:
        fixed, expert = attn, g["dense_mlp"]
        active = g["attention"] + g["dense_mlp"]
        width = m.mlp_matrices * m.ffn_hidden
    if lay.pp > 1:
        s = stage_layers(m, lay.pp) / m.n_layers
        fixed, expert, active = fixed * s, expert * s, active * s
    table = h * m.vocab * wb / tp
    return StageWeights(fixed_bytes=fixed * wb / tp, expert_bytes=expert * ewb / tp,
                        n_experts=m.n_experts if m.is_moe else 1, lm_head_bytes=table,
                        embedding_bytes=(0.0 if (m.tied_embeddings or lay.pp > 1) else table)
                        + m.position_embeddings * h * wb / tp,
                        active_params_per_token=float(active), mlp_width_per_layer=width)


def data_parallel_dense(model: ModelSpec, lay: Layout) -> bool:
    """True when a MoE layout runs its dense layers, shared experts and router data-parallel, whole on
    every GPU and on that GPU's own tokens, with no collectives: data-parallel attention with whole
    experts per GPU (``expert_parallel = tensor_parallel > 1``), as TensorRT-LLM (blog 3: shared
    experts, router and attention DP8 beside EP8 experts), SGLang (``--moe-dense-tp-size 1``) and vLLM's
    data-parallel expert parallelism run them. Only the routed experts' tokens are exchanged."""
    return model.is_moe and lay.dp_attention and lay.ep == lay.tp > 1


def kv_bytes_per_token(model: ModelSpec, tp: int | Layout = 1, kv_dtype: str = "bf16") -> int:
    """KV-cache bytes one token occupies across the whole replica (see module docstring).

    Counts the full-attention layers; sliding-window layers hold at most ``window + sinks`` tokens
    per sequence (:func:`sliding_kv_bytes_per_seq`).
    """
    lay = tp if isinstance(tp, Layout) else Layout(tp=tp)
    layers = model.full_attention_layers
    return _kv_bytes(model, lay, kv_dtype, layers)


def _kv_bytes(model: ModelSpec, lay: Layout, kv_dtype: str, layers: int) -> int:
    kb = BYTES_PER_ELEMENT[kv_dtype]
    if model.is_mla:   # the latent is replicated on every tensor-parallel rank
        return int(kv_elements_per_token(model, layers) * kb * (1 if lay.dp_attention else lay.tp))
    kv_heads = model.n_kv_heads if lay.dp_attention else max(model.n_kv_heads, lay.tp)
    return int(2 * layers * kv_heads * model.head_dim * kb)


def activation_reserve_bytes_per_gpu(model: ModelSpec, tp: int, max_batched_tokens: int = 8192,
                                     max_num_seqs: int = 256, engine: str = "vllm") -> float:
    """Per-GPU memory ``engine`` keeps from the KV cache besides the weights, in bytes
    (:func:`sim.perf.memory_rules.reserve_bytes`): the runtime's memory, plus for ``vllm`` the larger of one
    forward pass over ``max_batched_tokens`` tokens and its dummy sampler run over ``max_num_seqs`` sequences,
    for ``trtllm`` the forward pass; ``legacy`` is 1 GiB plus the forward pass, ``sglang`` the runtime alone
    (the memory taken before its share is measured)."""
    return memory_rules.reserve_bytes(engine, model, tp, max_batched_tokens, max_num_seqs)


def sliding_kv_bytes_per_seq(model: ModelSpec, lay: Layout, kv_dtype: str = "bf16") -> int:
    """KV bytes one sequence holds at most in the sliding-window layers (0 without them)."""
    if not model.sliding_window or not model.sliding_layers:
        return 0
    return _kv_bytes(model, lay, kv_dtype, model.sliding_layers) * (model.sliding_window + model.attention_sinks)


def _gib(n_bytes: float) -> str:
    """Bytes in GiB with one decimal and the unit (:func:`sim.humanize.gib`: thousands separators;
    past a million GiB, an inline model or GPU of absurd size, three significant figures, not a line of
    300 digits); under 0.05 GiB (which one decimal would call 0) in MiB, KiB or bytes, three significant
    figures.

        >>> _gib(16.5 * 2**30), _gib(2**40 * 2**30), _gib(1e-6 * 2**30), _gib(3 * 2**20), _gib(0)
        ('16.5 GiB', '1.1e+12 GiB', '1.05 KiB', '3 MiB', '0.0 GiB')
        >>> _gib(1246.7 * 2**30)
        '1,246.7 GiB'
    """
    x = n_bytes / 2**30
    if x == 0 or abs(x) >= 0.05:
        return f"{humanize.gib(n_bytes, 1)} GiB"
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if abs(n_bytes) >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes:.3g} bytes"


_PROBING: ContextVar[bool] = ContextVar("_PROBING", default=False)
"""True while :func:`_fits` asks :func:`memory_plan` whether a layout fits: the plan then skips the searches that
only its message uses (a wider TP, the max_num_seqs that fits), which would otherwise nest in each other."""


def _fits(model: ModelSpec, gpu: GPUSpec, lay: Layout, *args) -> bool:
    """Whether :func:`memory_plan` of ``lay`` (the other arguments as given) holds a KV block."""
    token = _PROBING.set(True)
    try:
        return memory_plan(model, gpu, lay, *args).fits
    except ValueError:          # a layout the model cannot take (heads not divisible by the TP size)
        return False
    finally:
        _PROBING.reset(token)


def memory_plan(model: ModelSpec, gpu: GPUSpec, tp: int | Layout, gpu_memory_utilization: float = 0.9,
                weight_dtype: str = "bf16", kv_dtype: str = "bf16", block_size: int = 16,
                max_batched_tokens: int = 8192, max_num_seqs: int = 256,
                expert_dtype: str | None = None, engine: str = "vllm") -> MemoryPlan:
    """Weights, the engine's reserve and KV-cache blocks of one replica (``tp`` GPUs or a :class:`Layout`).

    ``engine`` (``vllm``, ``legacy``, ``sglang``, ``trtllm``; a pool's follows its ``batching.scheduler``,
    :func:`sim.perf.memory_rules.engine_of`) picks the rule
    that turns ``gpu_memory_utilization`` into cache (:mod:`sim.perf.memory_rules`).
    MoE models must hold every expert's weights (``n_params``), not only the active ones.
    A pipelined replica is sized by its largest stage (``ceil(n_layers / pp)`` layers plus the
    larger of embedding and lm head): every stage holds each token's KV for its own layers, so the
    tokens the cache holds are that stage's room over its share of the KV per token. Sliding-window layers take
    ``max_num_seqs * (window + sinks)`` tokens' worth of their KV off the top; the blocks count
    full-attention layers only. ``fits`` is False when the weights and reserve leave no room for a
    single KV block; ``reason`` says why and by how much, or how many tokens the cache holds.
    Under data-parallel attention each GPU runs ``ceil(max_num_seqs / tp)`` whole sequences, and vLLM's
    sampler run in its reserve covers those.
    """
    lay = tp if isinstance(tp, Layout) else Layout(tp=tp)
    problem = check_parallelism(model, lay)
    if problem:
        raise ValueError(problem)
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1] (got {gpu_memory_utilization})")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1 (got {block_size})")
    if engine not in memory_rules.ENGINES:
        raise ValueError(f"engine must be one of {', '.join(memory_rules.ENGINES)} (got {engine!r})")
    t, n_gpus = lay.tp, lay.gpus
    edt = expert_dtype or weight_dtype
    if lay.pp == 1 and not lay.dp_attention and edt == weight_dtype:
        weights_per_gpu = model.n_params * BYTES_PER_ELEMENT[weight_dtype] / t
    else:
        weights_per_gpu = stage_weights(model, lay, weight_dtype, edt).resident_bytes
    f = gpu_memory_utilization
    # data-parallel attention: each GPU runs whole sequences, 1/tp of them, and samples only those
    seqs = -(-max_num_seqs // t) if lay.dp_attention else max_num_seqs
    reserve_per_gpu = activation_reserve_bytes_per_gpu(model, t, max_batched_tokens, seqs, engine)
    # H: the total the CUDA runtime reports for vLLM V1 and SGLang, the datasheet's for the others
    mem_gb = memory_rules.memory_gib(engine, gpu.hbm_gb, gpu.reported_memory_gib)
    mem_bytes = mem_gb * 2**30
    usable_per_gpu = mem_bytes * f
    room = memory_rules.kv_bytes_per_gpu(engine, mem_bytes, f, weights_per_gpu, reserve_per_gpu)
    budget = memory_rules.budget_words(engine, f, mem_gb, reserve_per_gpu)
    capacity = room * n_gpus
    if lay.pp > 1:   # the largest stage binds: its GPUs' room over its share of each token's KV
        capacity = room * t * model.n_layers / stage_layers(model, lay.pp)
    window_bytes = sliding_kv_bytes_per_seq(model, lay, kv_dtype) * max_num_seqs
    capacity -= window_bytes
    kv_tok = kv_bytes_per_token(model, lay, kv_dtype)
    blocks = max(0, math.floor(capacity / (kv_tok * block_size))) if capacity > 0 else 0
    tokens = blocks * block_size
    shape = f"{t}x {gpu.name}" if lay.pp == 1 else f"{lay.pp} stages of {t}x {gpu.name}"
    of = budget if engine == "sglang" else f"{f:g} x {mem_gb:g} GiB = {_gib(usable_per_gpu)}"
    if blocks == 0 and capacity > 0:     # room, but not for one block: it said weights and reserve exceed the GPU
        if engine == "sglang":      # the runtime is already outside SGLang's share (``of`` says so)
            after = f"after weights {_gib(weights_per_gpu)} per GPU of {of}"
        elif engine == "trtllm":    # the cache's share is of what weights and reserve leave
            after = (f"after weights {_gib(weights_per_gpu)} + reserve {_gib(reserve_per_gpu)} per GPU, {f:g} of "
                     f"the {_gib(mem_bytes - weights_per_gpu - reserve_per_gpu)} they leave of "
                     f"{mem_gb:g} GiB (TensorRT-LLM's kv_cache_free_gpu_mem_fraction)")
        else:
            after = f"after weights {_gib(weights_per_gpu)} + reserve {_gib(reserve_per_gpu)} per GPU of {of}"
        reason = (f"{model.name} does not fit on {shape}: {after}, the {_gib(capacity / n_gpus)} per GPU left for "
                  f"the KV cache holds not one block of {block_size:,} tokens ({_gib(kv_tok * block_size / n_gpus)} "
                  f"per GPU); use a smaller batching.block_size (vLLM's default: 16)")
    elif blocks == 0:
        need = (kv_tok * block_size - capacity) / n_gpus          # the KV room each GPU lacks
        short = need / f if engine == "trtllm" and room >= 0 else need
        if engine == "trtllm" and room < 0:
            short = -room + (kv_tok * block_size + window_bytes) / n_gpus / f
        # the sliding-window layers' KV of max_num_seqs sequences is held off the top (a share per GPU)
        window = (f" + the sliding-window layers' KV of {max_num_seqs:,} sequences "
                  f"{_gib(window_bytes / n_gpus)}") if window_bytes else ""
        wider, probing = None, _PROBING.get()
        if not probing and lay == replace(lay, tp=t, pp=1, ep=1, dp_attention=False):  # plain TP: the TP that fits
            wider = next((w for w in (2, 4, 8, 16, 32, 64) if w > t and _fits(
                model, gpu, replace(lay, tp=w), gpu_memory_utilization, weight_dtype, kv_dtype, block_size,
                max_batched_tokens, max_num_seqs, expert_dtype, engine)), None)
        if engine == "sglang":      # the runtime is outside SGLang's share: the weights alone exceed it
            what = f"weights {_gib(weights_per_gpu)}{window} per GPU exceed {of}"
        elif engine == "trtllm":    # TensorRT-LLM gives the cache a share of what weights and reserve leave
            left = mem_bytes - weights_per_gpu - reserve_per_gpu
            what = (f"weights {_gib(weights_per_gpu)} + reserve {_gib(reserve_per_gpu)}{window} per GPU leave "
                    f"{_gib(max(left, 0.0))} of {mem_gb:g} GiB, {f:g} of it for the KV cache "
                    "(TensorRT-LLM's kv_cache_free_gpu_mem_fraction)")
        else:
            what = (f"weights {_gib(weights_per_gpu)} + reserve {_gib(reserve_per_gpu)}{window} per GPU exceed "
                    f"{of}")
        # vLLM profiles its sampler over max_num_seqs sequences: a large max_num_seqs is most of the reserve
        sampler = (memory_rules.sampler_bytes(model, seqs, max_batched_tokens) if engine == "vllm" else 0.0)
        many = sampler > memory_rules.forward_activation_bytes(model, t, max_batched_tokens) and sampler > 2**30
        fewer = " (or fewer batching.max_num_seqs)" if window_bytes or many else ""
        if many and not probing:  # the most sequences whose sampler run leaves a block
            args = (gpu_memory_utilization, weight_dtype, kv_dtype, block_size, max_batched_tokens)
            lo, hi = 0, max_num_seqs
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _fits(model, gpu, lay, *args, mid, expert_dtype, engine) else (lo, mid)
            fewer = f" (or batching.max_num_seqs <= {lo:,} fits)" if lo else fewer
        # a large token budget is most of the reserve by its forward pass (all rules but SGLang's, whose share
        # holds activations): the largest budget that leaves a block, as for max_num_seqs above
        act = memory_rules.forward_activation_bytes(model, t, max_batched_tokens) if engine != "sglang" else 0.0
        wide = act > sampler and act > 2**30 and not probing
        if wide:
            args = (gpu_memory_utilization, weight_dtype, kv_dtype, block_size)
            lo, hi = 0, max_batched_tokens
            while hi - lo > 1:
                mid = (lo + hi) // 2
                fit = _fits(model, gpu, lay, *args, mid, max_num_seqs, expert_dtype, engine)
                lo, hi = (mid, hi) if fit else (lo, mid)
            wide = lo > 0       # said only where a smaller budget fits (the weights alone may exceed the GPU)
            if wide:
                fewer = (f" (or batching.max_batched_tokens <= {lo:,} fits"
                         f"{', or fewer batching.max_num_seqs' if window_bytes else ''})")
        sampled = ("max_batched_tokens, fewer than max_num_seqs" if seqs > max_batched_tokens
                   else "max_num_seqs" if seqs == max_num_seqs else "max_num_seqs per GPU")
        why = (f"; vLLM's sampler run over {min(seqs, max_batched_tokens):,} sequences ({sampled}) is "
               f"{_gib(sampler)} of the reserve") if many else (
            f"; the forward pass over {max_batched_tokens:,} tokens (max_batched_tokens) is {_gib(act)} of the "
            "reserve") if wide else ""
        reason = (f"{model.name} does not fit on {shape}: {what} "
                  f"(short by {_gib(short)} per GPU{why}); "
                  f"use a larger tensor_parallel{f' ({wider} fits)' if wider else ''} or pipeline_parallel, a "
                  f"smaller weight_dtype or a GPU with more memory{fewer}")
    else:
        reason = (f"KV cache holds {tokens:,} tokens ({blocks:,} blocks of {block_size}), "
                  f"{tokens / model.max_context:.1f} sequences of max_context={model.max_context}")
        if tokens < model.max_context:
            reason += "; a single sequence of max_context does not fit"
    return MemoryPlan(weights_bytes_per_gpu=weights_per_gpu, kv_bytes_per_token=kv_tok,
                      activation_reserve_bytes=reserve_per_gpu * n_gpus, kv_capacity_bytes=max(capacity, 0.0),
                      kv_blocks=blocks, kv_tokens=tokens, block_size=block_size, fits=blocks > 0,
                      reason=reason, engine=engine, budget=budget)
