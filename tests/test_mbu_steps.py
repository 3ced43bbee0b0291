"""MBU counts the bytes of the iterations a run actually ran (``sim.perf.utilization.steps_bytes``), so
it never passes what the hardware can move: against hand-worked bytes, against its bound on random small
scenarios, and on the run that read 1.04 when it was priced per request at the sampled mean batch."""
from __future__ import annotations

import json

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

import sim
from sim.report.summary_check import read_summary, summary_problems

from conftest import scenario

# Llama-3-8B (its config.json): hidden 4096, 32 layers, 32 query heads and 8 KV heads of 128, FFN 14336,
# vocabulary 128256; bf16 weights and KV (2 bytes)
H, L, Q, KV, F, VOCAB = 4096, 32, 32 * 128, 8 * 128, 14336, 128256
#: weights one iteration reads: every layer's q, k, v and o projections and its three MLP matrices, and the
#: lm head (the embedding is looked up, not read whole): 7,504,658,432 parameters, 2 bytes each
WEIGHT_BYTES = (L * (H * (Q + 2 * KV) + Q * H + 3 * H * F) + H * VOCAB) * 2
#: bytes per token of an iteration: the GEMMs' bf16 inputs and outputs (4h + q, k, v, o and the MLP's
#: three widths per layer), the element-wise kernels' reads and writes (10h + the same widths) and its KV
KV_BYTES_PER_TOKEN = 2 * L * KV * 2
TOKEN_BYTES = 2 * L * (4 * H + 2 * Q + 2 * KV + 3 * F) + 2 * L * (10 * H + 2 * Q + 2 * KV + 3 * F) + KV_BYTES_PER_TOKEN
H100_BYTES_PER_S = 3.35e12     # H100 SXM HBM3, NVIDIA's datasheet (the catalog's hbm_tbps)


def test_mbu_of_a_fixed_decode_batch_by_hand():
    """Eight 200-token prompts arrive at once on one H100 (vLLM V0's continuous batching: one prefill
    iteration of all 1,600 prompt tokens), then decode 49 more tokens together: 50 iterations, each
    reading the 15.0 GB of weights; 1,600 + 49 x 8 = 1,992 tokens processed; the decode iterations
    read the contexts 8 x 201, 8 x 202, ..., 8 x 249 = 88,200 cached tokens. Over the 60 s the
    replica is provisioned, MBU = bytes / (60 s x 3.35 TB/s)."""
    b, p, o, duration = 8, 200, 50, 60.0
    sc = scenario(model="llama-3-8b", duration=duration, perf={"model": "roofline"},
                  workload={"arrival": {"process": "burst", "count": b},
                            "prompt_tokens": {"dist": "fixed", "value": p},
                            "output_tokens": {"dist": "fixed", "value": o}})
    sc["fleet"]["pools"][0].update(gpu="h100-sxm", batching={"policy": "continuous", "max_num_seqs": 16,
                                                            "max_batched_tokens": 4096})
    s = sim.run(sc).summary
    assert s["requests"]["completed"] == b
    iterations = 1 + (o - 1)
    tokens = b * p + b * (o - 1)
    kv_read = sum(b * (p + j) for j in range(1, o))
    assert (iterations, tokens, kv_read) == (50, 1992, 88_200)
    moved = iterations * WEIGHT_BYTES + tokens * TOKEN_BYTES + kv_read * KV_BYTES_PER_TOKEN
    assert s["utilization"]["mbu"] == pytest.approx(moved / (duration * H100_BYTES_PER_S), rel=1e-12)
    assert s["pools"]["main"]["mbu"] == s["utilization"]["mbu"]


