"""A CSV of a result folder (optionally ``.gz``) read back as columns (``dict`` of numpy arrays), each
cell checked against what fleetsim writes: numeric columns as float arrays with NaN for empty cells
(a request that never got its first token), other columns as string arrays; a cell that is not a
number where fleetsim writes one, a line of the wrong length, a missing column or a file cut short (a
last line without its newline, perhaps cut mid-number; a ``.gz`` whose stream ends early: "the file is
truncated") is a :class:`~sim.errors.ScenarioError` naming the file, line and column
(:mod:`sim.report.folder_problems`).
In-memory tables take the same form (:func:`as_columns`).
"""
from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ScenarioError, given
from sim.humanize import plural
from sim.io import reads_as_number
from sim.report.folder_problems import (CUT_MID_LINE, MAX_PROBLEMS, REWRITE,  # noqa: F401 (MAX_PROBLEMS: docs)
                                        raise_problems)

Columns = dict[str, np.ndarray]


def read_columns(path: Path | str, numeric: Iterable[str] = (), required: Iterable[str] = (),
                 columns: Iterable[str] | None = None) -> Columns:
    """A CSV (optionally ``.gz``) as columns; numeric where every non-empty cell parses.

    ``numeric`` names the columns whose every non-empty cell must be a number and ``required``
    the columns the file must have: a file fleetsim wrote always passes, so a failure means the
    file was damaged or is not fleetsim's. ``columns``: only these (and the required) are kept and
    checked, the others' cells dropped as each line is read; every line's count of cells is still
    checked. A ``numeric`` column is held as numbers, converted :data:`CHUNK_ROWS` lines at a time,
    not as text. Raises :class:`~sim.errors.ScenarioError` naming the file, each line and column at
    fault (at most :data:`MAX_PROBLEMS`), or the columns missing; a file that is not (gzipped) UTF-8
    text likewise.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    numeric = set(numeric)
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as fh:
            last = [""]      # the file's last physical line, to tell a file cut mid-row

            def lines() -> Iterator[str]:
                for line in fh:
                    last[0] = line
                    yield line

            reader = csv.reader(lines())
            header = next(reader, None)
            if header is None:
                return {}
            wanted = None if columns is None else {*columns, *required}
            keep = [j for j, name in enumerate(header) if wanted is None or name in wanted]
            table = _Table([header[k] for k in keep], numeric)
            uneven = []
            for row in reader:
                if row:
                    if len(row) != len(header):
                        uneven.append((reader.line_num, len(row)))
                    table.add(reader.line_num, [row[j] if j < len(row) else "" for j in keep])
            table.flush()
            end = reader.line_num
    except EOFError as exc:      # a .gz cut short: its stream ends before its end marker
        raise ScenarioError([("", f"cannot be read (EOFError: {exc}): the file is truncated (cut short "
                                  f"before its end); {REWRITE}")], str(path)) from None
    except (OSError, UnicodeDecodeError, csv.Error, zlib.error) as exc:
        raise ScenarioError([("", f"cannot be read ({type(exc).__name__}: {exc}); "
                                  f"{REWRITE}")], str(path)) from None
    # fleetsim ends every line with a newline: a last line without one was cut short (mid-number,
    # perhaps, which still reads as a number), and so, most likely, was a last line of too few cells
    cut = not last[0].endswith(("\n", "\r"))
    problems = [(f"line {end}", CUT_MID_LINE)] if cut else []
    problems += [("", f"no {name} column (the header is {given(','.join(header), 80)})")
                 for name in required if name not in header]
    problems += [(f"line {n}", f"{cells} {plural(cells, 'cell')}, the header has {len(header)}"
                  + ("; the file looks truncated (it is its last line)" if n == end and cells < len(header)
                     and not cut else ""))
                 for n, cells in uneven]
    cols, bad = table.columns()
    problems += bad
    raise_problems(problems, path)
    return cols


#: rows of a CSV converted at a time: the numeric columns are held as numbers, not text
CHUNK_ROWS = 65_536


class _Table:
    """Columns read a block of :data:`CHUNK_ROWS` lines at a time: a ``numeric`` column's block becomes
    numbers at once (its cells that are not, with their lines, kept as problems), any other column's
    cells are kept as text (one string per distinct value) and judged whole by :func:`_column`."""

    def __init__(self, names: list[str], numeric: set[str]) -> None:
        self.names, self.numeric = names, numeric
        self.rows: list[list[str]] = []
        self.lines: list[int] = []
        self.numbers: dict[str, list[np.ndarray]] = {n: [] for n in names if n in numeric}
        self.bad: dict[str, list[tuple[int, str]]] = {n: [] for n in names if n in numeric}
        self.text: dict[str, list[str]] = {n: [] for n in names if n not in numeric}
        self.seen: dict[str, str] = {}

    def add(self, line: int, cells: list[str]) -> None:
        self.rows.append(cells)
        self.lines.append(line)
        if len(self.rows) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        for j, name in enumerate(self.names):
            cells = [row[j] for row in self.rows]
            if name in self.numbers:
                try:
                    self.numbers[name].append(_numbers(cells))
                except ValueError:
                    self.bad[name] += [(n, c) for n, c in zip(self.lines, cells) if not is_number(c)]
            else:
                self.text[name] += [self.seen.setdefault(c, c) for c in cells]
        self.rows, self.lines = [], []

    def columns(self) -> tuple[Columns, list[tuple[str, str]]]:
        """The columns, and a problem for each cell of a numeric column that is not a number."""
        cols: Columns = {}
        problems: list[tuple[str, str]] = []
        for name in self.names:
            if name in self.text:
                cols[name] = _column(self.text[name])
            elif self.bad[name]:
                problems += [(f"line {n}, column {name}", f"{given(c)} is not a number") for n, c in self.bad[name]]
            else:
                cols[name] = np.concatenate(self.numbers[name]) if self.numbers[name] else np.array([], dtype=float)
        return cols, problems


def _numbers(cells: list[str]) -> np.ndarray:
    """Cells as numbers, an empty one as NaN (a missing value); ValueError when one is not a number."""
    return np.array([float(c) if c != "" else np.nan for c in cells], dtype=float)


def _column(cells: list[str]) -> np.ndarray:
    try:
        return _numbers(cells)
    except ValueError:
        return np.array(cells, dtype=str)


def is_number(cell: str) -> bool:
    """A number where fleetsim writes one; an empty cell is a missing value, not a wrong one."""
    return reads_as_number(cell or "nan")


def as_columns(table: Mapping[str, Any], names: Iterable[str] | None = None) -> Columns:
    """In-memory columns in the form :func:`read_columns` gives for the same table written out.

    Numeric arrays become float arrays (NaN kept), coded string columns (anything with a
    ``strings()`` method, e.g. :class:`sim.io.Coded`) and other sequences become string arrays.
    ``names`` (if given) limits the conversion to those columns.
    """
    cols: Columns = {}
    for name, col in table.items():
        if names is not None and name not in names:
            continue
        if hasattr(col, "strings"):
            cols[name] = col.strings()
        else:
            arr = np.asarray(col)
            cols[name] = arr.astype(float) if arr.dtype.kind in "fiub" else arr.astype(str)
    return cols
