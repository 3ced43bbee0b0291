"""The measured large-batch FLOPs levels of Hopper fp8 (sim.perf.levels): what a CLI user gets from them."""
from __future__ import annotations

import pathlib
import sys

import pytest

from sim.cli import main
from sim.perf import build_step_model
from sim.perf.levels import FP8_LEVELS, LARGE_BATCH_SEQS, large_batch_note, level, level_efficiency
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.perf import parse_perf

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import hopper_flops_level  # noqa: E402
import mlperf_server  # noqa: E402

BASELINE = ROOT / "scenarios" / "baseline.yaml"


def test_levels_are_scales_below_the_catalog_and_the_efficiency_is_their_product():
    assert [lvl.name for lvl in FP8_LEVELS] == ["mlperf-v4.1", "mlperf-v4.0"]
    for lvl in FP8_LEVELS:
        assert 0 < lvl.scale < 1
        for gpu in ("h100-sxm", "h200-sxm"):
            assert level_efficiency(gpu, lvl.name) == get_gpu(gpu).efficiency("fp8").flops_efficiency * lvl.scale
    # 0.691 x 0.861 and 0.691 x 0.729, by hand
    assert level_efficiency("h100-sxm", "mlperf-v4.1") == pytest.approx(0.594951, abs=1e-6)
    assert level_efficiency("h200-sxm", "mlperf-v4.0") == pytest.approx(0.503739, abs=1e-6)
    with pytest.raises(KeyError, match="known: mlperf-v4.1, mlperf-v4.0"):
        level("mlperf-v9")


def test_the_benchmarks_use_the_levels_a_cli_user_picks():
    assert mlperf_server.MLPERF_FLOPS_SCALE == {"v4.1": level("mlperf-v4.1").scale, "v4.0": level("mlperf-v4.0").scale}


@pytest.mark.parametrize("row", [r for r in mlperf_server.SERVER_ROWS
                                 if r.gpu in mlperf_server.HOPPER and mlperf_server.OFFLINE_BATCH[r.id] is not None],
                         ids=lambda r: r.id)
def test_a_cli_perf_block_with_the_level_is_the_validated_step_model(row):
    # the documented setting, perf.flops_efficiency = level_efficiency(...), builds the very step model the
    # MLPerf validation runs (bit for bit), and it lands on the published Offline iteration of that round
    perf = parse_perf({"model": "roofline", "weight_dtype": "fp8", "kv_dtype": "fp8",
                       "flops_efficiency": level_efficiency(row.gpu, "mlperf-" + row.level_round)})
    cli = build_step_model(perf, get_model("llama-2-70b"), get_gpu(row.gpu), row.tp, ROOT)
    bench = mlperf_server.step_model(row)
    assert cli.efficiency == bench.efficiency
    lengths = mlperf_server.batch_lengths(row.tokens_per_sample)
    for batch in (64, 455, 896):
        assert mlperf_server.iteration_at(cli, batch, 20.0, lengths) == mlperf_server.iteration_at(bench, batch, 20.0,
                                                                                                   lengths)
    groups = row.gpus // row.tp
    b, tps = mlperf_server.OFFLINE_BATCH[row.id], mlperf_server.OFFLINE_TOKENS_PER_S[row.id] / groups
    published_s = b / tps                      # e.g. 13b: 806 / (31,302.7 / 8) = 206.0 ms
    modelled_s = mlperf_server.iteration_at(cli, b, tps / row.tokens_per_sample, lengths)
    assert abs(modelled_s / published_s - 1) < 0.06
    # the catalog's level alone puts the same iteration 14-30 % short
    catalog = build_step_model(perf.model_copy(update={"flops_efficiency": None}), get_model("llama-2-70b"), get_gpu(row.gpu),
                               row.tp, ROOT)
    assert mlperf_server.iteration_at(catalog, b, tps / row.tokens_per_sample, lengths) < 0.88 * published_s


@pytest.mark.parametrize("gpu,dtype,seqs,flops_set,expected", [
    ("h100-sxm", "fp8", 1024, False, True),
    ("h200-sxm", "fp8", LARGE_BATCH_SEQS, False, True),
    ("h200-sxm", "fp8", LARGE_BATCH_SEQS - 1, False, False),
    ("h100-sxm", "bf16", 1024, False, False),
    ("b200", "fp8", 1024, False, False),
    ("h100-sxm", "fp8", 1024, True, False),
])
def test_large_batch_note_only_where_the_levels_apply(gpu, dtype, seqs, flops_set, expected):
    note = large_batch_note(gpu, dtype, seqs, flops_set)
    assert (note is not None) == expected
    if expected:
        assert f"{level_efficiency(gpu, 'mlperf-v4.1'):.3f} (mlperf-v4.1)" in note and "flops_efficiency" in note


@pytest.mark.parametrize("extra,shown", [
    ([], True),
    (["--set", "perf.flops_efficiency=0.6"], False),
    (["--set", "perf.weight_dtype=bf16"], False),
    (["--set", "fleet.pools.0.batching.max_num_seqs=256"], False),
])
def test_validate_prints_the_note_for_a_large_batch_hopper_fp8_pool(capsys, extra, shown):
    argv = ["validate", str(BASELINE), "--set", "perf.weight_dtype=fp8",
            "--set", "fleet.pools.0.batching.max_num_seqs=512", *extra]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert ("note: up to 512 sequences per iteration in fp8 on h100-sxm" in out) == shown



def test_implied_scale_solves_a_hand_worked_step():
    # a step of 10 ms of FLOPs at the catalog's level plus 5 ms of the rest, published 25 ms: 10/s + 5 = 25, s = 0.5
    s = hopper_flops_level.implied_scale(lambda s: (10.0 / s + 5.0) / 25.0 - 1.0)
    assert s == pytest.approx(0.5, rel=1e-9)
    # no crossing inside the range: its end
    assert hopper_flops_level.implied_scale(lambda s: 1.0) == pytest.approx(3.0, rel=1e-9)


