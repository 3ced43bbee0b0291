"""What the schema refused, in the user's words: pydantic's validation errors as ``(field.path,
message)`` pairs naming the field as the file writes it (union members pydantic inserts into a
location are left out), what is allowed (the keys of the enclosing block, the choices, the bound)
and what was given, shortened; and the numbers given as ``true``/``false``, which pydantic would
read as 1/0.

    >>> from pydantic import ValidationError
    >>> try:
    ...     Scenario.model_validate({"duration": -1})
    ... except ValidationError as exc:
    ...     [p for p in validation_problems(exc, {"duration": -1}) if p[0] == "duration"]
    [('duration', 'must be >= 0.001 (got -1)')]
"""
from __future__ import annotations

import re
import reprlib
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.errors import clipped, given, printable
from sim.scenario.schema import Scenario
from sim.scenario.types import FIELD_ERROR, NUMBER, WHOLE_NUMBER, not_a_boolean
from sim.scenario.value_hints import digits_hint, dressed_number_hint, percent_hint, seconds_hint, switch_hint


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
    for one in (True, False):   # discriminated union: the member whose tag (a one-value Literal) matches, else
        for m in models:        # one whose tag lists the value (burst and offline share a block)
            for fname, f in m.model_fields.items():
                tag = typing.get_args(f.annotation) if typing.get_origin(f.annotation) is typing.Literal else ()
                if fname in node and ((len(tag) == 1) if one else (len(tag) > 1)) and node[fname] in tag:
                    return m
    for m in models:
        if set(node) <= set(m.model_fields):
            return m
    return models[0] if models else None


def _allowed_keys(loc: Sequence[Any], raw: Any) -> list[str] | None:
    """Field names allowed in the mapping that holds ``loc[-1]``."""
    cls = _block_of(list(loc[:-1]), raw)
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return sorted(f.alias or name for name, f in cls.model_fields.items())
    return None


def _tags(loc: Sequence[Any], raw: Any, discriminator: str) -> list[str]:
    """The values the ``discriminator`` key may take in the union block at ``loc`` (e.g. the ``perf``
    block's ``model``: roofline, linear, table), in the schema's order."""
    cls = _block_of(list(loc[:-1]), raw) if loc else None
    field = cls.model_fields.get(str(loc[-1])) if isinstance(cls, type) and issubclass(cls, BaseModel) else None
    out: list[str] = []
    for member in _unwrap(field.annotation) if field is not None else []:
        f = member.model_fields.get(discriminator) if isinstance(member, type) and issubclass(member, BaseModel) else None
        if f is not None and typing.get_origin(f.annotation) is typing.Literal:
            out.extend(str(v) for v in typing.get_args(f.annotation))
    return out


def _block_of(parent: list[Any], raw: Any) -> Any:
    """The schema class of the block at ``parent`` (``None`` where the schema has no block there)."""
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
        by_name = False         # a mapping of names to blocks (economics.energy.pools: {pool: {idle_w, ...}})
        for c in cands:
            if typing.get_origin(c) is list:
                models.extend(x for x in _unwrap(typing.get_args(c)[0]))
            elif typing.get_origin(c) is dict:
                models.extend(_unwrap(typing.get_args(c)[1]))
                by_name = True
            else:
                models.append(c)
        if isinstance(node, list) and i + 1 < len(parent) and isinstance(parent[i + 1], int):
            idx = parent[i + 1]
            node = node[idx] if -len(node) <= idx < len(node) else None
            i += 1
        elif by_name and isinstance(node, dict) and i + 1 < len(parent):
            node = node.get(parent[i + 1])
            i += 1
        cls = _pick(models, node)
        i += 1
    return cls


def clean_loc(loc: Sequence[Any], raw: Any) -> list[Any]:
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
            elif part == "roofline" and "model" not in node:
                continue  # a perf block without model is the roofline (sim.scenario.perf)
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
    if value is None or isinstance(value, bool):    # as the file writes them, not Python's None/True
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (dict, list)):
        text = _SHORT_REPR.repr(value)   # bounded: never walks a whole (possibly huge) value
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, float):
        return f"{value:g}"
    text = _SHORT_REPR.repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_NUMBER_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal", "int_parsing",
                            "int_type", "int_from_float", "float_parsing", "float_type", "finite_number"})


