"""Request trace files: reading them into columns, with every bad row named by file, line and column.

Formats (``format:`` in the scenario; ``.gz`` files are decompressed transparently):

``fleetsim`` (ours), CSV with a header row, or JSONL with one object a line::

    timestamp_s,prompt_tokens,output_tokens,tenant
    0.0,1200,180,acme
    0.35,400,95,

    {"timestamp_s": 0.0, "prompt_tokens": 1200, "output_tokens": 180, "tenant": "acme"}

  ``timestamp_s``: seconds since ``t = 0`` (replayed as written); ``tenant`` is optional (column or
  key may be absent or empty) and names a request class. Other columns/keys are ignored. A file
  ending in ``.jsonl`` (or ``.jsonl.gz``) is JSONL, anything else CSV.

``azure``: the Azure LLM inference traces (github.com/Azure/AzurePublicDataset, CC-BY 4.0; Patel et
  al., "Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024). Columns
  ``TIMESTAMP`` (``2023-11-16 18:15:46.6805900``), ``ContextTokens``, ``GeneratedTokens``. Times are
  taken relative to the first row.

``burstgpt``: BurstGPT (Wang et al., "BurstGPT: A Real-world Workload Dataset to Optimize LLM
  Serving Systems", 2024; github.com/HPMLL/BurstGPT). Columns ``Timestamp`` (seconds), ``Model``,
  ``Request tokens``, ``Response tokens``, ``Total tokens``, ``Log Type``; only the timestamp and the
  two token columns are read; times are replayed as written. Failed requests in BurstGPT have
  ``Response tokens`` 0 and are therefore bad rows (skip them with ``skip_bad_rows``).

CSV traces are read by the project's one CSV rule (:func:`sim.io.csv_rows`): a byte-order mark is
dropped, lines may end in CRLF, and blank lines and lines whose first non-space character is ``#``
are comments (line numbers in messages still count them); a row of empty cells is skipped too.

A JSONL file may start with a byte-order mark too. A row is bad when a value is not a number, a
timestamp is negative, past :data:`MAX_TIME_S` or earlier than the previous row's, a JSON row gives
a key twice, a token count is not an integer >= 1, a field is missing, or (CSV) it has more non-blank cells
than the header names (a comma inside a value shifts the columns after it: ``0,1,500,10`` would be
read as 1 prompt and 500 output tokens). A header naming a column that is read twice is an error. By default the first bad row
raises :class:`sim.errors.InputError` (``path: line N: column C: message (got 'x')``); with
``skip_bad_rows=True`` bad rows are left out and counted in :attr:`TraceData.bad_rows`.

A trace with no good rows (a header and no data rows, an empty JSONL file, or every row bad and
skipped) raises :class:`sim.errors.InputError` (``path: no usable rows: ...``): replaying it would
silently give zero requests.
"""
from __future__ import annotations

import array
import csv
import datetime
import gzip
import io
import json
import math
import pathlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sim.errors import InputError
from sim.io import csv_rows
from sim.scenario.safe_yaml import check_nesting, wide_encoding

_AZURE_TS = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)\s*$")
_MAX_MESSAGES = 20
_MAX_JSON_DEPTH = 50
_COLUMN_NAME = re.compile(r"^[\w .()/-]{0,40}$")

COLUMNS = {
    "fleetsim": ("timestamp_s", "prompt_tokens", "output_tokens"),
    "azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    "burstgpt": ("Timestamp", "Request tokens", "Response tokens"),
}
"""The (time, prompt, output) column names of each format."""


@dataclass(frozen=True)
class TraceData:
    """A trace's good rows as columns, in file order.

    ``tenant`` holds indices into ``tenant_names`` (``-1``: no tenant). ``bad_rows`` counts the
    rows left out (only with ``skip_bad_rows``) and ``messages`` describes the first few.
    """

    path: str
    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    tenant: np.ndarray
    tenant_names: list[str] = field(default_factory=list)
    bad_rows: int = 0
    messages: list[str] = field(default_factory=list)


