"""An override written wrong on the ``fleetsim`` command line, and what to write instead: ``--set KEY VALUE`` (a
space where the ``=`` goes), ``--set KEY=VALUE`` with a value the shell split at a space (``duration=1h 30m``)
and a ``KEY=VALUE`` word without its ``--set``, which argparse takes for the scenario
or for an unrecognized argument. :mod:`sim.cli` adds :func:`override_hint` to argparse's errors and refuses a
command line argparse took whole but read wrong (:func:`check_overrides`).
"""
from __future__ import annotations

import argparse
import os
import re


#: a word ``KEY=VALUE`` with a field's path for KEY (``economics.gpu_hour_usd=3``): an override without its ``--set``
_OVERRIDE_WORD = re.compile(r"[A-Za-z_][\w-]*(?:\.[\w-]+)*=.*", re.S)


def override_hint(argv: list[str], parser: argparse.ArgumentParser | None = None) -> str:
    """What to write instead of an override written wrong on the command line ``argv`` (the command's words,
    its name first), for a command whose ``parser`` takes ``--set``; empty when there is none. ``--set KEY
    VALUE`` (:func:`set_hint`), or a word ``KEY=VALUE`` that is no option's value and no file or folder: the
    ``--set`` left out (``fleetsim run gpu_hour_usd=3``, whose word argparse took for the scenario, or
    ``fleetsim plan s.yaml workload.arrival.rate=50``, said after plan's missing ``--vary``).

        >>> p = argparse.ArgumentParser(); _ = p.add_argument("--set"); _ = p.add_argument("--vary")
        >>> override_hint(["plan", "s.yaml", "workload.arrival.rate=50"], p)
        ' (to change a field, write --set workload.arrival.rate=50)'
        >>> override_hint(["plan", "s.yaml", "--vary", "fleet.pools.0.replicas=1..4"], p)
        ''
    """
    options = getattr(parser, "_option_string_actions", {})
    if parser is not None and "--set" not in options:
        return ""
    hint = set_hint(argv)
    if hint:
        return hint
    valued = {name for name, action in options.items() if action.nargs != 0}
    for i, word in enumerate(argv[1:], 1):
        if _OVERRIDE_WORD.fullmatch(word) and argv[i - 1] not in valued and not os.path.lexists(word):
            return f" (to change a field, write --set {word})"
    return ""


def check_overrides(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> None:
    """Refuse, with the hint of :func:`override_hint`, a command line argparse took whole but that holds an
    override written wrong: ``--set KEY VALUE`` whose VALUE argparse took for the scenario (``fleetsim run
    --set seed 3``: ``3: file not found``), or a ``KEY=VALUE`` taken for the scenario or result folder
    (``fleetsim run gpu_hour_usd=3``: ``gpu_hour_usd=3: file not found``)."""
    if "--set" not in parser._option_string_actions:
        return
    pair = set_pair(argv)
    if pair is not None:
        parser.error(f"argument --set: {pair[0]!r} is not KEY=VALUE")
    for action in parser._actions:
        value = getattr(args, action.dest, None) if not action.option_strings else None
        if value is not None and _OVERRIDE_WORD.fullmatch(str(value)) and not os.path.lexists(value):
            parser.error(f"the following arguments are required: {argparse._get_action_name(action)}")


def set_pair(argv: list[str]) -> tuple[str, str] | None:
    """The ``KEY`` and ``VALUE`` of ``--set KEY VALUE`` (or ``--set=KEY VALUE``) on ``argv``, written as two
    words where one goes; None when there is none."""
    for i, word in enumerate(argv[:-1]):
        key, value = (word[len("--set="):], argv[i + 1]) if word.startswith("--set=") else \
            (argv[i + 1], argv[i + 2]) if word == "--set" and i + 2 < len(argv) else (None, None)
        if key and value and "=" not in key and not key.startswith("-") and "=" not in value \
                and not value.startswith("-") and not os.path.lexists(value):     # (a file: the scenario's)
            return key, value
    return None


def set_hint(argv: list[str]) -> str:
    """For ``--set KEY VALUE`` (a space where the ``=`` goes: argparse takes ``KEY`` as the override and calls
    ``VALUE``, or the next word, unrecognized), what to write instead: ``--set KEY=VALUE``, one word.

        >>> set_hint(["reprice", "r", "--set", "economics.gpu_hour_usd", "3"])
        ' (--set takes KEY=VALUE as one word: write --set economics.gpu_hour_usd=3)'
        >>> set_hint(["run", "s.yaml", "--set", "seed=3", "x"])
        ''
    """
    pair = set_pair(argv)
    return "" if pair is None else f" (--set takes KEY=VALUE as one word: write --set {pair[0]}={pair[1]})"


def split_hint(argv: list[str], unrecognized: list[str]) -> str:
    """For ``--set KEY=VALUE`` whose value the shell split at a space (``--set duration=1h 30m``: argparse calls
    ``30m`` one of the ``unrecognized`` words), the quotes to write.

        >>> split_hint(["run", "s.yaml", "--set", "duration=1h", "30m"], ["30m"])
        " (the shell split the value at its space: write --set 'duration=1h 30m', in quotes)"
        >>> split_hint(["run", "s.yaml", "--set=duration=1h", "30m", "15s"], ["30m", "15s"])
        " (the shell split the value at its space: write --set 'duration=1h 30m 15s', in quotes)"
        >>> split_hint(["run", "s.yaml", "--set", "duration=90", "s"], ["s"])
        " (the shell split the value at its space: write --set 'duration=90 s', in quotes)"
        >>> split_hint(["run", "s.yaml", "--set", "seed=3", "--json"], ["--json"]), split_hint(["run", "--set", "a=3"], [])
        ('', '')
        >>> split_hint(["run", "a.yaml", "--set", "seed=3", "b.yaml"], ["b.yaml"])     # (a second file: no split)
        ''
    """
    unrecognized = set(unrecognized)        # (each word looked up once: 30,000 stray words took 9 s as a list)
    for i, word in enumerate(argv[:-1]):
        value = word[len("--set="):] if word.startswith("--set=") else argv[i + 1] if word == "--set" else None
        start = i + 1 if word.startswith("--set=") else i + 2
        rest = []               # every word split off (1h 30m 15s: not only 30m, which read '1h 30m' for it)
        for w in argv[start:]:
            if w not in unrecognized or w.startswith("-") or "=" in w:
                break
            rest.append(w)
        if value and "=" in value and rest and _split_value(value.split("=", 1)[1], rest):
            return f" (the shell split the value at its space: write --set '{' '.join([value, *rest])}', in quotes)"
    return ""


def _split_value(first: str, rest: list[str]) -> bool:
    """Whether ``first`` and the words after it read as one value the shell split: a duration (``1h 30m``,
    ``90 s``) or text, which may hold a space (``my run``); not a number and a stray word (``3 extra``, a second
    scenario file), which argparse rightly calls unrecognized."""
    from sim.io import reads_as_number
    from sim.scenario.durations import parse_duration

    try:
        parse_duration(" ".join([first, *rest]))
    except ValueError:
        return not reads_as_number(first)
    return True
