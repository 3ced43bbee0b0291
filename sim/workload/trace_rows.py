"""A trace's rows judged one by one and collected into columns: what makes a row bad (a value that is
not a number, a time going backwards or past :data:`MAX_TIME_S`, a token count that is not an integer
in 1 .. :data:`MAX_TOKENS`, more cells than the header names) and how it is said (``path: line N:
column C: message (got 'x')``), raised or counted with ``skip_bad_rows``.

The formats' readers (:mod:`sim.workload.trace_csv`, :mod:`sim.workload.traces` for JSONL) feed rows in;
:func:`sim.workload.traces.read_trace` is the entry point.
"""
from __future__ import annotations

import array
import math
from dataclasses import dataclass, field

import numpy as np

from sim.errors import InputError

_MAX_MESSAGES = 20


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


class TraceRows:
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
        self.last_raw = ""      # the previous good row's time as written, for the message

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
        if odd := _odd_digits(t_raw):
            return self.bad_row(line, tcol, odd, t_raw)
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
            said = _cut(str(self.last_raw).strip())
            return self.bad_row(line, tcol, f"times must not go backwards (previous row: {said})", t_raw)
        values = []
        for col, raw in ((pcol, p_raw), (ocol, o_raw)):
            if raw is None:
                return self.bad_row(line, col, "missing value", "")
            if odd := _odd_digits(raw):
                return self.bad_row(line, col, odd, raw)
            try:
                v = integer_count(raw)
            except ValueError:
                return self.bad_row(line, col, "must be an integer token count", raw)
            if v < 1:
                return self.bad_row(line, col, "must be >= 1", raw)
            if v > MAX_TOKENS:
                return self.bad_row(line, col, f"must be at most {MAX_TOKENS:,} tokens", raw)
            values.append(v)
        self.last_t, self.last_raw = t, t_raw
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
    return _cut(repr(raw if not isinstance(raw, str) else raw[:200]))


def _cut(text: str) -> str:
    """A value as written, for a message: 60 characters at most, ``...`` saying where it was cut.

        >>> _cut("1700000000.5"), _cut("5." + "0" * 70 + "1")[-6:]
        ('1700000000.5', '000...')
    """
    return text if len(text) <= 60 else text[:57] + "..."


NOT_ASCII = ("must be written in the digits 0-9 (Python reads other scripts' digits, such as Arabic-Indic or "
             "full-width ones, as numbers; no trace writer writes them, so the cell is likely not the value meant)")


def _not_ascii(raw) -> bool:
    """A text value with a character outside ASCII: ``float`` and ``int`` read ``'٣'`` (ARABIC-INDIC DIGIT
    THREE) and ``'３'`` as 3, which a number column of a trace should not.

        >>> _not_ascii("\u0663"), _not_ascii("3"), _not_ascii(3)
        (True, False, False)
    """
    return isinstance(raw, str) and not raw.isascii()


UNDERSCORE = ("must be written without underscores (Python reads 1_000 as 1000; no trace writer writes them, so "
              "the cell is likely not the value meant)")


def plain_digits(a: str, b: str = "", c: str = "") -> bool:
    """The digit rule of number cells (up to three, a CSV row's time and token counts at once): written in
    ASCII, without underscores (Python reads ``'\u0663'`` and ``'1_000'`` as numbers; no trace writer
    writes them). :func:`_odd_digits` says what breaks it; the CSV reader's fast path asks it of a row's
    three number cells, a row that breaks it going to :meth:`TraceRows.add`, which names the cell.

        >>> plain_digits("1700000000.5"), plain_digits("1_000"), plain_digits("12\u0663"), plain_digits("")
        (True, False, False, True)
        >>> plain_digits("0.5", "100", "1_0"), plain_digits("0.5", "\uff13", "10"), plain_digits("0.5", "100", "10")
        (False, False, True)
    """
    return a.isascii() and b.isascii() and c.isascii() and "_" not in a and "_" not in b and "_" not in c


def _odd_digits(raw) -> str | None:
    """What is wrong with a text cell Python reads as a number but no trace writer writes (:func:`plain_digits`):
    digits of other scripts (:data:`NOT_ASCII`) or Python's digit-group underscores (``int('1_000')`` is 1000;
    CSV writers, pandas' included, write ``1000``): :data:`UNDERSCORE`; ``None`` for any other value.

        >>> _odd_digits("1_000") == UNDERSCORE, _odd_digits("\u0663") == NOT_ASCII, _odd_digits("1000"), _odd_digits(7)
        (True, True, None, None)
        >>> _odd_digits("\u0663_") == NOT_ASCII        # both: the script is named first
        True
        >>> _odd_digits("10\u00a0")
        'must be written in ASCII (character 3 is U+00A0, no-break space, which no trace writer puts in a number, so the cell is likely not the value meant)'
    """
    if not isinstance(raw, str) or plain_digits(raw):
        return None
    if not _not_ascii(raw):
        return UNDERSCORE
    import unicodedata

    i, c = next((i, c) for i, c in enumerate(raw) if not c.isascii())
    if unicodedata.category(c) == "Nd":         # a digit of another script: Arabic-Indic, full-width
        return NOT_ASCII
    # a no-break space (a locale's thousands separator, '10\xa0'), a typographic minus: not a digit, so the
    # digits message misled; the character is named
    name = unicodedata.name(c, "").lower() or "unnamed"
    return (f"must be written in ASCII (character {i + 1} is U+{ord(c):04X}, {name}, which no trace writer puts "
            f"in a number, so the cell is likely not the value meant)")


def _number(raw) -> float:
    if isinstance(raw, (bool, list, dict)) or raw is None:
        raise ValueError
    if isinstance(raw, int) and abs(raw) > 2 ** 1023:   # JSON's 1000...0: a number past a float, not a crash
        return math.inf if raw > 0 else -math.inf       # (said by the caller's bounds, naming line and column)
    v = float(raw)
    if not math.isfinite(v):
        raise ValueError
    return v


def integer_count(raw) -> int:
    """A token count as a row's cell gives it: an integer, written as one or as a float (``472.0``, as pandas
    writes a column that once held a blank); else :class:`ValueError`.

        >>> integer_count("472"), integer_count("472.0"), integer_count(" 18 ")
        (472, 472, 18)
    """
    if isinstance(raw, (bool, list, dict)) or raw is None:
        raise ValueError
    if isinstance(raw, int):
        return raw
    v = float(raw)
    if not math.isfinite(v) or v != math.floor(v):
        raise ValueError
    return int(v)