MAX_TOKENS = 2**31 - 1  # a token count above this is a bad row (no model has such a context)
#: the latest time a row may give, seconds: 2**53 microseconds (about 285 years, past Unix times in seconds),
#: beyond which a float64 time no longer holds microseconds (and a row at 1e308 s overflowed the replay)
MAX_TIME_S = 2**53 / 1e6


class _Rows:
    """Collects good rows and judges bad ones (raise, or count and remember)."""

    def __init__(self, path: str, skip_bad_rows: bool) -> None:
        self.path, self.skip = path, skip_bad_rows
        self.t = array.array("d")
        self.p = array.array("q")
        self.o = array.array("q")
        self.ten = array.array("i")   # tenant index (int32), -1 for none
        self.names: dict[str, int] = {}
        self.bad = 0
        self.messages: list[str] = []
        self.last_t = -math.inf

    def bad_row(self, line: int, column: str | None, message: str, raw=None) -> None:
        """Reject a row; ``raw`` (the offending field, quoted up to 60 characters) may be omitted;
        ``column`` ``None``: the row as a whole."""
        got = "" if raw is None else f" (got {_short(raw)})"
        where = "" if column is None else f"column {column!r}: "
        text = f"{self.path}: line {line}: {where}{message}{got}"
        if not self.skip:
            raise InputError(text)
        self.bad += 1
        if len(self.messages) < _MAX_MESSAGES:
            self.messages.append(text)

    def overlong(self, line: int, fields: list[str], width: int) -> bool:
        """Reject a row with more non-blank cells than the header names (a comma inside a value, such
        as a thousands separator, shifts every column after it); ``True`` if rejected."""
        if len(fields) <= width or not any(c.strip() for c in fields[width:]):
            return False
        self.bad_row(line, None, f"{len(fields)} cells where the header names {width}: a comma inside a value "
                                 f"(a thousands separator, unquoted text) shifts the columns after it",
                     ",".join(fields))
        return True

    def add(self, line: int, cols: tuple[str, str, str], t_raw, p_raw, o_raw, tenant,
            parse_time=None) -> None:
        tcol, pcol, ocol = cols
        if t_raw is None:
            return self.bad_row(line, tcol, "missing value", "")
        try:
            t = parse_time(t_raw) if parse_time else _number(t_raw)
        except ValueError:
            what = "must be a date-time such as '2023-11-16 18:15:46.6805900'" if parse_time \
                else "must be a number of seconds"
            return self.bad_row(line, tcol, what, t_raw)
        if not parse_time and t < 0:
            return self.bad_row(line, tcol, "must be >= 0", t_raw)
        if t > MAX_TIME_S:
            return self.bad_row(line, tcol, f"must be at most {MAX_TIME_S:,.0f} s (about 285 years; 2**53 "
                                            f"microseconds, past which a time loses its microseconds)", t_raw)
        if t < self.last_t:
            return self.bad_row(line, tcol, f"times must not go backwards (previous row: {self.last_t:g})",
                                t_raw)
        values = []
        for col, raw in ((pcol, p_raw), (ocol, o_raw)):
            if raw is None:
                return self.bad_row(line, col, "missing value", "")
            try:
                v = _integer(raw)
            except ValueError:
                return self.bad_row(line, col, "must be an integer token count", raw)
            if v < 1:
                return self.bad_row(line, col, "must be >= 1", raw)
            if v > MAX_TOKENS:
                return self.bad_row(line, col, f"must be at most {MAX_TOKENS:,} tokens", raw)
            values.append(v)
        self.last_t = t
        self.t.append(t)
        self.p.append(values[0])
        self.o.append(values[1])
        if tenant is None or str(tenant).strip() == "":
            self.ten.append(-1)
        else:
            name = str(tenant).strip()
            self.ten.append(self.names.setdefault(name, len(self.names)))

    def result(self) -> TraceData:
        return TraceData(
            path=self.path,
            arrival_s=np.frombuffer(self.t, dtype=np.float64).copy(),
            prompt_tokens=np.frombuffer(self.p, dtype=np.int64).copy(),
            output_tokens=np.frombuffer(self.o, dtype=np.int64).copy(),
            tenant=np.frombuffer(self.ten, dtype=np.int32).copy(),
            tenant_names=list(self.names),
            bad_rows=self.bad,
            messages=self.messages,
        )


