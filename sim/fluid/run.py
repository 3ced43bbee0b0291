"""The fluid tier: long horizons in time steps, each step's demand served through capacity curves.

For every step ``[t_k, t_{k+1})`` (default one hour):

1. demand: the expected arrivals of each class (:func:`~sim.fluid.demand.expected_arrivals`);
2. routing: pool ``p`` gets its share of the demand under the scenario's router
   (:func:`pool_shares`: by replicas under random and round robin, by nominal capacity
   ``n_p max_p / sum_q n_q max_q`` under least outstanding and a central queue, by weights under
   weighted; ``spillover`` and disaggregation are refused); inside a pool the curve was measured
   behind the same router (:mod:`sim.fluid.capacity`); a pool with
   ``autoscale`` runs the replicas its autoscaler settles at for the step's demand and backlog,
   its metric read off the curve as the request-level autoscaler reads it (:mod:`sim.fluid.autoscale`);
3. service, as a fluid queue per pool: the curve's rejected share is refused; the admitted work
   plus the backlog ``B`` carried from the previous step is served up to ``n x max x step``; the
   rest is the next backlog. Each replica sees the per-replica load ``served / (n x step)``;
   latency, SLO attainment, GPU busy share, KV use and MFU are read off the curve at that load.
   While a backlog exists every request also waits ``(B_start + B_end) / 2 / (n x max)`` seconds
   (Little's law on the fluid backlog), added to TTFT, E2E and queue times (means and
   percentiles: :mod:`sim.fluid.backlog`) and counted as an SLO miss when it exceeds the TTFT
   objective; the backlog left at the end counts in TTFT and queue percentiles at its age;
4. money: provisioned replicas x GPUs per replica x scale for the step, busy share from the curve;
   completed requests become one usage row per (step, pool, class) at the step's midpoint with
   ``weight = requests x scale`` and per-request token means, priced by
   :func:`sim.economics.evaluate` exactly like a request-level run.

Latency percentiles over the whole run mix the curve's normalised log-histograms with weights =
requests served in each step after ``warmup`` (interpolated between grid points, like every other
quantity), each step's shifted by its backlog wait. ITL percentiles are the served-token-weighted
average of the curve's ITL percentiles (no per-gap histograms are kept by the curve runs).

Per-class blocks come from each class's own curve (its SLO, its latencies at the replica's total
load); the class mix of a step is its demand's.

Known limits (checked against request-level runs in ``tests/test_fluid.py`` and
``tests/test_cross_tier.py``): within a step the rate is taken as constant; a router's smoothing
is measured on a group of at most four replicas.
"""
from __future__ import annotations

import math
import platform
from pathlib import Path
from typing import Any

import numpy as np

from sim.fluid.capacity import HIST_METRICS, METRICS, STATS, CalibrationSettings, CapacityCurve, capacity_curve
from sim.fluid.autoscale import settled_replicas
from sim.fluid.backlog import REF, backlog_ages, mix_rows
from sim.fluid.demand import expected_arrivals
from sim.metrics.fleet_summary import PoolUsage, fleet_summary
from sim.perf.utilization import limits_of, seconds_per_request

DEFAULT_STEP_S = 3600.0
SHIFTED = ("ttft", "e2e", "queue")
"""Latencies that include the wait behind a fluid backlog."""


def _mixture_stats(counts: np.ndarray, mean: float | None) -> dict:
    from sim.metrics.histogram import LogHistogram

    h = LogHistogram()
    tot = float(counts.sum())
    if tot <= 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    h.counts = counts.astype(np.float64)
    h.total = tot
    h.sum = (mean or 0.0) * tot
    h.min = 0.0
    h.max = h.hi
    out = h.stats()
    out["mean"] = mean
    return out


