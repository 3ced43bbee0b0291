"""Kernel sets (sim.perf.kernels): per-kernel floors and attention efficiencies of a serving stack.

The terms are checked against hand-worked arithmetic on Llama-2-7B (32 layers, hidden 4096, FFN 11008,
32 KV heads of 128) on an A100 (312 dense bf16 TFLOP/s, 2.039 TB/s), the fast decode paths against
step_time bit for bit, the fitted set against Vidur's profiles it was measured from, and the scenario key.
"""
from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pytest

import sim
from sim.cli import main
from sim.perf import build_step_model
from sim.perf.base import BatchShape
from sim.perf.kernels import KERNEL_SETS, KernelSet, kernel_set
from sim.perf.roofline import RooflineModel
from sim.perf.vidur import (bundled_profile, elementwise_seconds, fit_kernel_set, read_attention_sample,
                            read_operator_profile)
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.perf import parse_perf

from conftest import scenario

PYTORCH = KERNEL_SETS["pytorch"]
L, HBM, PEAK = 32, 2.039e12, 312e12
KV_BYTES_PER_TOKEN = 2 * L * 4096 * 2                                  # K and V, 32 layers, bf16: 524,288
ACT_BYTES_PER_TOKEN = 2 * L * (10 * 4096 + (2 * 4096 + 2 * 4096) + 3 * 11008)   # norms, adds, RoPE, SiLU-mul
ATTN_FLOPS_PER_PAIR = 4 * 4096 * L                                      # QK^T and PV, 2 FLOPs per MAC


def _a100(kernels: KernelSet | None = PYTORCH, model: str = "llama-2-7b", gpu: str = "a100-80gb",
          tp: int = 1, **kw) -> RooflineModel:
    return RooflineModel(get_model(model), get_gpu(gpu), tp, kernels=kernels, **kw)


def _prefill(n: int) -> BatchShape:
    return BatchShape(prefill_tokens=n, prefill_seqs=1, prefill_attn_pairs=n * (n + 1) / 2, prefill_kv_tokens=n)


def test_elementwise_kernels_take_their_floor_when_small_and_stream_bytes_when_large():
    m = _a100()
    one = m.breakdown(BatchShape(decode_seqs=1, decode_context_tokens=100))
    assert ACT_BYTES_PER_TOKEN == 5_783_552
    assert ACT_BYTES_PER_TOKEN / (HBM * 0.524) < 6e-6                   # 5.4 µs of bytes: below the floor
    assert one.activation_s == pytest.approx(L * 27.6e-6, rel=1e-12)    # 0.8832 ms
    big = m.breakdown(_prefill(4096))
    assert big.activation_s == pytest.approx(4096 * 5_783_552 / (2.039e12 * 0.524), rel=1e-12)   # 22.17 ms
    assert big.activation_s == pytest.approx(22.172e-3, rel=1e-4)


def test_decode_attention_reads_the_cache_at_its_own_bandwidth_plus_one_floor_per_layer():
    shape = BatchShape(decode_seqs=8, decode_context_tokens=8000)
    b = _a100().breakdown(shape)
    kv = KV_BYTES_PER_TOKEN * (8000 + 8)                                # read the context, write 8 new tokens
    assert kv / (HBM * 0.853) > ATTN_FLOPS_PER_PAIR * 8000 / (PEAK * 0.285)   # memory-bound
    assert b.attention_s == pytest.approx(kv / (HBM * 0.853) + L * 13.1e-6, rel=1e-12)   # 2.414 + 0.419 ms
    # the default set: the GEMMs' bandwidth factor and no floor
    d = _a100(None).breakdown(shape)
    assert d.attention_s == pytest.approx(kv / (HBM * 0.759), rel=1e-12)


def test_prefill_attention_runs_at_its_own_fraction_of_peak_flops_plus_one_floor_per_layer():
    b = _a100().breakdown(_prefill(2048))
    pairs = 2048 * 2049 / 2
    flops = ATTN_FLOPS_PER_PAIR * pairs
    assert flops / (PEAK * 0.285) > KV_BYTES_PER_TOKEN * 2048 / (HBM * 0.853)   # compute-bound
    assert b.attention_s == pytest.approx(flops / (PEAK * 0.285) + L * 148.6e-6, rel=1e-12)   # 12.37 + 4.76 ms


