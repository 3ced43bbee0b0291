"""Tables of sweep results: flat rows → CSV, JSON and a fixed-width text table.

Rows are flat dicts (dotted keys). Columns are the union of keys in first-seen order; missing
values are empty CSV cells and ``null`` in JSON (NaN is written as ``null`` too, so the JSON is
standard). Floats are written with ``repr`` precision so a CSV reproduces the run exactly.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.errors import InputError, given, printable
from sim.atomic import atomic_write_text
from sim.text_table import heading_lines, shown_width, table_lines


def named_columns(columns: Any) -> list[str] | None:
    """The columns a reader named (``--columns``: summary keys and planner column names), a text split
    at commas; None when none were named.

        >>> named_columns("latency.ttft.p99, $/hour")
        ['latency.ttft.p99', '$/hour']
    """
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    if columns is not None and not (isinstance(columns, (list, tuple)) and all(isinstance(c, str) for c in columns)):
        raise InputError(f"columns: expected a list of summary keys or planner columns, such as "
                         f"['latency.ttft.p99', '$/hour'], got {given(columns)}")
    return None if columns is None else list(columns)


def columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return cols


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    cols = columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def read_csv(path: Path | str) -> list[dict[str, Any]]:
    """Rows of a CSV written by :func:`to_csv`, numbers parsed back (empty cells → None)."""
    with open(path, newline="") as fh:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _parse(text: str) -> Any:
    if text == "":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


def jsonable(value: Any) -> Any:
    """Replace NaN/inf floats by None and dates (a YAML ``start: 2024-01-01``) by their ISO text,
    recursively (strict JSON)."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    atomic_write_text(path, to_csv(rows))


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(jsonable(data), indent=1, allow_nan=False) + "\n")


