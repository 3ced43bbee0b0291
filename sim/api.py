"""The public Python API, shared by the CLI and notebooks: :func:`run` either tier, and the request-level
run behind it (its pools built, its fleet started, its clock run, its books closed); a run's outputs
and their assembly are :mod:`sim.assemble`'s, re-exported here.

>>> import sim
>>> result = sim.run("scenarios/baseline.yaml", overrides=["duration=2m", "warmup=0"])  # doctest: +SKIP
>>> result.summary["latency"]["ttft"]["p99"]  # doctest: +SKIP
"""
from __future__ import annotations

import datetime as dt
import gc
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable, Iterable

import numpy as np
import simpy

from sim.assemble import Result, assemble, price_run, request_outcomes  # noqa: F401 (re-exported)
from sim.errors import InputError, ScenarioError, WorkloadFileError, text_list, warnings_as_problems, workload_files_of
from sim.folder_lock import holding
from sim.out_folder import check_out_dir, check_owner, check_result_folder
from sim.paths import followed
from sim.limits import check_money, check_work, max_in_flight, step_problems
from sim.metrics.band import band, capacities, check_pct
from sim.metrics.schema import COMPLETED, REQUEST_COLUMNS, STATUS_NAMES, TS_COLUMNS  # noqa: F401 (re-exported)
from sim.perf.scaled import scaled
from sim.scenario.load import LoadedScenario, load_scenario, scenario_from_dict, source_name
from sim.serving.fleet import Fleet
from sim.serving.outcome import EVENT_KINDS, FleetOutcome
from sim.serving.pool import PoolRuntime
from sim.serving.saturated import scheduler_factor


def _as_loaded(scenario: Any, overrides: Iterable[str] | Mapping[str, Any]) -> LoadedScenario:
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
    raise TypeError(f"cannot run {type(scenario).__name__} {scenario!r:.60}; pass a path (a str or Path), a dict or "
                    "a Scenario")


def build_pools(loaded: LoadedScenario, capacity: float = 1.0, scheduler_factors: bool = False) -> list[PoolRuntime]:
    """Catalog entries, memory plan and step-time model of every pool; ``capacity`` scales every
    pool's step-time model (:func:`sim.perf.scaled.scaled`: each iteration ``1 / capacity`` as long).
    ``scheduler_factors``: measure each pool's load-factor scheduler factor on its own engine
    (:func:`sim.serving.saturated.scheduler_factor`; what a run's summary and autoscaler read)."""
    sc = loaded.scenario
    from sim.scenario.pool_setup import pool_setups, pool_step_model, served_context

    out = []
    for i, (p, setup) in enumerate(zip(sc.fleet.pools, pool_setups(loaded))):
        model, gpu, _, wdt, _, plan = setup
        step = pool_step_model(sc, p, loaded.base_dir, setup)
        context = served_context(p, model, plan)      # SGLang starts with a short cache and serves up to it
        out.append(PoolRuntime(index=i, cfg=p, gpu=gpu, model=model, step_model=scaled(step, capacity),
                               kv_blocks=plan.kv_blocks,
                               kv_bytes_per_token=plan.kv_bytes_per_token, weight_dtype=wdt,
                               max_context=context))
    if scheduler_factors:
        start = dt.datetime.combine(sc.start, dt.time(0, 0))
        d = sc.fleet.disaggregated
        prefill = next((p for p in out if d is not None and p.cfg.name == d.prefill_pool), None)
        for pool in out:
            pool.scheduler_factor = scheduler_factor(sc, pool, loaded.base_dir, start, prefill)
    return out


