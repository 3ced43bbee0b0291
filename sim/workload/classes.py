"""Request classes (tenants): names, priorities, SLOs and revenue lines, in declaration order.

A request's ``class_idx`` indexes :func:`class_names`. Without ``workload.classes`` there is one
class, ``"default"`` (priority 0, no SLO, no revenue line).

>>> from sim.scenario.workload import WorkloadConfig
>>> class_names(WorkloadConfig(arrival={"process": "poisson", "rate": 1}))
['default']
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.scenario.workload import WorkloadConfig

DEFAULT_CLASS = "default"


@dataclass(frozen=True)
class ClassSpec:
    """What the serving side needs to know about a class. ``priority``: higher is served first."""

    name: str
    priority: int = 0
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    revenue_line: str | None = None
    shared_prefix_tokens: int = 0


def class_names(cfg: WorkloadConfig) -> list[str]:
    """Class names in ``class_idx`` order; ``["default"]`` without classes."""
    return [c.name for c in cfg.classes] or [DEFAULT_CLASS]


def classes(cfg: WorkloadConfig) -> list[ClassSpec]:
    """One :class:`ClassSpec` per class, in ``class_idx`` order."""
    if not cfg.classes:
        return [ClassSpec(DEFAULT_CLASS, shared_prefix_tokens=cfg.shared_prefix_tokens)]
    return [ClassSpec(name=c.name, priority=c.priority,
                      slo_ttft_s=c.slo.ttft_s if c.slo else None,
                      slo_tpot_s=c.slo.tpot_s if c.slo else None,
                      revenue_line=c.revenue_line,
                      shared_prefix_tokens=class_prefix(c, cfg)) for c in cfg.classes]


def class_prefix(c, cfg: WorkloadConfig) -> int:
    """The shared prefix of class ``c``: its own when given (0 too: none, whatever the workload's),
    else the workload's. (A class's 0 took the workload's prefix.)"""
    return c.shared_prefix_tokens if c.shared_prefix_tokens is not None else cfg.shared_prefix_tokens


__all__ = ["ClassSpec", "DEFAULT_CLASS", "class_names", "class_prefix", "classes"]
