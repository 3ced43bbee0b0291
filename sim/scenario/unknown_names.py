"""An unknown name said with what is allowed and the near ones (``did you mean``): GPUs and models
of the catalogs, pools of the fleet, an inline model's own problems.

Used by the scenario's cross-field checks (:mod:`sim.scenario.checks`, :mod:`sim.scenario.pool_checks`).
"""
from __future__ import annotations

import difflib

from sim.errors import clipped, given
from sim.scenario.catalog import model_names


def catalog_msg(kind: str, name: object, names: list[str]) -> str:
    """``unknown GPU 'h900'; allowed: ...`` for a ``name`` not among ``names``, with the near ones
    (:func:`near_names`)."""
    return (f"unknown {kind} {given(name)}{near_names(name, names)}; "
            f"allowed: {', '.join(clipped(str(n)) for n in names)}")


def near_names(name: object, names: list[str]) -> str:
    """`` (did you mean X?)`` for a name that is the start of catalog names (``h200`` for ``h200-sxm``),
    else begins with one (``llama-3.1-70b-instruct`` for ``llama-3.1-70b``; the longest), whatever the
    case, else is one misspelt; ``""`` when none is near or more than three are.

        >>> near_names("H100", ["a100-80gb", "h100-pcie", "h100-sxm"])
        ' (did you mean h100-pcie or h100-sxm?)'
        >>> near_names("llama-3.1-70b-instruct", ["llama-3-70b", "llama-3.1-70b", "llama-3.1-8b"])
        ' (did you mean llama-3.1-70b?)'
        >>> near_names("h200", ["h100-sxm", "h20", "h200-sxm"]), near_names("h900", ["h100-sxm", "h20", "h200-sxm"])
        (' (did you mean h200-sxm?)', '')
    """
    if not isinstance(name, str) or len(name.strip()) < 2:
        return ""
    low = name.strip().lower()
    near = ([n for n in names if n.lower().startswith(low)]
            or sorted((n for n in names if low.startswith(n.lower())), key=len)[-1:]     # the longest it begins with
            or difflib.get_close_matches(low, names, n=2, cutoff=0.8))
    if not near or len(near) > 3:
        return ""
    return f" (did you mean {' or '.join([', '.join(near[:-1]), near[-1]] if len(near) > 1 else near)}?)"


def model_error(name: object, exc: Exception) -> str:
    """What is wrong with a model the catalog refused: an unknown name (:func:`catalog_msg`), or an
    inline architecture's own field problems."""
    if isinstance(name, str):
        return catalog_msg("model", name, model_names())
    from sim.errors import ScenarioError

    if isinstance(exc, ScenarioError):  # an inline architecture: its own field problems
        return "; ".join(f"{path.split('.', 1)[-1] if '.' in path else path}: {msg}" for path, msg in exc.problems)
    msg = exc.args[0] if exc.args else str(exc)
    return str(msg)
