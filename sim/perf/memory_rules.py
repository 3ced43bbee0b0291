"""How each serving engine sizes its KV cache at start-up: the memory it keeps back, and the rule that turns
the rest into cache.

Each engine's own rule (``engine`` of :func:`sim.perf.memory.memory_plan`); a pool's follows its
``batching.scheduler`` (:data:`SCHEDULER_ENGINE`): ``vllm-v1`` -> ``vllm``, ``sglang`` -> ``sglang``,
``vllm-v0`` and ``trtllm`` -> ``legacy`` (see there why TensorRT-LLM pools do not take ``trtllm`` yet). Per GPU, with ``H`` the
GPU's memory, ``f`` the pool's ``gpu_memory_utilization``, ``W`` the weights and ``R`` the reserve below.
``H`` is the total the CUDA runtime reports (``torch.cuda.mem_get_info()``; the catalog's ``reported_memory_gib``,
79.19 GiB on an "80 GB" H100) for ``vllm`` and ``sglang``, which share out that total; the datasheet's ``hbm_gb``
for ``legacy`` and ``trtllm`` (:func:`memory_gib`), whose rows (vLLM V0, MLPerf, TensorRT-LLM) were sized so:

``vllm``
    ``KV = f * H - W - R``. vLLM asks for ``f`` of the *total* memory and takes from it the weights and what a
    profiling run used (``vllm/v1/worker/gpu_worker.py``, ``determine_available_memory``: "Total non KV cache
    memory" = weights + torch peak increase + non-torch increase; ``Available KV cache memory`` = requested -
    that). ``R`` = the non-torch increase (:func:`runtime_bytes`) + the torch peak: the larger of one forward
    pass over ``max_batched_tokens`` tokens (:func:`forward_activation_bytes`) and the dummy sampler run over
    ``min(max_num_seqs, max_batched_tokens)`` sequences (:func:`sampler_bytes`; ``gpu_model_runner.profile_run``
    runs ``_dummy_run(max_num_tokens)`` then ``_dummy_sampler_run`` on one hidden state per request). CUDA
    graphs are captured after the cache is sized, in the ``1 - f`` left over (vLLM v0.19; later releases may
    count them, ``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS``).
``legacy``
    vLLM's rule with the terms of its V0 releases (removed in v0.10): :data:`V0_RUNTIME_BYTES` for the memory
    outside PyTorch (V0 logs: 1.79 GiB on one H100 and 3.58 GiB on each of two, 0.35 GiB on an RTX 3090) + one
    forward pass over ``max_batched_tokens`` tokens; fleetsim's sizing before the engines' rules were told
    apart. The ``vllm-v0`` preset keeps it (V0-era logs: +1.3 % to +6.9 %; +51 % for vLLM 0.2 on four
    A100s, which counted ~13 GiB a GPU outside PyTorch), and so does ``trtllm``: by TensorRT-LLM's own rule
    below, with the reserve fleetsim can estimate (its engines' runtime and decoder buffers are not published),
    NVIDIA NIM's Llama-3.3-70B fp8 TP2 deployment would hold ~7 % more KV than
    its published concurrency sweep shows (the held-out plateau of ``benchmarks/fixed_concurrency.py``: ITL
    -0.2 % by this rule, +5.5 % by TensorRT-LLM's; TTFT at 100 clients -8 % and -49 %).
``sglang``
    ``KV = f * (H - C) - W``. SGLang keeps ``1 - f`` of the memory it found free at start (``C`` taken before:
    the CUDA context and communication buffers, :func:`runtime_bytes`) for activations and CUDA graphs, and
    gives the cache what is left after the weights (``model_runner_kv_cache_mixin.profile_max_num_token``:
    ``rest_memory = available_gpu_memory - total_gpu_memory * (1 - mem_fraction_static)``; docs:
    "mem_fraction_static = (model weights + KV cache pool) / GPU memory capacity"). Pages of one token.
``trtllm``
    ``KV = f * (H - W - R)``. TensorRT-LLM's ``kv_cache_free_gpu_mem_fraction`` (``free_gpu_memory_fraction``
    of ``KvCacheConfig``) is a fraction of the memory *free* once the weights and activation buffers are in
    place (docs, "How to Change KV Cache Behavior": "The default for free_gpu_memory_fraction is 0.9, which
    means TensorRT LLM will try to allocate 90% of free GPU memory for KV cache"; "Memory Usage of
    TensorRT-LLM": TensorRT "pre-computes the activation tensors memory requirement at build time", for the
    engine's largest shapes). ``R`` = :func:`runtime_bytes` + the forward activations of
    ``max_batched_tokens`` (``max_num_tokens``) tokens.

The terms are measured, not fitted: vLLM v0.19.0 on H100-80GB (github.com/llm-d-incubation/llm-d-planner,
accuracy report, 2026-04): non-torch memory 0.24-0.27 GiB on one GPU and 2.06-2.21 GiB on each of two or
four (NCCL and custom all-reduce buffers), 0.07 GiB per pipeline stage of one GPU; torch peak 1.89 GiB for
Llama-3.1-8B (vocab 128,256) and 2.21 GiB for Qwen2.5-7B (vocab 152,064) at 1,024 sequences: 3.86 and 3.80
float32 logits of the batch, counted as :data:`SAMPLER_COPIES`. ``benchmarks/kv_capacity.py`` holds the rules
to the published start-up logs.

    >>> round(runtime_bytes(1) / 2**30, 2), round(runtime_bytes(4) / 2**30, 2)
    (0.25, 2.1)
"""
from __future__ import annotations

