"""Review of round 21's result-folder swap recovery (:func:`sim.atomic.finish_swaps`): what a user's result must
survive. Each case is a leftover a real process can leave (a kill during the recovery itself, a failure while a
swap undoes itself) or one the recovery cannot trust (a journal it cannot read, or naming paths that are not its
swap's); the rule checked is the module's own: the folder ends as the old result whole or the new one whole, and
nothing a journal does not plainly describe is deleted."""
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
from sim.swap_journal import MARKS

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ("summary.json", "cashflow.csv", "figures/")


def _result(folder: Path, version: str) -> None:
    folder.mkdir()
    (folder / "summary.json").write_text(version)
    (folder / "cashflow.csv").write_text(version)
    (folder / "figures").mkdir()
    (folder / "figures" / "a.svg").write_text(version)


def _contents(target: Path) -> dict[str, str]:
    return {p.relative_to(target).as_posix(): p.read_text() for p in sorted(target.rglob("*")) if p.is_file()}


OLD = {"summary.json": "old", "cashflow.csv": "old", "figures/a.svg": "old"}
NEW = {k: "new" for k in OLD}


def _quiet_finish(target: Path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        return finish_swaps(target)


#: the child: recovers ``target`` (finish_swaps) and is killed (os._exit, as under kill -9) at its n-th change
#: to the file system (a rename, or one file or folder deleted); prints how many it made when not killed
RECOVER = r"""
import os, sys, warnings
from pathlib import Path
from sim.atomic import finish_swaps
n = int(sys.argv[2])
calls = [0]
def killing(real):
    def f(*a, **k):
        calls[0] += 1
        if calls[0] == n:
            os._exit(9)
        return real(*a, **k)
    return f
for name in ("rename", "unlink", "rmdir", "remove"):
    setattr(os, name, killing(getattr(os, name)))
warnings.simplefilter("ignore")
finish_swaps(Path(sys.argv[1]))
print("changes", calls[0])
"""


def _leftover_between_renames(base: Path, notes: bool) -> Path:
    """The state a whole-folder swap (``notes`` False) killed between its two renames leaves, or an entry-by-entry
    swap (someone's notes.txt in the folder) killed after moving the old result aside: built by hand, as the
    swap writes it (old aside with the journal, new whole in its stage)."""
    target = base / "r"
    base.mkdir()
    aside, stage = base / ".r.abcd1234.old", base / ".r.wxyz6789.partial"
    aside.mkdir()
    _result(stage, "new")
    _result(aside / "old" if not notes else target, "old")
    old = sorted(["summary.json", "cashflow.csv", "figures"])
    if notes:
        (target / "notes.txt").write_text("mine")
        for e in old:
            os.rename(target / e, aside / e)
    (aside / JOURNAL).write_text(json.dumps({"stage": stage.name, "old": old, "new": sorted(os.listdir(stage))}))
    return target


def _recover(target: Path, n: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", RECOVER, str(target), str(n)], env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("notes", [False, True], ids=["whole-folder", "entry-by-entry"])
def test_a_recovery_killed_at_any_change_then_recovered_again_keeps_the_old_result(tmp_path, notes):
    """A swap killed before the new result was whole in place is undone: the old result put back. A kill during
    that undo (while deleting the staged new result, say) leaves a second leftover; the next recovery must still
    end with the old result whole, never move the old files (which bear the new ones' names) into the stage and
    delete them with it."""
    whole = _recover(_leftover_between_renames(tmp_path / "count", notes), -1)
    assert whole.returncode == 0, whole.stderr
    total = int(whole.stdout.split()[1])
    assert total >= 6                  # a rename or more, then each new file and folder deleted, then the aside
    for n in range(1, total + 1):
        target = _leftover_between_renames(tmp_path / f"k{n}", notes)
        assert _recover(target, n).returncode == 9
        _quiet_finish(target)
        now = _contents(target)
        assert {k: v for k, v in now.items() if k != "notes.txt"} == OLD, (n, now)
        left = [p for p in target.parent.iterdir() if p.name != "r"]
        # killed between deleting the journal and its folder: a folder holding at most the marks that went with the
        # journal (that the old result was put back), removed once a minute old
        assert all(p.name.endswith(".old") and set(os.listdir(p)) <= set(MARKS) for p in left), (n, left)
        for p in left:
            os.utime(p, (0, 0))
        _quiet_finish(target)
        assert os.listdir(target.parent) == ["r"], (n, os.listdir(target.parent))


def _aside_with(tmp_path: Path, journal: str) -> tuple[Path, Path]:
    target = tmp_path / "r"
    target.mkdir()
    aside = tmp_path / ".r.abcd1234.old"
    aside.mkdir()
    (aside / "old").mkdir()
    (aside / "old" / "summary.json").write_text("only copy")
    (aside / JOURNAL).write_text(journal)
    return target, aside


@pytest.mark.parametrize("journal", ["", "{", "[]", '{"stage": 3}'], ids=["empty", "cut", "list", "wrong-type"])
def test_a_journal_that_cannot_be_read_never_deletes_what_is_beside_it(tmp_path, journal):
    """A swap writes and syncs its journal before it moves anything, so an unreadable one beside moved files is
    none of its (a copy, a disk fault, someone's folder of that name): the files are left, and a line says so."""
    target, aside = _aside_with(tmp_path, journal)
    with pytest.warns(InputWarning, match=aside.name):
        finish_swaps(target)
    assert (aside / "old" / "summary.json").read_text() == "only copy"


def test_an_unreadable_journal_alone_in_its_folder_is_still_cleared(tmp_path):
    """Killed while writing its journal, a swap had moved nothing: the folder holding only that journal goes."""
    target = tmp_path / "r"
    _result(target, "old")
    aside = tmp_path / ".r.abcd1234.old"
    aside.mkdir()
    (aside / JOURNAL).write_text("")
    assert finish_swaps(target) == [] and aside.exists()        # (a swap may be writing it this instant)
    os.utime(aside / JOURNAL, (0, 0))                           # an hour later
    assert finish_swaps(target) == [] and not aside.exists() and _contents(target) == OLD


@pytest.mark.parametrize("stage", ["../victim", "ABSOLUTE", ".other.wxyz6789.partial", "."],
                         ids=["up", "absolute", "another-folder's", "dot"])
def test_a_journal_naming_a_stage_that_is_not_this_folders_deletes_nothing(tmp_path, stage):
    """The journal names the staged folder; one that names anything but a ``.NAME.XXXXXXXX.partial`` sibling
    of this folder (copied from another folder, hand-edited) is not followed: that folder is never deleted."""
    base = tmp_path / "base"
    base.mkdir()
    victim = tmp_path / "victim" if stage != ".other.wxyz6789.partial" else base / stage
    victim.mkdir()
    (victim / "x").write_text("someone's")
    target = base / "r"
    _result(target, "old")
    aside = base / ".r.abcd1234.old"
    aside.mkdir()
    named = str(victim) if stage == "ABSOLUTE" else stage
    (aside / JOURNAL).write_text(json.dumps({"stage": named, "old": [], "new": ["x"]}))
    _quiet_finish(target)
    assert (victim / "x").read_text() == "someone's" and _contents(target) == OLD


def test_a_journal_naming_entries_outside_the_folder_moves_nothing_out(tmp_path):
    """Entry names in a journal are names in the folder; ``../x`` or an absolute path is not one."""
    base = tmp_path / "base"
    base.mkdir()
    target = base / "r"
    _result(target, "old")
    (tmp_path / "mine.txt").write_text("mine")
    aside = base / ".r.abcd1234.old"
    aside.mkdir()
    (aside / JOURNAL).write_text(json.dumps({"stage": ".r.wxyz6789.partial", "old": [],
                                             "new": ["../../mine.txt", str(tmp_path / "mine.txt")]}))
    (base / ".r.wxyz6789.partial").mkdir()
    _quiet_finish(target)
    assert (tmp_path / "mine.txt").read_text() == "mine" and _contents(target) == OLD


def test_a_swap_whose_undo_fails_leaves_the_old_result_for_the_next_command(tmp_path, monkeypatch):
    """Entry by entry (someone's notes.txt in the folder), a move in fails, and so does a move back while the swap
    undoes itself (a second Ctrl-C, a disk error): the old result's entries still aside must not be deleted with
    the swap's hidden folder; the next command puts them back."""
    target = tmp_path / "r"
    _result(target, "old")
    (target / "notes.txt").write_text("mine")
    real = os.rename
    calls = []

    def rename(a, b):
        calls.append((Path(a), Path(b)))
        moving_in = Path(a).parent.name.endswith(".partial") and Path(b).parent == target
        back = Path(a).parent.name.endswith(".old") and Path(b).parent == target
        if (moving_in and sum(1 for c in calls if c[0].parent.name.endswith(".partial")) == 2) or back:
            raise OSError("no")
        return real(a, b)

    with pytest.raises(OSError):
        with staged_folder(target, KNOWN) as stage:
            monkeypatch.setattr(os, "rename", rename)
            for name, text in (("summary.json", "new"), ("cashflow.csv", "new")):
                (stage / name).write_text(text)
            (stage / "figures").mkdir()
            (stage / "figures" / "a.svg").write_text("new")
    monkeypatch.setattr(os, "rename", real)
    with pytest.warns(InputWarning, match="undone"):
        finish_swaps(target)
    assert _contents(target) == {**OLD, "notes.txt": "mine"} and os.listdir(tmp_path) == ["r"]


def test_a_leftover_of_a_fleetsim_before_journals_is_kept_and_said(tmp_path):
    """Earlier versions swapped the same way (``.NAME.XXXXXXXX.old``) with no journal: killed between the renames,
    the old result is whole in that hidden folder and nowhere else. It is kept, and a line names the folder
    (before, nothing was said, and the next ``run --out`` wrote beside it)."""
    target = tmp_path / "r"
    aside = tmp_path / ".r.k3j9x0q1.old"
    aside.mkdir()
    _result(aside / "old", "old")
    os.utime(aside, (0, 0))
    with pytest.warns(InputWarning, match=r"\.r\.k3j9x0q1\.old beside it holds files"):
        finish_swaps(target)
    assert _contents(aside / "old") == OLD


def test_a_recovery_whose_move_fails_keeps_everything_and_says_so(tmp_path, monkeypatch):
    """A folder the recovery cannot change (read-only, a move refused): no traceback out of a read-only command
    such as ``compare``, the leftover as it was, and a line saying where the old result is."""
    target = _leftover_between_renames(tmp_path / "b", notes=False)

    def refused(a, b):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "rename", refused)
    with pytest.warns(InputWarning, match="could not be finished or undone .Permission denied.*abcd1234"):
        finish_swaps(target)
    monkeypatch.undo()
    assert _contents(target.parent / ".r.abcd1234.old" / "old") == OLD
    assert _contents(target.parent / ".r.wxyz6789.partial") == NEW
    _quiet_finish(target)                           # writable again: undone
    assert _contents(target) == OLD and os.listdir(target.parent) == ["r"]


def _no_locks(monkeypatch) -> None:
    """A file system where ``flock`` fails (as NFS without its lock service): every lock refused."""
    fcntl = pytest.importorskip("fcntl")

    def refused(*a, **k):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refused)


