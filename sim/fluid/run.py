"""The fluid tier: long horizons in time steps, each step's demand served through capacity curves.

For every step ``[t_k, t_{k+1})`` (default one hour):

1. demand: the expected arrivals of each class (:func:`~sim.fluid.demand.expected_arrivals`);
2. routing: pool ``p`` gets its share of the demand under the scenario's router
   (:func:`pool_shares`: by replicas under random and round robin, by nominal capacity
   ``n_p max_p / sum_q n_q max_q`` under least outstanding and a central queue, by weights under
   weighted; with classes pinned to pools (``fleet.router.classes``) a pool gets its part of each
   class that may use it, as the router splits that class among its pools
   (:mod:`sim.fluid.pinned`), and its curve is measured on that mix; ``spillover`` and
   disaggregation are refused); inside a pool the curve was measured
   behind the same router (:mod:`sim.fluid.capacity`); a pool with
   ``autoscale`` runs the replicas its autoscaler settles at for the step's demand and backlog,
   its metric read off the curve as the request-level autoscaler reads it (:mod:`sim.fluid.autoscale`),
   its decisions counted in ``summary["autoscale"]`` as the request level counts them;
3. service, as a fluid queue per pool: the curve's rejected share is refused; the admitted work
   plus the backlog ``B`` carried from the previous step is served up to ``n x max x step``; the
   rest is the next backlog. Where the rate rises inside a step past the capacity, the capacity
   left idle before the rise is lost: the step ends with the backlog of the plain fluid queue on its
   sub-steps (:mod:`sim.fluid.substep`), and its waits are read on them too, as are those of a step whose
   backlog builds and clears inside it (:func:`~sim.fluid.substep.hidden_backlog`; its peak counts in
   ``stability.in_flight_peak``; :mod:`sim.fluid.pool_queue`, :mod:`sim.fluid.in_system`), a replay's steps
   too, whose latencies read them evenly, on a queue of their own (:func:`~sim.fluid.replay.held_spread`).
   Each replica sees the
   per-replica load ``served / (n x step)``; latency, SLO attainment, GPU busy share, KV use and MFU
   are read off the curve at that load.
   While a backlog exists every request served in the step also waits what the fluid queue's
   first-come-first-served order makes it wait (:func:`~sim.fluid.backlog.fcfs_points`: served at
   capacity until the backlog is gone), each request's own wait added to its TTFT, E2E and queue
   times, and every latency of it (TPOT too) read at the load served when it is served, at capacity
   while the backlog lasts, not at the step's mean load (means and percentiles:
   :mod:`sim.fluid.backlog`; each class the waits of the instants its own requests arrived at,
   :mod:`sim.fluid.class_waits`), SLO attainment read request by request
   (:mod:`sim.fluid.attain`); the backlog left at the end counts in TTFT and queue percentiles at its
   age (the last arrivals');
4. money: provisioned replicas x GPUs per replica x scale for the step, busy share (:mod:`sim.fluid.busy`);
   completed requests become one usage row per (step, pool, class) at the step's midpoint with
   ``weight = requests x scale`` and per-request token means, priced by
   :func:`sim.economics.evaluate` exactly like a request-level run.

Latency percentiles over the whole run mix the curve's normalised log-histograms with weights =
requests served in each step after ``warmup`` (interpolated between grid points, like every other
quantity), each step's shifted by the waits behind its backlog (each request's own). ITL percentiles
are those of the mixture of the curve's inter-token-gap histograms weighted by the gaps served (each
instant at capacity a saturated replica's gaps), as the request level reads them from every gap: the
average of each step's percentiles read a run mixing light and heavy steps between the loads' percentiles.

Per-class blocks come from each class's own curve (its SLO, its latencies at the replica's total
load); the class mix of a step's demand is its arrivals', of its services first come, first served
(:func:`~sim.fluid.class_waits.served_mix`: a carried backlog is of the mix of the steps it arrived in).

Known limits (checked against request-level runs in ``tests/test_fluid.py`` and
``tests/test_cross_tier.py``): within a step the rate is taken as constant for the curve's load
(the backlog, its waits and the class mix read it per sub-step; behind a backlog each request is read
at the load served when it is served; at capacity a saturated replica's TPOT, ITL and TTFT and E2E
service parts, the queueing the curve's top grid point's, 95 % of ``max_rps`` by default); a router's smoothing is measured on a group of at most four replicas.
"""
from __future__ import annotations

