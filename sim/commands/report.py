"""Regenerate the figures of a result folder and write a self-contained report.html.

``fleetsim report DIR``.

Works on the folder of a run (``fleetsim run --out``), a sweep, a plan or a saturation search.
The HTML page embeds every figure (base64 PNG) and needs no other file. A file of the folder that
is not as fleetsim writes it stops the report (exit 2, each problem named by
:mod:`sim.report.result_folder`); a file that is absent only costs its figure or table.
"""
from __future__ import annotations

import argparse
import sys

from sim.errors import path_value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=path_value, metavar="DIR",
                        help="a result folder: of fleetsim run --out, sweep, plan or saturation")
    parser.add_argument("--no-regenerate", action="store_true",
                        help="embed the figures already in DIR/figures (PNG, else a run's quick-look SVG) "
                             "instead of redrawing them")


def main(args: argparse.Namespace) -> int:
    from sim.atomic import finish_swaps
    from sim.errors import printable
    from sim.paths import loop_message, looping_link, looping_links
    from sim.report.html_report import write_report
    from sim.report.overview import scenario_file_problem
    from sim.report.result_folder import SEARCH_FIELDS, read_search

    link = looping_link(args.folder)
    if link is not None:
        print(printable(loop_message(args.folder, link, "fleetsim report reads the folder fleetsim run --out DIR, "
                                                        "sweep, plan or saturation wrote: point the link at it")),
              file=sys.stderr)
        return 2
    for entry in looping_links(args.folder, ("figures",)):   # a file read, or a figure written, that is not there
        print(printable(loop_message(entry, entry, "remove the link, or point it at the file or folder it stands "
                                                   "for")), file=sys.stderr)
        return 2
    finish_swaps(args.folder)       # a swap into it a hard kill cut short: finished or undone, said
    if args.folder.exists() and not args.folder.is_dir():
        print(printable(f"{args.folder}: a file, not a result folder (the folder fleetsim run --out DIR, sweep, "
                        "plan or saturation wrote)"), file=sys.stderr)
        return 2
    for name in SEARCH_FIELDS:      # checked here: the page's own reader takes them as they come
        read_search(args.folder, name)
    problem = scenario_file_problem(args.folder, "to report without it")    # (as fleetsim compare refuses it)
    if problem is not None:
        print(printable(problem), file=sys.stderr)
        return 2
    try:
        path = write_report(args.folder, regenerate=not args.no_regenerate)
    except FileNotFoundError as exc:
        print(printable(f"{exc}{_stopped(args.folder)}"), file=sys.stderr)
        return 2
    print(printable(str(path)))
    return 0


def _stopped(folder) -> str:
    """What a folder without a result file but with finished points is: a sweep, plan or saturation
    search stopped before its result file (a rerun of the same command resumes from the points)."""
    from sim.errors import InputError
    from sim.humanize import plural
    from sim.planning.store import folder_owner

    try:
        done = sum(1 for p in (folder / "points").iterdir() if p.name.endswith(".json"))
        owner = folder_owner(folder)[0]
    except (OSError, InputError):
        return ""
    if not done:
        return ""
    who = f"fleetsim {owner}" if owner else "a fleetsim sweep, plan or saturation search"
    return (f"; it holds {done} finished {plural(done, 'point')} of {who} that stopped before writing its "
            f"result: run the same command with --out {folder} again to finish it (finished points are reused), "
            f"then report")
