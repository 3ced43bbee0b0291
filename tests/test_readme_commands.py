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

The same holds for a whole scenario command written in running text (a ```fleetsim run scenarios/...```
span of a page's prose or a notebook's text, a command in a scenario file's comments): it parses and
validates.

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

SCENARIO_COMMANDS = ("run", "validate", "sweep", "plan", "saturation")


def inline_commands(path: Path) -> list[tuple[int, str]]:
    """``(line, command)`` of every whole scenario command written in running text: a ```fleetsim ...```
    span of a page's prose or a notebook's markdown (it may break over lines), and in a scenario file's
    comments a span or a comment line opening with ``fleetsim `` (``\\`` continues it; two spaces end
    it, before an aside such as ``->  net share ~$491.7M``). Only a command naming a scenario file counts (``fleetsim
    saturation`` alone names the command, not a command line), and none with a placeholder
    (``SCENARIO``, ``[PCT]``, ``...``)."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":     # its markdown cells, a line per line of the cells' text
        import json

        raw = "\n".join("".join(c["source"]) for c in json.loads(raw)["cells"] if c["cell_type"] == "markdown")
    if path.suffix in (".md", ".ipynb"):
        text = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), raw, flags=re.S)   # blocks: above
        found = [(m.start(), m.group(1)) for m in re.finditer(r"(?<!`)`(fleetsim [^`]+)`(?!`)", text)]
    else:
        text = "\n".join(re.sub(r"^\s*#\s?", "", ln) if ln.lstrip().startswith("#") else ""
                         for ln in raw.splitlines())
        found = [(m.start(), m.group(1)) for m in re.finditer(r"`(fleetsim [^`]+)`", text)]
        for m in re.finditer(r"^[ \t]*(fleetsim (?:[^\n]*\\\n)*[^\n]*)", text, flags=re.M):
            found.append((m.start(1), re.split(r"\s{2,}(?!-)", re.sub(r"\\\n\s*", " ", m.group(1)).strip())[0]))
    out = []
    for at, cmd in found:
        cmd = " ".join(cmd.split())
        argv = cmd.split()
        if (len(argv) < 3 or argv[1] not in SCENARIO_COMMANDS or not re.search(r"\.(ya?ml|toml)$", argv[2])
                or "..." in cmd or "[" in cmd or re.search(r"\b[A-Z][A-Z_]+\b", cmd)):
            continue
        out.append((text.count("\n", 0, at) + 1, cmd))        # text keeps raw's lines
    return out


INLINE = [(doc, line, cmd) for doc in [*DOCS, *sorted((ROOT / "scenarios").glob("*.yaml")),
                                       *sorted((ROOT / "notebooks").glob("*.ipynb"))]
          for line, cmd in inline_commands(doc)]


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
    _validate_each_configuration(where, args, capsys)


def _validate_each_configuration(where: str, args, capsys) -> None:
    """A scenario command's scenario, with its ``--set`` overrides, validated as each configuration its
    ``--grid`` / ``--vary`` knobs would run (a range's ends stand for it); its constraints and rate
    path must be ones the command takes."""
    from sim.cli import main
    from sim.planning.constraints import parse_constraint
    from sim.planning.knobs import configurations, parse_knobs

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


def test_the_walk_finds_the_commands_written_in_running_text():
    # those of README's answers, the docs' prose and the scenario files' comments; none twice, none cut short
    where = {(doc.name, cmd) for doc, _, cmd in INLINE}
    assert ("README.md", "fleetsim saturation scenarios/azure_conv_replay.yaml --rate-path "
                         "workload.arrival.rate_scale") in where
    assert ("deepseek_v3_cluster.yaml", "fleetsim run scenarios/deepseek_v3_cluster.yaml --set "
                                        "fleet.pools.1.replicas=0 --set workload.arrival.rate=15") in where
    assert ("provider_partner_2024.yaml", "fleetsim run scenarios/provider_partner_2024.yaml") in where
    plan = next(cmd for doc, _, cmd in INLINE if doc.name == "provider_partner_derived.yaml" and " plan " in cmd)
    assert plan.endswith('--constraint "slo.attainment>=0.99"')       # continued over a comment line
    assert len(where) == len(INLINE) >= 12
    assert ("01_quickstart.ipynb", "fleetsim run scenarios/baseline.yaml --set duration=5m --set warmup=1m "
                                   "--out results/quickstart") in where
    assert {doc.suffix for doc, _, _ in INLINE} == {".md", ".yaml", ".ipynb"}


@pytest.mark.parametrize("doc,line,cmd", INLINE, ids=[f"{d.name}:{ln}" for d, ln, _ in INLINE])
def test_a_command_written_in_running_text_runs_as_written(doc, line, cmd, capsys, monkeypatch):
    from sim.cli import build_parser

    where = f"{doc.name}:{line}: `{cmd}`"
    monkeypatch.chdir(ROOT)
    parser, _ = build_parser()
    try:
        args = parser.parse_args(shlex.split(cmd)[1:])
    except SystemExit:
        pytest.fail(f"{where}: the command line does not parse:\n{capsys.readouterr().err}")
    _validate_each_configuration(where, args, capsys)


def test_a_command_reading_a_folder_nothing_wrote_is_caught(monkeypatch, tmp_path):
    # the folder check is not vacuous: README's compare of results/a only passes after the run writing it
    readme = ROOT / "README.md"
    compare = next(line for d, line, c in SHOWN if d == readme and c == "fleetsim compare results/a results/b")
    run_a = next(line for d, line, c in SHOWN if d == readme and c.endswith("--out results/a"))
    assert "results/a" in _folders_written(readme, compare)
    assert "results/a" not in _folders_written(readme, run_a)
