"""The scheduler factor (``sim.serving.saturated``) is cached on disk in ``$FLEETSIM_CACHE``: a
second process reads the float the first measured, exactly, and a cache file that is not this
measurement's is never read as one."""
from __future__ import annotations

import json
import re

import yaml

from sim.api import build_pools
from sim.cli import main
from sim.scenario.load import scenario_from_dict
from sim.serving import factor_cache, saturated

from conftest import scenario


def _scenario() -> dict:
    """vLLM V0 on lognormal lengths: a factor that is not 1 (its last bits matter)."""
    sc = scenario(duration=300)
    sc["workload"]["prompt_tokens"] = {"dist": "lognormal", "mean": 500, "cv": 1.0, "max": 3000}
    sc["workload"]["output_tokens"] = {"dist": "lognormal", "mean": 60, "cv": 1.0, "max": 600}
    sc["fleet"]["pools"][0]["batching"]["scheduler"] = "vllm-v0"
    sc["fleet"]["pools"][0]["max_model_len"] = 4096
    return sc


def _factor(sc: dict) -> float:
    saturated._CACHE.clear()     # a new process: only the disk cache is left
    return build_pools(scenario_from_dict(sc), scheduler_factors=True)[0].scheduler_factor


def _no_measuring(monkeypatch):
    def refuse(*a):
        raise AssertionError("measured although the factor is cached")
    monkeypatch.setattr(saturated, "saturated_window", refuse)


def test_a_cold_and_a_warm_cache_give_the_same_summary_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_scenario()))
    outs = []
    for run in ("cold", "warm"):
        saturated._CACHE.clear()
        if run == "warm":
            _no_measuring(monkeypatch)
        assert main(["run", str(path), "--out", str(tmp_path / run), "--quiet"]) == 0
        # the same bytes but for the process's own wall-clock time
        outs.append(re.sub(rb'"wall_seconds": [0-9.e-]+', b"", (tmp_path / run / "summary.json").read_bytes()))
        files = list((tmp_path / "cache").glob("scheduler-factor-*.json"))
        assert len(files) == 1 and not list((tmp_path / "cache").glob(".*.tmp"))
    assert outs[0] == outs[1]
    assert b'"load_factor"' in outs[0]


def test_the_cached_float_is_the_measured_one(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path))
    cold = _factor(_scenario())
    assert cold != 1.0
    (f,) = tmp_path.glob("scheduler-factor-*.json")
    assert json.loads(f.read_text())["factor"] == cold
    _no_measuring(monkeypatch)
    assert _factor(_scenario()) == cold


def test_a_corrupt_or_foreign_cache_file_is_measured_again(tmp_path, monkeypatch):
    """Garbage, another version's entry, another key's entry, a non-number and a non-positive
    factor in the file are all ignored: the factor is measured again (the same float) and the file
    rewritten; never an error and never the file's number."""
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path))
    good = _factor(_scenario())
    (f,) = tmp_path.glob("scheduler-factor-*.json")
    entry = json.loads(f.read_text())
    bad = [b"\xff\x00not json", b"", b"[1, 2]", b'{"factor": 0.5}',
           json.dumps({**entry, "version": saturated.FACTOR_VERSION + 1, "factor": 0.5}).encode(),
           json.dumps({**entry, "key": "0" * 64, "factor": 0.5}).encode(),
           json.dumps({**entry, "factor": "0.5"}).encode(),
           json.dumps({**entry, "factor": 1}).encode(),
           json.dumps({**entry, "factor": -0.5}).encode(),
           b'{"version": %d, "key": "%s", "factor": NaN}' % (saturated.FACTOR_VERSION, entry["key"].encode())]
    for data in bad:
        f.write_bytes(data)
        assert _factor(_scenario()) == good, data
        assert json.loads(f.read_text()) == entry
    f.unlink()
    f.mkdir()                      # unreadable (a folder where the file was) and unwritable
    assert _factor(_scenario()) == good


def test_another_version_of_the_measurement_does_not_read_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path))
    _factor(_scenario())
    monkeypatch.setattr(factor_cache, "FACTOR_VERSION", factor_cache.FACTOR_VERSION + 1)
    monkeypatch.setattr(factor_cache, "code_fingerprint", lambda: "another-version")
    measured = []
    real = saturated.saturated_window
    monkeypatch.setattr(saturated, "saturated_window", lambda *a: measured.append(1) or real(*a))
    _factor(_scenario())
    assert measured == [1] and len(list(tmp_path.glob("scheduler-factor-*.json"))) == 2
