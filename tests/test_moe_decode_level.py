"""The MoE decode level (sim.perf.levels.MOE_DECODE_LEVELS, perf.moe_decode_efficiency): its value, its arithmetic,
how a scenario reaches it and where `fleetsim validate` suggests it."""
from __future__ import annotations

import math
import pathlib
import sys

import pytest

from sim.cli import main
from sim.perf import build_step_model
from sim.perf.base import BatchShape
from sim.perf.levels import MOE_DECODE_LEVELS, level_of, moe_decode_note
from sim.perf.memory import stage_weights
from sim.perf.parallel import Layout
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.perf import parse_perf

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import moe_decode_level  # noqa: E402
import validate_perf  # noqa: E402

BASELINE = ROOT / "scenarios" / "baseline.yaml"
CLUSTER = ROOT / "scenarios" / "deepseek_v3_cluster.yaml"
LEVEL = level_of("trtllm-attention-dp")
EP8_ADP = Layout(tp=8, ep=8, dp_attention=True)


def test_the_level_is_what_the_fit_on_its_named_rows_gives():
    assert [lvl.name for lvl in MOE_DECODE_LEVELS] == ["trtllm-attention-dp"]
    assert LEVEL.fitted_on == moe_decode_level.FIT_ROWS == ("17a", "17b", "17c")
    assert round(moe_decode_level.fit("level", LEVEL.fitted_on), 3) == LEVEL.efficiency == 0.155
    # fitted on the TensorRT-LLM blog's rows only: the MLPerf and Qwen3 rows it is checked on are held out
    rows = {r.id: r for r in validate_perf.ROWS_2026}
    assert {rows[i].source for i in LEVEL.fitted_on} == {validate_perf.SRC_TRT_DSR1}
    held_out = [r.id for r in rows.values() if validate_perf.at_moe_level(r) and r.id not in LEVEL.fitted_on]
    assert held_out == ["16a", "16b", "16c", "16d", "16e", "16f", "19a", "19b"]


def test_at_the_level_the_fitted_steps_have_a_mean_log_error_of_zero_and_the_catalog_is_fast():
    _, steps, rows = moe_decode_level._rows()
    err = {i: moe_decode_level.step_error(rows[i], steps[i], "level", moe_decode_level.fit("level")) for i in
           LEVEL.fitted_on}
    assert sum(math.log1p(e) for e in err.values()) == pytest.approx(0.0, abs=1e-6)
    # one value for both GPU generations: every fitted row within 3 % of its published step
    assert max(abs(e) for e in err.values()) < 0.03
    # without it the model is 1.8-2.8x fast on these steps (the gap the level closes)
    assert all(moe_decode_level.step_error(rows[i], steps[i]) > 0.8 for i in LEVEL.fitted_on)


def test_the_level_adds_the_busiest_ranks_decoding_sequences_active_flops_at_its_fraction_of_the_gemm_rate():
    m, gpu = get_model("deepseek-r1"), get_gpu("h200-sxm")
    base = RooflineModel(m, gpu, 8, "fp8", "bf16", layout=EP8_ADP)
    lvl = RooflineModel(m, gpu, 8, "fp8", "bf16", layout=EP8_ADP, moe_decode_efficiency=0.155)
    # by hand: 2 x active parameters per token (the stage's, as the roofline counts them) at 0.155 x peak x factor
    active = stage_weights(m, EP8_ADP, "fp8", "fp8").active_params_per_token
    per_seq = 2.0 * active / (gpu.peak_tflops("fp8") * 1e12 * gpu.efficiency("fp8").flops_efficiency * 0.155)
    for seqs in (1, 8, 1021, 1024):
        shape = BatchShape(decode_seqs=seqs, decode_context_tokens=seqs * 2048)
        assert lvl.step_time(shape) - base.step_time(shape) == pytest.approx(per_seq * math.ceil(seqs / 8), rel=1e-9)
        assert lvl.breakdown(shape).total_s == pytest.approx(lvl.step_time(shape), rel=1e-12)
    # 1,024 sequences (row 17a): 128 on the busiest rank, ~0.34 ms each
    assert 300e-6 < per_seq < 360e-6
    # prompts are not charged: an iteration of prompts alone is the catalog's
    prefill = BatchShape(prefill_tokens=8 * 1024, prefill_seqs=8, prefill_attn_pairs=8 * 1024 * 1025 / 2,
                         prefill_kv_tokens=8 * 1024)
    assert lvl.step_time(prefill) == base.step_time(prefill)


