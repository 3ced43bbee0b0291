"""CPU seconds of whole ``fleetsim`` commands as a user runs them (start-up, imports, loading,
writing and pages included), and whether two source trees write the same result files.

Each case is ``python -m sim ...`` in a fresh process; its CPU time (user + system, the process and
any workers it starts: :func:`resource.getrusage` of the children) is the number to compare, since
the machine may be shared; wall seconds are printed too. With several ``--tree`` checkouts (each put
first on ``PYTHONPATH``; default: this one) the rounds alternate between them (tree A, tree B, tree
A, ...), so a shared machine's load falls on both alike. Every file a case writes (its ``--out``
folder, the report's folder, the comparison page) is compared with the first tree's first round,
bytes for bytes, after dropping wall-time fields (``wall_s``, ``wall_seconds``) and the report page's
"generated" stamp; a file that differs is named.

The inputs of ``compare``, ``report`` and ``reprice`` (two short runs: the baseline and
``mixed_fleet`` for two minutes) are written once, by the first tree, before the rounds. Each tree has
its own ``$FLEETSIM_CACHE`` and compiled modules (``PYTHONPYCACHEPREFIX``, beside it), warmed by a first
round that is not counted (``--no-warm``: counted).
One JSON object per round, then one with the median, min and max per case and tree::

    python benchmarks/bench_commands.py                                  # every case but the long, 5 rounds
    python benchmarks/bench_commands.py --case run --case sweep --repeat 3
    python benchmarks/bench_commands.py --tree ../before --tree . --repeat 5

Cases: ``help`` (``fleetsim --help``), ``validate`` (the baseline), ``run`` (the baseline, an hour,
``--out``), ``run_short`` (the baseline for two minutes: start-up and writing weigh most),
``compare`` (the two short runs, text), ``compare_html`` (``--html``), ``report`` (a copy of the short
baseline run: figures redrawn, report.html), ``reprice`` (the short baseline at another GPU price,
``--out``), ``sweep`` (12 replica counts x 2 seeds of two-minute runs, ``--executor serial``: the
per-point work outside the runs) and ``plan`` (the README's plan at 50 req/s on five-minute runs,
``--executor serial``); named only: ``overload_room`` and ``overload`` (the README's two-hour run at
50 req/s with an hour at 100, with and without the waiting room and the clients' patience, as printed
there: no ``--out``; about a minute each).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_planning import _stats, differences, git_head, without_wall  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "scenarios/baseline.yaml"
SHORT = ["--set", "duration=2m", "--set", "warmup=10s"]
OVERLOAD = ["--set", "duration=2h", "--set",
            "workload.arrival={{process: piecewise, times: [0, 30m, 90m], rates: [50, 100, 50]}}"]   # ({{: str.format)
# {out}: the case's output folder or file; {a}, {b}: the prepared run folders; {copy}: a copy of {a}
CASES: dict[str, list[str]] = {
    "help": ["--help"],
    "validate": ["validate", BASELINE],
    "run": ["run", BASELINE, "--out", "{out}", "--quiet"],
    "run_short": ["run", BASELINE, *SHORT, "--out", "{out}", "--quiet"],
    "compare": ["compare", "{a}", "{b}"],
    "compare_html": ["compare", "{a}", "{b}", "--html", "{out}/comparison.html"],
    "report": ["report", "{copy}"],
    "reprice": ["reprice", "{a}", "--set", "economics.gpu_hour_usd=3", "--out", "{out}"],
    "sweep": ["sweep", BASELINE, "--grid", "fleet.pools.0.replicas=1..12", "--seeds", "2", *SHORT,
              "--executor", "serial", "--out", "{out}", "--quiet"],
    "plan": ["plan", BASELINE, "--set", "workload.arrival.rate=50", "--vary", "fleet.pools.0.replicas=1..16",
             "--constraint", "latency.ttft.p99<=2.0", "--set", "duration=5m", "--set", "warmup=30s",
             "--executor", "serial", "--out", "{out}", "--quiet"],
    # README "What if the load doubles for an hour?", as printed there (no --out): 540,000 requests
    "overload_room": ["run", BASELINE, *OVERLOAD, "--set", "fleet.pools.0.max_waiting=16", "--set",
                      "workload.patience_s=5", "--set", "workload.patience=exponential"],
    "overload": ["run", BASELINE, *OVERLOAD],
}
#: the cases of a minute or more each, run only when named (``--case``)
LONG_CASES = ("overload_room", "overload")
_STAMP = re.compile(rb"; generated \d{4}-\d\d-\d\d \d\d:\d\d UTC")


def files_of(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (relative name -> bytes), wall-time fields and page stamps dropped."""
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): _STAMP.sub(b"", without_wall(p.name, p.read_bytes()))
            for p in sorted(path.rglob("*")) if p.is_file()}