def format_value(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf"
        return f"{value:.{digits}g}"
    return str(value)


def text_table(rows: Sequence[Mapping[str, Any]], cols: Sequence[str],
               headers: Sequence[str] | None = None, wrap: bool = False, right: Sequence[str] = (),
               width: int | None = None, lead: int = 1) -> str:
    """Fixed-width text table of ``cols`` (values pre-formatted or formatted with 4 digits), set by
    :func:`sim.text_table.table_lines`.

    Numbers are right-aligned; a first column of labels and a column of sentences (no cell a
    number, some cell longer than its header, e.g. "why not") are left-aligned; no line ends in
    blanks. With ``wrap`` a heading longer than its column's values is set on several lines, broken
    after a dot or before a space (:func:`~sim.text_table.heading_lines`), so that ``latency.ttft.p99 (s)``
    takes no wider a column than ``0.185``. The columns of ``right`` are right-aligned whatever they
    hold (``71.2%``). Wider than ``width`` (None: no limit), the table is set in blocks of columns one
    under the other, each with the first ``lead`` columns (:func:`sim.text_table.table_lines`)."""
    headers = list(headers or cols)
    cells = [[r.get(c) if isinstance(r.get(c), str) else format_value(r.get(c)) for c in cols]
             for r in rows]
    values = [max([0] + [shown_width(row[i]) for row in cells]) for i in range(len(headers))]
    heads = [heading_lines(h, v) if wrap else [h] for h, v in zip(headers, values)]
    prose = [values[i] > len(h) and not any(_numeric(row[i]) for row in cells) and cols[i] not in right
             for i, h in enumerate(headers)]
    depth = max(len(h) for h in heads)
    heading = [[h[k] if k < len(h) else "" for h in heads] for k in range(depth)]

    def left(i: int, cell: str) -> bool:
        return prose[i] or (i == 0 and len(cols) > 1 and not _numeric(cell))

    return "\n".join(table_lines(heading + cells, width, head=depth, left=left, heading_left=True, lead=lead))


def fit_table(rows: Sequence[Mapping[str, Any]], cols: Sequence[str], headers: Sequence[str] | None,
              width: int | None, droppable: Sequence[str] = (), right: Sequence[str] = (),
              lead: int = 1) -> tuple[str, list[str]]:
    """:func:`text_table` no wider than ``width`` characters (None: as wide as it is): the headings
    wrapped (``wrap``), then, while it is still wider, the columns of ``droppable`` left out in that
    order; wider still (the columns kept are too many: those ``--columns`` named), set in blocks of
    columns, each with the first ``lead`` (the knobs). Returns the table and the headings left out.

        >>> rows = [{"gpu": "h100-sxm", "cost": "$1.00", "latency.ttft.p99": "0.2"}]
        >>> text, gone = fit_table(rows, ["gpu", "cost", "latency.ttft.p99"], None, 20, droppable=["cost"])
        >>> print(text); gone
        gpu       latency.
                  ttft.p99
        --------  --------
        h100-sxm       0.2
        ['cost']
    """
    headers = list(headers or cols)
    if width is None:
        return text_table(rows, cols, headers, right=right), []
    shown = list(zip(cols, headers))
    dropped: list[str] = []
    for gone in [None, *droppable]:
        if gone is not None:
            dropped += [h for c, h in shown if c == gone]
            shown = [(c, h) for c, h in shown if c != gone]
        text = text_table(rows, [c for c, _ in shown], [h for _, h in shown], wrap=True, right=right)
        if max(shown_width(line) for line in text.splitlines()) <= width:
            return text, dropped
    return text_table(rows, [c for c, _ in shown], [h for _, h in shown], wrap=True, right=right, width=width,
                      lead=lead), dropped


def terminal_width() -> int | None:
    """The width a table printed for a person must fit: ``$COLUMNS`` when set, else the terminal's when
    standard output is one; None (no limit) when it is a file or a pipe."""
    import os
    import sys

    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else None
    except (OSError, ValueError, AttributeError):
        return None


def fill(text: str, width: int | None = -1, indent: str = "    ") -> str:
    """``text`` broken at spaces into lines no wider than ``width`` (by default the terminal's,
    :func:`terminal_width`), the later ones indented by ``indent``; one line as it is when there is no
    width (printed to a file or a pipe). A word longer than a line (a path) is kept whole. Control
    characters are written as escapes (:func:`sim.errors.printable`).

        >>> print(fill("cheapest meeting all constraints: fleet.pools.0.replicas=3  (3 GPUs)", 40))
        cheapest meeting all constraints:
            fleet.pools.0.replicas=3  (3 GPUs)
        >>> fill("one line", None)
        'one line'
        >>> print(fill("each client thinks for a mean 5 s after its last token", 30))
        each client thinks for a mean
            5 s after its last token
    """
    import textwrap

    text = printable(text)      # a folder named with an escape sequence says it, not runs it on the terminal
    width = terminal_width() if width == -1 else width
    if not width or len(text) <= width:
        return text
    lead = text[:len(text) - len(text.lstrip(" "))]
    kept = _NUMBER_UNIT.sub("\0", text.lstrip(" "))
    return "\n".join(textwrap.wrap(kept, width, initial_indent=lead, subsequent_indent=lead + indent,
                                    break_on_hyphens=False, break_long_words=False)).replace("\0", " ") or text


_NUMBER_UNIT = re.compile(r"(?<=[≤≥<>]) (?=[\d$])|(?<=[≤≥<>]=) (?=[\d$])|(?<=\d) (?=(?:ns|µs|us|ms|s|m|h|d|days?|B|bytes|KiB|MiB|GiB|TiB|GB|TB/s|W|kW|%|x|"
                          r"req/s|tok/s|tokens/s|tokens|GPUs?|replicas?|clients?)(?![\w/]))")
"""The space between a number and its unit (``5 s``, ``55.36 GiB``, ``3 GPUs``) or a bound and its
number (``≤ 2``, ``<= 100``), which :func:`fill` does not break: ``mean 5`` at a line's end and ``s after its last token`` on the next misread."""


def _numeric(text: str) -> bool:
    try:
        float(text.split()[0])
        return True
    except (ValueError, IndexError):
        return False