import math
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.fluid.attain import backlog_attainment
from sim.fluid.backlog import (arrival_steps, at_capacity_share, backlog_ages, backlog_by_step, step_waits,
                               warn_priority)
from sim.fluid.burst import COUNT, warn_bursty
from sim.fluid.busy import behind, busy_on
from sim.fluid.replay import counted_arrivals, held_spread, held_steps
from sim.fluid.capacity import CalibrationSettings, capacity_curve, group_size
from sim.fluid.class_waits import class_waits, served_mix
from sim.fluid.curve import HIST_METRICS, CapacityCurve
from sim.fluid.in_system import (behind_central, end_rate, in_system_at_end, queue_mean, replayed_end,
                                  saturated_running, sub_in_system)
from sim.fluid.intervals import interval_columns, replica_intervals
from sim.fluid.no_replica import warn_hold, zero_rule
from sim.fluid.pinned import WORK_CONSERVING, pool_steps, static_fractions
from sim.fluid.pool_queue import PoolQueue, fluid_queue
from sim.fluid.scaled_curve import at_capacity, refused_at_capacity
from sim.fluid.steps import Steps, step_grid, step_options
from sim.fluid.substep import (SUB, backlogged, class_spread, pool_spread, read_on_subs, sub_arrivals, sub_mix, sub_spread,
                              warn_autoscaled, warn_hidden)
from sim.fluid.sums import ClassSums, FleetSums, add_classes, service_add
from sim.fluid.unsupported import refused
from sim.metrics.fleet_summary import PoolUsage, fleet_summary

_Steps, _steps, _options = Steps, step_grid, step_options     # the names tests and benchmarks import from here


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


def pool_shares(router, pools, nominal: np.ndarray) -> np.ndarray:
    """Each pool's share of the demand under the scenario's router: by replicas under ``random``
    and ``round_robin`` (every replica takes the same share), by ``weights`` under ``weighted``
    (:func:`sim.fluid.pinned.static_fractions` with every pool open to the demand), by ``nominal``
    capacity (replicas x the curve's saturation throughput) under ``least_outstanding`` and
    ``central_queue`` (work goes to whichever replica has room)."""
    if router.policy not in WORK_CONSERVING:
        return static_fractions(router, np.ones((1, len(pools)), dtype=bool),
                                np.array([float(p.cfg.replicas) for p in pools]), [p.name for p in pools])[0]
    return nominal / nominal.sum() if nominal.sum() > 0 else np.full(len(pools), 1.0 / len(pools))


def _usage_rows(curve: CapacityCurve, served: np.ndarray, steps: Steps, scale: float,
                mix: np.ndarray) -> list[tuple]:
    """One usage row per (step, class) with requests served, at the step's midpoint: time, prompt and
    output tokens per request (the class's means from the curve runs), class, weight; ``mix``: each
    class's share of a step's services (:func:`~sim.fluid.class_waits.served_mix`)."""
    cls_tok = curve.meta.get("class_tokens") or []
    mid = (steps.edges[:-1] + steps.edges[1:]) / 2.0
    rows = []
    for c in range(mix.shape[1]):
        cnt = served * mix[:, c]
        keep = cnt > 0
        pin, pout = (cls_tok[c] if c < len(cls_tok) and cls_tok[c] is not None
                     else (curve.prompt_tokens_mean, curve.output_tokens_mean))
        k = int(keep.sum())
        rows.append((mid[keep], np.full(k, float(pin)), np.full(k, float(pout)), np.full(k, c, dtype=np.int64),
                     cnt[keep] * scale))
    return rows


def _in_time_order(rows: list[tuple]) -> tuple[np.ndarray, ...]:
    """The usage rows of every pool as columns sorted by time (stable)."""
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0)
    cols = [np.concatenate(c) for c in zip(*rows)]
    order = np.argsort(cols[0], kind="stable")
    return tuple(c[order] for c in cols)


