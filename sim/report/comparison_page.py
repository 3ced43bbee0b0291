"""The comparison of run results as a page: ``fleetsim compare DIR_A DIR_B ... --html FILE``.

:func:`write_comparison_page` writes one self-contained HTML file (figures embedded as PNG, drawn
by matplotlib as ``fleetsim report`` draws them) from a :class:`~sim.report.comparison.Comparison`:

* a header naming the folders (letter, path, scenario, seed, run length) and a table of the
  scenario settings that differ, one column per folder;
* the metric table of the terminal (same rows, same words and units), each change against the
  base coloured where which way is better is not in doubt (:func:`better`: latencies, costs and
  rejections lower; throughput, SLO attainment, goodput, revenue and net higher); every other row
  (load, utilization, GPU-hours, counts, the stability verdict) is left uncoloured, and so are
  throughput and goodput when the folders' offered load differs (:func:`judged`: more of them is then
  more load, not a better fleet);
* the TTFT, TPOT and end-to-end latency distributions of every folder overlaid (empirical CDFs
  from its ``requests.csv.gz``, through at most :data:`~sim.report.run_figures.CDF_POINTS`
  order statistics per line), and, when a folder has a ``timeseries.csv``, the fleet over time in
  bins of a round duration (:func:`bin_width`, about 80 over the longest run, none narrower than the
  sampling interval): completed requests per second (from the request table), and the mean of the
  samples of requests waiting and sequences running (summed over the pools).

A folder whose request table or time series is absent, or damaged (a reader's
:class:`~sim.errors.ScenarioError`), keeps its columns in the tables and gets a note in place of
its curves. The file is written atomically (:func:`sim.atomic.atomic_write_text`); the command
refuses a path that is a file of the folders compared (:func:`result_files`). Unlike ``report.html`` the page
carries no time it was generated: the same folders give the same bytes.

    >>> better("latency.ttft.p99"), better("throughput.requests_per_s"), better("utilization.load_factor")
    (-1, 1, 0)
    >>> tone("cost.compute_usd", {"absolute": -5.0, "relative": -0.5}), tone("classes.chat.slo.attainment",
    ...                                                                       {"absolute": -0.01, "relative": None})
    ('better', 'worse')
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim import humanize
from sim.errors import InputError, ScenarioError, clipped
from sim.atomic import atomic_write_text
from sim.paths import output_file_problem
from sim.report.chart import Chart, Note, Panel, Series, figure_text
from sim.report.comparison import HISTOGRAM_ERROR, LOAD_RATES, Comparison, label
from sim.report.comparison_words import cell, change_cell, setting
from sim.report.html_page import Page, embedded, escape
from sim.report.result_folder import read_requests, read_timeseries, request_latencies
from sim.report.run_figures import CDF_POINTS, LATENCIES, cdf_points, time_unit

#: the files of each folder the page reads (none may be overwritten by it)
READ_FILES = ("summary.json", "scenario.json", "requests.csv.gz", "requests.csv", "timeseries.csv")
#: the request table's columns the page draws from (the latencies and completions; the rest is not read)
REQUEST_FIELDS = ("arrival_s", "first_token_s", "completion_s", "output_tokens", "queue_s")
#: metrics (summary keys, or their start) where lower is better, then where higher is; a class's
#: rows (``classes.<name>.``) are judged as the fleet's
LOWER_BETTER = ("latency.", "cost.", "requests.rejected", "cashflow.training_cost", "cashflow.energy_cost",
                "cashflow.sla_credits", "cashflow.compute_commit_shortfall")
HIGHER_BETTER = ("throughput.", "slo.attainment", "slo.goodput_rps", "cashflow.revenue", "cashflow.net",
                 "cashflow.cash_net")


def result_files(folders: Sequence[Path | str]) -> list[Path]:
    """Every file of the result folders that no output may replace: those the page reads
    (:data:`READ_FILES`) and the result's (:func:`sim.metrics.output.result_files`: its files and the
    figures in its ``figures/``; ``--out results/b/figures/cashflow.svg`` wrote JSON over a run's
    figure)."""
    from sim.metrics import output

    return list(dict.fromkeys(p for folder in map(Path, folders)
                              for p in (*(folder / name for name in READ_FILES), *output.result_files(folder))))


#: a change smaller than this share of the base is not coloured (a rounding's worth, not a move)
MOVE = 0.001
#: dash of each folder's lines after its colour, so that a grey print still tells them apart
DASHES = ("", "--", "-.", ":")
#: about this many bins of completed requests over the longest run
THROUGHPUT_BINS = 80
#: round bin widths, seconds
ROUND_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
#: most folders beside the base in one metric table (more: further tables, each with the base), so
#: that a table fits the page's width
PER_TABLE = 2
#: the legend's name of a folder: its letter and path, at most this many characters
LEGEND_WIDTH = 30
CAPTIONS = {
    "latency": "Latency distributions of every folder: the share of its measured requests at or below a "
               "latency (TTFT, time per output token, end to end); a curve further left is faster.",
    "over_time": "The fleet over time in every folder, in bins of {bin}: requests completed per second, and "
                 "the mean of the samples of requests waiting and of sequences running (summed over the pools; "
                 "the waiting include a central queue's).",
}


def better(key: str) -> int:
    """Which way ``key`` is better: ``-1`` lower, ``1`` higher (:data:`LOWER_BETTER`,
    :data:`HIGHER_BETTER`), ``0`` where it depends on what was asked (load, utilization, GPU-hours,
    counts, revenue shares, the stability verdict)."""
    key = _fleets(key)
    if key.startswith("cashflow.revenue_share"):
        return 0
    if key.startswith(LOWER_BETTER):
        return -1
    return 1 if key.startswith(HIGHER_BETTER) else 0


def judged(key: str, comparison: Comparison) -> int:
    """:func:`better` of ``key`` in ``comparison``: ``0`` for a rate that rises with the offered load
    (:data:`~sim.report.comparison.LOAD_RATES`: throughput, goodput) where the folders' offered loads differ."""
    return 0 if comparison.load and _fleets(key).startswith(LOAD_RATES) else better(key)


