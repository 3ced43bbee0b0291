"""Reading a result folder back: summary, per-request columns, time series, cash flow.

A run's folder holds ``summary.json``, ``requests.csv.gz`` (one row per request: ``arrival_s,
first_token_s, completion_s, prompt_tokens, output_tokens, queue_s, preemptions, pool, replica,
class`` ...), ``timeseries.csv`` (``time_s, pool, queue_len, running, kv_blocks_used, busy_frac,
replicas``) and ``cashflow.csv``. Tables are returned as columns (``dict`` of numpy arrays):
numeric columns as float arrays with NaN for empty cells (a request that never got its first
token), other columns as string arrays.

Per-request latencies, seconds::

    TTFT = first_token_s - arrival_s
    E2E  = completion_s - arrival_s
    TPOT = (completion_s - first_token_s) / (output_tokens - 1)   (requests with > 1 output token)
"""
from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

Columns = dict[str, np.ndarray]


def read_columns(path: Path | str) -> Columns:
    """A CSV (optionally ``.gz``) as columns; numeric where every non-empty cell parses."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return {}
        raw = [row for row in reader if row]
    cols: Columns = {}
    for j, name in enumerate(header):
        cells = [row[j] if j < len(row) else "" for row in raw]
        cols[name] = _column(cells)
    return cols


def _column(cells: list[str]) -> np.ndarray:
    try:
        return np.array([float(c) if c != "" else np.nan for c in cells], dtype=float)
    except ValueError:
        return np.array(cells, dtype=str)


def as_columns(table: Mapping[str, Any], names: Iterable[str] | None = None) -> Columns:
    """In-memory columns in the form :func:`read_columns` gives for the same table written out.

    Numeric arrays become float arrays (NaN kept), coded string columns (anything with a
    ``strings()`` method, e.g. :class:`sim.io.Coded`) and other sequences become string arrays.
    ``names`` (if given) limits the conversion to those columns.
    """
    cols: Columns = {}
    for name, col in table.items():
        if names is not None and name not in names:
            continue
        if hasattr(col, "strings"):
            cols[name] = col.strings()
        else:
            arr = np.asarray(col)
            cols[name] = arr.astype(float) if arr.dtype.kind in "fiub" else arr.astype(str)
    return cols


def read_summary(folder: Path | str) -> dict[str, Any] | None:
    path = Path(folder) / "summary.json"
    if not path.exists():
        return None
    from sim.errors import InputError

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a fleetsim summary (invalid JSON: {exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a fleetsim summary (expected a JSON object, got {type(data).__name__})")
    return data


def read_requests(folder: Path | str) -> Columns | None:
    for name in ("requests.csv.gz", "requests.csv"):
        path = Path(folder) / name
        if path.exists():
            return read_columns(path)
    return None


#: ``cashflow.csv`` columns that are text even when they look like numbers (a yearly period is "2025")
_TEXT_COLUMNS = ("period", "start", "end")


def read_statement(folder: Path | str) -> list[dict] | None:
    """``cashflow.csv`` rows as dicts (numbers as floats, True/False as booleans, the period
    and its dates as text), or ``None`` when the folder has no ``cashflow.csv``."""
    path = Path(folder) / "cashflow.csv"
    if not path.exists():
        return None

    def parse(key: str, text: str):
        if key in _TEXT_COLUMNS:
            return text
        if text in ("True", "False"):
            return text == "True"
        try:
            return float(text)
        except ValueError:
            return text

    with open(path, newline="") as fh:
        return [{k: parse(k, v) for k, v in row.items()} for row in csv.DictReader(fh)]


def read_timeseries(folder: Path | str) -> Columns | None:
    path = Path(folder) / "timeseries.csv"
    return read_columns(path) if path.exists() else None


def request_latencies(req: Columns) -> dict[str, np.ndarray]:
    """Per-request ``ttft``, ``tpot``, ``e2e`` (and ``queue`` if recorded), seconds.

    Only finite values are kept: requests that did not reach the event are left out, and
    ``tpot`` only covers requests with more than one output token.
    """
    arrival = req["arrival_s"]
    out: dict[str, np.ndarray] = {}
    if "first_token_s" in req:
        out["ttft"] = req["first_token_s"] - arrival
    if "completion_s" in req:
        out["e2e"] = req["completion_s"] - arrival
    if "first_token_s" in req and "completion_s" in req and "output_tokens" in req:
        n = req["output_tokens"]
        with np.errstate(divide="ignore", invalid="ignore"):
            tpot = (req["completion_s"] - req["first_token_s"]) / (n - 1)
        out["tpot"] = np.where(n > 1, tpot, np.nan)
    if "queue_s" in req:
        out["queue"] = req["queue_s"]
    return {k: v[np.isfinite(v)] for k, v in out.items()}


def empirical_cdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and their empirical CDF ``i/n`` (i = 1..n).

        >>> empirical_cdf(np.array([3.0, 1.0, 2.0]))
        (array([1., 2., 3.]), array([0.33333333, 0.66666667, 1.        ]))
    """
    x = np.sort(np.asarray(values, dtype=float))
    return x, np.arange(1, x.size + 1) / max(x.size, 1)


def time_weighted_mean(time_s: np.ndarray, values: np.ndarray) -> float:
    """Mean of a step function sampled at ``time_s`` (each value holds until the next sample).

    The last sample carries the median sample spacing (or weight 1 when there is one sample).
    """
    t = np.asarray(time_s, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.size == 0:
        return float("nan")
    if t.size == 1:
        return float(v[0])
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    dt = np.diff(t)
    dt = np.append(dt, np.median(dt))
    ok = np.isfinite(v)
    return float(np.sum(v[ok] * dt[ok]) / np.sum(dt[ok])) if ok.any() and np.sum(dt[ok]) > 0 else float("nan")