def run(scenario: Any, *, overrides: Iterable[str] | Mapping[str, Any] = (), out: str | Path | None = None,
        quiet: bool = True, progress: bool = False, skip_bad_rows: bool = False, allow_large: bool | None = None,
        capacity_band: float | None = None, capacity: float = 1.0, scheduler_factors: bool = True) -> Result:
    """Simulate a scenario (path, raw dict, :class:`Scenario` or loaded scenario) and summarise it.

    ``overrides``: texts as ``--set`` takes them (``["fleet.pools.0.replicas=8"]``, values read as YAML), or a
    mapping of the same paths to values taken as given (``{"name": "[draft]v2"}``), as
    :func:`~sim.scenario.load.load_scenario` takes them.

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

    ``out`` is checked before the run as ``fleetsim run --out`` is (:func:`sim.out_folder.check_out_dir`,
    :func:`~sim.out_folder.check_owner`, :func:`~sim.out_folder.check_result_folder`: the file system's root, a
    file, a folder that cannot be made or written, another result's ``figures/``, a looping link, a sweep's,
    plan's or saturation search's folder; :class:`~sim.errors.InputError`, the message
    the command line's with ``out`` for ``--out``), and held as ``fleetsim run --out`` holds it
    (:mod:`sim.folder_lock`) until its files are written: a second writer there meanwhile is refused
    (:class:`~sim.errors.InputError`), not mixed with this run.
    """
    for name, value in (("quiet", quiet), ("progress", progress), ("skip_bad_rows", skip_bad_rows),
                        ("scheduler_factors", scheduler_factors), ("allow_large", allow_large)):
        if not isinstance(value, (bool, np.bool_)) and not (value is None and name == "allow_large"):
            # skip_bad_rows="false" is true: bad rows were left out silently, a result of other requests
            raise TypeError(f"{name}: give True or False{' (or None)' if name == 'allow_large' else ''} "
                            f"(got {value!r:.60}, of type {type(value).__name__})")
    if out is not None:
        if not isinstance(out, (str, Path)):
            raise TypeError(f"out: give a folder (a str or Path), not {type(out).__name__} {out!r:.80}")
        if not str(out).strip():        # (Path("") is the working folder: the command line refuses it too)
            raise InputError(f"out: give a folder name (got {str(out)!r})")
        check_out_dir(Path(out), "out")     # what `fleetsim run --out` refuses, said alike, before the run
        if followed(Path(out)).is_dir():    # (a sweep's folder: the run's scenario.json, figures/ over its own)
            check_owner(followed(Path(out)), "run", shown=out, option="out")
            check_result_folder(followed(Path(out)), option="out")
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
        loaded = _as_loaded(scenario, dict(overrides) if isinstance(overrides, Mapping) else     # values as given
                            text_list(overrides, "overrides", "fleet.pools.0.replicas=8"))
        check_work(loaded, allow_large)
        sc = loaded.scenario
        pct = None if capacity_band is None else check_pct(capacity_band, "capacity_band")
        if isinstance(capacity, bool) or not (isinstance(capacity, (int, float)) and 0.0 < capacity < float("inf")):
            raise InputError(f"capacity: give a scale greater than 0 (1 is the model's capacity); got {capacity!r}")
        if capacity != 1.0 and step_problems(loaded, capacity):    # 1e-300: no request ever finished, no error
            raise ScenarioError(step_problems(loaded, capacity), loaded.source)
        if sc.fidelity == "fluid":
            from sim.fluid.run import measured_counts, run_fluid

            try:
                curves, counted = measured_counts(loaded, scaled=pct is not None or capacity != 1.0)
            except WorkloadFileError as exc:    # in a calibration workload derived from the scenario's
                from sim.workload.generator import fields_of

                raise fields_of(sc.workload, exc) from None

            def one(scale: float) -> Result:
                return run_fluid(loaded, curves=curves, capacity=scale, counted=counted)

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

    def gaps(self) -> tuple[np.ndarray, np.ndarray]:
        """The inter-token gaps booked so far (distinct values and their counts, ``records: all``; empty
        otherwise), as :meth:`sim.metrics.records.GapLog.arrays`."""
        return self._fleet.gaps.arrays()

    def moved(self) -> tuple[float | None, float]:
        """``(HBM bytes per GPU, busy replica-seconds)`` of the iterations its replicas have booked so far,
        summed over the pools: the bytes as a summary's MBU counts them
        (:func:`sim.metrics.utilization.pool_bytes`; ``None`` where the roofline cannot price a pool) and the
        busy time of the same iterations (a fast run's decode iterations still in progress are in neither
        until booked). Read at two clock times, what the stretch between moved per busy second (the
        saturated replica's, :mod:`sim.fluid.capacity`)."""
        from sim.metrics.utilization import pool_bytes, pool_kv_dtype
        from sim.serving.outcome import merged_mix

        moved, busy = 0.0, 0.0
        for p in self._fleet.pools:
            reps = p.replicas
            steps = (sum(r.iterations for r in reps), sum(r.tokens_processed for r in reps), sum(r.kv_read for r in reps),
                     sum(r.micro_batches_run for r in reps), merged_mix(reps))
            b = pool_bytes(p, pool_kv_dtype(self.loaded.scenario, p), steps=steps)
            moved = None if b is None or moved is None else moved + b
            busy += sum(r.busy_acc + (r.busy_to - r.busy_from if r.busy_from >= 0 else 0.0) for r in reps)
        return moved, busy

    def advance(self, until: float) -> None:
        """Run the clock on to ``until`` (at most the scenario's duration): resumed, the same events in the
        same order as one run to the end."""
        until = min(until, self.loaded.scenario.duration)
        if self.now < until:
            with _gc_relaxed(), warnings_as_problems(self.loaded.source):
                _run_clock(self.loaded, self._env, until)
            self.now = until

    def result(self) -> Result:
        """The whole run's :class:`Result` (its clock run on to the scenario's duration, its books closed),
        as :func:`run` gives it with ``scheduler_factors=False`` (``wall_seconds`` aside)."""
        self.advance(self.loaded.scenario.duration)
        with _gc_relaxed(), warnings_as_problems(self.loaded.source):
            return _finish_request_level(self.loaded, self._env, self._fleet, self._feeder, self._report)

    def finish(self) -> np.ndarray:
        """The completed rows of the whole run (its clock run on to the scenario's duration)."""
        rec = self.result().records
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
