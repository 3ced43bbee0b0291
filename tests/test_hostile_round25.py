"""Hostile input, round 25: what a careless TOML or YAML file, a trace, an output folder and each command
get wrong, said with the file, the field and what to write (exit 2), never a traceback.
"""
from __future__ import annotations

import pytest

import hostile_cases as hc

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario

_TOML = """name = "t"
duration = 60
model = "llama-3-8b"
[workload.arrival]
process = "poisson"
rate = 2
[workload.prompt_tokens]
dist = "fixed"
value = 200
[workload.output_tokens]
dist = "fixed"
value = 20
[[fleet.pools]]
name = "p"
gpu = "h100-sxm"
replicas = 1
"""
_POOL_KEYS = ("autoscale, batching, data_parallel_attention, expert_parallel, failures, gpu, gpu_memory_utilization, "
              "gpus_per_node, ib_gbps, max_model_len, max_waiting, model, name, perf, pipeline_micro_batches, "
              "pipeline_parallel, replicas, scale, tensor_parallel")


# ------------------------------------------------------------------ a key after a TOML table header
def test_a_toml_key_written_after_a_table_header_is_said_to_belong_above_it(tmp_path, capsys):
    """``seed = 2`` added at the end of a TOML scenario is the last pool's key (TOML: a key belongs to the
    ``[table]`` header above it); the message listed the pool's keys with no word of where seed goes."""
    path = tmp_path / "s.toml"
    path.write_text(_TOML + "seed = 2\n")
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: fleet.pools.0.seed: unknown key 'seed'; allowed: {_POOL_KEYS}; seed is a key of "
                            "the top level, not of fleet.pools.0 (in TOML a key belongs to the [table] header above "
                            "it: move it above the first header)"]


def test_a_toml_key_given_at_the_top_and_again_after_a_header_is_not_did_you_mean_itself(tmp_path, capsys):
    """With ``duration`` at the top as well, the message ended ``did you mean duration?`` of ``duration``."""
    path = tmp_path / "s.toml"
    path.write_text(_TOML + "duration = 30\n")
    assert _main(["validate", str(path)]) == 2
    err = _err(capsys)
    assert err == [f"{path}: fleet.pools.0.duration: unknown key 'duration'; allowed: {_POOL_KEYS}; duration is a key "
                   "of the top level, not of fleet.pools.0 (in TOML a key belongs to the [table] header above it: "
                   "move it above the first header)"]


def test_a_toml_key_of_an_outer_table_says_the_header_to_move_it_under(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(_TOML.replace('rate = 2\n', 'rate = 2\npatience_s = 30\n'))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys)[0].endswith("; patience_s is a key of workload, not of workload.arrival (in TOML a key belongs "
                                    "to the [table] header above it: move it under [workload])")


def test_a_yaml_key_indented_under_a_pool_is_said_to_belong_at_the_top(tmp_path, capsys):
    """The same key indented one step too far in YAML; no TOML word there."""
    sc = hc._small()
    sc["fleet"]["pools"][0]["warmup"] = 5
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: fleet.pools.0.warmup: unknown key 'warmup'; allowed: {_POOL_KEYS}; warmup is a "
                            "key of the top level, not of fleet.pools.0"]


@pytest.mark.parametrize("key,said", [
    ("colour", "unknown key 'colour'; allowed: " + _POOL_KEYS),             # in no enclosing block: nothing more
    ("gpu_hour_usd", "unknown key 'gpu_hour_usd'; allowed: " + _POOL_KEYS),  # economics', not an enclosing block's
])
def test_a_key_no_enclosing_block_has_gets_no_such_word(tmp_path, capsys, key, said):
    sc = hc._small()
    sc["fleet"]["pools"][0][key] = 1
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: fleet.pools.0.{key}: {said}"]
