"""Bounded work: what a scenario will cost, estimated before anything runs, and the limits.

A scenario file of a few lines can ask for 10²⁰ requests, 10²² replicas or a fluid step of a
millisecond over a month. Every run (``fleetsim run``, ``validate``, each sweep/plan point) first
estimates the work the scenario implies from its fields alone, by arithmetic, and refuses anything
past a limit below with a message naming the field and the estimate. ``--allow-large`` (or the
environment variable ``FLEETSIM_ALLOW_LARGE=1``, which the flag sets so that worker processes
see it too; ``run(..., allow_large=True)`` in Python) runs it anyway, except what cannot fit in
this machine's memory: request-level replicas (``REPLICA_BYTES`` each) or ``records: all`` rows
(``RECORD_BYTES`` each) past the physical memory are refused even then, at once, instead of
spending minutes building state that the system then kills.

=======================  ===============  ==================================================
estimate                 limit            why
=======================  ===============  ==================================================
requests                 100,000,000      about 2 h of wall time at ~14,000 requests/s
requests, records: all   25,000,000       one 82-byte row each: ~2 GB of memory
fluid steps              1,000,000        ``duration / fluid.step`` (114 years of hours)
calibration requests     100,000,000      grid points x pools x ``fluid.calibration_requests``
calibration rows         5,000,000        grid points x pools x ``calibration_duration / metrics.interval``
replicas                 20,000           every pool's ``replicas`` or ``autoscale.max`` (request level)
fluid replicas           1,000,000        the same in the fluid tier (a replica count there, not a process)
failure events           10,000,000       replicas x duration / (mtbf + mttr), per pool
sweep points             100,000          grid values x seeds
shortest step            10^6 s           a pool's step of one sequence decoding one token
=======================  ===============  ==================================================

The shortest step is a limit that ``--allow-large`` does not lift: no GPU iteration takes days, so a
step past :data:`MAX_STEP_S` is a unit slip (``base_s: 1e9``) or an efficiency near 0
(``flops_efficiency: 1e-300``), and a run's load-factor measurement, which samples every
``metrics.interval`` through each step, would not end.

Expected requests integrate each arrival process's intensity over ``[0, duration)``: ``rate``
(Poisson, gamma, compound Poisson), ``mean_rate`` times the mean weekday factor (diurnal), the piecewise rates
over their intervals, each times growth (``∫ (1 + monthly)^(t / month) dt``); a trace gives
its rows inside the window (every loop's) x ``rate_scale`` (read only when a bound from the file
size could pass the limit; ``fleetsim validate`` always counts them); a closed loop its clients'
most, ``concurrency x (1 + duration / think_time_s)`` (the clients alone without think time: the
fleet's speed bounds the rest). Shares of classes take their share of ``workload.arrival``.

    >>> from sim.scenario.load import load_scenario
    >>> sc = {"duration": 3600, "model": "llama-3-8b", "workload": {"arrival": {"process": "poisson",
    ...       "rate": 10}, "prompt_tokens": {"dist": "fixed", "value": 10},
    ...       "output_tokens": {"dist": "fixed", "value": 10}},
    ...       "fleet": {"pools": [{"name": "a", "gpu": "h100-sxm", "replicas": 2}]}}
    >>> estimate(load_scenario(sc)).requests
    36000.0
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import ScenarioError

MAX_REQUESTS = 100_000_000
MAX_REQUESTS_ALL_RECORDS = 25_000_000
MAX_FLUID_STEPS = 1_000_000
MAX_REPLICAS = 20_000
MAX_FLUID_REPLICAS = 1_000_000    # the fluid tier tracks a count per step, not a process per replica
MAX_FAILURE_EVENTS = 10_000_000
MAX_SWEEP_POINTS = 100_000
#: the longest a pool's shortest step (one sequence decoding one token) may take, seconds (11.6 days)
MAX_STEP_S = 1e6
#: time-series rows of all the fluid tier's calibration runs together (as one run's ``metrics.interval`` limit)
MAX_CALIBRATION_ROWS = 5_000_000
#: bytes of one request row kept with ``metrics.records: all``
RECORD_BYTES = 82
#: memory one request-level replica holds (its state, queue, KV accounting and SimPy process),
#: measured: a ``tracemalloc`` peak of 156 MB for a 20,000-replica run of a few requests, 1.42 GB of
#: peak RSS for 200,000 replicas (construction and the run linear in the replicas: 3.7 s for 50,000,
#: 11.7 s for 200,000)
REPLICA_BYTES = 8_000
#: memory one request in the system holds (its ``Req``, its entry in the fleet's in-flight map, its queue
#: slot), measured: 255 MB of peak RSS over 500,880 requests waiting at the end of a 0.05 s run at 10^7/s
REQUEST_BYTES = 510
#: smallest trace row (``0,1,1`` and a newline): a file of ``n`` bytes holds at most ``n / 6`` rows
MIN_TRACE_ROW_BYTES = 6
ENV = "FLEETSIM_ALLOW_LARGE"
HINT = "pass --allow-large to run it anyway"


@dataclass
class WorkEstimate:
    """What a scenario implies; ``where`` maps each quantity to the field that drives it most."""

    requests: float = 0.0
    fluid_steps: float = 0.0
    replicas: float = 0.0
    failure_events: float = 0.0
    where: dict[str, str] = field(default_factory=dict)


def allow_large_from_env() -> bool:
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes")


def _finite(x: float) -> float:
    return x if x == x else math.inf


def _growth_seconds(duration: float, growth) -> float:
    """``∫_0^duration (1 + monthly)^(t / month) dt`` (``inf`` when it overflows)."""
    from sim.workload.arrivals import growth_integral

    return _finite(float(growth_integral(duration, growth)))      # inf where it overflows


def _mean_growth(duration: float, growth) -> float:
    return _growth_seconds(duration, growth) / duration if duration > 0 else 1.0


def _process_requests(process, duration: float, growth, base_dir: Path, limit: float, count: bool = False) -> float:
    kind = process.process
    if kind in ("poisson", "gamma", "compound_poisson"):
        return process.rate * _growth_seconds(duration, growth)
    if kind == "diurnal":
        weekly = process.weekly or [1.0]
        return process.mean_rate * (sum(weekly) / len(weekly)) * _growth_seconds(duration, growth)
    if kind == "piecewise":
        from sim.workload.arrivals import growth_integral

        edges = [float(t) for t in process.times] + [math.inf]
        total = 0.0
        for i, rate in enumerate(process.rates[:len(process.times)]):
            a, b = min(edges[i], duration), min(edges[i + 1], duration)
            if b > a and rate > 0:      # inf where it overflows (inf - inf: nan, read as inf)
                total += rate * (growth_integral(b, growth) - growth_integral(a, growth))
        return _finite(total)
    if kind == "trace":
        return _trace_requests(process, duration, growth, base_dir, limit, count)
    if kind == "closed":    # a client sends at most one request per think time (and one at t = 0)
        z = float(process.think_time_s)
        return process.concurrency * (1.0 + duration / z) if z > 0 else float(process.concurrency)
    if kind in ("burst", "offline"):    # all at `at` (it was counted 0: a burst of 10^8 passed every limit),
        return float(process.count) if process.at < duration else 0.0      # none at or after the end
    return 0.0


def _trace_requests(process, duration: float, growth, base_dir: Path, limit: float, count: bool = False) -> float:
    """The requests a trace replays inside ``[0, duration)``
    (:func:`sim.workload.trace_replay.trace_requests_expected`). Without ``count`` the file is read only
    if a bound from its size in bytes (``MIN_TRACE_ROW_BYTES`` a row, x ``rate_scale`` x mean growth)
    could pass ``limit``, and that bound is returned otherwise; with ``count`` it is always read and
    the rows counted (``fleetsim validate``). A missing or unreadable file is the workload check's."""
    from sim.paths import resolve_path

    path = resolve_path(process.path, base_dir)
    try:
        size = path.stat().st_size
    except OSError:
        return 0.0
    bound = size / MIN_TRACE_ROW_BYTES * process.rate_scale * _mean_growth(duration, growth)
    if not count and not process.loop and bound <= limit:
        return bound
    try:
        from sim.workload.traces import read_trace

        data = read_trace(path, process.format, skip_bad_rows=True, display_path=process.path)
    except Exception:  # noqa: BLE001 - the workload check and the run report a bad trace
        return 0.0 if not process.loop else bound
    from sim.workload.arrivals import trace_requests_expected

    return trace_requests_expected(data.arrival_s, process, duration, growth)


