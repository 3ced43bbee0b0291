"""Summaries over the columnar records: latency percentiles, throughput, SLO attainment.

Definitions (seconds):

* measured requests: those arriving at or after ``warmup``;
* TTFT = first token − arrival; TPOT = (completion − first token) / (output tokens − 1), for
  requests with at least two output tokens; E2E = completion − arrival; queue = first admission
  into a batch − arrival; ITL = every gap between consecutive tokens of a measured request (from
  the per-iteration gap log, weighted by the measured sequences that saw it; stalls while other
  requests prefill and after a preemption included);
* throughput counts requests (and their tokens) completed in ``[warmup, end]`` divided by
  ``end − warmup``, ``end`` being the end of the run (with ``drain: true`` the end of the drain:
  what the fleet delivered; an offline burst's is MLPerf Offline's throughput);
* SLO attainment = share of measured requests that completed with TTFT ≤ ``slo.ttft_s`` and
  TPOT ≤ ``slo.tpot_s`` (a single-token request has no TPOT and meets that part), among those whose
  outcome is known: completed, rejected or failed ones (rejected and failed count as misses), plus
  requests still in flight at the end that have already missed their TTFT objective (a first token
  later than ``ttft_s``, or none yet after waiting longer than ``ttft_s``). In-flight requests that
  may still make it are left out. goodput = SLO-meeting completions per second.
* requests in flight at the end (a run that ends with a backlog): TTFT and queue time of those that
  already have a first token (were admitted) are known and counted; those still waiting longer than
  the scenario's ``slo.ttft_s`` count with their age at the end — a lower bound, so an overloaded
  run's tail percentiles are not flattered by leaving its backlog out. E2E and TPOT cover completed
  requests only. ``drain: true`` finishes every request instead.
"""
from __future__ import annotations

import math

import numpy as np

from sim.metrics.schema import COMPLETED, FAILED, IN_FLIGHT, REJECTED

QUANTILES = (50, 90, 99)


