"""A result-folder swap over an earlier result killed at every step after its new result is complete
(:func:`sim.atomic.staged_folder`): from the instant its journal is written (the first thing the swap does once the
block that writes the stage is left, before the stage is flushed or anything is renamed) the next command finishes
it, the new result whole in place; before, the old result stays and the stage is removed once quiet. After a power
cut (the machine restarted: another boot id) a journal whose stage was not yet confirmed flushed is undone, nothing
having moved; one confirmed is finished. Then: an undo is said once, however many commands look at the folder while
it runs; and a stale file the swap cannot delete once the new result is in is a warning, not a failed command.

The kill is real: a child process swaps and ends with ``os._exit`` (no ``finally`` runs, as under ``kill -9``) at its
N-th file-system call counted from the end of the block (``mkdir``, ``open``, ``write``, ``fsync``, ``rename``,
``unlink``, ``rmdir``); a child not killed lists them, which is what the expectations are read from."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.atomic import JOURNAL, staged_folder
from sim.errors import InputWarning
from sim.swap_journal import SYNCED, UNDONE
from swap_files import contents, refuse_folder_flushes, said_next

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ("summary.json", "cashflow.csv", "figures/")
CALLS = ("mkdir", "open", "write", "fsync", "rename", "unlink", "rmdir")

#: the child: swaps a new result (three files reading "new") in over ``target``, killed at call ``n`` after the block
#: (0: never; then prints the calls it made, one JSON list of [call, path])
CHILD = r"""
import json, os, sys
from pathlib import Path
from sim.atomic import staged_folder
target, n = Path(sys.argv[1]), int(sys.argv[2])
log, counting = [], [False]
def counted(name, real):
    def f(*a, **k):
        if counting[0]:
            log.append([name, os.path.realpath(f"/proc/self/fd/{a[0]}") if isinstance(a[0], int) else str(a[0])])
            if len(log) == n:
                os._exit(9)
        return real(*a, **k)
    return f
for name in %r:
    setattr(os, name, counted(name, getattr(os, name)))
with staged_folder(target, ("summary.json", "cashflow.csv", "figures/")) as stage:
    (stage / "summary.json").write_text("new")
    (stage / "cashflow.csv").write_text("new!")
    (stage / "figures").mkdir()
    (stage / "figures" / "a.svg").write_text("new")
    counting[0] = True