def _elsewhere(loc: Sequence[Any], raw: Any) -> str:
    """For a key written where the scenario has no such field, the one or two places the scenario
    has it (``replicas=4`` at the top: ``fleet.pools.0.replicas``).

        >>> raw = {"replicas": 4, "fleet": {"pools": [{"name": "main", "replicas": 2}]}}
        >>> _elsewhere(["replicas"], raw), _elsewhere(["gpus"], raw)
        ('; did you mean fleet.pools.0.replicas?', '')
        >>> _elsewhere(["w", "classes", 0, "weight"], {"w": {"classes": [{"weight": 1}, {"weight": 2}]}})
        ''

    """
    if not loc:
        return ""
    name, found = str(loc[-1]), []
    shape = _shape([str(p) for p in loc])

    def walk(node: Any, path: list[str]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            here = [*path, str(k)]
            if str(k) == name and _shape(here) != shape:    # (another item of the same list: unknown there too)
                found.append(".".join(clipped(printable(p, keep="")) for p in here))   # as the path is said
            if len(path) < 8:
                walk(v, here)

    walk(raw, [])
    return f"; did you mean {' or '.join(found)}?" if 0 < len(found) <= 2 else ""


def _outer_key(loc: Sequence[Any], raw: Any, toml: bool) -> str:
    """For a key written inside a block whose enclosing block has it (``duration`` under a pool: the YAML
    indented one step too far, or in TOML a key written after a ``[[fleet.pools]]`` header, which makes it
    the pool's), where it belongs; the same name elsewhere in the file was said as ``did you mean duration?``.

        >>> _outer_key(["fleet", "pools", 0, "duration"], {"fleet": {"pools": [{}]}}, False)
        '; duration is a key of the top level, not of fleet.pools.0'
        >>> _outer_key(["workload", "arrival", "output_tokens"], {"workload": {"arrival": {}}}, True)
        '; output_tokens is a key of workload, not of workload.arrival (in TOML a key belongs to the [table] header above it: move it under [workload])'
        >>> _outer_key(["fleet", "pools", 0, "batching", "replicas"], {"fleet": {"pools": [{"batching": {}}]}}, True)
        '; replicas is a key of fleet.pools.0, not of fleet.pools.0.batching (in TOML a key belongs to the [table] header above it: move it under [[fleet.pools]])'
        >>> _outer_key(["fleet", "pools", 0, "gpus"], {"fleet": {"pools": [{}]}}, False)
        ''
    """
    name, here = str(loc[-1]), _block_of(list(loc[:-1]), raw)
    for i in range(len(loc) - 2, -1, -1):
        if isinstance(loc[i], int):
            continue                # (a list, whose item is the block)
        outer = _block_of(list(loc[:i]), raw)
        if outer is here or not (isinstance(outer, type) and issubclass(outer, BaseModel)):
            continue
        if name in (f.alias or n for n, f in outer.model_fields.items()):
            where = ".".join(map(str, loc[:i]))
            block = ".".join(map(str, loc[:-1]))
            header = ".".join(str(p) for p in loc[:i] if not isinstance(p, int))
            header = f"[[{header}]]" if i and isinstance(loc[i - 1], int) else f"[{header}]"
            toml_note = (f" (in TOML a key belongs to the [table] header above it: move it "
                         f"{f'under {header}' if where else 'above the first header'})") if toml else ""
            return f"; {name} is a key of {where or 'the top level'}, not of {block}{toml_note}"
    return ""


def _near_key(name: str, allowed: list[str]) -> str:
    """`` (did you mean X?)`` for an unknown key one slip from an allowed one (difflib ratio at least 0.75:
    ``gpu_hour_us`` 22/23, ``commit`` for ``commit_usd`` 12/16), not for a key that only shares a prefix
    (``gpus_per_replica`` and ``gpus_per_node``: 20/29).

        >>> _near_key("gpu_hour_us", ["currency", "gpu_hour_usd"]), _near_key("gpus_per_replica", ["gpu", "gpus_per_node"])
        (' (did you mean gpu_hour_usd?)', '')
    """
    import difflib

    near = difflib.get_close_matches(name, allowed, n=1, cutoff=0.75)
    return f" (did you mean {near[0]}?)" if near else ""


def _shape(path: Sequence[str]) -> tuple[str, ...]:
    """A path with its list indexes blanked: ``workload.classes.0.weight`` and ``workload.classes.1.weight``
    are one field of the schema."""
    return tuple("#" if p.isdigit() else p for p in path)


def _message(err: dict, loc: list[Any], raw: Any, toml: bool = False) -> str:
    typ = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if typ == "missing":
        return "required field is missing"
    if isinstance(got, bool) and typ in _NUMBER_ERRORS:
        return not_a_boolean(WHOLE_NUMBER if typ.startswith("int") else _field_kind(loc, raw), got)
    if typ == "extra_forbidden":
        allowed = _allowed_keys(loc, raw)
        base = f"unknown key {given(str(loc[-1]))}" if loc else "unknown key"
        elsewhere = _elsewhere(loc, raw)
        if len(loc) > 1 and elsewhere in ("", f"; did you mean {loc[-1]}?"):   # (not 'did you mean seed?' of seed)
            elsewhere = _outer_key(loc, raw, toml) or elsewhere
        near = _near_key(str(loc[-1]), allowed) if loc and allowed and not elsewhere else ""
        return base + near + (f"; allowed: {', '.join(allowed)}" if allowed else "") + elsewhere
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
        return f"unknown {disc} {given(ctx.get('tag'))}; allowed: {tags}"
    if typ == "union_tag_not_found":
        disc = str(ctx.get('discriminator', 'kind')).strip("'\"")
        tags = _tags(loc, raw, disc)
        return f"missing key {disc!r}, which says which kind this is" + (f"; allowed: {', '.join(tags)}" if tags else "")
    if typ in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number (got {_fmt_got(got)}){digits_hint(got) or dressed_number_hint(got)}"
    if typ == "finite_number":
        return f"must be a finite number (got {_fmt_got(got)})"
    if typ in ("float_parsing", "float_type") and isinstance(got, int) and not isinstance(got, bool):
        return f"must be at most 1.8e308, a float's largest (got {_fmt_got(got)})"     # (an int of 309+ digits)
    if typ in ("float_parsing", "float_type"):
        return (f"must be a number (got {_fmt_got(got)})"
                f"{seconds_hint(loc, got) or dressed_number_hint(got) or percent_hint(got)}")
    if typ in ("bool_parsing", "bool_type"):
        return f"must be true or false (got {_fmt_got(got)}){switch_hint(got)}"
    if typ == NAME_OR_MAPPING:
        what = ("a catalog model name, a mapping of the architecture or {hf_config: path}"
                if loc and loc[-1] == "model" else "a catalog name or a mapping of keys to values")
        return f"must be {what} (got {_fmt_got(got)})"
    if typ in ("string_type",):
        return f"must be text (got {_fmt_got(got)})"
    if typ == "invalid_key":       # YAML reads 1:, 1.5: or 2025-01-01: as a number or a date
        kind = {"int": "a number", "float": "a number", "date": "a date", "datetime": "a date"}.get(
            type(got).__name__, f"a {type(got).__name__}")
        return f"the key {got} reads as {kind}, not a name; every key is text: quote it if it is meant as one"
    if typ == "string_unicode" and isinstance(got, str):     # a byte not in UTF-8, as Python keeps it (\udce9)
        return _not_utf8(got)
    if (typ in ("model_type", "dict_type", "model_attributes_type") and isinstance(got, str)
            and any("\ud800" <= c <= "\udfff" for c in got)):      # ({path: \xff.csv} on the command line:
        return _not_utf8(got)                                      # YAML refused the byte, the text was kept)
    if typ == "string_too_short":
        return f"must not be empty (got {_fmt_got(got)})"
    if typ == "string_too_long" and isinstance(got, str):
        return f"must be at most {ctx.get('max_length')} characters (got {len(got):,})"
    if typ in ("date_from_datetime_parsing", "date_parsing", "date_type", "date_from_datetime_inexact"):
        return f"must be a date such as 2025-01-01 (got {_fmt_got(got)})"
    if typ in ("list_type",):
        return f"must be a list (got {_fmt_got(got)})"
    if typ in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping of keys to values (got {_fmt_got(got)}){_length_hint(loc, got)}"
    if typ == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s) (got {ctx.get('actual_length')})"
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg


