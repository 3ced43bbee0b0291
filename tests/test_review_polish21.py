"""Small truths of this round: ``--set KEY VALUE`` (a space for the ``=``) says what to write, an unknown
economics key says the nearest valid one, a trace cell with Python's digit underscores is a bad row."""
from __future__ import annotations

import pytest

from sim.cli import main

SET_SPACE = ["--set", "economics.gpu_hour_usd", "3"]


@pytest.mark.parametrize("command", [
    ["reprice", "results/baseline"],
    ["run", "scenarios/baseline.yaml"],
    ["sweep", "scenarios/baseline.yaml", "--grid", "fleet.pools.0.replicas=1,2"],
    ["plan", "scenarios/baseline.yaml", "--vary", "fleet.pools.0.replicas=1..2"],
    ["validate", "scenarios/baseline.yaml"],
])
def test_set_with_a_space_says_to_write_key_equals_value(command, capsys):
    """argparse took ``economics.gpu_hour_usd`` as the override and said only "unrecognized arguments: 3"."""
    with pytest.raises(SystemExit) as e:
        main(command + SET_SPACE)
    assert e.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert ("unrecognized arguments: 3 (--set takes KEY=VALUE as one word: write --set economics.gpu_hour_usd=3)"
            in err), err


def test_a_stray_word_after_a_whole_override_gets_no_set_hint(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "scenarios/baseline.yaml", "--set", "economics.gpu_hour_usd=3", "extra"])
    assert e.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "unrecognized arguments: extra;" in err and "one word" not in err


def test_an_unknown_economics_key_says_the_nearest_valid_one():
    """``gpu_hour_us`` (one letter short of ``gpu_hour_usd``, ratio 22/23 by difflib) was said with the 15 allowed
    keys and no hint; a key near none of them still gets none."""
    from sim.errors import ScenarioError
    from sim.scenario.load import scenario_from_dict
    from tests.conftest import scenario
    for typo, near in [("gpu_hour_us", " (did you mean gpu_hour_usd?)"), ("flux_capacitor", "")]:
        with pytest.raises(ScenarioError) as e:
            scenario_from_dict(scenario(economics={typo: 3}))
        (field, msg), = e.value.problems
        assert field == f"economics.{typo}"
        assert msg.startswith(f"unknown key '{typo}'{near}; allowed: agreements, "), msg


def test_set_and_reprice_say_the_nearest_economics_key(capsys):
    from sim.economics.reprice import _parsed
    from sim.errors import ScenarioError
    with pytest.raises(ScenarioError) as e:
        _parsed({"economics": {"gpu_hour_us": 3}})       # what reprice --set economics.gpu_hour_us=3 validates
    assert "unknown key 'gpu_hour_us' (did you mean gpu_hour_usd?)" in str(e.value)
    assert main(["validate", "scenarios/baseline.yaml", "--set", "economics.gpu_hour_us=3"]) == 2
    assert "economics.gpu_hour_us: unknown key 'gpu_hour_us' (did you mean gpu_hour_usd?); allowed:" in \
        " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize("cell,column", [("1_000", "prompt_tokens"), ("1_0", "output_tokens"),
                                         ("1_0.5", "timestamp_s")])
def test_a_csv_trace_refuses_pythons_digit_underscores(tmp_path, cell, column):
    """``int('1_000')`` is 1000 and ``float('1_0.5')`` 10.5: a CSV writer never writes them, so the cell is refused
    as a bad row naming its column, as digits of other scripts are."""
    from sim.errors import InputError
    from sim.workload.traces import read_trace
    row = {"timestamp_s": "1.0", "prompt_tokens": "100", "output_tokens": "10", column: cell}
    path = tmp_path / "t.csv"
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n0.5,100,10\n"
                    + ",".join(row[c] for c in ("timestamp_s", "prompt_tokens", "output_tokens")) + "\n")
    with pytest.raises(InputError) as e:
        read_trace(path)
    assert str(e.value) == (f"{path}: line 3: column '{column}': must be written without underscores (Python reads "
                            f"1_000 as 1000; no trace writer writes them, so the cell is likely not the value meant) "
                            f"(got '{cell}')")
    kept = read_trace(path, skip_bad_rows=True)
    assert list(kept.prompt_tokens) == [100] and kept.bad_rows == 1


def test_a_jsonl_trace_refuses_a_count_written_with_underscores(tmp_path):
    from sim.errors import InputError
    from sim.workload.traces import read_trace
    path = tmp_path / "t.jsonl"
    path.write_text('{"timestamp_s": 0.5, "prompt_tokens": "1_000", "output_tokens": 7}\n')
    with pytest.raises(InputError) as e:
        read_trace(path)
    assert "line 1: column 'prompt_tokens': must be written without underscores" in str(e.value)
