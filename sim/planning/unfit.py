"""The groups of a plan whose layout cannot hold the model: skipped, and said, rather than refusing the plan.

A plan over ``--vary fleet.pools.0.tensor_parallel=1,2,4 --vary fleet.pools.0.replicas=1..16`` of a 70B
model has a group (one GPU per replica) whose weights do not fit a GPU at any replica count. The
scenario's checks refuse such a configuration (:mod:`sim.scenario.pool_checks`: the weights and reserve
exceed a GPU, or the KV cache holds less than one sequence of ``max_model_len``); the plan used to stop
there, naming the configuration its bisection tried first (``replicas=16``), though the other layouts
could answer. :func:`unfit_groups` checks each group before the search, at the lowest and the highest
value of the bisected knob: a group refused at both for not holding the model, and for nothing else,
is skipped (the plan answers from the others and says which it skipped and why); when every group is,
the plan is refused with those reasons, said of the group (``whatever fleet.pools.0.replicas`` when the
two ends were refused alike, as a replica count never changes what one replica holds). A configuration
refused for anything else (an unknown GPU, a typo) still refuses the plan as before.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sim.errors import ScenarioError, clipped
from sim.planning.knobs import Knob

#: what the scenario's memory checks say of a layout that cannot hold the model (sim.perf.memory's
#: MemoryPlan.reason, and pool_checks' KV cache shorter than one sequence)
CANNOT_HOLD = (" does not fit on ", "fewer than one sequence of max_model_len")


def cannot_hold(message: str) -> bool:
    """Whether a scenario problem says a pool's layout cannot hold the model (:data:`CANNOT_HOLD`).

        >>> cannot_hold("llama-3-70b does not fit on 1x h100-sxm: weights 131.4 GiB ..."), cannot_hold("unknown GPU 'h1'")
        (True, False)
    """
    return any(words in message for words in CANNOT_HOLD)


def unfit_groups(groups: Sequence[tuple[str, ...]], mono: Knob | None,
                 config: Callable[[tuple[str, ...], int], tuple[str, ...]],
                 refused: Callable[[list[tuple[str, ...]]], dict[tuple[str, ...], ScenarioError]],
                 source: str) -> list[dict[str, Any]]:
    """The groups (of the enumerated knobs) whose layout cannot hold the model, each as ``{"group":
    overrides, "problems": [[field, message], ...], "reason": one line}``. ``config(group, value)`` is the
    group's configuration at the bisected knob's ``value`` (``mono``; None: each group is a whole
    configuration); ``refused(configs)`` the problems of each configuration the scenario's checks refuse.
    Raises :class:`ScenarioError` (said of ``source``) when every group cannot."""
    ends = [(g, [config(g, v) for v in dict.fromkeys((mono.low, mono.high))] if mono is not None else [g])
            for g in groups]
    problems = refused([c for _, cs in ends for c in cs])
    out = []
    for g, cs in ends:
        errs = [problems.get(c) for c in cs]
        if any(e is None for e in errs) or not all(cannot_hold(m) for e in errs for _, m in e.problems):
            continue
        alike = all(e.problems == errs[0].problems for e in errs)
        parts = [clipped(o, 120) for o in g]
        if mono is not None:
            parts.append(f"whatever {mono.path}" if alike else f"{mono.path}={mono.high}")
        where = f" ({'with ' if g else ''}{', '.join(parts)})" if parts else ""
        out.append({"group": list(g), "problems": [[p, m] for p, m in errs[-1].problems],
                    "reason": "; ".join(f"{p}: {m}" if p else m for p, m in errs[-1].problems), "where": where})
    if out and len(out) == len(groups):
        raise ScenarioError([(p, m + s["where"]) for s in out for p, m in s["problems"]], source)
    for s in out:
        del s["where"]
    return out
