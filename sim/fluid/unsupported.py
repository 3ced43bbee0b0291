"""What the fluid (coarse) tier cannot model: the scenario settings it refuses, each with the field and
what to use instead (``fidelity: request``). ``fleetsim validate`` and a sweep's checks say them before
any run (:mod:`sim.limits`), and :func:`sim.fluid.run.run_fluid` refuses them at its start.
"""
from __future__ import annotations

_WAITING_ROOM = ("a waiting room that refuses requests when full is not modelled by the fluid tier, whose backlog "
                 "is unbounded (use fidelity: request, or remove max_waiting)")
"""The router's and each pool's ``max_waiting``: the same limit, the same message."""


def refused(sc) -> list[tuple[str, str]]:
    """What the fluid tier cannot model in ``sc``, as ``(field, message)`` problems."""
    out = []
    if sc.fleet.router.policy == "spillover":
        out.append(("fleet.router", "spillover routing depends on each primary replica's queue moment by moment; "
                                    "the fluid tier does not model it (use fidelity: request, or router weighted "
                                    "with the share you expect to spill)"))
    if sc.fleet.router.batcher is not None:
        out.append(("fleet.router.batcher", "a request batcher's groups are not modelled by the fluid tier "
                                            "(use fidelity: request)"))
    if sc.fleet.disaggregated is not None:
        out.append(("fleet.disaggregated", "prefill/decode disaggregation is not modelled by the fluid tier "
                                           "(use fidelity: request)"))
    if sc.drain:
        out.append(("drain", "serving on after `duration` until every request has finished is not modelled by "
                             "the fluid tier, which ends the run at `duration` with its backlog counted in flight "
                             "(use fidelity: request, or drain: false)"))
    if sc.fleet.router.max_waiting is not None:
        out.append(("fleet.router.max_waiting", _WAITING_ROOM))
    for i, pool in enumerate(sc.fleet.pools):
        if pool.max_waiting is not None:
            out.append((f"fleet.pools.{i}.max_waiting", _WAITING_ROOM))
        if pool.failures is not None:
            out.append((f"fleet.pools.{i}.failures", "replica failures and repairs are not modelled by the fluid "
                                                     "tier, which would serve as if no replica ever failed (use "
                                                     "fidelity: request, or remove the failures block)"))
    return out


__all__ = ["refused"]
