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
  two token columns are read, and ``Total tokens``, where given, must be their sum (a bad row naming the
  three values); times are replayed as written. Failed requests in BurstGPT have
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

import csv
import gzip
import io
import json
import pathlib

import numpy as np

from sim.errors import InputError, json_kind
from sim.scenario.safe_text import check_nesting, wide_encoding
from sim.workload.trace_csv import azure_timestamp_s, read_csv
from sim.workload.trace_rows import MAX_TIME_S, MAX_TOKENS, TraceData, TraceRows

_MAX_JSON_DEPTH = 50


COLUMNS = {
    "fleetsim": ("timestamp_s", "prompt_tokens", "output_tokens"),
    "azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    "burstgpt": ("Timestamp", "Request tokens", "Response tokens"),
}
"""The (time, prompt, output) column names of each format."""


_Rows = TraceRows
"""The row collector, by the name it had here."""


def _open_text(path: pathlib.Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


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
        if fh.buffer.peek(2)[:2] == b"\x1f\x8b":     # gzip's magic: was said as a byte 0x8b not UTF-8
            fh.close()
            raise InputError(f"{name}: is gzip-compressed, and only a name ending in .gz is decompressed: "
                             f"name it {p.name}.gz (or decompress it)")
        wide = wide_encoding(fh.buffer.peek(8192)[:8192], marks=",;\t{:")
        if wide:        # a spreadsheet's "Unicode text": said as UTF-8's first bad byte, or a header of NULs
            fh.close()
            raise InputError(f"{name}: is {wide} text: save it as UTF-8")
    rows = TraceRows(name, skip_bad_rows)
    cols = COLUMNS[format]
    with fh:
        try:
            if format == "fleetsim" and p.name.endswith((".jsonl", ".jsonl.gz")):
                _read_jsonl(fh, rows, cols, first_only)
            else:
                read_csv(fh, name, format, rows, cols, first_only)
        except UnicodeDecodeError:      # (its position counts from a buffer's start: said by line instead)
            raise InputError(f"{name}: not UTF-8 text: {_first_bad_byte(p)} (save the file as UTF-8)") from None
        except gzip.BadGzipFile as exc:
            with open(p, "rb") as raw:
                plain = raw.read(2) != b"\x1f\x8b"
            said = "its name ends in .gz, but it is not gzip-compressed: name it without .gz" if plain else \
                "gzip data followed by bytes that are not"
            raise InputError(f"{name}: unreadable trace file: {said} ({exc})") from None
        except (EOFError, csv.Error) as exc:
            raise InputError(f"{name}: unreadable trace file ({exc})") from None
    data = rows.result()
    if not data.arrival_s.size:
        raise InputError(_no_requests(name, format, p, data))
    return data


def _first_bad_byte(p: pathlib.Path, chunk: int = 2**20) -> str:
    """Where the (decompressed) bytes of ``p`` stop being UTF-8: ``byte 0xe9 at line 3, column 10``,
    read a chunk at a time (a trace may be gigabytes); the column counts bytes, as a scenario's does
    (:func:`sim.scenario.safe_text.not_utf8`)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, line_start, offset = 1, 0, 0       # newlines so far + 1; where the current line begins
    with (gzip.open(p, "rb") if p.name.endswith(".gz") else open(p, "rb")) as fh:
        while True:
            block = fh.read(chunk)
            pending = decoder.getstate()[0]         # (the start of a character cut by the last block)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                before = exc.object[:exc.start]      # (pending bytes hold no newline: it is one byte, 0x0a)
                nl = before.rfind(b"\n")
                column = exc.start - nl if nl >= 0 else offset - len(pending) + exc.start - line_start + 1
                line = lines + before.count(b"\n")
                return f"byte 0x{exc.object[exc.start]:02x} at line {line}, column {column}"
            if not block:
                return "no byte UTF-8 cannot read"
            lines += block.count(b"\n")
            nl = block.rfind(b"\n")
            if nl >= 0:
                line_start = offset + nl + 1
            offset += len(block)


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


def _read_jsonl(fh, rows: TraceRows, cols: tuple[str, str, str], first_only: bool = False) -> None:
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
            rows.bad_row(line_no, "<row>", f"not a JSON object (got {json_kind(obj)})")
            continue
        tenant = obj.get("tenant")
        if isinstance(tenant, (dict, list, bool)):      # true named the class 'True', an object "{'a': 1}"
            rows.bad_row(line_no, "tenant", f"must be a name (text or a number; null or \"\" for none), not "
                                            f"{json_kind(tenant)}")
            continue
        rows.add(line_no, cols, obj.get(cols[0]), obj.get(cols[1]), obj.get(cols[2]), tenant)


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


__all__ = ["COLUMNS", "MAX_TIME_S", "MAX_TOKENS", "TraceData", "azure_timestamp_s", "check_trace", "read_trace",
           "write_trace"]
