"""A capacity curve at a scaled capacity, by rescaling time: no new measurement.

Dividing every step time by ``c`` (:class:`sim.perf.scaled.ScaledCapacity`) and multiplying every
instant by ``c`` turns a replica serving Poisson arrivals at rate ``λ`` into the measured replica at
rate ``λ / c`` (step times ``c x τ / c = τ``; arrival gaps ``c x`` theirs, still Poisson). So the
curve of a replica with ``c`` times the capacity is the measured curve with

* offered, admitted and served rates, saturation throughput, MFU (FLOPs per second) and the HBM bytes
  moved per busy second (the same iterations' bytes in ``1 / c`` of the time) ``x c``: grid point
  ``k`` moves from rate ``r_k`` to ``c r_k``, so nothing is interpolated and no rate falls outside
  the measured range (above the top point the scaled curve is flat, as the measured one is, and
  the fluid queue's backlog takes the excess as it does at ``c = 1``);
* GPU busy share and mean KV-cache use (shares of time) unchanged;
* every latency (means, percentiles, histograms) ``/ c``, except the serving front end's constant
  ``fleet.frontend_s`` in TTFT and E2E, which is no step time: ``v -> (v - f) / c + f``;
* SLO attainment at objectives ``(T, P)``: the measured attainment at ``(f + c (T - f), c P)``.
  The curve stores, per grid point, the distribution of each request's **SLO ratio**
  ``max((ttft - f) / (T - f), tpot / P)``: a request meets the objectives of a replica ``c`` times
  as fast exactly when its ratio is at most ``c``, so the attainment is that distribution's CDF at
  ``c`` (:func:`attainment_at`; requests refused, failed or past their TTFT at the end of a run miss
  at any ``c``).

What does not rescale, and why the fluid tier still may: the argument holds for a stationary
replica, which is what a curve point measures; the fluid steps themselves (a diurnal rate, the
autoscaler's interval, cooldown and ``scale_up_delay``, the step length, billing) stay in real
time, exactly as a request-level run with a scaled step model keeps them, and read the scaled
curve. GPU-hours do not depend on ``c`` (provisioning is not step time); busy GPU-hours do, through
the load each replica sees. A static batch's ``timeout_s`` is real time inside a curve point, so a
pool with ``policy: static`` is refused (:func:`refused_at_capacity`).

    >>> import numpy as np
    >>> from sim.fluid.curve import CapacityCurve
    >>> lat = {m: {s: np.array([0.1, 0.2]) for s in ("mean", "p50", "p90", "p99")}
    ...        for m in ("ttft", "tpot", "itl", "e2e", "queue")}
    >>> curve = CapacityCurve(key="k", pool="p", max_rps=10.0, rates_rps=np.array([0.0, 8.0]),
    ...     served_rps=np.array([0.0, 8.0]), attainment=np.array([1.0, 1.0]), busy=np.array([0.0, 0.9]),
    ...     kv=np.array([0.0, 0.5]), mfu=np.array([0.0, 0.3]), latency=lat, hists={}, prompt_tokens_mean=100.0,
    ...     output_tokens_mean=10.0, reject_share=0.0,
    ...     slo_ratio=np.vstack([ratio_row(np.array([0.3, 0.4]), 2), ratio_row(np.array([0.6, 1.6]), 2)]))
    >>> half = at_capacity(curve, 0.5)
    >>> half.max_rps, half.rates_rps.tolist(), half.busy.tolist(), half.mfu.tolist()
    (5.0, [0.0, 4.0], [0.0, 0.9], [0.0, 0.15])
    >>> half.latency["ttft"]["p99"].tolist(), half.attainment.round(6).tolist()  # ratios at most 0.5
    ([0.2, 0.4], [1.0, 0.0])
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from sim.fluid.backlog import CENTRES, REF
from sim.metrics.schema import COMPLETED
from sim.metrics.summary import latency_columns

FRONT_END = ("ttft", "e2e")
"""Latencies that include the serving front end's constant (``fleet.frontend_s``)."""


