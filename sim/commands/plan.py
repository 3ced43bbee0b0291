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
With ``--capacity-band [PCT]`` every configuration evaluated is also run with the model's capacity
``PCT`` % lower, and the plan names the cheapest configuration meeting the constraints there too (the
robust answer), saying plainly when it is not the point answer.
Exit status 1 when no configuration meets the constraints, 2 for bad input.
"""
from __future__ import annotations

import argparse
import math
import sys

from sim.commands.run import band_pct, report_hint
from sim.out_folder import check_out_dir
from sim.commands.sweep import DROPPED_FIRST, left_out, metric_text, with_unit
from sim.metrics.band import DEFAULT_PCT
from sim.planning.cli_support import (add_common_arguments, check_workers, columns_known, default_out, guarded,
                                      kept_points, reused_note)
from sim.metrics.names import said
from sim.planning.constraints import ConstraintError, UnknownMetricError, parse_constraint
from sim.planning.knobs import KnobError
from sim.planning.one_price import one_price_note  # noqa: F401 (also sim.commands.plan.one_price_note, as before)
from sim.planning.stats import is_number
from sim.planning.table import fill, fit_table, terminal_width
from sim.report.planner_columns import plain, traffic_line
from sim.report.search_pages import short_paths

#: objectives that are the simulated window's money (the answer line says so)
WINDOW_COSTS = ("cost.compute_usd", "cost.compute_with_commits_usd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "plan")
    parser.add_argument("--vary", action="append", required=True, metavar="PATH=VALUES",
                        help="a knob: LOW..HIGH (integer, bisected) or comma-separated values "
                             "(enumerated), e.g. fleet.pools.0.replicas=1..64 (repeatable); fields that move "
                             "together are joined by &: "
                             "PATH&PATH=A&B,C&D (a GPU and its price: README, the B200 question)")
    parser.add_argument("--constraint", action="append", default=[], metavar="METRIC<=X",
                        help="a summary key, one of <= < >= >, and a number, e.g. 'latency.ttft.p99<=2.0' (seconds) or "
                             "'slo.attainment>=0.99' (repeatable; judged at the unfavourable end of the 95%% interval "
                             "with --seeds > 1; without any, the cheapest configuration that keeps up)")
    parser.add_argument("--objective", default="cost",
                        help="what to minimise: cost (= cost.compute_usd, the billed compute; the default), cost_with_commits "
                             "(= cost.compute_with_commits_usd: plus the compute commits' shortfalls) or another "
                             "numeric summary key")
    parser.add_argument("--no-figures", action="store_true", help="skip the Pareto figure")
    parser.add_argument("--capacity-band", nargs="?", const=DEFAULT_PCT, type=band_pct, metavar="PCT",
                        help=f"also run every configuration evaluated with the model's capacity PCT %% lower "
                             f"(default {DEFAULT_PCT:g}, about the step-time model's throughput error) and name the "
                             f"cheapest configuration meeting the constraints there too (the robust answer)")
    parser.add_argument("--columns", default=None, metavar="KEY,KEY",
                        help="summary keys to tabulate besides the planner columns and the constraints' "
                             "metrics, e.g. latency.tpot.p99,utilization.kv_cache_mean; a table wider than the "
                             "terminal leaves columns out, never one named here (a planner column such as "
                             "'$/hour' too)")


def _near_objective(given: str) -> str:
    """`` (did you mean cost_with_commits?)`` when ``given`` is close to an objective's name (``cost_with_commit``)."""
    import difflib

    from sim.planning.capacity import OBJECTIVES

    near = difflib.get_close_matches(given.strip(), list(OBJECTIVES), n=1, cutoff=0.8)
    return f" (did you mean {near[0]}?)" if near else ""


