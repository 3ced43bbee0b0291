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
  values span more than a factor of 20), one line per request class when there are several,
  with the p50/p99 of all requests marked.
* ``timeseries``: queue length, running sequences, KV-cache blocks in use and replicas over
  time, one line per pool.
* ``utilization``: time-weighted mean busy fraction per pool.
* ``cashflow``: the money layer's statement per period
  (:meth:`sim.economics.EconomicsResult.chart`); skipped with a note without ``cashflow.csv``.

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

from sim.report.chart import FORMATS, Chart, Note, Panel, Rule, Series, write_svg
from sim.report.result_folder import (as_columns, empirical_cdf, read_requests, read_statement,
                                      read_timeseries, request_latencies, time_weighted_mean)

LATENCIES = (("ttft", "TTFT"), ("tpot", "TPOT (time per output token)"), ("e2e", "end-to-end"))
#: the request columns the figures use (only these are converted from in-memory tables)
REQUEST_INPUTS = ("arrival_s", "first_token_s", "completion_s", "output_tokens", "queue_s", "class")
#: most points drawn per CDF line (quantiles of the sorted values; min and max always included)
CDF_POINTS = 2_000
#: the run figures' file stems in ``figures/``
STEMS = ("latency_cdf", "timeseries", "utilization", "cashflow")
SERIES = (("queue_len", "queued requests"), ("running", "running sequences"),
          ("kv_blocks_used", "KV-cache blocks used"), ("replicas", "replicas"))


def write_run_figures(out_dir: Path | str, notes: list[str] | None = None, *,
                      requests: Mapping[str, Any] | None = None,
                      timeseries: Mapping[str, Any] | None = None,
                      statement: list[dict] | None = None, currency: str = "USD",
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
        memory; otherwise read from the folder.
    currency
        The statement's currency (with ``statement``).
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
        from sim.metrics.output import request_table, timeseries_table

        requests = request_table(result) if requests is None else requests
        timeseries = timeseries_table(result) if timeseries is None else timeseries
        if statement is None and result.economics is not None:
            statement, currency = result.economics.statement, result.economics.currency
    paths: list[Path] = []

    def draw(stem: str, build) -> None:
        try:
            chart = build()
            if chart is None:
                return
            if renderer == "svg":
                paths.append(write_svg(chart, out / "figures" / stem))
            else:
                from sim.report.render import save_chart

                paths.extend(save_chart(chart, out / "figures" / stem, formats))
        except Exception as exc:   # one broken figure must not cost the others
            (failures if failures is not None else notes).append(
                f"{stem} figure not drawn: {type(exc).__name__}: {exc}")

    def table(name: str, given, read, *names):
        """``given`` as columns, or the folder's file read with ``read``; ``None`` with a failure
        line when the file cannot be read (a truncated ``.gz``, say)."""
        try:
            return as_columns(given, *names) if given is not None else read(out)
        except Exception as exc:
            (failures if failures is not None else notes).append(
                f"{name} not read: {type(exc).__name__}: {exc}")
            return None

    req = table("requests.csv.gz", requests, read_requests, REQUEST_INPUTS)
    if req is not None and "arrival_s" in req and req["arrival_s"].size:
        draw("latency_cdf", lambda: latency_cdf_chart(req))
    else:
        notes.append("latency CDFs skipped: no requests.csv.gz with rows")
    ts = table("timeseries.csv", timeseries, read_timeseries)
    if ts is not None and "time_s" in ts and ts["time_s"].size:
        draw("timeseries", lambda: timeseries_chart(ts))
        if "busy_frac" in ts:
            draw("utilization", lambda: utilization_chart(ts))
    else:
        notes.append("time-series and utilization figures skipped: no timeseries.csv with rows")
    draw("cashflow", lambda: cashflow_chart(out, statement, currency, notes))
    return paths


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
        x, y = cdf_points(values)
        panel.series.append(Series(x, y, kind="step", color="k", width=1.5, label="all requests"))
        if by_class:
            full = _per_request(req, key)
            for i, (name, mask) in enumerate(by_class.items()):
                v = full[mask]
                v = v[np.isfinite(v)]
                if v.size:
                    cx, cy = cdf_points(v)
                    panel.series.append(Series(cx, cy, kind="step", color=f"C{i}", width=1.0, label=name))
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


def _pools(ts: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    pool = ts.get("pool")
    if pool is None:
        return [("fleet", np.ones(ts["time_s"].size, dtype=bool))]
    names = list(dict.fromkeys(str(p) for p in pool.tolist()))
    return [(n, pool.astype(str) == n) for n in names]


def timeseries_chart(ts: dict[str, np.ndarray]) -> Chart:
    present = [(k, lab) for k, lab in SERIES if k in ts]
    rows = max(len(present), 1)
    hours = float(np.nanmax(ts["time_s"])) > 3 * 3600
    scale, unit = (3600.0, "hours") if hours else (1.0, "seconds")
    pools = _pools(ts)
    panels = []
    for key, label in present:
        panel = Panel(ylabel=label)
        for i, (name, mask) in enumerate(pools):
            panel.series.append(Series(ts["time_s"][mask] / scale, ts[key][mask], kind="step", width=1.0,
                                       color=f"C{i}", label=name))
        if key == "queue_len" and "central_queue" in ts and np.nanmax(ts["central_queue"]) > 0:
            first = pools[0][1]    # fleet-wide value, repeated on every pool's rows
            panel.series.append(Series(ts["time_s"][first] / scale, ts["central_queue"][first], kind="step",
                                       width=1.0, color="k", dash="--", label="central queue (fleet)"))
            panel.legend = "inside"
        panels.append(panel)
    if len(pools) > 1 and panels:
        panels[0].legend, panels[0].legend_title = "inside", "pool"
    if panels:
        panels[-1].xlabel = f"simulated time ({unit})"
    return Chart(panels, width_in=10.0, height_in=2.2 * rows + 0.6, margins=(0.85, 0.15, 0.5, 0.12),
                 rows=rows, hspace_in=0.12, sharex=True)


def utilization_chart(ts: dict[str, np.ndarray]) -> Chart:
    pools = _pools(ts)
    means = [time_weighted_mean(ts["time_s"][m], ts["busy_frac"][m]) for _, m in pools]
    x = list(range(len(pools)))
    panel = Panel(title="utilization per pool", ylabel="GPU busy fraction (time-weighted)", ylim=(0.0, 1.05),
                  grid="y", categories=[n for n, _ in pools])
    for i, v in enumerate(means):
        panel.series.append(Series([x[i]], [v], kind="bar", color=f"C{i}"))
        if math.isfinite(v):
            panel.notes.append(Note(x[i], v, f"{v:.0%}"))
    return Chart([panel], width_in=max(4.0, 1.2 * len(pools) + 2), height_in=3.5,
                 margins=(0.75, 0.15, 0.4, 0.3))


def cashflow_chart(out: Path, statement: list[dict] | None, currency: str, notes: list[str]) -> Chart | None:
    """The cash-flow chart of :meth:`sim.economics.EconomicsResult.chart`, from the statement rows
    given or read from ``cashflow.csv``; ``None`` with a note when there are none."""
    import sim.economics as econ

    rows = statement if statement is not None else read_statement(out)
    if not rows:
        notes.append("cash-flow chart skipped: no cashflow.csv with rows")
        return None
    return econ.EconomicsResult(cashflow={}, cost={}, statement=rows, ledger=(), currency=currency).chart()
