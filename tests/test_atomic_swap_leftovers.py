"""A swap of a result folder cut short by a hard kill is finished or undone by the next command touching the
folder (:func:`sim.atomic.finish_swaps`): the folder is then the old result whole or the new one whole, never a
mix of both, nothing is left hidden beside it, and one line says which. The swap's journal is written as soon as
the new result is whole in its stage (before the stage is flushed to disk and before any rename), so a kill at any of
its moves is finished (what the command was doing: nothing it wrote is lost); a kill before it (the stage being
written) leaves the old result, and the stage is removed once no process holds it (every step:
``test_swap_kill_every_step.py``).

The kill is real: a child process swaps a folder in (:func:`sim.atomic.staged_folder`) and ends with
``os._exit`` (no ``finally`` runs, as under ``kill -9``) at the N-th rename of the swap, or while deleting the
old result after the last one, or while writing the stage."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.atomic import JOURNAL, finish_swaps
from sim.errors import InputWarning
from sim.swap_journal import MARKS
from sim.swap_recovery import UNDO, hold_stage
from swap_files import said_next
from test_review_ux21 import _recover as recover   # the child killed at its n-th file-system change

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ("summary.json", "cashflow.csv", "figures/")

#: the child: writes the new result into a stage and swaps it in over ``target``, killed at rename ``n``
#: (1-based; 0: while deleting the old result, after every rename; -2: while writing the stage). ``fail``: the
#: rename that raises an error instead (the swap then undoes itself, and is killed at rename ``n`` of that undo).
#: ``copy``: a folder whose files are the new result (else three files reading "new"); ``drop``: the swap's drop.
CHILD = r"""
import json, os, shutil, sys
from pathlib import Path
from sim.atomic import staged_folder
target, n, known = Path(sys.argv[1]), int(sys.argv[2]), tuple(sys.argv[3].split(","))
more = json.loads(sys.argv[4])
calls = [0]
rename = os.rename
def killed_at_rename(a, b):
    calls[0] += 1
    if calls[0] == more.get("fail"):
        raise OSError(5, "Input/output error")
    if calls[0] == n:
        os._exit(9)
    rename(a, b)
os.rename = killed_at_rename
if n == 0:
    shutil.rmtree = lambda *a, **k: os._exit(9)
try:
    with staged_folder(target, known, drop=more.get("drop", ())) as stage:
        if "copy" in more:
            shutil.copytree(more["copy"], stage, dirs_exist_ok=True)
        else:
            (stage / "summary.json").write_text("new")
            if n == -2:
                os._exit(9)
            (stage / "cashflow.csv").write_text("new")
            (stage / "figures").mkdir()
            (stage / "figures" / "a.svg").write_text("new")
except OSError as err:
    print("failed", err)
    sys.exit(1)
