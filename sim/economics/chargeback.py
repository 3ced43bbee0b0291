"""Per-tenant chargeback: revenue, allocated compute cost and margin per workload class and period.

Each statement period's compute cost (gross of credits, reserved idle time included) is split
among the workload classes in proportion to the work each was served in that period, measured by
``chargeback_by``:

* ``tokens`` (default): input + output tokens of the completed requests (x their weight);
* ``output_tokens``: output tokens only (decode-bound fleets);
* ``requests``: completed requests.

A period with no served work keeps its cost unallocated. A class's revenue is what its requests
earned on the provider's token-priced lines; flat monthly lines belong to no class. GPU-seconds
are not offered as a key: a batch iteration serves several classes at once, and the engine does
not split busy time among them, so any split would itself be a token or request proxy.

>>> round(allocate(90.0, {"a": 2.0, "b": 1.0})["a"], 9)
60.0
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sim.economics.calendar import period_floor
from sim.economics.timeline import Timeline
from sim.economics.usage import Usage


def allocate(cost_usd: float, work: Mapping[str, float]) -> dict[str, float]:
    """``cost_usd`` split in proportion to ``work`` (all zero: nothing allocated)."""
    total = float(sum(work.values()))
    return {k: (cost_usd * w / total if total > 0 else 0.0) for k, w in work.items()}


def _work(usage: Usage, by: str) -> np.ndarray:
    w = np.asarray(usage.weight, dtype=float)
    if by == "requests":
        return w
    out = w * usage.output_tokens
    return out + w * usage.input_tokens if by == "tokens" else out


def add_chargeback(rows: Sequence[dict], usage: Usage, tl: Timeline, period: str, by: str,
                   request_usd: np.ndarray, compute_by_segment_usd: np.ndarray, columns: bool) -> dict:
    """The summary block ``{class: {revenue, compute_cost, gross_margin, gross_margin_pct, work}}``
    plus ``unallocated`` compute; with ``columns``, also add per class
    ``class_<name>_{revenue,compute,margin}_usd`` and ``class_unallocated_compute_usd`` to every
    statement row (zero in rows after the horizon)."""
    names = list(usage.class_names)
    seg = tl.index(usage.completion_s)
    work = _work(usage, by)
    cal = tl.calendar
    key = [period_floor(cal.date_at(float(s)), period).isoformat() for s in tl.starts_s]
    per_class_rev = {k: np.bincount(seg[usage.cls == i], weights=request_usd[usage.cls == i], minlength=tl.n)
                     for i, k in enumerate(names)}
    per_class_work = {k: np.bincount(seg[usage.cls == i], weights=work[usage.cls == i], minlength=tl.n)
                      for i, k in enumerate(names)}
    periods: dict[str, list[int]] = {}
    for i, k in enumerate(key):
        periods.setdefault(k, []).append(i)
    by_period: dict[str, dict] = {}
    totals = {k: {"revenue": 0.0, "compute_cost": 0.0, "work": 0.0} for k in names}
    unallocated = 0.0
    for p0, idx in periods.items():
        cost = float(compute_by_segment_usd[idx].sum())
        w = {k: float(per_class_work[k][idx].sum()) for k in names}
        alloc = allocate(cost, w)
        left = cost if sum(w.values()) <= 0 else 0.0
        unallocated += left
        by_period[p0] = {"alloc": alloc, "left": left,
                         "rev": {k: float(per_class_rev[k][idx].sum()) for k in names}}
        for k in names:
            totals[k]["revenue"] += by_period[p0]["rev"][k]
            totals[k]["compute_cost"] += alloc[k]
            totals[k]["work"] += w[k]
    if columns:
        for r in rows:
            got = None if r["after_horizon"] else by_period.get(r["start"])
            for k in names:
                rev = got["rev"][k] if got else 0.0
                cost = got["alloc"][k] if got else 0.0
                r[f"class_{k}_revenue_usd"] = rev
                r[f"class_{k}_compute_usd"] = cost
                r[f"class_{k}_margin_usd"] = rev - cost
            r["class_unallocated_compute_usd"] = got["left"] if got else 0.0
    out: dict = {}
    for k, t in totals.items():
        margin = t["revenue"] - t["compute_cost"]
        out[k] = {"revenue": t["revenue"], "compute_cost": t["compute_cost"], "gross_margin": margin,
                  "gross_margin_pct": margin / t["revenue"] if t["revenue"] > 0 else None, "work": t["work"]}
    return {"by": by, "classes": out, "compute_cost_unallocated": unallocated}
