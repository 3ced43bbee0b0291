"""Run every configuration of a grid of overrides x seeds; tabulate means and 95% CIs.

``fleetsim sweep SCENARIO --grid PATH=VALUES ... [--seeds N]``.

Prints one line per configuration: knob values, whether every replication kept up (``stable``),
the planner columns (GPUs, replicas, GPU-hours, $/hour, $/month, $/M output tokens and the
simulated window's cost; :mod:`sim.planning.planner`) and summary keys (``--columns``; mean ± 95 %
CI half-width with ``--seeds`` > 1, ``mean (low–high)`` where the interval was cut at the metric's
range), in plain digits, and writes ``sweep.csv`` (one row per point), ``sweep_ci.csv``,
``sweep.json`` and figures to ``--out``. Finished points are kept in ``--out/points/``: run the
same command again after an interruption and only the missing points run. Exit status 1 when
some point failed (its error is in the tables), 2 for bad input.
"""
from __future__ import annotations

import argparse
import sys

from sim.commands.run import band_pct, report_hint
from sim.out_folder import check_out_dir
from sim.humanize import plural
from sim.metrics.band import DEFAULT_PCT, band_key, configuration_range
from sim.metrics.names import unit_of
from sim.planning.cli_support import add_common_arguments, check_workers, columns_known, default_out, guarded, kept_points
from sim.planning.constraints import ConstraintError
from sim.planning.knobs import KnobError
from sim.planning.table import fill, fit_table, terminal_width

SHOWN = ("latency.ttft.p99", "latency.tpot.p99", "slo.attainment", "utilization.load_factor")
"""Summary keys shown after the planner columns unless ``--columns`` names others."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "sweep")
    parser.add_argument("--grid", action="append", required=True, metavar="PATH=VALUES",
                        help="a field and its values, comma-separated or LOW..HIGH, e.g. "
                             "fleet.pools.0.replicas=4,8,16 (repeatable; the product is swept); fields that "
                             "move together are joined by &: "
                             "PATH&PATH=A&B,C&D (a GPU and its price: README, the B200 question); a value in "
                             "[...] or {...} is one YAML value, commas inside it included, e.g. "
                             "'economics.agreements.0.rate=0.2,[{up_to_usd: 1.0e9, rate: 0.2}, {rate: 0.15}]'")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    parser.add_argument("--capacity-band", nargs="?", const=DEFAULT_PCT, type=band_pct, metavar="PCT",
                        help=f"run every point with the capacity band (see fleetsim run --capacity-band; default "
                             f"{DEFAULT_PCT:g}): each latency and SLO column gains a range column 'faster – "
                             f"slower' at ±PCT %% capacity, and the tables the capacity_band.* keys")
    parser.add_argument("--columns", default=None, metavar="KEY,KEY",
                        help="summary keys to tabulate after the planner columns (GPUs, replicas, "
                             "GPU-hours, $/hour, $/month, $/M out tok, cost (window)), e.g. "
                             f"latency.ttft.p99,slo.attainment (default {','.join(SHOWN)}); a table wider than "
                             "the terminal leaves columns out, never one named here (a planner column too); the report "
                             "page's table shows the columns named, in their order")


def _knob_cell(path: str, value) -> str:
    """A knob's value in the table: a share's brackets in words (``20 % to $5,000, then 10 %``), else as read."""
    from sim.economics.tiers import RATE_KEY, words

    said = words(value) if RATE_KEY.fullmatch(path) else None
    return said if said is not None else str(value)


def _cell(row: dict, metric: str) -> str:
    from sim.humanize import interval
    from sim.planning.planner import plain
    from sim.report.planner_columns import percent

    share = _table_unit(metric)[0] == "%"     # a share's fractions, written in per cent by percent()
    m, lo, hi = (row.get(f"{metric}.{s}") if share else shown_value(metric, row.get(f"{metric}.{s}"))
                 for s in ("mean", "ci_low", "ci_high"))
    if isinstance(m, (int, float)):
        return interval(m, lo, hi, percent if share else plain)
    return plain(m)


#: the unit a table column shows a summary key's numbers in, by the key's unit (:data:`sim.metrics.names.METRICS`),
#: and the factor from the summary's number: latencies in milliseconds, as the run summary and the why-not words
#: say them, money in dollars, a share in per cent, as the run summary says attainment (:func:`metric_text`)
TABLE_UNITS = {"s": ("ms", 1000.0), "USD": ("$", 1.0), "%": ("%", 100.0)}


def with_unit(column: str) -> str:
    """A metric column's header with the unit of its plain numbers: ``latency.ttft.p99 (ms)``,
    ``slo.attainment (%)``, ``cost.compute_usd ($)``.

        >>> with_unit("latency.tpot.p99"), with_unit("latency.ttft.p99 ±3 %"), with_unit("utilization.load_factor")
        ('latency.tpot.p99 (ms)', 'latency.ttft.p99 ±3 % (ms)', 'utilization.load_factor')
    """
    unit = _table_unit(column)[0]
    return f"{column} ({unit})" if unit else column


def shown_value(metric: str, value):
    """A summary number of ``metric`` in the unit its table column shows (:func:`with_unit`): a latency's
    seconds as milliseconds, a share in per cent; anything else, or no number, as it is.

        >>> shown_value("latency.tpot.p99", 0.00999), shown_value("slo.attainment", 0.5), shown_value("latency.ttft.p99", None)
        (9.99, 50.0, None)
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    return value * _table_unit(metric)[1]


