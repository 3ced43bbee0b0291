"""Per-request records and token-gap samples, kept as columns (numpy), appended in chunks.

A finished (completed, rejected or failed) request becomes one row of :data:`RECORD_DTYPE`; rows
are buffered as tuples and frozen into structured arrays every ``chunk`` rows.

``mode`` (the scenario's ``metrics.records``) decides what is kept:

* ``all`` (default) -- every row; summaries are computed from the rows (exact percentiles);
* ``sample`` -- every frozen chunk first updates streaming statistics
  (:class:`~sim.metrics.summary.RequestStats`: exact counts, sums and means, log-histogram
  percentiles within 0.5 %), then only a deterministic subset of rows is kept: request ``rid``
  is kept when ``splitmix64(rid) / 2**64 < sample_rate`` (a hash, so the subset does not alias
  with round-robin routing or periodic traces, and the same requests are kept in every run);
* ``none`` -- no rows; summaries from the streaming statistics only.

Under ``sample``/``none`` completed requests are also aggregated for the money layer into one
row per (``usage_bin_s`` bin of completion time, pool, class): count, mean completion time and
mean input/output tokens (see :meth:`RequestLog.usage_columns`), so memory stays bounded however
long the run. Inter-token gaps follow the same mode in :class:`GapLog` (a log-histogram instead
of one entry per decode iteration). The summary of a finished run's requests is
:mod:`sim.metrics.request_summary`'s (:func:`summarize_requests`, re-exported here).

>>> log = RequestLog(mode="none", chunk=2)
>>> log.append((0, 0.0, 0.0, 0.1, 1.0, 10, 5, 5, 0, 0, 0, 0, 0, 1, 0))
>>> len(log.array()), log.request_stats().request_block()["completed"]
(0, 1)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.metrics.histogram import LogHistogram
from sim.metrics.request_summary import RequestOutcome, summarize_requests  # noqa: F401 (re-exported)
from sim.metrics.summary import RequestStats, distinct_weighted

RECORD_DTYPE = np.dtype([
    ("rid", "i8"), ("arrival_s", "f8"), ("sched_s", "f8"), ("first_token_s", "f8"), ("completion_s", "f8"),
    ("prompt_tokens", "i8"), ("output_tokens", "i8"), ("generated_tokens", "i8"), ("preemptions", "i4"),
    ("retries", "i4"), ("pool", "i2"), ("replica", "i4"), ("cls", "i2"), ("status", "i1"), ("reason", "i1"),
])

RecordsMode = Literal["all", "sample", "none"]
_COMPLETED = 1


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (Steele, Lea & Flood 2014): a fixed, well-mixed 64-bit hash."""
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_mask(rid: np.ndarray, rate: float) -> np.ndarray:
    """Which requests a ``records: sample`` run keeps (deterministic in ``rid``)."""
    if rate >= 1.0:
        return np.ones(len(rid), dtype=bool)
    return splitmix64(rid) < np.uint64(min(int(rate * 2.0**64), 2**64 - 1))


@dataclass(frozen=True)
class UsageColumns:
    """Completed requests for the money layer: one row per request, or per aggregated group.

    ``count`` is the number of requests a row stands for (1 for a single request); token columns
    are per-request means, so ``count x tokens`` are the totals (the economics ``weight``
    convention: ``weight = count x pool scale``).
    """

    completion_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cls: np.ndarray
    pool: np.ndarray
    count: np.ndarray


