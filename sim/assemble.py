"""A run's outputs (:class:`Result`) and how a finished fleet's outcome becomes them (:func:`assemble`):
records → summary → economics, the request-level tier's assembler (the fluid tier builds its own
:class:`Result` and prices it through :func:`price_run` too).

:func:`price_run` hands a run's provisioned intervals, busy GPU-seconds and served tokens to the
money layer (:func:`sim.economics.evaluate`); :func:`request_outcomes` gives every request's outcome
as the columns SLO money prices. :mod:`sim.api` re-exports every name here.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.metrics.fleet_summary import PoolUsage, fleet_summary, offered_requests
from sim.metrics.records import RECORD_DTYPE
from sim.metrics.request_summary import summarize_requests
from sim.metrics.schema import TS_COLUMNS
from sim.metrics.utilization import in_flight_work, prefill_served
from sim.scenario.load import LoadedScenario
from sim.serving.outcome import FleetOutcome
from sim.serving.pool import PoolRuntime


@dataclass
class Result:
    """One run's outputs: the summary dict, columnar records, time series and the money."""

    summary: dict
    records: np.ndarray
    timeseries: np.ndarray
    pool_names: list[str]
    class_names: list[str]
    economics: Any = None
    scenario: Any = None
    extra: dict = field(default_factory=dict)

    def write(self, out_dir: str | Path, figures: str = "svg") -> Path:
        """Write the result folder (atomically, file by file) and return its path.

        ``figures``: ``"svg"`` (quick-look SVGs drawn without matplotlib, the default),
        ``"png"`` (drawn by matplotlib, as ``fleetsim report`` draws them) or ``"none"``.
        """
        from sim.metrics.output import write_result

        return write_result(self, Path(out_dir), figures=figures)


def price_run(summary: dict, sc, pools: list[PoolRuntime], end_s: float, intervals: list, busy_by_pool: dict,
              completion_s: np.ndarray, input_tokens: np.ndarray, output_tokens: np.ndarray, cls_idx: np.ndarray,
              weight: np.ndarray, outcomes: dict | None = None):
    """Hand a run's provisioned intervals and served tokens to the money layer; fills the summary's
    ``cost`` and ``cashflow`` blocks and returns the :class:`~sim.economics.EconomicsResult`.

    ``cls_idx`` gives each usage row's class (its revenue line); ``weight`` its multiplicity;
    ``outcomes`` (optional) every request's outcome as columns ``t_s, status, met, input_tokens,
    output_tokens, cls, weight`` (what SLO money prices).
    """
    from sim.economics import Usage, evaluate
    from sim.economics.usage import Intervals, Outcomes
    from sim.workload import classes

    cls = classes(sc.workload)
    line_names = tuple(sorted({c.revenue_line for c in cls if c.revenue_line}))
    cls_line = np.array([line_names.index(c.revenue_line) if c.revenue_line else -1 for c in cls], dtype=np.int64)
    if not isinstance(intervals, Intervals):    # the fluid tier hands columns; the request level rows
        intervals = tuple(intervals)
    usage = Usage(horizon_s=float(end_s), intervals=intervals, busy_gpu_seconds=busy_by_pool,
                  completion_s=completion_s, input_tokens=input_tokens, output_tokens=output_tokens,
                  revenue_line=cls_line[cls_idx] if len(cls_idx) else np.zeros(0, dtype=np.int64),
                  revenue_line_names=line_names, weight=weight,
                  scale_note="; ".join(f"pool {p.name} simulated as 1 shard x {p.cfg.scale:g}"
                                       for p in pools if p.cfg.scale != 1),
                  cls=np.asarray(cls_idx, dtype=np.int64), class_names=tuple(c.name for c in cls),
                  gpu_tdp_w={p.name: float(p.gpu.tdp_w) for p in pools},
                  outcomes=None if outcomes is None else Outcomes(
                      outcomes["t_s"], outcomes["status"], outcomes["met"], outcomes["input_tokens"],
                      outcomes["output_tokens"], cls_line[outcomes["cls"]].astype(np.int32), outcomes["weight"]))
    econ = evaluate(sc.economics, sc.start, usage)
    summary["cost"] = dict(econ.cost)
    summary["cashflow"] = dict(econ.cashflow)
    return econ


def request_outcomes(rec: np.ndarray, sc, pool_scale: np.ndarray) -> dict:
    """Columns of every request with a known outcome (completed, rejected, failed) for SLO money:
    the completion time (arrival for a rejected or failed request), status, whether it met its
    class's SLO, requested tokens, class and weight (its pool's ``scale``; 1 if never routed)."""
    from sim.metrics.summary import slo_met
    from sim.serving.request import IN_FLIGHT
    from sim.workload import classes

    r = rec[rec["status"] != IN_FLIGHT]
    met = np.zeros(len(r), dtype=bool)
    for i, c in enumerate(classes(sc.workload)):
        mine = r["cls"] == i
        met[mine] = slo_met(r[mine], c.slo_ttft_s or sc.slo.ttft_s, c.slo_tpot_s or sc.slo.tpot_s)
    pool = r["pool"].astype(np.int64)
    return {"t_s": np.where(r["completion_s"] >= 0, r["completion_s"], r["arrival_s"]),
            "status": r["status"].astype(np.int8), "met": met,   # narrow types: usage.npz stays small
            "input_tokens": r["prompt_tokens"].astype(np.int32), "output_tokens": r["output_tokens"].astype(np.int32),
            "cls": r["cls"].astype(np.int64),
            "weight": np.where(pool >= 0, pool_scale[np.maximum(pool, 0)], 1.0) if len(pool_scale) else np.ones(len(r))}


