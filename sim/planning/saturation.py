"""Saturation: the highest arrival rate a fleet sustains within its SLO.

The rate at ``workload.arrival.rate`` (requests/s) is varied; a rate is *sustained* when
``slo.attainment`` is at least ``attainment`` (default 0.99) at the lower end of its 95 %
confidence interval (or the value itself with one seed), any extra constraints hold, and no
replication's backlog grew (``stability.stable``: :func:`sim.planning.evaluator.judge`).

Search: *bracketing* from the scenario's own rate (or ``start``) — double while sustained,
halve while not — until a sustained rate ``lo`` and an unsustained ``hi = 2·lo`` are known;
then *bisection* until ``(hi - lo) / lo <= rel_tol``. The answer is ``lo`` (a rate that was
observed to be sustained), with ``hi`` reported as the upper bracket. Attainment is assumed to
fall as the rate rises.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.planning.constraints import Constraint, parse_constraint
from sim.planning.evaluator import Evaluator, check_metrics, judge
from sim.planning.executors import SerialExecutor, executor_for
from sim.planning.knobs import scalar
from sim.planning.runner import Runner, resolve_runner
from sim.planning.source import ScenarioSource
from sim.planning.table import write_csv, write_json

RATE_PATH = "workload.arrival.rate"


@dataclass
class SaturationResult:
    """``rate``: highest sustained rate found (None if even the lowest probe failed);
    ``upper``: lowest rate seen to fail (None if none failed); ``probes``: every row evaluated
    in probe order (``rate``, ``feasible``, mean/CI columns)."""

    rate: float | None
    upper: float | None
    attainment: float
    probes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "upper": self.upper, "attainment": self.attainment,
                "probes": self.probes}


def _fmt(rate: float) -> str:
    return f"{rate:.6g}"


def saturation(scenario: Any, *, attainment: float = 0.99, constraints: Sequence[str] = (),
               rate_path: str = RATE_PATH, start: float | None = None, rel_tol: float = 0.02,
               max_probes: int = 40, seeds: int = 1, overrides: Sequence[str] = (),
               executor: str | SerialExecutor = "local", workers: int | None = None,
               scheduler: str | None = None, out: Path | str | None = None,
               runner: Runner | None = None, progress: bool = False,
               validate: bool | None = None) -> SaturationResult:
    """Highest arrival rate (requests/s) sustained within the SLO; see the module docstring."""
    if not 0 < attainment <= 1:
        raise ValueError(f"attainment must be in (0, 1] (got {attainment})")
    if rel_tol <= 0:
        raise ValueError(f"rel_tol must be > 0 (got {rel_tol})")
    source = ScenarioSource.from_any(scenario, overrides)
    cons = [Constraint("slo.attainment", ">=", attainment)]
    cons += [parse_constraint(c) for c in constraints]
    if start is None:
        start = _current_rate(source, rate_path)
    if not start > 0:
        raise ValueError(f"start rate must be > 0 (got {start})")
    runner, validate = resolve_runner(runner, validate, source.source, source.base_dir)
    out_path = Path(out) if out is not None else None
    probes: list[dict[str, Any]] = []
    with executor_for(executor, workers, scheduler) as ex:
        evaluate = Evaluator(source, runner, ex, seeds, out_path, validate, progress, "saturation")

        def ok(rate: float) -> bool:
            row = judge(evaluate([(f"{rate_path}={_fmt(rate)}",)])[0], cons)
            if not probes:
                check_metrics([row], [c.metric for c in cons])
            probes.append({"rate": float(_fmt(rate)), **row})
            return row["feasible"]

        lo: float | None = None
        hi: float | None = None
        rate = float(_fmt(start))
        if ok(rate):
            lo = rate
            while len(probes) < max_probes:
                rate = float(_fmt(lo * 2))
                if ok(rate):
                    lo = rate
                else:
                    hi = rate
                    break
        else:
            hi = rate
            while len(probes) < max_probes:
                rate = float(_fmt(hi / 2))
                if ok(rate):
                    lo = rate
                    break
                hi = rate
        if lo is not None and hi is not None:
            while (hi - lo) / lo > rel_tol and len(probes) < max_probes:
                mid = float(_fmt((lo + hi) / 2))
                if mid in (lo, hi):
                    break
                if ok(mid):
                    lo = mid
                else:
                    hi = mid
    result = SaturationResult(lo, hi, attainment, probes)
    if out_path is not None:
        write_csv(out_path / "saturation.csv", probes)
        write_json(out_path / "scenario.json", source.data)     # the base, for the report's header
        write_json(out_path / "saturation.json", {"scenario": source.source, "rate_path": rate_path,
                                                  "seeds": seeds, **result.as_dict()})
    return result


def _current_rate(source: ScenarioSource, path: str) -> float:
    node: Any = source.data
    try:
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
    except (KeyError, IndexError, ValueError, TypeError):
        from sim.errors import ScenarioError

        raise ScenarioError([(path, "saturation needs an arrival rate here (set it, or pass a "
                                    "start rate); got no such field")], source.source) from None
    value = scalar(str(node)) if isinstance(node, str) else node
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        from sim.errors import ScenarioError

        raise ScenarioError([(path, f"must be a number of requests/s (got {node!r})")], source.source)
    return float(value)
