"""Atomic file writes: write a temporary file in the same folder, then rename it into place.

A reader (or a crashed run) never sees a half-written result file.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def csv_text(header: list[str], columns: list) -> str:
    """CSV text from equal-length columns (floats printed with ``repr`` precision)."""
    buf = io.StringIO()
    buf.write(",".join(header) + "\n")
    n = len(columns[0]) if columns else 0
    cols = [c.tolist() if hasattr(c, "tolist") else list(c) for c in columns]
    for i in range(n):
        buf.write(",".join(_fmt(c[i]) for c in cols))
        buf.write("\n")
    return buf.getvalue()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if v != v else repr(v)
    s = str(v)
    return f'"{s}"' if ("," in s or '"' in s) else s


def atomic_write_csv_gz(path: str | Path, header: list[str], columns: list) -> Path:
    raw = csv_text(header, columns).encode("utf-8")
    return atomic_write_bytes(path, gzip.compress(raw, compresslevel=6, mtime=0))
