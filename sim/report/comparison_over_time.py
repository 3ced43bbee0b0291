"""The comparison page's fleet over time (``fleetsim compare --html``): every folder's run in bins of one
round duration (:func:`bin_width`: about 80 over the longest run, none narrower than a request-level time
series' sampling interval; a fluid run's steps, drawn over any bins, widen none), overlaid, one line per
folder (:func:`over_time_chart`):

* requests completed per second: from the request table where the folder kept every request, else, for
  a fluid-tier run (which keeps no request records), from the requests its steps served
  (``usage.npz``'s rows, each step's spread evenly over it: :func:`spread_sums`), per shard as the
  summary's throughput counts them (:func:`per_shard`);
* requests waiting, sequences running and replicas provisioned, summed over the pools: at request level
  the mean of the samples in a bin (:func:`binned_means`); a fluid-tier row holds its step's means over
  the step it ends, so a bin reads the mean over the part of each step it covers (:func:`step_means`),
  not a sample an hour late (its queue the mean of its backlog's path on the sub-steps, its running a
  saturated pool's over the part of the step at capacity only);
* compute cost per hour of the whole fleet: the GPUs ``usage.npz`` says were provisioned over each bin
  (:func:`gpus_over`) at the run's price per GPU-hour provisioned (``cost.compute_usd`` over
  ``gpu_hours.provisioned``: :func:`price_per_gpu_hour`), so that the area under a folder's line is its
  compute cost (a reserved tier's or a commitment's price is spread over the hours, not put where it
  was used).

The fluid tier writes no latency per step, so no panel draws latency over time.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
import numpy as np

from sim.report.chart import Chart, Note, Panel, Series
from sim.report.run_figures import fluid_step, step_starts, time_unit

#: dash of each folder's lines after its colour, so that a grey print still tells them apart
DASHES = ("", "--", "-.", ":")
#: about this many bins of completed requests over the longest run
THROUGHPUT_BINS = 80
#: round bin widths, seconds
ROUND_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
#: past a day, bins are whole weeks (a week of days would alias a weekly pattern)
WEEK_S = 7 * 86400.0
#: the time series' columns drawn, summed over the pools: column, panel title, y label
COUNTS = (("queue_len", "requests waiting (all pools), mean per bin", "requests"),
          ("running", "sequences running (all pools), mean per bin", "sequences"),
          ("replicas", "replicas provisioned (all pools), mean per bin", "replicas"))


def bin_width(end_s: float, bins: int = THROUGHPUT_BINS) -> float:
    """The shortest round duration (:data:`ROUND_SECONDS`: 1, 2, 5, 10, 15, 30 s, the same in minutes,
    1, 2, 3, 6, 12 h, a day, then whole weeks) giving at most about ``bins`` bins over ``end_s`` seconds.
    Every width divides a day or is whole weeks, so a daily or weekly pattern falls the same way in every
    bin: a bin of 2 or 5 days over a weekly pattern would draw a beat of 14 or 35 days that is not there.

        >>> bin_width(120), bin_width(3600), bin_width(7 * 86400), bin_width(100 * 86400), bin_width(365 * 86400)
        (2.0, 60.0, 10800.0, 604800.0, 604800.0)
    """
    raw = max(end_s / bins, 1.0)
    return next((float(w) for w in ROUND_SECONDS if w >= raw - 1e-9), WEEK_S * math.ceil(raw / WEEK_S - 1e-9))


def edges_of(end_s: float, width: float) -> np.ndarray:
    """Bin edges of ``width`` from 0 to ``end_s`` (the last bin as long as what is left of the run)."""
    edges = np.arange(0.0, end_s, width)
    return np.append(edges, end_s) if edges.size else np.array([0.0, max(end_s, width)])


def completions_per_second(completion_s: np.ndarray, end_s: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Requests completed per second in bins of ``width`` from 0 to ``end_s`` (the last bin as long as
    what is left of the run): the bins' starts and rates.

        >>> completions_per_second(np.array([0.5, 1.5, 1.7, 2.2]), 2.5, 1.0)
        (array([0., 1., 2.]), array([1., 2., 2.]))
    """
    c = completion_s[np.isfinite(completion_s)]
    edges = edges_of(end_s, width)
    counts, _ = np.histogram(c, bins=edges)
    return edges[:-1], counts / np.diff(edges)


