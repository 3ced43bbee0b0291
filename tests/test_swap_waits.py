"""Two instants of a result-folder swap (:func:`sim.atomic.staged_folder`) when another command looks at the folder:
the few system calls between making the swap's ``.old`` folder and locking its journal in it, and a command about to
swap its own result in while another command finishes a dead swap's (:func:`sim.swap_liveness.wait_unheld`)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sim.atomic import JOURNAL
from sim.swap_liveness import HELD, _lock, hold_stage, wait_unheld
from swap_files import contents, said_next

fcntl = pytest.importorskip("fcntl")
OLD = {"summary.json": "old", "cashflow.csv": "old"}


def test_a_swap_between_making_its_old_folder_and_locking_its_journal_is_left_alone(tmp_path):
    """The swap makes its ``.old`` folder, then creates its journal and only then locks it: another command looking
    at the folder in between finds the folder empty, or the journal empty and unlocked. Both are younger than a
    minute, so it leaves them, and the stage (held by the swap), and says nothing; having taken the journal's lock
    to look, it lets it go, so the swap's own lock (which waits for it) is taken next. Nothing has moved yet."""
    target = tmp_path / "r"
    target.mkdir()
    for name, text in OLD.items():
        (target / name).write_text(text)
    stage = tmp_path / ".r.abcd1234.partial"
    stage.mkdir()
    (stage / "summary.json").write_text("new")
    held = hold_stage(stage)
    try:
        aside = tmp_path / ".r.wxyz5678.old"
        aside.mkdir()
        assert said_next(target) == []              # the folder made, no journal in it yet
        (aside / JOURNAL).touch()
        assert said_next(target) == []              # the journal made, not yet locked or written
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, stage.name, aside.name])
        assert contents(target) == OLD and contents(stage) == {"summary.json": "new"}
        fd = _lock(aside / JOURNAL)                 # let go by the command that looked: the swap takes it
        assert isinstance(fd, int)
        os.close(fd)
    finally:
        if held is not None:
            os.close(held)


class _Clock:
    """``time.monotonic`` and ``time.sleep`` of a wait, in simulated seconds counted in whole ticks of the wait's
    sleep (no float drift): while ``flushing`` the holder touches the journal every ``every`` seconds (a file
    flushed, :func:`sim.swap_journal.synced`), and lets its lock go at ``release`` (its moves done), or never."""

    TICK = 0.02

    def __init__(self, journal: Path, holder: int, flushing: float, every: float, release: float | None) -> None:
        self.ticks, self.journal, self.holder, self.touches = 0, journal, holder, 0
        self.flushing, self.every = round(flushing / self.TICK), round(every / self.TICK)
        self.release = None if release is None else round(release / self.TICK)

    def monotonic(self) -> float:
        return self.ticks * self.TICK

    def sleep(self, s: float) -> None:
        assert s == self.TICK
        self.ticks += 1
        if self.ticks <= self.flushing and self.ticks % self.every == 0:
            self.touches += 1
            os.utime(self.journal, ns=(10**9 * self.touches, 10**9 * self.touches))
        if self.release is not None and self.ticks >= self.release and self.holder >= 0:
            os.close(self.holder)
            self.holder = -1


def _held_journal(tmp_path: Path) -> tuple[Path, int]:
    journal = tmp_path / JOURNAL
    journal.write_text("{}")
    os.utime(journal, ns=(0, 0))
    holder = os.open(journal, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    assert _lock(journal) == HELD
    return journal, holder


@pytest.mark.parametrize("flushing,release,returned_at", [
    (30.0, 35.0, 35.0),     # a flush of 30 s (a file every 2 s), then its moves: waited for to the end
    (0.0, None, 10.0),      # a holder that shows no progress: gone on without after 10 s
    (30.0, None, 40.0),     # one whose flush stalls after 30 s: 10 s after its last file
])
def test_a_command_waits_for_a_swap_another_holds_while_it_makes_progress(tmp_path, monkeypatch, flushing, release,
                                                                          returned_at):
    """A command about to swap its result in waits for a swap into the same folder another command holds (finishing
    a dead swap's, flushing its stage first), so as not to have the older result finished over its own. The wait used
    to be 10 s fixed, shorter than flushing a large result on a slow disk; it now lasts while the holder touches its
    journal (after each file flushed) and ends 10 s after the last touch, or when the lock goes."""
    journal, holder = _held_journal(tmp_path)
    clock = _Clock(journal, holder, flushing, 2.0, release)
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    try:
        wait_unheld(journal, 10.0)
        waited = clock.monotonic()
    finally:
        monkeypatch.undo()
        if clock.holder >= 0:
            os.close(clock.holder)
    assert round(waited / _Clock.TICK) == round(returned_at / _Clock.TICK)
    assert clock.touches == int(flushing / 2.0)
