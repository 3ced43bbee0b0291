"""Shared field types for the scenario schema: durations (read by :mod:`sim.scenario.durations`), dates,
names, strict base model."""
from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from sim.errors import given
from sim.scenario.durations import DURATION, parse_duration  # noqa: F401 - the field types' names, importable here

MAX_COUNT = 2**53
#: the longest name of a scenario, pool or request class: a label for titles and tables, not a document
MAX_NAME = 200
_CONTROL_WORDS = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\x00": "NUL", "\x1b": "an escape"}
#: bidirectional formatting characters (U+202A-U+202E, U+2066-U+2069): they reorder the text shown after them
BIDI_CONTROLS = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))


def plain_name(value: str) -> str:
    r"""A name as written, refused (``ValueError``) when it holds a control character (a line break, a
    tab, NUL, an escape) or a bidirectional formatting character: a name is a label in titles, tables
    and CSV cells, where those break the line or reorder what is shown. Letters of any script are names.

        >>> plain_name("池 · pool ñ 💥")
        '池 · pool ñ 💥'
        >>> plain_name("a\nb")
        Traceback (most recent call last):
        ...
        ValueError: must not hold a control character (got 'a\nb': a line break at character 2)
        >>> plain_name(" p ")
        Traceback (most recent call last):
        ...
        ValueError: must not begin or end with a space (got ' p '): it shows as 'p', which, written elsewhere (a price's pool, a weight), would name nothing; write 'p'
    """
    import unicodedata

    for i, c in enumerate(value):
        if unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS:
            what = _CONTROL_WORDS.get(c) or unicodedata.name(c, "").lower() or f"U+{ord(c):04X}"
            raise ValueError(f"must not hold a control character (got {given(value)}: {what} at character {i + 1})")
    if value != value.strip():      # ' p ' shows as p in a table, yet `pool: p` elsewhere named no pool
        if not value.strip():
            raise ValueError(f"must not be blank (got {given(value)}): a name is shown in titles and tables")
        raise ValueError(f"must not begin or end with a space (got {given(value)}): it shows as {value.strip()!r}, "
                         f"which, written elsewhere (a price's pool, a weight), would name nothing; write "
                         f"{value.strip()!r}")
    return value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(plain_name)]
"""The largest count a scenario may give (replicas, GPUs, tokens, layers): 2**53, past which a float
no longer holds every integer; larger integers (YAML reads 10**400 as one) would overflow the float
arithmetic of the work estimate and the memory plan instead of being named at their field."""

WHOLE_NUMBER = "a whole number"
NUMBER = "a number"


def not_a_boolean(kind: str, value: bool) -> str:
    """The one wording for ``true``/``false`` where a number is wanted (YAML's booleans would
    otherwise read as 1 and 0).

    >>> not_a_boolean(WHOLE_NUMBER, True)
    'must be a whole number, not true'
    """
    return f"must be {kind}, not {str(value).lower()}"


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds; YAML may write ``3600``, ``"90s"``, ``"30m"``, ``"2h30m"``, ``"7d"``
(:mod:`sim.scenario.durations`)."""


def calendar_day(value: Any) -> Any:
    """A calendar day as the scenario writes one, ``2025-01-01`` (YAML reads it as a date). A moment in a zone
    other than UTC is refused, where pydantic took its midnight as that day: ``2024-01-01T00:00:00+05:00`` is
    2023-12-31 19:00 UTC, yet was read as 2024-01-01, five hours off (days begin at midnight UTC); so is a
    number, which pydantic read as Unix time (``1704067200``). Midnight UTC, or without a zone, is the day (midnight
    UTC written in another zone, ``2024-01-01T05:00:00+05:00``, too).

        >>> calendar_day("2024-02-29"), calendar_day("2024-02-29T00:00:00Z"), calendar_day(_dt.date(2024, 2, 29))
        ('2024-02-29', '2024-02-29T00:00:00Z', datetime.date(2024, 2, 29))
        >>> calendar_day("2024-01-01T00:00:00+05:00")
        Traceback (most recent call last):
        ...
        ValueError: must be a date such as 2025-01-01; days begin at midnight UTC, and this moment is 2023-12-31 19:00 UTC (got '2024-01-01T00:00:00+05:00')
        >>> calendar_day("2024-01-01T05:00:00+05:00")          # midnight UTC, said in +05:00
        datetime.date(2024, 1, 1)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"must be a date such as 2025-01-01, not a number (got {given(value)})")
    moment = value if isinstance(value, _dt.datetime) else None
    if isinstance(value, str) and _DAY_RE.match(value.strip()):
        try:
            moment = _dt.datetime.fromisoformat(value.strip())
        except ValueError:          # not a date at all: pydantic says so
            moment = None
    offset = moment.utcoffset() if moment is not None else None
    if offset:
        utc = moment.astimezone(_dt.timezone.utc)
        if utc.time() == _dt.time(0):       # midnight UTC written in another zone (05:00+05:00): that day
            return utc.date()
        raise ValueError(f"must be a date such as 2025-01-01; days begin at midnight UTC, and this moment is "
                         f"{utc:%Y-%m-%d %H:%M} UTC (got {given(value if isinstance(value, str) else str(value))})")
    return value


_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
Day = Annotated[_dt.date, BeforeValidator(calendar_day)]
"""A calendar day, ``2025-01-01``: days begin at midnight UTC; a moment in another zone, or a number, is refused."""

Switch = Annotated[bool, Field(strict=True)]
"""A switch: ``true`` or ``false`` (and YAML's unquoted ``yes``/``no``/``on``/``off``, which it reads as
those). Text (a quoted ``"no"``) and numbers (``1``, ``0``) are refused, where pydantic's lax mode read
them as booleans."""


class Strict(BaseModel):
    """Base for every scenario block: unknown keys are errors, numbers must be finite, values are
    validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False)


FIELD_ERROR = "field_error"
"""The pydantic error type of :func:`field_error`."""


def field_error(name: str, message: str) -> PydanticCustomError:
    """The error a block's check across several fields raises when the problem is one field
    ``name``: reported at ``<block path>.<name>`` with ``message``, as a single-field limit is
    (``economics.agreements.0.payment_lag: must be >= 0``, not ``economics.agreements.0:
    payment_lag must be >= 0``)."""
    return PydanticCustomError(FIELD_ERROR, "{message}", {"field": name, "message": message})