def _options(sc, step_s: float | None, settings: CalibrationSettings | None) -> tuple[float, CalibrationSettings]:
    """Step and calibration settings: arguments first, then an optional ``fluid:`` scenario block
    (``step``, ``grid``, ``calibration_duration``, ``calibration_requests``), then the defaults."""
    block = getattr(sc, "fluid", None)
    if step_s is None:
        step_s = float(getattr(block, "step", None) or DEFAULT_STEP_S)
    if settings is None:
        base = CalibrationSettings()
        grid = getattr(block, "grid", None)
        settings = CalibrationSettings(
            fractions=tuple(float(x) for x in grid) if grid else base.fractions,
            min_duration_s=float(getattr(block, "calibration_duration", None) or base.min_duration_s),
            min_requests=int(getattr(block, "calibration_requests", None) or base.min_requests),
            probe_duration_s=base.probe_duration_s, seed=base.seed)
    if step_s <= 0:
        raise ValueError(f"fluid step must be > 0 s (got {step_s})")
    return step_s, settings


class _ClassAcc:
    """Running sums of one class's block across pools and steps."""

    def __init__(self, like: dict) -> None:
        self.hist = {m: np.zeros_like(v) for m, v in like.items()}
        self.lat_sum = {m: 0.0 for m in HIST_METRICS}
        self.lat_w = {m: 0.0 for m in HIST_METRICS}
        self.served = self.rejected = self.backlog = 0.0
        self.met = self.fin = 0.0
        self.win = np.zeros(3)                # requests, input tokens, output tokens after warmup

    def block(self, arrived: float, window: float, slo: tuple[float, float]) -> dict:
        lat = {}
        for m in HIST_METRICS:
            mean = self.lat_sum[m] / self.lat_w[m] if self.lat_w[m] > 0 else None
            lat[m] = _mixture_stats(self.hist[m], mean)
        return {"requests": {"arrived": int(round(arrived)), "completed": int(round(self.served)),
                             "rejected": int(round(self.rejected)), "in_flight": int(round(self.backlog)),
                             "failed": 0},
                "latency": lat,
                "throughput": {"requests_per_s": float(self.win[0] / window),
                               "input_tokens_per_s": float(self.win[1] / window),
                               "output_tokens_per_s": float(self.win[2] / window)},
                "slo": {"attainment": self.met / self.fin if self.fin > 0 else None,
                        "goodput_rps": self.met / window, "ttft_s": slo[0], "tpot_s": slo[1]}}


def apportion(parts: list[float], total: int) -> list[int]:
    """Whole numbers near ``parts`` that add up to ``total`` (largest remainders get the rest).

    Rounding each class's expected count on its own can leave the classes one request off the
    rounded total (``[0.5, 0.5]`` rounds to ``[0, 0]`` beside a total of 1).

        >>> apportion([0.5, 0.5], 1), apportion([2.6, 3.7, 3.7], 10)
        ([1, 0], [2, 4, 4])
    """
    floors = [int(math.floor(p)) for p in parts]
    order = sorted(range(len(parts)), key=lambda k: (-(parts[k] - floors[k]), k))
    rest = total - sum(floors)
    for j in range(abs(rest)):
        k = order[j % len(order)] if rest > 0 else order[-1 - j % len(order)]
        floors[k] += 1 if rest > 0 else -1
    return floors


def _add_classes(acc: list[_ClassAcc], curve: CapacityCurve, i: np.ndarray, w: np.ndarray, served: np.ndarray,
                 rejected: np.ndarray, meas: np.ndarray, cls_frac: np.ndarray, after_warm: np.ndarray,
                 extra_wait: np.ndarray, cls_slo: list[tuple[float, float]], backlog_end: float) -> None:
    """One pool's contribution to every class's block (class k's curve quantities at the same load)."""
    tokens = curve.meta.get("class_tokens") or []
    for k, a in enumerate(acc):
        frac = cls_frac[:, k]
        mk = meas * frac
        a.served += float(np.sum(served * frac))
        a.rejected += float(np.sum(rejected * frac))
        a.backlog += backlog_end * float(frac[-1]) if len(frac) else 0.0
        a.fin += float(np.sum(mk + rejected * frac * after_warm))
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
        a.met += float(np.sum(mk * (att[i] * (1 - w) + att[i + 1] * w) * (extra_wait <= cls_slo[k][0])))
        for m in HIST_METRICS:
            a.hist[m] += mix_rows(hists[m], i, w, mk, extra_wait if m in SHIFTED else np.zeros_like(extra_wait))
            mean = means[m][i] * (1 - w) + means[m][i + 1] * w
            if m in ("ttft", "e2e", "queue"):
                mean = mean + extra_wait
            ok = ~np.isnan(mean)
            a.lat_sum[m] += float(np.sum((mk * mean)[ok]))
            a.lat_w[m] += float(np.sum(mk[ok]))


