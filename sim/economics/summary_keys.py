"""The numeric keys of a run summary's money blocks, ``cost`` and ``cashflow``, as dotted names.

What :func:`sim.economics.evaluate` puts in :attr:`EconomicsResult.cost` and ``.cashflow``: fixed
keys, and sub-blocks keyed by a name the scenario gives (a pool, a pricing tier, a revenue line, a
workload class). :func:`money_key_problem` says why a dotted key can be none of them, so that a
misspelt ``--columns``/``--constraint``/``--objective`` is refused before any point runs; only a
run says whether a named one is there (a pool with no energy figure has no ``kwh_by_pool`` entry)
and whether its value is a number this time (``cashflow.irr`` is ``None`` when the cash never
changes sign).

    >>> money_key_problem("cost.compute_usd") is None, money_key_problem("cost.by_pool.main", pools=("main",))
    (True, None)
    >>> money_key_problem("cashflow.nett")
    'not a key of the summary block cashflow'
    >>> money_key_problem("cost.by_tier.cheap")
    "'cheap' is no pricing tier (the tiers: reserved, on_demand, spot)"
"""
from __future__ import annotations

import typing

from sim.scenario.economics import Tier

#: every pricing tier a pool's GPUs are billed under
TIERS: tuple[str, ...] = typing.get_args(Tier)

#: the fixed numeric keys of the ``cost`` block
COST_KEYS = frozenset({
    "compute_usd", "per_million_output_tokens", "per_million_tokens", "per_request", "gpu_hours_billed",
    "gpu_hours_provisioned", "gpu_hours_busy", "gpu_hours_unbilled", "gpu_hours_reserved_idle",
    "usd_per_gpu_hour_blended", "utilization", "utilization_billed",
    "utilization_adjusted_per_million_output_tokens", "utilization_adjusted_per_request", "requests",
    "input_tokens", "output_tokens", "training_usd", "credits_applied_usd",
    "energy.kwh", "energy.tco2e", "energy.pue", "energy.usd", "energy.kg_co2e_per_kwh",
    "compute_commit_shortfall_usd", "compute_with_commits_usd",
})
#: the fixed numeric keys of the ``cashflow`` block (some are ``None`` in a run that cannot tell them)
CASHFLOW_KEYS = frozenset({
    "revenue", "compute_cost", "revenue_share_paid", "revenue_share_received", "net", "training_cost",
    "credits_applied", "energy_cost", "sla_credits", "revenue_lost", "requests_lost", "credits_unused",
    "gross_margin", "gross_margin_pct", "revenue_share_net", "partner_revenue", "cash_net",
    "cash_revenue_share_net", "revenue_share_outstanding", "cash_net_after_all_lags", "opening_net",
    "receivables_end", "payables_end", "npv_usd", "discount_rate", "irr", "horizon_s",
    "chargeback.compute_cost_unallocated", "revenue_share_shortfall_paid", "revenue_share_shortfall_received",
    "compute_commit_shortfall",
})
#: keys of the money blocks that hold text (or a list), never a number, and what they hold
TEXT_KEYS = {"cashflow.currency": "the currency of every amount, USD",
             "cashflow.period": "the statement period, such as month",
             "cashflow.start": "the start, a date and time", "cashflow.end": "the end, a date and time",
             "cashflow.rounding": "none or cents", "cashflow.payback_period": "the statement period the cash turns positive in",
             "cashflow.payback_end": "the day the cash turns positive, a date",
             "cashflow.chargeback.by": "what compute cost is allocated by, such as tokens",
             "cashflow.sla_periods": "a list of the periods of each service level"}
#: the money metrics a text key's message offers instead
MONEY_EXAMPLES = ("cashflow.net", "cashflow.revenue", "cost.compute_usd", "cost.per_million_output_tokens")
#: the sub-blocks keyed by a name: their dotted key, what names their entries, and each entry's keys
#: (``()``: the entry is the number)
NAMED: dict[str, tuple[str, tuple[str, ...]]] = {
    "cost.by_tier": ("tier", ()), "cost.gpu_hours_billed_by_tier": ("tier", ()),
    "cashflow.compute_cost_by_tier": ("tier", ()),
    "cost.by_pool": ("pool", ()), "cost.energy.kwh_by_pool": ("pool", ()),
    "cost.energy.facility_watts_per_gpu_by_pool": ("pool", ()), "cost.energy.usd_by_pool": ("pool", ()),
    "cashflow.revenue_by_line": ("line", ()), "cashflow.partner_revenue_by_line": ("line", ()),
    "cashflow.revenue_lost_by_line": ("line", ()),
    "cashflow.chargeback.classes": ("class", ("revenue", "compute_cost", "gross_margin", "gross_margin_pct",
                                              "work")),
}


def money_key_problem(key: str, pools: tuple[str, ...] | None = None,
                      classes: tuple[str, ...] | None = None) -> str | None:
    """Why dotted ``key`` (``cost.…`` or ``cashflow.…``) can be no numeric key of a run's money blocks,
    or ``None`` when it may be one. Pool and class names are checked where given (``None``: the run
    decides; the classes ``()``: the one class ``default``); revenue line names are the run's."""
    block = key.split(".", 1)[0]
    rest = key[len(block) + 1:]
    if rest in (COST_KEYS if block == "cost" else CASHFLOW_KEYS):
        return None
    if key in TEXT_KEYS:
        return (f"{key} holds text ({TEXT_KEYS[key]}), not a number; a metric is a number such as "
                f"{', '.join(MONEY_EXAMPLES)}")
    for prefix, (what, leaves) in NAMED.items():
        if not key.startswith(prefix + "."):
            continue
        known = {"tier": TIERS, "pool": pools, "class": ("default",) if classes == () else classes}.get(what)
        name, leaf = named_part(key[len(prefix) + 1:], known)
        if known is not None and name not in known:
            whose = "the" if what == "tier" else "its"
            return f"{name!r} is no {_WORDS[what]} ({whose} {_PLURAL[what]}: {', '.join(known)})"
        if leaves and leaf not in leaves:
            return f"a {what}'s entry of {prefix} holds {', '.join(leaves)}" + (f" (got {leaf!r})" if leaf else "")
        if not leaves and leaf:
            return f"{prefix}.{name} is a number: it has no key {leaf!r}"
        return None
    return f"not a key of the summary block {block}"


def named_part(rest: str, names: tuple[str, ...] | None) -> tuple[str, str]:
    """``rest`` of a dotted key split after the name it starts with: the longest of ``names`` it begins
    with (a name may hold dots: a pool ``v1.5``), else its first part.

        >>> named_part("v1.5.load_factor", ("v1", "v1.5")), named_part("x.load_factor", ("v1.5",))
        (('v1.5', 'load_factor'), ('x', 'load_factor'))
    """
    for name in sorted(names or (), key=len, reverse=True):
        if rest == name or rest.startswith(name + "."):
            return name, rest[len(name) + 1:]
    name, _, after = rest.partition(".")
    return name, after


_PLURAL = {"tier": "tiers", "pool": "pools", "class": "classes"}
_WORDS = {"tier": "pricing tier", "pool": "pool of the scenario", "class": "workload class of the scenario"}
