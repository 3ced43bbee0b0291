"""Summaries over the columnar records: latency percentiles, throughput, SLO attainment.

Definitions (seconds):

* measured requests: those arriving at or after ``warmup``;
* TTFT = first token − arrival; TPOT = (completion − first token) / (output tokens − 1), for
  requests with at least two output tokens; E2E = completion − arrival; queue = first admission
  into a batch − arrival; ITL = every gap between consecutive tokens of a request (from the
  per-iteration gap log, weighted by the sequences that saw it), emitted after ``warmup``;
* throughput counts requests (and their tokens) completed in ``[warmup, end]`` divided by
  ``end − warmup``;
* SLO attainment = share of measured, finished (completed or rejected) requests that completed
  with TTFT ≤ ``slo.ttft_s`` and TPOT ≤ ``slo.tpot_s`` (a single-token request has no TPOT and
  meets that part); rejected requests count as misses; requests still in flight at the end are
  reported under ``requests.in_flight`` and excluded; goodput = SLO-meeting completions per second.
"""
from __future__ import annotations

import math

import numpy as np

from sim.serving.request import COMPLETED, FAILED, IN_FLIGHT, REJECTED

QUANTILES = (50, 90, 99)


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


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
    order = np.argsort(values, kind="stable")
    v = values[order]
    w = weights[order].astype(np.float64)
    cw = np.cumsum(w)
    total = cw[-1]
    out = {"mean": float(np.dot(v, w) / total)}
    for q in QUANTILES:
        idx = int(np.searchsorted(cw, q / 100.0 * total, side="left"))
        out[f"p{q}"] = float(v[min(idx, len(v) - 1)])
    return out


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


def slo_met(rec: np.ndarray, ttft_s: float, tpot_s: float) -> np.ndarray:
    cols = latency_columns(rec)
    done = rec["status"] == COMPLETED
    tpot_ok = np.isnan(cols["tpot"]) | (cols["tpot"] <= tpot_s)
    return done & (cols["ttft"] <= ttft_s) & tpot_ok


def request_block(rec: np.ndarray) -> dict:
    st = rec["status"]
    return {"arrived": int(len(rec)), "completed": int(np.sum(st == COMPLETED)),
            "rejected": int(np.sum(st == REJECTED)), "in_flight": int(np.sum(st == IN_FLIGHT)),
            "failed": int(np.sum(st == FAILED))}


def core_summary(rec: np.ndarray, gaps: np.ndarray, gap_counts: np.ndarray, warmup: float, end: float,
                 ttft_s: float, tpot_s: float) -> dict:
    """``requests``, ``latency``, ``throughput`` and ``slo`` blocks for one set of records."""
    measured = rec[rec["arrival_s"] >= warmup]
    cols = latency_columns(measured)
    done = measured["status"] == COMPLETED
    latency = {
        "ttft": stats(cols["ttft"][~np.isnan(cols["ttft"]) & done]),
        "tpot": stats(cols["tpot"][~np.isnan(cols["tpot"])]),
        "itl": weighted_stats(gaps, gap_counts),
        "e2e": stats(cols["e2e"][done]),
        "queue": stats(cols["queue"][~np.isnan(cols["queue"]) & done]),
    }
    window = max(end - warmup, 1e-12)
    in_window = (rec["status"] == COMPLETED) & (rec["completion_s"] >= warmup)
    throughput = {
        "requests_per_s": float(np.sum(in_window) / window),
        "input_tokens_per_s": float(np.sum(rec["prompt_tokens"][in_window]) / window),
        "output_tokens_per_s": float(np.sum(rec["generated_tokens"][in_window]) / window),
    }
    finished = (measured["status"] == COMPLETED) | (measured["status"] == REJECTED) | (measured["status"] == FAILED)
    met = slo_met(measured, ttft_s, tpot_s)
    n_fin = int(np.sum(finished))
    met_window = slo_met(rec, ttft_s, tpot_s) & in_window
    slo = {
        "attainment": float(np.sum(met) / n_fin) if n_fin else None,
        "goodput_rps": float(np.sum(met_window) / window),
        "ttft_s": ttft_s, "tpot_s": tpot_s,
    }
    return {"requests": request_block(rec), "latency": latency, "throughput": throughput, "slo": slo}