def slo_ratios(rec: np.ndarray, ttft_s: float, tpot_s: float, frontend_s: float = 0.0) -> np.ndarray:
    """Each completed row's SLO ratio ``max((ttft - f) / (ttft_s - f), tpot / tpot_s)`` (see the module
    docstring; ``inf`` when ``ttft_s <= f``, no objective a faster replica could meet).

        >>> from sim.metrics.records import RECORD_DTYPE
        >>> rec = np.zeros(2, dtype=RECORD_DTYPE)
        >>> rec["status"] = COMPLETED; rec["generated_tokens"] = (1, 11)
        >>> rec["first_token_s"] = (0.5, 0.2); rec["completion_s"] = (0.5, 1.2)
        >>> slo_ratios(rec, ttft_s=1.0, tpot_s=0.05).tolist()   # 0.5 / 1; max(0.2 / 1, 0.1 / 0.05)
        [0.5, 2.0]
    """
    done = rec[rec["status"] == COMPLETED]
    cols = latency_columns(done)
    head = ttft_s - frontend_s
    with np.errstate(invalid="ignore", divide="ignore"):
        first = (cols["ttft"] - frontend_s) / head if head > 0 else np.full(len(done), math.inf)
        after = np.where(np.isnan(cols["tpot"]), 0.0, cols["tpot"] / tpot_s)
    return np.maximum(np.maximum(first, 0.0), after)


def ratio_row(ratios: np.ndarray, n_known: int) -> np.ndarray:
    """A normalised log-histogram row of ``ratios`` over the ``n_known`` requests whose outcome is
    known (the rest of them, refused, failed or late, miss at any capacity and fall in no bin)."""
    row = np.zeros(REF.n_bins)
    finite = ratios[np.isfinite(ratios)]
    if n_known > 0 and len(finite):
        row += np.bincount(REF.bin_index(finite), minlength=REF.n_bins) / float(n_known)
    return row


def attainment_at(rows: np.ndarray, scale: float) -> np.ndarray:
    """Share of requests whose SLO ratio is at most ``scale``, per row (``rows``: ``(..., bins)``
    from :func:`ratio_row`), linear in the logarithm inside the bin holding ``scale``.

        >>> row = ratio_row(np.array([0.5, 0.9, 1.2, np.inf]), 4)
        >>> attainment_at(row, 1.0).round(6).tolist(), attainment_at(row, 2.0).round(6).tolist()
        (0.5, 0.75)
    """
    rows = np.asarray(rows, dtype=np.float64)
    b = int(REF.bin_index(np.array([scale]))[0])
    below = rows[..., :b].sum(axis=-1)
    lower = 0.0 if b == 0 else REF.lo * math.exp((b - 1) * REF._log_g)
    frac = 1.0 if b == 0 else min(1.0, max(0.0, math.log(scale / lower) / REF._log_g))
    return below + frac * rows[..., b]


def rescale_rows(hists: np.ndarray, capacity: float, frontend_s: float = 0.0) -> np.ndarray:
    """Normalised log-histogram rows ``(..., bins)`` of values ``v`` as rows of ``(v - f) / c + f``:
    each bin's mass moves with its centre, split between the two bins whose centres bracket the
    new one (linear in the logarithm: a pure scale moves every bin by the same fraction of a bin)."""
    hists = np.asarray(hists, dtype=np.float64)
    moved = np.maximum((CENTRES - frontend_s) / capacity + frontend_s, 0.0)
    with np.errstate(divide="ignore"):
        x = np.where(moved >= REF.lo, np.log(np.maximum(moved, REF.lo) / REF.lo) / REF._log_g + 0.5, 0.0)
    x = np.minimum(x, REF.n_bins - 1)
    lo = np.floor(x).astype(np.int64)
    hi = np.minimum(lo + 1, REF.n_bins - 1)
    w = x - lo
    flat = hists.reshape(-1, hists.shape[-1])
    out = np.zeros_like(flat)
    for r, row in enumerate(flat):
        nz = np.flatnonzero(row)
        if len(nz):
            out[r] = (np.bincount(lo[nz], weights=row[nz] * (1 - w[nz]), minlength=REF.n_bins)
                      + np.bincount(hi[nz], weights=row[nz] * w[nz], minlength=REF.n_bins))
    return out.reshape(hists.shape)


