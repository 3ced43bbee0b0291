"""Recovery of a result-folder swap cut short by a hard kill (``kill -9``, a power cut): :func:`finish_swaps`, which
the next command touching the folder calls to finish the leftover by its journal (:mod:`sim.swap_journal`; or undo
it, where the new result cannot be shown whole) and to remove a staged folder its command never got to swap in
(:func:`~sim.swap_liveness.hold_stage`), once it is told from a live swap's (:mod:`sim.swap_liveness`). The swap
itself is :func:`sim.atomic.staged_folder`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.paths import followed
from sim.swap_journal import (JOURNAL, MARKS, UNDO, UNDONE, Plan, boot_id, confirm_found,  # noqa: F401 (JOURNAL,
                              flush_moves, read_plan, swap_sibling, synced,  # UNDO, boot_id: importable from here)
                              whole_now)
from sim.swap_liveness import (BUSY_WAIT_S, NO_JOURNAL_AGE_S, claim, claim_stage,  # noqa: F401 (BUSY_WAIT_S,
                               hold_stage, wait_unheld, young, young_inside)        # hold_stage: from here too)


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
    recovery holds the lock as it works) is left alone, after waiting for that lock to go while its holder makes
    progress, ``wait_s`` seconds at most without it (:func:`~sim.swap_liveness.wait_unheld`; a command about to swap
    its own result in waits, :data:`BUSY_WAIT_S`: a swap finished after its own would put the older result over the
    newer), as is a ``.old`` folder
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
                elif not young(aside):
                    remove_aside(aside)     # (an undo mark left of a swap undone: nothing else)
            except OSError:
                pass
            continue
        live, held = claim(journal)
        if live and wait_s > 0:     # (another command finishing it: its moves end before the caller's begin)
            wait_unheld(journal, wait_s)
            live, held = claim(journal)
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
        if young_inside(stage):
            continue
        live, held = claim_stage(stage)
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
            if not young(journal):
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
        except _Unflushed as err:   # every move made, but not confirmed on disk: the old result and journal kept
            say(f"{name}: a result swapped into this folder was cut short (the command was killed) after its new "
                f"result was written whole: its new result is in place, but the disk did not confirm its moves "
                f"({err.strerror or err}): the old result is kept in {aside.name} until the next command finishes it")
            return
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
            flush_moves(*_moved_into(target, aside, whole))    # (the moves on disk before the old result goes)
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
            if plan.on_disk:    # the moves back on disk before the mark that lets the next recovery delete the rest
                try:
                    flush_moves(*_moved_into(target, aside, whole), *([stage] if stage.is_dir() else []))
                except OSError as err:  # (every move back made: the old result is in place, not in the aside)
                    say(f"{name}: a result swapped into this folder was cut short (the command was killed): the old "
                        f"result is back in place, but the disk did not confirm its moves back "
                        f"({err.strerror or err}): the new result's stage and the record of the swap in "
                        f"{aside.name} are kept until the next command finishes the undo")
                    return
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
    try:
        flush_moves(*_moved_into(target, aside, whole))    # the moves on disk before the old result is deleted
    except OSError as err:
        raise _Unflushed(err.errno, err.strerror) from err
    left = drop_files(target, plan.drop)
    remove_aside(aside)
    return left


class _Unflushed(OSError):
    """The disk refused to flush a finished swap's moves (:func:`_forward`): the old result is not deleted."""


def _moved_into(target: Path, aside: Path, whole: bool) -> tuple[Path, ...]:
    """The folders that received a swap's moves, to flush (:func:`~sim.swap_journal.flush_moves`): the one holding
    ``target`` where the folder moved whole (``target`` renamed aside and the stage renamed in), else ``target``; and
    the ``aside`` folder."""
    return (target.parent if whole else target), aside


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
