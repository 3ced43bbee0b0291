"""More bad input through the command line: each is exit status 2 with one clear line naming the
file (or option), the field and what is allowed; never a silent wrong result or a long wait.

Empty traces.
"""
from __future__ import annotations

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
