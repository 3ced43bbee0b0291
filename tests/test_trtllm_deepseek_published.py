"""What TensorRT-LLM publishes about its DeepSeek-R1 max-throughput steps: the derived numbers are hand-worked from the
published reports, the fused top-k is priced at its published time, and the imbalance statistics are checked against
closed forms."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import trtllm_deepseek_published as pub  # noqa: E402

from sim.perf.kernels import KERNEL_SETS  # noqa: E402


def _row(rid: str) -> dict:
    return next(r for r in pub.run_rows() if r["id"] == rid)


def test_17b_report_arithmetic_by_hand():
    r = _row("17b")
    assert r["little_step_ms"] == pytest.approx(3072 / 36384.0838 * 1e3)          # 84.43 ms
    assert r["request_ms_per_token"] == pytest.approx(172321.7206 / 2048)          # 84.14 ms
    assert r["waves"] == 16                                                         # 49,152 / 3,072
    assert r["ramp_and_drain_share"] == pytest.approx(1 - 16 * 172321.7206 / 2766684.9197)   # 0.34 %
    assert r["output_check"] == pytest.approx(17.7657 * 2048 / 36384.0838)         # requests/s x OSL = tokens/s


def test_every_run_is_steady_state_unpadded_and_consistent():
    for r in pub.run_rows():
        assert r["output_check"] == pytest.approx(1.0, abs=1e-5)
        assert 0.0 < r["ramp_and_drain_share"] < 0.03
        assert r["request_ms_per_token"] == pytest.approx(r["little_step_ms"], rel=0.03)   # Little's law, full slots
        assert r["steady_padding_slots"] == 0
        # the modelled step carries the fused top-k of 58 MoE layers
        assert r["modelled_step_ms"] - r["modelled_step_without_topk_ms"] == pytest.approx(58 * 0.015, rel=1e-9)


def test_top_k_is_priced_per_moe_layer_at_its_published_fused_time():
    t = pub.topk_check()
    assert t["priced_us_per_moe_layer"] == pytest.approx(15.0) == t["fused_us"]
    assert KERNEL_SETS["trtllm"].moe_routing_s * 1e6 == pytest.approx(pub.TOPK_FUSED_US)
    assert t["saving_per_step_ms"] == pytest.approx((252 - 15) * 58 / 1000)        # 13.7 ms
    assert t["implied_step_before_fusion_ms"] == pytest.approx(13.746 * 1.074 / 0.074)   # 199.5 ms
    # the per-layer reading lands on the February step; a per-step reading would be 0.1 % of it
    assert t["implied_step_before_fusion_ms"] == pytest.approx(t["feb_step_at_17b_concurrency_ms"], rel=0.05)
    assert (252 - 15) / 1000 / t["implied_step_before_fusion_ms"] < 0.002


def test_expected_max_of_standard_normals_matches_closed_forms():
    assert pub.expected_max_std_normal(1) == pytest.approx(0.0, abs=1e-6)
    assert pub.expected_max_std_normal(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-5)
    assert pub.expected_max_std_normal(3) == pytest.approx(3 / (2 * math.sqrt(math.pi)), rel=1e-5)


def test_rank_spread_from_expert_spread_by_hand_and_against_the_published_one():
    cv = 164.1 / 128
    assert pub.placed_rank_cv(cv, 32) == pytest.approx(cv * math.sqrt(248 / 255 / 8))   # 0.447
    assert pub.placed_rank_cv(cv, 8) == pytest.approx(cv * math.sqrt(224 / 255 / 32))   # 0.212
    imb = pub.imbalance_rows()
    assert imb["placed_rank_cv_ep32"] == pytest.approx(imb["published_rank_cv"], rel=0.10)   # 0.447 vs 0.480


def test_uniform_routing_is_far_more_balanced_than_the_published_routing():
    rank, expert = pub.uniform_imbalance(32, 1024.0)
    # a rank's rows are nearly Poisson(1,024) (sd 32): the busiest of 32 about 2 sd over the mean, ~6 %
    assert rank == pytest.approx(2.07 * math.sqrt(1024) / 1024, rel=0.2)
    assert rank < 0.1 < 1.5 < pub.EPLB_TABLE["rank_imbalance"]
    assert expert < 0.5 < pub.EPLB_TABLE["expert_imbalance"]


def test_imbalance_sensitivity_is_small_where_the_experts_are_weight_bound():
    s = {r["id"]: r for r in pub.imbalance_rows()["sensitivity"]}
    assert all(r["added_ms"] >= 0.0 for r in s.values())
    assert s["17a"]["added_ms"] < 0.1 < s["17b"]["added_ms"] < s["17c"]["added_ms"] < 5.0


def test_report_and_json():
    text = "\n".join(pub.report_lines())
    for rid in ("17a", "17b", "17c"):
        assert f"| {rid} |" in text
    assert "1.564" in text and "10.948" in text and "252 µs" in text
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "trtllm_deepseek_published.py")],
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert [r["id"] for r in data["runs"]["rows"]] == ["17a", "17b", "17c"]
    assert data["fused_topk"]["fused_us"] == 15.0


def test_mlperf_rank_batch_is_the_one_the_mlperf_rows_run_and_a_captured_graph_size():
    import mlperf_deepseek
    assert pub.MLPERF_RANK_BATCH == mlperf_deepseek.RANK_BATCH
    assert pub.MLPERF_RANK_BATCH in pub.MLPERF_CUDA_GRAPH_SIZES


def test_alltoall_table_is_blog_18s_and_the_model_side_is_two_calls_by_hand():
    rows = {r["tokens_per_rank"]: r for r in pub.alltoall_rows()}
    assert rows[1]["published_us"] == pytest.approx(18.9 + 31.0) and rows[512]["published_us"] == pytest.approx(181.2)
    # two calls per MoE layer, each 10 us plus each GPU's 1/8 of 8T tokens x 8 experts x 7,168 x (2 + 2) bytes / 2
    # per call, 7/8 of it over 900 GB/s NVLink at 80 %
    for t in (1, 512, 2048):
        per_call = 10e-6 + 8 * t * (8 * 7168 * 4 / 8 / 2) * (7 / 8) / (900e9 * 0.8)
        assert rows[t]["modelled_us"] == pytest.approx(2 * per_call * 1e6, rel=1e-9)
    # bandwidth-bound from 256 tokens: within 15 %; the fixed cost below it is 2.5x the model's
    assert all(abs(r["modelled_us"] / r["published_us"] - 1) < 0.15 for t, r in rows.items() if t >= 256)
    assert rows[1]["published_us"] / rows[1]["modelled_us"] > 2