def test_without_locks_a_live_swap_on_this_machine_is_left_alone_whatever_the_clock(tmp_path, monkeypatch):
    """Where no lock can be taken, the journal's age alone said whether its swap was live: a clock stepped forward
    (or a file server's clock ahead of this machine's) made a swap under way look a minute old, and it was undone
    under its feet (entry by entry, a new file renamed over an old one put back is the old one lost). The journal
    names its process and machine: a live process on this machine is a live swap, however old its journal looks."""
    import socket

    target = _leftover_between_renames(tmp_path / "b", notes=False)
    journal = target.parent / ".r.abcd1234.old" / JOURNAL
    plan = json.loads(journal.read_text())
    journal.write_text(json.dumps({**plan, "pid": os.getpid(), "host": socket.gethostname()}))
    os.utime(journal, (0, 0))                       # looks an hour old
    _no_locks(monkeypatch)
    assert finish_swaps(target) == [] and _contents(target.parent / ".r.abcd1234.old" / "old") == OLD
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    journal.write_text(json.dumps({**plan, "pid": int(gone.stdout), "host": socket.gethostname()}))
    os.utime(journal, (0, 0))
    with pytest.warns(InputWarning, match="undone"):        # its process ended: a dead swap's
        finish_swaps(target)
    assert _contents(target) == OLD