def _short(raw) -> str:
    """The offending field for a message: ``repr`` (control characters escaped), 60 characters at most."""
    text = repr(raw if not isinstance(raw, str) else raw[:200])
    return text if len(text) <= 60 else text[:57] + "..."


def _number(raw) -> float:
    if isinstance(raw, (bool, list, dict)) or raw is None:
        raise ValueError
    v = float(raw)
    if not math.isfinite(v):
        raise ValueError
    return v


def _integer(raw) -> int:
    if isinstance(raw, (bool, list, dict)) or raw is None:
        raise ValueError
    if isinstance(raw, int):
        return raw
    v = float(raw)
    if not math.isfinite(v) or v != math.floor(v):
        raise ValueError
    return int(v)


def azure_timestamp_s(text: str, epoch_day: int = 719163) -> float:
    """Seconds of an Azure trace time such as ``2023-11-16 18:15:46.6805900`` since midnight of
    the day with proleptic ordinal ``epoch_day`` (default 1970-01-01; times are naive, only
    differences matter). Any number of fractional digits. A near epoch keeps sub-microsecond
    resolution in a float64."""
    m = _AZURE_TS.match(text)
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi = (int(g) for g in m.groups()[:5])
    days = datetime.date(y, mo, d).toordinal() - epoch_day
    if not (0 <= h < 24 and 0 <= mi < 60):
        raise ValueError(text)
    sec = float(m.group(6))
    if sec >= 61:
        raise ValueError(text)
    return days * 86400.0 + h * 3600.0 + mi * 60.0 + sec


class _AzureClock:
    """Parses Azure times as seconds since midnight of the first parsed row's day."""

    def __init__(self) -> None:
        self.epoch_day: int | None = None

    def __call__(self, text: str) -> float:
        if self.epoch_day is None:
            m = _AZURE_TS.match(text)
            if not m:
                raise ValueError(text)
            y, mo, d = (int(g) for g in m.groups()[:3])
            self.epoch_day = datetime.date(y, mo, d).toordinal()
        return azure_timestamp_s(text, self.epoch_day)


