"""Expert-parallel load: the busiest EP rank's experts and rows against simulated routing, and what
they change in the step time (sim.perf.moe)."""
import itertools
import math

import numpy as np
import pytest
from scipy.stats import binom

from sim.perf.base import BatchShape
from sim.perf.memory import memory_plan, stage_weights
from sim.perf.moe import GEMM_TILE_M, ExpertLoad, expected_max_binomial, expected_max_of_sums, tile_count_pmf
from sim.perf.parallel import Layout
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model

DS = get_model("deepseek-v3")
H200 = get_gpu("h200-sxm")


def _simulated_routing(e: int, k: int, ep: int, tokens: int, trials: int, seed: int) -> tuple[float, float]:
    """Mean over ``trials`` of the busiest rank's distinct experts hit and tile-padded rows, each of
    ``tokens`` tokens routed to ``k`` distinct experts drawn uniformly (Gumbel top-k)."""
    rng = np.random.default_rng(seed)
    hits, rows = [], []
    for _ in range(trials):
        chosen = np.argpartition(rng.random((tokens, e)), k, axis=1)[:, :k]
        per_expert = np.bincount(chosen.ravel(), minlength=e).reshape(ep, e // ep)
        hits.append((per_expert > 0).sum(axis=1).max())
        rows.append((np.ceil(per_expert / GEMM_TILE_M) * GEMM_TILE_M).sum(axis=1).max())
    return float(np.mean(hits)), float(np.mean(rows))


@pytest.mark.parametrize("e,k,ep,tokens,trials", [
    (256, 8, 8, 1, 3000), (256, 8, 8, 8, 1000), (256, 8, 8, 32, 400), (256, 8, 8, 1024, 60),
    (256, 8, 8, 7168, 12), (128, 8, 8, 4, 1500), (128, 8, 8, 256, 100), (8, 2, 4, 3, 3000), (256, 8, 64, 64, 200)])
def test_busiest_rank_matches_simulated_routing(e, k, ep, tokens, trials):
    load = ExpertLoad(e, k, ep)
    hits, rows = _simulated_routing(e, k, ep, tokens, trials, seed=tokens * 7 + ep)
    # independent-binomial approximation of sampling k distinct experts per token: within 4 %
    # (the simulated means themselves scatter by ~1-2 % at these trial counts)
    assert load.busiest_experts(tokens) == pytest.approx(hits, rel=0.04)
    assert load.busiest_rows(tokens) == pytest.approx(rows, rel=0.04)


def test_one_decoding_token_on_ep8_reads_two_and_a_half_experts_on_the_busiest_rank():
    # 8 of 256 experts over 8 ranks of 32: on average one per rank, the busiest holds ~2.5
    # (the maximum of 8 counts of ~Poisson(1): sum over x of 1 - F(x)**8)
    load = ExpertLoad(256, 8, 8)
    assert load.mean_experts(1) == pytest.approx(1.0)
    poisson_max = sum(1 - (sum(math.exp(-1) / math.factorial(i) for i in range(x + 1))) ** 8 for x in range(20))
    assert load.busiest_experts(1) == pytest.approx(poisson_max, rel=0.02)
    # ... and every local expert once the batch is a few hundred tokens
    assert load.busiest_experts(512) == pytest.approx(32.0, abs=1e-6)


def test_expected_max_binomial_by_enumeration():
    n, p, r = 4, 0.3, 3
    exact = 0.0
    for xs in itertools.product(range(n + 1), repeat=r):
        exact += max(xs) * np.prod([binom.pmf(x, n, p) for x in xs])
    assert expected_max_binomial(n, p, r) == pytest.approx(exact, rel=1e-12)
    assert expected_max_binomial(10, 0.2, 1) == pytest.approx(2.0)


def test_tile_counts_and_maximum_of_sums_by_enumeration():
    # 65 tokens, each to the expert with probability 0.1: no tile with probability 0.9**65, two only if
    # all 65 come (0.1**65: cut off as negligible), else one
    lo, pmf = tile_count_pmf(65, 0.1, 64)
    assert lo == 0 and len(pmf) == 2 and pmf[0] == pytest.approx(0.9 ** 65) and pmf.sum() == pytest.approx(1.0)
    # 130 tokens at 1/2: one tile for 1..64 of them, two for 65..128 (symmetric: P(Y <= 64) = P(Y >= 66))
    lo, pmf = tile_count_pmf(130, 0.5, 64)
    assert lo == 1 and pmf[0] == pytest.approx((1 - binom.pmf(65, 130, 0.5)) / 2, rel=1e-9)
    # the larger of 2 sums of 3 draws of {1: 0.3, 2: 0.7}, by enumeration
    vals, p = [1, 2], [0.3, 0.7]
    exact = 0.0
    for xs in itertools.product(range(2), repeat=6):
        pr = np.prod([p[x] for x in xs])
        exact += pr * max(sum(vals[x] for x in xs[:3]), sum(vals[x] for x in xs[3:]))
    assert expected_max_of_sums(1, np.array(p), 3, 2) == pytest.approx(exact, rel=1e-12)


def test_expert_parallel_decode_at_batch_one_reads_the_busiest_ranks_experts():
    # DeepSeek-V3 fp8, one decoding sequence: TP8 reads 1/8 of each of the 8 experts hit on every GPU;
    # EP8 reads whole experts, and the step waits for the GPU holding the most of the 8 (~2.5)
    tp = RooflineModel(DS, H200, layout=Layout(tp=8), weight_dtype="fp8", kv_dtype="fp8")
    ep = RooflineModel(DS, H200, layout=Layout(tp=8, ep=8), weight_dtype="fp8", kv_dtype="fp8")
    one = BatchShape(decode_seqs=1, decode_context_tokens=1000)
    w = stage_weights(DS, Layout(tp=8), "fp8")
    per_expert_gpu = w.expert_bytes * 8                 # one whole expert over the 58 MoE layers
    assert per_expert_gpu == 58 * 3 * 7168 * 2048
    assert tp.breakdown(one).linear_bytes - ep.breakdown(one).linear_bytes == pytest.approx(
        w.expert_bytes * 8 - per_expert_gpu * ExpertLoad(256, 8, 8).busiest_experts(1), rel=1e-12)
    assert ep.step_time(one) > tp.step_time(one)
    # a full batch hits every expert: the same weight bytes either way
    big = BatchShape(decode_seqs=2048, decode_context_tokens=2048 * 1000)
    assert ep.breakdown(big).linear_bytes - tp.breakdown(big).linear_bytes == pytest.approx(0.0, abs=1e3)


def test_expert_groups_between_one_and_tp():
    # Mixtral on TP8 in 4 expert groups: each GPU holds 2 experts split 2 ways; the same bytes per GPU
    # as TP8 or EP8 (memory plan), and one token reads at most one slice of each of its 2 experts
    mix = get_model("mixtral-8x7b")
    h100 = get_gpu("h100-sxm")
    plans = [memory_plan(mix, h100, Layout(tp=8, ep=e)) for e in (1, 4, 8)]
    assert plans[0].kv_tokens == plans[1].kv_tokens == plans[2].kv_tokens
    m4 = RooflineModel(mix, h100, layout=Layout(tp=8, ep=4))
    w = stage_weights(mix, Layout(tp=8))
    one = BatchShape(decode_seqs=1, decode_context_tokens=100)
    b = m4.breakdown(one)
    load = ExpertLoad(8, 2, 4)
    # 2 experts of 8 over 4 groups of 2: the busiest group holds 1 or 2 (2 with probability 1/7)
    assert load.busiest_experts(1) == pytest.approx(8 / 7, rel=0.1)
    expert_part = w.expert_bytes * 4 * load.busiest_experts(1)
    non_expert = w.fixed_bytes + m4._gemm_io_bytes_per_token * 1
    assert b.linear_bytes == pytest.approx(non_expert + expert_part, rel=1e-12)


def test_expert_parallel_decode_paths_agree_exactly():
    for name, lay in (("qwen3-235b-a22b", Layout(tp=8, ep=8)), ("mixtral-8x7b", Layout(tp=4, ep=2))):
        m = RooflineModel(get_model(name), get_gpu("h100-sxm"), layout=lay, weight_dtype="fp8", kv_dtype="fp8")
        for n in (1, 3, 64, 500):
            ctx = np.array([n * 10, n * 1000 + 7])
            vec = m.decode_times(n, ctx).tolist()
            for c, v in zip(ctx.tolist(), vec):
                ref = m.step_time(BatchShape(decode_seqs=n, decode_context_tokens=c))
                assert m.decode_step(n, c) == ref == v


# DeepEP README (github.com/deepseek-ai/DeepEP), low-latency kernels on H800 nodes of 8 GPUs, one 400 Gb/s
# CX7 NIC per GPU: 128 tokens per GPU, hidden 7168, top-8, FP8 dispatch and BF16 combine;
# (EP size, dispatch us, combine us)
DEEPEP_LOW_LATENCY = [(16, 118, 195), (32, 155, 273), (64, 173, 314), (128, 192, 369), (256, 194, 360)]


@pytest.mark.parametrize("ep,dispatch_us,combine_us", DEEPEP_LOW_LATENCY)
def test_all_to_all_prices_deepep_low_latency_kernels(ep, dispatch_us, combine_us):
    # the step model's all-to-all (the share of peers in other nodes over the NIC at 0.8 x 50 GB/s, plus
    # the 10 us call latency), with dispatch bytes in fp8 plus one fp32 scale per 128 values and the
    # combine in bf16: within 15 % of every measured kernel time (11 % fast at EP16, 2-6 % beyond)
    from sim.perf.parallel import COLLECTIVE_LATENCY_S
    lay = Layout(tp=ep, ep=ep, dp_attention=True, gpus_per_node=8)
    per_byte = lay.all_to_all_s_per_byte(ep, 450e9)
    pairs = 128 * 8 * 7168
    assert COLLECTIVE_LATENCY_S + pairs * (1 + 4 / 128) * per_byte == pytest.approx(dispatch_us * 1e-6, rel=0.15)
    assert COLLECTIVE_LATENCY_S + pairs * 2 * per_byte == pytest.approx(combine_us * 1e-6, rel=0.15)


def test_routed_expert_seconds_are_part_of_the_linear_layers():
    lay = Layout(tp=8, ep=8, dp_attention=True)
    ep = RooflineModel(DS, H200, layout=lay, weight_dtype="fp8", kv_dtype="fp8")
    shape = BatchShape(decode_seqs=1024, decode_context_tokens=1024 * 2048)
    e = ep.routed_expert_s(1024)
    # 32 local experts of 44 MB over 58 layers (82 GB) read at the calibrated H200 bandwidth, or more
    weights_s = 32 * 58 * 3 * 7168 * 2048 / (H200.hbm_bytes_per_s * H200.efficiency("fp8").bw_efficiency)
    assert weights_s <= e < 1.3 * weights_s
    assert 0 < e < ep.breakdown(shape).linear_s
    tp = RooflineModel(DS, H200, layout=Layout(tp=8), weight_dtype="fp8", kv_dtype="fp8")
    assert tp.routed_expert_s(1024) == 0.0 and ep.routed_expert_s(0) == 0.0
