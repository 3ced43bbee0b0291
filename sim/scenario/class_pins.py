"""Checks of ``fleet.router.classes``: request classes pinned to pools.

``fleet.router.classes: {class: pool | [pools]}`` lets a class's requests go only to its pools (the
router's policy chooses among those; a class not listed may go to any pool). A pin that can never
work is refused before the run, each problem at ``fleet.router.classes.<class>``:

* a class the workload does not have, a pool the fleet does not have, a pool named twice;
* a class every prompt of which is longer than the longest context its pools serve
  (``max_model_len``, or an ``sglang`` pool's shorter KV cache:
  :func:`~sim.scenario.pool_setup.served_context`), or whose pools all have ``replicas: 0`` and no autoscaler: every request of
  it would be rejected;
* under ``spillover``, a pool that is neither ``primary`` nor ``overflow`` (spillover sends nothing
  there); under ``weighted``, a class none of whose pools has a weight above 0;
* any pin under ``fleet.disaggregated``, where the router is not used (every request is prefilled
  in the prefill pool and decoded in the decode pool).

A pool no class may reach (every class pinned to other pools) is a warning (:func:`pin_warnings`):
legal, but billed for nothing.

>>> import yaml
>>> from sim.scenario.load import scenario_from_dict
>>> sc = scenario_from_dict(yaml.safe_load('''
... duration: 1h
... model: llama-3-8b
... workload: {arrival: {process: poisson, rate: 1}, prompt_tokens: {dist: fixed, value: 100},
...            output_tokens: {dist: fixed, value: 10}, classes: [{name: a, share: 1}]}
... fleet: {router: {classes: {a: x, b: y}}, pools: [{name: x, gpu: h100-sxm, replicas: 1}]}
... '''), check=False).scenario
>>> pin_problems(sc)
[('fleet.router.classes.b', "unknown class 'b'; allowed: a")]
"""
from __future__ import annotations

from sim.errors import clipped, given
from sim.scenario.catalog import get_model
from sim.scenario.pool_setup import pool_model, served_context_limit


def _names(kind: str, name: object, names: list[str]) -> str:
    return f"unknown {kind} {given(name)}; allowed: {', '.join(clipped(str(n)) for n in names)}"


def _context(sc, pool, plan) -> tuple[int, str] | None:
    """The longest context ``pool`` serves and what sets it (:func:`~sim.scenario.pool_setup.served_context`,
    with ``plan``, its memory plan, if made), None if its model has problems of its own (reported at the pool)."""
    try:
        model = get_model(pool_model(sc, pool))
    except Exception:       # an unknown or malformed model: the pool's own check names it
        return None
    return served_context_limit(pool, model, plan)


def pin_problems(sc, plans: dict | None = None) -> list[tuple[str, str]]:
    """Every problem of ``sc.fleet.router.classes`` (module docstring), as ``(field, message)``; ``plans``: the
    pools' memory plans the scenario's checks made (``{index: (pool, plan)}``), for what an ``sglang`` pool
    with a short cache serves."""
    from sim.workload import class_names
    from sim.workload.lengths import fewest_tokens

    router = sc.fleet.router
    if not router.classes:
        return []
    d = sc.fleet.disaggregated
    if d is not None:
        return [("fleet.router.classes", f"is not used under fleet.disaggregated: every request is prefilled in "
                                         f"{given(d.prefill_pool)} and decoded in {given(d.decode_pool)} whatever "
                                         f"its class; remove fleet.router.classes")]
    classes = class_names(sc.workload)
    pools = {p.name: p for p in sc.fleet.pools}
    plan_of = {pool.name: plan for pool, plan in (plans or {}).values()}
    problems: list[tuple[str, str]] = []
    for cls, pinned in router.classes.items():
        where = f"fleet.router.classes.{cls}"
        if cls not in classes:
            problems.append((where, _names("class", cls, classes)))
            continue
        bad = [p for p in pinned if p not in pools]
        problems.extend((where, _names("pool", p, list(pools))) for p in bad)
        twice = sorted({p for p in pinned if pinned.count(p) > 1})
        if twice:
            problems.append((where, f"names pool {given(twice[0])} twice"))
        if bad or twice:
            continue
        problems.extend(_policy_problems(router, where, pinned))
        if all(pools[p].replicas == 0 and pools[p].autoscale is None for p in pinned):
            problems.append((where, f"its pools ({', '.join(pinned)}) have replicas: 0 and no autoscale: every "
                                    f"request of class {given(cls)} would be rejected"))
        i = classes.index(cls)
        c = sc.workload.classes[i] if sc.workload.classes else None
        least = fewest_tokens((c.prompt_tokens if c is not None else None) or sc.workload.prompt_tokens)
        contexts = [_context(sc, pools[p], plan_of.get(p)) for p in pinned]
        longest, limit = max(contexts, key=lambda x: x[0]) if contexts and None not in contexts else (None, None)
        if least is not None and longest is not None and least > longest:
            problems.append((where, f"every prompt of class {given(cls)} is at least {least:,} tokens, longer than "
                                    f"the longest context its pools serve ({longest:,} tokens, {limit}): "
                                    f"every request of it would be rejected"))
    return problems


def pin_warnings(sc) -> list[tuple[str, str]]:
    """A pool no class may reach under ``fleet.router.classes`` (every class pinned elsewhere): it
    serves nothing and is billed all the same."""
    from sim.workload import class_names

    router = sc.fleet.router
    if not router.classes or sc.fleet.disaggregated is not None:
        return []
    pins = [router.pools_of(c) for c in class_names(sc.workload)]
    names = {pool.name for pool in sc.fleet.pools}
    if any(p is None or not set(p) <= names for p in pins):    # a free class, or a pin refused as it is
        return []
    reached = {name for p in pins for name in p}
    return [(f"fleet.pools.{i}", f"no class may reach pool {given(pool.name)} (fleet.router.classes pins every "
                                 f"class to other pools): it serves nothing and is billed all the same")
            for i, pool in enumerate(sc.fleet.pools) if pool.name not in reached]


def _policy_problems(router, where: str, pinned: list[str]) -> list[tuple[str, str]]:
    """A pinned pool the spillover router never sends to; pinned pools without weight under weighted."""
    if router.policy == "spillover" and router.primary is not None and router.overflow is not None:
        out = [p for p in pinned if p not in (router.primary, router.overflow)]
        if out:
            return [(where, f"pool {given(out[0])} gets no request under the spillover router, which sends to "
                            f"primary {given(router.primary)} and overflow {given(router.overflow)} only")]
    if router.policy == "weighted" and router.weights:
        if not any((router.weights.get(p) or 0) > 0 for p in pinned):
            return [(where, f"none of its pools ({', '.join(pinned)}) has a weight above 0 in fleet.router.weights: "
                            f"the weighted router would send the class nowhere")]
    return []


__all__ = ["pin_problems", "pin_warnings"]
