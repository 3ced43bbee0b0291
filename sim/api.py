"""The public Python API, shared by the CLI and notebooks.

>>> import sim
>>> result = sim.run("scenarios/baseline.yaml", overrides=["duration=2m", "warmup=0"])  # doctest: +SKIP
>>> result.summary["latency"]["ttft"]["p99"]  # doctest: +SKIP
"""
from __future__ import annotations

import datetime as dt
import gc
import platform
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import simpy

from sim.errors import InputError, ScenarioError, WorkloadFileError, text_list, warnings_as_problems, workload_files_of
from sim.folder_lock import holding
from sim.limits import check_money, check_work, max_in_flight
from sim.metrics.band import band, capacities, check_pct
from sim.metrics.fleet_summary import PoolUsage, fleet_summary, offered_requests
from sim.metrics.records import RECORD_DTYPE, summarize_requests
from sim.metrics.utilization import in_flight_work, prefill_served
from sim.metrics.schema import COMPLETED, REQUEST_COLUMNS, STATUS_NAMES, TS_COLUMNS  # noqa: F401 (re-exported)
from sim.perf.scaled import scaled
from sim.scenario.load import LoadedScenario, load_scenario, scenario_from_dict, source_name
from sim.serving.fleet import Fleet
from sim.serving.outcome import EVENT_KINDS, FleetOutcome
from sim.serving.pool import PoolRuntime
from sim.serving.saturated import scheduler_factor



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


def _as_loaded(scenario: Any, overrides: Iterable[str]) -> LoadedScenario:
    if isinstance(scenario, LoadedScenario):
        if overrides:
            from sim.scenario.load import apply_overrides

            return scenario_from_dict(apply_overrides(scenario.raw, overrides), scenario.source, scenario.base_dir)
        return scenario
    if isinstance(scenario, (str, Path, dict)):
        return load_scenario(scenario, overrides)
    from sim.scenario.schema import Scenario

    if isinstance(scenario, Scenario):
        return load_scenario(scenario.model_dump(mode="json"), overrides)
    raise TypeError(f"cannot run a {type(scenario).__name__}; pass a path, a dict or a Scenario")


def build_pools(loaded: LoadedScenario, capacity: float = 1.0, scheduler_factors: bool = False) -> list[PoolRuntime]:
    """Catalog entries, memory plan and step-time model of every pool; ``capacity`` scales every
    pool's step-time model (:func:`sim.perf.scaled.scaled`: each iteration ``1 / capacity`` as long).
    ``scheduler_factors``: measure each pool's load-factor scheduler factor on its own engine
    (:func:`sim.serving.saturated.scheduler_factor`; what a run's summary and autoscaler read)."""
    sc = loaded.scenario
    from sim.scenario.pool_setup import pool_context, pool_setups, pool_step_model

    out = []
    for i, (p, setup) in enumerate(zip(sc.fleet.pools, pool_setups(loaded))):
        model, gpu, _, wdt, _, plan = setup
        step = pool_step_model(sc, p, loaded.base_dir, setup)
        out.append(PoolRuntime(index=i, cfg=p, gpu=gpu, model=model, step_model=scaled(step, capacity),
                               kv_blocks=plan.kv_blocks,
                               kv_bytes_per_token=plan.kv_bytes_per_token, weight_dtype=wdt,
                               max_context=pool_context(p, model)))
    if scheduler_factors:
        start = dt.datetime.combine(sc.start, dt.time(0, 0))
        d = sc.fleet.disaggregated
        prefill = next((p for p in out if d is not None and p.cfg.name == d.prefill_pool), None)
        for pool in out:
            pool.scheduler_factor = scheduler_factor(sc, pool, loaded.base_dir, start, prefill)
    return out


