"""``fleetsim reprice DIR --out DIR`` re-prices a result folder in place: the money files are written
together into a temporary sibling and swapped in, so an interrupt leaves the folder as it was.

Before, the money files were deleted and rewritten one at a time: an interrupt after ``usage.npz`` was
rewritten and before ``summary.json`` left a folder with no summary at all (and, had the old summary been
kept, one whose fingerprint named the old usage, which the next re-price refuses). The checks here are
against the folder's own bytes before the interrupt and against the folder ``--out`` elsewhere writes.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import sim.atomic
import sim.economics.reprice as reprice_mod
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
PRICE = "economics.gpu_hour_usd=3"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("inplace") / "base"
    assert main(["run", str(BASELINE), "--set", "duration=3m", "--set", "warmup=0", "--out", str(out), "--quiet",
                 "--figures", "svg"]) == 0
    assert main(["report", str(out), "--no-regenerate"]) == 0
    (out / "notes.txt").write_text("mine\n")                 # no part of a result: never touched
    (out / "figures" / "notes.txt").write_text("mine too\n")
    return out


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _folder(base: Path, dst: Path) -> Path:
    shutil.copytree(base, dst)
    return dst


@pytest.mark.parametrize("when", ["summary", "swap"])
def test_an_interrupted_reprice_in_place_leaves_the_folder_as_it_was(base, tmp_path, monkeypatch, when):
    """Interrupted after the new usage.npz is written and before its summary.json, or half-way through the
    swap (two of the money files moved in): the folder's bytes are the old ones, no temporary folder is
    left, and the folder re-prices afterwards."""
    folder = _folder(base, tmp_path / "r")
    before = _tree(folder)
    if when == "summary":
        real = reprice_mod.atomic_write_json

        def write(path, obj):
            if Path(path).name == "summary.json":
                assert (Path(path).parent / "usage.npz").is_file()      # the new usage is written by now
                raise KeyboardInterrupt
            return real(path, obj)

        monkeypatch.setattr(reprice_mod, "atomic_write_json", write)
    else:
        real_rename, moved = os.rename, []

        def rename(a, b):
            if Path(b).parent == folder.resolve() and Path(a).parent.name.endswith(".partial"):
                if len(moved) == 2:
                    raise KeyboardInterrupt
                moved.append(b)
            return real_rename(a, b)

        monkeypatch.setattr(sim.atomic.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        reprice_mod.reprice_folder(folder, [PRICE], out=folder)
    monkeypatch.undo()
    assert _tree(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    assert main(["reprice", str(folder), "--set", PRICE, "--out", str(folder), "--quiet"]) == 0


def test_a_reprice_in_place_writes_what_out_elsewhere_writes_and_keeps_the_rest(base, tmp_path):
    folder = _folder(base, tmp_path / "r")
    other = tmp_path / "other"
    before = _tree(folder)
    with pytest.warns(Warning, match="not copied"):         # notes.txt: not copied elsewhere
        reprice_mod.reprice_folder(folder, [PRICE], out=other)
    reprice_mod.reprice_folder(folder, [PRICE], out=folder)
    after, elsewhere = _tree(folder), _tree(other)
    money = set(reprice_mod.MONEY_FILES)
    assert {k: after[k] for k in money - {"summary.json"}} == {k: elsewhere[k] for k in money - {"summary.json"}}
    # the summaries differ only where each names the folder re-priced relative to itself
    here, there = (json.loads(t["summary.json"]) for t in (after, elsewhere))
    assert (here["repriced"].pop("from_folder"), there["repriced"].pop("from_folder")) == (".", "../r")
    assert here == there
    assert json.loads(after["summary.json"])["cost"]["usd_per_gpu_hour_blended"] == pytest.approx(3)
    assert after["usage.npz"] != before["usage.npz"]        # (the economics block in it moved)
    # the run's other files and the person's notes stay as they were; the stale page and chart are gone
    assert {k: v for k, v in after.items() if k not in money} == \
        {k: v for k, v in before.items() if k not in money and k not in reprice_mod.STALE_FILES}
    assert "report.html" in before and "figures/cashflow.svg" in before
    assert after["notes.txt"] == b"mine\n" and after["figures/notes.txt"] == b"mine too\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "r"]
