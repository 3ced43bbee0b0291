"""Figures of one run, drawn from its result folder (``figures/`` inside it).

Each figure is built once as a :class:`sim.report.chart.Chart` (what is plotted) and then drawn
by one of two renderers: ``Result.write`` writes quick-look SVGs (:func:`sim.report.chart.to_svg`,
no matplotlib, milliseconds); ``fleetsim report`` draws them with matplotlib as PNG and SVG
(:func:`sim.report.render.save_chart`). ``Result.write(..., figures="png")`` asks a run for the
matplotlib PNGs directly.

The data come from the folder's ``requests.csv.gz``, ``timeseries.csv`` and ``cashflow.csv``,
or, when the caller still has them in memory (``Result.write``), from the same tables passed
in, so a run does not read back the files it has just written.

* ``latency_cdf``: empirical CDFs of TTFT, TPOT and end-to-end latency (log time axis when the
  values span more than a factor of 20; milliseconds when every value is under a second), one
  line per request class when there are several, with the p50/p99 of all requests marked.
* ``timeseries``: queue length, running sequences, KV-cache blocks in use and replicas over
  time, one line per pool, each panel titled with its pool(s); counts on whole-number ticks from
  zero (a constant replica count is a flat line at its value, not on a 3.8-4.2 axis). A series
  longer than :data:`ENVELOPE_MIN_POINTS` is drawn as its min-max band per
  :data:`ENVELOPE_COLUMNS` columns with a line through the column means
  (:func:`sim.report.chart.envelope`).
* ``utilization``: per pool, GPU busy share, mean KV-cache use and, where the summary has them,
  MFU, MBU and load factor (``pools.<name>.*``, or the fleet's ``utilization.*`` for a
  one-pool fleet); from the time series' busy fraction alone without a summary.
* ``cashflow``: the money layer's statement per period
  (:func:`sim.report.cashflow.cashflow_chart`); skipped with a note without ``cashflow.csv``.

    >>> write_run_figures("results/baseline")          # doctest: +SKIP

Empirical CDFs over many requests are drawn through at most :data:`CDF_POINTS` of their points
(:func:`cdf_points`), which is exact to well under a pixel at these figure sizes.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import InputError, ScenarioError
from sim.metrics.names import name_of
from sim.report.cashflow import cashflow_chart
from sim.report.chart import FORMATS, Chart, Note, Panel, Rule, Series, envelope, figure_text, write_svg
from sim.report.result_folder import (as_columns, empirical_cdf, read_requests, read_statement,
                                      read_summary, read_timeseries, request_latencies, time_weighted_mean)
from sim.text_table import distinct_shortened, shortened, shown_width

LATENCIES = (("ttft", "TTFT"), ("tpot", "TPOT (time per output token)"), ("e2e", "end-to-end"))
#: the request columns the figures use (only these are converted from in-memory tables or read from
#: ``requests.csv.gz``: the other cells are dropped as each line is read)
REQUEST_INPUTS = ("arrival_s", "first_token_s", "completion_s", "output_tokens", "queue_s", "class")
#: most points drawn per CDF line (quantiles of the sorted values; min and max always included)
CDF_POINTS = 2_000
#: the run figures' file stems in ``figures/``
STEMS = ("latency_cdf", "timeseries", "utilization", "cashflow")
#: time-series panels: column, panel title, y label (all counts)
SERIES = (("queue_len", "queued requests", "requests"), ("running", "running sequences", "sequences"),
          ("kv_blocks_used", "KV-cache blocks in use", "blocks"), ("replicas", "replicas provisioned", "replicas"))
#: why a fluid-tier run's page has no latency CDFs
NO_FLUID_CDF = ("latency CDFs not drawn: a fluid-tier run follows the load as flows in steps and keeps no request "
                "records; its latency percentiles are in the metrics and per-class tables")
#: a time series with more points than this per pool is drawn as a min-max band with a mean line
ENVELOPE_MIN_POINTS = 1_500
#: columns of that band (about 3 px each on the 10-inch figure)
ENVELOPE_COLUMNS = 300
#: the utilization figure's name for fleet-wide values next to several pools
FLEET = "fleet (all pools)"
#: the utilization figure's bars: summary key, label (a share of 1.0 unless noted)
UTILIZATION = tuple((k, name_of(f"utilization.{k}")) for k in ("gpu_busy", "kv_cache_mean", "mfu", "mbu", "load_factor"))


def write_run_figures(out_dir: Path | str, notes: list[str] | None = None, *,
                      requests: Mapping[str, Any] | None = None,
                      timeseries: Mapping[str, Any] | None = None,
                      statement: list[dict] | None = None, currency: str = "USD",
                      summary: Mapping[str, Any] | None = None,
                      result: Any = None, renderer: str = "matplotlib",
                      formats: tuple[str, ...] = FORMATS, failures: list[str] | None = None) -> list[Path]:
    """Draw every run figure the data allow into ``out_dir/figures``; returns the paths written.

    Parameters
    ----------
    out_dir
        The run's result folder.
    notes
        If given, collects one line per figure skipped and why.
    requests, timeseries, statement
        The ``requests.csv.gz`` / ``timeseries.csv`` columns (name -> numpy array or
        :class:`sim.io.Coded`) and the cash-flow statement rows, when the caller has them in
        memory; otherwise read from the folder (a file not as fleetsim writes it raises
        :class:`~sim.errors.ScenarioError` naming it, see :mod:`sim.report.result_folder`).
    currency
        The statement's currency (with ``statement``).
    summary
        The run's summary (for the utilization figure); otherwise read from the folder.
    result
        A :class:`sim.api.Result` to take the tables from (ignored for a table passed directly).
    renderer
        ``"matplotlib"`` (each figure in each of ``formats``), or ``"svg"``: quick-look SVGs
        by :func:`sim.report.chart.to_svg`, without matplotlib (``formats`` ignored).
    formats
        File formats of each figure drawn by matplotlib (``png``, ``svg``, ...).
    failures
        If given, collects one line per figure that failed to draw (otherwise they go to
        ``notes``); the other figures are drawn regardless.
    """
    if renderer not in ("matplotlib", "svg"):
        raise ValueError(f"renderer={renderer!r}: allowed: matplotlib, svg")
    out = Path(out_dir)
    notes = notes if notes is not None else []
    if result is not None:
        requests, timeseries, summary, statement, currency = _tables_of(result, requests, timeseries, summary,
                                                                        statement, currency)
    w = _FigureWriter(out, renderer, formats, failures if failures is not None else notes)
    if summary is None:
        try:
            summary = read_summary(out)
        except Exception:       # a broken summary.json costs only the summary-based figures
            summary = None
    step = fluid_step(summary or {})
    req = w.table(requests, lambda folder: read_requests(folder, REQUEST_INPUTS), REQUEST_INPUTS)
    if req is not None and "arrival_s" in req and req["arrival_s"].size:
        w.draw("latency_cdf", lambda: latency_cdf_chart(req))
    elif step:
        notes.append(NO_FLUID_CDF)
    else:
        notes.append("latency CDFs skipped: no requests.csv.gz with rows")
    ts = w.table(timeseries, read_timeseries)
    if ts is not None and "time_s" in ts and ts["time_s"].size:
        w.draw("timeseries", lambda: timeseries_chart(ts, step))
    else:
        notes.append("time-series figure skipped: no timeseries.csv with rows")
    if _pool_utilization(summary) or (ts is not None and "busy_frac" in ts and ts["busy_frac"].size):
        w.draw("utilization", lambda: utilization_chart(ts, summary))
    else:
        notes.append("utilization figure skipped: no summary.json or time series with utilization")
    w.draw("cashflow", lambda: _statement_chart(out, statement, currency, notes))
    return w.paths


def _tables_of(result: Any, requests, timeseries, summary, statement, currency: str) -> tuple:
    """The tables of an in-memory :class:`sim.api.Result`, where the caller passed none of its own."""
    from sim.metrics.output import request_table, timeseries_table

    requests = request_table(result) if requests is None else requests
    timeseries = timeseries_table(result) if timeseries is None else timeseries
    summary = result.summary if summary is None else summary
    if statement is None and result.economics is not None:
        statement, currency = result.economics.statement, result.economics.currency
    return requests, timeseries, summary, statement, currency


class _FigureWriter:
    """Draws figures into ``out/figures`` with one renderer and reads the folder's tables; a figure
    that fails to draw costs only itself, with a line in ``failures``. A table that is not as
    fleetsim writes it (:mod:`sim.report.result_folder` says where) stops the drawing: a figure of a
    damaged file would look as trustworthy as any other."""

    def __init__(self, out: Path, renderer: str, formats: tuple[str, ...], failures: list[str]) -> None:
        self.out, self.renderer, self.formats, self.failures = out, renderer, formats, failures
        self.paths: list[Path] = []

    def draw(self, stem: str, build) -> None:
        """The chart ``build()`` returns (``None``: nothing to draw) as ``figures/<stem>.*``."""
        try:
            chart = build()
            if chart is None:
                return
            if self.renderer == "svg":
                self.paths.append(write_svg(chart, self.out / "figures" / stem))
            else:
                from sim.report.render import save_chart

                self.paths.extend(save_chart(chart, self.out / "figures" / stem, self.formats))
        except (InputError, ScenarioError):
            raise
        except Exception as exc:   # one broken figure must not cost the others
            self.failures.append(f"{stem} figure not drawn: {type(exc).__name__}: {exc}")

    def table(self, given, read, *names):
        """``given`` as columns, or the folder's file read with ``read`` (which raises for a
        damaged file, a truncated ``.gz`` say)."""
        return as_columns(given, *names) if given is not None else read(self.out)


def cdf_points(values: np.ndarray, max_points: int = CDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Points of the empirical CDF of ``values`` (sorted values, ``i/n``), at most ``max_points``.

    With more values than ``max_points``, the points kept are the order statistics at
    ``max_points`` evenly spaced ranks, always including the smallest and the largest, so the
    drawn step line is the exact CDF sampled every ``n / max_points`` ranks.

        >>> x, y = cdf_points(np.arange(10.0), max_points=4)
        >>> x.tolist(), y.tolist()
        ([0.0, 3.0, 6.0, 9.0], [0.1, 0.4, 0.7, 1.0])
    """
    x, y = empirical_cdf(values)
    if x.size <= max_points:
        return x, y
    idx = np.unique(np.linspace(0, x.size - 1, max_points).round().astype(np.int64))
    return x[idx], y[idx]


