"""Roofline terms against hand-worked FLOPs and bytes; qualitative regimes; vectorised decode."""
import numpy as np
import pytest

from sim.perf.base import BatchShape
from sim.perf.roofline import ALLREDUCE_LATENCY_S, LINK_EFFICIENCY, RooflineModel, smooth_roofline
from sim.perf.throughput import prefill_shape
from sim.scenario.catalog import Efficiency, get_gpu, get_model

L7 = get_model("llama-2-7b")
H100 = get_gpu("h100-sxm")
UNIT = Efficiency(1.0, 1.0, 0.0)  # peak numbers, no overhead: times are FLOPs/peak and bytes/bandwidth

# One Llama-2-7B layer by hand: QKV 4096 x 12288, O 4096 x 4096, gate+up+down 3 x 4096 x 11008.
LAYER_PARAMS = 4096 * 12288 + 4096 * 4096 + 3 * 4096 * 11008
assert LAYER_PARAMS == 202_375_168


def test_linear_layers_flops_and_weight_bytes_by_hand():
    rm = RooflineModel(L7, H100, tp=1, efficiency=UNIT)
    b = rm.breakdown(BatchShape(decode_seqs=1, decode_context_tokens=0))
    assert b.linear_flops == 2 * LAYER_PARAMS * 32                # 2 FLOPs per weight per token
    gemm_io = 2 * 32 * (4 * 4096 + 2 * 4096 + 2 * 4096 + 3 * 11008)  # bf16 activations in/out of the GEMMs
    assert b.linear_bytes == LAYER_PARAMS * 32 * 2 + gemm_io      # bf16 weights read once
    assert b.lm_head_flops == 2 * 4096 * 32000 and b.lm_head_bytes == 4096 * 32000 * 2


def test_attention_terms_by_hand():
    rm = RooflineModel(L7, H100, tp=1, efficiency=UNIT)
    # decode: 8 sequences with 1000 context tokens each
    b = rm.breakdown(BatchShape(decode_seqs=8, decode_context_tokens=8000))
    assert b.attention_flops == 4 * 4096 * 8000 * 32              # QK^T and AV, 2 FLOPs per MAC
    assert b.kv_bytes == (8000 + 8) * 32 * 2 * 4096 * 2            # read context, write 8 new tokens
    # prefill of one 100-token prompt: 100*101/2 causal pairs
    p = rm.breakdown(prefill_shape(1, 100))
    assert p.attention_flops == 4 * 4096 * 5050 * 32
    assert p.kv_bytes == 100 * 32 * 2 * 4096 * 2                   # written once, nothing cached before


def test_grouped_query_attention_reads_fewer_kv_bytes():
    l3 = RooflineModel(get_model("llama-3-8b"), H100, efficiency=UNIT)
    b = l3.breakdown(BatchShape(decode_seqs=1, decode_context_tokens=1000))
    assert b.kv_bytes == 1001 * 32 * 2 * 1024 * 2                 # 8 KV heads x 128 = 1024 wide
    assert b.attention_flops == 4 * 4096 * 1000 * 32              # 32 query heads still


def test_times_are_roofline_of_each_group():
    rm = RooflineModel(L7, H100, tp=1, efficiency=Efficiency(0.5, 0.8, 0.002), overlap_exponent=1.5)
    s = BatchShape(decode_seqs=4, decode_context_tokens=4000)
    b = rm.breakdown(s)
    peak, bw = 989e12 * 0.5, 3.35e12 * 0.8
    # GEMMs: smooth roofline (t_c^p + t_m^p)^(1/p); attention: hard max
    assert b.linear_s == pytest.approx(((b.linear_flops / peak) ** 1.5 + (b.linear_bytes / bw) ** 1.5) ** (1 / 1.5))
    assert b.lm_head_s == pytest.approx(((b.lm_head_flops / peak) ** 1.5 + (b.lm_head_bytes / bw) ** 1.5) ** (1 / 1.5))
    assert b.attention_s == pytest.approx(max(b.attention_flops / peak, b.kv_bytes / bw))
    assert rm.step_time(s) == pytest.approx(b.total_s, rel=1e-12)
    assert b.overhead_s == 0.002


