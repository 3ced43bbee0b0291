"""Figures of one run, drawn from its result folder (``figures/`` inside it, PNG and SVG).

``Result.write`` draws them as PNG only (:data:`sim.metrics.output.RUN_FIGURE_FORMATS`);
``fleetsim report`` redraws them in both formats. Their layout is fixed (margins in inches,
:func:`sim.report.render.new_figure`), so each is laid out and drawn once.

The data come from the folder's ``requests.csv.gz`` and ``timeseries.csv``, or, when the
caller still has them in memory (``Result.write``), from the same columns passed in, so a run
does not read back the files it has just written.

* ``latency_cdf``: empirical CDFs of TTFT, TPOT and end-to-end latency (log time axis), one
  line per request class when there are several, with the p50/p99 of all requests marked.
* ``timeseries``: queue length, running sequences, KV-cache blocks in use and replicas over
  time, one line per pool.
* ``utilization``: time-weighted mean busy fraction per pool.
* ``cashflow``: drawn by :mod:`sim.economics` (``cashflow.png``, written with the run); skipped
  with a note when absent.

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

from sim.io import atomic_write_bytes
from sim.report.render import FORMATS, new_figure, save_figure
from sim.report.result_folder import (as_columns, empirical_cdf, read_requests, read_timeseries,
                                      request_latencies, time_weighted_mean)

LATENCIES = (("ttft", "TTFT"), ("tpot", "TPOT (time per output token)"), ("e2e", "end-to-end"))
#: the request columns the figures use (only these are converted from in-memory tables)
REQUEST_INPUTS = ("arrival_s", "first_token_s", "completion_s", "output_tokens", "queue_s", "class")
#: most points drawn per CDF line (quantiles of the sorted values; min and max always included)
CDF_POINTS = 2_000
SERIES = (("queue_len", "queued requests"), ("running", "running sequences"),
          ("kv_blocks_used", "KV-cache blocks used"), ("replicas", "replicas"))


def write_run_figures(out_dir: Path | str, notes: list[str] | None = None, *,
                      requests: Mapping[str, Any] | None = None,
                      timeseries: Mapping[str, Any] | None = None,
                      result: Any = None,
                      formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Draw every run figure the data allow into ``out_dir/figures``; returns the paths written.

    Parameters
    ----------
    out_dir
        The run's result folder.
    notes
        If given, collects one line per figure skipped and why.
    requests, timeseries
        The ``requests.csv.gz`` / ``timeseries.csv`` columns (name -> numpy array or
        :class:`sim.io.Coded`) when the caller has them in memory; otherwise read from the folder.
    result
        A :class:`sim.api.Result` to take both tables from (ignored for a table passed directly).
    formats
        File formats of each figure (``png``, ``svg``, ...).
    """
    out = Path(out_dir)
    notes = notes if notes is not None else []
    if result is not None:
        from sim.metrics.output import request_table, timeseries_table

        requests = request_table(result) if requests is None else requests
        timeseries = timeseries_table(result) if timeseries is None else timeseries
    paths: list[Path] = []
    req = as_columns(requests, REQUEST_INPUTS) if requests is not None else read_requests(out)
    if req is not None and "arrival_s" in req and req["arrival_s"].size:
        paths += latency_cdf_figure(req, out / "figures" / "latency_cdf", formats)
    else:
        notes.append("latency CDFs skipped: no requests.csv.gz with rows")
    ts = as_columns(timeseries) if timeseries is not None else read_timeseries(out)
    if ts is not None and "time_s" in ts and ts["time_s"].size:
        paths += timeseries_figure(ts, out / "figures" / "timeseries", formats)
        if "busy_frac" in ts:
            paths += utilization_figure(ts, out / "figures" / "utilization", formats)
    else:
        notes.append("time-series and utilization figures skipped: no timeseries.csv with rows")
    paths += cashflow_figure(out, notes)
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


def latency_cdf_figure(req: dict[str, np.ndarray], stem: Path,
                       formats: tuple[str, ...] = FORMATS) -> list[Path]:
    lat = request_latencies(req)
    classes = req.get("class")
    by_class: dict[str, np.ndarray] = {}
    if classes is not None and classes.dtype.kind in "US":
        names = sorted(set(classes.tolist()))
        if 1 < len(names) <= 8:
            by_class = {n: classes == n for n in names}
    fig = new_figure(12.0, 3.8, margins=(0.7, 0.15, 0.5, 0.3), grid=(1, 3), wspace_in=0.55)
    axes = fig.subplots(1, 3)
    for ax, (key, title) in zip(axes, LATENCIES):
        ax.set_title(title)
        ax.set_xlabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        if key not in lat or lat[key].size == 0:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            continue
        values = np.sort(lat[key])        # sorted once: cdf_points and the percentiles are then cheap
        x, y = cdf_points(values)
        ax.step(x, y, where="post", color="k", lw=1.5, label="all requests")
        if by_class:
            full = _per_request(req, key)
            for i, (name, mask) in enumerate(by_class.items()):
                v = full[mask]
                v = v[np.isfinite(v)]
                if v.size:
                    cx, cy = cdf_points(v)
                    ax.step(cx, cy, where="post", lw=1, color=f"C{i}", label=name)
        for q, ls in ((50, ":"), (99, "--")):
            ax.axvline(np.percentile(values, q), color="grey", ls=ls, lw=1, label=f"p{q}")
        if x[0] > 0 and x[-1] / x[0] > 20:
            ax.set_xscale("log")
    axes[0].set_ylabel("fraction of requests ≤ x")
    axes[0].legend(fontsize="small")
    return save_figure(fig, stem, formats)


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


