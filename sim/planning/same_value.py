"""One value of a knob written two ways: ``duration=60,1m`` (a duration in seconds and in minutes), or
``economics.agreements.0.rate=0.2,[{rate: 0.2}]`` (a flat rate and its one open bracket). Each pair sets
the same scenario, so a sweep or plan would run it twice, as two points, and show it as two rows.

:func:`check_spellings` refuses such a pair before anything runs, naming both spellings, as
:func:`sim.planning.knobs.parse_knob` refuses ``1`` and ``1.0``: it loads the base scenario with each of
a knob's listed values (the other knobs at their first value) and compares the scenarios as checked
(:func:`scenario_form`: the validated scenario as JSON, units and defaults resolved, each share's rate
in its plainest form). A value the scenario's checks refuse is left to them: it is said, with the
configuration it is in, when the points are made.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

from sim.planning.knobs import Knob, KnobError
from sim.planning.source import ScenarioSource


def scenario_form(source: ScenarioSource, overrides: Sequence[str]) -> str | None:
    """The scenario ``source`` makes with ``overrides`` as JSON text equal for two that run alike:
    the validated scenario (a duration in seconds, names and defaults as the checks resolve them),
    each share's rate in its plainest form (:func:`sim.economics.tiers.plain_rates`). ``None`` when the
    scenario's checks refuse it."""
    from sim.economics.tiers import plain_rates
    from sim.errors import InputError, ScenarioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (said once, when the points are made)
            loaded = source.validate(source.resolve(overrides))
    except (ScenarioError, InputError, ValueError, TypeError):
        return None
    data: dict[str, Any] = loaded.scenario.model_dump(mode="json", by_alias=True)
    return json.dumps(plain_rates(data), sort_keys=True, default=str)


def check_spellings(source: ScenarioSource, knobs: Sequence[Knob]) -> None:
    """Raise :class:`~sim.planning.knobs.KnobError` when two listed values of one knob make the same
    scenario (the other knobs at their first value), naming both. An integer range's values are
    distinct numbers and are not loaded."""
    base = tuple(o for k in knobs for o in k.overrides(k.values[0]))
    for i, knob in enumerate(knobs):
        if knob.is_range or len(knob.values) < 2:
            continue
        before = tuple(o for k in knobs[:i] for o in k.overrides(k.values[0]))
        after = base[len(before) + len(knob.paths):]
        seen: dict[str, str] = {}
        for value in knob.values:
            form = scenario_form(source, before + knob.overrides(value) + after)
            if form is None:
                continue
            if form in seen:
                path = "&".join(knob.paths)
                raise KnobError(f"{path}: values must be distinct: {seen[form]!r} and {value!r} are the same value "
                                f"written two ways (the scenario each makes is the same: one run, twice); give it "
                                f"once (got {','.join(knob.values)!r})")
            seen[form] = value
