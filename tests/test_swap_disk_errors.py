"""A result-folder swap (:func:`sim.atomic.staged_folder`) on a disk that refuses its data: flushing the stage
(``fsync``) or writing the swap's journal fails (a full disk, an I/O error). The command then fails, and the folder
keeps its old result, now and after the next command touching it (:func:`sim.atomic.finish_swaps`): no journal
that proves a stage "whole on disk" when the disk said otherwise, and nothing hidden left beside the folder.

The disk's refusal is made by answering ``fsync`` (or ``write``) of the one file with the error the kernel gives
(``ENOSPC``: delayed allocation finds no room only when the data goes out; ``EIO``). Last, what a swap asks of the
disk when it takes everything: each staged file and folder flushed once, and only where a journal needs it."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.atomic import staged_folder
from swap_files import contents, refuse_folder_flushes, said_next

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ("summary.json", "cashflow.csv", "figures/")

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names a descriptor's file through /proc")

#: the child: swaps a new result in over ``target``; the ``fsync`` (or, ``write``: the ``write``) of the file whose
#: name ends with ``name`` fails with ``errno`` (a ``write`` writes half and says so); prints what became of it
CHILD = r"""
import errno, os, sys
from pathlib import Path
from sim.atomic import staged_folder
target, call, name, code = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
real = getattr(os, call)
def refused(fd, *a):
    if os.path.realpath(f"/proc/self/fd/{fd}").endswith(name):
        if call == "write":
            return real(fd, a[0][: len(a[0]) // 2])
        raise OSError(code, os.strerror(code))
    return real(fd, *a)
setattr(os, call, refused)
try:
    with staged_folder(target, ("summary.json", "cashflow.csv", "figures/")) as stage:
        (stage / "summary.json").write_text("new")
        (stage / "cashflow.csv").write_text("new")
        (stage / "figures").mkdir()
        (stage / "figures" / "a.svg").write_text("new")
except OSError as err:
    print("failed", err)
    sys.exit(1)
print("swapped")
"""


def _old_result(target: Path) -> None:
    target.mkdir()
    for rel in ("summary.json", "cashflow.csv", "figures/a.svg"):
        (target / rel).parent.mkdir(exist_ok=True)
        (target / rel).write_text("old")
    (target / "notes.txt").write_text("mine")       # someone's: the swap goes entry by entry


OLD = {"summary.json": "old", "cashflow.csv": "old", "figures/a.svg": "old", "notes.txt": "mine"}


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("name", ["summary.json", "figures/a.svg"])
def test_a_staged_file_the_disk_refuses_fails_the_swap_and_keeps_the_old_result(tmp_path, monkeypatch, name, code):
    """``fsync`` of a staged file fails: its bytes may never reach the disk, so the stage is not whole on disk. The
    swap fails with that error before anything moves (the old result in place, the stage deleted), where it went
    on to journal the stage as whole and delete the old result."""
    target = tmp_path / "r"
    _old_result(target)
    real = os.fsync

    def fsync(fd):
        if os.path.realpath(f"/proc/self/fd/{fd}").endswith(f"/{name}"):
            raise OSError(code, os.strerror(code))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as caught:
        with staged_folder(target, KNOWN) as stage:
            (stage / "summary.json").write_text("new")
            (stage / "cashflow.csv").write_text("new")
            (stage / "figures").mkdir()
            (stage / "figures" / "a.svg").write_text("new")
    assert caught.value.errno == code
    monkeypatch.undo()
    assert contents(target) == OLD
    assert os.listdir(tmp_path) == ["r"]


def test_a_folder_the_file_system_cannot_sync_does_not_fail_the_swap(tmp_path, monkeypatch):
    """Some file systems answer ``fsync`` of a folder with ``EINVAL`` (its files were synced): the swap goes on."""
    target = tmp_path / "r"
    _old_result(target)
    refuse_folder_flushes(monkeypatch, errno.EINVAL)
    with staged_folder(target, KNOWN) as stage:
        (stage / "summary.json").write_text("new")
    monkeypatch.undo()
    # (the new result is its summary alone: the old result's other files go with it)
    assert contents(target) == {"summary.json": "new", "notes.txt": "mine"}
    assert os.listdir(tmp_path) == ["r"]


@pytest.mark.parametrize("call,code", [("fsync", errno.ENOSPC), ("fsync", errno.EIO), ("write", 0)],
                         ids=["fsync-ENOSPC", "fsync-EIO", "short-write"])
def test_a_journal_the_disk_refuses_fails_the_swap_and_the_next_command_keeps_the_old_result(tmp_path, call, code):
    """Writing the swap's journal fails (its ``fsync`` refused, or only half of it written: a full disk): the
    command fails, saying so. No journal is left for the next command to act on, which would have finished the
    swap (the stage whole, the journal read back intact from the page cache) and replaced the old result with the
    new one, after the command had said it failed."""
    target = tmp_path / "r"
    _old_result(target)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", CHILD, str(target), call, "swap.json", str(code)], env=env,
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 1 and child.stdout.startswith("failed"), (child.stdout, child.stderr)
    assert contents(target) == OLD
    assert os.listdir(tmp_path) == ["r"], os.listdir(tmp_path)
    assert said_next(target) == [] and contents(target) == OLD


def test_the_child_swaps_when_the_disk_takes_everything(tmp_path):
    """The child above, its refusal aimed at no file: the swap is done (what the tests above change is the disk's
    answer alone)."""
    target = tmp_path / "r"
    _old_result(target)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", CHILD, str(target), "fsync", "no-such-file", str(errno.EIO)],
                           env=env, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0 and child.stdout.strip() == "swapped", (child.stdout, child.stderr)
    assert contents(target) == {"summary.json": "new", "cashflow.csv": "new", "figures/a.svg": "new",
                                 "notes.txt": "mine"}
    assert json.dumps(said_next(target)) == "[]"


def test_a_swap_flushes_each_staged_file_and_folder_once_and_only_over_an_earlier_result(tmp_path, monkeypatch):
    """What a swap costs the disk: over an earlier result, one ``fsync`` per staged file and folder, one for the
    journal and one for each of the two folders holding it, before anything moves (what lets the next command
    finish it), and one for each of the two folders the moves changed, before the old result is deleted; into a new
    folder, or the empty one a command's lock made, none: one rename, which no journal needs to prove."""
    flushed: list[str] = []
    real = os.fsync

    def fsync(fd):
        flushed.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        return real(fd)

    def swap(target: Path) -> str:
        monkeypatch.setattr(os, "fsync", fsync)
        with staged_folder(target, KNOWN) as stage:
            for rel in ("summary.json", "cashflow.csv", "figures/a.svg"):
                (stage / rel).parent.mkdir(exist_ok=True)
                (stage / rel).write_text("new")
            where = str(stage.resolve())
        monkeypatch.undo()
        return where

    for fresh in (tmp_path / "new", tmp_path / "empty"):
        if fresh.name == "empty":
            fresh.mkdir()
        swap(fresh)
        assert flushed == [] and contents(fresh) == {"summary.json": "new", "cashflow.csv": "new",
                                                      "figures/a.svg": "new"}
    target = tmp_path / "r"
    _old_result(target)
    where = swap(target)
    journal = [p for p in flushed if p.endswith("/swap.json")]
    aside = os.path.dirname(journal[0])
    # the stage, then the journal, the folder holding it (its name, and the mark that the stage was flushed) and the
    # folder holding that (the journal's folder's name), before anything moves; then, every entry moved (one by one:
    # someone's notes.txt is there), the two folders the moves changed, before the old result is deleted
    assert len(journal) == 1 and flushed[-5:] == [journal[0], aside, str(tmp_path), str(target), aside], flushed
    assert sorted(flushed[:-5]) == sorted([where, f"{where}/figures", *(f"{where}/{rel}" for rel in
                                           ("summary.json", "cashflow.csv", "figures/a.svg"))]), flushed
    assert contents(target) == {"summary.json": "new", "cashflow.csv": "new", "figures/a.svg": "new",
                                 "notes.txt": "mine"}


@pytest.mark.parametrize("notes", [False, True], ids=["whole-folder", "entry-by-entry"])
def test_moves_the_disk_does_not_confirm_keep_the_old_result_until_the_next_command(tmp_path, monkeypatch, notes):
    """Every entry moved, the flush of the folders the moves changed fails (``EIO``): the new result is in place, but
    the moves may not be on disk, so the old result (set aside) and the journal are kept and the command says so
    rather than delete them; the next command touching the folder finishes the swap (flushing again)."""
    target = tmp_path / "r"
    _old_result(target)
    if not notes:
        (target / "notes.txt").unlink()             # only the result's files: the folder moves whole
    real_rename, moved = os.rename, []

    def rename(*a, **k):
        moved.append(a[0])
        return real_rename(*a, **k)

    monkeypatch.setattr(os, "rename", rename)
    refuse_folder_flushes(monkeypatch, errno.EIO, when=lambda: bool(moved))     # once anything has moved
    with pytest.warns(Warning, match=r"new result is in place, but the disk did not confirm its moves \(Input/output "
                                     r"error\): the old result is kept in \.r\.\w{8}\.old"):
        with staged_folder(target, KNOWN) as stage:
            (stage / "summary.json").write_text("new")
            (stage / "cashflow.csv").write_text("new")
    monkeypatch.undo()
    mine = {"notes.txt": "mine"} if notes else {}
    assert contents(target) == {"summary.json": "new", "cashflow.csv": "new", **mine}
    (aside,) = tmp_path.glob(".r.*.old")
    assert (aside / "swap.json").is_file()
    kept = contents(aside / "old" if not notes else aside)
    assert {k: v for k, v in kept.items() if not k.startswith("swap.")} == \
        {"summary.json": "old", "cashflow.csv": "old", "figures/a.svg": "old"}
    (said,) = said_next(target)
    assert "written whole: finished" in said, said
    assert contents(target) == {"summary.json": "new", "cashflow.csv": "new", **mine}
    assert os.listdir(tmp_path) == ["r"]
