"""Turn a ``workload:`` block into requests: arrival times, lengths and classes, in chunks.

:func:`generate` yields :class:`RequestChunk` s (columns, in arrival order) lazily, so ten
million requests never need to be in memory at once.

Random streams: arrivals, class assignment and lengths, each spawned from ``SeedSequence(seed)``
as :mod:`sim.workload.streams` lays them out, so changing a length distribution never moves an
arrival time, and changing one class's lengths never moves another's. Every draw is element-wise,
so the output does not depend on ``chunk_size``.

Lengths of a request of class ``c``: ``classes[c].prompt_tokens``, else ``workload.prompt_tokens``,
else (only for trace arrivals) the trace row's own value; likewise for output tokens.

Classes: a request from ``workload.arrival`` gets a class drawn with probabilities ``share``;
when that arrival is a trace whose rows name a ``tenant``, the tenant's class is used instead (a
tenant that is not a class name is an error). A class with its own ``arrival`` gets all of that
process's requests; all processes are merged in time order (ties: ``workload.arrival`` first,
then classes in order).
"""
from __future__ import annotations

import datetime
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import InputError, ScenarioError, WorkloadFileError
from sim.scenario.workload import TokenDist, TraceArrival, TraceTokens, WorkloadConfig
from sim.workload.arrivals import ArrivalBlock, ArrivalCalendar, arrival_blocks
from sim.workload.classes import class_names
from sim.workload.lengths import sample_tokens, uniform_index
from sim.workload.streams import stream_seeds
from sim.workload.traces import TraceData, read_trace
from sim.paths import resolve_path
from sim.workload.validation import trace_files, unknown_tenants, validate


@dataclass(frozen=True)
class RequestChunk:
    """Consecutive requests in arrival order, as columns of equal length.

    ``arrival_s``: float64 seconds since ``t = 0``, non-decreasing (also across chunks);
    ``prompt_tokens`` / ``output_tokens``: int64, >= 1; ``class_idx``: int16 index into
    :func:`sim.workload.class_names`.
    """

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    class_idx: np.ndarray

    def __len__(self) -> int:
        return int(self.arrival_s.size)


@dataclass(frozen=True)
class _Block:
    """Merged arrivals before lengths are drawn (``-1``: length still to draw)."""

    t: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    cls: np.ndarray


class _Traces:
    """Trace files read once per :func:`generate` call, keyed by (path as written, format).

    Every trace held has at least one row: :func:`read_trace` raises ``InputError`` (``path: no
    usable rows: ...``) for a trace that gives no request, so resampling lengths from one never
    sees an empty pool. A file's problem is raised as :class:`~sim.errors.WorkloadFileError`
    naming the first field that names the file (``workload.arrival.path``)."""

    def __init__(self, cfg: WorkloadConfig, base_dir: Path, skip_bad_rows: bool, report: dict | None) -> None:
        self.base_dir, self.skip, self.report = base_dir, skip_bad_rows, report
        self.loaded: dict[tuple[str, str], TraceData] = {}
        self.fields: dict[tuple[str, str], str] = {}
        for where, path, format in trace_files(cfg):
            self.fields.setdefault((path, format), where)

    def get(self, path: str, format: str) -> TraceData:
        key = (path, format)
        if key not in self.loaded:
            try:
                data = read_trace(resolve_path(path, self.base_dir), format, skip_bad_rows=self.skip,
                                  display_path=path)
            except WorkloadFileError:
                raise
            except InputError as exc:
                raise WorkloadFileError([(self.fields.get(key, "workload"), str(exc))]) from None
            self.loaded[key] = data
            if self.report is not None:
                self.report["bad_rows"] = self.report.get("bad_rows", 0) + data.bad_rows
                self.report.setdefault("bad_rows_by_file", {})[path] = data.bad_rows
                self.report.setdefault("bad_row_messages", []).extend(data.messages)
        return self.loaded[key]


