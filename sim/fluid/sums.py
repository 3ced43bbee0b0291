"""Running sums of the fluid tier's request, latency, throughput and SLO blocks.

Each pool's steps add to the fleet's sums (:class:`FleetSums`) and to every class's
(:class:`ClassSums`, :func:`add_classes`): latency distributions are mixtures of the capacity
curve's normalised log-histograms weighted by requests measured, each step's shifted by the waits
behind its backlog, each request served by its own (:data:`SHIFTED`,
:class:`~sim.fluid.backlog.StepWaits`); their means are request-weighted. ITL is gap-weighted, mean and
percentiles alike, as the request level reads it (each inter-token gap one entry): the percentiles are
those of the mixture of the curve's inter-token-gap histograms weighted by the gaps served (requests times
output tokens after the first), the mean each step's mean gap weighted the same, each instant at capacity
a saturated replica's (:meth:`FleetSums.add_latency`); a curve's gap rows are required (every measured
curve has them, format 14), and a run that served no gap reads no ITL, as the request level.
:func:`mixture_stats` turns a mixed histogram into the summary's ``mean/p50/p90/p99``.
"""
from __future__ import annotations

import numpy as np

from sim.fluid.attain import backlog_attainment
from sim.fluid.backlog import REF, StepWaits, mix_rows
from sim.fluid.curve import HIST_METRICS, METRICS, CapacityCurve
from sim.metrics.histogram import LogHistogram

SHIFTED = ("ttft", "e2e", "queue")
"""Latencies that include the wait behind a fluid backlog."""


def mixture_stats(counts: np.ndarray, mean: float | None, method: str = "linear") -> dict:
    """``mean/p50/p90/p99`` of a mixed log-histogram (``counts`` on the reference bins); the mean
    is the one given (request- or, for ITL, gap-weighted; ``None`` and no percentiles when nothing was measured);
    ``method`` as :meth:`~sim.metrics.histogram.LogHistogram.stats` (``"inverted_cdf"`` for the
    token-weighted ITL, as the request level reads it)."""
    h = LogHistogram()
    tot = float(counts.sum())
    if tot <= 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    h.counts = counts.astype(np.float64)
    h.total = tot
    h.sum = (mean or 0.0) * tot
    h.min = 0.0
    h.max = h.hi
    out = h.stats(method=method)
    out["mean"] = mean
    return out


def _read(waits: StepWaits, grid: np.ndarray, step: np.ndarray, shifted: bool,
          full: float | None = None, add: float = 0.0) -> np.ndarray:
    """Per step, a curve quantity's mean over the requests served: ``step`` (read at the step's load)
    plus, where ``shifted``, the mean wait beyond the curve's queue; in the steps behind a backlog each
    instant's own, at the load served then (:meth:`~sim.fluid.backlog.StepWaits.step_means`), ``full``
    where given at the instants at capacity (a saturated replica's TPOT), ``add`` added there (what a
    saturated replica's service part adds to the top grid point's, :func:`service_add`)."""
    if waits.pos is None:
        return step + waits.mean if shifted else step
    per_instant = waits.at(grid)
    if full is not None and waits.full is not None:
        per_instant = np.where(waits.full, full, per_instant)
    if shifted:
        per_instant = per_instant + waits.waits
    if add and waits.full is not None:
        per_instant = per_instant + add * waits.full
    return waits.step_means(per_instant, step + waits.mean if shifted else step)


def service_add(curve: CapacityCurve, means: dict, m: str, k: int | None = None) -> float:
    """What a saturated replica's service part of ``m`` (TTFT or E2E less the queue; class ``k``'s, else
    the fleet's) adds to the curve's top grid point's (``means``: metric -> mean per grid point); 0 for
    the other metrics or a curve without it. The requests served while a backlog lasts take the top
    point's queueing (its own queue, or the backlog's wait beyond it) and a saturated replica's service."""
    sat = curve.sat_service_mean
    if sat is None or m not in sat:
        return 0.0
    v = sat[m]
    if k is not None and curve.class_sat_service_mean is not None and k < len(curve.class_sat_service_mean[m]):
        v = float(curve.class_sat_service_mean[m][k])
    add = v - (float(means[m][-1]) - float(means["queue"][-1]))
    return add if np.isfinite(add) else 0.0


