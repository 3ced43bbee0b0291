"""fleetsim: a discrete-event simulator of an LLM inference serving fleet.

>>> import sim
>>> res = sim.run("scenarios/baseline.yaml", overrides=["duration=60", "warmup=0"])  # doctest: +SKIP

Public API: :func:`run`, :func:`load_scenario`, :func:`sweep`, :func:`plan`, :func:`saturation`,
:func:`reprice`, :func:`compare` (and :func:`comparison_text`, a comparison as ``fleetsim compare`` prints it).
``sweep``, ``plan`` and ``saturation`` show a progress bar (tqdm's auto mode: a widget in Jupyter, a
text bar on a terminal's stderr) unless called with ``progress=False``.
"""
from __future__ import annotations

__version__ = "0.1.0"


def run(scenario, **kwargs):
    """Simulate a scenario; see :func:`sim.api.run`."""
    from sim.api import run as _run

    return _run(scenario, **kwargs)


def load_scenario(path, overrides=()):
    """Read and validate a scenario; see :func:`sim.scenario.load.load_scenario`."""
    from sim.scenario.load import load_scenario as _load

    with _warnings_shown(path):
        return _load(path, overrides)


def sweep(*args, **kwargs):
    """Run a grid of overrides x seeds; see :func:`sim.planning.sweep`
    Shows a progress bar (``progress=False`` hides it)."""
    from sim.planning import sweep as _sweep

    kwargs.setdefault("progress", True)
    with _warnings_shown(args[0] if args else kwargs.get("scenario")):
        return _sweep(*args, **kwargs)


def plan(*args, **kwargs):
    """Cheapest configuration meeting constraints; see :func:`sim.planning.plan`
    Shows a progress bar (``progress=False`` hides it)."""
    from sim.planning import plan as _plan

    kwargs.setdefault("progress", True)
    with _warnings_shown(args[0] if args else kwargs.get("scenario")):
        return _plan(*args, **kwargs)


def saturation(*args, **kwargs):
    """Highest arrival rate a fleet sustains within its SLO; see :func:`sim.planning.saturation`
    Shows a progress bar (``progress=False`` hides it)."""
    from sim.planning import saturation as _saturation

    kwargs.setdefault("progress", True)
    with _warnings_shown(args[0] if args else kwargs.get("scenario")):
        return _saturation(*args, **kwargs)


def reprice(folder, overrides=(), out=None):
    """Recompute a result folder's money under ``economics.*`` overrides without re-simulating;
    returns ``(EconomicsResult, summary)``. See :func:`sim.economics.reprice.reprice_folder`."""
    from sim.economics.reprice import reprice_folder

    with _warnings_shown(None):
        return reprice_folder(folder, overrides, out)


def compare(*folders):
    """Run result folders side by side (the first is the base): the scenario keys that differ and each
    metric's change; a :class:`sim.report.comparison.Comparison` (``as_json()``: what ``fleetsim compare
    --json`` prints). See :func:`sim.report.comparison.compare`. The folders are given one by one,
    ``compare("results/a", "results/b")``, or as one list, ``compare(["results/a", "results/b"])``."""
    import os

    from sim.report.comparison import compare as _compare

    if len(folders) == 1 and isinstance(folders[0], (list, tuple)):
        folders = tuple(folders[0])
    if not folders:
        raise TypeError("compare: give the result folders to compare, the base first, such as "
                        "sim.compare('results/a', 'results/b')")
    for f in folders:
        if not isinstance(f, (str, os.PathLike)):
            raise TypeError(f"compare: each folder is a path, a text or a pathlib.Path, such as "
                            f"sim.compare('results/a', 'results/b') (got {repr(f)[:60]}, of type {type(f).__name__})")
    return _compare(folders)


def comparison_text(comparison, width=None):
    """A comparison (:func:`compare`) as ``fleetsim compare`` prints it: the folders with their letters, the
    settings that differ, any notes, then the metrics table, set for ``width`` columns (``None``: each line
    whole, as printed to a file). See :func:`sim.commands.compare.comparison_text`."""
    from sim.commands.compare import comparison_text as _text

    return _text(comparison, width)


def _warnings_shown(scenario):
    """fleetsim's warnings printed as the command line prints them (``file: field: message``, no
    Python source line) while the call runs (:func:`sim.errors.warnings_as_problems`); ``run``
    does the same in :func:`sim.api.run`."""
    from sim.errors import warnings_as_problems
    from sim.scenario.load import source_name

    return warnings_as_problems(source_name(scenario) if scenario is not None else "")


__all__ = ["run", "load_scenario", "sweep", "plan", "saturation", "reprice", "compare", "comparison_text",
           "__version__"]
