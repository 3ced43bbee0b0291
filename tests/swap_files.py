"""What the result-folder swap tests read back: a folder's files and what the next command says on finishing or
undoing the swaps left in it (:func:`sim.atomic.finish_swaps`). Shared by the swap tests."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

from sim.atomic import finish_swaps
from sim.errors import InputWarning


def contents(target: Path) -> dict[str, str]:
    """Every file under ``target`` by its path relative to it (``/``-separated), with its text."""
    return {p.relative_to(target).as_posix(): p.read_text() for p in sorted(target.rglob("*")) if p.is_file()}


def said_next(target: Path) -> list[str]:
    """The lines the next command touching ``target`` says (what :func:`finish_swaps` returns), checked to be the
    very lines it warns, one :class:`InputWarning` each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lines = finish_swaps(target)
    assert [str(w.message) for w in caught if issubclass(w.category, InputWarning)] == lines
    return lines


def refuse_folder_flushes(monkeypatch, code: int, when: Callable[[], bool] = lambda: True) -> None:
    """Answer ``fsync`` of a folder with the error ``code`` (while ``when()``), as a disk or file system refusing it
    does; files are flushed as ever. Undone with ``monkeypatch.undo()``."""
    real = os.fsync

    def fsync(fd):
        if when() and os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(code, os.strerror(code))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