def stats(values: np.ndarray) -> dict:
    """``{mean, p50, p90, p99}`` of a sample (``None`` for an empty one); linear interpolation."""
    if len(values) == 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    q = np.percentile(values, QUANTILES)
    return {"mean": float(np.mean(values)), "p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2])}


def weighted_stats(values: np.ndarray, weights: np.ndarray) -> dict:
    """``{mean, p50, p90, p99}`` of values repeated ``weights`` times (inverted-CDF quantiles)."""
    if len(values) == 0 or weights.sum() == 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    # -0.0 read as 0.0: the two are equal, and which one a group of ties showed would otherwise
    # follow the order the pairs came in
    values = np.asarray(values, dtype=np.float64) + 0.0
    order = np.argsort(_sort_key(values), kind="stable")
    v = values[order]
    w = weights[order]
    # whole-number weights are summed as integers (exact in any order and grouping up to 2**63,
    # where float sums round past 2**53), then read as floats: the same floats below 2**53
    cw = np.cumsum(w).astype(np.float64)
    total = cw[-1]
    # numpy's own (pairwise, fixed-order) sum of the products, not np.dot: BLAS splits a dot by
    # thread count, so one seed gave different last digits on a 1-thread and a 4-thread machine.
    # (math.fsum would be exact too but takes ~100 ms for 547,000 gaps; this takes ~1 ms)
    # equal values' weights are summed first, so the mean does not depend on the order in which
    # tied pairs were recorded (replicas and the two engines interleave them differently)
    first = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    out = {"mean": float(np.add.reduce(v[first] * np.add.reduceat(w, first).astype(np.float64))) / float(total)}
    for q in QUANTILES:
        idx = int(np.searchsorted(cw, q / 100.0 * total, side="left"))
        out[f"p{q}"] = float(v[min(idx, len(v) - 1)])
    return out


def distinct_weighted(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` each repeated ``weights`` times (whole numbers) as the same sample's distinct
    values, ascending, each with its total weight: :func:`weighted_stats` of the pair gives the same
    floats as of the input, bit for bit (it groups equal values itself, and whole-number weights sum
    exactly in any order), so a long gap log can be reduced piece by piece as it grows.

    >>> v, w = distinct_weighted(np.array([0.3, 0.1, 0.3, 0.2, 0.1]), np.array([1, 2, 3, 4, 5]))
    >>> v.tolist(), w.tolist()
    ([0.1, 0.2, 0.3], [7, 4, 4])
    """
    v = np.asarray(values, dtype=np.float64) + 0.0     # -0.0 kept as 0.0 (see weighted_stats)
    w = np.asarray(weights, dtype=np.int64)
    if len(v) < 2:
        return v, w
    order = np.argsort(_sort_key(v), kind="stable")
    v = v[order]
    first = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    return v[first], np.add.reduceat(w[order], first)


def _sort_key(values: np.ndarray) -> np.ndarray:
    """``values`` or, when they are all non-negative floats (no NaN, no -0.0), their bits as
    int64, which order the same way: numpy's stable sort of int64 is faster (547,000 gaps:
    33 ms instead of 47 ms)."""
    v = np.asarray(values)
    if v.dtype == np.float64 and not np.signbit(v).any() and not np.isnan(v).any():
        return v.view(np.int64)
    return v


def latency_columns(rec: np.ndarray) -> dict[str, np.ndarray]:
    """Per-request latency columns (NaN where undefined)."""
    done = rec["status"] == COMPLETED
    arrival = rec["arrival_s"]
    first = np.where(rec["first_token_s"] >= 0, rec["first_token_s"], np.nan)
    comp = np.where(done, rec["completion_s"], np.nan)
    sched = np.where(rec["sched_s"] >= 0, rec["sched_s"], np.nan)
    out_tok = rec["generated_tokens"].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(out_tok >= 2, (comp - first) / (out_tok - 1), np.nan)
    return {"ttft": first - arrival, "tpot": tpot, "e2e": comp - arrival, "queue": sched - arrival}


def censored_latency(rec: np.ndarray, end: float, censor_ttft_s: float) -> tuple[np.ndarray, np.ndarray,
                                                                                 np.ndarray, np.ndarray]:
    """TTFT and queue values of in-flight rows (see module docstring): exact ones and lower bounds.

    Returns ``(ttft_exact, ttft_lower, queue_exact, queue_lower)``.
    """
    fl = rec["status"] == IN_FLIGHT
    if not fl.any():
        z = np.zeros(0)
        return z, z, z, z
    r = rec[fl]
    age = end - r["arrival_s"]
    has_first = r["first_token_s"] >= 0
    sched = r["sched_s"] >= 0
    late = age > censor_ttft_s
    return (r["first_token_s"][has_first] - r["arrival_s"][has_first], age[~has_first & late],
            r["sched_s"][sched] - r["arrival_s"][sched], age[~sched & late])


def inflight_missed(rec: np.ndarray, end: float, ttft_s: float) -> int:
    """In-flight rows that have already missed a TTFT objective of ``ttft_s``."""
    fl = rec["status"] == IN_FLIGHT
    if not fl.any():
        return 0
    r = rec[fl]
    first = r["first_token_s"]
    missed = np.where(first >= 0, first - r["arrival_s"] > ttft_s, end - r["arrival_s"] > ttft_s)
    return int(np.sum(missed))


def slo_met(rec: np.ndarray, ttft_s: float, tpot_s: float, cols: dict | None = None) -> np.ndarray:
    """Completed rows meeting both objectives; ``cols``: ``latency_columns(rec)`` if at hand."""
    cols = latency_columns(rec) if cols is None else cols
    done = rec["status"] == COMPLETED
    tpot_ok = np.isnan(cols["tpot"]) | (cols["tpot"] <= tpot_s)
    return done & (cols["ttft"] <= ttft_s) & tpot_ok


def request_block(rec: np.ndarray) -> dict:
    st = rec["status"]
    return {"arrived": int(len(rec)), "completed": int(np.sum(st == COMPLETED)),
            "rejected": int(np.sum(st == REJECTED)), "in_flight": int(np.sum(st == IN_FLIGHT)),
            "failed": int(np.sum(st == FAILED))}


def core_summary(rec: np.ndarray, gaps: np.ndarray, gap_counts: np.ndarray, warmup: float, end: float,
                 ttft_s: float, tpot_s: float, censor_ttft_s: float | None = None) -> dict:
    """``requests``, ``latency``, ``throughput`` and ``slo`` blocks for one set of records.

    ``rec`` is either the rows (exact percentiles) or a :class:`RequestStats` (streaming; see
    :func:`stream_summary`); ``gaps`` is either the ITL gap array (with ``gap_counts``) or a
    :class:`~sim.metrics.histogram.LogHistogram` of them.
    """
    from sim.metrics.histogram import LogHistogram

    if isinstance(rec, RequestStats):
        return stream_summary(rec, gaps if isinstance(gaps, LogHistogram) else _gap_hist(gaps, gap_counts),
                              end, ttft_s, tpot_s)
    in_measure = rec["arrival_s"] >= warmup
    measured = rec if in_measure.all() else rec[in_measure]   # no copy without warmup (~5 ms)
    cols = latency_columns(measured)
    done = measured["status"] == COMPLETED
    t_ex, t_lo, q_ex, q_lo = censored_latency(measured, end, ttft_s if censor_ttft_s is None else censor_ttft_s)
    latency = {
        "ttft": stats(np.concatenate([cols["ttft"][~np.isnan(cols["ttft"]) & done], t_ex, t_lo])),
        "tpot": stats(cols["tpot"][~np.isnan(cols["tpot"])]),
        "itl": gaps.stats(QUANTILES, "inverted_cdf") if isinstance(gaps, LogHistogram) else weighted_stats(gaps, gap_counts),
        "e2e": stats(cols["e2e"][done]),
        "queue": stats(np.concatenate([cols["queue"][~np.isnan(cols["queue"]) & done], q_ex, q_lo])),
    }
    window = max(end - warmup, 1e-12)
    in_window = (rec["status"] == COMPLETED) & (rec["completion_s"] >= warmup)
    throughput = {
        "requests_per_s": float(np.sum(in_window) / window),
        "input_tokens_per_s": float(np.sum(rec["prompt_tokens"][in_window]) / window),
        "output_tokens_per_s": float(np.sum(rec["generated_tokens"][in_window]) / window),
    }
    finished = (measured["status"] == COMPLETED) | (measured["status"] == REJECTED) | (measured["status"] == FAILED)
    met = slo_met(measured, ttft_s, tpot_s, cols)
    n_fin = int(np.sum(finished)) + inflight_missed(measured, end, ttft_s)
    met_window = (met if measured is rec else slo_met(rec, ttft_s, tpot_s)) & in_window
    slo = {
        "attainment": float(np.sum(met) / n_fin) if n_fin else None,
        "goodput_rps": float(np.sum(met_window) / window),
        "ttft_s": ttft_s, "tpot_s": tpot_s,
    }
    return {"requests": request_block(rec), "latency": latency, "throughput": throughput, "slo": slo}


# ---------------------------------------------------------------------------------------------
# Streaming statistics (``metrics.records: sample | none``): the same blocks from counters and
# log-histograms, updated chunk by chunk, so memory does not grow with the number of requests.

class RequestStats:
    """Mergeable running statistics of finished (and, at the end, in-flight) request rows.

    ``thresholds`` is a list of ``(ttft_s, tpot_s)`` SLO pairs tracked side by side (the
    scenario's, then each class's). Counts are exact; latency percentiles come from
    :class:`~sim.metrics.histogram.LogHistogram` (relative error <= 0.5 %), means are exact.
    """

    def __init__(self, warmup_s: float, thresholds: list[tuple[float, float]]) -> None:
        from sim.metrics.histogram import LogHistogram

        self.warmup_s = float(warmup_s)
        self.thresholds = [(float(a), float(b)) for a, b in thresholds]
        self.status = np.zeros(4, dtype=np.int64)          # by status code
        self.reasons = np.zeros(256, dtype=np.int64)       # rejected rows by reason code
        self.hist = {k: LogHistogram() for k in ("ttft", "tpot", "e2e", "queue")}
        self.window = np.zeros(3, dtype=np.float64)        # completions in [warmup, end]: n, in, out tokens
        self.n_fin = np.zeros(len(self.thresholds), dtype=np.int64)  # outcome known, per SLO pair
        self.end_s: float | None = None       # set before in-flight rows are added (end of the run)
        self.censor_ttft_s = self.thresholds[0][0] if self.thresholds else math.inf
        self.met = np.zeros(len(self.thresholds), dtype=np.int64)
        self.met_window = np.zeros(len(self.thresholds), dtype=np.int64)

    def add(self, rec: np.ndarray) -> None:
        """Absorb a chunk of rows (:data:`~sim.metrics.records.RECORD_DTYPE`)."""
        if len(rec) == 0:
            return
        st = rec["status"]
        self.status += np.bincount(st, minlength=4)[:4]
        rej = st == REJECTED
        if rej.any():
            self.reasons += np.bincount(rec["reason"][rej].astype(np.int64), minlength=256)[:256]
        cols = latency_columns(rec)
        done = st == COMPLETED
        measured = rec["arrival_s"] >= self.warmup_s
        md = measured & done
        self.hist["ttft"].add(cols["ttft"][md])
        self.hist["tpot"].add(cols["tpot"][measured])
        self.hist["e2e"].add(cols["e2e"][md])
        self.hist["queue"].add(cols["queue"][md])
        open_measured = rec[measured & (st == IN_FLIGHT)]
        if len(open_measured) and self.end_s is not None:
            for arr, key in zip(censored_latency(open_measured, self.end_s, self.censor_ttft_s),
                                ("ttft", "ttft", "queue", "queue")):
                self.hist[key].add(arr)
        in_window = done & (rec["completion_s"] >= self.warmup_s)
        self.window += (float(np.sum(in_window)), float(np.sum(rec["prompt_tokens"][in_window])),
                        float(np.sum(rec["generated_tokens"][in_window])))
        fin = measured & ((st == COMPLETED) | (st == REJECTED) | (st == FAILED))
        self.n_fin += int(np.sum(fin))
        if len(open_measured) and self.end_s is not None:
            for i, (ttft_s, _) in enumerate(self.thresholds):
                self.n_fin[i] += inflight_missed(open_measured, self.end_s, ttft_s)
        for i, (ttft_s, tpot_s) in enumerate(self.thresholds):
            tpot_ok = np.isnan(cols["tpot"]) | (cols["tpot"] <= tpot_s)
            met = done & (cols["ttft"] <= ttft_s) & tpot_ok
            self.met[i] += int(np.sum(met & measured))
            self.met_window[i] += int(np.sum(met & in_window))

    def merge(self, other: "RequestStats") -> "RequestStats":
        """Add ``other`` (same warmup and thresholds) into this one; returns ``self``."""
        if other.thresholds != self.thresholds or other.warmup_s != self.warmup_s:
            raise ValueError("cannot merge RequestStats with different warmup or SLO thresholds")
        self.status += other.status
        self.reasons += other.reasons
        for k, h in self.hist.items():
            h.merge(other.hist[k])
        self.window += other.window
        self.n_fin += other.n_fin
        self.met += other.met
        self.met_window += other.met_window
        return self

    def request_block(self) -> dict:
        s = self.status
        return {"arrived": int(s.sum()), "completed": int(s[COMPLETED]), "rejected": int(s[REJECTED]),
                "in_flight": int(s[IN_FLIGHT]), "failed": int(s[FAILED])}

    def threshold_index(self, ttft_s: float, tpot_s: float) -> int:
        key = (float(ttft_s), float(tpot_s))
        if key not in self.thresholds:
            raise ValueError(f"SLO ({ttft_s}, {tpot_s}) was not tracked (tracked: {self.thresholds})")
        return self.thresholds.index(key)


def stream_summary(st: RequestStats, itl, end: float, ttft_s: float, tpot_s: float) -> dict:
    """:func:`core_summary`'s blocks from :class:`RequestStats` and an ITL ``LogHistogram`` (or None)."""
    empty = {"mean": None, "p50": None, "p90": None, "p99": None}
    latency = {k: st.hist[k].stats(QUANTILES) for k in ("ttft", "tpot")}
    latency["itl"] = itl.stats(QUANTILES, "inverted_cdf") if itl is not None and itl.total > 0 else dict(empty)
    latency["e2e"] = st.hist["e2e"].stats(QUANTILES)
    latency["queue"] = st.hist["queue"].stats(QUANTILES)
    window = max(end - st.warmup_s, 1e-12)
    n, tin, tout = st.window
    throughput = {"requests_per_s": float(n / window), "input_tokens_per_s": float(tin / window),
                  "output_tokens_per_s": float(tout / window)}
    i = st.threshold_index(ttft_s, tpot_s)
    slo = {"attainment": float(st.met[i] / st.n_fin[i]) if st.n_fin[i] else None,
           "goodput_rps": float(st.met_window[i] / window), "ttft_s": ttft_s, "tpot_s": tpot_s}
    return {"requests": st.request_block(), "latency": latency, "throughput": throughput, "slo": slo}


def _gap_hist(gaps, counts):
    from sim.metrics.histogram import LogHistogram

    h = LogHistogram()
    if gaps is not None and len(gaps):
        h.add(np.asarray(gaps, dtype=np.float64), np.asarray(counts, dtype=np.float64))
    return h
