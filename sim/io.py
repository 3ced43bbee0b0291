"""Fast CSV formatting of columns (written atomically: :mod:`sim.atomic`), and the one rule for reading
a CSV a person wrote.

CSV cells (:func:`csv_chunks`):

* float columns: Python's shortest round-trip ``repr`` (``float(cell) == value`` exactly);
  NaN is an empty cell;
* integer and boolean columns: ``str`` of the value;
* :class:`Coded` columns (small integer codes into a tuple of labels, e.g. pool or status
  names): the label, code ``-1`` an empty cell; labels holding a comma, quote or newline are
  quoted (inner quotes doubled);
* any other sequence: per-cell ``str`` (floats as ``repr``, NaN empty), quoted as above.

Columns are formatted a block of rows at a time with C-level loops, and memory holds one block
of cells, never the whole table. Integer and float columns go through ``pydantic_core.to_json``
(a pydantic dependency; its float output is the shortest round-trip digit string, as ``repr``'s),
split at the commas: about 4x faster than ``map(float.__repr__)``, 100,000 rows x 18 columns
in ~0.12 s. Its text equals ``repr`` except for magnitudes below 1e-4 (``0.00001`` where
``repr`` says ``1e-05``) and non-finite values, so those cells are re-formatted with ``repr``.
The formatter is checked against ``repr`` on a set of awkward values at first use and not used
if it disagrees or is missing (then every cell comes from ``repr``, as before).

CSV input (:func:`csv_rows`): every reader of a file a person gives (step-time tables, measured
points, Vidur profiles) reads it by one rule: a byte-order mark at the start is dropped, lines end in
LF, CRLF or CR, and a blank line or one whose first non-space character is ``#`` is a comment.
A comment is a whole line, decided before the line is parsed as CSV, so a quote in it cannot open
a field that swallows the lines after it. A header naming a column the reader reads twice
(:func:`header_index`), and a row with more non-blank cells than the header names (:func:`check_width`:
a comma inside a number shifts the columns after it), are errors, never the first or last copy read
silently or the cells read as other numbers.

``.csv.gz`` files are gzip members with a fixed header (no file name, modification time 0,
OS "unknown"), so the same table always gives the same bytes.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.atomic import atomic_file
from sim.errors import InputError

try:    # ISA-L's deflate (the isal package): gzip-compatible, ~3x faster than zlib at level 1
    from isal import isal_zlib as _deflate
except ImportError:  # pragma: no cover - isal is a dependency; zlib where it has no wheel
    _deflate = zlib

#: rows formatted per block: memory holds one block of cells (~10 MB for 18 columns)
BLOCK_ROWS = 4_096
#: deflate level of ``.csv.gz`` files. On a 100,000-row request table (18.0 MB of text), one
#: core: ISA-L level 1 compresses in 0.043 s to 6.09 MB (level 2: 0.044 s, 6.05 MB); zlib level
#: 1 takes 0.13 s for 6.40 MB, level 4 0.30 s for 5.99 MB, level 6 (gzip's default) 0.76 s for
#: 5.86 MB. The full-precision floats barely compress further, so the fastest level is the trade.
GZIP_LEVEL = 1
#: integer blocks spanning fewer values than this are formatted through a table of their strings
_INT_LOOKUP = 256


@dataclass(frozen=True)
class Coded:
    """A string column stored as integer ``codes`` into ``labels``; code ``-1`` is an empty cell."""

    codes: np.ndarray
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.codes)

    def strings(self) -> np.ndarray:
        """The column as a numpy string array (``""`` for code ``-1``)."""
        lut = np.array(list(self.labels) + [""], dtype=str)
        return lut[np.asarray(self.codes, dtype=np.int64)]


def reads_as_number(text: str) -> bool:
    """Whether ``float`` reads ``text`` (``nan`` and ``inf`` included; the caller judges the value).

        >>> reads_as_number(" 3.5 "), reads_as_number("3%"), reads_as_number("")
        (True, False, False)
    """
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_rows(text: str | Iterable[str], name: str | Path) -> Iterator[tuple[int, list[str]]]:
    r"""``(line number, fields)`` of every record of CSV ``text`` (a string, or lines as a file
    opened with ``newline=""`` gives them) by the project's reading rule (module docstring): BOM
    dropped, LF/CRLF/CR, blank and ``#`` lines skipped. Line numbers count every physical line,
    comments included (a record spanning lines is numbered by its last). A line the ``csv``
    module refuses (a NUL byte, a field past its size limit) is an
    :class:`~sim.errors.InputError` naming ``name`` and the line.

        >>> list(csv_rows("\ufeffa,b\r\n  # note, \"quoted\r\n\r\n1,2\r\n", "t.csv"))
        [(1, ['a', 'b']), (4, ['1', '2'])]
    """
    at = 0

    def data_lines() -> Iterator[str]:
        nonlocal at
        for n, line in enumerate(io.StringIO(text, newline="") if isinstance(text, str) else text, start=1):
            if n == 1:
                line = line.removeprefix("\ufeff")
            head = line.lstrip()
            if head and head[0] != "#":
                at = n
                yield line

    reader = csv.reader(data_lines())
    try:
        for fields in reader:
            yield at, fields
    except csv.Error as exc:
        raise InputError(f"{name}:{at}: not readable as CSV ({exc})") from None


def header_index(header: Sequence[str], name: str | Path, line: int,
                 columns: Iterable[str] | None = None) -> dict[str, int]:
    """Each name of a CSV ``header`` (cells stripped) -> its index; a name of ``columns`` (default: every
    non-blank one) the header gives twice is an :class:`~sim.errors.InputError` naming ``name``, the
    line and both columns: which of them holds the values is ambiguous (the first or the last would be
    read silently).

        >>> header_index(["a", " b "], "t.csv", 1)
        {'a': 0, 'b': 1}
        >>> header_index(["a", "b", "a"], "t.csv", 3)
        Traceback (most recent call last):
        ...
        sim.errors.InputError: t.csv:3: column 'a' appears 2 times in the header (columns 1, 3): which one holds the values is ambiguous; give it once
    """
    names = [h.strip() for h in header]
    for c in (dict.fromkeys(names) if columns is None else columns):
        at = [i + 1 for i, h in enumerate(names) if h == c]
        if c and len(at) > 1:
            raise InputError(f"{name}:{line}: column {c!r} appears {len(at)} times in the header (columns "
                             f"{', '.join(map(str, at))}): which one holds the values is ambiguous; give it once")
    index: dict[str, int] = {}
    for i, h in enumerate(names):
        index.setdefault(h, i)
    return index


def check_width(fields: Sequence[str], width: int, name: str | Path, line: int) -> None:
    """An :class:`~sim.errors.InputError` for a row with more non-blank cells than its header's ``width``:
    a comma inside a value (a thousands separator, ``2,048``, or a decimal comma, ``0,015``) shifts every
    column after it, and the cells would be read as other numbers. Empty cells past the header (a
    spreadsheet's trailing commas) are taken.

        >>> check_width(["1", "2", ""], 2, "t.csv", 4)
        >>> check_width(["1", "2", "048"], 2, "t.csv", 4)
        Traceback (most recent call last):
        ...
        sim.errors.InputError: t.csv:4: the row has 3 cells where the header names 2 columns: a comma inside a value (a thousands separator such as 2,048, a decimal comma) shifts the columns after it
    """
    if len(fields) > width and any(c.strip() for c in fields[width:]):
        raise InputError(f"{name}:{line}: the row has {len(fields)} cells where the header names {width} columns: a "
                         "comma inside a value (a thousands separator such as 2,048, a decimal comma) shifts the "
                         "columns after it")


def cache_dir() -> Path:
    """Where measurements are cached between runs: ``$FLEETSIM_CACHE`` or ``~/.cache/fleetsim``
    (the fluid tier's capacity curves, the load factor's scheduler factors)."""
    return Path(os.environ.get("FLEETSIM_CACHE") or Path.home() / ".cache" / "fleetsim")


def package_files() -> list[Path]:
    """Every file of the installed ``sim`` package that a measurement may depend on: its modules and
    its data (the GPU and model catalogs, bundled profiles and configs), not Python's byte-code caches."""
    root = Path(__file__).resolve().parent
    return sorted(f for f in root.rglob("*") if f.is_file() and "__pycache__" not in f.parts
                  and f.suffix not in (".pyc", ".pyo"))


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of :func:`package_files` (line endings normalised, so a checkout with CRLF hashes the
    same): a change anywhere in the simulator's code or catalogs changes it, so a cached measurement
    made by another version is not read."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in package_files():
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(f.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return h.hexdigest()[:16]


def csv_text(header: list[str], columns: Sequence) -> str:
    """CSV text from equal-length columns (cells as described in the module docstring)."""
    return "".join(csv_chunks(header, columns))


def csv_chunks(header: list[str], columns: Sequence, block_rows: int = BLOCK_ROWS) -> Iterator[str]:
    """The CSV text of ``columns`` in pieces: the header line, then one piece per block of rows."""
    yield ",".join(_quote(h) for h in header) + "\n"
    n = len(columns[0]) if len(columns) else 0
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        cells = [_cells(c, start, stop) for c in columns]
        yield "\n".join(map(",".join, zip(*cells))) + "\n"


def _quote(s: str) -> str:
    if "," in s or '"' in s or "\n" in s or "\r" in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def _cells(col: Any, start: int, stop: int) -> list[str]:
    """Rows ``start:stop`` of one column as CSV cells."""
    if isinstance(col, Coded):
        lut = np.array([_quote(s) for s in col.labels] + [""], dtype=object)
        return lut[np.asarray(col.codes[start:stop], dtype=np.int64)].tolist()
    if isinstance(col, np.ndarray) and col.ndim == 1:
        part = col[start:stop]
        if part.dtype.kind == "f":
            return _float_cells(part)
        if part.dtype.kind in "iu" and len(part):
            lo, hi = int(part.min()), int(part.max())
            if hi - lo < _INT_LOOKUP and hi < 2**63:
                # few distinct values (token counts, replica, preemptions): cells from a table of
                # their strings, 4-10x faster than formatting each (~15 ms of a 100,000-row table)
                lut = np.array([str(v) for v in range(lo, hi + 1)], dtype=object)
                return lut[part.astype(np.int64) - lo].tolist()
        if part.dtype.kind in "iu" and part.dtype.itemsize <= 8 and _json_numbers() is not None:
            return _split(_json_numbers()(part.tolist()))
        if part.dtype.kind in "iub":
            return list(map(str, part.tolist()))
        part = part.tolist()
    else:
        part = list(col[start:stop])
    return [_fmt(v) for v in part]


def _float_cells(part: np.ndarray) -> list[str]:
    """Float cells: shortest round-trip ``repr`` text, NaN empty (``inf`` is ``repr``'s ``inf``)."""
    to_json = _json_numbers()
    if part.size == 0:
        return []
    if to_json is None:
        cells = list(map(float.__repr__, part.tolist()))
        for i in np.flatnonzero(np.isnan(part)).tolist():
            cells[i] = ""
        return cells
    part = part.astype(np.float64, copy=False)
    cells = _split(to_json(part.tolist()))
    with np.errstate(invalid="ignore"):
        mag = np.abs(part)
        odd = np.flatnonzero(~((mag >= 1e-4) & (mag != np.inf)) & (part != 0.0))   # tiny, inf, NaN
    for i in odd.tolist():
        v = float(part[i])
        cells[i] = "" if v != v else repr(v)
    return cells


def _split(json_array: bytes) -> list[str]:
    """The items of a flat JSON array of numbers (``b"[1,2.5]"`` -> ``["1", "2.5"]``)."""
    text = json_array.decode("ascii")[1:-1]
    return text.split(",") if text else []


_JSON_NUMBERS: list = []   # [to_json or None], decided at first use


def _json_numbers():
    """``pydantic_core.to_json`` for lists of numbers, if its cells are ``repr``'s/``str``'s.

    Checked once against ``repr``/``str`` on awkward values (powers of two and their neighbours,
    short decimals, 17-digit values, both ends of the fast range, the int64 limits); ``None``
    (use ``repr``) if it disagrees or is not installed.
    """
    if not _JSON_NUMBERS:
        _JSON_NUMBERS.append(_checked_json_numbers())
    return _JSON_NUMBERS[0]


def _checked_json_numbers():
    try:
        from pydantic_core import to_json
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return None

    def dumps(values: list) -> bytes:
        return to_json(values, inf_nan_mode="constants")

    two = np.ldexp(1.0, np.arange(-13, 60))
    floats = np.concatenate([two, np.nextafter(two, 0.0), np.nextafter(two, np.inf),
                             np.array([1e-4, 0.00010000000000000002, 0.1, 0.2, 0.30000000000000004, 1 / 3,
                                       2 / 3, 1.5, 100.0, 123456.789, 9007199254740993.0, 1e15,
                                       999999999999999.9, 9999999999999998.0, 1e16, 1.2345678901234567e16,
                                       1e22, 1e23, 1.7976931348623157e308, 0.0, -0.0]),
                             np.cumsum(np.full(200, 0.1)), np.arange(1, 200) / 7.0])
    floats = np.concatenate([floats, -floats]).tolist()
    ints = [0, 1, -1, 7, 10, 99, 100, -12345, 2**31, 2**53 + 1, 2**63 - 1, -2**63, 2**64 - 1]
    try:
        if (_split(dumps(floats)) != list(map(float.__repr__, floats))
                or _split(dumps(ints)) != list(map(str, ints))):
            return None
    except Exception:  # noqa: BLE001 - any surprise means: do not use it
        return None
    return dumps


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if v != v else repr(v)
    return _quote(str(v))


def _gzip_header(level: int) -> bytes:
    """RFC 1952 member header: deflate, no flags, mtime 0, XFL by level, OS 255 (unknown)."""
    xfl = 2 if level >= 9 else 4 if level == 1 else 0
    return b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes((xfl, 255))


def atomic_write_csv_gz(path: str | Path, header: list[str], columns: Sequence,
                        level: int = GZIP_LEVEL) -> Path:
    """Write ``columns`` as a gzip-compressed CSV, streamed block by block.

    Compression of one block (ISA-L's deflate, else zlib) runs in a worker thread (both release
    the GIL) while the next block is formatted (a gain when a second core is free); blocks are
    compressed strictly in order, so the bytes do not depend on timing.
    """
    lib = _deflate if 1 <= level <= 3 else zlib     # ISA-L has levels 0-3 (its 0 is not "stored")
    comp = lib.compressobj(level, lib.DEFLATED, -lib.MAX_WBITS)
    crc, size = 0, 0
    with atomic_file(path) as fh, ThreadPoolExecutor(max_workers=1) as worker:
        fh.write(_gzip_header(level))
        pending = None
        for piece in csv_chunks(header, columns):
            data = piece.encode("utf-8")
            crc = lib.crc32(data, crc)
            size += len(data)
            if pending is not None:
                fh.write(pending.result())
            pending = worker.submit(comp.compress, data)
        if pending is not None:
            fh.write(pending.result())
        fh.write(comp.flush())
        fh.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return Path(path)