def metric_text(metric: str, value, apart=()) -> str:
    """A summary number of ``metric`` as its table column shows it (:func:`with_unit`): a share in per cent
    with the digits that keep it apart from 0, 100 and the marks ``apart`` (a constraint's bounds) it is not
    (:func:`sim.report.planner_columns.percent`), anything else in plain digits in its column's unit.

        >>> metric_text("slo.attainment", 0.99999), metric_text("slo.attainment", 0.0), metric_text("latency.ttft.p99", 0.2182)
        ('99.999', '0.00', '218')
    """
    from sim.report.planner_columns import percent, plain

    if _table_unit(metric)[0] == "%":
        return percent(value, apart)
    return plain(shown_value(metric, value))


def _table_unit(column: str) -> tuple[str, float]:
    """The unit and factor of :data:`TABLE_UNITS` for a metric column (a range column: its metric's)."""
    return TABLE_UNITS.get(unit_of(column.split(" ±")[0]), ("", 1.0))


#: the columns a table too wide for the terminal leaves out first, in order (the planner columns a
#: planner reads least: the window's cost and GPU-hours follow from $/hour and GPUs)
DROPPED_FIRST = ("cost (window)", "GPU-hours", "$/hour", "replicas", "n")


def column_order(named: list[str], metrics: list[str]) -> list[str]:
    """The table's columns after the knobs, ``n`` and ``stable``: the planner columns ``--columns`` did not
    name, in their order, then those it named in the order named (a metric's range column after it), as the
    report page's table orders them; the metric columns ``metrics`` (the default ones when it named planner
    columns only) after the planner columns it named.

        >>> column_order([], ["slo.attainment"])
        ['GPUs', 'replicas', 'GPU-hours', '$/hour', '$/month', '$/M out tok', 'cost (window)', 'slo.attainment']
        >>> column_order(["slo.attainment", "$/month", "latency.ttft.p99", "GPUs"],
        ...              ["slo.attainment", "latency.ttft.p99", "latency.ttft.p99 ±3 %"])[-5:]
        ['slo.attainment', '$/month', 'latency.ttft.p99', 'latency.ttft.p99 ±3 %', 'GPUs']
    """
    from sim.planning.planner import COLUMNS

    named = list(dict.fromkeys(named))
    lead = [c for c in COLUMNS if c not in named]
    if not any(c not in COLUMNS for c in named):         # planner columns only (or none): the metrics after them
        return [*lead, *named, *metrics]
    ranges = {m: [c for c in metrics if c == m or c.startswith(f"{m} ±")] for m in named if m not in COLUMNS}
    return [*lead, *(c for m in named for c in ([m] if m in COLUMNS else ranges[m]))]


def droppable(metrics: list[str], named: list[str]) -> list[str]:
    """What a table too wide for the terminal may leave out, in order: :data:`DROPPED_FIRST`, then the
    metric columns from the last (range columns with them), never a column ``--columns`` named."""
    return [c for c in (*DROPPED_FIRST, *reversed(metrics)) if c not in named]


def left_out(dropped: list[str], where: str) -> str:
    """The hint under a table that left columns out to fit the terminal, wrapped to it too; it shows how to
    keep the last of them that ``--columns`` can name (by its key, not its heading: ``slo.attainment``
    for ``slo.attainment (%)``), and no such example when none can be."""
    import shlex

    names = [n for n in map(column_name, dropped) if n]
    keep = f"keep one by naming it: --columns {shlex.quote(names[-1])}; " if names else ""
    return fill(f"left out to fit {terminal_width()} columns: {', '.join(dropped)} ({keep}every column is in {where})")


