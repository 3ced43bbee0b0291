"""Knobs: the scenario fields a sweep or a plan varies, parsed from ``path=values`` strings.

A knob names a scenario field by its dotted path (list items by index, as in ``--set``) and the
values to try. Values are YAML scalars, written comma-separated, or an inclusive integer range
``lo..hi``::

    >>> parse_knob("fleet.pools.0.replicas=4,8,16").values
    ('4', '8', '16')
    >>> k = parse_knob("fleet.pools.0.replicas=1..64")
    >>> (k.is_range, k.low, k.high, len(k.values))
    (True, 1, 64, 64)

A *configuration* is one choice of value per knob, expressed as override strings
(``"fleet.pools.0.replicas=8"``) that :func:`sim.scenario.apply_overrides` understands.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

_RANGE_RE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


class KnobError(ValueError):
    """A malformed ``path=values`` specification (message says what is allowed and what was got)."""


@dataclass(frozen=True, slots=True)
class Knob:
    """One varied field: dotted ``path`` and the raw YAML-scalar ``values`` to try, in order.

    ``is_range`` marks an inclusive integer range ``low..high`` (bisection-capable in ``plan``).
    """

    path: str
    values: tuple[str, ...]
    is_range: bool = False
    low: int | None = None
    high: int | None = None

    def override(self, value: str | int) -> str:
        return f"{self.path}={value}"


def scalar(text: str) -> Any:
    """A raw value as YAML reads it (``"8"`` → 8, ``"h100-sxm"`` → ``"h100-sxm"``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_knob(spec: str) -> Knob:
    """Parse ``path=v1,v2,...`` or ``path=lo..hi`` (inclusive integer range)."""
    if "=" not in spec:
        raise KnobError(f"expected PATH=VALUES such as fleet.pools.0.replicas=4,8,16 (got {spec!r})")
    path, _, rhs = spec.partition("=")
    path = path.strip()
    if not path or any(not part for part in path.split(".")):
        raise KnobError(f"expected a dotted field path before '=' (got {spec!r})")
    m = _RANGE_RE.match(rhs)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise KnobError(f"{path}: range must have low <= high (got {lo}..{hi})")
        return Knob(path, tuple(str(v) for v in range(lo, hi + 1)), True, lo, hi)
    values = tuple(v.strip() for v in rhs.split(","))
    if not rhs.strip() or any(v == "" for v in values):
        raise KnobError(f"{path}: expected comma-separated values or LOW..HIGH (got {rhs!r})")
    if len(set(values)) != len(values):
        raise KnobError(f"{path}: values must be distinct (got {rhs!r})")
    return Knob(path, values)


def parse_knobs(specs: Iterable[str] | Mapping[str, Sequence[Any]]) -> list[Knob]:
    """Knobs from CLI strings or from a ``{path: [values]}`` mapping (Python API).

    A mapping value may also be a ``range`` (becomes an integer range knob) or a ``"lo..hi"`` string.
    """
    knobs: list[Knob] = []
    if isinstance(specs, Mapping):
        for path, vals in specs.items():
            if isinstance(vals, range) and vals.step == 1 and len(vals) > 0:
                knobs.append(parse_knob(f"{path}={vals.start}..{vals.stop - 1}"))
            elif isinstance(vals, str):
                knobs.append(parse_knob(f"{path}={vals}"))
            else:
                vals = list(vals)
                if not vals:
                    raise KnobError(f"{path}: expected at least one value (got none)")
                knobs.append(Knob(path, tuple(_to_yaml(v) for v in vals)))
    else:
        knobs = [parse_knob(s) for s in specs]
    paths = [k.path for k in knobs]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise KnobError(f"each field may be varied once (got {', '.join(dupes)} more than once)")
    return knobs


def _to_yaml(value: Any) -> str:
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()


def configurations(knobs: Sequence[Knob]) -> list[tuple[str, ...]]:
    """Cartesian product of knob values as override tuples; the first knob varies slowest.

        >>> configurations([parse_knob("a=1,2"), parse_knob("b=x,y")])
        [('a=1', 'b=x'), ('a=1', 'b=y'), ('a=2', 'b=x'), ('a=2', 'b=y')]
    """
    if not knobs:
        return [()]
    return [tuple(k.override(v) for k, v in zip(knobs, combo))
            for combo in itertools.product(*(k.values for k in knobs))]


def labels(overrides: Sequence[str]) -> dict[str, Any]:
    """``{path: value}`` of a configuration's overrides, values read as YAML scalars."""
    out: dict[str, Any] = {}
    for o in overrides:
        path, _, raw = o.partition("=")
        out[path] = scalar(raw)
    return out