def command(tree: Path, argv: list[str], cache: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process's children) and the exit status of one command. Compiled
    modules are kept (beside ``cache``, not in the tree) as an installed package keeps them, whatever
    ``PYTHONDONTWRITEBYTECODE`` says: compiling fleetsim's sources again in every process costs more than
    some of the differences measured here."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), FLEETSIM_CACHE=str(cache), PYTHONPYCACHEPREFIX=str(cache) + "-pycache")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    status = subprocess.run([sys.executable, "-m", "sim", *argv], cwd=tree, env=env, check=False,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=list(CASES),
                    help="a case (repeatable; default: all but the long ones, overload_room and overload)")
    ap.add_argument("--tree", action="append", type=Path, help="a source checkout (repeatable; default: this one)")
    ap.add_argument("--repeat", type=int, default=5, help="counted rounds per case and tree (default 5)")
    ap.add_argument("--no-warm", action="store_true", help="count the first round too (caches cold)")
    args = ap.parse_args()
    cases = args.case or [c for c in CASES if c not in LONG_CASES]
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    tmp = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    summary: dict = {}
    try:
        inputs = {"a": tmp / "in-baseline", "b": tmp / "in-mixed"}
        for key, scenario in (("a", BASELINE), ("b", "scenarios/mixed_fleet.yaml")):
            command(trees[0], ["run", scenario, *SHORT, "--out", str(inputs[key]), "--quiet"], tmp / "cache-in")
        for case in cases:
            first: dict[str, bytes] | None = None
            rows = {i: {"cpu": [], "wall": [], "differ": [], "status": set()} for i in range(len(trees))}
            for r in range(args.repeat + (0 if args.no_warm else 1)):
                for i, tree in enumerate(trees):
                    out = tmp / f"{case}-{i}-{r}" / "out"       # the same name every round: pages name it
                    copy = tmp / f"{case}-{i}-{r}" / "run"
                    out.parent.mkdir()
                    if case == "compare_html":
                        out.mkdir()
                    if case == "report":
                        shutil.copytree(inputs["a"], copy)
                    argv = [a.format(out=out, copy=copy, **inputs) for a in CASES[case]]
                    load = os.getloadavg()[0]
                    wall, cpu, status = command(tree, argv, tmp / f"cache-{i}")
                    files = {**files_of(out), **{f"report/{k}": v for k, v in files_of(copy).items()
                                                 if case == "report"}}
                    first = files if first is None else first
                    differ = differences(first, files)
                    counted = args.no_warm or r > 0
                    if counted:
                        rows[i]["cpu"].append(cpu)
                        rows[i]["wall"].append(wall)
                        rows[i]["status"].add(status)
                    rows[i]["differ"].extend(d for d in differ if d not in rows[i]["differ"])
                    print(json.dumps({"case": case, "tree": i, "commit": git_head(tree), "round": r,
                                      "counted": counted, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                                      "status": status, "files": len(files), "differ": differ,
                                      "load_average_1m": round(load, 2)}), flush=True)
                    shutil.rmtree(out.parent, ignore_errors=True)
            summary[case] = [{"tree": i, "commit": git_head(tree), "cpu_s": _stats(rows[i]["cpu"]),
                              "wall_s": _stats(rows[i]["wall"]), "status": sorted(rows[i]["status"]),
                              "identical": not rows[i]["differ"], "differ": rows[i]["differ"]}
                             for i, tree in enumerate(trees)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"summary": True, "repeat": args.repeat, "python": sys.version.split()[0],
                      "cases": summary}))


if __name__ == "__main__":
    main()