def _not_utf8(got: str) -> str:
    r"""For text holding a byte that is not UTF-8, as Python keeps it (``\udcff``), the byte.

        >>> _not_utf8("na\udcffme")
        "got 'na\\udcffme', whose byte 0xff is not UTF-8 (the terminal passed another encoding): write it in UTF-8"
    """
    bad = next((c for c in got if "\ud800" <= c <= "\udfff"), "\ud800")
    what = (f"byte 0x{ord(bad) - 0xdc00:02x} is not UTF-8 (the terminal passed another encoding)"
            if ord(bad) >= 0xdc80 else f"U+{ord(bad):04X} is half of a pair, not a character")
    return f"got {ascii(got)[:60]}, whose {what}: write it in UTF-8"


def _length_hint(loc: list[Any], got: Any) -> str:
    """A token-length distribution given as one number says how to write a fixed length.

    >>> _length_hint(["workload", "prompt_tokens"], 1000)
    '; a fixed length is {dist: fixed, value: 1000}'
    """
    if loc and loc[-1] in ("prompt_tokens", "output_tokens") and isinstance(got, (int, float, str)) \
            and not isinstance(got, bool) and re.fullmatch(r"\d+", str(got).strip()):
        return f"; a fixed length is {{dist: fixed, value: {str(got).strip()}}}"
    return ""


