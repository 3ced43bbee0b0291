"""Load a scenario file (YAML or TOML), apply ``--set a.b.c=value`` overrides, validate it.

Every problem is collected and reported at once as ``file: field.path: message`` (the schema's
in the words of :mod:`sim.scenario.schema_errors`, then the cross-field checks of
:mod:`sim.scenario.checks` on what the schema let through)::

    >>> apply_overrides({"fleet": {"pools": [{"replicas": 4}]}}, ["fleet.pools.0.replicas=8"])
    {'fleet': {'pools': [{'replicas': 8}]}}
"""
from __future__ import annotations

import copy
import difflib
import errno
import itertools
import os
import re
import tomllib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.economics.tiers import RATE_KEY
from sim.errors import ScenarioError, given, json_kind, text_list
from sim.humanize import plural
from sim.scenario.safe_text import TextLimitError, load_toml, not_utf8, read_text
from sim.scenario.raw_values import dropped_comment, one_line, plain_values, quote_hint, unshared, value_at
from sim.scenario.safe_yaml import TagError, load_yaml, tag_problem
from sim.scenario.schema import Scenario
from sim.scenario.schema_errors import bool_problems, clean_loc, validation_problems


class LoadedScenario:
    """A validated :class:`Scenario` plus where it came from (for relative paths and messages), and
    ``memory_plans``: each pool's memory plan as its checks made it, ``{index: (pool, plan)}`` (empty
    when loaded without checks; :func:`sim.scenario.pool_setup.pool_setups` reads them)."""

    __slots__ = ("scenario", "source", "base_dir", "raw", "memory_plans")

    def __init__(self, scenario: Scenario, source: str, base_dir: Path, raw: dict) -> None:
        self.scenario = scenario
        self.source = source
        self.base_dir = base_dir
        self.raw = raw
        self.memory_plans: dict[int, tuple] = {}


# ------------------------------------------------------------------------------ reading files
def _result_folder_hint(p: Path) -> str:
    """A result folder given where a scenario goes says where its scenario is and what reads it."""
    if p.is_dir() and (p / "scenario.json").is_file() and (p / "summary.json").is_file():
        return (f": a result folder (its scenario as run is {p / 'scenario.json'}; fleetsim report, compare "
                "and reprice read the folder)")
    return ""


def read_file(path: str | Path) -> dict:
    """The raw mapping in a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file.

    Read within the limits of :mod:`sim.scenario.safe_text` (regular files only, size, nesting depth) and
    :mod:`sim.scenario.safe_yaml` (values, alias budget, duplicate keys).
    """
    p = Path(path)
    src = str(path)
    if not p.exists():
        if p.is_symlink():
            raise ScenarioError([("", _broken_link(p))], src)
        raise ScenarioError([("", "file not found" + did_you_mean(p))], src)
    try:
        text = read_text(p)
    except TextLimitError as exc:
        raise ScenarioError([("", str(exc) + _result_folder_hint(p))], src) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([("", not_utf8(exc))], src) from None
    except OSError as exc:
        raise ScenarioError([("", f"cannot read file: {getattr(exc, 'strerror', None) or exc}")], src) from None
    toml = p.suffix.lower() == ".toml"
    try:
        data = load_toml(text) if toml else load_yaml(text)
    except TextLimitError as exc:
        raise ScenarioError([(exc.field, str(exc))], src) from None
    except yaml.MarkedYAMLError as exc:
        raise ScenarioError([("", f"not valid YAML: {yaml_problem(exc)}")], src) from None
    except yaml.reader.ReaderError as exc:    # a character YAML does not allow (a NUL, say)
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise ScenarioError([("", f"not valid YAML: line {line}, column {column}: character U+{char:04X} is not "
                                  f"allowed in YAML text")], src) from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, OverflowError, RecursionError) as exc:
        msg = str(exc).replace("\n", " ")
        raise ScenarioError([("", f"not valid {'TOML' if toml else 'YAML'}: {msg}")], src) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        looks_toml = not toml and isinstance(data, str) and re.match(r"\s*[\w.\"-]+\s*=", data) is not None
        hint = ("; it reads as TOML (key = value): name the file .toml, or write YAML's key: value"
                if looks_toml else "")
        raise ScenarioError([("", f"must be a mapping of keys to values (got {json_kind(data)}){hint}")], src)
    return data


def yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """A YAML syntax error as a person reads it: where (line and column, from 1), what, and where
    the construct it broke began; a tab where indentation goes says that YAML indents with spaces.

        >>> try:
        ...     yaml.safe_load("a: 1\\n\\tb: 2\\n")
        ... except yaml.MarkedYAMLError as exc:
        ...     print(yaml_problem(exc))
        line 2, column 1: a tab where YAML expects spaces (YAML indents with spaces only)
    """
    def at(mark) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"
    problem = exc.problem or "cannot parse"
    context = exc.context
    if "'\\t'" in problem:
        problem, context = "a tab where YAML expects spaces (YAML indents with spaces only)", None
    elif "expected <block end>" in problem:
        problem += ": the indentation does not line up with the lines above"
    text = f"{at(exc.problem_mark)}: {problem}" if exc.problem_mark is not None else problem
    if context and exc.context_mark is not None and exc.context_mark.line != getattr(exc.problem_mark, "line", -1):
        text += f" ({context} at {at(exc.context_mark)})"
    elif context:
        text += f" ({context})"
    return text


