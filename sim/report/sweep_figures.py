"""Figures of a sweep or a plan: metrics against each knob with confidence bars, and a Pareto plot.

Inputs are configuration rows (``<metric>.mean``, ``<metric>.ci_low``, ``<metric>.ci_high``, one
row per configuration, see :func:`sim.planning.sweep.configuration_rows`). Error bars are the
95 % Student-t intervals over replications, cut at the metric's natural range (an attainment bar
stops at 1, a latency bar at 0: :mod:`sim.planning.stats`); with one seed there are none. A sweep
run with the capacity band shades each latency and attainment line's range between its faster and
slower sides (``capacity_band.<side>.<metric>.mean``).

The Pareto plot puts compute cost (``cost.compute_usd``) against p99 TTFT
(``latency.ttft.p99``); a configuration is on the frontier when no other is at most as
expensive *and* at most as slow while strictly better in one of the two.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.humanize import money, share
from sim.metrics.names import heading
from sim.report.chart import figure_text
from sim.report.labels import label_points
from sim.report.render import new_figure, save_figure, short_name

def money_tick(usd: float, _pos: int | None = None) -> str:
    """A money axis's tick label: $0.25, $300k, $1.50M (never a 1e6 offset); an amount under $1,000
    keeps the decimals its tick needs, so a tick at 0.225 reads $0.225, not $0.23.

        >>> money_tick(0.225), money_tick(0.25), money_tick(300_000), money_tick(-12.5)
        ('$0.225', '$0.25', '$300k', '-$12.50')
    """
    if not math.isfinite(usd) or abs(usd) >= 1000:
        return money(usd, compact=True)
    decimals = next((d for d in range(2, 7) if abs(round(usd, d) - usd) < 1e-9 * max(1.0, abs(usd))), 6)
    return ("-" if usd < 0 else "") + f"${abs(usd):,.{decimals}f}"


#: the formatter of a money axis; its locator keeps to steps of 1, 2 and 5 (no $0.225 where $0.20 and
#: $0.25 would do)
MONEY_TICKS = FuncFormatter(money_tick)


def money_axis(axis, values: Sequence[float] = ()) -> None:
    """Money ticks on a matplotlib axis (``ax.xaxis`` or ``ax.yaxis``); with the ``values`` drawn on it (call
    it after drawing them), an axis of amounts none below zero starts just below zero, so that it shows
    no negative ticks: a sweep that priced nothing drew its $0 costs on an axis from -$0.04 to $0.04."""
    axis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))
    axis.set_major_formatter(MONEY_TICKS)
    vals = [v for v in values if math.isfinite(v)]
    if not vals or min(vals) < 0:
        return
    ax = axis.axes
    get, put = (ax.get_xlim, ax.set_xlim) if axis is ax.xaxis else (ax.get_ylim, ax.set_ylim)
    lo, hi = get()
    if lo < 0 < hi:             # a tick step is far above a fiftieth of the range: none falls below zero
        put(-0.02 * hi, hi)

#: the metrics a sweep's figures plot (GPU busy reads ~1 at any load: the load factor instead), with
#: their axis labels (:func:`sim.metrics.names.heading`)
SWEEP_METRICS = tuple((m, heading(m) + (" (1 = saturated)" if m == "utilization.load_factor" else ""))
                      for m in ("latency.ttft.p99", "latency.e2e.p99", "slo.attainment", "cost.compute_usd",
                                "utilization.load_factor", "throughput.output_tokens_per_s"))


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points when minimising both coordinates (sorted by x).

        >>> pareto_front([(1, 5), (2, 3), (3, 4), (4, 1)])
        [0, 1, 3]
    """
    order = sorted((i for i, (x, y) in enumerate(points) if math.isfinite(x) and math.isfinite(y)),
                   key=lambda i: (points[i][0], points[i][1]))
    front, best_y = [], math.inf
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def metric_vs_knob(ax, rows: Sequence[Mapping[str, Any]], knob: str, others: Sequence[str],
                   metric: str, label: str) -> bool:
    """Draw ``metric`` (mean ± CI) against ``knob``, one line per value of the other knobs (named in the
    legend by the shortest ending of their paths: ``gpu=h100-sxm``); a latency spread over more than
    50-fold (an overloaded configuration beside the others), on a log axis."""
    from sim.report.search_pages import short_paths

    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(o) for o in others), []).append(r)
    xs_all = [r.get(knob) for r in rows]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
    cats = list(dict.fromkeys(str(x) for x in xs_all))
    drawn = False
    for gkey, members in groups.items():
        xs = [(_num(m.get(knob)) if numeric else cats.index(str(m.get(knob)))) for m in members]
        ys = [_num(m.get(f"{metric}.mean")) for m in members]
        if all(math.isnan(y) for y in ys):
            continue
        lo = [_num(m.get(f"{metric}.ci_low")) for m in members]
        hi = [_num(m.get(f"{metric}.ci_high")) for m in members]
        yerr = None
        if any(math.isfinite(v) for v in lo + hi):
            yerr = [[max(y - l, 0.0) if math.isfinite(l) else 0.0 for y, l in zip(ys, lo)],
                    [max(h - y, 0.0) if math.isfinite(h) else 0.0 for y, h in zip(ys, hi)]]
        name = figure_text(", ".join(f"{o}={v}" for o, v in zip(short_paths([*others, knob]), gkey))) or None
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        xs = [xs[i] for i in order]
        ys = [ys[i] for i in order]
        if yerr is not None:
            yerr = [[e[i] for i in order] for e in yerr]
        line = ax.errorbar(xs, ys, yerr=yerr, marker="o", capsize=3, label=name)
        _band(ax, [members[i] for i in order], xs, metric, line.lines[0].get_color())
        drawn = True
    if not numeric:
        ax.set_xticks(range(len(cats)), [figure_text(c) for c in cats])
    elif all(float(x).is_integer() for x in xs_all):    # replicas, TP, batch sizes: no 2.5 ticks
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(figure_text(knob))
    ax.set_ylabel(label)
    if metric.startswith(("cost.", "cashflow.")):
        money_axis(ax.yaxis, [_num(r.get(f"{metric}.mean")) for r in rows])
    else:   # values as they are: a busy share of 0.9998 reads 0.9998, not "-0.0002" under a "+1" offset
        ax.ticklabel_format(axis="y", useOffset=False)
    if metric.startswith("latency.") and _wide([_num(r.get(f"{metric}.mean")) for r in rows]):
        ax.set_yscale("log")    # an overloaded configuration's minutes flattened the others' milliseconds to 0
    ax.grid(True, alpha=0.3)
    return drawn