def spread_sums(start: np.ndarray, end: np.ndarray, amount: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The part of each ``amount``, spread evenly over ``[start, end)``, that falls in each bin between
    ``edges`` (an amount of an empty interval wholly in the bin holding its start).

        >>> spread_sums(np.array([0.0, 1.0]), np.array([2.0, 1.0]), np.array([4.0, 3.0]), np.array([0.0, 1.0, 3.0]))
        array([2., 5.])
    """
    start, end, amount = (np.asarray(a, dtype=np.float64) for a in (start, end, amount))
    wide = end > start
    # the amounts' parts before each edge, F(e) = sum of rate * (min(e, end) - start)+, from the intervals
    # sorted by start and by end (a fluid year's millions of intervals: no interval-by-edge matrix)
    rate = amount[wide] / (end[wide] - start[wide])
    before = np.zeros(edges.size)
    for at, sign in ((start[wide], 1.0), (end[wide], -1.0)):
        order = np.argsort(at, kind="stable")
        r, t = rate[order], at[order]
        k = np.searchsorted(t, edges, side="left")         # the intervals starting (ending) before each edge
        cr, crt = np.concatenate(([0.0], np.cumsum(r))), np.concatenate(([0.0], np.cumsum(r * t)))
        before += sign * (edges * cr[k] - crt[k])
    point = np.histogram(start[~wide], bins=edges, weights=amount[~wide])[0]
    return np.diff(before) + point


def per_shard(summary: dict) -> float | None:
    """The scale every pool of a run shares (``pools.<name>.scale``, 1 when unset): ``usage.npz``'s
    served requests are the whole fleet's, the summary's throughput and the request table one shard's.
    ``None`` when the pools' scales differ (no one shard to count).

        >>> per_shard({"pools": {"a": {"scale": 25.0}}}), per_shard({"pools": {"a": {}, "b": {"scale": 2}}})
        (25.0, None)
    """
    pools = summary.get("pools") if isinstance(summary.get("pools"), dict) else {}
    scales = {float(p.get("scale", 1.0)) if isinstance(p, dict) else 1.0 for p in pools.values()} or {1.0}
    return scales.pop() if len(scales) == 1 else None


def served_per_second(usage: dict, step_s: float, scale: float, end_s: float,
                      width: float) -> tuple[np.ndarray, np.ndarray]:
    """A fluid-tier run's requests served per second and shard in bins of ``width``: ``usage.npz``'s
    rows (one per step, pool and class at the step's middle, the whole fleet's) each spread over its
    step (the grid's: whole steps from 0, the last cut at the run's end), divided by ``scale``."""
    edges = edges_of(end_s, width)
    t = usage["completion_s"]
    start = step_starts(t + step_s / 2, step_s)               # (a row at its step's middle)
    served = spread_sums(start, np.minimum(start + step_s, max(end_s, float(t.max(initial=0.0)))), usage["weight"],
                         edges)
    return edges[:-1], served / np.diff(edges) / scale


def gpus_over(usage: dict, end_s: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """The mean GPUs provisioned over each bin of ``width`` (the whole fleet's: ``usage.npz``'s intervals,
    shards counted), so that ``sum(gpus * bin) / 3600`` is the run's GPU-hours provisioned."""
    edges = edges_of(end_s, width)
    start, end = usage["interval_start_s"], usage["interval_end_s"]
    gpu_s = spread_sums(start, end, usage["interval_gpus"] * (end - start), edges)
    return edges[:-1], gpu_s / np.diff(edges)


def price_per_gpu_hour(summary: dict) -> float | None:
    """The run's compute cost over its GPU-hours provisioned (``None`` without both, or none provisioned).

        >>> price_per_gpu_hour({"cost": {"compute_usd": 10.0}, "gpu_hours": {"provisioned": 4.0}})
        2.5
    """
    cost, hours = summary.get("cost"), summary.get("gpu_hours")
    usd = cost.get("compute_usd") if isinstance(cost, dict) else None
    h = hours.get("provisioned") if isinstance(hours, dict) else None
    if not isinstance(usd, (int, float)) or not isinstance(h, (int, float)) or h <= 0:
        return None
    return float(usd) / float(h)


def fleet_sums(ts: dict, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``column`` of a time series summed over the pools at each sample time (NaN counted as 0);
    for ``queue_len`` the fleet's central queue (the same on every pool's row) added once."""
    t, inverse = np.unique(ts["time_s"], return_inverse=True)
    total = np.bincount(inverse, weights=np.nan_to_num(ts[column]), minlength=t.size)
    if column == "queue_len" and "central_queue" in ts:
        central = np.zeros(t.size)
        np.maximum.at(central, inverse, np.nan_to_num(ts["central_queue"]))
        total = total + central
    return t, total


def binned_means(t: np.ndarray, v: np.ndarray, end_s: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the samples ``v`` (at times ``t``) in each bin of ``width`` from 0 to ``end_s``: the
    starts of the bins that hold a sample, and their means.

        >>> binned_means(np.array([0.0, 0.5, 1.0, 3.0]), np.array([1.0, 3.0, 4.0, 8.0]), 4.0, 1.0)
        (array([0., 1., 3.]), array([2., 4., 8.]))
    """
    edges = np.arange(0.0, end_s, width)
    edges = np.append(edges, max(end_s, float(np.nanmax(t)) if t.size else end_s) + 1e-9 * max(end_s, 1.0))
    ok = np.isfinite(t) & np.isfinite(v)
    counts, _ = np.histogram(t[ok], bins=edges)
    sums, _ = np.histogram(t[ok], bins=edges, weights=v[ok])
    held = counts > 0
    return edges[:-1][held], sums[held] / counts[held]


def step_means(t: np.ndarray, v: np.ndarray, step_s: float, end_s: float,
               width: float) -> tuple[np.ndarray, np.ndarray]:
    """A fluid-tier series' mean over each bin of ``width``: each row ``v`` at ``t`` the mean over the step
    of the grid (whole ``step_s`` from 0, the last cut at the run's end) it ends, a bin the time-weighted mean of the steps' parts it covers (the bins some
    step covers, and their means).

        >>> step_means(np.array([2.0, 4.0]), np.array([1.0, 3.0]), 2.0, 4.0, 1.0)
        (array([0., 1., 2., 3.]), array([1., 1., 3., 3.]))
        >>> step_means(np.array([2.0, 4.0]), np.array([1.0, 3.0]), 2.0, 4.0, 4.0)
        (array([0.]), array([2.]))
    """
    edges = edges_of(max(end_s, float(np.max(t)) if t.size else end_s), width)
    ok = np.isfinite(t) & np.isfinite(v)
    end = t[ok]
    start = step_starts(end, step_s)
    length = end - start
    covered = spread_sums(start, end, length, edges)
    amount = spread_sums(start, end, v[ok] * length, edges)
    held = covered > 1e-9 * np.diff(edges)
    return edges[:-1][held], amount[held] / covered[held]


def _held(x: np.ndarray, y: np.ndarray, end_s: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Bin starts and values with the last value repeated at its bin's end, so that a step line
    covers the last bin too."""
    if not x.size:
        return x, y
    return np.append(x, min(x[-1] + width, max(end_s, x[-1]))), np.append(y, y[-1])


def _last(table: dict | None, column: str) -> float:
    """The largest finite value of ``column`` (0 without one)."""
    v = table.get(column) if table is not None else None
    return float(np.max(v[np.isfinite(v)])) if v is not None and np.isfinite(v).any() else 0.0


#: a money axis reads in these units from these amounts up (plain digits below 10,000 a tick)
MONEY_UNITS = ((1e10, 1e9, "billion"), (1e7, 1e6, "million"), (1e4, 1e3, "thousand"))


def _money_units(panel: Panel) -> None:
    """The cost panel's amounts in thousands, millions or billions of USD where they reach
    :data:`MONEY_UNITS`' thresholds, so that a tick reads ``400`` thousand, not ``400000``."""
    top = max((float(np.nanmax(s.y)) for s in panel.series if len(s.y) and np.isfinite(s.y).any()), default=0.0)
    for least, div, word in MONEY_UNITS:
        if top >= least:
            for s in panel.series:
                s.y = np.asarray(s.y, dtype=np.float64) / div
            panel.ylabel = f"{word} USD per hour"
            return


def over_time_chart(names: Sequence[str], requests: Sequence[dict | None], series: Sequence[dict | None],
                    ends: Sequence[float | None], *, summaries: Sequence[dict] | None = None,
                    usages: Sequence[dict | None] | None = None) -> tuple[Chart | None, float]:
    """Completed requests per second, the means of requests waiting, sequences running and replicas
    provisioned and, with ``usages``, the compute cost per hour, in bins of one width (:func:`bin_width`, no
    narrower than a time series' sampling interval) over simulated time, one line per folder (``ends``:
    each run's simulated seconds; ``summaries``: each run's summary, which says a fluid-tier run and its
    step, its shards and its price; ``usages``: each run's ``usage.npz`` columns,
    :func:`~sim.report.result_folder.read_usage_columns`, or ``None``); ``None`` when
    no folder has a time series or usage. Also the bin width."""
    n = len(names)
    summaries = list(summaries) if summaries is not None else [{}] * n
    usages = list(usages) if usages is not None else [None] * n
    if all(s is None for s in series) and all(u is None for u in usages):
        return None, 0.0
    steps = [fluid_step(s) for s in summaries]
    end = max(max(e or 0.0, _last(r, "completion_s"), _last(s, "time_s")) for r, s, e in zip(requests, series, ends))
    scale, unit = time_unit(end)
    # a bin holds at least one of a request-level run's samples; a fluid run's steps are drawn over any bins
    # (a bin narrower than a step reads the step's mean), so they widen none: a request-level hour beside a
    # fluid run of hourly steps keeps its minutes
    spacing = max((float(np.median(np.diff(np.unique(s["time_s"])))) for s, step in zip(series, steps)
                   if s is not None and step is None and np.unique(s["time_s"]).size > 1), default=0.0)
    width = bin_width(max(end, spacing * THROUGHPUT_BINS))
    panels = [Panel(title="requests completed per second", title_pt=10.0, ylabel="req/s"),
              *(Panel(title=title, title_pt=10.0, ylabel=ylabel) for _, title, ylabel in COUNTS)]
    priced = [price_per_gpu_hour(s) if u is not None else None for s, u in zip(summaries, usages)]
    if any(p is not None for p in priced):
        panels.append(Panel(title="compute cost per hour (whole fleet), mean per bin", title_pt=10.0,
                            ylabel="USD per hour"))
    for i, name in enumerate(names):
        style = {"kind": "step", "color": f"C{i}", "dash": DASHES[i % len(DASHES)], "width": 1.3, "label": name}
        r, s, u, step = requests[i], series[i], usages[i], steps[i]
        run_end = max(ends[i] or 0.0, _last(r, "completion_s"), _last(s, "time_s"))
        shards = per_shard(summaries[i])
        if r is not None and "completion_s" in r:
            x, y = _held(*completions_per_second(r["completion_s"], run_end, width), run_end, width)
            panels[0].series.append(Series(x / scale, y, **style))
        elif u is not None and step is not None and shards is not None:
            x, y = _held(*served_per_second(u, step, shards, run_end, width), run_end, width)
            panels[0].series.append(Series(x / scale, y, **style))
        for panel, (column, _, _) in zip(panels[1:], COUNTS):
            if s is not None and column in s:
                t, v = fleet_sums(s, column)
                binned = step_means(t, v, step, run_end, width) if step else binned_means(t, v, run_end, width)
                x, y = _held(*binned, run_end, width)
                panel.series.append(Series(x / scale, y, **style))
        if priced[i] is not None:
            x, gpus = gpus_over(u, run_end, width)
            x, y = _held(x, gpus * priced[i], run_end, width)
            panels[4].series.append(Series(x / scale, y, **style))
    if len(panels) > len(COUNTS) + 1:
        _money_units(panels[-1])
    for panel in panels:
        top = max((float(np.nanmax(s.y)) for s in panel.series if len(s.y) and np.isfinite(s.y).any()), default=0.0)
        panel.ylim = (0.0, max(top * 1.1, 1.0))
        if not panel.series:
            panel.notes.append(Note(0.5, 0.5, "no data", va="center", axes=True))
    drawn = {s.label for p in panels for s in p.series}
    for i, name in enumerate(names):      # the legend names every folder drawn in any panel, in order
        if name in drawn and name not in {s.label for s in panels[0].series}:
            panels[0].series.append(Series([], [], color=f"C{i}", dash=DASHES[i % len(DASHES)], width=1.3, label=name))
    panels[0].series.sort(key=lambda s: names.index(s.label))
    panels[0].legend, panels[0].legend_title = "outside", "folder"
    panels[-1].xlabel = f"simulated time ({unit})"
    rows = len(panels)
    return (Chart(panels, width_in=12.0, height_in=2.4 * rows + 0.4, margins=(0.85, 2.35, 0.5, 0.3), rows=rows,
                  hspace_in=0.4, sharex=True), width)
