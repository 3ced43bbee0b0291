"""Review of round 23's result-folder swap (:func:`sim.atomic.staged_folder`), whose journal is written before the
stage is flushed: a recovery that finishes a swap whose journal was never confirmed (the command killed while
flushing its stage) moves the old result aside and the new one in itself, so it must first make the journal what
the swap would have: confirmed, the stage on disk. Else a move refused on its way, or a power cut during it,
finds a journal that says nothing moved, and the undo deletes the old files the recovery had set aside: the folder
half new, half gone. The rule checked is the module's own: old whole or new whole, never a mix."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from sim.atomic import JOURNAL
from sim.swap_journal import SYNCED, Plan, read_plan, synced, write_journal
from swap_files import contents, said_next
from test_review_ux21 import _recover as recover_killed   # the child recovery killed at its n-th change

OLD = {"summary.json": "old", "cashflow.csv": "old", "figures/a.svg": "old"}
NEW = {"summary.json": "new", "cashflow.csv": "new!", "figures/a.svg": "new"}


def _write(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def _unconfirmed_journal(base: Path) -> Plan:
    """What a swap killed while flushing its stage leaves (the journal written, as the swap writes it, and never
    confirmed; nothing moved): the old result in place, the new one whole in its stage; the journal's plan."""
    target = base / "r"
    _write(target, OLD)
    stage, aside = base / ".r.wxyz6789.partial", base / ".r.abcd1234.old"
    stage.mkdir()
    aside.mkdir()
    _write(stage, NEW)
    os.close(write_journal(aside, stage, sorted(os.listdir(target)), synced(stage, flush=False)))
    return read_plan(aside / JOURNAL, target)


def _killed_while_flushing(base: Path) -> Path:
    """:func:`_unconfirmed_journal`, which the next command finishes (this boot); the folder."""
    plan = _unconfirmed_journal(base)
    assert plan.trusted and not plan.on_disk and plan.this_boot
    return base / "r"


def test_a_recovery_of_an_unconfirmed_journal_whose_move_is_refused_puts_the_old_result_back(tmp_path, monkeypatch):
    """The recovery moves the old entries aside, then the new ones in (sorted: cashflow.csv, figures, ...); the move
    of figures/ is refused (a permission, a disk error): undone, what had moved in goes back and the old result is
    put back whole, not deleted with the ``.old`` folder."""
    target = _killed_while_flushing(tmp_path)
    real = os.rename

    def rename(a, b):
        if Path(a).name == "figures" and Path(a).parent.name.endswith(".partial"):
            raise PermissionError(13, "Permission denied", str(a))
        return real(a, b)

    monkeypatch.setattr(os, "rename", rename)
    (said,) = said_next(target)
    monkeypatch.undo()
    assert "could not be finished (Permission denied)" in said and "undone" in said, said
    assert contents(target) == OLD and os.listdir(tmp_path) == ["r"]


def _restarted(target: Path) -> None:
    """The journal beside ``target`` as the next boot of the machine reads it (a power cut)."""
    for journal in target.parent.glob(".r.*.old/" + JOURNAL):
        plan = json.loads(journal.read_text())
        plan["boot"] = "another boot"
        journal.write_text(json.dumps(plan))


@pytest.mark.parametrize("restart", [True, False], ids=["power-cut", "kill"])
def test_a_power_cut_while_a_recovery_finishes_an_unconfirmed_journal_leaves_one_result_whole(tmp_path, restart):
    """The recovery of a swap killed while flushing its stage is itself cut short at each of its changes, and the
    machine restarts (the journal then read in another boot; or not: a kill alone): the next command ends with the
    new result whole
    (the recovery had confirmed the journal, the stage flushed, before its first move), never a mix of the new
    files moved in and the old ones deleted with the ``.old`` folder."""
    whole = recover_killed(_killed_while_flushing(tmp_path / "count"), -1)
    assert whole.returncode == 0, whole.stderr
    total = int(whole.stdout.split()[1])
    assert total >= 6                   # three entries aside, three in, then the journal and its folder deleted
    for n in range(1, total + 1):
        target = _killed_while_flushing(tmp_path / f"k{n}")
        assert recover_killed(target, n).returncode == 9
        if restart:
            _restarted(target)
        said = said_next(target)
        assert contents(target) == NEW, (n, said, contents(target))
        if len(os.listdir(target.parent)) > 1:      # killed with nothing but the journal's folder left: said nothing
            for p in target.parent.iterdir():
                if p.name != "r":
                    assert set(os.listdir(p)) <= {SYNCED, "swap.undone", "swap.undo"}, (n, p)