ENGINES = ("vllm", "legacy", "sglang", "trtllm")
"""The memory rules, by engine family."""

SCHEDULER_ENGINE = {"vllm-v0": "legacy", "vllm-v1": "vllm", "sglang": "sglang", "trtllm": "legacy"}
"""The memory rule of each ``batching.scheduler`` preset (``legacy`` for ``trtllm``: see the module docstring)."""

REPORTED_MEMORY_ENGINES = ("vllm", "sglang")
"""The rules whose ``H`` is the memory the CUDA runtime reports rather than the datasheet's: vLLM V1
(``gpu_worker.py``: ``requested_memory = total_gpu_memory * gpu_memory_utilization``, the total from
``torch.cuda.mem_get_info()``) and SGLang (``mem_fraction_static`` of the total it reads the same way)."""

RUNTIME_BYTES = 0.25 * 2**30
"""Per-GPU memory outside PyTorch's allocator on one GPU (CUDA libraries' workspaces): vLLM v0.19.0's
non-torch increase on one H100, 0.24-0.27 GiB (llm-d-planner accuracy report)."""

COLLECTIVE_BYTES = 1.85 * 2**30
"""Per-GPU memory a tensor-parallel group adds (NCCL and custom all-reduce buffers): vLLM v0.19.0's non-torch
increase is 2.06-2.21 GiB at TP2 and TP4 on H100 against 0.25 GiB at TP1 (llm-d-planner accuracy report)."""

V0_RUNTIME_BYTES = 2**30
"""Per-GPU memory outside the forward pass in the ``legacy`` rule (CUDA context, NCCL buffers, CUDA graphs):
1 GiB, between the 0.35 GiB (RTX 3090) and 1.79 GiB (H100) vLLM V0 releases of late 2024 logged."""

SAMPLER_COPIES = 4
"""Float32 copies of the sampled batch's logits at the dummy sampler run's peak (logits, their float32 cast,
probabilities, log-probabilities): 3.86 and 3.80 in vLLM v0.19.0's torch peak on H100 for Llama-3.1-8B and
Qwen2.5-7B at 1,024 sequences (1.89 and 2.21 GiB; llm-d-planner accuracy report)."""


def engine_of(scheduler: str | None) -> str:
    """The memory rule of a ``batching.scheduler`` preset (``vllm`` for anything else).

        >>> engine_of("sglang"), engine_of("vllm-v0"), engine_of("trtllm"), engine_of("vllm-v1"), engine_of(None)
        ('sglang', 'legacy', 'legacy', 'vllm', 'vllm')
    """
    return SCHEDULER_ENGINE.get(scheduler or "", "vllm")


def memory_gib(engine: str, hbm_gb: float, reported_gib: float | None) -> float:
    """``H`` of ``engine``'s rule in GiB: the CUDA-reported total ``reported_gib`` for the rules of
    :data:`REPORTED_MEMORY_ENGINES` (the datasheet's ``hbm_gb`` where it is not known), ``hbm_gb`` for the others.

        >>> memory_gib("vllm", 80, 79.19), memory_gib("sglang", 80, None), memory_gib("legacy", 80, 79.19)
        (79.19, 80, 80)
    """
    return reported_gib if engine in REPORTED_MEMORY_ENGINES and reported_gib is not None else hbm_gb


