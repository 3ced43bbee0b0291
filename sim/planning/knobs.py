"""Knobs: the scenario fields a sweep or a plan varies, parsed from ``path=values`` strings.

A knob names a scenario field by its dotted path (list items by index, as in ``--set``) and the
values to try. Values are YAML scalars, written comma-separated (a value in ``[...]`` or ``{...}``, a
YAML flow list or block such as a share's brackets, is one value, commas inside it included), or an
inclusive integer range ``lo..hi`` (whole numbers in digits, at most :data:`MAX_RANGE_VALUES` values;
anything else with ``..`` and a number, such as ``1..1e9`` or ``1..4,8``, is a :class:`KnobError`
saying so)::

    >>> parse_knob("fleet.pools.0.replicas=4,8,16").values
    ('4', '8', '16')
    >>> k = parse_knob("fleet.pools.0.replicas=1..64")
    >>> (k.is_range, k.low, k.high, len(k.values))
    (True, 1, 64, 64)

A *joint* knob moves several fields together — a GPU type with its price, say. Paths and the
parts of each value are joined with ``&``::

    >>> j = parse_knob("fleet.pools.0.gpu&economics.gpu_hour_usd=h100-sxm&2.69,a100-80gb&1.80")
    >>> j.overrides(j.values[1])
    ('fleet.pools.0.gpu=a100-80gb', 'economics.gpu_hour_usd=1.80')

A *configuration* is one choice of value per knob, expressed as override strings
(``"fleet.pools.0.replicas=8"``) that :func:`sim.scenario.apply_overrides` understands.
"""
from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from sim.errors import given

_RANGE_RE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")
_RANGE_LIKE_RE = re.compile(r"^\s*(.*?)\s*\.\.\s*(.*?)\s*$", re.DOTALL)
_COLON_RANGE_RE = re.compile(r"^\s*-?\d+\s*:\s*-?\d+(\s*:\s*-?\d+)?\s*$")
_DASH_RANGE_RE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_NUMBER_RE = re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$")
MAX_RANGE_VALUES = 1_000_000
"""The most values an integer range ``lo..hi`` may hold."""
FORMS = ("comma-separated values such as 4,8,16, or an inclusive range of whole numbers LOW..HIGH "
         "such as 1..64")
"""The allowed forms of a knob's values, as error messages spell them."""
JOINT_FORMS = "comma-separated values with one part per field joined by '&', such as h100-sxm&6.16,a100-80gb&2.70"
"""The allowed form of a joint knob's values."""


class KnobError(ValueError):
    """A malformed ``path=values`` specification (message says what is allowed and what was got)."""


@dataclass(frozen=True, slots=True)
class Knob:
    """One varied field (or several moved together): dotted ``paths`` and the raw YAML-scalar
    ``values`` to try, in order (``&``-joined parts for a joint knob).

    ``is_range`` marks an inclusive integer range ``low..high`` (bisection-capable in ``plan``).
    """

    paths: tuple[str, ...]
    values: tuple[str, ...]
    is_range: bool = False
    low: int | None = None
    high: int | None = None

    @property
    def path(self) -> str:
        """The (first) field path: the column a figure puts on its x axis."""
        return self.paths[0]

    def override(self, value: str | int) -> str:
        """The override string of a single-path knob."""
        return f"{self.path}={value}"

    def overrides(self, value: str | int) -> tuple[str, ...]:
        """Override strings setting every path of this knob to its part of ``value``."""
        if len(self.paths) == 1:
            return (f"{self.path}={value}",)
        return tuple(f"{p}={v}" for p, v in zip(self.paths, str(value).split("&")))


def scalar(text: str) -> Any:
    """A raw value as YAML reads it (``"8"`` → 8, ``"h100-sxm"`` → ``"h100-sxm"``)."""
    from sim.scenario.safe_yaml import load_yaml

    try:
        return load_yaml(text)      # within the loader's alias and nesting limits
    except (yaml.YAMLError, ValueError, RecursionError):
        return text