def _saturated(curve: CapacityCurve, k: int | None = None) -> tuple[np.ndarray | None, float | None]:
    """A saturated replica's TPOT row and mean (class ``k``'s, else the fleet's); ``None`` for a curve
    without them."""
    if curve.sat_tpot is None:
        return None, None
    if k is None or curve.class_sat_tpot is None or k >= len(curve.class_sat_tpot):
        return curve.sat_tpot, curve.sat_tpot_mean
    return curve.class_sat_tpot[k], float(curve.class_sat_tpot_mean[k])


class ClassSums:
    """Running sums of one class's block across pools and steps."""

    def __init__(self, like: dict) -> None:
        self.hist = {m: np.zeros_like(v) for m, v in like.items()}
        self.lat_sum = {m: 0.0 for m in HIST_METRICS}
        self.lat_w = {m: 0.0 for m in HIST_METRICS}
        self.served = self.rejected = self.backlog = 0.0
        self.met = self.fin = 0.0
        self.win = np.zeros(3)                # requests, input tokens, output tokens after warmup

    def add_missed(self, n: float) -> None:
        """``n`` requests of the end backlog that already missed this class's TTFT objective: SLO misses."""
        self.fin += n

    def add_backlog_ages(self, ages: np.ndarray, n_old: np.ndarray) -> None:
        """This class's part of the end backlog older than the scenario's TTFT objective, in its TTFT
        and queue percentiles and means at its age (as :meth:`FleetSums.add_backlog_ages`, without the
        SLO count, which is the class's own objective's: :meth:`add_missed`)."""
        for m in ("ttft", "queue"):
            self.hist[m] += np.bincount(REF.bin_index(ages), weights=n_old, minlength=len(self.hist[m]))
            self.lat_sum[m] += float((ages * n_old).sum())
            self.lat_w[m] += float(n_old.sum())

    def block(self, arrived: float, window: float, slo: tuple[float, float]) -> dict:
        lat = {}
        for m in HIST_METRICS:
            mean = self.lat_sum[m] / self.lat_w[m] if self.lat_w[m] > 0 else None
            lat[m] = mixture_stats(self.hist[m], mean)
        return {"requests": {"arrived": int(round(arrived)), "completed": int(round(self.served)),
                             "rejected": int(round(self.rejected)), "in_flight": int(round(self.backlog)),
                             "failed": 0},
                "latency": lat,
                "throughput": {"requests_per_s": float(self.win[0] / window),
                               "input_tokens_per_s": float(self.win[1] / window),
                               "output_tokens_per_s": float(self.win[2] / window)},
                "slo": {"attainment": self.met / self.fin if self.fin > 0 else None,
                        "goodput_rps": self.met / window, "ttft_s": slo[0], "tpot_s": slo[1]}}


