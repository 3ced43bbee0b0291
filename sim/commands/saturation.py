"""Find the highest arrival rate (on a closed loop: client count) the fleet sustains within the SLO.

``fleetsim saturation SCENARIO [--attainment 0.99]``.

Brackets the rate at ``workload.arrival.rate`` (doubling/halving from the scenario's own rate)
then bisects to ``--tolerance`` (relative); a rate is sustained when ``slo.attainment`` is at
least ``--attainment`` at the lower 95 % confidence bound over ``--seeds`` replications and
every replication kept up (``stability.stable``); the table says why a rate was not sustained.
Prints the rate; writes ``saturation.json`` and ``saturation.csv`` to ``--out``. With
``--capacity-band [PCT]`` it searches twice more, with the model's capacity ``PCT`` % lower and
higher, and prints the rate with their answers as its range: ``84 req/s (81.48 – 85.67 at ±3 % capacity)``.
On a closed loop (``workload.arrival.process: closed``) it searches the client count instead and
prints it with the throughput reached: ``20 clients (1 req/s; fails at 21 clients)``.
"""
from __future__ import annotations

import argparse
import sys

from sim.commands.run import band_pct, report_hint
from sim.out_folder import check_out_dir
from sim.commands.sweep import metric_text, shown_value, with_unit
from sim.metrics.band import DEFAULT_PCT
from sim.planning.cli_support import (add_common_arguments, check_workers, default_out, guarded, kept_points,
                                      reused_note)
from sim.planning.constraints import ConstraintError
from sim.planning.planner import plain
from sim.planning.table import fill, fit_table, format_value, terminal_width


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1] (got {text!r})") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (got {v})")
    return v


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0 (got {text!r})") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (got {v})")
    return v


#: the highest ``--start`` (the scenario schema's largest arrival rate, ``workload.arrival.rate``)
MAX_START_RPS = 1e7


def _start(text: str) -> float:
    v = _positive(text)
    if not v <= MAX_START_RPS:
        raise argparse.ArgumentTypeError(f"must be a rate in requests/s up to {MAX_START_RPS:g} (on a closed loop a "
                                         f"client count up to 1,000,000; got {text!r})")
    return v


