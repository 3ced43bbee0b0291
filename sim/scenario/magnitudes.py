"""Numbers that each pass their own field's check but overflow together: found before a run.

A date of 9999-12-31 is a valid date, but its window ends at the next midnight, which Python
cannot represent; a payment lag of 10¹⁵ s moves cash in the year 31 million; revenue growing
10²⁰⁰-fold a month is infinite after two months; two router weights of 10³⁰⁸ add up to
infinity (as do two token-length weights of 10³⁰⁸, which then draw only the last value). Each is a ``(field.path, message)`` problem here instead of an ``OverflowError`` (or a
``null`` money total) later.

    >>> _growth_overflows(0.1, 12 * MONTH_S)
    False
    >>> _growth_overflows(1e200, 3 * MONTH_S)
    True
"""
from __future__ import annotations

import datetime as _dt
import math

from sim.economics.calendar import LAST_YEAR   # the last calendar year a run may touch
from sim.workload.arrivals import MONTH_S      # an average calendar month in seconds (365.25 / 12 days)

#: growth factors past e^700 (~1e304) leave no room for the amounts they multiply
MAX_LOG_GROWTH = 700.0
#: most shards one pool may stand for (money scales with it)
MAX_SCALE = 1e9


def _growth_overflows(monthly: float, horizon_s: float) -> bool:
    months = horizon_s / MONTH_S + 1.0
    return math.log1p(monthly) * months > MAX_LOG_GROWTH if monthly > 0 else False


def _date_problem(where: str, value: _dt.date | None) -> list[tuple[str, str]]:
    if value is not None and value.year > LAST_YEAR:
        return [(where, f"must be a date up to {LAST_YEAR}-12-31 (got {value.isoformat()})")]
    return []


def magnitude_problems(sc) -> list[tuple[str, str]]:
    """Problems of a schema-valid :class:`~sim.scenario.schema.Scenario` whose numbers overflow."""
    out: list[tuple[str, str]] = []
    r = sc.fleet.router
    if r.weights and not math.isfinite(sum(max(w, 0.0) for w in r.weights.values())):
        out.append(("fleet.router.weights", "must add up to a finite number (their sum is past 1.8e308); "
                                            "weights are relative, so smaller ones say the same"))
    w = sc.workload
    dists = [("workload.prompt_tokens", w.prompt_tokens), ("workload.output_tokens", w.output_tokens)]
    for i, c in enumerate(w.classes):
        dists += [(f"workload.classes.{i}.prompt_tokens", c.prompt_tokens),
                  (f"workload.classes.{i}.output_tokens", c.output_tokens)]
    for where, d in dists:
        weights = getattr(d, "weights", None)
        if weights and not math.isfinite(sum(weights)):
            out.append((f"{where}.weights", "must add up to a finite number (their sum is past 1.8e308); "
                                            "weights are relative, so smaller ones say the same"))
    for i, p in enumerate(sc.fleet.pools):
        if p.scale > MAX_SCALE:
            out.append((f"fleet.pools.{i}.scale", f"must be <= {MAX_SCALE:g} shards (got {p.scale:g})"))
    return out + economics_magnitude_problems(sc.economics, sc.start, float(sc.duration))


def economics_magnitude_problems(e, start: _dt.date, horizon: float) -> list[tuple[str, str]]:
    """Problems of a schema-valid ``economics:`` block (an ``EconomicsConfig``) whose numbers overflow
    in a run from ``start`` over ``horizon`` seconds (what ``fleetsim reprice`` checks too)."""
    out: list[tuple[str, str]] = []
    for group in ("compute", "revenue", "agreements", "credits", "commits"):
        for i, block in enumerate(getattr(e, group, None) or []):
            out += _date_problem(f"economics.{group}.{i}.from", getattr(block, "from_", None))
            out += _date_problem(f"economics.{group}.{i}.until", getattr(block, "until", None))
            g = getattr(block, "growth_per_month", 0.0) or 0.0
            if _growth_overflows(g, horizon):
                out.append((f"economics.{group}.{i}.growth_per_month",
                            f"compounds past 1e304 within the run ({horizon / MONTH_S:.3g} months) (got {g:g})"))
    if e.training is not None:
        out += _date_problem("economics.training.from", e.training.from_)
        out += _date_problem("economics.training.until", e.training.until)
        if _growth_overflows(e.training.growth_per_month, horizon):
            out.append(("economics.training.growth_per_month",
                        f"compounds past 1e304 within the run (got {e.training.growth_per_month:g})"))
    # the end of the last year, as the duration's own check counts it (a run may end on 31 December of
    # LAST_YEAR); a horizon past it is said once, at duration, not again as each lag of 0 s
    last = _dt.datetime(LAST_YEAR + 1, 1, 1) - _dt.datetime.combine(start, _dt.time())
    room = last.total_seconds() - horizon
    for where, a in [*((f"agreements.{i}", a) for i, a in enumerate(e.agreements)),
                     *((f"commits.{i}", c) for i, c in enumerate(e.commits))]:
        if room >= 0 and a.payment_lag > room:
            out.append((f"economics.{where}.payment_lag",
                        f"moves cash after the year {LAST_YEAR} (got {a.payment_lag:g} s; at most "
                        f"{max(room, 0.0):.4g} s from start {start.isoformat()} and duration {horizon:g} s)"))
    return out
