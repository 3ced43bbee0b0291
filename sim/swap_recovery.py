"""Recovery of a result-folder swap cut short by a hard kill (``kill -9``, a power cut): how a live swap is told
from a dead one's leftover (:func:`_claim`), and :func:`finish_swaps`, which the next command touching the folder
calls to finish the leftover by its journal (:mod:`sim.swap_journal`; or undo it, where the new result cannot be
shown whole) and to remove a staged folder its command never got to swap in (:func:`hold_stage`). The swap
itself is :func:`sim.atomic.staged_folder`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.paths import followed
from sim.swap_journal import (JOURNAL, MARKS, UNDO, UNDONE, Plan, boot_id, confirm_found,  # noqa: F401 (JOURNAL,
                              read_plan, swap_sibling, synced, whole_now)   # UNDO: importable from here)

#: how old a ``.old`` folder with no journal (or an unlocked journal where locks cannot be taken), or a staged
#: ``.partial`` folder no lock holds, must be to be taken for a dead swap's (one being made, or under way, is
#: younger)
NO_JOURNAL_AGE_S = 60.0
#: how long a command about to swap its result in waits for a swap into the same folder whose journal another
#: process holds (another command finishing or undoing it: a few moves) before going on without it
BUSY_WAIT_S = 10.0


def remove_aside(aside: Path) -> None:
    """Delete a swap's ``.old`` folder, its journal last (then its :data:`~sim.swap_journal.MARKS`, which the
    journal's reader needs): a kill on the way leaves the journal with what is left, for the next command to finish
    (never a folder of the old result's files with no record of them)."""
    import shutil

    try:
        entries = [e for e in os.listdir(aside) if e not in (JOURNAL, *MARKS)]
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
    for gone in (JOURNAL, *MARKS):
        try:
            os.unlink(aside / gone)
        except OSError:
            pass
    try:
        os.rmdir(aside)
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


def _wait_unheld(journal: Path, wait_s: float) -> None:
    """Wait, up to ``wait_s`` seconds, while another process holds the lock of ``journal`` (:func:`_claim`): its
    swap, or its recovery by another command, under way. Returns at once where locks cannot be taken."""
    import time

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        fd = _lock(journal)
        if fd != HELD:          # (taken: let go; gone: that swap or recovery is over; no locks there)
            if isinstance(fd, int):
                os.close(fd)
            return
        time.sleep(0.02)


def _claim(journal: Path) -> tuple[bool, int | None]:
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
        return _young(journal), None
    if fd == NO_LOCKS:          # a file system without locks: its process, if on this machine, else its age
        alive = _process_alive(journal)
        return (_young(journal) if alive is None else alive), None
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


def _asides(target: Path) -> list[Path]:
    """The ``.old`` folders of swaps into ``target`` (:func:`~sim.swap_journal.swap_sibling`)."""
    pattern = swap_sibling(target, "old")
    try:
        return sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir()
                      and not p.is_symlink())
    except OSError:
        return []