def test_a_swap_on_a_file_system_without_locks_names_its_process(tmp_path, monkeypatch):
    """The journal a swap writes holds its process id and machine (what the rule above reads)."""
    import socket

    _no_locks(monkeypatch)
    seen = {}
    real = os.rename

    def peek(a, b):
        for j in tmp_path.glob(f".r.*.old/{JOURNAL}"):
            seen.update(json.loads(j.read_text()))
        return real(a, b)

    target = tmp_path / "r"
    _result(target, "old")
    monkeypatch.setattr(os, "rename", peek)
    with staged_folder(target, KNOWN) as stage:
        (stage / "summary.json").write_text("new")
    assert seen.get("pid") == os.getpid() and seen.get("host") == socket.gethostname()


def test_a_burst_between_two_samples_reads_its_whole_peak():
    """40 requests arriving at once at t = 5 s were all in the system together (none can finish before a step of
    Llama-3-8B on an H100, at least 16 GB / 3.35 TB/s = 4.8 ms), yet all are done long before the 10 s sample
    (10 output tokens each). Read at the time series' samples (every ``metrics.interval``, 10 s here) the peak
    was 0, said "sampled peak 0"; counted at every arrival and departure it is the 40, said as the peak."""
    import sim
    from sim.report_text import format_summary

    from test_stability_peak_line import burst_scenario

    result = sim.run(burst_scenario("1m", 10))
    assert result.summary["stability"]["in_flight_peak"] == 40 and result.summary["requests"]["completed"] == 40
    (line,) = [ln for ln in format_summary(result).splitlines() if ln.startswith("stability")]
    assert "  peak 40 in system (0 at the end)" in line, line


