"""Hostile input, another round: an inline GPU under a catalog GPU's name, memory sizes that rounded to
0 GiB, a scheduler preset under static batching, a plan constraint no value can meet, and what a hunt
through every subcommand found.

Each is exit 2 with one line naming the file (or flag) and the field, never a traceback, an internal
error or a silently wrong result.
"""
from __future__ import annotations

import warnings

import pytest
import yaml

import hostile_cases as hc

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ an inline GPU under a catalog name
@pytest.mark.parametrize("gpu,field,cat", [
    ({"name": "h100-sxm", "bf16_tflops": 300, "hbm_gb": 40}, "name", "h100-sxm"),
    ({"name": "a100-80gb", "hbm_gb": 80}, "name", "a100-80gb"),          # like: h100-sxm's factors, a100's name
    ({"name": "mine", "display_name": "H200-SXM", "like": "h200-sxm", "hbm_gb": 96}, "display_name", "h200-sxm"),
])
def test_an_inline_gpu_under_a_catalog_gpus_name_is_refused(tmp_path, capsys, gpu, field, cat):
    """It was taken, and the summary, the tables and the notes called a datasheet of other numbers (with
    the efficiency factors of ``like``, h100-sxm unless given) by the catalog part's name."""
    sc = hc._small()
    sc["fleet"]["pools"][0]["gpu"] = gpu
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    like = gpu.get("like", "h100-sxm")
    assert _err(capsys) == [
        f"{path}: fleet.pools.0.gpu.{field}: {gpu[field]} names the catalog GPU {cat}, which an inline datasheet is "
        f"not (results would credit this datasheet's numbers and the factors of like: {like} to it): for the "
        f"catalog GPU write gpu: {cat}; for a variant of it write like: {cat} and a name of its own, e.g. "
        f"{cat}-custom"]
    gpu = {**gpu, field: f"{cat}-custom"}
    sc["fleet"]["pools"][0]["gpu"] = gpu
    assert _main(["validate", str(_scenario(tmp_path, sc))]) == 0, capsys.readouterr().err
    capsys.readouterr()


# ------------------------------------------------------------------ sizes that rounded to 0 GiB
@pytest.mark.parametrize("hbm_gb,said", [
    # 0.9 x 1e-6 GiB = 966 bytes (1e-6 x 2**30 x 0.9); it said "0.9 x 0 GiB = 0.0 GiB"
    (0.000001, "exceed 0.9 x 1e-06 GiB = 966 bytes (short by 15.9 GiB per GPU)"),
    # 0.9 x 0.001 GiB = 0.9 MiB = 944 KiB (hand: 0.0009 x 1,048,576 KiB)
    (0.001, "exceed 0.9 x 0.001 GiB = 944 KiB (short by 15.9 GiB per GPU)"),
    # the GPU's own size was printed with no decimal: "0.9 x 16 GiB = 14.8 GiB" for 16.5 GB
    (16.5, "exceed 0.9 x 16.5 GiB = 14.8 GiB (short by 1.0 GiB per GPU)"),
])
def test_a_gpu_too_small_says_its_memory_as_given_not_rounded_to_zero(tmp_path, capsys, hbm_gb, said):
    sc = hc._small()
    sc["fleet"]["pools"][0]["gpu"] = {"name": "tiny", "hbm_gb": hbm_gb}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    lines = _err(capsys)
    assert len(lines) == 1 and lines[0].startswith(
        f"{path}: fleet.pools.0: llama-3-8b does not fit on 1x tiny: weights 15.0 GiB + reserve 0.9 GiB per GPU "
        f"{said}; "), lines


