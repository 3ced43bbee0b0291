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
  bins of a round duration (:func:`~sim.report.comparison_figures.bin_width`, about 80 over the longest
  run, none narrower than a request-level run's sampling interval): completed requests per second
  (from the request table, or a fluid-tier run's served requests in ``usage.npz``), the means of
  requests waiting, sequences running and replicas provisioned (summed over the pools), and the whole
  fleet's compute cost per hour; the figures are :mod:`sim.report.comparison_figures`' (its names
  re-exported here), the fleet over time :mod:`sim.report.comparison_over_time`'s. A fluid-tier run,
  which keeps no request records, has every panel but the latency distributions, and a note says so.

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

from collections.abc import Sequence
from pathlib import Path

from sim import humanize
from sim.errors import InputError, clipped
from sim.atomic import atomic_write_text
from sim.paths import output_file_problem
from sim.report.comparison import HISTOGRAM_ERROR, LOAD_RATES, Comparison, label
from sim.report.comparison_figures import (CAPTIONS, DASHES, LEGEND_WIDTH, REQUEST_FIELDS,  # noqa: F401 (re-exported)
                                           ROUND_SECONDS, THROUGHPUT_BINS, bin_width, binned_means,
                                           completions_per_second, figures_section, fleet_sums, latency_chart,
                                           fluid_notes, legend_name, over_time_chart, read_tables, read_usages)
from sim.report.comparison_words import cell, change_cell, settings
from sim.report.html_page import Page, escape

#: the files of each folder the page reads (none may be overwritten by it)
READ_FILES = ("summary.json", "scenario.json", "requests.csv.gz", "requests.csv", "timeseries.csv", "usage.npz")
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
#: most folders beside the base in one metric table (more: further tables, each with the base), so
#: that a table fits the page's width
PER_TABLE = 2


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
                      ["<tr>" + _cell(key) + "".join(f"<td>{_wrappable(text)}</td>" for text in settings(values, key)) + "</tr>"
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