def _tolerance(text: str) -> float:
    """A relative bracket width in (0, 1): the search brackets by doubling, so 1 or more would end it
    before any bisection and report a rate only known within a factor of two."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), e.g. 0.02 (got {text!r})") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), e.g. 0.02: the search brackets by doubling, so 1 or "
                                         f"more would stop before any bisection (got {text!r})")
    return v


def _rate_path(text: str) -> str:
    from sim.planning.saturation import check_rate_path

    try:
        return check_rate_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "saturation")
    parser.add_argument("--attainment", type=_fraction, default=0.99,
                        help="minimum SLO attainment: the fraction of requests meeting the scenario's slo: block "
                             "(ttft_s, tpot_s; --set slo.ttft_s=1 to change it), default 0.99")
    parser.add_argument("--constraint", action="append", default=[], metavar="METRIC<=X",
                        help="extra constraint that must also hold (repeatable)")
    parser.add_argument("--start", type=_start, default=None, metavar="RATE",
                        help="first rate to try, requests/s (default: the scenario's); on a closed loop the "
                             "first client count, a whole number")
    parser.add_argument("--tolerance", type=_tolerance, default=0.02,
                        help="stop when the bracket is within this relative width, in (0, 1) (default 0.02)")
    parser.add_argument("--rate-path", type=_rate_path, default=None, metavar="PATH",
                        help="the field holding the arrival rate: rate, mean_rate, rates.N or rate_scale under "
                             "workload (default workload.arrival.rate)")
    parser.add_argument("--capacity-band", nargs="?", const=DEFAULT_PCT, type=band_pct, metavar="PCT",
                        help=f"search twice more, with the model's capacity PCT %% lower and higher (default "
                             f"{DEFAULT_PCT:g}, about the step-time model's throughput error): the rate is printed "
                             f"with the two answers as its range, on the baseline 84 req/s (81.48 – 85.67 at ±3 %% "
                             f"capacity)")


def over_own(rate: float, own: float | None, upper: float | None = None) -> str:
    """The saturation rate against the scenario's own (``own``, req/s): the traffic headroom a planner asks
    for, said after the rate (``; 1.19 times the scenario's 40 req/s``); short of it, said so, when the first
    failing rate ``upper`` is at or below it (or none was found); when the scenario's rate lies between the
    rate sustained and ``upper``, unresolved within the search's tolerance, said so, since neither was
    observed at it. A multiple short of 1 is said at most 0.99 (0.999 is ``0.99``, never a ``1.00`` short of it).
    Empty without the scenario's rate.

        >>> over_own(47.5, 40.0), over_own(30.0, 40.0, upper=31.0), over_own(47.5, None)
        ("; 1.19 times the scenario's 40 req/s", "; 0.75 times the scenario's 40 req/s: short of it", '')
        >>> over_own(39.96, 40.0, upper=40.7)
        "; 0.99 times the scenario's 40 req/s: between the rate sustained and the one failing, within the search's tolerance"
    """
    if own is None or not own > 0:
        return ""
    times = rate / own
    if times >= 1:
        return f"; {times:.2f} times the scenario's {format_value(own)} req/s"
    unresolved = upper is not None and upper > own
    return (f"; {min(times, 0.99):.2f} times the scenario's {format_value(own)} req/s"
            + (": between the rate sustained and the one failing, within the search's tolerance" if unresolved
               else ": short of it"))


def main(args: argparse.Namespace) -> int:
    def body() -> int:
        from sim.metrics.band import rate_range
        from sim.planning.saturation import saturation

        check_workers(args)
        out = default_out(args, "saturation")
        check_out_dir(out)  # before any point runs: a bad --out would otherwise fail at the first store
        try:
            res = saturation(args.scenario, attainment=args.attainment, constraints=args.constraint,
                             rate_path=args.rate_path, start=args.start, rel_tol=args.tolerance,
                             seeds=args.seeds, overrides=args.overrides, executor=args.executor,
                             workers=args.workers, scheduler=args.scheduler, out=out,
                             progress=not args.quiet, capacity_band=args.capacity_band)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(kept_points(out)) from None
        band = res.band
        closed = res.closed     # a closed loop's search: client counts, each with the throughput it reached
        probes = res.probes + [p for side in ("slower", "faster") if band for p in band[side]["probes"]]
        rows = [{"capacity": format_value(p.get("capacity", 1.0)),
                 **({"clients": format_value(p["concurrency"])} if closed else {}), "rate": format_value(p["rate"]),
                 "sustained": "yes" if p["feasible"] else "no",
                 # in per cent, never 100 for an attainment short of it, nor the target's for one just under it
                 with_unit("slo.attainment"): metric_text("slo.attainment", p.get("slo.attainment.mean"),
                                                          (res.attainment,)),
                 # in ms, with separators, as plan's and sweep's tables: 36,720, not 3.672e+04
                 with_unit("latency.ttft.p99"): plain(shown_value("latency.ttft.p99", p.get("latency.ttft.p99.mean"))),
                 "why not": p.get("why") or ""}
                for p in sorted(probes, key=lambda p: (p.get("capacity", 1.0), p["concurrency" if closed else "rate"]))]
        for r in rows if closed else ():
            r["req/s"] = r.pop("rate")
        cols = [*(["clients", "req/s"] if closed else ["rate"]), "sustained", with_unit("slo.attainment"),
                with_unit("latency.ttft.p99"), "why not"]
        scaled = str(args.rate_path or "").endswith("rate_scale")      # a multiplier of the rate, no unit
        heads = {"rate": "rate (×)" if scaled else "rate (req/s)"}      # a number with its unit
        shown = ["capacity", *cols] if band else cols
        table, dropped = fit_table(rows, shown, [heads.get(c, c) for c in shown], terminal_width(), ["why not"])
        print(table)
        for r in rows if dropped else ():       # too wide for the terminal: said under the table, one line a probe
            if r["why not"]:
                per = "×" if str(args.rate_path or "").endswith("rate_scale") else " req/s"
                at = (f"{r['clients']} clients" if closed else f"{r['rate']}{per}") + \
                    (f" at capacity {r['capacity']}" if band else "")
                print(fill(f"why not {at}: {r['why not']}"))
        clients = {"key": "concurrency", "unit": " clients"} if closed else {}
        if (res.concurrency if closed else res.rate) is None:       # nothing sustained
            print(fill(res.why_none + (f"; {rate_range(band, format_value, **clients)}" if band else "")))
            code = 1
        elif closed:
            upper = f"fails at {format_value(res.concurrency_upper)} clients" if res.concurrency_upper is not None \
                else "no failing client count found within the probe budget"
            ranged = f"{rate_range(band, format_value, **clients)}; " if band else ""
            reached = f"{format_value(res.rate)} req/s" if res.rate is not None else "no request completed"
            print(fill(f"saturation: {format_value(res.concurrency)} clients ({reached}; {ranged}{upper})"))
            code = 0
        else:
            # a trace's rate_scale is a multiple of the trace's own rate, not requests per second
            scale = str(args.rate_path or "").endswith("rate_scale")
            unit = "×" if scale else " req/s"
            upper = f"fails at {format_value(res.upper)}{unit}" if res.upper is not None else \
                "no failing rate found within the probe budget"
            ranged = f"{rate_range(band, format_value)}; " if band else ""
            whose = " the trace's rate" if scale else ""
            print(fill(f"saturation rate: {format_value(res.rate)}{unit}{whose} ({ranged}{upper})"
                       f"{'' if scale else over_own(res.rate, res.scenario_rate, upper=res.upper)}"))
            code = 0
        if band:
            pct = f"{band['pct']:g} %"
            what = "client count" if closed else "rate"
            print(fill(f"capacity: 1 is the model's; the range is the highest {what} sustained with the model's "
                       f"capacity {pct} lower and {pct} higher, each searched to the same tolerance"), file=sys.stderr)
        print(fill(f"{reused_note(res.runs, res.reused, out)}wrote {out / 'saturation.json'}; {report_hint(out)}"),
              file=sys.stderr)
        return code

    return guarded(body, "saturation", ((ConstraintError, "--constraint"),))