def main(args: argparse.Namespace) -> int:
    def body() -> int:
        from sim.metrics.band import SLOWER, answer_rows, robust_feasible
        from sim.planning.capacity import objective_key, objective_names, plan
        from sim.planning.evaluator import check_metrics
        from sim.humanize import plural
        from sim.planning.planner import COLUMNS, parse_columns, planner_cells, planner_values
        from sim.report.planner_columns import plan_rows, replicas_repeat_a_knob, verdict

        check_workers(args)
        if args.objective is not None and not args.objective.strip():
            print(f"--objective: empty: give the summary key to minimise, such as latency.ttft.p99, or "
                  f"{objective_names()}", file=sys.stderr)
            return 2
        if not columns_known(args, "--vary"):
            return 2
        out = default_out(args, "plan")
        check_out_dir(out)  # before any point runs: a bad --out would otherwise fail at the first store
        try:
            result = plan(args.scenario, args.vary, constraints=args.constraint,
                          objective=args.objective, seeds=args.seeds, overrides=args.overrides,
                          executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                          out=out, progress=not args.quiet, figures=not args.no_figures,
                          capacity_band=args.capacity_band, columns=args.columns)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(kept_points(out)) from None
        except UnknownMetricError as exc:       # said after the flag that named the metric
            print(f"--objective: {exc}; or {objective_names()}{_near_objective(args.objective)}"
                  if objective_key(args.objective) in exc.metrics
                  else f"--constraint: {exc}", file=sys.stderr)
            return 2
        obj = result.objective

        def described(row) -> str:
            b = planner_values(row)
            return (f"{', '.join(row['overrides'])}  ({plain(b['GPUs'])} {plural(b['GPUs'], 'GPU')}, "
                    f"{plain(b['$/month'], money=True)}/month; {said(obj, row.get(obj + '.mean'))}"
                    f"{' for the simulated window' if obj in WINDOW_COSTS else ''})")

        if result.best is not None:
            print(fill(f"cheapest meeting all constraints: {described(result.best)}"))
            for line in (million_tokens_line(result.best), traffic_line(result.best),
                         judged_line(result.seeds, bool(result.constraints)),
                         one_fewer_line(result.best, result.evaluated, result.knobs)):
                if line:
                    print(fill(f"  {line}"))
        else:
            print("no configuration meets every constraint")
            for u in result.unmet:
                print(fill(out_of_reach(u)))
        for s in result.skipped:       # a layout that cannot hold the model: the answer is from the others
            print(fill(f"skipped {', '.join(s['group']) or 'the plan'}, which cannot hold the model: {s['reason']}"))
        if not result.constraints:
            print(fill("no --constraint given: the answer is the cheapest configuration that keeps up with its "
                       "traffic"), file=sys.stderr)
        band = result.band
        if band is not None:
            print(fill(robust_line(result, described)))
        named = parse_columns(args.columns)
        extra = [m for m in named if m not in (obj, *(c.metric for c in result.constraints), *COLUMNS)]
        if extra:
            try:
                check_metrics(result.evaluated, extra)
            except ConstraintError as exc:
                print(f"--columns: {exc}", file=sys.stderr)
        metrics = [c.metric for c in result.constraints] + extra
        if obj not in ("cost.compute_usd", *metrics):
            metrics.insert(0, obj)
        answers = answer_rows(list(result), result.robust_groups)
        shown = plan_rows(answers, result.evaluated, obj)
        print(fill(heading_line(result, len(answers), len(shown) > len(answers))))
        slower = f"at -{band:g} %" if band is not None else None
        knobs = [p for k in result.knobs for p in k.paths]
        best = None if result.best is None else result.best.get("overrides")
        # a metric's constraint bounds: a share just short of one never reads as it (metric_text)
        bounds = {m: [c.bound for c in result.constraints if c.metric == m] for m in metrics}
        rows = [{**{k: str(r.get(k, "-")) for k in knobs}, "answer": verdict(r, answer, best),
                 "feasible": "yes" if r["feasible"] else "no",
                 **({slower: "yes" if robust_feasible(r) else "no"} if slower else {}),
                 **planner_cells(r), "load factor": plain(r.get("utilization.load_factor.mean")),
                 "headroom": r["headroom.text"],
                 **{with_unit(m): metric_text(m, r.get(f"{m}.mean"), bounds[m]) for m in metrics},
                 **({f"{with_unit(m)} {slower}": metric_text(m, r.get(f"{SLOWER}{m}.mean"), bounds[m]) for m in metrics}
                    if slower else {}),
                 "why not": why_not(r, slower)}
                for r, answer in shown]
        cols = [*knobs, "answer", "feasible",
                *([slower] if slower else []), *COLUMNS, "load factor", "headroom", *map(with_unit, metrics),
                *([f"{with_unit(m)} {slower}" for m in metrics] if slower else [])]
        if "replicas" not in named and replicas_repeat_a_knob([r for r, _ in shown], knobs):
            cols.remove("replicas")     # the knob's column says it already
        if any(r["why not"] for r in rows):
            cols.append("why not")
        width = terminal_width()
        table, dropped = fit_table(rows, cols, None, width,
                                   # feasible says again what the answer column's meets / fails says
                                   ["why not", *(["feasible"] if "answer" in cols and not slower else []),
                                    *(c for c in (*DROPPED_FIRST[:-1], "load factor") if c not in named),
                                    *(c for c in (*reversed(extra), *(["answer"] if slower else [])) if c not in named)],
                                   lead=len(knobs))
        print(table)
        if "why not" in dropped:    # said under the table, one line per row that misses
            dropped.remove("why not")
            for r in rows:
                if r["why not"]:
                    print(fill(f"why not {', '.join(f'{short}={r[k]}' for short, k in zip(short_paths(knobs), knobs))}"
                               f" ({r['answer']}): {r['why not']}", width))
        if dropped:
            print(left_out(dropped, "plan.csv"), file=sys.stderr)
        if (note := result.one_price_note) is not None:
            print(fill(note), file=sys.stderr)
        print(fill(legend([c for c in cols if c not in dropped], slower, band)), file=sys.stderr)
        n = len(result.evaluated)
        print(fill(f"{n} {plural(n, 'configuration')} evaluated × {result.seeds} {plural(result.seeds, 'seed')}"
                   f"{f' at two capacities (1 and {1 - band / 100:g})' if slower else ''}; "
                   f"{reused_note(result.runs, result.reused, out)}wrote {out / 'plan.json'}, {out / 'plan.csv'}; "
                   f"{report_hint(out)}"), file=sys.stderr)
        return 0 if result.best is not None else 1

    return guarded(body, "plan", ((KnobError, "--vary"), (ConstraintError, "--constraint")))


