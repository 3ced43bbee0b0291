"""A result folder's fingerprints: which ``usage.npz`` and ``scenario.json`` its run wrote.

A run records, in its ``summary.json`` (the ``fingerprints`` block, added last), the content
fingerprint of the two files a later command takes on trust: ``usage.npz`` (what ``fleetsim reprice``
prices: :func:`~sim.economics.usage_file.usage_digest`) and ``scenario.json`` (what the report's header,
``compare``'s differences and a re-priced copy describe: :func:`scenario_digest`). Each is ``sha256:``
and 64 hex digits of the file's content, not its bytes: a ``usage.npz`` zipped again unchanged, or a
``scenario.json`` whose keys or spacing an editor changed, keeps its fingerprint.

:func:`mismatches` says which of the two no longer is the run's, naming the file and both fingerprints;
a folder written before fingerprints were recorded has no block and cannot be checked
(:func:`unchecked_notice`); ``fleetsim report`` and ``compare``, which describe a folder's scenario
without pricing its usage, say in a note when its ``scenario.json`` was changed (:func:`scenario_changed`).

    >>> scenario_digest({"b": 1, "a": [1.0, "x"]}) == scenario_digest({"a": [1.0, "x"], "b": 1})
    True
    >>> fingerprint_problems({"fingerprints": {"usage.npz": "md5:abc"}})
    [('fingerprints.usage.npz', "expected 'sha256:' and 64 hex digits, got 'md5:abc'")]
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.economics.usage_file import FILE_NAME as USAGE, usage_digest
from sim.errors import json_kind

#: the summary key of the block (``{file name: fingerprint}``)
KEY = "fingerprints"
SCENARIO = "scenario.json"
#: the files a run fingerprints
FILES = (USAGE, SCENARIO)
#: the scenario key the fingerprint leaves out (:func:`scenario_digest`)
ENGINE = "engine"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def scenario_digest(data: Any) -> str:
    """The fingerprint of a scenario as JSON (the value ``scenario.json`` holds): SHA-256 of its
    canonical text (keys sorted, no spaces), so key order and layout do not count, values do. The
    ``engine`` is left out: both engines write the same result (their ``summary.json`` differs only in
    ``engine`` and ``wall_seconds``), and so they record one fingerprint.

        >>> scenario_digest({"seed": 1, "engine": "reference"}) == scenario_digest({"seed": 1})
        True
    """
    if isinstance(data, dict) and ENGINE in data:
        data = {k: v for k, v in data.items() if k != ENGINE}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def folder_fingerprints(folder: str | Path, files: tuple[str, ...] = FILES) -> dict[str, str]:
    """The fingerprints of the files of ``files`` (of :data:`FILES`) in ``folder`` that are there, as read
    back (a ``scenario.json`` that is not JSON raises ``ValueError``)."""
    folder = Path(folder)
    out = {}
    if USAGE in files and (folder / USAGE).is_file():
        out[USAGE] = usage_digest((folder / USAGE).read_bytes())
    if SCENARIO in files and (folder / SCENARIO).is_file():
        out[SCENARIO] = scenario_digest(json.loads((folder / SCENARIO).read_text(encoding="utf-8-sig")))
    return out


def fingerprint_problems(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, problem)`` for a ``fingerprints`` block fleetsim would not have written (not an object, a
    value that is not ``sha256:`` and 64 hex digits; ``null``, which would pass for a block with nothing to
    check); none when the block is absent (an earlier version's summary)."""
    if KEY not in summary:
        return []
    block = summary[KEY]
    if not isinstance(block, dict):
        return [(KEY, f"expected an object, got {json_kind(block)}")]
    return [(f"{KEY}.{name}", f"expected 'sha256:' and 64 hex digits, got {str(value)[:80]!r}")
            for name, value in block.items() if not (isinstance(value, str) and _DIGEST.fullmatch(value))]


def unchecked_notice(folder: str | Path, summary: Mapping[str, Any]) -> str | None:
    """One line for a folder whose summary records no fingerprints (written by an earlier fleetsim), else
    ``None``."""
    if KEY in summary:
        return None
    return (f"{folder}: summary.json records no fingerprints (written by an earlier version of fleetsim): "
            f"cannot check that {USAGE} and {SCENARIO} are the run's own")


def mismatches(folder: str | Path, summary: Mapping[str, Any], found: Mapping[str, str],
               what: Mapping[str, str]) -> list[str]:
    """One line per file whose fingerprint (``found``: file name → fingerprint, for the files present) is
    not the one ``summary`` records, naming the file and both fingerprints (shortened) and what to do;
    ``what``: per file name, what the command would do with another (``re-pricing would price another run's
    usage as this one's``).
    A file ``summary`` records that is absent is not a mismatch (a folder may lose its scenario.json); a
    present file it does not record is. Empty for a summary without fingerprints (:func:`unchecked_notice`)."""
    block = summary.get(KEY)
    if not isinstance(block, dict):
        return []
    folder = Path(folder)
    lines = []
    for name in FILES:
        if name not in found or found[name] == block.get(name):
            continue
        expected = (f"records its fingerprint {_short(block[name])}" if name in block
                    else f"records no {name} for this run")
        how = ("put back the run's own, or run the scenario again with --out" if name == USAGE else
               "put back the run's own (or move it out of the folder), or run the scenario again with --out")
        lines.append(f"{folder / name}: not the {name} this run wrote (summary.json {expected}; the file's is "
                     f"{_short(found[name])}): {what[name]}; {how}")
    return lines


def scenario_changed(summary: Mapping[str, Any], scenario: Any) -> bool:
    """``scenario`` (the JSON value of a folder's ``scenario.json``; ``None``: none) is not the one the run
    wrote, by the fingerprint ``summary`` records (a summary without one: cannot tell, ``False``)."""
    block = summary.get(KEY)
    recorded = block.get(SCENARIO) if isinstance(block, dict) else None
    return scenario is not None and isinstance(recorded, str) and scenario_digest(scenario) != recorded


def changed_scenario_note(folders: str) -> str:
    """The note of ``report`` and ``compare`` on the folders (``folders``, said) whose ``scenario.json``
    changed since the run (:func:`scenario_changed`): what they describe is the edited file."""
    return (f"scenario.json of {folders} was changed after the run wrote it (its fingerprint is not the one "
            "summary.json records): the settings shown are the edited file's, not necessarily the run's")


def _short(digest: str) -> str:
    """``sha256:`` and the first 12 hex digits: enough to tell two files apart by eye."""
    return digest[:19] + "..." if len(digest) > 19 else digest