print("swapped", calls[0])
"""


def _old_result(target: Path, notes: bool) -> None:
    target.mkdir()
    (target / "summary.json").write_text("old")
    (target / "cashflow.csv").write_text("old")
    (target / "figures").mkdir()
    (target / "figures" / "a.svg").write_text("old")
    if notes:                       # someone's file: the swap goes entry by entry and never touches it
        (target / "notes.txt").write_text("mine")


def _swap(target: Path, n: int, known: tuple[str, ...] = KNOWN, **more) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", CHILD, str(target), str(n), ",".join(known), json.dumps(more)],
                          env=env, capture_output=True, text=True, timeout=60)


def _contents(target: Path) -> dict[str, str]:
    return {p.relative_to(target).as_posix(): p.read_bytes().decode("latin-1")
            for p in sorted(target.rglob("*")) if p.is_file()}


def _renames(tmp_path: Path, notes: bool) -> int:
    """How many renames a whole swap makes (a child not killed counts them)."""
    target = tmp_path / "count" / "r"
    target.parent.mkdir()
    _old_result(target, notes)
    done = _swap(target, -1)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[1])


def _age(folder: Path) -> None:
    """Make ``folder`` and all in it look an hour old (its command long gone)."""
    for p in [*folder.rglob("*"), folder]:
        os.utime(p, (0, 0), follow_symlinks=False)


@pytest.mark.parametrize("notes", [False, True], ids=["whole-folder", "entry-by-entry"])
def test_a_swap_killed_at_any_instant_is_finished_or_undone_whole(tmp_path, notes):
    total = _renames(tmp_path, notes)
    assert total == (2 if not notes else 3 + 3)      # aside and in (over an earlier result no rename is tried first)
    seen = set()
    for n in [-2, *range(1, total + 1), 0]:
        target = tmp_path / f"k{n}" / "r"
        target.parent.mkdir()
        _old_result(target, notes)
        killed = _swap(target, n)
        assert killed.returncode == 9, killed.stderr
        hidden = [p.name for p in target.parent.iterdir() if p.name != "r"]
        # the journal is written before the first rename: a kill at any of them is finished
        journal = n != -2
        assert any(h.endswith(".old") for h in hidden) == journal, (n, hidden)        # the leftover of the kill
        said = said_next(target)
        if not journal:         # the stage being written, or whole with no journal: the old result stays
            assert said == []
            (stage,) = [target.parent / h for h in hidden]
            assert stage.name.endswith(".partial")      # left a minute (its command may be writing it)
            _age(stage)
            said = said_next(target)
            assert len(said) == 1 and stage.name in said[0] and "removed" in said[0], said
        assert len(said) == 1, said
        assert os.listdir(target.parent) == ["r"], (n, os.listdir(target.parent))      # nothing left hidden
        now = _contents(target)
        versions = {v for k, v in now.items() if k != "notes.txt"}
        assert len(versions) == 1 and len(now) == 3 + notes, (n, now)                   # one result, whole
        assert now.get("notes.txt", "mine") == "mine"
        which = versions.pop()
        # finished from the instant the journal holds a whole stage (every rename); before it, the old result stays
        assert which == ("new" if journal else "old"), (n, now)
        if journal:
            assert "written whole: finished" in said[0], said
        assert said[0].startswith(f"{target}: ") and "\n" not in said[0]
        seen.add(which)
        assert finish_swaps(target) == []           # said once
    assert seen == {"old", "new"}


@pytest.mark.parametrize("notes", [False, True], ids=["whole-folder", "entry-by-entry"])
def test_a_swap_whose_staged_file_is_no_longer_as_written_is_undone(tmp_path, notes):
    """The journal records each staged file's size once it is on disk: a file that is not (a power cut can leave
    a file written just before it empty) shows the stage is not whole, and the swap is undone, the old result
    put back, rather than finished with a broken result."""
    target = tmp_path / "r"
    _old_result(target, notes)
    assert _swap(target, 2).returncode == 9         # the old result (or its first entry) aside
    (stage,) = tmp_path.glob(".r.*.partial")
    (stage / "cashflow.csv").write_text("")         # as found after the power cut
    (said,) = said_next(target)
    assert "undone" in said and "no longer whole" in said, said
    assert {k: v for k, v in _contents(target).items() if k != "notes.txt"} == \
        {"summary.json": "old", "cashflow.csv": "old", "figures/a.svg": "old"}
    assert os.listdir(tmp_path) == ["r"]


def test_a_swap_killed_while_undoing_itself_after_an_error_is_undone(tmp_path):
    """A move in fails (a disk error): the command undoes the swap and says it failed. Killed during that undo,
    its new result is still whole, but the next command carries on undoing (the mark beside the journal), so the
    folder is as the failed command said it left it."""
    total = 3 + 3
    for kill in range(5, total + 3):     # the move in that fails is rename 4; the undo's three moves back follow
        target = tmp_path / f"k{kill}" / "r"
        target.parent.mkdir()
        _old_result(target, True)
        killed = _swap(target, kill, fail=4)
        assert killed.returncode == (9 if kill <= 7 else 1), (kill, killed.stdout, killed.stderr)
        if kill <= 7:
            assert (next(target.parent.glob(".r.*.old")) / UNDO).exists()
            (said,) = said_next(target)
            assert "undone" in said and "while its own process was undoing it" in said, said
        assert _contents(target) == {"summary.json": "old", "cashflow.csv": "old", "figures/a.svg": "old",
                                     "notes.txt": "mine"}, kill
        assert os.listdir(target.parent) == ["r"], (kill, os.listdir(target.parent))


def test_a_finished_swap_deletes_what_its_command_drops(tmp_path):
    """``fleetsim reprice`` in place drops the old money's chart from ``figures/`` once the new money is in: a swap
    killed between its moves and finished by the next command drops it too (no chart of the old prices beside
    the new money)."""
    known = ("summary.json", "cashflow.csv")        # figures/ is not the swap's: entry by entry
    new = tmp_path / "new"
    new.mkdir()
    for name in known:
        (new / name).write_text("new")
    for n in (2, 3, 4):
        target = tmp_path / f"k{n}" / "r"
        target.parent.mkdir()
        _old_result(target, False)
        (target / "figures" / "stale.svg").write_text("old money")
        killed = _swap(target, n, known, drop=["figures/stale.svg"], copy=str(new))
        assert killed.returncode == 9, killed.stderr
        (said,) = said_next(target)
        assert "written whole: finished" in said
        assert _contents(target) == {"summary.json": "new", "cashflow.csv": "new", "figures/a.svg": "old"}, n
    target = tmp_path / "whole" / "r"
    target.parent.mkdir()
    _old_result(target, False)
    (target / "figures" / "stale.svg").write_text("old money")
    # not killed: dropped too
    assert _swap(target, -1, known, drop=["figures/stale.svg"], copy=str(new)).returncode == 0
    assert "figures/stale.svg" not in _contents(target)


def test_a_staged_folder_is_removed_only_once_no_process_holds_it_and_it_is_quiet(tmp_path):
    """A ``.NAME.XXXXXXXX.partial`` folder with no journal is a result being written, or one whose command was
    killed before its swap: removed with a line once no process holds its lock and nothing in it changed for a
    minute; a held one (a command writing a big file slowly) or a young one is left alone."""
    target = tmp_path / "r"
    _old_result(target, False)
    held = tmp_path / ".r.held0001.partial"
    young = tmp_path / ".r.young001.partial"
    dead = tmp_path / ".r.dead0001.partial"
    for stage in (held, young, dead):
        stage.mkdir()
        (stage / "summary.json").write_text("new")
    fd = hold_stage(held)
    try:
        _age(held)
        _age(dead)
        (said,) = said_next(target)
        assert dead.name in said and "removed" in said and said.startswith(f"{target}: ")
        assert held.exists() and young.exists() and not dead.exists()
        _age(young)
        os.utime(young / "summary.json")            # a file written in it just now
        assert said_next(target) == [] and young.exists()
    finally:
        if fd is not None:
            os.close(fd)
    _age(young)
    assert len(said_next(target)) == 2 and os.listdir(tmp_path) == ["r"]       # held no more: both go
    assert _contents(target)["summary.json"] == "old"


def test_a_staged_folder_a_journal_names_is_the_recovery_s_not_removed_as_dead(tmp_path):
    """A swap whose journal is locked (under way) has its stage beside it: never removed, however old."""
    fcntl = pytest.importorskip("fcntl")
    target = tmp_path / "r"
    _old_result(target, False)
    stage = tmp_path / ".r.wxyz6789.partial"
    stage.mkdir()
    (stage / "summary.json").write_text("new")
    aside = tmp_path / ".r.abcd1234.old"
    aside.mkdir()
    (aside / JOURNAL).write_text(json.dumps({"stage": stage.name, "old": ["summary.json"], "new": ["summary.json"]}))
    _age(stage)
    with open(aside / JOURNAL) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert finish_swaps(target) == [] and stage.exists()


def test_an_empty_folder_made_since_in_the_place_of_the_result_is_replaced_by_the_finished_swap(tmp_path):
    """Killed between its two renames, a whole-folder swap left no folder; the next ``run --out`` makes an empty one
    to lock before it writes: the swap is finished over it (the new result renamed in), the old result deleted."""
    target = tmp_path / "r"
    _old_result(target, False)
    assert _swap(target, 2).returncode == 9 and not target.exists()
    target.mkdir()                                  # as sim.folder_lock.holding makes the folder it locks
    with pytest.warns(InputWarning, match="written whole: finished"):
        finish_swaps(target)
    assert set(_contents(target).values()) == {"new"} and os.listdir(tmp_path) == ["r"]


def test_a_folder_named_through_dot_dot_is_recovered_as_the_swap_names_it(tmp_path):
    """``run1/../run1`` names the folder the swap resolved (``..`` first): killed between its two renames, the
    swap left no ``run1``, so the typed path names nothing until ``..`` is resolved; the next command given it
    that way (``fleetsim report run1/../run1``) still finds the leftover and finishes it."""
    target = tmp_path / "r"
    _old_result(target, False)
    assert _swap(target, 2).returncode == 9 and not target.exists()
    with pytest.warns(InputWarning, match="written whole: finished"):
        assert len(finish_swaps(f"{target}/../r")) == 1
    assert set(_contents(target).values()) == {"new"} and os.listdir(tmp_path) == ["r"]


def test_a_swap_under_way_is_left_alone(tmp_path):
    """The journal of a live swap is locked by its process: the next command leaves its folders alone."""
    fcntl = pytest.importorskip("fcntl")
    target = tmp_path / "r"
    _old_result(target, False)
    aside = tmp_path / ".r.abcd1234.old"
    aside.mkdir()
    os.rename(target, aside / "old")            # as a swap does between its two renames
    (aside / JOURNAL).write_text(json.dumps({"stage": ".r.wxyz6789.partial", "old": ["summary.json"], "new": []}))
    with open(aside / JOURNAL) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert finish_swaps(target) == [] and (aside / "old" / "summary.json").read_text() == "old"
    with pytest.warns(InputWarning, match="undone"):
        assert len(finish_swaps(target)) == 1           # its process gone: undone
    assert _contents(target)["summary.json"] == "old" and not aside.exists()


def test_an_unrelated_folder_or_a_fresh_aside_without_journal_is_not_touched(tmp_path):
    """A folder whose name only starts with the result's, and a ``.old`` folder being made (no journal yet),
    are no leftovers of this folder's swap."""
    target = tmp_path / "r"
    _old_result(target, False)
    other = tmp_path / ".r.x.abcd1234.old"          # the swap of a folder named r.x
    other.mkdir()
    (other / JOURNAL).write_text("{}")
    fresh = tmp_path / ".r.abcd1234.old"
    fresh.mkdir()
    assert finish_swaps(target) == [] and other.exists() and fresh.exists()
    os.utime(fresh, (0, 0))                         # an hour later: a dead swap's, nothing moved yet
    assert finish_swaps(target) == [] and not fresh.exists() and other.exists()


