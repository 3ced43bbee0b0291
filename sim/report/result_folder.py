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

Per-request latencies, seconds::

    TTFT = first_token_s - arrival_s
    E2E  = completion_s - arrival_s
    TPOT = (completion_s - first_token_s) / (output_tokens - 1)   (requests with > 1 output token)
"""
from __future__ import annotations

import csv
import gzip
import json
import math
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import InputError, ScenarioError, given
from sim.humanize import plural
from sim.io import reads_as_number
from sim.metrics.schema import REQUEST_COLUMNS, TS_COLUMNS, natural_range

Columns = dict[str, np.ndarray]
#: problems listed per file (then how many more)
MAX_PROBLEMS = 5
#: what to do about a damaged file, after its problems
_REWRITE = ("not as fleetsim writes it: write the folder again (fleetsim run, sweep, plan or saturation with "
            "--out), or move the file out of the folder to report without it")
#: text columns of ``requests.csv.gz`` and ``timeseries.csv``; every other column written is a number
_TEXT_TABLE_COLUMNS = ("pool", "class", "status", "reason")
#: summary blocks that are JSON objects when present (``pools`` and ``classes``: of one object each)
_BLOCKS = ("requests", "latency", "throughput", "slo", "utilization", "gpu_hours", "stability", "cost",
           "cashflow", "pools", "classes", "workload", "capacity_band", "autoscale", "failures",
           "disaggregation")
#: blocks whose every value is a number (or null), nested objects included
_NUMERIC_BLOCKS = ("requests", "latency", "throughput", "slo", "utilization", "gpu_hours")
#: other keys the report and the terminal summary read as numbers; ``*`` is any pool's name
_NUMERIC_KEYS = ("seed", "simulated_seconds", "wall_seconds", "cost.compute_usd",
                 "cost.per_million_output_tokens", "cashflow.revenue", "cashflow.compute_cost",
                 "cashflow.revenue_share_paid", "cashflow.revenue_share_received", "cashflow.net",
                 "stability.backlog_growth_per_s", "stability.offered_load_factor",
                 *(f"pools.*.{k}" for k in ("replicas", "replicas_mean", "tensor_parallel", "pipeline_parallel",
                                            "expert_parallel", "gpus_per_replica", "scale", "gpu_hours_provisioned",
                                            "gpu_busy", "kv_cache_mean", "mfu", "mbu", "load_factor")))


def read_columns(path: Path | str, numeric: Iterable[str] = (), required: Iterable[str] = (),
                 columns: Iterable[str] | None = None) -> Columns:
    """A CSV (optionally ``.gz``) as columns; numeric where every non-empty cell parses.

    ``numeric`` names the columns whose every non-empty cell must be a number and ``required``
    the columns the file must have: a file fleetsim wrote always passes, so a failure means the
    file was damaged or is not fleetsim's. ``columns``: only these (and the required) are kept and
    checked, the others' cells dropped as each line is read; every line's count of cells is still
    checked. A ``numeric`` column is held as numbers, converted :data:`CHUNK_ROWS` lines at a time,
    not as text. Raises :class:`~sim.errors.ScenarioError` naming the file, each line and column at
    fault (at most :data:`MAX_PROBLEMS`), or the columns missing; a file that is not (gzipped) UTF-8
    text likewise.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    numeric = set(numeric)
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return {}
            wanted = None if columns is None else {*columns, *required}
            keep = [j for j, name in enumerate(header) if wanted is None or name in wanted]
            table = _Table([header[k] for k in keep], numeric)
            uneven = []
            for row in reader:
                if row:
                    if len(row) != len(header):
                        uneven.append((reader.line_num, len(row)))
                    table.add(reader.line_num, [row[j] if j < len(row) else "" for j in keep])
            table.flush()
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, zlib.error) as exc:
        raise ScenarioError([("", f"cannot be read ({type(exc).__name__}: {exc}); "
                                  f"{_REWRITE}")], str(path)) from None
    problems = [("", f"no {name} column (the header is {given(','.join(header), 80)})")
                for name in required if name not in header]
    problems += [(f"line {n}", f"{cells} {plural(cells, 'cell')}, the header has {len(header)}")
                 for n, cells in uneven]
    cols, bad = table.columns()
    problems += bad
    _raise(problems, path)
    return cols