def estimate(loaded, limit: float = MAX_REQUESTS, count_traces: bool = False) -> WorkEstimate:
    """The work ``loaded`` (a :class:`~sim.scenario.load.LoadedScenario`) implies; ``count_traces``
    reads every replayed trace and counts its rows inside the window (else a small trace is bounded
    by its size in bytes, :func:`_trace_requests`)."""
    sc = loaded.scenario
    w = sc.workload
    est = WorkEstimate()
    T = float(sc.duration)
    shared = (_process_requests(w.arrival, T, w.growth, loaded.base_dir, limit, count_traces)
              if w.arrival is not None else 0.0)
    est.where["requests"] = "workload.arrival"
    if not w.classes:
        est.requests = shared
    else:
        total = 0.0
        best = (-1.0, "workload.arrival")
        for i, c in enumerate(w.classes):
            if c.arrival is not None:
                n = _process_requests(c.arrival, T, w.growth, loaded.base_dir, limit, count_traces)
                where = f"workload.classes.{i}.arrival"
            else:
                n = shared * (c.share or 0.0)
                where = "workload.arrival"
            total += n
            best = max(best, (n, where))
        est.requests = total
        est.where["requests"] = best[1]
    if sc.fidelity == "fluid":
        est.fluid_steps = T / float(sc.fluid.step)
        est.where["fluid_steps"] = "fluid.step"
    best = (-1.0, "fleet.pools")
    for i, p in enumerate(sc.fleet.pools):
        # replicas and autoscale.max have no upper bound in the schema: the limit here names them
        most = _count(max(p.replicas, p.autoscale.max if p.autoscale is not None else 0))
        est.replicas += most
        best = max(best, (most, f"fleet.pools.{i}.{'autoscale.max' if p.autoscale and p.autoscale.max > p.replicas else 'replicas'}"))
        if p.failures is not None:
            cycle = float(p.failures.mtbf) + float(p.failures.mttr)
            events = 2.0 * most * T / cycle if cycle > 0 else math.inf
            if events > est.failure_events:
                est.failure_events = _finite(events)
                est.where["failure_events"] = f"fleet.pools.{i}.failures.mtbf"
    est.where["replicas"] = best[1]
    return est


