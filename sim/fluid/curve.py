"""A capacity curve as the fluid tier reads it: one replica's behaviour against offered load.

:class:`CapacityCurve` holds per-replica quantities at a grid of offered rates (requests/s per
replica, from zero load to near saturation): completions/s, SLO attainment, GPU busy share, mean
KV-cache use, MFU, the HBM bytes per busy second (MBU's, as the runs' iterations moved them),
latency ``{mean, p50, p90, p99}`` of TTFT/TPOT/ITL/E2E/queue, normalised
log-histograms of TTFT/TPOT/E2E/queue, of the inter-token gaps (``hists["itl"]``, each gap one entry) and
of each request's SLO ratio (what the curve's attainment
is at a scaled capacity, :mod:`sim.fluid.scaled_curve`), and the same per request class. Between grid points every
quantity is interpolated linearly in the offered rate, flat outside the grid (:meth:`CapacityCurve.at`).
Its JSON form (:meth:`CapacityCurve.to_json`, histograms stored sparse) is what the on-disk cache
holds. How a curve is measured is :mod:`sim.fluid.capacity`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the curve format and measurement version (part of the cache key; a bump measures every curve again)
CURVE_VERSION = 17 # 4: SLO attainment counts in-flight requests that already missed; 5: max_rps over
# min_requests; 6: measured behind the scenario's router on a group of replicas; 7: a group's grid
# runs and saturation probes measure the replica-seconds of one replica's (:func:`sim.fluid.capacity.grid_run_length`);
# 8: SLO-ratio rows, what a scaled capacity reads its attainment from (:mod:`sim.fluid.scaled_curve`)
# 9: max_rps weighs the saturated window's completions by their cost (:func:`sim.fluid.capacity.saturated_rps`)
# 10: max_rps after ten batch turnovers, over a window that grows until settled
# (:func:`sim.fluid.saturation.settled_rps`)
# 11: the TPOT of a saturated replica, its batch full (:func:`sim.fluid.saturation.saturated_tpot`)
# 12: its TTFT and E2E less the queue (the service parts, ``sat_service_mean``)
# 13: its inter-token gaps' mean and percentiles (``sat_itl``)
# 14: normalised log-histograms of the inter-token gaps, per grid point (``hists["itl"]``) and saturated
# (``sat_itl_row``): ITL percentiles read from their mixture, not averaged across steps
# 15: HBM bytes per busy second, per grid point, as the runs' iterations moved them (``hbm_busy``: MBU)
# 16: and a saturated replica's, its batch full (``hbm_sat``): what a pool at capacity moves per busy second
# 17: each grid point's after its run's warmup, with the rate it admitted then (not the whole run's)
METRICS = ("ttft", "tpot", "itl", "e2e", "queue")
HIST_METRICS = ("ttft", "tpot", "e2e", "queue")
STATS = ("mean", "p50", "p90", "p99")


def grid_position(rates: np.ndarray, rate_rps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower index and weight of the upper neighbour of each rate on the ascending grid ``rates``
    (clamped to the grid)."""
    r = np.clip(np.asarray(rate_rps, dtype=np.float64), rates[0], rates[-1])
    i = np.clip(np.searchsorted(rates, r, side="right") - 1, 0, len(rates) - 2)
    w = (r - rates[i]) / (rates[i + 1] - rates[i])
    return i, w


