"""More bad input through the command line: each is exit status 2 with one clear line naming the
file (or option), the field and what is allowed; never a silent wrong result or a long wait.

Empty traces,
and malformed --grid / --vary ranges.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from sim.cli import main

from conftest import scenario


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------------ traces with no requests

def _trace_run(tmp_path: Path, name: str, text: str, *extra: str) -> list[str]:
    trace = tmp_path / name
    trace.write_text(text)
    sc = scenario(duration=30)
    sc["workload"] = {"arrival": {"process": "trace", "path": name, "format": "fleetsim"}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    return ["run", str(path), "--quiet", "--out", str(tmp_path / "res"), *extra]


EMPTY_TRACES = [
    ("header.csv", "timestamp_s,prompt_tokens,output_tokens\n",
     "header.csv: no usable rows: the file has a header row and no data rows, so the trace holds no requests "
     "(expected a row per request with timestamp_s, prompt_tokens, output_tokens)"),
    ("blank.csv", "timestamp_s,prompt_tokens,output_tokens,tenant\n\n  \n",
     "blank.csv: no usable rows: the file has a header row and no data rows"),
    ("empty.jsonl", "\n",
     "empty.jsonl: no usable rows: the file has no data rows, so the trace holds no requests (expected one JSON "
     "object a line with keys timestamp_s, prompt_tokens, output_tokens)"),
]


@pytest.mark.parametrize("name,text,expected", EMPTY_TRACES, ids=[e[0] for e in EMPTY_TRACES])
def test_a_trace_without_data_rows_is_an_error_not_zero_requests(tmp_path, capsys, name, text, expected):
    assert main(_trace_run(tmp_path, name, text)) == 2
    err = _err(capsys)
    assert expected in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "res" / "summary.json").exists()


def test_a_trace_whose_every_row_is_skipped_is_an_error(tmp_path, capsys):
    argv = _trace_run(tmp_path, "bad.csv", "timestamp_s,prompt_tokens,output_tokens\n-1,10,5\n1,x,5\n",
                      "--skip-bad-rows")
    assert main(argv) == 2
    err = _err(capsys)
    assert ("bad.csv: no usable rows: all 2 data row(s) are bad and were skipped, so the trace holds no requests "
            "(first: line 2: column 'timestamp_s': must be >= 0 (got '-1'))") in err, err


def test_read_trace_raises_for_an_empty_trace(tmp_path):
    from sim.errors import InputError
    from sim.workload import read_trace

    (tmp_path / "az.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    with pytest.raises(InputError, match=r"^az.csv: no usable rows: .*TIMESTAMP, ContextTokens, GeneratedTokens"):
        read_trace(tmp_path / "az.csv", "azure", display_path="az.csv")


# ------------------------------------------------------------------ malformed ranges in --grid / --vary

FORMS = ("allowed: comma-separated values such as 4,8,16, or an inclusive range of whole numbers LOW..HIGH "
         "such as 1..64")
RANGES = [
    ("fleet.pools.0.replicas=1..1e9", "fleet.pools.0.replicas: malformed range '1..1e9': LOW and HIGH must be "
                                      f"whole numbers written in digits (HIGH is '1e9'); {FORMS}"),
    ("a=1..1e9", f"a: malformed range '1..1e9': LOW and HIGH must be whole numbers written in digits (HIGH is "
                 f"'1e9'); {FORMS}"),
    ("fleet.pools.0.replicas=1.5..4", "malformed range '1.5..4': LOW and HIGH must be whole numbers written in "
                                      "digits (LOW is '1.5')"),
    ("fleet.pools.0.replicas=..8", "malformed range '..8': LOW and HIGH must be whole numbers written in digits "
                                   "(LOW is missing)"),
    ("fleet.pools.0.replicas=1...8", "malformed range '1...8': LOW and HIGH are separated by exactly two dots"),
    ("fleet.pools.0.replicas=1..4,8", "malformed range '1..4': a range cannot be mixed with listed values"),
    ("fleet.pools.0.replicas=8..4", f"fleet.pools.0.replicas: range must have LOW <= HIGH (got 8..4); {FORMS}"),
    ("fleet.pools.0.replicas=1..1000000000", "fleet.pools.0.replicas: range 1..1000000000 holds 1,000,000,000 "
                                             "values; at most 1,000,000"),
    ("fleet.pools.0.gpu&economics.gpu_hour_usd=1..3", "malformed range '1..3': a joint knob takes listed values "
                                                     "only (no ranges); allowed: comma-separated values with one "
                                                     "part per field joined by '&'"),
]


@pytest.mark.parametrize("spec,expected", RANGES, ids=[r[0] for r in RANGES])
@pytest.mark.parametrize("command,option", [("sweep", "--grid"), ("plan", "--vary")])
def test_a_malformed_range_says_what_a_range_looks_like(tmp_path, capsys, spec, expected, command, option):
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(scenario(duration=30)))
    argv = [command, str(sc), option, spec, "--out", str(tmp_path / "o"), "--quiet"]
    if command == "plan":
        argv += ["--constraint", "latency.ttft.p99<=2"]
    started = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - started < 10
    err = _err(capsys)
    assert err.startswith("error: ") and expected in err, err
    assert len(err.strip().splitlines()) == 1 and "must be a whole number (got" not in err
    assert not (tmp_path / "o").exists()


def test_values_with_dots_that_are_not_ranges_stay_values():
    from sim.planning.knobs import parse_knob

    assert parse_knob("workload.arrival.path=../a.csv,../b.csv").values == ("../a.csv", "../b.csv")
    assert parse_knob("name=a..b").values == ("a..b",)
    k = parse_knob("fleet.pools.0.replicas= -2 .. 2")
    assert k.is_range and (k.low, k.high) == (-2, 2)
