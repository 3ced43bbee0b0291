"""Sweeps: the Cartesian product of knob values × replications, one row per point.

``sweep(scenario, {"fleet.pools.0.replicas": [4, 8, 16]}, seeds=5, out="results/s")`` runs
every configuration with seeds ``scenario seed + 0 .. + 4`` and returns a :class:`SweepResult`:
a list with one flat row per point (knob values, ``replication``, ``seed``, ``error`` and every
summary key flattened with dots; ``wall_seconds`` is left out so that tables are identical
across executors), plus ``.configurations``: one row per configuration with, for every numeric
metric ``m``, ``m.mean``, ``m.ci_low``, ``m.ci_high`` (95 % Student-t interval over the
replications that succeeded; NaN with one seed).

With ``out``, every finished point is stored in ``out/points/`` as it completes, and the end
of the sweep writes ``sweep.csv`` (points), ``sweep_ci.csv`` (configurations), ``sweep.json``
(both, with the knobs and seeds) and figures in ``out/figures/``. Rerunning the same sweep
into the same folder reuses every stored point.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.errors import InputError
from sim.limits import check_points
from sim.metrics.band import check_pct
from sim.planning.executors import SerialExecutor, executor_for, worker_count
from sim.planning.knobs import Knob, configurations, parse_knobs, value_labels
from sim.planning.knobs import columns as knob_columns
from sim.planning.points import Point, check_traces, make_points, run_points, seed_count
from sim.planning.runner import NO_CAPACITY, Runner, SimulationRunner, resolve_runner
from sim.planning.same_value import check_spellings
from sim.planning.source import ScenarioSource
from sim.planning.stats import CONFIDENCE, aggregate, flatten
from sim.planning.store import PointStore, claim_folder, drop_earlier_result, holds_out, point_key
from sim.planning.table import named_columns, write_csv, write_json

EXCLUDED_FROM_TABLE = ("wall_seconds",)
"""Summary keys left out of tables: they differ between runs of the same point."""

NOT_STATISTICS = ("seed", "replication")


class SweepResult(list):
    """One flat row per point (a ``list`` of dicts) with per-configuration statistics.

    Attributes
    ----------
    configurations : list of dict
        One row per configuration: knob values, ``n`` (successful replications), ``errors``,
        ``stable`` (every replication kept up: ``stability.stable``; None when one could not tell), and ``<metric>.mean``, ``<metric>.ci_low``, ``<metric>.ci_high`` per numeric metric.
    knobs : list of Knob
    seeds : int
    out : Path or None
    """

    def __init__(self, rows: Iterable[dict], configurations: list[dict], knobs: Sequence[Knob],
                 seeds: int, out: Path | None = None, records: list[dict] | None = None) -> None:
        super().__init__(rows)
        self.configurations = configurations
        self.knobs = list(knobs)
        self.seeds = seeds
        self.out = out
        self.records = records or []

    @property
    def errors(self) -> list[dict]:
        """Rows of points that failed."""
        return [r for r in self if r.get("error")]

    def to_dataframe(self, configurations: bool = False):
        """The rows (or the configuration statistics) as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.configurations if configurations else list(self))


def point_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """Flat table row of one point record."""
    row: dict[str, Any] = dict(record["config"])
    row["replication"] = record["replication"]
    row["seed"] = record["seed"]
    row["error"] = record.get("error") or ""
    if record.get("summary"):
        for k, v in flatten(record["summary"]).items():
            if k not in EXCLUDED_FROM_TABLE and k not in row:
                row[k] = v
    return row


