"""Load a scenario file (YAML or TOML), apply ``--set a.b.c=value`` overrides, validate it.

Every problem is collected and reported at once as ``file: field.path: message``::

    >>> apply_overrides({"fleet": {"pools": [{"replicas": 4}]}}, ["fleet.pools.0.replicas=8"])
    {'fleet': {'pools': [{'replicas': 8}]}}
"""
from __future__ import annotations

import copy
import tomllib
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import ScenarioError
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
    """The raw mapping in a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file."""
    p = Path(path)
    src = str(path)
    if not p.exists():
        raise ScenarioError([("", "file not found")], src)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([("", f"cannot read file: {exc}")], src) from None
    try:
        if p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, OverflowError) as exc:
        msg = str(exc).replace("\n", " ")
        raise ScenarioError([("", f"not valid {'TOML' if p.suffix.lower() == '.toml' else 'YAML'}: {msg}")],
                            src) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError([("", f"must be a mapping of keys to values (got {type(data).__name__})")], src)
    return data


# ------------------------------------------------------------------------------ overrides
def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text.strip() != "" else ""
    except (yaml.YAMLError, ValueError, OverflowError):  # e.g. an impossible date: keep the text
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


def _fmt_got(value: Any) -> str:
    import datetime as _dt

    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _message(err: dict, loc: list[Any], raw: Any) -> str:
    typ = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if typ == "missing":
        return "required field is missing"
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
        raise ScenarioError(validation_problems(exc, data), source) from None
    loaded = LoadedScenario(scenario, source, Path(base_dir), data)
    if check:
        from sim.scenario.checks import semantic_problems

        problems = semantic_problems(loaded)
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