def test_a_tiny_models_weights_are_said_in_kib_not_zero(tmp_path, capsys):
    """Weights of 1,256 bytes (2 x (100 x 8 + 1 x (4 x 64 + 3 x 8 x 8)) ... as the architecture counts them)
    were '0.0 GiB'."""
    from sim.perf.memory import memory_plan
    from sim.scenario.catalog import get_gpu, get_model

    model = get_model({"n_layers": 1, "hidden": 8, "n_heads": 1, "ffn_hidden": 8, "vocab": 10, "max_context": 64})
    gpu = get_gpu({"name": "tiny", "hbm_gb": 0.00001})
    plan = memory_plan(model, gpu, 1)
    weights = model.n_params * 2
    assert not plan.fits
    assert f"weights {weights / 1024:.3g} KiB + reserve 0.3 GiB per GPU exceed 0.9 x 1e-05 GiB = " \
           f"{0.9 * 0.00001 * 2**30 / 1024:.3g} KiB" in plan.reason, plan.reason


# ------------------------------------------------------------------ a scheduler preset under static batching
@pytest.mark.parametrize("scheduler", ["sglang", "trtllm", "vllm-v0"])
def test_a_scheduler_preset_under_static_batching_is_refused_not_ignored(tmp_path, capsys, scheduler):
    """Every preset sets the same max_num_seqs and max_batched_tokens and its iteration-level keys are not
    applied to a static batch, so a sweep of the scheduler under static gave identical results."""
    from sim.scenario.schedulers import PRESETS, resolve_batching

    static = {"policy": "static", "batch_size": 4}
    assert {resolve_batching({**static, "scheduler": s}).get("max_num_seqs") for s in PRESETS} == {256}
    path = _scenario(tmp_path)
    sets = ["--set", "fleet.pools.0.batching.policy=static", "--set", "fleet.pools.0.batching.batch_size=4"]
    assert _main(["validate", str(path), *sets, "--set", f"fleet.pools.0.batching.scheduler={scheduler}"]) == 2
    assert _err(capsys) == [
        f"{path}: fleet.pools.0.batching.scheduler: sets iteration-level batching (chunked prefill, mixed batches, "
        f"KV reservation), and a static batch has none: under policy static every scheduler runs the same; remove it "
        f"or use policy continuous or priority (got {scheduler} with policy static)"]
    # the default, as a scenario written back out says it, and the preset with iteration-level batching
    assert _main(["validate", str(path), *sets, "--set", "fleet.pools.0.batching.scheduler=vllm-v1"]) == 0
    assert _main(["validate", str(path), "--set", f"fleet.pools.0.batching.scheduler={scheduler}"]) == 0
    capsys.readouterr()


def test_a_static_scenario_written_back_out_loads_again():
    """The schema writes the default scheduler out with the policy: that must read back."""
    from sim.scenario.load import load_scenario

    sc = hc._small()
    sc["fleet"]["pools"][0]["batching"] = {"policy": "static", "batch_size": 4}
    first = load_scenario(sc).scenario
    assert load_scenario(first.model_dump(mode="json")).scenario == first