def configuration_rows(rows: Sequence[Mapping[str, Any]], knob_paths: Sequence[str],
                       confidence: float = CONFIDENCE) -> list[dict[str, Any]]:
    """Group point rows by knob values (first-seen order) into mean/CI rows."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(repr(r.get(p)) for p in knob_paths), []).append(r)
    out = []
    for members in groups.values():
        ok = [m for m in members if not m.get("error")]
        row: dict[str, Any] = {p: members[0].get(p) for p in knob_paths}
        row["n"] = len(ok)
        row["errors"] = len(members) - len(ok)
        row["stable"] = kept_up(ok) if ok else None
        if any("capacity_band.pct" in m for m in ok):
            for side in ("faster", "slower"):
                row[f"capacity_band.{side}.stable"] = kept_up(ok, f"capacity_band.{side}.stability.stable")
        metrics = [{k: v for k, v in m.items() if k not in knob_paths and k not in NOT_STATISTICS}
                   for m in ok]
        _count_absent_reasons(metrics)
        for name, ci in aggregate(metrics, confidence).items():
            row[f"{name}.mean"] = ci.mean
            row[f"{name}.ci_low"] = ci.low
            row[f"{name}.ci_high"] = ci.high
        out.append(row)
    return out


def _count_absent_reasons(metrics: list[dict[str, Any]]) -> None:
    """A reject reason a run's summary does not list (``requests.rejected_by_reason`` and
    ``failures.retries_rejected_by_reason`` name only the reasons that occurred) counted 0 times in that
    run: its mean over the replications counts it so, not the mean over the runs that met it alone. The
    reasons go in in sorted order (``sweep_ci.csv``'s columns: the same bytes in every process).

        >>> m = [{"requests.rejected_by_reason.no_replica": 6}, {"failures.retries_rejected_by_reason.queue_full": 2}]
        >>> _count_absent_reasons(m); m   # doctest: +NORMALIZE_WHITESPACE
        [{'requests.rejected_by_reason.no_replica': 6, 'failures.retries_rejected_by_reason.queue_full': 0},
         {'failures.retries_rejected_by_reason.queue_full': 2, 'requests.rejected_by_reason.no_replica': 0}]
    """
    reasons = {k for m in metrics for k in m if "rejected_by_reason." in k}
    for m in metrics:
        for k in sorted(reasons):
            m.setdefault(k, 0)


def kept_up(points: Sequence[Mapping[str, Any]], key: str = "stability.stable") -> bool | None:
    """Did every replication keep up? False when any backlog grew, None when any run could not tell
    (``stability.verdict`` "cannot tell"), else True (a point stored before stability was reported
    counts as stable). ``key``: the flat key of the verdict (a capacity band side's, e.g.)."""
    states = [m.get(key, True) for m in points]
    return False if any(s is False for s in states) else None if any(s is None for s in states) else True


@holds_out("sweep")
def sweep(scenario: Any, grid: Mapping[str, Sequence[Any]] | Sequence[str], *, seeds: int = 1,
          overrides: Sequence[str] = (), executor: str | SerialExecutor = "local",
          workers: int | None = None, scheduler: str | None = None, out: Path | str | None = None,
          runner: Runner | None = None, progress: bool = False, figures: bool = True,
          validate: bool | None = None, capacity_band: float | None = None,
          columns: Sequence[str] | None = None) -> SweepResult:
    """Run every configuration of ``grid`` with ``seeds`` replications.

    Parameters
    ----------
    scenario : path, dict or Scenario
        The base scenario; ``overrides`` (``"a.b=value"``) are applied to it first.
    grid : mapping or sequence of str
        ``{"fleet.pools.0.replicas": [4, 8], ...}`` or CLI strings ``"fleet.pools.0.replicas=4,8"``
        (``lo..hi`` expands to an inclusive integer range).
    seeds : int
        Replications per configuration; replication ``i`` uses seed ``scenario seed + i``.
    executor : {"local", "serial", "dask"} or an executor object
        ``local`` is a process pool with ``workers`` processes (default: one per core);
        ``dask`` connects to ``scheduler`` or starts a ``LocalCluster``.
    out : path, optional
        Result folder (points stored as they finish; tables and figures at the end).
    runner : callable, optional
        ``runner(scenario_dict, seed) -> summary``; default runs the simulator.
    validate : bool, optional
        Validate every configuration before running (default: when ``runner`` is the simulator).
    capacity_band : float, optional
        Run every point with the capacity band at ±this many per cent of the model's capacity
        (:func:`sim.api.run`): rows gain the ``capacity_band.*`` keys, configurations their means
        and ``capacity_band.<side>.stable``. A band point is stored apart from the same point without it.
    columns : sequence of str, optional
        The columns a reader asked for (``fleetsim sweep --columns``: summary keys and planner column
        names; a text is split at commas), kept in ``sweep.json`` as ``columns`` for the report page's
        table; nothing runs differently.
    """
    from sim.planning.evaluator import check_column_names     # (evaluator builds on this module's rows)

    columns = named_columns(columns)
    seeds = seed_count(seeds)
    workers = worker_count(workers)
    source = ScenarioSource.from_any(scenario, overrides)
    knobs = parse_knobs(grid)
    check_column_names(columns, source.data, [p for k in knobs for p in k.paths], band=capacity_band is not None)
    check_points(math.prod(len(k.values) for k in knobs), seeds, source=source.source)   # before the grid is built
    check_spellings(source, knobs)      # 60 and 1m: one point, not two
    configs = configurations(knobs)
    runner, validate = resolve_runner(runner, validate, source.source, source.base_dir)
    points = make_points(source, configs, seeds, validate=validate, scaled=capacity_band is not None)
    if capacity_band is not None:
        runner, points = banded(runner, points, capacity_band)
    out_path = Path(out) if out is not None else None
    store = PointStore(out_path, command="sweep")
    if out_path is not None:
        claim_folder(out_path, "sweep", figures=figures, source=source)     # before any point runs: another command's folder is refused
    check_traces(points, store, source.source)      # a bad trace row: refused once, not failed by every point
    with executor_for(executor, workers, scheduler) as ex:
        records = run_points(points, runner, executor=ex, store=store, progress=progress,
                             desc="sweep")
    rows = [point_row(r) for r in records]
    result = SweepResult(rows, configuration_rows(rows, knob_columns(knobs)), knobs, seeds, out_path, records)
    if out_path is not None:
        drop_earlier_result(out_path, "sweep")
        write_json(out_path / "scenario.json", source.data)     # the base, for the report's header
        write_sweep(out_path, result, source.source, columns)   # sweep.json last
        if figures:
            from sim.report.sweep_figures import write_sweep_figures

            write_sweep_figures(out_path, result)
    return result


def banded(runner: Runner, points: Sequence[Point], pct: Any) -> tuple[Runner, list[Point]]:
    """The simulator's runner with the capacity band at ``pct`` per cent, and the points keyed apart
    from the same points without it (a stored point without the band is not reused for one with it)."""
    pct = check_pct(pct, "capacity_band")
    if not isinstance(runner, SimulationRunner):
        raise InputError(f"capacity_band: {NO_CAPACITY}")
    return (dataclasses.replace(runner, capacity_band=pct),
            [dataclasses.replace(p, key=point_key({"point": p.key, "capacity_band": pct}, p.seed)) for p in points])


def write_sweep(out: Path, result: SweepResult, source: str = "<scenario>",
                columns: Sequence[str] | None = None) -> None:
    """``sweep.csv``, ``sweep_ci.csv`` and ``sweep.json`` in ``out`` (with ``columns``, when given, as its
    ``columns``: what the report page tabulates)."""
    write_csv(out / "sweep.csv", result)
    write_csv(out / "sweep_ci.csv", result.configurations)
    write_json(out / "sweep.json", {
        "scenario": source,
        "knobs": [{"path": k.path, "paths": list(k.paths), "values": value_labels(k)}
                  for k in result.knobs],
        "seeds": result.seeds,
        "confidence": CONFIDENCE,
        "points": list(result),
        "configurations": result.configurations,
        **({"columns": [str(c) for c in columns]} if columns else {}),
    })