def generate(cfg: WorkloadConfig, horizon_s: float, seed: int, *,
             start: datetime.datetime | datetime.date | None = None, base_dir: pathlib.Path = Path("."),
             chunk_size: int = 65536, skip_bad_rows: bool = False,
             report: dict | None = None) -> Iterator[RequestChunk]:
    """Every request arriving in ``[0, horizon_s)``, in chunks of ``chunk_size`` (the last may be
    shorter; no empty chunks).

    Parameters
    ----------
    cfg : WorkloadConfig
        The ``workload:`` block; :func:`sim.workload.validate` problems raise ``ScenarioError``.
    horizon_s : float
        End of the generated period, seconds.
    seed : int
        Seed of all randomness; the same seed gives identical arrays.
    start : datetime, optional
        Calendar time of ``t = 0`` (diurnal clock and weekdays); a date means its midnight;
        midnight of a Monday if omitted.
    base_dir : Path
        Folder that trace paths are relative to (the scenario file's folder).
    skip_bad_rows : bool
        Leave out bad trace rows instead of raising :class:`sim.errors.InputError`.
    report : dict, optional
        Filled while generating: ``bad_rows`` (int), ``bad_rows_by_file`` ({path: int}),
        ``bad_row_messages`` (first few, per file) and ``requests`` (generated so far).
    """
    problems = validate(cfg, base_dir)
    if problems:
        raise ScenarioError(problems, source="workload")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1 (got {chunk_size})")
    if report is not None:
        report.setdefault("bad_rows", 0)
        report.setdefault("bad_rows_by_file", {})
        report.setdefault("bad_row_messages", [])
        report["requests"] = 0
    return _generate(cfg, float(horizon_s), int(seed), start, Path(base_dir), chunk_size,
                     skip_bad_rows, report)


def _generate(cfg: WorkloadConfig, horizon_s: float, seed: int, start, base_dir: Path, chunk_size: int,
              skip_bad_rows: bool, report: dict | None) -> Iterator[RequestChunk]:
    names = class_names(cfg)
    n_cls = len(names)
    traces = _Traces(cfg, base_dir, skip_bad_rows, report)
    calendar = ArrivalCalendar.from_start(start)
    arr_seeds, cls_ss, len_seeds = stream_seeds(seed, n_cls)
    cls_rng = np.random.default_rng(cls_ss)
    len_rngs = [tuple(np.random.default_rng(s) for s in pair) for pair in len_seeds]

    streams: list[Iterator[_Block]] = []
    shared = [i for i, c in enumerate(cfg.classes) if c.share is not None] if cfg.classes else [0]
    if cfg.arrival is not None and shared:
        streams.append(_shared_stream(cfg, horizon_s, np.random.default_rng(arr_seeds[0]), cls_rng,
                                      calendar, traces, shared, names))
    for i, c in enumerate(cfg.classes):
        if c.arrival is not None:
            trace = _trace_for(c.arrival, traces)
            blocks = _named(arrival_blocks(c.arrival, horizon_s, np.random.default_rng(arr_seeds[1 + i]),
                                           growth=cfg.growth, calendar=calendar, trace=trace),
                            f"workload.classes.{i}.arrival.path")
            streams.append(_fixed_class(blocks, i))

    dists = []
    for i in range(n_cls):
        c = cfg.classes[i] if cfg.classes else None
        dists.append(((c.prompt_tokens if c and c.prompt_tokens else cfg.prompt_tokens),
                      (c.output_tokens if c and c.output_tokens else cfg.output_tokens)))

    for block in _rechunk(_merge(streams), chunk_size):
        prompt, output = block.prompt.copy(), block.output.copy()
        for i in range(n_cls):
            rows = np.flatnonzero(block.cls == i) if n_cls > 1 else None
            k = block.t.size if rows is None else rows.size
            if k == 0:
                continue
            _fill_lengths(dists[i], len_rngs[i], k, rows, prompt, output, traces)
        if report is not None:
            report["requests"] += int(block.t.size)
        yield RequestChunk(block.t, prompt, output, block.cls)


def _trace_for(arrival, traces: _Traces) -> TraceData | None:
    return traces.get(arrival.path, arrival.format) if isinstance(arrival, TraceArrival) else None


