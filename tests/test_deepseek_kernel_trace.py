"""Published DeepSeek decode-step kernel traces beside the step model: the tabulated numbers are the sources', their
counts agree with the architecture, and the model's side is its own breakdown."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import deepseek_kernel_trace as kt  # noqa: E402

from sim.perf.kernels import KERNEL_SETS  # noqa: E402
from sim.scenario.catalog import get_model  # noqa: E402


def _trace(key: str) -> kt.Trace:
    return next(t for t in kt.TRACES if t.key == key)


def test_vllm_trace_is_the_issues_twelve_kernels_span_and_first_expert_gemm():
    t = _trace("vllm-h200-ep8-c4")
    pre = [k for k in t.kernels if k.category not in (kt.ROUTED, kt.SPACING)]
    assert len(pre) == 12 and sum(k.avg_us for k in pre) == pytest.approx(33.4)
    spacing = next(k for k in t.kernels if k.category == kt.SPACING)
    assert sum(k.avg_us for k in pre) + spacing.avg_us == pytest.approx(39.8)   # "Total with inter-kernel spacing"
    assert next(k for k in t.kernels if k.category == kt.ROUTED).avg_us == 40.1
    # the vllm set's routing term is the nine routing kernels and their share of the spacing
    routing = sum(k.avg_us for k in t.kernels if k.category == kt.ROUTING)
    assert KERNEL_SETS["vllm"].moe_routing_s * 1e6 == pytest.approx(routing + 9 * spacing.avg_us / 12, rel=1e-9)


def test_inferencex_counts_are_whole_calls_per_layer_and_totals_match_the_table():
    t = _trace("sglang-b200-tp4ep4-c64")
    m = get_model("deepseek-r1")
    per = {k.name.split()[0]: (k.count, k.total_us) for k in t.kernels}
    assert per["fmhaSm100f"][0] == m.n_layers == 61              # one MLA call per layer
    assert per["bmm_E2m1_E2m1E2m1_Fp32"][0] == m.moe_layers == 58  # one gate/up per MoE layer
    assert per["DeviceGemmFp4GemmSm100"][0] == 3 * m.n_layers      # q/kv_a and o projections
    assert all(kt.counts_check(t).values())
    # the table's "Total (ms)" column: 4.78, 2.84, 1.54, 1.15 ms
    for name, total_ms in (("bmm_E2m1_E2m1E2m1_Fp32", 4.78), ("bmm_Bfloat16_E2m1E2m1_Fp32", 2.84),
                           ("DeviceGemmFp4GemmSm100", 1.54), ("fmhaSm100f", 1.15)):
        assert per[name][1] / 1e3 == pytest.approx(total_ms, abs=0.005)
    assert t.step_us == pytest.approx(4780 / 0.238)                 # gate/up is 23.8 % of the step


def test_modelled_side_is_the_step_models_breakdown():
    t = _trace("sglang-b200-tp4ep4-c64")
    mod = kt.modelled_us(t, "trtllm")
    parts = sum(v for k, v in mod.items() if k != "step")
    assert parts == pytest.approx(mod["step"], rel=1e-9)
    v = kt.modelled_us(_trace("vllm-h200-ep8-c4"), "vllm")
    assert v[kt.ROUTING] == pytest.approx(27.7, abs=0.05)
    # the trtllm set's fused top-k (TensorRT-LLM blog 3), per MoE layer
    assert kt.modelled_us(_trace("vllm-h200-ep8-c4"), "trtllm")[kt.ROUTING] == pytest.approx(15.0)


def test_vllm_finalize_row_is_the_sets_term_and_the_step_is_still_its_parts():
    t = _trace("vllm-h200-ep8-c4")
    assert kt.modelled_us(t, "vllm")[kt.FINALIZE] == pytest.approx(2.2 + 4 * (39.8 - 33.4) / 12, rel=1e-9)
    assert kt.modelled_us(t, "trtllm")[kt.FINALIZE] == 0.0
    # a vllm step: its categories still add up to the step, the GEMMs not double-counting the two MoE terms
    s = kt.Trace(**{**t.__dict__, "scope": "per step"})
    mod = kt.modelled_us(s, "vllm")
    assert sum(v for k, v in mod.items() if k != "step") == pytest.approx(mod["step"], rel=1e-9)
    assert mod[kt.FINALIZE] == pytest.approx(58 * KERNEL_SETS["vllm"].moe_finalize_s * 1e6, rel=1e-12)


def test_allreduce_model_is_its_fixed_cost_plus_the_ring_term():
    """10 us per call plus 2 (tp-1)/tp bytes over 80 % of 450 GB/s one-way NVLink: 1 MB over 8 GPUs is
    10 + 1.75 * 1048576 / 360e9 * 1e6 = 15.10 us; the published table is SGLang PR 2904's, in us."""
    model = kt.allreduce_us()
    for size in (512, 4096, 32768, 262144, 524288, 1048576):
        assert model[size] == pytest.approx(10 + 1.75 * size / 360e9 * 1e6, rel=1e-9)
    vllm = dict(kt.ALLREDUCE_H100_TP8_US["vLLM custom all-reduce"])
    assert vllm[4096] == 9.3 and vllm[1048576] == 45.0
    rows = kt.allreduce_rows()
    assert [r["bytes"] for r in rows] == sorted(model) and rows[-1]["deepseek_tokens"] == pytest.approx(73.14, abs=0.01)