def column_name(heading: str) -> str | None:
    """What ``--columns`` calls the table column headed ``heading``, or None for one it cannot name (``n``,
    ``stable``, ``answer``, ``why not``, a range column):

        >>> column_name("slo.attainment (%)"), column_name("$/hour"), column_name("load factor")
        ('slo.attainment', '$/hour', 'utilization.load_factor')
        >>> column_name("latency.ttft.p99 ±3 % (ms)") is None, column_name("n") is None
        (True, True)
    """
    from sim.planning.planner import COLUMNS

    if heading in COLUMNS:
        return heading
    if heading == "load factor":        # the plan's name for utilization.load_factor
        return "utilization.load_factor"
    key = heading.split(" (")[0]
    return key if "." in key and " " not in key and with_unit(key) == heading else None


def _stable(row: dict) -> str:
    if row.get("stable") is None and row.get("n", 0) > 0:
        return "?"
    return {True: "yes", False: "NO"}.get(row.get("stable"), "-")


def main(args: argparse.Namespace) -> int:
    def body() -> int:
        from sim.planning.evaluator import check_metrics
        from sim.planning import planner
        from sim.planning.planner import COLUMNS, parse_columns, planner_cells
        from sim.planning.sweep import sweep
        from sim.report.planner_columns import replicas_repeat_a_knob

        check_workers(args)
        named = parse_columns(args.columns)
        shown = [c for c in named if c not in COLUMNS] or list(SHOWN)
        if not columns_known(args, "--grid"):
            return 2
        out = default_out(args, "sweep")
        check_out_dir(out)  # before any point runs: a bad --out would otherwise fail at the first store
        try:
            result = sweep(args.scenario, args.grid, seeds=args.seeds, overrides=args.overrides,
                           executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                           out=out, progress=not args.quiet, figures=not args.no_figures,
                           capacity_band=args.capacity_band, columns=named or None)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(kept_points(out)) from None
        knobs = [p for k in result.knobs for p in k.paths]
        if [c for c in named if c not in COLUMNS]:
            try:
                check_metrics(result.configurations, shown)
            except ConstraintError as exc:   # the points are stored: say so, show the rest
                print(f"--columns: {exc}", file=sys.stderr)
        ranged = [m for m in shown if args.capacity_band is not None and band_key(m, "faster")]
        plain = planner.plain
        rows = [{**{k: _knob_cell(k, r.get(k)) for k in knobs}, "n": str(r["n"]), "stable": _stable(r),
                 **planner_cells(r), **{m: _cell(r, m) for m in shown},
                 **{f"{m} ±{args.capacity_band:g} %": configuration_range(r, m, lambda v, m=m: metric_text(m, v))
                    for m in ranged}}
                for r in result.configurations]
        cols = [c for m in shown for c in (m, *([f"{m} ±{args.capacity_band:g} %"] if m in ranged else []))]
        order = column_order(named, cols)
        if "replicas" not in named and replicas_repeat_a_knob(result.configurations, knobs):
            order.remove("replicas")    # the knob's column says it already
        table, dropped = fit_table(rows, [*knobs, "n", "stable", *order],
                                   [*knobs, "n", "stable", *(c if c in COLUMNS else with_unit(c) for c in order)],
                                   terminal_width(), droppable(cols, named), lead=len(knobs))
        print(table)
        if dropped:
            print(left_out(dropped, "sweep.csv"), file=sys.stderr)
        if any(r.get("stable") is False for r in result.configurations):
            print(fill("stable NO: the backlog grew over the run (the fleet did not keep up); its latencies "
                       "describe a growing queue"), file=sys.stderr)
        if any(_stable(r) == "?" for r in result.configurations):
            print(fill("stable ?: the run is too short to tell whether the fleet keeps up at that load "
                       "(see stability.verdict); lengthen duration"), file=sys.stderr)
        reused = sum(1 for r in result.records if r.get("reused"))
        print(fill(f"{len(result)} {plural(len(result), 'point')} ({reused} reused from {out}), {len(result.errors)} failed; "
                   f"wrote {out / 'sweep.csv'}, {out / 'sweep_ci.csv'}, {out / 'sweep.json'}; "
                   f"{report_hint(out)}"), file=sys.stderr)
        for r in result.errors:
            cfg = ", ".join(f"{k}={r.get(k)}" for k in knobs)
            print(fill(f"failed: {cfg} seed={r['seed']}: {r['error']}"), file=sys.stderr)
        return 1 if result.errors else 0

    return guarded(body, "sweep", ((KnobError, "--grid"),))
