"""Points (one resolved scenario + one seed) and running a batch of them with resume.

Replication ``i`` (0-based) of a configuration runs with seed ``scenario seed + i`` (a configuration
whose knob sets ``seed``: that seed + i), so a one-seed sweep reproduces ``fleetsim run`` exactly and adding seeds only adds points. A point may
run at a scaled capacity (``capacity``: every step time ``1 / capacity`` as long, what the capacity
band of ``plan`` and ``saturation`` asks for; :func:`at_capacity`), keyed apart from the same point
at the model's capacity.
Each finished point is stored as it completes (see :mod:`sim.planning.store`); points already
stored without error are not run again. Before a batch runs, every trace file its points replay is
read once (:func:`check_traces`): a bad row is refused then, rather than failing every point the
same way. A runner that raises, or a worker that dies, gives a
record with ``error`` set and no summary; the batch goes on.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.errors import InputError, ScenarioError, WorkloadFileError, clipped
from sim.planning.executors import SerialExecutor, WorkerLost, whole_count
from sim.planning.knobs import labels
from sim.planning.order import NO_ESTIMATE, Work, expected_work, longest_first
from sim.planning.source import ScenarioSource
from sim.planning.store import PointStore, json_default, point_key


@dataclass(frozen=True)
class Point:
    """One simulation to run: configuration overrides, replication number, seed, resolved dict, the
    capacity scale it runs at (1: the model's), and the trace files it replays (``traces``: ``(field
    path, path as written, path resolved, format)`` each, known when the configuration was validated) and the
    work it is expected to take (``work``: :func:`sim.planning.order.expected_work`; it orders a batch's
    submission, nothing else)."""

    config: tuple[str, ...]
    replication: int
    seed: int
    scenario: dict
    key: str
    capacity: float = 1.0
    traces: tuple[tuple[str, str, str, str], ...] = ()
    work: Work = NO_ESTIMATE


def at_capacity(points: Sequence[Point], capacity: float) -> list[Point]:
    """``points`` run at ``capacity`` times the model's capacity, each keyed by its plain key and the
    capacity (a stored run at one capacity is never taken for one at another); at 1, the points
    themselves, so a plain run's stored points are reused.

        >>> p = Point(("a=1",), 0, 1, {"a": 1}, "k")
        >>> at_capacity([p], 1.0)[0] is p, at_capacity([p], 0.97)[0].key != "k"
        (True, True)
    """
    if capacity == 1.0:
        return list(points)
    return [dataclasses.replace(p, capacity=float(capacity),
                                key=point_key({"point": p.key, "capacity": float(capacity)}, p.seed))
            for p in points]


def _whole(value: Any, default: int) -> int:
    """A configuration's seed as the scenario reads it: a whole number, ``2.0`` too (``--grid
    seed=1.0,2.0`` is seeds 1 and 2, as ``fleetsim run --set seed=2.0`` runs at 2); ``default`` for
    anything else (none given).

        >>> _whole(3, 1), _whole(2.0, 1), _whole(None, 1), _whole(True, 1)
        (3, 2, 1, 1)
    """
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return default


def seed_count(seeds: object) -> int:
    """``seeds``, the replications of each configuration a Python caller gave :func:`sim.sweep`,
    :func:`sim.plan` or :func:`sim.saturation`, as a whole number >= 1 (``2.0`` is 2); a
    :class:`TypeError` naming it for anything else (``True``, ``"2"``, ``None``, ``1.5``), a
    :class:`ValueError` below 1 (:func:`~sim.planning.executors.whole_count`).

        >>> seed_count(3), seed_count(2.0)
        (3, 2)
        >>> seed_count(1.5)
        Traceback (most recent call last):
        ...
        TypeError: seeds: give a whole number of replications such as 3 (got 1.5, of type float)
    """
    return whole_count(seeds, "seeds", "give a whole number of replications such as 3")


def make_points(source: ScenarioSource, configs: Sequence[tuple[str, ...]], seeds: int,
                validate: bool = True, scaled: bool = False) -> list[Point]:
    """Points for every configuration × replication (configuration-major order); ``scaled``: some
    will run at a scaled capacity (the capacity band), which every configuration must allow.

    Raises :class:`ScenarioError` listing every problem of every configuration, each message
    naming the configuration it came from.
    """
    if seeds < 1:
        raise ValueError(f"seeds: must be >= 1 (got {seeds})")
    from sim.paths import resolve_path
    from sim.workload.validation import trace_files

    failed: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    resolved: list[tuple[dict, tuple, Work]] = []
    warned: dict[tuple[type, str], list[tuple[str, ...]]] = {}
    for config in configs:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                data = source.resolve(config)
                traces: tuple = ()
                work = NO_ESTIMATE
                if validate:
                    loaded = source.validate(data, scaled)
                    traces = tuple((where, path, str(resolve_path(path, loaded.base_dir)), format)
                                   for where, path, format in trace_files(loaded.scenario.workload))
                    work = expected_work(loaded)
        except ScenarioError as exc:
            for problem in exc.problems:
                failed.setdefault(problem, []).append(tuple(config))
            continue
        finally:
            for w in caught:
                warned.setdefault((w.category, str(w.message)), []).append(tuple(config))
        resolved.append((data, traces, work))
    _warn_once(warned, len(configs))
    if failed:
        raise ScenarioError([(path, msg + where) for (path, msg), bad in failed.items()
                             for where in _wheres(_unique(bad), len(configs))], source.source)
    knob_seeded = [c for c in configs if any(o.partition("=")[0].strip() == "seed" for o in c)]
    if knob_seeded and seeds > 1:       # the knob's values and the replications would be one column, grouped wrong
        raise InputError(f"--seeds: {seeds} replications of each configuration, and a knob that sets seed "
                         f"({', '.join(knob_seeded[0])}): give the seeds one way, --seeds {seeds} (seed, seed + 1, "
                         f"...) or the knob's values with --seeds 1")
    points = []
    for config, (data, traces, work) in zip(configs, resolved):
        # the runner sets the seed, so the scenario's own seed field is not part of the key; a configuration
        # that sets it (--grid seed=1,2) starts its replications there (each ran at the base seed, unsaid)
        unseeded = {k: v for k, v in data.items() if k != "seed"}
        first = _whole(data.get("seed"), source.seed)
        for i in range(seeds):
            seed = first + i
            points.append(Point(tuple(config), i, seed, data, point_key(unseeded, seed), traces=traces,
                                work=work))
    return points


def check_traces(points: Sequence[Point], store: PointStore, source: str,
                 checked: set[tuple[str, str]] | None = None) -> None:
    """Before any of ``points`` runs: read every trace file the points not already done in ``store``
    replay, each distinct file once (and none in ``checked``, the ``(resolved path, format)`` pairs
    read before, to which each file read is added), as a run reads it. The first bad row (or unreadable
    file) raises :class:`~sim.errors.WorkloadFileError` said of the scenario file ``source``, naming the
    field, the trace file, its line and column: every point replaying the file would fail the same way,
    so none runs. Points validated without the simulator carry no traces and are not looked at."""
    from sim.workload.traces import read_trace

    checked = set() if checked is None else checked
    for p in points:
        todo = [t for t in p.traces if (t[2], t[3]) not in checked]
        if not todo or store.done(p.key) is not None:
            continue
        for where, path, resolved, format in todo:
            if (resolved, format) in checked:
                continue
            try:
                read_trace(resolved, format, display_path=path)
            except InputError as exc:
                raise WorkloadFileError([(where, str(exc))], source) from None
            checked.add((resolved, format))


def _where(config: Sequence[str]) -> str:
    return f" (with {', '.join(clipped(c, 120) for c in config)})" if config else ""


def _wheres(configs: list[tuple[str, ...]], n_configs: int) -> list[str]:
    """Where a problem arose: once for all when every one of several configurations has it, else each."""
    if n_configs > 1 and len(configs) == n_configs:
        return [f" (every one of the {n_configs} configurations)"]
    return [_where(c) for c in configs]


def _warn_once(warned: dict[tuple[type, str], list[tuple[str, ...]]], n_configs: int) -> None:
    """Issue each warning the configurations' checks gave once: as it is when every configuration
    gave it, else once per configuration that did, naming it (as problems do)."""
    for (category, text), configs in warned.items():
        unique = _unique(configs)
        for config in ([()] if len(unique) == n_configs else unique):
            warnings.warn(text + _where(config), category, stacklevel=3)


def _unique(items: list) -> list:
    seen, out = set(), []
    for it in items:
        if it not in seen:
            seen.add(it)
            out.append(it)
    return out


def run_point(runner: Callable[[dict, int], dict], scenario: dict, seed: int,
              capacity: float = 1.0) -> dict[str, Any]:
    """Run one point in a worker (at ``capacity``: the runner's ``capacity`` argument); never raises:
    failures come back as ``{"error": "..."}``."""
    t0 = time.perf_counter()
    try:
        summary = runner(scenario, seed) if capacity == 1.0 else runner(scenario, seed, capacity=capacity)
        summary = json.loads(json.dumps(summary, default=json_default))
        return {"summary": summary, "error": None, "wall_s": time.perf_counter() - t0}
    except Exception as exc:
        text = str(exc).strip().replace("\n", "; ")
        return {"summary": None, "error": f"{type(exc).__name__}: {text}",
                "wall_s": time.perf_counter() - t0}


def run_points(points: Sequence[Point], runner: Callable[[dict, int], dict], *,
               executor: SerialExecutor | None = None, store: PointStore | None = None,
               progress: bool = False, desc: str = "points", ahead: Sequence[Sequence[Point]] = (),
               kept: dict[str, dict] | None = None) -> list[dict[str, Any]]:
    """Run the points not already in ``store``; return one record per point, in point order.

    A record: ``key, config {path: value}, overrides, replication, seed, summary (or None),
    error (or None), wall_s, reused`` (True when it came from the store).

    ``ahead``: groups of points a search may ask for next (a bisection's next probe). When some points
    are to run and the executor has workers they leave idle (its ``slots``), as many whole groups as fit
    run in the same batch; their results go to ``kept`` (point key -> result), neither stored nor
    returned. A later call asking for a kept point takes its result as if it ran then (stored, not
    reused): the same bytes, as a run is the same whatever process runs it, without its wait. A kept
    point never asked for leaves no trace in the results (nor in the progress bar, which counts the
    runs asked for, those taken from ``kept`` shown done at once). A worker that dies breaks the process pool
    and every point of its batch reads "worker lost": the points asked for then run again without
    any run ahead, as they would have run (so one that dies on its own is lost again).
    """
    executor = executor or SerialExecutor()
    store = store or PointStore(None)
    kept = {} if kept is None else kept
    records: list[dict | None] = [None] * len(points)
    todo: dict[str, list[int]] = {}
    for i, p in enumerate(points):
        done = store.done(p.key)
        if done is not None:
            records[i] = {**_base(p), "summary": done["summary"], "error": None,
                          "wall_s": done.get("wall_s", math.nan), "reused": True}
        else:
            todo.setdefault(p.key, []).append(i)
    # handed to an executor of several workers longest expected first (sim.planning.order), to one that runs a
    # call at a time in grid order (no order is faster there, and an interrupted sweep keeps its first points);
    # results go by key and index
    keys = [k for k in todo if k not in kept]
    if not getattr(executor, "one_at_a_time", False):
        keys = longest_first(keys, lambda k: points[todo[k][0]].work)
    extra = _spare(ahead, getattr(executor, "slots", 1) - len(keys), {*todo, *kept}, store) if keys else []
    tasks = [(runner, points[todo[k][0]].scenario, points[todo[k][0]].seed, points[todo[k][0]].capacity)
             for k in keys] + [(runner, p.scenario, p.seed, p.capacity) for p in extra]
    if len(tasks) > 1:
        getattr(runner, "preload", lambda: None)()     # imported once here, before a process pool forks

    def finish(key: str, result: dict) -> None:
        first = points[todo[key][0]]
        store.put({**_base(first), **result})
        for i in todo[key]:
            records[i] = {**_base(points[i]), **result, "reused": False}

    taken = [k for k in todo if k in kept]      # run ahead by an earlier call: done, shown as done at once
    for k in taken:
        finish(k, kept.pop(k))
    # the runs asked for, not those ahead; those run ahead count, so that a search's round whose runs were
    # all done ahead still shows (a plan's progress read "round 1", "round 3", ..., its round 2 unsaid)
    bar = _progress(len(keys) + len(taken), desc) if progress and (keys or taken) else None
    if bar is not None and taken:
        bar.update(len(taken))
    lost: list[str] = []        # asked for, in a batch with points run ahead, their worker lost
    try:
        for j, result in executor.map_unordered(run_point, tasks):
            if isinstance(result, WorkerLost) and extra and j < len(keys):
                lost.append(keys[j])    # a worker running ahead may have died and broken the pool
            elif isinstance(result, WorkerLost):
                result = {"summary": None, "error": f"worker lost: {result.message}", "wall_s": math.nan}
            if j >= len(keys):      # run ahead: kept for a later call (a failure is not: it runs again if asked)
                if isinstance(result, dict) and not result.get("error"):
                    kept[extra[j - len(keys)].key] = result
            elif keys[j] not in lost:
                finish(keys[j], result)
            if bar is not None and j < len(keys):
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if lost:        # run again as without the points run ahead: what dies on its own is lost again
        again = [i for k in lost for i in todo[k]]
        for i, rec in zip(again, run_points([points[i] for i in again], runner, executor=executor, store=store,
                                            progress=progress, desc=desc, kept=kept)):
            records[i] = rec
    return [r for r in records if r is not None]


def _spare(ahead: Sequence[Sequence[Point]], slots: int, taken: set[str], store: PointStore) -> list[Point]:
    """The points of the first groups of ``ahead`` that fit, whole, in ``slots`` idle workers: each
    point not ``taken`` (to run, or kept) nor done in ``store``, each key once."""
    out: list[Point] = []
    seen = set(taken)
    for group in ahead:
        new = []
        for p in group:
            if p.key not in seen and store.done(p.key) is None:
                seen.add(p.key)
                new.append(p)
        if len(out) + len(new) > slots:
            break
        out.extend(new)
    return out


def _base(p: Point) -> dict[str, Any]:
    base = {"key": p.key, "config": labels(p.config), "overrides": list(p.config),
            "replication": p.replication, "seed": p.seed}
    if p.capacity != 1.0:
        base["capacity"] = p.capacity
    return base


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm      # a widget in Jupyter (with ipywidgets), text on a terminal

    return tqdm(total=total, desc=desc, file=sys.stderr, unit="run", dynamic_ncols=True)
