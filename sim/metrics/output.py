"""The result folder of one run: summary.json, requests.csv.gz, timeseries.csv, cashflow.csv, figures.

Every file is written atomically (temporary file, then rename), so an interrupted run never
leaves a half-written file behind.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.io import atomic_write_csv_gz, atomic_write_json, atomic_write_text, csv_text
from sim.serving.request import REJECT_REASONS

if TYPE_CHECKING:
    from sim.api import Result


def _clean(obj):
    """JSON-safe copy: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def request_columns(result: "Result") -> tuple[list[str], list]:
    from sim.api import REQUEST_COLUMNS, STATUS_NAMES

    rec = result.records
    def opt(col):
        return np.where(rec[col] >= 0, rec[col], np.nan)
    first = opt("first_token_s")
    comp = opt("completion_s")
    sched = opt("sched_s")
    cols = [rec["rid"], rec["arrival_s"], sched, first, comp, rec["prompt_tokens"], rec["output_tokens"],
            rec["generated_tokens"], sched - rec["arrival_s"], first - rec["arrival_s"], comp - rec["arrival_s"],
            rec["preemptions"], rec["retries"],
            [result.pool_names[i] if i >= 0 else "" for i in rec["pool"].tolist()], rec["replica"],
            [result.class_names[i] for i in rec["cls"].tolist()],
            [STATUS_NAMES[i] for i in rec["status"].tolist()],
            [REJECT_REASONS[i] for i in rec["reason"].tolist()]]
    return REQUEST_COLUMNS, cols


def write_result(result: "Result", out_dir: Path) -> Path:
    from sim.api import TS_COLUMNS

    out_dir.mkdir(parents=True, exist_ok=True)
    header, cols = request_columns(result)
    atomic_write_csv_gz(out_dir / "requests.csv.gz", header, cols)
    ts = result.timeseries
    ts_cols = [ts[:, k] for k in range(ts.shape[1])] if len(ts) else [[] for _ in TS_COLUMNS]
    if len(ts):
        ts_cols[1] = [result.pool_names[int(i)] for i in ts[:, 1]]
        for k in (2, 3, 4, 5, 6):
            ts_cols[k] = ts[:, k].astype(np.int64)
    atomic_write_text(out_dir / "timeseries.csv", csv_text(TS_COLUMNS, ts_cols))
    if result.economics is not None:
        result.economics.write(out_dir)
    try:
        from sim.report import write_run_figures
    except ImportError:
        write_run_figures = None
    if write_run_figures is not None:
        try:
            write_run_figures(out_dir)
        except Exception as exc:  # figures are a convenience; never lose the data files over them
            import sys
            print(f"warning: figures not written: {exc}", file=sys.stderr)
    atomic_write_json(out_dir / "summary.json", _clean(result.summary))
    return out_dir