def test_small_gemm_table_is_the_published_tflops_in_us_and_the_models_roofline():
    rows = {(r["kernel"], r["tokens"]): r for r in kt.small_gemm_rows()}
    # 2 x 1 x 2112 x 7168 FLOPs at 1.298436 TFLOP/s (vLLM PR 23280, Triton, M=1) = 23.32 us
    assert rows[("vLLM block-fp8, Triton", 1)]["published_us"] == pytest.approx(2 * 2112 * 7168 / 1.298436e12 * 1e6,
                                                                                abs=0.005)
    assert rows[("vLLM block-fp8, CUTLASS", 16)]["published_us"] == pytest.approx(34.75, abs=0.01)
    # the model: 15.1 MB of fp8 weights (plus the token rows) at 78.7 % of 3.35 TB/s, memory-bound at 1 token
    fp8_1 = rows[("vLLM block-fp8, Triton", 1)]
    assert fp8_1["weight_bytes"] == 2112 * 7168
    assert fp8_1["modelled_us"] >= (2112 * 7168 + 7168 + 2112 * 2) / (3.35e12 * 0.787) * 1e6 - 0.005
    assert fp8_1["published_us"] > 3 * fp8_1["modelled_us"]    # the fixed cost the step model lacks
    bf16 = rows[("torch bf16", 1)]
    assert bf16["published_us"] < bf16["modelled_us"]          # a bf16 GEMV runs at its bytes' pace
    # the vllm set's op takes at least its floor (12.6 us), still below both published kernels; bf16 keeps its roofline
    for (kernel, _), r in rows.items():
        if "fp8" in kernel:
            assert r["modelled_vllm_us"] == pytest.approx(KERNEL_SETS["vllm"].fp8_linear_floor_s * 1e6, abs=0.005)
            assert r["modelled_vllm_us"] < r["published_us"]
        else:
            assert r["modelled_vllm_us"] == r["modelled_us"]


def test_block_fp8_gemm_floor_table_is_sglang_pr_5820_at_one_token():
    rows = {(r["n"], r["k"]): r for r in kt.gemm_floor_rows()}
    assert rows[(3072, 1536)]["DeepGEMM"] == 10.336 and rows[(3072, 1536)]["vLLM CUTLASS"] == 14.528
    # the vllm set's GEMM floor is below every GEMM in the table at one token (it is the same table's DeepGEMM
    # time for N=3072 K=1536 at 32-64 tokens, 9.376 us), and every GEMM there is well above its roofline
    fastest = min(v for r in rows.values() for name, v in r.items() if name in ("DeepGEMM", "vLLM CUTLASS"))
    assert all(r["floor_gemm_us"] == 9.38 < fastest for r in rows.values())
    # 4.7 MB of fp8 weights at 78.7 % of H200's 4.8 TB/s: 1.25 us, an eighth of the published 10.3 (M=1)
    assert rows[(3072, 1536)]["modelled_us"] == pytest.approx(3072 * 1536 / (4.8e12 * 0.787) * 1e6, rel=0.02)
    assert all(r["DeepGEMM"] > 3 * r["modelled_us"] for r in rows.values())


def test_uniform_routing_would_need_more_than_the_b200s_bandwidth():
    """64 tokens x 8 of 256 experts: each EP4 rank hits 64 * (1 - (31/32)**64) = 55.6 of its 64 experts; their
    gate/up weights (2 x 7168 x 2048 x 0.5 B each) in 82.4 us would be 9.9 TB/s."""
    t = _trace("sglang-b200-tp4ep4-c64")
    hit = 64 * (1 - (31 / 32) ** 64)
    assert kt.uniform_gate_up_bytes(t) == pytest.approx(hit * 2 * 7168 * 2048 * 0.5, rel=1e-12)
    assert kt.uniform_gate_up_bytes(t) / 82.4e-6 > 8e12


def test_script_prints_json_with_every_trace():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "deepseek_kernel_trace.py")], check=True,
                         capture_output=True, text=True).stdout
    d = json.loads(out)
    assert [t["key"] for t in d["traces"]] == [t.key for t in kt.TRACES]
    assert all(t["source"].startswith("github.com/") for t in d["traces"])
