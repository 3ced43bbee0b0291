"""Hostile input on the newest surface: the KV gate on prompts with a static batch, a Hugging Face
config.json written by hand (keys twice, NaN, a byte-order mark, Qwen's sliding-window keys, a
quantization the model does not price), a result folder with someone else's entry under a result's
name, and a ``usage.npz`` whose columns no run writes.

Each is exit 2 with one line naming the file and the field (or member), never a traceback, an internal
error, a silently wrong result or a deleted file.
"""
from __future__ import annotations

import inspect
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import hostile_cases as hc
from sim.cli import main


def _main(argv: list[str]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return main(argv)
        except SystemExit as exc:       # argparse's own errors
            return exc.code


def _err(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return err.strip().splitlines()


def _scenario(tmp_path: Path, sc: dict | None = None) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc or hc._small()))
    return path


# ------------------------------------------------------------------ the KV gate on prompts
def test_a_kv_gate_on_a_static_batch_is_refused_not_ignored(tmp_path, capsys):
    """A static batch is admitted whole (``sim.serving.batching.Static`` has no gate): the option was
    taken and never applied."""
    from sim.scenario.schema import Batching
    from sim.serving.batching import make_batching

    path = _scenario(tmp_path)
    static = ["--set", "fleet.pools.0.batching.policy=static", "--set", "fleet.pools.0.batching.batch_size=4"]
    assert _main(["validate", str(path), *static, "--set", "fleet.pools.0.batching.prefill_min_free_kv_pct=31"]) == 2
    assert _err(capsys) == [
        f"{path}: fleet.pools.0.batching.prefill_min_free_kv_pct: applies to iteration-level batching only: a static "
        "batch is admitted whole, never prompt by prompt; remove it or use policy continuous or priority (got 31 "
        "with policy static)"]
    static_policy = make_batching(Batching(policy="static", batch_size=4))        # why: it has no gate to take
    assert "min_free_pct" not in inspect.signature(type(static_policy)).parameters
    for ok in (static, ["--set", "fleet.pools.0.batching.prefill_min_free_kv_pct=31"]):
        assert _main(["validate", str(path), *ok]) == 0, capsys.readouterr().err
    capsys.readouterr()


def test_a_kv_gate_on_a_disaggregated_decode_pool_is_refused_and_on_its_prefill_pool_taken(capsys):
    """The decode pool admits transferred requests straight into its decode batch
    (``sim.serving.batching.admit_transferred``, no gate): the option was taken and never applied."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "disaggregated.yaml"
    gate = "batching.prefill_min_free_kv_pct=30"
    assert _main(["validate", str(path), "--set", f"fleet.pools.1.{gate}"]) == 2
    assert _err(capsys) == [
        f"{path}: fleet.pools.1.batching.prefill_min_free_kv_pct: gates new prompts, and pool decode "
        "(fleet.disaggregated.decode_pool) runs none: its requests' prompts run in prefill; set it there or remove it"]
    assert _main(["validate", str(path), "--set", f"fleet.pools.0.{gate}"]) == 0
    capsys.readouterr()