#: error type of a field that takes a catalog name or an inline mapping (``model``, a pool's ``gpu``)
#: given neither: one message instead of one per union member
NAME_OR_MAPPING = "name_or_mapping"


def _name_or_mapping(errors: list[dict]) -> set[tuple]:
    """Locations of ``str | dict`` fields whose value is neither: pydantic reports each member apart
    (``model.str: must be text`` beside ``model: must be a mapping``)."""
    text = {tuple(e["loc"])[:-1] for e in errors if e.get("type") == "string_type" and e.get("loc")
            and e["loc"][-1] == "str"}
    return {tuple(e["loc"])[:-1] for e in errors if e.get("type") == "dict_type" and e.get("loc")
            and str(e["loc"][-1]).startswith("dict[") and tuple(e["loc"])[:-1] in text}


def validation_problems(exc: ValidationError, raw: dict, toml: bool = False) -> list[tuple[str, str]]:
    """Translate a pydantic error into ``(field.path, message)`` pairs (deduplicated); ``toml``: ``raw`` was
    read from TOML, whose tables a message may name."""
    out: list[tuple[str, str]] = []
    seen = set()
    errors = exc.errors(include_url=False)
    name_or_mapping = _name_or_mapping(errors)
    for err in errors:
        if tuple(err.get("loc", ()))[:-1] in name_or_mapping:
            if err.get("type") != "string_type":
                continue            # said once, with the text member's error
            err = dict(err, type=NAME_OR_MAPPING, loc=tuple(err["loc"])[:-1])
        loc = clean_loc(err.get("loc", ()), raw)
        if err.get("type") == FIELD_ERROR:       # a check across fields, about one of them
            loc.append(err["ctx"]["field"])
        if err.get("type") == "invalid_key" and loc:     # (pydantic's loc holds the key's repr: datetime.date(...))
            loc[-1] = str(err.get("input"))
        path = ".".join(clipped(printable(str(p), keep="")) for p in loc)     # a key with a line break: one line
        msg = _message(err, loc, raw, toml)
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
                    out.append((f"{where}.{i}", not_a_boolean(_kind(field.annotation), v)))
        elif isinstance(sub, dict) and isinstance(value, dict) and not _names_bool(field.annotation):
            out.extend((f"{where}.{k}", not_a_boolean(_kind(field.annotation), v))
                       for k, v in value.items() if isinstance(v, bool))
        elif isinstance(value, bool) and not _names_bool(field.annotation):
            out.append((where, not_a_boolean(_kind(field.annotation), value)))
    return out


def _field_kind(loc: Sequence[Any], raw: Any) -> str:
    """:func:`_kind` of the schema field at ``loc`` (a number where the schema has no field there)."""
    cls = _block_of(list(loc[:-1]), raw) if loc else None
    fields = cls.model_fields if isinstance(cls, type) and issubclass(cls, BaseModel) else {}
    field = fields.get(str(loc[-1])) if loc else None
    return _kind(field.annotation) if field is not None else NUMBER


def _kind(tp: Any) -> str:
    """What a number field takes, for :func:`~sim.scenario.types.not_a_boolean`: a whole number
    where its annotation admits ``int`` and no ``float``."""
    def names(t: Any, want: type) -> bool:
        return t is want or any(names(a, want) for a in typing.get_args(t) if not isinstance(a, (str, int, float)))

    return WHOLE_NUMBER if names(tp, int) and not names(tp, float) else NUMBER


def _names_bool(tp: Any) -> bool:
    """Whether a field annotation admits ``bool`` (or anything, ``Any``)."""
    if tp is bool or tp is Any or tp is object:
        return True
    return any(_names_bool(a) for a in typing.get_args(tp) if not isinstance(a, (str, int, float)))