class RequestLog:
    """Columnar store of finished requests (see the module docstring for ``mode``).

    Parameters
    ----------
    chunk : rows buffered before they are frozen (and, unless ``mode='all'``, summarised).
    mode : ``all`` | ``sample`` | ``none``.
    sample_rate : share of rows kept under ``sample``.
    warmup_s : requests arriving earlier are excluded from latency statistics (streaming modes).
    slo_thresholds : ``(ttft_s, tpot_s)`` pairs whose attainment is counted (streaming modes); the
        scenario's first, then one per class.
    n_classes : number of request classes (streaming statistics are kept per class).
    usage_bin_s : width of the completion-time bins of the aggregated usage rows.
    """

    def __init__(self, chunk: int = 65536, *, mode: RecordsMode = "all", sample_rate: float = 0.01,
                 warmup_s: float = 0.0, slo_thresholds: tuple[tuple[float, float], ...] = ((2.0, 0.1),),
                 n_classes: int = 1, usage_bin_s: float = 3600.0) -> None:
        if mode not in ("all", "sample", "none"):
            raise ValueError(f"mode must be one of all, sample, none (got {mode!r})")
        if not 0 < sample_rate <= 1:
            raise ValueError(f"sample_rate must be in (0, 1] (got {sample_rate})")
        self.chunk = chunk
        self.mode = mode
        self.sample_rate = float(sample_rate)
        self.warmup_s = float(warmup_s)
        self.slo_thresholds = [tuple(map(float, t)) for t in slo_thresholds]
        self.usage_bin_s = float(usage_bin_s)
        self._buf: list[tuple] = []
        self._parts: list[np.ndarray] = []
        self._stats = [RequestStats(warmup_s, self.slo_thresholds) for _ in range(max(n_classes, 1))]
        self._usage: dict[tuple[int, int, int], np.ndarray] = {}  # (bin, pool, cls) -> [n, sum t, sum in, sum out]

    @classmethod
    def for_scenario(cls, scenario, chunk: int = 65536) -> "RequestLog":
        """The log a run of ``scenario`` keeps (``metrics.records``, warmup, the SLOs of every class)."""
        from sim.workload import classes

        specs = classes(scenario.workload)
        thr = [(scenario.slo.ttft_s, scenario.slo.tpot_s)]
        thr += [(c.slo_ttft_s or scenario.slo.ttft_s, c.slo_tpot_s or scenario.slo.tpot_s) for c in specs]
        return cls(chunk, mode=scenario.metrics.records, sample_rate=scenario.metrics.sample_rate,
                   warmup_s=scenario.warmup, slo_thresholds=tuple(dict.fromkeys(thr)), n_classes=len(specs))

    # ------------------------------------------------------------------ filling
    def append(self, row: tuple) -> None:
        self._buf.append(row)
        if len(self._buf) >= self.chunk:
            self._flush()

    def add_open(self, rows: list[tuple], end_s: float | None = None) -> None:
        """Rows of requests still in flight at the end of the run (counted once, at the end)."""
        self._flush()
        if end_s is not None:
            for st in self._stats:
                st.end_s = end_s
        for r in rows:
            self._buf.append(r)
        self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        arr = np.array(self._buf, dtype=RECORD_DTYPE)
        self._buf = []
        if self.mode == "all":
            self._parts.append(arr)
            return
        self._absorb(arr)
        if self.mode == "sample":
            kept = arr[sample_mask(arr["rid"], self.sample_rate)]
            if len(kept):
                self._parts.append(kept)

    def _absorb(self, arr: np.ndarray) -> None:
        cls = arr["cls"].astype(np.int64)
        n = len(self._stats)
        if n == 1:
            self._stats[0].add(arr)
        else:
            for c in np.unique(cls):
                self._stats[int(c) if 0 <= c < n else 0].add(arr[cls == c])
        done = arr[arr["status"] == _COMPLETED]
        if len(done):
            b = np.floor(done["completion_s"] / self.usage_bin_s).astype(np.int64)
            keys = np.stack([b, done["pool"].astype(np.int64), done["cls"].astype(np.int64)], axis=1)
            uk, inv = np.unique(keys, axis=0, return_inverse=True)
            inv = inv.reshape(-1)
            sums = np.stack([np.bincount(inv, minlength=len(uk)).astype(np.float64),
                             np.bincount(inv, weights=done["completion_s"], minlength=len(uk)),
                             np.bincount(inv, weights=done["prompt_tokens"].astype(np.float64), minlength=len(uk)),
                             np.bincount(inv, weights=done["generated_tokens"].astype(np.float64),
                                         minlength=len(uk))], axis=1)
            for key, row in zip(map(tuple, uk.tolist()), sums):
                acc = self._usage.get(key)
                if acc is None:
                    self._usage[key] = row.copy()
                else:
                    acc += row

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return sum(len(p) for p in self._parts) + len(self._buf)

    def array(self, extra: list[tuple] = ()) -> np.ndarray:
        """The kept rows (all, the sample, or none), sorted by request id (arrival order).

        ``extra`` rows (requests still in flight) are merged into the result, not kept.
        """
        self._flush()
        parts = self._parts + [np.array(extra, dtype=RECORD_DTYPE)] if len(extra) else self._parts
        if not parts:
            return np.zeros(0, dtype=RECORD_DTYPE)
        arr = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if parts is self._parts:
            self._parts = [arr]
        rid = arr["rid"]
        if len(rid) < 2 or bool(np.all(rid[1:] > rid[:-1])):
            # rows often come in arrival order already: skip the reordering copy (~9 ms per
            # 100,000 rows); the result is never the kept array itself
            return arr if len(extra) else arr.copy()
        return arr[np.argsort(rid, kind="stable")]

    def request_stats(self, cls: int | None = None) -> RequestStats:
        """Streaming statistics of one class, or of all classes merged (streaming modes only)."""
        if self.mode == "all":
            raise ValueError("records: all keeps rows; summarise them with core_summary(rows, ...)")
        self._flush()
        if cls is not None:
            return self._stats[cls]
        out = RequestStats(self.warmup_s, self.slo_thresholds)
        for s in self._stats:
            out.merge(s)
        return out

    def usage_columns(self, rec: np.ndarray | None = None) -> UsageColumns:
        """Completed requests for :class:`~sim.economics.Usage`: the rows of ``rec`` one by one
        (``records: all``), else the aggregated (bin, pool, class) groups."""
        if self.mode == "all":
            done = (self.array() if rec is None else rec)
            done = done[done["status"] == _COMPLETED]
            return UsageColumns(done["completion_s"].astype(np.float64), done["prompt_tokens"].astype(np.int64),
                                done["generated_tokens"].astype(np.int64), done["cls"].astype(np.int64),
                                done["pool"].astype(np.int64), np.ones(len(done)))
        self._flush()
        keys = sorted(self._usage)
        if not keys:
            z = np.zeros(0)
            zi = np.zeros(0, dtype=np.int64)
            return UsageColumns(z, z, z, zi, zi, z)
        k = np.array(keys, dtype=np.int64)
        v = np.array([self._usage[key] for key in keys])
        n = v[:, 0]
        order = np.argsort(v[:, 1] / n, kind="stable")
        k, v, n = k[order], v[order], n[order]
        return UsageColumns(v[:, 1] / n, v[:, 2] / n, v[:, 3] / n, k[:, 2], k[:, 1], n)