def test_a_mixed_iteration_pays_both_attention_floors_once():
    mixed = BatchShape(prefill_tokens=512, prefill_seqs=1, prefill_attn_pairs=512 * 513 / 2, prefill_kv_tokens=512,
                       decode_seqs=16, decode_context_tokens=16 * 700)
    with_floors, without = _a100().breakdown(mixed), _a100(KernelSet("x", **{
        k: getattr(PYTORCH, k) for k in ("elementwise_floor_s", "elementwise_bw_fraction", "attention_flops_fraction",
                                         "attention_bw_fraction")})).breakdown(mixed)
    assert with_floors.attention_s - without.attention_s == pytest.approx(L * (148.6e-6 + 13.1e-6), rel=1e-9)


def test_step_time_is_the_sum_of_the_breakdown():
    m = _a100()
    for shape in (_prefill(300), BatchShape(decode_seqs=40, decode_context_tokens=40 * 900),
                  BatchShape(prefill_tokens=200, prefill_seqs=2, prefill_attn_pairs=200 * 50.5, prefill_kv_tokens=200,
                             decode_seqs=5, decode_context_tokens=5000)):
        assert m.step_time(shape) == pytest.approx(m.breakdown(shape).total_s, rel=1e-12)


def test_trtllm_set_is_the_calibrated_model_unchanged():
    """The default set adds no floor and keeps the GEMMs' factors (its one term is a MoE layer's top-k): same
    bits as a model built without one."""
    assert kernel_set("trtllm") == KernelSet("trtllm", moe_routing_s=15e-6)
    for shape in (_prefill(128), BatchShape(decode_seqs=64, decode_context_tokens=64 * 600)):
        assert _a100(KERNEL_SETS["trtllm"]).step_time(shape) == _a100(None).step_time(shape)


CASES = [("llama-2-7b", "a100-80gb", 1, {}), ("llama-2-70b", "h100-sxm", 4, {"kv_sharing": "per_query_head"}),
         ("mixtral-8x7b", "h100-sxm", 2, {}), ("llama-3-8b", "b200", 1, {"weight_dtype": "fp4", "kv_dtype": "fp8"})]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fast_decode_paths_stay_bit_identical_with_the_pytorch_set(case):
    name, gpu, tp, kw = case
    m = _a100(PYTORCH, name, gpu, tp, **kw)
    for n in (1, 3, 64, 255):
        ctx = np.array([n, n * 100 + 3, n * 4000 + 17])
        ref = [m.step_time(BatchShape(decode_seqs=n, decode_context_tokens=int(c))) for c in ctx]
        assert m.decode_times(n, ctx).tolist() == ref
        assert [m.decode_step(n, int(c)) for c in ctx] == ref
        steps, _ = m.decode_run(n, int(ctx[0]), 3, 0.0, float("inf"))
        assert steps == [m.step_time(BatchShape(decode_seqs=n, decode_context_tokens=int(ctx[0]) + i * n))
                         for i in range(3)]


def test_floors_apply_per_micro_batch_and_stage_in_a_pipeline():
    from sim.perf.parallel import Layout
    fractions = {k: getattr(PYTORCH, k) for k in ("elementwise_bw_fraction", "attention_flops_fraction",
                                                  "attention_bw_fraction")}
    def model(ks: KernelSet) -> RooflineModel:
        return RooflineModel(get_model("llama-2-70b"), get_gpu("h100-sxm"), 2, kernels=ks, layout=Layout(tp=2, pp=2))
    m, no_floor = model(PYTORCH), model(KernelSet("x", **fractions))
    shape = BatchShape(decode_seqs=1, decode_context_tokens=1000)
    # one micro-batch, two stage slots of 40 layers each: every slot pays 40 decode-attention floors and
    # 40 element-wise floors in place of the (smaller) streaming time of one token's activations
    act = no_floor.breakdown(shape).activation_s
    assert act < 40 * 27.6e-6
    assert m.step_time(shape) - no_floor.step_time(shape) == pytest.approx(2 * (40 * (27.6e-6 + 13.1e-6) - act),
                                                                          rel=1e-9)


def test_fit_on_vidurs_a100_profiles_gives_the_pytorch_set():
    model, gpu = get_model("llama-2-7b"), get_gpu("a100-80gb")
    fit = fit_kernel_set(read_operator_profile(bundled_profile("a100")),
                         read_attention_sample(bundled_profile("a100", "attention")), model, gpu)
    for field in ("elementwise_floor_s", "elementwise_bw_fraction", "attention_flops_fraction",
                  "attention_bw_fraction", "prefill_attention_floor_s", "decode_attention_floor_s"):
        assert getattr(fit.kernels, field) == pytest.approx(getattr(PYTORCH, field), rel=5e-3), field
    # the element-wise fit is close over the 259 token counts it was fitted on
    assert np.median(np.abs(fit.elementwise_error)) < 0.05