def _pool_usage(u, use, ts: np.ndarray, in_flight: np.ndarray, duration_s: float) -> PoolUsage:
    """What one pool did (``u``: its :class:`~sim.serving.outcome.PoolOutcome`; ``use``: the usage
    columns of completed requests; ``ts``: the time-series rows; ``in_flight``: the records of the
    requests in flight at the end; ``duration_s``: the end of the arrivals) as the fleet summary's
    input."""
    p = u.pool
    gpr = p.gpus_per_replica
    sel = ts[ts[:, 1] == p.index] if len(ts) else ts
    mine = use.pool == p.index if len(use.pool) else np.zeros(0, dtype=bool)
    n = float(use.count[mine].sum()) if mine.any() else 0.0
    pin = float((use.count[mine] * use.input_tokens[mine]).sum() / n) if n else 0.0    # not np.dot: BLAS-free
    pout = float((use.count[mine] * use.output_tokens[mine]).sum() / n) if n else 0.0
    fl = in_flight[in_flight["pool"] == p.index]
    if not n and len(fl):      # nothing completed: the mix of the requests in flight
        pin, pout = float(fl["prompt_tokens"].mean()), float(fl["output_tokens"].mean())
    routed, offered = offered_requests(p, n, pin, pout, fl["prompt_tokens"], fl["output_tokens"])
    n += in_flight_work(p, pin, pout, fl["prompt_tokens"], fl["generated_tokens"])
    if getattr(p, "role", "both") == "prefill":    # its work: the prompts it ran (prefill_served)
        n, pin, pout = prefill_served(u.prefills, u.prefill_tokens)
    return PoolUsage(pool=p, provisioned_gpu_s=sum(max(0.0, e - s) for s, e in u.intervals) * gpr,
                     arrival_window_gpu_s=sum(max(0.0, min(e, duration_s) - s) for s, e in u.intervals) * gpr,
                     busy_gpu_s=u.busy_replica_s * gpr, flops_done=2.0 * p.model.n_active_params * u.tokens_processed,
                     kv_cache_mean=float(np.mean(sel[:, 7])) if len(sel) else 0.0,
                     requests=n, prompt_mean=pin, output_mean=pout,
                     lead={"replicas_provisioned_total": u.replicas_provisioned_total}, routed=routed, offered=offered,
                     steps=(u.iterations, u.tokens_processed, u.kv_read, u.micro_batches, u.token_mix))


def assemble(loaded: LoadedScenario, finished: FleetOutcome) -> Result:
    """Turn a finished fleet's outcome into records, time series, summary and economics."""
    from sim.economics import ProvisionedInterval
    from sim.workload import class_names

    sc = loaded.scenario
    # rows, latency/throughput/SLO blocks, per-class blocks and usage columns: exact from the rows
    # under metrics.records: all, from streaming statistics under sample/none
    end = finished.end_s
    pools = [u.pool for u in finished.pools]
    outcome = summarize_requests(finished.log, finished.gaps, finished.in_flight_rows, sc, end)
    rec = outcome.records
    ts = np.array(finished.timeseries, dtype=np.float64).reshape(-1, len(TS_COLUMNS))
    summary: dict[str, Any] = {"scenario": sc.name, "seed": sc.seed}
    summary.update(outcome.summary)
    summary["requests"]["preemptions"] = int(finished.preemptions)

    # utilization, GPU-hours and stability (the same assembler as the fluid tier's)
    use = outcome.usage       # one row per completed request, or per (hour, pool, class) group
    kv_mean = 0.0
    if len(ts):
        w = ts[:, 2]
        kv_mean = float(np.average(ts[:, 7], weights=w)) if w.sum() > 0 else 0.0
    in_flight = np.array(finished.in_flight_rows, dtype=RECORD_DTYPE)
    pool_usage = [_pool_usage(u, use, ts, in_flight, sc.duration) for u in finished.pools]
    fleet = fleet_summary(sc, pool_usage, kv_cache_mean=kv_mean, timeseries=ts, requests=summary["requests"], end_s=end,
                          in_flight_peak=finished.in_flight_peak)
    summary.update(utilization=fleet.utilization, gpu_hours=fleet.gpu_hours, stability=fleet.stability)
    intervals = [ProvisionedInterval(u.pool.name, float(u.pool.gpus_per_replica * u.pool.cfg.scale), float(s),
                                     float(e)) for u in finished.pools for s, e in u.intervals]

    # money
    names = class_names(sc.workload)
    pool_scale = np.array([p.cfg.scale for p in pools], dtype=np.float64)
    econ = price_run(summary, sc, pools, float(end), intervals, fleet.busy_gpu_s_by_pool, use.completion_s, use.input_tokens,
                     use.output_tokens, use.cls,
                     pool_scale[use.pool] * use.count if len(use.pool) else np.zeros(0),
                     outcomes=request_outcomes(rec, sc, pool_scale) if sc.metrics.records == "all" else None)
    summary["pools"] = fleet.pools
    if outcome.classes is not None:
        summary["classes"] = outcome.classes
    summary["simulated_seconds"] = float(end)
    summary["engine"] = sc.engine
    summary["wall_seconds"] = 0.0
    return Result(summary=summary, records=rec, timeseries=ts, pool_names=[p.name for p in pools],
                  class_names=names, economics=econ, scenario=loaded,
                  extra={"python": platform.python_version(), "gaps": finished.gaps,
                         "hbm_bytes": fleet.hbm_bytes_by_pool})
