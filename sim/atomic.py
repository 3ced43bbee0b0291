"""Atomic writes: a result file, or a whole result folder, never seen half-written.

A file goes to a temporary sibling and is renamed over its target (:func:`atomic_write_bytes`,
``_text``, ``_json``; :func:`atomic_file` for a writer that streams); a folder is written whole into a
temporary sibling and swapped in (:func:`staged_folder`), leaving the old one as it was on any error; a
swap cut short by a hard kill (``kill -9``, a power cut) is finished or undone by the next command
touching the folder (:func:`finish_swaps`).
A target that is a symbolic link is followed (:mod:`sim.paths`) and stays a link; one that names a
stream (a device, pipe, socket or file descriptor: ``/dev/stdout``) is written in place, as renaming
over it would replace the device itself.
"""
from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sim.errors import InputError, InputWarning
from sim.paths import followed, make_folder
from sim.swap_journal import confirm, discard, flush_moves, mark_undo, synced, write_journal
from sim.swap_recovery import (BUSY_WAIT_S, JOURNAL, drop_files, finish_swaps, hold_stage,  # noqa: F401 (JOURNAL,
                               kept, remove_aside)                                # finish_swaps: from here)


#: a file descriptor's own name: a link to whatever the descriptor is open on
_FD_NAME = re.compile(r"/dev/std(in|out|err)|/dev/fd/\d+|/proc/[^/]+(/task/[^/]+)?/fd/\d+")


def _stream(path: str | Path) -> bool:
    """Whether ``path`` names a stream rather than a file to replace: a device, pipe or socket, or a
    file descriptor (``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``: a link to whatever the
    descriptor is open on, which may be an ordinary file the shell redirected to). An ordinary file
    that is no descriptor's is not one, under ``/dev`` too (``/dev/shm`` holds files: a report
    written there twice is replaced, not appended to).

    >>> _stream("/dev/stdout"), _stream("/dev/null"), _stream("results/summary.json")
    (True, True, False)
    """
    try:
        mode = os.stat(path).st_mode        # through links: /dev/stdout may lead to a pipe with no name
    except OSError:
        return False
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return True
    p = os.path.abspath(path)
    for _ in range(40):                     # each link on the way (the kernel's own limit is 40)
        # the folder's links resolved (a link to /proc/self/fd, /dev/fd itself), not the name's
        p = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
        if _FD_NAME.fullmatch(p):
            return True
        if not os.path.islink(p):
            return False
        p = os.path.join(os.path.dirname(p), os.readlink(p))
    return False


