"""A plan that lets GPU types compete at one price per GPU-hour: its cost ranking counts GPUs alone (an
H200 at the H100's price), which a planner comparing GPU types rarely means. The note saying so is
printed by ``fleetsim plan`` (stderr), kept in ``plan.json`` (``one_price_note``) and shown on the plan's
report page.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any


def one_price_note(evaluated: Sequence[Mapping[str, Any]], knobs: Sequence[str]) -> str | None:
    """The note when the plan's one GPU knob (``fleet.pools.N.gpu``, alone) saw two GPU types or more, all
    at one price per GPU-hour in every configuration (read back from each one's ``cost.compute_usd`` over its
    ``gpu_hours.provisioned``; a price varied by a knob of its own is several); None otherwise.

        >>> rows = [{"fleet.pools.0.gpu": g, "cost.compute_usd.mean": 2.5 * n, "gpu_hours.provisioned.mean": n}
        ...         for g, n in (("h100-sxm", 4), ("h200-sxm", 3))]
        >>> one_price_note(rows, ["fleet.pools.0.gpu"]).split(":")[0]
        'every GPU type was priced at $2.50 per GPU-hour'
        >>> one_price_note(rows[:1], ["fleet.pools.0.gpu"]) is None
        True
    """
    gpu_knobs = [k for k in knobs if re.fullmatch(r"fleet\.pools\.\d+\.gpu", k)]
    if len(gpu_knobs) != 1:
        return None
    prices: dict[str, set[float]] = {}     # every price each GPU type was seen at (a price knob of its own: several)
    for r in evaluated:
        hours, cost = r.get("gpu_hours.provisioned.mean"), r.get("cost.compute_usd.mean")
        if isinstance(hours, (int, float)) and isinstance(cost, (int, float)) and hours > 0:
            prices.setdefault(str(r.get(gpu_knobs[0])), set()).add(round(cost / hours, 6))
    seen = set().union(*prices.values()) if prices else set()
    if len(prices) < 2 or len(seen) != 1:
        return None
    price = seen.pop()
    return (f"every GPU type was priced at ${price:,.2f} per GPU-hour: the cost ranking counts GPUs alone; to compare "
            f"GPU types at their own prices vary the price with the GPU, as one knob: --vary "
            f"\"{gpu_knobs[0]}&economics.gpu_hour_usd={','.join(f'{g}&PRICE' for g in sorted(prices))}\"")
