"""Cross-field checks that a schema cannot express: run-wide settings, references between pools, the
router and disaggregation, prompts no pool can hold, step-time files; each pool's own checks (catalog
entries, settings, network, layout, memory) are in :mod:`sim.scenario.pool_checks`.

It sits above the domain layers (it asks ``sim.perf`` for the memory plan, ``sim.workload`` and
``sim.economics`` to validate their blocks); see the layers in docs/architecture.md.

Returns ``(field.path, message)`` problems; :func:`sim.scenario.load.scenario_from_dict` raises them
together as one :class:`~sim.errors.ScenarioError`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import warnings

from sim.economics import validate as validate_economics
from sim.economics.calendar import LAST_YEAR   # the last calendar year a run may touch
from sim.errors import ScenarioWarning, given
from sim.humanize import plural
from sim.scenario.class_pins import pin_problems, pin_warnings
from sim.scenario.extremes import cooldown_warnings, crowd_warnings, interval_warnings, slo_warnings
from sim.scenario.catalog import get_model, gpu_family
from sim.scenario.perf import kernel_floor_warnings
from sim.scenario.pool_checks import MAX_NIC_GBPS, MAX_NVLINK_DOMAIN_GPUS, MIN_IB_GBPS
from sim.scenario.pool_checks import pool_catalog, pool_memory_problems, pool_settings_problems, pool_warnings
from sim.scenario.pool_setup import pool_model, served_context_limit
from sim.scenario.unknown_names import catalog_msg, model_error, near_names
from sim.scenario.workload import BurstArrival
from sim.workload import validate as validate_workload
from sim.workload.closed import scenario_problems as closed_loop_problems
from sim.workload.closed import scenario_warnings as closed_loop_warnings
from sim.workload.lengths import fewest_tokens

if TYPE_CHECKING:
    from sim.scenario.load import LoadedScenario


def semantic_problems(loaded: "LoadedScenario") -> list[tuple[str, str]]:
    """Every problem of a loaded scenario that its schema cannot see, as ``(field, message)`` in a
    fixed order: run-wide settings, each pool (catalog entries, batching, autoscale, failures,
    parallel layout, memory), the router (and its classes pinned to pools), disaggregation, the
    workload, the economics."""
    from sim.errors import ScenarioError

    sc = loaded.scenario
    problems = _run_problems(sc)
    default_model = None
    try:
        default_model = get_model(sc.model)
    except ScenarioError as exc:  # an inline architecture with problems of its own
        problems.extend(exc.problems)
    except (KeyError, ValueError) as exc:
        problems.append(("model", model_error(sc.model, exc)))

    names = [p.name for p in sc.fleet.pools]
    seen: set[str] = set()
    notes = kernel_floor_warnings(sc.perf, "perf")
    models: dict[int, object] = {}
    for i, pool in enumerate(sc.fleet.pools):
        where = f"fleet.pools.{i}"
        if pool.name in seen:
            problems.append((f"{where}.name", f"pool names must be unique (got {pool.name!r} twice)"))
        seen.add(pool.name)
        gpu, model = pool_catalog(pool, where, default_model, problems)
        if model is not None:
            models[i] = model
        problems.extend(pool_settings_problems(sc, pool, where, gpu))
        if model is not None and gpu is not None:
            problems.extend(pool_memory_problems(sc, i, pool, model, gpu, loaded.memory_plans, notes))
        notes.extend(pool_warnings(sc, pool, where, gpu))
        if pool.perf is not None:
            notes.extend(kernel_floor_warnings(pool.perf, f"{where}.perf"))
    notes.extend(pin_warnings(sc))
    notes.extend(_central_priority_warnings(sc))
    notes.extend(_unused_priority_warnings(sc))
    notes.extend(closed_loop_warnings(sc))
    notes.extend(_patience_warnings(sc.workload))
    notes.extend(_late_burst_warnings(sc.workload, sc.duration))
    notes.extend(_sparse_trace_warnings(sc.workload, sc.duration, loaded.base_dir))
    notes.extend(cooldown_warnings(sc) + crowd_warnings(sc))
    if not problems and sc.fidelity == "request":   # (a pool refused may have no step to compare with)
        notes.extend(interval_warnings(loaded) + slo_warnings(loaded))
    for field, msg in notes:
        warnings.warn(f"{field}: {msg}", ScenarioWarning, stacklevel=2)
    problems.extend(_perf_file_problems(sc, loaded.base_dir))
    problems.extend(_router_problems(sc.fleet.router, names))
    problems.extend(_batcher_problems(sc.fleet))
    problems.extend(_patience_problems(sc))
    problems.extend(_room_problems(sc))
    problems.extend(closed_loop_problems(sc))
    problems.extend(pin_problems(sc, loaded.memory_plans))
    problems.extend(_disaggregation_problems(sc, names))
    problems.extend(validate_workload(sc.workload, loaded.base_dir))
    if models and len(models) == len(sc.fleet.pools):     # each pool's served length: its memory plan's, if made
        plans = loaded.memory_plans
        served = [served_context_limit(pool, models[i], plan)
                  for i, pool in enumerate(sc.fleet.pools)
                  for plan in [plans[i][1] if i in plans and plans[i][0] is pool else None]]
        problems.extend(_prompt_fit_problems(sc.workload, *max(served, key=lambda s: s[0])))
    lines = [c.revenue_line for c in sc.workload.classes if getattr(c, "revenue_line", None)]
    problems.extend(validate_economics(sc.economics, names, sc.duration, sc.start, revenue_lines=lines))
    return problems


def _prompt_fit_problems(wl, longest: int, limit: str = "max_model_len") -> list[tuple[str, str]]:
    """A prompt distribution (the workload's, or a class's) whose every draw is longer than the
    longest context any pool serves (:func:`~sim.scenario.pool_setup.served_context`: ``max_model_len``, or
    an ``sglang`` pool's shorter cache): every such request would be rejected, as vLLM refuses a prompt
    longer than max_model_len and SGLang one longer than its cache, and the run would measure nothing of it."""
    sources = [(f"workload.classes.{i}.prompt_tokens" if c.prompt_tokens else "workload.prompt_tokens",
                c.prompt_tokens or wl.prompt_tokens) for i, c in enumerate(wl.classes or [])] \
        or [("workload.prompt_tokens", wl.prompt_tokens)]
    out = []
    for where, dist in dict(sources).items():
        least = fewest_tokens(dist)
        if least is not None and least > longest:
            out.append((where, f"every prompt is at least {least:,} tokens, longer than the longest context a "
                               f"pool serves ({longest:,} tokens, {limit}): every request would be rejected"))
    return out


def _run_problems(sc) -> list[tuple[str, str]]:
    """Run-wide settings: the horizon, time-series rows, a fleet that can serve, the warm-up."""
    import datetime as _dt

    problems: list[tuple[str, str]] = []
    try:
        last_day = sc.start + _dt.timedelta(seconds=sc.duration)
        if last_day.year > LAST_YEAR:
            raise OverflowError
    except OverflowError:
        if sc.start.year > LAST_YEAR:       # (not the duration's fault: 60 s from 9999-12-31 'ran past 9000')
            problems.append(("start", f"must be in the year {LAST_YEAR} or before, where the calendar of the cash "
                                      f"flows ends (got {sc.start.isoformat()})"))
        else:
            problems.append(("duration", f"runs past the year {LAST_YEAR} from start {sc.start.isoformat()} "
                                         f"(got {sc.duration:g} s)"))
    samples = sc.duration / sc.metrics.interval
    if samples > 5e6 and not problems:     # a duration past the last year is said once, not as rows too
        rows = f"{samples:,.0f}" if samples < 1e15 else f"{samples:.3g}"       # (1e-300 s: not 300 digits)
        problems.append(("metrics.interval", f"would record {rows} time-series rows over the duration "
                                             f"(at most 5,000,000): use at least {sc.duration / 5e6:g} s"))
    if all(p.replicas == 0 and p.autoscale is None for p in sc.fleet.pools):
        problems.append(("fleet.pools", "every pool has replicas: 0 and no autoscale: nothing would serve requests"))
    if sc.warmup >= sc.duration:
        problems.append(("warmup", f"must be < duration (got warmup={sc.warmup:g} s, duration={sc.duration:g} s)"))
    if sc.fleet.frontend_s > MAX_FRONTEND_S:       # 1e308 s: every TTFT inf, numpy's overflow warning printed
        problems.append(("fleet.frontend_s", f"must be at most {MAX_FRONTEND_S:g} s (an hour; a serving front end, "
                                             f"HTTP, tokenization and network, takes milliseconds: a time in "
                                             f"milliseconds written as seconds?) (got {sc.fleet.frontend_s:g} s)"))
    return problems


#: the longest ``fleet.frontend_s`` taken, seconds: as the longest measured step calibrate takes
MAX_FRONTEND_S = 3600.0


def _late_burst_warnings(wl, duration: float) -> list[tuple[str, str]]:
    """A burst at or after the end of the run, where arrivals stop: none of its requests is served (legal,
    a fleet held without traffic is priced all the same, but said: ``validate`` counted them as work)."""
    procs = [("workload.arrival", wl.arrival)] + [(f"workload.classes.{i}.arrival", c.arrival)
                                                 for i, c in enumerate(wl.classes)]
    return [(f"{where}.at", f"{p.at:g} s is at or after the end of the run ({duration:g} s), where arrivals stop: "
                            f"none of the burst's {p.count:,} {plural(p.count, 'request')} arrives or is served; "
                            "set at below duration to serve them")
            for where, p in procs if isinstance(p, BurstArrival) and p.at >= duration]


def _sparse_trace_warnings(wl, duration: float, base_dir) -> list[tuple[str, str]]:
    """A replayed trace thinned (``rate_scale`` under 1, or shrinking growth) to fewer than one expected
    request inside the run (:func:`~sim.workload.arrivals.trace_requests_expected`): legal, a run may be
    unlucky, but it most likely sees no arrival and measures nothing, as a burst after the end of the run
    (:func:`_late_burst_warnings`). The file is read only for a thinned trace: unthinned, a trace with a row
    inside the run (else the run refuses it) brings at least one. A rate under every process's floor is
    refused instead (:func:`~sim.workload.arrivals.trace_rate_problem`), as is a file that cannot be read."""
    from sim.paths import resolve_path
    from sim.scenario.workload import TraceArrival
    from sim.workload.arrivals import trace_rate_problem, trace_requests_expected
    from sim.workload.traces import read_trace

    procs = [("workload.arrival", wl.arrival)] + [(f"workload.classes.{i}.arrival", c.arrival)
                                                 for i, c in enumerate(wl.classes)]
    shrinking = wl.growth is not None and wl.growth.monthly < 0
    out = []
    for where, p in procs:
        if not isinstance(p, TraceArrival) or (p.rate_scale >= 1 and not shrinking):
            continue
        try:
            data = read_trace(resolve_path(p.path, base_dir), p.format, skip_bad_rows=True, display_path=p.path)
        except Exception:  # noqa: BLE001 - a file that cannot be read: the workload check and the run say so
            continue
        if trace_rate_problem(data.arrival_s, p) or not data.arrival_s.size:
            continue
        expected = trace_requests_expected(data.arrival_s, p, duration, wl.growth)
        if 0 < expected < 1:
            out.append((f"{where}.rate_scale",
                        f"{p.path}: rate_scale {p.rate_scale:g} brings {expected:.3g} requests on average into the "
                        f"{duration:g} s run, fewer than one: the run most likely sees no arrival and measures "
                        f"nothing; rate_scale at least {p.rate_scale / expected:.6g} brings one on average"))
    return out


def _perf_file_problems(sc, base_dir) -> list[tuple[str, str]]:
    """The step-time tables and calibration files the ``perf`` blocks name, read as a run reads them
    (relative to the scenario's folder): each one that cannot be read, by the field naming it. A
    calibration file fitted with another kernel set, KV sharing, GPU or precision than its block runs is a
    warning."""
    from sim.errors import InputError
    from sim.paths import resolve_path

    def read(kind: str, name: str, at: str, perf, gpus: dict[str, list[str]]) -> None:   # the readers import
        if kind == "path":                                                                  # scipy: only when named
            from sim.perf.table import read_table
            read_table(_perf_file(name, base_dir, "step-time table"))
        else:
            from sim.perf import kernels_for
            from sim.perf.calibration import dtype_mismatch, gpu_mismatch, kv_sharing_mismatch, load_calibration
            from sim.perf.kernels import kernel_mismatch
            cal = load_calibration(_perf_file(name, base_dir, "calibration file"))
            for note in (kernel_mismatch(cal.kernels, kernels_for(perf)),
                         kv_sharing_mismatch(cal.attention_kv_sharing, perf.attention_kv_sharing),
                         dtype_mismatch(cal, perf.weight_dtype, perf.kv_dtype),
                         *(gpu_mismatch(cal.gpu, gpu, f"pool {', '.join(pools)}") for gpu, pools in gpus.items())):
                if note:
                    warnings.warn(f"{at}.calibration: {name} {note}", ScenarioWarning, stacklevel=2)

    def pools_on(block_pools) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in block_pools:
            out.setdefault(gpu_family(p.gpu), []).append(p.name)
        return out

    blocks = [("perf", sc.perf, pools_on(p for p in sc.fleet.pools if p.perf is None))]
    blocks += [(f"fleet.pools.{i}.perf", p.perf, pools_on([p])) for i, p in enumerate(sc.fleet.pools)
               if p.perf is not None]
    problems = []
    for where, perf, gpus in blocks:
        named = []
        if getattr(perf, "path", None) is not None:          # a table, and the roofline outside its grid
            named.append(("path", where, perf.path))
            where, perf = f"{where}.roofline", perf.roofline
        if getattr(perf, "calibration", None) is not None:
            named.append(("calibration", where, perf.calibration))
        for kind, at, name in named:
            try:
                read(kind, name, at, perf, gpus)
            except InputError as exc:       # the file named as written, as a trace is (not the path it resolved to)
                text, resolved = str(exc), str(resolve_path(name, base_dir))
                problems.append((f"{at}.{kind}", name + text[len(resolved):] if text.startswith(resolved + ":")
                                 else text))
    return problems


def _perf_file(name: str, base_dir, what: str):
    """The path of the file a ``perf`` block names (relative to the scenario's folder); a missing file, a
    folder or a device refused as a missing trace is (:mod:`sim.workload.validation`), named as written."""
    from sim.errors import InputError
    from sim.paths import resolve_path

    resolved = resolve_path(name, base_dir)
    try:
        if resolved.is_dir():
            raise InputError(f"{given(name)} is a folder, not a {what} (paths are relative to the scenario's folder)")
        if resolved.exists() and not resolved.is_file():        # /dev/zero, a pipe: never ends
            raise InputError(f"{given(name)} is not a regular file (a device, pipe or socket cannot be a {what})")
        if not resolved.is_file():
            raise InputError(f"{what} not found: {given(name)} (paths are relative to the scenario's folder)")
    except OSError as exc:      # a name too long for the file system, say
        raise InputError(f"cannot open {what} {given(name)} ({exc.strerror or exc})") from None
    return resolved


def _router_problems(r, names: list[str]) -> list[tuple[str, str]]:
    """The weighted and spillover routers' pool names, weights and threshold."""
    problems: list[tuple[str, str]] = []
    if r.policy == "weighted":
        if not r.weights:
            problems.append(("fleet.router.weights", "required for the weighted router: pool name -> weight"))
        else:
            for k, w in r.weights.items():
                if k not in names:
                    problems.append((f"fleet.router.weights.{k}", catalog_msg("pool", k, names)))
                if w < 0:
                    problems.append((f"fleet.router.weights.{k}", f"must be >= 0 (got {w})"))
            if sum(max(w, 0) for w in r.weights.values()) <= 0:
                problems.append(("fleet.router.weights", "at least one weight must be > 0"))
    if r.policy == "spillover":
        for key in ("primary", "overflow"):
            v = getattr(r, key)
            if v is None:
                problems.append((f"fleet.router.{key}", "required for the spillover router"))
            elif v not in names:
                problems.append((f"fleet.router.{key}", catalog_msg("pool", v, names)))
        if r.threshold is None:
            problems.append(("fleet.router.threshold", "required for the spillover router"))
        if r.primary is not None and r.primary == r.overflow:
            problems.append(("fleet.router.overflow", f"must differ from primary (got {r.overflow!r} for both)"))
    return problems


def _central_priority_warnings(sc) -> list[tuple[str, str]]:
    """``batching.policy: priority`` on some pools but not all behind ``router: central_queue``, with
    classes of different priorities: the fleet's queue, where requests wait, then stays FCFS."""
    pools = sc.fleet.pools
    fcfs = [p.name for p in pools if p.batching.policy != "priority"]
    if (sc.fleet.router.policy != "central_queue" or sc.fleet.disaggregated is not None or len(fcfs) == len(pools)
            or not fcfs or len({c.priority for c in sc.workload.classes}) < 2):
        return []
    i = next(i for i, p in enumerate(pools) if p.batching.policy == "priority")
    return [(f"fleet.pools.{i}.batching.policy",
             f"priority orders only this pool's replica queues, which router central_queue keeps nearly empty; "
             f"the fleet's queue, where requests wait, takes them by class priority only when every pool's policy "
             f"is priority, and {plural(len(fcfs), 'pool')} {', '.join(map(given, fcfs))} "
             f"{'is' if len(fcfs) == 1 else 'are'} not, so the classes are served first come, first served: "
             f"give every pool policy: priority, or none")]


def _unused_priority_warnings(sc) -> list[tuple[str, str]]:
    """Classes of different priorities, and no pool whose ``batching.policy`` is ``priority``: every
    queue is then first come, first served, and the priorities order nothing."""
    if len({c.priority for c in sc.workload.classes}) < 2 or any(
            p.batching.policy == "priority" for p in sc.fleet.pools):
        return []
    i = next(i for i, c in enumerate(sc.workload.classes) if c.priority != sc.workload.classes[0].priority)
    return [(f"workload.classes.{i}.priority",
             "orders nothing: no pool has policy: priority (fleet.pools[].batching), and every other policy "
             "serves the classes first come, first served; set it on the pools that should take the higher "
             "priorities first")]


def _batcher_problems(fleet) -> list[tuple[str, str]]:
    """A batcher sends each group to one replica the router picks: not with a central queue (no
    replica queues), classes pinned to pools (a group mixes classes) or disaggregation (no router)."""
    r = fleet.router
    if r.batcher is None:
        return []
    out = []
    group = "a batcher sends each group to the one replica the router picks"
    if r.policy == "central_queue":
        out.append(("fleet.router.batcher", f"{group}, and router central_queue keeps no replica queues; use "
                                            "round_robin, random, least_outstanding, weighted or spillover"))
    if r.classes:
        out.append(("fleet.router.batcher", f"{group}, and a group may mix request classes pinned to different "
                                            "pools (fleet.router.classes); remove the pins or the batcher"))
    if fleet.disaggregated is not None:
        out.append(("fleet.router.batcher", "the router, and so its batcher, is not used under "
                                            "fleet.disaggregated; remove one of the two"))
    return out


def _disaggregation_problems(sc, names: list[str]) -> list[tuple[str, str]]:
    """Prefill and decode pools that exist, differ and serve the same model."""
    problems: list[tuple[str, str]] = []
    d = sc.fleet.disaggregated
    if d is not None:
        for key in ("prefill_pool", "decode_pool"):
            v = getattr(d, key)
            if v not in names:
                problems.append((f"fleet.disaggregated.{key}", catalog_msg("pool", v, names)))
        if d.prefill_pool == d.decode_pool:
            problems.append(("fleet.disaggregated.decode_pool", "must differ from prefill_pool"))
        by_name = {p.name: p for p in sc.fleet.pools}
        if d.prefill_pool in by_name and d.decode_pool in by_name:
            mp, md = pool_model(sc, by_name[d.prefill_pool]), pool_model(sc, by_name[d.decode_pool])
            if mp != md:
                problems.append(("fleet.disaggregated.decode_pool",
                                 f"must serve the same model as the prefill pool (got {md!r} and {mp!r})"))
    return problems


# the network limits and near_names lived here before the pool checks had their own module
__all__ = ["MAX_NIC_GBPS", "MAX_NVLINK_DOMAIN_GPUS", "MIN_IB_GBPS", "near_names", "semantic_problems"]


def _patience_problems(sc) -> list[tuple[str, str]]:
    """Clients who give up (``workload.patience_s``, a class's ``patience_s``) leave a replica's or
    the central queue; where else a request waits, or where the run has no such queue, it is refused."""
    wl = sc.workload
    where = next((f for f, v in [("workload.patience_s", wl.patience_s)]
                  + [(f"workload.classes.{i}.patience_s", c.patience_s) for i, c in enumerate(wl.classes)]
                  if v is not None), None)
    if where is None:
        return []
    out = []
    if wl.closed is not None:
        out.append((where, "clients who give up are modelled for open arrivals only: a closed loop's client "
                           "waits for its answer (remove patience_s, or give an open arrival process)"))
    if sc.fleet.router.batcher is not None:
        out.append((where, "a request waiting in fleet.router.batcher cannot give up there: remove the batcher "
                           "or patience_s"))
    if sc.fidelity == "fluid":
        out.append((where, "clients who give up are not modelled by the fluid tier, whose backlog waits however "
                           "long it takes (use fidelity: request, or remove patience_s)"))
    for i, pool in enumerate(sc.fleet.pools):
        if pool.batching.policy == "static":
            out.append((f"fleet.pools.{i}.batching.policy", f"static batching holds requests until a batch fills, "
                                                             f"and clients who give up ({where}) are checked at "
                                                             f"iteration boundaries: use iteration-level batching "
                                                             f"or remove patience_s"))
    return out


def _patience_warnings(wl) -> list[tuple[str, str]]:
    """A patience law (``patience: exponential``) with no ``patience_s`` for it to apply to."""
    out = []
    if wl.patience == "exponential" and wl.patience_s is None \
            and all(c.patience_s is None or c.patience is not None for c in wl.classes):
        out.append(("workload.patience", "has no effect without patience_s (the clients wait however long it "
                                         "takes): set workload.patience_s, or remove patience"))
    for i, c in enumerate(wl.classes):
        if c.patience is not None and c.patience_s is None and wl.patience_s is None:
            out.append((f"workload.classes.{i}.patience", "has no effect without patience_s (the class's clients "
                                                          "wait however long it takes): set its patience_s, or "
                                                          "remove patience"))
    return out


def _room_problems(sc) -> list[tuple[str, str]]:
    """A pool autoscaled on ``queue`` (outstanding requests per replica) behind a waiting room of
    ``max_waiting`` holds at most ``max_waiting + max_num_seqs`` per replica (behind ``central_queue``
    with ``fleet.router.max_waiting: K``, ``max_num_seqs + K / autoscale.min``): a target at or above that
    is never reached, and the pool never scales up however many arrivals the full room refuses
    (refused requests are in no queue). Measured: one replica of max 4, room 4, target 6, offered 3x
    its capacity stayed at 1 replica refusing 66.7 % of the arrivals."""
    out = []
    router = sc.fleet.router
    central = router.max_waiting if router.policy == "central_queue" else None
    for i, pool in enumerate(sc.fleet.pools):
        a = pool.autoscale
        if a is None or a.metric != "queue" or (pool.max_waiting is None and central is None):
            continue
        if pool.max_waiting is not None:
            most, words = pool.max_waiting + pool.batching.max_num_seqs, "max_waiting + max_num_seqs"
        else:   # the central queue's room shared by the pool's replicas, at most when fewest (autoscale.min)
            most = pool.batching.max_num_seqs + central / max(a.min, 1)
            words = "max_num_seqs + fleet.router.max_waiting / autoscale.min"
        if a.target >= most:
            out.append((f"fleet.pools.{i}.autoscale.target",
                        f"a replica holds at most {words} = {most:g} requests, so a queue target of "
                        f"{a.target:g} is never reached and the pool never scales up (arrivals the full room refuses "
                        f"are in no queue): set a target below {most:g}, a larger room, or metric load_factor"))
    return out
