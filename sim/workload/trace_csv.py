"""Reading a CSV trace (``fleetsim`` CSV, ``azure``, ``burstgpt``) into :class:`~sim.workload.trace_rows.TraceRows`:
the header (a column missing or named twice, a file separated by semicolons or tabs), Azure's
date-time stamps, and the rows (numeric times through one tight loop, the rest judged row by row).

Read by the project's one CSV rule (:func:`sim.io.csv_rows`); :func:`sim.workload.traces.read_trace`
is the entry point.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

from sim.errors import InputError
from sim.io import csv_rows
from sim.workload.trace_rows import MAX_TIME_S, MAX_TOKENS, TraceRows, integer_count, plain_digits

_AZURE_TS = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)\s*$", re.ASCII)
_COLUMN_NAME = re.compile(r"^[\w .()/-]{0,40}$")


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


def _until_first_good(it: Iterator[tuple[int, list[str]]], rows: TraceRows) -> Iterator[tuple[int, list[str]]]:
    """``it`` up to (and including) the row that gives ``rows`` its first good row."""
    for item in it:
        yield item
        if rows.t:
            return


def read_csv(fh, name: str, format: str, rows: TraceRows, cols: tuple[str, str, str],
              first_only: bool = False) -> None:
    index, width, records = _csv_rows(fh, name, cols)
    ti, pi, oi = (index[c] for c in cols)
    if format == "burstgpt" and BURSTGPT_TOTAL in index:
        records = _totals_checked(records, rows, pi, oi, index[BURSTGPT_TOTAL])
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


#: BurstGPT's column of the request's and the response's tokens together: checked, not read
BURSTGPT_TOTAL = "Total tokens"


def _totals_checked(records, rows: TraceRows, pi: int, oi: int, total_i: int) -> Iterator[tuple[int, list[str]]]:
    """``records`` but the rows whose ``Total tokens`` is not ``Request tokens`` + ``Response tokens``: each a bad
    row naming the three values (a column shifted by an edit, or lengths changed by hand, would replay other
    lengths than the trace's). A blank total is not checked; a row whose own token counts are bad is judged as
    any row is (a failed request's ``Response tokens`` of 0).

        >>> rows = TraceRows("b.csv", skip_bad_rows=True)
        >>> list(_totals_checked([(2, ["0", "10", "5", "15"]), (3, ["1", "10", "5", "16"]), (4, ["2", "9", "0", "9"]),
        ...                       (5, ["3", "10.0", "5.0", "15.0"])], rows, 1, 2, 3))
        [(2, ['0', '10', '5', '15']), (4, ['2', '9', '0', '9']), (5, ['3', '10.0', '5.0', '15.0'])]
        >>> rows.messages
        ["b.csv: line 3: column 'Total tokens': must be Request tokens + Response tokens: 10 + 5 = 15 (got '16')"]
    """
    for line, f in records:
        try:        # (the counts read as the rows' own are: 472.0 is 472, as a table written by pandas has them)
            p, o = integer_count(f[pi]), integer_count(f[oi])
            cell = f[total_i] if total_i < len(f) else ""
        except (ValueError, IndexError, OverflowError):
            yield line, f
            continue
        if p < 1 or o < 1 or not cell.strip():
            yield line, f
            continue
        try:
            total = integer_count(cell)
        except (ValueError, OverflowError):
            rows.bad_row(line, BURSTGPT_TOTAL, "must be an integer token count (Request tokens + Response tokens)",
                         cell)
            continue
        if total != p + o:
            rows.bad_row(line, BURSTGPT_TOTAL, f"must be Request tokens + Response tokens: {p:,} + {o:,} = {p + o:,}",
                         cell)
            continue
        yield line, f


def _read_numeric_csv(records, rows: TraceRows, cols, ti: int, pi: int, oi: int, ten_i: int | None,
                      width: int) -> None:
    """Numeric times (``fleetsim``, ``burstgpt``), with or without a tenant column, in one tight
    loop over the reader. A row that is not plainly good (a cell that ``float``/``int`` cannot
    read, a value out of range, a time going backwards, a row too short) goes through
    :meth:`TraceRows.add`, which judges and words it exactly as for any other row; blank rows are
    skipped as in :func:`_data_rows`. Tenant cells are looked up by their raw text, so each
    distinct cell is stripped and named once (first use, in file order, as ``TraceRows.add`` does)."""
    t_add, p_add, o_add, ten_add = rows.t.append, rows.p.append, rows.o.append, rows.ten.append
    names = rows.names
    tenant_of: dict[str, int] = {}
    tenant_get = tenant_of.get
    has_tenant = ten_i is not None
    x = ""
    last, last_raw = rows.last_t, rows.last_raw
    latest = MAX_TIME_S
    top = MAX_TOKENS
    plain = plain_digits
    for line, f in records:
        try:
            t = float(f[ti])
            p = int(f[pi])
            o = int(f[oi])
            if has_tenant:
                x = f[ten_i]
            if not plain(f[ti], f[pi], f[oi]):    # '٣' and '1_000' are numbers to int(): judged by add
                t = None
        except (ValueError, IndexError):
            t = p = o = None
        if t is not None and 0.0 <= t <= latest and last <= t and 1 <= p <= top and 1 <= o <= top and len(f) <= width:
            last, last_raw = t, f[ti]
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
            rows.last_t, rows.last_raw = last, last_raw
            rows.add(line, cols, f[ti] if ti < n else None, f[pi] if pi < n else None,
                     f[oi] if oi < n else None, f[ten_i] if has_tenant and ten_i < n else None)
            last, last_raw = rows.last_t, rows.last_raw
    rows.last_t, rows.last_raw = last, last_raw