def latency_cdf_chart(req: dict[str, np.ndarray]) -> Chart:
    lat = request_latencies(req)
    classes = req.get("class")
    by_class: dict[str, np.ndarray] = {}
    if classes is not None and classes.dtype.kind in "US":
        names = sorted(set(classes.tolist()))
        if 1 < len(names) <= 8:
            by_class = {n: classes == n for n in names}
    panels = []
    for key, title in LATENCIES:
        panel = Panel(title=title, xlabel="seconds")
        panels.append(panel)
        if key not in lat or lat[key].size == 0:
            panel.notes.append(Note(0.5, 0.5, "no data", va="center", axes=True))
            continue
        values = np.sort(lat[key])        # sorted once: cdf_points and the percentiles are then cheap
        if values[-1] < 1.0:              # all under a second: milliseconds read better
            values = values * 1000.0
            panel.xlabel = "milliseconds"
        scale = 1000.0 if panel.xlabel == "milliseconds" else 1.0
        x, y = cdf_points(values)
        panel.series.append(Series(x, y, kind="step", color="k", width=1.5, label="all requests"))
        if by_class:
            full = _per_request(req, key)
            shown = distinct_shortened(by_class)
            for i, (name, mask) in enumerate(by_class.items()):
                v = full[mask] * scale
                v = v[np.isfinite(v)]
                if v.size:
                    cx, cy = cdf_points(v)
                    panel.series.append(Series(cx, cy, kind="step", color=f"C{i}", width=1.0,
                                               label=figure_text(shown[name])))
        for q, ls in ((50, ":"), (99, "--")):
            panel.rules.append(Rule(float(np.percentile(values, q)), color="grey", dash=ls, label=f"p{q}"))
        panel.xlog = bool(x[0] > 0 and x[-1] / x[0] > 20)
    panels[0].ylabel = "fraction of requests ≤ x"
    panels[0].legend = "inside"
    return Chart(panels, width_in=12.0, height_in=3.8, margins=(0.7, 0.15, 0.5, 0.3), cols=3, wspace_in=0.55)