def test_smooth_roofline_limits():
    # 3-4-5 triangle at p = 2; the sum at p = 1 (no overlap); the max at p = inf (perfect overlap)
    assert smooth_roofline(3.0, 4.0, 2.0) == pytest.approx(5.0)
    assert smooth_roofline(3.0, 4.0, 1.0) == pytest.approx(7.0)
    assert smooth_roofline(3.0, 4.0, float("inf")) == 4.0
    assert smooth_roofline(0.0, 4.0, 1.3) == 4.0
    # the overlap loss is largest where the terms are equal: 2^(1/p)
    assert smooth_roofline(1.0, 1.0, 1.26) == pytest.approx(2 ** (1 / 1.26))
    assert smooth_roofline(1e-3, 1.0, 1.26) == pytest.approx(1.0, rel=1e-3)


def test_catalog_exponent_is_the_default_and_hard_max_is_the_old_model():
    assert RooflineModel(L7, H100).overlap_exponent == H100.overlap_exponent
    hard = RooflineModel(L7, H100, efficiency=UNIT, overlap_exponent=float("inf"))
    b = hard.breakdown(prefill_shape(1, 128))
    assert b.linear_s == max(b.linear_flops / 989e12, b.linear_bytes / 3.35e12)
    with pytest.raises(ValueError, match=">= 1"):
        RooflineModel(L7, H100, overlap_exponent=0.5)


def test_short_prefill_is_slower_than_the_hard_max_where_both_terms_are_similar():
    # A100, 128-token prompt: FLOPs and weight-read times are within 15% of each other, where a real GEMM
    # reaches neither peak (Vidur's A100 profile: 0.35 ms per layer measured vs 0.27 ms for the max).
    a100 = get_gpu("a100-80gb")
    smooth = RooflineModel(L7, a100).breakdown(prefill_shape(1, 128))
    hard = RooflineModel(L7, a100, overlap_exponent=float("inf")).breakdown(prefill_shape(1, 128))
    assert 1.2 < smooth.linear_s / hard.linear_s < 2 ** (1 / a100.overlap_exponent)
    # far from the ridge (batch-1 decode, 4k-token prefill) the two agree within a few per cent
    for shape in (BatchShape(decode_seqs=1, decode_context_tokens=100), prefill_shape(1, 4096)):
        s1 = RooflineModel(L7, a100).breakdown(shape).linear_s
        s2 = RooflineModel(L7, a100, overlap_exponent=float("inf")).breakdown(shape).linear_s
        assert s1 / s2 == pytest.approx(1.0, abs=0.1)


def test_per_query_head_kv_reads_multiply_decode_reads_by_the_group_size():
    # Llama-2-70B: 64 query heads share 8 KV heads. TP4 holds 2 KV heads and 16 query heads per GPU.
    l70 = get_model("llama-2-70b")
    g = RooflineModel(l70, H100, tp=4, efficiency=UNIT)
    q = RooflineModel(l70, H100, tp=4, efficiency=UNIT, kv_sharing="per_query_head")
    s = BatchShape(decode_seqs=8, decode_context_tokens=8000)
    per_head_token = 2 * 80 * 128 * 2                          # K and V, 80 layers, head_dim 128, bf16
    assert g.breakdown(s).kv_bytes == (8000 + 8) * 2 * per_head_token          # 2 KV heads per GPU
    assert q.breakdown(s).kv_bytes == 8000 * 16 * per_head_token + 8 * 2 * per_head_token
    # prefill (no decode context) and MHA models are unaffected
    assert g.breakdown(prefill_shape(2, 500)).kv_bytes == q.breakdown(prefill_shape(2, 500)).kv_bytes
    assert RooflineModel(L7, H100, kv_sharing="per_query_head").step_time(s) == RooflineModel(L7, H100).step_time(s)
    with pytest.raises(ValueError, match="grouped, per_query_head"):
        RooflineModel(L7, H100, kv_sharing="none")


def test_tensor_parallel_all_reduce_by_hand():
    rm = RooflineModel(get_model("llama-2-70b"), H100, tp=4, efficiency=UNIT)
    b = rm.breakdown(BatchShape(decode_seqs=10, decode_context_tokens=0))
    calls, msg_bytes = 2 * 80, 10 * 8192 * 2
    ring = 2 * 3 / 4 * msg_bytes / (450e9 * LINK_EFFICIENCY)
    assert b.comm_s == pytest.approx(calls * (ALLREDUCE_LATENCY_S + ring))
    assert RooflineModel(L7, H100, tp=1).breakdown(BatchShape(decode_seqs=10)).comm_s == 0