def _replica_intervals(pool: str, n: np.ndarray, edges: np.ndarray, gpus_per_replica: float) -> list:
    """Provisioned intervals per replica slot (slot j is up while more than j replicas are), so that
    billing rounds each replica's provisioned time as a request-level run does, not each step."""
    from sim.economics import ProvisionedInterval

    out = []
    n = np.asarray(n, dtype=np.float64)
    top = int(np.ceil(n.max())) if len(n) else 0
    for j in range(top):
        frac = np.clip(n - j, 0.0, 1.0)
        if not frac.any():
            continue
        change = np.flatnonzero(np.diff(frac)) + 1
        starts = np.concatenate(([0], change))
        ends = np.concatenate((change, [len(frac)]))
        for a, b in zip(starts.tolist(), ends.tolist()):
            if frac[a] > 0:
                out.append(ProvisionedInterval(pool, float(frac[a] * gpus_per_replica), float(edges[a]),
                                               float(edges[b])))
    return out


def pool_shares(router, pools, curves) -> np.ndarray:
    """Each pool's share of the demand under the scenario's router: by replicas under ``random``
    and ``round_robin`` (every replica takes the same share), by nominal capacity (replicas x the
    curve's saturation throughput) under ``least_outstanding`` and ``central_queue`` (work goes to
    whichever replica has room), by ``weights`` under ``weighted``."""
    policy = router.policy
    if policy in ("random", "round_robin"):
        w = np.array([float(p.cfg.replicas) for p in pools])
    elif policy == "weighted":
        w = np.array([float((router.weights or {}).get(p.name, 0.0)) for p in pools])
    else:
        w = np.array([p.cfg.replicas * c.max_rps for p, c in zip(pools, curves)], dtype=np.float64)
    return w / w.sum() if w.sum() > 0 else np.full(len(pools), 1.0 / len(pools))


def refused(sc) -> list[tuple[str, str]]:
    """What the fluid tier cannot model in ``sc``, as ``(field, message)`` problems."""
    out = []
    if sc.fleet.router.policy == "spillover":
        out.append(("fleet.router", "spillover routing depends on each primary replica's queue moment by moment; "
                                    "the fluid tier does not model it (use fidelity: request, or router weighted "
                                    "with the share you expect to spill)"))
    if sc.fleet.disaggregated is not None:
        out.append(("fleet.disaggregated", "prefill/decode disaggregation is not modelled by the fluid tier "
                                           "(use fidelity: request)"))
    return out


