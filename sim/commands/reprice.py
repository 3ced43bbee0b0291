"""Recompute the money of a finished run under changed ``economics.*`` settings, without re-simulating.

``fleetsim reprice RESULT_DIR --set economics.gpu_hour_usd=1.8 [--out DIR] [--json] [--quiet]``.

Reads the usage the run saved (``usage.npz``: provisioned GPU intervals, served tokens) and its
``economics:`` block, applies the overrides, and prints the statement (``--json``: the updated
summary as one JSON object). With ``--out``, writes a result folder: the run's files with the money
files (``cashflow.csv``, ``ledger.csv``, ``usage.npz``, ``summary.json``) recomputed; the numbers
equal those of ``fleetsim run`` with the same overrides. Files in RESULT_DIR that are no part of a
result are not copied (one warning line names them).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from sim.errors import output_value, path_value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=path_value, metavar="RESULT_DIR", help="a result folder of fleetsim run --out")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an economics field, e.g. --set economics.gpu_hour_usd=1.8 (repeatable)")
    p.add_argument("--out", type=output_value("folder", "--json prints the updated summary there"), metavar="DIR", help="write the re-priced result folder here (may be RESULT_DIR itself)")
    p.add_argument("--json", action="store_true", help="print the updated summary as one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="no log lines on stderr")


def main(args: argparse.Namespace) -> int:
    from sim.commands.run import say_written
    from sim.out_folder import check_out_dir, check_result_folder
    from sim.economics.reprice import reprice_folder
    from sim.paths import followed
    from sim.planning.store import claim_folder

    _check_one_run(args.folder)
    if args.out is not None:
        with contextlib.suppress(OSError):      # (a looping link: check_out_dir says so)
            _check_not_inside(args.folder, args.out)    # first: its words for the re-priced folder's own figures/
        check_out_dir(args.out)
        if followed(args.out).is_dir():     # a run's folder, re-priced: another command's folder is refused
            claim_folder(followed(args.out), "run", shown=args.out, by="reprice")
            check_result_folder(followed(args.out), by="reprice")
    try:                                  # what the money was, for the terminal's "(was X)"
        before = json.loads((args.folder / "summary.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError):         # reprice_folder says what is wrong with the folder
        before = None
    from contextlib import nullcontext

    from sim.planning.store import writing

    with writing(followed(args.out), "reprice", shown=args.out) if args.out is not None else nullcontext():
        econ, summary = reprice_folder(args.folder, args.overrides, out=args.out)    # (a sweep meanwhile: refused)
    if args.json:
        sys.stdout.write(json.dumps(summary, allow_nan=False) + "\n")
    else:
        from sim.report_text import format_reprice

        sys.stdout.write(format_reprice(summary, before if isinstance(before, dict) else None, econ,
                                        shown=str(args.folder)) + "\n")
    say_written(args, f"{args.folder} is as it was; --out DIR writes the re-priced result folder, which may be "
                      f"{args.folder} itself")
    return 0


def _check_one_run(folder) -> None:
    """A sweep's, plan's or saturation search's folder holds many runs and no ``usage.npz`` of its own: it
    was refused as a run's folder written without it, with 'run the scenario again with --out'."""
    from sim.errors import InputError
    from sim.paths import followed
    from sim.planning.store import folder_owner

    try:
        root = followed(folder)
        if not root.is_dir():
            return
        owner, marker = folder_owner(root)
    except (InputError, OSError):       # a link that loops, not fleetsim's mark: reprice_folder says what is wrong
        return
    what = {"plan": "For the plan at another price, run it again with --set economics.gpu_hour_usd=... and "
                    "another --out (over one GPU type it answers the same configuration at any price; only its "
                    "money moves)",
            "sweep": "For the sweep at another price, run it again with --set economics.gpu_hour_usd=... and "
                     "another --out",
            "saturation": "A saturation rate does not depend on the price: to price the fleet at it, fleetsim run "
                          "the scenario at that rate with --out, then reprice that folder"}.get(owner)
    if what is not None:
        raise InputError(f"{folder}: holds the results of fleetsim {owner} ({marker}), not one run's: fleetsim "
                         f"reprice re-prices a folder of fleetsim run --out. {what}")


def _check_not_inside(folder, out) -> None:
    """``--out`` inside RESULT_DIR (``--out results/pp/figures``) wrote a result folder into the one it
    re-priced, among its figures; RESULT_DIR itself is allowed (re-priced in place)."""
    from sim.errors import InputError
    from sim.paths import followed

    src, dst = followed(folder).resolve(), followed(out).resolve()
    if dst != src and dst.is_relative_to(src):
        raise InputError(f"--out: {out} is inside {folder}, the result folder re-priced; name a folder outside it, "
                         f"or {folder} itself to re-price it in place")