def _count(n: int) -> float:
    """An integer count as a float; ``inf`` past a float's range (YAML reads 10**400 as an integer)."""
    try:
        return float(n)
    except OverflowError:
        return math.inf


def _n(x: float) -> str:
    if not math.isfinite(x):
        return "more than 10^308"
    return f"{x:,.0f}" if x < 1e15 else f"{x:.3g}"


def work_problems(loaded) -> list[tuple[str, str]]:
    """``(field, message)`` for every estimate past its limit (empty when within all of them)."""
    sc = loaded.scenario
    est = estimate(loaded)
    out: list[tuple[str, str]] = []
    if sc.fidelity != "fluid":
        if est.requests > MAX_REQUESTS:
            out.append((est.where["requests"],
                        f"implies ~{_n(est.requests)} requests over duration {sc.duration:g} s (at most "
                        f"{MAX_REQUESTS:,}, about 2 h of simulation); shorten duration, lower the rate, or "
                        f"use fidelity: fluid; {HINT}"))
        elif sc.metrics.records == "all" and est.requests > MAX_REQUESTS_ALL_RECORDS:
            gb = est.requests * RECORD_BYTES / 1e9
            out.append(("metrics.records",
                        f"all keeps one {RECORD_BYTES}-byte row per request: ~{_n(est.requests)} requests, "
                        f"~{gb:,.1f} GB (at most {MAX_REQUESTS_ALL_RECORDS:,} requests); use metrics.records: "
                        f"sample or none; {HINT}"))
    if sc.fidelity == "fluid":
        out += _calibration_problems(sc)
    if est.fluid_steps > MAX_FLUID_STEPS:
        out.append(("fluid.step", f"implies {_n(est.fluid_steps)} fluid steps over duration {sc.duration:g} s "
                                  f"(at most {MAX_FLUID_STEPS:,}): use a step of at least "
                                  f"{sc.duration / MAX_FLUID_STEPS:g} s; {HINT}"))
    most_replicas = MAX_FLUID_REPLICAS if sc.fidelity == "fluid" else MAX_REPLICAS
    if est.replicas > most_replicas:
        out.append((est.where["replicas"],
                    f"implies {_n(est.replicas)} replicas in all pools (at most {most_replicas:,}); for a larger "
                    f"fleet simulate one shard and set the pool's scale; {HINT}"))
    if est.failure_events > MAX_FAILURE_EVENTS:
        out.append((est.where["failure_events"],
                    f"implies ~{_n(est.failure_events)} failure and repair events (at most "
                    f"{MAX_FAILURE_EVENTS:,}): mtbf + mttr is too short for the duration; {HINT}"))
    return out


