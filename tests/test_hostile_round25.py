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


# ------------------------------------------------------------------ a path too long for the file system
_LONG = "b" * 300                   # past NAME_MAX, 255 bytes on Linux file systems
_SAID = "a name in it is 300 bytes long ('" + "b" * 40 + "'...): the file system takes names of at most 255"


@pytest.mark.parametrize("command", [["run"], ["sweep", "--grid", "seed=1,2"],
                                     ["plan", "--vary", "fleet.pools.0.replicas=1..2"], ["saturation"]])
def test_an_out_folder_name_too_long_is_said_so_not_a_looping_link(tmp_path, capsys, command):
    """``--out`` with a 300-byte name was 'is a symbolic link that loops (it never leads to a folder)': any
    ``OSError`` of following a link was taken for ``ELOOP``; here it was ``ENAMETOOLONG``."""
    path = _scenario(tmp_path)
    out = tmp_path / _LONG
    assert _main([command[0], str(path), *command[1:], "--out", str(out)]) == 2
    assert _err(capsys) == [f"--out: {out}: {_SAID}"]


def test_a_scenario_or_result_path_too_long_is_said_with_the_limit_not_as_oserror(tmp_path, capsys):
    """The scenario of ``validate``, the folder of ``report`` and ``reprice`` and a folder of ``compare`` were
    'cannot read or write a file (OSError: [Errno 36] File name too long: ...)'."""
    long = tmp_path / _LONG
    assert _main(["validate", f"{long}.yaml"]) == 2
    assert _err(capsys) == [f"{long}.yaml: " + _SAID.replace("300 bytes", "305 bytes")]
    for argv in (["report", str(long)], ["reprice", str(long)]):
        assert _main(argv) == 2
        assert _err(capsys) == [f"{long}: {_SAID}"]


def test_a_path_past_path_max_is_said_with_its_length(tmp_path, capsys):
    deep = tmp_path.joinpath(*["c" * 200] * 25)     # names within NAME_MAX, 5,000 bytes and more in all
    path = _scenario(tmp_path)
    assert _main(["run", str(path), "--out", str(deep)]) == 2
    length = len(str(deep).encode())
    assert _err(capsys) == [f"--out: {deep}: it is {length:,} bytes long: the file system takes paths of at most 4,095"]


def test_an_output_file_name_too_long_is_said_so(tmp_path, capsys):
    """``calibrate --out`` names a file to write (as ``compare --html`` and ``--out`` do): it was 'cannot read or
    write a file (OSError: [Errno 36] File name too long: ...)'."""
    long = tmp_path / f"{_LONG}.html"
    said = _SAID.replace("300 bytes", "305 bytes")
    argv = ["calibrate", "examples/calibration_points.csv", "--gpu", "h100-sxm", "--model", "llama-3-8b", "--out"]
    assert _main([*argv, str(long)]) == 2
    assert _err(capsys) == [f"--out: {long}: {said}"]


# ------------------------------------------------------------------ a start past the calendar
def test_a_start_past_the_last_year_is_said_at_start_not_at_a_minute_long_duration(tmp_path, capsys):
    """``start: 9999-12-31`` with ``duration: 60`` was 'duration: runs past the year 9000 from start 9999-12-31
    (got 60 s)': the minute was blamed for the date."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "start=9999-12-31"]) == 2
    assert _err(capsys) == [f"{path}: start: must be in the year 9000 or before, where the calendar of the cash flows "
                            "ends (got 9999-12-31)"]
    assert _main(["validate", str(path), "--set", "start=9000-12-31", "--set", "duration=2d"]) == 2
    assert _err(capsys) == [f"{path}: duration: runs past the year 9000 from start 9000-12-31 (got 172800 s)"]


# ------------------------------------------------------------------ a range of durations
@pytest.mark.parametrize("command", [["plan", "--vary"], ["sweep", "--grid"]])
def test_a_range_of_durations_says_to_list_them(tmp_path, capsys, command):
    """``--vary duration=1m..5m`` was read as one value: 'duration: expected a duration such as ... (got
    '1m..5m')', which says nothing of ranges being whole numbers."""
    path = _scenario(tmp_path)
    assert _main([command[0], str(path), command[1], "duration=1m..5m", "--out", str(tmp_path / "o")]) == 2
    assert _err(capsys) == [f"{command[1]}: duration: malformed range '1m..5m': a range LOW..HIGH is of whole numbers, "
                            "not durations: list the durations to try, such as 1m,5m; allowed: comma-separated values "
                            "such as 4,8,16, or an inclusive range of whole numbers LOW..HIGH such as 1..64"]
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ a file named with a line break
def test_a_scenario_named_with_a_line_break_is_one_line_of_error(tmp_path, capsys):
    """The file's name was printed as it is, its line break splitting the one problem over two lines."""
    sc = hc._small()
    sc["duration"] = "2h30"
    path = tmp_path / "a\nb.yaml"
    path.write_text(__import__("yaml").safe_dump(sc))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{tmp_path}/a\\x0ab.yaml: duration: expected a duration such as 3600, '90s', '30m', "
                            "'2h30m' or '7d': each number needs its unit, in us, ms, s, m, h, d, w (got '2h30')"]