def run(scenario: Any, *, overrides: Iterable[str] = (), out: str | Path | None = None, quiet: bool = True,
        progress: bool = False, skip_bad_rows: bool = False, allow_large: bool | None = None,
        capacity_band: float | None = None, capacity: float = 1.0, scheduler_factors: bool = True) -> Result:
    """Simulate a scenario (path, raw dict, :class:`Scenario` or loaded scenario) and summarise it.

    A scenario past a work limit of :mod:`sim.limits` raises :class:`~sim.errors.ScenarioError`
    before anything runs, unless ``allow_large`` (default: the ``FLEETSIM_ALLOW_LARGE`` variable).

    ``capacity_band`` (per cent, ``0 < pct <= 50``) runs the scenario twice more, with the same seed,
    at ``1 ∓ pct/100`` times the model's capacity, and adds the summary's ``capacity_band`` block
    (:mod:`sim.metrics.band`); ``wall_seconds`` then counts all three runs. ``capacity`` scales every
    step time of the run itself (each iteration ``1 / capacity`` as long). The fluid tier measures
    its capacity curves once, at the model's capacity, and reads each side off them rescaled in time
    (:mod:`sim.fluid.scaled_curve`).

    ``scheduler_factors=False`` (request level) leaves each pool's load-factor scheduler factor at 1
    instead of measuring it (:func:`build_pools`): the summary's load factor and stability verdict
    are then the closed form's alone; nothing else of the run changes (no autoscaler may read them,
    :class:`ValueError` otherwise). For runs whose load factor is not read: a capacity curve's
    calibration runs (:mod:`sim.fluid.capacity`).

    ``out`` is held as ``fleetsim run --out`` holds it (:mod:`sim.folder_lock`) until its files are written:
    a second writer there meanwhile is refused (:class:`~sim.errors.InputError`), not mixed with this run.
    """
    if out is not None:
        if not isinstance(out, (str, Path)):
            raise TypeError(f"out: give a folder (a str or Path), not {type(out).__name__} {out!r:.80}")
        if not str(out).strip():        # (Path("") is the working folder: the command line refuses it too)
            raise InputError(f"out: give a folder name (got {str(out)!r})")
        with holding(Path(out), lambda: InputError(f"out: {out}: another fleetsim sweep, plan, saturation search or "
                     "run is writing there now: this run would mix its result files with that one's; wait for it "
                     "to finish, or give another out")):
            result = run(scenario, overrides=overrides, quiet=quiet, progress=progress, skip_bad_rows=skip_bad_rows,
                         allow_large=allow_large, capacity_band=capacity_band, capacity=capacity,
                         scheduler_factors=scheduler_factors)
            result.write(out)
        return result
    t0 = time.perf_counter()
    with _gc_relaxed(), warnings_as_problems(source_name(scenario)), workload_files_of(source_name(scenario)):
        loaded = _as_loaded(scenario, text_list(overrides, "overrides", "fleet.pools.0.replicas=8"))
        check_work(loaded, allow_large)
        sc = loaded.scenario
        pct = None if capacity_band is None else check_pct(capacity_band, "capacity_band")
        if not (isinstance(capacity, (int, float)) and 0.0 < capacity < float("inf")):
            raise InputError(f"capacity: give a scale greater than 0 (1 is the model's capacity); got {capacity!r}")
        if sc.fidelity == "fluid":
            from sim.fluid.run import measured_curves, run_fluid

            try:
                curves = measured_curves(loaded, scaled=pct is not None or capacity != 1.0)
            except WorkloadFileError as exc:    # in a calibration workload derived from the scenario's
                from sim.workload.generator import fields_of

                raise fields_of(sc.workload, exc) from None

            def one(scale: float) -> Result:
                return run_fluid(loaded, curves=curves, capacity=scale)

            result = one(capacity)
        else:
            def one(scale: float) -> Result:
                return _run_request_level(loaded, skip_bad_rows=skip_bad_rows, capacity=scale,
                                          scheduler_factors=scheduler_factors)

            if not scheduler_factors and any(p.autoscale is not None for p in sc.fleet.pools):
                raise ValueError("scheduler_factors=False: an autoscaler reads the load factor")
            result = _run_request_level(loaded, progress=progress and not quiet, skip_bad_rows=skip_bad_rows,
                                        capacity=capacity, scheduler_factors=scheduler_factors)
        if pct is not None:
            result.summary["capacity_band"] = _capacity_band(one, pct, capacity)
        check_money(result.summary, loaded.source)
    result.summary["wall_seconds"] = time.perf_counter() - t0
    return result