def parse_knob(spec: str) -> Knob:
    """Parse ``path=v1,v2,...``, ``path=lo..hi`` (inclusive integer range) or a joint knob
    ``path1&path2=a1&a2,b1&b2``."""
    if "=" not in spec:
        raise KnobError(f"expected PATH=VALUES such as fleet.pools.0.replicas=4,8,16 (got {spec!r})")
    lhs, _, rhs = spec.partition("=")
    paths = tuple(p.strip() for p in lhs.split("&"))
    path = "&".join(paths)
    if any(not p or any(not part for part in p.split(".")) for p in paths):
        raise KnobError(f"expected a dotted field path before '=' (got {spec!r})")
    if len(set(paths)) != len(paths):
        raise KnobError(f"{path}: a joint knob names each field once (got {lhs!r})")
    m = _RANGE_RE.match(rhs)
    if m and len(paths) == 1:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise KnobError(f"{path}: range must have LOW <= HIGH (got {lo}..{hi}); allowed: {FORMS}")
        if hi - lo + 1 > MAX_RANGE_VALUES:
            raise KnobError(f"{path}: range {lo}..{hi} holds {hi - lo + 1:,} values; at most "
                            f"{MAX_RANGE_VALUES:,} (a sweep runs every value)")
        return Knob(paths, tuple(str(v) for v in range(lo, hi + 1)), True, lo, hi)
    forms = JOINT_FORMS if len(paths) > 1 else FORMS
    values = tuple(v.strip() for v in split_values(rhs, path))
    if not rhs.strip() or any(v == "" for v in values):
        raise KnobError(f"{path}: expected {forms} (got {rhs!r})")
    for v in values:
        why = _bad_range(v, joint=len(paths) > 1, alone=len(values) == 1)
        if why:
            raise KnobError(f"{path}: malformed range {v!r}: {why}; allowed: {forms}")
    _check_distinct(path, values, rhs)
    if len(paths) > 1:
        bad = [v for v in values if len(v.split("&")) != len(paths) or "" in v.split("&")]
        if bad:
            raise KnobError(f"{path}: each value needs {len(paths)} parts joined by '&' "
                            f"(got {', '.join(repr(b) for b in bad)})")
    return Knob(paths, values)


def _check_distinct(path: str, values: Sequence[str], rhs: str) -> None:
    """A :class:`KnobError` when two of a knob's values are one value (``1`` and ``1.0``; a value written
    twice): the same run, twice. (One written in other units, ``60`` and ``1m``, is found by loading the
    scenario: :func:`sim.planning.same_value.check_spellings`.)"""
    if len(set(values)) != len(values):
        raise KnobError(f"{path}: values must be distinct (got {rhs!r})")
    seen: dict[tuple, str] = {}
    for v in values:        # 1 and 1.0, 01 or 2.0e0 are one value written twice: the same run, twice
        key = tuple(_value_key(part) for part in v.split("&"))
        if key in seen:
            raise KnobError(f"{path}: values must be distinct: {seen[key]!r} and {v!r} are the same value "
                            f"(got {rhs!r})")
        seen[key] = v


def split_values(rhs: str, path: str = "") -> list[str]:
    """A knob's values, split at the commas between them; a value that starts with ``[`` or ``{`` (a
    YAML flow list or block, which no plain value starts with) is kept whole up to its closing bracket,
    commas inside it included, so that a list of brackets is one value.

        >>> split_values("0.2,[{up_to_usd: 1.0e9, rate: 0.2}, {rate: 0.15}]")
        ['0.2', '[{up_to_usd: 1.0e9, rate: 0.2}, {rate: 0.15}]']
        >>> split_values("4,8,16"), split_values("h100-sxm&[1, 2],a100&3"), split_values("a[1,2]")
        (['4', '8', '16'], ['h100-sxm&[1, 2]', 'a100&3'], ['a[1', '2]'])
    """
    values, part, depth, quote, start = [], [], 0, "", True
    for ch in rhs:
        if depth:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
            part.append(ch)
            continue
        if ch == ",":
            values.append("".join(part))
            part, start = [], True
            continue
        if start and ch in "[{":
            depth = 1
        part.append(ch)
        if not ch.isspace():
            start = ch == "&"
    if depth:
        raise KnobError(f"{path}: a value starting with '[' or '{{' is a YAML flow list or block and needs its "
                        f"closing bracket (got {rhs!r}); a list of brackets is written whole, such as "
                        f"economics.agreements.0.rate=0.2,[{{up_to_usd: 1.0e9, rate: 0.2}}, {{rate: 0.15}}]")
    values.append("".join(part))
    return values