@pytest.mark.parametrize("gone", ["summary.json", "figures"])
def test_an_unconfirmed_journal_whose_staged_file_is_gone_is_undone_not_read_from_the_old_result(tmp_path, gone):
    """Killed while flushing its stage, nothing moved: a staged entry gone since (deleted by hand) is not looked for
    in the folder instead, where the old result's of that name has the same size ("old", "new"): the swap is undone,
    the old result whole, rather than finished over it (a folder of the new cashflow.csv and the old rest) or its
    old file taken for a moved-in one and deleted with the stage."""
    target = _killed_while_flushing(tmp_path)
    (stage,) = tmp_path.glob(".r.*.partial")
    shutil.rmtree(stage / gone) if (stage / gone).is_dir() else (stage / gone).unlink()
    (said,) = said_next(target)
    assert "undone" in said and "no longer whole" in said, said
    assert contents(target) == OLD and os.listdir(tmp_path) == ["r"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names a descriptor's file through /proc")
def test_without_locks_a_swap_flushing_for_minutes_is_not_taken_for_a_dead_one_by_another_machine(tmp_path,
                                                                                                   monkeypatch):
    """On a file system without locks (NFS without its lock service), a command on another machine tells a live
    swap by its journal's age alone. The journal is written before the stage is flushed, so a flush of 40 s a file
    made it look dead at the second file: the other machine undid the swap under its feet (the stage deleted while
    being flushed, the command failing). The swap touches its journal after each file it flushes: each look finds
    it 40 s old, leaves it, and the new result is swapped in whole."""
    import socket

    import sim.swap_journal as swap_journal
    from test_review_ux21 import _no_locks

    target = tmp_path / "r"
    _write(target, OLD)
    _no_locks(monkeypatch)
    real_fsync, said = os.fsync, []

    def elsewhere() -> list[str]:
        hostname, boot = socket.gethostname, swap_journal.boot_id
        socket.gethostname, swap_journal.boot_id = (lambda: "elsewhere"), (lambda: "elsewhere's boot")
        try:
            return said_next(target)
        finally:
            socket.gethostname, swap_journal.boot_id = hostname, boot

    def slow_fsync(fd):
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if ".partial" in str(path) and path.is_file():          # a staged file's flush takes 40 s
            (journal,) = tmp_path.glob(f".r.*.old/{JOURNAL}")
            then = journal.stat().st_mtime - 40
            os.utime(journal, (then, then))
            said.extend(elsewhere())                            # a command on another machine looks meanwhile
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    from sim.atomic import staged_folder

    with staged_folder(target, ("summary.json", "cashflow.csv", "figures/")) as stage:
        _write(stage, {**NEW, "figures/b.svg": "new"})
    monkeypatch.undo()
    assert said == [] and contents(target) == {**NEW, "figures/b.svg": "new"} and os.listdir(tmp_path) == ["r"]


def test_where_the_boot_cannot_be_read_a_kill_while_flushing_is_undone_and_said_as_such(tmp_path, monkeypatch):
    """No boot id (macOS, a sandbox without /proc): a journal not yet confirmed cannot be told from one a power cut
    left, so its swap, which had moved nothing, is undone, the old result whole; and the line says why, not that
    the machine restarted (it may not have)."""
    import sim.swap_journal as swap_journal

    monkeypatch.setattr(swap_journal, "boot_id", lambda: None)
    target, plan = tmp_path / "r", _unconfirmed_journal(tmp_path)
    assert not plan.trusted and not plan.boot_known
    (said,) = said_next(target)
    assert "undone" in said and "no boot id" in said and "restarted since" not in said, said
    assert contents(target) == OLD and os.listdir(tmp_path) == ["r"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names a descriptor's file through /proc")
def test_a_command_looking_at_the_folder_while_the_swap_flushes_its_stage_leaves_it_alone(tmp_path, monkeypatch):
    """The journal is written before the stage is flushed, and on this machine in this boot a journal not yet
    confirmed is finished by the next command: one looking while the swap is still flushing must find the journal
    locked (taken before its first byte is written, held until the swap is over) and leave it, however old it
    looks, rather than move the old result aside and the stage in under the live swap."""
    from sim.atomic import staged_folder

    target = tmp_path / "r"
    _write(target, OLD)
    real_fsync, said, looks = os.fsync, [], []

    def looking_fsync(fd):
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if ".partial" in str(path):
            (journal,) = tmp_path.glob(f".r.*.old/{JOURNAL}")
            os.utime(journal, (0, 0))                   # looks an hour old: the lock alone tells
            said.extend(said_next(target))
            looks.append(path)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", looking_fsync)
    with staged_folder(target, ("summary.json", "cashflow.csv", "figures/")) as stage:
        _write(stage, NEW)
    monkeypatch.undo()
    assert len(looks) == 5          # three files and two folders flushed, a look before each
    assert said == [] and contents(target) == NEW and os.listdir(tmp_path) == ["r"]


def test_a_swap_in_a_folder_it_may_write_but_not_list_is_not_failed_by_flushing_that_folder(tmp_path, monkeypatch):
    """A results folder the user may write into but not list (a drop box, mode ``0333``; or a sandbox refusing it):
    the swap flushes the folder holding its ``.old`` folder, which cannot be opened to flush. It did not fail
    before that flush was added; it must not fail now (the folder's own names are flushed by its file system's
    journal in order, as for a folder the file system cannot flush), and the new result goes in whole. (Made by
    refusing that one ``open``: a test run as root may open any folder.)"""
    from sim.atomic import staged_folder

    target = tmp_path / "r"
    _write(target, OLD)
    real_open = os.open

    def refusing(path, flags, *a, **k):
        if os.fspath(path) == os.fspath(tmp_path) and not flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", refusing)
    with staged_folder(target, ("summary.json", "cashflow.csv", "figures/")) as stage:
        _write(stage, NEW)
    monkeypatch.undo()
    assert contents(target) == NEW and os.listdir(tmp_path) == ["r"]


def test_without_locks_a_journal_of_an_earlier_boot_is_not_kept_alive_by_a_process_id_reused_since(tmp_path,
                                                                                                   monkeypatch):
    """On a file system without locks a journal naming a process of this machine is live while that process runs.
    After a restart (a power cut) the id it names may be any process's (here this test's own): the swap, killed
    between its two renames (the result folder gone, the old result aside), waited as long as that process ran,
    the folder missing its result. A journal of another boot is told by its age instead: an hour old, dead, and
    recovered (undone: this journal, as an earlier fleetsim wrote it, does not list its stage); the same journal of
    this boot is still left alone."""
    import socket

    from sim.swap_journal import boot_id
    from test_review_ux21 import _leftover_between_renames, _no_locks

    if boot_id() is None:
        pytest.skip("no boot id here")
    for boot, acted in ((boot_id(), False), ("an earlier boot", True)):
        target = _leftover_between_renames(tmp_path / boot[:2], notes=False)
        (aside,) = target.parent.glob(".r.*.old")
        plan = json.loads((aside / JOURNAL).read_text())
        (aside / JOURNAL).write_text(json.dumps({**plan, "pid": os.getpid(), "host": socket.gethostname(),
                                                 "boot": boot}))
        os.utime(aside / JOURNAL, (0, 0))           # an hour old
        with monkeypatch.context() as m:
            _no_locks(m)
            said = said_next(target)
        assert len(said) == acted and (not acted or "undone" in said[0]), (boot, said)
        assert target.exists() == acted and aside.exists() != acted, boot


def test_another_machine_s_swap_killed_while_flushing_is_undone_without_saying_this_one_restarted(tmp_path):
    """A result folder on a file server: a swap of another machine killed while flushing its stage (its journal not
    confirmed, naming that machine and its boot) is undone here, as this machine cannot count on what the other had
    not yet flushed; the line names that machine, where it said this machine had restarted (a power cut), which
    it had not. The same journal of this machine in an earlier boot still says the restart."""
    import socket

    from sim.swap_journal import boot_id

    if boot_id() is None:
        pytest.skip("no boot id here")
    for i, (host, words) in enumerate((("render-node-7", "by another machine (render-node-7)"),
                                       (socket.gethostname(), "the machine has restarted since (a power cut)"))):
        base = tmp_path / str(i)
        base.mkdir()
        target, plan = base / "r", _unconfirmed_journal(base)
        (aside,) = base.glob(".r.*.old")
        journal = json.loads((aside / JOURNAL).read_text())
        (aside / JOURNAL).write_text(json.dumps({**journal, "host": host, "boot": "an earlier boot"}))
        assert plan.trusted and not read_plan(aside / JOURNAL, target).trusted
        (said,) = said_next(target)
        assert "undone" in said and words in said, said
        assert ("restarted since" in said) == (host == socket.gethostname()), said
        assert contents(target) == OLD and os.listdir(base) == ["r"]
