"""Find the cheapest configuration whose metrics meet every constraint.

``fleetsim plan SCENARIO --vary PATH=LO..HI [--vary PATH=A,B] --constraint METRIC<=X ...``.

Finds the cheapest configuration meeting every constraint: bisection on the first integer range
(assumed monotone: more capacity never hurts), enumeration of the other knobs, each probe run
with ``--seeds`` replications and judged at the unfavourable 95 % confidence bound. Prints the
answer and the best configuration of every other group (e.g. per GPU type); writes
``plan.json``, ``plan.csv`` and ``figures/pareto.{png,svg}`` (cost vs p99 TTFT) to ``--out``.
Exit status 1 when no configuration meets the constraints, 2 for bad input.
"""
from __future__ import annotations

import argparse
import sys

from sim.commands.run import check_out_dir
from sim.planning.cli_support import add_common_arguments, default_out, guarded
from sim.planning.table import format_value, text_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "plan")
    parser.add_argument("--vary", action="append", required=True, metavar="PATH=VALUES",
                        help="a knob: LOW..HIGH (integer, bisected) or comma-separated values "
                             "(enumerated), e.g. fleet.pools.0.replicas=1..64 (repeatable)")
    parser.add_argument("--constraint", action="append", default=[], metavar="METRIC<=X",
                        help="e.g. 'latency.ttft.p99<=2.0' or 'slo.attainment>=0.99' (repeatable)")
    parser.add_argument("--objective", default="cost",
                        help="what to minimise: cost (= cost.compute_usd) or a summary key")
    parser.add_argument("--no-figures", action="store_true", help="skip the Pareto figure")


def main(args: argparse.Namespace) -> int:
    def body() -> int:
        from sim.planning.capacity import plan

        out = default_out(args, "plan")
        check_out_dir(out)  # before any point runs: a bad --out would otherwise fail at the first store
        result = plan(args.scenario, args.vary, constraints=args.constraint,
                      objective=args.objective, seeds=args.seeds, overrides=args.overrides,
                      executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                      out=out, progress=not args.quiet, figures=not args.no_figures)
        obj = result.objective
        if result.best is not None:
            print(f"cheapest meeting all constraints: {', '.join(result.best['overrides'])}  "
                  f"({obj} = {format_value(result.best.get(obj + '.mean'))})")
        else:
            print("no configuration meets every constraint")
        metrics = [obj] + [c.metric for c in result.constraints]
        rows = [{"configuration": ", ".join(r["overrides"]),
                 "feasible": "yes" if r["feasible"] else "no",
                 **{m: format_value(r.get(f"{m}.mean")) for m in metrics},
                 **{f"judged {c}": format_value(r.get(f"judged:{c}")) for c in result.constraints}}
                for r in result]
        cols = ["configuration", "feasible", *metrics, *(f"judged {c}" for c in result.constraints)]
        print(text_table(rows, cols))
        print(f"{len(result.evaluated)} configurations evaluated × {result.seeds} seed(s); "
              f"wrote {out / 'plan.json'}, {out / 'plan.csv'}", file=sys.stderr)
        return 0 if result.best is not None else 1

    return guarded(body)
