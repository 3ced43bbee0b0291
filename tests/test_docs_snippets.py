"""The docs cannot rot. In README.md and docs/*.md:

* every YAML snippet is (part of) a scenario that ``fleetsim validate`` accepts;
* the ``fleetsim validate`` / ``calibrate`` output they quote is what the command prints, and the
  README's error example what a bad scenario gets;
* every key of the scenario schema and every option of every command is named;
* every file, relative link and ``sim.*`` object they name exists, every import of a python example
  works, and a python example marked to run runs.

A snippet is checked as the reader would use it: top-level keys are merged into
``scenarios/baseline.yaml`` (a top-level block's keys replace the base's, the rest of the block
stays), the scenario is written to a temporary folder and loaded and checked as ``fleetsim
validate`` does (schema, cross-field checks, work limits, and no warning). A comment on the line
before the fence says where a fragment belongs when it is not top-level keys:

    <!-- docs-check: under fleet.pools.0 -->            the snippet is the inside of that field
    <!-- docs-check: base scenarios/x.yaml -->          merge into another shipped scenario
    <!-- docs-check: base scenarios/x.yaml or scenarios/y.yaml -->   into either (the first that accepts it)
    <!-- docs-check: each line -->                      every line (or continued mapping) is an alternative
    <!-- docs-check: equals scenarios/baseline.yaml --> the snippet is that file (comments aside)

A ```python block marked ``<!-- docs-check: run -->`` (a quick one) is run as written, with
``out_dir`` a temporary folder.

Nothing is simulated here, so the whole file takes a few seconds.
"""
from __future__ import annotations

import re
import shutil
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sim.errors import InputWarning, ScenarioError
from sim.limits import work_problems
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BASE = "scenarios/baseline.yaml"
MARK = re.compile(r"<!--\s*docs-check:\s*(.*?)\s*-->")

#: a config.json a snippet names as "yours": the shipped copy of the same published file stands in
PUBLISHED_CONFIGS = {"models/Llama-3.1-8B/config.json": "llama-3.1-8b.json",
                     "models/x/config.json": "qwen3-32b.json"}


@dataclass(frozen=True)
class Snippet:
    doc: Path
    line: int          # 1-based line of the first line inside the fence
    text: str
    how: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.doc.name}:{self.line}"


def _how(mark: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in mark.split(","))):
        word, _, rest = part.partition(" ")
        out[word if word != "each" else "each line"] = rest.strip()
    return out


def fenced_blocks(doc: Path, lang: str = "yaml") -> list[Snippet]:
    """Every fenced block of ``lang`` in a Markdown file, with the docs-check comment before it."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```" + lang:
            j = i + 1
            while not lines[j].strip().startswith("```"):
                j += 1
            mark = MARK.search(lines[i - 1]) if i else None
            out.append(Snippet(doc, i + 2, "\n".join(lines[i + 1:j]), _how(mark.group(1)) if mark else {}))
            i = j
        i += 1
    return out


SNIPPETS = [s for doc in DOCS for s in fenced_blocks(doc)]


def merged(base: dict, part: dict, depth: int = 2) -> dict:
    """``base`` with ``part`` on top: mappings merged key by key ``depth`` levels deep, anything
    else (and what lies deeper) replaced, so a snippet's ``workload.arrival`` replaces the base's
    whole arrival process while its ``workload`` keeps the base's token lengths."""
    out = dict(base)
    for key, value in part.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value, depth - 1) if both and depth > 1 else value
    return out


def placed(part: dict, path: str) -> dict:
    """``part`` as the value of a dotted field path (list items by index) of an empty scenario."""
    for key in reversed(path.split(".")):
        part = {key: part}
    return part


def fragments(snippet: Snippet) -> list[str]:
    """The snippet, or with ``each line`` each alternative (a line and the lines continuing it)."""
    if "each line" not in snippet.how:
        return [snippet.text]
    out: list[str] = []
    for line in snippet.text.splitlines():
        if line.startswith((" ", "\t")) and out:
            out[-1] += "\n" + line
        elif line.strip():
            out.append(line)
    return out


def scenario_of(fragment: dict, how: dict[str, str], base_file: str = BASE) -> dict:
    base = yaml.safe_load((ROOT / base_file).read_text(encoding="utf-8"))
    under = how.get("under")
    if under:
        head, _, index = under.rpartition(".")
        if index.isdigit():   # the inside of a list item: merge into that item of the base
            items = base
            for key in head.split("."):
                items = items[key]
            items[int(index)] = merged(items[int(index)], fragment, 1)
            return base
        fragment = placed(fragment, under)
    return merged(base, fragment)