class GapLog:
    """Inter-token gaps as (duration, count) pairs: one entry per decode iteration, not per token.

    With ``mode`` ``all`` the pairs are kept as the distinct gaps with their total counts
    (:func:`~sim.metrics.summary.distinct_weighted`, every :data:`REDUCE_AT` pairs): the exact
    weighted sample, whatever order the pairs came in, in the memory of its distinct values (a week
    of decode iterations: ~25 million pairs, ~63,000 distinct gaps). With ``mode`` ``sample`` or
    ``none`` the pairs are folded into a :class:`LogHistogram` every 65,536 entries instead.
    """

    #: pairs gathered before they are reduced to distinct gaps (``records: all``)
    REDUCE_AT = 1 << 20

    def __init__(self, mode: RecordsMode = "all") -> None:
        self.mode = mode
        self._gaps: list[float] = []
        self._counts: list[int] = []
        self._arr_gaps: list[np.ndarray] = []     # pairs not reduced yet ...
        self._arr_counts: list[np.ndarray] = []
        self._arr_n = 0                           # ... and how many
        self._tables: list[tuple[np.ndarray, np.ndarray]] = []   # (distinct gaps, total counts) each
        self._pend_gaps: list[np.ndarray] = []
        self._pend_counts: list[int] = []
        self._pend_n = 0
        self._hist = LogHistogram() if mode != "all" else None

    def add(self, gap: float, count: int) -> None:
        self._gaps.append(gap)
        self._counts.append(count)
        if len(self._gaps) >= 65536:
            self._freeze()

    def add_run(self, last_tokens: dict[float, int], start: float, first_end: float, first_step: float,
                gaps: np.ndarray | list[float], count: int) -> None:
        """One decode run from ``start``: the sequences whose last token came at ``t0``
        (``last_tokens``: t0 -> how many) waited ``first_step`` for their next one if ``t0`` is
        ``start``, else ``first_end - t0``; then ``gaps`` (the run's later step times) each seen by
        ``count`` sequences. The same pairs as the iteration-level engine books per iteration, in
        one call (the fast engine makes one per decode run); under ``records: all`` in any order,
        since only the distinct gaps and their total counts are kept."""
        gl, cl = self._gaps, self._counts
        for t0, c in last_tokens.items():
            gl.append(first_step if t0 == start else first_end - t0)
            cl.append(c)
            if len(gl) >= 65536:
                self._freeze()
                gl, cl = self._gaps, self._counts
        if count and len(gaps):
            # the histogram modes keep a long run's numpy gaps in the list, in the order the
            # iteration-level engine books them (a histogram's sums follow the order of its adds)
            self.add_array(gaps if type(gaps) is list or self._hist is None else gaps.tolist(), count)

    def add_array(self, gaps: np.ndarray | list[float], count: int) -> None:
        """``gaps`` each seen by ``count`` sequences (a short list goes the way of :meth:`add`)."""
        if type(gaps) is list:
            self._gaps += gaps
            self._counts += [count] * len(gaps)
            if len(self._gaps) >= 65536:
                self._freeze()
            return
        if len(gaps):
            if self._hist is not None:
                self._hist.add(np.asarray(gaps, dtype=np.float64), np.full(len(gaps), float(count)))
                return
            self._pend_gaps.append(np.asarray(gaps, dtype=np.float64))
            self._pend_counts.append(count)   # one count per array, expanded when merged
            self._pend_n += len(gaps)
            # many small arrays cost ~100 bytes of overhead each; a few long ones, their pairs
            if len(self._pend_gaps) >= 4096 or self._arr_n + self._pend_n >= self.REDUCE_AT:
                self._merge_pending()

    def _merge_pending(self) -> None:
        if self._pend_gaps:
            lens = [len(g) for g in self._pend_gaps]
            self._arr_gaps.append(np.concatenate(self._pend_gaps))
            self._arr_counts.append(np.repeat(np.array(self._pend_counts, dtype=np.int64), lens))
            self._arr_n += len(self._arr_gaps[-1])
            self._pend_gaps, self._pend_counts, self._pend_n = [], [], 0
            if self._arr_n >= self.REDUCE_AT:
                self._reduce()

    def _freeze(self) -> None:
        self._merge_pending()
        if self._gaps:
            g = np.array(self._gaps, dtype=np.float64)
            c = np.array(self._counts, dtype=np.int64)
            self._gaps, self._counts = [], []
            if self._hist is not None:
                self._hist.add(g, c.astype(np.float64))
            else:
                self._arr_gaps.append(g)
                self._arr_counts.append(c)
                self._arr_n += len(g)
                if self._arr_n >= self.REDUCE_AT:
                    self._reduce()

    def _reduce(self) -> None:
        """The pairs gathered so far become one more table of distinct gaps, merged into the one
        before it while that one is no longer (a binary counter: with few ties, a long run's pairs
        are merged a logarithmic number of times, not once per table). Tables are merged whatever
        they shrink: leaving the ones of few repeats unmerged until the end sorted 24 million values
        instead of 40 million for 12 million distinct gaps but took the same time (merges of sorted
        tables are cheap), and would keep every batch's copy of gaps that repeat across batches."""
        if self._arr_gaps:
            self._tables.append(distinct_weighted(np.concatenate(self._arr_gaps), np.concatenate(self._arr_counts)))
            self._arr_gaps, self._arr_counts, self._arr_n = [], [], 0
        while len(self._tables) > 1 and len(self._tables[-2][0]) <= len(self._tables[-1][0]):
            self._merge_tables(2)

    def _merge_tables(self, last: int | None = None) -> None:
        """The last ``last`` tables (all by default) merged into one."""
        k = len(self._tables) if last is None else last
        head, tail = self._tables[:-k], self._tables[-k:]
        self._tables = head + [distinct_weighted(np.concatenate([t[0] for t in tail]),
                                                 np.concatenate([t[1] for t in tail]))]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The gaps (``records: all``; empty otherwise): the distinct values, ascending, and how
        many times each was seen (the weighted sample :func:`~sim.metrics.summary.weighted_stats`
        reads)."""
        self._freeze()
        self._reduce()
        if not self._tables:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        if len(self._tables) > 1:
            self._merge_tables()
        return self._tables[0]

    def histogram(self) -> LogHistogram:
        """The gaps as a log-histogram (built from the pairs under ``records: all``)."""
        self._freeze()
        if self._hist is not None:
            return self._hist
        h = LogHistogram()
        g, c = self.arrays()
        if len(g):
            h.add(g, c.astype(np.float64))
        return h
