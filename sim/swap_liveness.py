"""How a live result-folder swap is told from a dead one's leftover, for its recovery (:mod:`sim.swap_recovery`).

A swap (:func:`sim.atomic.staged_folder`) holds its staged folder's lock while its result is written
(:func:`hold_stage`) and its journal's lock while it swaps (:func:`sim.swap_journal.write_journal`); a command
recovering a dead swap holds the journal's lock while it works. Each lock is an advisory ``flock``, released by the
system when its process ends, however it ends, so a lock another process holds is a swap or a recovery under way
(:func:`claim`, :func:`claim_stage`); where locks cannot be taken, the journal's process on this machine in this
boot tells (:func:`_process_alive`), else the age of what it left (:func:`young`, :func:`young_inside`). A command
about to swap its own result in waits for a swap another command is finishing (:func:`wait_unheld`) while that one
shows progress.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from sim.swap_journal import boot_id

#: how old a ``.old`` folder with no journal (or an unlocked journal where locks cannot be taken), or a staged
#: ``.partial`` folder no lock holds, must be to be taken for a dead swap's (one being made, or under way, is
#: younger)
NO_JOURNAL_AGE_S = 60.0
#: how long a command about to swap its result in waits for a swap into the same folder whose journal another
#: process holds (another command finishing or undoing it: a flush and a few moves) without seeing it progress (its
#: journal touched after each file flushed: :func:`wait_unheld`) before going on without it
BUSY_WAIT_S = 10.0

HELD, GONE, NO_FCNTL, NO_LOCKS = "held", "gone", "no fcntl", "no locks"
"""What :func:`_lock` found where it took no lock: another process holds it, the path is gone (or cannot be
opened), or locks cannot be taken: no ``fcntl`` (Windows), or a file system without them."""


def _lock(path: Path) -> int | str:
    """Take ``path``'s exclusive lock without waiting (``flock``, released by the system when the process ends,
    however it ends): the descriptor holding it, to close once done, or :data:`HELD`, :data:`GONE`,
    :data:`NO_FCNTL` or :data:`NO_LOCKS`."""
    try:
        import fcntl
    except ImportError:         # (Windows)
        return NO_FCNTL
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return GONE
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return HELD
    except OSError:
        os.close(fd)
        return NO_LOCKS
    return fd


def hold_stage(stage: Path) -> int | None:
    """Lock the staged folder ``stage`` while its result is written and swapped in (:func:`_lock`):
    :func:`finish_swaps` removes a staged folder only once no process holds it. The descriptor, to close at the
    end; None where locks cannot be taken."""
    fd = _lock(stage)
    return fd if isinstance(fd, int) else None


def wait_unheld(journal: Path, wait_s: float) -> None:
    """Wait while another process holds the lock of ``journal`` (:func:`claim`: its swap, or its recovery by another
    command, under way) and shows progress: until the lock is let go, or ``wait_s`` seconds pass in which the journal
    was not touched. A swap or recovery flushing a stage touches the journal after each file it flushes
    (:func:`sim.swap_journal.synced`), so a flush of a large result on a slow disk is waited for however long it
    takes, where a fixed wait gave up on it and let the caller's swap go first, the older result then finished over
    the newer; its moves take milliseconds. Only a holder with no file flushed for ``wait_s`` (a disk that stalls)
    is gone on without. Returns at once where locks cannot be taken."""
    import time

    deadline = time.monotonic() + wait_s
    seen = _touched(journal)
    while True:
        fd = _lock(journal)
        if fd != HELD:          # (taken: let go; gone: that swap or recovery is over; no locks there)
            if isinstance(fd, int):
                os.close(fd)
            return
        now, touched = time.monotonic(), _touched(journal)
        if touched != seen:     # a file flushed since: the wait starts again
            seen, deadline = touched, now + wait_s
        elif now >= deadline:
            return
        time.sleep(0.02)


def _touched(path: Path) -> int | None:
    """When ``path`` last changed (ns, the file system's clock: compared only with itself), None if it is gone."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def claim(journal: Path) -> tuple[bool, int | None]:
    """Whether a process still holds the swap of ``journal`` (its lock is taken: a swap under way, or another
    command recovering it), and if not, a descriptor holding its lock for this recovery (None where locks cannot
    be taken), to close once done. On a file system without locks, a journal naming a process of this machine in
    this boot is live while that process runs (:func:`_process_alive`: no clock involved); otherwise (Windows,
    another machine's journal, an earlier boot's) one younger than :data:`NO_JOURNAL_AGE_S` is taken for a live
    swap's (a swap is a few renames, and its flush touches the journal after each file). That last rule reads the
    clock: stepped back, a dead swap waits longer; stepped forward by more than a minute during a swap (or a file
    server's clock that far ahead), a live swap would be taken for dead."""
    fd = _lock(journal)
    if isinstance(fd, int):
        return False, fd
    if fd == NO_FCNTL:          # (Windows) its age
        return young(journal), None
    if fd == NO_LOCKS:          # a file system without locks: its process, if on this machine, else its age
        alive = _process_alive(journal)
        return (young(journal) if alive is None else alive), None
    return True, None           # held, or gone meanwhile (its swap ended)


def _process_alive(journal: Path) -> bool | None:
    """Whether the process a journal names (``pid`` on ``host``) still runs, where it is this machine's (POSIX);
    None where that cannot be told (another machine's, or an older journal without them), and where the journal
    names another boot than this one (:func:`~sim.swap_journal.boot_id`: its process ended with a restart, its id
    may be any process's now; or a machine of the same name): then its age tells. A process id reused within one
    boot reads alive: the leftover waits, never undone under a live swap."""
    import socket

    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
        pid, host = plan["pid"], plan["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or host != socket.gethostname():
        return None
    boot, now = plan.get("boot"), boot_id()
    if isinstance(boot, str) and now is not None and boot != now:
        return None
    try:
        os.kill(pid, 0)         # (POSIX only: the no-fcntl branch above never comes here)
    except ProcessLookupError:
        return False
    except OSError:             # (not ours to signal: it exists)
        return True
    return True


def claim_stage(stage: Path) -> tuple[bool, int | None]:
    """Whether a process holds the staged folder ``stage`` (:func:`hold_stage`), and if not a descriptor holding
    its lock while it is removed (None where locks cannot be taken: its age alone was the rule)."""
    fd = _lock(stage)
    if isinstance(fd, int):
        return False, fd
    return fd in (HELD, GONE), None     # held, or gone meanwhile; without locks its age alone was the rule


def young_inside(folder: Path) -> bool:
    """Whether ``folder`` or anything in it changed within :data:`NO_JOURNAL_AGE_S` (a file being written there
    now), or it cannot be read."""
    if young(folder):
        return True
    try:
        for root, dirs, files in os.walk(folder):
            for e in (*dirs, *files):
                try:
                    if _young_stat(os.lstat(os.path.join(root, e))):
                        return True
                except OSError:
                    return True
    except OSError:
        return True
    return False


def young(p: Path) -> bool:
    """Whether ``p`` changed within :data:`NO_JOURNAL_AGE_S` (or is gone): a swap's folder or journal being made."""
    try:
        return _young_stat(p.stat())
    except OSError:
        return True


def _young_stat(st: os.stat_result) -> bool:
    import time

    return time.time() - st.st_mtime <= NO_JOURNAL_AGE_S