def fields_of(cfg: WorkloadConfig, exc: WorkloadFileError) -> WorkloadFileError:
    """``exc``, raised by generating a workload derived from ``cfg`` (a fluid run's calibration
    workload, say), with each problem's field the first of ``cfg``'s fields naming its file."""
    named = trace_files(cfg)
    problems = [(next((_beside(w, where) for w, path, _ in named if msg.startswith(f"{path}: ")), where), msg)
                for where, msg in exc.problems]
    return WorkloadFileError(problems, exc.source)


def _beside(path_field: str, where: str) -> str:
    """``path_field`` (``workload.arrival.path``), or the key beside it that ``where`` names when that is
    not the path (``workload.arrival.rate_scale``: the key at fault, not the file).

        >>> _beside("workload.classes.1.arrival.path", "workload.arrival.rate_scale")
        'workload.classes.1.arrival.rate_scale'
        >>> _beside("workload.arrival.path", "workload.arrival.path")
        'workload.arrival.path'
    """
    key = where.rsplit(".", 1)[-1]
    return path_field if key == "path" or not where.endswith(".arrival." + key) else \
        f"{path_field.removesuffix('.path')}.{key}"


def _named(blocks: Iterator[ArrivalBlock], where: str) -> Iterator[ArrivalBlock]:
    """``blocks``, a trace's problem found while replaying it (it replays nothing inside the run,
    it cannot loop) raised as :class:`~sim.errors.WorkloadFileError` naming the field ``where``."""
    try:
        yield from blocks
    except WorkloadFileError:
        raise
    except InputError as exc:
        field = getattr(exc, "field", None)      # a key beside the path at fault (rate_scale)
        raise WorkloadFileError([(f"{where.removesuffix('.path')}.{field}" if field else where, str(exc))]) from None


def _shared_stream(cfg: WorkloadConfig, horizon_s: float, rng: np.random.Generator,
                   cls_rng: np.random.Generator, calendar: ArrivalCalendar, traces: _Traces,
                   shared: list[int], names: list[str]) -> Iterator[_Block]:
    """``workload.arrival`` with classes drawn by share (or read from trace tenants)."""
    trace = _trace_for(cfg.arrival, traces)
    tenant_map = None
    if trace is not None and cfg.classes and trace.tenant_names:
        index = {n: i for i, n in enumerate(names)}
        unknown = unknown_tenants(trace, names)
        if unknown:
            raise WorkloadFileError([("workload.arrival.path", unknown)])
        tenant_map = np.array([index[n] for n in trace.tenant_names], dtype=np.int16)
    cum = None
    if len(shared) > 1:
        cum = np.cumsum([cfg.classes[i].share for i in shared])
    shared_idx = np.asarray(shared, dtype=np.int16)
    blocks = arrival_blocks(cfg.arrival, horizon_s, rng, growth=cfg.growth, calendar=calendar, trace=trace)
    for b in _named(blocks, "workload.arrival.path"):
        n = b.arrival_s.size
        if cum is not None:
            pick = np.minimum(np.searchsorted(cum, cls_rng.random(n) * cum[-1], side="right"), len(shared) - 1)
            cls = shared_idx[pick]
        else:
            cls = np.full(n, shared_idx[0], dtype=np.int16)
        if tenant_map is not None and b.tenant is not None:
            has = b.tenant >= 0
            cls = np.where(has, tenant_map[np.maximum(b.tenant, 0)], cls).astype(np.int16)
        yield _as_block(b, cls)


def _fixed_class(blocks: Iterator[ArrivalBlock], i: int) -> Iterator[_Block]:
    for b in blocks:
        yield _as_block(b, np.full(b.arrival_s.size, i, dtype=np.int16))


def _as_block(b: ArrivalBlock, cls: np.ndarray) -> _Block:
    n = b.arrival_s.size
    none = np.full(n, -1, dtype=np.int64)
    return _Block(b.arrival_s.astype(np.float64, copy=False),
                  none if b.prompt_tokens is None else b.prompt_tokens.astype(np.int64),
                  none.copy() if b.output_tokens is None else b.output_tokens.astype(np.int64),
                  cls.astype(np.int16, copy=False))


