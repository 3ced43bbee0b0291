"""`fleetsim calibrate` fits the factors with the serving stack's kernel set, as the scenario will run it."""
import dataclasses
import pathlib
import re

import numpy as np
import pytest
import yaml

from sim.cli import main as cli
from sim.errors import InputError
from sim.perf import build_step_model
from sim.perf.base import BatchShape
from sim.perf.calibration import StepPoints, ThroughputPoints, fit_efficiency, load_calibration, write_calibration
from sim.perf.kernels import KERNEL_SETS, build_kernels
from sim.perf.roofline import RooflineModel
from sim.perf.throughput import static_batch_throughput
from sim.scenario.catalog import Efficiency, get_gpu, get_model
from sim.scenario.perf import parse_perf

TRUE = Efficiency(0.55, 0.62, 0.003)
M, G = get_model("llama-3-8b"), get_gpu("h100-sxm")
SHAPES = [(0, 1, 500), (0, 8, 8000), (0, 64, 64000), (0, 256, 500000), (512, 0, 0), (2048, 0, 0),
          (4096, 0, 0), (1024, 32, 30000), (128, 16, 4000)]
PYTORCH = KERNEL_SETS["pytorch"]
ROOT = pathlib.Path(__file__).resolve().parents[1]
# a researcher's own measured set: pytorch with two numbers replaced (perf.kernel_factors)
OWN = dataclasses.replace(PYTORCH, decode_attention_floor_s=40e-6, elementwise_bw_fraction=0.4)


def _shape(p: int, d: int, c: int) -> BatchShape:
    return BatchShape(prefill_tokens=p, prefill_seqs=1 if p else 0, prefill_attn_pairs=p * (p + 1) / 2,
                      prefill_kv_tokens=p, decode_seqs=d, decode_context_tokens=c)


def step_points(kernels, kv_sharing: str = "grouped") -> StepPoints:
    """Iteration times the roofline with ``kernels``, ``kv_sharing`` and the factors TRUE predicts: what
    a stack with that kernel set would measure if the model were exact."""
    rm = RooflineModel(M, G, 1, efficiency=TRUE, kv_sharing=kv_sharing, kernels=kernels)
    a = np.array(SHAPES, dtype=float)
    return StepPoints(a[:, 0], (a[:, 0] > 0).astype(float), a[:, 1], a[:, 2],
                      np.array([rm.step_time(_shape(*s)) for s in SHAPES]))


def step_csv(path, kernels, kv_sharing: str = "grouped"):
    pts = step_points(kernels, kv_sharing)
    rows = ["prefill_tokens,decode_seqs,context_tokens,step_s"]
    rows += [f"{int(p)},{int(d)},{int(c)},{float(s)!r}" for p, d, c, s in
             zip(pts.prefill_tokens, pts.decode_seqs, pts.context_tokens, pts.step_s)]
    path.write_text("\n".join(rows) + "\n")
    return path


def factors(cal) -> tuple[float, float, float]:
    return cal.flops_efficiency, cal.bw_efficiency, cal.overhead_s


@pytest.mark.parametrize("kernels", [PYTORCH, OWN], ids=["pytorch", "pytorch+kernel_factors"])
def test_a_fit_with_the_generating_kernel_set_recovers_the_generating_factors(kernels):
    cal = fit_efficiency(step_points(kernels), M, G, initial=Efficiency(0.8, 0.8, 0.0), kernels=kernels)
    assert factors(cal) == pytest.approx((TRUE.flops_efficiency, TRUE.bw_efficiency, TRUE.overhead_s), rel=1e-4)
    assert cal.max_abs_rel_error < 1e-6 and cal.kernels == kernels


def test_the_fused_set_fitted_to_pytorch_points_puts_the_kernel_floors_into_the_factors():
    # what the command did before it knew the kernel set: factors far from the stack's own
    cal = fit_efficiency(step_points(PYTORCH), M, G, initial=Efficiency(0.8, 0.8, 0.0))
    off = [abs(f / t - 1) for f, t in zip(factors(cal), (0.55, 0.62, 0.003))]
    assert max(off) > 0.2 and cal.max_abs_rel_error > 1e-3