def million_tokens_line(row: dict) -> str:
    """What a million tokens cost on a plan's answer, counted both ways (``cost.per_million_output_tokens``
    and ``cost.per_million_tokens``, prompt and output tokens together), with the prompts' share of the
    tokens: on a prompt-heavy trace (code completion: ~2,000 prompt tokens for ~30 output) the price per
    output token alone is some 70 times the price per token; empty without the figures, or with one that is no
    finite price (``Infinity`` read from a plan.json: not ``$inf``).

        >>> million_tokens_line({"cost.per_million_output_tokens.mean": 37.397, "cost.per_million_tokens.mean": 0.5474,
        ...                      "throughput.input_tokens_per_s.mean": 18955.6, "throughput.output_tokens_per_s.mean": 283.3})
        'a million tokens costs $37.40 counting output tokens alone, $0.55 counting prompt and output tokens (98.5 % of them prompt tokens)'
    """
    out, every = row.get("cost.per_million_output_tokens.mean"), row.get("cost.per_million_tokens.mean")
    if not all(is_number(v) and math.isfinite(v) for v in (out, every)):
        return ""
    words = (f"a million tokens costs {plain(out, money=True)} counting output tokens alone, "
             f"{plain(every, money=True)} counting prompt and output tokens")
    tin, tout = row.get("throughput.input_tokens_per_s.mean"), row.get("throughput.output_tokens_per_s.mean")
    if all(is_number(v) and math.isfinite(v) for v in (tin, tout)) and tin + tout > 0:
        words += f" ({100 * tin / (tin + tout):.1f} % of them prompt tokens)"
    return words