# ------------------------------------------------------------------ a constraint no value can meet
@pytest.mark.parametrize("constraint,said", [
    ("slo.attainment>1", "slo.attainment: no value can meet >1: a share is at most 1 (>=1 asks for all of it)"),
    ("utilization.gpu_busy<0", "utilization.gpu_busy: no value can meet <0: a share is never below 0 "
                                  "(<=0 asks for none)"),
    ("latency.ttft.p99<0", "latency.ttft.p99: no value can meet <0: a time is never below 0 (<=0 asks for none)"),
    ("latency.e2e.p99<0.0", "latency.e2e.p99: no value can meet <0.0: a time is never below 0 (<=0 asks for none)"),
])
@pytest.mark.parametrize("cmd", ["plan", "saturation"])
def test_a_constraint_no_value_can_meet_is_a_usage_error(tmp_path, capsys, constraint, said, cmd):
    """It ran every configuration and ended in exit 1, 'no configuration meets every constraint', with a
    headroom of 0.0 % for an attainment of 100 % against >1."""
    path = _scenario(tmp_path)
    vary = ["--vary", "fleet.pools.0.replicas=1..2"] if cmd == "plan" else []
    assert _main([cmd, str(path), *vary, "--constraint", constraint, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert _err(capsys) == [f"--constraint: {said}"]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("constraint", ["slo.attainment>=1", "latency.queue.p99<=0", "slo.attainment>0.99",
                                        "utilization.load_factor<=0"])
def test_the_bounds_some_value_meets_are_taken(constraint):
    from sim.planning.constraints import parse_constraint

    assert str(parse_constraint(constraint)) == constraint


# ------------------------------------------------------------------ calibrate: points too small, outputs over inputs
STEP_POINTS = "prefill_tokens,decode_seqs,context_tokens,step_s\n0,8,4096,0.01\n512,0,0,0.02\n0,64,65536,0.03\n"
TPUT_POINTS = "batch,input_tokens,output_tokens,output_tokens_per_s\n64,128,128,9193\n64,128,2048,5367\n" \
              "64,2048,128,2058\n32,2048,2048,2230\n"


@pytest.mark.parametrize("body,cell,said", [
    (STEP_POINTS + "0,8,100,1e-300\n", "5:4", "step_s must be at least 1e-06 (a microsecond; launching one GPU "
                                              "kernel takes several) (got '1e-300')"),
    (TPUT_POINTS + "64,128,128,1e-300\n", "6:4", "output_tokens_per_s must be at least 0.001 (a token every 17 "
                                                 "minutes; a replica generates some thousands to some hundred "
                                                 "thousands a second) (got '1e-300')"),
])
def test_a_measured_time_or_throughput_near_zero_is_refused_not_an_internal_error(tmp_path, capsys, body, cell, said):
    """The fit weighs each point by 1 / value squared: at 1e-300 that overflowed, and the fit ended in
    'internal error: ValueError: array must not contain infs or NaNs' (exit 1)."""
    pts = tmp_path / "p.csv"
    pts.write_text(body)
    assert _main(["calibrate", str(pts), "--gpu", "h100-sxm", "--model", "llama-2-7b"]) == 2
    assert _err(capsys) == [f"{pts}:{cell}: {said}"]


@pytest.mark.parametrize("body", [STEP_POINTS + "0,8,100,1e-6\n", TPUT_POINTS + "64,128,128,0.001\n"])
def test_the_smallest_measured_values_taken_are_fitted_without_an_internal_error(tmp_path, capsys, body):
    """Taken, they reach the fit, which ends in factors or in words on what the points leave open."""
    pts = tmp_path / "p.csv"
    pts.write_text(body)
    assert _main(["calibrate", str(pts), "--gpu", "h100-sxm", "--model", "llama-2-7b"]) in (0, 2)
    assert all(line.startswith(str(pts)) or line.startswith("warning") for line in _err(capsys))


def test_calibrate_never_writes_over_the_points_it_reads(tmp_path, capsys):
    """``--out points.csv`` replaced the measurements with the fitted factors: the points were lost."""
    pts = tmp_path / "p.csv"
    pts.write_text(STEP_POINTS + "0,8,1,0.01\n")
    (tmp_path / "link.csv").symlink_to("p.csv")
    for out in (str(pts), str(tmp_path / "." / "p.csv"), str(tmp_path / "link.csv")):
        assert _main(["calibrate", str(pts), "--gpu", "h100-sxm", "--model", "llama-2-7b", "--out", out]) == 2
        assert _err(capsys) == [f"--out: {out}: it is the input file {pts}, which writing it would replace; "
                                "name another file"]
    assert pts.read_text() == STEP_POINTS + "0,8,1,0.01\n"


def test_calibrate_tables_never_write_over_the_profile_or_each_other(tmp_path, capsys):
    from sim.perf.vidur import bundled_profile

    profile = tmp_path / "mlp.csv"
    profile.write_bytes(bundled_profile("a100").read_bytes())
    base = ["calibrate", "--vidur-mlp", str(profile), "--gpu", "a100-80gb", "--model", "llama-2-7b"]
    assert _main([*base, "--table-out", str(profile)]) == 2
    assert _err(capsys) == [f"--table-out: {profile}: it is the input file {profile}, which writing it would replace; "
                            "name another file"]
    out = tmp_path / "x.csv"
    assert _main([*base, "--out", str(out), "--table-out", str(out)]) == 2
    assert _err(capsys) == [f"--table-out: {out}: it is the input file {out}, which writing it would replace; "
                            "name another file"]
    assert profile.read_bytes() == bundled_profile("a100").read_bytes() and not out.exists()


@pytest.mark.parametrize("where,said", [
    ("nowhere/c.yaml", "its folder {d}/nowhere does not exist; make the folder first or name a file in one"),
    ("p.csv/c.yaml", "its folder {d}/p.csv is a file; make the folder first or name a file in one"),
    (".", "is a folder; name a file in it"),
])
def test_calibrate_out_where_no_file_can_be_written_is_refused_before_fitting(tmp_path, capsys, where, said):
    """It fitted, printed the fit, then failed with 'cannot read or write a file (FileNotFoundError: ...)',
    naming no flag."""
    pts = tmp_path / "p.csv"
    pts.write_text(STEP_POINTS + "0,8,1,0.01\n")
    out = str(tmp_path / where)
    assert _main(["calibrate", str(pts), "--gpu", "h100-sxm", "--model", "llama-2-7b", "--out", out]) == 2
    assert _err(capsys) == [f"--out: {out}: {said.format(d=tmp_path)}"]
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------ a linear step model of no time
@pytest.mark.parametrize("where", ["perf", "fleet.pools.0.perf"])
def test_a_linear_model_whose_every_coefficient_is_zero_is_refused(tmp_path, capsys, where):
    """Every iteration took 0 s: the run said latencies of 0 and a GPU busy 0 % of the time with an MFU
    and an MBU above 0."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", f"{where}={{model: linear, base_s: 0}}"]) == 2
    assert _err(capsys) == [
        f"{path}: {where}.base_s: every coefficient of the linear model is 0, so every iteration would take 0 s (a GPU "
        "that serves any load at no latency); give base_s or a per-token time such as per_decode_token_s"]
    assert _main(["validate", str(path), "--set", f"{where}={{model: linear, per_context_token_s: 1e-9}}"]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ a calibration file: a key misspelt, another GPU's
CAL = "flops_efficiency: 0.5\nbw_efficiency: 0.6\noverhead_s: 0.001\n"


def test_a_calibration_files_unknown_key_is_refused_not_dropped(tmp_path, capsys):
    """``overlap_exponant: 2`` was dropped in silence: the run took the catalog's exponent."""
    (tmp_path / "cal.yaml").write_text(CAL + "overlap_exponant: 2\n")
    sc = hc._small()
    sc["perf"] = {"model": "roofline", "calibration": "cal.yaml"}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [
        f"{path}: perf.calibration: cal.yaml: overlap_exponant: unknown key; allowed: gpu, model, tp, "
        "weight_dtype, kv_dtype, flops_efficiency, bw_efficiency, overhead_s, overlap_exponent, kernels, "
        "attention_kv_sharing, kernel_factors, fit"]


def test_every_key_calibrate_writes_is_read_back(tmp_path):
    from sim.perf.calibration import FILE_KEYS, load_calibration

    pts = tmp_path / "p.csv"
    pts.write_text(STEP_POINTS + "0,8,1,0.01\n0,32,8192,0.02\n2048,0,0,0.05\n")
    out = tmp_path / "c.yaml"
    assert _main(["calibrate", str(pts), "--gpu", "h100-sxm", "--model", "llama-2-7b", "--fit-exponent",
                  "--kernels", "pytorch", "--attention-kv-sharing", "per_query_head", "--out", str(out)]) in (0, 2)
    if out.exists():
        written = yaml.safe_load(out.read_text())
        assert set(written) <= set(FILE_KEYS)
        load_calibration(out)


@pytest.mark.parametrize("gpu,warned", [
    ("h100-sxm", False),
    ("a100-80gb", True),
    ({"name": "mine", "like": "a100-80gb", "hbm_gb": 40}, True),
    ({"name": "mine", "hbm_gb": 40}, False),                   # like: h100-sxm, the family it was fitted on
])
def test_a_calibration_fitted_on_another_gpu_is_said(tmp_path, capsys, gpu, warned):
    """A file fitted on an H100 used on an A100 pool was taken in silence: its efficiencies are another
    GPU's share of its own peak."""
    from sim.scenario.load import load_scenario

    (tmp_path / "cal.yaml").write_text("gpu: h100-sxm\n" + CAL)
    sc = hc._small()
    sc["perf"] = {"model": "roofline", "calibration": "cal.yaml"}
    sc["fleet"]["pools"][0]["gpu"] = gpu
    path = _scenario(tmp_path, sc)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_scenario(path)
    running = gpu if isinstance(gpu, str) else gpu.get("like", "h100-sxm")
    said = (f"perf.calibration: cal.yaml was fitted on h100-sxm, but pool p runs on {running}: an efficiency "
            f"is one GPU's (and stack's) share of its own peak; refit with fleetsim calibrate --gpu {running}, or "
            "remove calibration for the GPU catalog's factors")
    assert (said in [str(w.message) for w in caught]) is warned, [str(w.message) for w in caught]


# ------------------------------------------------------------------ what a key outside its block may be
@pytest.mark.parametrize("process", ["offline", "burst"])
def test_a_key_of_another_arrival_process_lists_the_processes_own_keys(tmp_path, capsys, process):
    """``rate`` under ``process: offline`` said 'unknown key 'rate'; allowed: process, rate': the keys of the
    Poisson block, since burst and offline share a block whose tag names two processes."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", f"workload.arrival.process={process}"]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.count: required field is missing",
                            f"{path}: workload.arrival.rate: unknown key 'rate'; allowed: at, count, process"]


# ------------------------------------------------------------------ saturation: a start too low to bring a request
def test_a_saturation_start_that_brings_no_request_is_refused_before_any_probe(tmp_path, capsys):
    """``--start 1e-300`` ran a probe that completed nothing and ended in exit 1, 'no rate tried completed a
    request', with a result folder written."""
    path = _scenario(tmp_path)          # duration 60 s: 1/60 req/s brings one request
    out = tmp_path / "r"
    assert _main(["saturation", str(path), "--start", "1e-300", "--out", str(out), "--quiet"]) == 2
    assert _err(capsys) == ["--start: 1e-300 req/s is too low to probe: it would bring less than one request into "
                            "the 60 s run; start at 0.0166667 req/s or more"]
    assert not out.exists()


def test_an_inline_gpus_number_in_e_notation_is_read_as_the_rest_of_the_scenario_reads_it(tmp_path, capsys):
    """YAML reads ``1e-6`` (no dot) as text: the inline GPU said 'must be a number > 0 (got '1e-6')' where the
    scenario's other numbers (``rate: 2e0``) are read as numbers."""
    text = yaml.safe_dump(hc._small()).replace("gpu: h100-sxm", "gpu: {name: tiny, hbm_gb: 1e-6}")
    assert "1e-6" in text
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert _main(["validate", str(path)]) == 2
    lines = _err(capsys)
    assert len(lines) == 1 and "exceed 0.9 x 1e-06 GiB = 966 bytes (short by 15.9 GiB per GPU)" in lines[0], lines
    path.write_text(text.replace("hbm_gb: 1e-6", "hbm_gb: 8e1"))
    assert _main(["validate", str(path)]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ a run too short to serve anything
@pytest.mark.parametrize("duration", ["1e-300", "0.0009"])
def test_a_duration_shorter_than_a_millisecond_is_refused(tmp_path, capsys, duration):
    """``duration: 1e-300`` ran nothing, exit 0, and its verdict said "about $0.00 per month" for four GPUs."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", f"duration={duration}", "--set", "warmup=0"]) == 2
    assert _err(capsys) == [f"{path}: duration: must be >= 0.001 (got {duration})"]
    assert _main(["validate", str(path), "--set", "duration=0.001", "--set", "warmup=0"]) == 0
    capsys.readouterr()