def _band(ax, members: Sequence[Mapping[str, Any]], xs: Sequence[float], metric: str, color: str) -> None:
    """The capacity band of ``metric`` (mean of each side over the replications) as a shaded range
    behind its line, when the sweep ran with ``--capacity-band``."""
    sides = [[_num(m.get(f"capacity_band.{side}.{metric}.mean")) for m in members] for side in ("faster", "slower")]
    if all(math.isnan(v) for v in sides[0] + sides[1]):
        return
    pct = _num(members[0].get("capacity_band.pct.mean"))
    ax.fill_between(xs, *sides, color=color, alpha=0.18, linewidth=0,
                    label=f"±{pct:g} % capacity" if math.isfinite(pct) else "capacity band")


def write_sweep_figures(out: Path | str, result: Any, metrics=SWEEP_METRICS) -> list[Path]:
    """One figure per knob (``figures/sweep_<knob>``, a panel per metric) and ``figures/pareto``."""
    out = Path(out)
    rows = result.configurations
    paths: list[Path] = []
    knob_paths = [k.path for k in result.knobs]
    present = [(m, lab) for m, lab in metrics
               if any(math.isfinite(_num(r.get(f"{m}.mean"))) for r in rows)]
    for knob in knob_paths:
        if len({repr(r.get(knob)) for r in rows}) < 2 or not present:
            continue
        others = [k for k in knob_paths if k != knob]
        ncols = 3 if len(present) > 2 else len(present)
        nrows = math.ceil(len(present) / ncols)
        fig = new_figure(4.2 * ncols, 3.2 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, (m, lab) in zip(axes, present):
            metric_vs_knob(ax, rows, knob, others, m, lab)
        for ax in axes[len(present):]:
            ax.set_visible(False)
        if (others and len(rows) > 1) or any("capacity_band.pct.mean" in r for r in rows):
            axes[0].legend(fontsize="small")
        ci = " (mean ± 95% CI)" if result.seeds > 1 else ""
        fig.suptitle(f"sweep over {figure_text(knob)}{ci}")
        paths += save_figure(fig, out / "figures" / f"sweep_{short_name(knob)}")
    if any(math.isfinite(_num(r.get("cost.compute_usd.mean"))) for r in rows):
        paths += pareto_figure(rows, out / "figures" / "pareto", label_keys=knob_paths)
    return paths


def row_index(rows: Sequence[Mapping[str, Any]], row: Mapping[str, Any] | None) -> int | None:
    """The index in ``rows`` of the configuration with ``row``'s overrides (None for none): where a plan's
    answer is among the configurations it evaluated."""
    return next((i for i, r in enumerate(rows) if isinstance(row, Mapping) and r.get("overrides") == row.get("overrides")),
                None)


def pareto_figure(rows: Sequence[Mapping[str, Any]], stem: Path, label_keys: Sequence[str] = (),
                  feasible: Sequence[bool] | None = None, best: int | None = None,
                  x_metric: str = "cost.compute_usd", y_metric: str = "latency.ttft.p99",
                  title: str = "cost vs p99 TTFT", robust: tuple[int, float] | None = None,
                  constraints: Sequence[str] = ()) -> list[Path]:
    """Scatter of configurations (x: cost, y: p99 TTFT, with CI bars), frontier as a step line.

    ``feasible`` marks configurations meeting all constraints (hollow markers otherwise);
    ``best`` is the index of the chosen configuration (starred); ``robust`` the index of a plan's
    robust answer and its band's width in per cent (ringed: it meets them with that much less capacity);
    ``constraints`` (a plan's, as ``plan.json`` keeps them: ``latency.ttft.p99<=0.5``) on either axis's
    metric drawn as a dashed line at their bound, named in the legend as the page names them (``TTFT p99
    ≤ 500 ms``, :func:`sim.report.search_pages.bound_said`).
    """
    from sim.report.search_pages import bound_said

    fig = new_figure(7.0, 4.8)
    ax = fig.subplots()
    pts = [(_num(r.get(f"{x_metric}.mean")), _num(r.get(f"{y_metric}.mean"))) for r in rows]
    front = pareto_front(pts)
    named = labelled(len(rows), front, [best, None if robust is None else robust[0]]) if label_keys else set()
    labels: list[tuple[tuple[float, float], str]] = []     # placed last, clear of each other (sim.report.labels)
    for i, (r, (x, y)) in enumerate(zip(rows, pts)):
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        lo, hi = _num(r.get(f"{y_metric}.ci_low")), _num(r.get(f"{y_metric}.ci_high"))
        yerr = [[max(y - lo, 0)], [max(hi - y, 0)]] if math.isfinite(lo) and math.isfinite(hi) else None
        ok = True if feasible is None else bool(feasible[i])
        ax.errorbar([x], [y], yerr=yerr, fmt="o", color="C0" if ok else "C3",
                    mfc="C0" if ok else "none", capsize=2, alpha=0.8)
        if i in named:
            labels.append(((x, y), figure_text(", ".join(str(r.get(k)) for k in label_keys))))
    if len(front) > 1:          # one point is no line: a legend entry would name nothing drawn
        fx = [pts[i][0] for i in front]
        fy = [pts[i][1] for i in front]
        ax.step(fx, fy, where="post", color="C2", lw=1.2, label="Pareto frontier")
    if best is not None and 0 <= best < len(pts) and all(math.isfinite(v) for v in pts[best]):
        ax.plot([pts[best][0]], [pts[best][1]], marker="*", ms=16, color="C1", ls="none",
                label="cheapest meeting constraints")
    if robust is not None and 0 <= robust[0] < len(pts) and all(math.isfinite(v) for v in pts[robust[0]]):
        ax.plot([pts[robust[0]][0]], [pts[robust[0]][1]], marker="o", ms=15, mfc="none", mew=1.8, color="C4",
                ls="none", label=f"cheapest meeting them with {robust[1]:g} % less capacity")
    for metric, op, bound in _bounds(constraints, (x_metric, y_metric)):
        rule = ax.axhline if metric == y_metric else ax.axvline
        rule(bound, color="grey", ls="--", lw=1.0, label=bound_said(metric, op, bound))
    if feasible is not None:
        ax.plot([], [], "o", color="C0", label="meets constraints")
        ax.plot([], [], "o", color="C3", mfc="none", label="violates a constraint")
    ax.set_xlabel(heading(x_metric))
    if x_metric.startswith(("cost.", "cashflow.")):
        money_axis(ax.xaxis, [p[0] for p in pts])
    ax.set_ylabel(heading(y_metric))
    ax.set_yscale("log" if _wide([p[1] for p in pts]) else "linear")
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    if labels:
        label_points(ax, [p for p, _ in labels], [t for _, t in labels])
    return save_figure(fig, stem)


#: the most points a Pareto figure labels: past it, only the frontier's and the chosen ones
MAX_LABELS = 40


def labelled(n: int, front: Sequence[int], chosen: Sequence[int | None] = ()) -> set[int]:
    """Which of ``n`` points a Pareto figure labels with their knob values: every one up to
    :data:`MAX_LABELS`; past it (a plan over GPU types, parallelisms and replica counts evaluates dozens,
    and unlabelled dots did not say which GPU type was the cheap one) the ``front``'s and the ``chosen``
    ones (a plan's answer and robust answer), as long as they are at most as many; else none.

        >>> sorted(labelled(3, [0])), sorted(labelled(41, [2, 7], [5, None])), labelled(41, range(41))
        ([0, 1, 2], [2, 5, 7], set())
    """
    if n <= MAX_LABELS:
        return set(range(n))
    named = {*front, *(i for i in chosen if i is not None and 0 <= i < n)}
    return named if len(named) <= MAX_LABELS else set()


def _bounds(constraints: Sequence[str], metrics: Sequence[str]) -> list[tuple[str, str, float]]:
    """``(metric, op, bound)`` of each of ``constraints`` (texts) on one of ``metrics``; a text that is no
    constraint, passed over.

        >>> _bounds(["latency.ttft.p99<=0.5", "slo.attainment>=0.99", "bad"], ["cost.compute_usd", "latency.ttft.p99"])
        [('latency.ttft.p99', '<=', 0.5)]
    """
    from sim.metrics.constraint_text import ConstraintError, split_constraint

    out = []
    for text in constraints:
        try:
            metric, op, bound = split_constraint(str(text))
        except ConstraintError:
            continue
        if metric in metrics and math.isfinite(bound):
            out.append((metric, op, bound))
    return out


def _wide(values: Sequence[float]) -> bool:
    v = [x for x in values if math.isfinite(x) and x > 0]
    return len(v) > 1 and max(v) / min(v) > 50


def saturation_figure(data: Mapping[str, Any], stem: Path) -> list[Path]:
    """Saturation search (``saturation.json``): SLO attainment and p99 TTFT against the arrival
    rate of every probe (sorted by rate; filled: sustained, hollow: failed), the attainment
    target as a dashed line and the answer, the highest sustained rate, as a vertical line; with the
    capacity band, the rates sustained at ∓PCT % capacity as a shaded span around it. A closed
    loop's search (``concurrency`` in the file) is drawn against its client counts."""
    key, unit = ("concurrency", " clients") if "concurrency" in data else ("rate", " req/s")
    probes = sorted((p for p in data.get("probes", []) if math.isfinite(_num(p.get(key)))),
                    key=lambda p: _num(p.get(key)))
    fig = new_figure(7.5, 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    rate = _num(data.get(key))
    span = _rate_span(data.get("capacity_band"), key)
    for ax, metric, label in ((top, "slo.attainment", heading("slo.attainment")),
                              (bottom, "latency.ttft.p99", heading("latency.ttft.p99"))):
        xs = [_num(p.get(key)) for p in probes]
        ys = [_num(p.get(f"{metric}.mean")) for p in probes]
        ax.plot(xs, ys, color="C0", lw=1.2)
        for x, y, p in zip(xs, ys, probes):
            ok = bool(p.get("feasible"))
            ax.plot([x], [y], "o", color="C0" if ok else "C3", mfc="C0" if ok else "none")
        if math.isfinite(rate):
            ax.axvline(rate, color="C2", lw=1.5, label=f"highest sustained: {rate:g}{unit}")
        if span is not None:
            ax.axvspan(span[0], span[1], color="C2", alpha=0.15, lw=0,
                       label=f"at ±{span[2]:g} % capacity: {span[0]:.4g} – {span[1]:.4g}{unit}")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    target = _num(data.get("attainment"))
    if math.isfinite(target):
        # said in per cent too, as the page's answer and table say attainment (the axis reads 0-1)
        top.axhline(target, color="grey", ls="--", lw=1.0, label=f"target {target:g} (≥ {share(target)})")
    if _wide([_num(p.get("latency.ttft.p99.mean")) for p in probes]):
        bottom.set_yscale("log")
    top.plot([], [], "o", color="C0", label="sustained")
    # a probe fails by its attainment or by its stability (a backlog growing, or a run too short to
    # tell): a hollow marker above the target line is the second kind, so the legend names both
    top.plot([], [], "o", color="C3", mfc="none", label="not sustained (SLO missed, or not shown to keep up)")
    top.legend(fontsize="small", loc="lower left")
    if key == "concurrency":
        top.set_title("saturation: SLO attainment and p99 TTFT against closed-loop clients")
        bottom.set_xlabel(f"clients ({figure_text(data.get('rate_path', 'workload.arrival.concurrency'))})")
    else:
        top.set_title("saturation: SLO attainment and p99 TTFT against arrival rate")
        bottom.set_xlabel(f"arrival rate (req/s; {figure_text(data.get('rate_path', 'workload.arrival.rate'))})")
    return save_figure(fig, stem)


def _rate_span(band: Any, key: str = "rate") -> tuple[float, float, float] | None:
    """``(slower rate, faster rate, pct)`` of a saturation search's capacity band, when both sides found one
    (``key`` ``concurrency``: their client counts)."""
    if not isinstance(band, Mapping):
        return None
    ends = [_num((band.get(s) or {}).get(key)) if isinstance(band.get(s), Mapping) else math.nan
            for s in ("slower", "faster")]
    pct = _num(band.get("pct"))
    return (ends[0], ends[1], pct) if all(math.isfinite(v) for v in (*ends, pct)) else None
