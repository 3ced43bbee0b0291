"""A result folder given as a symbolic link: the link is followed and stays a link.

``--out latest`` with ``latest -> runs/monday`` writes the result into ``runs/monday`` (made if it
does not exist yet), as ``cp`` or a shell redirection through a link would; ``latest`` keeps
pointing there. A link that loops, or leads to a file, is refused before anything runs (exit 2).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import yaml

import sim
from sim.cli import main

from conftest import scenario


def _scenario_file(tmp_path: Path, **over) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(duration=10, **over)))
    return path


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_run_out_through_a_link_writes_where_it_leads_and_keeps_the_link(tmp_path, capsys):
    runs = tmp_path / "runs"
    (runs / "monday").mkdir(parents=True)
    (runs / "monday" / "notes.txt").write_text("mine")            # someone's file beside the result
    (runs / "monday" / "summary.json").write_text("{}")           # an earlier result's file
    os.symlink("runs/monday", tmp_path / "latest")
    assert main(["run", str(_scenario_file(tmp_path)), "--quiet", "--out", str(tmp_path / "latest")]) == 0
    assert (tmp_path / "latest").is_symlink() and os.readlink(tmp_path / "latest") == "runs/monday"
    summary = json.loads((runs / "monday" / "summary.json").read_text())
    assert summary["requests"]["arrived"] > 0                     # replaced by this run's
    assert (runs / "monday" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "runs", "s.yaml"]   # nothing left staged
    # the second run through the same link replaces the first: still a link, still one folder
    assert main(["run", str(_scenario_file(tmp_path, seed=4)), "--quiet", "--out", str(tmp_path / "latest")]) == 0
    assert (tmp_path / "latest").is_symlink()
    assert json.loads((runs / "monday" / "summary.json").read_text())["seed"] == 4
    assert sorted(p.name for p in runs.iterdir()) == ["monday"]


def test_run_out_through_a_dangling_link_makes_the_folder_it_names(tmp_path, capsys):
    os.symlink("runs/new/deep", tmp_path / "latest")
    assert main(["run", str(_scenario_file(tmp_path)), "--quiet", "--out", str(tmp_path / "latest")]) == 0
    assert (tmp_path / "latest").is_symlink()
    assert (tmp_path / "runs" / "new" / "deep" / "summary.json").is_file()


def test_an_out_link_that_loops_or_leads_to_a_file_is_refused_before_the_scenario_loads(tmp_path, capsys):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    bad = tmp_path / "bad.yaml"
    bad.write_text("not: [a scenario")
    assert main(["run", str(bad), "--quiet", "--out", str(tmp_path / "a")]) == 2
    assert _err(capsys).strip() == f"--out: {tmp_path / 'a'} is a symbolic link that loops (it never leads to a folder)"
    (tmp_path / "file").write_text("x")
    os.symlink("file", tmp_path / "tofile")
    assert main(["run", str(bad), "--quiet", "--out", str(tmp_path / "tofile")]) == 2
    assert _err(capsys).strip() == (f"--out: {tmp_path / 'tofile'} (a link to {tmp_path / 'file'}) exists and is "
                                    "not a folder (give a folder, new or existing)")
    assert (tmp_path / "file").read_text() == "x" and (tmp_path / "tofile").is_symlink()


def test_result_write_from_python_follows_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    result = sim.run(scenario(duration=10))
    result.write(tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real" / "summary.json").is_file()


def test_sweep_out_through_a_dangling_link(tmp_path, capsys):
    os.symlink("sweeps/first", tmp_path / "latest")
    assert main(["sweep", str(_scenario_file(tmp_path)), "--quiet", "--grid", "fleet.pools.0.replicas=1,2",
                 "--executor", "serial", "--out", str(tmp_path / "latest")]) == 0
    assert (tmp_path / "latest").is_symlink()
    assert (tmp_path / "sweeps" / "first" / "sweep.csv").is_file()


def test_reprice_out_through_a_link(tmp_path, capsys):
    assert main(["run", str(_scenario_file(tmp_path)), "--quiet", "--out", str(tmp_path / "run")]) == 0
    os.symlink("priced/cheaper", tmp_path / "latest")
    assert main(["reprice", str(tmp_path / "run"), "--set", "economics.gpu_hour_usd=1.0", "--quiet",
                 "--out", str(tmp_path / "latest")]) == 0
    assert (tmp_path / "latest").is_symlink()
    summary = json.loads((tmp_path / "priced" / "cheaper" / "summary.json").read_text())
    assert summary["repriced"]["overrides"] == ["economics.gpu_hour_usd=1.0"]


LOOPS = "a symbolic link that loops (following it never reaches a file or folder)"


def test_reprice_and_report_of_a_folder_that_is_or_holds_a_link_that_loops_say_so_and_name_it(tmp_path, capsys):
    """Both said 'no such result folder' of a folder that was a looping link, report 'no summary.json ...'
    of a folder whose summary.json was one, and reprice 'cannot read or write a file (OSError ...)'."""
    assert main(["run", str(_scenario_file(tmp_path)), "--quiet", "--out", str(tmp_path / "run")]) == 0
    _err(capsys)
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    a = tmp_path / "a"
    for command in ("reprice", "report"):
        assert main([command, str(a)]) == 2
        assert _err(capsys).startswith(f"{a}: {LOOPS}; fleetsim {command} reads the folder fleetsim run --out DIR")
        assert main([command, str(a / "run")]) == 2                   # a link on the way to the folder
        assert _err(capsys).startswith(f"{a / 'run'}: {a}, on the way to it, is {LOOPS}")
    for inside in ("summary.json", "figures/utilization.svg"):
        folder = tmp_path / f"with-{inside.replace('/', '-')}"
        shutil.copytree(tmp_path / "run", folder)
        link = folder / inside
        link.unlink(missing_ok=True)
        os.symlink(link.name, link)                                 # a link to itself
        for command in ("reprice", "report"):
            assert main([command, str(folder)]) == 2
            assert _err(capsys) == f"{link}: {LOOPS}; remove the link, or point it at the file or folder it stands for\n"
        assert not (folder / "report.html").exists()
    assert main(["reprice", str(tmp_path / "run"), "--quiet"]) == 0      # the folder copied from is whole
