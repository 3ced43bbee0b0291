"""The figures of the comparison page (``fleetsim compare --html``): each folder's request table and time
series read (:func:`read_tables`; only the request columns drawn, :data:`REQUEST_FIELDS`), the TTFT,
TPOT and end-to-end latency distributions of every folder overlaid (:func:`latency_chart`: empirical
CDFs through at most :data:`~sim.report.run_figures.CDF_POINTS` order statistics per line), the fleet
over time in bins of a round duration (:func:`over_time_chart`, :func:`bin_width`: about 80 over the
longest run, none narrower than the sampling interval), and the page's figures section with a note for
each folder whose table is absent or damaged (:func:`figures_section`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim import humanize
from sim.errors import InputError, ScenarioError, clipped
from sim.report.chart import Chart, Note, Panel, Series, figure_text
from sim.report.comparison import Comparison, label
from sim.report.html_page import embedded, escape
from sim.report.result_folder import read_requests, read_timeseries, request_latencies
from sim.report.run_figures import CDF_POINTS, LATENCIES, cdf_points, time_unit

#: the request table's columns the page draws from (the latencies and completions; the rest is not read)
REQUEST_FIELDS = ("arrival_s", "first_token_s", "completion_s", "output_tokens", "queue_s")
#: dash of each folder's lines after its colour, so that a grey print still tells them apart
DASHES = ("", "--", "-.", ":")
#: about this many bins of completed requests over the longest run
THROUGHPUT_BINS = 80
#: round bin widths, seconds
ROUND_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
#: the legend's name of a folder: its letter and path, at most this many characters
LEGEND_WIDTH = 30
CAPTIONS = {
    "latency": "Latency distributions of every folder: the share of its measured requests at or below a "
               "latency (TTFT, time per output token, end to end); a curve further left is faster.",
    "over_time": "The fleet over time in every folder, in bins of {bin}: requests completed per second, and "
                 "the mean of the samples of requests waiting and of sequences running (summed over the pools; "
                 "the waiting include a central queue's).",
}


def legend_name(i: int, path: Path) -> str:
    """``A: results/a``, the path as a figure shows it (:func:`~sim.report.chart.figure_text`) cut to fit
    :data:`LEGEND_WIDTH` (its end kept: the distinct part)."""
    text = figure_text(path)
    room = LEGEND_WIDTH - len(label(i)) - 2
    return f"{label(i)}: " + (text if len(text) <= room else "..." + text[-(room - 3):])


def read_tables(comparison: Comparison, notes: list[str]) -> tuple[list, list]:
    """Each folder's request columns and time series (``None`` where absent or damaged, with a line
    in ``notes`` saying so and that its curves are left out)."""
    requests, series = [], []
    for i, run in enumerate(comparison.folders):
        who = f"{label(i)} ({run.path})"
        for read, what, out in ((lambda p: read_requests(p, REQUEST_FIELDS), "requests.csv.gz", requests),
                                (read_timeseries, "timeseries.csv", series)):
            try:
                table = read(run.path)
            except (ScenarioError, InputError, OSError, EOFError, ValueError) as exc:
                notes.append(f"{who}: its {what} could not be read ({clipped(_why(exc), 160)}); its curves are "
                             f"left out")
                table = None
            else:
                if table is None:
                    notes.append(f"{who}: no {what}; its curves are left out")
                elif not table.get("time_s" if what == "timeseries.csv" else "arrival_s", np.zeros(0)).size:
                    notes.append(f"{who}: its {what} has no rows{_kept(run.summary, 0)}; its curves are left out")
                    table = None
                elif what == "requests.csv.gz" and _kept(run.summary, table["arrival_s"].size):
                    notes.append(f"{who}: its {what} holds {humanize.count(table['arrival_s'].size)} of "
                                 f"{humanize.count(run.summary['requests']['arrived'])} requests "
                                 f"(metrics.records: sample); its latency curves are drawn from those, and its "
                                 f"requests completed per second left out")
            out.append(table)
    return requests, series


def _kept(summary: dict, rows: int) -> str:
    """Why a request table of ``rows`` rows holds fewer requests than the run's (the summary's
    ``requests.records_kept`` below ``requests.arrived``), in words; empty when it holds them all.

        >>> _kept({"requests": {"arrived": 10, "records_kept": 0}}, 0), _kept({"requests": {"arrived": 3}}, 3)
        (' (the run kept no request records: metrics.records)', '')
        >>> _kept({"engine": "fluid", "requests": {"arrived": 10}}, 0)
        ' (a fluid-tier run follows the load as flows and keeps no request records)'
    """
    if rows == 0 and summary.get("engine") == "fluid":
        return " (a fluid-tier run follows the load as flows and keeps no request records)"
    block = summary.get("requests") if isinstance(summary.get("requests"), dict) else {}
    arrived, kept = block.get("arrived"), block.get("records_kept")
    if not isinstance(arrived, (int, float)) or not isinstance(kept, (int, float)) or kept >= arrived:
        return ""
    return " (the run kept no request records: metrics.records)" if rows == 0 else " (a sample)"


def _why(exc: Exception) -> str:
    """A reader's first complaint without the file's name (the note names the folder) or the advice to
    write the folder again."""
    if isinstance(exc, ScenarioError) and exc.problems:
        where, message = exc.problems[0]
        return (f"{where}: " if where else "") + message.split("; not as fleetsim writes it")[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def latency_chart(names: Sequence[str], requests: Sequence[dict | None]) -> Chart | None:
    """TTFT, TPOT and end-to-end latency CDFs, one line per folder with a request table (colour
    ``C<i>`` and a dash of :data:`DASHES`); in milliseconds when every value is under a second, on
    a log axis when they span more than a factor of 20; ``None`` when no folder has requests."""
    lat = [request_latencies(r) if r is not None else None for r in requests]
    if all(v is None for v in lat):
        return None
    panels = []
    for key, title in LATENCIES:
        values = [np.sort(v[key]) if v is not None and key in v and v[key].size else None for v in lat]
        panel = Panel(title=title, xlabel="seconds")
        panels.append(panel)
        present = [v for v in values if v is not None]
        if not present:
            panel.notes.append(Note(0.5, 0.5, "no data", va="center", axes=True))
            continue
        scale = 1000.0 if max(float(v[-1]) for v in present) < 1.0 else 1.0
        panel.xlabel = "milliseconds" if scale == 1000.0 else "seconds"
        for i, v in enumerate(values):
            if v is not None:
                x, y = cdf_points(v * scale, CDF_POINTS)
                panel.series.append(Series(x, y, kind="step", color=f"C{i}", width=1.5,
                                           dash=DASHES[i % len(DASHES)], label=names[i]))
        low, high = min(float(v[0]) for v in present), max(float(v[-1]) for v in present)
        panel.xlog = bool(low > 0 and high / low > 20)
        panel.ylim = (0.0, 1.02)
    panels[0].ylabel = "fraction of requests ≤ x"
    panels[-1].legend, panels[-1].legend_title = "lower right", "folder"    # under a CDF: no curve there
    return Chart(panels, width_in=12.0, height_in=3.9, margins=(0.7, 0.15, 0.5, 0.3), cols=3, wspace_in=0.55)


def bin_width(end_s: float, bins: int = THROUGHPUT_BINS) -> float:
    """The shortest round duration (:data:`ROUND_SECONDS`: 1, 2, 5, 10, 15, 30 s, the same in minutes,
    1, 2, 3, 6, 12 h, then whole days) giving at most about ``bins`` bins over ``end_s`` seconds.

        >>> bin_width(120), bin_width(3600), bin_width(7 * 86400), bin_width(365 * 86400)
        (2.0, 60.0, 10800.0, 432000.0)
    """
    raw = max(end_s / bins, 1.0)
    return next((float(w) for w in ROUND_SECONDS if w >= raw - 1e-9), 86400.0 * math.ceil(raw / 86400))


def completions_per_second(completion_s: np.ndarray, end_s: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Requests completed per second in bins of ``width`` from 0 to ``end_s`` (the last bin as long as
    what is left of the run): the bins' starts and rates.

        >>> completions_per_second(np.array([0.5, 1.5, 1.7, 2.2]), 2.5, 1.0)
        (array([0., 1., 2.]), array([1., 2., 2.]))
    """
    c = completion_s[np.isfinite(completion_s)]
    edges = np.arange(0.0, end_s, width)
    edges = np.append(edges, end_s) if edges.size else np.array([0.0, max(end_s, width)])
    counts, _ = np.histogram(c, bins=edges)
    return edges[:-1], counts / np.diff(edges)


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


