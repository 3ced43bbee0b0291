"""Reading a result folder back: summary, per-request columns, time series, cash flow.

A run's folder holds ``summary.json``, ``requests.csv.gz`` (one row per request: ``arrival_s,
first_token_s, completion_s, prompt_tokens, output_tokens, queue_s, preemptions, pool, replica,
class`` ...), ``timeseries.csv`` (``time_s, pool, queue_len, running, kv_blocks_used, busy_frac,
replicas``) and ``cashflow.csv``. Tables are returned as columns (``dict`` of numpy arrays):
numeric columns as float arrays with NaN for empty cells (a request that never got its first
token), other columns as string arrays.

Each reader checks what it reads against what fleetsim writes (a number where a number is
written, a block where a block is, shares within [0, 1]) and raises
:class:`~sim.errors.ScenarioError`, one line per problem naming the file, the line and column or
the summary key, instead of handing a damaged file to a figure or a table: a report drawn from
a garbage file would look as trustworthy as any other. A file that is absent is not a problem
(its figure or table is left out with a note).

The readers are here and in the modules this one re-exports: a CSV as checked columns
(:mod:`sim.report.csv_columns`: :func:`read_columns`, :func:`as_columns`), ``summary.json``
(:mod:`sim.report.summary_check`: :func:`read_summary`, :func:`summary_problems`), a search's result
(:mod:`sim.report.search_result`: :func:`read_search`, :data:`SEARCH_FIELDS`), the problems of a
damaged file (:mod:`sim.report.folder_problems`).

Per-request latencies, seconds::

    TTFT = first_token_s - arrival_s
    E2E  = completion_s - arrival_s
    TPOT = (completion_s - first_token_s) / (output_tokens - 1)   (requests with > 1 output token)
"""
from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sim.errors import ScenarioError, given
from sim.metrics.schema import REQUEST_COLUMNS, TS_COLUMNS
from sim.report.csv_columns import CHUNK_ROWS, Columns, as_columns, is_number, read_columns  # noqa: F401 (re-exported)
from sim.report.folder_problems import CUT_MID_LINE, MAX_PROBLEMS, REWRITE, raise_problems  # noqa: F401 (re-exported)
from sim.report.search_result import SEARCH_FIELDS, read_search  # noqa: F401 (re-exported)
from sim.report.summary_check import read_summary, summary_problems  # noqa: F401 (re-exported)

#: text columns of ``requests.csv.gz`` and ``timeseries.csv``; every other column written is a number
_TEXT_TABLE_COLUMNS = ("pool", "class", "status", "reason")


def read_requests(folder: Path | str, columns: Iterable[str] | None = None) -> Columns | None:
    """``requests.csv.gz`` (or ``requests.csv``) as columns (``columns``: only those,
    :func:`read_columns`), every column fleetsim writes as numbers checked to be numbers; ``None``
    when the folder has neither."""
    for name in ("requests.csv.gz", "requests.csv"):
        path = Path(folder) / name
        if path.exists():
            return read_columns(path, numeric=_numeric(REQUEST_COLUMNS), required=("arrival_s",), columns=columns)
    return None


def _numeric(columns: Iterable[str]) -> tuple[str, ...]:
    return tuple(c for c in columns if c not in _TEXT_TABLE_COLUMNS)


#: ``cashflow.csv`` columns that are text even when they look like numbers (a yearly period is "2025")
_TEXT_COLUMNS = ("period", "start", "end")
#: ``cashflow.csv`` columns written as ``True``/``False``; every other column is a number or empty
_BOOL_COLUMNS = ("partial", "after_horizon")


