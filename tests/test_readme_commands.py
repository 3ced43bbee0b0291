"""Every ``fleetsim`` command README.md and docs/*.md show runs as shown, short of simulating.

A reader copies the commands of README's ```bash blocks (and the ``fleetsim ...`` lines of the docs'
code blocks) into a shell. Each must:

* parse: the command exists and takes those options (argparse would print its usage and exit 2);
* give a scenario ``fleetsim validate`` accepts with its ``--set`` overrides, and with each value of
  every ``--grid`` / ``--vary`` knob (the ends of a range), as the sweep, plan or saturation search
  would load it before its first run; ``--constraint`` and ``--rate-path`` must be ones the command
  takes;
* read a result folder (``report``, ``compare``, ``reprice``) that a command shown before it in the
  same file writes (``make run`` writes ``results/<scenario>``, a sweep's, plan's or saturation's
  default ``--out`` is ``results/<scenario>-<command>``).

``calibrate`` answers in about a second on the shipped files, so it is run (its table written to a
temporary folder). Nothing is simulated; the file takes a few seconds. (The output the docs quote
of ``validate`` and ``calibrate`` is checked in ``test_docs_snippets.py``.)
"""
from __future__ import annotations

import re
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: placeholders the docs write for the reader's own files: such a command is only parsed
PLACEHOLDERS = ("POINTS.csv", "mlp.csv")