def timeseries_figure(ts: dict[str, np.ndarray], stem: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    present = [(k, lab) for k, lab in SERIES if k in ts]
    rows = max(len(present), 1)
    fig = new_figure(10.0, 2.2 * rows + 0.6, margins=(0.85, 0.15, 0.5, 0.12), grid=(rows, 1),
                     hspace_in=0.12)
    axes = np.atleast_1d(fig.subplots(rows, 1, sharex=True))
    hours = float(np.nanmax(ts["time_s"])) > 3 * 3600
    scale, unit = (3600.0, "hours") if hours else (1.0, "seconds")
    for ax, (key, label) in zip(axes, present):
        for i, (name, mask) in enumerate(_pools(ts)):
            ax.step(ts["time_s"][mask] / scale, ts[key][mask], where="post", lw=1, color=f"C{i}",
                    label=name)
        if key == "queue_len" and "central_queue" in ts and np.nanmax(ts["central_queue"]) > 0:
            first = _pools(ts)[0][1]    # fleet-wide value, repeated on every pool's rows
            ax.step(ts["time_s"][first] / scale, ts["central_queue"][first], where="post", lw=1,
                    color="k", ls="--", label="central queue (fleet)")
            ax.legend(fontsize="small")
        ax.set_ylabel(label)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)   # no offset text between panels
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel(f"simulated time ({unit})")
    if len(_pools(ts)) > 1:
        axes[0].legend(fontsize="small", title="pool")
    return save_figure(fig, stem, formats)


def utilization_figure(ts: dict[str, np.ndarray], stem: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    pools = _pools(ts)
    means = [time_weighted_mean(ts["time_s"][m], ts["busy_frac"][m]) for _, m in pools]
    fig = new_figure(max(4.0, 1.2 * len(pools) + 2), 3.5, margins=(0.75, 0.15, 0.4, 0.3))
    ax = fig.subplots()
    bars = ax.bar([n for n, _ in pools], means, color=[f"C{i}" for i in range(len(pools))])
    for b, v in zip(bars, means):
        if math.isfinite(v):
            ax.annotate(f"{v:.0%}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("GPU busy fraction (time-weighted)")
    ax.set_title("utilization per pool")
    ax.grid(True, axis="y", alpha=0.3)
    return save_figure(fig, stem, formats)


def cashflow_figure(out: Path, notes: list[str]) -> list[Path]:
    """The cash-flow chart, drawn by the economics layer.

    Redrawn from ``cashflow.csv`` (the per-period statement) with
    :meth:`sim.economics.EconomicsResult.figure_png` (or a ``write_cashflow_figure(folder)``
    function of :mod:`sim.economics`, if it has one) into ``figures/cashflow.png``; when that is
    not possible, the ``cashflow.png`` written with the run is used (also when it is at least as
    new as the CSV, so a run does not draw its chart twice); otherwise skipped with a note.
    """
    try:
        import sim.economics as econ
    except ImportError:  # pragma: no cover - the package is part of fleetsim
        econ = None
    csv_path = out / "cashflow.csv"
    drawn = out / "cashflow.png"
    if drawn.exists() and (not csv_path.exists() or drawn.stat().st_mtime >= csv_path.stat().st_mtime):
        return [drawn]                      # drawn with the run from the same statement
    if econ is not None and csv_path.exists():
        try:
            fn = getattr(econ, "write_cashflow_figure", None)
            if fn is not None:
                written = fn(out)
                if written:
                    return [Path(p) for p in (written if isinstance(written, (list, tuple)) else [written])]
            rows = _statement_rows(csv_path)
            if rows:
                png = econ.EconomicsResult(cashflow={}, cost={}, statement=rows, ledger=()).figure_png()
                target = atomic_write_bytes(out / "figures" / "cashflow.png", png)
                return [target]
        except Exception as exc:  # a broken optional chart must not lose the others
            notes.append(f"cash-flow chart not redrawn: {type(exc).__name__}: {exc}")
    if (out / "cashflow.png").exists():
        return [out / "cashflow.png"]
    notes.append("cash-flow chart skipped: no cashflow.csv or cashflow.png from the economics layer")
    return []


def _statement_rows(path: Path) -> list[dict]:
    """``cashflow.csv`` rows as dicts: numbers as floats, True/False as booleans."""
    import csv

    def parse(text: str):
        if text in ("True", "False"):
            return text == "True"
        try:
            return float(text)
        except ValueError:
            return text

    with open(path, newline="") as fh:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]