#: rows of a CSV converted at a time: the numeric columns are held as numbers, not text
CHUNK_ROWS = 65_536


class _Table:
    """Columns read a block of :data:`CHUNK_ROWS` lines at a time: a ``numeric`` column's block becomes
    numbers at once (its cells that are not, with their lines, kept as problems), any other column's
    cells are kept as text (one string per distinct value) and judged whole by :func:`_column`."""

    def __init__(self, names: list[str], numeric: set[str]) -> None:
        self.names, self.numeric = names, numeric
        self.rows: list[list[str]] = []
        self.lines: list[int] = []
        self.numbers: dict[str, list[np.ndarray]] = {n: [] for n in names if n in numeric}
        self.bad: dict[str, list[tuple[int, str]]] = {n: [] for n in names if n in numeric}
        self.text: dict[str, list[str]] = {n: [] for n in names if n not in numeric}
        self.seen: dict[str, str] = {}

    def add(self, line: int, cells: list[str]) -> None:
        self.rows.append(cells)
        self.lines.append(line)
        if len(self.rows) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        for j, name in enumerate(self.names):
            cells = [row[j] for row in self.rows]
            if name in self.numbers:
                try:
                    self.numbers[name].append(_numbers(cells))
                except ValueError:
                    self.bad[name] += [(n, c) for n, c in zip(self.lines, cells) if not _is_number(c)]
            else:
                self.text[name] += [self.seen.setdefault(c, c) for c in cells]
        self.rows, self.lines = [], []

    def columns(self) -> tuple[Columns, list[tuple[str, str]]]:
        """The columns, and a problem for each cell of a numeric column that is not a number."""
        cols: Columns = {}
        problems: list[tuple[str, str]] = []
        for name in self.names:
            if name in self.text:
                cols[name] = _column(self.text[name])
            elif self.bad[name]:
                problems += [(f"line {n}, column {name}", f"{given(c)} is not a number") for n, c in self.bad[name]]
            else:
                cols[name] = np.concatenate(self.numbers[name]) if self.numbers[name] else np.array([], dtype=float)
        return cols, problems


def _numbers(cells: list[str]) -> np.ndarray:
    """Cells as numbers, an empty one as NaN (a missing value); ValueError when one is not a number."""
    return np.array([float(c) if c != "" else np.nan for c in cells], dtype=float)


def _column(cells: list[str]) -> np.ndarray:
    try:
        return _numbers(cells)
    except ValueError:
        return np.array(cells, dtype=str)


def _is_number(cell: str) -> bool:
    """A number where fleetsim writes one; an empty cell is a missing value, not a wrong one."""
    return reads_as_number(cell or "nan")


def _raise(problems: list[tuple[str, str]], path: Path) -> None:
    """A :class:`~sim.errors.ScenarioError` of the first :data:`MAX_PROBLEMS` problems (and how many
    more there are) with what to do about them; nothing when there are none."""
    if problems:
        more = len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS] + ([("", f"... and {more} more")] if more > 0 else [])
        raise ScenarioError(problems + [("", _REWRITE)], str(path))


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
    """``summary.json`` of a run, or ``None`` when the folder has none; raises
    :class:`~sim.errors.InputError` for a file that is not JSON and
    :class:`~sim.errors.ScenarioError` for one that is not a summary as fleetsim writes it
    (:func:`summary_problems`)."""
    path = Path(folder) / "summary.json"
    if not path.exists():
        return None
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a file: not a fleetsim summary")
    try:
        with open(path, encoding="utf-8-sig") as fh:   # (a BOM an editor added is dropped)
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a fleetsim summary (invalid JSON: {exc})") from None
    except RecursionError:
        raise InputError(f"{path}: not a fleetsim summary (nested too deeply)") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a fleetsim summary (expected a JSON object, got {type(data).__name__})")
    _raise(summary_problems(data), path)
    return data


