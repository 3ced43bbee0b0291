"""Re-pricing a saved run vs simulating it again with the same economics override.

Prints one JSON object: wall seconds (median and range of ``--repeat`` interleaved A/B pairs) of
a fresh run that writes its result folder and of ``reprice`` on the folder of an earlier run, both
in-process (``sim.run(...).write`` vs ``sim.reprice``) and as a user runs them
(``python -m sim run SCENARIO --set ... --out DIR`` vs ``python -m sim reprice DIR --set ... --out
DIR2``, interpreter start-up and imports included), plus whether the money files came out
byte-identical.

    python benchmarks/bench_reprice.py                        # baseline, 5 pairs
    python benchmarks/bench_reprice.py --scenario scenarios/provider_partner_2024.yaml --repeat 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MONEY = ("cashflow.csv", "ledger.csv", "settlements.csv", "usage.npz")


def _stats(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 4), "min": round(min(xs), 4), "max": round(max(xs), 4)}


def _cli(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=None,
                    help="economics override (default: economics.gpu_hour_usd=1.8)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    overrides = args.overrides or ["economics.gpu_hour_usd=1.8"]
    sets = [a for o in overrides for a in ("--set", o)]

    import sim

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        sim.run(args.scenario, out=base)
        api_run, api_re, cli_run, cli_re = [], [], [], []
        for k in range(args.repeat):        # interleaved, so machine load hits both alike
            t0 = time.perf_counter()
            sim.run(args.scenario, overrides=overrides).write(tmp / "fresh", figures="svg")
            api_run.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sim.reprice(base, overrides, out=tmp / "re")
            api_re.append(time.perf_counter() - t0)
            cli_run.append(_cli(["run", args.scenario, *sets, "--out", str(tmp / "fresh_cli"), "--quiet"]))
            cli_re.append(_cli(["reprice", str(base), *sets, "--out", str(tmp / "re_cli"), "--quiet"]))
        identical = all((tmp / "fresh_cli" / f).read_bytes() == (tmp / "re_cli" / f).read_bytes()
                        == (tmp / "fresh" / f).read_bytes() == (tmp / "re" / f).read_bytes() for f in MONEY)
        summaries = [json.loads((tmp / d / "summary.json").read_text()) for d in ("fresh_cli", "re_cli")]
        identical = identical and all(summaries[0][k] == summaries[1][k] for k in ("cost", "cashflow"))
    out = {
        "scenario": Path(args.scenario).name, "overrides": overrides, "repeat": args.repeat,
        "in_process_s": {"run_and_write": _stats(api_run), "reprice": _stats(api_re)},
        "in_process_speedup": round(statistics.median(api_run) / statistics.median(api_re), 1),
        "cli_s": {"run": _stats(cli_run), "reprice": _stats(cli_re)},
        "cli_speedup": round(statistics.median(cli_run) / statistics.median(cli_re), 1),
        "money_identical": identical,
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],   # before, after
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
