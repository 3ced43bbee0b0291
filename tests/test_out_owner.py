"""A result folder is one command's (``sim.planning.store.claim_folder``): ``reprice --out`` is held to it
as ``run --out`` is, and a folder of finished points with no mark of its command (written before the
mark existed) is refused by every command, saying how to mark it as the one that wrote it."""
from __future__ import annotations

import shlex
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

import hostile_cases as hc
from sim.cli import main


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _main(argv: list[str]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(argv)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("run")
    (d / "s.yaml").write_text(yaml.safe_dump(hc._small()))
    assert _main(["run", str(d / "s.yaml"), "--out", str(d / "r"), "--quiet", "--figures", "none", "--json"]) == 0
    return d / "r"


@pytest.mark.parametrize("files,owner", [
    ({"command.json": b'{"command": "sweep"}', "points/a.json": b"{}"}, "the results of fleetsim sweep (x/command.json)"),
    ({"plan.json": b"{}"}, "the results of fleetsim plan (x/plan.json)"),
    ({"points/a.json": b"{}"}, "the finished points of a sweep, plan or saturation search (x/points)"),
])
def test_reprice_out_refuses_a_folder_another_command_owns(run_folder, tmp_path, capsys, files, owner,
                                                            monkeypatch):
    """On main ``reprice --out`` copied the run's files into a sweep's folder beside its points."""
    monkeypatch.chdir(tmp_path)
    for name, body in files.items():
        (tmp_path / "x" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "x" / name).write_bytes(body)
    before = _tree(tmp_path / "x")
    capsys.readouterr()
    rc = _main(["reprice", str(run_folder), "--set", "economics.gpu_hour_usd=3", "--out", "x"])
    err = capsys.readouterr().err
    assert rc == 2 and err == f"--out: x holds {owner}: fleetsim reprice would mix its own with them; give another " \
                              f"folder, e.g. --out x-reprice\n"
    assert _tree(tmp_path / "x") == before


def test_reprice_out_into_its_own_or_another_run_folder_is_allowed(run_folder, tmp_path, capsys):
    assert _main(["reprice", str(run_folder), "--set", "economics.gpu_hour_usd=3", "--out", str(tmp_path / "a"),
                  "--json"]) == 0
    assert _main(["reprice", str(run_folder), "--set", "economics.gpu_hour_usd=4", "--out", str(tmp_path / "a"),
                  "--json"]) == 0


def test_an_unmarked_points_folder_is_refused_until_marked_then_resumed(tmp_path, capsys, monkeypatch):
    """A sweep folder of an older version, stopped before sweep.json (points, no command.json): on main any
    command claimed it (a plan would have mixed its points, figures and report with the sweep's)."""
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(yaml.safe_dump(hc._small()))
    sweep = ["sweep", "s.yaml", "--grid", "fleet.pools.0.replicas=1,2", "--out", "old", "--quiet", "--executor", "serial",
             "--no-figures"]
    assert _main(sweep) == 0
    for name in ("command.json", "sweep.json", "sweep.csv", "sweep_ci.csv"):
        Path("old", name).unlink()
    before = _tree(Path("old"))
    assert len([n for n in before if n.startswith("points/")]) == 2
    capsys.readouterr()
    for argv in (sweep, ["plan", "s.yaml", "--vary", "fleet.pools.0.replicas=1,2", "--out", "old", "--quiet"],
                 ["saturation", "s.yaml", "--out", "old", "--quiet"]):
        assert _main(argv) == 2
        err = capsys.readouterr().err
        cmd = argv[0]
        assert err == (f"--out: old holds finished points (old/points) but no command.json saying which command "
                       f"wrote them (a folder of an older fleetsim, stopped before its result file): if fleetsim "
                       f"{cmd} wrote them, mark the folder as its own with echo '{{\"command\": \"{cmd}\"}}' > "
                       f"old/command.json and run again to resume from them; else give another folder, e.g. "
                       f"--out old-{cmd}\n"), err
        assert _tree(Path("old")) == before
    assert _main(["run", "s.yaml", "--out", "old", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("--out: old holds the finished points of a sweep, plan or saturation "
                                              "search (old/points): fleetsim run would mix")
    # the mark as the message writes it, through a shell: the sweep then resumes from its points
    line = err.split("mark the folder as its own with ", 1)[1].split(" and run again")[0]
    line = line.replace("saturation", "sweep")
    subprocess.run(["sh", "-c", line], check=True)
    assert _main(sweep) == 0
    assert "2 points (2 reused from old)" in capsys.readouterr().err
    assert shlex.split(line)[0] == "echo"