@contextmanager
def _gc_relaxed():
    """The cyclic garbage collector runs less often for the duration of a run.

    A run allocates objects per request and per iteration group, almost none of them in
    reference cycles, so with the default threshold (a young-generation pass every 700
    allocations) the collector's hundreds of passes find nothing: 0.06 s of a 100,000-request
    run. A pass every 50,000 allocations costs nothing measurable and still frees any cycles
    (a failure's interrupt, a long sweep in one process), so memory stays bounded. The
    previous thresholds come back once the run is over.
    """
    old = gc.get_threshold()
    gc.set_threshold(50_000, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _capacity_band(one, pct: float, capacity: float) -> dict:
    """The ``capacity_band`` block: ``one(scale)`` (the same scenario and seed, hence the same
    arrivals, or the same capacity curves) at ``1 ∓ pct/100`` times ``capacity``; the extra runs'
    warnings are the point run's, said once already."""
    sides = {}
    for name, scale in capacities(pct).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sides[name] = one(capacity * scale).summary
    return band(pct, slower=sides["slower"], faster=sides["faster"])


def _run_request_level(loaded: LoadedScenario, progress: bool = False, skip_bad_rows: bool = False,
                       lean: bool = True, capacity: float = 1.0, scheduler_factors: bool = True) -> Result:
    sc = loaded.scenario
    env, fleet, feeder, report, bar = _start_request_level(loaded, skip_bad_rows, lean, capacity, scheduler_factors,
                                                           progress)
    _run_clock(loaded, env, sc.duration)
    result = _finish_request_level(loaded, env, fleet, feeder, report)
    if bar is not None:
        bar.close()
    return result


def _start_request_level(loaded: LoadedScenario, skip_bad_rows: bool = False, lean: bool = True,
                         capacity: float = 1.0, scheduler_factors: bool = True, progress: bool = False):
    """The fleet of a request-level run, its arrival feed started: ``(env, fleet, feeder, report, bar)``
    (``bar``: the progress bar, or None)."""
    from sim.workload import classes, generate

    sc = loaded.scenario
    pools = build_pools(loaded, capacity, scheduler_factors=scheduler_factors)
    env = simpy.Environment()
    cls = classes(sc.workload)
    fleet = Fleet(env, sc, pools, [c.priority for c in cls], fast=sc.engine == "fast", seed=sc.seed,
                  lean=lean)
    fleet.max_in_flight = max_in_flight()
    start_dt = dt.datetime.combine(sc.start, dt.time(0, 0))
    report: dict = {}
    chunks = generate(sc.workload, sc.duration, sc.seed, start=start_dt, base_dir=loaded.base_dir,
                      skip_bad_rows=skip_bad_rows, report=report)
    feeder = fleet.start(chunks, sc.duration, sc.metrics.interval)
    bar = _progress(env, sc.duration) if progress else None
    fleet.set_horizon(sc.duration)
    return env, fleet, feeder, report, bar


def _run_clock(loaded: LoadedScenario, env: simpy.Environment, until: float) -> None:
    """Run the SimPy clock on to ``until``; the backlog check's error names the scenario's file."""
    try:
        env.run(until=until)
    except ScenarioError as exc:
        raise type(exc)(exc.problems, loaded.source) from None


def _finish_request_level(loaded: LoadedScenario, env: simpy.Environment, fleet: Fleet, feeder, report: dict,
                          ) -> Result:
    """Drain (``drain: true``), close the books and assemble the result of a run whose clock reached
    the scenario's duration."""
    sc = loaded.scenario
    end = sc.duration
    if sc.drain:
        # keep going until the feed is exhausted and nothing is in flight
        while fleet.in_flight or feeder.is_alive:
            step = max(sc.metrics.interval, 1.0)
            fleet.set_horizon(env.now + step)
            env.run(until=env.now + step)
        # an offline job (bursts only) lasts until its last request finishes, as MLPerf Offline counts
        end = max(0.0 if sc.workload.offline else sc.duration, min(env.now, fleet.latest_clock()))
    outcome = fleet.finish(end)  # settles every replica; provisioned intervals per replica lifetime
    result = assemble(loaded, outcome)
    if report and sc.workload.closed is not None:
        report["requests"] = fleet.arrived    # the generator drew lengths ahead; the clients sent these
    if report:
        result.summary["workload"] = {k: v for k, v in report.items() if isinstance(v, (int, float, str))}
    _add_dynamics(result, outcome)
    return result


def completions(loaded: LoadedScenario, check_s: float, enough: Callable[[np.ndarray], bool]) -> np.ndarray:
    """The completed requests' records of a request-level run of ``loaded``, without running past
    the point where ``enough`` of them are known.

    The clock advances ``check_s`` at a time on the one run (``env.run`` resumed: the same events in
    the same order as one ``env.run`` to the end). After each step at time ``t`` the completions
    before ``t`` are final -- a replica books a completion at its time or, running ahead of the
    clock, before it, never later -- so they are the whole run's completions before ``t``. The first
    time ``enough(those records)`` holds they are returned; else, at the scenario's duration, the
    completed rows of the whole run's :attr:`Result.records`. Nothing else of the run is summarised,
    and the load factor's scheduler factors are not measured (``enough`` reads the records alone).
    For a measurement that needs only the first completions of a long run (:mod:`sim.fluid.capacity`'s
    saturated run).
    """
    if not check_s > 0:
        raise ValueError(f"check_s must be > 0 (got {check_s!r})")
    live = LiveRun(loaded)
    done = live.completions_before(loaded.scenario.duration, check_s, enough)
    return done if done is not None else live.finish()


class LiveRun:
    """A request-level run of ``loaded`` (no scheduler factors) whose clock is advanced on demand,
    for :func:`completions`: its completions before a time can be read, and the run continued.

    Arrivals that do not depend on the scenario's duration (a renewal process: each arrival the same
    whatever the duration, those past it cut off) make the run of a longer duration the same, up to
    any time ``t`` before the shorter one's end, as the shorter run: the same arrivals and the same
    events before ``t``, hence the same completions before ``t``. So one run of duration ``H``
    answers :func:`completions` for every duration ``D <= H`` in turn (:meth:`completions_before`),
    where the closed window is found before ``D`` (``tests/test_saturated_continued.py`` checks the
    records against fresh runs byte for byte); a run that reaches ``D`` first is no answer (a fresh
    run's completions at its end are those of the finished run).
    """

    def __init__(self, loaded: LoadedScenario, check: bool = True) -> None:
        """``check=False``: no work limit checked (:func:`~sim.limits.check_work`); for a run that the
        caller advances only as far as shorter runs it has checked would go."""
        self.loaded = loaded
        with _gc_relaxed(), warnings_as_problems(loaded.source):
            if check:
                check_work(loaded)
            self._env, self._fleet, self._feeder, self._report, _ = _start_request_level(loaded, scheduler_factors=False)
        self.now = 0.0

    def completions_before(self, until: float, check_s: float, enough: Callable[[np.ndarray], bool]
                           ) -> np.ndarray | None:
        """Advance the clock ``check_s`` at a time (the last step cut at ``until``, at most the
        scenario's duration); after each step to a time ``t < until`` the completions before ``t``,
        returned the first time ``enough`` of them holds. ``None`` if it does not before ``until``
        (the clock is then at ``until``)."""
        until = min(until, self.loaded.scenario.duration)
        with _gc_relaxed(), warnings_as_problems(self.loaded.source):
            while self.now < until:
                t = min(self.now + check_s, until)
                _run_clock(self.loaded, self._env, t)
                self.now = t
                if t >= until:
                    break
                rec = self._fleet.log.array()
                done = rec[(rec["status"] == COMPLETED) & (rec["completion_s"] < t)]
                if enough(done):
                    return done
        return None

    def finish(self) -> np.ndarray:
        """The completed rows of the whole run (its clock run on to the scenario's duration)."""
        sc = self.loaded.scenario
        with _gc_relaxed(), warnings_as_problems(self.loaded.source):
            if self.now < sc.duration:
                _run_clock(self.loaded, self._env, sc.duration)
                self.now = sc.duration
            rec = _finish_request_level(self.loaded, self._env, self._fleet, self._feeder, self._report).records
        return rec[rec["status"] == COMPLETED]


def _add_dynamics(result: Result, outcome: FleetOutcome) -> None:
    """Autoscaling, failure and disaggregation blocks of the summary; the lifecycle event log."""
    s = result.summary
    for u in outcome.pools:
        block = s.get("pools", {}).get(u.pool.name)
        if block is not None:
            block["replicas_mean"] = u.replicas_mean
    s.update(outcome.dynamics)
    result.extra["events"] = outcome.events
    result.extra["event_kinds"] = EVENT_KINDS


def _progress(env: simpy.Environment, horizon: float):
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", desc="simulating", leave=False, disable=None)  # off when not a terminal

    def tick():
        for _ in range(100):
            yield env.timeout(horizon / 100)
            bar.update(1)
    env.process(tick())
    return bar


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
                     running_sum=float(sel[:, 5].sum()) if len(sel) else 0.0,
                     replicas_sum=float(sel[:, 2].sum()) if len(sel) else 0.0,
                     lead={"replicas_provisioned_total": u.replicas_provisioned_total}, routed=routed, offered=offered)


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
    fleet = fleet_summary(sc, pool_usage, kv_cache_mean=kv_mean, timeseries=ts, requests=summary["requests"], end_s=end)
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
                  extra={"python": platform.python_version()})
