"""The command line contract: exit codes, one message per problem naming file and field, --json on stdout."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim.cli import main

from conftest import scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def _write(tmp_path: Path, data: dict, name: str = "x.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def _validate_argv(path: Path, overrides: list[str]) -> list[str]:
    argv = ["validate", str(path)]
    for o in overrides:
        argv += ["--set", o]
    return argv


BAD = [
    (["workload.arrival.rate=-3"], "workload.arrival.rate: must be > 0 (got -3)"),
    (["fleet.pools.0.bogus=1"], "fleet.pools.0.bogus: unknown key 'bogus'; allowed:"),
    (["fleet.pools.0.replicas=many"], "fleet.pools.0.replicas: must be a whole number (got 'many')"),
    (["fleet.pools.0.gpu=h900"], "fleet.pools.0.gpu: unknown GPU 'h900'; allowed: a100-80gb"),
    (["model=llama-9"], "model: unknown model 'llama-9'; allowed:"),
    (["warmup=2h"], "warmup: must be < duration"),
    (["fleet.pools.0.tensor_parallel=3"], "fleet.pools.0.tensor_parallel: must divide n_heads=32"),
    (["model=llama-2-70b"], "fleet.pools.0: llama-2-70b does not fit on 1x h100-sxm"),
    (["duration=10 parsecs"], "duration: expected a duration such as 3600"),
    (["workload.arrival.process=weird"], "workload.arrival: unknown process 'weird'; allowed: poisson"),
    (["fleet.router=fastest"], "fleet.router.policy: must be one of"),
    (["economics.agreements=[{rate: 0.2, base: [api], payment_lag: -1}]"],
     "economics.agreements.0.payment_lag: must be >= 0 (got -1 s)"),
]


@pytest.mark.parametrize("overrides,expected", BAD, ids=[b[1].split(":")[0] for b in BAD])
def test_bad_input_exits_2_with_file_field_and_allowed(tmp_path, capsys, overrides, expected):
    path = _write(tmp_path, yaml.safe_load(BASELINE.read_text()))
    assert main(_validate_argv(path, overrides)) == 2
    err = capsys.readouterr().err
    assert f"{path}: {expected}" in err, err
    assert "Traceback" not in err


def test_several_problems_are_reported_together(tmp_path, capsys):
    data = yaml.safe_load(BASELINE.read_text())
    data["workload"]["arrival"]["rate"] = -1
    data["fleet"]["pools"][0]["gpu"] = "nope"
    data["slo"]["ttft_s"] = "fast"
    path = _write(tmp_path, data)
    assert main(["run", str(path), "--quiet"]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert any("workload.arrival.rate" in ln for ln in lines)
    assert any("slo.ttft_s: expected a duration such as 3600" in ln for ln in lines)     # seconds or "500ms"
    assert all(ln.startswith(str(path)) for ln in lines)


def test_missing_file_and_broken_yaml(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "--quiet"]) == 2
    assert "nope.yaml: file not found" in capsys.readouterr().err
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\nduration: [1\n")
    assert main(["validate", str(bad)]) == 2
    assert "broken.yaml: not valid YAML" in capsys.readouterr().err


def test_override_into_missing_list_item_is_an_error(capsys):
    assert main(["validate", str(BASELINE), "--set", "fleet.pools.3.replicas=2"]) == 2
    assert "--set: fleet.pools.3: index out of range: the list has 1 item, index 0 to 0" in capsys.readouterr().err


def test_validate_prints_memory_plan(capsys):
    assert main(["validate", str(BASELINE)]) == 0
    out = capsys.readouterr().out
    assert "KV cache" in out and "max concurrent sequences" in out
    assert "step time:" not in out            # the default roofline and kernel set go unsaid


def test_validate_names_a_step_model_or_kernel_set_that_is_not_the_default(capsys):
    assert main(["validate", str(BASELINE), "--set", "perf.kernels=vllm"]) == 0
    assert "    step time: roofline, kernel set vllm\n" in capsys.readouterr().out
    assert main(["validate", str(BASELINE), "--set", "perf.kernels=pytorch",
                 "--set", "perf.kernel_factors={elementwise_floor_s: 2.0e-5}"]) == 0
    assert "step time: roofline, kernel set pytorch with elementwise_floor_s 2e-05" in capsys.readouterr().out
    assert main(["validate", str(BASELINE), "--set", "perf={model: linear, base_s: 0.01}"]) == 0
    assert "    step time: linear\n" in capsys.readouterr().out


def test_run_json_prints_exactly_one_object_on_stdout(tmp_path):
    path = _write(tmp_path, scenario(duration=30))
    proc = subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--json", "--out", str(tmp_path / "res")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    for key in ("requests", "latency", "throughput", "slo", "utilization", "gpu_hours", "cost", "cashflow",
                "scenario", "seed", "simulated_seconds", "wall_seconds"):
        assert key in summary
    for k in ("ttft", "tpot", "itl", "e2e", "queue"):
        assert set(summary["latency"][k]) >= {"mean", "p50", "p90", "p99"}
    assert set(summary["cashflow"]) >= {"revenue", "compute_cost", "revenue_share_paid", "revenue_share_received",
                                        "net"}
    for name in ("summary.json", "requests.csv.gz", "timeseries.csv", "cashflow.csv"):
        assert (tmp_path / "res" / name).exists()
    assert not list((tmp_path / "res").glob(".*"))  # no temporary files left behind
    assert sorted(p.name for p in (tmp_path / "res" / "figures").iterdir()) == [
        "cashflow.svg", "latency_cdf.svg", "timeseries.svg", "utilization.svg"]


def test_run_imports_neither_scipy_nor_matplotlib(tmp_path):
    """`fleetsim run` starts fast: scipy.stats (planning's confidence intervals, ~0.5 s) and
    matplotlib (reports, ~0.4 s) are imported only by the commands that use them."""
    path = _write(tmp_path, scenario(duration=30))
    code = ("import sys\nfrom sim.cli import main\n"
            f"rc = main(['run', {str(path)!r}, '--quiet', '--out', {str(tmp_path / 'res')!r}])\n"
            "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'matplotlib', 'dask'}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stderr


def test_help_imports_neither_scipy_nor_matplotlib():
    """`fleetsim --help` lists the commands from ``sim.cli.COMMANDS`` and imports none of their modules
    (tests/test_command_imports.py); a command's own ``--help`` imports its module, and some of those
    import the report page's modules: matplotlib comes only with a figure drawn by it."""
    code = ("import sys, contextlib, io\nfrom sim.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit as exc:\n        rc = exc.code\n"
            "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'matplotlib', 'dask'}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stderr


@pytest.mark.parametrize("choice, names", [("png", ["cashflow.png", "latency_cdf.png", "timeseries.png",
                                                    "utilization.png"]), ("none", None)])
def test_run_figures_option(tmp_path, choice, names):
    path = _write(tmp_path, scenario(duration=30))
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "res"), "--figures", choice]) == 0
    figs = tmp_path / "res" / "figures"
    assert (sorted(p.name for p in figs.iterdir()) if figs.exists() else None) == names
    assert (tmp_path / "res" / "summary.json").exists()