def _per_request(req: dict[str, np.ndarray], key: str) -> np.ndarray:
    """Latency ``key`` for every request (NaN where undefined), aligned with request rows."""
    a = req["arrival_s"]
    if key == "ttft":
        return req["first_token_s"] - a
    if key == "e2e":
        return req["completion_s"] - a
    n = req["output_tokens"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 1, (req["completion_s"] - req["first_token_s"]) / (n - 1), np.nan)


def fluid_step(summary: Mapping[str, Any]) -> float | None:
    """A fluid-tier run's step (``fidelity.step_s``, whose rows its time series holds: each the means
    over the step it ends), ``None`` for a request-level run (rows sampled at their times).

        >>> fluid_step({"engine": "fluid", "fidelity": {"step_s": 3600.0}}), fluid_step({"engine": "fast"})
        (3600.0, None)
    """
    fid = summary.get("fidelity")
    if summary.get("engine") != "fluid" or not isinstance(fid, dict):
        return None
    step = fid.get("step_s")
    return float(step) if isinstance(step, (int, float)) and step > 0 else None


def step_starts(t: np.ndarray, step_s: float) -> np.ndarray:
    """The start of the fluid step each row at ``t`` ends (the grid's: whole steps from 0, the last cut
    at the run's end).

        >>> step_starts(np.array([3600.0, 7200.0, 9000.0]), 3600.0).tolist()
        [0.0, 3600.0, 7200.0]
    """
    return np.maximum(np.ceil(np.asarray(t, dtype=np.float64) / step_s - 1e-9) - 1.0, 0.0) * step_s


