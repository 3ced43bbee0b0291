"""The journal of a result-folder swap (:func:`sim.atomic.staged_folder`): written into the swap's hidden ``.old``
folder, and locked, as soon as the staged folder is whole (before anything moves: what the swap moves, what the
stage holds at what sizes, what it drops, and the machine's boot), then confirmed once the stage is flushed to disk
(:func:`synced`, :func:`confirm`: the journal and the ``.old`` folder flushed too, and :data:`SYNCED` beside it);
read back (:func:`read_plan`) by the recovery of a swap a hard kill cut short (:mod:`sim.swap_recovery`), which
finishes the swap where the stage is shown whole (:func:`whole_now`) and its listing can be trusted
(:attr:`Plan.trusted`: confirmed, or the machine not restarted since, so its page cache held the stage).
"""
from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

#: the file in a swap's ``.old`` folder saying what the swap moves (written, and locked, before anything moves)
JOURNAL = "swap.json"
#: the file beside the journal saying the swap is being undone after an error in its own process (made before the
#: first move back): a recovery then carries on undoing, never finishes what the command said had failed
UNDO = "swap.undo"
#: the file beside the journal saying a recovery put the old result back (made before the stage is deleted; made
#: rather than the journal rewritten, whose lock a second recovery would then not see: it said the undo again)
UNDONE = "swap.undone"
#: the file beside the journal saying the stage it lists was flushed to disk before anything moved (:func:`confirm`)
SYNCED = "swap.synced"
#: the files beside a journal that say what became of its swap
MARKS = (UNDO, UNDONE, SYNCED)


def boot_id() -> str | None:
    """This boot of the machine (Linux: ``/proc/sys/kernel/random/boot_id``), None where it cannot be read: a
    journal written in this boot lists a stage the page cache still holds, flushed to disk or not (a hard kill
    loses no written byte; a power cut, which restarts the machine, may)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def synced(stage: Path, flush: bool = True, journal: Path | None = None) -> dict:
    """Flush the staged folder ``stage`` to disk (each file and folder in it, and itself: ``fsync``) and say what it
    holds: ``{"files": {path: size}, "folders": [path]}``, paths relative to it with ``/``; ``flush=False``: only
    say it. A journal holding this proves the stage was whole when the swap began (:func:`whole_now`), a power cut
    included once the stage was flushed (:func:`confirm`): a file not yet on disk could come back empty after one.
    ``journal``: the journal listing the stage, touched after each flush, so that where a live swap is told by its
    journal's age (no locks, and another machine's or no process to ask: :mod:`sim.swap_recovery`) a flush longer
    than that age is not taken for a dead swap's, its stage deleted under it."""
    files: dict[str, int] = {}
    folders: list[str] = []
    todo = [Path(stage)]
    while todo:
        folder = todo.pop()
        for entry in sorted(os.listdir(folder)):
            p = folder / entry
            rel = p.relative_to(stage).as_posix()
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                folders.append(rel)
                todo.append(p)
                continue
            files[rel] = st.st_size
            if flush and stat.S_ISREG(st.st_mode):
                _fsync(p)
                _touch(journal)
        if flush:
            _fsync(folder, folder=True)     # (its entries' names)
            _touch(journal)
    return {"files": files, "folders": sorted(folders)}


def _touch(path: Path | None) -> None:
    """Set ``path``'s time to now (the clock the age rule reads); a failure is no error (its age counts from
    before)."""
    if path is not None:
        import time

        now = time.time()
        try:
            os.utime(path, (now, now))
        except OSError:
            pass


