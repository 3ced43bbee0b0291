"""Hostile scenario files: each is refused at once (exit 2, one line naming the file and the line
or field), never a long wait, a traceback or a silently wrong run.

Alias bombs, deep nesting (YAML and TOML), duplicate keys, null/boolean keys, special files,
impossible dates, ``true``/``false`` given for numbers.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.scenario.load import load_scenario
from sim.scenario.safe_yaml import MAX_ALIAS_NODES, MAX_DEPTH, TextLimitError, check_nesting, load_yaml

from conftest import scenario
from cpu_budget import cpu_budget

#: CPU seconds a refusal may use (it takes well under one; an alias bomb expanded would take hours)
CPU_S = 20


def _validate(capsys, path: Path) -> tuple[int, str]:
    with cpu_budget(CPU_S, f"validate {path}"):
        rc = main(["validate", str(path)])
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


def test_a_merged_key_may_be_overridden():
    # `<<: *defaults` then a key of its own is YAML's way of overriding a default, not a duplicate
    data = load_yaml("d: &d {gpu: h100-sxm, replicas: 2}\npools: [{<<: *d, replicas: 4}]\n")
    assert data["pools"] == [{"gpu": "h100-sxm", "replicas": 4}]


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


def test_run_dev_zero_exits_2_at_once(capsys, monkeypatch):
    import sim.scenario.safe_text as safe_text

    def read(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(safe_text.os, "fdopen", read)      # refused by fstat, before a byte is read
    with cpu_budget(CPU_S, "run /dev/zero"):
        assert main(["run", "/dev/zero", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == "/dev/zero: is a device, not a regular file"


def test_impossible_date_names_the_field(tmp_path, capsys):
    p = tmp_path / "d.yaml"
    p.write_text(yaml.safe_dump(scenario()) + "start: 2025-02-30\n")
    rc, err = _validate(capsys, p)
    assert rc == 2 and err.strip() == f"{p}: start: must be a date such as 2025-01-01 (got '2025-02-30')"


@pytest.mark.parametrize("where,value,expected", [
    (("seed",), True, "seed: must be a whole number, not true"),
    (("fleet", "pools", 0, "replicas"), True, "fleet.pools.0.replicas: must be a whole number, not true"),
    (("fleet", "pools", 0, "tensor_parallel"), True, "fleet.pools.0.tensor_parallel: must be a whole number, not true"),
    (("fleet", "pools", 0, "pipeline_micro_batches"), True,
     "fleet.pools.0.pipeline_micro_batches: must be a whole number, not true"),
    (("fleet", "pools", 0, "batching", "max_num_seqs"), False,
     "fleet.pools.0.batching.max_num_seqs: must be a whole number, not false"),
    (("workload", "arrival", "rate"), False, "workload.arrival.rate: must be a number, not false"),
    (("duration",), True, "duration: must be a duration such as 3600, '90s', '30m', '2h30m' or '7d', not true"),
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


# ------------------------------------------------------------------ numbers that overflow together
@pytest.mark.parametrize("edit,expected", [
    (lambda sc: sc["economics"].update(training={"usd_per_month": 100, "until": "9999-12-31"}),
     "economics.training.until: must be a date up to 9000-12-31 (got 9999-12-31)"),
    (lambda sc: sc["economics"].update(revenue=[{"name": "api", "usd_per_million_output_tokens": 10}],
                                       agreements=[{"rate": 0.2, "base": ["api"], "payment_lag": 1e15}]),
     "economics.agreements.0.payment_lag: moves cash after the year 9000 (got 1e+15 s;"),
    (lambda sc: sc.update(duration="90d") or sc["economics"].update(
        revenue=[{"name": "api", "usd_per_month": 10, "growth_per_month": 1e200}]),
     "economics.revenue.0.growth_per_month: compounds past 1e304 within the run (2.96 months) (got 1e+200)"),
    (lambda sc: sc["fleet"]["pools"][0].update(scale=1e308),
     "fleet.pools.0.scale: must be <= 1e+09 shards (got 1e+308)"),
    (lambda sc: sc["fleet"]["pools"].append({"name": "b", "gpu": "a100-80gb", "replicas": 1}) or sc["fleet"].update(
        router={"policy": "weighted", "weights": {"main": 1e308, "b": 1e308}}),
     "fleet.router.weights: must add up to a finite number"),
    (lambda sc: sc["workload"].update(prompt_tokens={"dist": "empirical", "values": [10, 20], "weights": [1e308, 1e308]}),
     "workload.prompt_tokens.weights: must add up to a finite number"),
])
def test_overflowing_numbers_are_named_by_field(tmp_path, capsys, monkeypatch, edit, expected):
    sc = scenario()
    edit(sc)
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    _no_simulation(monkeypatch)                     # refused while loading, before anything is simulated
    assert main(["run", str(p), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "OverflowError" not in err
    assert f"{p}: {expected}" in err


def _no_simulation(monkeypatch) -> None:
    import sim.api
    import sim.fluid.run

    def simulate(*args, **kwargs):
        raise AssertionError("simulated")

    for module, name in ((sim.api, "_run_request_level"), (sim.fluid.run, "measured_curves"),
                         (sim.fluid.run, "run_fluid")):
        monkeypatch.setattr(module, name, simulate)


def test_a_cpu_budget_stops_work_that_would_not_end():
    # the budget _validate and the tests above rely on: a busy loop is stopped, not waited for
    with pytest.raises(AssertionError, match="used more than 1 s of CPU"):
        with cpu_budget(1, "the loop"):
            while True:
                pass


def test_money_that_overflows_is_an_error_not_null():
    from sim.errors import ScenarioError
    from sim.limits import check_money

    check_money({"cost": {"compute_usd": 1.0}, "cashflow": {"net": -2.0}})
    with pytest.raises(ScenarioError, match=r"economics: money totals overflow \(cost.by_pool.main is not"):
        check_money({"cost": {"compute_usd": 1.0, "by_pool": {"main": float("inf")}}}, "s.yaml")


def test_control_characters_are_escaped_on_the_terminal(tmp_path, capsys):
    sc = scenario(name="evil\x1b[31mRED\x07")
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    assert main(["run", str(p), "--quiet"]) == 2          # (a name holds no control character)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "evil\\x1b[31mRED\\x07" in err
    sc["name"] = "evil"
    sc["fleet"]["pools"][0]["gpu"] = "h100\x1b]0;owned\x07"
    p.write_text(yaml.safe_dump(sc))
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err


def test_warnings_are_one_line_naming_the_file(tmp_path, capsys):
    sc = scenario(duration=600)
    sc["economics"].update(revenue=[{"name": "api", "usd_per_million_output_tokens": 10}],
                           agreements=[{"rate": 0.2, "base": ["api"], "payment_lag": "30d"}])
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    assert main(["validate", str(p)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{p}: economics.agreements.0.payment_lag: 30 days is longer")
    assert ".py:" not in err[0]


def test_validate_reports_schema_and_cross_field_problems_at_once(tmp_path, capsys):
    sc = scenario()
    sc["workload"]["arrival"]["rate"] = -3
    sc["fleet"]["pools"][0]["gpu"] = "h900"
    sc["slo"]["ttft_s"] = 0
    sc["fleet"]["router"] = {"policy": "spillover"}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    rc, err = _validate(capsys, p)
    assert rc == 2
    lines = err.strip().splitlines()
    assert f"{p}: workload.arrival.rate: must be > 0 (got -3)" in lines
    assert f"{p}: slo.ttft_s: must be > 0 (got 0)" in lines
    assert any(line.startswith(f"{p}: fleet.pools.0.gpu: unknown GPU 'h900'; allowed: ") for line in lines)
    assert f"{p}: fleet.router.primary: required for the spillover router" in lines
    assert not any("workload.arrival:" in line or line.startswith(f"{p}: workload:") for line in lines)


SMALL_TOML = ('name = "t"\nseed = 1\nduration = 20\nmodel = "llama-3-8b"\n[workload]\n'
              'arrival = {process = "poisson", rate = 2}\nprompt_tokens = {dist = "fixed", value = 200}\n'
              'output_tokens = {dist = "fixed", value = 20}\n[[fleet.pools]]\nname = "p"\ngpu = "h100-sxm"\n'
              'replicas = 1\n')


def test_a_toml_scenario_with_a_byte_order_mark_and_crlf_reads_as_yaml_does(tmp_path, capsys):
    """On main a TOML file an editor saved with a BOM was 'not valid TOML: Invalid statement (at line 1,
    column 1)'; a YAML one was read."""
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_text(SMALL_TOML)
    marked.write_bytes(b"\xef\xbb\xbf" + SMALL_TOML.replace("\n", "\r\n").encode())
    assert load_scenario(marked).raw == load_scenario(plain).raw
    assert _validate(capsys, marked)[0] == 0


@pytest.mark.parametrize("body, where", [
    ('name = "t"\nname = "u"\n', "Cannot overwrite a value (at line 2, column 11)"),
    ("[workload]\nx = 1\n[workload]\ny = 2\n", "Cannot declare ('workload',) twice (at line 3, column 10)"),
])
def test_a_toml_key_given_twice_is_said_as_a_duplicate(tmp_path, capsys, body, where):
    path = tmp_path / "d.toml"
    path.write_text(body)
    rc, err = _validate(capsys, path)
    assert rc == 2 and err == f"{path}: not valid TOML: {where}: a key or table given twice; give each key once\n", err
