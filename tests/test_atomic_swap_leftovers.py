"""A swap of a result folder cut short by a hard kill is finished or undone by the next command touching the
folder (:func:`sim.atomic.finish_swaps`): the folder is then the old result whole or the new one whole, never a
mix of both, nothing is left hidden beside it, and one line says which.

The kill is real: a child process swaps a folder in (:func:`sim.atomic.staged_folder`) and ends with
``os._exit`` (no ``finally`` runs, as under ``kill -9``) at the N-th rename of the swap, or while deleting the
old result after the last one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from sim.atomic import JOURNAL, finish_swaps, staged_folder
from sim.errors import InputWarning

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ("summary.json", "cashflow.csv", "figures/")

#: the child: writes the new result into a stage and swaps it in over ``target``, killed at rename ``n``
#: (1-based; 0: while deleting the old result, after every rename)
CHILD = r"""
import os, shutil, sys
from pathlib import Path
from sim.atomic import staged_folder
target, n, known = Path(sys.argv[1]), int(sys.argv[2]), tuple(sys.argv[3].split(","))
calls = [0]
rename = os.rename
def killed_at_rename(a, b):
    calls[0] += 1
    if calls[0] == n:
        os._exit(9)
    rename(a, b)
os.rename = killed_at_rename
if n == 0:
    shutil.rmtree = lambda *a, **k: os._exit(9)
with staged_folder(target, known) as stage:
    (stage / "summary.json").write_text("new")
    (stage / "cashflow.csv").write_text("new")
    (stage / "figures").mkdir()
    (stage / "figures" / "a.svg").write_text("new")
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


def _swap(target: Path, n: int, known: tuple[str, ...] = KNOWN) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", CHILD, str(target), str(n), ",".join(known)], env=env,
                          capture_output=True, text=True, timeout=60)


def _contents(target: Path) -> dict[str, str]:
    return {p.relative_to(target).as_posix(): p.read_bytes().decode("latin-1") for p in sorted(target.rglob("*")) if p.is_file()}


def _renames(tmp_path: Path, notes: bool) -> int:
    """How many renames a whole swap makes (a child not killed counts them)."""
    target = tmp_path / "count" / "r"
    target.parent.mkdir()
    _old_result(target, notes)
    done = _swap(target, -1)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[1])


@pytest.mark.parametrize("notes", [False, True], ids=["whole-folder", "entry-by-entry"])
def test_a_swap_killed_at_any_instant_is_finished_or_undone_whole(tmp_path, notes):
    total = _renames(tmp_path, notes)
    assert total == (3 if not notes else 1 + 3 + 3)      # the stage tried first, then aside and in
    seen = set()
    for n in [*range(2, total + 1), 0]:
        target = tmp_path / f"k{n}" / "r"
        target.parent.mkdir()
        _old_result(target, notes)
        killed = _swap(target, n)
        assert killed.returncode == 9, killed.stderr
        hidden = [p.name for p in target.parent.iterdir() if p.name != "r"]
        assert any(h.endswith(".old") for h in hidden), (n, hidden)        # the leftover of the kill
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            said = finish_swaps(target)
        assert [str(w.message) for w in caught if issubclass(w.category, InputWarning)] == said and len(said) == 1
        assert os.listdir(target.parent) == ["r"], (n, os.listdir(target.parent))      # nothing left hidden
        now = _contents(target)
        versions = {v for k, v in now.items() if k != "notes.txt"}
        assert len(versions) == 1 and len(now) == 3 + notes, (n, now)                   # one result, whole
        assert now.get("notes.txt", "mine") == "mine"
        which = versions.pop()
        # finished only once the new result was all in place: killed at the last rename's successor (the
        # deletion of the old one, n = 0); any earlier instant puts the old result back
        assert which == ("new" if n == 0 else "old"), (n, now)
        assert ("finished" if which == "new" else "undone") in said[0], said
        assert said[0].startswith(f"{target}: ") and "\n" not in said[0]
        seen.add(which)
        assert finish_swaps(target) == []           # said once
    assert seen == {"old", "new"}


def test_an_empty_folder_made_since_in_the_place_of_the_result_is_no_finished_swap(tmp_path):
    """Killed between its two renames, a whole-folder swap left no folder; the next ``run --out`` makes an empty one
    to lock before it writes: the swap is still undone (the old result put back), not taken for finished."""
    target = tmp_path / "r"
    _old_result(target, False)
    assert _swap(target, 3).returncode == 9 and not target.exists()
    target.mkdir()                                  # as sim.folder_lock.holding makes the folder it locks
    with pytest.warns(InputWarning, match="undone"):
        finish_swaps(target)
    assert set(_contents(target).values()) == {"old"} and os.listdir(tmp_path) == ["r"]


def test_a_folder_named_through_dot_dot_is_recovered_as_the_swap_names_it(tmp_path):
    """``run1/../run1`` names the folder the swap resolved (``..`` first): killed between its two renames, the
    swap left no ``run1``, so the typed path names nothing until ``..`` is resolved; the next command given it
    that way (``fleetsim report run1/../run1``) still finds the leftover and puts the old result back."""
    target = tmp_path / "r"
    _old_result(target, False)
    assert _swap(target, 3).returncode == 9 and not target.exists()
    with pytest.warns(InputWarning, match="undone"):
        assert len(finish_swaps(f"{target}/../r")) == 1
    assert set(_contents(target).values()) == {"old"} and os.listdir(tmp_path) == ["r"]


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
    puts the old result back, says so on stderr, and draws it."""
    from sim.cli import main

    run = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--set", "duration=1m", "--set", "warmup=0",
                 "--out", str(run), "--quiet", "--figures", "none"]) == 0
    before = _contents(run)
    from sim.metrics.output import RESULT_NAMES

    # killed after moving the old result aside, before moving the new one in (rename 1 tries the stage alone)
    assert _swap(run, 3, RESULT_NAMES).returncode == 9 and not run.exists()
    capsys.readouterr()
    assert main(["report", str(run), "--no-regenerate"]) == 0
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if "cut short" in ln]
    assert line.startswith(f"{run}: ") and "undone" in line
    after = _contents(run)
    assert {k: v for k, v in after.items() if k in before} == before and "report.html" in after
