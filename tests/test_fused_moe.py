"""The routed experts' Triton ``fused_moe`` of the early-2025 sets (``sglang-0.4``, ``vllm-0.7``), priced from vLLM
PR 13932's published H100 timings (sim.perf.fused_moe): the table as published, the step model's call time against it,
the rule on the H200, the holds outside the table, and where it is not applied."""
import dataclasses

import pytest

from sim.perf.base import BatchShape
from sim.perf.fused_moe import PR_13932_TRITON_TP8_H100, TritonFusedMoe
from sim.perf.kernels import kernel_set
from sim.perf.parallel import Layout
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model

DSR1 = get_model("deepseek-r1")
H100, H200 = get_gpu("h100-sxm"), get_gpu("h200-sxm")
PUBLISHED = {128: 1732.33, 256: 1728.73, 512: 1810.36, 1024: 1892.75, 1536: 1988.70, 2048: 2818.65}
"""vLLM PR 13932, "H100 results", column "Triton TP=8" (µs), as printed."""


def _rm(kernels: str, gpu=H200, on: bool = True, layout: Layout | None = None, model=DSR1,
        expert_dtype: str | None = None) -> RooflineModel:
    ks = kernel_set(kernels)
    return RooflineModel(model, gpu, 8, "fp8", "bf16", layout=layout or Layout(tp=8), expert_dtype=expert_dtype,
                         kernels=ks if on else dataclasses.replace(ks, triton_fused_moe=False))


def _decode(n: int) -> BatchShape:
    return BatchShape(decode_seqs=n, decode_context_tokens=n * 1000)


def _hit(n: float) -> float:
    return 256 * (1 - (1 - 8 / 256) ** n)


def test_the_table_is_as_published_and_on_the_memory_side():
    assert dict(PR_13932_TRITON_TP8_H100) == PUBLISHED
    # from 128 to 1,536 tokens the FLOPs grow 12-fold and the time 15 %: not the compute side (the rule's basis)
    assert PUBLISHED[1536] / PUBLISHED[128] < 1.15
    # and far below the fp8 peak: 2 x 8 x 3 x 7,168 x 256 FLOPs per token at 2,048 tokens, 64 TFLOPS of 1,979
    assert 2 * 8 * 3 * 7168 * 256 * 2048 / (PUBLISHED[2048] * 1e-6) / 1e12 == pytest.approx(64.0, abs=0.05)


def test_the_call_on_the_h100_is_the_published_time_at_every_published_size():
    """Through the whole step model: the priced step less the same step without the calls is, at each published size,
    58 x (published time - the routed experts' roofline - the set's routing and finalize terms), within 0.01 %."""
    eff = H100.efficiency("fp8")
    gemm, bw, p = 1979e12 * eff.flops_efficiency, 3.35e12 * eff.bw_efficiency, H100.overlap_exponent
    ks = kernel_set("vllm-0.7")
    for n, us in PUBLISHED.items():
        t_c = 2 * 8 * 3 * 7168 * 256 * n / gemm
        t_m = _hit(n) * 3 * 7168 * 256 / bw
        roof = (t_c ** p + t_m ** p) ** (1 / p)
        want = 58 * (us * 1e-6 - roof - ks.moe_routing_s - ks.moe_finalize_s)
        got = _rm("vllm-0.7", H100).step_time(_decode(n)) - _rm("vllm-0.7", H100, on=False).step_time(_decode(n))
        assert got == pytest.approx(want, rel=1e-4)
        assert _rm("vllm-0.7", H100).step_time(_decode(n)) > 58 * us * 1e-6   # the step holds the whole calls


def test_on_the_h200_the_time_scales_with_the_hbm_bandwidths():
    h100 = TritonFusedMoe.for_shape(DSR1, H100, 8, 1, "fp8")
    h200 = TritonFusedMoe.for_shape(DSR1, H200, 8, 1, "fp8")
    for n, us in PUBLISHED.items():
        assert h200.call_s(n) == pytest.approx(us * 1e-6 * 3.35 / 4.8, rel=1e-12)
        assert h100.call_s(n) == pytest.approx(us * 1e-6, rel=1e-12)


def test_between_and_outside_the_published_sizes():
    k = TritonFusedMoe.for_shape(DSR1, H100, 8, 1, "fp8")
    assert k.call_s(768) * 1e6 == pytest.approx((1810.36 + 1892.75) / 2, rel=1e-12)
    assert k.call_s(1792) * 1e6 == pytest.approx((1988.70 + 2818.65) / 2, rel=1e-12)
    # above 2,048 tokens: 2,048's time per token (its FLOPs rate)
    assert k.call_s(8192) * 1e6 == pytest.approx(4 * 2818.65, rel=1e-12)
    # below 128: 128's time per expert read (8 of 256 experts per token, uniform routing)
    assert k.call_s(16) * 1e6 == pytest.approx(1732.33 * _hit(16) / _hit(128), rel=1e-12)
    assert _hit(16) == pytest.approx(101.96, abs=0.01)   # 256 x (1 - (31/32)**16)
    # one token on the H200, by hand: 8 experts read, 1,732.33 x 8 / 251.6 µs scaled to the H200 (38.4 µs) less the
    # roofline of those 8 experts' fp8 weights and FLOPs and the set's routing and finalize terms, in each of 58 layers
    # (vllm-0.7's traced terms, 32 µs, with the roofline already take as long: nothing added; sglang-0.4's 15 µs do not)
    eff = H200.efficiency("fp8")
    gemm, bw, p = 1979e12 * eff.flops_efficiency, 4.8e12 * eff.bw_efficiency, H200.overlap_exponent
    call = 1732.33e-6 * 8 / _hit(128) * 3.35 / 4.8
    assert call * 1e6 == pytest.approx(38.44, abs=0.01)
    roof = ((2 * 8 * 3 * 7168 * 256 / gemm) ** p + (8 * 3 * 7168 * 256 / bw) ** p) ** (1 / p)
    for name, adds in (("vllm-0.7", False), ("sglang-0.4", True)):
        ks = kernel_set(name)
        want = 58 * max(0.0, call - roof - ks.moe_routing_s - ks.moe_finalize_s)
        assert (want > 5e-4) is adds
        one = _rm(name).step_time(_decode(1)) - _rm(name, on=False).step_time(_decode(1))
        assert one == pytest.approx(want, rel=1e-4, abs=1e-12)


