"""Stepped (tiered) revenue-share rates: marginal brackets of the cumulative base revenue.

A bracketed rate ``[{up_to_usd: 1.0e9, rate: 0.20}, {rate: 0.15}]`` works like income tax: each
dollar of base revenue pays the rate of the bracket the running total of the base revenue is in
when that dollar accrues, so the first $1B pays 20 % and every dollar after it 15 %. The running
total counts the base revenue inside the agreement's window, over its life (``tier_period: life``)
or each agreement year (``year``: it restarts at every anniversary of ``from``, or of the run's
start without one), starting from ``base_used_usd`` in the first tier period the run holds (base
revenue counted before the run: toward the period in progress at the start, or, for an agreement
whose ``from`` is after the start, toward its first year or life).

Per segment the share is exact whatever the revenue's profile inside it: it depends only on the
running total at the segment's two ends. A segment wholly inside one bracket pays ``rate x base``
(the same float as a flat rate); one that crosses an edge pays each bracket its part.

    >>> import numpy as np
    >>> brackets = [(100.0, 0.2), (None, 0.1)]
    >>> share(np.array([60.0, 60.0, 60.0]), brackets, np.zeros(3, dtype=int)).tolist()
    [12.0, 10.0, 6.0]
    >>> share(np.array([60.0, 60.0]), brackets, np.array([0, 1]), used=50.0).tolist()   # a new year at 1
    [11.0, 12.0]
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim import humanize

#: the scenario keys holding a share's rate, as ``--set`` and ``fleetsim compare`` name them
RATE_KEY = re.compile(r"economics\.agreements\.\d+\.(reverse\.)?rate")


def share(base: np.ndarray, brackets: Sequence[tuple[float | None, float]], period: np.ndarray,
          used: float = 0.0) -> np.ndarray:
    """The share of the base revenue ``base`` (USD per segment, in time order) under marginal
    ``brackets`` (``(up_to_usd, rate)``, ascending, the last open: ``None``), its running total
    restarting in each tier ``period`` (one integer per segment, ascending) and starting from
    ``used`` in period 0."""
    out = np.zeros(len(base))
    for p in np.unique(period):
        mask = period == p
        b = base[mask]
        hi = np.cumsum(b) + (used if p == 0 else 0.0)      # running total at each segment's end
        lo = hi - b                                         # ... and at its start
        part = np.zeros(len(b))
        floor = 0.0
        for up_to, rate in brackets:
            ceiling = np.inf if up_to is None else up_to
            inside = (lo >= floor) & (hi <= ceiling)        # wholly in this bracket: rate x base, exactly
            overlap = np.where(inside, b, np.clip(np.minimum(hi, ceiling) - np.maximum(lo, floor), 0.0, None))
            part += rate * overlap
            floor = ceiling
        out[mask] = part
    return out


def brackets_of(rate: float | Sequence) -> list[tuple[float | None, float]] | None:
    """A share's ``rate`` as ``(up_to_usd, rate)`` brackets; ``None`` for a flat fraction."""
    if not isinstance(rate, (list, tuple)):
        return None
    return [(b.up_to_usd, b.rate) for b in rate]


def _bracket_list(rate: Any) -> bool:
    """A rate as a scenario file writes brackets: a list of blocks, each with a ``rate``."""
    return isinstance(rate, list) and bool(rate) and all(isinstance(b, dict) and "rate" in b for b in rate)


def plainest(rate: Any) -> Any:
    """A scenario's ``rate`` (as JSON: a fraction or brackets) in its plainest form: one open bracket
    is the flat fraction it pays (``[{rate: 0.2}]`` is the contract ``0.2`` is); anything else as it is.

        >>> plainest([{"up_to_usd": None, "rate": 0.2}]), plainest(0.2), plainest([{"rate": 0.1, "up_to_usd": 5.0}])
        (0.2, 0.2, [{'rate': 0.1, 'up_to_usd': 5.0}])
    """
    if _bracket_list(rate) and len(rate) == 1 and rate[0].get("up_to_usd") is None:
        return rate[0]["rate"]
    return rate


def plain_rates(scenario: dict) -> dict:
    """``scenario`` (as JSON) with each share's rate, and its reverse's, in its :func:`plainest` form: one
    open bracket, ``[{rate: 0.2}]``, is the contract ``rate: 0.2`` is, so the two are one scenario. A
    scenario without a list of agreements is given back as it is.

        >>> plain_rates({"economics": {"agreements": [{"rate": [{"rate": 0.2}], "reverse": {"rate": 0.1}}]}})
        {'economics': {'agreements': [{'rate': 0.2, 'reverse': {'rate': 0.1}}]}}
    """
    economics = scenario.get("economics") if isinstance(scenario, dict) else None
    agreements = economics.get("agreements") if isinstance(economics, dict) else None
    if not isinstance(agreements, list):
        return scenario
    plain = []
    for a in agreements:
        if isinstance(a, dict):
            a = {**a, "rate": plainest(a["rate"])} if "rate" in a else dict(a)
            if isinstance(a.get("reverse"), dict) and "rate" in a["reverse"]:
                a["reverse"] = {**a["reverse"], "rate": plainest(a["reverse"]["rate"])}
        plain.append(a)
    return {**scenario, "economics": {**economics, "agreements": plain}}


def words(rate: Any) -> str | None:
    """Brackets (as JSON) in words, each bracket's rate in percent up to its edge, then the open one's;
    ``None`` for anything that is not a list of brackets.

        >>> words([{"up_to_usd": 1.0e9, "rate": 0.2}, {"rate": 0.15}])
        '20 % to $1.00B, then 15 %'
        >>> words([{"up_to_usd": 5000, "rate": 0.2}, {"up_to_usd": 20000, "rate": 0.125}, {"rate": 0.1}])
        '20 % to $5,000, 12.5 % to $20,000, then 10 %'
        >>> words([{"rate": 0.2}]), words(0.2)
        ('20 %', None)
    """
    if not _bracket_list(rate):
        return None
    parts = []
    for i, b in enumerate(rate):
        r, edge = b.get("rate"), b.get("up_to_usd")
        pct = f"{r * 100:.6g} %" if _number(r) else str(r)
        if edge is None:
            parts.append(("then " if i else "") + pct)
        else:
            amount = (humanize.money(edge, compact=None, whole=float(edge).is_integer())
                      if _number(edge) and math.isfinite(edge) else str(edge))
            parts.append(f"{pct} to {amount}")
    return ", ".join(parts)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