def test_no_one_price_note_when_the_price_was_varied_on_its_own():
    """A plan varying the GPU type and, as a second knob, the price per GPU-hour ($2 and $3) saw each GPU type at
    two prices: the note that every GPU type was priced the same is false there (each GPU's last row read $3
    and the note said "$3.00"). Hand numbers: cost = price x GPU-hours."""
    from sim.planning.one_price import one_price_note

    rows = [{"fleet.pools.0.gpu": g, "economics.gpu_hour_usd": p, "cost.compute_usd.mean": p * n,
             "gpu_hours.provisioned.mean": n} for g, n in (("h100-sxm", 4), ("h200-sxm", 3)) for p in (2.0, 3.0)]
    assert one_price_note(rows, ["fleet.pools.0.gpu", "economics.gpu_hour_usd"]) is None
    # one price throughout: still said
    same = [r for r in rows if r["economics.gpu_hour_usd"] == 3.0]
    assert one_price_note(same, ["fleet.pools.0.gpu"]).startswith("every GPU type was priced at $3.00 per GPU-hour")


def test_a_recovery_holds_the_journal_locked_so_a_second_command_leaves_it_alone(tmp_path, monkeypatch):
    """Two read-only commands at once on one folder (``compare`` of many folders in parallel) both found the dead
    swap's journal unlocked and undid it together: one could move an old file just put back into the stage the
    other then deletes. The recovery holds the journal's lock while it works, as the swap did: checked from the
    inside of its first move."""
    fcntl = pytest.importorskip("fcntl")
    target = _leftover_between_renames(tmp_path / "b", notes=True)
    journal = target.parent / ".r.abcd1234.old" / JOURNAL
    real, held = os.rename, []

    def rename(a, b):
        if not held:
            fd = os.open(journal, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)
            finally:
                os.close(fd)
            # what a second command sees meanwhile: a live swap's, nothing to do
            assert finish_swaps(target) == []
        return real(a, b)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.warns(InputWarning, match="undone"):
        finish_swaps(target)
    assert held == [True] and _contents(target) == {**OLD, "notes.txt": "mine"}