def _calibration_problems(sc) -> list[tuple[str, str]]:
    """The fluid tier's calibration runs: one request-level run per grid point and pool, each at
    least ``calibration_duration`` long and with at least ``calibration_requests`` requests."""
    from sim.fluid.capacity import CalibrationSettings

    base = CalibrationSettings()
    points = len(sc.fluid.grid or base.fractions) * len(sc.fleet.pools)
    out = []
    n = sc.fluid.calibration_requests
    if n is not None and points * n > MAX_REQUESTS:
        out.append(("fluid.calibration_requests",
                    f"implies ~{_n(points * n)} requests in {points} calibration runs (at most {MAX_REQUESTS:,}); "
                    f"{HINT}"))
    d = sc.fluid.calibration_duration
    rows = points * float(d) / float(sc.metrics.interval) if d is not None else 0.0
    if rows > MAX_CALIBRATION_ROWS:
        out.append(("fluid.calibration_duration",
                    f"implies {_n(rows)} time-series rows in {points} calibration runs of {float(d):g} s each (at "
                    f"most {MAX_CALIBRATION_ROWS:,} at metrics.interval {float(sc.metrics.interval):g} s); {HINT}"))
    return out


def physical_memory_bytes() -> float:
    """This machine's physical memory (``inf`` where the system does not say)."""
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return math.inf


def max_in_flight(memory_bytes: float | None = None) -> float:
    """Requests a run may hold in the system (waiting or running) before it stops with an error: half of
    the physical memory at :data:`REQUEST_BYTES` each, so that a fleet falling behind without bound
    stops with a message instead of being killed by the system."""
    memory = physical_memory_bytes() if memory_bytes is None else memory_bytes
    return memory / 2 / REQUEST_BYTES


def memory_problems(loaded, memory_bytes: float | None = None) -> list[tuple[str, str]]:
    """``(field, message)`` for state that cannot fit in ``memory_bytes`` (default: this machine's
    physical memory) whatever ``--allow-large`` says: request-level replicas and ``records: all`` rows."""
    sc = loaded.scenario
    if sc.fidelity == "fluid":
        return []
    memory = physical_memory_bytes() if memory_bytes is None else memory_bytes
    est = estimate(loaded)
    out: list[tuple[str, str]] = []
    need = est.replicas * REPLICA_BYTES
    if need > memory:
        out.append((est.where["replicas"],
                    f"implies {_n(est.replicas)} replicas in all pools, ~{_gb(need)} of memory for their state "
                    f"({REPLICA_BYTES:,} bytes each), more than this machine's {_gb(memory)}: even --allow-large "
                    f"cannot run it; simulate one shard and set the pool's scale"))
    rows = est.requests * RECORD_BYTES
    if sc.metrics.records == "all" and rows > memory:
        out.append(("metrics.records",
                    f"all keeps one {RECORD_BYTES}-byte row per request: ~{_n(est.requests)} requests, ~{_gb(rows)}, "
                    f"more than this machine's {_gb(memory)}: even --allow-large cannot run it; use metrics.records: "
                    f"sample or none"))
    return out


def _gb(n_bytes: float) -> str:
    return f"{_n(n_bytes / 1e9)} GB" if n_bytes >= 1e10 else f"{n_bytes / 1e9:.1f} GB"