def test_the_command_line_says_the_recovery_in_one_line(tmp_path, capsys):
    """``fleetsim report`` on a folder whose swap was killed between its renames (the folder itself gone)
    finishes the swap (the new result, written whole, put in place), says so on stderr, and draws it."""
    from sim.cli import main

    run, new = tmp_path / "run", tmp_path / "new"
    for folder, seed in ((run, 1), (new, 2)):
        assert main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--set", "duration=1m", "--set", "warmup=0",
                     "--set", f"seed={seed}", "--out", str(folder), "--quiet", "--figures", "none"]) == 0
    before, written = _contents(run), _contents(new)
    assert before != written
    from sim.metrics.output import RESULT_NAMES

    # killed after moving the old result aside, before moving the new one in
    assert _swap(run, 2, RESULT_NAMES, copy=str(new)).returncode == 9 and not run.exists()
    capsys.readouterr()
    assert main(["report", str(run), "--no-regenerate"]) == 0
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if "cut short" in ln]
    assert line.startswith(f"{run}: ") and "written whole: finished" in line
    after = _contents(run)
    assert {k: v for k, v in after.items() if k in written} == written and "report.html" in after


def test_a_swap_that_cannot_be_finished_is_undone_whole_not_left_mixed(tmp_path):
    """A move the recovery makes to finish a swap is refused (a folder of someone's in the way of a staged one):
    what it had moved in goes back and the old result is put back, never half of each."""
    target = tmp_path / "r"
    _old_result(target, True)
    assert _swap(target, 2).returncode == 9         # one old entry aside, the others not yet
    (stage,) = tmp_path.glob(".r.*.partial")
    os.rename(stage / "figures", stage / "zfigures")    # moved in last, after summary.json: into a folder there
    (target / "zfigures").mkdir()
    (target / "zfigures" / "x").write_text("someone's")
    journal = next(tmp_path.glob(".r.*.old")) / JOURNAL
    plan = json.loads(journal.read_text())
    swap = lambda e: "zfigures" if e == "figures" else e     # noqa: E731
    plan["new"] = sorted(map(swap, plan["new"]))
    plan["staged"] = {"files": {"/".join([swap(p.split("/")[0]), *p.split("/")[1:]]): n
                               for p, n in plan["staged"]["files"].items()},
                     "folders": [swap(f) for f in plan["staged"]["folders"]]}
    journal.write_text(json.dumps(plan))
    (said,) = said_next(target)
    assert "could not be finished" in said and "undone" in said, said
    assert _contents(target) == {"summary.json": "old", "cashflow.csv": "old", "figures/a.svg": "old",
                                 "notes.txt": "mine", "zfigures/x": "someone's"}
    assert os.listdir(tmp_path) == ["r"]