def test_h100_elementwise_profile_is_a_hold_out_the_a100_set_overestimates():
    """Vidur's H100 element-wise kernels (not used in the fit) are faster than the A100 set says: the
    floors belong to a GPU generation as well as to a stack (reported in docs/validation.md)."""
    prof = read_operator_profile(bundled_profile("h100")).select(1)
    err = elementwise_seconds(PYTORCH, prof, get_model("llama-2-7b"), get_gpu("h100-sxm")) / prof.elementwise_s - 1
    assert 0.0 < np.median(err) < 0.5


def test_kernels_key_selects_the_set_and_a_bad_value_names_the_field():
    for name in ("trtllm", "pytorch", "vllm", "sglang-0.4", "vllm-0.7"):
        sm = build_step_model(parse_perf({"kernels": name}), get_model("llama-2-7b"), get_gpu("a100-80gb"), 1,
                              pathlib.Path("."))
        assert sm.kernels is KERNEL_SETS[name]
    assert parse_perf(None).kernels == "trtllm"
    with pytest.raises(ValueError, match="kernels"):
        parse_perf({"kernels": "sglang"})
    with pytest.raises(ValueError, match="unknown kernel set 'sglang'; allowed: trtllm, pytorch, vllm, sglang-0.4, vllm-0.7"):
        kernel_set("sglang")


def test_schema_names_every_kernel_set():
    from typing import get_args

    from sim.scenario.perf import RooflinePerf
    assert set(get_args(RooflinePerf.model_fields["kernels"].annotation)) == set(KERNEL_SETS)


def test_a_bad_kernel_set_in_a_scenario_is_exit_2_naming_file_and_field(tmp_path, capsys):
    import yaml
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(duration=10, perf={"model": "roofline", "kernels": "eager"})))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{path}: perf.kernels: must be one of 'trtllm', 'pytorch', 'vllm', 'sglang-0.4' or 'vllm-0.7' (got 'eager')" in err


def test_pytorch_kernels_in_a_run_slow_every_request_and_engines_agree():
    sc = scenario(duration=40, warmup=0, perf={"model": "roofline", "kernels": "pytorch"},
                  workload={"arrival": {"process": "poisson", "rate": 4.0},
                            "prompt_tokens": {"dist": "lognormal", "mean": 600, "cv": 1.0, "max": 3000},
                            "output_tokens": {"dist": "lognormal", "mean": 120, "cv": 1.0, "max": 800}})
    sc["fleet"]["pools"][0]["gpu"] = "a100-80gb"
    sc["fleet"]["pools"][0]["batching"] = {"max_num_seqs": 32, "max_batched_tokens": 512, "chunked_prefill": True}
    fast, ref = sim.run(dict(sc, engine="fast")), sim.run(dict(sc, engine="reference"))
    for col in ("first_token_s", "completion_s"):
        assert np.array_equal(fast.records[col], ref.records[col]), col
    default = sim.run(dict(sc, perf={"model": "roofline"}))
    assert fast.summary["latency"]["tpot"]["mean"] > default.summary["latency"]["tpot"]["mean"]


def test_kernel_factors_replace_the_named_sets_numbers():
    from sim.perf import kernels_for
    cfg = parse_perf({"kernels": "pytorch", "kernel_factors": {"elementwise_floor_s": 2e-5,
                                                              "attention_bw_fraction": 0.9}})
    ks = kernels_for(cfg)
    assert (ks.elementwise_floor_s, ks.attention_bw_fraction) == (2e-5, 0.9)
    assert ks.decode_attention_floor_s == PYTORCH.decode_attention_floor_s      # the rest stay the set's
    assert kernels_for(parse_perf({"kernels": "trtllm", "kernel_factors": {}})) is KERNEL_SETS["trtllm"]
    # the trtllm set with the pytorch numbers given one by one is the pytorch set, bit for bit
    numbers = {k: getattr(PYTORCH, k) for k in ("elementwise_floor_s", "elementwise_bw_fraction",
                                                "attention_flops_fraction", "attention_bw_fraction",
                                                "prefill_attention_floor_s", "decode_attention_floor_s")}
    sm = build_step_model(parse_perf({"kernel_factors": numbers}), get_model("llama-2-7b"), get_gpu("a100-80gb"), 1,
                          pathlib.Path("."))
    for shape in (_prefill(700), BatchShape(decode_seqs=9, decode_context_tokens=9000)):
        assert sm.step_time(shape) == _a100().step_time(shape)