def runtime_bytes(tp: int) -> float:
    """Per-GPU memory outside the framework's allocator: CUDA libraries, plus the collective buffers of a
    tensor-parallel group (``tp > 1``)."""
    return RUNTIME_BYTES + (COLLECTIVE_BYTES if tp > 1 else 0.0)


def forward_activation_bytes(model, tp: int, max_batched_tokens: int) -> float:
    """Peak activations of one forward pass over ``max_batched_tokens`` tokens on one GPU, 2 bytes an element:
    the residual stream, normalised input, attention output and QKV (``4 * hidden``) and the gated MLP's
    up/gate intermediate (``2 * width / tp``; ``width`` the widest MLP a token passes through:
    ``ffn_hidden * experts_per_token`` plus the shared expert, or a leading dense layer's if larger)."""
    width = model.ffn_hidden * model.experts_per_token
    if model.shared_ffn_hidden or model.dense_ffn_hidden:
        width = max(width + model.shared_ffn_hidden, model.dense_ffn_hidden)
    return max_batched_tokens * (4 * model.hidden + 2 * width / tp) * 2.0


def sampler_bytes(model, max_num_seqs: int, max_batched_tokens: int) -> float:
    """Peak of vLLM's dummy sampler run: :data:`SAMPLER_COPIES` float32 logits over the whole vocabulary for
    one token of each of ``min(max_num_seqs, max_batched_tokens)`` sequences (the lm head's output is gathered
    whole on every tensor-parallel rank)."""
    return min(max_num_seqs, max_batched_tokens) * model.vocab * 4.0 * SAMPLER_COPIES


def reserve_bytes(engine: str, model, tp: int, max_batched_tokens: int, max_num_seqs: int) -> float:
    """Per-GPU memory the engine keeps from the KV cache besides the weights (``R`` in the module docstring;
    for ``sglang``, the memory taken before its snapshot, ``C``)."""
    if engine == "sglang":
        return runtime_bytes(tp)
    act = forward_activation_bytes(model, tp, max_batched_tokens)
    if engine == "legacy":
        return V0_RUNTIME_BYTES + act
    if engine == "vllm":
        act = max(act, sampler_bytes(model, max_num_seqs, max_batched_tokens))
    return runtime_bytes(tp) + act


def kv_bytes_per_gpu(engine: str, hbm: float, fraction: float, weights: float, reserve: float) -> float:
    """Bytes one GPU gives its KV cache (negative when the weights and reserve do not fit)."""
    if engine == "sglang":
        return fraction * (hbm - reserve) - weights
    if engine == "trtllm":
        free = hbm - weights - reserve
        return fraction * free if free > 0 else free
    return fraction * hbm - weights - reserve


def budget_words(engine: str, fraction: float, hbm_gb: float, reserve: float = 0.0) -> str:
    """The engine's rule in words, for ``fleetsim validate`` and the plan's messages (``reserve``: bytes per GPU,
    :func:`reserve_bytes`).

        >>> budget_words("vllm", 0.9, 80)
        '0.9 x 80 GiB'
        >>> budget_words("sglang", 0.9, 80, 0.25 * 2**30)
        "0.9 x (80 GiB - 0.25 GiB runtime) = 71.8 GiB for weights and KV (SGLang's mem_fraction_static)"
        >>> budget_words("trtllm", 0.9, 80)
        "0.9 x (80 GiB - weights - reserve) (TensorRT-LLM's kv_cache_free_gpu_mem_fraction)"
    """
    if engine == "sglang":
        return (f"{fraction:g} x ({hbm_gb:g} GiB - {reserve / 2**30:.2g} GiB runtime) = "
                f"{fraction * (hbm_gb - reserve / 2**30):,.1f} GiB for weights and KV (SGLang's mem_fraction_static)")
    if engine == "trtllm":
        return f"{fraction:g} x ({hbm_gb:g} GiB - weights - reserve) (TensorRT-LLM's kv_cache_free_gpu_mem_fraction)"
    return f"{fraction:g} x {hbm_gb:g} GiB"
