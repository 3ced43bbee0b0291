"""Recovery of a result-folder swap cut short by a hard kill (``kill -9``, a power cut): the journal a swap
writes into its hidden ``.old`` folder before it moves anything (:func:`write_journal`), how a live swap is told
from a dead one's leftover (:func:`_claim`), and :func:`finish_swaps`, which the next command touching the folder
calls to finish or undo the leftover. The swap itself is :func:`sim.atomic.staged_folder`.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from sim.paths import followed

#: the file in a swap's ``.old`` folder saying what the swap moves (written, and locked, before anything moves)
JOURNAL = "swap.json"
#: how old a ``.old`` folder with no journal (or an unlocked journal where locks cannot be taken) must be to be
#: taken for a dead swap's (one being made, or under way, is younger)
NO_JOURNAL_AGE_S = 60.0


def remove_aside(aside: Path) -> None:
    """Delete a swap's ``.old`` folder, its journal last: a kill on the way leaves the journal with what is left,
    for the next command to finish (never a folder of the old result's files with no record of them)."""
    import shutil

    try:
        entries = [e for e in os.listdir(aside) if e != JOURNAL]
    except OSError:
        return
    for e in entries:
        p = aside / e
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass
    for gone in (lambda: os.unlink(aside / JOURNAL), lambda: os.rmdir(aside)):
        try:
            gone()
        except OSError:
            pass


def kept(stage: Path, target: Path) -> bool:
    """Whether a swap of ``stage`` into ``target`` whose undo failed left its journal for the next command (the
    stage then holds what had moved in and back: not to delete before that command puts the old result back)."""
    for aside in _asides(target):
        try:
            if json.loads((aside / JOURNAL).read_text(encoding="utf-8")).get("stage") == stage.name:
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def write_journal(aside: Path, stage: Path, old: list[str]) -> int | None:
    """Write the journal of a swap into its ``aside`` folder and hold it locked (``flock``, released by the
    system when the process ends, however it ends) until the swap is over: the staged folder's name, the
    entries of the target to move aside (``old``) and the staged entries to move in (``new``). The
    descriptor, to close at the end; None where there is no ``flock`` (Windows: the journal is written
    unlocked, and read as a dead swap's)."""
    fd = os.open(aside / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        import fcntl
    except ImportError:         # (Windows)
        fcntl = None
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:         # a file system without locks: written all the same
            pass
    import socket

    os.write(fd, json.dumps({"stage": stage.name, "old": list(old), "new": sorted(os.listdir(stage)),
                             "pid": os.getpid(), "host": socket.gethostname()}).encode())
    os.fsync(fd)
    if fcntl is None:
        os.close(fd)
        return None
    return fd


def _claim(journal: Path) -> tuple[bool, int | None]:
    """Whether a process still holds the swap of ``journal`` (its lock is taken: a swap under way, or another
    command recovering it), and if not, a descriptor holding its lock for this recovery (None where locks cannot
    be taken), to close once done. On a file system without locks, a journal naming a process of this machine is
    live while that process runs (:func:`_process_alive`: no clock involved); otherwise (Windows, another
    machine's journal) one younger than :data:`NO_JOURNAL_AGE_S` is taken for a live swap's (a swap is a few
    renames). That last rule reads the clock: stepped back, a dead swap waits longer; stepped forward by more
    than a minute during a swap (or a file server's clock that far ahead), a live swap would be taken for
    dead."""
    try:
        import fcntl
    except ImportError:
        return _young(journal), None
    try:
        fd = os.open(journal, os.O_RDONLY)
    except OSError:
        return True, None       # (gone meanwhile: its swap ended)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return True, None
    except OSError:             # a file system without locks: its process, if on this machine, else its age
        os.close(fd)
        alive = _process_alive(journal)
        return (_young(journal) if alive is None else alive), None
    return False, fd


def _process_alive(journal: Path) -> bool | None:
    """Whether the process a journal names (``pid`` on ``host``) still runs, where it is this machine's (POSIX);
    None where that cannot be told (another machine's, or an older journal without them). A process id reused
    since reads alive: the leftover waits, never undone under a live swap."""
    import socket

    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
        pid, host = plan["pid"], plan["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)         # (POSIX only: the no-fcntl branch above never comes here)
    except ProcessLookupError:
        return False
    except OSError:             # (not ours to signal: it exists)
        return True
    return True


def _swap_sibling(target: Path, suffix: str) -> re.Pattern:
    """The name :func:`sim.atomic.staged_folder` gives a swap's ``suffix`` folder beside ``target``
    (``.NAME.XXXXXXXX.old``, ``.NAME.XXXXXXXX.partial``: :func:`tempfile.mkdtemp`'s eight characters, not those
    of a folder whose name only starts with NAME)."""
    return re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.{suffix}")


def _asides(target: Path) -> list[Path]:
    """The ``.old`` folders of swaps into ``target`` (:func:`_swap_sibling`)."""
    pattern = _swap_sibling(target, "old")
    try:
        return sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir()
                      and not p.is_symlink())
    except OSError:
        return []


def finish_swaps(target: str | Path, shown: str | Path | None = None) -> list[str]:
    """Finish or undo each swap into the result folder ``target`` that a hard kill cut short, and say which,
    one :class:`~sim.errors.InputWarning` line each (returned too). A swap (:func:`sim.atomic.staged_folder`) moves the
    old result aside into a hidden ``.NAME.XXXXXXXX.old`` folder, with a journal of what it moves, then the
    new one in from ``.NAME.XXXXXXXX.partial``, then deletes the old; killed between, it left:

    * the new result whole in place (killed while deleting the old one): the swap is **finished**, the old
      copy deleted: the command had written and placed all of its result;
    * anything less (the old result aside, the new one partly moved in, or the folder gone): the swap is
      **undone**, the old result put back and the staged one deleted: what the command left is not known to
      be a whole result, and it never said it had written one, so the folder is as before it (run it again).

    A swap still under way (its journal locked by a live process, or by another command recovering it: the
    recovery holds the lock as it works) is left alone, as is a ``.old`` folder
    without a journal younger than :data:`NO_JOURNAL_AGE_S` (being made); such a folder older than that
    held nothing moved yet and is removed without a word. A recovery killed in its turn leaves the journal
    (marked ``undone`` once the old result is back), and the next one carries on from there.

    Nothing the journal does not plainly describe is touched: a ``.old`` folder holding files without a
    journal (a swap of a fleetsim before journals, or someone's folder of that name), or with a journal that
    cannot be read or names anything but this folder's entries and its ``.NAME.XXXXXXXX.partial`` stage, is
    left as it is, and a line says so; so is a leftover a move of which fails (a read-only folder).
    """
    import warnings

    from sim.errors import InputWarning

    try:
        # `..` resolved as staged_folder resolves it: `run1/../run1` names no folder while run1 is set aside
        target = Path(os.path.realpath(followed(target).absolute()))
    except OSError:             # a link that loops: the command says so
        return []
    name = target if shown is None else shown
    said = []

    def say(text: str) -> None:
        warnings.warn(text, InputWarning, stacklevel=3)
        said.append(text)

    for aside in _asides(target):
        journal = aside / JOURNAL
        if not journal.is_file():
            try:
                if any(aside.iterdir()):
                    say(f"{name}: {aside.name} beside it holds files set aside with no record of a swap's moves (a "
                        f"swap by an earlier fleetsim, or someone's folder): left as it is; look in it, and delete it "
                        f"once it is not needed")
                elif not _young(aside):
                    aside.rmdir()
            except OSError:
                pass
            continue
        live, held = _claim(journal)
        if live:
            continue
        try:
            _recover(aside, journal, target, name, say)
        finally:
            if held is not None:
                os.close(held)
    return said


def _recover(aside: Path, journal: Path, target: Path, name: object, say: Callable[[str], None]) -> None:
    """Finish or undo the dead swap of ``aside`` (:func:`finish_swaps`, which holds its journal's lock), saying
    what was done with ``say``."""
    import shutil

    plan = _plan(journal, target)
    if plan is None:
        try:
            alone = os.listdir(aside) == [JOURNAL]
        except OSError:
            return
        if alone:           # killed while writing it (nothing moved yet), unless that is happening now
            if not _young(journal):
                remove_aside(aside)
            return
        say(f"{name}: {aside.name} beside it holds a swap journal that cannot be read or is not this folder's: "
            f"left as it is; look in it, and delete it once it is not needed")
        return
    stage, old, new, undone = plan
    whole = (aside / "old").is_dir() and "old" not in old
    if undone:      # a recovery that put the old result back was killed while deleting the rest
        done = False
    elif whole:     # the old folder renamed aside whole: the new one is in place once its stage is gone
        done = os.path.lexists(target) and not os.path.lexists(stage)    # (not a folder a lock made since)
    else:           # entry by entry: every staged entry moved in
        done = not any(os.path.lexists(stage / e) for e in new)
    try:
        if done:
            remove_aside(aside)
            if stage.is_dir() and not any(stage.iterdir()):
                stage.rmdir()
            say(f"{name}: a result swapped into this folder was cut short (the command was killed) after the "
                f"new result was whole in place: finished, the old result left aside in {aside.name} removed")
            return
        if not undone:
            if whole:       # (over an empty folder made since: the lock of the command now running)
                os.rename(aside / "old", target)
            else:
                for e in new:       # what had moved in goes back to the stage, deleted below
                    if not os.path.lexists(stage / e) and os.path.lexists(target / e):
                        os.rename(target / e, stage / e)
                for e in old:
                    if os.path.lexists(aside / e):
                        os.rename(aside / e, target / e)
            # the old result is back: said in the journal before the stage (whose entries bear the old
            # result's names) is deleted, so that a recovery killed now is not taken up from the start
            mark = aside / f".{JOURNAL}.undone"
            mark.write_text(json.dumps({"stage": stage.name, "old": old, "new": new, "undone": True}))
            os.replace(mark, journal)
    except OSError as err:
        say(f"{name}: a result swapped into this folder was cut short (the command was killed), and could not "
            f"be finished or undone ({err.strerror or err}): left as it is, the old result in {aside.name}")
        return
    shutil.rmtree(stage, ignore_errors=True)
    remove_aside(aside)
    say(f"{name}: a result swapped into this folder was cut short (the command was killed) before the "
        f"new result was whole in place: undone, the folder is as it was before that command (run it "
        f"again for its result)")


def _young(p: Path) -> bool:
    """Whether ``p`` changed within :data:`NO_JOURNAL_AGE_S` (or is gone): a swap's folder or journal being made."""
    import time

    try:
        return time.time() - p.stat().st_mtime <= NO_JOURNAL_AGE_S
    except OSError:
        return True


def _plain(entry: object) -> bool:
    """Whether a journal's entry is a name in the folder (no separator, not ``.`` or ``..``)."""
    return (isinstance(entry, str) and entry not in ("", ".", "..") and "/" not in entry and "\\" not in entry
            and "\0" not in entry)


def _plan(journal: Path, target: Path) -> tuple[Path, list[str], list[str], bool] | None:
    """A swap journal's stage (a ``.NAME.XXXXXXXX.partial`` sibling of ``target``), entries moved aside and in,
    and whether a recovery already put the old result back; None for one that cannot be read or names anything
    else (a copy from another folder, a hand edit, a disk fault: not to act on)."""
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(plan, dict):
        return None
    stage, old, new = plan.get("stage"), plan.get("old"), plan.get("new")
    if not (isinstance(stage, str) and _swap_sibling(target, "partial").fullmatch(stage)
            and isinstance(old, list) and isinstance(new, list) and all(map(_plain, old + new))):
        return None
    return target.parent / stage, old, new, plan.get("undone") is True