def check(scenario: dict, folder: Path) -> None:
    """What ``fleetsim validate`` checks: schema, cross-field checks, work limits; a warning
    (a setting that never applies) counts as a failure too."""
    for ref, shipped in PUBLISHED_CONFIGS.items():
        (folder / ref).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "sim/scenario/data/hf" / shipped, folder / ref)
    for trace in (ROOT / "scenarios").rglob("*"):   # relative trace paths of a shipped scenario
        if trace.is_file() and trace.suffix != ".yaml":
            dest = folder / trace.relative_to(ROOT / "scenarios")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(trace, dest)
    path = folder / "snippet.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    with warnings.catch_warnings():   # a snippet that only draws a warning (it never applies...) misleads too
        warnings.simplefilter("error", InputWarning)
        loaded = load_scenario(path)
    too_big = work_problems(loaded)
    if too_big:
        raise ScenarioError(too_big, str(path))


def test_the_docs_have_yaml_snippets():
    # the walk finds the blocks (a changed fence style would otherwise pass every check vacuously)
    assert len(SNIPPETS) >= 10
    assert {s.doc.name for s in SNIPPETS} >= {"README.md", "economics.md", "workload.md", "fleet_dynamics.md"}


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.name for s in SNIPPETS])
def test_yaml_snippet_validates(snippet, tmp_path):
    if "equals" in snippet.how:
        shipped = yaml.safe_load((ROOT / snippet.how["equals"]).read_text(encoding="utf-8"))
        assert yaml.safe_load(snippet.text) == shipped, f"{snippet.name} differs from {snippet.how['equals']}"
        return
    for i, text in enumerate(fragments(snippet)):
        fragment = yaml.safe_load(text)
        assert isinstance(fragment, dict), f"{snippet.name}: not a mapping: {text!r}"
        refusals = []
        for j, base in enumerate(snippet.how.get("base", BASE).split(" or ")):
            folder = tmp_path / f"{i}-{j}"
            folder.mkdir()
            try:
                check(scenario_of(fragment, snippet.how, base), folder)
                break
            except (ScenarioError, InputWarning) as exc:
                refusals.append(f"on {base}: {exc}")
        else:
            pytest.fail(f"{snippet.name}: `fleetsim validate` refuses the snippet\n{text}\n" + "\n".join(refusals))


def test_merging_a_fragment_keeps_the_rest_of_the_base():
    base = {"fleet": {"router": "random", "pools": [{"name": "main", "replicas": 4}]},
            "workload": {"arrival": {"process": "poisson", "rate": 12}, "prompt_tokens": {"dist": "fixed"}}}
    assert merged(base, {"fleet": {"router": "round_robin"}})["fleet"] == {
        "router": "round_robin", "pools": [{"name": "main", "replicas": 4}]}
    assert merged(base, {"workload": {"arrival": {"process": "diurnal", "mean_rate": 4}}})["workload"] == {
        "arrival": {"process": "diurnal", "mean_rate": 4}, "prompt_tokens": {"dist": "fixed"}}
    assert placed({"rate": 0.2}, "economics.agreements") == {"economics": {"agreements": {"rate": 0.2}}}


def test_a_broken_snippet_is_refused(tmp_path):
    # the check is not vacuous: an unknown GPU fails as it would on the command line
    with pytest.raises(ScenarioError, match="h900"):
        check(scenario_of({"gpu": "h900"}, {"under": "fleet.pools.0"}), tmp_path)


