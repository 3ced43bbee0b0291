"""Capacity search: the cheapest configuration that meets every constraint.

``plan(scenario, ["fleet.pools.0.replicas=1..64", "fleet.pools.0.gpu=a100-80gb,h100-sxm"],
constraints=["latency.ttft.p99<=2.0", "slo.attainment>=0.99"])``

How it searches
---------------
* The first integer-range knob (``lo..hi``) is the *monotone* knob: adding replicas (or any
  capacity) is assumed never to break a constraint that held, and never to make the run
  cheaper. For it the search bisects: first ``hi`` (if even ``hi`` fails, that group has no
  answer), then the smallest feasible value in ``lo..hi`` in ``⌈log2(hi-lo+1)⌉`` more probes.
* Every other knob (GPU type, batching policy, another range) is enumerated: each combination
  is a *group* with its own bisection. The bisections of all groups advance in lock step, so
  one round's probes × seeds run in parallel on the executor.
* Each probe runs ``seeds`` replications and a constraint must hold at the unfavourable end of
  the 95 % confidence interval (see :mod:`sim.planning.constraints`), so the answer is
  confirmed by replications, not by a lucky mean.
* The answer is the group minimum with the lowest mean objective (``cost`` =
  ``cost.compute_usd``; any numeric summary key may be given instead); the other groups'
  minima are the runners-up (one per GPU type when the GPU is a knob).

Without a range knob every configuration is evaluated and the cheapest feasible one chosen.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.planning.constraints import Constraint, parse_constraint
from sim.planning.evaluator import Evaluator, check_metrics, judge
from sim.planning.executors import SerialExecutor, executor_for
from sim.planning.knobs import Knob, columns, configurations, parse_knobs
from sim.planning.runner import Runner, resolve_runner
from sim.planning.source import ScenarioSource
from sim.planning.table import write_csv, write_json

OBJECTIVES = {"cost": "cost.compute_usd"}
"""Objective names accepted besides a dotted summary key (always minimised)."""


@dataclass
class Bisection:
    """Smallest ``v`` in ``lo..hi`` with ``feasible(v)``, assuming feasibility is monotone.

    Call :meth:`probe` for the next value to evaluate (None when finished) and :meth:`update`
    with its verdict. ``answer`` is the smallest feasible value, or None if ``hi`` fails.

        >>> b = Bisection(1, 64)
        >>> while (v := b.probe()) is not None:
        ...     b.update(v, v >= 23)
        >>> b.answer, b.probes
        (23, 7)
    """

    lo: int
    hi: int
    answer: int | None = None
    probes: int = 0
    _checked_hi: bool = False
    _done: bool = False

    def probe(self) -> int | None:
        if self._done:
            return None
        if not self._checked_hi:
            return self.hi
        if self.lo >= self.hi:
            self.answer = self.hi
            self._done = True
            return None
        return (self.lo + self.hi) // 2

    def update(self, value: int, feasible: bool) -> None:
        self.probes += 1
        if not self._checked_hi:
            self._checked_hi = True
            if not feasible:
                self._done = True
            return
        if feasible:
            self.hi = value
        else:
            self.lo = value + 1


class PlanResult(list):
    """One row per group (the cheapest feasible configuration of each), best first.

    Attributes
    ----------
    best : dict or None
        The answer's row (None when no configuration meets every constraint).
    evaluated : list of dict
        Every configuration evaluated, with ``feasible`` and per-constraint judged values.
    constraints : list of Constraint
    objective : str
        The dotted summary key minimised.
    """

    def __init__(self, rows, best, evaluated, constraints, objective, knobs, seeds, out=None):
        super().__init__(rows)
        self.best = best
        self.evaluated = evaluated
        self.constraints = constraints
        self.objective = objective
        self.knobs = knobs
        self.seeds = seeds
        self.out = out

    def to_dataframe(self, evaluated: bool = False):
        """The rows (or every evaluated configuration) as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.evaluated if evaluated else list(self))


def _objective_key(objective: str) -> str:
    return OBJECTIVES.get(objective, objective)