def test_throughput_points_are_predicted_with_the_kernel_set_too():
    rm = RooflineModel(M, G, 1, efficiency=TRUE, kernels=PYTORCH)
    cfg = np.array([(1, 128, 256), (16, 512, 256), (64, 2048, 128), (256, 128, 128), (32, 1024, 1024)])
    tput = [static_batch_throughput(rm, int(b), int(i), int(o)) for b, i, o in cfg]
    pts = ThroughputPoints(cfg[:, 0], cfg[:, 1], cfg[:, 2], np.array(tput))
    cal = fit_efficiency(pts, M, G, initial=Efficiency(0.9, 0.9, 0.0), kernels=PYTORCH)
    assert factors(cal) == pytest.approx((TRUE.flops_efficiency, TRUE.bw_efficiency, TRUE.overhead_s), rel=1e-3)


def test_the_default_trtllm_fit_and_file_are_identical_to_a_fit_that_names_no_kernel_set(tmp_path):
    pts = step_points(KERNEL_SETS["trtllm"])
    default = fit_efficiency(pts, M, G, initial=Efficiency(0.8, 0.8, 0.0))
    named = fit_efficiency(pts, M, G, initial=Efficiency(0.8, 0.8, 0.0), kernels=KERNEL_SETS["trtllm"])
    assert factors(default) == factors(named) and default.predicted == named.predicted
    write_calibration(default, tmp_path / "a.yaml")
    write_calibration(named, tmp_path / "b.yaml")
    text = (tmp_path / "a.yaml").read_bytes()
    assert text == (tmp_path / "b.yaml").read_bytes() and b"kernel" not in text
    assert load_calibration(tmp_path / "a.yaml").kernels is None


