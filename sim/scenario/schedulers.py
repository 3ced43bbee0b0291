"""Scheduler presets: ``batching.scheduler`` names a serving engine and sets how it forms batches.

A preset fills the ``batching`` keys a scenario leaves out; any key written explicitly wins.
Three engine mechanisms distinguish the presets (the engine, :mod:`sim.serving.replica`, runs them):

``mixed_batches``
    New prompts are processed in the same iteration as the running decodes (one token each):
    decodes first, prompts fill the rest of the token budget. Without it an iteration that admits
    prompts runs prompts only and every running decode waits for it.
``chunked_prefill``
    A prompt longer than the budget left in an iteration is split; the rest continues in the
    following iterations. Without it a prompt must fit the budget whole (longer ones are rejected;
    under ``sglang`` one runs alone, as SGLang's prefill batch takes it) and waits, head of line, until
    it does. vLLM and TensorRT-LLM refuse to start with a budget under ``max_model_len`` and no chunking
    (:data:`BUDGET_REFUSALS`).
``kv_reservation``
    ``prompt``: a request holds its prompt's KV blocks on admission and grows block by block;
    when a decode needs a block and none is free the newest sequence is preempted and recomputed.
    ``full``: admission reserves the blocks of the whole sequence (prompt + output), so a started
    request is never preempted.

=========== ============= ================ ============== ============ =====================================
preset       mixed         chunked_prefill  token budget   KV           source
=========== ============= ================ ============== ============ =====================================
``vllm-v0``  = chunked     no               8,192          prompt       vLLM V0 scheduler (``vllm/core/scheduler.py``)
``vllm-v1``  yes           yes              8,192          prompt       vLLM V1 scheduler (``vllm/v1/core/sched/scheduler.py``)
``trtllm``   yes           no               8,192          full         TensorRT-LLM in-flight batching
``sglang``   no            yes              8,192          prompt       SGLang scheduler (``python/sglang/srt/managers/scheduler.py``)
=========== ============= ================ ============== ============ =====================================

Sources (github.com/vllm-project/vllm, github.com/NVIDIA/TensorRT-LLM, github.com/sgl-project/sglang):

- **vLLM V0** (removed in v0.10): without chunked prefill a step schedules either prefills or decodes,
  prefills first; with ``enable_chunked_prefill`` it runs decodes first and fills the budget with prompt
  chunks. Preemption by recompute. fleetsim keeps 8,192 tokens as V0's budget (V0 itself defaulted to
  ``max(max_model_len, 2048)`` without chunked prefill).
- **vLLM V1** (the only scheduler since V0 was removed): one token budget per step shared by every
  request, running requests (decodes) first, then waiting ones, prompts chunked to the remaining budget;
  chunked prefill always on; preemption by recompute. ``EngineArgs.get_batch_defaults``
  (``vllm/engine/arg_utils.py``) sets ``max_num_batched_tokens`` 8,192 for the OpenAI server on GPUs with
  >= 70 GiB other than A100 (2,048 otherwise) and ``max_num_seqs`` 1,024 there (256 otherwise); fleetsim
  takes 8,192 tokens and keeps 256 sequences for every GPU (set them per pool to match a deployment).
- **TensorRT-LLM**: in-flight batching processes context-phase and generation-phase requests in one
  forward pass ("sequences in the context phase can be processed together with sequences in the
  generation phase", docs: features/paged-attention-ifb-scheduler); ``max_num_tokens`` default 8,192;
  chunked context off unless ``enable_chunked_context``; the default capacity scheduler policy
  ``GUARANTEED_NO_EVICT`` admits a request only if its whole KV cache fits, so "a started request is
  never paused" (docs: performance/performance-tuning-guide/useful-runtime-flags).
- **SGLang**: the scheduler runs a prefill (extend) batch whenever new requests can be admitted, and a
  decode batch otherwise (prefill batches do not carry the running decodes unless
  ``--enable-mixed-chunk``); prompts longer than ``--chunked-prefill-size`` (8,192 on large GPUs) are
  chunked; when the KV pool runs out, decoding requests are retracted and recomputed.

    >>> resolve_batching({"scheduler": "trtllm"})["mixed_batches"]
    True
    >>> resolve_batching({"scheduler": "vllm-v0", "chunked_prefill": True})["mixed_batches"]
    True
    >>> resolve_batching({})["scheduler"]
    'vllm-v1'
"""
from __future__ import annotations

