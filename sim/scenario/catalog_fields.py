"""What the GPU and model catalogs (:mod:`sim.scenario.gpu_catalog`, :mod:`sim.scenario.model_catalog`)
share: reading a file of ``data/`` (:func:`read_data`), and the checks and words for an inline entry's
number and naming fields (:func:`finite`, :func:`number_words`, :func:`shown`, :func:`text_problems`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from sim.io import reads_as_number
from sim.scenario.types import MAX_NAME, plain_name


def read_data(filename: str) -> dict[str, Any]:
    """The YAML file ``filename`` of the package's ``data/`` folder."""
    text = resources.files("sim.scenario").joinpath("data", filename).read_text(encoding="utf-8")
    # libyaml's safe loader where PyYAML has it: the same data, 12 ms -> 2 ms for the two files
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def finite(v: Any) -> float | None:
    """``v`` as a finite float; ``None`` for a boolean, text, NaN, an infinity or an integer past
    a float's range (1.8e308), which an inline mapping may hold where a number belongs. Text that reads as
    a number counts as one, as in the rest of the scenario: YAML reads ``1e-6`` (no dot) as text.

        >>> finite("1e-6"), finite("abc"), finite("nan"), finite(True)
        (1e-06, None, None, None)
    """
    if isinstance(v, str) and reads_as_number(v):
        v = float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        x = float(v)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def number_words(v: Any) -> str:
    """What a positive number field of an inline mapping allows, for the message about ``v``."""
    past = isinstance(v, int) and not isinstance(v, bool) and v > 0
    return "a number > 0 and at most 1.8e308 (a float's range)" if past else "a number > 0"


def shown(v: Any) -> str:
    """``repr(v)`` cut to 60 characters: a 400-digit integer is named, not printed whole."""
    text = repr(v)
    return text if len(text) <= 60 else f"{text[:57]}..."


def text_problems(d: Mapping[str, Any], kind: str, keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """The naming fields of an inline mapping that are not text (a list or mapping would become
    its Python spelling in every table and figure); a ``name`` or ``display_name`` that is not a name
    as every other of a scenario (:data:`~sim.scenario.types.Name`: not empty, at most 200 characters,
    no control character), which titles, tables and CSV cells show."""
    problems = []
    for k in (k for k in keys if k in d):
        v = d[k]
        if not isinstance(v, str):
            problems.append((f"{kind}.{k}", f"must be text (got {shown(v)})"))
        elif k not in ("name", "display_name"):
            continue
        elif not v:
            problems.append((f"{kind}.{k}", "must not be empty (got '')"))
        elif len(v) > MAX_NAME:
            problems.append((f"{kind}.{k}", f"must be at most {MAX_NAME} characters (got {len(v):,})"))
        else:
            try:
                plain_name(v)
            except ValueError as exc:
                problems.append((f"{kind}.{k}", str(exc)))
    return problems