def run_fluid(loaded, *, step_s: float | None = None, settings: CalibrationSettings | None = None,
              use_cache: bool = True, curves: list[CapacityCurve] | None = None):
    """Simulate ``loaded`` (a :class:`~sim.scenario.load.LoadedScenario`) in fluid steps; returns
    a :class:`sim.api.Result` with the same summary keys, time series and ledger as a request-level run.

    ``step_s`` defaults to one hour; ``curves`` (one per pool) skips the measurement.
    """
    from sim.api import Result, build_pools, price_run
    from sim.economics import ProvisionedInterval
    from sim.metrics.records import RECORD_DTYPE
    from sim.metrics.schema import TS_COLUMNS
    from sim.workload import class_names, classes

    sc = loaded.scenario
    problems = refused(sc)
    if problems:
        from sim.errors import ScenarioError

        raise ScenarioError([(f, f"{m} (fidelity: fluid)") for f, m in problems], loaded.source)
    step_s, settings = _options(sc, step_s, settings)
    base_dir = Path(loaded.base_dir)
    end = float(sc.duration)
    edges = np.arange(0.0, end, float(step_s))
    edges = np.append(edges, end)
    dt_s = np.diff(edges)
    n_steps = len(dt_s)
    demand = expected_arrivals(sc.workload, edges, start=sc.start, base_dir=base_dir, seed=sc.seed)
    n_cls = demand.shape[1]
    total = demand.sum(axis=1)
    cls_frac = np.divide(demand, total[:, None], out=np.full_like(demand, 1.0 / n_cls), where=total[:, None] > 0)
    after_warm = np.clip((edges[1:] - np.maximum(edges[:-1], sc.warmup)) / dt_s, 0.0, 1.0)

    pools = build_pools(loaded)
    if curves is None:
        curves = [capacity_curve(sc, i, base_dir, settings, use_cache=use_cache) for i in range(len(pools))]
    share = pool_shares(sc.fleet.router, pools, curves)

    ttft_slo = sc.slo.ttft_s
    hist_w = {m: np.zeros_like(next(iter(curves[0].hists.values()))[0]) for m in HIST_METRICS}
    lat_sum = {m: 0.0 for m in METRICS}
    lat_w = {m: 0.0 for m in METRICS}
    itl_pct = {s: 0.0 for s in STATS if s != "mean"}
    itl_w = 0.0
    served_all = 0.0
    served_measured = 0.0
    met_measured = 0.0
    fin_measured = 0.0
    rejected_all = 0.0
    backlog_end = 0.0
    window_req = window_in = window_out = 0.0
    ts_rows: list[np.ndarray] = []
    intervals: list[ProvisionedInterval] = []
    usage: list[PoolUsage] = []
    use_t: list[np.ndarray] = []
    use_in: list[np.ndarray] = []
    use_out: list[np.ndarray] = []
    use_cls: list[np.ndarray] = []
    use_w: list[np.ndarray] = []
    kv_num = kv_den = 0.0
    specs = classes(sc.workload)
    cls_slo = [(c.slo_ttft_s or sc.slo.ttft_s, c.slo_tpot_s or sc.slo.tpot_s) for c in specs]
    per_cls = [_ClassAcc(hist_w) for _ in range(n_cls)]
    by_reason: dict[str, float] = {}

    for p, curve, sh in zip(pools, curves, share):
        offered = total * sh                                 # requests per step
        admitted = offered * (1.0 - curve.reject_share)
        rejected = offered - admitted
        a = p.cfg.autoscale
        n = np.full(n_steps, float(p.cfg.replicas))
        s_each = seconds_per_request(p.step_model, limits_of(p.cfg.batching, p.kv_blocks),
                                     curve.prompt_tokens_mean, curve.output_tokens_mean)
        cap = n * curve.max_rps * dt_s
        served = np.zeros(n_steps)
        b_start = np.zeros(n_steps)
        b_end = np.zeros(n_steps)
        b = 0.0
        prev = n[0]
        for k in range(n_steps):                             # the fluid queue: sequential in the backlog
            b_start[k] = b
            if a is not None:                                # where the autoscaler settles this step
                settled = settled_replicas(a.metric, a.target, a.min, a.max, curve, (admitted[k] + b) / dt_s[k],
                                           b, s_each)
                n[k] = settled
                if k and settled < prev:                    # scale-down waits out the stabilization window
                    n[k] += (prev - settled) * min(a.cooldown, dt_s[k]) / dt_s[k]
                prev = settled
                cap[k] = n[k] * curve.max_rps * dt_s[k]
            work = admitted[k] + b
            served[k] = min(work, cap[k])
            b = work - served[k]
            b_end[k] = b
        backlog_end += b
        with np.errstate(invalid="ignore", divide="ignore"):
            load = np.where(n > 0, served / (n * dt_s), 0.0)
            extra_wait = np.where((b_start + b_end) > 0, (b_start + b_end) / 2.0 / (n * curve.max_rps), 0.0)
        extra_wait = np.nan_to_num(extra_wait)
        i, w = curve.position(load)

        def at(values):
            v = np.asarray(values, dtype=np.float64)
            return v[i] * (1 - w) + v[i + 1] * w

        att = at(curve.attainment) * (extra_wait <= ttft_slo)
        busy = np.where(extra_wait > 0, 1.0, np.clip(at(curve.busy), 0.0, 1.0))
        busy = np.where(n > 0, busy, 0.0)
        kv = at(curve.kv)
        mfu = at(curve.mfu)
        meas = served * after_warm
        # latency mixture: each step's curve distribution shifted by its backlog wait
        for m in HIST_METRICS:
            hist_w[m] += mix_rows(curve.hists[m], i, w, meas,
                                  extra_wait if m in SHIFTED else np.zeros_like(extra_wait))
        for m in METRICS:
            mean = at(curve.latency[m]["mean"])
            if m in ("ttft", "e2e", "queue"):
                mean = mean + extra_wait
            ok = ~np.isnan(mean)
            lat_sum[m] += float(np.sum((meas * mean)[ok]))
            lat_w[m] += float(np.sum(meas[ok]))
        tok_w = meas * curve.output_tokens_mean
        for s in itl_pct:
            v = at(curve.latency["itl"][s])
            ok = ~np.isnan(v)
            itl_pct[s] += float(np.sum((tok_w * v)[ok]))
        itl_w += float(np.sum(tok_w))
        _add_classes(per_cls, curve, i, w, served, rejected, meas, cls_frac, after_warm, extra_wait, cls_slo,
                     b)
        # the backlog left at the end counts at its age, like a request-level run's in-flight requests
        ages, n_old = backlog_ages(b, float(n[-1]) * curve.max_rps, ttft_slo) if n_steps else (np.zeros(0),) * 2
        if len(ages):
            for m in ("ttft", "queue"):
                hist_w[m] += np.bincount(REF.bin_index(ages), weights=n_old, minlength=len(hist_w[m]))
                lat_sum[m] += float((ages * n_old).sum())     # not np.dot: BLAS-free
                lat_w[m] += float(n_old.sum())
        served_all += float(served.sum())
        rejected_all += float(rejected.sum())
        for reason, share_r in (curve.meta.get("reject_reasons") or {}).items():
            if share_r > 0 and curve.reject_share > 0:
                by_reason[reason] = by_reason.get(reason, 0.0) + float(rejected.sum()) * share_r / curve.reject_share
        served_measured += float(meas.sum())
        met_measured += float(np.sum(meas * att))
        fin_measured += float(np.sum(meas + rejected * after_warm))
        window_req += float(meas.sum())
        window_in += float(meas.sum()) * curve.prompt_tokens_mean
        window_out += float(meas.sum()) * curve.output_tokens_mean

        gpr = p.gpus_per_replica
        scale = p.cfg.scale
        intervals.extend(_replica_intervals(p.name, n, edges, gpr * scale))
        kv_num += float(np.sum(kv * n))
        kv_den += float(np.sum(n))
        rate_rep = np.where(n > 0, served / dt_s, 0.0)
        wq = at(curve.latency["queue"]["mean"])        # the backlog itself is added at the end of the step
        svc = at(curve.latency["e2e"]["mean"]) - at(curve.latency["queue"]["mean"])
        ts_rows.append(np.column_stack([
            edges[1:], np.full(n_steps, p.index), n, rate_rep * np.nan_to_num(wq) + b_end, np.zeros(n_steps),
            rate_rep * np.nan_to_num(svc), kv * n * p.kv_blocks, kv, busy]))
        # usage rows per class: per-request token means of the class from the curve runs
        cls_tok = curve.meta.get("class_tokens") or []
        mid = (edges[:-1] + edges[1:]) / 2.0
        for c in range(n_cls):
            cnt = served * cls_frac[:, c]
            keep = cnt > 0
            pin, pout = (cls_tok[c] if c < len(cls_tok) and cls_tok[c] is not None
                         else (curve.prompt_tokens_mean, curve.output_tokens_mean))
            use_t.append(mid[keep])
            use_in.append(np.full(int(keep.sum()), float(pin)))
            use_out.append(np.full(int(keep.sum()), float(pout)))
            use_cls.append(np.full(int(keep.sum()), c, dtype=np.int64))
            use_w.append(cnt[keep] * scale)
        running = rate_rep * np.nan_to_num(svc)
        usage.append(PoolUsage(
            pool=p, provisioned_gpu_s=float(np.sum(n * dt_s)) * gpr, busy_gpu_s=float(np.sum(n * dt_s * busy)) * gpr,
            flops_done=float(np.sum(n * dt_s * mfu)) * gpr * p.peak_flops(),
            kv_cache_mean=float(np.average(kv, weights=n)) if n.sum() > 0 else 0.0,
            requests=float(served.sum()), prompt_mean=curve.prompt_tokens_mean, output_mean=curve.output_tokens_mean,
            running_sum=float(np.sum(running * dt_s)), replicas_sum=float(np.sum(n * dt_s)),
            tail={"replicas_mean": float(np.sum(n * dt_s) / end) if end > 0 else 0.0,
                  "capacity_curve": curve.key, "max_rps_per_replica": curve.max_rps, "backlog_end": float(b)}))

    window = max(end - sc.warmup, 1e-12)
    latency = {}
    for m in METRICS:
        mean = lat_sum[m] / lat_w[m] if lat_w[m] > 0 else None
        if m in HIST_METRICS:
            latency[m] = _mixture_stats(hist_w[m], mean)
        else:
            latency[m] = {"mean": mean, **{s: (v / itl_w if itl_w > 0 else None) for s, v in itl_pct.items()}}
    arrived = float(total.sum())
    summary: dict[str, Any] = {"scenario": sc.name, "seed": sc.seed}
    summary["requests"] = {"arrived": int(round(arrived)), "completed": int(round(served_all)),
                           "rejected": int(round(rejected_all)), "in_flight": int(round(backlog_end)), "failed": 0,
                           "preemptions": None,
                           "rejected_by_reason": {k: int(round(v)) for k, v in sorted(by_reason.items())
                                                  if round(v) > 0}}
    summary["latency"] = latency
    summary["throughput"] = {"requests_per_s": window_req / window, "input_tokens_per_s": window_in / window,
                             "output_tokens_per_s": window_out / window}
    summary["slo"] = {"attainment": met_measured / fin_measured if fin_measured > 0 else None,
                      "goodput_rps": met_measured / window, "ttft_s": sc.slo.ttft_s, "tpot_s": sc.slo.tpot_s}
    ts = np.vstack(ts_rows) if ts_rows else np.zeros((0, len(TS_COLUMNS)))
    ts = ts[np.lexsort((ts[:, 1], ts[:, 0]))] if len(ts) else ts
    fleet = fleet_summary(sc, usage, kv_cache_mean=kv_num / kv_den if kv_den else 0.0, timeseries=ts,
                          requests=summary["requests"], end_s=end)
    summary.update(utilization=fleet.utilization, gpu_hours=fleet.gpu_hours, stability=fleet.stability)

    names = class_names(sc.workload)
    t = np.concatenate(use_t) if use_t else np.zeros(0)
    order = np.argsort(t, kind="stable")
    ucls = np.concatenate(use_cls)[order] if use_cls else np.zeros(0, dtype=np.int64)
    econ = price_run(summary, sc, pools, end, intervals, fleet.busy_gpu_s_by_pool, t[order],
                     (np.concatenate(use_in) if use_in else np.zeros(0))[order],
                     (np.concatenate(use_out) if use_out else np.zeros(0))[order], ucls,
                     (np.concatenate(use_w) if use_w else np.zeros(0))[order])
    summary["pools"] = fleet.pools
    if n_cls > 1:
        summary["classes"] = {name: acc.block(demand[:, c].sum(), window, cls_slo[c])
                              for c, (name, acc) in enumerate(zip(class_names(sc.workload), per_cls))}
        blocks = list(summary["classes"].values())
        for key, parts in (("arrived", demand.sum(axis=0).tolist()), ("completed", [a.served for a in per_cls]),
                           ("rejected", [a.rejected for a in per_cls]), ("in_flight", [a.backlog for a in per_cls])):
            for b, n in zip(blocks, apportion(parts, summary["requests"][key])):
                b["requests"][key] = n
    summary["simulated_seconds"] = end
    summary["engine"] = "fluid"
    summary["fidelity"] = {"tier": "fluid", "step_s": float(step_s), "steps": n_steps}
    summary["wall_seconds"] = 0.0
    return Result(summary=summary, records=np.zeros(0, dtype=RECORD_DTYPE), timeseries=ts,
                  pool_names=[p.name for p in pools], class_names=names, economics=econ, scenario=loaded,
                  extra={"python": platform.python_version(), "capacity_curves": {c.pool: c.key for c in curves}})
