"""Durations as a scenario writes them: seconds, or numbers with units, alone or in sequence.

A number is seconds; text is one or more numbers each followed by its unit, with or without spaces
between them, summed (the grammar of systemd.time(7) and Go's ``time.ParseDuration``, without
their months and years)::

    >>> parse_duration(3600), parse_duration("90s"), parse_duration("30m"), parse_duration("7d")
    (3600.0, 90.0, 1800.0, 604800.0)
    >>> parse_duration("2h30m"), parse_duration("1d12h"), parse_duration("1h 30m"), parse_duration("1 hour 30 min")
    (9000.0, 129600.0, 5400.0, 5400.0)
    >>> parse_duration("1.5h"), parse_duration("500ms"), parse_duration("250us"), parse_duration("1e3s")
    (5400.0, 0.5, 0.00025, 1000.0)

ISO 8601's durations of fixed length (weeks, days, hours, minutes, seconds) are read too::

    >>> parse_duration("PT2H30M"), parse_duration("P1DT12H"), parse_duration("P2W")
    (9000.0, 129600.0, 1209600.0)

A sign is read as written, for the whole duration, so that the field's own bound says what is
allowed (YAML reads ``-1e-6``, without a dot, as text)::

    >>> parse_duration("-5m"), parse_duration("-1e-6"), parse_duration("-1h30m")
    (-300.0, -1e-06, -5400.0)

What is not a duration is said with what to write instead::

    >>> parse_duration("2H30M")
    Traceback (most recent call last):
    ...
    ValueError: units are written in lowercase (got '2H30M'): write '2h30m'
    >>> parse_duration("1:30")
    Traceback (most recent call last):
    ...
    ValueError: a clock reading is not a duration, 1:30 being 1 h 30 min or 1 min 30 s (got '1:30'): write '1h30m' or '1m30s'
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from sim.errors import given

DURATION = "a duration such as 3600, '90s', '30m', '2h30m' or '7d'"
"""What a duration field takes, as its messages say it."""
UNITS = "us, ms, s, m, h, d, w"
"""The units of a duration, as its messages list them."""

#: seconds per unit; each unit's names, the short one first (``µs``: the micro sign; ``μs``: Greek mu)
_SECONDS: dict[float, tuple[str, ...]] = {
    1e-6: ("us", "µs", "μs", "usec"),
    1e-3: ("ms", "msec"),
    1.0: ("s", "sec", "secs", "second", "seconds"),
    60.0: ("m", "min", "mins", "minute", "minutes"),
    3600.0: ("h", "hr", "hrs", "hour", "hours"),
    86400.0: ("d", "day", "days"),
    604800.0: ("w", "week", "weeks"),
}
_UNIT = {name: factor for factor, names in _SECONDS.items() for name in names}
_WORD = {factor: names[-1] for factor, names in _SECONDS.items()}
#: the calendar's units, which have no one length
_CALENDAR = {"y": "year", "yr": "year", "yrs": "year", "year": "year", "years": "year",
             "mo": "month", "mon": "month", "month": "month", "months": "month", "M": "month"}

#: possessive and atomic throughout: text of a megabyte (a scenario may be 16 MB) is read in one pass, where
#: backtracking took time growing with the square of its length (``x``, 20,000 spaces, ``y``: 5.5 s)
_NUMBER = r"(?>[0-9]+(?:\.[0-9]*+)?|\.[0-9]++)(?>[eE][-+]?[0-9]++)?"
_PLAIN = re.compile(rf"\s*+([-+]?{_NUMBER})\s*+")
_PART = re.compile(rf"\s*+({_NUMBER})\s*+([^\W\d_]*+)\s*+")
_NUMBER_UNIT = re.compile(rf"({_NUMBER})\s*+([^\W\d_]*+)")      # (found anywhere: no leading space to rescan)
_ISO_NUMBER = r"([0-9]+(?:[.,][0-9]+)?)"
_ISO = re.compile(rf"P(?:{_ISO_NUMBER}Y)?(?:{_ISO_NUMBER}M)?(?:{_ISO_NUMBER}W)?(?:{_ISO_NUMBER}D)?"
                  rf"(?:T(?:{_ISO_NUMBER}H)?(?:{_ISO_NUMBER}M)?(?:{_ISO_NUMBER}S)?)?", re.I)
_ISO_SECONDS = (None, None, 604800.0, 86400.0, 3600.0, 60.0, 1.0)
_CLOCK = re.compile(r"([0-9]+):([0-9]{1,2})(?::([0-9]{1,2}(?:\.[0-9]+)?))?")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a duration's text (see the module's docstring); ``ValueError`` saying
    what to write for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"must be {DURATION}, not {str(value).lower()}")
    if isinstance(value, (int, float)):
        try:
            v = float(value)
        except OverflowError:       # an integer of hundreds of digits (YAML reads one whole)
            raise ValueError(f"must be at most 1.8e308 s, a float's largest (got {given(value)})") from None
    elif isinstance(value, str):
        v = _seconds(value)
    elif isinstance(value, _dt.time):       # TOML's 07:32:00
        seconds = value.second + value.microsecond / 1e6
        raise ValueError(_clock_problem(given(value), value.hour, value.minute, seconds))
    else:
        raise ValueError(f"expected {DURATION}, in units {UNITS} (got {given(value)})")
    if not math.isfinite(v):
        raise ValueError(f"must be a finite duration (got {given(value)})")
    return v


def _seconds(text: str) -> float:
    """The seconds ``text`` says, or ``ValueError``."""
    plain = _PLAIN.fullmatch(text)
    if plain:
        return float(plain.group(1))
    body = text.strip()         # (str.strip and the patterns' \s: the same whitespace)
    sign = body[:1] if body[:1] in ("-", "+") else ""
    body = body[len(sign):]
    seconds = _iso(body, text) if body[:1] in "pP" else _parts(body, text)
    if seconds is None:
        raise ValueError(_problem(text, body))
    return -seconds if sign == "-" else seconds


def _parts(body: str, text: str) -> float | None:
    """The sum of ``body``'s numbers each with its unit, ``None`` where it is not that; ``ValueError``
    for a unit given twice."""
    pos, total, seen = 0, 0.0, set()
    while pos < len(body):
        m = _PART.match(body, pos)
        if not m or m.end() == pos or m.group(2) not in _UNIT:
            return None
        factor = _UNIT[m.group(2)]
        if factor in seen:
            raise ValueError(f"gives {_WORD[factor]} twice (got {given(text)}): write each unit once, such as "
                             f"'2h30m'")
        seen.add(factor)
        n = float(m.group(1))
        total += n / 1e6 if factor == 1e-6 else n * factor      # 10us: 1e-05, where 10 * 1e-6 is 9.999999999999999e-06
        pos = m.end()
    return total if seen else None


def _iso(body: str, text: str) -> float | None:
    """The seconds of an ISO 8601 duration (``PT2H30M``), ``None`` where ``body`` is not one; ``ValueError``
    for years and months, which have no one length."""
    m = _ISO.fullmatch(body)
    if not m or not any(m.groups()) or body.upper().endswith("T"):
        return None
    if m.group(1) or m.group(2):
        raise ValueError(f"an ISO 8601 duration in years or months has no one length (got {given(text)}): "
                         f"write days, such as 'P30D' or '30d'")
    return sum(float(n.replace(",", ".")) * f for n, f in zip(m.groups(), _ISO_SECONDS) if n)


def _problem(text: str, body: str) -> str:
    """What is wrong with ``text``, a duration's text that is none, and what to write."""
    got = given(text)
    clock = _CLOCK.fullmatch(body)
    if clock:
        h, m, s = clock.groups()
        if s is None:
            a, b = int(h), int(m)
            return (f"a clock reading is not a duration, {body} being {a} h {b} min or {a} min {b} s (got {got}): "
                    f"write {_written(a, b, 0)!r} or {_written(0, a, b)!r}")
        return _clock_problem(got, int(h), int(m), float(s))
    if re.match(r"[pP](?:[0-9]|[tT][0-9]|[tT]?$)", body):
        return f"expected {DURATION}, or ISO 8601's such as 'PT2H30M' or 'P1DT12H' (got {got})"
    units = [m.group(2) for m in _NUMBER_UNIT.finditer(body)]
    if "M" in units and not any(u != "M" and u != u.lower() for u in units):     # 5M: minutes, or months?
        return (f"'M' is not a unit of time (got {got}): write 'm' for minutes; a month has no one length: write "
                f"days, such as '30d'")
    calendar = next((_CALENDAR[u.lower()] for u in units if u.lower() in _CALENDAR), None)
    if calendar:
        return f"a {calendar} has no one length (got {got}): write days, such as '30d' or '365d'"
    if body.lower() != body and _parts(body.lower(), text) is not None:
        return f"units are written in lowercase (got {got}): write {text.strip().lower()!r}"
    unknown = next((u for u in units if u and u not in _UNIT), None)
    if unknown:
        return f"expected {DURATION}; {unknown!r} is not a unit of time, which are {UNITS} (got {got})"
    if len(units) > 1 and "" in units:
        return f"expected {DURATION}: each number needs its unit, in {UNITS} (got {got})"
    return f"expected {DURATION}, in units {UNITS} (got {got})"


def _clock_problem(got: str, h: int, m: int, s: float) -> str:
    """A clock reading ``h:m:s`` where a duration goes, with the duration to write."""
    return f"a clock reading is not a duration (got {got}): write {_written(h, m, s)!r}"


def _written(h: int, m: int, s: float) -> str:
    """Hours, minutes and seconds as a duration's text, without the parts that are 0 (``30m``, not ``0h30m0s``)."""
    return "".join(f"{n:g}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n) or "0s"
