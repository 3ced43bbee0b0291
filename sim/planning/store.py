"""A folder of finished points, one JSON file each, written atomically as each point completes.

A *point* is one simulation: a fully resolved scenario (overrides applied) and a seed. Its key is
a hash of both, so a rerun of the same sweep finds the points already done and skips them, and a
sweep killed half-way loses only the points that were running. Files are written to a temporary
name in the same folder and moved into place with :func:`os.replace`, which is atomic on POSIX
and Windows: a reader (or a crash) never sees half a file.

Records whose ``error`` is set are kept for the report but are retried on the next run (the
failure may have been transient, e.g. a worker killed for memory).

    >>> point_key({"a": 1}, seed=3) == point_key({"a": 1}, seed=3) != point_key({"a": 1}, seed=4)
    True
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from sim.errors import InputWarning
from sim.io import atomic_write_text


def point_key(scenario: dict, seed: int) -> str:
    """Stable 20-hex-digit hash of a resolved scenario dict and a seed."""
    text = json.dumps({"scenario": scenario, "seed": int(seed)}, sort_keys=True, default=str,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temporary file, then :func:`os.replace`)."""
    atomic_write_text(path, json.dumps(data, indent=1, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):          # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


class CorruptPointWarning(InputWarning):
    """A stored point file was unreadable and has been moved aside (the point runs again)."""


class PointStore:
    """Finished points under ``root/points/<key>.json``; ``root=None`` keeps them in memory."""

    def __init__(self, root: Path | str | None) -> None:
        self.root = Path(root) if root is not None else None
        self._memory: dict[str, dict] = {}

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / "points" / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored record for ``key``, or None.

        A file that is not a point record (random bytes, ``[]``, another point's record, JSON
        nested past reason) is moved aside to ``<key>.json.corrupt`` with a
        :class:`CorruptPointWarning` naming both paths, and the point counts as not done, so it
        runs again.
        """
        if self.root is None:
            return self._memory.get(key)
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._corrupt(path, f"cannot be read ({exc.strerror or exc})")
        try:
            rec = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return self._corrupt(path, f"is not JSON ({type(exc).__name__})")
        if not isinstance(rec, dict) or rec.get("key") != key:
            return self._corrupt(path, "is not this point's record")
        return rec

    def _corrupt(self, path: Path, why: str) -> None:
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
            moved = f"moved to {aside}"
        except OSError as exc:
            moved = f"could not be moved aside ({exc.strerror or exc})"
        warnings.warn(f"{path}: {why}; {moved}; the point runs again", CorruptPointWarning, stacklevel=3)
        return None

    def done(self, key: str) -> dict | None:
        """The stored record if it finished without error (so it need not run again)."""
        rec = self.get(key)
        return rec if rec is not None and not rec.get("error") else None

    def put(self, record: dict) -> None:
        """Store a finished point (atomically when on disk)."""
        key = record["key"]
        if self.root is None:
            self._memory[key] = record
        else:
            write_json_atomic(self._path(key), record)