@contextmanager
def atomic_file(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file handle on a temporary sibling of ``path``, renamed to ``path`` on success.

    A ``path`` that is a symbolic link is followed (the file it leads to is replaced; the link
    stays). A ``path`` that names a stream (:func:`_stream`: ``/dev/null``, ``/dev/stdout``, a FIFO)
    is written in place: a stream has no atomic replacement, and renaming a file over it would
    replace the device itself.
    """
    if _stream(path):
        with open(path, "ab") as fh:     # (appended: a descriptor on a redirected file keeps what it has)
            yield fh
        return
    path = followed(path)
    make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, 0o644)      # mkstemp makes 0600; results are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextmanager
def staged_folder(target: str | Path, known: Sequence[str] | None = None, drop: Sequence[str] = ()) -> Iterator[Path]:
    """A fresh temporary sibling of ``target`` to write a whole folder into, swapped in on success.

    On leaving the block without an error the staged folder takes the place of ``target``:

    * ``target`` absent or empty: one rename, atomic;
    * ``target`` holds only names in ``known`` (the names the folder's writer produces: an earlier
      result): ``target`` is renamed aside, the staged folder renamed in, the old one deleted;
    * ``target`` also holds other entries (someone else's files), or cannot be renamed (a mount
      point): the ``known`` entries are moved aside and the new ones moved in one by one, every
      move undone if one fails; the other entries are never touched.

    A name in ``known`` is a file's, or a folder's when written ``name/``; an entry of ``target`` of
    the other kind under it (:func:`in_the_way`) is not an earlier result's: :class:`InputError`,
    and ``target`` is left as it was.

    ``drop``: files under ``target`` (``figures/cashflow.svg``) deleted once the new entries are in: a part of
    the old result the new one makes stale but does not replace.

    On an error (a full disk, an interrupt) the staged folder is deleted and ``target`` is left
    exactly as it was: never half one folder and half the other. A swap over an earlier result begins, as soon as
    the block is left, with a journal listing the staged folder at its sizes
    (:func:`sim.swap_journal.write_journal`), then flushes the stage to disk (a disk refusing it fails the swap,
    the journal deleted) and confirms the journal (:func:`sim.swap_journal.confirm`) before anything moves: killed
    at any point after the block (flushing included), the next command touching ``target`` finishes it, the new
    result whole in place (:func:`finish_swaps`; after a power cut, only once the journal was confirmed: before,
    the stage may not be on disk, and the swap, which had moved nothing, is undone, as it is where the machine's
    boot cannot be read or the swap was another machine's); killed in the block,
    ``target`` is as it was, and a command touching it removes the staged
    folder once no process holds it (it is locked while written) and nothing in it changed for a minute.
    A stale file of ``drop`` that cannot be deleted once the new result is in fails nothing: an
    :class:`~sim.errors.InputWarning` names it.

    A ``target`` that is a symbolic link is followed (:func:`sim.paths.followed`): the folder it points to
    is staged beside and replaced, and the link stays a link to the new result.
    """
    import shutil

    given = target
    # `..` resolved before anything moves: `--out run1/../run1` (or `../run1` from inside it) no longer names a
    # folder once run1 is renamed aside, and the swap could neither put the new result in nor the old one back
    target = Path(os.path.realpath(followed(target).absolute()))
    if os.path.lexists(target) and not target.is_dir():      # (os.rename's "Not a directory" named the stage)
        raise InputError(f"{given}: exists and is not a folder; give a folder, new or existing")
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{given}: cannot be made: {parent} is not a folder")
    make_folder(parent)
    # (a recovery another command is making of it waited for: finished after this swap, it would put its older
    # result over this one)
    finish_swaps(target, given, wait_s=BUSY_WAIT_S)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
    held = hold_stage(stage)            # (a command killed while writing it leaves it to the next one to remove)
    try:
        os.chmod(stage, 0o755)          # mkdtemp makes 0700; a result folder is an ordinary folder
        yield stage
        _swap_in(stage, target, known, drop)
    except BaseException:
        if not kept(stage, target):
            shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        if held is not None:
            os.close(held)


def in_the_way(folder: str | Path, known: Sequence[str]) -> tuple[Path, str] | None:
    """The first entry of ``folder`` named in ``known`` that is not of the kind a result keeps under
    that name, with that kind: a folder where a file goes, a file where a folder goes (``name/`` in
    ``known``). Swapping a result in would take it for an earlier result's and delete it. A symbolic
    link is no obstacle (the link is replaced, never what it leads to).

        >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "summary.json").mkdir()
        >>> in_the_way(d, ("summary.json", "figures/"))[1], in_the_way(d, ("figures/",))
        ('file', None)
    """
    for k in known:
        name = k.rstrip("/")
        p = Path(folder) / name
        if p.is_symlink() or not os.path.lexists(p):
            continue
        if k.endswith("/") != p.is_dir():
            return p, "folder" if k.endswith("/") else "file"
    return None


def swapped_out(folder: str | Path, known: Sequence[str], path: str | Path) -> bool:
    """Whether swapping a folder written with the names ``known`` into ``folder``
    (:func:`staged_folder`) replaces ``path``: a file named in ``known`` right in ``folder``, or
    anything under a folder named there (``name/``, replaced whole). Links are followed both ways
    (the file a path leads to is what would be lost).

        >>> known = ("summary.json", "figures/")
        >>> swapped_out("/r", known, "/r/figures/notes.txt"), swapped_out("/r", known, "/r/summary.json/x")
        (True, False)
    """
    try:
        rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    parts = rel.parts
    return bool(parts) and ((len(parts) == 1 and parts[0] in known) or f"{parts[0]}/" in known)


def in_the_way_message(path: Path, kind: str) -> str:
    """What refusing to write a result over :func:`in_the_way`'s ``(path, kind)`` says."""
    return (f"{path} is {'not a folder' if kind == 'folder' else 'a folder'}: a result keeps its {kind} "
            f"{path.name} there; move it away or write the result to another folder")


def _swap_in(stage: Path, target: Path, known: Sequence[str] | None, drop: Sequence[str] = ()) -> None:
    try:
        entries = os.listdir(target)
    except FileNotFoundError:
        entries = []
    if not entries:
        try:
            # target absent, or an empty folder (rename(2) replaces it): one atomic rename, nothing to recover, so no
            # journal and no flush either (the kernel writes the new files out within seconds, as it does every other
            # file's)
            os.rename(stage, target)
        except OSError:
            if not target.is_dir() or target.is_symlink():
                raise
            entries = os.listdir(target)    # (written into meanwhile, or a mount point: moved below)
        else:
            _drop(target, drop)
            return
    hit = in_the_way(target, known or ())
    if hit is not None:                 # someone else's, under a result's name: never moved aside and deleted
        raise InputError(in_the_way_message(*hit))
    known = [k.rstrip("/") for k in known] if known is not None else None
    ours = [e for e in entries if known is None or e in known]
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=stage.parent))
    # before anything moves, even the flush: the stage whole at its sizes, and what the swap will do (a hard kill
    # from here on is finished by the next command); then the stage flushed and the journal confirmed (a power cut
    # after any move is finished too: the stage was on disk). Between mkdtemp and the journal's lock (a few system
    # calls) another command's finish_swaps finds the .old folder empty, or its journal empty and unlocked: it leaves
    # both, younger than NO_JOURNAL_AGE_S (and takes the journal's lock only to look: write_journal's flock waits for
    # it), and the stage, which this command holds (hold_stage); nothing has moved, so there is nothing to recover
    try:
        journal = write_journal(aside, stage, ours, synced(stage, flush=False), drop)
    except BaseException:       # (not written: nothing moved, the aside goes; the stage is deleted by the caller)
        remove_aside(aside)
        raise
    try:
        synced(stage, journal=aside / JOURNAL)     # (its age, where that tells a live swap, counted from now)
        journal = confirm(aside, journal)
    except BaseException:       # (a disk refusing the stage or the journal: the journal deleted, still locked)
        discard(aside, journal)
        remove_aside(aside)
        raise
    settled = False     # done, or wholly undone: else (an undo that failed too) the journal stays for the next command
    left = None         # what to say of a stale file that could not be deleted
    try:
        if len(ours) == len(entries):
            try:
                os.rename(target, aside / "old")
            except OSError:
                pass                    # a mount point, the root: entry by entry below
            else:
                try:
                    os.rename(stage, target)
                except BaseException:
                    mark_undo(aside)        # (killed while undoing: undone by the next command, not finished)
                    os.rename(aside / "old", target)    # put the old folder back
                    settled = True
                    raise
                left = _unflushed(aside, (target.parent, aside))
                if left is None:        # (else the old result and the journal kept: the next command deletes it)
                    left = drop_files(target, drop)
                    settled = True
                return
        moved_old: list[str] = []
        moved_new: list[str] = []
        try:
            for e in ours:
                os.rename(target / e, aside / e)
                moved_old.append(e)
            for e in os.listdir(stage):
                os.rename(stage / e, target / e)
                moved_new.append(e)
        except BaseException:
            mark_undo(aside)
            for e in reversed(moved_new):
                os.rename(target / e, stage / e)
            for e in reversed(moved_old):
                os.rename(aside / e, target / e)
            settled = True
            raise
        left = _unflushed(aside, (target, aside))
        if left is None:
            left = drop_files(target, drop)
            settled = True
            os.rmdir(stage)
    finally:
        if settled:
            remove_aside(aside)
        if journal is not None:
            os.close(journal)           # (its lock with it)
        if left is not None:
            _warn(target, left)


def _unflushed(aside: Path, folders: tuple[Path, ...]) -> str | None:
    """Flush the ``folders`` a swap's moves changed before the old result is deleted
    (:func:`sim.swap_journal.flush_moves`); what to say if the disk refused (the new result is in place, the old one
    is kept in ``aside`` with its journal for the next command to finish the swap), else None."""
    try:
        flush_moves(*folders)
    except OSError as err:
        return (f"the new result is in place, but the disk did not confirm its moves ({err.strerror or err}): the old "
                f"result is kept in {aside.name} beside it until the next command finishes the swap")
    return None


def _drop(target: Path, drop: Sequence[str]) -> None:
    """Delete the stale files ``drop`` under ``target``, the new result in place: one that cannot be deleted is
    said (:func:`_warn`), not an error (the result is whole and right)."""
    left = drop_files(target, drop)
    if left is not None:
        _warn(target, left)


def _warn(target: Path, text: str) -> None:
    """Say ``text`` of the result folder ``target`` (an :class:`~sim.errors.InputWarning`: a line on stderr)."""
    import warnings

    warnings.warn(f"{target}: {text}", InputWarning, stacklevel=2)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_file(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")