def test_tp_splits_weight_bytes():
    one = RooflineModel(L7, H100, tp=1, efficiency=UNIT).breakdown(BatchShape(decode_seqs=1))
    two = RooflineModel(L7, H100, tp=2, efficiency=UNIT).breakdown(BatchShape(decode_seqs=1))
    assert two.linear_flops == one.linear_flops / 2
    assert two.lm_head_bytes == one.lm_head_bytes / 2


def test_decode_grows_with_batch_and_context():
    rm = RooflineModel(L7, H100)
    by_batch = [rm.step_time(BatchShape(decode_seqs=b, decode_context_tokens=b * 500)) for b in (1, 8, 64, 256)]
    by_ctx = [rm.step_time(BatchShape(decode_seqs=32, decode_context_tokens=c)) for c in (0, 10_000, 100_000)]
    assert by_batch == sorted(by_batch) and by_batch[0] < by_batch[-1]
    assert by_ctx == sorted(by_ctx) and by_ctx[0] < by_ctx[-1]


def test_small_decode_is_weight_bound_prefill_compute_bound_on_h100():
    rm = RooflineModel(L7, H100)
    small = rm.breakdown(BatchShape(decode_seqs=8, decode_context_tokens=8 * 100))
    assert small.linear_bytes / rm._bw > small.linear_flops / rm._gemm_peak
    for tokens in (512, 2048):
        big = rm.breakdown(prefill_shape(1, tokens))
        assert big.linear_flops / rm._gemm_peak > big.linear_bytes / rm._bw


def test_fp8_uses_fp8_peak_and_one_byte_weights():
    bf = RooflineModel(L7, H100, weight_dtype="bf16", efficiency=UNIT)
    f8 = RooflineModel(L7, H100, weight_dtype="fp8", efficiency=UNIT)
    assert f8._gemm_peak == 1979e12 and bf._gemm_peak == 989e12
    assert f8._linear_fixed_bytes == bf._linear_fixed_bytes / 2
    with pytest.raises(ValueError, match="no fp8"):
        RooflineModel(L7, get_gpu("a100-80gb"), weight_dtype="fp8")


def test_mixtral_uses_active_params():
    mx = get_model("mixtral-8x7b")
    rm = RooflineModel(mx, H100, tp=1, efficiency=UNIT)
    b = rm.breakdown(BatchShape(decode_seqs=1, decode_context_tokens=0))
    # FLOPs per token = 2 x (active params minus the input embedding lookup and norms): ~2 x 12.75e9
    assert b.linear_flops + b.lm_head_flops == pytest.approx(2 * (12.88e9 - 32000 * 4096), rel=0.01)
    # one token reads 2 of 8 experts; a large batch reads all 8
    expert_bytes = 32 * 3 * 4096 * 14336 * 2
    assert rm.experts_hit(1) == 2 and rm.experts_hit(10_000) == 8
    big = rm.breakdown(BatchShape(decode_seqs=512, decode_context_tokens=0))
    gemm_io_per_token = 2 * 32 * (4 * 4096 + 2 * 4096 + 2 * 1024 + 3 * 14336 * 2)  # k=2 experts per token
    assert big.linear_bytes - b.linear_bytes == pytest.approx(6 * expert_bytes + 511 * gemm_io_per_token, rel=1e-3)


@pytest.mark.parametrize("model,gpu,tp,wd", [("llama-2-7b", "h100-sxm", 1, "bf16"),
                                             ("mixtral-8x7b", "h100-sxm", 2, "fp8"),
                                             ("llama-2-70b", "a100-80gb", 8, "bf16"),
                                             ("llama-2-70b", "h200-sxm", 4, "fp8")])
def test_decode_times_equal_step_time_bit_for_bit(model, gpu, tp, wd):
    rng = np.random.default_rng(7)
    for sharing in ("grouped", "per_query_head"):
        rm = RooflineModel(get_model(model), get_gpu(gpu), tp=tp, weight_dtype=wd, kv_dtype="fp8" if wd == "fp8" else "bf16",
                           kv_sharing=sharing)
        for n in (1, 3, 64, 300):
            ctx = rng.integers(0, 2_000_000, size=200)
            vec = rm.decode_times(n, ctx)
            loop = np.array([rm.step_time(BatchShape(decode_seqs=n, decode_context_tokens=int(c))) for c in ctx])
            assert np.array_equal(vec, loop)


