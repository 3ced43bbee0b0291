"""Switches take ``true``/``false`` only; numbers may be written as text (README "Limits").

pydantic's lax mode read a switch given ``"no"``, ``"off"``, ``1`` or ``0`` as a boolean (and ``"yes"`` in
quotes as true): a quoted value is text the user chose to quote, so it is refused with what to write.
A number written as text (``rate: "5"``; ``1e3``, which YAML reads as text) is the number: documented,
and pinned here as the same scenario as the number written plainly.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import hostile_cases as hc
from sim.cli import main
from sim.scenario.load import load_scenario

BASES = hc.newer_keys()
#: (base scenario, dotted path of a switch in it)
SWITCHES = [("burst_drain", "drain"), ("trace", "workload.arrival.loop"), ("scheduler_overheads", "perf.streaming"),
            ("layout", "fleet.pools.0.data_parallel_attention"),
            ("scheduler_overheads", "fleet.pools.0.batching.chunked_prefill"),
            ("scheduler_overheads", "fleet.pools.0.batching.mixed_batches"),
            ("scheduler_overheads", "fleet.pools.0.batching.prefix_caching")]


def _set(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = data
    for p in parents:
        node = node[p]
    node[last] = value
    return data


def _write(tmp_path: Path, base: str, text: str) -> Path:
    for name, body in BASES[base][1].items():
        (tmp_path / name).write_bytes(body)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("base,path", SWITCHES)
@pytest.mark.parametrize("written,said", [
    ('"no"', "(got 'no'); 'no' in quotes is text: write false"),
    ("'off'", "(got 'off'); 'off' in quotes is text: write false"),
    ('"yes"', "(got 'yes'); 'yes' in quotes is text: write true"),
    ("1", "(got 1); write true"),
    ("0", "(got 0); write false"),
    ("0.0", "(got 0); write false"),
    ('"maybe"', "(got 'maybe')"),
])
def test_a_switch_given_text_or_a_number_is_refused(tmp_path, capsys, base, path, written, said):
    """On main each of these was taken (``"no"`` as false, ``1`` as true)."""
    data = _set(BASES[base][0], path, "SWITCH")
    f = _write(tmp_path, base, hc._dump(data).decode().replace("SWITCH", written))
    assert main(["validate", str(f)]) == 2
    assert capsys.readouterr().err == f"{f}: {path}: must be true or false {said}\n"


@pytest.mark.parametrize("written,value", [("yes", True), ("no", False), ("On", True), ("off", False),
                                           ("true", True), ("False", False)])
def test_yaml_booleans_unquoted_are_switches(tmp_path, written, value):
    data = _set(BASES["burst_drain"][0], "drain", "SWITCH")
    f = _write(tmp_path, "burst_drain", hc._dump(data).decode().replace("SWITCH", written))
    assert load_scenario(f).scenario.drain is value


@pytest.mark.parametrize("path,written,plain", [
    ("workload.arrival.rate", '"5"', "5"),
    ("workload.arrival.rate", "1e3", "1000"),
    ("workload.arrival.rate", '" 2.5 "', "2.5"),
    ("fleet.pools.0.replicas", '"3"', "3"),
    ("duration", '"600"', "600"),
])
def test_a_number_written_as_text_is_that_number(tmp_path, path, written, plain):
    data = _set(hc._small(), path, "NUMBER")
    text = hc._dump(data).decode()
    quoted, bare = (tmp_path / "q.yaml"), (tmp_path / "b.yaml")
    quoted.write_text(text.replace("NUMBER", written))
    bare.write_text(text.replace("NUMBER", plain))
    assert load_scenario(quoted).scenario == load_scenario(bare).scenario