def add_classes(acc: list[ClassSums], curve: CapacityCurve, i: np.ndarray, w: np.ndarray, served: np.ndarray,
                 rejected: np.ndarray, meas: np.ndarray, cls_frac: np.ndarray, after_warm: np.ndarray,
                 waits: list[StepWaits], queue_s: np.ndarray, ttft_s: list[float], per_replica: np.ndarray,
                 backlog_end: np.ndarray, served_frac: np.ndarray | None = None) -> None:
    """One pool's contribution to every class's block (class k's curve quantities at the same load;
    ``waits[k]``: class k's own waits behind the backlog, :func:`~sim.fluid.class_waits.class_waits`,
    its latencies read at the load served at each of its instants and shifted by what they add to
    ``queue_s``, the curve's mean queue there (per step, or per row and instant of the waits),
    :meth:`~sim.fluid.backlog.StepWaits.beyond`, and its SLO attainment read request by request at its
    TTFT objective ``ttft_s[k]``, :func:`~sim.fluid.attain.backlog_attainment`, on ``per_replica``
    serving replica-seconds per step; ``backlog_end[k]``: class k's part of the pool's end backlog;
    ``served_frac``: each class's share of the requests served per step,
    :func:`~sim.fluid.class_waits.served_mix`, by default the step's demand mix ``cls_frac``, which the
    refused take)."""
    tokens = curve.meta.get("class_tokens") or []
    served_frac = cls_frac if served_frac is None else served_frac
    for k, a in enumerate(acc):
        frac = served_frac[:, k]
        mk = meas * frac
        a.served += float(np.sum(served * frac))
        a.rejected += float(np.sum(rejected * cls_frac[:, k]))
        a.backlog += float(backlog_end[k])
        a.fin += float(np.sum(mk + rejected * cls_frac[:, k] * after_warm))
        pin, pout = (tokens[k] if k < len(tokens) and tokens[k] is not None
                     else (curve.prompt_tokens_mean, curve.output_tokens_mean))
        a.win += (float(mk.sum()), float(mk.sum()) * pin, float(mk.sum()) * pout)
        if curve.class_attainment is None or k >= len(curve.class_attainment):
            att = curve.attainment
            means = {m: curve.latency[m]["mean"] for m in HIST_METRICS}
            hists = {m: curve.hists[m] for m in HIST_METRICS}
        else:
            att = curve.class_attainment[k]
            means = {m: curve.class_latency_mean[m][k] for m in HIST_METRICS}
            hists = {m: curve.class_hists[m][k] for m in HIST_METRICS}
        met = backlog_attainment(waits[k], per_replica, curve.rates_rps, att, hists["ttft"], means["queue"],
                                 ttft_s[k], att[i] * (1 - w) + att[i + 1] * w, service_add(curve, means, "ttft", k))
        a.met += float(np.sum(mk * met))
        shift = waits[k].beyond(queue_s)
        sat_row, sat_mean = _saturated(curve, k)
        for m in HIST_METRICS:
            tpot = m == "tpot"
            add = service_add(curve, means, m, k)
            a.hist[m] += mix_rows(hists[m], i, w, mk, shift.at_full(add), shift=m in SHIFTED,
                                  full_row=sat_row if tpot else None)
            mean = _read(shift, means[m], means[m][i] * (1 - w) + means[m][i + 1] * w, m in SHIFTED,
                         sat_mean if tpot else None, add)
            ok = ~np.isnan(mean)
            a.lat_sum[m] += float(np.sum((mk * mean)[ok]))
            a.lat_w[m] += float(np.sum(mk[ok]))