def _class_blocks(summary: dict, steps: Steps, per_cls: list[ClassSums], names: list[str], window: float,
                  cls_slo: list[tuple[float, float]]) -> dict:
    """Per-class blocks, their request counts apportioned so that they add up to the fleet's."""
    classes_block = {name: acc.block(steps.demand[:, c].sum(), window, cls_slo[c])
                     for c, (name, acc) in enumerate(zip(names, per_cls))}
    blocks = list(classes_block.values())
    for key, parts in (("arrived", steps.demand.sum(axis=0).tolist()), ("completed", [a.served for a in per_cls]),
                       ("rejected", [a.rejected for a in per_cls]), ("in_flight", [a.backlog for a in per_cls])):
        for b, n in zip(blocks, apportion(parts, summary["requests"][key])):
            b["requests"][key] = n
    return classes_block


def _check(loaded, scaled: bool) -> None:
    """:class:`~sim.errors.ScenarioError` naming every field the fluid tier does not model (and, when
    the capacity is ``scaled``, does not rescale)."""
    problems = [(f, f"{m} (fidelity: fluid)") for f, m in refused(loaded.scenario)]
    if scaled:
        problems += [(f, f"{m} (a scaled capacity at fidelity: fluid)")
                     for f, m in refused_at_capacity(loaded.scenario)]
    if problems:
        from sim.errors import ScenarioError

        raise ScenarioError(problems, loaded.source)


def measured_curves(loaded, settings: CalibrationSettings | None = None, use_cache: bool = True,
                    scaled: bool = False, step_s: float | None = None) -> list[CapacityCurve]:
    """Every pool's capacity curve at the model's capacity (cached, or measured), after checking that
    the fluid tier models the scenario (and, when it will be read at a ``scaled`` capacity, that it
    rescales); measured under the workload's own arrivals where they are clumped beyond Poisson's within the
    sub-steps of ``step_s`` (the scenario's step by default; :func:`sim.fluid.replay.curve_arrivals`)."""
    return measured_counts(loaded, settings, use_cache, scaled, step_s)[0]


@dataclass(frozen=True)
class Counted:
    """What choosing the curves' arrivals counted of the workload (:func:`measured_counts`), which a run on
    the same steps reads instead of counting again (:func:`run_fluid`'s ``counted``): the steps and their
    expected demand, each class's arrivals per sub-step and the trace's dispersion (arrays read-only: the
    capacity band's runs share them)."""

    step_s: float
    steps: Steps
    fine: np.ndarray | None
    measured: dict | None


def measured_counts(loaded, settings: CalibrationSettings | None = None, use_cache: bool = True,
                    scaled: bool = False, step_s: float | None = None) -> tuple[list[CapacityCurve], Counted]:
    """:func:`measured_curves`, and what choosing their arrivals counted (:class:`Counted`)."""
    sc = loaded.scenario
    _check(loaded, scaled)
    step_s, settings = step_options(sc, step_s, settings)
    base_dir = Path(loaded.base_dir)
    steps = step_grid(sc, step_s, base_dir)
    arrivals, fine, m = counted_arrivals(sc, steps.edges, steps.dt_s, base_dir,
                                         [group_size(sc, i) for i in range(len(sc.fleet.pools))])
    for a in [*steps.__dict__.values(), fine]:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    curves = [capacity_curve(sc, i, base_dir, settings, use_cache=use_cache, arrival=arrivals[i])
              for i in range(len(sc.fleet.pools))]
    return curves, Counted(float(step_s), steps, fine, m)


