"""Load a scenario file (YAML or TOML), apply ``--set a.b.c=value`` overrides (:mod:`sim.scenario.overrides`),
validate it.

Every problem is collected and reported at once as ``file: field.path: message`` (the schema's
in the words of :mod:`sim.scenario.schema_errors`, then the cross-field checks of
:mod:`sim.scenario.checks` on what the schema let through)::

    >>> try:
    ...     load_scenario({"duration": -1, "seed": -2, "model": "llama-3-8b"})
    ... except ScenarioError as exc:
    ...     print(exc)
    <scenario>: seed: must be >= 0 (got -2)
    <scenario>: duration: must be >= 0.001 (got -1)
    <scenario>: workload: required field is missing
    <scenario>: fleet: required field is missing
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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.errors import ScenarioError, json_kind
from sim.scenario.safe_text import TextLimitError, load_toml, not_utf8, read_text
from sim.scenario.overrides import apply_overrides
from sim.scenario.raw_values import plain_values
from sim.scenario.safe_yaml import load_yaml, yaml_problem
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
        problems = validation_problems(exc, data, toml=str(source).lower().endswith(".toml"))
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
            with _unsaid(problems):     # (no warning about a value refused: true read as 1)
                problems += semantic_problems(loaded)
        except (OverflowError, ValueError):
            if not huge:    # the overflow is not one of those already named: let it be reported
                raise
    if problems:
        raise ScenarioError(problems, source)
    return loaded


@contextmanager
def _unsaid(refused: list[tuple[str, str]]) -> Iterator[None]:
    """Within the block, the scenario's warnings (``field: message``) about a field already ``refused`` are
    dropped: ``autoscale.tolerance: true``, refused as no number, was also warned of as the tolerance 1 that
    pydantic read it as. The others are warned of as they would be, once the block is over."""
    if not refused:
        yield
        return
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        yield
    fields = {f for f, _ in refused}
    for w in said:
        if not str(w.message).split(": ", 1)[0] in fields:
            warnings.warn(w.message, w.category, stacklevel=3)


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
