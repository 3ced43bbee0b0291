"""How long reading a scenario file of megabytes takes (:func:`sim.scenario.load.read_file`): one
refused for holding more values than :data:`~sim.scenario.safe_yaml.MAX_VALUES` (a list of numbers),
one accepted (the baseline padded with comments), and with ``--python`` the same list read by PyYAML's
own pure-Python loader (what every file was read by before text over
:data:`~sim.scenario.safe_yaml.FAST_BYTES` went to libyaml) as far as the limit, and whole, with no
limit on values (as every file was read before the limit: the schema then refused the list). CPU seconds (``time.process_time``:
less disturbed by other processes on a shared machine than wall time), the median of ``--repeat``.
One JSON object per case on stdout::

    python benchmarks/bench_large_scenario.py                 # 10 MB files, 3 repeats
    python benchmarks/bench_large_scenario.py --mb 16 --repeat 5 --python

Fields: ``case``, ``bytes``, ``median_cpu_s``, ``median_wall_s``, ``outcome`` (``read`` or the
first words of the refusal).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from sim.errors import ScenarioError
from sim.scenario import safe_yaml
from sim.scenario.load import read_file

ROOT = Path(__file__).resolve().parents[1]


def _files(folder: Path, mb: float) -> dict[str, Path]:
    base = (ROOT / "scenarios" / "baseline.yaml").read_text()
    size = int(mb * 1e6)
    out = {"list_refused": folder / "list.yaml", "comments_read": folder / "comments.yaml"}
    out["list_refused"].write_text(base + "extra: [" + ", ".join(["1.0"] * (size // 5)) + "]\n")
    out["comments_read"].write_text(base + ("# " + "x" * 98 + "\n") * (size // 100))
    # where libyaml and PyYAML differ, PyYAML's loader reads the text (as it reads a short file): a tab in
    # a comment stays on libyaml; a tab between tokens and a syntax error after the comments go to PyYAML
    out["comments_tab_in_comment_read"] = folder / "tab_comment.yaml"
    out["comments_tab_in_comment_read"].write_text(base + ("#\t" + "x" * 97 + "\n") * (size // 100))
    out["comments_tab_refused"] = folder / "tab.yaml"
    out["comments_tab_refused"].write_text(base + ("# " + "x" * 98 + "\n") * (size // 100) + "extra:\t1\n")
    out["comments_syntax_error_refused"] = folder / "syntax.yaml"
    out["comments_syntax_error_refused"].write_text(base + ("# " + "x" * 98 + "\n") * (size // 100) + "extra: [1\n")
    return out


def _time(path: Path, repeat: int) -> tuple[float, float, str]:
    cpu, wall, outcome = [], [], "read"
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        try:
            read_file(path)
        except ScenarioError as exc:
            outcome = str(exc).split(": ", 1)[1][:60]
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall), outcome


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=10.0, help="size of each file, MB (default 10)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", action="store_true", help="also read the list with PyYAML's pure-Python loader")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = _files(Path(tmp), args.mb)
        cases = list(files.items())
        for name, path in cases:
            cpu, wall, outcome = _time(path, args.repeat)
            print(json.dumps({"case": name, "bytes": path.stat().st_size, "median_cpu_s": round(cpu, 3),
                              "median_wall_s": round(wall, 3), "outcome": outcome}), flush=True)
        if args.python:
            fast, most = safe_yaml.FAST_BYTES, safe_yaml.MAX_VALUES
            safe_yaml.FAST_BYTES = 1 << 62          # every text by the pure-Python loader
            try:
                path = files["list_refused"]
                for name, limit in (("list_python_loader", most), ("list_python_loader_no_limit", 1 << 62)):
                    safe_yaml.MAX_VALUES = limit
                    cpu, wall, outcome = _time(path, args.repeat)
                    print(json.dumps({"case": name, "bytes": path.stat().st_size, "median_cpu_s": round(cpu, 3),
                                      "median_wall_s": round(wall, 3), "outcome": outcome}), flush=True)
            finally:
                safe_yaml.FAST_BYTES, safe_yaml.MAX_VALUES = fast, most


if __name__ == "__main__":
    main()
