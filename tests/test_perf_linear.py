"""Linear step-time model, the perf: schema, and build_step_model wiring."""
import pathlib

import numpy as np
import pytest
from pydantic import ValidationError

from sim.perf import build_step_model
from sim.perf.base import BatchShape
from sim.perf.linear import LinearModel
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.perf import LinearPerf, RooflinePerf, parse_perf

HERE = pathlib.Path(".")


def test_linear_formula_by_hand():
    lm = LinearModel(base_s=0.01, per_prefill_token_s=1e-4, per_decode_token_s=1e-3, per_context_token_s=1e-6)
    s = BatchShape(prefill_tokens=100, prefill_seqs=1, prefill_kv_tokens=300, decode_seqs=4,
                   decode_context_tokens=2000)
    # 0.01 + 100e-4 + 4e-3 + (2000 + 300 - 100) * 1e-6
    assert lm.step_time(s) == pytest.approx(0.01 + 0.01 + 0.004 + 0.0022)
    assert lm.step_time(BatchShape()) == 0.0


def test_linear_decode_times_bit_for_bit():
    lm = LinearModel(0.013, 3.3e-5, 7.1e-4, 1.7e-7)
    ctx = np.random.default_rng(1).integers(0, 10**6, 500)
    loop = [lm.step_time(BatchShape(decode_seqs=37, decode_context_tokens=int(c))) for c in ctx]
    assert np.array_equal(lm.decode_times(37, ctx), loop)


def test_schema_defaults_and_discriminator():
    assert isinstance(parse_perf(None), RooflinePerf)
    assert parse_perf({"weight_dtype": "fp8"}).weight_dtype == "fp8"
    lin = parse_perf({"model": "linear", "base_s": "10ms", "per_decode_token_s": 0.001})
    assert isinstance(lin, LinearPerf) and lin.base_s == pytest.approx(0.01)
    assert parse_perf({"model": "table", "path": "t.csv"}).fallback == "roofline"


@pytest.mark.parametrize("bad", [{"model": "linear", "base_s": -3}, {"model": "roofline", "weight_dtype": "int4"},
                                 {"model": "roofline", "bw_efficiency": 1.5}, {"model": "linear", "colour": 1},
                                 {"model": "quantum"}, {"model": "roofline", "overlap_exponent": 0.5},
                                 {"model": "roofline", "attention_kv_sharing": "none"}])
def test_schema_rejects(bad):
    with pytest.raises(ValidationError):
        parse_perf(bad)


def test_negative_message_says_what_was_got():
    with pytest.raises(ValidationError, match=r"must be a finite number >= 0 \(got -3"):
        parse_perf({"model": "linear", "base_s": -3})


def test_build_step_model_kinds_and_overrides():
    m, g = get_model("llama-3-8b"), get_gpu("h100-sxm")
    assert isinstance(build_step_model(parse_perf({"model": "linear", "base_s": 0.01}), m, g, 1, HERE), LinearModel)
    rm = build_step_model(parse_perf({"model": "roofline", "overhead_s": "2ms", "bw_efficiency": 0.5}), m, g, 1, HERE)
    assert isinstance(rm, RooflineModel)
    assert rm.efficiency.overhead_s == pytest.approx(0.002) and rm.efficiency.bw_efficiency == 0.5
    assert rm.efficiency.flops_efficiency == g.efficiency("bf16").flops_efficiency
    with pytest.raises(ValueError, match="must divide n_heads=32"):
        build_step_model(parse_perf(None), m, g, 3, HERE)


def test_build_step_model_reads_calibration_relative_to_base_dir(tmp_path):
    (tmp_path / "cal.yaml").write_text("flops_efficiency: 0.4\nbw_efficiency: 0.6\noverhead_s: 0.001\n")
    rm = build_step_model(parse_perf({"calibration": "cal.yaml", "overhead_s": 0.003}), get_model("llama-2-7b"),
                          get_gpu("a100-80gb"), 1, tmp_path)
    assert (rm.efficiency.flops_efficiency, rm.efficiency.bw_efficiency, rm.efficiency.overhead_s) == (0.4, 0.6, 0.003)


def test_build_step_model_passes_overlap_exponent_and_kv_sharing():
    m, g = get_model("llama-2-70b"), get_gpu("h100-sxm")
    default = build_step_model(parse_perf(None), m, g, 4, HERE)
    assert default.overlap_exponent == g.overlap_exponent and default.kv_sharing == "grouped"
    rm = build_step_model(parse_perf({"overlap_exponent": 2, "attention_kv_sharing": "per_query_head"}), m, g, 4, HERE)
    assert rm.overlap_exponent == 2.0 and rm.kv_sharing == "per_query_head"
    with pytest.raises(ValidationError, match=r"must be a number >= 1 .*\(got 0.5\)"):
        parse_perf({"overlap_exponent": 0.5})
