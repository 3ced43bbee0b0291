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

from sim.errors import InputError
from sim.paths import followed, make_folder


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
def staged_folder(target: str | Path, known: Sequence[str] | None = None) -> Iterator[Path]:
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

    On an error (a full disk, an interrupt) the staged folder is deleted and ``target`` is left
    exactly as it was: never half one folder and half the other.

    A ``target`` that is a symbolic link is followed (:func:`sim.paths.followed`): the folder it points to
    is staged beside and replaced, and the link stays a link to the new result.
    """
    import shutil

    given = target
    target = followed(target).absolute()
    if os.path.lexists(target) and not target.is_dir():      # (os.rename's "Not a directory" named the stage)
        raise InputError(f"{given}: exists and is not a folder; give a folder, new or existing")
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{given}: cannot be made: {parent} is not a folder")
    make_folder(parent)
    finish_swaps(target, given)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
    try:
        os.chmod(stage, 0o755)          # mkdtemp makes 0700; a result folder is an ordinary folder
        yield stage
        _swap_in(stage, target, known)
    except BaseException:
        if not _kept(stage, target):
            shutil.rmtree(stage, ignore_errors=True)
        raise


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


def _swap_in(stage: Path, target: Path, known: Sequence[str] | None) -> None:
    import shutil

    try:
        os.rename(stage, target)        # target absent, or an empty folder (rename(2) replaces it)
        return
    except OSError:
        if not target.is_dir() or target.is_symlink():
            raise
    hit = in_the_way(target, known or ())
    if hit is not None:                 # someone else's, under a result's name: never moved aside and deleted
        raise InputError(in_the_way_message(*hit))
    known = [k.rstrip("/") for k in known] if known is not None else None
    entries = os.listdir(target)
    ours = [e for e in entries if known is None or e in known]
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=stage.parent))
    journal = _journal(aside, stage, ours)      # before anything moves: what a hard kill leaves is said there
    settled = False     # done, or wholly undone: else (an undo that failed too) the journal stays for the next command
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
                    os.rename(aside / "old", target)    # put the old folder back
                    settled = True
                    raise
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
            for e in reversed(moved_new):
                os.rename(target / e, stage / e)
            for e in reversed(moved_old):
                os.rename(aside / e, target / e)
            settled = True
            raise
        settled = True
        os.rmdir(stage)
    finally:
        if settled:
            _remove_aside(aside)
        if journal is not None:
            os.close(journal)           # (its lock with it)


def _remove_aside(aside: Path) -> None:
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


def _kept(stage: Path, target: Path) -> bool:
    """Whether a swap of ``stage`` into ``target`` whose undo failed left its journal for the next command (the
    stage then holds what had moved in and back: not to delete before that command puts the old result back)."""
    for aside in _asides(target):
        try:
            if json.loads((aside / JOURNAL).read_text(encoding="utf-8")).get("stage") == stage.name:
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


#: the file in a swap's ``.old`` folder saying what the swap moves (written, and locked, before anything moves)
JOURNAL = "swap.json"
#: how old a ``.old`` folder with no journal (or an unlocked journal where locks cannot be taken) must be to be
#: taken for a dead swap's (one being made, or under way, is younger)
NO_JOURNAL_AGE_S = 60.0


def _journal(aside: Path, stage: Path, old: list[str]) -> int | None:
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
    os.write(fd, json.dumps({"stage": stage.name, "old": list(old), "new": sorted(os.listdir(stage))}).encode())
    os.fsync(fd)
    if fcntl is None:
        os.close(fd)
        return None
    return fd


def _live(journal: Path) -> bool:
    """Whether a process still holds the swap of ``journal`` (its lock is taken): a swap under way, not a
    leftover. Where no lock can be taken (Windows, a file system without locks), a journal younger than
    :data:`NO_JOURNAL_AGE_S` is taken for a live swap's (a swap is a few renames)."""
    import time

    def young() -> bool:
        try:
            return time.time() - journal.stat().st_mtime < NO_JOURNAL_AGE_S
        except OSError:
            return True         # (gone meanwhile: its swap ended)

    try:
        import fcntl
    except ImportError:
        return young()
    try:
        fd = os.open(journal, os.O_RDONLY)
    except OSError:
        return True             # (gone meanwhile: its swap ended)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:             # a file system without locks
        return young()
    finally:
        os.close(fd)
    return False