def _fleets(key: str) -> str:
    """The fleet's key a class's row (``classes.<name>.``) is judged as.

        >>> _fleets("classes.chat.slo.attainment"), _fleets("slo.attainment")
        ('slo.attainment', 'slo.attainment')
    """
    parts = key.split(".")
    return ".".join(parts[2:]) if parts[0] == "classes" and len(parts) > 2 else key


def tone(key: str, delta: dict | None, least: float = MOVE, way: int | None = None) -> str:
    """``better``, ``worse`` or empty: how a change (:func:`~sim.report.comparison.change`) of ``key`` reads
    (``way``: which way is better, :func:`better` of ``key`` unless given); a change smaller than ``least``
    of the base is not judged."""
    way = better(key) if way is None else way
    if not way or not delta or "absolute" not in delta or not delta["absolute"]:
        return ""
    if delta.get("relative") is not None and abs(delta["relative"]) < least:
        return ""
    return "better" if (delta["absolute"] > 0) == (way > 0) else "worse"


def _percentile(key: str) -> bool:
    """A latency percentile (``latency.ttft.p99``, ``classes.chat.latency.tpot.p99``), not a mean.

        >>> _percentile("latency.ttft.p99"), _percentile("classes.c.latency.tpot.p99"), _percentile("latency.e2e.mean")
        (True, True, False)
    """
    parts = key.split(".")
    return "latency" in parts and parts[-1].startswith("p") and parts[-1][1:].isdigit()


def legend_name(i: int, path: Path) -> str:
    """``A: results/a``, the path as a figure shows it (:func:`~sim.report.chart.figure_text`) cut to fit
    :data:`LEGEND_WIDTH` (its end kept: the distinct part)."""
    text = figure_text(path)
    room = LEGEND_WIDTH - len(label(i)) - 2
    return f"{label(i)}: " + (text if len(text) <= room else "..." + text[-(room - 3):])


# ---------------------------------------------------------------------------------------- data
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


# ---------------------------------------------------------------------------------------- page
def _cell(text: str, cls: str = "", title: str = "") -> str:
    attrs = (f' class="{cls}"' if cls else "") + (f' title="{escape(title)}"' if title else "")
    return f"<td{attrs}>{escape(text)}</td>"


def _wrappable(text: str) -> str:
    """``text`` escaped, with a line-break opportunity after each comma (a block's JSON).

        >>> _wrappable('{"a":1,"b":"<"}')
        '{&quot;a&quot;:1,<wbr>&quot;b&quot;:&quot;&lt;&quot;}'
    """
    return escape(text).replace(",", ",<wbr>")