def _broken_link(p: Path) -> str:
    """What is wrong with a symbolic link that leads to no file: a loop, or a target that is missing."""
    try:
        p.resolve(strict=True)
    except RuntimeError:           # Python 3.11-3.12: 'Symlink loop'
        return "a loop of symbolic links (it leads back to itself)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links (it leads back to itself)"
    return f"a symbolic link to {os.readlink(p)}, which does not exist"


#: the suffixes of a scenario file
SCENARIO_SUFFIXES = (".yaml", ".yml", ".toml")


def did_you_mean(path: Path) -> str:
    """`` (did you mean X?)`` for a scenario file near a ``path`` that does not exist: the name with a
    scenario suffix (``scenarios/baseline``), the name in ``scenarios/`` (``baseline.yaml`` or ``baseline``
    typed in the project's folder) or a close spelling in the same folder (``scenarios/baselin.yaml``); else empty.

        >>> did_you_mean(Path("nowhere/at/all.yaml"))
        ''
    """
    near = [path.with_name(path.name + s) for s in SCENARIO_SUFFIXES] if not path.suffix else []
    if len(path.parts) == 1:            # (``baseline``, the shipped scenario's name alone, too)
        near += [Path("scenarios") / c.name for c in [path, *near]]
    found = next((c for c in near if c.is_file()), None)
    if found is None and path.parent.is_dir():
        names = [f.name for f in itertools.islice(path.parent.iterdir(), 10_000)
                 if f.suffix.lower() in SCENARIO_SUFFIXES]
        close = difflib.get_close_matches(path.name, [n for n in names if n != path.name], n=1, cutoff=0.8)
        found = path.with_name(close[0]) if close else None
    return f" (did you mean {found}?)" if found is not None else ""


# ------------------------------------------------------------------------------ overrides
class ValueProblem(ValueError):
    """An override's value YAML reads as a list or mapping it then refuses (a key given twice, a ``null``
    key, an unclosed ``{``): the message says what, without the line of a one-line value."""


def _parse_value(text: str, key: str = "KEY") -> Any:
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
            problems.append((key or item, "override key must be a dotted path such as fleet.pools.0.replicas"))
            continue
        bracket = re.search(r"\[(\d+)\]", key)
        if bracket:                                        # pools[0]: a list item is its index, a part of the path
            dotted = re.sub(r"\[(\d+)\]", r".\1", key)
            problems.append((key, f"a list item is written by its index as a part of the dotted path: "
                                  f"{dotted}, not [{bracket.group(1)}]"))
            continue
        try:
            value = item[1] if given_values else _parse_value(text, key)
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
            loc = clean_loc(e.get("loc", ()), repaired)
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

    with warnings.catch_warnings(record=True) as caught:     # warnings too may only echo a field left out
        warnings.simplefilter("always")
        try:
            more = semantic_problems(LoadedScenario(scenario, source, Path(base_dir), repaired))
        except Exception:  # noqa: BLE001 - best effort on a scenario already known to be wrong
            return []
    cut = [".".join(map(str, r)) for r in removed]

    # a class's share or arrival left out changes what workload.arrival and the shares' sum mean; the
    # classes left out (a class without its name, say) make the workload's own lengths required
    echoes = {"workload.arrival", "workload.classes"} if any(c.startswith("workload.classes.") for c in cut) else set()
    if "workload.classes" in cut:
        echoes |= {"workload.prompt_tokens", "workload.output_tokens"}

    def related(path: str) -> bool:
        return path in echoes or any(path == c or path.startswith(c + ".") or c.startswith(path + ".") or not path
                                     for c in cut)

    for w in caught:
        if not related(str(w.message).split(": ", 1)[0]):
            warnings.warn(w.message, stacklevel=2)
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
    """Validate a raw mapping into a :class:`LoadedScenario` (field and cross-field checks). An empty one (an
    empty file, or one of comments only) is one problem, not one per required field."""
    if isinstance(data, dict) and not data:
        raise ScenarioError([("", "is empty (no keys; comments and blank lines hold none): a scenario needs at "
                                  "least duration, model, workload and fleet, e.g. scenarios/baseline.yaml")], source)
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


def source_name(scenario: Any) -> str:
    """The name a scenario's problems and warnings are reported under: its file as given, the
    source of a loaded scenario, ``<scenario>`` for a mapping or a :class:`Scenario`."""
    if isinstance(scenario, LoadedScenario):
        return scenario.source
    return str(scenario) if isinstance(scenario, (str, Path)) else "<scenario>"


def load_scenario(path: str | Path | dict, overrides: Iterable[str] | Mapping[str, Any] = (),
                  check: bool = True) -> LoadedScenario:
    """Read, override and validate a scenario file (or a raw mapping); ``overrides``: texts ``"a.b=value"`` (as
    ``--set`` takes them) or a mapping ``{"a.b": value}`` (:func:`apply_overrides`)."""
    if isinstance(path, dict):
        data = apply_overrides(path, overrides) if overrides else copy.deepcopy(path)
        return scenario_from_dict(plain_values(data), source_name(path), Path("."), check)
    src = source_name(path)
    data = read_file(path)
    if overrides:
        data = apply_overrides(data, overrides)
    return scenario_from_dict(data, src, Path(path).resolve().parent, check)
