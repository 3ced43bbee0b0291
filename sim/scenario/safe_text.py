"""Reading input text that may be hostile: only regular files, within a size, in UTF-8; TOML and JSON
within a nesting depth.

:func:`read_text` refuses anything but a regular file (a FIFO would block forever, ``/dev/zero``
never ends, a folder is no file), files over :data:`MAX_BYTES` and text in UTF-16 or UTF-32
(:func:`wide_encoding`); :func:`read_input_text` says the same of an input file other than a scenario
(a step table, a calibration, a profile) naming the file; :func:`not_utf8` says where a file is not
UTF-8. :func:`check_nesting` refuses brackets nested deeper than :data:`MAX_DEPTH` before a recursive
parser (``tomllib``, ``json``) can overflow the stack; :func:`load_toml` text over
:data:`MAX_TOML_BYTES` (Python's TOML reader is pure Python: ~1 MB/s). YAML's own limits (values,
aliases, tags, duplicate keys) are :mod:`sim.scenario.safe_yaml`'s.

    >>> load_toml("a = 1\\nb = [1, 2]\\n")
    {'a': 1, 'b': [1, 2]}
"""
from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

#: deepest nesting of lists/mappings (YAML, TOML and JSON alike)
MAX_DEPTH = 50
#: largest scenario file read (a scenario is a few KB; traces are read elsewhere)
MAX_BYTES = 16 * 2**20
#: largest TOML text read (``tomllib`` reads ~1 MB/s; a YAML file may be larger)
MAX_TOML_BYTES = 2 * 2**20