def test_the_command_fits_with_the_scenario_kernel_set_and_records_it(tmp_path, capsys):
    pts = step_csv(tmp_path / "p.csv", OWN)
    out = tmp_path / "own.yaml"
    assert cli(["calibrate", str(pts), "--gpu", "h100-sxm", "--model", "llama-3-8b", "--kernels", "pytorch",
                "--kernel-factors", "{decode_attention_floor_s: 40e-6, elementwise_bw_fraction: 0.4}",
                "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "flops_efficiency 0.5500" in printed
    assert ("fitted with kernels: pytorch with kernel_factors {elementwise_bw_fraction: 0.4, "
            "decode_attention_floor_s: 4e-05}") in printed
    d = yaml.safe_load(out.read_text())
    assert d["kernels"] == "pytorch"
    assert d["kernel_factors"] == {"elementwise_bw_fraction": 0.4, "decode_attention_floor_s": 40e-6}
    assert load_calibration(out).kernels == OWN
    # the scenario that names the same set reproduces the measured iteration times
    perf = parse_perf({"calibration": "own.yaml", "kernels": "pytorch",
                       "kernel_factors": {"decode_attention_floor_s": 40e-6, "elementwise_bw_fraction": 0.4}})
    sm = build_step_model(perf, M, G, 1, tmp_path)
    measured = step_points(OWN).step_s
    assert [sm.step_time(_shape(*s)) for s in SHAPES] == pytest.approx(measured, rel=1e-5)


@pytest.mark.parametrize("argv, message", [
    (["--kernel-factors", "{bogus: 1}"], "--kernel-factors.bogus: unknown key; allowed: elementwise_floor_s"),
    (["--kernel-factors", "{attention_bw_fraction: 2}"],
     r"--kernel-factors.attention_bw_fraction: must be a fraction in \(0, 1\]"),
    (["--kernel-factors", "[1, 2]"], "--kernel-factors: must be a mapping of kernel numbers"),
    (["--kernel-factors", "{a: ["], "--kernel-factors: expected a YAML mapping"),
])
def test_bad_kernel_options_exit_2_naming_the_flag(tmp_path, capsys, argv, message):
    pts = step_csv(tmp_path / "p.csv", PYTORCH)
    assert cli(["calibrate", str(pts), "--gpu", "h100-sxm", "--model", "llama-3-8b", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_kernel_options_with_a_vidur_profile_are_refused(capsys):
    assert cli(["calibrate", "--vidur-mlp", "mlp.csv", "--gpu", "a100-80gb", "--model", "llama-2-7b",
                "--kernels", "pytorch"]) == 2
    assert "--kernels: only with measured points" in capsys.readouterr().err


@pytest.mark.parametrize("record, message", [
    ({"kernels": "cuda"}, "cal.yaml: kernels: Input should be 'trtllm', 'pytorch', 'vllm', 'sglang-0.4' or 'vllm-0.7'"),
    ({"kernels": "pytorch", "kernel_factors": {"decode_attention_floor_s": -1}},
     "cal.yaml: kernel_factors.decode_attention_floor_s"),
])
def test_a_bad_kernel_record_in_a_calibration_file_names_file_and_field(tmp_path, record, message):
    d = {"flops_efficiency": 0.5, "bw_efficiency": 0.6, "overhead_s": 0.001, **record}
    (tmp_path / "cal.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(InputError, match=message):
        load_calibration(tmp_path / "cal.yaml")


def test_build_kernels_is_the_scenario_path():
    assert build_kernels(None, None) == KERNEL_SETS["trtllm"]
    assert build_kernels("pytorch", {"decode_attention_floor_s": 40e-6, "elementwise_bw_fraction": 0.4}) == OWN


def test_calibration_and_kernel_set_doctests():
    import doctest

    import sim.perf.calibration
    import sim.perf.kernels
    for module in (sim.perf.calibration, sim.perf.kernels):
        assert doctest.testmod(module).failed == 0, module.__name__


@pytest.mark.parametrize("fitted, scenario_perf, warned", [
    (["--kernels", "pytorch"], [], True),                                          # pytorch file, trtllm scenario
    (["--kernels", "pytorch"], ["--set", "perf.kernels=pytorch"], False),
    (["--kernels", "pytorch"], ["--set", "perf.kernels=pytorch",
                                "--set", "perf.kernel_factors.decode_attention_floor_s=40e-6"], True),
    ([], ["--set", "perf.kernels=pytorch"], False),         # a trtllm file records no set: nothing to compare
])
def test_validate_warns_when_a_calibration_file_was_fitted_with_another_kernel_set(tmp_path, capsys, fitted,
                                                                                  scenario_perf, warned):
    err = _validate_with_fit(tmp_path, capsys, step_csv(tmp_path / "p.csv", PYTORCH), fitted, scenario_perf)
    assert ("perf.calibration: cal.yaml fitted with kernels: pytorch, but this perf block runs kernels:" in err) \
        == warned, err


def _validate_with_fit(tmp_path, capsys, points, fitted: list[str], scenario_perf: list[str]) -> str:
    """stderr of ``fleetsim validate`` of the baseline scenario using a file fitted to ``points``."""
    assert cli(["calibrate", str(points), "--gpu", "h100-sxm", "--model", "llama-3-8b", *fitted,
                "--out", str(tmp_path / "cal.yaml")]) == 0
    (tmp_path / "s.yaml").write_text((ROOT / "scenarios" / "baseline.yaml").read_text())
    capsys.readouterr()
    assert cli(["validate", str(tmp_path / "s.yaml"), "--set", "perf.calibration=cal.yaml", *scenario_perf]) == 0
    return capsys.readouterr().err


# ------------------------------------------------------------------ perf.attention_kv_sharing
def test_a_fit_with_per_query_head_sharing_recovers_the_factors_that_generated_its_points():
    # llama-3-8b has 32 query heads on 8 KV heads: per_query_head reads the decode KV cache 4 times
    pts = step_points(KERNEL_SETS["trtllm"], "per_query_head")
    cal = fit_efficiency(pts, M, G, initial=Efficiency(0.8, 0.8, 0.0), kv_sharing="per_query_head")
    assert factors(cal) == pytest.approx((TRUE.flops_efficiency, TRUE.bw_efficiency, TRUE.overhead_s), rel=1e-6)
    assert cal.max_abs_rel_error < 1e-9 and cal.attention_kv_sharing == "per_query_head"
    # the default (grouped) reading of the same points, what the command did before: other factors
    grouped = fit_efficiency(pts, M, G, initial=Efficiency(0.8, 0.8, 0.0))
    assert grouped.attention_kv_sharing == "grouped" and grouped.max_abs_rel_error > 1e-3


def test_the_command_fits_with_the_kv_sharing_and_records_it(tmp_path, capsys):
    pts = step_points(KERNEL_SETS["trtllm"], "per_query_head")
    step_csv(tmp_path / "p.csv", KERNEL_SETS["trtllm"], "per_query_head")
    out = tmp_path / "pqh.yaml"
    assert cli(["calibrate", str(tmp_path / "p.csv"), "--gpu", "h100-sxm", "--model", "llama-3-8b",
                "--attention-kv-sharing", "per_query_head", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "flops_efficiency 0.5500, bw_efficiency 0.6200, overhead_s 0.003000" in printed
    assert "fitted with attention_kv_sharing: per_query_head" in printed
    assert yaml.safe_load(out.read_text())["attention_kv_sharing"] == "per_query_head"
    assert load_calibration(out).attention_kv_sharing == "per_query_head"
    # the scenario naming the same sharing reproduces the measured iteration times
    perf = parse_perf({"calibration": "pqh.yaml", "attention_kv_sharing": "per_query_head"})
    sm = build_step_model(perf, M, G, 1, tmp_path)
    assert [sm.step_time(_shape(*s)) for s in SHAPES] == pytest.approx(pts.step_s, rel=1e-6)
    # a grouped fit writes no record: the file is as before the option existed
    assert cli(["calibrate", str(tmp_path / "p.csv"), "--gpu", "h100-sxm", "--model", "llama-3-8b",
                "--out", str(tmp_path / "g.yaml")]) == 0
    assert "sharing" not in (tmp_path / "g.yaml").read_text()
    assert load_calibration(tmp_path / "g.yaml").attention_kv_sharing == "grouped"


@pytest.mark.parametrize("fitted, scenario_perf, warned", [
    (["--attention-kv-sharing", "per_query_head"], [], True),
    (["--attention-kv-sharing", "per_query_head"], ["--set", "perf.attention_kv_sharing=per_query_head"], False),
    ([], ["--set", "perf.attention_kv_sharing=per_query_head"], True),
    ([], [], False),
])
def test_validate_warns_when_a_calibration_file_was_fitted_with_another_kv_sharing(tmp_path, capsys, fitted,
                                                                                  scenario_perf, warned):
    err = _validate_with_fit(tmp_path, capsys, step_csv(tmp_path / "p.csv", KERNEL_SETS["trtllm"]), fitted,
                             scenario_perf)
    assert ("perf.calibration: cal.yaml fitted with attention_kv_sharing: " in err) == warned, err


def test_a_bad_kv_sharing_record_and_option_are_named(tmp_path, capsys):
    d = {"flops_efficiency": 0.5, "bw_efficiency": 0.6, "overhead_s": 0.001, "attention_kv_sharing": "mqa"}
    (tmp_path / "cal.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(InputError, match="cal.yaml: attention_kv_sharing: must be one of grouped, per_query_head "
                                         r"\(got 'mqa'\)"):
        load_calibration(tmp_path / "cal.yaml")
    assert cli(["calibrate", "--vidur-mlp", "mlp.csv", "--gpu", "a100-80gb", "--model", "llama-2-7b",
                "--attention-kv-sharing", "per_query_head"]) == 2
    assert "--attention-kv-sharing: only with measured points" in capsys.readouterr().err
