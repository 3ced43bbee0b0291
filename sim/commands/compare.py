"""Compare run results side by side: what differs between the scenarios and what moved (``--json``: one JSON object).

``fleetsim compare DIR_A DIR_B [DIR_C ...]`` reads the folders ``fleetsim run --out`` wrote; the first
is the base. It prints the scenario settings that differ (``fleet.pools.0.replicas: 4 → 6``), then
one row per metric (throughput, latency in ms, SLO, stability, load, utilization, GPU-hours, cost,
the cash flows when a run has revenue) with a column per folder and, for each folder after the
first, its change against the base (``+12.3 ms (+8.1 %)``). In a terminal narrower than the table
the folders come in blocks of columns, each with the base. ``--json`` prints the comparison as one
JSON object instead, ``--out FILE`` writes it to a file as well. ``--html FILE`` writes the comparison
as a self-contained page too (:mod:`sim.report.comparison_page`: the tables, changes coloured where
better or worse is plain, the folders' latency distributions and time series overlaid). The
comparison itself is :mod:`sim.report.comparison`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from sim.errors import output_value, path_value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", type=path_value, metavar="DIR_A",
                   help="the base: a result folder of fleetsim run --out (every change is against it)")
    p.add_argument("others", type=path_value, nargs="+", metavar="DIR_B",
                   help="one or more result folders of fleetsim run --out to compare with the base")
    p.add_argument("--json", action="store_true", help="print the comparison as one JSON object on stdout "
                                                       "(raw numbers: seconds, USD, fractions)")
    p.add_argument("--out", type=output_value("file", "--json prints the comparison there"), metavar="FILE", help="also write the comparison as JSON to FILE")
    p.add_argument("--html", type=output_value("file"), metavar="FILE",
                   help="also write the comparison as a self-contained HTML page to FILE (tables, and the "
                        "folders' latency distributions and time series overlaid)")


def main(args: argparse.Namespace) -> int:
    from sim.errors import InputError, printable
    from sim.out_folder import result_file_problem
    from sim.paths import output_file_problem
    from sim.planning.table import jsonable, terminal_width, write_json
    from sim.report.comparison import compare

    from sim.atomic import finish_swaps

    folders = [args.base, *args.others]
    for folder in folders:          # a swap into one a hard kill cut short: finished or undone, said
        finish_swaps(folder)
    # neither output may replace a file of the folders compared: what is read, and the rest of each result
    from sim.report.comparison_page import result_files

    kept = result_files(folders)
    if args.out is not None:
        problem = output_file_problem(args.out, kept) or result_file_problem(args.out)     # (another result's too)
        if problem:
            raise InputError(f"--out: {args.out}: {problem}")
    if args.html is not None:
        problem = output_file_problem(args.html, kept) or result_file_problem(args.html)
        if problem is None and args.out is not None and os.path.realpath(args.out) == os.path.realpath(args.html):
            problem = "it is the --out file too; name another file"
        if problem:
            raise InputError(f"--html: {args.html}: {problem}")
    comparison = compare(folders)
    data = comparison.as_json()
    if args.json:
        sys.stdout.write(json.dumps(jsonable(data), allow_nan=False) + "\n")
    else:
        sys.stdout.write(printable(comparison_text(comparison, terminal_width())) + "\n")
    if args.out is not None:
        try:
            write_json(args.out, data)
        except OSError as exc:
            raise InputError(f"--out: cannot write {args.out}: {exc.strerror or exc}") from None
        sys.stdout.flush()
        print(printable(f"fleetsim: wrote {args.out}"), file=sys.stderr)
    if args.html is not None:
        from sim.report.comparison_page import write_comparison_page

        try:
            write_comparison_page(comparison, args.html)
        except OSError as exc:
            raise InputError(f"--html: cannot write {args.html}: {exc.strerror or exc}") from None
        sys.stdout.flush()
        print(printable(f"fleetsim: wrote {args.html}"), file=sys.stderr)
    return 0


def comparison_text(comparison, width: int | None) -> str:
    """The comparison for a terminal ``width`` columns wide (``None``: as wide as it is): the folders
    with their letters, the scenario settings that differ, any notes, then the metrics table
    (:func:`metric_tables`)."""
    from sim import humanize
    from sim.planning.table import fill
    from sim.report.comparison import label
    from sim.report.comparison_words import difference_lines

    lines = []
    for i, run in enumerate(comparison.folders):
        s = run.summary
        what = ", ".join(x for x in (str(s.get("scenario") or ""), f"seed {s['seed']}" if "seed" in s else "",
                                     f"{humanize.duration(s['simulated_seconds'])} simulated"
                                     if isinstance(s.get("simulated_seconds"), (int, float)) else "") if x)
        lines.append(fill(f"{label(i)}  {run.path}{' (base)' if i == 0 else ''}" + (f": {what}" if what else ""),
                          width, "      "))
    n = len(comparison.folders)
    letters = " → ".join(label(i) for i in range(n))
    # 27 folders: 182 columns; four or fewer: the cut would be as long, or name a letter twice (A → B → … → B)
    if n > 4 and width is not None and len(f"settings that differ ({letters}):") > width:
        letters = f"{label(0)} → {label(1)} → … → {label(n - 1)}"
    lines += ["", f"settings that differ ({letters}):"]
    lines += [fill("  " + line, width, "      ") for line in difference_lines(comparison)]
    lines += [fill(f"note: {n}", width) for n in comparison.notes]
    return "\n".join([*lines, "", *metric_tables(comparison, width)])


def metric_tables(comparison, width: int | None) -> list[str]:
    """The metrics as text: a row per metric, the base's column and, per other folder, its value and its
    change (``B vs A``); as many folders beside the base as fit ``width``, the rest in further blocks."""
    from sim.planning.table import text_table
    from sim.report.comparison import label
    from sim.report.comparison_words import cell, change_cell

    n = len(comparison.folders)
    rows = [{"metric": r.label, "0": cell(r.key, r.values[0]),
             **{k: v for i in range(1, n) for k, v in ((str(i), cell(r.key, r.values[i])),
                                                         (f"d{i}", change_cell(r.key, r.changes[i])))}}
            for r in comparison.rows]

    def table(others: list[int]) -> str:
        cols = ["metric", "0", *(c for i in others for c in (str(i), f"d{i}"))]
        heads = ["metric", f"{label(0)} (base)", *(h for i in others for h in (label(i), f"{label(i)} vs {label(0)}"))]
        return text_table(rows, cols, heads, right=cols[1:])

    others = list(range(1, n))
    for per_block in range(len(others), 0, -1):     # the most folders a block holds within the width
        blocks = [table(others[i:i + per_block]) for i in range(0, len(others), per_block)]
        if width is None or max(len(line) for b in blocks for line in b.splitlines()) <= width:
            break
    return "\n\n".join(blocks).splitlines()