@pytest.mark.parametrize("notes", [False, True], ids=["whole-folder", "entry-by-entry"])
def test_a_recovery_finishing_a_swap_killed_at_any_change_is_taken_up_by_the_next(tmp_path, notes):
    """Finishing a swap is moves and deletions too: killed at any of them, the next command carries on from the
    journal (each step done only if not done yet) and ends with the new result whole, the old one gone."""
    def leftover(base: Path) -> Path:
        target = base / "r"
        base.mkdir()
        _old_result(target, notes)
        assert _swap(target, 1 if notes else 2).returncode == 9     # nothing aside yet / the old folder aside
        return target

    whole = recover(leftover(tmp_path / "count"), -1)
    assert whole.returncode == 0, whole.stderr
    total = int(whole.stdout.split()[1])
    assert total >= 4
    for n in range(1, total + 1):
        target = leftover(tmp_path / f"k{n}")
        assert recover(target, n).returncode == 9
        said = said_next(target)
        for p in target.parent.iterdir():       # killed between deleting the journal and its folder: its marks
            if p.name != "r":
                assert p.name.endswith(".old") and set(os.listdir(p)) <= set(MARKS), (n, p)
                os.utime(p, (0, 0))
        said_next(target)
        assert {k: v for k, v in _contents(target).items() if k != "notes.txt"} == \
            {"summary.json": "new", "cashflow.csv": "new", "figures/a.svg": "new"}, (n, said)
        assert _contents(target).get("notes.txt", "mine") == "mine"
        assert os.listdir(target.parent) == ["r"], (n, os.listdir(target.parent))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names a descriptor's file through /proc")