def plan(scenario: Any, vary: Mapping[str, Sequence[Any]] | Sequence[str], *,
         constraints: Sequence[str | Constraint] = (), objective: str = "cost", seeds: int = 1,
         overrides: Sequence[str] = (), executor: str | SerialExecutor = "local",
         workers: int | None = None, scheduler: str | None = None, out: Path | str | None = None,
         runner: Runner | None = None, progress: bool = False, figures: bool = True,
         validate: bool | None = None) -> PlanResult:
    """Cheapest configuration meeting every constraint (see the module docstring).

    Parameters are those of :func:`sim.planning.sweep` plus ``constraints`` (strings such as
    ``"latency.ttft.p99<=2.0"``) and ``objective`` (``"cost"`` or a summary key, minimised).
    """
    source = ScenarioSource.from_any(scenario, overrides)
    knobs = parse_knobs(vary)
    cons = [c if isinstance(c, Constraint) else parse_constraint(c) for c in constraints]
    obj = _objective_key(objective)
    runner, validate = resolve_runner(runner, validate, source.source, source.base_dir)
    out_path = Path(out) if out is not None else None
    with executor_for(executor, workers, scheduler) as ex:
        evaluate = Evaluator(source, runner, ex, seeds, out_path, validate, progress, "plan")
        group_rows = _search(knobs, cons, obj, evaluate)
    evaluated = list(evaluate.cache.values())
    group_rows.sort(key=lambda r: (not r["feasible"], _num(r.get(f"{obj}.mean"))))
    best = group_rows[0] if group_rows and group_rows[0]["feasible"] else None
    result = PlanResult(group_rows, best, evaluated, cons, obj, knobs, seeds, out_path)
    if out_path is not None:
        write_plan(out_path, result, source.source)
        write_json(out_path / "scenario.json", source.data)     # the base, for the report's header
        if figures:
            from sim.report.sweep_figures import pareto_figure

            best_i = next((i for i, r in enumerate(evaluated)
                           if best is not None and r["overrides"] == best["overrides"]), None)
            pareto_figure(evaluated, out_path / "figures" / "pareto",
                          label_keys=[k.path for k in knobs],
                          feasible=[r["feasible"] for r in evaluated], best=best_i,
                          x_metric=obj if obj.startswith("cost") else "cost.compute_usd",
                          title="plan: cost vs p99 TTFT")
    return result


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.inf


def _search(knobs: list[Knob], cons: list[Constraint], obj: str,
            evaluate: Evaluator) -> list[dict[str, Any]]:
    metrics = [c.metric for c in cons] + [obj]
    mono = next((k for k in knobs if k.is_range), None)
    others = [k for k in knobs if k is not mono]
    groups = configurations(others)
    if mono is None:
        rows = [judge(r, cons) for r in evaluate(groups)]
        check_metrics(rows, metrics)
        for r, g in zip(rows, groups):
            r["group"] = list(g)
        return rows
    order = columns(knobs)

    def config(group: tuple[str, ...], value: int) -> tuple[str, ...]:
        parts = dict(o.split("=", 1) for o in group)
        parts[mono.path] = str(value)
        return tuple(f"{p}={parts[p]}" for p in order)

    searches = {g: Bisection(mono.low, mono.high) for g in groups}
    checked = False
    while True:
        probes = {g: b.probe() for g, b in searches.items()}
        probes = {g: v for g, v in probes.items() if v is not None}
        if not probes:
            break
        rows = evaluate([config(g, v) for g, v in probes.items()])
        if not checked:
            check_metrics(rows, metrics)
            checked = True
        for (g, v), row in zip(probes.items(), rows):
            searches[g].update(v, judge(row, cons)["feasible"])
    result = []
    for g, b in searches.items():
        value = b.answer if b.answer is not None else mono.high
        row = dict(evaluate([config(g, value)])[0])
        row = judge(row, cons)
        row["group"] = list(g)
        row["probes"] = b.probes
        result.append(row)
    return result


def write_plan(out: Path, result: PlanResult, source: str = "<scenario>") -> None:
    """``plan.json`` (answer, per-group minima, every evaluation) and ``plan.csv`` in ``out``."""
    write_csv(out / "plan.csv", result.evaluated)
    write_json(out / "plan.json", {
        "scenario": source,
        "objective": result.objective,
        "constraints": [str(c) for c in result.constraints],
        "seeds": result.seeds,
        "knobs": [k.path for k in result.knobs],
        "columns": columns(result.knobs),
        "best": result.best,
        "groups": list(result),
        "evaluated": result.evaluated,
    })
