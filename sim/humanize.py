"""Numbers as a person reads them: money, durations, counts, shares and latencies.

Pure string formatting with no imports from the rest of fleetsim, so every layer that shows a
number to a person (the terminal summary, ``report.html``, figure labels) can use it. Raw floats
stay in JSON and CSV; these functions are only for text meant to be read.

    >>> money(1_296_884.5)
    '$1,296,884.50'
    >>> money(1_296_884.5, compact=True)
    '$1.30M'
    >>> duration(31_622_400)
    '366 d'
    >>> duration(5400)
    '1 h 30 m'
    >>> latency(0.1257)
    '125.7 ms'
"""
from __future__ import annotations

import math
import re

__all__ = ["count", "duration", "interval", "latency", "money", "number", "share"]

_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
MISSING = "–"


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


#: from this amount on, ``money(..., compact=None)`` writes $1.30M rather than every digit
COMPACT_FROM = 1e6


def money(usd: float | None, currency: str = "USD", *, compact: bool | None = False, whole: bool = False) -> str:
    """An amount with its currency: thousands separators and two decimals (``$12,345.67``), or with
    ``compact`` three significant figures and k/M/B/T (``$1.30M``; amounts under 1,000 keep cents);
    ``compact=None``: compact from :data:`COMPACT_FROM` on (``$999,999.00``, ``$3.77B``); ``whole``:
    an estimate, whole units from 100 on (``$7,300``, ``$12.50``).

    A currency without a symbol is written after the number (``1,234.00 CHF``); a negative amount
    starts with a minus sign (``-$10.00``); ``None``, NaN and infinities print as ``–``.

        >>> money(-10), money(0.5, compact=True), money(2_500_000_000, compact=True)
        ('-$10.00', '$0.50', '$2.50B')
        >>> money(1234, "CHF"), money(7300, whole=True), money(12.5, whole=True)
        ('1,234.00 CHF', '$7,300', '$12.50')
    """
    if not _finite(usd):
        return MISSING
    sign = "-" if usd < 0 else ""
    if compact is None:
        compact = abs(usd) >= COMPACT_FROM
    body = _compact(abs(usd)) if compact else f"{abs(usd):,.0f}" if whole and abs(usd) >= 100 else f"{abs(usd):,.2f}"
    symbol = _SYMBOL.get(currency)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}"


def _compact(v: float) -> str:
    for base, suffix in _SUFFIXES:
        if round(v / base, 2) >= 1:     # 999,999 is "1.00M", not "1000k"
            scaled = round(v / base, 2)
            decimals = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{scaled:,.{decimals}f}{suffix}"
    return f"{v:,.2f}"


def number(v: float | None, *, compact: bool = False, digits: int = 3) -> str:
    """A plain quantity: whole numbers with thousands separators; fractions to ``digits``
    significant figures (at least the integer part); ``compact`` uses k/M/B/T.

        >>> number(43304), number(2980.1366), number(0.0123456), number(12_500_000, compact=True)
        ('43,304', '2,980', '0.0123', '12.5M')
    """
    if not _finite(v):
        return MISSING
    if compact and abs(v) >= 1000:
        return ("-" if v < 0 else "") + _compact(abs(v))
    if float(v).is_integer() or abs(v) >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    return f"{v:,.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}g}"


def gib(n_bytes: float, decimals: int = 2) -> str:
    """Bytes as GiB (2**30 bytes), the number alone: thousands separators and ``decimals`` places; past a
    million GiB (an inline model or GPU of absurd size) three significant figures, not a line of 300 digits.

        >>> gib(59_440_000_000), gib(1_246_700_000_000), gib(2e300, 1)
        ('55.36', '1,161.08', '1.86e+291')
    """
    if not _finite(n_bytes):
        return MISSING
    x = n_bytes / 2**30
    return f"{x:,.{decimals}f}" if abs(x) < 1e6 else f"{x:.3g}"


def count(n: float | None) -> str:
    """A count with thousands separators: ``43,304``."""
    return f"{n:,.0f}" if _finite(n) else MISSING


def plural(n: int, word: str, words: str | None = None) -> str:
    """``word`` for one, ``words`` (default ``word + "s"``) otherwise: ``plural(1, "GPU") == 'GPU'``,
    ``plural(8, "GPU") == 'GPUs'``."""
    return word if n == 1 else (words or word + "s")


