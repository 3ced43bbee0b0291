"""Simulate a scenario and print its summary (``--json``: exactly one JSON object on stdout)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario file (YAML or TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set fleet.pools.0.replicas=8 (repeatable)")
    p.add_argument("--out", type=Path, help="write the result folder here")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress or log lines on stderr")
    p.add_argument("--engine", choices=["fast", "reference"], help="shorthand for --set engine=...")
    p.add_argument("--records", choices=["all", "sample", "none"], help="shorthand for --set metrics.records=...")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="trace replay: count and skip malformed rows instead of failing")


def main(args: argparse.Namespace) -> int:
    from sim.api import run
    from sim.metrics.output import _clean
    from sim.report_text import format_summary

    from sim.errors import InputError

    if args.out is not None:
        out = args.out
        if str(out) == "":
            raise InputError("--out: give a folder name")
        if out.exists() and not out.is_dir():
            raise InputError(f"--out: {out} exists and is not a folder")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--out: cannot create {out}: {exc.strerror}") from None
    overrides = list(args.overrides)
    if args.engine:
        overrides.append(f"engine={args.engine}")
    if args.records:
        overrides.append(f"metrics.records={args.records}")
    if not args.quiet:
        print(f"fleetsim: simulating {args.scenario}", file=sys.stderr)
    result = run(args.scenario, overrides=overrides, out=None, quiet=args.quiet,
                 progress=not args.quiet and not args.json, skip_bad_rows=args.skip_bad_rows)
    if args.out is not None:
        result.write(args.out)
        if not args.quiet:
            print(f"fleetsim: wrote {args.out}/", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(_clean(result.summary), allow_nan=False) + "\n")
    else:
        sys.stdout.write(format_summary(result) + "\n")
    return 0
