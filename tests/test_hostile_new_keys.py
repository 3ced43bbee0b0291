"""Hostile input on the newest surface: ``fleetsim calibrate --vidur-mlp/--vidur-attention``, the
kernel-set and layout keys of a scenario, the autoscaler's delays against the run.

Every bad value is exit 2 with one line naming the file, the field (or line and column) and what is
allowed, never a traceback or an internal error; a legal but meaningless value is a one-line warning.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.perf.vidur import bundled_profile

MLP, ATTENTION = bundled_profile("a100"), bundled_profile("a100", "attention")


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return err


# ------------------------------------------------------------------ fleetsim calibrate --vidur-*
def _table(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if not x.startswith("#")]
    rows = list(csv.reader(lines))
    return rows[0], rows[1:]


def _edited(tmp_path: Path, src: Path, column: str, value: str, row: int = 4) -> Path:
    """A copy of ``src`` (comments dropped) with ``column`` of data row ``row`` set to ``value``;
    the data row is on line ``row + 2`` of the copy."""
    header, rows = _table(src)
    rows[row][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path = tmp_path / f"edited_{src.name}"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _calibrate(mlp: Path | str, attention: Path | str = ATTENTION, *extra: str) -> list[str]:
    return ["calibrate", "--vidur-mlp", str(mlp), "--vidur-attention", str(attention),
            "--gpu", "a100-80gb", "--model", "llama-2-7b", *extra]


UP = "time_stats.mlp_up_proj.median"
BAD_MLP_CELLS = [
    (UP, "nan", f"{UP} must be a finite number > 0 (milliseconds per layer) (got 'nan')"),
    (UP, "inf", f"{UP} must be a finite number > 0 (milliseconds per layer) (got 'inf')"),
    (UP, "-1", f"{UP} must be a finite number > 0 (milliseconds per layer) (got '-1')"),
    (UP, "0", f"{UP} must be a finite number > 0 (milliseconds per layer) (got '0')"),
    (UP, "", f"{UP} must be a finite number > 0 (milliseconds per layer) (got '')"),
    (UP, "abc", f"{UP} must be a finite number > 0 (milliseconds per layer) (got 'abc')"),
    ("num_tokens", "0", "num_tokens must be a whole number >= 1 (got '0')"),
    ("num_tokens", "12.5", "num_tokens must be a whole number >= 1 (got '12.5')"),
    ("num_tokens", "-5", "num_tokens must be a whole number >= 1 (got '-5')"),
    ("num_tensor_parallel_workers", "0", "num_tensor_parallel_workers must be a whole number >= 1 (got '0')"),
    ("num_tensor_parallel_workers", "two", "num_tensor_parallel_workers must be a whole number >= 1 (got 'two')"),
]


@pytest.mark.parametrize("column,value,expected", BAD_MLP_CELLS, ids=[f"{c[0][-14:]}={c[1]}" for c in BAD_MLP_CELLS])
def test_a_bad_cell_of_the_operator_profile_names_line_and_column(tmp_path, capsys, column, value, expected):
    path = _edited(tmp_path, MLP, column, value)
    assert main(_calibrate(path)) == 2
    header, _ = _table(MLP)
    err = _err(capsys)
    assert err.strip() == f"{path}:6:{header.index(column) + 1}: {expected}"


BAD_ATTENTION_CELLS = [
    ("attn_median_ms", "nan", "attn_median_ms must be a finite number > 0 (milliseconds per layer) (got 'nan')"),
    ("attn_median_ms", "inf", "attn_median_ms must be a finite number > 0 (milliseconds per layer) (got 'inf')"),
    ("attn_median_ms", "0", "attn_median_ms must be a finite number > 0 (milliseconds per layer) (got '0')"),
    ("attn_median_ms", "-0.5", "attn_median_ms must be a finite number > 0 (milliseconds per layer) (got '-0.5')"),
    ("is_prefill", "maybe", "is_prefill must be True or False (got 'maybe')"),
    ("batch_size", "x", "batch_size must be a whole number >= 1 (got 'x')"),
    ("kv_cache_size", "-10", "kv_cache_size must be a whole number >= 0 (got '-10')"),
]


@pytest.mark.parametrize("column,value,expected", BAD_ATTENTION_CELLS, ids=[f"{c[0]}={c[1]}" for c in BAD_ATTENTION_CELLS])
def test_a_bad_cell_of_the_attention_sample_names_line_and_column(tmp_path, capsys, column, value, expected):
    path = _edited(tmp_path, ATTENTION, column, value)
    assert main(_calibrate(MLP, path)) == 2
    header, _ = _table(ATTENTION)
    assert _err(capsys).strip() == f"{path}:6:{header.index(column) + 1}: {expected}"


def test_a_short_row_of_the_operator_profile_is_named(tmp_path, capsys):
    header, rows = _table(MLP)
    rows[4] = rows[4][:10]
    path = tmp_path / "short.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    assert main(_calibrate(path)) == 2
    assert _err(capsys).strip() == (f"{path}:6: has 10 values; the header names {len(header)} columns")


@pytest.mark.parametrize("which", ["mlp", "attention"])
def test_a_profile_with_a_header_and_no_rows_says_so(tmp_path, capsys, which):
    src = MLP if which == "mlp" else ATTENTION
    header, _ = _table(src)
    path = tmp_path / "header_only.csv"
    path.write_text(",".join(header) + "\n", encoding="utf-8")
    argv = _calibrate(path) if which == "mlp" else _calibrate(MLP, path)
    assert main(argv) == 2
    assert _err(capsys).strip() == f"{path}: has a header row and no data rows"


@pytest.mark.parametrize("which", ["mlp", "attention"])
def test_a_profile_that_is_a_folder_a_device_or_not_text_names_the_file(tmp_path, capsys, which):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for path, expected in ((tmp_path, "is a folder, not a regular file"),
                           (Path("/dev/zero"), "is a device, not a regular file"),
                           (binary, "not UTF-8 text"),
                           (tmp_path / "missing.csv", "cannot read (No such file or directory)")):
        argv = _calibrate(path) if which == "mlp" else _calibrate(MLP, path)
        assert main(argv) == 2
        err = _err(capsys)
        assert err.startswith(f"{path}: {expected}"), err


def test_a_profile_with_one_token_count_cannot_fit_three_factors(tmp_path, capsys):
    header, rows = _table(MLP)
    tp = header.index("num_tensor_parallel_workers")
    path = tmp_path / "one.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *[r for r in rows if r[tp] == "1"][:1] * 5]) + "\n",
                    encoding="utf-8")
    assert main(_calibrate(path)) == 2
    assert _err(capsys).strip() == (f"{path}: the tensor-parallel-1 rows have 1 different token count(s); fitting "
                                    "flops_efficiency, bw_efficiency and overlap_exponent needs at least 3")


def test_an_attention_sample_of_one_shape_per_kind_cannot_fit_a_floor_and_a_slope(tmp_path, capsys):
    header, rows = _table(ATTENTION)
    decode = next(r for r in rows if r[0] == "False")
    path = tmp_path / "same.csv"
    path.write_text("\n".join(",".join(r) for r in [header, decode, decode, decode, *rows[-5:]]) + "\n",
                    encoding="utf-8")
    assert main(_calibrate(MLP, path)) == 2
    assert _err(capsys).strip() == (f"{path}: needs decode rows of at least 2 different sizes (batch_size x "
                                    "kv_cache_size) to fit the decode attention kernel (has 1)")


def test_a_profile_without_tp1_rows_names_the_file(tmp_path, capsys):
    header, rows = _table(MLP)
    tp = header.index("num_tensor_parallel_workers")
    path = tmp_path / "tp2.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *[r for r in rows if r[tp] == "2"]]) + "\n",
                    encoding="utf-8")
    assert main(_calibrate(path)) == 2
    assert _err(capsys).strip() == f"{path}: operator profile has no rows for tensor parallel 1 (has [2])"
    # with --tp 2 the GEMM fit runs; the kernel set is measured on TP1 rows, which it lacks
    assert main(_calibrate(path, ATTENTION, "--tp", "2")) == 2
    assert _err(capsys).strip() == f"{path}: operator profile has no rows for tensor parallel 1 (has [2])"


def test_points_and_a_vidur_profile_together_are_refused(tmp_path, capsys):
    points = tmp_path / "p.csv"
    points.write_text("prefill_tokens,decode_seqs,context_tokens,step_s\n0,8,4096,0.01\n")
    assert main(["calibrate", str(points), "--vidur-mlp", str(MLP), "--gpu", "a100-80gb", "--model", "llama-2-7b"]) == 2
    assert _err(capsys).strip() == ("--vidur-mlp: give measured points or a Vidur operator profile, not both "
                                    f"(got {points} and {MLP})")
    assert main(["calibrate", str(points), "--vidur-attention", str(ATTENTION), "--gpu", "a100-80gb",
                 "--model", "llama-2-7b"]) == 2
    assert _err(capsys).strip() == "--vidur-attention: needs --vidur-mlp (the kernel set is fitted to both profiles)"


def test_the_bundled_profiles_still_give_the_pytorch_kernel_set(capsys):
    assert main(_calibrate(MLP)) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("kernel_factors:"))
    assert yaml.safe_load(line)["kernel_factors"]["elementwise_bw_fraction"] == pytest.approx(0.524, abs=1e-3)


def test_measured_points_from_a_device_are_refused_at_once(capsys):
    assert main(["calibrate", "/dev/zero", "--gpu", "a100-80gb", "--model", "llama-2-7b"]) == 2
    assert _err(capsys).strip() == "/dev/zero: is a device, not a regular file"


# ------------------------------------------------------------------ scenario keys: perf, layout, autoscaler
def _roofline_file(tmp_path: Path, model: str = "llama-3-8b", **pool) -> Path:
    """A small roofline scenario (one H100 pool) as a file; no ``perf`` block unless ``pool`` says."""
    sc = {"name": "t", "duration": 600, "model": model,
          "workload": {"arrival": {"process": "poisson", "rate": 2},
                       "prompt_tokens": {"dist": "fixed", "value": 200},
                       "output_tokens": {"dist": "fixed", "value": 20}},
          "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1, "max_model_len": 4096, **pool}]}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


def _validate(path: Path, capsys, *sets: str) -> tuple[int, list[str]]:
    argv = ["validate", str(path)]
    for s in sets:
        argv += ["--set", s]
    rc = main(argv)
    capsys.readouterr()          # the first pass prints warnings once per place; ask again to see them all
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(argv) == rc
    return rc, _err(capsys).strip().splitlines()


@pytest.mark.parametrize("sets,expected", [
    # a perf block without its model is the roofline (test_hostile_round15), unless a key is another kind's
    (["perf.base_s=0.01"], "perf: missing key 'model', which says which kind this is: base_s is a key of linear, "
                           "not of the roofline (what a block without model is); write model: linear"),
    (["fleet.pools.0.perf.path=steps.csv"],
     "fleet.pools.0.perf: missing key 'model', which says which kind this is: path is a key of table, not of the "
     "roofline (what a block without model is); write model: table"),
    # the keys of the kind the block is, not of the kind whose other key matches
    (["perf.model=linear", "perf.kernels=pytorch"],
     "perf.kernels: unknown key 'kernels'; allowed: base_s, model, per_context_token_s, per_decode_token_s, "
     "per_prefill_token_s"),
    (["perf.model=linear", "perf.kernel_factors.elementwise_floor_s=1e-5"],
     "perf.kernel_factors: unknown key 'kernel_factors'; allowed: base_s, model, per_context_token_s, "
     "per_decode_token_s, per_prefill_token_s"),
    (["perf.model=table", f"perf.path={MLP.parent / 'a100_llama2_7b_tp1_steps.csv'}", "perf.kernels=pytorch"],
     "perf.kernels: unknown key 'kernels'; allowed: fallback, model, path, roofline"),
    (["perf.model=roofline", "perf.kernels=PyTorch"], "perf.kernels: must be one of 'trtllm', 'pytorch', 'vllm', 'sglang-0.4' or 'vllm-0.7' (got 'PyTorch')"),
    (["perf.model=roofline", "perf.kernel_factors.attention_bw_fraction=.nan"],
     "perf.kernel_factors.attention_bw_fraction: must be a finite number (got nan)"),
    (["perf.model=roofline", "perf.kernel_factors.elementwise_bw_fraction=0"],
     "perf.kernel_factors.elementwise_bw_fraction: must be a fraction in (0, 1] (got 0.0)"),
    (["perf.model=roofline", "perf.kernel_factors.decode_attention_floor_s=true"],
     "perf.kernel_factors.decode_attention_floor_s: must be a duration such as 3600, '90s', '30m', '2h30m' or '7d', "
     "not true"),
    (["perf.model=roofline", "perf.kernel_factors.floor=1"],
     "perf.kernel_factors.floor: unknown key 'floor'; allowed: attention_bw_fraction, attention_flops_fraction, "
     "decode_attention_floor_s, elementwise_bw_fraction, elementwise_floor_s, fp8_gemm_flops_fraction, "
     "fp8_linear_floor_s, moe_finalize_s, "
     "moe_routing_s, "
     "prefill_attention_floor_s"),
    # layouts
    (["fleet.pools.0.expert_parallel=2"],
     "fleet.pools.0.expert_parallel: applies only to mixture-of-experts models (this one is dense)"),
    (["fleet.pools.0.pipeline_parallel=33"], "fleet.pools.0.pipeline_parallel: must be <= n_layers=32 (got 33)"),
    (["fleet.pools.0.pipeline_parallel=true"], "fleet.pools.0.pipeline_parallel: must be a whole number, not true"),
    (["fleet.pools.0.gpus_per_node=true"], "fleet.pools.0.gpus_per_node: must be a whole number, not true"),
    (["fleet.pools.0.ib_gbps=.inf"], "fleet.pools.0.ib_gbps: must be a finite number (got inf)"),
    (["fleet.pools.0.gpus_per_replica=8"],
     "fleet.pools.0.gpus_per_replica: unknown key 'gpus_per_replica'; allowed: autoscale, batching, "
     "data_parallel_attention, expert_parallel, failures, gpu, gpu_memory_utilization, gpus_per_node, ib_gbps, "
     "max_model_len, max_waiting, model, name, perf, pipeline_micro_batches, pipeline_parallel, replicas, scale, tensor_parallel"),
    # a GPU holds at least one column of every MLP its stage splits
    (["fleet.pools.0.tensor_parallel=1000000000", "fleet.pools.0.data_parallel_attention=true"],
     "fleet.pools.0.tensor_parallel: splits every MLP of llama-3-8b (ffn_hidden=14336) 1000000000 ways: at most "
     "14336 GPUs per stage, each holding at least one column (got 1000000000)"),
])
def test_bad_new_keys_are_one_line_naming_the_field(tmp_path, capsys, sets, expected):
    path = _roofline_file(tmp_path)
    rc, lines = _validate(path, capsys, *sets)
    assert rc == 2
    assert lines == [f"{path}: {expected}"]


def test_expert_parallel_on_a_moe_model_lists_the_divisors(tmp_path, capsys):
    path = _roofline_file(tmp_path, "mixtral-8x7b", tensor_parallel=4)
    rc, lines = _validate(path, capsys, "fleet.pools.0.expert_parallel=3")
    assert rc == 2 and lines == [
        f"{path}: fleet.pools.0.expert_parallel: must divide tensor_parallel=4 and n_experts=8 (1: experts split "
        "tensor-parallel; tensor_parallel: whole experts per GPU): 1, 2, 4 (got 3)"]
    # experts split two ways in each of 2 groups: a GPU per stage holds half of 4 experts
    rc, lines = _validate(path, capsys, "fleet.pools.0.expert_parallel=2")
    assert rc == 0 and lines == []


def test_deepseek_cluster_with_bad_overrides(capsys):
    path = "scenarios/deepseek_v3_cluster.yaml"
    rc, lines = _validate(Path(path), capsys, "fleet.pools.0.expert_parallel=3", "fleet.pools.1.tensor_parallel=4")
    assert rc == 2
    assert lines == [
        f"{path}: fleet.pools.0.expert_parallel: must divide tensor_parallel=16 and n_experts=256 (1: experts split "
        "tensor-parallel; tensor_parallel: whole experts per GPU): 1, 2, 4, 8, 16 (got 3)",
        f"{path}: fleet.pools.1: deepseek-v3 does not fit on 4x h200-sxm: weights 156.2 GiB + reserve 3.3 GiB per GPU "
        "exceed 0.9 x 139.8 GiB = 125.8 GiB (short by 33.7 GiB per GPU); use a larger tensor_parallel (8 fits) or "
        "pipeline_parallel, a smaller weight_dtype or a GPU with more memory"]


@pytest.mark.parametrize("pool,sets,expected", [
    ({"autoscale": {"min": 1, "max": 4}}, ["fleet.pools.0.autoscale.scale_up_delay=3h"],
     "fleet.pools.0.autoscale.scale_up_delay: replicas the autoscaler adds at its first decision (1 m into the "
     "run) would serve 3 h later, after the run ends (10 m): they are billed and never serve"),
    ({"autoscale": {"min": 1, "max": 4}}, ["fleet.pools.0.autoscale.scale_up_delay=1e308"],
     "fleet.pools.0.autoscale.scale_up_delay: replicas the autoscaler adds at its first decision (1 m into the "
     "run) would serve 1.16e+303 d later, after the run ends (10 m): they are billed and never serve"),
    ({"autoscale": {"min": 1, "max": 4}}, ["fleet.pools.0.autoscale.interval=600"],
     "fleet.pools.0.autoscale.interval: the autoscaler's first decision would come 10 m into the run, not before "
     "it ends (10 m): the pool keeps its 1 replica(s)"),
    ({}, ["fleet.pools.0.pipeline_micro_batches=4"],
     "fleet.pools.0.pipeline_micro_batches: applies only with pipeline_parallel > 1 (got 4 micro-batches of one "
     "stage); it has no effect"),
    ({"pipeline_parallel": 2}, ["fleet.pools.0.pipeline_micro_batches=1000000000"],
     "fleet.pools.0.pipeline_micro_batches: 1000000000 micro-batches is more than an iteration's sequences "
     "(batching.max_num_seqs: 256); micro-batches hold whole sequences, so an iteration uses at most 256"),
    ({}, ["fleet.pools.0.data_parallel_attention=true"],
     "fleet.pools.0.data_parallel_attention: has no effect with tensor_parallel: 1 (one GPU already runs the "
     "attention of every sequence)"),
    ({"tensor_parallel": 8}, ["fleet.pools.0.ib_gbps=100"],
     "fleet.pools.0.ib_gbps: a replica of 8 GPUs fits in one node of 8 (gpus_per_node): no traffic crosses "
     "nodes, so the inter-node bandwidth has no effect"),
    ({}, ["fleet.pools.0.ib_gbps=100"],
     "fleet.pools.0.ib_gbps: a replica of 1 GPU fits in one node of 8 (gpus_per_node): no traffic crosses "
     "nodes, so the inter-node bandwidth has no effect"),
    ({}, ["perf.model=roofline", "perf.kernels=pytorch", "perf.kernel_factors.elementwise_floor_s=28"],
     "perf.kernel_factors.elementwise_floor_s: 28 s per layer and iteration is more than 1 ms (Vidur measured "
     "13-149 us per layer on an A100); floors are seconds, e.g. 28e-6 or '0.028ms' for 28 us"),
    ({}, ["fleet.pools.0.gpus_per_node=1000000000"],
     "fleet.pools.0.gpus_per_node: 1,000,000,000 GPUs in one node is more than the largest NVLink domain shipping "
     "(72, a GB200 NVL72 rack); every GPU of a node is modelled as linked by NVLink, so collectives of up to "
     "1,000,000,000 GPUs never use ib_gbps"),
])
def test_legal_but_meaningless_layouts_and_delays_warn(tmp_path, capsys, pool, sets, expected):
    path = _roofline_file(tmp_path, **pool)
    rc, lines = _validate(path, capsys, *sets)
    assert rc == 0
    assert lines == [f"{path}: {expected}"]


def test_an_absurd_floor_warns_without_an_absurd_hint(tmp_path, capsys):
    path = _roofline_file(tmp_path)
    rc, lines = _validate(path, capsys, "perf.model=roofline", "perf.kernel_factors.decode_attention_floor_s=1e300")
    # (and refused: a step of 10^301 s would never end; test_a_step_of_days_is_refused_...)
    assert rc == 2 and lines == [
        f"{path}: perf.kernel_factors.decode_attention_floor_s: 1e+300 s per layer and iteration is more than 1 ms "
        "(Vidur measured 13-149 us per layer on an A100); floors are seconds",
        f"{path}: {STEP.format('3.2e+301').replace('fleet.pools.0.perf', 'perf')}"]


def test_a_drained_run_may_scale_up_after_its_duration(tmp_path, capsys):
    path = _roofline_file(tmp_path, autoscale={"min": 1, "max": 2, "scale_up_delay": "3h"})
    assert _validate(path, capsys, "drain=true") == (0, [])


def test_layouts_that_use_every_key_do_not_warn(tmp_path, capsys):
    path = _roofline_file(tmp_path, "mixtral-8x7b", tensor_parallel=8, pipeline_parallel=2, expert_parallel=8,
                          pipeline_micro_batches=4, data_parallel_attention=True, ib_gbps=200,
                          autoscale={"min": 1, "max": 2, "scale_up_delay": 120})
    rc, lines = _validate(path, capsys)
    assert (rc, lines) == (0, [])


@pytest.mark.parametrize("setting,expected", [
    ("fleet.pools.0.autoscale.scale_up_delay=-5m", "fleet.pools.0.autoscale.scale_up_delay: must be >= 0 (got '-5m')"),
    ("perf.kernel_factors.prefill_attention_floor_s=-1e-6",
     "perf.kernel_factors.prefill_attention_floor_s: must be a finite number >= 0 (got -1e-06)"),
])
def test_a_negative_duration_written_as_text_gets_the_fields_bound(tmp_path, capsys, setting, expected):
    path = _roofline_file(tmp_path, autoscale={"min": 1, "max": 2})
    rc, lines = _validate(path, capsys, "perf.model=roofline", setting)
    assert rc == 2 and lines == [f"{path}: {expected}"]


def test_a_scale_up_delay_past_the_run_bills_the_new_replica_from_the_first_decision_in_both_tiers():
    """One replica overloaded ~4x; the autoscaler's first decision (60 s in) adds one replica that would
    serve only after the run: both tiers bill it from 60 s on (GPU-seconds D + (D - 60)), never count
    it as serving, and call the run unstable."""
    import warnings

    from sim.api import run
    sc = {"name": "t", "duration": 600, "model": "llama-3-8b",
          "workload": {"arrival": {"process": "poisson", "rate": 60},
                       "prompt_tokens": {"dist": "fixed", "value": 3000},
                       "output_tokens": {"dist": "fixed", "value": 300}},
          "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1, "max_model_len": 4096,
                               "autoscale": {"min": 1, "max": 4, "scale_up_delay": "1000d"}}]}}
    # (the fluid tier on a coarse curve: the bill does not depend on it, and ~4x over capacity is unstable on any)
    coarse = {"grid": [0.5, 0.9], "calibration_duration": 60, "calibration_requests": 100}
    for tier, duration, more in (("request", 600.0, {}), ("fluid", 7200.0, {"fluid": coarse})):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            s = run({**sc, "fidelity": tier, "duration": duration, **more}).summary
        assert any("scale_up_delay: replicas the autoscaler adds" in str(w.message) for w in seen), tier
        assert s["gpu_hours"]["provisioned"] == pytest.approx((duration + duration - 60.0) / 3600.0, rel=1e-9), tier
        assert s["pools"]["p"]["gpus_per_replica"] == 1
        assert s["stability"]["verdict"] == "unstable", tier


@pytest.mark.parametrize("sets,field,expected", [
    (["perf.model=table", "perf.path=missing.csv"], "perf.path",
     "step-time table not found: 'missing.csv' (paths are relative to the scenario's folder)"),
    (["perf.model=table", "perf.path=/dev/zero"], "perf.path",
     "'/dev/zero' is not a regular file (a device, pipe or socket cannot be a step-time table)"),
    (["perf.model=table", "perf.path=binary.csv"], "perf.path", "binary.csv: not UTF-8 text (is it a CSV file?)"),
    (["perf.model=table", "perf.path=."], "perf.path",
     "'.' is a folder, not a step-time table (paths are relative to the scenario's folder)"),
    (["perf.model=roofline", "perf.calibration=missing.yaml"], "perf.calibration",
     "calibration file not found: 'missing.yaml' (paths are relative to the scenario's folder)"),
    (["fleet.pools.0.perf.model=table", "fleet.pools.0.perf.path=steps.csv",
      "fleet.pools.0.perf.roofline.calibration=/dev/null"], "fleet.pools.0.perf.roofline.calibration",
     "'/dev/null' is not a regular file (a device, pipe or socket cannot be a calibration file)"),
])
def test_validate_reads_the_files_a_perf_block_names(tmp_path, capsys, sets, field, expected):
    """The step-time table and calibration files are read by validate (as by run), refused at once if
    they are no regular UTF-8 file, and named in the problem as the scenario wrote them (as a trace is: the
    absolute path they resolved to was printed before); validate used to say ok."""
    from sim.perf.vidur import bundled_profile as _b
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "steps.csv").write_text((_b("a100").parent / "a100_llama2_7b_tp1_steps.csv").read_text())
    path = _roofline_file(tmp_path)
    rc, lines = _validate(path, capsys, *sets)
    assert rc == 2 and lines == [f"{path}: {field}: {expected}"]
    assert main(["run", str(path), "--quiet", *[x for s in sets for x in ("--set", s)]]) == 2
    assert _err(capsys).strip().splitlines() == lines


def test_validate_accepts_a_readable_table(tmp_path, capsys):
    from sim.perf.vidur import bundled_profile as _b
    (tmp_path / "steps.csv").write_text((_b("a100").parent / "a100_llama2_7b_tp1_steps.csv").read_text())
    path = _roofline_file(tmp_path)
    rc, _ = _validate(path, capsys, "perf.model=table", "perf.path=steps.csv")
    assert rc == 0


def test_a_pipeline_whose_kv_cache_holds_less_than_one_sequence_names_the_shortfall_and_the_remedies(tmp_path, capsys):
    # 405B over 2 stages of 8 H100s at 64 % of the 79.19 GiB each reports: weights and reserve leave KV for 4,368 tokens
    path = _roofline_file(tmp_path, "llama-3.1-405b", tensor_parallel=8, pipeline_parallel=2,
                          gpu_memory_utilization=0.64)
    rc, lines = _validate(path, capsys, "fleet.pools.0.max_model_len=131072")
    assert rc == 2 and lines == [
        f"{path}: fleet.pools.0: the KV cache holds 4,368 tokens, fewer than one sequence of max_model_len=131,072 "
        "(vLLM refuses to start); set a smaller fleet.pools.0.max_model_len, a larger gpu_memory_utilization, "
        "tensor_parallel or pipeline_parallel"]


def test_gpu_hours_count_every_gpu_of_a_pipelined_expert_parallel_replica_in_both_tiers():
    """Two replicas of mixtral-8x7b over 2 stages of 4 H100s with 4 expert groups, across nodes of 4:
    8 GPUs each, 16 GPUs billed for the whole run in either tier."""
    from sim.api import run
    sc = {"name": "moe", "duration": 120, "model": "mixtral-8x7b",
          "workload": {"arrival": {"process": "poisson", "rate": 4},
                       "prompt_tokens": {"dist": "fixed", "value": 500},
                       "output_tokens": {"dist": "fixed", "value": 50}},
          "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 2, "tensor_parallel": 4,
                               "pipeline_parallel": 2, "expert_parallel": 4, "max_model_len": 8192,
                               "gpus_per_node": 4, "ib_gbps": 200}]},
          "economics": {"gpu_hour_usd": 2.0}}
    fluid = {"fidelity": "fluid", "duration": 7200,
             "fluid": {"grid": [0.5, 1.0], "calibration_requests": 100, "calibration_duration": 60}}
    for over, hours in (({}, 120 / 3600), (fluid, 2.0)):
        s = run({**sc, **over}).summary
        p = s["pools"]["p"]
        assert (p["tensor_parallel"], p["pipeline_parallel"], p["expert_parallel"], p["gpus_per_replica"]) == (4, 2, 4, 8)
        assert s["gpu_hours"]["provisioned"] == pytest.approx(2 * 8 * hours, rel=1e-12)
        assert s["cost"]["compute_usd"] == pytest.approx(2.0 * 2 * 8 * hours, rel=1e-12)


@pytest.mark.parametrize("ib_gbps", ["1e-300", "0.5"])
def test_an_inter_node_bandwidth_below_gigabit_ethernet_is_refused(tmp_path, capsys, ib_gbps):
    path = _roofline_file(tmp_path, tensor_parallel=8, pipeline_parallel=2)
    rc, lines = _validate(path, capsys, f"fleet.pools.0.ib_gbps={ib_gbps}")
    assert rc == 2 and lines == [
        f"{path}: fleet.pools.0.ib_gbps: must be >= 1 (Gb/s per GPU; gigabit Ethernet is the slowest datacenter "
        f"network, a DGX H100 has 400 Gb/s per GPU) (got {float(ib_gbps):g})"]


def test_the_floor_and_ceiling_of_a_node_are_legal(tmp_path, capsys):
    path = _roofline_file(tmp_path, tensor_parallel=8, pipeline_parallel=2)
    assert _validate(path, capsys, "fleet.pools.0.ib_gbps=1") == (0, [])        # two nodes of 8: it is used
    assert _validate(path, capsys, "fleet.pools.0.gpus_per_node=72") == (0, [])


# ------------------------------------------------------------------ node size and inter-node bandwidth, wherever set
INLINE_H100 = {"like": "h100-sxm", "name": "my-h100"}


@pytest.mark.parametrize("pool,sets,field", [
    ({}, ["fleet.pools.0.gpus_per_node=73"], "fleet.pools.0.gpus_per_node"),
    ({"gpu": {**INLINE_H100, "gpus_per_node": 73}}, [], "fleet.pools.0.gpu.gpus_per_node"),
    ({"gpu": INLINE_H100}, ["fleet.pools.0.gpu.gpus_per_node=73"], "fleet.pools.0.gpu.gpus_per_node"),
])
def test_a_node_past_the_largest_nvlink_domain_warns_wherever_it_is_set(tmp_path, capsys, pool, sets, field):
    path = _roofline_file(tmp_path, **pool)
    rc, lines = _validate(path, capsys, *sets)
    assert rc == 0 and lines[:1] == [
        f"{path}: {field}: 73 GPUs in one node is more than the largest NVLink domain shipping (72, a GB200 NVL72 "
        "rack); every GPU of a node is modelled as linked by NVLink, so collectives of up to 73 GPUs never use ib_gbps"]


def test_the_pools_node_size_wins_over_the_inline_gpus(tmp_path, capsys):
    path = _roofline_file(tmp_path, gpu={**INLINE_H100, "gpus_per_node": 1000}, gpus_per_node=8)
    assert _validate(path, capsys) == (0, [])


# H100 SXM: NVLink4 450 GB/s one way = 3,600 Gb/s; L40S: PCIe Gen4 32 GB/s = 256 Gb/s, so 800 (a NIC) is its ceiling
@pytest.mark.parametrize("gpu,ib_gbps,ceiling,link", [
    ("h100-sxm", "400000", "3,600", "h100-sxm: 450 GB/s one way = 3,600 Gb/s"),
    ("h100-sxm", "3600.5", "3,600", "h100-sxm: 450 GB/s one way = 3,600 Gb/s"),
    ("h100-sxm", "1e308", "3,600", "h100-sxm: 450 GB/s one way = 3,600 Gb/s"),
    ("l40s", "801", "800", "l40s: 32 GB/s one way = 256 Gb/s"),
    (INLINE_H100, "400000", "3,600", "my-h100: 450 GB/s one way = 3,600 Gb/s"),
])
def test_an_inter_node_bandwidth_faster_than_nvlink_and_any_nic_is_refused(tmp_path, capsys, gpu, ib_gbps, ceiling,
                                                                           link):
    path = _roofline_file(tmp_path, gpu=gpu, tensor_parallel=8, pipeline_parallel=2)
    rc, lines = _validate(path, capsys, f"fleet.pools.0.ib_gbps={ib_gbps}")
    assert rc == 2 and lines == [
        f"{path}: fleet.pools.0.ib_gbps: must be <= {ceiling} (Gb/s per GPU, gigabits): faster than any NIC "
        f"(800 Gb/s ConnectX-8) and than the GPU's own scale-up link ({link}) (got {float(ib_gbps):,.6g})"]


def test_a_bandwidth_past_any_nic_but_within_nvlink_warns_and_800_does_not(tmp_path, capsys):
    path = _roofline_file(tmp_path, tensor_parallel=8, pipeline_parallel=2)
    assert _validate(path, capsys, "fleet.pools.0.ib_gbps=800") == (0, [])
    assert _validate(path, capsys, "fleet.pools.0.ib_gbps=3600") == (0, [
        f"{path}: fleet.pools.0.ib_gbps: 3,600 Gb/s per GPU is faster than any NIC shipping (800 Gb/s ConnectX-8; "
        "1.6 Tb/s ConnectX-9 announced); ib_gbps is gigabits per second per GPU"])


def test_a_too_fast_network_is_refused_even_where_no_traffic_crosses_nodes(tmp_path, capsys):
    path = _roofline_file(tmp_path)
    rc, lines = _validate(path, capsys, "fleet.pools.0.ib_gbps=400000")
    assert rc == 2 and len(lines) == 1 and "fleet.pools.0.ib_gbps: must be <= 3,600" in lines[0]


HUGE = str(10**400)         # named by its first 57 digits, not printed whole
HOSTILE_INLINE = [
    # inline GPU: numbers past a float's range, non-text names
    ("fleet.pools.0.gpu.bf16_tflops", HUGE,
     f"must be a number > 0 and at most 1.8e308 (a float's range) (got {HUGE[:57]}...)"),
    ("fleet.pools.0.gpu.hbm_gb", ".nan", "must be a number > 0 (got nan)"),
    ("fleet.pools.0.gpu.interconnect_gbps", "-.inf", "must be a number > 0 (got -inf)"),
    ("fleet.pools.0.gpu.fp8_tflops", "true", "must be a number > 0 or null (got True)"),
    ("fleet.pools.0.gpu.gpus_per_node", HUGE[:30] + ".5", "must be an integer >= 1 (got 1e+29)"),
    ("fleet.pools.0.gpu.gpus_per_node", "eight", "must be an integer >= 1 (got 'eight')"),
    ("fleet.pools.0.gpu.name", "[1, 2]", "must be text (got [1, 2])"),
    ("fleet.pools.0.gpu.display_name", "{a: 1}", "must be text (got {'a': 1})"),
    # inline model (the scenario's): counts past 2**53, parameter counts past a float, non-text names
    ("model.hidden", HUGE, f"must be <= 9007199254740992 (got {HUGE[:57]}...)"),
    ("model.sliding_window", "-1", "must be an integer >= 0 (got -1)"),
    ("model.n_params", HUGE,
     f"must be a number > 0 and at most 1.8e308 (a float's range) (got {HUGE[:57]}...)"),
    ("model.n_active_params", ".inf", "must be a number > 0 (got inf)"),
    ("model.name", "7", "must be text (got 7)"),
    ("model.source", "[x]", "must be text (got ['x'])"),
]


@pytest.mark.parametrize("field,value,expected", HOSTILE_INLINE, ids=[f"{f.split('.', 2)[-1]}={v[:8]}"
                                                                     for f, v, _ in HOSTILE_INLINE])
def test_hostile_values_of_an_inline_gpu_or_model_name_the_field(tmp_path, capsys, field, value, expected):
    path = _roofline_file(tmp_path, gpu=INLINE_H100,
                          model={"n_layers": 2, "hidden": 64, "n_heads": 4, "ffn_hidden": 128, "vocab": 100})
    rc, lines = _validate(path, capsys, f"{field}={value}")
    assert rc == 2 and lines == [f"{path}: {field}: {expected}"]


@pytest.mark.parametrize("setting", ["fleet.pools.0.batching.block_size", "fleet.pools.0.batching.max_num_seqs",
                                     "fleet.pools.0.gpus_per_node", "fleet.pools.0.pipeline_parallel",
                                     "fleet.pools.0.max_model_len"])
def test_a_count_past_2_to_the_53_is_named_at_its_field_not_an_overflow(tmp_path, capsys, setting):
    # 10**400 is an integer to YAML; past 2**53 the work estimate and memory plan would overflow a float
    path = _roofline_file(tmp_path, autoscale={"min": 1, "max": 2})
    rc, lines = _validate(path, capsys, f"{setting}={HUGE}")
    assert rc == 2 and lines == [f"{path}: {setting}: must be <= 9007199254740992 (got {HUGE[:57]}...)"]


@pytest.mark.parametrize("setting", ["fleet.pools.0.replicas", "fleet.pools.0.autoscale.max"])
def test_replicas_past_a_floats_range_are_refused_by_the_work_limit(tmp_path, capsys, setting):
    path = _roofline_file(tmp_path, **({"autoscale": {"min": 1, "max": 2}} if "autoscale" in setting else {}))
    rc, lines = _validate(path, capsys, f"{setting}={HUGE}")
    assert rc == 2 and lines == [
        f"{path}: {setting}: implies more than 10^308 replicas in all pools (at most 20,000); for a larger fleet "
        "simulate one shard and set the pool's scale; pass --allow-large to run it anyway"]


# ------------------------------------------------------------------ the MoE decode level, steps that never end
MOE_LEVEL = "the MoE decode level is a mixture of experts' (sim.perf.levels); llama-3-8b has no experts, and " \
            "every decode step would be slowed by it: remove the key"


@pytest.mark.parametrize("perf,field", [
    ({"model": "roofline", "moe_decode_efficiency": 0.155}, "fleet.pools.0.perf.moe_decode_efficiency"),
    ({"model": "table", "path": str(Path(__file__).resolve().parents[1] / "sim" / "perf" / "data" /
                                    "a100_llama2_7b_tp1_steps.csv"),
      "roofline": {"moe_decode_efficiency": 1}}, "fleet.pools.0.perf.roofline.moe_decode_efficiency"),
])
def test_the_moe_decode_level_on_a_dense_model_is_refused(tmp_path, capsys, perf, field):
    """It was taken, and slowed every decode step of the dense model by its active-parameter FLOPs."""
    rc, lines = _validate(_roofline_file(tmp_path, perf=perf), capsys)
    assert rc == 2 and lines == [f"{tmp_path / 's.yaml'}: {field}: {MOE_LEVEL}"]


def test_the_moe_decode_level_on_a_mixture_of_experts_is_taken(tmp_path, capsys):
    path = _roofline_file(tmp_path, model="mixtral-8x7b", tensor_parallel=2,
                          perf={"model": "roofline", "moe_decode_efficiency": 0.155})
    assert _validate(path, capsys)[0] == 0


STEP = ("fleet.pools.0.perf: pool p's shortest step (one sequence decoding one token) takes {} s, more than 1e+06 s "
        "(11.6 days; no GPU iteration takes days): a time written in the wrong unit or an efficiency near 0; the run "
        "would not end")


@pytest.mark.parametrize("perf,took", [
    ({"model": "linear", "base_s": 1e300}, "1e+300"),
    ({"model": "linear", "per_decode_token_s": 2e6}, "2e+06"),
    ({"model": "roofline", "bw_efficiency": 1e-300}, None),
    ({"model": "roofline", "flops_efficiency": 1e-300, "bw_efficiency": 1e-300}, None),
    ({"model": "roofline", "kernel_factors": {"elementwise_floor_s": 1e12}}, None),
])
def test_a_step_of_days_is_refused_before_the_run_that_would_not_end(tmp_path, capsys, monkeypatch, perf, took):
    """Such a step made the load factor's measurement sample every metrics.interval through it: the run hung."""
    monkeypatch.setenv("FLEETSIM_ALLOW_LARGE", "")    # restored after the test: --allow-large sets it (for workers)
    path = _roofline_file(tmp_path, perf=perf)
    for more in ((), ("--allow-large",)):               # not a work limit the flag lifts
        assert main(["run", str(path), "--quiet", *more]) == 2
        lines = [x for x in _err(capsys).splitlines() if "shortest step" in x]
        assert len(lines) == 1 and lines[0].startswith(f"{path}: fleet.pools.0.perf: pool p's shortest step")
        if took:
            assert lines == [f"{path}: {STEP.format(took)}"]


