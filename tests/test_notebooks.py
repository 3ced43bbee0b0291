"""Every notebook in notebooks/ runs top to bottom (kernel python3, working directory notebooks/)
and is stored without outputs.

A notebook's first code cell, tagged ``parameters`` (papermill's convention), names how long its runs
are; the test runs it with the shorter ones in :data:`QUICK`, in a cell of its own after that one (as
papermill injects parameters): every cell still runs, the same calls on the same scenarios, in about
half the CPU time (notebook 02: 19 to 12 CPU s; 03: its three request-level windows 5.6 to 2.6 CPU s).
The notebook as a user opens it keeps its own lengths."""
import os
import re
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# the run lengths the test sets, by notebook: name -> Python expression (each a name its parameters cell assigns)
QUICK = {
    "02_capacity_planning.ipynb": {"SHORT": '["duration=1m", "warmup=10s"]', "MMC_DURATION": '"4m"'},
    "03_cash_flows.ipynb": {"WINDOW": '"1h"'},
}


def with_quick_parameters(nb, name: str):
    """``nb`` with :data:`QUICK`'s values for ``name`` in a cell after its ``parameters`` cell; a
    name that cell does not assign fails (the shorter run would silently be the user's)."""
    values = QUICK.get(name)
    if not values:
        return nb
    (i,) = [k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    for var in values:
        assert re.search(rf"^{var} = ", nb.cells[i].source, re.M), f"{name}: the parameters cell sets no {var}"
    cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v}" for k, v in values.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(i + 1, cell)
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    # the kernel is a child process: let it import this checkout even without an install
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = with_quick_parameters(nbformat.read(path, as_version=4), path.name)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    print(f"{path.name}: {elapsed:.1f} s", file=sys.stderr)


def test_the_quick_parameters_name_what_the_parameters_cells_set():
    """Every notebook :data:`QUICK` shortens exists and gets one injected cell, right after its
    ``parameters`` cell, whose names that cell assigns (the injection fails on a name it does not)."""
    by_name = {p.name: p for p in NOTEBOOKS}
    assert set(QUICK) <= set(by_name)
    for name in QUICK:
        nb = with_quick_parameters(nbformat.read(by_name[name], as_version=4), name)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        i = next(k for k, t in enumerate(tags) if "parameters" in t)
        assert tags[i + 1] == ["injected-parameters"] and sum("injected-parameters" in t for t in tags) == 1
        with pytest.raises(AssertionError, match="sets no"):
            QUICK[name]["NOT_A_PARAMETER"] = "1"
            try:
                with_quick_parameters(nbformat.read(by_name[name], as_version=4), name)
            finally:
                del QUICK[name]["NOT_A_PARAMETER"]