def finish_swaps(target: str | Path, shown: str | Path | None = None, wait_s: float = 0.0) -> list[str]:
    """Finish or undo each swap into the result folder ``target`` that a hard kill cut short, and remove the staged
    folders of commands killed before their swap, saying what was done, one :class:`~sim.errors.InputWarning` line
    each (returned too). A swap (:func:`sim.atomic.staged_folder`) writes the new result whole into a hidden
    ``.NAME.XXXXXXXX.partial`` folder, writes a journal of its moves and of what the stage holds into a hidden
    ``.NAME.XXXXXXXX.old`` folder, syncs the stage to disk and confirms the journal, moves the old result aside
    there, the new one in, then deletes the old; killed in between, it left:

    * a journal whose new result is whole (each staged file where the swap put it, or is yet to, at its size:
      :func:`~sim.swap_journal.whole_now`) and can be trusted (:attr:`~sim.swap_journal.Plan.trusted`: confirmed,
      or written since the machine last started, its page cache holding the stage): the swap is **finished** (a
      stage not yet confirmed, which must then be whole in the stage itself, flushed and its journal confirmed
      first, so that a refused move or a power cut during the recovery's own moves finds them recorded), the rest
      of the new result moved in and the old one deleted: the command had written all of its result, and was only
      placing it;
    * a journal that cannot show the new result whole (one of a fleetsim before this proof, a staged file missing
      or of another size, one not confirmed before the machine restarted: a power cut while the stage was being
      flushed, nothing moved yet; or not confirmed where the boot cannot be read, a kill then not told from a
      power cut), or a swap that was being undone after an error in its own process
      (:data:`~sim.swap_journal.UNDO`), or one whose finishing move is refused: the swap is **undone**, the old
      result put back and the staged one deleted, so the folder is as before the command (run it again); an older
      journal's swap whose new result is already all in place is finished.

    A swap still under way (its journal locked by a live process, or by another command recovering it: the
    recovery holds the lock as it works) is left alone, after waiting up to ``wait_s`` seconds for that lock to go
    (a command about to swap its own result in waits, :data:`BUSY_WAIT_S`: a swap finished after its own would
    put the older result over the newer), as is a ``.old`` folder
    without a journal younger than :data:`NO_JOURNAL_AGE_S` (being made); such a folder older than that
    held nothing moved yet and is removed without a word. A recovery killed in its turn leaves the journal
    (marked ``undone`` once the old result is back), and the next one carries on from there.

    A ``.partial`` folder no journal names is a result being written, or one whose command was killed before its
    swap began: removed, and said, once no process holds its lock (:func:`hold_stage`) and nothing in it has
    changed for :data:`NO_JOURNAL_AGE_S` (where locks cannot be taken, the age alone); else left alone.

    Nothing the journal does not plainly describe is touched: a ``.old`` folder holding files without a
    journal (a swap of a fleetsim before journals, or someone's folder of that name), or with a journal that
    cannot be read or names anything but this folder's entries and its ``.NAME.XXXXXXXX.partial`` stage, is
    left as it is, and a line says so (and the ``.partial`` folders beside it, one of which may be its stage);
    so is a leftover a move of which fails (a read-only folder).
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
                if any(e.name not in MARKS for e in aside.iterdir()):
                    say(f"{name}: {aside.name} beside it holds files set aside with no record of a swap's moves (a "
                        f"swap by an earlier fleetsim, or someone's folder): left as it is; look in it, and delete it "
                        f"once it is not needed")
                elif not _young(aside):
                    remove_aside(aside)     # (an undo mark left of a swap undone: nothing else)
            except OSError:
                pass
            continue
        live, held = _claim(journal)
        if live and wait_s > 0:     # (another command finishing it: its moves end before the caller's begin)
            _wait_unheld(journal, wait_s)
            live, held = _claim(journal)
        if live:
            continue
        try:
            _recover(aside, journal, target, name, say)
        finally:
            if held is not None:
                os.close(held)
    _remove_dead_stages(target, name, say)
    return said


def _remove_dead_stages(target: Path, name: object, say: Callable[[str], None]) -> None:
    """Remove each ``.NAME.XXXXXXXX.partial`` folder beside ``target`` that no journal left names and no process
    holds (:func:`finish_swaps`): a result whose command was killed while writing it, or before its swap began."""
    import shutil

    named = set()
    for aside in _asides(target):      # those left: under way, or left as they are
        if not (aside / JOURNAL).exists():
            continue
        try:
            plan = json.loads((aside / JOURNAL).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return                      # (a journal not read: any of them may be its stage)
        if not (isinstance(plan, dict) and isinstance(plan.get("stage"), str)):
            return
        named.add(plan["stage"])
    pattern = swap_sibling(target, "partial")
    try:
        stages = sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name) and p.name not in named
                        and p.is_dir() and not p.is_symlink())
    except OSError:
        return
    for stage in stages:
        if _young_inside(stage):
            continue
        live, held = _claim_stage(stage)
        if live:
            continue
        try:
            shutil.rmtree(stage)
        except OSError as err:
            say(f"{name}: {stage.name} beside it, a result its command was killed before swapping in, could not be "
                f"removed ({err.strerror or err}): delete it")
        else:
            say(f"{name}: {stage.name} beside it, a result its command was killed before swapping in (the folder "
                f"holds what it held before that command), removed")
        finally:
            if held is not None:
                os.close(held)


def _claim_stage(stage: Path) -> tuple[bool, int | None]:
    """Whether a process holds the staged folder ``stage`` (:func:`hold_stage`), and if not a descriptor holding
    its lock while it is removed (None where locks cannot be taken: its age alone was the rule)."""
    fd = _lock(stage)
    if isinstance(fd, int):
        return False, fd
    return fd in (HELD, GONE), None     # held, or gone meanwhile; without locks its age alone was the rule


def _young_inside(folder: Path) -> bool:
    """Whether ``folder`` or anything in it changed within :data:`NO_JOURNAL_AGE_S` (a file being written there
    now), or it cannot be read."""
    if _young(folder):
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


def _recover(aside: Path, journal: Path, target: Path, name: object, say: Callable[[str], None]) -> None:
    """Finish or undo the dead swap of ``aside`` (:func:`finish_swaps`, which holds its journal's lock), saying
    what was done with ``say``."""
    import shutil

    plan = read_plan(journal, target)
    if plan is None:
        try:
            alone = set(os.listdir(aside)) <= {JOURNAL, *MARKS}
        except OSError:
            return
        if alone:           # killed while writing it (nothing moved yet), unless that is happening now
            if not _young(journal):
                remove_aside(aside)
            return
        say(f"{name}: {aside.name} beside it holds a swap journal that cannot be read or is not this folder's: "
            f"left as it is; look in it, and delete it once it is not needed")
        return
    stage, old, new = plan.stage, plan.old, plan.new
    whole = (aside / "old").is_dir() and "old" not in old
    backing = os.path.lexists(aside / UNDO)
    shown = plan.trusted and not plan.undone and not backing
    # (a journal never confirmed: nothing moved, so the new result is whole in its stage, or not at all: never the
    # old result's files in the folder, which bear the same names, and may be of the same sizes)
    intact = shown and whole_now(plan.whole, new, stage, target if plan.on_disk else stage)
    failed = None
    if intact:
        try:
            if not plan.on_disk:
                # killed while flushing it: flushed, and the journal confirmed, before any move (a refused move, or a
                # power cut, then finds the moves recorded: put back or finished, never taken for a swap that moved
                # nothing)
                synced(stage, journal=journal)
                confirm_found(aside)
                plan = plan._replace(on_disk=True)
            left = _forward(plan, aside, target, whole)
        except OSError as err:      # (a move refused): undone below instead, what had moved in moved back
            failed = err
        else:
            say(f"{name}: a result swapped into this folder was cut short (the command was killed) after its new "
                f"result was written whole: finished, the new result is in place and the old one (set aside in "
                f"{aside.name}) deleted")
            if left is not None:
                say(f"{name}: {left}")
            return
    if plan.undone:     # a recovery that put the old result back was killed while deleting the rest
        done = False
    elif backing:       # its own process was undoing it (an error, an interrupt): carried on, never finished
        done = False
    elif not plan.on_disk:  # stopped before its first move (its journal never confirmed): nothing moved in
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
        if not plan.undone:
            if not plan.on_disk:
                pass        # nothing moved: nothing to put back (a staged file lost since is no sign of a move)
            elif whole:     # (over an empty folder made since: the lock of the command now running)
                os.rename(aside / "old", target)
            else:
                for e in new:       # what had moved in goes back to the stage, deleted below
                    if not os.path.lexists(stage / e) and os.path.lexists(target / e):
                        os.rename(target / e, stage / e)
                for e in old:
                    if os.path.lexists(aside / e):
                        os.rename(aside / e, target / e)
            # the old result is back: said beside the journal before the stage (whose entries bear the old
            # result's names) is deleted, so that a recovery killed now is not taken up from the start; the journal
            # itself is kept, and with it the lock this recovery holds (replaced, a second command found it unlocked
            # and said the undo again)
            os.close(os.open(aside / UNDONE, os.O_WRONLY | os.O_CREAT, 0o644))
    except OSError as err:
        say(f"{name}: a result swapped into this folder was cut short (the command was killed), and could not "
            f"be finished or undone ({err.strerror or err}): left as it is, the old result in {aside.name}")
        return
    shutil.rmtree(stage, ignore_errors=True)
    remove_aside(aside)
    if failed is not None:
        why = f"and could not be finished ({failed.strerror or failed})"
    elif backing:
        why = "while its own process was undoing it after an error"
    elif shown:
        why = "and its new result is no longer whole (a staged file missing or of another size than written)"
    elif plan.whole is not None and not plan.undone and not plan.trusted and plan.boot_known:
        import socket

        why = ("while its new result was being flushed to disk, and the machine has restarted since (a power cut)"
               if plan.host in (None, socket.gethostname()) else f"while its new result was being flushed to disk "
               f"by another machine ({plan.host}), whose writes not yet on disk this one cannot count on")
    elif plan.whole is not None and not plan.undone and not plan.trusted:
        why = ("while its new result was being flushed to disk, and this system does not say when it last started "
               "(no boot id), so a kill is not told from a power cut that may have lost what was not yet on disk")
    else:
        why = "before the new result was whole in place"
    say(f"{name}: a result swapped into this folder was cut short (the command was killed) {why}: undone, the "
        f"folder is as it was before that command (run it again for its result)")


def _forward(plan: Plan, aside: Path, target: Path, whole: bool) -> str | None:
    """Finish the dead swap ``plan`` whose new result is whole (:func:`~sim.swap_journal.whole_now`): move the rest
    of it in as the swap would have (the old result aside first, where none of the new is in yet), delete what it
    drops (:func:`drop_files`: what to say of a file it could not delete, else None), then the old result with the
    journal (:func:`remove_aside`). Each step is done only if not done yet: a recovery killed here is taken up by
    the next one."""
    stage = plan.stage
    if whole:       # the old folder renamed aside whole: the stage goes in whole (over an empty folder a lock made)
        if os.path.lexists(stage):
            os.rename(stage, target)
    else:           # entry by entry, or nothing moved yet
        if all(os.path.lexists(stage / e) for e in plan.new):     # none of the new in: some old entries may be
            for e in plan.old:
                if os.path.lexists(target / e) and not os.path.lexists(aside / e):
                    os.rename(target / e, aside / e)
        for e in plan.new:
            if os.path.lexists(stage / e):
                os.rename(stage / e, target / e)
        try:
            os.rmdir(stage)
        except FileNotFoundError:
            pass
    left = drop_files(target, plan.drop)
    remove_aside(aside)
    return left


def drop_files(target: Path, drop: Sequence[str]) -> str | None:
    """Delete the files ``drop`` names under ``target`` (``figures/cashflow.svg``), those there: a part of the old
    result a swap's new one makes stale but does not replace (:func:`sim.atomic.staged_folder`, and its recovery
    here). A folder of that name is left alone. A file that cannot be deleted (a read-only ``figures/``) fails
    nothing, as the new result is whole in place by then: what to say after the folder's name, naming each such file
    and why, else None."""
    left = []
    for rel in drop:
        p = target / rel
        try:
            if os.path.lexists(p) and not p.is_dir():
                p.unlink(missing_ok=True)
        except OSError as err:
            left.append(f"{rel} ({err.strerror or err})")
    if not left:
        return None
    return (f"the new result is in place, but the old result's {', '.join(left)}, stale beside it, could "
            f"not be deleted: delete {'it' if len(left) == 1 else 'them'}")


def _young(p: Path) -> bool:
    """Whether ``p`` changed within :data:`NO_JOURNAL_AGE_S` (or is gone): a swap's folder or journal being made."""
    try:
        return _young_stat(p.stat())
    except OSError:
        return True


def _young_stat(st: os.stat_result) -> bool:
    import time

    return time.time() - st.st_mtime <= NO_JOURNAL_AGE_S