def _open_text(path: pathlib.Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _csv_rows(fh, path: str, needed: tuple[str, ...]):
    """The header's column indices, its number of cells and the ``(line, fields)`` records after it, read
    by the one CSV rule (:func:`sim.io.csv_rows`: BOM dropped, ``#`` and blank lines are comments)."""
    records = csv_rows(fh, path)
    try:
        line, header = next(records)
    except StopIteration:
        raise InputError(f"{path}: line 1: empty file (expected a header row with {', '.join(needed)})")
    index = {name.strip(): i for i, name in enumerate(header)}
    for name in (*needed, "tenant"):
        at = [i + 1 for i, h in enumerate(header) if h.strip() == name]
        if len(at) > 1:
            raise InputError(f"{path}: line {line}: column {name!r} appears {len(at)} times in the header (columns "
                             f"{', '.join(map(str, at))}): which one holds the values is ambiguous")
    missing = [c for c in needed if c not in index]
    if missing:
        # the header is named only when it looks like one: a file that is no trace at all (say
        # /proc/self/environ) must not have its first line printed
        names = list(index)
        shown = f" (header has {', '.join(repr(c) for c in names)})" if (
            len(names) <= 40 and all(_COLUMN_NAME.match(c) for c in names)) else " (the first line is no header of names)"
        sep = _other_separator(header, needed)
        if sep:         # a spreadsheet's export in another locale, or its "tab-delimited text"
            raise InputError(f"{path}: line {line}: the header's columns are separated by {sep}, not commas: save "
                             f"the file as comma-separated values (CSV)")
        raise InputError(f"{path}: line {line}: missing column(s) {', '.join(repr(c) for c in missing)}{shown}")
    return index, len(header), records


def _other_separator(header: list[str], needed: tuple[str, ...]) -> str | None:
    """How a one-cell ``header`` separates the ``needed`` column names when not by commas (a semicolon,
    a tab or a bar), in words; ``None`` when it does not hold them so.

        >>> _other_separator(["timestamp_s;prompt_tokens"], ("timestamp_s", "prompt_tokens"))
        'semicolons'
        >>> _other_separator(["timestamp_s"], ("timestamp_s", "prompt_tokens")) is None
        True
    """
    if len(header) != 1:
        return None
    for sep, said in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars (|)")):
        if set(needed) <= {c.strip() for c in header[0].split(sep)}:
            return said
    return None


def _blank(fields: list[str]) -> bool:
    """An empty line or a row of blank cells: skipped, not a bad row."""
    return not fields or all(not f.strip() for f in fields)


def _data_rows(records) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every row that is not blank."""
    for line, fields in records:
        if not _blank(fields):
            yield line, fields


def read_trace(path: str | pathlib.Path, format: str = "fleetsim", *, skip_bad_rows: bool = False,
               display_path: str | None = None) -> TraceData:
    """Read a trace file into columns; see the module docstring for formats and bad rows.

    ``display_path`` is how errors name the file (default: ``path`` as given).
    """
    data = _read(pathlib.Path(path), display_path or str(path), format, skip_bad_rows, first_only=False)
    if format == "azure":
        data = TraceData(data.path, data.arrival_s - data.arrival_s[0], data.prompt_tokens,
                         data.output_tokens, data.tenant, data.tenant_names, data.bad_rows, data.messages)
    return data


def check_trace(path: str | pathlib.Path, format: str = "fleetsim", *, display_path: str | None = None) -> None:
    """Raise :class:`sim.errors.InputError` if :func:`read_trace` could not give a single request:
    the file cannot be opened or decoded, lacks a column, or holds no usable row (the same messages
    as :func:`read_trace`).

    Reads only up to the first good row (bad rows before it are skipped), so it is quick on any size
    of file; bad rows after it are not looked at (``read_trace`` reports those).
    """
    _read(pathlib.Path(path), display_path or str(path), format, skip_bad_rows=True, first_only=True)


def _read(p: pathlib.Path, name: str, format: str, skip_bad_rows: bool, first_only: bool) -> TraceData:
    """The rows of a trace (only up to the first good one with ``first_only``); raises when none is good."""
    if format not in COLUMNS:
        raise InputError(f"{name}: unknown trace format {format!r} (allowed: {', '.join(COLUMNS)})")
    try:
        if p.exists() and not p.is_file():
            raise InputError(f"{name}: not a regular file (a folder, pipe or device cannot be a trace)")
        fh = _open_text(p)
    except OSError as exc:
        raise InputError(f"{name}: cannot open trace file ({exc.strerror or exc})") from None
    if not p.name.endswith(".gz"):      # (a gzip file's bytes say nothing of its text's encoding)
        wide = wide_encoding(fh.buffer.peek(8192)[:8192], marks=",;\t{:")
        if wide:        # a spreadsheet's "Unicode text": said as UTF-8's first bad byte, or a header of NULs
            fh.close()
            raise InputError(f"{name}: is {wide} text: save it as UTF-8")
    rows = _Rows(name, skip_bad_rows)
    cols = COLUMNS[format]
    with fh:
        try:
            if format == "fleetsim" and p.name.endswith((".jsonl", ".jsonl.gz")):
                _read_jsonl(fh, rows, cols, first_only)
            else:
                _read_csv(fh, name, format, rows, cols, first_only)
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
            raise InputError(f"{name}: unreadable trace file ({exc})") from None
    data = rows.result()
    if not data.arrival_s.size:
        raise InputError(_no_requests(name, format, p, data))
    return data


def _no_requests(name: str, format: str, p: pathlib.Path, data: TraceData) -> str:
    """Why a trace gave no requests: no data rows at all, or every row bad (said the same way whether
    the rows were skipped on request or a reader that skips them, such as the load factor's sample, read
    the file before the run did)."""
    cols = ", ".join(COLUMNS[format])
    if data.bad_rows:
        first = data.messages[0].removeprefix(f"{name}: ") if data.messages else ""
        return (f"{name}: no usable rows: all {data.bad_rows} data row(s) are bad, so the trace "
                f"holds no requests (first: {first})")
    if format == "fleetsim" and p.name.endswith((".jsonl", ".jsonl.gz")):
        return (f"{name}: no usable rows: the file has no data rows, so the trace holds no requests "
                f"(expected one JSON object a line with keys {cols})")
    return (f"{name}: no usable rows: the file has a header row and no data rows, so the trace holds no "
            f"requests (expected a row per request with {cols})")


def _until_first_good(it: Iterator[tuple[int, list[str]]], rows: _Rows) -> Iterator[tuple[int, list[str]]]:
    """``it`` up to (and including) the row that gives ``rows`` its first good row."""
    for item in it:
        yield item
        if rows.t:
            return


def _read_csv(fh, name: str, format: str, rows: _Rows, cols: tuple[str, str, str],
              first_only: bool = False) -> None:
    index, width, records = _csv_rows(fh, name, cols)
    ti, pi, oi = (index[c] for c in cols)
    ten_i = index.get("tenant") if format == "fleetsim" else None
    if format != "azure" and not first_only:
        return _read_numeric_csv(records, rows, cols, ti, pi, oi, ten_i, width)
    it = _data_rows(records)
    if first_only:
        it = _until_first_good(it, rows)
    parse_time = _AzureClock() if format == "azure" else None
    for line, f in it:
        n = len(f)
        if rows.overlong(line, f, width):
            continue
        rows.add(line, cols,
                 f[ti] if ti < n else None, f[pi] if pi < n else None, f[oi] if oi < n else None,
                 f[ten_i] if ten_i is not None and ten_i < n else None, parse_time)


def _read_numeric_csv(records, rows: _Rows, cols, ti: int, pi: int, oi: int, ten_i: int | None,
                      width: int) -> None:
    """Numeric times (``fleetsim``, ``burstgpt``), with or without a tenant column, in one tight
    loop over the reader. A row that is not plainly good (a cell that ``float``/``int`` cannot
    read, a value out of range, a time going backwards, a row too short) goes through
    :meth:`_Rows.add`, which judges and words it exactly as for any other row; blank rows are
    skipped as in :func:`_data_rows`. Tenant cells are looked up by their raw text, so each
    distinct cell is stripped and named once (first use, in file order, as ``_Rows.add`` does)."""
    t_add, p_add, o_add, ten_add = rows.t.append, rows.p.append, rows.o.append, rows.ten.append
    names = rows.names
    tenant_of: dict[str, int] = {}
    tenant_get = tenant_of.get
    has_tenant = ten_i is not None
    x = ""
    last = rows.last_t
    latest = MAX_TIME_S
    top = MAX_TOKENS
    for line, f in records:
        try:
            t = float(f[ti])
            p = int(f[pi])
            o = int(f[oi])
            if has_tenant:
                x = f[ten_i]
        except (ValueError, IndexError):
            t = p = o = None
        if t is not None and 0.0 <= t <= latest and last <= t and 1 <= p <= top and 1 <= o <= top and len(f) <= width:
            last = t
            t_add(t)
            p_add(p)
            o_add(o)
            if has_tenant:
                k = tenant_get(x)
                if k is None:
                    name = x.strip()
                    k = tenant_of[x] = names.setdefault(name, len(names)) if name else -1
                ten_add(k)
            else:
                ten_add(-1)
        elif not _blank(f) and not rows.overlong(line, f, width):
            n = len(f)
            rows.last_t = last
            rows.add(line, cols, f[ti] if ti < n else None, f[pi] if pi < n else None,
                     f[oi] if oi < n else None, f[ten_i] if has_tenant and ten_i < n else None)
            last = rows.last_t
    rows.last_t = last


class _TwiceError(ValueError):
    """A JSON object giving a key twice (``json`` keeps the last silently)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once_each(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _TwiceError(next(k for i, (k, _) in enumerate(pairs) if k in dict(pairs[:i])))
    return out


def _read_jsonl(fh, rows: _Rows, cols: tuple[str, str, str], first_only: bool = False) -> None:
    for line_no, text in enumerate(fh, start=1):
        if first_only and rows.t:
            return
        if line_no == 1:
            text = text.removeprefix("\ufeff")    # a byte-order mark, as the CSV rule drops it
        if not text.strip():
            continue
        try:
            if text.count("[") + text.count("{") > _MAX_JSON_DEPTH:
                check_nesting(text, _MAX_JSON_DEPTH, "JSON")
            obj = json.loads(text, object_pairs_hook=_once_each)
        except json.JSONDecodeError as exc:
            rows.bad_row(line_no, "<row>", f"not a JSON object ({exc.msg} at column {exc.colno})")
            continue
        except _TwiceError as exc:
            rows.bad_row(line_no, exc.key[:60], "given twice in the row (give each key once)")
            continue
        except (ValueError, RecursionError):
            rows.bad_row(line_no, "<row>", f"not a JSON object of values (nested deeper than {_MAX_JSON_DEPTH})")
            continue
        if not isinstance(obj, dict):
            rows.bad_row(line_no, "<row>", f"not a JSON object (a {type(obj).__name__})")
            continue
        rows.add(line_no, cols, obj.get(cols[0]), obj.get(cols[1]), obj.get(cols[2]), obj.get("tenant"))


def write_trace(path: str | pathlib.Path, arrival_s: np.ndarray, prompt_tokens: np.ndarray,
                output_tokens: np.ndarray, tenants: list[str] | np.ndarray | None = None) -> None:
    """Write requests as a ``fleetsim`` trace (CSV, or JSONL if the name ends in ``.jsonl``)."""
    p = pathlib.Path(path)
    n = len(arrival_s)
    ten = [""] * n if tenants is None else [str(x) for x in tenants]
    opener = (lambda: io.TextIOWrapper(gzip.open(p, "wb"), encoding="utf-8", newline="")) \
        if p.name.endswith(".gz") else (lambda: open(p, "w", encoding="utf-8", newline=""))
    with opener() as fh:
        if p.name.endswith((".jsonl", ".jsonl.gz")):
            for t, a, b, x in zip(arrival_s, prompt_tokens, output_tokens, ten):
                obj = {"timestamp_s": float(t), "prompt_tokens": int(a), "output_tokens": int(b)}
                if x:
                    obj["tenant"] = x
                fh.write(json.dumps(obj) + "\n")
        else:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["timestamp_s", "prompt_tokens", "output_tokens", "tenant"])
            for t, a, b, x in zip(arrival_s, prompt_tokens, output_tokens, ten):
                w.writerow([repr(float(t)), int(a), int(b), x])


__all__ = ["COLUMNS", "TraceData", "azure_timestamp_s", "check_trace", "read_trace", "write_trace"]
