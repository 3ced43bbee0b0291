"""Instructions a case of ``bench_engine.py`` executes, counted by Valgrind: a yardstick that the load
of a shared machine does not move.

CPU seconds on a busy 2-core machine vary by 5-10 % from run to run, about what a change of the engine's
inner loop saves; the number of instructions the process executes does not depend on the load (it varies
by under 0.5 % between runs of one tree with one hash seed). Each case runs ``bench_engine.py --child CASE``
under ``valgrind --tool=cachegrind --cache-sim=no`` (about 50 times slower than without) with
``PYTHONHASHSEED=0``, once per tree, trees in turn; one JSON object per run::

    python benchmarks/bench_instructions.py --tree BEFORE --tree AFTER --case baseline
    python benchmarks/bench_instructions.py --tree . --case ref1_v1 --quick

Fields: ``case``, ``tree``, ``quick``, ``instructions`` (Valgrind's ``I refs``: the whole process,
interpreter start to exit, imports and the result folder included), ``cpu_s`` (the child's own report,
under Valgrind: not comparable with a run without it). Compiled modules and ``$FLEETSIM_CACHE`` are kept
as the environment sets them: run each tree once first (uncounted) so that neither compiles its modules
or measures a scheduler factor in the counted run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def count(tree: Path, case: str, quick: bool) -> dict:
    """One run of ``case`` from ``tree`` under Valgrind: its instruction count and the child's JSON."""
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree))
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, str(tree / "benchmarks" / "bench_engine.py"), "--child", case, "--engine", "fast",
           "--no-events"] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tree), env=env)
    m = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode != 0 or m is None:
        return {"case": case, "tree": str(tree), "error": proc.stderr.strip().splitlines()[-1:]}
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"case": case, "tree": str(tree), "quick": quick, "instructions": int(m.group(1).replace(",", "")),
            "cpu_s": child["cpu_s"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", required=True, help="a bench_engine.py case (repeatable)")
    ap.add_argument("--tree", action="append", type=Path, help="a source checkout (repeatable; default: this one)")
    ap.add_argument("--quick", action="store_true", help="the CI-sized cases (bench_engine.py --quick)")
    a = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("bench_instructions.py: needs valgrind on the PATH (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    for case in a.case:
        for tree in a.tree or [ROOT]:
            print(json.dumps(count(tree.resolve(), case, a.quick)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
