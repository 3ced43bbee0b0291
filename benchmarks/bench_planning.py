"""Wall and CPU time of ``fleetsim plan`` and ``fleetsim sweep`` on the README's examples, and whether
two source trees write the same result files.

Each case runs as a user runs it, ``python -m sim plan|sweep ... --out DIR --quiet`` in a fresh process
(interpreter start-up, imports, the worker processes of the ``local`` executor included: their CPU
time is the children's, :func:`resource.getrusage`), for ``--repeat`` rounds. With several ``--tree``
checkouts (each put first on ``PYTHONPATH``; default: this one) the rounds alternate between them
(tree A, tree B, tree A, ...), so the load of a shared machine falls on both alike; the CPU seconds of
the whole process tree are the number to compare, wall seconds only on an idle machine. Every result
file of each tree's runs is compared with the first tree's first run, bytes for bytes, after dropping
the fields that hold wall times (``wall_s``, ``wall_seconds``: :data:`WALL_FIELDS`); a file that
differs is named.

The scheduler-factor cache (``$FLEETSIM_CACHE``) is one fresh folder per tree, warmed by the tree's
first round (``--cold``: a fresh folder every round, so each round measures the factors again).
One JSON object per round, then a summary per case and tree (median, min, max of the CPU and wall
seconds) with ``identical`` (every file of every round equal to the first's)::

    python benchmarks/bench_planning.py                                # every case, this tree, 3 rounds
    python benchmarks/bench_planning.py --case sweep --tree ../before --tree . --repeat 3
    python benchmarks/bench_planning.py --quick                        # 10-minute runs (development)

Cases: ``plan`` (README "How many H100s do I need for 50 req/s": ``--set workload.arrival.rate=50
--vary fleet.pools.0.replicas=1..16 --constraint latency.ttft.p99<=2.0``, 5 one-hour runs, one after
another) and ``sweep`` (README "Using it": ``--grid fleet.pools.0.replicas=2,4,8 --seeds 3 --columns
latency.tpot.p99,utilization.load_factor``, 9 one-hour runs on the local process pool) and ``saturation``
(README: ``fleetsim saturation scenarios/baseline.yaml``, 9 one-hour runs, with ``--workers 2``, the
default on a 2-core machine, written out so that a bigger one measures the same) and ``sweep_rates``
(a rising rate, ``--grid workload.arrival.rate=3,6,12,24,48``, five 30-minute runs on ``--workers 2``:
the grid's longest point last, what handing points over longest first is for).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "scenarios/baseline.yaml"
CASES = {
    "plan": ["plan", BASELINE, "--set", "workload.arrival.rate=50", "--vary", "fleet.pools.0.replicas=1..16",
             "--constraint", "latency.ttft.p99<=2.0"],
    "sweep": ["sweep", BASELINE, "--grid", "fleet.pools.0.replicas=2,4,8", "--seeds", "3",
              "--columns", "latency.tpot.p99,utilization.load_factor"],
    "saturation": ["saturation", BASELINE, "--workers", "2"],
    "sweep_rates": ["sweep", BASELINE, "--grid", "workload.arrival.rate=3,6,12,24,48", "--set", "duration=30m",
                    "--workers", "2"],
}
QUICK = ["--set", "duration=10m", "--set", "warmup=1m"]
WALL_FIELDS = ("wall_s", "wall_seconds")
"""Fields holding a run's wall time: they differ between any two runs and are dropped before comparing."""


def _stats(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3)}


def without_wall(name: str, data: bytes) -> bytes:
    """``data`` of result file ``name`` with its wall-time fields dropped (JSON: the keys, at any depth;
    CSV: the columns)."""
    if name.endswith(".json"):
        def drop(v):
            if isinstance(v, dict):
                return {k: drop(x) for k, x in v.items() if k not in WALL_FIELDS}
            if isinstance(v, list):
                return [drop(x) for x in v]
            return v
        return json.dumps(drop(json.loads(data)), sort_keys=True).encode()
    if name.endswith(".csv"):
        lines = data.decode().splitlines()
        if not lines:
            return data
        head = lines[0].split(",")
        keep = [i for i, h in enumerate(head) if h not in WALL_FIELDS]
        if len(keep) == len(head):
            return data
        return "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i in keep) for line in lines).encode()
    return data


