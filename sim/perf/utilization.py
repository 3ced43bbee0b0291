"""Load factor and model-bandwidth utilization of a replica, from its step-time model.

Both are defined once here and used by the request-level summary, the fluid tier and the
autoscaler, so a number means the same in every tier.

**Work at the batch limits.** A replica serving requests of ``p`` prompt and ``o`` output tokens
(means) as fast as its batch limits allow keeps ``B`` sequences decoding, where

    B = max(1, min(max_num_seqs, kv_tokens // (p + o / 2)))

(a sequence holds ``p + o/2`` KV tokens on average over its life), prefills prompts ``k`` at a
time in prefill iterations, ``k = max(1, min(B, max_batched_tokens // p))``, and decodes in
iterations of ``B`` sequences at mean context ``p + o/2``. One request then costs

    s(p, o) = step(prefill k x p) / k + (o - 1) x step(decode B, context B (p + o/2)) / B

seconds of replica time (the prefill's last iteration emits the first token). ``1 / s`` is what
the replica could serve per second: the prefill/decode split of vLLM's scheduler without chunked
prefill; with chunked prefill the same work is mixed into fewer iterations, and ``s`` is an upper
bound on its cost (weights are read once per mixed iteration, not twice).

The closed form follows vLLM V0 and the means; the engine a pool runs (mixed iterations, whole-prompt
admission, prompts admitted as slots free, length variance) costs a request a measured multiple of it,
the pool's scheduler factor (:mod:`sim.serving.saturated`), which every tier applies through
:func:`sim.metrics.utilization.pool_seconds_per_request`.

**Load factor** = served work / replica time = ``N s(p, o) / R`` for ``N`` requests served in
``R`` replica-seconds: 1.0 means the pool ran at its batch limits, 0.5 that it could have served
twice the work. Unlike busy time (a replica with one sequence running is "busy"), it rises with
batch occupancy, so a planner reads headroom from it directly and an autoscaler can target it.

**MBU** (model bandwidth utilization) = HBM bytes moved / (GPU-seconds x peak HBM bandwidth), with
the bytes of each iteration from the roofline's byte terms (weights, KV cache read and written,
lm head, activations; :meth:`sim.perf.roofline.RooflineModel.breakdown`) of the iterations the
replica ran (:func:`steps_bytes`: the request-level engine counts its iterations, their tokens and
the KV they read; the fluid tier, which runs none, reads the bytes per busy second its capacity curve's
request-level runs counted, :func:`sim.fluid.grid.busy_bandwidth`), for the replica's layout (:func:`iteration_bytes`:
pipeline stages read their weights once per micro-batch of whole sequences, the lm head sits on the
last stage; data-parallel attention keeps the whole attention weights on every GPU and spreads the
sequences' KV traffic over the GPUs). Per GPU, the mean over the replica's GPUs: weights and heads
are split ``tp`` ways.

    >>> from sim.perf.linear import LinearModel
    >>> lim = BatchLimits(max_num_seqs=1, max_batched_tokens=10_000, kv_tokens=10**6)
    >>> seconds_per_request(LinearModel(per_prefill_token_s=0.001), lim, 1000.0, 1.0)
    1.0
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sim.perf.base import BatchShape, StepTimeModel
from sim.perf.parallel import micro_batch_sizes, micro_batches
from sim.perf.throughput import prefill_shape


class BatchLimits(NamedTuple):
    """The scheduler limits of one replica (``kv_tokens``: KV-cache capacity in tokens)."""

    max_num_seqs: int
    max_batched_tokens: int
    kv_tokens: int


def sequences_per_iteration(batching) -> int:
    """The most sequences one iteration of a scenario ``batching:`` block holds: a static batch's
    ``batch_size`` when it is set, else ``max_num_seqs``."""
    b = batching
    return int(b.batch_size if b.policy == "static" and b.batch_size else b.max_num_seqs)


def limits_of(batching, kv_blocks: int) -> BatchLimits:
    """The limits of one replica with a scenario ``batching:`` block and ``kv_blocks`` KV blocks
    (:func:`sequences_per_iteration` sequences)."""
    return BatchLimits(sequences_per_iteration(batching), int(batching.max_batched_tokens),
                       int(kv_blocks * batching.block_size))


def decode_batch(limits: BatchLimits, prompt_tokens: float, output_tokens: float) -> int:
    """``B``: sequences decoding together at the batch limits (see the module docstring)."""
    held = max(prompt_tokens + output_tokens / 2.0, 1.0)
    return max(1, min(int(limits.max_num_seqs), int(limits.kv_tokens // held)))


def request_seconds(model: StepTimeModel, limits: BatchLimits, prompt_tokens: float,
                    output_tokens: float) -> tuple[float, float]:
    """``s(p, o)`` in its two parts: (prefill, decode) replica-seconds at the batch limits."""
    p = max(int(round(prompt_tokens)), 1)
    o = max(float(output_tokens), 1.0)
    b = decode_batch(limits, p, o)
    k = max(1, min(b, int(limits.max_batched_tokens) // p))
    prefill = model.step_time(prefill_shape(k, p)) / k
    if o <= 1.0:
        return prefill, 0.0
    ctx = int(round(b * (p + o / 2.0)))
    return prefill, (o - 1.0) * model.step_time(BatchShape(decode_seqs=b, decode_context_tokens=ctx)) / b


def seconds_per_request(model: StepTimeModel, limits: BatchLimits, prompt_tokens: float,
                        output_tokens: float) -> float:
    """``s(p, o)``: replica-seconds one request costs at the batch limits (module docstring)."""
    prefill, decode = request_seconds(model, limits, prompt_tokens, output_tokens)
    return prefill + decode


def part_served(prefill_share: float, prompt_mean: float, output_mean: float, prompt, generated) -> float:
    """Requests' worth of work done on requests still in flight, in requests of the served mix (mean
    ``prompt_mean`` prompt and ``output_mean`` output tokens, ``prefill_share`` of its cost in the
    prefill), weighted by the tokens each was served: a request that has emitted its first token
    has had its ``prompt`` tokens prefilled (``prefill_share x prompt / prompt_mean``) and
    ``generated - 1`` tokens decoded (``(1 - prefill_share) x (generated - 1) / (output_mean - 1)``);
    one that has not counts 0 (queued, or part-way through a chunked prompt). No cap: a request
    whose prompt and tokens decoded so far are each twice the mix's counts 2 requests, what its
    tokens cost.

    >>> part_served(0.25, 100.0, 9.0, [100, 100, 100, 100], [0, 1, 5, 25])   # 0 + 0.25 + 0.625 + 2.5
    3.375
    """
    p = np.asarray(prompt, dtype=np.float64)
    g = np.asarray(generated, dtype=np.float64)
    decode = ((1.0 - prefill_share) * np.maximum(g - 1.0, 0.0) / (output_mean - 1.0) if output_mean > 1.0
              else np.zeros_like(g))
    return float(np.sum(np.where(g >= 1.0, prefill_share * p / max(prompt_mean, 1.0) + decode, 0.0)))


def load_factor(requests: float, replica_seconds: float, seconds_each: float) -> float:
    """Served work / replica time (0 when no replica time was provisioned)."""
    return requests * seconds_each / replica_seconds if replica_seconds > 0 else 0.0


def iteration_bytes(roofline, shape: BatchShape) -> float:
    """HBM bytes one iteration of ``shape`` moves per GPU of the replica (the mean over its GPUs);
    ``roofline`` is a :class:`~sim.perf.roofline.RooflineModel` of the replica's layout.

    One stage (``pp = 1``): the roofline's byte terms of the iteration on the mean GPU
    (:meth:`~sim.perf.roofline.RooflineModel.mean_gpu_bytes`: not the busiest data-parallel attention or
    expert-parallel rank the step waits for). ``pp`` stages: the iteration runs as the micro-batches of
    whole sequences the step time prices (:func:`sim.perf.parallel.micro_batches`), and every stage's
    GPUs move their layers' bytes once per micro-batch (weights are read ``m`` times an iteration); the
    lm head runs on the last stage only, so it counts ``1 / pp`` on the mean GPU. Summed over the
    replica's GPUs that is the one-stage replica's traffic plus ``m - 1`` more reads of the weights."""
    lay = roofline.layout
    parts = micro_batches(shape, lay.n_micro_batches) if lay.pp > 1 else [(1, shape)]
    total = 0.0
    for count, one in parts:
        total += count * _slot_bytes(roofline, one)
    return total


def _slot_bytes(roofline, one: BatchShape) -> float:
    """HBM bytes one micro-batch ``one`` moves per GPU (the mean GPU; one stage: the whole iteration):
    its layers' weights once, its tokens' and KV terms, the lm head's ``1 / pp``."""
    x = roofline.breakdown(one)
    linear_bytes, kv_bytes = roofline.mean_gpu_bytes(one)
    return linear_bytes + kv_bytes + x.activation_bytes + x.lm_head_bytes / roofline.layout.pp


