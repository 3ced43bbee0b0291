"""The one text-table renderer (sim.text_table), against tables written out by hand."""
from __future__ import annotations

import pytest

from sim.text_table import column_blocks, heading_lines, table_lines

STATEMENT = [["period", "revenue", "compute", "net"],
             ["2024-Q1", "$1,000.00", "$250.00", "$750.00"],
             ["2024-Q2 (partial)", "$12.50", "$3.00", "$9.50"]]


def test_a_statement_table_labels_left_amounts_and_their_headings_right():
    assert table_lines(STATEMENT) == [
        "period               revenue  compute      net",
        "-----------------  ---------  -------  -------",
        "2024-Q1            $1,000.00  $250.00  $750.00",
        "2024-Q2 (partial)     $12.50    $3.00    $9.50",
    ]


def test_a_table_wider_than_the_width_is_set_in_blocks_each_with_the_labels():
    # widths 17, 9, 7, 7: the whole is 17+9+7+7 + 3 gaps of 2 = 46 wide; at 37 the first block takes
    # labels, revenue and compute (17+2+9+2+7 = 37), the second the labels and net
    assert table_lines(STATEMENT, 37) == [
        "period               revenue  compute",
        "-----------------  ---------  -------",
        "2024-Q1            $1,000.00  $250.00",
        "2024-Q2 (partial)     $12.50    $3.00",
        "",
        "period                 net",
        "-----------------  -------",
        "2024-Q1            $750.00",
        "2024-Q2 (partial)    $9.50",
    ]
    assert table_lines(STATEMENT, 46) == table_lines(STATEMENT) == table_lines(STATEMENT, None)


def test_a_column_too_wide_for_the_width_still_gets_a_block_of_its_own():
    assert column_blocks([17, 9, 7, 7], 20) == [[0, 1], [0, 2], [0, 3]]
    assert column_blocks([5, 50], 10) == [[0, 1]]
    assert column_blocks([5], 1) == [[0]]


def test_headings_over_several_lines_left_aligned_cells_aligned_as_the_caller_says():
    # a sweep's table: the knob a label (left), numbers right, a sentence column left; every
    # heading left-aligned, the rule under the last heading line, no trailing blanks
    table = [["gpu", "latency.", "why not"],
             ["", "ttft (s)", ""],
             ["h100-sxm", "0.2", "-"],
             ["b200", "12.25", "TTFT over 2 s"]]
    lines = table_lines(table, head=2, left=lambda j, cell: j != 1, heading_left=True)
    assert lines == [
        "gpu       latency.  why not",
        "          ttft (s)",
        "--------  --------  -------------",
        "h100-sxm       0.2  -",
        "b200         12.25  TTFT over 2 s",
    ]


def test_by_default_a_heading_is_aligned_as_its_column():
    assert table_lines([["n", "x"], ["10", "7"]], left=lambda j, cell: False) == [
        " n  x",
        "--  -",
        "10  7",
    ]


@pytest.mark.parametrize("heading,width,lines", [
    ("latency.ttft.p99 (s)", 5, ["latency.", "ttft.p99", "(s)"]),
    ("latency.ttft.p99 (s)", 20, ["latency.ttft.p99 (s)"]),
    ("cost per million output tokens", 12, ["cost per", "million", "output", "tokens"]),
    ("GPUs", 1, ["GPUs"]),
])
def test_a_heading_breaks_after_dots_and_before_spaces(heading, width, lines):
    assert heading_lines(heading, width) == lines


def test_it_imports_nothing_of_fleetsim():
    import ast
    from pathlib import Path

    import sim.text_table

    tree = ast.parse(Path(sim.text_table.__file__).read_text(encoding="utf-8"))
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not [m for m in imported if m == "sim" or m.startswith("sim.")]
