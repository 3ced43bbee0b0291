"""Bracketing and bisection of one value: the search of ``fleetsim saturation`` (:func:`highest`).

:func:`highest` finds the highest value a verdict holds at, asking for one value at a time; with
``guesses`` it also says, at each, the values it asks next if that one holds and if it fails
(:func:`next_asked`: the search replayed on its verdicts so far), which a caller runs ahead on idle
workers. Which comes true changes nothing of the search, only how soon its answers come.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def fmt_rate(rate: float) -> str:
    """A rate as the search writes it: six significant digits (``"36.875"``)."""
    return f"{rate:.6g}"


#: the smallest step of a rate :func:`highest` takes: one unit of its sixth significant digit
#: (:func:`fmt_rate`) at least, so that no step rounds back to the rate it left
STEP = 1e-5


def highest(ok, start: float, ratio: float, rel_tol: float, max_probes: int, widen: bool = False,
            floor: float = 0.0, worth=None, integer: bool = False,
            top: float = math.inf, guesses: bool = False) -> tuple[float | None, float | None]:
    """The highest rate ``ok`` holds at, as ``(lo, hi)``: ``lo`` observed to hold, ``hi`` (the lowest
    rate seen to fail above it) within ``rel_tol`` of it, or ``None`` where no such rate was found in
    ``max_probes`` calls, or above ``floor``, or among the rates ``worth`` (when given) says are
    worth trying below every failing one, or among finite rates. Brackets from ``start`` by steps
    of ``ratio`` (squared after every step when ``widen``), then bisects. With ``integer`` the values
    are whole numbers >= 1 (a client count): a step up rounds up and a step down rounds down, each
    moving by one at least, and the bisection ends at two adjacent numbers if not before; a rate moves by
    one unit of its sixth significant digit at least. No value above ``top`` is tried, ``start`` included
    (``hi`` stays None when ``top`` holds), and no value is tried twice: none at or below one that held.

        >>> highest(lambda r: r <= 37.0, 10.0, 2.0, 0.02, 40)
        (36.875, 37.5)
        >>> highest(lambda r: r <= 37.0, 36.0, 1.05, 0.02, 40, widen=True)
        (36.9, 37.35)
        >>> highest(lambda r: False, 1.0, 2.0, 0.02, 40, widen=True, floor=0.01)   # 1, 1/2, 1/8, 1/128
        (None, 0.0078125)
        >>> highest(lambda r: False, 1.0, 2.0, 0.02, 40, worth=lambda r: r >= 0.2)   # 1, 1/2, 1/4
        (None, 0.25)
        >>> highest(lambda n: n <= 37, 8, 2.0, 0.02, 40, integer=True)     # 8, 16, 32, 64, 48, 40, 36, 38, 37
        (37, 38)
        >>> highest(lambda n: n <= 37, 36, 1.02, 0.001, 40, widen=True, integer=True)   # 36, 37, 39, 38
        (37, 38)
        >>> highest(lambda n: False, 5, 2.0, 0.02, 40, integer=True)      # 5, 2, 1
        (None, 1)
        >>> highest(lambda n: True, 300, 2.0, 0.02, 40, integer=True, top=1000)   # 300, 600, 1000
        (1000, None)
        >>> highest(lambda n: n <= 1000, 1030, 1.05, 0.02, 40, widen=True, integer=True, top=1000)   # 1000
        (1000, None)
        >>> highest(lambda r: True, 300.0, 2.0, 0.02, 40, top=1000.0)      # 300, 600, 1000
        (1000.0, None)

    With ``guesses`` each call is ``ok(value, nexts)``: ``nexts`` the values the search asks next if
    ``value`` holds and if it fails, in that order (None where it would stop there; :func:`next_asked`),
    for a caller to run them ahead. They change nothing of the search.

        >>> asked = []
        >>> highest(lambda n, nexts: asked.append((n, nexts)) or n <= 37, 8, 2.0, 0.02, 40, integer=True,
        ...         guesses=True)
        (37, 38)
        >>> asked[:4]
        [(8, (16, 4)), (16, (32, 12)), (32, (64, 24)), (64, (128, 48))]
    """
    if integer:
        up = lambda v, s: max(math.ceil(v * s), v + 1)           # noqa: E731
        down = lambda v, s: min(math.floor(v / s), v - 1)        # noqa: E731
        middle = lambda a, b: (a + b) // 2                       # noqa: E731
        start = int(start)
    else:
        # (at least one unit of the rate's last significant digit, as a client count moves by one)
        up = lambda v, s: max(float(fmt_rate(v * s)), float(fmt_rate(v * (1 + STEP))))     # noqa: E731
        down = lambda v, s: min(float(fmt_rate(v / s)), float(fmt_rate(v * (1 - STEP))))   # noqa: E731
        middle = lambda a, b: float(fmt_rate((a + b) / 2))           # noqa: E731
        start = float(fmt_rate(start))
    calls = 0
    answers: list[bool] = []        # each call's verdict, in order (what :func:`next_asked` replays)
    search = dict(start=start, ratio=ratio, rel_tol=rel_tol, max_probes=max_probes, widen=widen, floor=floor,
                  worth=worth, integer=integer, top=top)

    def probe(rate: float) -> bool:
        nonlocal calls
        calls += 1
        if not guesses:
            return ok(rate)
        held = ok(rate, tuple(next_asked(search, [*answers, verdict]) for verdict in (True, False)))
        answers.append(bool(held))
        return held

    lo: float | None = None
    hi: float | None = None
    rate = min(start, top)      # (a band side starts at the point's answer scaled up: past top at the limit)
    step = ratio
    if probe(rate):
        lo = rate
        while calls < max_probes:
            rate = min(up(lo, step), top)
            if not math.isfinite(rate) or rate <= lo:     # at top: what held there is all there is to know
                break
            if probe(rate):
                lo = rate
            else:
                hi = rate
                break
            step = step * step if widen else step
    else:
        hi = rate
        while calls < max_probes and hi > floor:
            rate = down(hi, step)
            if not rate > 0 or (worth is not None and not worth(rate)):
                break
            if probe(rate):
                lo = rate
                break
            hi = rate
            step = step * step if widen else step
    if lo is not None and hi is not None:
        while (hi - lo) / lo > rel_tol and calls < max_probes:
            mid = middle(lo, hi)
            if mid in (lo, hi):
                break
            if probe(mid):
                lo = mid
            else:
                hi = mid
    return lo, hi


class _Asked(Exception):
    """A replayed search asking for a value past its known verdicts (:func:`next_asked`)."""

    def __init__(self, value: float) -> None:
        self.value = value


def next_asked(search: dict[str, Any], answers: Sequence[bool]) -> float | None:
    """The value :func:`highest` (its arguments ``search``, but ``ok``) asks for after its calls have
    held or failed as ``answers`` say, in order, or None where the search ends there: the search replayed
    on those verdicts (``worth`` holds of each value asked for before, as it did then, and is asked of
    the next one).

        >>> next_asked(dict(start=10.0, ratio=2.0, rel_tol=0.02, max_probes=40), [True, True, False])
        30.0
        >>> next_asked(dict(start=10.0, ratio=2.0, rel_tol=0.02, max_probes=2), [True, True]) is None
        True
    """
    replayed = 0
    worth = search.get("worth")

    def ok(value: float) -> bool:
        nonlocal replayed
        if replayed == len(answers):
            raise _Asked(value)
        replayed += 1
        return answers[replayed - 1]

    def worth_then(value: float) -> bool:      # (asked only before a value is probed)
        return replayed < len(answers) or worth(value)

    try:
        highest(ok, **{**search, "worth": None if worth is None else worth_then})
    except _Asked as asked:
        return asked.value
    return None
