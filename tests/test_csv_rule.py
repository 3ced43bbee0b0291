"""One rule for every CSV a person gives fleetsim (``sim.io.csv_rows``): a byte-order mark is dropped,
CRLF line ends are accepted, blank lines and lines whose first non-space character is ``#`` are
comments. The same quirky file reads the same as its plain copy through every reader, and errors
still name the file and the physical line (comments counted)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from sim.errors import InputError
from sim.io import csv_rows
from sim.perf.calibration import read_points
from sim.perf.table import read_table
from sim.perf.vidur import bundled_profile, read_attention_sample, read_operator_profile
from sim.workload.traces import read_trace

STEPS = bundled_profile("a100").with_name("a100_llama2_7b_tp1_steps.csv")
TRACE = "timestamp_s,prompt_tokens,output_tokens,tenant\n0.0,1200,180,acme\n0.35,400,95,\n1.5,80,7,beta\n2,9,9,acme\n"
POINTS = ("prefill_tokens,decode_seqs,context_tokens,step_s\n"
          "512,0,0,0.031\n0,16,8192,0.012\n0,64,65536,0.029\n256,8,4096,0.034\n")


def _plain(text: str) -> list[str]:
    """The data lines of a file (its own comments dropped), header first."""
    return [x for x in text.splitlines() if x.strip() and not x.startswith("#")]


def _quirky(lines: list[str]) -> str:
    """``lines`` with a BOM, CRLF ends, an indented comment holding an unclosed quote before the header,
    and an indented comment and a blank line after the header; data row ``k`` (from 0) is on line ``k + 7``."""
    head = ["\ufeff  # measured by hand, \"not the vendor's", "", "\t# ok", lines[0], "   # columns: see docs", ""]
    return "\r\n".join(head[:3] + [lines[0]] + head[4:] + lines[1:]) + "\r\n"


def _same(a, b) -> bool:
    if dataclasses.is_dataclass(a):     # every field but the file's own name (a trace keeps it)
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a) if f.name != "path")
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


READERS = [
    ("table", read_table, lambda: _plain(STEPS.read_text(encoding="utf-8"))),
    ("points", read_points, lambda: _plain(POINTS)),
    ("vidur-mlp", read_operator_profile, lambda: _plain(bundled_profile("a100").read_text(encoding="utf-8"))),
    ("vidur-attention", read_attention_sample,
     lambda: _plain(bundled_profile("a100", "attention").read_text(encoding="utf-8"))),
    ("trace", read_trace, lambda: _plain(TRACE)),
]


def test_the_rule_on_text():
    text = "\ufeffa,b\r\n  # c, \"d\r\n\r\n \t \r\n1,\"2\"\r\n# e\n3,4\r5,6\n"
    assert list(csv_rows(text, "t.csv")) == [(1, ["a", "b"]), (5, ["1", "2"]), (7, ["3", "4"]), (8, ["5", "6"])]
    assert list(csv_rows(iter(["a\n", "# b\n", "1\n"]), "t.csv")) == [(1, ["a"]), (3, ["1"])]
    assert list(csv_rows("", "t.csv")) == [] == list(csv_rows("\ufeff\n  \n#\n", "t.csv"))


def test_a_line_the_csv_module_refuses_names_the_file_and_line():
    import csv
    before = csv.field_size_limit(16)          # a process-wide setting: put back whatever happens
    try:
        with pytest.raises(InputError, match=r"^t\.csv:3: not readable as CSV \(field larger than field limit"):
            list(csv_rows("a,b\n# a comment longer than sixteen characters\n" + "x" * 17 + ",1\n", "t.csv"))
    finally:
        csv.field_size_limit(before)


def test_a_trace_names_the_line_of_its_header_after_comments(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# exported 2025-01-01\n\ntime,prompt_tokens,output_tokens\n0,1,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r": line 3: missing column\(s\) 'timestamp_s'"):
        read_trace(path)


@pytest.mark.parametrize("kind,read,lines", READERS, ids=[r[0] for r in READERS])
def test_a_quirky_file_reads_as_its_plain_copy_through_every_reader(tmp_path, kind, read, lines):
    plain, quirky = tmp_path / "plain.csv", tmp_path / "quirky.csv"
    plain.write_text("\n".join(lines()) + "\n", encoding="utf-8")
    quirky.write_bytes(_quirky(lines()).encode("utf-8"))
    assert quirky.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in quirky.read_bytes()
    assert _same(read(plain), read(quirky))


@pytest.mark.parametrize("kind,read,lines", READERS, ids=[r[0] for r in READERS])
def test_errors_in_a_quirky_file_name_the_file_and_the_physical_line(tmp_path, kind, read, lines):
    rows = lines()
    header = rows[0].split(",")
    column = {"table": "step_s", "points": "step_s", "vidur-mlp": "num_tokens",
              "vidur-attention": "attn_median_ms", "trace": "prompt_tokens"}[kind]
    j = header.index(column)
    cells = rows[3].split(",")
    cells[j] = "oops"
    rows[3] = ",".join(cells)                       # data row 2: line 2 + 7 = 9 of the quirky file
    path = tmp_path / "quirky.csv"
    path.write_bytes(_quirky(rows).encode("utf-8"))
    with pytest.raises(InputError) as info:
        read(path)
    where = f"{path}: line 9: column {column!r}: must be " if kind == "trace" else f"{path}:9:{j + 1}: {column} must be "
    assert str(info.value).startswith(where)
