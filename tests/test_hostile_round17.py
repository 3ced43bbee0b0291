"""Hostile input, round 17: ``-`` given as an output, two commands writing one folder at once, and
what a folder keeps of an earlier result when the same command writes it again.

Each is exit 2 with a message naming the flag (or folder) and what is allowed, or, where the input is
reasonable, accepted and run as meant; never a traceback, a file or folder named ``-``, or a result
mixed from two commands.
"""
from __future__ import annotations

import os

import pytest

import hostile_cases as hc

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ '-' as an output
_FOLDER = "'-' is not standard output here: fleetsim writes a folder of files under the name given; give a folder name " \
          "(./- for a folder named '-'{})"
_FILE = "'-' is not standard output here: fleetsim writes the file under the name given; give a file name " \
        "(./- for a file named '-'{})"


@pytest.mark.parametrize("argv,flag,said", [
    (["run", "{s}", "--out", "-"], "--out", _FOLDER.format("; --json prints the summary there")),
    (["run", "{s}", "--out=-"], "--out", _FOLDER.format("; --json prints the summary there")),
    (["sweep", "{s}", "--grid", "seed=1,2", "--out", "-"], "--out", _FOLDER.format("")),
    (["plan", "{s}", "--vary", "fleet.pools.0.replicas=1..2", "--out", "-"], "--out", _FOLDER.format("")),
    (["saturation", "{s}", "--out", "-"], "--out", _FOLDER.format("")),
    (["reprice", "{r}", "--out", "-"], "--out", _FOLDER.format("; --json prints the updated summary there")),
    (["compare", "{r}", "{r}", "--out", "-"], "--out", _FILE.format("; --json prints the comparison there")),
    (["compare", "{r}", "{r}", "--html", "-"], "--html", _FILE.format("")),
    (["calibrate", "--out", "-"], "--out", _FILE.format("")),
    (["calibrate", "--table-out", "-"], "--table-out", _FILE.format("")),
])
def test_a_dash_for_an_output_is_refused_not_made_a_file_named_dash(tmp_path, capsys, monkeypatch, argv, flag, said):
    """``--out -`` wrote a folder (or file) literally named ``-`` in the current folder, and said so as
    ``wrote -/summary.json``: a person reading ``-`` expects standard output. Every output option of
    every command refuses it the same way, before anything runs."""
    monkeypatch.chdir(tmp_path)
    path = _scenario(tmp_path)
    argv = [a.format(s=path, r=tmp_path / "r") for a in argv]
    assert _main(argv) == 2
    command = argv[0]
    assert _err(capsys) == [f"fleetsim {command}: error: argument {flag}: {said}; fleetsim {command} --help lists "
                            "the options"]
    assert not os.path.lexists(tmp_path / "-")


def test_a_folder_named_dash_is_still_written_when_said_as_dot_slash_dash(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _scenario(tmp_path)
    assert _main(["run", str(path), "--out", "./-", "--quiet"]) == 0
    assert (tmp_path / "-" / "summary.json").is_file()
    capsys.readouterr()
