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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.io import atomic_write_text


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
               headers: Sequence[str] | None = None) -> str:
    """Fixed-width text table of ``cols`` (values pre-formatted or formatted with 4 digits).

    Numbers are right-aligned; a first column of labels and a column of sentences (no cell a
    number, some cell longer than its header, e.g. "why not") are left-aligned; no line ends in
    blanks."""
    headers = list(headers or cols)
    cells = [[r.get(c) if isinstance(r.get(c), str) else format_value(r.get(c)) for c in cols]
             for r in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    prose = [widths[i] > len(h) and not any(_numeric(row[i]) for row in cells) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) if prose[i] or (i == 0 and len(cols) > 1 and not _numeric(c)) else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _numeric(text: str) -> bool:
    try:
        float(text.split()[0])
        return True
    except (ValueError, IndexError):
        return False
