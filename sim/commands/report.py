"""Regenerate the figures of a result folder and write a self-contained report.html.

``fleetsim report DIR``.

Works on the folder of a run (``fleetsim run --out``), a sweep, a plan or a saturation search.
The HTML page embeds every figure (base64 PNG) and needs no other file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="DIR", help="a result folder")
    parser.add_argument("--no-regenerate", action="store_true",
                        help="embed the figures already in DIR/figures (PNG, else a run's quick-look SVG) "
                             "instead of redrawing them")


def main(args: argparse.Namespace) -> int:
    from sim.report.html_report import write_report

    try:
        path = write_report(args.folder, regenerate=not args.no_regenerate)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
