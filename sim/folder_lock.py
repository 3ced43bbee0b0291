"""One writer at a time per result folder: an advisory lock on the folder while a command, or
``sim.run(..., out=...)``, writes into it.

Two writers into one folder at once wrote their result files one after another over each other's
(one's ``summary.json`` beside the other's figures). :func:`holding` locks the folder itself with
``flock``, which the system releases when the process ends however it ends, so nothing is left to
clean up; a process forked meanwhile (a worker of the local pool) closes its copy at once
(:func:`_let_go_in_child`), so the lock goes when the holder's block ends. ``flock`` locks an open file
description: a second :func:`holding` of the same folder, from this process or another, is refused.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.paths import make_folder


#: the folders' descriptors :func:`holding` holds locked in this process
_HELD: set[int] = set()


def _let_go_in_child() -> None:
    """In a process forked while a folder is held (a worker of the local pool): close its copy of each
    descriptor, so that the lock goes when the command ends, not when the last worker does (a pool the
    caller keeps outlives the command)."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_let_go_in_child)


@contextmanager
def holding(root: Path | None, busy: Callable[[], BaseException]) -> Iterator[None]:
    """Hold ``root`` locked while the block runs; ``busy()`` is raised when another holds it. The
    folder is made for it, and what was made is removed again if the block leaves it empty. Without
    ``fcntl`` (Windows), where the file system refuses locks (``ENOLCK``, ``EBADF`` on NFS: the block runs
    as it would without the hold), or where the folder cannot be made (the block then says why), nothing
    is held; ``root=None``: nothing."""
    try:
        import fcntl
    except ImportError:         # (Windows)
        fcntl = None
    fd = None
    made: Path | None = None        # the outermost folder made here
    if root is not None and fcntl is not None:
        try:
            where = Path(os.path.realpath(root))
            made = next((p for p in reversed((where, *where.parents)) if not os.path.lexists(p)), None)
            make_folder(root)
            fd = os.open(where, os.O_RDONLY)
        except OSError:
            fd = None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                made = None
                raise busy() from None
            except OSError:     # (no locks there: NFS without its lock daemon, ENOLCK; or NFS's emulation
                #  of flock, which refuses an exclusive lock on a descriptor opened to read: EBADF)
                os.close(fd)
                fd = None
            else:
                _HELD.add(fd)
        yield
    finally:
        if fd is not None:
            _HELD.discard(fd)
            os.close(fd)        # (the lock goes with it)
        if made is not None:    # each folder made, from the innermost, while empty
            for folder in (where, *where.parents):
                try:
                    os.rmdir(folder)
                except OSError:
                    break
                if folder == made:
                    break
