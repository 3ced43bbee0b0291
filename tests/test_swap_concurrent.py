"""A command swapping its result into a folder (:func:`sim.atomic.staged_folder`) while another command is finishing
a swap a hard kill cut short there (``fleetsim report DIR`` recovering it: :func:`sim.atomic.finish_swaps`, which
holds the swap's journal locked as it moves): the swap waits for that recovery to end. Going on at once, it left
the killed swap behind its own, for the next command to finish over its newer result: the killed command's files
renamed over the new ones (an older result in place of the newer, or half of each)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from sim.atomic import JOURNAL, finish_swaps, staged_folder
from sim.errors import InputWarning

fcntl = pytest.importorskip("fcntl")

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ("summary.json", "cashflow.csv", "figures/")

#: the child: swaps a result reading "killed" into ``target``, killed (``os._exit``, as under kill -9) at the
#: swap's rename 3: its old result partly set aside, its new one whole in its stage, the journal saying so
CHILD = r"""
import os, sys
from pathlib import Path
from sim.atomic import staged_folder
calls = [0]
rename = os.rename
def killed_at_rename(a, b):
    calls[0] += 1
    if calls[0] == 3:
        os._exit(9)
    rename(a, b)
os.rename = killed_at_rename
with staged_folder(Path(sys.argv[1]), ("summary.json", "cashflow.csv", "figures/")) as stage:
    for rel in ("summary.json", "cashflow.csv", "figures/a.svg"):
        (stage / rel).parent.mkdir(exist_ok=True)
        (stage / rel).write_text("killed")
"""


def _contents(target: Path) -> dict[str, str]:
    return {p.relative_to(target).as_posix(): p.read_text() for p in sorted(target.rglob("*")) if p.is_file()}


def test_a_swap_waits_for_another_command_s_recovery_of_the_folder_and_stays_the_newest(tmp_path):
    target = tmp_path / "r"
    target.mkdir()
    for rel in ("summary.json", "cashflow.csv", "figures/a.svg"):
        (target / rel).parent.mkdir(exist_ok=True)
        (target / rel).write_text("old")
    (target / "notes.txt").write_text("mine")       # someone's: the swaps go entry by entry
    killed = subprocess.run([sys.executable, "-c", CHILD, str(target)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == 9, killed.stderr
    (journal,) = tmp_path.glob(f".r.*.old/{JOURNAL}")

    # another command recovering that swap: holds its journal locked for a while (its moves), then lets go
    held = os.open(journal, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    let_go = threading.Timer(0.5, os.close, (held,))
    let_go.start()
    t0 = time.monotonic()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with staged_folder(target, KNOWN) as stage:
                for rel in ("summary.json", "cashflow.csv", "figures/a.svg"):
                    (stage / rel).parent.mkdir(exist_ok=True)
                    (stage / rel).write_text("newest")
        waited = time.monotonic() - t0
    finally:
        let_go.join()
    assert waited >= 0.4                            # (for the lock)
    said = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    assert len(said) == 1 and "written whole: finished" in said[0], said      # the killed swap, finished first
    newest = {"summary.json": "newest", "cashflow.csv": "newest", "figures/a.svg": "newest", "notes.txt": "mine"}
    assert _contents(target) == newest
    assert os.listdir(tmp_path) == ["r"], os.listdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert finish_swaps(target) == []           # nothing left to put over it
    assert _contents(target) == newest
