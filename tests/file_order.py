"""The order test files run in: the longest first, so that the processes of a parallel run
(``make test``: pytest-xdist, ``--dist loadfile --no-loadscope-reorder``, one whole file per process
at a time, the next file to the first process with fewer than three tests left) end close together
instead of one of them running a long file alone at the end (longest processing time first: were the
seconds exact, at most 7/6 of the best finish on two processes, Graham 1969, 4/3 - 1/(3m) on m).

The seconds per file are measured (``tests/file_seconds.json``, written by
``pytest --record-file-seconds tests/file_seconds.json``: each file's setup, call and teardown
seconds summed, as pytest reports them). A file missing from it (a new one) runs first: its time is
unknown, and a long file met at the end would leave the other process idle; a stale entry only
costs balance, never a test. Within a file the collected order is kept (module-scope fixtures stay
shared).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

SECONDS_FILE = Path(__file__).with_name("file_seconds.json")


def file_of(nodeid: str) -> str:
    """The test file of a node id (``tests/test_x.py::test_y[1]`` -> ``tests/test_x.py``), as
    xdist's ``loadfile`` groups it."""
    return nodeid.split("::", 1)[0]


def load_seconds(path: Path = SECONDS_FILE) -> dict[str, float]:
    """The measured seconds per test file (node-id form, ``tests/test_x.py``); none if the file is
    missing or unreadable (the collected order is then kept)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def longest_first(nodeids: list[str], seconds: dict[str, float]) -> list[int]:
    """The positions of ``nodeids`` in run order: files not in ``seconds`` first (in collected
    order), then the others by measured seconds, longest first (ties: collected order); each file's
    tests together, in their collected order."""
    first: dict[str, int] = {}
    for i, nid in enumerate(nodeids):
        first.setdefault(file_of(nid), i)

    def key(i: int):
        f = file_of(nodeids[i])
        known = f in seconds
        return (known, -seconds.get(f, 0.0), first[f], i)

    return sorted(range(len(nodeids)), key=key)


class FileSeconds:
    """Sums each report's seconds (setup, call, teardown) by test file; :meth:`write` stores them,
    longest first, for :func:`load_seconds`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def add(self, nodeid: str, duration: float) -> None:
        self.seconds[file_of(nodeid)] += duration

    def write(self, path: Path) -> None:
        rows = sorted(self.seconds.items(), key=lambda kv: (-kv[1], kv[0]))
        path.write_text(json.dumps({k: round(v, 1) for k, v in rows}, indent=0) + "\n")