@pytest.mark.parametrize("setting,expected", [
    ("perf.kernel_factors.elementwise_floor_s=-1", "perf.kernel_factors.elementwise_floor_s: must be a finite number >= 0"),
    ("perf.kernel_factors.attention_bw_fraction=1.5", "perf.kernel_factors.attention_bw_fraction: must be a fraction in (0, 1]"),
    ("perf.kernel_factors.launch_s=1", "perf.kernel_factors.launch_s: unknown key 'launch_s'; allowed: attention_bw_fraction"),
])
def test_bad_kernel_factors_are_exit_2_naming_the_field(tmp_path, capsys, setting, expected):
    import yaml
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(duration=10, perf={"model": "roofline"})))
    assert main(["validate", str(path), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{path}: {expected}" in err


def test_calibrate_measures_the_kernel_set_from_vidur_profiles_and_prints_usable_factors(capsys):
    import yaml
    rc = main(["calibrate", "--vidur-mlp", str(bundled_profile("a100")), "--vidur-attention",
               str(bundled_profile("a100", "attention")), "--gpu", "a100-80gb", "--model", "llama-2-7b"])
    assert rc == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("kernel_factors:"))
    factors = yaml.safe_load(line)["kernel_factors"]
    from sim.perf import kernels_for
    ks = kernels_for(parse_perf({"kernels": "pytorch", "kernel_factors": factors}))
    for field, value in factors.items():
        assert getattr(ks, field) == pytest.approx(getattr(PYTORCH, field), rel=5e-3), field


def test_calibrate_refuses_an_attention_sample_without_prefill_rows(tmp_path, capsys):
    text = bundled_profile("a100", "attention").read_text(encoding="utf-8")
    sample = tmp_path / "attn.csv"
    sample.write_text("\n".join(x for x in text.splitlines() if not x.startswith("True")) + "\n")
    rc = main(["calibrate", "--vidur-mlp", str(bundled_profile("a100")), "--vidur-attention", str(sample),
               "--gpu", "a100-80gb", "--model", "llama-2-7b"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{sample}: needs at least 2 prefill rows" in err


@pytest.mark.parametrize("name,tp,layout", [("deepseek-v3", 8, {"ep": 8, "dp_attention": True}),
                                            ("qwen3-235b-a22b", 8, {"ep": 8, "dp_attention": True}),
                                            ("gpt-oss-20b", 1, {}), ("llama-3.1-405b", 8, {})])
def test_attention_floors_add_once_per_layer_in_every_step_form(name, tp, layout):
    """MLA, data-parallel attention, sliding windows, plain TP: one decode and one prefill floor per layer."""
    from sim.perf.parallel import Layout
    model = get_model(name)
    def step(ks: KernelSet, shape: BatchShape) -> float:
        return RooflineModel(model, get_gpu("h200-sxm"), tp, "fp8", "fp8", kernels=ks,
                             layout=Layout(tp=tp, **layout)).step_time(shape)
    decode = BatchShape(decode_seqs=16, decode_context_tokens=16 * 2000)
    mixed = BatchShape(prefill_tokens=1000, prefill_seqs=1, prefill_attn_pairs=1000 * 500.5, prefill_kv_tokens=1000,
                       decode_seqs=16, decode_context_tokens=16 * 2000)
    none = KernelSet("none")
    both = KernelSet("floors", prefill_attention_floor_s=1e-4, decode_attention_floor_s=1e-5)
    L = model.n_layers
    assert step(both, decode) - step(none, decode) == pytest.approx(L * 1e-5, rel=1e-6)
    assert step(both, mixed) - step(none, mixed) == pytest.approx(L * 1.1e-4, rel=1e-6)


# vLLM's MoE routing kernels per MoE layer, as github.com/vllm-project/vllm/issues/28084 lists them (DeepSeek-V3.1
# decode on 8 H200, EP8, 4 sequences): the 12 kernels from the all-reduce to the first fused_moe, in microseconds
VLLM_PREAMBLE_US = {"rmsnorm (fused residual add)": 3.6, "router GEMM (split-K)": 4.6, "split-K reduce": 2.3,
                    "sigmoid": 1.9, "topk_with_k2": 1.8, "group_idx_and_topk_idx": 7.3, "copy": 1.0,
                    "per_token_group_quant_8bit": 2.2, "moe_align_block_size": 3.5,
                    "moe_count_and_sort_expert_tokens": 1.1, "unrolled_elementwise": 1.6,
                    "index_elementwise": 2.5}
VLLM_PREAMBLE_SPAN_US = 39.8   # "Total with inter-kernel spacing"
NOT_ROUTING = ("rmsnorm (fused residual add)", "router GEMM (split-K)", "split-K reduce")   # a norm and a GEMM


def _dsr1(kernels: str | KernelSet, layout=None, tp: int = 8, weight_dtype: str = "fp8") -> RooflineModel:
    from sim.perf.parallel import Layout
    return RooflineModel(get_model("deepseek-r1"), get_gpu("h200-sxm"), tp, weight_dtype, "bf16",
                         layout=layout or Layout(tp=tp),
                         kernels=KERNEL_SETS[kernels] if isinstance(kernels, str) else kernels)


def test_vllm_routing_is_the_traced_kernels_and_their_spacing_per_moe_layer():
    assert sum(VLLM_PREAMBLE_US.values()) == pytest.approx(33.4)          # the trace's 12 kernels
    spacing_us = (VLLM_PREAMBLE_SPAN_US - 33.4) / 12                        # 0.533 us between kernels
    routing = [v for k, v in VLLM_PREAMBLE_US.items() if k not in NOT_ROUTING]
    assert len(routing) == 9 and sum(routing) == pytest.approx(22.9)
    assert KERNEL_SETS["vllm"].moe_routing_s == pytest.approx((22.9 + 9 * spacing_us) * 1e-6, rel=1e-12)
    assert KERNEL_SETS["vllm"].moe_routing_s == pytest.approx(27.7e-6, abs=0.05e-6)
    # the vllm set differs from trtllm in its two MoE terms and the block-fp8 linear floor alone
    others = [f for f in KernelSet.__dataclass_fields__ if f not in ("name", "moe_routing_s", "moe_finalize_s",
                                                                           "fp8_linear_floor_s")]
    assert all(getattr(KERNEL_SETS["vllm"], f) == getattr(KERNEL_SETS["trtllm"], f) for f in others)


def test_vllm_finalize_is_the_second_quantization_and_four_kernel_boundaries():
    # after the first expert GEMM vLLM's fused_moe runs activation, per_token_group_quant, the second GEMM and
    # moe_sum: 4 kernels, each one spacing of the trace (0.533 us); the quantization kernel as the trace times it
    spacing_us = (VLLM_PREAMBLE_SPAN_US - 33.4) / 12
    quant_us = VLLM_PREAMBLE_US["per_token_group_quant_8bit"]
    assert KERNEL_SETS["vllm"].moe_finalize_s == pytest.approx((quant_us + 4 * spacing_us) * 1e-6, rel=1e-12)
    assert KERNEL_SETS["vllm"].moe_finalize_s == pytest.approx(4.33e-6, abs=0.005e-6)   # 2.2 + 4 x 0.533
    assert KERNEL_SETS["trtllm"].moe_finalize_s == 0.0 and KERNEL_SETS["pytorch"].moe_finalize_s == 0.0


def test_trtllm_and_pytorch_deepseek_steps_are_unchanged_by_the_finalize_term():
    # the term is 0.0 in both sets: their DeepSeek steps equal a model built with the field left at its default
    from sim.perf.parallel import Layout
    shape = BatchShape(decode_seqs=4, decode_context_tokens=4 * 334)
    for name in ("trtllm", "pytorch"):
        ks = KERNEL_SETS[name]
        bare = KernelSet(**{f.name: getattr(ks, f.name) for f in dataclasses.fields(KernelSet)
                            if f.name != "moe_finalize_s"})
        for lay in (Layout(tp=8), Layout(tp=8, ep=8)):
            a = RooflineModel(get_model("deepseek-r1"), get_gpu("h200-sxm"), 8, "fp8", "bf16", layout=lay, kernels=ks)
            b = RooflineModel(get_model("deepseek-r1"), get_gpu("h200-sxm"), 8, "fp8", "bf16", layout=lay, kernels=bare)
            assert a.step_time(shape) == b.step_time(shape) and a.breakdown(shape) == b.breakdown(shape)


@pytest.mark.parametrize("shape", [BatchShape(decode_seqs=4, decode_context_tokens=4 * 334),
                                   BatchShape(decode_seqs=64, decode_context_tokens=64 * 2000),
                                   _prefill(3000),
                                   BatchShape(prefill_tokens=512, prefill_seqs=1, prefill_attn_pairs=512 * 513 / 2,
                                              prefill_kv_tokens=512, decode_seqs=32, decode_context_tokens=32000)])
def test_vllm_set_adds_the_routing_kernels_once_per_moe_layer_of_deepseek(shape):
    from sim.perf.parallel import Layout
    # in place of the trtllm set's fused top-k
    per_layer = KERNEL_SETS["vllm"].moe_routing_s + KERNEL_SETS["vllm"].moe_finalize_s - KERNEL_SETS["trtllm"].moe_routing_s
    assert get_model("deepseek-r1").moe_layers == 58          # 61 layers, the first 3 dense
    routing_only = dataclasses.replace(KERNEL_SETS["vllm"], fp8_linear_floor_s=0.0)   # the floor: tests below
    for lay in (Layout(tp=8), Layout(tp=8, ep=8), Layout(tp=8, ep=8, dp_attention=True)):
        v, t = _dsr1(routing_only, lay), _dsr1("trtllm", lay)
        assert v.step_time(shape) - t.step_time(shape) == pytest.approx(58 * per_layer, rel=1e-9)
        b, bt = v.breakdown(shape), t.breakdown(shape)
        assert b.linear_s - bt.linear_s == pytest.approx(58 * per_layer, rel=1e-9)   # counted with the GEMMs
        assert b.attention_s == bt.attention_s
        assert v.step_time(shape) == pytest.approx(b.total_s, rel=1e-12)
        if not shape.prefill_tokens:
            assert v.decode_step(shape.decode_seqs, shape.decode_context_tokens) == v.step_time(shape)


def test_vllm_set_leaves_dense_models_bit_for_bit():
    for model, gpu, tp in (("llama-2-7b", "a100-80gb", 1), ("llama-3.1-405b", "h200-sxm", 8)):
        v = RooflineModel(get_model(model), get_gpu(gpu), tp, "fp8" if tp > 1 else "bf16", kernels=KERNEL_SETS["vllm"])
        t = RooflineModel(get_model(model), get_gpu(gpu), tp, "fp8" if tp > 1 else "bf16")
        for shape in (BatchShape(decode_seqs=16, decode_context_tokens=16000), _prefill(2048)):
            assert v.step_time(shape) == t.step_time(shape)
        ctx = np.array([1000, 5000, 20000])
        assert np.array_equal(v.decode_times(8, ctx), t.decode_times(8, ctx))


def test_moe_routing_is_a_kernel_factor_and_a_unit_slip_warns():
    from sim.scenario.perf import kernel_floor_warnings
    sm = build_step_model(parse_perf({"kernels": "trtllm", "kernel_factors": {"moe_routing_s": 2e-5}}),
                          get_model("deepseek-r1"), get_gpu("h200-sxm"), 8, pathlib.Path("."), weight_dtype="fp8")
    assert sm.kernels.moe_routing_s == 2e-5
    with pytest.raises(ValueError, match="moe_routing_s"):
        parse_perf({"kernel_factors": {"moe_routing_s": -1}})
    assert kernel_floor_warnings(parse_perf({"kernel_factors": {"moe_routing_s": 28}}), "perf")[0][0] == \
        "perf.kernel_factors.moe_routing_s"


def test_moe_finalize_is_a_kernel_factor_and_a_unit_slip_warns():
    from sim.scenario.perf import kernel_floor_warnings
    sm = build_step_model(parse_perf({"kernels": "vllm", "kernel_factors": {"moe_finalize_s": 0}}),
                          get_model("deepseek-r1"), get_gpu("h200-sxm"), 8, pathlib.Path("."), weight_dtype="fp8")
    assert sm.kernels.moe_finalize_s == 0.0 and sm.kernels.moe_routing_s == KERNEL_SETS["vllm"].moe_routing_s
    with pytest.raises(ValueError, match="moe_finalize_s"):
        parse_perf({"kernel_factors": {"moe_finalize_s": -1}})
    assert kernel_floor_warnings(parse_perf({"kernel_factors": {"moe_finalize_s": 4}}), "perf")[0][0] == \
        "perf.kernel_factors.moe_finalize_s"


# ------------------------------------------------------------------ block-fp8 linear floor (vllm set)

def test_vllm_block_fp8_linear_floor_is_the_published_gemm_floor_plus_quantization_and_two_boundaries():
    # SGLang PR 5820: DeepGEMM on DeepSeek-V3's N=3072 K=1536 GEMM at M=32-64, 9.376 us (the fastest block-fp8 GEMM in
    # its table); vllm issue 28084's H200 trace: per_token_group_quant 2.2 us, 39.8 us for 12 kernels of 33.4 us
    spacing_us = (39.8 - 33.4) / 12
    assert KERNEL_SETS["vllm"].fp8_linear_floor_s == pytest.approx((9.376 + 2.2 + 2 * spacing_us) * 1e-6, rel=1e-12)
    assert KERNEL_SETS["vllm"].fp8_linear_floor_s == pytest.approx(12.643e-6, abs=0.0005e-6)
    # a lower bound of the whole op as vLLM PR 23280 times it in a CUDA graph on the fused q_a/kv_a projection
    # (N=2112, K=7168, H100): 2 * M * N * K / TFLOP/s at M=1 and 16, Triton and CUTLASS
    for m, tflops in ((1, 1.298436), (16, 20.755163), (1, 0.893065), (16, 13.940020)):
        assert KERNEL_SETS["vllm"].fp8_linear_floor_s < 2 * m * 2112 * 7168 / (tflops * 1e12)
    assert KERNEL_SETS["trtllm"].fp8_linear_floor_s == 0.0 and KERNEL_SETS["pytorch"].fp8_linear_floor_s == 0.0


def test_block_fp8_linears_of_deepseek_are_its_mla_dense_and_shared_expert_projections():
    from sim.perf.kernels import block_fp8_linears
    m = get_model("deepseek-r1")   # hidden 7168, q_lora 1536, kv_lora 512, rope 64, 128 heads of 128+64 (v 128),
    #                                dense MLP 18432 (3 layers), shared expert 2048 (58 MoE layers)
    fused_qkv_a, q_b, o = (1536 + 512 + 64, 7168), (128 * (128 + 64) // 8, 1536), (7168, 128 * 128 // 8)
    dense = [(3, 2 * 18432 // 8, 7168), (3, 7168, 18432 // 8)]
    shared = [(58, 2 * 2048 // 8, 7168), (58, 7168, 2048 // 8)]
    assert block_fp8_linears(m, 8, 61) == tuple([(61, *fused_qkv_a), (61, *q_b), (61, *o)] + dense + shared)
    assert sum(c for c, _, _ in block_fp8_linears(m, 8, 61)) == 305
    # a bf16 model has none (its GEMMs are not block-fp8)
    assert block_fp8_linears(get_model("llama-3.1-70b"), 8, 80) == ()


def test_vllm_floor_at_one_token_adds_the_floor_less_each_gemms_weight_read():
    # at one token every one of the 305 GEMMs is bound by its weight bytes (1 byte each in fp8), read at the
    # catalog's bandwidth factor: the floor adds 305 * floor less those reads (hand-worked, within the smooth
    # roofline's small overlap loss and the GEMMs' in/out bytes)
    gpu = get_gpu("h200-sxm")
    bw = gpu.hbm_bytes_per_s * gpu.efficiency("fp8").bw_efficiency
    gemms = [(61, 2112, 7168), (61, 3072, 1536), (61, 7168, 2048), (3, 4608, 7168), (3, 7168, 2304),
             (58, 512, 7168), (58, 7168, 256)]
    floor = KERNEL_SETS["vllm"].fp8_linear_floor_s
    expected = sum(c * (floor - n * k / bw) for c, n, k in gemms)
    shape = BatchShape(decode_seqs=1, decode_context_tokens=1000)
    routing_only = dataclasses.replace(KERNEL_SETS["vllm"], fp8_linear_floor_s=0.0)
    added = _dsr1("vllm").step_time(shape) - _dsr1(routing_only).step_time(shape)
    assert added == pytest.approx(expected, rel=0.02)
    assert 3.0e-3 < added < 305 * floor


def test_vllm_floor_leaves_other_sets_bf16_runs_and_dense_models_bit_for_bit():
    from sim.perf.parallel import Layout
    shapes = [BatchShape(decode_seqs=4, decode_context_tokens=4 * 334), _prefill(3000)]
    for name in ("trtllm", "pytorch"):   # the field at 0.0: the same steps as a set built without it
        ks = KERNEL_SETS[name]
        bare = KernelSet(**{f.name: getattr(ks, f.name) for f in dataclasses.fields(KernelSet)
                            if f.name != "fp8_linear_floor_s"})
        for lay in (Layout(tp=8), Layout(tp=8, ep=8)):
            for shape in shapes:
                assert _dsr1(ks, lay).step_time(shape) == _dsr1(bare, lay).step_time(shape)
    no_floor = dataclasses.replace(KERNEL_SETS["vllm"], fp8_linear_floor_s=0.0)
    for shape in shapes:
        # DeepSeek run in bf16 (its GEMMs not block-fp8), and with data-parallel attention (not priced)
        assert _dsr1("vllm", weight_dtype="bf16").step_time(shape) == _dsr1(no_floor, weight_dtype="bf16").step_time(shape)
        lay = Layout(tp=8, ep=8, dp_attention=True)
        assert _dsr1("vllm", lay).step_time(shape) == _dsr1(no_floor, lay).step_time(shape)
        # a bf16 dense model, and the same model in fp8 (a checkpoint not published in block fp8)
        for dt in ("bf16", "fp8"):
            a = RooflineModel(get_model("llama-3.1-70b"), get_gpu("h100-sxm"), 4, dt, "bf16", kernels=KERNEL_SETS["vllm"])
            b = RooflineModel(get_model("llama-3.1-70b"), get_gpu("h100-sxm"), 4, dt, "bf16", kernels=no_floor)
            assert a.step_time(shape) == b.step_time(shape)


def test_vllm_floor_is_the_same_on_every_step_path_and_in_the_breakdown():
    from sim.perf.parallel import Layout
    for lay in (Layout(tp=8), Layout(tp=8, ep=8)):
        v = _dsr1("vllm", lay)
        for n in (1, 4, 64):
            shape = BatchShape(decode_seqs=n, decode_context_tokens=n * 2000)
            assert v.decode_step(n, n * 2000) == v.step_time(shape) == pytest.approx(v.breakdown(shape).total_s,
                                                                                      rel=1e-12)
            assert float(v.decode_times(n, np.array([n * 2000]))[0]) == v.step_time(shape)


def test_trtllm_routing_is_the_published_fused_top_k_per_moe_layer():
    # TensorRT-LLM blog 3, "Top-K Kernels Fusions": DeepSeek's grouped top-k on B200, 252 us as 18 PyTorch ops,
    # 15 us fused; per MoE layer, since 15 us over 58 layers would leave 15 / 58 / 2 = 0.13 us per kernel
    assert KERNEL_SETS["trtllm"].moe_routing_s == 15e-6
    assert KERNEL_SETS["trtllm"].moe_finalize_s == 0.0 and KERNEL_SETS["trtllm"].fp8_linear_floor_s == 0.0
    assert KERNEL_SETS["pytorch"].moe_routing_s == 0.0   # Vidur's dense profile has no router


@pytest.mark.parametrize("gpu,wd,kd", [("h200-sxm", "fp8", "bf16"), ("b200", "fp4", "fp8")])
def test_trtllm_top_k_adds_15_us_per_moe_layer_on_every_step_path(gpu, wd, kd):
    from sim.perf.parallel import Layout
    bare = dataclasses.replace(KERNEL_SETS["trtllm"], moe_routing_s=0.0)
    shape = BatchShape(decode_seqs=1024, decode_context_tokens=1024 * 2048)
    for lay in (Layout(tp=8), Layout(tp=8, ep=8, dp_attention=True)):
        a, b = (RooflineModel(get_model("deepseek-r1"), get_gpu(gpu), 8, wd, kd, layout=lay, kernels=k)
                for k in (KERNEL_SETS["trtllm"], bare))
        ba, bb = a.breakdown(shape), b.breakdown(shape)
        assert ba.linear_s == bb.linear_s + 58 * 15e-6          # 58 MoE layers, counted with the GEMMs
        assert ba.attention_s == bb.attention_s and ba.comm_s == bb.comm_s
        assert a.step_time(shape) == pytest.approx(b.step_time(shape) + 58 * 15e-6, rel=1e-12)
        assert a.decode_step(1024, 1024 * 2048) == a.step_time(shape)


def test_trtllm_top_k_leaves_dense_models_bit_for_bit():
    bare = dataclasses.replace(KERNEL_SETS["trtllm"], moe_routing_s=0.0)
    for model, gpu, tp in (("llama-2-7b", "a100-80gb", 1), ("llama-3.1-405b", "h200-sxm", 8)):
        wd = "fp8" if tp > 1 else "bf16"
        t = RooflineModel(get_model(model), get_gpu(gpu), tp, wd, kernels=KERNEL_SETS["trtllm"])
        z = RooflineModel(get_model(model), get_gpu(gpu), tp, wd, kernels=bare)
        for shape in (BatchShape(decode_seqs=16, decode_context_tokens=16000), _prefill(2048)):
            assert t.step_time(shape) == z.step_time(shape) and t.breakdown(shape) == z.breakdown(shape)
        ctx = np.array([1000, 5000, 20000])
        assert np.array_equal(t.decode_times(8, ctx), z.decode_times(8, ctx))
