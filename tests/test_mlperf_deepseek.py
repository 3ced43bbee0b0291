"""The shipped MLPerf DeepSeek-R1 lengths are the benchmark's, and its Offline rows run as NVIDIA configured them."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from sim.scenario.load import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import mlperf_deepseek  # noqa: E402
import validate_perf  # noqa: E402


def test_lengths_match_the_published_statistics():
    """MLCommons' reference answers average 4,043.449863 tokens (language/deepseek-r1 README, reference evals) and
    3,886.2274 capped at 20,000 (the later README and the submission checker's TOKENS_PER_SAMPLE reference);
    NVIDIA's engines take at most 3,140 input tokens (max_input_len)."""
    prompts, raw = mlperf_deepseek.lengths(cap=None)
    _, capped = mlperf_deepseek.lengths()
    assert len(prompts) == len(raw) == 4_388
    assert sum(raw) / len(raw) == pytest.approx(4043.449863, abs=1e-6)
    assert sum(capped) / len(capped) == pytest.approx(3886.2274, abs=1e-4)
    assert max(prompts) == mlperf_deepseek.MAX_INPUT == 3_140
    assert max(raw) == 32_768 and max(capped) == mlperf_deepseek.MAX_OUTPUT == 20_000
    assert min(prompts) >= 1 and min(raw) >= 1


def test_offline_query_is_six_whole_passes_with_capped_outputs(tmp_path):
    """NVIDIA's B200 min_query_count 26,328 = 6 x 4,388: every sample exactly six times."""
    mlperf_deepseek.write_query(tmp_path / "q.csv", 26_328)
    rows = [tuple(map(int, line.split(","))) for line in (tmp_path / "q.csv").read_text().splitlines()[1:]]
    assert len(rows) == 26_328 and {t for t, _, _ in rows} == {0}
    once = Counter(zip(*mlperf_deepseek.lengths()))
    assert Counter((p, o) for _, p, o in rows) == Counter({k: 6 * n for k, n in once.items()})
    assert max(o for _, _, o in rows) == 20_000


def test_output_scale_scales_the_capped_outputs(tmp_path):
    mlperf_deepseek.write_query(tmp_path / "q.csv", 4_388, output_scale=0.9)
    outs = [int(line.split(",")[2]) for line in (tmp_path / "q.csv").read_text().splitlines()[1:]]
    assert sum(outs) / len(outs) == pytest.approx(0.9 * 3886.2274, rel=1e-4)
    assert max(outs) == 18_000


def test_decode_context_by_hand(monkeypatch):
    """Two samples, (100 in, 10 out) and (0 in, 30 out): a batch holds them 10:30, halfway through their outputs,
    (10 x 105 + 30 x 15) / 40 = 37.5 tokens."""
    monkeypatch.setattr(mlperf_deepseek, "lengths", lambda cap=None: ([100, 0], [10, 30]))
    assert mlperf_deepseek.decode_context() == 37.5


@pytest.mark.parametrize("row", mlperf_deepseek.ROWS, ids=lambda r: r.id)
def test_rows_are_valid_scenarios_with_nvidias_layout(row, tmp_path):
    """TP8 EP8 attention-DP per 8 GPUs (9 replicas on the NVL72), 512 sequences and 4,608 tokens per rank,
    TensorRT-LLM max_util without chunked context, no streaming (Offline)."""
    sc = scenario_from_dict(mlperf_deepseek.scenario(row, tmp_path / "q.csv"), base_dir=tmp_path).scenario
    pool = sc.fleet.pools[0]
    assert (pool.replicas, pool.tensor_parallel, pool.expert_parallel, pool.data_parallel_attention) == \
        (row.gpus // 8, 8, 8, True)
    b = pool.batching
    assert (b.scheduler, b.kv_reservation, b.chunked_prefill, b.max_num_seqs, b.max_batched_tokens) == \
        ("trtllm", "prompt", False, 4_096, 36_864)
    assert pool.max_model_len == 23_140 and sc.perf.streaming is False
    assert (sc.perf.weight_dtype, sc.perf.kv_dtype) == ("fp4", "fp8")


def test_validation_rows_are_held_out_and_show_the_data_sets_means(tmp_path):
    rows = [r for r in validate_perf.ROWS_2026 if r.dataset == "mlperf-dsr1"]
    assert [r.id for r in rows] == ["19a", "19b"]
    for r in rows:
        assert r.role == "holdout" and r.model == "deepseek-r1" and r.batch == 4_096
        assert (r.input_tokens, r.output_tokens) == (804, 3_886)
        sc = validate_perf.scenario_for(r, tmp_path / "q.csv")
        assert sc == mlperf_deepseek.scenario(validate_perf.MLPERF_DSR1[r.id], tmp_path / "q.csv")


def test_report_section_names_the_mlperf_rows_and_their_error_group(tmp_path):
    """The 2025-26 section (closed-form estimate: quick) lists 19a-b in the table, the step table and their own
    error group, and compares them with 17a-c."""
    stats = validate_perf.write_2026_section("estimate", tmp_path / "validation.md")
    text = (tmp_path / "validation.md").read_text(encoding="utf-8")
    assert set(stats) == set(validate_perf.GROUPS_2026)
    assert text.count("| 19a |") == 2 and text.count("| 19b |") == 2     # results and decode-step tables
    assert "| deepseek-r1, MLPerf v5.1 |" in text and "for 17a-c" in text
    assert "move 19a by" not in text   # the output-length sensitivity is a simulator run