def read_statement(folder: Path | str) -> list[dict] | None:
    """``cashflow.csv`` rows as dicts (numbers as floats, True/False as booleans, the period
    and its dates as text), or ``None`` when the folder has no ``cashflow.csv``; raises
    :class:`~sim.errors.ScenarioError` for a cell that is not what fleetsim writes there."""
    path = Path(folder) / "cashflow.csv"
    if not path.exists():
        return None
    rows, problems = [], []

    def parse(line: int, key: str | None, text: str | list | None):
        if key in _TEXT_COLUMNS:
            return text
        if key is None or text is None:      # more cells than the header, or fewer
            problems.append((f"line {line}", "not as many cells as the header"))
            return text
        if key in _BOOL_COLUMNS and text in ("True", "False"):
            return text == "True"
        if key not in _BOOL_COLUMNS and is_number(text):
            return float(text) if text else text
        problems.append((f"line {line}, column {key}",
                         f"{given(text)} is not {'True or False' if key in _BOOL_COLUMNS else 'a number'}"))
        return text

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                rows.append({k: parse(reader.line_num, k, v) for k, v in row.items()})
            fh.seek(0, 2)
            if fh.tell() and not _ends_a_line(path):     # cut mid-row: its last number may still read as one
                problems.insert(0, (f"line {max(reader.line_num, 1)}", CUT_MID_LINE))
            if reader.fieldnames is not None and "period" not in reader.fieldnames:
                problems.insert(0, ("", f"no period column (the header is {given(','.join(reader.fieldnames), 80)})"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScenarioError([("", f"cannot be read ({type(exc).__name__}: {exc}); {REWRITE}")], str(path)) from None
    raise_problems(problems, path)
    return rows


def _ends_a_line(path: Path) -> bool:
    """Whether the file's last byte ends a line (as every file fleetsim writes does)."""
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) in (b"\n", b"\r")


def read_timeseries(folder: Path | str) -> Columns | None:
    """``timeseries.csv`` as columns, checked as :func:`read_requests` checks its table; ``None``
    when the folder has none."""
    path = Path(folder) / "timeseries.csv"
    return read_columns(path, numeric=_numeric(TS_COLUMNS), required=("time_s",)) if path.exists() else None


#: ``usage.npz``'s members the comparison page reads: the provisioned intervals (GPUs over time) and the
#: served requests (a fluid-tier run's completions per step)
USAGE_MEMBERS = ("interval_gpus", "interval_start_s", "interval_end_s", "completion_s", "weight")


def read_usage_columns(folder: Path | str, members: Iterable[str] = USAGE_MEMBERS) -> Columns | None:
    """``members`` of the folder's ``usage.npz`` (only those are read: a request-level run keeps a row
    per request there), each checked to be a one-dimensional column of finite numbers at least 0, of one
    length with the members of its kind (``interval_*``, the rest), no interval ending before it starts,
    as fleetsim writes them; ``None``
    when the folder has none. A damaged file is a :class:`~sim.errors.ScenarioError` naming it."""
    import zipfile

    path = Path(folder) / "usage.npz"
    if not path.exists():
        return None
    problems, out = [], {}
    try:
        with open(path, "rb") as fh:          # numpy would blame pickled data, allow_pickle and trust
            if fh.read(4) != b"PK\x03\x04":
                raise ValueError("not a zip file, as a .npz is")
        with np.load(path, allow_pickle=False) as z:
            for name in members:
                if name not in z.files:
                    problems.append((name, "missing"))
                    continue
                v = z[name]
                if v.ndim != 1 or v.dtype.kind not in "iuf" or not np.isfinite(v).all() or (v < 0).any():
                    problems.append((name, "not a column of finite numbers at least 0"))
                else:
                    out[name] = v.astype(np.float64)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        problems.append(("", f"not a NumPy .npz archive fleetsim can read ({str(exc)[:120]})"))
    for interval in (True, False):
        sizes = {v.size for k, v in out.items() if k.startswith("interval_") == interval}
        if len(sizes) > 1:
            problems.append(("", f"its {'interval' if interval else 'served'} columns differ in length"))
    if not problems and "interval_start_s" in out and "interval_end_s" in out:
        back = int(np.count_nonzero(out["interval_end_s"] < out["interval_start_s"]))
        if back:          # (a negative length would draw negative GPUs)
            problems.append(("interval_end_s", f"before its interval_start_s in {back:,} row{'s' * (back != 1)} "
                                               f"of {out['interval_start_s'].size:,}"))
    if problems:
        raise ScenarioError(problems, str(path))
    return out


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