def shown_commands(doc: Path) -> list[tuple[int, str]]:
    """``(line, command)`` of every command a fenced block of ``doc`` shows: README's ```bash blocks
    line by line (``make ...`` and ``fleetsim ...``), the docs' lines opening with ``fleetsim ``;
    ``\\`` continues a line, ``#`` starts a comment, a quoted output (``$ fleetsim``) is not a command."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    out: list[tuple[int, str]] = []
    fence: str | None = None
    current, start = "", 0
    for n, line in enumerate(lines, 1):
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
            continue
        if fence is None:
            continue
        code = "" if line.lstrip().startswith("#") else re.sub(r"\s+#\s.*$", "", line).strip()
        if not current:
            wanted = code.startswith("fleetsim ") or (doc.name == "README.md" and fence == "bash"
                                                     and code.startswith("make "))
            if not wanted:
                continue
            start = n
        current = f"{current} {code}".strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        out.append((start, current))
        current = ""
    return out


SHOWN = [(doc, line, cmd) for doc in DOCS for line, cmd in shown_commands(doc)]


def test_the_walk_finds_the_commands():
    # a changed fence or prompt style would otherwise pass every check below vacuously
    readme = [cmd for doc, _, cmd in SHOWN if doc.name == "README.md"]
    assert len(readme) >= 25 and "make run" in readme
    assert any(c.startswith("fleetsim compare results/a results/b") for c in readme)
    assert any(c.startswith("fleetsim plan") and "--constraint" in c for c in readme)
    assert {doc.name for doc, _, _ in SHOWN} >= {"README.md", "planning.md", "economics.md"}
    # a continued line is one command, its comment left out
    sweep = next(c for c in readme if c.startswith("fleetsim sweep") and "--seeds 3" in c)
    assert sweep.endswith("--columns latency.tpot.p99,utilization.load_factor")


def _folders_written(doc: Path, upto: int) -> set[str]:
    """The result folders the commands shown in ``doc`` before line ``upto`` write."""
    from sim.cli import build_parser

    parser, _ = build_parser()
    made: set[str] = set()
    for _, line, cmd in (s for s in SHOWN if s[0] == doc and s[1] < upto):
        argv = shlex.split(cmd)
        if argv[:2] == ["make", "run"]:
            scenario = next((a.split("=", 1)[1] for a in argv if a.startswith("SCENARIO=")), "scenarios/baseline.yaml")
            made.add(f"results/{Path(scenario).stem}")
            continue
        if argv[0] != "fleetsim":
            continue
        args = parser.parse_args(_without_redirect(argv[1:]))
        out = getattr(args, "out", None)
        if args.command in ("sweep", "plan", "saturation") and out is None:
            out = f"results/{Path(args.scenario).stem}-{args.command}"
        if out is not None and args.command not in ("compare",):
            made.add(str(out).rstrip("/"))
    return made


def _without_redirect(argv: list[str]) -> list[str]:
    return argv[:argv.index(">")] if ">" in argv else argv


MAKE_TARGETS = {"run", "test", "test-slow", "test-browser", "bench", "notebooks", "lab", "clean"}


@pytest.mark.parametrize("doc,line,cmd", SHOWN, ids=[f"{d.name}:{ln}" for d, ln, _ in SHOWN])
def test_a_shown_command_runs_as_shown(doc, line, cmd, capsys, monkeypatch, tmp_path):
    from sim.cli import build_parser, main
    from sim.planning.constraints import parse_constraint
    from sim.planning.knobs import configurations, parse_knobs

    where = f"{doc.name}:{line}: `{cmd}`"
    argv = shlex.split(cmd)
    if argv[0] == "make":
        targets = [a for a in argv[1:] if "=" not in a]
        assert set(targets) <= MAKE_TARGETS, where
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        assert all(re.search(rf"^{re.escape(t)}:", makefile, re.M) for t in targets), f"{where}: no such make target"
        for v in (a.split("=", 1)[1] for a in argv[1:] if a.startswith("SCENARIO=")):
            assert (ROOT / v).is_file(), f"{where}: {v} does not exist"
        return
    assert argv[0] == "fleetsim", where
    monkeypatch.chdir(ROOT)
    # a synopsis's optional part ([--fit-exponent]) is parsed as given
    argv = _without_redirect(shlex.split(re.sub(r"\[(--[^\]]*)\]", r"\1", cmd))[1:])
    parser, _ = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: the command line does not parse:\n{capsys.readouterr().err}")
    if any(p in cmd for p in PLACEHOLDERS):
        return
    if args.command == "calibrate":
        if args.table_out is not None:
            argv = [str(tmp_path / "steps.csv") if a == args.table_out else a for a in argv]
        assert main(argv) == 0, f"{where}: {capsys.readouterr().err}"
        return
    if args.command in ("report", "compare", "reprice"):
        folders = [args.base, *args.others] if args.command == "compare" else [args.folder]
        made = _folders_written(doc, line)
        missing = [str(f) for f in folders if str(f).rstrip("/") not in made]
        assert not missing, f"{where}: no command shown before it writes {', '.join(missing)}"
        return
    # a scenario command: validate it as each configuration it would run
    sets = [a for s in args.overrides for a in ("--set", s)]
    knobs = [replace(k, values=(str(k.low), str(k.high))) if k.is_range else k     # a range's ends stand for it
             for k in parse_knobs(getattr(args, "grid", None) or getattr(args, "vary", None) or [])]
    for c in getattr(args, "constraint", None) or []:
        parse_constraint(c)
    if args.command == "saturation":
        assert args.rate_path in (None, "workload.arrival.rate", "workload.arrival.rate_scale",
                                  "workload.arrival.mean_rate") or args.rate_path.startswith("workload.arrival.rates."), where
    for config in configurations(knobs):
        extra = [a for o in config for a in ("--set", o)]
        code = main(["validate", str(args.scenario), *sets, *extra])
        err = capsys.readouterr().err
        assert code == 0, f"{where}: {' '.join(config)}: {err}"


def test_a_command_reading_a_folder_nothing_wrote_is_caught(monkeypatch, tmp_path):
    # the folder check is not vacuous: README's compare of results/a only passes after the run writing it
    readme = ROOT / "README.md"
    compare = next(line for d, line, c in SHOWN if d == readme and c == "fleetsim compare results/a results/b")
    run_a = next(line for d, line, c in SHOWN if d == readme and c.endswith("--out results/a"))
    assert "results/a" in _folders_written(readme, compare)
    assert "results/a" not in _folders_written(readme, run_a)