def test_without_the_key_the_step_model_is_unchanged_to_the_bit():
    m, gpu = get_model("qwen3-235b-a22b"), get_gpu("h200-sxm")
    a = RooflineModel(m, gpu, 8, "fp8", "fp8", layout=EP8_ADP)
    b = build_step_model(parse_perf({"model": "roofline", "weight_dtype": "fp8", "kv_dtype": "fp8"}), m, gpu, 8,
                         ROOT, layout=EP8_ADP)
    assert b.moe_decode_efficiency is None
    for seqs in (1, 300, 2048):
        shape = BatchShape(decode_seqs=seqs, decode_context_tokens=seqs * 1500)
        assert b.step_time(shape) == a.step_time(shape)


def test_the_scenario_key_builds_the_level_and_is_validated(capsys):
    m, gpu = get_model("deepseek-r1"), get_gpu("b200")
    perf = parse_perf({"model": "roofline", "weight_dtype": "fp4", "kv_dtype": "fp8", "moe_decode_efficiency": 0.155})
    built = build_step_model(perf, m, gpu, 8, ROOT, layout=EP8_ADP)
    direct = RooflineModel(m, gpu, 8, "fp4", "fp8", layout=EP8_ADP, moe_decode_efficiency=0.155)
    shape = BatchShape(decode_seqs=3072, decode_context_tokens=3072 * 2048)
    assert built.step_time(shape) == direct.step_time(shape)
    for bad in ("0", "1.5", "-0.1"):
        assert main(["validate", str(CLUSTER), "--set", f"perf.moe_decode_efficiency={bad}"]) == 2
        err = capsys.readouterr().err
        assert "perf.moe_decode_efficiency" in err and "(0, 1]" in err and "Traceback" not in err


NOTE = "set perf.moe_decode_efficiency to 0.155 (trtllm-attention-dp)"
MOE_EP8 = ["--set", "model=qwen3-235b-a22b", "--set", "perf.weight_dtype=fp8", "--set", "perf.kv_dtype=fp8",
           "--set", "fleet.pools.0.tensor_parallel=8", "--set", "fleet.pools.0.expert_parallel=8"]


@pytest.mark.parametrize("extra,shown", [
    (["--set", "fleet.pools.0.data_parallel_attention=true"], True),                        # the level's regime
    (["--set", "fleet.pools.0.data_parallel_attention=true",
      "--set", "perf.moe_decode_efficiency=0.155"], False),                                 # already set
    ([], False),                                                                            # TP8, no attention-DP
    (["--set", "fleet.pools.0.data_parallel_attention=true", "--set", "model=llama-3-70b",
      "--set", "fleet.pools.0.expert_parallel=1"], False),                                  # a dense model
])
def test_validate_suggests_the_level_for_a_one_node_attention_dp_moe_pool(capsys, extra, shown):
    assert main(["validate", str(BASELINE), *MOE_EP8, *extra]) == 0
    assert (NOTE in capsys.readouterr().out) == shown


def test_validate_does_not_suggest_the_level_across_nodes(capsys):
    # deepseek_v3_cluster.yaml: EP16 attention-DP over two 8-GPU nodes (no note) and TP8 on one node (no attention-DP)
    assert main(["validate", str(CLUSTER)]) == 0
    assert NOTE not in capsys.readouterr().out
    # the same EP pool on one node gets it
    assert main(["validate", str(CLUSTER), "--set", "fleet.pools.0.tensor_parallel=8",
                 "--set", "fleet.pools.0.expert_parallel=8"]) == 0
    assert capsys.readouterr().out.count(NOTE) == 1


def test_the_note_function():
    assert moe_decode_note(moe=True, dp_attention=True, level_set=False).endswith(
        "(docs/performance_model.md, 'The MoE decode level')")
    assert moe_decode_note(moe=True, dp_attention=True, level_set=True) is None
    assert moe_decode_note(moe=False, dp_attention=True, level_set=False) is None
    assert moe_decode_note(moe=True, dp_attention=False, level_set=False) is None
    with pytest.raises(KeyError, match="trtllm-attention-dp"):
        level_of("nope")