def test_a_step_of_days_from_an_inline_gpu_names_it_too(tmp_path, capsys):
    """A datasheet number past the field's own floor still prices a step of days: both blocks that set it are named."""
    path = _roofline_file(tmp_path)
    rc, lines = _validate(path, capsys, "fleet.pools.0.gpu={bf16_tflops: 1.0e-5, flops_efficiency: 1.0e-9}")
    assert rc == 2 and len(lines) == 1 and "shortest step" in lines[0]
    assert "an efficiency near 0 (here or in the inline GPU, fleet.pools.0.gpu); the run would not end" in lines[0]


def test_a_slow_step_short_of_days_runs(tmp_path, capsys):
    path = _roofline_file(tmp_path, perf={"model": "linear", "base_s": 5e5})
    assert _validate(path, capsys)[0] == 0


def test_validate_says_what_the_fluid_tier_does_not_model_as_its_run_does(tmp_path, capsys):
    """validate said ok to a batcher, spillover router, disaggregation, drain or failures at fidelity: fluid,
    which every run (and every point of a sweep) then refused."""
    path = _roofline_file(tmp_path)
    sets = ("fidelity=fluid", "fleet.router.batcher.max_requests=4", "fleet.router.batcher.timeout_s=0.1")
    rc, lines = _validate(path, capsys, *sets)
    assert rc == 2 and lines == [f"{path}: fleet.router.batcher: a request batcher's groups are not modelled by the "
                                 "fluid tier (use fidelity: request) (fidelity: fluid)"]
    argv = ["run", str(path), "--quiet"] + [a for s in sets for a in ("--set", s)]
    assert main(argv) == 2 and _err(capsys).strip().splitlines() == lines