def test_the_journal_is_written_only_once_every_staged_file_is_on_disk(tmp_path, monkeypatch):
    """What lets the next command finish a swap: every file and folder of the stage was flushed to disk (``fsync``)
    before the journal was, and the journal lists each staged file at its size."""
    from sim.atomic import staged_folder

    target = tmp_path / "r"
    _old_result(target, True)
    flushed: list[str] = []
    real = os.fsync

    def fsync(fd):
        flushed.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        return real(fd)

    journals = []
    real_rename = os.rename

    def rename(a, b):           # the swap's moves: its journal is there by then
        journals.extend(json.loads(j.read_text()) for j in tmp_path.glob(f".r.*.old/{JOURNAL}") if not journals)
        return real_rename(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    with staged_folder(target, KNOWN) as stage:
        monkeypatch.setattr(os, "rename", rename)
        (stage / "summary.json").write_text("new!")
        (stage / "cashflow.csv").write_text("new")
        (stage / "figures").mkdir()
        (stage / "figures" / "a.svg").write_text("new")
        where = str(stage.resolve())
    monkeypatch.undo()
    (journal_at,) = [i for i, p in enumerate(flushed) if p.endswith(f"/{JOURNAL}")]
    before = set(flushed[:journal_at])
    assert {where, f"{where}/figures", *(f"{where}/{n}" for n in ("summary.json", "cashflow.csv", "figures/a.svg"))} \
        <= before, flushed
    (plan,) = journals
    assert plan["staged"] == {"files": {"cashflow.csv": 3, "figures/a.svg": 3, "summary.json": 4},
                             "folders": ["figures"]}
    assert _contents(target) == {"summary.json": "new!", "cashflow.csv": "new", "figures/a.svg": "new",
                                 "notes.txt": "mine"}