def share(f: float | None, decimals: int = 1, apart: tuple[float, ...] = ()) -> str:
    """A fraction as a percentage: ``share(0.9999) == '100.0%'``, ``share(0.0176) == '1.8%'``.

    ``apart``: marks the value must not read as unless it is one (an SLO's target, 100 %): more
    decimals, up to four more, until it does not, so that 0.9996 beside a 99 % target and 100 % reads
    ``99.96%``, never ``100.0%``, and 0.98996 reads ``98.996%``, not the target's ``99.0%``.

        >>> share(0.9996, apart=(0.99, 1.0)), share(0.98996, apart=(0.99, 1.0)), share(1.0, apart=(1.0,))
        ('99.96%', '98.996%', '100.0%')

    Nearer a mark than the last of those decimals, rounded away from it (toward the value's side):
    a miss by a float's last bit reads below the target, a value short of 1 below 100 %.

        >>> share(0.99 - 1e-12, apart=(0.99, 1.0)), share(1 - 1e-12, apart=(0.99, 1.0))
        ('98.99999%', '99.99999%')
    """
    if not _finite(f):
        return MISSING
    for d in range(decimals, decimals + 5):
        text = f"{f:.{d}%}"
        near = [m for m in apart if f != m and text == f"{m:.{d}%}"]
        if not near:
            return text
    step = 10.0 ** -d            # (d: the last decimals tried, in per cent)
    pct = f * 100
    return f"{(math.floor(pct / step) if f < near[0] else math.ceil(pct / step)) * step:.{d}f}%"


def attainment(f: float | None, apart: tuple[float, ...] = ()) -> str:
    """An SLO attainment (or any share) as the run summary, the planner's tables and the capacity band
    say it: :func:`share` to two decimals, more where that would read as 0 %, 100 % or a mark of
    ``apart`` (a constraint's bound) without being it.

        >>> attainment(0.9876), attainment(0.99999), attainment(1.0), attainment(0.98996, (0.99,))
        ('98.76%', '99.999%', '100.00%', '98.996%')
    """
    return share(f, 2, apart=(0.0, 1.0, *apart))


def latency(s: float | None) -> str:
    """Seconds as milliseconds below one second, seconds above (``125.7 ms``, ``10.17 s``,
    ``2 m 5 s`` from two minutes).

        >>> latency(0.0084), latency(10.173), latency(125.4)
        ('8.4 ms', '10.17 s', '2 m 5 s')
    """
    if not _finite(s):
        return MISSING
    if abs(s) < 1:
        return f"{s * 1000:.3g} ms" if abs(s) < 0.01 else f"{s * 1000:.1f} ms"
    if abs(s) < 120:
        return f"{s:.2f} s"
    return duration(s)