def _asides(target: Path) -> list[Path]:
    """The ``.old`` folders of swaps into ``target`` (``.NAME.XXXXXXXX.old``, :func:`tempfile.mkdtemp`'s
    eight characters: not those of a folder whose name only starts with NAME)."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.old")
    try:
        return sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir()
                      and not p.is_symlink())
    except OSError:
        return []


def finish_swaps(target: str | Path, shown: str | Path | None = None) -> list[str]:
    """Finish or undo each swap into the result folder ``target`` that a hard kill cut short, and say which,
    one :class:`~sim.errors.InputWarning` line each (returned too). A swap (:func:`staged_folder`) moves the
    old result aside into a hidden ``.NAME.XXXXXXXX.old`` folder, with a journal of what it moves, then the
    new one in from ``.NAME.XXXXXXXX.partial``, then deletes the old; killed between, it left:

    * the new result whole in place (killed while deleting the old one): the swap is **finished**, the old
      copy deleted: the command had written and placed all of its result;
    * anything less (the old result aside, the new one partly moved in, or the folder gone): the swap is
      **undone**, the old result put back and the staged one deleted: what the command left is not known to
      be a whole result, and it never said it had written one, so the folder is as before it (run it again).

    A swap still under way (its journal locked by a live process) is left alone, as is a ``.old`` folder
    without a journal younger than :data:`NO_JOURNAL_AGE_S` (being made); such a folder older than that
    held nothing moved yet and is removed without a word. A recovery killed in its turn leaves the journal
    (marked ``undone`` once the old result is back), and the next one carries on from there.

    Nothing the journal does not plainly describe is touched: a ``.old`` folder holding files without a
    journal (a swap of a fleetsim before journals, or someone's folder of that name), or with a journal that
    cannot be read or names anything but this folder's entries and its ``.NAME.XXXXXXXX.partial`` stage, is
    left as it is, and a line says so; so is a leftover a move of which fails (a read-only folder).
    """
    import shutil
    import time
    import warnings

    from sim.errors import InputWarning

    try:
        target = followed(target).absolute()
    except OSError:             # a link that loops: the command says so
        return []
    name = target if shown is None else shown
    said = []

    def say(text: str) -> None:
        warnings.warn(text, InputWarning, stacklevel=3)
        said.append(text)

    def young(p: Path) -> bool:
        try:
            return time.time() - p.stat().st_mtime <= NO_JOURNAL_AGE_S
        except OSError:
            return True

    for aside in _asides(target):
        journal = aside / JOURNAL
        if not journal.is_file():
            try:
                if any(aside.iterdir()):
                    say(f"{name}: {aside.name} beside it holds files set aside with no record of a swap's moves (a "
                        f"swap by an earlier fleetsim, or someone's folder): left as it is; look in it, and delete it "
                        f"once it is not needed")
                elif not young(aside):
                    aside.rmdir()
            except OSError:
                pass
            continue
        if _live(journal):
            continue
        plan = _plan(journal, target)
        if plan is None:
            try:
                alone = os.listdir(aside) == [JOURNAL]
            except OSError:
                continue
            if alone:           # killed while writing it (nothing moved yet), unless that is happening now
                if not young(journal):
                    _remove_aside(aside)
                continue
            say(f"{name}: {aside.name} beside it holds a swap journal that cannot be read or is not this folder's: "
                f"left as it is; look in it, and delete it once it is not needed")
            continue
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
                _remove_aside(aside)
                if stage.is_dir() and not any(stage.iterdir()):
                    stage.rmdir()
                say(f"{name}: a result swapped into this folder was cut short (the command was killed) after the "
                    f"new result was whole in place: finished, the old result left aside in {aside.name} removed")
                continue
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
            continue
        shutil.rmtree(stage, ignore_errors=True)
        _remove_aside(aside)
        say(f"{name}: a result swapped into this folder was cut short (the command was killed) before the "
            f"new result was whole in place: undone, the folder is as it was before that command (run it "
            f"again for its result)")
    return said


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
    if not (isinstance(stage, str) and re.fullmatch(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.partial", stage)
            and isinstance(old, list) and isinstance(new, list) and all(map(_plain, old + new))):
        return None
    return target.parent / stage, old, new, plan.get("undone") is True


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_file(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")