class TextLimitError(ValueError):
    """Text beyond a limit of this module (a ``ValueError``; the message names the line, ``field`` the
    dotted path of the value where the limit was passed, when known)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def read_text(path: str | Path, max_bytes: int = MAX_BYTES, kind: str = "a scenario file") -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` (``OSError``/``ValueError`` otherwise);
    ``kind``, what the file is, in the message about its size.

    The file is opened without blocking and checked with ``fstat`` before anything is read, so a
    FIFO, a device or a folder is refused at once.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise TextLimitError(f"is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise TextLimitError(f"is {st.st_size:,} bytes; {kind} may have at most {max_bytes:,}")
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            data = fh.read(max_bytes + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise TextLimitError(f"has more than {max_bytes:,} bytes")
    wide = wide_encoding(data)
    if wide:        # (UTF-8 reads its NULs: said as a NUL YAML does not allow at line 1, column 2)
        raise TextLimitError(f"is {wide} text: save it as UTF-8")
    return data.decode("utf-8")


def wide_encoding(data: bytes, marks: str = ":=") -> str | None:
    """``"UTF-16"`` or ``"UTF-32"`` when ``data`` is text in that encoding with or without a byte-order
    mark (Windows tools write UTF-16 by default; without the mark UTF-8 reads every other byte as a
    NUL), else ``None``; text, as :func:`_reads_as_text` judges it (holding one of ``marks``: a mapping's
    ``:`` or ``=``, a table's ``,``).

        >>> wide_encoding("a: 1\\n".encode("utf-16-le")), wide_encoding("a: 1\\n".encode("utf-32"))
        ('UTF-16', 'UTF-32')
        >>> wide_encoding(b"a: 1\\n") is None, wide_encoding(b"a: \\x00\\n") is None
        (True, True)
    """
    head = data[:8192]
    if b"\0" not in head:
        return None
    boms = {"utf-32": (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"), "utf-16": (b"\xff\xfe", b"\xfe\xff")}
    for codec in ("utf-32", "utf-32-le", "utf-32-be", "utf-16", "utf-16-le", "utf-16-be"):
        size = 4 if codec.startswith("utf-32") else 2
        if codec in boms and not head.startswith(boms[codec]):
            continue                    # the codec that reads a byte-order mark, for a file that has one
        try:
            text = head[:len(head) - len(head) % size].decode(codec)
        except UnicodeDecodeError:
            continue
        if _reads_as_text(text, marks):
            return codec[:6].upper()
    return None


def read_input_text(path: str | Path, what: str = "") -> str:
    """The text of an input file other than a scenario (a profile, measured points, a step-time table)
    as :func:`read_text` reads it; :class:`~sim.errors.InputError` naming the file (and ``what`` it
    is) otherwise."""
    from sim.errors import InputError, clipped, printable

    name = clipped(str(path), 300)       # a path of 100,000 characters is named, not printed whole
    if "\0" in str(path):          # os.open's ValueError ('embedded null byte') names no file
        raise InputError(f"{printable(name)}: not a file name: it holds a NUL character")
    try:
        return read_text(path, kind="an input file")
    except OSError as exc:
        raise InputError(f"{name}: cannot read{' ' + what if what else ''} ({exc.strerror})") from None
    except UnicodeDecodeError:
        hint = " (is it a CSV file?)" if Path(path).suffix.lower() == ".csv" else ""
        raise InputError(f"{name}: not UTF-8 text{hint}") from None
    except TextLimitError as exc:
        raise InputError(f"{name}: {exc}") from None


def not_utf8(exc: UnicodeDecodeError) -> str:
    """Why a file read by :func:`read_text` is not text, with where: UTF-16 (a BOM) said as such,
    else the first byte UTF-8 cannot read, by line and column.

        >>> not_utf8(UnicodeDecodeError("utf-8", b"name: caf\\xe9\\n", 9, 10, "invalid"))
        'not UTF-8 text: byte 0xe9 at line 1, column 10 (save the file as UTF-8)'
        >>> not_utf8(UnicodeDecodeError("utf-8", "a: 1\\n".encode("utf-16"), 0, 1, "invalid"))
        'is UTF-16 text: save it as UTF-8'
    """
    data = exc.object
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and _reads_as_utf16(data):
        return "is UTF-16 text: save it as UTF-8"
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} (save the file as UTF-8)"


def _reads_as_utf16(data: bytes) -> bool:
    """Whether ``data`` (which starts with a UTF-16 byte-order mark) is text in UTF-16, not binary:
    printable, with the ``:`` or ``=`` of a mapping (any pair of bytes decodes to some character)."""
    try:
        text = data.decode("utf-16")[:4096]
    except UnicodeDecodeError:
        return False
    return _reads_as_text(text)


def _reads_as_text(text: str, marks: str = ":=") -> bool:
    """Whether ``text`` decoded from a file is text, not binary: printable, with one of ``marks`` (by
    default the ``:`` or ``=`` of a mapping; any pair of bytes decodes to some character)."""
    text = text.lstrip("\ufeff")
    return bool(text) and all(c.isprintable() or c in "\r\n\t" for c in text) and any(c in marks for c in text)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


# ------------------------------------------------------------------------------ TOML and JSON
def check_nesting(text: str, max_depth: int = MAX_DEPTH, what: str = "text") -> None:
    """Refuse ``text`` whose ``[``/``{`` brackets nest deeper than ``max_depth``.

    An upper bound on the real depth (brackets inside strings count too), cheap enough to run
    before a recursive parser (``tomllib``, ``json``) can overflow the stack.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    for i, ch in enumerate(text):
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                line = text.count("\n", 0, i) + 1
                raise TextLimitError(f"line {line}: {what} nested deeper than {max_depth} lists/tables")
        elif ch in "]}":
            depth = max(depth - 1, 0)


def load_toml(text: str) -> dict:
    """``tomllib.loads`` after :func:`check_nesting`, a byte-order mark dropped (as YAML drops it); TOML
    itself refuses a duplicate key, said here as such (``tomllib`` says "Cannot overwrite a value")."""
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_TOML_BYTES:
        raise TextLimitError(f"is {len(text):,} characters of TOML; a TOML scenario may have at most "
                             f"{MAX_TOML_BYTES:,} (a scenario is a few KB; save a larger one as YAML)")
    check_nesting(text, what="TOML")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if str(exc).startswith(("Cannot overwrite a value", "Cannot declare")):
            raise ValueError(f"{exc}: a key or table given twice; give each key once") from None
        raise