@dataclass(frozen=True)
class CapacityCurve:
    """Per-replica behaviour of one pool versus offered load (requests/s per replica)."""

    key: str
    pool: str
    max_rps: float                      # saturation completions/s
    rates_rps: np.ndarray               # offered load of each grid point
    served_rps: np.ndarray              # completions/s
    attainment: np.ndarray              # SLO attainment (scenario SLO)
    busy: np.ndarray                    # GPU busy share
    kv: np.ndarray                      # mean KV-cache use
    mfu: np.ndarray
    latency: dict[str, dict[str, np.ndarray]]   # metric -> stat -> array over the grid
    hists: dict[str, np.ndarray]        # metric -> (grid, bins) normalised LogHistogram counts
    prompt_tokens_mean: float           # per completed request
    output_tokens_mean: float           # generated, per completed request
    reject_share: float                 # of arrivals (e.g. prompts over the context)
    meta: dict = field(default_factory=dict)
    # per class (axis 0), like the fleet-wide arrays: SLO attainment under the class's own SLO,
    # latency means and normalised histograms of TTFT/TPOT/E2E/queue
    class_attainment: np.ndarray | None = None          # (classes, grid)
    class_latency_mean: dict[str, np.ndarray] | None = None   # metric -> (classes, grid)
    class_hists: dict[str, np.ndarray] | None = None     # metric -> (classes, grid, bins)
    # normalised log-histograms of each request's SLO ratio (:func:`sim.fluid.scaled_curve.slo_ratios`),
    # over the requests whose outcome is known: fleet-wide (grid, bins) and per class (classes, grid, bins)
    slo_ratio: np.ndarray | None = None
    class_slo_ratio: np.ndarray | None = None
    # a saturated replica's TPOT (its batch full, :func:`sim.fluid.saturation.saturated_tpot`): what the
    # requests served while a backlog lasts see; normalised log-histogram (bins) and mean, and per class
    # (classes, bins) and (classes,), a class without one the fleet's
    sat_tpot: np.ndarray | None = None
    sat_tpot_mean: float | None = None
    class_sat_tpot: np.ndarray | None = None
    class_sat_tpot_mean: np.ndarray | None = None
    # and its TTFT and E2E less the queue time (the service parts), mean per metric, and per class (classes,)
    sat_service_mean: dict[str, float] | None = None
    class_sat_service_mean: dict[str, np.ndarray] | None = None
    # and its inter-token gaps, token-weighted ({mean, p50, p90, p99}, :meth:`sim.api.LiveRun.gaps`)
    sat_itl: dict[str, float] | None = None
    # and as a normalised log-histogram row (bins), each gap one entry
    sat_itl_row: np.ndarray | None = None
    # HBM bytes per GPU per busy replica-second at each grid point, what MBU counts (:func:`sim.fluid.grid.busy_bandwidth`;
    # ``None`` where the roofline cannot price the pool), and the rate each run admitted per replica, the load they
    # go with (:meth:`sim.fluid.grid.GridRuns.hbm_rates`, read by :meth:`hbm_at`)
    hbm_busy: np.ndarray | None = None
    hbm_rps: np.ndarray | None = None
    # and a saturated replica's, its batch full, over the window ``max_rps`` is read from
    # (:meth:`sim.fluid.capacity._LiveSaturated.busy_bandwidth`): the load ``max_rps`` goes with (``None``: not measured)
    hbm_sat: float | None = None

    # ------------------------------------------------------------------ evaluation
    def position(self, rate_rps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower grid index and weight of the upper neighbour for each rate (clamped to the grid)."""
        return grid_position(self.rates_rps, rate_rps)

    def at(self, values: np.ndarray, rate_rps: np.ndarray) -> np.ndarray:
        """A per-grid-point quantity interpolated at ``rate_rps`` (flat outside the grid)."""
        i, w = self.position(rate_rps)
        v = np.asarray(values, dtype=np.float64)
        return v[i] * (1 - w) + v[i + 1] * w

    def at_served(self, values: np.ndarray, served_rps: np.ndarray) -> np.ndarray:
        """A quantity that follows the work served (GPU busy share, MFU) at ``served_rps`` requests/s
        served per replica: interpolated linearly over the grid runs' **measured** served rates
        (``self.served_rps``), flat outside them.

        A grid run at offered rate ``r`` serves its Poisson draw of arrivals, a few per cent off
        ``r`` (one standard deviation is ``1 / sqrt(requests)``: 1.8 % for 3,000), and its busy share
        is that of the rate it served; read at ``r`` (:meth:`at`) it carries the draw's error (a pool
        whose run at 0.5 requests/s drew 5.4 % fewer read a busy share of 0.473 for 0.5). Paired with
        the rate it served, the draw is no error. (Interpolated over the served rates in increasing
        order, should two runs' draws have crossed.)

            >>> c = CapacityCurve(key="k", pool="p", max_rps=1.0, rates_rps=np.array([0.0, 0.5, 0.9]),
            ...     served_rps=np.array([0.0, 0.473, 0.9]), attainment=np.ones(3), busy=np.array([0.0, 0.473, 0.9]),
            ...     kv=np.zeros(3), mfu=np.zeros(3), latency={}, hists={}, prompt_tokens_mean=1000.0,
            ...     output_tokens_mean=1.0, reject_share=0.0)
            >>> float(c.at(c.busy, 0.5)), round(float(c.at_served(c.busy, 0.5)), 12)
            (0.473, 0.5)
        """
        served = np.asarray(self.served_rps, dtype=np.float64)
        order = np.argsort(served, kind="stable")
        return np.interp(np.asarray(served_rps, dtype=np.float64), served[order],
                         np.asarray(values, dtype=np.float64)[order])

    def hbm_at(self, load_rps: np.ndarray) -> np.ndarray:
        """HBM bytes per GPU per busy replica-second at ``load_rps`` requests/s per replica: interpolated
        linearly over the rates the grid runs admitted (``hbm_rps``, in increasing order) and, above them,
        up to ``max_rps``, where a saturated replica moves ``hbm_sat``; flat outside them.

        A replica's bytes per busy second fall as its batch grows (its weights read once an iteration for
        more sequences), and the batch grows fastest between the top grid point (95 % of ``max_rps``, 90 %
        at coarser settings) and saturation, where a queue keeps it full: read flat past the top point, a
        pool held at capacity read its MBU at the top point's batch (the overloaded cross-tier case, 40
        requests/s on two replicas of 13.1: 0.183 where the request level read 0.124, the saturated
        replica's 0.124).

            >>> c = CapacityCurve(key="k", pool="p", max_rps=10.0, rates_rps=np.array([0.0, 9.0]),
            ...     served_rps=np.array([0.0, 9.0]), attainment=np.ones(2), busy=np.ones(2), kv=np.zeros(2),
            ...     mfu=np.zeros(2), latency={}, hists={}, prompt_tokens_mean=1.0, output_tokens_mean=1.0,
            ...     reject_share=0.0, hbm_busy=np.array([5.0, 4.0]), hbm_rps=np.array([0.0, 9.0]), hbm_sat=2.0)
            >>> c.hbm_at(np.array([4.5, 9.0, 9.5, 10.0, 12.0])).tolist()
            [4.5, 4.0, 3.0, 2.0, 2.0]
        """
        rates = np.asarray(self.hbm_rps, dtype=np.float64)
        moved = np.asarray(self.hbm_busy, dtype=np.float64)
        if self.hbm_sat is not None:
            rates, moved = np.append(rates, self.max_rps), np.append(moved, self.hbm_sat)
        order = np.argsort(rates, kind="stable")
        return np.interp(np.asarray(load_rps, dtype=np.float64), rates[order], moved[order])

    # ------------------------------------------------------------------ (de)serialisation
    def to_json(self) -> dict:
        def arr(a):
            return [float(x) for x in np.asarray(a).tolist()]
        hists = {m: _sparse(h) for m, h in self.hists.items()}
        return {"version": CURVE_VERSION, "key": self.key, "pool": self.pool, "max_rps": self.max_rps,
                "rates_rps": arr(self.rates_rps), "served_rps": arr(self.served_rps),
                "attainment": arr(self.attainment), "busy": arr(self.busy), "kv": arr(self.kv),
                "mfu": arr(self.mfu),
                "latency": {m: {s: arr(v) for s, v in d.items()} for m, d in self.latency.items()},
                "hists": hists, "prompt_tokens_mean": self.prompt_tokens_mean,
                "output_tokens_mean": self.output_tokens_mean, "reject_share": self.reject_share,
                "meta": self.meta,
                "class_attainment": None if self.class_attainment is None else self.class_attainment.tolist(),
                "class_latency_mean": None if self.class_latency_mean is None else
                {m: v.tolist() for m, v in self.class_latency_mean.items()},
                "class_hists": None if self.class_hists is None else
                {m: [_sparse(h) for h in v] for m, v in self.class_hists.items()},
                "slo_ratio": None if self.slo_ratio is None else _sparse(self.slo_ratio),
                "class_slo_ratio": None if self.class_slo_ratio is None else
                [_sparse(h) for h in self.class_slo_ratio],
                "sat_tpot": None if self.sat_tpot is None else _sparse(self.sat_tpot[None, :]),
                "sat_tpot_mean": self.sat_tpot_mean,
                "class_sat_tpot": None if self.class_sat_tpot is None else _sparse(self.class_sat_tpot),
                "class_sat_tpot_mean": None if self.class_sat_tpot_mean is None else
                [float(x) for x in self.class_sat_tpot_mean],
                "sat_service_mean": None if self.sat_service_mean is None else
                {m: float(v) for m, v in self.sat_service_mean.items()},
                "class_sat_service_mean": None if self.class_sat_service_mean is None else
                {m: [float(x) for x in v] for m, v in self.class_sat_service_mean.items()},
                "sat_itl": None if self.sat_itl is None else {s: float(v) for s, v in self.sat_itl.items()},
                "sat_itl_row": None if self.sat_itl_row is None else _sparse(self.sat_itl_row[None, :]),
                "hbm_busy": None if self.hbm_busy is None else arr(self.hbm_busy),
                "hbm_rps": None if self.hbm_rps is None else arr(self.hbm_rps),
                "hbm_sat": None if self.hbm_sat is None else float(self.hbm_sat)}

    @classmethod
    def from_json(cls, d: dict) -> "CapacityCurve":
        hists = {m: _dense(h) for m, h in d["hists"].items()}
        ca, cl, ch = d.get("class_attainment"), d.get("class_latency_mean"), d.get("class_hists")
        sr, csr = d.get("slo_ratio"), d.get("class_slo_ratio")
        st, cst, cstm = d.get("sat_tpot"), d.get("class_sat_tpot"), d.get("class_sat_tpot_mean")
        stm = d.get("sat_tpot_mean")
        svc, csvc = d.get("sat_service_mean"), d.get("class_sat_service_mean")
        def arr(x):
            return np.asarray(x, dtype=np.float64)
        return cls(key=d["key"], pool=d["pool"], max_rps=float(d["max_rps"]), rates_rps=arr(d["rates_rps"]),
                   served_rps=arr(d["served_rps"]), attainment=arr(d["attainment"]), busy=arr(d["busy"]),
                   kv=arr(d["kv"]), mfu=arr(d["mfu"]),
                   latency={m: {s: arr(v) for s, v in st.items()} for m, st in d["latency"].items()},
                   hists=hists, prompt_tokens_mean=float(d["prompt_tokens_mean"]),
                   output_tokens_mean=float(d["output_tokens_mean"]), reject_share=float(d["reject_share"]),
                   meta=dict(d.get("meta", {})),
                   class_attainment=None if ca is None else np.asarray(ca, dtype=np.float64),
                   class_latency_mean=None if cl is None else {m: np.asarray(v, dtype=np.float64)
                                                               for m, v in cl.items()},
                   class_hists=None if ch is None else {m: np.stack([_dense(h) for h in v]) for m, v in ch.items()},
                   slo_ratio=None if sr is None else _dense(sr),
                   class_slo_ratio=None if csr is None else np.stack([_dense(h) for h in csr]),
                   sat_tpot=None if st is None else _dense(st)[0],
                   sat_tpot_mean=None if stm is None else float(stm),
                   class_sat_tpot=None if cst is None else _dense(cst),
                   class_sat_tpot_mean=None if cstm is None else np.asarray(cstm, dtype=np.float64),
                   sat_service_mean=None if svc is None else {m: float(v) for m, v in svc.items()},
                   class_sat_service_mean=None if csvc is None else {m: arr(v) for m, v in csvc.items()},
                   sat_itl=None if d.get("sat_itl") is None else {s: float(v) for s, v in d["sat_itl"].items()},
                   sat_itl_row=None if d.get("sat_itl_row") is None else _dense(d["sat_itl_row"])[0],
                   # required: a curve stored without it (an earlier version's) is measured again, never
                   # read without MBU's bytes (a KeyError, :func:`sim.fluid.capacity.capacity_curve`)
                   hbm_busy=None if d["hbm_busy"] is None else arr(d["hbm_busy"]),
                   hbm_rps=None if d["hbm_rps"] is None else arr(d["hbm_rps"]),
                   hbm_sat=None if d["hbm_sat"] is None else float(d["hbm_sat"]))


def _sparse(h: np.ndarray) -> dict:
    rows = []
    for row in h:
        nz = np.nonzero(row)[0]
        rows.append({"idx": nz.tolist(), "p": [float(x) for x in row[nz]]})
    return {"bins": int(h.shape[1]), "rows": rows}


def _dense(h: dict) -> np.ndarray:
    a = np.zeros((len(h["rows"]), h["bins"]))
    for k, row in enumerate(h["rows"]):
        a[k, row["idx"]] = row["p"]
    return a
