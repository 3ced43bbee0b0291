"""A token budget too large to fit says so, with the largest ``max_batched_tokens`` that fits (as a large
``max_num_seqs`` does with its own).

Worked by hand from vLLM V1's rule (``KV = f x H - W - R``; docs/performance_model.md): Llama-3.1-8B on one
H100 at 0.9 with 16 sequences, so the reserve is 0.25 GiB + one forward pass over the budget, ``(4 x 4,096 +
2 x 14,336) x 2`` = 90,112 bytes a token (the sampler run over 16 sequences, 16 x 128,256 x 16 bytes = 31 MiB,
is smaller). A KV block of 16 tokens is 16 x 128 KiB. The budget fits while ``0.9 x 79.19 GiB - 8.03e9 x 2 -
0.25 GiB - N x 90,112 >= 16 x 131,072``.
"""
from __future__ import annotations

import math

from sim.perf.memory import memory_plan
from sim.scenario.catalog import get_gpu, get_model

GIB = 2**30


def test_a_huge_token_budget_names_itself_and_the_largest_that_fits():
    largest = math.floor((0.9 * 79.19 * GIB - 8.03e9 * 2 - 0.25 * GIB - 16 * 131072) / 90112)
    model, gpu = get_model("llama-3.1-8b"), get_gpu("h100-sxm")
    plan = memory_plan(model, gpu, 1, 0.9, max_batched_tokens=1_000_000, max_num_seqs=16)
    assert not plan.fits
    assert f"(or batching.max_batched_tokens <= {largest:,} fits)" in plan.reason, plan.reason
    assert "the forward pass over 1,000,000 tokens (max_batched_tokens) is 83.9 GiB of the reserve" in plan.reason
    # the hint is right at both sides: the budget named fits, one token more does not
    assert memory_plan(model, gpu, 1, 0.9, max_batched_tokens=largest, max_num_seqs=16).fits
    assert not memory_plan(model, gpu, 1, 0.9, max_batched_tokens=largest + 1, max_num_seqs=16).fits


def test_no_budget_hint_where_the_budget_is_not_the_reserve():
    # 405B on one H100: the weights alone exceed the GPU, whatever the budget
    plan = memory_plan(get_model("llama-3.1-405b"), get_gpu("h100-sxm"), 1, 0.9, max_batched_tokens=8192)
    assert not plan.fits and "max_batched_tokens <=" not in plan.reason
    # nor where the forward pass is a large part of the reserve but no budget would fit: DeepSeek-V3 on four
    # H200s, 156.2 GiB of weights a GPU against 0.9 x 139.8 GiB (its 1.2 GiB forward pass is not the reason)
    plan = memory_plan(get_model("deepseek-v3"), get_gpu("h200-sxm"), 4, 0.9, max_batched_tokens=16384)
    assert not plan.fits and "max_batched_tokens" not in plan.reason, plan.reason
    # a large max_num_seqs keeps its own hint (the sampler run, not the forward pass, is the reserve)
    plan = memory_plan(get_model("llama-3.1-8b"), get_gpu("h100-sxm"), 1, 0.9, max_batched_tokens=65536,
                       max_num_seqs=65536)
    assert not plan.fits and "batching.max_num_seqs <=" in plan.reason and "max_batched_tokens <=" not in plan.reason
