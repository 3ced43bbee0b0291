"""Step 2 of measuring a capacity curve: what its grid runs measured, point by point.

:func:`sim.fluid.capacity.measure_curve` runs one request-level run per grid rate and hands each to
:class:`GridRuns`, which keeps its summary's numbers (served rate, attainment, busy share, KV use, MFU,
latency statistics), the normalised log-histograms of its measured requests (:func:`hist_rows`) and of
its inter-token gaps (:func:`gap_row`), the HBM bytes its iterations moved per busy second
(:func:`busy_bandwidth`), each
class's attainment under its own SLO (:func:`class_slos`), mean latency and histograms, the SLO-ratio rows
a scaled capacity reads (:mod:`sim.fluid.scaled_curve`), and the requests and tokens of all the runs
together; :meth:`GridRuns.add_idle_point` closes the curve at zero load.

    >>> class_slos({"slo": {"ttft_s": 1.0, "tpot_s": 0.1}, "workload": {"classes": [{}, {"slo": {"ttft_s": 2.0}}]}})
    [(1.0, 0.1), (2.0, 0.1)]
"""
from __future__ import annotations

import numpy as np

from sim.fluid.curve import HIST_METRICS, METRICS, STATS
from sim.fluid.scaled_curve import ratio_row, slo_ratios
from sim.metrics.schema import COMPLETED, FAILED, REJECTED
from sim.metrics.summary import RequestStats, inflight_missed


def hist_rows(res, warmup: float) -> dict[str, np.ndarray]:
    from sim.metrics.histogram import LogHistogram
    from sim.metrics.summary import latency_columns

    rec = res.records
    m = rec[rec["arrival_s"] >= warmup]
    cols = latency_columns(m)
    done = m["status"] == 1
    out = {}
    for k in HIST_METRICS:
        v = cols[k][done] if k != "tpot" else cols[k]
        h = LogHistogram()
        h.add(v)
        out[k] = h.counts / h.total if h.total > 0 else h.counts
    return out


def gap_row(gaps) -> np.ndarray:
    """A run's inter-token gaps (its :class:`~sim.metrics.records.GapLog`, ``Result.extra["gaps"]``) as a
    normalised log-histogram row, each gap one entry (token-weighted, as the summary's ``latency.itl``):
    what the fluid tier mixes over its steps to read ITL percentiles (:class:`~sim.fluid.sums.FleetSums`).
    All zeros for a run without gaps."""
    from sim.metrics.histogram import LogHistogram

    h = gaps.histogram() if gaps is not None else LogHistogram()
    return h.counts / h.total if h.total > 0 else np.zeros_like(h.counts)


def class_slos(template: dict) -> list[tuple[float, float]]:
    """Each class's (TTFT, TPOT) objective, falling back to the scenario's."""
    slo = template["slo"]
    out = []
    for c in template["workload"].get("classes") or [{}]:
        own = c.get("slo") or {}
        out.append((float(own.get("ttft_s") or slo["ttft_s"]), float(own.get("tpot_s") or slo["tpot_s"])))
    return out


def window_busy(ts: np.ndarray, warm: float, end: float, whole: float) -> float:
    """The busy share over ``[warm, end]`` from a run's time series (each row's ``busy_frac`` is busy
    over provisioned time in the interval since the row before), weighted by each interval's overlap
    with the window; ``whole`` (the run's share) when no row covers it.

    The run's ``gpu_busy`` is over the whole run, the served rate over the window: scaling the first by
    the ratio of the two completion rates (as this module did) counted the work on requests still in
    flight at the end, which completes nothing, as work on the window's completions, and read a busy
    share above 1 near saturation (a batching replica: 1.0069).

        >>> ts = np.zeros((3, 9)); ts[:, 0] = [10.0, 20.0, 30.0]; ts[:, 8] = [0.2, 0.8, 1.0]
        >>> round(window_busy(ts, 15.0, 30.0, 0.5), 6)          # (5 x 0.8 + 10 x 1.0) / 15
        0.933333
    """
    if ts is None or not len(ts) or not end > warm:
        return float(whole)
    t = ts[:, 0]
    start = np.concatenate(([0.0], t[:-1]))
    overlap = np.clip(np.minimum(t, end) - np.maximum(start, warm), 0.0, None)
    return float((overlap * ts[:, 8]).sum() / overlap.sum()) if overlap.sum() > 0 else float(whole)


