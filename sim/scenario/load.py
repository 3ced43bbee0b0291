"""Load a scenario file (YAML or TOML), apply ``--set a.b.c=value`` overrides, validate it.

Every problem is collected and reported at once as ``file: field.path: message``::

    >>> apply_overrides({"fleet": {"pools": [{"replicas": 4}]}}, ["fleet.pools.0.replicas=8"])
    {'fleet': {'pools': [{'replicas': 8}]}}
"""
from __future__ import annotations

import copy
import reprlib
import tomllib
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import ScenarioError
from sim.scenario.safe_yaml import TextLimitError, load_toml, load_yaml, read_text
from sim.scenario.schema import Scenario


class LoadedScenario:
    """A validated :class:`Scenario` plus where it came from (for relative paths and messages)."""

    __slots__ = ("scenario", "source", "base_dir", "raw")

    def __init__(self, scenario: Scenario, source: str, base_dir: Path, raw: dict) -> None:
        self.scenario = scenario
        self.source = source
        self.base_dir = base_dir
        self.raw = raw


# ------------------------------------------------------------------------------ reading files
def read_file(path: str | Path) -> dict:
    """The raw mapping in a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file.

    Read within the limits of :mod:`sim.scenario.safe_yaml` (regular files only, alias budget,
    nesting depth, duplicate keys).
    """
    p = Path(path)
    src = str(path)
    if not p.exists():
        raise ScenarioError([("", "file not found")], src)
    try:
        text = read_text(p)
    except TextLimitError as exc:
        raise ScenarioError([("", str(exc))], src) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([("", f"cannot read file: {getattr(exc, 'strerror', None) or exc}")], src) from None
    toml = p.suffix.lower() == ".toml"
    try:
        data = load_toml(text) if toml else load_yaml(text)
    except TextLimitError as exc:
        raise ScenarioError([("", str(exc))], src) from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, OverflowError, RecursionError) as exc:
        msg = str(exc).replace("\n", " ")
        raise ScenarioError([("", f"not valid {'TOML' if toml else 'YAML'}: {msg}")], src) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError([("", f"must be a mapping of keys to values (got {type(data).__name__})")], src)
    return data


# ------------------------------------------------------------------------------ overrides
def _parse_value(text: str) -> Any:
    try:
        return load_yaml(text) if text.strip() != "" else ""
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError):  # e.g. an impossible date: keep the text
        return text


def apply_overrides(data: dict, overrides: Iterable[str], source: str = "--set") -> dict:
    """Return a copy of ``data`` with each ``"a.b.0.c=value"`` applied (values parsed as YAML).

    List indices are integers; a missing mapping on the way is created. Problems (no ``=``, an
    index out of range, descending into a scalar) raise :class:`ScenarioError`.
    """
    out = copy.deepcopy(data)
    problems: list[tuple[str, str]] = []
    for item in overrides:
        if "=" not in item:
            problems.append((item, "override must look like key.path=value"))
            continue
        key, _, text = item.partition("=")
        key = key.strip()
        parts = [k for k in key.split(".")]
        if not key or any(not k for k in parts):
            problems.append((key or item, "override key must be a dotted path such as fleet.pools.0.replicas"))
            continue
        value = _parse_value(text)
        node: Any = out
        ok = True
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                try:
                    idx = int(part)
                except ValueError:
                    problems.append((where, f"is a list; use an integer index (got {part!r})"))
                    ok = False
                    break
                if not -len(node) <= idx < len(node):
                    problems.append((where, f"index out of range (list has {len(node)} items)"))
                    ok = False
                    break
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if part not in node or node[part] is None:
                        node[part] = {}
                    elif isinstance(node[part], str) and not last:
                        # shorthand such as `router: least_outstanding` expanded on demand
                        node[part] = {"policy": node[part]} if part == "router" else node[part]
                    node = node[part]
            else:
                problems.append((".".join(parts[:i]), f"is a value, not a mapping; cannot set {part!r}"))
                ok = False
                break
        del ok
    if problems:
        raise ScenarioError(problems, source)
    return out