#: what ``fsync`` of a folder answers on a file system that cannot sync one (its files were synced): no error
_NO_FOLDER_SYNC = frozenset({errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def _fsync(path: Path, folder: bool = False) -> None:
    """Flush ``path`` to disk. An error is raised (the swap then fails, the old result left as it was): a file
    the disk did not take (``ENOSPC``, ``EIO``: its bytes may never reach it) is no part of a whole result, and
    the journal would say it was; only a folder on a file system that cannot sync one is let through, and one this
    process may not open (a folder it may write into but not list: flushed by the file system in its own time)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError:
        if folder:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as err:
        if not (folder and err.errno in _NO_FOLDER_SYNC):
            raise
    finally:
        os.close(fd)


def write_journal(aside: Path, stage: Path, old: list[str], whole: dict | None = None,
                  drop: Sequence[str] = ()) -> int:
    """Write the journal of a swap into its ``aside`` folder and hold it locked (``flock``, released by the
    system when the process ends, however it ends) until the swap is over: the staged folder's name, the
    entries of the target to move aside (``old``), the staged entries to move in (``new``), what the stage holds
    (``whole``: :func:`synced`, the proof a recovery needs to finish the swap rather than undo it; the key
    ``staged``), the files of
    the target the swap deletes once the new result is in (``drop``: a stale chart), this process and machine, and
    this boot (:func:`boot_id`). Written as soon as the stage is whole and before it is flushed (``pending``): a
    hard kill from here on is finished by the next command; :func:`confirm` then makes it proof against a power
    cut too. The descriptor, to give :func:`confirm` (where there is no ``flock``, Windows, it is not locked)."""
    fd = os.open(aside / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        import fcntl
    except ImportError:         # (Windows)
        fcntl = None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:         # a file system without locks: written all the same
                pass
        import socket

        plan: dict = {"stage": stage.name, "old": list(old), "new": sorted(os.listdir(stage)),
                      "pid": os.getpid(), "host": socket.gethostname(), "pending": True, "boot": boot_id()}
        if whole is not None:
            # under "staged", not "whole": a fleetsim from before journals were confirmed reads "whole" and trusts it
            # whatever "pending" says (it finished a swap whose stage a power cut may have lost); finding none, it
            # undoes the swap instead, which is always safe. Journals with "whole" are still read (read_plan).
            plan["staged"] = whole
        if drop:
            plan["drop"] = list(drop)
        data = json.dumps(plan).encode()
        if os.write(fd, data) != len(data):     # (a full disk: the rest not written)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(aside / JOURNAL))
    except BaseException:
        discard(aside, fd)
        raise
    return fd


def confirm(aside: Path, fd: int) -> int | None:
    """Once the stage a journal (``fd``, :func:`write_journal`) lists is flushed to disk (:func:`synced`): flush the
    journal, say so beside it (:data:`SYNCED`), then flush the ``aside`` folder (the journal's and the mark's names)
    and the folder holding it (the ``aside`` folder's own), before anything moves: a power cut after any move then
    finds the journal, and the proof the stage was on disk, never a moved result with no record of it (read as
    someone's folder: the new result's stage deleted as dead). An error (``ENOSPC``, ``EIO``) is raised, for the
    caller to delete the journal (:func:`discard`), so that no command finishes a swap its own command says failed.
    The descriptor, to close once the swap is over; None where there is no ``flock`` (closed here: the journal is
    read as a dead swap's)."""
    os.fsync(fd)
    _mark_synced(aside)
    try:
        import fcntl  # noqa: F401
    except ImportError:         # (Windows)
        os.close(fd)
        return None
    return fd


def confirm_found(aside: Path) -> None:
    """:func:`confirm` for a recovery about to finish a swap killed before its journal was confirmed (the journal
    in ``aside``, its stage just flushed, :func:`synced`): its own moves are then a swap's after a confirmed journal,
    so that a power cut during them is finished in the next boot, not undone as a swap that moved nothing."""
    _fsync(aside / JOURNAL)
    _mark_synced(aside)


def _mark_synced(aside: Path) -> None:
    """Say beside the journal in ``aside``, flushed, that its stage is on disk (:data:`SYNCED`); flush ``aside`` and
    the folder holding it (the names)."""
    os.close(os.open(aside / SYNCED, os.O_WRONLY | os.O_CREAT, 0o644))
    _fsync(aside, folder=True)
    _fsync(aside.parent, folder=True)


def flush_moves(*folders: Path) -> None:
    """Flush the folders a swap's moves changed (``fsync`` of each: the names in it), before anything the moves
    replaced is deleted (the old result set aside, a stale file, the journal that records them): a rename stays in
    the page cache until its folder is flushed, and a power cut that kept the deletions but lost the moves before
    them could leave neither result. An error (``EIO``) is raised, for the caller to keep the old result and the
    journal (the next command finishes the swap, flushing again); a folder on a file system that cannot flush one is
    let through, as :func:`synced` lets it."""
    for folder in folders:
        _fsync(folder, folder=True)


def discard(aside: Path, fd: int | None) -> None:
    """Delete the journal in ``aside`` of a swap that did not begin (an error before anything moved) while still
    holding its lock (``fd``, closed here): no recovery reads it meanwhile, and none finishes that swap. (Where an
    open file cannot be deleted, Windows, it is deleted once closed.)"""
    left = []
    for gone in (aside / SYNCED, aside / JOURNAL):
        try:
            os.unlink(gone)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(gone)
    if fd is not None:
        os.close(fd)
    for gone in left:
        try:
            os.unlink(gone)
        except OSError:
            pass


def mark_undo(aside: Path) -> None:
    """Say beside the journal in ``aside`` that its swap is being undone in its own process (an error, an
    interrupt): a kill during that undo is then undone by the next command, not finished (:data:`UNDO`)."""
    try:
        os.close(os.open(aside / UNDO, os.O_WRONLY | os.O_CREAT, 0o644))
    except OSError:         # (a full folder: the undo goes on; killed during it, the next command finishes it)
        pass


def swap_sibling(target: Path, suffix: str) -> re.Pattern:
    """The name :func:`sim.atomic.staged_folder` gives a swap's ``suffix`` folder beside ``target``
    (``.NAME.XXXXXXXX.old``, ``.NAME.XXXXXXXX.partial``: :func:`tempfile.mkdtemp`'s eight characters, not those
    of a folder whose name only starts with NAME)."""
    return re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.{suffix}")


def whole_now(listing: dict, new: list[str], stage: Path, target: Path) -> bool:
    """Whether the new result a journal lists (:func:`synced`) is all there: each staged entry still in the stage,
    or moved into ``target``, with every file and folder in it at the size written."""
    files, folders = listing["files"], listing["folders"]
    if {rel.split("/")[0] for rel in (*files, *folders)} != set(new):
        return False

    def at(rel: str) -> Path:
        top = rel.split("/")[0]
        return (stage if os.path.lexists(stage / top) else target) / rel

    try:
        for rel, size in files.items():
            st = os.lstat(at(rel))
            if stat.S_ISDIR(st.st_mode) or st.st_size != size:
                return False
        return all(stat.S_ISDIR(os.lstat(at(rel)).st_mode) for rel in folders)
    except OSError:
        return False


def _plain(entry: object) -> bool:
    """Whether a journal's entry is a name in the folder (no separator, not ``.`` or ``..``)."""
    return (isinstance(entry, str) and entry not in ("", ".", "..") and "/" not in entry and "\\" not in entry
            and "\0" not in entry)


class Plan(NamedTuple):
    """A swap journal read (:func:`read_plan`)."""

    stage: Path             # its ``.NAME.XXXXXXXX.partial`` folder
    old: list[str]          # the target's entries moved aside
    new: list[str]          # the staged entries moved in
    undone: bool            # a recovery put the old result back
    whole: dict | None      # what the stage held once synced (:func:`synced`); None: not recorded (an older journal)
    drop: list[str]         # the target's files deleted once the new result is in
    on_disk: bool           # the stage was flushed before anything moved (:data:`SYNCED`; an older journal: always)
    this_boot: bool         # written since the machine last started (:func:`boot_id`): a hard kill, not a power cut
    boot_known: bool = True     # the boot recorded and read here: else (no boot id, macOS) a kill is not told from a
    #                             power cut, and a journal not confirmed is undone
    host: str | None = None     # the machine whose swap wrote it (None: not recorded, an older journal)

    @property
    def trusted(self) -> bool:
        """Whether the listing (:attr:`whole`) may prove the new result whole: on disk, or the machine not restarted
        since it was written (its page cache still held every staged byte)."""
        return self.whole is not None and (self.on_disk or self.this_boot)


def _relative(path: object) -> bool:
    """Whether a journal's path is one inside the folder (``figures/a.svg``: each part :func:`_plain`)."""
    return isinstance(path, str) and all(_plain(part) for part in path.split("/"))


def _listing(whole: object) -> dict | None:
    """A journal's ``whole`` (:func:`synced`), if it is one; else None (not to act on)."""
    if not isinstance(whole, dict):
        return None
    files, folders = whole.get("files"), whole.get("folders")
    if not (isinstance(files, dict) and isinstance(folders, list) and all(map(_relative, (*files, *folders)))
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in files.values())):
        return None
    return {"files": files, "folders": folders}


def read_plan(journal: Path, target: Path) -> Plan | None:
    """A swap journal's stage (a ``.NAME.XXXXXXXX.partial`` sibling of ``target``), entries moved aside and in,
    whether a recovery already put the old result back, what the stage held and what the swap drops; None for one
    that cannot be read or names anything else (a copy from another folder, a hand edit, a disk fault: not to act
    on)."""
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(plan, dict):
        return None
    stage, old, new, drop = plan.get("stage"), plan.get("old"), plan.get("new"), plan.get("drop", [])
    if not (isinstance(stage, str) and swap_sibling(target, "partial").fullmatch(stage)
            and isinstance(old, list) and isinstance(new, list) and all(map(_plain, old + new))
            and isinstance(drop, list) and all(map(_relative, drop))):
        return None
    aside, boot = journal.parent, plan.get("boot")
    undone = plan.get("undone") is True or os.path.lexists(aside / UNDONE)      # (the first: an older recovery's)
    on_disk = plan.get("pending") is not True or os.path.lexists(aside / SYNCED)
    now = boot_id()
    this_boot = isinstance(boot, str) and boot == now
    host = plan.get("host")
    listing = plan.get("staged", plan.get("whole"))     # ("whole": written before the key was "staged")
    return Plan(target.parent / stage, old, new, undone, _listing(listing), drop, on_disk, this_boot,
                isinstance(boot, str) and now is not None, host if isinstance(host, str) else None)