HF_MIXTRAL = {"model_type": "mixtral", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
              "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
              "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2}


@pytest.mark.parametrize("key,value,expected", [
    ("num_experts_per_tok", 9, "experts_per_token (from the file): must be <= n_experts=8 (got 9)"),
    ("num_key_value_heads", 7, "n_kv_heads (from the file): must divide n_heads=32 (got 7)"),
    ("vocab_size", 2**60, "vocab (from the file): must be <= 9007199254740992 (got 1152921504606846976)"),
])
def test_an_hf_config_whose_values_do_not_fit_together_is_named_with_its_file(tmp_path, capsys, key, value,
                                                                             expected):
    """A count the config.json gave was said of model.<field>, a key the scenario does not have."""
    import json

    (tmp_path / "config.json").write_text(json.dumps({**HF_MIXTRAL, key: value}))
    path = _roofline_file(tmp_path, model={"hf_config": "config.json"}, tensor_parallel=2)
    rc, lines = _validate(path, capsys)
    assert rc == 2 and lines == [f"{path}: model.hf_config: {tmp_path / 'config.json'}: {expected}"]
    # a value the scenario's own mapping gives over the file's is said of the scenario's key
    path = _roofline_file(tmp_path, model={"hf_config": "config.json", "n_kv_heads": 7}, tensor_parallel=2)
    (tmp_path / "config.json").write_text(json.dumps(HF_MIXTRAL))
    rc, lines = _validate(path, capsys)
    assert rc == 2 and lines == [f"{path}: model.n_kv_heads: must divide n_heads=32 (got 7)"]