def test_set_overrides_reach_the_run(tmp_path):
    import sim

    path = _write(tmp_path, scenario(duration=30))
    a = sim.run(path, overrides=["fleet.pools.0.replicas=3", "economics.gpu_hour_usd=4"])
    assert a.summary["gpu_hours"]["provisioned"] == pytest.approx(3 * 30 / 3600)
    assert a.summary["cost"]["compute_usd"] == pytest.approx(4 * 3 * 30 / 3600)


def test_toml_scenario_runs_like_yaml(tmp_path):
    import sim

    data = yaml.safe_load(BASELINE.read_text())
    lines = [f'name = "{data["name"]}"', "seed = 1", 'duration = "2m"', "warmup = 0", f'model = "{data["model"]}"',
             "[workload.arrival]", 'process = "poisson"', "rate = 12",
             "[workload.prompt_tokens]", 'dist = "lognormal"', "mean = 1000", "cv = 1.0", "max = 8192",
             "[workload.output_tokens]", 'dist = "lognormal"', "mean = 250", "cv = 1.0", "max = 2048",
             "[fleet]", 'router = "least_outstanding"',
             "[[fleet.pools]]", 'name = "main"', 'gpu = "h100-sxm"', "replicas = 4",
             "[perf]", 'model = "roofline"', "[economics]", "gpu_hour_usd = 2.5"]
    toml_path = tmp_path / "b.toml"
    toml_path.write_text("\n".join(lines) + "\n")
    a = sim.run(toml_path)
    b = sim.run(BASELINE, overrides=["duration=2m", "warmup=0"])
    assert a.summary["requests"] == b.summary["requests"]
    assert a.summary["latency"] == b.summary["latency"]