def over_time_chart(names: Sequence[str], requests: Sequence[dict | None], series: Sequence[dict | None],
                    ends: Sequence[float | None]) -> tuple[Chart | None, float]:
    """Completed requests per second, and the mean of requests waiting and sequences running, in bins
    of one width (:func:`bin_width`, no narrower than the time series' sampling interval) over simulated time, one line per folder (``ends``: each run's
    simulated seconds); ``None`` when no folder has a time series. Also the bin width."""
    if all(s is None for s in series):
        return None, 0.0
    end = max(max(e or 0.0, _last(r, "completion_s"), _last(s, "time_s")) for r, s, e in zip(requests, series, ends))
    scale, unit = time_unit(end)
    spacing = max((float(np.median(np.diff(np.unique(s["time_s"])))) for s in series
                   if s is not None and np.unique(s["time_s"]).size > 1), default=0.0)
    width = bin_width(max(end, spacing * THROUGHPUT_BINS))    # a bin holds at least one sample
    panels = [Panel(title="requests completed per second", title_pt=10.0, ylabel="req/s"),
              Panel(title="requests waiting (all pools), mean per bin", title_pt=10.0, ylabel="requests"),
              Panel(title="sequences running (all pools), mean per bin", title_pt=10.0, ylabel="sequences")]
    for i, name in enumerate(names):
        style = {"kind": "step", "color": f"C{i}", "dash": DASHES[i % len(DASHES)], "width": 1.3, "label": name}
        r, s = requests[i], series[i]
        run_end = max(ends[i] or 0.0, _last(r, "completion_s"), _last(s, "time_s"))
        if r is not None and "completion_s" in r:
            x, y = _held(*completions_per_second(r["completion_s"], run_end, width), run_end, width)
            panels[0].series.append(Series(x / scale, y, **style))
        for panel, column in ((panels[1], "queue_len"), (panels[2], "running")):
            if s is not None and column in s:
                x, y = _held(*binned_means(*fleet_sums(s, column), run_end, width), run_end, width)
                panel.series.append(Series(x / scale, y, **style))
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
    return (Chart(panels, width_in=12.0, height_in=7.6, margins=(0.85, 2.35, 0.5, 0.3), rows=3, hspace_in=0.4,
                  sharex=True), width)


