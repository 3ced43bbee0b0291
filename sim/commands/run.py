"""Simulate a scenario and print its summary (``--json``: exactly one JSON object on stdout)."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from sim.errors import output_value, path_argument
from sim.out_folder import check_out_dir, check_result_folder
from sim.metrics.band import DEFAULT_PCT, MAX_PCT, MIN_PCT, NEAR_SATURATION, capacities_text, pct_problem
from sim.planning.table import fill


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=path_argument, help="a scenario file (YAML or TOML), e.g. scenarios/baseline.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set fleet.pools.0.replicas=8 (repeatable)")
    p.add_argument("--out", type=output_value("folder", "--json prints the summary there"), metavar="DIR", help="write the result folder here (summary.json, requests.csv.gz, time series, cash flows, "
                        "figures; fleetsim report and reprice read it); without it nothing is written")
    p.add_argument("--figures", choices=["svg", "png", "none"], default="svg",
                   help="figures in the result folder: quick-look SVG (default, no matplotlib), "
                        "PNG drawn by matplotlib, or none (`fleetsim report` redraws them either way)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress or log lines on stderr")
    p.add_argument("--engine", choices=["fast", "reference"],
                   help="shorthand for --set engine=... (default the scenario's, else fast: the event-skipping "
                        "engine; reference: one SimPy event per iteration, the same records)")
    p.add_argument("--records", choices=["all", "sample", "none"],
                   help="shorthand for --set metrics.records=...: the per-request rows kept (default the "
                        "scenario's, else all; sample: a share metrics.sample_rate, default 0.01; latency "
                        "percentiles then come from histograms, within 0.5 %%)")
    p.add_argument("--allow-large", action="store_true",
                   help="run a scenario past the work limits (requests, fluid steps, replicas, failure events, "
                        "sweep points; see README 'Limits')")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="trace replay: count and skip malformed rows instead of failing")
    p.add_argument("--capacity-band", nargs="?", const=DEFAULT_PCT, type=band_pct, metavar="PCT",
                   help=f"also report latency and SLO attainment as a range: the same run (same seed, same "
                        f"arrivals) with the model's capacity PCT %% lower and PCT %% higher (default "
                        f"{DEFAULT_PCT:g}, about the step-time model's throughput error; {MIN_PCT:g} <= PCT <= {MAX_PCT:g}); "
                        f"costs two extra runs (about 3x the time; at fidelity: fluid two more passes over the steps "
                        f"on the capacity curves rescaled, no new measurement). Worth it above a "
                        f"load factor of ~{NEAR_SATURATION:g}, where a few per cent of capacity moves latency by "
                        f"tens of per cent (a note suggests it there)")


def band_pct(text: str) -> float:
    """``--capacity-band``'s value (argparse names the flag in its error, exit 2)."""
    problem = pct_problem(text)
    if problem:
        from sim.io import reads_as_number    # here, not at the top: sim.io loads numpy, which --help need not

        hint = "" if reads_as_number(text) else \
            " (a per cent without its sign: --capacity-band 3)" if reads_as_number(text.strip().rstrip("%")) else \
            " (a scenario file goes before the flag: fleetsim run FILE --capacity-band)"
        raise argparse.ArgumentTypeError(problem + hint)
    return float(text)


def report_hint(out) -> str:
    """What to do with a result folder next: the command that draws it as one page.

        >>> report_hint("results/x")
        'to read it in a browser: fleetsim report results/x'
    """
    import shlex

    return f"to read it in a browser: fleetsim report {shlex.quote(str(out))}"


def say_written(args: argparse.Namespace, nothing: str) -> None:
    """After the result is printed: where its folder went (``--out``) and how to read it, or that
    nothing was written and why (``nothing``); not under ``--quiet``, nor under ``--json`` without
    ``--out`` (standard error then carries problems only)."""
    sys.stdout.flush()          # the result first, then what was written and what to do with it
    if not args.quiet and (args.out is not None or not args.json):
        print(fill(f"fleetsim: wrote {args.out}/; {report_hint(args.out)}" if args.out is not None else
                   f"fleetsim: nothing written ({nothing})"), file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    from sim.api import run
    from sim.metrics.output import _clean
    from sim.report_text import format_summary
    from sim.scenario.load import load_scenario

    from sim.errors import InputError, printable
    from sim.paths import followed, make_folder
    from sim.metrics.band import near_saturation
    from sim.metrics.stability import warning as stability_warning

    if args.out is not None:
        check_out_dir(args.out)
        from sim.planning.store import claim_folder

        if followed(args.out).is_dir():     # a run beside a sweep's points would mix with them
            claim_folder(followed(args.out), "run", shown=args.out)
            check_result_folder(followed(args.out))
    overrides = list(args.overrides)
    if args.engine:
        overrides.append(f"engine={args.engine}")
    if args.records:
        overrides.append(f"metrics.records={args.records}")
    loaded = load_scenario(args.scenario, overrides)      # a file that does not load is said before anything else
    if args.out is not None:
        from sim.metrics.output import replaced_input

        lost = replaced_input(loaded, args.out)       # before the run, not after it
        if lost:
            raise InputError(f"--out: {lost}")
    if not args.quiet:
        more = "" if args.capacity_band is None else (
            ", then twice more at " + capacities_text(args.capacity_band)
            + " times the model's capacity (--capacity-band)")
        print(fill(f"fleetsim: simulating {args.scenario}{more}", indent="  "), file=sys.stderr)
    # the folder is made only now that the scenario has loaded and validated, and before the
    # (possibly long) run, so that a folder that cannot be made costs no simulation
    made: list[Path] = []
    hold = contextlib.nullcontext()
    if args.out is not None:
        from sim.planning.store import writing

        real = followed(args.out)        # a link stays a link: the folder is made where it leads
        made = [d for d in (real, *real.parents) if not d.exists()]
        try:
            make_folder(real)
        except OSError as exc:
            raise InputError(f"--out: cannot create {args.out}: {exc.strerror or exc}") from None
        hold = writing(real, "run", shown=args.out)     # a sweep, plan or search writing there now is refused
    try:
        with hold:      # (held until the files are written: a sweep started meanwhile is refused)
            result = run(loaded, out=None, quiet=args.quiet, progress=not args.quiet and not args.json,
                         skip_bad_rows=args.skip_bad_rows, capacity_band=args.capacity_band)
            if args.out is not None:
                result.write(args.out, figures=args.figures)
    except BaseException:
        _remove_if_empty(made)
        raise
    if args.json:
        sys.stdout.write(json.dumps(_clean(result.summary), allow_nan=False) + "\n")
    else:
        sys.stdout.write(printable(format_summary(result)) + "\n")
    say_written(args, "--out DIR writes the result folder that fleetsim report and reprice read")
    note = stability_warning(result.summary)
    if note:  # even under --quiet: an overloaded fleet is a result the reader must not miss
        print(f"fleetsim: {note}", file=sys.stderr)
    load = near_saturation(result.summary)
    if load is not None and args.capacity_band is None and args.json and not args.quiet:
        # (the text summary's verdict says the same)
        print(f"fleetsim: note: load factor {load:.2f}: near saturation a few per cent of capacity (about the "
              f"model's throughput error) moves latency by tens of per cent; rerun with --capacity-band for "
              f"the range", file=sys.stderr)
    return 0


def _remove_if_empty(made: list[Path]) -> None:
    """Take back the folders this command made (innermost first) when the run failed before writing
    anything (e.g. a trace with no request inside the run); a folder with anything in it is kept."""
    for d in made:
        try:
            d.rmdir()
        except OSError:
            return