# ------------------------------------------------------------------ outputs the docs quote
def quoted_runs(doc: Path) -> list[tuple[int, list[str], list[str]]]:
    """``(line, argv, quoted output lines)`` of each fenced block opening with ``$ fleetsim ...``; a
    line ``...`` ends what is quoted (the rest of the output is left out)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "```" and lines[i + 1].startswith("$ fleetsim "):
            j = i + 2
            while not lines[j].startswith("```"):
                j += 1
            out.append((i + 2, lines[i + 1][len("$ fleetsim "):].split(), lines[i + 2:j]))
    return out


QUOTED = [(doc, *q) for doc in DOCS for q in quoted_runs(doc)]


@pytest.mark.parametrize("doc,line,argv,quoted", QUOTED, ids=[f"{d.name}:{ln}" for d, ln, _, _ in QUOTED])
def test_quoted_command_output_is_what_the_command_prints(doc, line, argv, quoted, capsys, monkeypatch):
    from sim.cli import main

    # commands that answer in about a second; a quoted simulation would need a slow test of its own
    assert argv[0] in ("validate", "calibrate"), f"{doc.name}:{line}: quoted `fleetsim {argv[0]}` is not checked"
    monkeypatch.chdir(ROOT)
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    shown = quoted[:[q.strip() for q in quoted].index("...")] if "..." in [q.strip() for q in quoted] else quoted
    expected = printed[:len(shown)] if len(shown) < len(quoted) else printed
    assert shown == expected, f"{doc.name}:{line}: rerun `fleetsim {' '.join(argv)}` and paste its output"


def test_readme_error_example_is_what_validate_prints(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    example = [ln for ln in text.splitlines() if ln.startswith("scenarios/x.yaml: ")]
    assert len(example) == 2
    (tmp_path / "scenarios").mkdir()
    shutil.copy(ROOT / BASE, tmp_path / "scenarios/x.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as err:
        load_scenario("scenarios/x.yaml", ["workload.arrival.rate=-3", "fleet.pools.0.gpu=h900"])
    assert str(err.value).splitlines() == example


RUN = [s for doc in DOCS for s in fenced_blocks(doc, "python") if "run" in s.how]


def test_some_python_example_runs():
    assert RUN, "no ```python block is marked <!-- docs-check: run -->"


@pytest.mark.parametrize("snippet", RUN, ids=[s.name for s in RUN])
def test_python_example_runs_as_written(snippet, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(snippet.text, snippet.name, "exec"), {"out_dir": tmp_path})


# ------------------------------------------------------------------ every scenario key is documented
def _models_in(annotation) -> list[type]:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def schema_keys() -> list[str]:
    """Every key a scenario file may write (dotted paths, list items as their block), from the schema."""
    from sim.scenario.schema import Scenario

    seen: set[type] = set()
    keys: list[str] = []

    def walk(model: type, path: str) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            key = field.alias or name
            keys.append(f"{path}{key}")
            for sub in _models_in(field.annotation):
                walk(sub, f"{path}{key}.")

    walk(Scenario, "")
    return keys


def test_every_scenario_key_is_documented():
    # named in code (a `span` or a fenced block) of README.md or docs/*.md, so a new key cannot ship
    # without a word on it
    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    code = "\n".join(re.findall(r"`[^`\n]+`", text) + re.findall(r"```.*?```", text, re.S))
    keys = schema_keys()
    assert len(keys) > 100 and "fleet.pools.batching.scheduler" in keys and "economics.agreements.payment_lag" in keys
    missing = [k for k in keys if not re.search(r"\b" + re.escape(k.rsplit(".", 1)[-1]) + r"\b", code)]
    assert not missing, f"scenario keys no doc names: {missing}"


def test_every_command_line_option_is_documented():
    import argparse

    from sim.cli import build_parser

    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    parser, _ = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    options = [(name, opt) for name, p in commands.items() for a in p._actions for opt in a.option_strings
               if opt.startswith("--") and opt != "--help"]
    assert len(commands) == 9 and ("run", "--json") in options
    missing = [f"fleetsim {name} {opt}" for name, opt in options if not re.search(re.escape(opt) + r"(?![\w-])", text)]
    assert not missing, f"options no doc names: {missing}"


# ------------------------------------------------------------------ what the docs point at exists
def test_linked_and_named_files_exist():
    missing = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        links = [m.group(1) for m in re.finditer(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if "://" not in m.group(1)]
        missing += [f"{doc.name}: link {t}" for t in links if not (doc.parent / t).exists()]
        named = re.findall(r"`((?:sim|tests|benchmarks|scenarios|examples|notebooks|docs)/[\w./-]+)`", text)
        missing += [f"{doc.name}: {t}" for t in named if not (ROOT / t.rstrip(".")).exists()]
    assert not missing, missing


def test_named_python_objects_exist():
    import importlib

    missing = []
    for doc in DOCS:
        for name in set(re.findall(r"`(sim(?:\.\w+)+)(?:\([^`]*\))?`", doc.read_text(encoding="utf-8"))):
            parts = name.split(".")
            for i in range(len(parts), 0, -1):     # the longest importable prefix, then attributes
                try:
                    obj = importlib.import_module(".".join(parts[:i]))
                    break
                except ModuleNotFoundError:
                    continue
            for attr in parts[i:]:
                obj = getattr(obj, attr, None)
            if obj is None:
                missing.append(f"{doc.name}: {name}")
    assert len(missing) == 0, missing


def test_every_import_in_a_python_example_works():
    # API references written as signatures cannot run, but what they import must exist
    lines = [(s.name, line.strip()) for doc in DOCS for s in fenced_blocks(doc, "python")
             for line in s.text.splitlines() if re.match(r"\s*(from sim[\w.]* import |import sim\b)", line)]
    assert len(lines) >= 8
    for where, line in lines:
        try:
            exec(line.split("#")[0], {})
        except ImportError as exc:
            pytest.fail(f"{where}: {line}: {exc}")