DYNAMICS_BAD = [
    ({"autoscale": {"metric": "utilization", "target": 70, "min": 1, "max": 8}},
     "fleet.pools.0.autoscale.target: is a fraction for metric utilization: must be <= 1 (got 70)"),
    ({"replicas": 1, "autoscale": {"min": 2, "max": 8}}, "fleet.pools.0.replicas: must be >= autoscale.min (2) (got 1)"),
    ({"failures": {"mtbf": "10h", "mttr": "30m", "shape": 2}},
     "fleet.pools.0.failures.shape: applies only to distribution: weibull"),
    ({"failures": {"mtbf": "10h", "mttr": 0}}, "fleet.pools.0.failures.mttr: must be > 0 (got 0)"),
]


@pytest.mark.parametrize("extra,expected", DYNAMICS_BAD, ids=[d[1].split(":")[0] for d in DYNAMICS_BAD])
def test_bad_fleet_dynamics_input(tmp_path, capsys, extra, expected):
    data = yaml.safe_load(BASELINE.read_text())
    data["fleet"]["pools"][0].update(extra)
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    assert f"{path}: {expected}" in capsys.readouterr().err


def test_disaggregated_pools_must_serve_one_model(tmp_path, capsys):
    data = yaml.safe_load(BASELINE.read_text())
    p = data["fleet"]["pools"][0]
    data["fleet"]["pools"] = [dict(p, name="prefill"), dict(p, name="decode", model="llama-2-7b")]
    data["fleet"]["disaggregated"] = {"prefill_pool": "prefill", "decode_pool": "decode", "link_gbps": 100}
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    assert "fleet.disaggregated.decode_pool: must serve the same model" in capsys.readouterr().err


def test_fluid_block_is_validated(capsys):
    assert main(["validate", str(BASELINE), "--set", "fluid.grid=[2]"]) == 2
    assert "fluid.grid: must list at least two load fractions" in capsys.readouterr().err
    assert main(["validate", str(BASELINE), "--set", "fluid.step=30m"]) == 0


VLLM_REFUSES = [
    (["fleet.pools.0.batching.max_batched_tokens=4096", "fleet.pools.0.batching.scheduler=vllm-v0"],
     "fleet.pools.0.batching.max_batched_tokens: must be >= max_model_len (8192) without chunked prefill"),
    (["fleet.pools.0.batching.max_batched_tokens=4096", "fleet.pools.0.batching.chunked_prefill=true",
      "fleet.pools.0.batching.max_num_seqs=8192"],
     "fleet.pools.0.batching.max_batched_tokens: must be >= max_num_seqs (8192) (got 4096)"),
    (["fleet.pools.0.max_model_len=100000"], "fleet.pools.0.max_model_len: must be <= the context length"),
    (["model=llama-3-70b", "fleet.pools.0.tensor_parallel=2", "fleet.pools.0.gpu=h100-sxm",
      "fleet.pools.0.gpu_memory_utilization=0.87"], "fewer than one sequence of max_model_len=8,192"),
]


