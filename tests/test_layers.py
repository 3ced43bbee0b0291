"""The layers contract: a module imports only from its own layer or the layers below it.

Every ``import`` and ``from ... import`` in ``sim/`` is checked, at module level or inside a
function (a function-level import is still a dependency; it only hides the cycle). Imports
under ``if TYPE_CHECKING:`` are not executed and only name types for annotations; they are not
counted. The order is written once, here, and drawn in docs/architecture.md ("Layers").
"""
from __future__ import annotations

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parents[1] / "sim"

#: bottom to top; a module belongs to the layer of the longest prefix that names it
LAYERS: list[tuple[str, ...]] = [
    ("sim.errors", "sim.atomic", "sim.io", "sim.paths", "sim.humanize", "sim.text_table",
     "sim.folder_lock", "sim.swap_recovery", "sim.swap_liveness", "sim.swap_journal"),       # foundations
    ("sim.scenario.schema", "sim.scenario.catalog", "sim.scenario.types",     # the scenario's vocabulary
     "sim.scenario.gpu_catalog", "sim.scenario.model_catalog", "sim.scenario.catalog_fields",
     "sim.scenario.workload", "sim.scenario.perf", "sim.scenario.economics",
     "sim.scenario.architecture", "sim.scenario.hf_config", "sim.scenario.schedulers",
     "sim.scenario.safe_yaml", "sim.scenario.safe_text", "sim.scenario.yaml_tabs", "sim.scenario.durations"),
    ("sim.workload", "sim.perf", "sim.economics"),                         # pure domain models
    ("sim.scenario",),                                                     # loading, cross-layer checks
    ("sim.metrics",),                                                      # records, summaries, schema
    ("sim.serving",),                                                      # the request-level engine
    ("sim.report", "sim.metrics.output", "sim.out_folder"),                # figures and the result folder
    ("sim.api", "sim.assemble", "sim.fluid", "sim.limits",                 # the two tiers behind run(), a run's
     "sim.economics.reprice"),                                             # outputs, work limits, re-pricing a result folder
    ("sim.planning",),                                                     # sweeps, replications, search
    ("sim.commands", "sim.cli", "sim.override_hints", "sim.report_text",  # the command line, the package
     "sim.__main__", "sim"),
]

#: back-edges that remain, each with why; the test fails when one disappears, so the list shrinks
KNOWN_BACK_EDGES: set[tuple[str, str]] = set()


def layer_of(module: str) -> int:
    best, rank = "", None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


def _module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def sim_imports(path: Path) -> list[tuple[str, int]]:
    """``(imported module, line)`` of every runtime import of a ``sim`` module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from sim.serving import replica`` imports the module sim.serving.replica
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                target = sub if (SIM.parent / (sub.replace(".", "/") + ".py")).exists() else node.module
                out.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
    return [(m, line) for m, line in out if m == "sim" or m.startswith("sim.")]


def back_edges() -> set[tuple[str, str, int]]:
    found = set()
    for path in sorted(SIM.rglob("*.py")):
        module = _module_name(path)
        for target, line in sim_imports(path):
            if layer_of(target) > layer_of(module):
                found.add((module, target, line))
    return found


def test_no_module_imports_from_a_layer_above_it():
    unexpected = sorted(e for e in back_edges() if e[:2] not in KNOWN_BACK_EDGES)
    assert not unexpected, "imports from a higher layer:\n" + "\n".join(
        f"  {m}:{line} imports {t}" for m, t, line in unexpected)


def test_known_back_edges_still_exist():
    present = {e[:2] for e in back_edges()}
    gone = KNOWN_BACK_EDGES - present
    assert not gone, f"remove from KNOWN_BACK_EDGES (fixed): {sorted(gone)}"


def test_the_contract_catches_a_function_level_back_edge(tmp_path, monkeypatch):
    """A lazy import inside a function is found like any other."""
    src = SIM / "perf" / "base.py"
    fake = tmp_path / "sim" / "perf" / "base.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(src.read_text(encoding="utf-8") + "\n\ndef _late():\n    from sim.api import run\n")
    imports = sim_imports(fake)
    assert ("sim.api", imports[-1][1]) in imports
    assert layer_of("sim.api") > layer_of("sim.perf.base")
    # the busiest-rank parts split out of the roofline sit in its layer (the roofline imports them)
    assert layer_of("sim.perf.ranks") == layer_of("sim.perf.roofline")
