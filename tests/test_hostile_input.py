"""Hostile scenario files: each is refused at once (exit 2, one line naming the file and the line
or field), never a long wait, a traceback or a silently wrong run.

Alias bombs, deep nesting (YAML and TOML), duplicate keys, null/boolean keys, special files,
impossible dates, ``true``/``false`` given for numbers.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.scenario.load import load_scenario
from sim.scenario.safe_yaml import MAX_ALIAS_NODES, MAX_DEPTH, TextLimitError, check_nesting, load_yaml

from conftest import scenario


def _validate(capsys, path: Path) -> tuple[int, str]:
    t0 = time.perf_counter()
    rc = main(["validate", str(path)])
    assert time.perf_counter() - t0 < 5
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def _bomb(levels: int) -> str:
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    lines.append("name: [" + ",".join([f"*l{levels - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_by_line(tmp_path, capsys):
    p = tmp_path / "bomb.yaml"
    p.write_text(_bomb(10))          # 9**11 values when expanded, from ~650 bytes
    assert len(p.read_bytes()) < 1000
    rc, err = _validate(capsys, p)
    assert rc == 2
    # 9 + 9*9 + 9*81 + 9*729 = 7,380 values by the end of line 4; line 5's aliases pass 10,000
    assert err.strip() == (f"{p}: line 5: aliases (*l3) expand to more than {MAX_ALIAS_NODES:,} values; "
                           "write the values out or use fewer aliases")


def test_small_anchors_still_work():
    text = "base: &b {gpu: h100-sxm, replicas: 2}\npools: [*b, *b]\n"
    data = load_yaml(text)
    assert data["pools"] == [{"gpu": "h100-sxm", "replicas": 2}] * 2


@pytest.mark.parametrize("suffix,text", [
    (".yaml", "name: " + "[" * 500 + "]" * 500 + "\n"),
    (".yaml", "name:\n" + "".join("  " * i + "- \n" for i in range(60))),
    (".toml", "name = " + "[" * 500 + "]" * 500 + "\n"),
])
def test_deep_nesting_is_refused(tmp_path, capsys, suffix, text):
    p = tmp_path / f"deep{suffix}"
    p.write_text(text)
    rc, err = _validate(capsys, p)
    assert rc == 2
    assert f"nested deeper than {MAX_DEPTH}" in err and err.startswith(f"{p}: line ")


def test_nesting_at_the_limit_is_read():
    assert load_yaml("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)) is not None
    check_nesting("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(TextLimitError):
        check_nesting("[" * (MAX_DEPTH + 1))


def test_duplicate_key_names_both_lines(tmp_path, capsys):
    sc = yaml.safe_dump(scenario())
    p = tmp_path / "dup.yaml"
    p.write_text(sc + "seed: 9\n")
    line = sc.count("\n") + 1
    first = next(i + 1 for i, ln in enumerate(sc.splitlines()) if ln.startswith("seed:"))
    rc, err = _validate(capsys, p)
    assert rc == 2
    assert err.strip() == f"{p}: line {line}: duplicate key 'seed' (first given on line {first}); give each key once"


def test_duplicate_key_in_a_nested_mapping(tmp_path, capsys):
    p = tmp_path / "dup.yaml"
    p.write_text("fleet:\n  pools:\n    - name: a\n      replicas: 1\n      replicas: 8\n")
    rc, err = _validate(capsys, p)
    assert rc == 2 and "line 5: duplicate key 'replicas' (first given on line 4)" in err


@pytest.mark.parametrize("key", ["null", "~", "on", "yes", "false"])
def test_null_and_boolean_keys_are_refused(tmp_path, capsys, key):
    p = tmp_path / "k.yaml"
    p.write_text(f"{key}: 3\n")
    rc, err = _validate(capsys, p)
    assert rc == 2 and f"{p}: line 1: key {key!r} reads as" in err and "quote it" in err


def test_fifo_device_and_folder_are_refused(tmp_path, capsys):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path, kind in [(fifo, "a pipe (FIFO)"), (Path("/dev/zero"), "a device"), (tmp_path, "a folder")]:
        rc, err = _validate(capsys, path)
        assert rc == 2 and err.strip() == f"{path}: is {kind}, not a regular file"


def test_run_dev_zero_exits_2_at_once(capsys):
    t0 = time.perf_counter()
    assert main(["run", "/dev/zero", "--quiet"]) == 2
    assert time.perf_counter() - t0 < 5
    assert capsys.readouterr().err.strip() == "/dev/zero: is a device, not a regular file"


def test_impossible_date_names_the_field(tmp_path, capsys):
    p = tmp_path / "d.yaml"
    p.write_text(yaml.safe_dump(scenario()) + "start: 2025-02-30\n")
    rc, err = _validate(capsys, p)
    assert rc == 2 and err.strip() == f"{p}: start: must be a date such as 2025-01-01 (got '2025-02-30')"


@pytest.mark.parametrize("where,value,expected", [
    (("seed",), True, "seed: must be a number, not true"),
    (("fleet", "pools", 0, "replicas"), True, "fleet.pools.0.replicas: must be a whole number (got True)"),
    (("workload", "arrival", "rate"), False, "workload.arrival.rate: must be a number, not false"),
])
def test_booleans_are_not_numbers(where, value, expected):
    sc = scenario()
    node = sc
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    with pytest.raises(Exception) as info:
        load_scenario(sc)
    assert str(info.value) == f"<scenario>: {expected}"


def test_boolean_weights_are_not_numbers():
    sc = scenario()
    sc["workload"]["prompt_tokens"] = {"dist": "empirical", "values": [10, 20], "weights": [True, 1]}
    with pytest.raises(Exception) as info:
        load_scenario(sc)
    assert str(info.value) == "<scenario>: workload.prompt_tokens.weights.0: must be a number, not true"


def test_boolean_switches_still_accepted():
    sc = scenario()
    sc["fleet"]["pools"][0]["batching"]["chunked_prefill"] = True
    assert load_scenario(sc).scenario.fleet.pools[0].batching.chunked_prefill is True


def test_error_for_a_huge_value_is_short_and_quick(tmp_path, capsys):
    # 9**4 values under a name (within the alias budget) and a long text: the message quotes 60 characters
    p = tmp_path / "big.yaml"
    p.write_text(_bomb(3) + "model: '" + "m" * 100_000 + "'\n")
    rc, err = _validate(capsys, p)
    assert rc == 2
    assert all(len(line) < 400 for line in err.splitlines())