def judged_line(seeds: int, constrained: bool) -> str:
    """Which runs the answer's constraints were judged on: with several seeds, the unfavourable end of the 95 %
    interval over them (replication ``i`` runs at the scenario's seed + ``i``: docs/planning.md); with one,
    the single run's value.

        >>> judged_line(3, True)
        "constraints judged at the unfavourable end of the 95 % interval over 3 runs each (seeds: the scenario's seed + 0, 1, 2)"
        >>> judged_line(1, True)
        "constraints judged on one run each (the scenario's seed), no interval: --seeds 3 or more for a 95 % bound"
    """
    if not constrained:
        return ""
    if seeds == 1:
        return "constraints judged on one run each (the scenario's seed), no interval: --seeds 3 or more for a 95 % bound"
    offsets = ", ".join(map(str, range(seeds))) if seeds <= 4 else f"0, 1, ..., {seeds - 1}"
    return (f"constraints judged at the unfavourable end of the 95 % interval over {seeds} runs each "
            f"(seeds: the scenario's seed + {offsets})")


def one_fewer_line(best: dict, evaluated: list[dict], knobs) -> str:
    """What the answer's group gave one step below the answer on the bisected range (``fleet.pools.0.replicas=3``
    under an answer of 4), as the search tried it: the planner's first check that the answer is the least that
    meets the constraints. Empty without a range, or when the answer is the range's lowest value; a value the
    search did not need to try (a bisection may skip it only when the answer is its lowest) is said so.

        >>> from sim.planning.knobs import parse_knobs
        >>> knobs = parse_knobs(["fleet.pools.0.replicas=1..16"])
        >>> rows = [{"fleet.pools.0.replicas": 4, "feasible": True, "why": ""},
        ...         {"fleet.pools.0.replicas": 3, "feasible": False, "why": "TTFT p99 1.42 s, needs <= 1 s"}]
        >>> one_fewer_line(rows[0], rows, knobs)
        'one fewer, fleet.pools.0.replicas=3, fails: TTFT p99 1.42 s, needs <= 1 s'
    """
    ranged = next((k for k in knobs if k.is_range), None)
    if ranged is None:
        return ""
    path = ranged.paths[0]
    value = best.get(path)
    if not isinstance(value, int) or isinstance(value, bool) or ranged.low is None or value <= ranged.low:
        return ""
    others = [p for k in knobs if k is not ranged for p in k.paths]
    below = next((r for r in evaluated if r.get(path) == value - 1 and all(r.get(p) == best.get(p) for p in others)),
                 None)
    if below is None:
        return f"one fewer, {path}={value - 1}, was not tried"
    if below.get("feasible"):       # replication noise against a monotone knob: say it plainly
        return f"one fewer, {path}={value - 1}, also meets every constraint (costlier by the objective's mean)"
    return f"one fewer, {path}={value - 1}, fails: {below.get('why') or 'not feasible'}"


def out_of_reach(u: dict) -> str:
    """The line saying a constraint no configuration tried meets, with the best value one gave it
    (:func:`sim.planning.evaluator.unmet`)."""
    bound = parse_constraint(u["constraint"])
    metric = bound.metric
    if u["best"] is None:
        return f"  {u['constraint']}: no configuration tried reports {metric}"
    text = u["headroom.text"]
    off = f"{text[1:]} short of its bound" if text.startswith("-") and text.endswith("%") else \
        f"{text} its bound" if text.endswith(" over") else text
    return (f"  {u['constraint']} is out of reach: no configuration tried meets it; at best "
            f"{said(metric, u['best'], bound.bound)} ({', '.join(u['at'])}), {off}")