def steps_bytes(roofline, iterations: int, tokens: int, kv_read: int, micro_batches: int | None = None,
                token_mix: dict | None = None) -> float:
    """HBM bytes (per GPU) of ``iterations`` iterations that processed ``tokens`` tokens (prompt and
    decode) and read ``kv_read`` cached KV tokens (the decoders' contexts, the prompt chunks' priors),
    as the engine counts them; ``roofline`` is a :class:`~sim.perf.roofline.RooflineModel` of the
    replica. ``micro_batches``: the micro-batches of whole sequences those iterations ran on
    ``pp > 1`` stages (each ``min(micro-batches of the layout, its sequences)``; ``None``: one per
    iteration, as on one stage). Every byte term of a micro-batch (:func:`iteration_bytes`) is a fixed
    amount per micro-batch (the stage's weights, the lm head) or proportional to its tokens (KV written,
    GEMM inputs and outputs, activations) or to the KV it reads, so the sum over the micro-batches is
    their count times the bytes of their mean: ``tokens / micro_batches`` tokens at
    ``kv_read / micro_batches`` context (interpolated between the whole counts around them). That is
    exact for a dense model. The routed experts an MoE micro-batch reads grow concavely with its tokens
    (:func:`sim.perf.moe.experts_hit`), so the mean would count more than the micro-batches read (one
    8,192-token prompt among 99 decodes of 8 sequences: 3.5 x DeepSeek-V3's bytes): ``token_mix``,
    the iterations by ``(prompts, decodes, tokens)``, replaces the mean's expert bytes by each
    micro-batch's own (its tokens as :func:`sim.perf.parallel.micro_batches` cuts them).

    >>> from sim.perf.roofline import RooflineModel
    >>> from sim.scenario.catalog import get_gpu, get_model
    >>> roof = RooflineModel(get_model("llama-3-8b"), get_gpu("h100-sxm"))
    >>> one = iteration_bytes(roof, BatchShape(decode_seqs=4, decode_context_tokens=4000))
    >>> steps_bytes(roof, 10, 40, 40_000) == 10 * one
    True
    """
    if iterations <= 0 or tokens <= 0:
        return 0.0
    if roofline.layout.pp > 1 and micro_batches:
        iterations = micro_batches   # the unit whose bytes are priced: a micro-batch, not the iteration
    seqs, ctx = tokens / iterations, kv_read / iterations
    lo, c_lo = max(int(seqs), 1), int(ctx)
    f_seqs, f_ctx = seqs - lo, ctx - c_lo

    def at(b: int) -> float:
        base = _slot_bytes(roofline, BatchShape(decode_seqs=b, decode_context_tokens=c_lo))
        if not f_ctx:
            return base
        return base + f_ctx * (_slot_bytes(roofline, BatchShape(decode_seqs=b, decode_context_tokens=c_lo + 1)) - base)

    mean = at(lo) if f_seqs <= 0 else (1 - f_seqs) * at(lo) + f_seqs * at(lo + 1)
    if not token_mix or not roofline.model.is_moe:
        return iterations * mean
    hit, most = roofline.experts_hit, roofline.layout.n_micro_batches if roofline.layout.pp > 1 else 1
    at_mean = hit(lo) if f_seqs <= 0 else (1 - f_seqs) * hit(lo) + f_seqs * hit(lo + 1)
    exact = 0.0
    for (prompts, decodes, n), count in sorted(token_mix.items()):
        prompt_tokens = n - decodes
        p = prompts or (1 if prompt_tokens else 0)
        for k, k_p, k_d in micro_batch_sizes(p, decodes, most):
            exact += count * k * hit(prompt_tokens * (k_p / (p or 1)) + k_d)
    return iterations * mean + roofline.expert_bytes * (exact - iterations * at_mean)


def mbu(bytes_moved_per_gpu: float, gpu_seconds_per_gpu: float, hbm_bytes_per_s: float) -> float:
    """Bytes moved / (time x peak bandwidth), per GPU (0 without time)."""
    if gpu_seconds_per_gpu <= 0 or not hbm_bytes_per_s > 0 or not math.isfinite(bytes_moved_per_gpu):
        return 0.0
    return bytes_moved_per_gpu / (gpu_seconds_per_gpu * hbm_bytes_per_s)