def _fill_lengths(dists: tuple[TokenDist | None, TokenDist | None], rngs, k: int, rows: np.ndarray | None,
                  prompt: np.ndarray, output: np.ndarray, traces: _Traces) -> None:
    """Draw the lengths of ``k`` requests of one class into ``prompt``/``output`` at ``rows``."""
    pd, od = dists
    prng, orng = rngs
    sel = slice(None) if rows is None else rows
    joint = (isinstance(pd, TraceTokens) and isinstance(od, TraceTokens)
             and (pd.path, pd.format) == (od.path, od.format))
    if joint:
        data = traces.get(pd.path, pd.format)
        idx = uniform_index(data.arrival_s.size, prng, k)
        prompt[sel] = data.prompt_tokens[idx]
        output[sel] = data.output_tokens[idx]
        return
    if pd is not None:
        pool = traces.get(pd.path, pd.format).prompt_tokens if isinstance(pd, TraceTokens) else None
        prompt[sel] = sample_tokens(pd, prng, k, pool)
    if od is not None:
        pool = traces.get(od.path, od.format).output_tokens if isinstance(od, TraceTokens) else None
        output[sel] = sample_tokens(od, orng, k, pool)


def _merge(streams: list[Iterator[_Block]]) -> Iterator[_Block]:
    """Merge time-ordered block streams into one time-ordered stream (ties: stream order)."""
    if len(streams) == 1:
        for b in streams[0]:
            if b.t.size:
                yield b
        return
    bufs: list[_Block | None] = [None] * len(streams)
    live = [True] * len(streams)
    while True:
        for i, it in enumerate(streams):
            while live[i] and (bufs[i] is None or bufs[i].t.size == 0):
                nxt = next(it, None)
                if nxt is None:
                    live[i] = False
                    bufs[i] = None
                else:
                    bufs[i] = nxt
        pending = [b for b in bufs if b is not None and b.t.size]
        if not pending:
            return
        limits = [bufs[i].t[-1] for i in range(len(streams)) if live[i] and bufs[i] is not None]
        mark = min(limits) if limits else np.inf
        parts = []
        for i, b in enumerate(bufs):
            if b is None or b.t.size == 0:
                continue
            cut = int(np.searchsorted(b.t, mark, side="right"))
            parts.append(_Block(b.t[:cut], b.prompt[:cut], b.output[:cut], b.cls[:cut]))
            bufs[i] = _Block(b.t[cut:], b.prompt[cut:], b.output[cut:], b.cls[cut:])
        merged = _concat(parts)
        order = np.argsort(merged.t, kind="stable")
        yield _Block(merged.t[order], merged.prompt[order], merged.output[order], merged.cls[order])


def _concat(parts: list[_Block]) -> _Block:
    if len(parts) == 1:
        return parts[0]
    return _Block(np.concatenate([p.t for p in parts]), np.concatenate([p.prompt for p in parts]),
                  np.concatenate([p.output for p in parts]), np.concatenate([p.cls for p in parts]))


def _rechunk(blocks: Iterator[_Block], size: int) -> Iterator[_Block]:
    """Regroup blocks into blocks of exactly ``size`` rows (the last may be shorter)."""
    held: list[_Block] = []
    count = 0
    for b in blocks:
        if b.t.size == 0:
            continue
        held.append(b)
        count += b.t.size
        if count >= size:
            merged = _concat(held)
            n_full = (count // size) * size
            for lo in range(0, n_full, size):
                yield _Block(merged.t[lo:lo + size], merged.prompt[lo:lo + size],
                             merged.output[lo:lo + size], merged.cls[lo:lo + size])
            rest = _Block(merged.t[n_full:], merged.prompt[n_full:], merged.output[n_full:], merged.cls[n_full:])
            held = [rest] if rest.t.size else []
            count = rest.t.size
    if count:
        yield _concat(held)


__all__ = ["RequestChunk", "generate"]