def _pools(ts: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    pool = ts.get("pool")
    if pool is None:
        return [("fleet", np.ones(ts["time_s"].size, dtype=bool))]
    names = list(dict.fromkeys(str(p) for p in pool.tolist()))
    return [(n, pool.astype(str) == n) for n in names]


def time_unit(end_s: float) -> tuple[float, str]:
    """The unit a time axis ending at ``end_s`` seconds reads in, and its length in seconds: days past
    three days, hours past three hours, else seconds.

        >>> time_unit(600), time_unit(4 * 3600), time_unit(7 * 86400)
        ((1.0, 'seconds'), (3600.0, 'hours'), (86400.0, 'days'))
    """
    return (86400.0, "days") if end_s > 3 * 86400 else (3600.0, "hours") if end_s > 3 * 3600 else (1.0, "seconds")


def timeseries_chart(ts: dict[str, np.ndarray], step_s: float | None = None) -> Chart:
    """The time-series figure: a panel per column of :data:`SERIES`, a line per pool. ``step_s``: a fluid-tier
    run's step, whose rows hold each step's means, drawn over the step each ends (from its start, the last
    held to its end), not from its end a step late, on ticks that need not be whole."""
    present = [spec for spec in SERIES if spec[0] in ts]
    rows = max(len(present), 1)
    scale, unit = time_unit(float(np.nanmax(ts["time_s"])))
    pools = _pools(ts)
    where = f"pool {figure_text(shortened(pools[0][0]))}" if len(pools) == 1 else "per pool"
    shown = distinct_shortened(name for name, _ in pools)
    panels = []
    for key, title, ylabel in present:
        mean = ", mean per step" if step_s else ""
        panel = Panel(title=f"{title}{mean}, {where}", title_pt=10.0, ylabel=ylabel, yinteger=not step_s)
        top = 0.0
        for i, (name, mask) in enumerate(pools):
            x, y = _over_steps(ts["time_s"][mask], ts[key][mask], step_s)
            panel.series += _time_series(x / scale, y, f"C{i}", figure_text(shown[name]))
            top = max(top, float(np.nanmax(y)) if np.isfinite(y).any() else 0.0)
        if key == "queue_len" and "central_queue" in ts and np.nanmax(ts["central_queue"]) > 0:
            first = pools[0][1]    # fleet-wide value, repeated on every pool's rows
            x, y = _over_steps(ts["time_s"][first], ts["central_queue"][first], step_s)
            panel.series += _time_series(x / scale, y, "k", "central queue (fleet)", dash="--")
            top = max(top, float(np.nanmax(ts["central_queue"])))
            panel.legend = "inside"
        panel.ylim = (0.0, max(top * 1.08, 1.0))      # counts from zero; a flat line sits at its value
        panels.append(panel)
    if len(pools) > 1 and panels:
        panels[0].legend, panels[0].legend_title = "inside", "pool"
    if panels:
        panels[-1].xlabel = f"simulated time ({unit})"
    return Chart(panels, width_in=10.0, height_in=2.3 * rows + 0.6, margins=(0.85, 0.15, 0.5, 0.3),
                 rows=rows, hspace_in=0.38, sharex=True)


def _over_steps(t: np.ndarray, v: np.ndarray, step_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    """A pool's rows as a step line draws them: sampled rows at their times; a fluid run's from the start
    of each step, the last value held to the last row's end."""
    if not step_s or not t.size:
        return t, v
    return np.append(step_starts(t, step_s), t[-1]), np.append(v, v[-1])


def _time_series(x: np.ndarray, y: np.ndarray, colour: str, label: str, dash: str = "") -> list[Series]:
    """A sampled series as a step line, or, past :data:`ENVELOPE_MIN_POINTS` points, as its
    min-max band per column with a line through the column means."""
    if x.size <= ENVELOPE_MIN_POINTS:       # a lone row (a one-step fluid run) is a dot, a step line draws none
        return [Series(x, y, kind="step", width=1.0, color=colour, dash=dash, label=label, marker=x.size == 1)]
    c, lo, hi, mean = envelope(x, y, ENVELOPE_COLUMNS)
    return [Series(c, hi, kind="band", bottom=lo, color=colour),
            Series(c, mean, kind="line", width=1.0, color=colour, dash=dash, label=f"{label} (mean; band: min-max)")]


def _pool_utilization(summary: Mapping[str, Any] | None) -> dict[str, dict[str, float]]:
    """Per pool, the utilization shares of :data:`UTILIZATION` the summary has (numbers only).

    A one-pool fleet takes the fleet's ``utilization.*`` for what its pool entry lacks (MFU,
    MBU and load factor are reported fleet-wide)."""
    if not isinstance(summary, Mapping):
        return {}
    pools = summary.get("pools") or {}
    fleet = summary.get("utilization") or {}
    out: dict[str, dict[str, float]] = {}
    for name, p in pools.items():
        vals = {k: float(p[k]) for k, _ in UTILIZATION if _isnum(p.get(k))}
        if len(pools) == 1:
            vals.update({k: float(fleet[k]) for k, _ in UTILIZATION if k not in vals and _isnum(fleet.get(k))})
        out[str(name)] = vals
    if len(out) != 1 and fleet:      # several pools (or none listed): the fleet's values too
        out[FLEET] = {k: float(fleet[k]) for k, _ in UTILIZATION if _isnum(fleet.get(k))}
    return {n: v for n, v in out.items() if v}


def _isnum(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def utilization_chart(ts: dict[str, np.ndarray] | None, summary: Mapping[str, Any] | None = None) -> Chart:
    """Grouped bars: for each utilization measure the summary reports, one bar per pool, labelled
    with its percentage. Without a summary, the time-weighted busy fraction per pool from ``ts``."""
    per_pool = _pool_utilization(summary)
    if not per_pool and ts is not None:
        per_pool = {n: {"gpu_busy": time_weighted_mean(ts["time_s"][m], ts["busy_frac"][m])}
                    for n, m in _pools(ts)}
    measures = [(k, lab) for k, lab in UTILIZATION if any(k in v for v in per_pool.values())]
    names = list(per_pool)
    shown = distinct_shortened(names)
    width = 0.8 / max(len(names), 1)
    panel = Panel(title=("utilization per pool" if len(names) > 1
                         else f"utilization, pool {figure_text(shortened(names[0]))}"),
                  ylabel="share (1.0 = 100 %)", grid="y",   # 'KV cache use (mean)' on two lines: the bars are close
                  categories=[lab.replace(" (", "\n(") for _, lab in measures])
    top = 1.0
    for i, name in enumerate(names):
        xs, ys = [], []
        for j, (k, _) in enumerate(measures):
            v = per_pool[name].get(k)
            if v is None or not math.isfinite(v):
                continue
            x = j - 0.4 + width * (i + 0.5)
            xs.append(x)
            ys.append(v)
            top = max(top, v)
            text = f"{v:.2f}" if k == "load_factor" else f"{v:.1%}" if v < 0.1 else f"{v:.0%}"
            panel.notes.append(Note(x, v, text))
        panel.series.append(Series(xs, ys, kind="bar", color="C7" if name == FLEET else f"C{i}",
                                   bar_width=width * 0.92,
                                   label=figure_text(shown[name]) if len(names) > 1 else None))
    panel.ylim = (0.0, top * 1.12)
    if len(names) > 1:
        panel.legend, panel.legend_title = "outside", "pool"
    # room for the legend right of the bars: ~0.09 in a character of its longest name (at most NAME_WIDTH
    # columns), its frame included
    longest = max((shown_width(shown[n]) for n in names), default=0)
    extra = max(1.6, 0.09 * longest) if len(names) > 1 else 0.0
    return Chart([panel], width_in=min(6.0 + 0.8 * len(measures) * (len(names) - 1), 10.0) + extra,
                 height_in=3.6, margins=(0.75, 0.15 + extra, 0.45, 0.35))


def _statement_chart(out: Path, statement: list[dict] | None, currency: str, notes: list[str]) -> Chart | None:
    """:func:`sim.report.cashflow.cashflow_chart` of the statement rows given or read from
    ``cashflow.csv``; ``None`` with a note when there are none."""
    rows = statement if statement is not None else read_statement(out)
    if not rows:
        notes.append("cash-flow chart skipped: no cashflow.csv with rows")
        return None
    return cashflow_chart(rows, currency)