def figures_section(comparison: Comparison) -> str:
    """The overlaid figures (PNG), each with its caption and the notes on folders left out of it."""
    from sim.report.render import draw_chart, figure_bytes

    names = [legend_name(i, f.path) for i, f in enumerate(comparison.folders)]
    notes: list[str] = []
    requests, series = read_tables(comparison, notes)
    ends = [f.summary.get("simulated_seconds") if isinstance(f.summary.get("simulated_seconds"), (int, float))
            else None for f in comparison.folders]
    out = ["<h2>Figures</h2>"]
    try:
        chart = latency_chart(names, requests)
        if chart is None:
            out.append('<p class="note">No folder has a request table with rows: no latency distributions.</p>')
        else:
            out.append(embedded(figure_bytes(draw_chart(chart), "png"), "png", "latency_cdf", CAPTIONS["latency"]))
        whole = [r if r is None or not _kept(f.summary, r["arrival_s"].size) else None    # (not a sample's)
                 for r, f in zip(requests, comparison.folders)]
        chart, width = over_time_chart(names, whole, series, ends)
        if chart is not None:
            out.append(embedded(figure_bytes(draw_chart(chart), "png"), "png", "over_time",
                                CAPTIONS["over_time"].format(bin=humanize.duration(width))))
    except (InputError, ScenarioError):
        raise
    except Exception as exc:      # a figure that fails costs the figures, not the tables
        notes.append(f"figures not drawn: {type(exc).__name__}: {exc}")
    out += [f'<p class="note">{escape(n)}</p>' for n in notes]
    return "".join(out)