def _bad_range(value: str, joint: bool, alone: bool) -> str | None:
    """What is wrong with ``value`` if it is meant as a range ``LOW..HIGH`` that is not one; ``None``
    for a plain value. A value counts as a range attempt when it has ``..`` with a number on one
    side (so that a value such as ``../traces/a.csv`` stays a value)."""
    if _COLON_RANGE_RE.match(value):
        return "a range is written with two dots, LOW..HIGH, not LOW:HIGH"
    dash = _DASH_RANGE_RE.match(value)
    if dash and alone and not joint and int(dash.group(1)) < int(dash.group(2)):    # 1-16, not a value 2024-01
        return f"a range is written with two dots, {dash.group(1)}..{dash.group(2)}, not LOW-HIGH"
    m = _RANGE_LIKE_RE.match(value)
    if not m:
        return None
    lo, hi = m.group(1), m.group(2)
    if not (_NUMBER_RE.match(lo) or _NUMBER_RE.match(hi)):
        return _duration_range(lo, hi) if alone and not joint else None
    if joint:
        return "a joint knob takes listed values only (no ranges)"
    if not alone:
        return "a range cannot be mixed with listed values"
    if value.count("..") > 1 or "..." in value:
        return "LOW and HIGH are separated by exactly two dots"
    wrong = [f"{name} is {text!r}" if text else f"{name} is missing" for name, text in (("LOW", lo), ("HIGH", hi))
             if not re.fullmatch(r"-?\d+", text)]
    return f"LOW and HIGH must be whole numbers written in digits ({', '.join(wrong)})"


def _duration_range(lo: str, hi: str) -> str | None:
    """For a range of durations with units (``1m..5m``, read as one value that is no duration), the values
    to list instead; ``None`` when ``lo`` and ``hi`` are no durations (``../traces/a.csv`` is a value).

        >>> _duration_range("1m", "5m"), _duration_range("", "/traces/a.csv")
        ('a range LOW..HIGH is of whole numbers, not durations: list the durations to try, such as 1m,5m', None)
    """
    from sim.scenario.durations import parse_duration

    try:
        parse_duration(lo), parse_duration(hi)
    except ValueError:
        return None
    return f"a range LOW..HIGH is of whole numbers, not durations: list the durations to try, such as {lo},{hi}"


def parse_knobs(specs: Iterable[str] | Mapping[str, Sequence[Any]], name: str = "grid") -> list[Knob]:
    """Knobs from CLI strings or from a ``{path: [values]}`` mapping (Python API).

    A mapping value may also be a ``range`` (becomes an integer range knob) or a ``"lo..hi"`` string.
    ``name``: the Python argument they came in (``grid``, ``vary``), named when they are neither: one
    text on its own (iterated, ``"seed=1,2"`` was the knobs ``s``, ``e``, ...), ``None`` or an item that
    is no text, a :class:`TypeError`.
    """
    knobs: list[Knob] = []
    if isinstance(specs, Mapping):
        for key, vals in specs.items():
            path = "&".join(key) if isinstance(key, tuple) else str(key)
            if isinstance(vals, range) and vals.step == 1 and len(vals) > 0:
                knobs.append(parse_knob(f"{path}={vals.start}..{vals.stop - 1}"))
            elif isinstance(vals, str):
                knobs.append(parse_knob(f"{path}={vals}"))
            else:
                # a mapping iterated is its keys ({process: poisson, rate: 3} became the values 'process'
                # and 'rate'), and a number is no list: both refused, naming the path
                if isinstance(vals, (Mapping, bytes)) or not isinstance(vals, Iterable):
                    raise KnobError(f"{path}: expected a list of values such as [4, 8, 16], a range or 'LOW..HIGH'; "
                                    f"a single value is a list of one, [{_to_yaml(vals)}] (got {given(vals)})")
                vals = list(vals)
                if not vals:
                    raise KnobError(f"{path}: expected at least one value (got none)")
                texts = ["&".join(_to_yaml(x) for x in v) if isinstance(key, tuple) else _to_yaml(v)
                         for v in vals]
                if isinstance(key, tuple):
                    knobs.append(parse_knob(f"{path}={','.join(texts)}"))
                else:       # ({"seed": [1, 1]} ran the same point twice)
                    _check_distinct(path, texts, ",".join(texts))
                    knobs.append(Knob((path,), tuple(texts)))
    else:
        texts = list(specs) if isinstance(specs, Iterable) and not isinstance(specs, (str, bytes)) else None
        if texts is None or any(not isinstance(spec, str) for spec in texts):
            raise TypeError(f"{name}: give a list of texts such as ['fleet.pools.0.replicas=1,2,4'] or a mapping "
                            f"such as {{'fleet.pools.0.replicas': [1, 2, 4]}} (got {given(specs)}, of type "
                            f"{type(specs).__name__})")
        knobs = [parse_knob(s) for s in texts]
    paths = [p for k in knobs for p in k.paths]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise KnobError(f"each field may be varied once (got {', '.join(dupes)} more than once)")
    return knobs