counting[0] = False
print(json.dumps(log))
""" % (CALLS,)

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names a descriptor's file through /proc")

OLD = {"summary.json": "old", "cashflow.csv": "old", "figures/a.svg": "old"}
NEW = {"summary.json": "new", "cashflow.csv": "new!", "figures/a.svg": "new"}


def _old_result(target: Path, notes: bool) -> None:
    target.mkdir(parents=True)
    for rel in OLD:
        (target / rel).parent.mkdir(exist_ok=True)
        (target / rel).write_text("old")
    if notes:                       # someone's file: the swap goes entry by entry and never touches it
        (target / "notes.txt").write_text("mine")


def _swap(target: Path, n: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", CHILD, str(target), str(n)], env=env, capture_output=True,
                          text=True, timeout=60)


def _settle(target: Path) -> list[str]:
    """What the next commands say: one now, and one after every leftover has been quiet for an hour (a staged
    folder, or an ``.old`` folder holding an unreadable journal, is left a minute: its command may be at it)."""
    said = said_next(target)
    for p in target.parent.iterdir():
        if p.name != target.name:
            for q in [*p.rglob("*"), p]:
                os.utime(q, (0, 0), follow_symlinks=False)
    return said + said_next(target)


def _log(tmp_path: Path, notes: bool) -> list[list[str]]:
    target = tmp_path / "count" / "r"
    _old_result(target, notes)
    done = _swap(target, 0)
    assert done.returncode == 0, done.stderr
    assert contents(target) == {**NEW, **({"notes.txt": "mine"} if notes else {})}
    return json.loads(done.stdout)


def _journal_written(log: list[list[str]]) -> int:
    """The call (1-based) after which the journal is whole: its one ``write``."""
    (i,) = [i for i, (call, path) in enumerate(log) if call == "write" and path.endswith(f"/{JOURNAL}")]
    return i + 1


@pytest.mark.parametrize("notes", [False, True], ids=["whole-folder", "entry-by-entry"])
def test_a_swap_killed_at_any_step_after_its_stage_is_complete_is_finished_from_its_journal_on(tmp_path, notes):
    log = _log(tmp_path, notes)
    calls = [call for call, _ in log]
    written = _journal_written(log)
    # what the swap does, in order: the journal, the stage flushed, the journal confirmed, then the moves
    first_rename = calls.index("rename") + 1
    stage_syncs = [i + 1 for i, (call, path) in enumerate(log) if call == "fsync" and ".partial" in path]
    assert written < min(stage_syncs) and max(stage_syncs) < first_rename, log
    assert calls[:written].count("rename") == 0 and calls[:written].count("fsync") == 0
    assert calls.count("rename") == (2 if not notes else 6)
    mine = {"notes.txt": "mine"} if notes else {}
    for n in range(1, len(log) + 1):
        target = tmp_path / f"k{n}" / "r"
        _old_result(target, notes)
        killed = _swap(target, n)
        assert killed.returncode == 9, (n, killed.stderr)
        said = _settle(target)
        assert os.listdir(target.parent) == ["r"], (n, log[n - 1], os.listdir(target.parent))   # nothing hidden
        expected = NEW if n > written else OLD
        assert contents(target) == {**expected, **mine}, (n, log[n - 1])
        if n > written and n <= first_rename:
            # the first rename never happened (the old result in place, the stage complete): finished
            assert len(said) == 1 and "written whole: finished" in said[0], (n, said)
        if n > first_rename:    # finished, in one line; nothing said once only the journal's marks were left
            assert len(said) <= 1 and all(": finished" in s for s in said), (n, said)
        if n <= written:        # the stage no journal names, removed once quiet; said where it was
            assert all("killed before swapping in" in s for s in said), (n, said)


def _pending_leftover(tmp_path: Path, name: str, n: int) -> tuple[Path, Path]:
    target = tmp_path / name / "r"
    _old_result(target, False)
    assert _swap(target, n).returncode == 9
    (aside,) = target.parent.glob(".r.*.old")
    return target, aside


def _restarted(aside: Path) -> None:
    """The journal in ``aside`` as the next boot reads it: written in another boot of the machine."""
    plan = json.loads((aside / JOURNAL).read_text())
    assert plan["boot"] is not None and plan["pending"] is True
    plan["boot"] = "0" * 8 + plan["boot"][8:] if not plan["boot"].startswith("0" * 8) else "f" * 8 + plan["boot"][8:]
    (aside / JOURNAL).write_text(json.dumps(plan))


@pytest.mark.skipif(not os.path.isfile("/proc/sys/kernel/random/boot_id"), reason="Linux's boot id")
def test_after_a_power_cut_a_journal_not_yet_confirmed_is_undone_and_one_confirmed_is_finished(tmp_path):
    """A power cut can lose what the stage held in memory only: killed while its stage was being flushed and the
    machine restarted since, the swap, which had moved nothing, is undone (its stage files may have come back
    empty: here one is, and the journal, which lists its size, would show it; but the rule does not need to
    read it); killed once the journal was confirmed (the stage on disk), it is finished in the next boot too."""
    log = _log(tmp_path, False)
    calls = [call for call, _ in log]
    written, first_rename = _journal_written(log), calls.index("rename") + 1
    mark = next(i + 1 for i, (call, path) in enumerate(log) if call == "open" and path.endswith(f"/{SYNCED}"))
    assert written < mark < first_rename

    # killed while flushing the stage (its first fsync): the stage's flush never finished
    target, aside = _pending_leftover(tmp_path, "flushing", written + 1)
    _restarted(aside)
    (said,) = said_next(target)
    assert "undone" in said and "power cut" in said, said
    assert contents(target) == OLD and os.listdir(target.parent) == ["r"]

    # the same, the stage's files lost in the power cut (its folder's entries never flushed): the old result's
    # files, which bear the same names, are not taken for moved-in ones and deleted with the stage
    target, aside = _pending_leftover(tmp_path, "lost", written + 1)
    _restarted(aside)
    (stage,) = target.parent.glob(".r.*.partial")
    for p in sorted(stage.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    (said,) = said_next(target)
    assert "undone" in said and "power cut" in said, said
    assert contents(target) == OLD and os.listdir(target.parent) == ["r"]

    # the same kill, no restart (a kill -9 alone): the page cache held the stage, finished
    target, aside = _pending_leftover(tmp_path, "killed", written + 1)
    (said,) = said_next(target)
    assert "written whole: finished" in said, said
    assert contents(target) == NEW and os.listdir(target.parent) == ["r"]

    # killed at the first rename, the journal confirmed (the mark beside it), then restarted: finished
    target, aside = _pending_leftover(tmp_path, "confirmed", first_rename)
    assert (aside / SYNCED).exists()
    _restarted(aside)
    (said,) = said_next(target)
    assert "written whole: finished" in said, said
    assert contents(target) == NEW and os.listdir(target.parent) == ["r"]


def test_an_undo_is_said_once_while_a_second_command_looks_at_the_folder(tmp_path, monkeypatch):
    """A journal of an earlier fleetsim (no listing of its stage) is undone; while the recovery deletes the staged
    result, a second command finishing swaps into the folder finds the journal still locked by the first and says
    nothing (the undo marked beside the journal, not by replacing it, which left the new journal unlocked: the
    second command said the undo again)."""
    import shutil

    target = tmp_path / "r"
    aside, stage = tmp_path / ".r.abcd1234.old", tmp_path / ".r.wxyz6789.partial"
    aside.mkdir()
    for folder in (aside / "old", stage):
        _old_result(folder, False)
    for rel in OLD:
        (stage / rel).write_text("new")
    # killed between its two renames: the old folder aside whole, the folder itself gone
    (aside / JOURNAL).write_text(json.dumps({"stage": stage.name, "old": ["cashflow.csv", "figures", "summary.json"],
                                             "new": sorted(os.listdir(stage))}))
    second: list[list[str]] = []
    real = shutil.rmtree

    def rmtree(path, *a, **k):
        if Path(path) == stage:
            assert (aside / UNDONE).exists()        # the old result is back, and said so, before the stage goes
            second.append(said_next(target))
        return real(path, *a, **k)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    said = said_next(target)
    monkeypatch.undo()
    assert second == [[]], second
    assert len(said) == 1 and "undone" in said[0], said
    assert contents(target) == OLD and os.listdir(tmp_path) == ["r"]


def _refusing(monkeypatch, name: str) -> None:
    real = os.unlink

    def unlink(path, *a, **k):
        if str(path).endswith(name):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "unlink", unlink)


@pytest.mark.parametrize("notes", [False, True], ids=["figures-only", "whole-result-and-notes"])
def test_a_stale_file_that_cannot_be_deleted_once_the_new_result_is_in_is_a_warning(tmp_path, monkeypatch, notes):
    """The swap's ``drop`` (the old money's chart, which ``reprice`` in place does not rewrite) cannot be deleted (a
    read-only ``figures/``): the new result is whole in place, so the swap succeeds and says which file is left,
    where it failed the command (after every move: the folder held the new result), leaving a journal the next
    command finished all over again."""
    target = tmp_path / "r"
    if notes:
        _old_result(target, True)
    else:
        target.mkdir()
        (target / "figures").mkdir()
    (target / "figures" / "stale.svg").write_text("old money")
    _refusing(monkeypatch, "stale.svg")
    with pytest.warns(InputWarning, match=r"new result is in place.*figures/stale.svg \(Permission denied\)"):
        with staged_folder(target, ("summary.json", "cashflow.csv"), drop=["figures/stale.svg"]) as stage:
            (stage / "summary.json").write_text("new")
            (stage / "cashflow.csv").write_text("new!")
    monkeypatch.undo()
    assert {k: v for k, v in contents(target).items() if k in ("summary.json", "cashflow.csv")} == \
        {"summary.json": "new", "cashflow.csv": "new!"}
    assert (target / "figures" / "stale.svg").exists() and os.listdir(tmp_path) == ["r"]
    assert said_next(target) == []


def test_reprice_in_place_whose_stale_chart_cannot_be_deleted_exits_0_and_says_so(tmp_path, monkeypatch, capsys):
    from sim.cli import main

    run = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--set", "duration=1m", "--set", "warmup=0",
                 "--out", str(run), "--quiet", "--figures", "svg"]) == 0
    assert (run / "figures" / "cashflow.svg").is_file()
    before = json.loads((run / "summary.json").read_text())
    capsys.readouterr()
    _refusing(monkeypatch, "cashflow.svg")
    assert main(["reprice", str(run), "--set", "economics.gpu_hour_usd=3", "--out", str(run), "--quiet"]) == 0
    monkeypatch.undo()
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if "could not be deleted" in ln]
    assert "figures/cashflow.svg (Permission denied)" in line and str(run.resolve()) in line, err
    after = json.loads((run / "summary.json").read_text())
    assert after["cost"]["usd_per_gpu_hour_blended"] == pytest.approx(3) != before["cost"]["usd_per_gpu_hour_blended"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("notes", [False, True], ids=["whole-folder", "entry-by-entry"])
def test_the_moves_are_flushed_before_anything_of_the_old_result_is_deleted(tmp_path, notes):
    """A rename stays in the page cache until its folder is flushed: a power cut that kept the old result's deletion
    but lost the moves before it would leave neither result. So after the last move, and before the first file or
    folder is deleted, the swap flushes the folders the moves changed: the one holding the result folder where it
    moved whole (the result folder where it went entry by entry), and the ``.old`` folder the old result went to."""
    log = _log(tmp_path, notes)
    target = tmp_path / "count" / "r"
    last_move = max(i for i, (call, _) in enumerate(log) if call == "rename")
    first_delete = min(i for i, (call, _) in enumerate(log) if call in ("unlink", "rmdir"))
    assert last_move < first_delete, log
    flushed = [path for call, path in log[last_move:first_delete] if call == "fsync"]
    aside = [p for p in flushed if p.startswith(str(target.parent / ".r.")) and p.endswith(".old")]
    assert str(target if notes else target.parent) in flushed and len(aside) == 1, log[last_move:first_delete]


@pytest.mark.skipif(not os.path.isfile("/proc/sys/kernel/random/boot_id"), reason="Linux's boot id")
def test_a_journal_lists_its_stage_where_no_fleetsim_before_confirmations_trusts_it(tmp_path):
    """A fleetsim from before journals were confirmed (``pending`` and ``swap.synced``) read the stage's listing
    under ``whole`` and trusted it, so after a power cut during the flush it finished a swap whose stage may not be
    on disk. The listing is now under ``staged``: such a fleetsim finds none and undoes the swap, which had moved
    nothing. A journal written with ``whole`` (before this change) is still read as it was: finished after a kill,
    undone after a power cut while flushing."""
    log = _log(tmp_path, False)
    written = _journal_written(log)
    target, aside = _pending_leftover(tmp_path, "listed", written + 1)
    plan = json.loads((aside / JOURNAL).read_text())
    assert "whole" not in plan and plan["staged"]["files"] == {"cashflow.csv": 4, "figures/a.svg": 3,
                                                                "summary.json": 3}
    for name, restarted, outcome, result in (("kill", False, "written whole: finished", NEW),
                                             ("power", True, "undone", OLD)):
        target, aside = _pending_leftover(tmp_path, name, written + 1)
        plan = json.loads((aside / JOURNAL).read_text())
        plan["whole"] = plan.pop("staged")          # as the journal was written before
        (aside / JOURNAL).write_text(json.dumps(plan))
        if restarted:
            _restarted(aside)
        (said,) = said_next(target)
        assert outcome in said, said
        assert contents(target) == result and os.listdir(target.parent) == ["r"]


def test_a_recovery_whose_moves_the_disk_does_not_confirm_keeps_the_old_result_for_the_next(tmp_path, monkeypatch):
    """A swap killed at its first move is finished by the next command; if the disk then refuses to flush the folders
    that command's moves changed (``EIO``), it says so and keeps the old result and the journal rather than delete
    them (its moves may not be on disk); the command after finishes it."""
    import errno

    log = _log(tmp_path, False)
    first_rename = [call for call, _ in log].index("rename") + 1
    target, aside = _pending_leftover(tmp_path, "refused", first_rename)
    refuse_folder_flushes(monkeypatch, errno.EIO)
    (said,) = said_next(target)
    monkeypatch.undo()
    assert "did not confirm its moves (Input/output error): the old result is kept in" in said, said
    kept = {rel: text for rel, text in contents(aside).items() if not rel.startswith("swap.")}
    assert contents(target) == NEW and kept == OLD and (aside / JOURNAL).is_file()
    (said,) = said_next(target)
    assert ": finished" in said, said
    assert contents(target) == NEW and os.listdir(target.parent) == ["r"]


def test_an_undo_the_disk_does_not_confirm_is_not_marked_done(tmp_path, monkeypatch):
    """A recovery that puts the old result back marks the undo done (``swap.undone``) and then deletes the stage
    and the journal: the mark is what lets a recovery killed after it delete the rest. Its moves back are flushed
    first; the disk refusing that (``EIO``), no mark is made and nothing is deleted (the moves back may not be on
    disk: the stage is then the only copy of the new result, the ``.old`` folder's record the only one of the swap),
    and the next command undoes it again; the line says where the old result is (back in place). Killed after the
    old folder went aside whole, a staged file of another size than the journal lists (the stage not whole: undone,
    not finished)."""
    import errno

    log = _log(tmp_path, False)
    first_rename = [call for call, _ in log].index("rename") + 1
    target, aside = _pending_leftover(tmp_path, "undo", first_rename + 1)     # the old folder aside, the stage not in
    assert not target.exists() and contents(aside / "old") == OLD
    (stage,) = target.parent.glob(".r.*.partial")
    (stage / "summary.json").write_text("changed")
    refuse_folder_flushes(monkeypatch, errno.EIO)
    (said,) = said_next(target)
    monkeypatch.undo()
    # said as it is: the old result back in place (not "in" the .old folder, which holds only the record now)
    assert ("the old result is back in place, but the disk did not confirm its moves back (Input/output error): "
            f"the new result's stage and the record of the swap in {aside.name} are kept") in said, said
    assert not (aside / UNDONE).exists() and (aside / JOURNAL).is_file()
    assert contents(target) == OLD and contents(stage) == {**NEW, "summary.json": "changed"}
    (said,) = said_next(target)
    assert "undone" in said and "no longer whole" in said, said
    assert contents(target) == OLD and os.listdir(target.parent) == ["r"]