# ------------------------------------------------------------------------------ error messages
def _unwrap(tp: Any) -> list[Any]:
    """Concrete candidate types behind Optional/Annotated/Union/list/dict annotations."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        out: list[Any] = []
        for a in typing.get_args(tp):
            out.extend(_unwrap(a))
        return out
    return [tp]


def _pick(options: list[Any], node: Any) -> Any:
    models = [o for o in options if isinstance(o, type) and issubclass(o, BaseModel)]
    if len(models) == 1 or not isinstance(node, dict):
        return models[0] if models else None
    for m in models:  # discriminated union: the member whose Literal tag matches
        for fname, f in m.model_fields.items():
            if typing.get_origin(f.annotation) is typing.Literal and fname in node:
                if node[fname] in typing.get_args(f.annotation):
                    return m
    for m in models:
        if set(node) <= set(m.model_fields):
            return m
    return models[0]


def _allowed_keys(loc: Sequence[Any], raw: Any) -> list[str] | None:
    """Field names allowed in the mapping that holds ``loc[-1]``."""
    parent = list(loc[:-1])
    # walk the raw data and schema together, descending through list indices
    cls: Any = Scenario
    node = raw
    i = 0
    while i < len(parent):
        part = parent[i]
        if isinstance(node, list) and isinstance(part, int):
            node = node[part] if -len(node) <= part < len(node) else None
            i += 1
            continue
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            return None
        field = cls.model_fields.get(str(part))
        if field is None:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        cands = _unwrap(field.annotation)
        models = []
        for c in cands:
            if typing.get_origin(c) is list:
                models.extend(x for x in _unwrap(typing.get_args(c)[0]))
            else:
                models.append(c)
        if isinstance(node, list) and i + 1 < len(parent) and isinstance(parent[i + 1], int):
            idx = parent[i + 1]
            node = node[idx] if -len(node) <= idx < len(node) else None
            i += 1
        cls = _pick(models, node)
        i += 1
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return sorted(f.alias or name for name, f in cls.model_fields.items())
    return None


def _clean_loc(loc: Sequence[Any], raw: Any) -> list[Any]:
    """Drop union-member names pydantic inserts into ``loc`` (they are not keys in the file)."""
    out: list[Any] = []
    node = raw
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                out.append(part)
                node = node[part]
            elif isinstance(part, str) and ("[" in part or part[:1].isupper() or part in ("function-after",
                                                                                          "function-before")):
                continue  # a tag such as 'PoissonArrival' or 'function-after[...]'
            elif isinstance(part, str) and any(isinstance(v, str) and v == part for v in node.values()):
                continue  # discriminator tag value, e.g. 'poisson'
            else:
                out.append(part)
                node = None
        elif isinstance(node, list) and isinstance(part, int):
            out.append(part)
            node = node[part] if -len(node) <= part < len(node) else None
        else:
            if isinstance(part, str) and ("[" in part or part[:1].isupper()):
                continue
            out.append(part)
            node = None
    return out


_SHORT_REPR = reprlib.Repr()   # Python 3.11's Repr takes no keyword arguments
_SHORT_REPR.maxlevel, _SHORT_REPR.maxdict, _SHORT_REPR.maxlist = 3, 6, 6
_SHORT_REPR.maxstring, _SHORT_REPR.maxother = 40, 40


def _fmt_got(value: Any) -> str:
    import datetime as _dt

    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        text = _SHORT_REPR.repr(value)   # bounded: never walks a whole (possibly huge) value
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, float):
        return f"{value:g}"
    text = _SHORT_REPR.repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_NUMBER_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal", "int_parsing",
                            "int_type", "int_from_float", "float_parsing", "float_type", "finite_number"})


def _message(err: dict, loc: list[Any], raw: Any) -> str:
    typ = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if typ == "missing":
        return "required field is missing"
    if isinstance(got, bool) and typ in _NUMBER_ERRORS:
        return f"must be a number, not {str(got).lower()}"
    if typ == "extra_forbidden":
        allowed = _allowed_keys(loc, raw)
        base = f"unknown key {str(loc[-1])!r}" if loc else "unknown key"
        return base + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if typ in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[typ]
        bound = next(iter(ctx.values())) if ctx else "?"
        if isinstance(bound, float):
            bound = f"{bound:g}"
        return f"must be {op} {bound} (got {_fmt_got(got)})"
    if typ == "literal_error":
        expected = ctx.get("expected", "")
        return f"must be one of {expected} (got {_fmt_got(got)})"
    if typ == "union_tag_invalid":
        disc = str(ctx.get('discriminator', 'kind')).strip("'\"")
        tags = str(ctx.get('expected_tags', '')).replace("'", "")
        return f"unknown {disc} {ctx.get('tag')!r}; allowed: {tags}"
    if typ == "union_tag_not_found":
        disc = str(ctx.get('discriminator', 'kind')).strip("'\"")
        return f"missing key {disc!r}, which says which kind this is"
    if typ in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number (got {_fmt_got(got)})"
    if typ == "finite_number":
        return f"must be a finite number (got {_fmt_got(got)})"
    if typ in ("float_parsing", "float_type"):
        return f"must be a number (got {_fmt_got(got)})"
    if typ in ("bool_parsing", "bool_type"):
        return f"must be true or false (got {_fmt_got(got)})"
    if typ in ("string_type",):
        return f"must be text (got {_fmt_got(got)})"
    if typ == "string_too_short":
        return f"must not be empty (got {_fmt_got(got)})"
    if typ in ("date_from_datetime_parsing", "date_parsing", "date_type", "date_from_datetime_inexact"):
        return f"must be a date such as 2025-01-01 (got {_fmt_got(got)})"
    if typ in ("list_type",):
        return f"must be a list (got {_fmt_got(got)})"
    if typ in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping of keys to values (got {_fmt_got(got)})"
    if typ == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s) (got {ctx.get('actual_length')})"
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg


def validation_problems(exc: ValidationError, raw: dict) -> list[tuple[str, str]]:
    """Translate a pydantic error into ``(field.path, message)`` pairs (deduplicated)."""
    out: list[tuple[str, str]] = []
    seen = set()
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err.get("loc", ()), raw)
        path = ".".join(str(p) for p in loc)
        msg = _message(err, loc, raw)
        if (path, msg) not in seen:
            seen.add((path, msg))
            out.append((path, msg))
    return out


# ------------------------------------------------------------------------------ no true/false for numbers
def bool_problems(model: BaseModel, raw: Any, path: str = "") -> list[tuple[str, str]]:
    """Fields given ``true``/``false`` where the schema wants a number (pydantic reads them as 1/0).

    Walks the validated blocks beside the raw mapping they came from; a field whose type names
    ``bool`` or ``Any`` is left alone, as is anything inside a plain mapping of such a field.
    """
    out: list[tuple[str, str]] = []
    if not isinstance(raw, dict):
        return out
    fields = type(model).model_fields
    for name, value in raw.items():
        field = fields.get(name) if isinstance(name, str) else None
        if field is None:
            continue
        where = f"{path}.{name}" if path else str(name)
        sub = getattr(model, name, None)
        if isinstance(sub, BaseModel):
            out.extend(bool_problems(sub, value, where))
        elif isinstance(sub, list) and isinstance(value, list) and len(sub) == len(value):
            for i, (m, v) in enumerate(zip(sub, value)):
                if isinstance(m, BaseModel):
                    out.extend(bool_problems(m, v, f"{where}.{i}"))
                elif isinstance(v, bool) and not _names_bool(field.annotation):
                    out.append((f"{where}.{i}", f"must be a number, not {str(v).lower()}"))
        elif isinstance(sub, dict) and isinstance(value, dict) and not _names_bool(field.annotation):
            out.extend((f"{where}.{k}", f"must be a number, not {str(v).lower()}")
                       for k, v in value.items() if isinstance(v, bool))
        elif isinstance(value, bool) and not _names_bool(field.annotation):
            out.append((where, f"must be a number, not {str(value).lower()}"))
    return out


def _names_bool(tp: Any) -> bool:
    """Whether a field annotation admits ``bool`` (or anything, ``Any``)."""
    if tp is bool or tp is Any or tp is object:
        return True
    return any(_names_bool(a) for a in typing.get_args(tp) if not isinstance(a, (str, int, float)))


# ------------------------------------------------------------------------------ every problem at once
def _drop(data: Any, path: Sequence[Any]) -> bool:
    """Delete the mapping key at ``path`` from ``data`` (in place); False if there is none."""
    node = data
    for part in path[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            return False
    if isinstance(node, dict) and path and path[-1] in node:
        del node[path[-1]]
        return True
    return False


def problems_past_schema(exc: ValidationError, data: dict, source: str, base_dir: Path | str,
                         rounds: int = 6) -> list[tuple[str, str]]:
    """The cross-field problems of a file whose schema check failed, so that one pass reports all.

    Each field the schema refused is left out (its default takes its place; a required field
    takes its enclosing block with it) until the rest validates; the cross-field checks then run
    on what is left, and any problem about a field left out (or a block holding one) is dropped,
    since it would only echo the first. Nothing is added when no repair validates.
    """
    repaired = copy.deepcopy(data)
    removed: list[tuple[Any, ...]] = []
    err: ValidationError | None = exc
    for _ in range(rounds):
        progress = False
        for e in err.errors(include_url=False):
            loc = _clean_loc(e.get("loc", ()), repaired)
            target = list(loc[:-1] if e.get("type") == "missing" else loc)
            while target and isinstance(target[-1], int):
                target.pop()
            if not target:
                return []
            if _drop(repaired, target):
                removed.append(tuple(target))
                progress = True
        if not progress:
            return []
        try:
            scenario = Scenario.model_validate(repaired)
            break
        except ValidationError as again:
            err = again
        except Exception:  # noqa: BLE001 - a repair that trips a validator: report what we have
            return []
    else:
        return []
    from sim.scenario.checks import semantic_problems

    try:
        more = semantic_problems(LoadedScenario(scenario, source, Path(base_dir), repaired))
    except Exception:  # noqa: BLE001 - best effort on a scenario already known to be wrong
        return []
    cut = [".".join(map(str, r)) for r in removed]

    def related(path: str) -> bool:
        return any(path == c or path.startswith(c + ".") or c.startswith(path + ".") or not path for c in cut)

    return [(p, m) for p, m in more if not related(p)]


# ------------------------------------------------------------------------------ entry points
def _resolve_hf_configs(data: Any, base_dir: Path) -> Any:
    """``data`` with every relative ``model: {hf_config: path}`` (top level and pools) made relative to
    the scenario file's folder, as other paths in a scenario are; the input mapping is not changed."""
    if not isinstance(data, dict):
        return data

    def fix(model: Any) -> Any:
        if isinstance(model, dict) and isinstance(model.get("hf_config"), str) and model["hf_config"].strip():
            p = Path(model["hf_config"]).expanduser()
            return {**model, "hf_config": str(p if p.is_absolute() else base_dir / p)}
        return model

    out = dict(data)
    if "model" in out:
        out["model"] = fix(out["model"])
    fleet = out.get("fleet")
    if isinstance(fleet, dict) and isinstance(fleet.get("pools"), list):
        out["fleet"] = {**fleet, "pools": [{**p, "model": fix(p["model"])} if isinstance(p, dict) and "model" in p
                                           else p for p in fleet["pools"]]}
    return out


