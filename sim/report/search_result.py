"""The result of a search read back: ``sweep.json``, ``plan.json`` or ``saturation.json`` of a folder,
each field ``report.html`` reads checked to be of its JSON kind (:data:`SEARCH_FIELDS`), a field of
the wrong kind named (:class:`~sim.errors.ScenarioError`, :mod:`sim.report.folder_problems`).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.errors import given, json_kind
from sim.report.folder_problems import raise_problems, read_json_object


#: the fields ``report.html`` reads from the result of a search, with their JSON kinds: each may be
#: absent; present, it must be of its kind (``?``: or null; ``!``: present, in an item of a list)
SEARCH_FIELDS = {
    "sweep.json": {"knobs": "objects", "seeds": "number", "configurations": "objects", "points": "objects",
                   "columns": "texts"},
    "plan.json": {"objective": "text", "knobs": "texts", "constraints": "texts", "seeds": "number",
                  "best": "object?", "groups": "objects", "evaluated": "objects", "capacity_band": "object",
                  "robust": "object?", "robust_groups": "objects", "skipped": "objects"},
    "saturation.json": {"rate_path": "text", "rate": "number?", "upper": "number?", "attainment": "number?",
                        "probes": "objects", "capacity_band": "object", "concurrency": "number?",
                        "concurrency_upper": "number?"},
}
#: fields of the objects in those lists, and of a plan's ``best``
_SEARCH_ITEMS = {"knobs": {"path": "text!", "values": "list!", "paths": "texts"},
                 "best": {"overrides": "texts!"}, "groups": {"overrides": "texts"},
                 "robust": {"overrides": "texts!"}, "robust_groups": {"overrides": "texts"},
                 "evaluated": {"overrides": "texts?"},
                 "skipped": {"group": "texts!", "reason": "text!", "problems": "list"},
                 "probes": {"rate": "number?", "concurrency": "number?"}}
_KINDS = {"object": (dict, "an object"), "objects": (list, "a list of objects"), "texts": (list, "a list of texts"),
          "list": (list, "a list"), "text": (str, "a text"), "number": ((int, float), "a number")}


def read_search(folder: Path | str, name: str) -> dict[str, Any] | None:
    """``sweep.json``, ``plan.json`` or ``saturation.json`` of ``folder``, or ``None`` when absent;
    raises :class:`~sim.errors.InputError` for a file that is not a JSON object and
    :class:`~sim.errors.ScenarioError` naming each field (:data:`SEARCH_FIELDS`) of the wrong kind."""
    path = Path(folder) / name
    if not path.exists():
        return None
    data = read_json_object(path, f"{name.removesuffix('.json')} result")
    own = [key for key in SEARCH_FIELDS[name] if key != "columns"]     # (a sweep's columns: how to show it)
    if not any(key in data for key in own):     # {} made a page of empty sections
        raise_problems([("", f"not a fleetsim {name.removesuffix('.json')} result (none of its keys: "
                     f"{', '.join(own[:5])}, ...)")], path)
    problems = []
    for key, kind in SEARCH_FIELDS[name].items():
        problem = _field_problem(data, key, kind)
        if problem:
            problems.append((key, problem))
            continue
        value = data.get(key)
        items = list(enumerate(value)) if kind == "objects" and value else [("", value)] if isinstance(value, dict) else []
        for i, item in items:
            where = f"{key}.{i}" if i != "" else key
            if not isinstance(item, dict):
                problems.append((where, f"expected an object, got {json_kind(item)}"))
                continue
            problems += [(f"{where}.{sub}", p) for sub, sub_kind in _SEARCH_ITEMS.get(key, {}).items()
                         if (p := _field_problem(item, sub, sub_kind))]
    raise_problems(problems, path)
    return data


def _field_problem(node: Mapping[str, Any], key: str, kind: str) -> str:
    """What is wrong with ``node[key]`` for ``kind`` (see :data:`SEARCH_FIELDS`), or empty."""
    required, nullable, kind = kind.endswith("!"), kind.endswith("?"), kind.rstrip("!?")
    types, words = _KINDS[kind]
    if key not in node:
        return "missing" if required else ""
    value = node[key]
    if value is None:
        return "" if nullable else f"expected {words}, got null"
    if not isinstance(value, types) or isinstance(value, bool):
        return f"expected {words}, got {json_kind(value)}"
    if kind == "texts" and not all(isinstance(v, str) for v in value):
        return f"expected {words}, got {given(value)}"
    return ""