@pytest.mark.parametrize("overrides,expected", VLLM_REFUSES, ids=["budget<len", "budget<seqs", "len>ctx", "kv<len"])
def test_configurations_vllm_refuses_are_errors(capsys, overrides, expected):
    assert main(_validate_argv(BASELINE, overrides)) == 2
    assert expected in capsys.readouterr().err


def test_max_model_len_is_the_way_out(capsys):
    assert main(["validate", str(BASELINE), "--set", "fleet.pools.0.batching.max_batched_tokens=4096",
                 "--set", "fleet.pools.0.max_model_len=4096"]) == 0


ROBUST = [
    (["start=2025-13-01"], "start: must be a date such as 2025-01-01 (got '2025-13-01')"),
    (["start=9999-12-01"], "start: must be in the year 9000 or before"),
    (["start=9000-12-31", "duration=2d"], "duration: runs past the year 9000"),
    (["workload.arrival.rate=.inf"], "workload.arrival.rate: must be a finite number (got inf)"),
    (["workload.arrival={process: gamma, rate: 1, cv: 1.0e9}"], "workload.arrival.cv: must be <= 100"),
    (["fleet.router={policy: weighted, weights: {main: .nan}}"], "fleet.router.weights.main: must be a finite number"),
    (["fleet.router={policy: spillover, primary: main, overflow: main, threshold: 1}"],
     "fleet.router.overflow: must differ from primary"),
    (["fleet.pools.0.replicas=0"], "fleet.pools: every pool has replicas: 0 and no autoscale"),
    (["duration=1.0e10", "workload.arrival.rate=1.0e-9"], "metrics.interval: would record"),
    (["model={n_layers: 2}"], "model.hidden: required for an inline architecture"),
]


@pytest.mark.parametrize("overrides,expected", ROBUST, ids=[r[1].split(":")[0] + str(i) for i, r in enumerate(ROBUST)])
def test_hostile_input_is_a_clear_error_not_a_traceback(capsys, overrides, expected):
    assert main(_validate_argv(BASELINE, overrides)) == 2
    err = capsys.readouterr().err
    assert f"{BASELINE}: {expected}" in err, err
    assert "Traceback" not in err and "<scenario>" not in err


def test_out_and_report_problems_exit_2(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["run", str(BASELINE), "--set", "duration=60", "--set", "warmup=0", "--quiet",
                 "--out", str(afile)]) == 2
    assert "--out:" in capsys.readouterr().err
    bad = tmp_path / "res"
    bad.mkdir()
    (bad / "summary.json").write_text("garbage")
    assert main(["report", str(bad)]) == 2
    assert "not a fleetsim summary" in capsys.readouterr().err


def test_autoscaler_with_zero_cooldown_runs():
    import sim

    s = sim.run(BASELINE, overrides=["duration=60", "warmup=0",
                                     "fleet.pools.0.autoscale={max: 8, scale_up_delay: 0, cooldown: 0, interval: 1}"])
    r = s.summary["requests"]
    assert r["arrived"] == r["completed"] + r["rejected"] + r["in_flight"] + r["failed"]