def duration(s: float | None) -> str:
    """A length of time in its two largest units of d / h / m / s (rounded to the smaller one).

        >>> duration(3600), duration(90), duration(604_800), duration(93_784), duration(2.5)
        ('1 h', '1 m 30 s', '7 d', '1 d 2 h', '2.5 s')

    Past ten thousand days, days in three significant digits (not a 300-digit count):

        >>> duration(1e308)
        '1.16e+303 d'
    """
    if not _finite(s):
        return MISSING
    if s < 0:
        return "-" + duration(-s)
    if s < 60:
        return f"{s:.3g} s"
    if s >= 1e4 * 86400:
        return f"{s / 86400:.3g} d"
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for i, (name, size) in enumerate(units[:-1]):
        small, small_size = units[i + 1]
        total = round(s / small_size)            # whole units of the smaller one
        if total >= size // small_size:          # at least one of the larger unit, once rounded
            big, rest = divmod(total, size // small_size)
            return f"{big} {name}" + (f" {rest} {small}" if rest else "")
    return f"{s:.3g} s"


def duration_at_most(s: float) -> str:
    """:func:`duration` of a bound that must not be passed (``set fluid.step: X or shorter``): rounded down to
    the unit it is written in, where :func:`duration` rounds to the nearest and may write a longer time
    (2 h 0 m 40 s is written ``2 h 1 m``; 15.56 s ``15.6 s``).

        >>> duration(7240), duration_at_most(7240), duration_at_most(15.56), duration_at_most(123.6)
        ('2 h 1 m', '2 h', '15.5 s', '2 m 3 s')
    """
    if not _finite(s) or s <= 0:
        return duration(s)
    if s < 60 or s >= 1e4 * 86400:                # three significant digits (of days past ten thousand)
        day = 86400.0 if s >= 1e4 * 86400 else 1.0
        unit = day * 10.0 ** (math.floor(math.log10(s / day)) - 2)
    else:                                         # the smaller of the two largest units written
        unit = 1.0 if s < 3600 else 60.0 if s < 86400 else 3600.0
    n = math.floor(s / unit)
    n += (n + 1) * unit <= s                      # s / unit a hair under a whole number of units
    return duration(n * unit)


_PLAIN = re.compile(r"-?[0-9][0-9,]*(\.[0-9]+)?")


def _to_places_of(mean: str, half: str, value: float) -> str:
    """``half`` (a half-width written ``value``) to no more decimals than ``mean`` shows, unless that
    would leave it no significant digit: ``147 ± 85``, not ``147 ± 84.72``; ``147 ± 0.3`` stays. Texts
    that are not plain numbers (with a unit) are left as they are.

        >>> _to_places_of("147", "84.72", 84.72), _to_places_of("147", "0.3", 0.3), _to_places_of("2.0", "0.5", 0.5)
        ('85', '0.3', '0.5')
    """
    m, h = _PLAIN.fullmatch(mean), _PLAIN.fullmatch(half)
    if not (m and h) or not math.isfinite(value) or value <= 0:
        return half
    shown = len(h.group(1) or ".") - 1          # the decimals ``half`` has
    places = max(len(m.group(1) or ".") - 1, -math.floor(math.log10(value)))   # the mean's, at least one digit
    return f"{value:,.{places}f}" if places < shown else half


def interval(mean: float, low: float | None, high: float | None, fmt=str) -> str:
    """A mean with its confidence interval, each number written by ``fmt``: ``mean ± half-width``
    when the interval is symmetric about the mean, ``mean (low–high)`` when it is not (an
    interval clipped to the range its metric lives in); the mean alone without one, or with one of no
    width (every replication gave the same value: a compute cost, an attainment of 100 %), which read
    ``$0.42 ± $0.00`` and ``100.0% ± 0.0%``.

        >>> interval(2.0, 1.5, 2.5), interval(0.99, 0.96, 1.0), interval(3.0, None, None), interval(1.0, 1.0, 1.0)
        ('2.0 ± 0.5', '0.99 (0.96–1.0)', '3.0', '1.0')
    """
    if not (_finite(low) and _finite(high)) or low == high == mean:
        return fmt(mean)
    below, above = mean - low, high - mean
    if math.isclose(below, above, rel_tol=1e-9, abs_tol=1e-12 * max(abs(mean), 1.0)):
        return f"{fmt(mean)} ± {_to_places_of(fmt(mean), fmt((high - low) / 2), (high - low) / 2)}"
    return f"{fmt(mean)} ({fmt(low)}–{fmt(high)})"


def small_rate_below(unit: str) -> float:
    """The one rule for when a rate reads per hour or per day instead of per second (terminal, page and
    scenario words alike): under half the last digit the terminal prints it to, where it would read 0 —
    a token rate (``... tok/s``, whole tokens) under 0.5, any other rate (``req/s``, two decimals) under
    0.005.

        >>> small_rate_below("out tok/s"), small_rate_below("req/s")
        (0.5, 0.005)
    """
    return 0.5 if unit.endswith("tok/s") else 0.005


def per_longer(value, unit: str, below: float | None = None):
    """A rate too small to read per second (under ``below``, by default :func:`small_rate_below`: ten
    requests over four months read ``9.645e-07 req/s``, or ``0.00 req/s`` to two decimals) per hour, or,
    under ``below`` an hour, per day; any other value or unit (not ``.../s``) as it is. Returns the value
    and its unit.

        >>> per_longer(9.645e-07, "req/s"), per_longer(0.5, "req/s"), per_longer(0.002, "req/s")
        ((0.0833328, 'req/day'), (0.5, 'req/s'), (7.2, 'req/h'))
        >>> per_longer(0.3, "tok/s"), per_longer(0.0001, "tok/s"), per_longer(0.5, "tok/s")
        ((1080.0, 'tok/h'), (8.64, 'tok/day'), (0.5, 'tok/s'))
    """
    if below is None:
        below = small_rate_below(unit)
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and unit.endswith("/s")
            and 0 < abs(value) < below):
        return value, unit
    hourly = value * 3600
    return (hourly, unit[:-1] + "h") if abs(hourly) >= below else (value * 86400, unit[:-1] + "day")
