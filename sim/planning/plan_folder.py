"""A plan's result folder: ``scenario.json`` (the base scenario, for the report's header), ``plan.csv``
(every configuration evaluated), ``plan.json`` (the answer, each group's minimum, every evaluation;
written last, so a folder with it is whole) and the Pareto figure of cost against p99 TTFT.

The search itself is :mod:`sim.planning.capacity`; a sweep writes its folder in :mod:`sim.planning.sweep`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.metrics.band import capacities
from sim.planning.knobs import columns
from sim.planning.source import ScenarioSource
from sim.planning.store import drop_earlier_result
from sim.planning.table import write_csv, write_json

if TYPE_CHECKING:
    from sim.planning.capacity import PlanResult


def write_plan_folder(out: Path, result: PlanResult, source: ScenarioSource, shown: Sequence[str] = (),
                      figures: bool = True) -> None:
    """The folder ``out`` of a finished plan: a rerun's earlier result dropped first
    (:func:`~sim.planning.store.drop_earlier_result`), then ``scenario.json``, ``plan.csv`` and
    ``plan.json`` (:func:`write_plan`), and with ``figures`` the Pareto figure."""
    drop_earlier_result(out, "plan")
    write_json(out / "scenario.json", source.data)     # the base, for the report's header
    write_plan(out, result, source.source, shown)      # plan.json last
    if figures:
        from sim.report.sweep_figures import pareto_figure, row_index

        evaluated, best, robust, obj = result.evaluated, result.best, result.robust, result.objective
        pareto_figure(evaluated, out / "figures" / "pareto",
                      label_keys=[k.path for k in result.knobs],
                      feasible=[r["feasible"] for r in evaluated], best=row_index(evaluated, best),
                      x_metric=obj if obj.startswith("cost") else "cost.compute_usd",
                      title="plan: cost vs p99 TTFT",
                      robust=None if robust is None else (row_index(evaluated, robust), result.band),
                      constraints=[str(c) for c in result.constraints])


def write_plan(out: Path, result: PlanResult, source: str = "<scenario>",
               shown: Sequence[str] | None = None) -> None:
    """``plan.json`` (answer, per-group minima, every evaluation) and ``plan.csv`` in ``out``; with
    ``shown``, the columns ``--columns`` named, as ``shown_columns`` (``columns`` is the knobs' columns); with
    ``one_price_note``, the note that GPU types competed at one price per GPU-hour (:mod:`sim.planning.one_price`)."""
    write_csv(out / "plan.csv", result.evaluated)
    write_json(out / "plan.json", {
        "scenario": source,
        "objective": result.objective,
        "constraints": [str(c) for c in result.constraints],
        "seeds": result.seeds,
        "knobs": [k.path for k in result.knobs],
        "columns": columns(result.knobs),
        **({"shown_columns": [str(c) for c in shown]} if shown else {}),
        "best": result.best,
        "groups": list(result),
        "evaluated": result.evaluated,
        "unmet": result.unmet,
        **({"capacity_band": {"pct": result.band, "capacity": capacities(result.band)["slower"]},
            "robust": result.robust, "robust_groups": result.robust_groups} if result.band is not None else {}),
        **({"skipped": result.skipped} if result.skipped else {}),
        **({"one_price_note": note} if (note := result.one_price_note) is not None else {}),
    })
