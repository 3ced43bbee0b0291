"""The scenario settings only one tier reads, as ``fleetsim compare`` says them: the ``fluid`` block (its step,
capacity-curve grid and calibration, its readings' noise) is read by the fluid tier alone; a request-level run's
scenario holds its defaults, but the run never reads them. Beside a fluid-tier folder, a request-level folder's
value of such a setting is :class:`NotRead` (shown ``not read (fluid tier only)``, its value kept for ``--json``);
a setting that differs only between folders that do not read it is no difference a run saw (:func:`unread`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NotRead:
    """A folder's value of a setting that only the other tier reads (``fluid.step`` in a request-level run):
    its scenario holds ``value``, but its run never read it."""

    value: Any
    #: the tier that reads the setting, in words
    reader: str = "fluid tier"

    def __repr__(self) -> str:
        return f"NotRead({self.value!r})"


#: the scenario blocks only the fluid tier reads (its step, capacity curves and their noise): a request-level
#: run holds their defaults but never reads them
FLUID_ONLY = ("fluid",)


def fluid_only(key: str) -> bool:
    """Whether the scenario setting ``key`` (dotted) is read by the fluid tier alone.

        >>> fluid_only("fluid.step"), fluid_only("fluid"), fluid_only("fidelity"), fluid_only("fluidity")
        (True, True, False, False)
    """
    return any(key == b or key.startswith(b + ".") for b in FLUID_ONLY)


def unread(diff: list[tuple[str, list[Any]]], runs: Sequence[Any]) -> tuple[list, list[str]]:
    """``diff`` (key, one value per run; ``runs``: each with its ``summary``) with each request-level folder's value of a setting only the fluid tier reads as
    :class:`NotRead`; a setting that differs only between folders that do not read it is no difference
    a run saw: left out, and named in the second list.

        >>> class R:
        ...     def __init__(self, engine): self.summary = {"engine": engine}
        >>> unread([("fluid.step", [3600.0, 1800.0]), ("seed", [1, 2])], [R("fast"), R("fluid")])
        ([('fluid.step', [NotRead(3600.0), 1800.0]), ('seed', [1, 2])], [])
        >>> unread([("fluid.step", [3600.0, 1800.0])], [R("fast"), R("reference")])
        ([], ['fluid.step'])
    """
    fluid = [r.summary.get("engine") == "fluid" for r in runs]
    kept, unseen = [], []
    for key, values in diff:
        if not fluid_only(key) or all(fluid):
            kept.append((key, values))
        elif any(fluid):
            kept.append((key, [v if f else NotRead(v) for v, f in zip(values, fluid)]))
        else:
            unseen.append(key)
    return kept, unseen
