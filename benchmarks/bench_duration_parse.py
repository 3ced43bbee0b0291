"""Reading a duration: CPU seconds of ``parse_duration`` on the texts a scenario writes and on hostile ones.

Prints one JSON object: the CPU microseconds per call (the best of ``--repeat`` rounds of ``--calls`` calls) of
``'90s'``, ``'2h30m'``, ``'PT2H30M'`` and ``'500ms'``, and the CPU seconds of one call on each text of
``--size`` characters that is no duration (``x``, spaces, ``y``; digits and ``y``; ``1h``, spaces, ``x``),
whose time grew with the square of their length while the parser backtracked. Compare two trees by running the
script under each (``PYTHONPATH`` first on the path), interleaved; a tree from before ``sim/scenario/durations.py``
is read through ``sim.scenario.types``.

    python benchmarks/bench_duration_parse.py                  # 20,000 characters, 300,000 calls
    python benchmarks/bench_duration_parse.py --size 1000000 --calls 100000
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this checkout after the PYTHONPATH entries (sys.path[0] is this script's folder, then those): a tree put
# there is the one timed; without PYTHONPATH, this one
sys.path.insert(1 + len([p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]), str(ROOT))

try:
    from sim.scenario.durations import parse_duration  # noqa: E402
except ImportError:                                     # (a tree from before the module)
    from sim.scenario.types import parse_duration  # noqa: E402


def per_call_us(text: str, calls: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for _ in range(calls):
            parse_duration(text)
        best = min(best, time.process_time() - t)
    return best / calls * 1e6


def refusal_s(text: str) -> float:
    t = time.process_time()
    try:
        parse_duration(text)
    except ValueError:
        pass
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20_000, help="characters of each hostile text")
    ap.add_argument("--calls", type=int, default=300_000, help="calls per round on an ordinary text")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept")
    args = ap.parse_args()
    n = args.size
    ordinary = {}
    for text in ("90s", "2h30m", "PT2H30M", "500ms"):
        try:
            ordinary[text] = round(per_call_us(text, args.calls, args.repeat), 2)
        except ValueError:              # (a tree that does not read it)
            ordinary[text] = None
    hostile = {"x, spaces, y": "x" + " " * (n - 2) + "y", "digits, y": "1" * (n - 1) + "y",
               "1h, spaces, x": "1h" + " " * (n - 3) + "x"}
    print(json.dumps({"module": parse_duration.__module__, "size": n,
                      "cpu_us_per_call": ordinary,
                      "cpu_s_to_refuse": {k: round(refusal_s(v), 4) for k, v in hostile.items()}}))


if __name__ == "__main__":
    main()