def heading_line(result, answers: int, miss: bool) -> str:
    """The line over the plan's table: what its ``answers`` rows are (:func:`table_title`; with the capacity
    band, each group's point and robust answers), then, with ``miss``, the nearest miss under them: last,
    after several rows; then, after one."""
    after = ("" if not miss else "; last, the configuration tried that came nearest to meeting them (nearest miss)"
             if answers > 1 or result.band is not None
             else ", then the one tried that came nearest to meeting the constraints (nearest miss)")
    if result.band is not None:
        return (f"each group's cheapest configuration meeting the constraints (point) and meeting them with "
                f"capacity {result.band:g} % lower (robust), {best_first(result)}{after}:")
    return table_title(result, answers).rstrip(":") + after + ":"


def best_first(result) -> str:
    """How the plan's table is ordered: by the objective it minimises (``--objective``, :data:`OBJECTIVES`),
    named with its summary key, e.g. ``best first by lowest cost.compute_usd (--objective cost)``."""
    from sim.planning.capacity import OBJECTIVES
    name = next((n for n, k in OBJECTIVES.items() if k == result.objective), None)
    return f"best first by lowest {result.objective} (--objective{f' {name}' if name else ''})"


def table_title(result, rows: int) -> str:
    """What the table under a plan without the capacity band lists, and in which order (:func:`best_first`)."""
    ranged = any(k.is_range for k in result.knobs)
    if result.best is None and ranged:
        return (f"each group's largest configuration tried (none meets every constraint), {best_first(result)}:"
                if rows > 1 else "the largest configuration tried (it does not meet every constraint):")
    if not ranged:
        return f"every configuration tried, {best_first(result)}:" if rows > 1 else "the configuration tried:"
    return f"cheapest configuration of each group (e.g. per GPU type), {best_first(result)}:" if rows > 1 else \
        "the configuration found:"


def robust_line(result, described) -> str:
    """What the plan says of its robust answer: the configuration, or that the point answer is robust
    too, or that nothing meets the constraints with the model's capacity ``band`` per cent lower."""
    pct = f"{result.band:g} %"
    if result.robust is None:
        return (f"with capacity {pct} lower than modelled no configuration tried meets every constraint: the answer "
                f"above holds only if the model's capacity does" if result.best is not None else
                f"nor with capacity {pct} lower than modelled")
    if result.best is not None and result.robust["overrides"] == result.best["overrides"]:
        return f"with capacity {pct} lower than modelled it still meets every constraint (robust)"
    return f"with capacity {pct} lower than modelled you need: {described(result.robust)} (robust)"


def legend(shown: list[str], slower: str | None, band: float | None) -> str:
    """The words under the plan's table for those of its columns that need them, of the columns ``shown``
    (a column left out to fit the terminal is not explained):

        >>> legend(["GPUs", "headroom", "load factor"], None, None)
        'headroom: slack of the tightest constraint; load factor: served work / work at the batch limits (1.0 = saturated)'
        >>> legend(["feasible"], None, None)
        'feasible: meets every constraint at its judged value and keeps up with its traffic (no growing backlog, no run too short to tell, no overload met by turning requests away)'
    """
    words = {"feasible": "meets every constraint at its judged value and keeps up with its traffic (no growing backlog, "
                         "no run too short to tell, no overload met by turning requests away)",
             "headroom": "slack of the tightest constraint",
             "load factor": "served work / work at the batch limits (1.0 = saturated)",
             "cost (window)": "the simulated window only"}
    parts = [f"{c}: {w}" for c, w in words.items() if c in shown]
    if slower:
        parts.append(f"{slower}: with the model's capacity {band:g} % lower (the same seeds)")
    return "; ".join(parts)


def why_not(row: dict, slower: str | None) -> str:
    """Why a row is not feasible at the model's capacity, else (with the band) why not at the slower side."""
    from sim.metrics.band import SLOWER

    if row.get("why") or slower is None:
        return row.get("why") or ""
    own = row.get(f"{SLOWER}why") or ""
    return f"{slower}: {own}" if own else ""