class FleetSums:
    """Running sums of the fleet's requests, latency, throughput and SLO blocks across pools."""

    def __init__(self, like: dict) -> None:
        self.hist = {m: np.zeros_like(v) for m, v in like.items()}
        self.lat_sum = {m: 0.0 for m in HIST_METRICS}
        self.lat_w = {m: 0.0 for m in HIST_METRICS}
        # the inter-token gaps' mixture (each gap one entry) and their sum: ITL mean and percentiles gap-weighted
        self.itl_hist = np.zeros_like(next(iter(like.values()))) if like else np.zeros(0)
        self.itl_sum = self.itl_gaps = 0.0
        self.served = self.rejected = self.backlog = 0.0
        self.met = self.fin = 0.0
        self.win_req = self.win_in = self.win_out = 0.0
        self.by_reason: dict[str, float] = {}

    def add_latency(self, curve: CapacityCurve, i: np.ndarray, w: np.ndarray, at, meas: np.ndarray,
                    waits: StepWaits) -> None:
        """Each step's curve distribution shifted by the waits behind its backlog, weighted by requests measured
        (ITL by the inter-token gaps served, each request's output tokens after the first)."""
        sat_row, sat_mean = _saturated(curve)
        means = {m: curve.latency[m]["mean"] for m in METRICS}
        for m in HIST_METRICS:
            self.hist[m] += mix_rows(curve.hists[m], i, w, meas, waits.at_full(service_add(curve, means, m)),
                                     shift=m in SHIFTED, full_row=sat_row if m == "tpot" else None)
        for m in HIST_METRICS:
            mean = _read(waits, curve.latency[m]["mean"], at(curve.latency[m]["mean"]), m in SHIFTED,
                         sat_mean if m == "tpot" else None, service_add(curve, means, m))
            ok = ~np.isnan(mean)
            self.lat_sum[m] += float(np.sum((meas * mean)[ok]))
            self.lat_w[m] += float(np.sum(meas[ok]))
        # the gaps served: each request's output tokens after the first (the prefill emits that one), each gap
        # one entry in the percentiles and the mean alike, as the request level reads them (every gap); a step's
        # mean gap is the curve's at its load (a saturated replica's at the instants at capacity)
        gaps = meas * max(curve.output_tokens_mean - 1.0, 0.0)
        self.itl_hist += mix_rows(curve.hists["itl"], i, w, gaps, waits, shift=False, full_row=curve.sat_itl_row)
        mean = _read(waits, curve.latency["itl"]["mean"], at(curve.latency["itl"]["mean"]), False,
                     (curve.sat_itl or {}).get("mean"))
        ok = ~np.isnan(mean)
        self.itl_sum += float(np.sum((gaps * mean)[ok]))
        self.itl_gaps += float(np.sum(gaps[ok]))

    def add_backlog_ages(self, ages: np.ndarray, n_old: np.ndarray) -> None:
        """The backlog left at the end that already missed the TTFT objective counts at its age, and
        as missing the SLO, like a request-level run's in-flight requests (``inflight_missed``)."""
        self.fin += float(n_old.sum())
        for m in ("ttft", "queue"):
            self.hist[m] += np.bincount(REF.bin_index(ages), weights=n_old, minlength=len(self.hist[m]))
            self.lat_sum[m] += float((ages * n_old).sum())     # not np.dot: BLAS-free
            self.lat_w[m] += float(n_old.sum())

    def add_counts(self, curve: CapacityCurve, served: np.ndarray, rejected: np.ndarray, backlog: float,
                   meas: np.ndarray, att: np.ndarray, after_warm: np.ndarray, no_replica: np.ndarray | None = None) -> None:
        """One pool's requests served, refused (by reason: ``no_replica``, those of ``rejected`` that met no
        replica, :mod:`sim.fluid.no_replica`; the rest as its curve refused them) and left in its backlog; SLO
        sums over ``meas`` (the requests the latencies read after the warm-up) and the window's throughput over
        those ``served`` then (the completed ones: where a replay's latencies read a queue of their own,
        :mod:`sim.fluid.run`, its requests served are not the pool's)."""
        self.backlog += backlog
        self.served += float(served.sum())
        self.rejected += float(rejected.sum())
        away = float(no_replica.sum()) if no_replica is not None else 0.0
        if away > 0:
            self.by_reason["no_replica"] = self.by_reason.get("no_replica", 0.0) + away
        for reason, share_r in (curve.meta.get("reject_reasons") or {}).items():
            if share_r > 0 and curve.reject_share > 0:
                self.by_reason[reason] = (self.by_reason.get(reason, 0.0)
                                          + (float(rejected.sum()) - away) * share_r / curve.reject_share)
        self.met += float(np.sum(meas * att))
        self.fin += float(np.sum(meas + rejected * after_warm))
        done = float(np.sum(served * after_warm))
        self.win_req += done
        self.win_in += done * curve.prompt_tokens_mean
        self.win_out += done * curve.output_tokens_mean

    def blocks(self, sc, arrived: float, window: float) -> dict:
        """The summary's ``requests``, ``latency``, ``throughput`` and ``slo`` blocks."""
        latency = {}
        for m in HIST_METRICS:
            mean = self.lat_sum[m] / self.lat_w[m] if self.lat_w[m] > 0 else None
            latency[m] = mixture_stats(self.hist[m], mean)
        itl_mean = self.itl_sum / self.itl_gaps if self.itl_gaps > 0 else None
        latency["itl"] = mixture_stats(self.itl_hist, itl_mean, "inverted_cdf")
        latency = {m: latency[m] for m in METRICS}           # the summary's order
        return {
            "requests": {"arrived": int(round(arrived)), "completed": int(round(self.served)),
                         "rejected": int(round(self.rejected)), "in_flight": int(round(self.backlog)), "failed": 0,
                         "preemptions": None,
                         "rejected_by_reason": {k: int(round(v)) for k, v in sorted(self.by_reason.items())
                                                if round(v) > 0}},
            "latency": latency,
            "throughput": {"requests_per_s": self.win_req / window, "input_tokens_per_s": self.win_in / window,
                           "output_tokens_per_s": self.win_out / window},
            "slo": {"attainment": self.met / self.fin if self.fin > 0 else None,
                    "goodput_rps": self.met / window, "ttft_s": sc.slo.ttft_s, "tpot_s": sc.slo.tpot_s}}