def summary_problems(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, problem)`` for each value of a summary that fleetsim would not have written: a block
    that is not an object, a number that is not a number (``true``/``false`` are not numbers
    either), a number outside its :func:`~sim.metrics.schema.natural_range` (an attainment of 1.5,
    a negative latency). Keys fleetsim does not know are left alone; so are missing ones (an
    earlier version's summary has fewer).

        >>> summary_problems({"slo": {"attainment": 1.5}, "latency": {"ttft": {"p99": "fast"}}, "pools": []})
        ... # doctest: +NORMALIZE_WHITESPACE
        [('pools', 'expected an object, got a list'), ('slo.attainment', '1.5 is outside [0, 1]'),
         ('latency.ttft.p99', "expected a number, got 'fast'")]
    """
    if not any(k in summary for k in ("scenario", "simulated_seconds", *_BLOCKS)):
        return [("", "not a fleetsim summary (none of its keys: scenario, simulated_seconds, requests, "
                     "latency, slo, ...)")]
    problems = []
    for scope, block in _scopes(summary):
        for name in _BLOCKS:
            value = block.get(name)
            if value is not None and not isinstance(value, dict):
                problems.append((scope + name, f"expected an object, got {_kind(value)}"))
        for name in ("pools", "classes"):
            for key, value in (block.get(name) if isinstance(block.get(name), dict) else {}).items():
                if not isinstance(value, dict):
                    problems.append((f"{scope}{name}.{key}", f"expected an object, got {_kind(value)}"))
        numeric = {k for name in _NUMERIC_BLOCKS if isinstance(block.get(name), dict)
                   for k, _ in _leaves(block[name], name + ".")}
        numeric |= {k for pattern in _NUMERIC_KEYS for k in _matches(block, pattern)}
        for key, value in _leaves(block):
            if key in numeric and value is not None and not _is_json_number(value):
                problems.append((scope + key, f"expected a number, got {given(value)}"))
            elif _is_json_number(value):
                lo, hi = natural_range(scope + key)
                if not math.isfinite(value):
                    problems.append((scope + key, f"{value} is not a finite number (fleetsim writes null)"))
                elif not lo <= value <= hi:
                    problems.append((scope + key, f"{given(value)} is outside [{lo:g}, {hi:g}]"))
    return problems


def _scopes(summary: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The summary, and each request class's and capacity-band side's block within it, which
    hold the same keys (``classes.chat.slo.attainment``)."""
    yield "", summary
    for name in ("classes", "capacity_band"):
        inner = summary.get(name)
        for key, value in (inner.items() if isinstance(inner, dict) else ()):
            if isinstance(value, dict):
                yield f"{name}.{key}.", value


def _leaves(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted key, value)`` under ``node`` that is not itself an object (classes and
    capacity-band sides are left to :func:`_scopes`)."""
    for key, value in node.items():
        if isinstance(value, dict):
            if not prefix and key in ("classes", "capacity_band"):
                continue
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _matches(block: Mapping[str, Any], pattern: str) -> Iterator[str]:
    """The dotted keys of ``block`` that ``pattern`` names (``*``: any key at that level)."""
    head, _, rest = pattern.partition(".")
    keys = (block if head == "*" else [head] if head in block else []) if isinstance(block, dict) else []
    for key in keys:
        if not rest:
            yield key
        else:
            yield from (f"{key}.{k}" for k in _matches(block[key], rest))


def _is_json_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    """How JSON would call ``value``'s type: an array is "a list", ``true`` "a boolean"."""
    return {list: "a list", str: f"the text {given(value)}", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


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
        if key not in _BOOL_COLUMNS and _is_number(text):
            return float(text) if text else text
        problems.append((f"line {line}, column {key}",
                         f"{given(text)} is not {'True or False' if key in _BOOL_COLUMNS else 'a number'}"))
        return text

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                rows.append({k: parse(reader.line_num, k, v) for k, v in row.items()})
            if reader.fieldnames is not None and "period" not in reader.fieldnames:
                problems.insert(0, ("", f"no period column (the header is {given(','.join(reader.fieldnames), 80)})"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScenarioError([("", f"cannot be read ({type(exc).__name__}: {exc}); {_REWRITE}")], str(path)) from None
    _raise(problems, path)
    return rows


#: the fields ``report.html`` reads from the result of a search, with their JSON kinds: each may be
#: absent; present, it must be of its kind (``?``: or null; ``!``: present, in an item of a list)
SEARCH_FIELDS = {
    "sweep.json": {"knobs": "objects", "seeds": "number", "configurations": "objects", "points": "objects",
                   "columns": "texts"},
    "plan.json": {"objective": "text", "knobs": "texts", "constraints": "texts", "seeds": "number",
                  "best": "object?", "groups": "objects", "evaluated": "objects", "capacity_band": "object",
                  "robust": "object?", "robust_groups": "objects"},
    "saturation.json": {"rate_path": "text", "rate": "number?", "upper": "number?", "attainment": "number?",
                        "probes": "objects", "capacity_band": "object", "concurrency": "number?",
                        "concurrency_upper": "number?"},
}
#: fields of the objects in those lists, and of a plan's ``best``
_SEARCH_ITEMS = {"knobs": {"path": "text!", "values": "list!", "paths": "texts"},
                 "best": {"overrides": "texts!"}, "groups": {"overrides": "texts"},
                 "robust": {"overrides": "texts!"}, "robust_groups": {"overrides": "texts"},
                 "evaluated": {"overrides": "texts?"},
                 "probes": {"rate": "number?", "concurrency": "number?"}}
_KINDS = {"object": (dict, "an object"), "objects": (list, "a list of objects"), "texts": (list, "a list of texts"),
          "list": (list, "a list"), "text": (str, "a text"), "number": ((int, float), "a number")}


def read_search(folder: Path | str, name: str) -> dict[str, Any] | None:
    """``sweep.json``, ``plan.json`` or ``saturation.json`` of ``folder``, or ``None`` when absent;
    raises :class:`~sim.errors.InputError` for a file that is not a JSON object and
    :class:`~sim.errors.ScenarioError` naming each field (:data:`SEARCH_FIELDS`) of the wrong kind."""
    path = Path(folder) / name
    if not path.exists():
        return None
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a file: not a fleetsim {name.removesuffix('.json')} result")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))   # (a BOM an editor added is dropped)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: invalid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{path}: invalid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, got {_kind(data)}")
    own = [key for key in SEARCH_FIELDS[name] if key != "columns"]     # (a sweep's columns: how to show it)
    if not any(key in data for key in own):     # {} made a page of empty sections
        _raise([("", f"not a fleetsim {name.removesuffix('.json')} result (none of its keys: "
                     f"{', '.join(own[:5])}, ...)")], path)
    problems = []
    for key, kind in SEARCH_FIELDS[name].items():
        problem = _field_problem(data, key, kind)
        if problem:
            problems.append((key, problem))
            continue
        value = data.get(key)
        items = list(enumerate(value)) if kind == "objects" and value else [("", value)] if isinstance(value, dict) else []
        for i, item in items:
            where = f"{key}.{i}" if i != "" else key
            if not isinstance(item, dict):
                problems.append((where, f"expected an object, got {_kind(item)}"))
                continue
            problems += [(f"{where}.{sub}", p) for sub, sub_kind in _SEARCH_ITEMS.get(key, {}).items()
                         if (p := _field_problem(item, sub, sub_kind))]
    _raise(problems, path)
    return data


def _field_problem(node: Mapping[str, Any], key: str, kind: str) -> str:
    """What is wrong with ``node[key]`` for ``kind`` (see :data:`SEARCH_FIELDS`), or empty."""
    required, nullable, kind = kind.endswith("!"), kind.endswith("?"), kind.rstrip("!?")
    types, words = _KINDS[kind]
    if key not in node:
        return "missing" if required else ""
    value = node[key]
    if value is None:
        return "" if nullable else f"expected {words}, got null"
    if not isinstance(value, types) or isinstance(value, bool):
        return f"expected {words}, got {_kind(value)}"
    if kind == "texts" and not all(isinstance(v, str) for v in value):
        return f"expected {words}, got {given(value)}"
    return ""


def read_timeseries(folder: Path | str) -> Columns | None:
    """``timeseries.csv`` as columns, checked as :func:`read_requests` checks its table; ``None``
    when the folder has none."""
    path = Path(folder) / "timeseries.csv"
    return read_columns(path, numeric=_numeric(TS_COLUMNS), required=("time_s",)) if path.exists() else None


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