def run_fluid(loaded, *, step_s: float | None = None, settings: CalibrationSettings | None = None,
              use_cache: bool = True, curves: list[CapacityCurve] | None = None, capacity: float = 1.0,
              counted: Counted | None = None):
    """Simulate ``loaded`` (a :class:`~sim.scenario.load.LoadedScenario`) in fluid steps; returns
    a :class:`sim.api.Result` with the same summary keys, time series and ledger as a request-level run.

    ``step_s`` defaults to one hour; ``curves`` (one per pool, at the model's capacity) skips the
    measurement. ``capacity`` scales every pool's step-time model (each iteration ``1 / capacity``
    as long) and reads the curves rescaled in time (:mod:`sim.fluid.scaled_curve`), measuring nothing new.
    ``counted``: what measuring the curves counted (:func:`measured_counts`), read where its step is this
    run's instead of counting the workload's arrivals again.
    """
    from sim.api import Result, build_pools, price_run
    from sim.metrics.records import RECORD_DTYPE
    from sim.metrics.schema import TS_COLUMNS
    from sim.workload import class_names, classes

    sc = loaded.scenario
    _check(loaded, capacity != 1.0)
    if curves is None:
        curves, counted = measured_counts(loaded, settings, use_cache, capacity != 1.0, step_s)
    for c in curves:     # the ITL is read from the gaps' mixture (sim.fluid.sums), which such a curve lacks
        if "itl" not in c.hists:
            raise ValueError(f"curves: pool {c.pool!r}'s curve has no inter-token-gap histogram (hists['itl']), "
                             "which the fluid tier reads the ITL from; give a measured curve "
                             "(sim.fluid.capacity.capacity_curve: every curve measured since format 14 has it)")
    step_s, settings = step_options(sc, step_s, settings)
    base_dir = Path(loaded.base_dir)
    end = float(sc.duration)
    if counted is not None and counted.step_s != float(step_s):
        counted = None
    steps = counted.steps if counted is not None else step_grid(sc, step_s, base_dir)
    pools = build_pools(loaded, capacity, scheduler_factors=True)
    curves = [behind(at_capacity(c, capacity, sc.fleet.frontend_s), sc.fleet.router.policy, p.cfg.batching)
              for c, p in zip(curves, pools)]
    nominal = np.array([p.cfg.replicas * c.max_rps for p, c in zip(pools, curves)], dtype=np.float64)
    share = pool_shares(sc.fleet.router, pools, nominal)
    own = pool_steps(sc, steps, nominal)           # classes pinned to pools: each pool its part of each class

    like = {m: np.zeros_like(next(iter(curves[0].hists.values()))[0]) for m in HIST_METRICS}
    fleet_sums = FleetSums(like)
    cls_slo = [(c.slo_ttft_s or sc.slo.ttft_s, c.slo_tpot_s or sc.slo.tpot_s) for c in classes(sc.workload)]
    per_cls = [ClassSums(like) for _ in range(steps.cls_frac.shape[1])]
    ts_rows, intervals, usage, use_rows, end_rows = [], [], [], [], []
    kv_num = kv_den = 0.0
    hidden, sub_sys, scaled = [], None, {}
    fine = counted.fine if counted is not None else sub_arrivals(sc, steps.edges, steps.dt_s, base_dir)
    spread = sub_spread(fine, steps.total)
    # a trace burstier than Poisson in a sub-step, said unless the curves were measured under its arrivals
    clumped = max((c.meta.get("arrival") for c in curves if c.meta.get("arrival")), default=None,
                  key=lambda a: a.get("clump_mean", 0.0))
    bursty = warn_bursty(sc, steps.edges, fine, base_dir, clumped,
                         counted.measured if counted is not None else COUNT)
    # classes pinned to pools: a pool's rate within a step is that of its own classes, not the fleet's
    shares = class_spread(fine, steps.demand) if spread is not None else None
    by_cls = shares if own is not None else None
    zero = zero_rule(sc.fleet.router.policy, len(pools))    # when arrivals meet no replica (sim.fluid.no_replica)
    for k, (p, curve, sh) in enumerate(zip(pools, curves, share)):
        mine = own[k] if own is not None else steps
        offered = mine.total * (sh if own is None else 1.0)
        spread_p = pool_spread(by_cls, mine.demand) if by_cls is not None else spread
        # the queue on the arrivals' own sub-steps; the latencies read a replay's steps evenly (its swings are in
        # its curve: held_spread), on a queue of their own
        q = fluid_queue(p, curve, offered, steps.dt_s, spread_p, zero=zero, reading_noise=sc.fluid.reading_noise)
        if q.autoscale is not None:                   # the counts queue's decisions: the ones billed
            scaled[p.name] = q.autoscale
        warn_hold(p.name, steps.dt_s, SUB, q.boot_s, q.held)   # a boot's hold, unread
        # what met a replica: the offer less the arrivals turned away for want of one, over its own sub-steps
        met = offered - q.no_replica if q.no_replica is not None else offered
        met_spread = q.spread if q.spread is not None else spread_p
        hidden.append((p.name, met, curve.reject_share, q.serving, curve.max_rps, q.b_end, met_spread, q.cap_spread))
        held = held_spread(spread_p, steps.edges, curve.meta.get("arrival"))
        # on the counts queue's replicas: one trajectory, billed and behind the latencies
        lat = fluid_queue(p, curve, offered, steps.dt_s, held, follow=q) if held is not spread_p else None
        replayed = held_steps(steps.edges, curve.meta.get("arrival"))
        ends = end_rate(met, curve.reject_share, steps.dt_s, met_spread, replayed)
        read = lat if lat is not None else q          # the latencies' queue: its admitted arrivals' sub-steps
        spread_p = read.spread if read.spread is not None else held
        prios = [c.priority for c, f in zip(classes(sc.workload), mine.cls_frac.T) if f.any()]
        warn_priority(p.index, p.name, p.cfg.batching.policy, prios, q.b_end, q.serving * curve.max_rps, sc.slo.ttft_s)
        mix_sub = sub_mix(shares, mine.demand, mine.cls_frac) if shares is not None else None
        measured = _measure_pool(sc, p, curve, q, mine, fleet_sums, per_cls, cls_slo, spread_p, mix_sub, lat, ends)
        ts_rows.append(measured.ts_rows)
        end_rows.append(measured.at_end)
        usage.append(measured.usage)
        intervals.append((p.name, *replica_intervals(q.n, steps.edges, p.gpus_per_replica * p.cfg.scale)))
        use_rows.extend(_usage_rows(curve, q.served, mine, p.cfg.scale, measured.mix))
        kv_num += float(np.sum(measured.kv * q.serving))
        if measured.sub_sys is not None:
            sub_sys = measured.sub_sys if sub_sys is None else sub_sys + measured.sub_sys
        kv_den += float(np.sum(q.serving))

    warn_hidden(sc, steps.dt_s, spread, hidden)   # overloads shorter than a step
    if len(steps.dt_s):                           # what the steps hide from an autoscaler
        warn_autoscaled(sc, steps.dt_s, fine, [(p.index, p.name, p.cfg.autoscale) for p in pools])
    window = max(end - sc.warmup, 1e-12)
    summary: dict[str, Any] = {"scenario": sc.name, "seed": sc.seed}
    summary.update(fleet_sums.blocks(sc, float(steps.total.sum()), window))
    ts = np.vstack(ts_rows) if ts_rows else np.zeros((0, len(TS_COLUMNS)))
    ts = ts[np.lexsort((ts[:, 1], ts[:, 0]))] if len(ts) else ts
    if sc.fleet.router.policy == "central_queue":   # waiting in the fleet's queue, as at request level
        ts = behind_central(ts, len(pools))
    # the stability block reads the requests in the system at the steps' ends (the rows hold their means): its
    # backlog growth, and every request in the system at the end, running ones too, as the request level counts
    # them (its ``requests.in_flight``); ``requests.in_flight`` stays the backlog, the fluid tier counting a
    # request served in a step as completed in it
    ends = np.vstack(end_rows) if end_rows else np.zeros((0, len(TS_COLUMNS)))
    ends = ends[np.lexsort((ends[:, 1], ends[:, 0]))] if len(ends) else ends
    at_end = {**summary["requests"], "in_flight": in_system_at_end(ends, len(pools))}
    fleet = fleet_summary(sc, usage, kv_cache_mean=kv_num / kv_den if kv_den else 0.0, timeseries=ends,
                          requests=at_end, end_s=end)
    summary.update(utilization=fleet.utilization, gpu_hours=fleet.gpu_hours, stability=fleet.stability)
    # a backlog between the steps' ends: the fluid limit's largest at the steps' and sub-steps' ends (basis
    # "estimate", as stability() writes it without an exact count)
    if sub_sys is not None and "in_flight_peak" in fleet.stability:
        fleet.stability["in_flight_peak"] = max(fleet.stability["in_flight_peak"], int(round(float(sub_sys.max()))))
    t, tin, tout, ucls, uw = _in_time_order(use_rows)
    econ = price_run(summary, sc, pools, end, interval_columns(intervals), fleet.busy_gpu_s_by_pool, t, tin, tout,
                     ucls, uw)
    summary["pools"] = fleet.pools
    if scaled:                                    # as the request level's (sim.serving.autoscaler)
        summary["autoscale"] = scaled
    names = class_names(sc.workload)
    if len(per_cls) > 1:
        summary["classes"] = _class_blocks(summary, steps, per_cls, names, window, cls_slo)
    summary["simulated_seconds"] = end
    summary["engine"] = "fluid"
    summary["fidelity"] = {"tier": "fluid", "step_s": float(step_s), "steps": steps.n}
    if bursty is not None:
        summary["fidelity"]["arrival_dispersion"] = bursty
    summary["wall_seconds"] = 0.0
    return Result(summary=summary, records=np.zeros(0, dtype=RECORD_DTYPE), timeseries=ts,
                  pool_names=[p.name for p in pools], class_names=names, economics=econ, scenario=loaded,
                  extra={"python": platform.python_version(), "capacity_curves": {c.pool: c.key for c in curves}})


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """``part / whole`` where ``whole > 0``, else 0."""
    return np.divide(part, whole, out=np.zeros_like(part, dtype=np.float64), where=whole > 0)