def window_mfu(rec: np.ndarray, whole: float, warm: float, end: float) -> float:
    """The MFU that goes with the rate served over ``[warm, end]``: the run's flops are ``2 x active
    parameters`` per token processed, so its MFU per token processed per second (``whole`` over the
    tokens of the whole run, those of requests still in flight included) times the tokens per second
    of the window's completions (each its prompt and the output tokens decoded after the first, which
    the prefill emits). Read against the window's served rate,
    MFU is then proportional to it, as the flops are.

    The run's ``mfu`` is over the whole run; scaled by the ratio of completion rates instead, it read
    up to 8 % high at a 70B pool's top grid points (the requests in flight at the end had done work
    and completed nothing), and MFU per request served varied across the grid."""
    if whole <= 0 or not end > 0:
        return float(whole)
    def processed(m: np.ndarray) -> float:     # the prompt, and the tokens decoded after the prefill's first
        return float(rec["prompt_tokens"][m].sum() + np.maximum(rec["generated_tokens"][m] - 1, 0).sum())

    tokens_whole = processed(rec["first_token_s"] >= 0)
    tokens_window = processed((rec["status"] == COMPLETED) & (rec["completion_s"] >= warm))
    if tokens_whole <= 0 or not end > warm:
        return float(whole)
    return float(whole) * (tokens_window / (end - warm)) / (tokens_whole / end)


def window_admitted(rec: np.ndarray, warm: float, end: float) -> float:
    """Requests/s admitted over ``[warm, end)``: those that arrived then, less those refused, over its
    length (0 for an empty window): the load the window's bytes per busy second go with.

        >>> from sim.metrics.records import RECORD_DTYPE
        >>> rec = np.zeros(4, dtype=RECORD_DTYPE); rec["arrival_s"] = (1.0, 3.0, 4.0, 9.0); rec["status"] = (1, 1, REJECTED, 1)
        >>> window_admitted(rec, 2.0, 10.0)                   # two of the three after 2 s admitted, over 8 s
        0.25
    """
    if not end > warm:
        return 0.0
    after = rec[rec["arrival_s"] >= warm]
    return float(len(after) - int(np.sum(after["status"] == REJECTED))) / (end - warm)


def busy_bandwidth(moved: tuple[float | None, float]) -> float | None:
    """HBM bytes per GPU a grid run's iterations moved per busy replica-second, from ``moved``: the bytes
    its MBU counts (:func:`sim.metrics.utilization.pool_bytes`: of the iterations it ran, their tokens, the
    KV they read) and its replicas' busy seconds, both booked after its warmup
    (:func:`sim.fluid.capacity._grid_run` through :meth:`sim.api.LiveRun.moved`), the window its busy share
    reads. ``None`` where the run has no MBU (a precision the roofline cannot price). Not over the whole
    run: a short run starts with its batches empty, and over the whole run the cross-tier pool's 66-second
    run at 0.9 of ``max_rps`` read 5 % more bytes a busy second than after its warmup, and 6.5 % more than
    an hour's run on average over calibration seeds (``docs/scaling.md``, "MBU in both tiers").

    Per busy second, not per request served. A replica moves its weights once an iteration however many
    sequences share it, so its bytes per request go as one over its batch: Llama-3-70B on 4 x A100
    (``scenarios/diurnal_week.yaml``) moved 6.9 TB per GPU a request at 2 % of its capacity and 0.14 TB at
    95 %, a convex curve a straight line between grid points misreads, where its bytes per busy second
    went from 0.68 to 0.20 of the peak (the iterations turn compute-bound as the batch grows). And the
    fluid tier reads the busy share of ``n`` replicas for ``n`` (:mod:`sim.fluid.busy`): at one load per
    replica, ``n`` replicas behind a router that fills idle ones first run more of their requests alone,
    busy longer and moving more bytes for the same requests than the curve's group. Counted per request
    served, that pool's MBU read 13 % below the request level's (per busy second 0.2 %). A replica ``c``
    times as fast moves the same bytes in ``1 / c`` of the busy time: ``x c`` at a scaled capacity
    (:mod:`sim.fluid.scaled_curve`), as MFU. Read at the rate the run admitted (:meth:`GridRuns.hbm_rates`).

        >>> busy_bandwidth((3.0e12, 2.0)), busy_bandwidth((None, 2.0)), busy_bandwidth((0.0, 0.0))
        (1500000000000.0, None, 0.0)
    """
    bytes_, busy = moved
    if bytes_ is None:
        return None
    return float(bytes_) / busy if busy > 0 else 0.0


