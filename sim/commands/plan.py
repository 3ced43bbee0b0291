"""Find the cheapest configuration whose metrics meet every constraint.

``fleetsim plan SCENARIO --vary PATH=LO..HI [--vary PATH=A,B] --constraint METRIC<=X ...``.

Finds the cheapest configuration meeting every constraint: bisection on the first integer range
(assumed monotone: more capacity never hurts), enumeration of the other knobs, each probe run
with ``--seeds`` replications and judged at the unfavourable 95 % confidence bound; a
configuration whose backlog grew (``stability.stable`` false) is infeasible whatever the
constraints say. Prints the answer and the cheapest configuration of every group (e.g. per GPU
type) with the planner columns (GPUs, replicas, GPU-hours, $/hour, $/month, $/M output tokens,
the simulated window's cost), its load factor, its headroom (slack of the tightest constraint),
``--columns`` keys and, for an infeasible one, why; writes
``plan.json``, ``plan.csv`` and ``figures/pareto.{png,svg}`` (cost vs p99 TTFT) to ``--out``.
Exit status 1 when no configuration meets the constraints, 2 for bad input.
"""
from __future__ import annotations

import argparse
import sys

from sim.commands.run import check_out_dir
from sim.planning.cli_support import add_common_arguments, default_out, guarded
from sim.planning.table import text_table


def _value(metric: str, value) -> str:
    from sim.planning.planner import plain

    return plain(value, money=metric.startswith("cost.") and not metric.endswith("tokens"))


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
    parser.add_argument("--columns", default=None, metavar="KEY,KEY",
                        help="summary keys to tabulate besides the planner columns and the constraints' "
                             "metrics, e.g. latency.tpot.p99,utilization.kv_cache_mean")


def main(args: argparse.Namespace) -> int:
    def body() -> int:
        from sim.planning.capacity import plan
        from sim.planning.constraints import ConstraintError
        from sim.planning.evaluator import check_metrics
        from sim.humanize import plural
        from sim.planning.planner import COLUMNS, headroom, parse_columns, plain, planner_cells, planner_values

        out = default_out(args, "plan")
        check_out_dir(out)  # before any point runs: a bad --out would otherwise fail at the first store
        result = plan(args.scenario, args.vary, constraints=args.constraint,
                      objective=args.objective, seeds=args.seeds, overrides=args.overrides,
                      executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                      out=out, progress=not args.quiet, figures=not args.no_figures)
        obj = result.objective
        if result.best is not None:
            b = planner_values(result.best)
            print(f"cheapest meeting all constraints: {', '.join(result.best['overrides'])}  "
                  f"({plain(b['GPUs'])} {plural(b['GPUs'], 'GPU')}, {plain(b['$/month'], money=True)}/month; "
                  f"{obj} = {_value(obj, result.best.get(obj + '.mean'))}"
                  f"{' for the simulated window' if obj == 'cost.compute_usd' else ''})")
        else:
            print("no configuration meets every constraint")
        extra = [m for m in parse_columns(args.columns) if m not in (obj, *(c.metric for c in result.constraints))]
        if extra:
            try:
                check_metrics(result.evaluated, extra)
            except ConstraintError as exc:
                print(f"--columns: {exc}", file=sys.stderr)
        metrics = [c.metric for c in result.constraints] + extra
        if obj not in ("cost.compute_usd", *metrics):
            metrics.insert(0, obj)
        print("cheapest configuration of each group (e.g. per GPU type), best first:" if len(result) > 1
              else "the configuration found:")
        rows = [{"configuration": ", ".join(r["overrides"]),
                 "feasible": "yes" if r["feasible"] else "no",
                 **planner_cells(r), "load factor": plain(r.get("utilization.load_factor.mean")),
                 "headroom": headroom(r, result.constraints),
                 **{m: plain(r.get(f"{m}.mean")) for m in metrics}, "why not": r.get("why") or ""}
                for r in result]
        cols = ["configuration", "feasible", *COLUMNS, "load factor", "headroom", *metrics]
        if any(r.get("why") for r in result):
            cols.append("why not")
        print(text_table(rows, cols))
        print("headroom: slack of the tightest constraint; load factor: served work / work at the batch "
              "limits (1.0 = saturated); cost (window): the simulated window only", file=sys.stderr)
        print(f"{len(result.evaluated)} configurations evaluated × {result.seeds} seed(s); "
              f"wrote {out / 'plan.json'}, {out / 'plan.csv'}", file=sys.stderr)
        return 0 if result.best is not None else 1

    return guarded(body)