def scenario_from_dict(data: dict, source: str = "<scenario>", base_dir: Path | str = ".",
                       check: bool = True) -> LoadedScenario:
    """Validate a raw mapping into a :class:`LoadedScenario` (field and cross-field checks)."""
    try:
        scenario = Scenario.model_validate(_resolve_hf_configs(data, Path(base_dir)))
    except ValidationError as exc:
        problems = validation_problems(exc, data)
        if check:
            problems += problems_past_schema(exc, data, source, base_dir)
        raise ScenarioError(problems, source) from None
    problems = bool_problems(scenario, data)
    loaded = LoadedScenario(scenario, source, Path(base_dir), data)
    if check:
        from sim.scenario.checks import semantic_problems
        from sim.scenario.magnitudes import magnitude_problems

        huge = magnitude_problems(scenario)
        problems += huge
        try:
            problems += semantic_problems(loaded)
        except (OverflowError, ValueError):
            if not huge:    # the overflow is not one of those already named: let it be reported
                raise
    if problems:
        raise ScenarioError(problems, source)
    return loaded


def load_scenario(path: str | Path | dict, overrides: Iterable[str] = (), check: bool = True) -> LoadedScenario:
    """Read, override and validate a scenario file (or a raw mapping)."""
    if isinstance(path, dict):
        data = apply_overrides(path, overrides) if overrides else copy.deepcopy(path)
        return scenario_from_dict(data, "<scenario>", Path("."), check)
    src = str(path)
    data = read_file(path)
    if overrides:
        data = apply_overrides(data, overrides)
    return scenario_from_dict(data, src, Path(path).resolve().parent, check)
