"""One list of a result folder's files (``sim.metrics.output.result_files``): what ``fleetsim reprice --out``
copies and what ``fleetsim compare --out/--html`` may not write over are the same files."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import hostile_cases as hc
from sim.metrics.output import result_files

#: the files a result keeps beside figures/, written out by hand from the result folder's contract
#: (docs/architecture.md "Result folder", plus what fleetsim report adds)
FILES = ["summary.json", "requests.csv.gz", "timeseries.csv", "cashflow.csv", "ledger.csv", "settlements.csv",
         "usage.npz", "scenario.json", "report.html", "cashflow.png"]


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def test_a_results_files_are_its_named_files_then_its_figures(tmp_path):
    (tmp_path / "figures" / "sub.svg").mkdir(parents=True)          # a folder, whatever its name
    for name in ("figures/z.png", "figures/a.svg", "figures/notes.txt", "figures/.b.svg", "notes.svg"):
        (tmp_path / name).write_text("x")
    got = [p.relative_to(tmp_path).as_posix() for p in result_files(tmp_path)]
    assert sorted(got[:len(FILES)]) == sorted(FILES)
    assert got[len(FILES):] == ["figures/.b.svg", "figures/a.svg", "figures/z.png"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("run")
    path = hc.write_scenario(d)
    assert hc.exit_status(["run", str(path), "--quiet", "--out", str(d / "r"), "--figures", "svg"]) == 0
    return d / "r"


def test_reprice_copies_the_result_files_and_compare_guards_them(run_folder, tmp_path, capsys):
    from sim.economics.reprice import reprice_folder

    src = tmp_path / "src"
    import shutil
    shutil.copytree(run_folder, src)
    (src / "figures" / "notes.txt").write_text("mine")
    (src / "notes.txt").write_text("mine")
    out = tmp_path / "o"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reprice_folder(src, ["economics.gpu_hour_usd=2"], out)
    assert [str(w.message).split(": not copied")[1] for w in caught if "not copied" in str(w.message)] == [
        f" to {out}: figures/notes.txt, notes.txt (no part of a result: fleetsim reprice copies the run's own files)"]
    copied = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    figures = {p.relative_to(src).as_posix() for p in (src / "figures").iterdir() if p.suffix in (".svg", ".png")}
    assert figures and figures - {"figures/cashflow.svg", "figures/cashflow.png"} <= copied
    assert "figures/notes.txt" not in copied and "notes.txt" not in copied
    # compare: each of those figures is refused as an output, a file that is no part of a result is not
    some = sorted(figures)[0]
    assert hc.exit_status(["compare", str(src), str(src), "--out", str(src / some)]) == 2
    assert "which writing it would replace" in capsys.readouterr().err
    assert hc.exit_status(["compare", str(src), str(src), "--out", str(src / "figures" / "cmp.json")]) == 0


def test_reprice_into_a_folder_with_an_entry_in_the_way_writes_nothing(run_folder, tmp_path):
    """From Python too (the command checked it, the function copied half the result first and then
    failed on summary.json/ with a bare IsADirectoryError)."""
    from sim.economics.reprice import reprice_folder
    from sim.errors import InputError

    out = tmp_path / "o"
    (out / "summary.json").mkdir(parents=True)
    (out / "summary.json" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"summary.json is a folder: a result keeps its file summary.json there"):
        reprice_folder(run_folder, ["economics.gpu_hour_usd=2"], out)
    assert _tree(out) == {"summary.json": None, "summary.json/notes.txt": b"mine"}


def test_report_without_redrawing_embeds_the_result_files_figures(run_folder, tmp_path):
    """``fleetsim report --no-regenerate`` embeds the figures :func:`result_files` lists, as reprice copies
    them: a folder or another file in ``figures/`` is none (it read a folder named ``old.svg`` and failed
    with IsADirectoryError)."""
    import re
    import shutil

    from sim.report.html_report import write_report

    src = tmp_path / "src"
    shutil.copytree(run_folder, src)
    (src / "figures" / "old.svg").mkdir()
    (src / "figures" / "old.svg" / "notes.txt").write_text("mine")
    (src / "figures" / "notes.txt").write_text("mine")
    page = write_report(src, regenerate=False).read_text()
    ours = sorted(p.stem for p in result_files(src) if p.parent.name == "figures")
    assert sorted(re.findall(r'<img alt="([^"]+)"', page)) == ours
    assert "old" not in ours and "notes" not in ours and len(ours) == 4