def test_empty_batch_takes_no_time():
    rm = RooflineModel(L7, H100)
    assert rm.step_time(BatchShape()) == 0.0
    assert np.array_equal(rm.decode_times(0, np.array([1, 2])), [0.0, 0.0])


def test_attention_peak_is_the_computing_precisions_times_the_catalogs_attention_efficiency():
    """Worked by hand: Llama-2-7B (32 layers, q = 4,096) on one H100, a 2,048-token prompt (2,098,176 causal pairs),
    FLOPs 2 * (4,096 + 4,096) * 32 per pair. Prompt attention runs at the cache's peak times FlashAttention-3's
    fraction (0.623) whatever the weights; the KV term (2 * 32 * 4,096 * kb bytes per token written) is far smaller."""
    from sim.perf.base import BatchShape
    from sim.scenario.catalog import get_gpu, get_model
    m, h100 = get_model("llama-2-7b"), get_gpu("h100-sxm")
    pairs = 2048 * 2049 / 2
    shape = BatchShape(prefill_tokens=2048, prefill_seqs=1, prefill_attn_pairs=pairs, prefill_kv_tokens=2048)
    flops = 2.0 * (4096 + 4096) * 32 * pairs
    for weights in ("bf16", "fp8"):
        for kv, peak in (("bf16", 989e12), ("fp8", 1979e12)):
            bd = RooflineModel(m, h100, 1, weights, kv).breakdown(shape)
            assert bd.attention_flops == flops
            assert bd.attention_s == pytest.approx(flops / (peak * 0.623), rel=1e-12)


def test_mla_prompt_attention_stays_bf16_with_an_fp8_cache():
    """DeepSeek-V3's 128 heads on one GPU (absorbed decode compute-bound): with an FP8 cache decode attention computes at
    the FP8 peak, prompt attention at the BF16 one (TensorRT-LLM PR 3190); a step with both prices each at its own."""
    from sim.perf.base import BatchShape
    from sim.scenario.catalog import get_gpu, get_model
    rm = RooflineModel(get_model("deepseek-v3"), get_gpu("h200-sxm"), 1, "fp8", "fp8")
    assert rm.prefill_attention_dtype == "bf16"
    prompt = BatchShape(prefill_tokens=8192, prefill_seqs=1, prefill_attn_pairs=8192 * 8193 / 2,
                        prefill_kv_tokens=8192)
    decode = BatchShape(decode_seqs=64, decode_context_tokens=64 * 4096)
    both = BatchShape(prefill_tokens=8192, prefill_seqs=1, prefill_attn_pairs=8192 * 8193 / 2, prefill_kv_tokens=8192,
                      decode_seqs=64, decode_context_tokens=64 * 4096)
    p, d, b = (rm.breakdown(s) for s in (prompt, decode, both))
    assert p.attention_s == pytest.approx(p.attention_flops / (989e12 * 0.623), rel=1e-12)
    assert d.attention_s == pytest.approx(max(d.attention_flops / (1979e12 * 0.667),
                                              d.kv_bytes / (4.8e12 * 0.787)), rel=1e-12)
    assert d.attention_flops / (1979e12 * 0.667) > d.kv_bytes / (4.8e12 * 0.787)   # compute-bound: the peak shows
    assert b.attention_s == pytest.approx(p.attention_s + d.attention_s, rel=1e-12)
    assert rm.step_time(both) == pytest.approx(b.total_s, rel=1e-12)


def test_a_gpu_without_published_attention_rates_keeps_the_weights_factor():
    """A100 has no attention efficiencies in the catalog: attention runs at the weights' calibrated factor (0.707),
    bit for bit the model before attention had its own."""
    from sim.scenario.catalog import get_gpu, get_model
    rm = RooflineModel(get_model("llama-2-7b"), get_gpu("a100-80gb"), 1)
    assert rm._attn_peak == 312 * 1e12 * 0.707 and rm._prefill_pair_weight == 1.0