def columns(knobs: Sequence[Knob]) -> list[str]:
    """Every field path the knobs set, in order (the knob columns of a table)."""
    return [p for k in knobs for p in k.paths]


def value_labels(knob: Knob) -> list[Any]:
    """The knob's values as YAML reads them (lists of parts for a joint knob)."""
    if len(knob.paths) == 1:
        return [scalar(v) for v in knob.values]
    return [[scalar(x) for x in v.split("&")] for v in knob.values]


def _value_key(text: str) -> tuple:
    """What a knob's value ``text`` sets, as a key equal for two texts that set the same value: numbers by
    their value (YAML reads ``2.0e0`` as text, which a number field takes as 2), the rest as read.

        >>> _value_key("1") == _value_key("1.0") == _value_key("01") == _value_key("1e0"), _value_key("true") == _value_key("1")
        (True, False)
    """
    from sim.scenario.overrides import parse_value

    try:
        value = parse_value(text.strip())
    except Exception:       # a tag the run refuses: the text itself
        return ("text", text.strip())
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, str):
        try:
            return ("number", float(value))
        except ValueError:
            return ("text", value)
    return ("other", json.dumps(value, sort_keys=True, default=str))


def _to_yaml(value: Any) -> str:
    """A Python value of a grid as the override text that sets it. A text is YAML as on the command line
    (``"30m"``, ``"[1, 2]"``), except one YAML refuses or reads short (``"[draft]v2"``, ``"run #2"``): from
    Python that is the words, quoted here, not an error telling a Python caller to quote it for a shell.

        >>> _to_yaml("30m"), _to_yaml("[draft]v2"), _to_yaml(4)
        ('30m', '"[draft]v2"', '4')
    """
    if isinstance(value, str):
        from sim.scenario.overrides import ValueProblem, parse_value

        try:
            parse_value(value)
        except ValueProblem:
            return json.dumps(value, ensure_ascii=False)
        except Exception:       # a tag: refused by the run, naming it
            pass
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        value = value.tolist()    # a numpy number or array (np.arange, np.linspace): its Python value
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()


def configurations(knobs: Sequence[Knob]) -> list[tuple[str, ...]]:
    """Cartesian product of knob values as override tuples; the first knob varies slowest.

        >>> configurations([parse_knob("a=1,2"), parse_knob("b=x,y")])
        [('a=1', 'b=x'), ('a=1', 'b=y'), ('a=2', 'b=x'), ('a=2', 'b=y')]
    """
    if not knobs:
        return [()]
    return [tuple(o for k, v in zip(knobs, combo) for o in k.overrides(v))
            for combo in itertools.product(*(k.values for k in knobs))]


def labels(overrides: Sequence[str]) -> dict[str, Any]:
    """``{path: value}`` of a configuration's overrides, values read as YAML scalars."""
    out: dict[str, Any] = {}
    for o in overrides:
        path, _, raw = o.partition("=")
        out[path] = scalar(raw)
    return out
