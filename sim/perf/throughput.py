"""Closed-form throughput of a static (offline) batch, from a step-time model.

An offline benchmark run with a fixed batch of ``batch`` prompts of ``input_tokens`` each, generating
``output_tokens`` each, takes one prefill phase (prompts packed whole into iterations of at most
``max_batched_tokens`` tokens; each prefill iteration emits the first token of its sequences) and
then ``output_tokens - 1`` decode iterations whose context grows by one token per sequence:

    time = sum_prefill_iterations step(prefill) + sum_{j=1}^{output_tokens-1} step(decode, batch, batch*(input_tokens+j))

and the output throughput is ``batch * output_tokens / time`` tokens/s. This is the steady-state
estimate used by calibration and, until the full simulator is wired in, by the validation report.

    >>> from sim.perf.linear import LinearModel
    >>> static_batch_throughput(LinearModel(base_s=0.01), batch=4, input_tokens=10, output_tokens=3)
    400.0
"""
from __future__ import annotations

import numpy as np

from sim.perf.base import BatchShape, StepTimeModel


def prefill_shape(n_seqs: int, prompt_tokens: int) -> BatchShape:
    """Shape of one iteration prefilling ``n_seqs`` whole prompts of ``prompt_tokens`` from an empty cache."""
    return BatchShape(prefill_tokens=n_seqs * prompt_tokens, prefill_seqs=n_seqs,
                      prefill_attn_pairs=n_seqs * prompt_tokens * (prompt_tokens + 1) / 2.0,
                      prefill_kv_tokens=n_seqs * prompt_tokens)


def static_batch_seconds(model: StepTimeModel, batch: int, input_tokens: int, output_tokens: int,
                         max_batched_tokens: int | None = None) -> float:
    """Seconds to run one static batch to completion (see module docstring)."""
    if batch < 1 or input_tokens < 1 or output_tokens < 1:
        raise ValueError(f"batch, input_tokens, output_tokens must be >= 1 (got {batch}, {input_tokens}, {output_tokens})")
    per_iter = batch if max_batched_tokens is None else max(1, min(batch, max_batched_tokens // input_tokens))
    total = 0.0
    left = batch
    while left > 0:
        n = min(per_iter, left)
        total += model.step_time(prefill_shape(n, input_tokens))
        left -= n
    if output_tokens > 1:
        ctx = batch * (input_tokens + np.arange(1, output_tokens, dtype=np.int64))
        total += float(np.sum(model.decode_times(batch, ctx)))
    return total


def static_batch_throughput(model: StepTimeModel, batch: int, input_tokens: int, output_tokens: int,
                            max_batched_tokens: int | None = None) -> float:
    """Output tokens per second of one static batch (see module docstring)."""
    return batch * output_tokens / static_batch_seconds(model, batch, input_tokens, output_tokens,
                                                        max_batched_tokens)
