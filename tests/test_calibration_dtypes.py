"""A calibration file's precisions against the run's: factors fitted at fp8 used on a bf16 block are said, and
a precision no perf block takes (``kv_dtype: int8``) is refused naming the allowed ones.

The catalog keeps one set of factors per precision (an H100's bf16 and fp8 ``flops_efficiency`` differ), so
a file fitted at one precision is another precision's share of its own peak, as a file fitted on another GPU
is another GPU's (the warning beside this one, test_hostile_round14).
"""
from __future__ import annotations

import warnings

import pytest
import yaml

from sim.cli import main
from sim.errors import InputError
from sim.perf.calibration import load_calibration
from sim.scenario.load import load_scenario

CAL = "gpu: h100-sxm\nmodel: llama-2-7b\ntp: 1\nflops_efficiency: 0.6\nbw_efficiency: 0.7\noverhead_s: 0.001\n"


def _files(tmp_path, cal_dtypes: str, perf: dict) -> str:
    (tmp_path / "cal.yaml").write_text(CAL + cal_dtypes)
    sc = {"name": "t", "duration": 60, "model": "llama-2-7b",
          "workload": {"arrival": {"process": "poisson", "rate": 1},
                       "prompt_tokens": {"dist": "fixed", "value": 100},
                       "output_tokens": {"dist": "fixed", "value": 10}},
          "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]},
          "perf": {"model": "roofline", "calibration": "cal.yaml", **perf}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    return str(path)


def _said(path: str) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_scenario(path)
    return [str(w.message) for w in caught if "fitted with" in str(w.message)]


@pytest.mark.parametrize("cal, perf, said", [
    ("weight_dtype: fp8\nkv_dtype: bf16\n", {}, "was fitted with weight_dtype: fp8, but this perf block runs "
     "weight_dtype: bf16: the factors are shares of the other precision's peak and bytes (the GPU catalog has a "
     "set per precision); refit with fleetsim calibrate --weight-dtype bf16, or set the perf block's "
     "weight_dtype: fp8"),
    ("weight_dtype: bf16\nkv_dtype: fp8\n", {}, "was fitted with kv_dtype: fp8, but this perf block runs "
     "kv_dtype: bf16"),
    ("weight_dtype: fp8\nkv_dtype: fp8\n", {}, "was fitted with weight_dtype: fp8 and kv_dtype: fp8, but this "
     "perf block runs weight_dtype: bf16 and kv_dtype: bf16"),
    ("", {"weight_dtype": "fp8"}, "was fitted with weight_dtype: bf16, but this perf block runs weight_dtype: fp8"),
])
def test_factors_fitted_at_another_precision_are_said_naming_both(tmp_path, cal, perf, said):
    got = _said(_files(tmp_path, cal, perf))
    assert len(got) == 1 and got[0].startswith("perf.calibration: cal.yaml " + said), got


@pytest.mark.parametrize("cal, perf", [("weight_dtype: fp8\nkv_dtype: fp8\n", {"weight_dtype": "fp8",
                                                                                "kv_dtype": "fp8"}),
                                       ("", {})])      # a file without them was fitted at bf16, as calibrate writes
def test_the_same_precisions_say_nothing(tmp_path, cal, perf):
    assert _said(_files(tmp_path, cal, perf)) == []


@pytest.mark.parametrize("key, value, allowed", [("kv_dtype", "int8", "bf16, fp8"),
                                                 ("weight_dtype", "fp16", "bf16, fp8, fp4"),
                                                 ("weight_dtype", 8, "bf16, fp8, fp4")])
def test_a_precision_no_perf_block_takes_is_refused_listing_the_allowed(tmp_path, capsys, key, value, allowed):
    (tmp_path / "c.yaml").write_text(CAL + yaml.safe_dump({key: value}))
    with pytest.raises(InputError) as e:
        load_calibration(tmp_path / "c.yaml")
    assert str(e.value) == f"{tmp_path / 'c.yaml'}: {key}: must be one of {allowed} (got {value!r})"
    path = _files(tmp_path, yaml.safe_dump({key: value}), {})
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert f"perf.calibration: cal.yaml: {key}: must be one of {allowed}" in err and "Traceback" not in err
