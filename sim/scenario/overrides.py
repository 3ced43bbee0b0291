"""Overrides of a scenario's raw values: ``--set a.b.0.c=value`` texts (values read as YAML, a value YAML
refuses or reads short said with the quotes it needs), or a mapping ``{"a.b.0.c": value}`` from Python
(values as given), applied to a copy of the mapping a file was read into (:func:`apply_overrides`); a list
index, a key with dots in its name, a slip of a key on the way and a flat rate reached into as brackets
each said in the words of the one who wrote the override.

    >>> apply_overrides({"fleet": {"pools": [{"replicas": 4}]}}, ["fleet.pools.0.replicas=8"])
    {'fleet': {'pools': [{'replicas': 8}]}}
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from sim.economics.tiers import RATE_KEY
from sim.errors import ScenarioError, given, text_list
from sim.humanize import plural
from sim.scenario.raw_values import dropped_comment, one_line, quote_hint, unshared, value_at
from sim.scenario.safe_text import TextLimitError
from sim.scenario.safe_yaml import TagError, load_yaml, tag_problem, yaml_problem


class ValueProblem(ValueError):
    """An override's value YAML reads as a list or mapping it then refuses (a key given twice, a ``null``
    key, an unclosed ``{``): the message says what, without the line of a one-line value."""


def parse_value(text: str, key: str = "KEY") -> Any:
    """An override's value as YAML reads it; text YAML cannot read stays text. A tag that builds no plain
    value (``!!binary ...``, ``!foo``) raises :class:`TagError` (as text it ran as the literal words); a
    list or mapping YAML refuses (a duplicate key, nested too deeply, an unclosed ``{`` or ``[``) raises
    :class:`ValueProblem` (as text it reached the schema as the words, and a name field took them), and so
    does a value that is only a YAML comment (``#2.5`` read as null, which clears the field silently) or
    ends in one YAML drops (``run #2`` read as ``run``); ``key`` names the field in the quoted example."""
    if text.lstrip().startswith("#"):
        raise ValueProblem(f"{text.strip()[:40]!r} is a YAML comment, which reads as nothing (null, which clears "
                           f"the field to its default); {quote_hint(key, text)}, or write null to clear the field")
    try:
        value = load_yaml(text) if text.strip() != "" else ""
    except TagError:
        raise
    except TextLimitError as exc:          # a duplicate or null key, nesting, an alias bomb
        raise ValueProblem("not valid YAML: " + one_line(str(exc), text)) from None
    except yaml.MarkedYAMLError as exc:
        if text.lstrip()[:1] in ("{", "["):       # meant as a mapping or list: not the words as a name
            raise ValueProblem("not valid YAML: " + _after_collection(exc, text) + "; "
                               + quote_hint(key, text)) from None
        return text
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError):  # e.g. an impossible date: keep the text
        return text
    comment = dropped_comment(text)
    if comment:
        # `name=run #2` read as "run": YAML drops a comment, which a value on the command line never means
        raise ValueProblem(f"YAML reads {text.strip()[:60]!r} as {given(value)}, dropping {comment[:40]!r} as a "
                           f"comment; {quote_hint(key, text)}, or leave the comment out")
    return value


def _after_collection(exc: yaml.MarkedYAMLError, text: str) -> str:
    """What YAML refused in a one-line value starting with ``[`` or ``{``: a whole list or mapping with more
    after it (``[draft]v2``) in words (YAML's own, "expected '<document start>', but found '<scalar>'", names
    its parser's states), anything else as YAML says it.

        >>> import yaml
        >>> try:
        ...     yaml.safe_load("[draft]v2")
        ... except yaml.MarkedYAMLError as exc:
        ...     print(_after_collection(exc, "[draft]v2"))
        [draft] reads as a list, and v2 after it makes the value no YAML list
    """
    mark = exc.problem_mark
    if "<document start>" in str(exc.problem) and mark is not None and "\n" not in text.strip() \
            and 0 < mark.index < len(text):
        head, rest = text[:mark.index].strip(), text[mark.index:].strip()
        kind = "list" if head.startswith("[") else "mapping"
        return f"{head[:60]} reads as a {kind}, and {rest[:40]} after it makes the value no YAML {kind}"
    return one_line(yaml_problem(exc), text)


def apply_overrides(data: dict, overrides: Iterable[str] | Mapping[str, Any], source: str = "--set") -> dict:
    """Return a copy of ``data`` with each ``"a.b.0.c=value"`` applied (values parsed as YAML), or each item
    of a mapping ``{"a.b.0.c": value}`` from Python (values taken as given: ``{"name": "[draft]v2"}`` is the
    words, with no YAML quoting; its problems are reported under ``overrides``, not ``--set``).

    List indices are integers from 0 (a negative one is out of range, not counted from the end); a
    missing mapping on the way is created. Problems (no ``=``, an index out of range, descending
    into a scalar) raise :class:`ScenarioError`.

        >>> apply_overrides({"name": "a"}, {"name": "[draft]v2", "seed": 3})
        {'name': '[draft]v2', 'seed': 3}
    """
    given_values = isinstance(overrides, Mapping)
    if given_values:
        bad = [k for k in overrides if not isinstance(k, str)]
        if bad:
            raise TypeError(f"overrides: each key of the mapping is a dotted path such as 'fleet.pools.0.replicas' "
                            f"(got {given(bad[0])}, of type {type(bad[0]).__name__})")
        items: list = list(overrides.items())
        source = "overrides" if source == "--set" else source
    else:
        items = text_list(overrides, "overrides", "fleet.pools.0.replicas=8")
    out = unshared(data)
    problems: list[tuple[str, str]] = []
    for item in items:
        if given_values:
            key, text = item[0].strip(), None
        elif "=" not in item:
            colon = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*:\s*(\S.*?)\s*", item)      # YAML's key: value
            problems.append((item, "override must look like key.path=value"
                             + (f": write {colon.group(1)}={colon.group(2)}" if colon else "")))
            continue
        else:
            key, _, text = item.partition("=")
            key = key.strip()
        parts = [k for k in key.split(".")]
        if not key or any(not k for k in parts):
            named = key or (repr(item[0]) if given_values else item)     # (a blank key of a mapping: quoted)
            problems.append((named, "override key must be a dotted path such as fleet.pools.0.replicas"))
            continue
        bracket = re.search(r"\[(\d+)\]", key)
        if bracket:                                        # pools[0]: a list item is its index, a part of the path
            dotted = re.sub(r"\[(\d+)\]", r".\1", key)
            home = _home(out, dotted.split(".")[0])
            dotted = f"{home}.{dotted}" if home else dotted
            problems.append((key, f"a list item is written by its index as a part of the dotted path: "
                                  f"{dotted}, not [{bracket.group(1)}]"))
            continue
        try:
            value = item[1] if given_values else parse_value(text, key)
        except TagError as exc:
            problems.append((key, tag_problem(exc.tag)))
            continue
        except ValueProblem as exc:
            problems.append((key, str(exc)))
            continue
        node: Any = out
        ok = True
        guess = list(parts)          # the path with each key made on the way read as the key one slip from it
        for i, part in enumerate(parts):
            if isinstance(node, dict) and part not in node:
                # a key with dots in its name (a pool named llama-3.1 in router.weights or energy.pools):
                # the longest run of the parts left that names a key is that key, not mappings to create
                for j in range(len(parts), i + 1, -1):
                    if ".".join(parts[i:j]) in node:
                        parts[i:j] = [".".join(parts[i:j])]
                        part = parts[i]
                        break
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                digits = part.removeprefix("-")          # (a negative index is out of range, said below)
                if not (digits.isascii() and digits.isdigit()):   # (int() also takes ' 0', '+0', '0_0', '０')
                    named = [i for i, item in enumerate(node) if isinstance(item, dict) and item.get("name") == part]
                    hint = (f"; the item named {part!r} is {'.'.join(parts[:i])}.{named[0]}" if named else "")
                    problems.append((where, f"is a list; use an integer index (got {part!r}){hint}"))
                    ok = False
                    break
                idx = int(part)
                if not 0 <= idx < len(node):     # a negative index is refused, not read from the end
                    n = len(node)
                    whole = ".".join(parts[:i])
                    problems.append((where, f"index out of range: the list has {n} {plural(n, 'item')}"
                                            + (f", index 0 to {n - 1}" if n else "")
                                            + (f"; {'an override' if given_values else '--set'} cannot add an "
                                               f"item: give the whole list, e.g. "
                                               f"{_example(whole, '[...]', given_values)}, or add it in the "
                                               f"scenario file" if idx == n else "")))
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
                    if (part not in node or node[part] is None) and parts[i + 1].lstrip("-").isdigit():
                        near = [k for k in difflib.get_close_matches(part, [str(k) for k in node], n=1)
                                if isinstance(node[k], list)] if part not in node else []
                        if not near and part not in node and guess[:i] != parts[:i]:
                            # a slip further up (Fleet.pools.0): the list under the key it was meant for
                            near = [part] if isinstance(value_at(out, [*guess[:i], part]), list) else []
                            parts = [*guess[:i], *parts[i:]]
                        if not near and i == 0 and _home(out, part):     # pools.0.replicas: fleet.pools.0.replicas
                            near, parts = [part], [_home(out, part), *parts]
                            i += 1
                        problems.append((where, f"there is no list here to take item {parts[i + 1]} of"
                                                + (f" (did you mean {'.'.join([*parts[:i], near[0]])}?)" if near else
                                                   f"; give the whole list, e.g. "
                                                   f"{_example(where, '[...]', given_values)}")))
                        ok = False
                        break
                    if part not in node or node[part] is None:
                        if part not in node:
                            close = difflib.get_close_matches(part, [k for k in node if isinstance(k, str)], n=1)
                            guess[i] = close[0] if close else part
                        node[part] = {}
                    elif isinstance(node[part], str) and not last:
                        # shorthand such as `router: least_outstanding` expanded on demand
                        node[part] = {"policy": node[part]} if part == "router" else node[part]
                    node = node[part]
            else:
                above = ".".join(parts[:i])
                problems.append((above, _flat_rate_problem(above, node, parts[i:], value, given_values)
                                 or f"is a value, not a mapping; cannot set {part!r}"))
                ok = False
                break
        del ok
    if problems:
        raise ScenarioError(problems, source)
    return out


def _home(data: Any, key: str) -> str | None:
    """The top-level block of ``data`` holding a list under ``key`` when ``data`` has no ``key`` of its own
    (``pools``: ``fleet``, ``classes``: ``workload``), so that ``--set pools.0.replicas=2`` is told the path it
    meant; ``None`` otherwise.

        >>> _home({"fleet": {"pools": [{}]}, "workload": {}}, "pools"), _home({"pools": [], "fleet": {}}, "pools")
        ('fleet', None)
    """
    if not isinstance(data, dict) or key in data:
        return None
    return next((k for k, v in data.items() if isinstance(v, dict) and isinstance(v.get(key), list)), None)


def _example(key: str, yaml_text: str, given_values: bool = False) -> str:
    """An override setting ``key`` to ``yaml_text`` as its user writes one: ``--set 'key=...'`` on the command
    line, ``{'key': ...}`` in a Python mapping of overrides.

        >>> _example("fleet.pools", "[...]"), _example("fleet.pools", "[...]", True)
        ("--set 'fleet.pools=[...]'", "{'fleet.pools': [...]}")
    """
    return f"{{{key!r}: {yaml_text}}}" if given_values else f"--set '{key}={yaml_text}'"


def _flat_rate_problem(key: str, rate: Any, rest: Sequence[str], value: Any, given_values: bool = False) -> str | None:
    """What to say when an override reaches into a share's flat ``rate`` (``...rate.0.rate``) as if it
    were brackets: that the rate is flat, and how to write brackets or change the fraction; ``None``
    for any other key."""
    if not RATE_KEY.fullmatch(key) or isinstance(rate, (dict, list)):
        return None
    got = f"{rate:g}" if isinstance(rate, (int, float)) and not isinstance(rate, bool) else repr(rate)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    example = f"{value:g}" if number and list(rest[1:]) == ["rate"] else got
    brackets = (f"[{{'up_to_usd': 1.0e9, 'rate': {example}}}, {{'rate': 0.1}}]" if given_values
                else f"[{{up_to_usd: 1.0e9, rate: {example}}}, {{rate: 0.1}}]")
    fraction = f"{{{key!r}: 0.15}}" if given_values else f"--set {key}=0.15"
    return (f"is a flat rate ({got}), not brackets, so it has no {'.'.join(rest)}: set the fraction with "
            f"{fraction}, or give the whole list of brackets, e.g. {_example(key, brackets, given_values)} "
            f"(docs/economics.md, stepped rates)")