@pytest.mark.parametrize("b, p, o", [(1, 3000, 5), (2, 2000, 50), (8, 200, 50)])
def test_a_pipeline_reads_its_weights_once_per_micro_batch_of_whole_sequences(b, p, o):
    """Four stages of Llama-3-8B (8 of its 32 layers each, the lm head on the last): an iteration is cut into
    min(4, its sequences) micro-batches, each reading its stage's weights once. ``b`` prompts of ``p`` tokens
    arrive at once (one prefill iteration of the ``b`` prompts), then decode ``o - 1`` more tokens together:
    ``o`` iterations of ``b`` sequences, ``o x min(4, b)`` reads of the weights, a quarter of the model's
    bytes on the mean GPU, and a quarter of the tokens' and KV bytes. A prompt of 3,000 tokens is one
    sequence: one micro-batch, not one per token (priced at the mean iteration's 600 "sequences" it read
    its weights 4 times an iteration, MBU x 3.07)."""
    pp, duration = 4, 60.0
    sc = scenario(model="llama-3-8b", duration=duration, perf={"model": "roofline"},
                  workload={"arrival": {"process": "burst", "count": b},
                            "prompt_tokens": {"dist": "fixed", "value": p},
                            "output_tokens": {"dist": "fixed", "value": o}})
    sc["fleet"]["pools"][0].update(gpu="h100-sxm", pipeline_parallel=pp,
                                   batching={"policy": "continuous", "max_num_seqs": 16, "max_batched_tokens": 8192})
    s = sim.run(sc).summary
    assert s["requests"]["completed"] == b
    micro_batches = o * min(pp, b)
    tokens = b * p + b * (o - 1)
    kv_read = sum(b * (p + j) for j in range(1, o))
    moved = (micro_batches * WEIGHT_BYTES + tokens * TOKEN_BYTES + kv_read * KV_BYTES_PER_TOKEN) / pp
    assert s["utilization"]["mbu"] == pytest.approx(moved / (duration * H100_BYTES_PER_S), rel=1e-12)


def test_the_run_that_read_mbu_above_one_is_within_its_busy_share_and_its_folder_reads_back(tmp_path):
    """1 x H100, Llama-3-8B, 200-token prompts and 20-token outputs at 11 requests/s for 20 s, seed 21:
    priced per request at the time series' mean batch (a prompt's prefill as an iteration of its own,
    while vLLM V1's chunked scheduler runs it with the decodes, in one read of the weights) MBU read
    1.04 with the GPU busy 81 % of the time, and ``fleetsim report`` refused the folder. Counted from
    the iterations it reads no more than the busy share (every byte moved while busy, at no more than
    the peak), and the folder is as fleetsim writes it."""
    sc = scenario(model="llama-3-8b", duration=20, seed=21, perf={"model": "roofline"},
                  workload={"arrival": {"process": "poisson", "rate": 11},
                            "prompt_tokens": {"dist": "fixed", "value": 200},
                            "output_tokens": {"dist": "fixed", "value": 20}})
    sc["fleet"]["pools"][0] = {"name": "main", "gpu": "h100-sxm", "replicas": 1}
    out = tmp_path / "run"
    s = sim.run(sc, out=out).summary
    u = s["utilization"]
    assert 0.0 < u["mbu"] <= u["gpu_busy"] < 1.0
    assert summary_problems(json.loads((out / "summary.json").read_text())) == []
    assert read_summary(out)["utilization"]["mbu"] == u["mbu"]


def _random_scenario(rate, prompt, output, seqs, scheduler, gpu, perf, fidelity):
    sc = scenario(model="llama-3-8b", duration=15, seed=7, perf=perf,
                  workload={"arrival": {"process": "poisson", "rate": rate},
                            "prompt_tokens": {"dist": "lognormal", "mean": prompt, "cv": 1.0, "max": 4000},
                            "output_tokens": {"dist": "lognormal", "mean": output, "cv": 1.0, "max": 1000}})
    sc["fleet"]["pools"][0] = {"name": "main", "gpu": gpu, "replicas": 1,
                               "batching": {"scheduler": scheduler, "max_num_seqs": seqs, "max_batched_tokens": 8192}}
    if fidelity:
        sc["fidelity"] = fidelity
    return sc


PERF = st.sampled_from([{"model": "roofline"},
                        # a step model faster than any GPU: 0.1 ms an iteration whatever it holds
                        {"model": "linear", "base_s": 0.0001, "per_prefill_token_s": 0, "per_decode_token_s": 0,
                         "per_context_token_s": 0},
                        {"model": "linear", "base_s": 0.004, "per_prefill_token_s": 2e-5, "per_decode_token_s": 1e-4,
                         "per_context_token_s": 0}])


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rate=st.sampled_from([1.0, 6.0, 30.0, 300.0]), prompt=st.sampled_from([20, 200, 1500]),
       output=st.sampled_from([2, 20, 300]), seqs=st.sampled_from([1, 8, 256]),
       scheduler=st.sampled_from(["vllm-v0", "vllm-v1", "sglang", "trtllm"]),
       gpu=st.sampled_from(["h100-sxm", "a100-80gb", "l40s"]), perf=PERF)