def result_files(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` (relative name -> bytes, wall-time fields dropped)."""
    return {str(p.relative_to(out)): without_wall(p.name, p.read_bytes())
            for p in sorted(out.rglob("*")) if p.is_file()}


def differences(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    """The names of the files that differ between two result folders (or are in one only)."""
    return sorted(n for n in a.keys() | b.keys() if a.get(n) != b.get(n))


def run_case(tree: Path, argv: list[str], out: Path, cache: Path) -> tuple[float, float]:
    """Wall and CPU seconds (this process's children: the command and its workers) of one command."""
    env = {**os.environ, "PYTHONPATH": str(tree), "FLEETSIM_CACHE": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", *argv, "--out", str(out), "--quiet"], cwd=tree, env=env,
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def git_head(tree: Path) -> str:
    """The tree's commit, short; its folder's name when it is not a git checkout."""
    try:
        return subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):     # a copy (git archive) rather than a checkout
        return tree.name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="plan, sweep, saturation, sweep_rates (default: all)")
    ap.add_argument("--tree", action="append", type=Path, help="a source checkout (repeatable; default: this one)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per case and tree (default 3)")
    ap.add_argument("--quick", action="store_true", help="10-minute runs (warm-up 1 min) instead of an hour")
    ap.add_argument("--cold", action="store_true", help="a fresh scheduler-factor cache every round")
    ap.add_argument("--keep", type=Path, default=None, help="keep every round's result folder under this folder")
    args = ap.parse_args()
    cases = args.case or list(CASES)
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    tmp = Path(tempfile.mkdtemp(prefix="bench-planning-"))
    summary: dict = {}
    try:
        for case in cases:
            argv = [*CASES[case], *(QUICK if args.quick else [])]
            first: dict[str, bytes] | None = None
            per_tree: dict[int, dict[str, list]] = {i: {"cpu": [], "wall": [], "differ": []} for i in range(len(trees))}
            for r in range(args.repeat):
                for i, tree in enumerate(trees):
                    out = tmp / f"{case}-{i}-{r}"
                    cache = tmp / (f"cache-{case}-{i}-{r}" if args.cold else f"cache-{case}-{i}")
                    load = os.getloadavg()[0]
                    wall, cpu = run_case(tree, argv, out, cache)
                    files = result_files(out)
                    first = files if first is None else first
                    differ = differences(first, files)
                    per_tree[i]["cpu"].append(cpu)
                    per_tree[i]["wall"].append(wall)
                    per_tree[i]["differ"].extend(d for d in differ if d not in per_tree[i]["differ"])
                    print(json.dumps({"case": case, "tree": i, "commit": git_head(tree), "round": r,
                                      "cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "files": len(files),
                                      "differ": differ, "load_average_1m": round(load, 2)}), flush=True)
                    if args.keep is not None:
                        shutil.copytree(out, args.keep / out.name, dirs_exist_ok=True)
                    shutil.rmtree(out, ignore_errors=True)
            summary[case] = [{"tree": i, "commit": git_head(tree), "cpu_s": _stats(per_tree[i]["cpu"]),
                              "wall_s": _stats(per_tree[i]["wall"]), "identical": not per_tree[i]["differ"],
                              "differ": per_tree[i]["differ"]} for i, tree in enumerate(trees)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"summary": True, "quick": args.quick, "cold": args.cold, "repeat": args.repeat,
                      "python": sys.version.split()[0], "cases": summary}))


if __name__ == "__main__":
    main()