def _table(header: Sequence[str], rows: Sequence[str], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table{f' class={cls!r}' if cls else ''}><tr>{head}</tr>{''.join(rows)}</table>"


def folders_section(comparison: Comparison) -> str:
    """The folders (letter, path, scenario, seed, run length) and the settings that differ."""
    rows = []
    for i, run in enumerate(comparison.folders):
        s = run.summary
        length = s.get("simulated_seconds")
        rows.append("<tr>" + "".join(_cell(t) for t in (
            label(i) + (" (base)" if i == 0 else ""), str(run.path), str(s.get("scenario") or ""),
            str(s["seed"]) if "seed" in s else "",
            humanize.duration(length) if isinstance(length, (int, float)) else "")) + "</tr>")
    out = "<h2>Folders</h2>" + _table(["", "folder", "scenario", "seed", "simulated"], rows, "settings")
    letters = [label(i) for i in range(len(comparison.folders))]
    out += f"<h2>Settings that differ ({escape(' → '.join(letters))})</h2>"
    if comparison.differences:
        out += _table(["setting", *(f"{x} (base)" if j == 0 else x for j, x in enumerate(letters))],
                      ["<tr>" + _cell(key) + "".join(f"<td>{_wrappable(setting(v, key))}</td>" for v in values) + "</tr>"
                       for key, values in comparison.differences], "settings diffs")
    else:
        out += "<p>The scenarios are the same (seed and run length included).</p>"
    return out + "".join(f'<p class="note">{escape(n)}</p>' for n in comparison.notes)


def metric_table(comparison: Comparison, others: Sequence[int]) -> str:
    """The terminal's metric table for the folders numbered ``others`` beside the base: a column per
    folder and, for each after the base, its change, coloured by :func:`tone`."""
    header = ["metric", f"{label(0)} (base)", *(h for i in others for h in (label(i), f"{label(i)} vs {label(0)}"))]
    rows = []
    for r in comparison.rows:
        way = judged(r.key, comparison)
        why = {-1: "lower is better", 1: "higher is better"}.get(way, "")
        cells = [_cell(r.label), _cell(cell(r.key, r.values[0]))]
        for i in others:
            # a percentile estimated from a histogram on either side: a change within its error is not judged
            least = (max(MOVE, HISTOGRAM_ERROR) if _percentile(r.key) and {0, i} & set(comparison.estimated)
                     else MOVE)
            cells += [_cell(cell(r.key, r.values[i])), _cell(change_cell(r.key, r.changes[i]),
                                                             tone(r.key, r.changes[i], least, way), why)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return _table(header, rows, "compare")


def metrics_section(comparison: Comparison) -> str:
    """The metric tables: the base and at most :data:`PER_TABLE` other folders in each."""
    others = list(range(1, len(comparison.folders)))
    tables = [metric_table(comparison, others[i:i + PER_TABLE]) for i in range(0, len(others), PER_TABLE)]
    return ("<h2>Metrics</h2><p>Each folder's change against the base A: absolute, then relative to A; a share "
            "in percentage points (pp). Green where the change is better, red where worse: latencies, costs "
            "and rejections lower, throughput, SLO attainment, goodput, revenue and net higher; the other rows "
            "(load, utilization, GPU-hours, counts, the stability verdict) are not judged, nor a change under "
            f"{MOVE * 100:g} % of the base ({HISTOGRAM_ERROR * 100:.1f} % for a latency percentile where either "
            f"folder's is estimated from a histogram)."
            + (" The offered load differs between the folders, so throughput and goodput are not judged either: "
               "more of them is more load served, not a better fleet." if comparison.load else "")
            + "</p>" + "".join(tables))


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


def comparison_html(comparison: Comparison) -> str:
    """The whole page as text."""
    paths = [str(f.path) for f in comparison.folders]        # (the page escapes them: html_page.escape)
    title = clipped(" vs ".join(paths), 120)
    page = Page(title=title, kinds=["comparison"], head=folders_section(comparison),
                sections=[metrics_section(comparison), figures_section(comparison)])
    lead = (f"comparison of {len(paths)} run results, each against the base A ({paths[0]})")
    return page.html(paths[0], lead=lead, stamped=False)     # same folders, same bytes


def write_comparison_page(comparison: Comparison, path: Path | str) -> Path:
    """Write the page to ``path`` atomically (a reader never sees half a page); returns the path. A
    path that is a file of the folders compared (:func:`result_files`), a folder, or in no folder is
    refused (:class:`~sim.errors.InputError`)."""
    problem = output_file_problem(path, result_files([f.path for f in comparison.folders]))
    if problem:
        raise InputError(f"{path}: {problem}")
    return atomic_write_text(path, comparison_html(comparison))