# ------------------------------------------------------------------ a byte not UTF-8 in a mapping on the command line
def test_a_byte_not_utf8_in_a_mapping_given_with_set_is_said_as_the_byte(tmp_path, capsys):
    """``--set 'workload.arrival={process: trace, path: <0xff>.csv}'`` from a terminal in Latin-1: YAML refused the
    byte and the text was kept, so the message was 'must be a mapping of keys to values', of a mapping. A plain
    value with such a byte was already said as the byte."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "workload.arrival={process: trace, path: \udcff.csv}"]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival: got '{{process: trace, path: \\udcff.csv}}', whose byte 0xff "
                            "is not UTF-8 (the terminal passed another encoding): write it in UTF-8"]


# ------------------------------------------------------------------ an output file inside another result
def test_compare_out_over_a_file_of_another_result_is_refused_and_the_file_kept(tmp_path, capsys):
    """``fleetsim compare a a --out b/summary.json`` wrote the comparison over the summary of the result in b, a
    folder not compared (only the compared folders' files were kept from it); ``calibrate --out`` the same."""
    path = _scenario(tmp_path)
    for name in ("a", "b"):
        assert _main(["run", str(path), "--out", str(tmp_path / name), "--quiet", "--figures", "none"]) == 0
    capsys.readouterr()
    summary = tmp_path / "b" / "summary.json"
    before = summary.read_bytes()
    a = str(tmp_path / "a")
    for argv, flag in ((["compare", a, a, "--out", str(summary)], "--out"),
                       (["compare", a, a, "--html", str(summary)], "--html"),
                       (["calibrate", "examples/calibration_points.csv", "--gpu", "h100-sxm", "--model", "llama-3-8b",
                         "--out", str(summary)], "--out")):
        assert _main(argv) == 2
        assert _err(capsys) == [f"{flag}: {summary}: it is a file of the result in {tmp_path / 'b'}, which writing it "
                                "would replace; name a file outside the result's folder"]
    assert summary.read_bytes() == before
    assert _main(["compare", a, a, "--out", str(tmp_path / "b" / "comparison.json")]) == 0    # beside it: fine



def test_compare_out_over_a_file_of_a_sweep_is_refused_and_the_file_kept(tmp_path, capsys):
    """A sweep's folder is a result too: ``compare a a --out sw/sweep.json`` (or its ``command.json``, a table, a
    point) wrote the comparison over it, exit 0, and ``command.json`` overwritten left the folder no sweep's."""
    path = _scenario(tmp_path)
    a, sw = str(tmp_path / "a"), tmp_path / "sw"
    assert _main(["run", str(path), "--out", a, "--quiet", "--figures", "none"]) == 0
    assert _main(["sweep", str(path), "--grid", "seed=1,2", "--out", str(sw), "--quiet", "--no-figures"]) == 0
    capsys.readouterr()
    point = next((sw / "points").glob("*.json"))
    files = [sw / n for n in ("sweep.json", "command.json", "sweep.csv", "sweep_ci.csv", "scenario.json")] + [point]
    before = {f: f.read_bytes() for f in files}
    for f in files:
        folder = sw / "points" if f == point else sw
        for flag in ("--out", "--html"):
            assert _main(["compare", a, a, flag, str(f)]) == 2
            assert _err(capsys) == [f"{flag}: {f}: it is a file of the result in {sw}, which writing it would "
                                    "replace; name a file outside the result's folder"], folder
    assert {f: f.read_bytes() for f in files} == before
    assert _main(["compare", a, a, "--out", str(sw / "comparison.json")]) == 0    # beside them: fine


# ------------------------------------------------------------------ a --set value the shell split
@pytest.mark.parametrize("command", [["validate"], ["run"], ["sweep", "--grid", "seed=1,2"]])
def test_a_set_value_split_at_its_space_says_to_quote_it(tmp_path, capsys, command):
    """``--set duration=1h 30m`` (a compound duration with a space, unquoted) was 'unrecognized arguments: 30m'."""
    path = _scenario(tmp_path)
    assert _main([command[0], str(path), *command[1:], "--set", "duration=1h", "30m"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: 30m (the shell split the value at its space: write --set 'duration=1h 30m', in " \
           "quotes)" in err and "Traceback" not in err


@pytest.mark.parametrize("set_words", [["--set", "duration=1h", "30m", "15s"], ["--set=duration=1h", "30m", "15s"]])
def test_a_set_value_split_at_two_spaces_says_the_whole_value_to_quote(tmp_path, capsys, set_words):
    """``--set duration=1h 30m 15s`` said to write ``--set 'duration=1h 30m'``: followed, the run took 1h30m where
    1h30m15s was meant, without a word."""
    path = _scenario(tmp_path)
    assert _main(["run", str(path), *set_words]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: 30m 15s (the shell split the value at its space: write --set 'duration=1h 30m " \
           "15s', in quotes)" in err and "Traceback" not in err


def test_a_latency_bound_written_as_a_compound_duration_says_the_seconds(tmp_path, capsys):
    """``--constraint 'latency.e2e.p99<=1m30s'`` said only 'bound must be a number'; ``2s`` already had the hint."""
    path = _scenario(tmp_path)
    assert _main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1..2", "--constraint",
                  "latency.e2e.p99<=1m30s"]) == 2
    assert _err(capsys) == ["--constraint: latency.e2e.p99: bound must be a number (got '1m30s'); latencies are in "
                            "seconds: write 90"]


def test_a_set_value_followed_by_a_hundred_thousand_words_is_said_in_one_pass():
    """Each word after ``--set`` was looked up in the list of unrecognized ones: 30,000 stray words took 9 s of
    CPU before argparse's error was said, 100,000 about twenty times that; the hint quotes them all."""
    from sim.override_hints import split_hint

    words = [str(i) for i in range(100_000)]
    hint = split_hint(["run", "s.yaml", "--set", "name=a", *words], words)
    assert hint == f" (the shell split the value at its space: write --set 'name=a {' '.join(words)}', in quotes)"