def test_applied_only_to_the_timed_shape_and_sets():
    for s in (_decode(256), BatchShape(prefill_tokens=8192, prefill_seqs=3, prefill_attn_pairs=8192 * 3201 / 2,
                                       prefill_kv_tokens=8192)):
        for name in ("sglang-0.4", "vllm-0.7"):
            assert _rm(name).step_time(s) > 1.2 * _rm(name, on=False).step_time(s)
            # expert parallelism, data-parallel attention, another GPU: not timed, so not priced
            for lay in (Layout(tp=8, ep=8), Layout(tp=8, dp_attention=True)):
                assert _rm(name, layout=lay).step_time(s) == _rm(name, layout=lay, on=False).step_time(s)
            b200 = get_gpu("b200")
            assert _rm(name, b200).step_time(s) == _rm(name, b200, on=False).step_time(s)
            # fp8 attention and dense weights with experts in another precision: not the timed fp8 call
            for experts in ("fp4", "bf16"):
                assert _rm(name, expert_dtype=experts).step_time(s) == \
                    _rm(name, expert_dtype=experts, on=False).step_time(s)
            assert _rm(name, expert_dtype="fp8").step_time(s) == _rm(name).step_time(s)
        for name in ("trtllm", "vllm"):
            assert not kernel_set(name).triton_fused_moe
    qwen = get_model("qwen3-235b-a22b")
    assert TritonFusedMoe.for_shape(qwen, H200, 8, 1, "fp8") is None
    assert TritonFusedMoe.for_shape(DSR1, H200, 4, 1, "fp8") is None     # TP4: another expert width per GPU
    assert TritonFusedMoe.for_shape(DSR1, H200, 8, 1, "bf16") is None


def test_the_documented_decode_limit():
    """The known limit as the module docstring and docs/models_and_parallelism.md state it, number by number: the 58
    calls at 128 tokens, scaled to the H200 (hand arithmetic on the published 1,732.33 µs), take 70.1 ms, more than
    the whole median inter-token latency dstack published for vLLM 0.7.4 at 128 sequences on 8 H200 (65.214879 ms;
    prompts 3,200 and outputs 800 tokens, mean context 3,600), whatever the rest of the step; and the step model's
    steps the docs quote at that context (15.5 ms at 4 sequences, 86.7 at 128) are the ones it gives."""
    calls_ms = 58 * 1732.33e-3 * 3.35 / 4.8
    assert round(calls_ms, 1) == 70.1
    assert round(58 * TritonFusedMoe.for_shape(DSR1, H200, 8, 1, "fp8").call_s(128) * 1e3, 1) == 70.1
    assert calls_ms > 65.214879
    ctx = 3600
    for n, documented_ms in ((4, 15.5), (128, 86.7)):
        step = _rm("vllm-0.7").step_time(BatchShape(decode_seqs=n, decode_context_tokens=n * ctx))
        assert round(step * 1e3, 1) == documented_ms


def test_the_table_is_read_by_token_count_whatever_its_order(monkeypatch):
    """A row added or the rows reordered change no time: the call at each published size is its published time
    (x the bandwidth scale), interpolated between sizes as before, and a lookup by count finds its own row."""
    import sim.perf.fused_moe as fused_moe

    h100 = TritonFusedMoe.for_shape(DSR1, H100, 8, 1, "fp8")
    sizes = (128, 200, 384, 1024, 1280, 1536, 1800, 2048, 3000)
    before = [h100.call_s(n) for n in sizes]
    assert [h100.call_s(n) for n in PUBLISHED] == [us * 1e-6 for us in PUBLISHED.values()]
    assert fused_moe.published_us(1536) == PUBLISHED[1536] and fused_moe.published_us(128) == PUBLISHED[128]
    monkeypatch.setattr(fused_moe, "PR_13932_TRITON_TP8_H100", tuple(reversed(PR_13932_TRITON_TP8_H100)))
    assert [h100.call_s(n) for n in sizes] == before
    assert fused_moe.published_us(1536) == PUBLISHED[1536]
    # a size added inside the table (a hypothetical 768-token time) moves only the sizes around it
    monkeypatch.setattr(fused_moe, "PR_13932_TRITON_TP8_H100", ((768, 1850.0),) + PR_13932_TRITON_TP8_H100)
    assert h100.call_s(768) == 1850.0 * 1e-6 and fused_moe.published_us(1536) == PUBLISHED[1536]
    assert [h100.call_s(n) for n in sizes] == before
    with pytest.raises(KeyError, match=r"no published time at 1,000 tokens \(the table has 128, 256, 512, 768"):
        fused_moe.published_us(1000)
    with pytest.raises(ValueError, match="each token count once"):
        fused_moe.by_tokens(((128, 1.0), (256, 2.0), (128, 3.0)))
