"""A result folder records which ``usage.npz`` and ``scenario.json`` its run wrote (``summary.json``'s
``fingerprints``), and ``fleetsim reprice`` refuses a file that is not the run's own.

The fingerprints are checked against SHA-256 computed here from the files with ``zipfile``, ``np.load``
and ``hashlib`` (each array's dtype, shape and values; the scenario's canonical JSON without its engine); the swapped usage is that of a run with the same length and GPU-hours (the same
simulation under another SLO: only the requests' met flags differ), which the summary's horizon and
GPU-hours cannot tell apart.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SHORT = ["--set", "duration=3m", "--set", "warmup=0"]


def _run(out: Path, *sets: str) -> Path:
    args = [a for s in sets for a in ("--set", s)]
    assert main(["run", str(BASELINE), *SHORT, *args, "--out", str(out), "--quiet", "--json", "--figures", "none"]) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fp")
    return _run(root / "base"), _run(root / "strict", "slo.ttft_s=0.03"), root


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _members_sha256(path: Path) -> str:
    """Each member's name and array (little-endian dtype, shape, values in C order), in name order (what
    the fingerprint promises), the arrays read with ``np.load``."""
    h = hashlib.sha256()
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
    with np.load(path, allow_pickle=False) as z:
        for name in names:
            arr = z[name.removesuffix(".npy")]
            little = arr.astype(arr.dtype.newbyteorder("<"), order="C")
            data = f"{little.dtype.str}\0{arr.shape}\0".encode() + little.tobytes(order="C")
            h.update(f"{name}\0{len(data)}\0".encode() + data)
    return "sha256:" + h.hexdigest()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_a_run_records_the_fingerprints_of_its_usage_and_scenario(runs, capsys):
    base, strict, _ = runs
    fp = _summary(base)["fingerprints"]
    assert list(_summary(base))[-1] == "fingerprints"          # a key added last; no other key renamed
    assert fp["usage.npz"] == _members_sha256(base / "usage.npz")
    scenario = json.loads((base / "scenario.json").read_text())
    assert scenario.pop("engine") == "fast"                    # left out: both engines write the same result
    canonical = json.dumps(scenario, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fp["scenario.json"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    # the other run: same horizon and GPU-hours, other usage (met flags) and scenario
    assert _summary(strict)["gpu_hours"] == _summary(base)["gpu_hours"]
    assert _summary(strict)["simulated_seconds"] == _summary(base)["simulated_seconds"]
    other = _summary(strict)["fingerprints"]
    assert other["usage.npz"] != fp["usage.npz"] and other["scenario.json"] != fp["scenario.json"]
    # what --json prints is the summary without the folder's fingerprints (they describe files)
    capsys.readouterr()
    _run(base.parent / "again")
    printed = json.loads(capsys.readouterr().out)
    assert "fingerprints" not in printed
    assert _summary(base.parent / "again")["fingerprints"] == fp      # same seed, same fingerprints


def test_the_two_engines_write_one_summary_but_for_the_engine_and_wall_time(runs, tmp_path):
    """Same seed, same bytes across engines: the reference engine's summary.json is the fast engine's line
    for line but for ``engine`` and ``wall_seconds`` (its scenario.json names the engine, which the
    fingerprint leaves out); usage.npz is the same file. A scenario edited otherwise is another fingerprint."""
    base, _, _ = runs
    ref = _run(tmp_path / "ref", "engine=reference")
    assert (ref / "usage.npz").read_bytes() == (base / "usage.npz").read_bytes()
    a, b = ((base / "summary.json").read_text().splitlines(), (ref / "summary.json").read_text().splitlines())
    differ = [(x, y) for x, y in zip(a, b) if x != y]
    assert len(a) == len(b) and [x.split(":")[0].strip() for x, _ in differ] == ['"engine"', '"wall_seconds"']
    assert main(["reprice", str(ref), "--set", "economics.gpu_hour_usd=3", "--quiet", "--json"]) == 0


def test_a_usage_file_of_another_run_is_refused_naming_it(runs, tmp_path, capsys):
    base, strict, _ = runs
    folder = _copy(base, tmp_path / "swapped")
    shutil.copyfile(strict / "usage.npz", folder / "usage.npz")
    before = _tree(folder)
    capsys.readouterr()
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--out", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    want, got = _summary(base)["fingerprints"]["usage.npz"], _members_sha256(strict / "usage.npz")
    assert err == [f"{folder / 'usage.npz'}: not the usage.npz this run wrote (summary.json records its fingerprint "
                   f"{want[:19]}...; the file's is {got[:19]}...): re-pricing would price another run's usage as "
                   "this one's; put back the run's own, or run the scenario again with --out"]
    assert _tree(folder) == before                                  # nothing written
    assert main(["reprice", str(folder), "--out", str(tmp_path / "re")]) == 2
    assert not (tmp_path / "re").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["swapped"]


def test_an_edited_scenario_is_refused_but_a_reformatted_one_is_not(runs, tmp_path, capsys):
    base, _, _ = runs
    folder = _copy(base, tmp_path / "edited")
    scenario = json.loads((folder / "scenario.json").read_text())
    (folder / "scenario.json").write_text(json.dumps(scenario, indent=4, sort_keys=True))    # same content
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--quiet", "--json"]) == 0
    scenario["fleet"]["pools"][0]["replicas"] = 8
    (folder / "scenario.json").write_text(json.dumps(scenario))
    capsys.readouterr()
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{folder / 'scenario.json'}: not the scenario.json this run wrote (summary.json records "
                          f"its fingerprint {_summary(base)['fingerprints']['scenario.json'][:19]}...; the file's is "
                          "sha256:")
    assert "the re-priced folder would describe a scenario that is not the one its money was simulated from" in err
    (folder / "scenario.json").unlink()           # without it the usage is still checked, and the run re-priced
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--quiet", "--json"]) == 0


def test_a_usage_file_zipped_again_unchanged_keeps_its_fingerprint(runs, tmp_path, capsys):
    base, _, _ = runs
    folder = _copy(base, tmp_path / "rezipped")
    with np.load(folder / "usage.npz") as z:
        members = {k: z[k] for k in z.files}
    buf = io.BytesIO()
    np.savez_compressed(buf, **dict(reversed(list(members.items()))))     # other compression, order, dates
    (folder / "usage.npz").write_bytes(buf.getvalue())
    assert (folder / "usage.npz").read_bytes() != (base / "usage.npz").read_bytes()
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--quiet", "--json"]) == 0
    # one number of it changed is another usage
    members["output_tokens"] = members["output_tokens"].copy()
    members["output_tokens"][0] += 1
    buf = io.BytesIO()
    np.savez(buf, **members)
    (folder / "usage.npz").write_bytes(buf.getvalue())
    capsys.readouterr()
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3"]) == 2
    assert "usage.npz: not the usage.npz this run wrote" in capsys.readouterr().err


def test_a_usage_file_in_another_npy_layout_keeps_its_fingerprint(runs, tmp_path, capsys):
    """The same arrays written as another numpy writes them: each .npy in format 2.0 (another header), big-endian,
    Fortran order: the fingerprint is the content's, not the layout's; a value changed is another usage."""
    base, _, _ = runs
    folder = _copy(base, tmp_path / "layout")
    with np.load(folder / "usage.npz") as z:
        members = {k: z[k] for k in z.files}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, arr in members.items():
            member = io.BytesIO()
            other = arr.astype(arr.dtype.newbyteorder(">"), order="F")
            np.lib.format.write_array(member, other, version=(2, 0), allow_pickle=False)
            zf.writestr(f"{name}.npy", member.getvalue())
    (folder / "usage.npz").write_bytes(buf.getvalue())
    with zipfile.ZipFile(folder / "usage.npz") as new, zipfile.ZipFile(base / "usage.npz") as old:
        assert all(new.read(n) != old.read(n) for n in old.namelist())      # every member's bytes differ
    assert _members_sha256(folder / "usage.npz") == _summary(base)["fingerprints"]["usage.npz"]
    capsys.readouterr()
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--quiet", "--json"]) == 0


def test_a_folder_of_an_earlier_version_reprices_with_a_notice(runs, tmp_path, capsys):
    base, _, _ = runs
    folder = _copy(base, tmp_path / "old")
    summary = _summary(folder)
    del summary["fingerprints"]
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    capsys.readouterr()
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--out", str(tmp_path / "re")]) == 0
    err = capsys.readouterr().err
    assert (f"{folder}: summary.json records no fingerprints (written by an earlier version of fleetsim): cannot "
            "check that usage.npz and scenario.json are the run's own") in err
    assert err.count("records no fingerprints") == 1
    # the folder it writes records them: of its re-priced usage, and of the scenario as it was
    fp = _summary(tmp_path / "re")["fingerprints"]
    assert fp["usage.npz"] == _members_sha256(tmp_path / "re" / "usage.npz")
    assert fp["scenario.json"] == _summary(base)["fingerprints"]["scenario.json"]


def test_a_repriced_folder_records_what_a_fresh_run_records(runs, tmp_path, capsys):
    base, _, root = runs
    fresh = _run(tmp_path / "fresh", "economics.gpu_hour_usd=3")
    capsys.readouterr()
    assert main(["reprice", str(base), "--set", "economics.gpu_hour_usd=3", "--out", str(tmp_path / "re"),
                 "--quiet", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert "fingerprints" not in printed
    re_fp = _summary(tmp_path / "re")["fingerprints"]
    assert re_fp["usage.npz"] == _summary(fresh)["fingerprints"]["usage.npz"] != _summary(base)["fingerprints"]["usage.npz"]
    assert list(_summary(tmp_path / "re"))[-2:] == ["repriced", "fingerprints"]
    # re-priced in place: the folder's summary records its new usage, and a second re-price accepts it
    folder = _copy(base, tmp_path / "inplace")
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--out", str(folder), "--quiet"]) == 0
    assert _summary(folder)["fingerprints"] == re_fp
    assert main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=2", "--quiet", "--json"]) == 0


@pytest.mark.parametrize("block, said", [
    ("abc", "fingerprints: expected an object, got the text 'abc'"),
    (None, "fingerprints: expected an object, got null"),      # (was taken for a block with nothing to check)
    ({"usage.npz": "sha256:1234"}, "fingerprints.usage.npz: expected 'sha256:' and 64 hex digits, got 'sha256:1234'"),
])
def test_a_damaged_fingerprints_block_is_refused_by_reprice_and_report(runs, tmp_path, capsys, block, said):
    base, _, _ = runs
    folder = _copy(base, tmp_path / "damaged")
    summary = _summary(folder)
    summary["fingerprints"] = block
    (folder / "summary.json").write_text(json.dumps(summary))
    capsys.readouterr()
    for argv in (["reprice", str(folder)], ["report", str(folder)]):
        assert main(argv) == 2
        assert said in capsys.readouterr().err


def test_report_and_compare_say_when_a_scenario_was_edited(runs, tmp_path, capsys):
    base, _, _ = runs
    folder = _copy(base, tmp_path / "edited")
    scenario = json.loads((folder / "scenario.json").read_text())
    scenario["fleet"]["pools"][0]["replicas"] = 8          # the run had 4
    (folder / "scenario.json").write_text(json.dumps(scenario))
    note = (f"scenario.json of {folder} was changed after the run wrote it (its fingerprint is not the one "
            "summary.json records): the settings shown are the edited file's, not necessarily the run's")
    capsys.readouterr()
    assert main(["compare", str(base), str(folder), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert note in printed["notes"]
    assert {"key": "fleet.pools.0.replicas", "values": [4, 8]} in printed["differences"]
    assert main(["report", str(folder), "--no-regenerate"]) == 0
    assert note.replace("'", "&#x27;") in (folder / "report.html").read_text()
    # the folder as the run wrote it: no such note
    capsys.readouterr()
    assert main(["compare", str(base), str(base), "--json"]) == 0
    assert not any("was changed after the run" in n for n in json.loads(capsys.readouterr().out)["notes"])


def test_fingerprinting_is_part_of_the_atomic_write(runs, tmp_path, capsys, monkeypatch):
    """The fingerprints are taken inside the staged folder, before it is swapped in: a failure there
    (a disk error reading usage.npz back) leaves the earlier result whole, and no temporary folder."""
    import sim.economics.reprice as reprice_mod
    import sim.report.fingerprint as fingerprint_mod

    base, _, _ = runs
    earlier = _copy(base, tmp_path / "earlier")
    before = _tree(earlier)

    def broken(folder):
        raise OSError(5, "Input/output error", str(folder))

    monkeypatch.setattr(reprice_mod, "folder_fingerprints", broken)
    monkeypatch.setattr(fingerprint_mod, "folder_fingerprints", broken)
    capsys.readouterr()
    assert main(["reprice", str(base), "--set", "economics.gpu_hour_usd=3", "--out", str(earlier), "--quiet"]) == 2
    assert "Input/output error" in capsys.readouterr().err
    assert main(["run", str(BASELINE), *SHORT, "--out", str(earlier), "--quiet", "--figures", "none"]) == 2
    assert "Input/output error" in capsys.readouterr().err
    assert _tree(earlier) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier"]
