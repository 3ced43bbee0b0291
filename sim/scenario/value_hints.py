"""What a value the schema refused looks like it meant, as the hint after its message: a whole number with an
exponent (``1e3``: YAML reads it as text), a time with a unit in a field of seconds (``500ms``), a number
dressed with a currency sign, thousands separators or a rate unit (``$2.50``, ``1,000``, ``50 req/s``), a
percentage (``5%``), and a switch given words or digits (``'no'`` in quotes, ``1``). Each returns ``""``
when it has nothing to say; :mod:`sim.scenario.schema_errors` puts them after pydantic's errors in words.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from sim.io import reads_as_number
from sim.scenario.durations import parse_duration
from sim.scenario.types import MAX_COUNT


def digits_hint(got: Any) -> str:
    """For a whole number written with an exponent (``1e3``: YAML reads it as text, not a number),
    the digits to write instead.

        >>> digits_hint("1e3"), digits_hint("2.5e0"), digits_hint("1e400"), digits_hint(3.5)
        ('; YAML reads 1e3 as text: write 1000', '', '', '')
        >>> digits_hint("1e300")
        '; YAML reads 1e300 as text, not a number: write it in digits (301 of them)'
    """
    if not isinstance(got, str) or not reads_as_number(got):
        return ""
    value = float(got)
    if not math.isfinite(value) or not value.is_integer():
        return ""
    if abs(value) > MAX_COUNT:      # (was no hint: "must be a whole number (got '1e17')", which it is)
        digits = len(str(int(abs(value))))
        return f"; YAML reads {got.strip()} as text, not a number: write it in digits ({digits} of them)"
    return f"; YAML reads {got.strip()} as text: write {int(value)}"


def seconds_hint(loc: Sequence[Any], got: Any) -> str:
    """For a time with a unit (``500ms``, ``1m30s``) in a field whose name ends ``_s`` (a number of seconds,
    such as a CPU time per token, which takes no unit), the number to write instead.

        >>> seconds_hint(["slo", "ttft_s"], "500ms"), seconds_hint(["x", "think_time_s"], "2 min")
        ('; the field is in seconds: write 0.5', '; the field is in seconds: write 120')
        >>> seconds_hint(["perf", "cpu_per_seq_s"], "1m30s"), seconds_hint(["perf", "cpu_per_seq_s"], "250us")
        ('; the field is in seconds: write 90', '; the field is in seconds: write 0.00025')
        >>> seconds_hint(["workload", "arrival", "rate"], "5s"), seconds_hint(["slo", "ttft_s"], "soon")
        ('', '')
    """
    if not loc or not str(loc[-1]).endswith("_s") or not isinstance(got, str) or reads_as_number(got):
        return ""
    try:
        value = parse_duration(got)
    except ValueError:
        return ""
    return f"; the field is in seconds: write {value:g}"


_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
#: a number written with what a number field does not take: a currency sign (``$2.50``, ``2.50 USD``,
#: ``$2.50/h``), thousands separators (``1,000``) or a rate unit (``50 req/s``)
_DRESSED_NUMBER = (
    re.compile(rf"\s*(?:[$€£]\s*(?P<a>{_NUM})|(?P<b>{_NUM})\s*(?:\$|€|£|usd|eur|dollars?))"
               r"\s*(?:/\s*(?:h|hr|hour|gpu-?h(?:our)?))?\s*", re.IGNORECASE),
    re.compile(r"\s*(?P<c>[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?)\s*"),
    re.compile(rf"\s*(?P<d>{_NUM})\s*(?:req(?:uest)?s?\s*/\s*s(?:ec(?:ond)?)?|rps|qps|/\s*s"
               r"|(?:req(?:uest)?s?\s+)?per\s+s(?:ec(?:ond)?)?)\s*", re.IGNORECASE),
)


def dressed_number_hint(got: Any) -> str:
    """For a number written with a currency sign, thousands separators or a per-second unit (text to
    YAML), the number alone to write instead.

        >>> dressed_number_hint("$2.50"), dressed_number_hint("2.5 USD/h"), dressed_number_hint("1,000")
        ('; write the number alone: 2.5', '; write the number alone: 2.5', '; write the number alone: 1000')
        >>> dressed_number_hint("50req/s"), dressed_number_hint("12 per second"), dressed_number_hint("5%")
        ('; write the number alone: 50', '; write the number alone: 12', '')
        >>> dressed_number_hint("1,5"), dressed_number_hint("$"), dressed_number_hint("fast")
        ('', '', '')
    """
    if not isinstance(got, str):
        return ""
    for pattern in _DRESSED_NUMBER:
        m = pattern.fullmatch(got)
        if m is None:
            continue
        text = next(v for v in m.groupdict().values() if v is not None).replace(",", "")
        value = float(text)
        if not math.isfinite(value):
            return ""
        number = int(value) if value.is_integer() and abs(value) <= MAX_COUNT else value
        return f"; write the number alone: {number}"
    return ""


_PERCENT = re.compile(r"\s*[+-]?\s*(?:\d+(?:\.\d*)?|\.\d+)\s*%\s*")


def percent_hint(got: Any) -> str:
    """For a percentage (text to YAML), what to write instead, without guessing the number: ``5%`` may
    be a share (0.05) or a change of the value the scenario has (``-20%`` of a price).

        >>> percent_hint("-20%") == percent_hint("5 %") != "", percent_hint("5"), percent_hint("%")
        (True, '', '')
    """
    if not isinstance(got, str) or _PERCENT.fullmatch(got) is None:
        return ""
    return ("; a percentage is not read: write the value itself (a share as a fraction, 0.05 for 5 %; "
            "a change such as -20 % as the new value, 0.8 x the old one)")


#: the words YAML reads as true or false when unquoted (PyYAML, YAML 1.1), and the digits Python would
_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def switch_hint(got: Any) -> str:
    """For a switch given text or a number that means true or false somewhere, what to write instead.

        >>> switch_hint("no"), switch_hint(1), switch_hint("maybe")
        ("; 'no' in quotes is text: write false", '; write true', '')
    """
    if isinstance(got, bool):
        return ""
    word = str(got).strip().lower() if isinstance(got, (str, int, float)) else None
    if isinstance(got, float) and got.is_integer():
        word = str(int(got))
    said = "true" if word in _TRUE_WORDS else "false" if word in _FALSE_WORDS else None
    if said is None:
        return ""
    return f"; {got!r} in quotes is text: write {said}" if isinstance(got, str) else f"; write {said}"