def refusals(loaded, allow_large: bool | None = None) -> list[tuple[str, str]]:
    """What stops ``loaded`` from running: at ``fidelity: fluid``, what the fluid tier does not model
    (:func:`sim.fluid.unsupported.refused`, so that ``validate`` and a sweep's check say it before any run does);
    then the work limits, or with ``allow_large`` (default: the ``FLEETSIM_ALLOW_LARGE`` variable) only
    what cannot fit in memory."""
    if allow_large is None:
        allow_large = allow_large_from_env()
    out = []
    if loaded.scenario.fidelity == "fluid":
        from sim.fluid.unsupported import refused

        out = [(f, f"{m} (fidelity: fluid)") for f, m in refused(loaded.scenario)]
    out += step_problems(loaded)
    return out + (memory_problems(loaded) if allow_large else work_problems(loaded))


def step_problems(loaded, capacity: float = 1.0) -> list[tuple[str, str]]:
    """``(field, message)`` for each pool whose shortest step (one sequence decoding one token at a
    context of one) takes longer than :data:`MAX_STEP_S`, naming the ``perf`` block it uses; at a
    ``capacity`` other than 1 (:func:`sim.api.run`'s), each step ``1 / capacity`` as long."""
    from sim.perf.base import BatchShape
    from sim.scenario.pool_setup import pool_step_model

    sc = loaded.scenario
    out = []
    for i, p in enumerate(sc.fleet.pools):
        try:
            step = pool_step_model(sc, p, loaded.base_dir)
            t = step.step_time(BatchShape(decode_seqs=1, decode_context_tokens=1)) / capacity
        except (ValueError, OverflowError, ZeroDivisionError):     # (a layout the model cannot use: the run says so)
            continue
        if not t <= MAX_STEP_S:
            where = f"fleet.pools.{i}.perf" if p.perf is not None else "perf"
            inline = "" if isinstance(p.gpu, str) else f" (here or in the inline GPU, fleet.pools.{i}.gpu)"
            at, why = ("", f"a time written in the wrong unit or an efficiency near 0{inline}") if capacity == 1.0 \
                else (f" at capacity {capacity:g} (each step 1/capacity as long)", "give a capacity nearer 1")
            out.append((where, f"pool {p.name}'s shortest step (one sequence decoding one token){at} takes "
                               f"{t:.3g} s, more than {MAX_STEP_S:g} s (11.6 days; no GPU iteration takes "
                               f"days): {why}; the run would not end"))
    return out


def check_work(loaded, allow_large: bool | None = None) -> None:
    """Raise :class:`ScenarioError` when ``loaded`` is past a limit (see :func:`refusals`)."""
    problems = refusals(loaded, allow_large)
    if problems:
        raise ScenarioError(problems, loaded.source)


MONEY_KEYS = ("cost", "cashflow")


def check_money(summary: dict, source: str = "<scenario>") -> None:
    """Raise :class:`ScenarioError` if a money total of a finished run is not a finite number.

    Prices, shards (``scale``) and growth that each pass their checks can still multiply past
    1.8e308; a summary would then show ``null`` where a total should be.
    """
    bad: list[str] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, float) and not math.isfinite(node) and len(bad) < 3:
            bad.append(path)

    for key in MONEY_KEYS:
        walk(summary.get(key), key)
    if bad:
        raise ScenarioError([("economics", f"money totals overflow ({', '.join(bad)} is not a finite number): "
                                           "prices, pool scale, growth or duration are too large together")],
                            source)


def check_points(n_configurations: int, seeds: int, allow_large: bool | None = None,
                 source: str = "sweep", knobs: str = "--grid", most: bool = False) -> None:
    """Refuse a sweep of more than :data:`MAX_SWEEP_POINTS` points before its grid is built (``most``: a
    search, a plan or a saturation search, of up to ``n_configurations``; ``knobs``: the flag that sets
    the configurations)."""
    if allow_large is None:
        allow_large = allow_large_from_env()
    points = n_configurations * max(int(seeds), 1)
    if not allow_large and points > MAX_SWEEP_POINTS:
        where = "--seeds" if seeds > n_configurations else knobs
        plural = "s" if n_configurations != 1 else ""
        raise ScenarioError([(where, f"{'up to ' if most else ''}{_n(n_configurations)} configuration{plural} x {seeds:,} "
                                     f"seeds = {_n(points)} "
                                     f"points (at most {MAX_SWEEP_POINTS:,}); {HINT}")], source)