def test_mbu_and_mfu_are_shares_of_what_the_gpus_can_do(rate, prompt, output, seqs, scheduler, gpu, perf):
    """Whatever the load, batch limits, scheduler, GPU or step model: MBU and MFU lie in [0, 1], and a
    pool's MBU is at most its busy share (no byte is moved while the GPUs are idle, none faster than the
    peak), so every summary a run writes passes the result folder's check."""
    s = sim.run(_random_scenario(rate, prompt, output, seqs, scheduler, gpu, perf, None)).summary
    u = s["utilization"]
    assert 0.0 <= u["mbu"] <= 1.0 and 0.0 <= u["mfu"] <= 1.0
    pool = s["pools"]["main"]
    assert pool["mbu"] <= pool["gpu_busy"] * (1 + 1e-12)
    assert u["mfu"] <= u["gpu_busy"] * (1 + 1e-12)
    assert [k for k, _ in summary_problems(s) if "mbu" in k or "mfu" in k] == []


@pytest.mark.slow
def test_the_fluid_tier_mbu_is_within_its_busy_share():
    """The fluid tier runs no iterations: its MBU counts its busy time at the bytes per busy second its
    curve's request-level runs moved, bounded the same way (at most the busy share); the run above, at
    fluid fidelity."""
    s = sim.run(_random_scenario(11.0, 200, 20, 256, "vllm-v1", "h100-sxm", {"model": "roofline"}, "fluid")).summary
    pool = s["pools"]["main"]
    assert 0.0 < pool["mbu"] <= pool["gpu_busy"] <= 1.0
    assert 0.0 <= s["utilization"]["mfu"] <= 1.0


@pytest.mark.parametrize("pp, b, p, o", [(1, 2, 2000, 50), (1, 1, 3000, 5), (2, 2, 2000, 50), (2, 1, 3000, 5)])
def test_an_moe_run_reads_the_experts_each_iteration_hits(pp, b, p, o):
    """Mixtral-8x7B on 2 x H100 (``pp`` stages of them): the experts an iteration reads grow concavely with its
    tokens (8 experts, 2 a token: a 4,000-token prefill hits all 8, a decode of 2 sequences ~3.8), so its
    bytes are not those of the mean iteration (which read 1.87 to 2.09 x these). ``b`` prompts of ``p``
    tokens at once, then ``o - 1`` decodes of the ``b``: the run's bytes are the sum of what each of those
    ``o`` iterations moves, priced one by one (:func:`sim.perf.utilization.iteration_bytes`)."""
    from sim.api import build_pools
    from sim.metrics.utilization import _roofline
    from sim.perf.base import BatchShape
    from sim.perf.throughput import prefill_shape
    from sim.perf.utilization import iteration_bytes
    from sim.scenario.load import load_scenario

    duration = 60.0
    sc = scenario(model="mixtral-8x7b", duration=duration, perf={"model": "roofline"},
                  workload={"arrival": {"process": "burst", "count": b},
                            "prompt_tokens": {"dist": "fixed", "value": p},
                            "output_tokens": {"dist": "fixed", "value": o}})
    sc["fleet"]["pools"][0].update(gpu="h100-sxm", tensor_parallel=2, pipeline_parallel=pp,
                                   batching={"policy": "continuous", "max_num_seqs": 16, "max_batched_tokens": 8192})
    s = sim.run(sc).summary
    assert s["requests"]["completed"] == b
    roof = _roofline(build_pools(load_scenario(sc))[0], "bf16")
    moved = iteration_bytes(roof, prefill_shape(b, p)) + sum(
        iteration_bytes(roof, BatchShape(decode_seqs=b, decode_context_tokens=b * (p + j))) for j in range(1, o))
    assert s["utilization"]["mbu"] == pytest.approx(moved / (duration * H100_BYTES_PER_S), rel=1e-9)
