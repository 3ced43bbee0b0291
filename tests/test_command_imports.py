"""What a command imports: only what it uses (start-up is most of a short command's CPU time), and the
planning package's names, imported on first use, still the objects they were."""
from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> list[str]:
    """The modules of ``sim`` a fresh interpreter holds after running ``code`` (its last line of output)."""
    probe = code + "\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if m.startswith('sim'))))\n"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1].split()


def _main(argv: list[str]) -> str:
    return ("import contextlib, io\nfrom sim.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass\n")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], [], ["rnu"]])
def test_no_command_named_imports_no_command_module(argv):
    """The list of commands is ``sim.cli.COMMANDS``: no command's module (nor numpy) is needed to print it."""
    loaded = _modules_after(_main(argv))
    assert [m for m in loaded if m.startswith("sim.commands.")] == []
    assert "sim.api" not in loaded
    assert [m for m in loaded if m.startswith("sim.planning.")] in ([], ["sim.planning.table"])    # (fill)


def test_help_lists_every_command_with_its_help():
    from sim.cli import COMMANDS

    proc = subprocess.run([sys.executable, "-m", "sim", "--help"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())       # a long name's help goes on the next line
    for name, what in COMMANDS.items():
        assert f" {name} {what} " in text, name


def test_a_command_named_imports_its_module_only():
    loaded = _modules_after(_main(["validate", "--help"]))
    assert [m for m in loaded if m.startswith("sim.commands.")] == ["sim.commands.validate"]


def test_run_loads_no_search_and_no_executor(tmp_path):
    """``fleetsim run --out`` uses the planning package's line wrapping and folder lock, not its searches,
    sweeps or process pools."""
    scenario = ROOT / "scenarios" / "baseline.yaml"
    loaded = _modules_after(_main(["run", str(scenario), "--set", "duration=20", "--set", "warmup=0",
                                   "--quiet", "--out", str(tmp_path / "res")]))
    assert (tmp_path / "res" / "summary.json").exists()
    assert "sim.planning.table" in loaded and "sim.planning.store" in loaded
    for unused in ("sim.planning.capacity", "sim.planning.sweep", "sim.planning.saturation",
                   "sim.planning.executors", "sim.planning.evaluator", "sim.commands.sweep"):
        assert unused not in loaded, unused


def test_planning_names_are_their_modules_objects():
    """Every public name of ``sim.planning`` is the object of the module that defines it; ``sweep`` and
    ``saturation`` are the functions even once their modules (of the same names) are imported."""
    code = ("import importlib, sim.planning.sweep, sim.planning.saturation\n"
            "import sim.planning as p\n"
            "bad = [n for n in p.__all__ if getattr(p, n) is not "
            "getattr(importlib.import_module(getattr(p, n).__module__), n)]\n"
            "print(bad, callable(p.sweep), p.sweep.__name__, p.saturation.__name__, sorted(set(p.__all__) - set(dir(p))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.strip() == "[] True sweep saturation []", proc.stderr


def test_planning_sweep_is_the_function_in_this_process():
    import importlib

    import sim.planning
    from sim.planning import saturation, sweep

    assert isinstance(importlib.import_module("sim.planning.sweep"), types.ModuleType)
    assert not isinstance(sweep, types.ModuleType) and sweep is sim.planning.sweep
    assert not isinstance(saturation, types.ModuleType) and saturation is sim.planning.saturation
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        sim.planning.nonesuch  # noqa: B018


def test_planning_modules_are_attributes_of_the_package_as_they_were():
    """When the package imported every name at once, each of its modules was bound on it, so
    ``import sim.planning`` then ``sim.planning.runner.SimulationRunner`` (or ``.executors``, ``.store``)
    worked; with the names imported on first use it was an AttributeError. A module is now imported when
    it is first reached so (``sweep`` and ``saturation`` stay the functions), and nothing before."""
    modules = sorted(p.stem for p in (ROOT / "sim" / "planning").glob("*.py")
                     if p.stem != "__init__" and p.stem not in ("sweep", "saturation"))
    code = ("import sys, types, sim.planning as p\n"
            "before = sorted(m for m in sys.modules if m.startswith('sim.planning.'))\n"
            f"names = {modules!r}\n"
            "got = [n for n in names if getattr(p, n) is not sys.modules['sim.planning.' + n]]\n"
            "print(before == [] or before, got, isinstance(p.sweep, types.ModuleType), hasattr(p, 'nonesuch'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.strip() == "True [] False False", proc.stdout + proc.stderr
