"""A file of a result folder that is not as fleetsim writes it: its problems, one line each naming the
file and the line and column or key at fault, at most :data:`MAX_PROBLEMS` (then how many more), and
what to do about it (:data:`REWRITE`); every reader of :mod:`sim.report.result_folder` raises them so.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.errors import InputError, ScenarioError, json_kind

#: problems listed per file (then how many more)
MAX_PROBLEMS = 5
#: what to do about a damaged file, after its problems
REWRITE = ("not as fleetsim writes it: write the folder again (fleetsim run, sweep, plan or saturation with "
           "--out), or move the file out of the folder to report without it")
#: a table whose last line has no newline (fleetsim ends every line with one): cut mid-row, perhaps
#: mid-number, which still reads as a number
CUT_MID_LINE = "is truncated: the file ends mid-line (fleetsim ends its last row with a newline)"


def raise_problems(problems: list[tuple[str, str]], path: Path) -> None:
    """A :class:`~sim.errors.ScenarioError` of the first :data:`MAX_PROBLEMS` problems (and how many
    more there are) with what to do about them; nothing when there are none."""
    if problems:
        more = len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS] + ([("", f"... and {more} more")] if more > 0 else [])
        raise ScenarioError(problems + [("", REWRITE)], str(path))


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in the file at ``path`` (a byte-order mark an editor added is dropped); an
    :class:`~sim.errors.InputError` naming the file and ``what`` it is then not (``"summary"``: "not a
    fleetsim summary") for a folder, a file that is not UTF-8 JSON or is nested too deeply, and a JSON
    value that is no object."""
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a file: not a fleetsim {what}")
    try:
        with open(path, encoding="utf-8-sig") as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a fleetsim {what} (invalid JSON: {exc})") from None
    except RecursionError:
        raise InputError(f"{path}: not a fleetsim {what} (nested too deeply)") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a fleetsim {what} (expected a JSON object, got {json_kind(data)})")
    return data