def test_power_beyond_700_w_recovers_little_of_the_large_batch_level():
    # MLPerf v4.1 Offline, TP1 at batch 806, same software: 8xH200 at 700 W 31,302.7 tokens/s (3,912.8 per GPU),
    # GH200 (up to 1,000 W module) 4,067.52: +3.95 % by hand; at 500 W (MaxQ) 25,262.1, 0.807 of 700 W
    ph = hopper_flops_level.power_headroom()
    h200, gh200 = ph["h200-sxm 700 W"], ph["gh200 up to 1,000 W"]
    assert gh200["tokens_per_s_per_gpu"] / h200["tokens_per_s_per_gpu"] == pytest.approx(1.0395, abs=1e-4)
    assert ph["maxq_500w_throughput_ratio"] == pytest.approx(0.8070, abs=1e-4)
    # the H200's implied level is the v4.1 level fitted on the Offline rows (1 and 2 together)
    assert h200["implied_scale"] == pytest.approx(level("mlperf-v4.1").scale, abs=0.01)
    # more power buys a few per cent of level; the GH200 stays ~10 % below the catalog's
    assert 0.0 < gh200["implied_scale"] / h200["implied_scale"] - 1.0 < 0.06
    assert gh200["implied_scale"] < 0.92


def test_large_batch_hopper_rows_sit_below_the_catalog_level_and_small_ones_do_not():
    rows = [d for d in hopper_flops_level.rows() if d["flops_share"] >= hopper_flops_level.PINNED]
    big = {d["id"]: d["implied_scale"] for d in rows if d["batch"] >= LARGE_BATCH_SEQS}
    small = [d["implied_scale"] for d in rows if d["batch"] < LARGE_BATCH_SEQS]
    # large-batch exceptions: 15f (prefill-heavy) and MLPerf v5.0's H200 Server point (13e: NVIDIA's 2025 engine,
    # fp8 GEMM + SwiGLU fused, ~0.95 of the catalog's level at ~715 sequences)
    assert {k for k, v in big.items() if v >= 0.92} == {"15f", "13e Server"} and min(small) > 0.88
    # at the implied level a throughput row reproduces its published number
    import validate_perf  # noqa: PLC0415
    row = next(r for r in validate_perf.ROWS if r.id == "12b")
    d = next(d for d in rows if d["id"] == "12b")
    eff = get_gpu(row.gpu).efficiency("fp8")
    scaled = validate_perf.estimate(row, hopper_flops_level.scaled_efficiency(eff, d["implied_scale"]))
    assert scaled == pytest.approx(row.published, rel=1e-9)


# --- the note is for dense models: the rows behind the levels are all dense -------------------------------
DOCUMENTED_NOTE = next(line.strip() for line in (ROOT / "docs" / "performance_model.md").read_text().splitlines()
                       if line.strip().startswith("note: up to 512 sequences per iteration in fp8 on h100-sxm"))


def test_every_row_behind_the_levels_is_a_dense_model():
    models = {d["model"] for d in hopper_flops_level.rows()}
    assert models and all(get_model(m).n_experts == 1 for m in models), models
    # the validation does have Hopper fp8 mixture-of-experts rows; none of them is among the rows above
    import validate_perf  # noqa: PLC0415
    moe = [r for r in validate_perf.ROWS + validate_perf.ROWS_2026
           if r.gpu in ("h100-sxm", "h200-sxm") and r.weight_dtype == "fp8" and get_model(r.model).n_experts > 1]
    assert moe and not {r.id for r in moe} & {d["id"] for d in hopper_flops_level.rows()}


def test_no_large_batch_note_for_a_mixture_of_experts():
    assert large_batch_note("h200-sxm", "fp8", 512, flops_set=False, dense=False) is None
    assert large_batch_note("h200-sxm", "fp8", 512, flops_set=False, dense=True) is not None


MOE_EP8 = ["--set", "model=qwen3-235b-a22b", "--set", "perf.weight_dtype=fp8", "--set", "perf.kv_dtype=fp8",
           "--set", "fleet.pools.0.tensor_parallel=8", "--set", "fleet.pools.0.expert_parallel=8",
           "--set", "fleet.pools.0.batching.max_num_seqs=512"]


@pytest.mark.parametrize("argv", [
    [str(ROOT / "scenarios" / "deepseek_v3_cluster.yaml")],        # EP16, data-parallel attention, 512 sequences, H200
    [str(BASELINE), *MOE_EP8],                                       # Qwen3-235B, TP8 EP8 on H100
    [str(BASELINE), *MOE_EP8, "--set", "fleet.pools.0.data_parallel_attention=true"],
])
def test_validate_prints_no_large_batch_note_for_a_moe_pool(capsys, argv):
    assert main(["validate", *argv]) == 0
    out = capsys.readouterr().out
    assert "fp8 weights" in out and "up to 512 (max_num_seqs)" in out   # a large-batch Hopper fp8 pool...
    assert "note: up to" not in out                                      # ...without the dense models' note


def test_the_dense_note_is_the_documented_text(capsys):
    # a dense 70B at TP4: the note as before, word for word as docs/performance_model.md quotes it
    assert main(["validate", str(BASELINE), "--set", "model=llama-3-70b", "--set", "perf.weight_dtype=fp8",
                 "--set", "fleet.pools.0.tensor_parallel=4", "--set", "fleet.pools.0.batching.max_num_seqs=512"]) == 0
    notes = [line.strip() for line in capsys.readouterr().out.splitlines() if "note:" in line]
    assert notes == [DOCUMENTED_NOTE]