from typing import Any, Literal

SchedulerName = Literal["vllm-v0", "vllm-v1", "trtllm", "sglang"]
DEFAULT_SCHEDULER = "vllm-v1"

PRESETS: dict[str, dict[str, Any]] = {
    "vllm-v0": {"max_num_seqs": 256, "max_batched_tokens": 8192, "chunked_prefill": False,
                "kv_reservation": "prompt"},
    "vllm-v1": {"max_num_seqs": 256, "max_batched_tokens": 8192, "chunked_prefill": True, "mixed_batches": True,
                "kv_reservation": "prompt"},
    "trtllm": {"max_num_seqs": 256, "max_batched_tokens": 8192, "chunked_prefill": False, "mixed_batches": True,
               "kv_reservation": "full"},
    "sglang": {"max_num_seqs": 256, "max_batched_tokens": 8192, "chunked_prefill": True, "mixed_batches": False,
               "kv_reservation": "prompt"},
}
"""Each preset's defaults for the ``batching`` keys (``vllm-v0``'s ``mixed_batches`` follows ``chunked_prefill``)."""

_ITERATION_KEYS = ("chunked_prefill", "mixed_batches", "kv_reservation")

BUDGET_REFUSALS = {
    "vllm-v0": "vLLM refuses to start: 'max_num_batched_tokens (...) is smaller than max_model_len (...)', "
               "SchedulerConfig without enable_chunked_prefill",
    "vllm-v1": "vLLM refuses to start: 'max_num_batched_tokens (...) is smaller than max_model_len (...)', "
               "SchedulerConfig without enable_chunked_prefill",
    "trtllm": "TensorRT-LLM refuses to start: 'Without enabling chunked context, the max context length (...) needs "
              "to be less than or equal to the max number of tokens (...)', max_num_tokens without "
              "enable_chunked_context",
}
"""Why a pool of each preset does not start with ``max_batched_tokens < max_model_len`` and chunked prefill off:
vLLM's ``SchedulerConfig._verify_args`` (``vllm/config``) and TensorRT-LLM's ``MicroBatchScheduler`` /
``TrtGptModelInflightBatching`` (``cpp/tensorrt_llm/batch_manager``) check it at start. SGLang does not: with
``--chunked-prefill-size -1`` its ``PrefillAdder`` (``python/sglang/srt/managers/schedule_policy.py``) admits the
first prompt of a prefill batch whole even past the input budget (``max_prefill_tokens``), so a longer prompt
runs alone (:func:`budget_caps_prompts`)."""


def budget_caps_prompts(b) -> bool:
    """Whether a prompt longer than ``b.max_batched_tokens`` (a resolved ``batching`` block) can never run: not
    chunked, and not ``sglang``, whose prefill batch takes one such prompt alone (:data:`BUDGET_REFUSALS`).

        >>> from types import SimpleNamespace as B
        >>> [budget_caps_prompts(B(chunked_prefill=False, policy="continuous", scheduler=s)) for s in ("vllm-v0", "sglang")]
        [True, False]
    """
    return not b.chunked_prefill and b.policy != "static" and b.scheduler != "sglang"


def resolve_batching(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a ``batching`` mapping) with the keys it leaves out taken from its scheduler preset.

    Static batching has no iteration-level admission: the preset's chunking, mixing and KV
    reservation are not applied to it (explicit keys still are, and are checked).
    An unknown scheduler name is left for the schema to report.
    """
    out = dict(data)
    name = out.setdefault("scheduler", DEFAULT_SCHEDULER)
    preset = PRESETS.get(name) if isinstance(name, str) else None
    if preset is None:
        return out
    static = out.get("policy") == "static"
    for key, value in preset.items():
        if static and key in _ITERATION_KEYS:
            continue
        out.setdefault(key, value)
    if "mixed_batches" not in out:
        out["mixed_batches"] = bool(out.get("chunked_prefill", False)) and not static
    return out