def test_messages_use_file_names_once_and_aliases(tmp_path, capsys):
    assert main(_validate_argv(BASELINE, ["fleet.pools.0.replicas=true"])) == 2
    assert "fleet.pools.0.replicas: must be a whole number, not true" in capsys.readouterr().err
    assert main(_validate_argv(BASELINE, ["economics.compute=[{pool: main, usd_per_gpu_hour: 1, foo: 1}]"])) == 2
    err = capsys.readouterr().err
    assert "allowed: from," in err and "from_" not in err
    p = tmp_path / "m.yaml"
    p.write_text("duration: 60\nmodel: llama-3-8b\nworkload: {arrival: {process: poisson, rate: 1}}\n"
                 "fleet: {pools: [{name: m, gpu: h100-sxm, replicas: 1}]}\n")
    assert main(["validate", str(p)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(set(lines)) == 2


@pytest.mark.parametrize("command", ["run", "validate", "sweep", "plan", "saturation", "report", "calibrate",
                                     "reprice"])
def test_help_reads_as_plain_text(command):
    out = subprocess.run([sys.executable, "-m", "sim", command, "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "`" not in out.stdout and ":func:" not in out.stdout, out.stdout


def test_help_description_is_the_whole_first_sentence_without_markup():
    out = subprocess.run([sys.executable, "-m", "sim", "run", "--help"], capture_output=True, text=True)
    text = " ".join(out.stdout.split())
    assert "Simulate a scenario and print its summary (--json: exactly one JSON object on stdout)." in text
    assert "(fleetsim report redraws them either way)" in text


def test_plain_strips_rest_markup():
    import doctest

    import sim.cli

    assert doctest.testmod(sim.cli).failed == 0
    assert sim.cli.plain("set ``economics.*`` via :class:`~sim.Scenario`") == "set economics.* via sim.Scenario"


@pytest.mark.parametrize("typed, meant", [("scenarios/baseline", "scenarios/baseline.yaml"),
                                          ("baseline.yaml", "scenarios/baseline.yaml"),
                                          ("scenarios/baselin.yaml", "scenarios/baseline.yaml"),
                                          ("scenarios/other.yaml", None)])
def test_a_scenario_file_not_found_names_the_one_nearby(tmp_path, monkeypatch, capsys, typed, meant):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "baseline.yaml").write_text(BASELINE.read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["validate", typed]) == 2
    hint = f" (did you mean {meant}?)" if meant else ""
    assert capsys.readouterr().err == f"{typed}: file not found{hint}\n"


def test_override_with_a_negative_index_is_refused_not_read_from_the_end(capsys):
    # Python would take pools[-1] as the last pool; the message says indices run from 0
    assert main(["validate", str(BASELINE), "--set", "fleet.pools.-1.replicas=2"]) == 2
    assert "--set: fleet.pools.-1: index out of range: the list has 1 item, index 0 to 0" in capsys.readouterr().err
    # any list on the path, at any depth and as the last part
    assert main(["validate", str(BASELINE), "--set", "fleet.pools.0.x=[1, 2]", "--set", "fleet.pools.0.x.-2=3"]) == 2
    assert "--set: fleet.pools.0.x.-2: index out of range: the list has 2 items, index 0 to 1" in capsys.readouterr().err
    assert main(["validate", str(BASELINE), "--set", "fleet.pools.-0.replicas=2"]) == 0   # -0 is 0


def test_validate_counts_pools_in_words(capsys):
    assert main(["validate", str(BASELINE)]) == 0
    assert f"{BASELINE}: ok (baseline: 1 pool, duration 3600 s)\n" in capsys.readouterr().out
    assert main(["validate", str(ROOT / "scenarios" / "mixed_fleet.yaml")]) == 0
    assert "ok (mixed_fleet: 2 pools, duration 3600 s)" in capsys.readouterr().out


@pytest.mark.parametrize("index", [" 0", "+0", "0_0", "\uff10", "\u0660"])
def test_an_override_index_is_ascii_digits(capsys, index):
    # int() took each of these as 0: `--set 'fleet.pools.+0.replicas=2'` set pool 0, and a sweep's column was
    # named after the spelling
    assert main(["validate", str(BASELINE), "--set", f"fleet.pools.{index}.replicas=2"]) == 2
    assert f"--set: fleet.pools.{index}: is a list; use an integer index (got {index!r})" in capsys.readouterr().err