def _times(metric: str, values, capacity: float, frontend_s: float):
    f = frontend_s if metric in FRONT_END else 0.0
    return (np.asarray(values, dtype=np.float64) - f) / capacity + f


def at_capacity(curve, capacity: float, frontend_s: float = 0.0):
    """``curve`` (a :class:`~sim.fluid.curve.CapacityCurve`) of a replica with ``capacity`` times the
    measured one's throughput (see the module docstring); ``curve`` itself at ``capacity == 1``.

    Raises :class:`ValueError` for a curve without SLO-ratio rows (not measured by this version)."""
    if capacity == 1.0:
        return curve
    if not (math.isfinite(capacity) and capacity > 0):
        raise ValueError(f"capacity scale must be a finite number > 0 (got {capacity!r})")
    if curve.slo_ratio is None:
        raise ValueError(f"capacity curve of pool {curve.pool!r} has no SLO-ratio rows; measure it again")
    c, f = float(capacity), float(frontend_s)
    lat = {m: {s: _times(m, v, c, f) for s, v in d.items()} for m, d in curve.latency.items()}
    hists = {m: rescale_rows(h, c, f if m in FRONT_END else 0.0) for m, h in curve.hists.items()}
    attainment = attainment_at(curve.slo_ratio, c)
    out = replace(curve, max_rps=curve.max_rps * c, rates_rps=curve.rates_rps * c, served_rps=curve.served_rps * c,
                  mfu=curve.mfu * c, hbm_busy=None if curve.hbm_busy is None else curve.hbm_busy * c,
                  hbm_rps=None if curve.hbm_rps is None else curve.hbm_rps * c,
                  hbm_sat=None if curve.hbm_sat is None else curve.hbm_sat * c,
                  latency=lat, hists=hists, attainment=attainment,
                  meta={**curve.meta, "capacity": c})
    if curve.class_latency_mean is not None:
        out = replace(out, class_latency_mean={m: _times(m, v, c, f) for m, v in curve.class_latency_mean.items()})
    if curve.class_hists is not None:
        out = replace(out, class_hists={m: rescale_rows(h, c, f if m in FRONT_END else 0.0)
                                        for m, h in curve.class_hists.items()})
    if curve.class_slo_ratio is not None:
        out = replace(out, class_attainment=attainment_at(curve.class_slo_ratio, c))
    if curve.sat_tpot is not None:                  # a saturated replica's TPOT: a latency, / c
        out = replace(out, sat_tpot=rescale_rows(curve.sat_tpot[None, :], c)[0], sat_tpot_mean=curve.sat_tpot_mean / c,
                      class_sat_tpot=rescale_rows(curve.class_sat_tpot, c),
                      class_sat_tpot_mean=curve.class_sat_tpot_mean / c)
    if curve.sat_service_mean is not None:          # its service parts: latencies, the front end's kept
        out = replace(out, sat_service_mean={m: float(_times(m, v, c, f)) for m, v in curve.sat_service_mean.items()},
                      class_sat_service_mean={m: _times(m, v, c, f) for m, v in curve.class_sat_service_mean.items()})
    if curve.sat_itl is not None:                   # its inter-token gaps: step times, / c
        out = replace(out, sat_itl={s: v / c for s, v in curve.sat_itl.items()})
    if curve.sat_itl_row is not None:
        out = replace(out, sat_itl_row=rescale_rows(curve.sat_itl_row[None, :], c)[0])
    return out


def refused_at_capacity(sc) -> list[tuple[str, str]]:
    """What a scaled capacity cannot rescale in a fluid scenario, as ``(field, message)`` problems."""
    return [(f"fleet.pools.{i}.batching.policy",
             "a static batch waits timeout_s of real time for requests, which a scaled capacity does not "
             "rescale; run the band at fidelity: request")
            for i, p in enumerate(sc.fleet.pools) if p.batching.policy == "static"]