class GridRuns:
    """Step 2: what the grid runs measured, point by point (the group's rates), per class, and
    the requests and tokens of all of them together."""

    def __init__(self, template: dict) -> None:
        self.rates, self.served, self.att, self.busy, self.kv, self.mfu = [], [], [], [], [], []
        self.bytes: list[float | None] = []          # HBM bytes per GPU per busy replica-second (busy_bandwidth)
        self.admitted: list[float] = []              # and the rate of the requests the run admitted (its load)
        self.lat = {m: {s: [] for s in STATS} for m in METRICS}
        self.hists = {m: [] for m in HIST_METRICS + ("itl",)}
        self.n_req = self.n_rej = 0
        self.tok_in = self.tok_out = self.n_done = 0.0
        self.n_cls = n_cls = max(1, len(template["workload"].get("classes") or []))
        self.cls_acc = np.zeros((n_cls, 3))                  # completed, prompt tokens, generated tokens
        self.cls_slo = class_slos(template)
        self.c_att: list[list[float]] = [[] for _ in range(n_cls)]
        self.c_mean = {m: [[] for _ in range(n_cls)] for m in HIST_METRICS}
        self.c_hist = {m: [[] for _ in range(n_cls)] for m in HIST_METRICS}
        self.frontend_s = float(template["fleet"].get("frontend_s") or 0.0)
        self.slo = (float(template["slo"]["ttft_s"]), float(template["slo"]["tpot_s"]))
        self.ratio: list[np.ndarray] = []
        self.c_ratio: list[list[np.ndarray]] = [[] for _ in range(n_cls)]

    def add(self, rate: float, warm: float, res, moved: tuple[float | None, float]) -> None:
        """One grid run at ``rate``: its summary's numbers, histograms, classes and counts. ``moved``: the
        HBM bytes per GPU and busy replica-seconds its iterations booked after the warmup
        (:func:`sim.fluid.capacity._grid_run`), MBU's bytes per busy second over the window the busy
        share reads (:func:`busy_bandwidth`)."""
        s = res.summary
        self.rates.append(rate)
        self.served.append(s["throughput"]["requests_per_s"])
        self.att.append(s["slo"]["attainment"] if s["slo"]["attainment"] is not None else 1.0)
        # the served rate is over the window after the warmup: busy share and MFU over the same window
        # (read against it, :meth:`~sim.fluid.curve.CapacityCurve.at_served`)
        end = float(s["simulated_seconds"])
        self.busy.append(window_busy(res.timeseries, warm, end, s["utilization"]["gpu_busy"]))
        self.kv.append(s["utilization"]["kv_cache_mean"])
        self.mfu.append(window_mfu(res.records, s["utilization"]["mfu"], warm, end))
        self.bytes.append(busy_bandwidth(moved))
        self.admitted.append(window_admitted(res.records, warm, end))
        for m in METRICS:
            for st in STATS:
                v = s["latency"][m][st]
                self.lat[m][st].append(float(v) if v is not None else float("nan"))
        for m, row in hist_rows(res, warm).items():
            self.hists[m].append(row)
        self.hists["itl"].append(gap_row(res.extra.get("gaps")))     # the whole run's, as its latency.itl
        self._add_classes(res.records, warm)
        self._add_counts(res.records)
        self._add_ratios(res.records, warm, float(s["simulated_seconds"]))

    def hbm_busy(self) -> np.ndarray | None:
        """Each point's HBM bytes per GPU per busy replica-second (:func:`busy_bandwidth`); ``None`` where
        a run has no MBU."""
        return None if any(b is None for b in self.bytes) else np.array(self.bytes, dtype=np.float64)

    def hbm_rates(self) -> np.ndarray:
        """The load each point's bytes per busy second go with: the requests its run admitted per second
        over the window its bytes and busy time are counted on (:func:`window_admitted`) (the rate its Poisson draw offered, not
        the nominal one; not the window's completions, which near saturation lag the arrivals by the
        requests still in flight at the end: ``provider_partner_derived.yaml``'s group of four completed
        0.847 of ``max_rps`` at 0.9 offered, and paired with that, its bytes per busy second read 13 % below a
        steady 20-replica pool's at 0.87)."""
        return np.array(self.admitted, dtype=np.float64)

    def _add_ratios(self, rec: np.ndarray, warm: float, end: float) -> None:
        """The SLO-ratio rows of the run's measured requests, fleet-wide and per class under its SLO."""
        m = rec[rec["arrival_s"] >= warm]
        self.ratio.append(self._ratio_row(m, self.slo, end))
        for k in range(self.n_cls):
            self.c_ratio[k].append(self._ratio_row(m[m["cls"] == k], self.cls_slo[k], end))

    def _ratio_row(self, m: np.ndarray, slo: tuple[float, float], end: float) -> np.ndarray:
        st = m["status"]
        known = int(np.sum((st == COMPLETED) | (st == REJECTED) | (st == FAILED))) + inflight_missed(m, end, slo[0])
        return ratio_row(slo_ratios(m, *slo, self.frontend_s), known)

    def _add_classes(self, rec: np.ndarray, warm: float) -> None:
        """Each class's attainment under its own SLO (the run's where it has no finished request),
        mean latency and normalised histogram."""
        for k in range(self.n_cls):
            st = RequestStats(warm, [self.cls_slo[k]])
            st.add(rec[rec["cls"] == k])
            self.c_att[k].append(st.met[0] / st.n_fin[0] if st.n_fin[0] else self.att[-1])
            for m in HIST_METRICS:
                h = st.hist[m]
                self.c_mean[m][k].append(h.mean() if h.total > 0 else float("nan"))
                self.c_hist[m][k].append(h.counts / h.total if h.total > 0 else h.counts)

    def _add_counts(self, rec: np.ndarray) -> None:
        """Requests, refusals, completions and tokens, in all and per class."""
        n_cls = self.n_cls
        self.n_req += len(rec)
        self.n_rej += int(np.sum(rec["status"] == 2))
        done = rec[rec["status"] == 1]
        self.n_done += len(done)
        self.tok_in += float(done["prompt_tokens"].sum())
        self.tok_out += float(done["generated_tokens"].sum())
        c = np.clip(done["cls"].astype(np.int64), 0, n_cls - 1)
        self.cls_acc[:, 0] += np.bincount(c, minlength=n_cls)
        self.cls_acc[:, 1] += np.bincount(c, weights=done["prompt_tokens"].astype(np.float64), minlength=n_cls)
        self.cls_acc[:, 2] += np.bincount(c, weights=done["generated_tokens"].astype(np.float64), minlength=n_cls)

    def add_idle_point(self) -> None:
        """Step 4: the idle end of the curve. At zero load nothing is served and the replica is
        idle; latency there is the lightest measured point's (a lone request sees no queueing)."""
        for column, idle in ((self.rates, 0.0), (self.served, 0.0), (self.att, self.att[0]), (self.busy, 0.0),
                             (self.kv, 0.0), (self.mfu, 0.0), (self.admitted, 0.0)):
            column.insert(0, idle)
        # bytes per busy second at zero load: the lightest point's (no replica is busy there: never read)
        columns = [self.bytes] + [v for d in self.lat.values() for v in d.values()] + list(self.hists.values())
        columns += [v for d in (self.c_mean, self.c_hist) for per_class in d.values() for v in per_class]
        for column in columns + self.c_att + [self.ratio] + self.c_ratio:
            column.insert(0, column[0])
