"""Memory and time of ``fleetsim report`` on a large request table.

Simulates one run (``--scenario``, ``--set`` overrides; by default the baseline for a day at 24
req/s, about two million requests) into a temporary folder, or copies ``--folder`` (a run's result
folder) there, then, each in a fresh process (peak RSS is ``ru_maxrss`` of that process): reading
its ``requests.csv.gz`` whole, reading only the columns the run figures draw
(:data:`sim.report.run_figures.REQUEST_INPUTS`), and the whole ``fleetsim report RUN`` command
(every figure redrawn, report.html written). Prints one JSON object.

    python benchmarks/bench_report.py                                   # ~3 min to simulate
    python benchmarks/bench_report.py --folder RUN                      # a run already simulated
    python benchmarks/bench_report.py --set duration=2h                 # a smaller table
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_MEASURE = """
import resource, sys, time
t0 = time.perf_counter()
{body}
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
CASES = {
    "read_all_columns": "from sim.report.result_folder import read_requests\nread_requests(sys.argv[1])",
    "read_figure_columns": "from sim.report.result_folder import read_requests\n"
                           "from sim.report.run_figures import REQUEST_INPUTS\n"
                           "read_requests(sys.argv[1], REQUEST_INPUTS)",
    "report_command": "import contextlib, io\nfrom sim.cli import main\n"
                      "with contextlib.redirect_stdout(io.StringIO()):\n"
                      "    assert main(['report', sys.argv[1]]) == 0",
}


def measure(body: str, *argv: str) -> dict:
    """Wall time and peak RSS of ``body`` (Python, reading ``sys.argv``) run in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _MEASURE.format(body=body), *argv], check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall, rss_kb = out.stdout.split()[-2:]
    return {"wall_s": round(float(wall), 2), "peak_rss_mb": round(int(rss_kb) / 1024)}


def arguments(description: str) -> argparse.Namespace:
    """The options every table benchmark takes: the scenario and overrides to simulate, or a folder."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=None,
                    help="override (default: duration=1d, workload.arrival.rate=24)")
    ap.add_argument("--folder", type=Path, help="a run's result folder to copy and measure instead of simulating")
    args = ap.parse_args()
    args.overrides = args.overrides or ["duration=1d", "workload.arrival.rate=24"]
    return args


def prepared_run(args: argparse.Namespace, tmp: str) -> tuple[Path, float | None]:
    """A run's result folder in ``tmp``: ``args.folder`` copied (figures and page left out), or the
    scenario simulated with its overrides; and the seconds simulating took (None for a copy)."""
    run = Path(tmp) / "run"
    if args.folder is not None:
        shutil.copytree(args.folder, run, ignore=shutil.ignore_patterns("figures", "report.html"))
        return run, None
    sets = [a for o in args.overrides for a in ("--set", o)]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", "run", args.scenario, *sets, "--out", str(run), "--quiet",
                    "--figures", "none"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return run, round(time.perf_counter() - t0, 1)


def report(args: argparse.Namespace, run: Path, simulated: float | None, results: dict) -> None:
    """Print the one JSON object: what was measured on, then each case's wall and peak RSS."""
    summary = json.loads((run / "summary.json").read_text())
    print(json.dumps({"scenario": summary.get("scenario"),
                      "overrides": None if args.folder else args.overrides,
                      "requests": summary["requests"]["arrived"],
                      "requests_csv_gz_mb": round((run / "requests.csv.gz").stat().st_size / 2**20, 1),
                      "simulate_s": simulated, **results, "load_average_1m": round(os.getloadavg()[0], 2)}))


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        run, simulated = prepared_run(args, tmp)
        report(args, run, simulated, {name: measure(body, str(run)) for name, body in CASES.items()})


if __name__ == "__main__":
    main()