@dataclass(frozen=True)
class _Measured:
    """What one pool's steps read off its curve: time-series rows, the fleet summary's input, KV share."""

    ts_rows: np.ndarray
    usage: PoolUsage
    kv: np.ndarray
    mix: np.ndarray                 # each class's share of each step's services (served_mix)
    sub_sys: np.ndarray | None = None   # requests in the system at each sub-step's end (in_system.sub_in_system)
    at_end: np.ndarray | None = None    # the rows with the queue at each step's end, not its mean (stability)


def _measure_pool(sc, p, curve: CapacityCurve, q: PoolQueue, steps: Steps, fleet_sums: FleetSums,
                  per_cls: list[ClassSums], cls_slo: list[tuple[float, float]],
                  spread: np.ndarray | None = None, mix_sub: np.ndarray | None = None,
                  lat: PoolQueue | None = None, ends: np.ndarray | None = None) -> _Measured:
    """Read pool ``p``'s steps off its curve at the per-replica load served: latency (shifted by the
    backlog wait), SLO, busy share, KV use and MFU; adds to the fleet's and classes' sums. ``mix_sub``:
    each class's share of the pool's arrivals per sub-step (:func:`~sim.fluid.substep.sub_mix`), whose
    waits each class's requests wait. ``lat``: the queue the latencies and SLO read where it is not ``q``
    (whose counts, backlog, busy share and time series the run reports): a replay's steps read evenly over
    their sub-steps (``spread``, :func:`~sim.fluid.replay.held_spread`), the waits of its swings in its curve;
    ``ends``: their rates at their ends (:func:`~sim.fluid.in_system.end_rate`), which their rows read."""
    n, up, served, dt_s = q.n, q.serving, q.served, steps.dt_s
    n_steps = steps.n
    lq = q if lat is None else lat
    l_up, l_served, l_dt = lq.serving, lq.served, lq.serving * dt_s
    with np.errstate(invalid="ignore", divide="ignore"):
        load = np.where(l_up > 0, l_served / l_dt, 0.0)
    admitted = served + q.b_end - q.b_start             # what joined the pool's queue in each step
    l_admitted = l_served + lq.b_end - lq.b_start
    cap_step, l_cap = up * curve.max_rps * dt_s, l_up * curve.max_rps * dt_s
    queued = (lq.b_start + lq.b_end) > 0
    if lq.sub_q is not None:                    # and a backlog built and cleared inside a step (its sub-steps)
        queued |= backlogged(lq.sub_q, l_cap).any(axis=1)
    waits = step_waits(steps.edges, l_admitted, l_served, l_cap, queued)   # FCFS behind the backlog, in the step too
    read_on_subs(waits, steps.edges, l_admitted, lq.b_start, l_cap, spread, lq.cap_spread)
    # each instant at the load served then: at capacity behind the backlog
    waits = waits.on_curve(curve.rates_rps, l_dt, curve.max_rps)
    i, w = curve.position(load)

    def at(values):
        v = np.asarray(values, dtype=np.float64)
        return v[i] * (1 - w) + v[i + 1] * w

    wq = at(curve.latency["queue"]["mean"])     # the curve's mean queue time at each step's load

    ttft_slo = sc.slo.ttft_s                    # SLO request by request behind a backlog (attain)
    att = backlog_attainment(waits, l_dt, curve.rates_rps, curve.attainment, curve.hists["ttft"],
                             curve.latency["queue"]["mean"], ttft_slo, at(curve.attainment),
                             service_add(curve, {m: curve.latency[m]["mean"] for m in ("ttft", "queue")}, "ttft"))
    # busy share at capacity while a backlog lasts (in the step too), then at the arrivals' rate; MFU at the
    # rate served; both against the rates the grid runs served (not their nominal ones)
    full = at_capacity_share(q.b_start, q.b_end, admitted, cap_step)
    rest = admitted                             # served when not at capacity: the arrivals
    if q.full is not None:                      # steps whose sub-steps lost capacity: at capacity in part only,
        lost = ~np.isnan(q.full)                # the rest of the step serving what arrived then
        full = np.where(lost, q.full, full)
        part = np.clip(served - full * cap_step, 0.0, None) / np.maximum(1.0 - full, 1e-12)
        rest = np.where(lost, part, admitted)
    rest_rps = _share(rest, up * dt_s)
    off = np.where(up > 0, (1.0 - full) * busy_on(curve, rest_rps, up), 0.0)   # busy off capacity
    busy = np.where(up > 0, full, 0.0) + off    # the busy share of the serving replicas
    # MBU's bytes: the steps' busy replica-seconds at the bytes per busy second the curve's runs moved, at
    # capacity a saturated replica's (its batch full: hbm_at(max_rps)), else at the arrivals' rate
    moved = None if curve.hbm_busy is None else float(np.sum(
        up * dt_s * (np.where(up > 0, full, 0.0) * curve.hbm_at(curve.max_rps) + off * curve.hbm_at(rest_rps))))
    # KV in use: the step's mean too, a saturated replica's over the share of it at capacity, the rest at the
    # rate served then (as busy and running), not the mean load's (an hour at capacity for its last sixth)
    kv = np.where((full > 0) & (up > 0), full * curve.at(curve.kv, np.full(n_steps, curve.max_rps))
                  + (1.0 - full) * curve.at(curve.kv, rest_rps), at(curve.kv))
    mfu = curve.at_served(curve.mfu, load)
    meas = l_served * steps.after_warm
    # the latencies: the curve's (its queueing included) at the load served at each instant, shifted by what
    # the backlog's wait adds to the curve's queue there (beyond)
    q_at = waits.at(curve.latency["queue"]["mean"])
    shift = waits.beyond(q_at)
    fleet_sums.add_latency(curve, i, w, at, meas, shift)
    b, l_b = q.backlog, lq.backlog
    # the end backlog, first come, first served across classes: the last arrivals, each of its step's
    # class mix; those arrived after the warmup and older than the TTFT objective count at their age
    # in TTFT and queue percentiles (fleet-wide and per class, as the request level censors both at
    # the scenario's objective) and against SLO attainment (per class: older than its own objective)
    since_warm = float(sc.duration) - sc.warmup
    by_class = (backlog_by_step(steps.edges, admitted, b)[:, None] * steps.cls_frac).sum(axis=0)  # BLAS-free
    by_served = served_mix(l_admitted, l_served, lq.b_start, steps.cls_frac, spread, mix_sub)
    add_classes(per_cls, curve, i, w, l_served, q.rejected, meas, steps.cls_frac, steps.after_warm,
                class_waits(waits, steps.edges, steps.cls_frac, mix_sub), q_at,
                [c[0] for c in cls_slo], l_dt, by_class,
                by_served)                       # FCFS: each class its own arrivals' waits
    if n_steps:
        ages, n_old = backlog_ages(steps.edges, l_admitted, l_b, ttft_slo, since_warm)
        if len(ages):
            fleet_sums.add_backlog_ages(ages, n_old)
            mix = steps.cls_frac[arrival_steps(steps.edges, ages)]
            for c, acc in enumerate(per_cls):
                acc.add_backlog_ages(ages, n_old * mix[:, c])
        for c, acc in enumerate(per_cls):
            late = backlog_by_step(steps.edges, l_admitted, l_b, cls_slo[c][0], since_warm)
            acc.add_missed(float(np.sum(late * steps.cls_frac[:, c])))
    fleet_sums.add_counts(curve, served, q.rejected, b, meas, att, steps.after_warm, q.no_replica)

    gpr = p.gpus_per_replica
    rate_rep = np.where(up > 0, served / dt_s, 0.0)
    # the queue: the curve's (Little's law at the step's rate), or the backlog at the step's end where that is
    # longer (a backlog is the pool's queue, served at capacity: the two are not added, StepWaits.beyond)
    svc = at(curve.latency["e2e"]["mean"]) - wq
    running = rate_rep * np.nan_to_num(svc)              # the step's mean (what the run's mean counts)
    # a step that ends behind a backlog ends at capacity, its batches full: its row's running sequences
    # are a saturated replica's, as the sub-steps that hold a backlog read them (in_flight_peak)
    held = q.b_end > 1e-9 * np.maximum(up * curve.max_rps, 1.0)
    sat, mean_q = saturated_running(curve, up), rate_rep * np.nan_to_num(wq)
    end_q, end_run = replayed_end(curve, up, ends, mean_q, running)   # a replay's step: at its end
    # a row's queue: its step's mean, the backlog on the sub-steps where it is longer than the curve's queue;
    # a replayed step's curve holds its swings' waits, which the backlog's path holds too: the larger mean
    waiting = mean_q if q.sub_in is None else queue_mean(q.b_start, q.sub_in, mean_q)
    if ends is not None and q.sub_in is not None:
        swings = np.isfinite(ends)
        waiting = np.where(swings, np.maximum(mean_q, queue_mean(q.b_start, q.sub_in, np.zeros(n_steps))), waiting)
    # its running: the step's mean too, a saturated replica's over the share of it at capacity (as ``busy``),
    # the rest at the rate served then; a step never at capacity, its mean load's (a replay's: its end's)
    run_rest = rest_rps * up * np.nan_to_num(curve.at(curve.latency["e2e"]["mean"], rest_rps)
                                             - curve.at(curve.latency["queue"]["mean"], rest_rps))
    mean_run = np.where(full > 0, full * sat + (1.0 - full) * run_rest, end_run)
    rows = np.column_stack([steps.edges[1:], np.full(n_steps, p.index), n, waiting, np.zeros_like(n),
                            mean_run, kv * up * p.kv_blocks, kv, _share(busy * up, n)])
    at_end = rows.copy()                        # each step's end, which the stability block reads
    at_end[:, 3], at_end[:, 5] = np.maximum(end_q, q.b_end), np.where(held, sat, end_run)
    sub_sys = sub_in_system(curve, q, up, np.maximum(mean_q, q.b_end) + np.where(held, sat, running))  # mean-load
    end = float(sc.duration)
    usage = PoolUsage(
        pool=p, provisioned_gpu_s=float(np.sum(n * dt_s)) * gpr, busy_gpu_s=float(np.sum(up * dt_s * busy)) * gpr,
        flops_done=float(np.sum(up * dt_s * mfu)) * gpr * p.peak_flops(),
        kv_cache_mean=float(np.average(kv, weights=up)) if up.sum() > 0 else 0.0,
        requests=float(served.sum()), prompt_mean=curve.prompt_tokens_mean, output_mean=curve.output_tokens_mean,
        hbm_bytes=moved,
        lead={"replicas_provisioned_total": q.provisioned_total},
        tail={"replicas_mean": float(np.sum(n * dt_s) / end) if end > 0 else 0.0,
              "capacity_curve": curve.key, "max_rps_per_replica": curve.max_rps, "backlog_end": b})
    return _Measured(rows, usage, kv, by_served, sub_sys, at_end)
