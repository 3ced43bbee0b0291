"""The figures of the comparison page (``fleetsim compare --html``): each folder's request table and time
series read (:func:`read_tables`; only the request columns drawn, :data:`REQUEST_FIELDS`), the TTFT,
TPOT and end-to-end latency distributions of every folder overlaid (:func:`latency_chart`: empirical
CDFs through at most :data:`~sim.report.run_figures.CDF_POINTS` order statistics per line), the fleet
over time in bins of a round duration (:mod:`sim.report.comparison_over_time`, whose names it re-exports:
:func:`over_time_chart`, :func:`bin_width`), and the page's figures section with a note for each folder
whose table is absent or damaged, and for each fluid-tier run, which keeps no request records, the
panels it has and those it lacks (:func:`figures_section`, :func:`fluid_notes`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim import humanize
from sim.errors import InputError, ScenarioError, clipped
from sim.report.chart import Chart, Note, Panel, Series, figure_text
from sim.report.comparison import Comparison, label
from sim.report.comparison_over_time import (DASHES, ROUND_SECONDS, THROUGHPUT_BINS,  # noqa: F401 (re-exported)
                                             binned_means, bin_width, completions_per_second, fleet_sums,
                                             over_time_chart, per_shard, price_per_gpu_hour)
from sim.report.html_page import embedded, escape
from sim.report.result_folder import (USAGE_MEMBERS, read_requests, read_timeseries, read_usage_columns,
                                      request_latencies)
from sim.report.run_figures import CDF_POINTS, LATENCIES, cdf_points, fluid_step

#: the request table's columns the page draws from (the latencies and completions; the rest is not read)
REQUEST_FIELDS = ("arrival_s", "first_token_s", "completion_s", "output_tokens", "queue_s")
#: ``usage.npz``'s members a request-level run's folder is read for: the provisioned intervals
INTERVALS = tuple(m for m in USAGE_MEMBERS if m.startswith("interval_"))
#: the legend's name of a folder: its letter and path, at most this many characters
LEGEND_WIDTH = 30
CAPTIONS = {
    "latency": "Latency distributions of every folder: the share of its measured requests at or below a "
               "latency (TTFT, time per output token, end to end); a curve further left is faster.",
    "over_time": "The fleet over time in every folder, in bins of {bin}: requests completed per second (one "
                 "shard's, as the throughput row counts them), the mean of the samples of requests waiting, "
                 "sequences running and replicas provisioned (summed over the pools, one shard of a sharded "
                 "pool; the waiting include a central queue's; a fluid-tier run's rows are its steps' means, "
                 "each drawn over the step it ends){cost}.",
    "cost": ", and the compute cost per hour of the whole fleet (the GPUs provisioned at the run's compute cost "
            "per GPU-hour provisioned, so the area under a line is the compute cost row; a reserved or "
            "committed price spread over the hours)",
}


def legend_name(i: int, path: Path) -> str:
    """``A: results/a``, the path as a figure shows it (:func:`~sim.report.chart.figure_text`) cut to fit
    :data:`LEGEND_WIDTH` (its end kept: the distinct part)."""
    text = figure_text(path)
    room = LEGEND_WIDTH - len(label(i)) - 2
    return f"{label(i)}: " + (text if len(text) <= room else "..." + text[-(room - 3):])


def read_tables(comparison: Comparison, notes: list[str]) -> tuple[list, list]:
    """Each folder's request columns and time series (``None`` where absent or damaged, with a line
    in ``notes`` saying so and that its curves are left out; a fluid-tier run's empty request table
    without one: :func:`fluid_notes` say what such a run lacks)."""
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
                rows = table.get("time_s" if what == "timeseries.csv" else "arrival_s", np.zeros(0)).size \
                    if table is not None else 0
                if not rows and what == "requests.csv.gz" and fluid_step(run.summary):
                    table = None            # a fluid-tier run keeps none: fluid_notes say what it lacks
                elif table is None:
                    notes.append(f"{who}: no {what}; its curves are left out")
                elif not rows:
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


def read_usages(comparison: Comparison, notes: list[str]) -> list[dict | None]:
    """Each folder's ``usage.npz`` columns the over-time figure draws from (``None`` where absent or
    damaged, with a line in ``notes`` saying what is left out)."""
    usages = []
    for i, run in enumerate(comparison.folders):
        try:      # the served requests only where they are drawn: a request-level run keeps a row per request
            usage = read_usage_columns(run.path, USAGE_MEMBERS if fluid_step(run.summary) else INTERVALS)
        except (ScenarioError, OSError) as exc:
            notes.append(f"{label(i)} ({run.path}): its usage.npz could not be read ({clipped(_why(exc), 160)}); its "
                         f"compute cost over time is left out"
                         + (", and its requests completed per second" if fluid_step(run.summary) else ""))
            usage = None
        else:
            if usage is None:
                notes.append(f"{label(i)} ({run.path}): no usage.npz; its compute cost over time is left out"
                             + (", and its requests completed per second" if fluid_step(run.summary) else ""))
        usages.append(usage)
    return usages


def fluid_notes(comparison: Comparison, usages: Sequence[dict | None]) -> list[str]:
    """What the fluid-tier runs among the folders draw and lack on the page, and why, in words: one line
    for the runs that draw alike."""
    said: dict[str, list[str]] = {}
    for i, (run, usage) in enumerate(zip(comparison.folders, usages)):
        step = fluid_step(run.summary)
        if not step:
            continue
        served = ("its requests completed per second are those its steps served (usage.npz), each step's "
                  "spread evenly over it" if usage is not None and per_shard(run.summary) is not None else
                  "no requests completed per second (its pools' shards differ, so no one shard's throughput)"
                  if usage is not None else "no requests completed per second (its usage.npz could not be read)"
                  if (Path(run.path) / "usage.npz").exists() else "no requests completed per second (no usage.npz)")
        said.setdefault(f"in steps of {humanize.duration(step)}; {served}", []).append(f"{label(i)} ({run.path})")
    return [f"{' and '.join(who)} {'is a fluid-tier run: it' if len(who) == 1 else 'are fluid-tier runs: each'} "
            f"follows the load as flows {what.split('; ')[0]} and keeps no request records, so it has no latency "
            f"distributions (its latency percentiles are in the metrics table; the fluid tier writes none per step); "
            f"{what.split('; ', 1)[1]}; its time series' rows are its steps' means, a step at capacity for part of it "
            f"included (its full batches over that part only)."
            for what, who in said.items()]


def figures_section(comparison: Comparison) -> str:
    """The overlaid figures (PNG), each with its caption and the notes on folders left out of it or of a
    panel: a fluid-tier run has no request records, so no latency distributions (:func:`fluid_notes`)."""
    from sim.report.render import draw_chart, figure_bytes

    names = [legend_name(i, f.path) for i, f in enumerate(comparison.folders)]
    notes: list[str] = []
    requests, series = read_tables(comparison, notes)
    usages = read_usages(comparison, notes)
    notes[:0] = fluid_notes(comparison, usages)
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
        summaries = [f.summary for f in comparison.folders]
        chart, width = over_time_chart(names, whole, series, ends, summaries=summaries, usages=usages)
        if chart is not None:
            priced = any(u is not None and price_per_gpu_hour(s) is not None for u, s in zip(usages, summaries))
            out.append(embedded(figure_bytes(draw_chart(chart), "png"), "png", "over_time",
                                CAPTIONS["over_time"].format(bin=humanize.duration(width),
                                                             cost=CAPTIONS["cost"] if priced else "")))
    except (InputError, ScenarioError):
        raise
    except Exception as exc:      # a figure that fails costs the figures, not the tables
        notes.append(f"figures not drawn: {type(exc).__name__}: {exc}")
    out += [f'<p class="note">{escape(n)}</p>' for n in notes]
    return "".join(out)
