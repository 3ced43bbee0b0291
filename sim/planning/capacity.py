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

A group whose layout cannot hold the model (one GPU per replica for a 70B model) is skipped before the
search and said (``PlanResult.skipped``, ``plan.json``'s ``skipped``); the plan answers from the others,
and is refused with the groups' reasons only when none can (:mod:`sim.planning.unfit`).

The capacity band (``capacity_band=PCT``)
-----------------------------------------
Near saturation a few per cent of capacity flip a verdict, and the step-time model's throughput is
itself a few per cent off (:mod:`sim.metrics.band`). With the band every configuration evaluated is
also run on replicas with ``1 - PCT/100`` times the model's capacity (the same seeds; stored apart,
keyed by the capacity), its constraints judged there too (``capacity_band.slower.feasible``), and
each group has a second bisection, on that *robust* verdict. Each probe serves both bisections: a
configuration is run at both capacities, and each search reads its own verdict of every configuration
a round tried (:meth:`Bisection.learn`). As capacity never hurts, the robust answer is at or above the
point answer (replication noise aside: each answer is what its own verdicts say). ``PlanResult.best`` stays the point answer;
``PlanResult.robust`` is the cheapest configuration robustly feasible, both ranked by the objective
at the model's capacity.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import clipped, text_list
from sim.limits import check_points
from sim.metrics.band import SLOWER, capacities, check_pct, robust_feasible
from sim.planning.constraints import Constraint, distinct_bounds, parse_constraint
from sim.planning.evaluator import Evaluator, check_column_names, check_metric_names, check_metrics, judge, unmet
from sim.planning.executors import SerialExecutor, executor_for, worker_count
from sim.planning.knobs import Knob, KnobError, columns, configurations, labels, parse_knobs
from sim.planning.one_price import one_price_note
from sim.planning.points import seed_count
from sim.planning.runner import Runner, check_scales_capacity, resolve_runner
from sim.planning.same_value import check_spellings
from sim.planning.source import ScenarioSource
from sim.planning.plan_folder import write_plan, write_plan_folder  # noqa: F401 (write_plan re-exported)
from sim.planning.store import claim_folder, holds_out
from sim.planning.table import named_columns
from sim.planning.unfit import unfit_groups

OBJECTIVES = {"cost": "cost.compute_usd", "cost_with_commits": "cost.compute_with_commits_usd"}
"""Objective names accepted besides a dotted summary key (always minimised): ``cost_with_commits`` is
the billed compute plus the compute commits' shortfalls, what compute costs in cash under a commit."""


def objective_names(default: str = "cost") -> str:
    """The objective names (:data:`OBJECTIVES`) as a hint lists them, each with the summary key it stands for.

        >>> objective_names()
        'cost (= cost.compute_usd, the default) or cost_with_commits (= cost.compute_with_commits_usd)'
    """
    names = [f"{n} (= {k}{', the default' if n == default else ''})" for n, k in OBJECTIVES.items()]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


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
        """The verdict of the value :meth:`probe` asked for."""
        self.probes += 1
        self.learn(value, feasible)

    def learn(self, value: int, feasible: bool) -> None:
        """A verdict on any value of the range (one another search probed): a feasible value is a
        new upper end (so the top need not be tried), an infeasible one below the upper end raises
        the lower end; a verdict contradicting what is known is ignored (the known one is kept).

            >>> b = Bisection(1, 64)
            >>> b.learn(40, True); b.learn(20, False); b.probe()
            30
        """
        if self._done:
            return
        if feasible and self.lo <= value <= self.hi:
            self.hi = value
            self._checked_hi = True
        elif not feasible and value >= self.lo:
            if value >= self.hi and not self._checked_hi:
                self._done = True          # the top fails: no answer
            elif value < self.hi:
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
    robust : dict or None
        With the capacity band, the cheapest configuration meeting every constraint with the model's
        capacity ``band`` per cent lower (None when none does, or without the band).
    robust_groups : list of dict
        With the band, the cheapest robustly feasible configuration of each group, best first.
    band : float or None
        The band's width, per cent.
    unmet : list of dict
        The constraints no configuration evaluated meets, each with the best value one gave it
        (:func:`sim.planning.evaluator.unmet`): a target out of reach of every configuration tried.
    skipped : list of dict
        The groups skipped because their layout cannot hold the model (:mod:`sim.planning.unfit`), each
        ``{"group", "problems", "reason"}``; the plan answers from the others.
    runs, reused : int
        The runs (configurations × seeds, at each capacity) the search asked for, and how many of
        them a rerun into the same folder found stored.
    """

    def __init__(self, rows, best, evaluated, constraints, objective, knobs, seeds, out=None,
                 robust=None, robust_groups=(), band=None, runs=(0, 0), skipped=()):
        super().__init__(rows)
        self.skipped = list(skipped)
        self.runs, self.reused = runs
        self.unmet = unmet(evaluated, constraints)
        self.robust = robust
        self.robust_groups = list(robust_groups)
        self.band = band
        self.best = best
        self.evaluated = evaluated
        self.constraints = constraints
        self.objective = objective
        self.knobs = knobs
        self.seeds = seeds
        self.out = out

    @property
    def one_price_note(self) -> str | None:
        """The note when GPU types competed at one price per GPU-hour (the cost ranking then counts GPUs
        alone: :func:`sim.planning.one_price.one_price_note`); None otherwise."""
        return one_price_note(self.evaluated, [p for k in self.knobs for p in k.paths])

    def to_dataframe(self, evaluated: bool = False):
        """The rows (or every evaluated configuration) as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.evaluated if evaluated else list(self))


def constraint_list(constraints: Any) -> list:
    """``constraints`` as a Python caller gave them: a list of texts (``"latency.ttft.p99<=2"``) or
    :class:`~sim.planning.constraints.Constraint` objects, ``None`` for none; a :class:`TypeError` naming
    the argument for one text on its own (iterated, it was a constraint per character) or an item of
    another kind."""
    if constraints is None:
        return []
    if isinstance(constraints, (str, bytes)) or not hasattr(constraints, "__iter__"):
        text_list(constraints, "constraints", "latency.ttft.p99<=2")     # (raises, saying what to give)
    items = list(constraints)
    for c in items:
        if not isinstance(c, (str, Constraint)):
            raise TypeError(f"constraints: each item is a text such as 'latency.ttft.p99<=2' (or a Constraint) "
                            f"(got {clipped(repr(c), 60)}, of type {type(c).__name__})")
    return items


def objective_key(objective: str) -> str:
    """The summary key an objective names: ``cost`` (:data:`OBJECTIVES`) or the key itself, spaces
    around it (a key pasted with them) dropped."""
    objective = objective.strip()
    return OBJECTIVES.get(objective, objective)


#: the last part of a field under ``workload`` that is load, not capacity: more of it only ever breaks a
#: latency constraint (an arrival rate, a trace's rate multiple, a closed loop's client count, a burst's or
#: an offline job's request count, the traffic's monthly growth)
LOAD_KEYS = ("rate", "mean_rate", "rates", "rate_scale", "concurrency", "count", "monthly")
#: the arrival keys more of which is burstier traffic at the same rate (a compound_poisson clump's mean size, a
#: gamma process's coefficient of variation): like load, more of them only ever makes latency worse
BURST_KEYS = ("clump_mean", "cv")


def check_bisected_knob(knobs: Sequence[Knob]) -> None:
    """:class:`KnobError` when the first range (the one :func:`plan` bisects, assuming more of it never
    breaks a constraint that held) is load under ``workload`` (:data:`LOAD_KEYS`) or its burstiness
    (:data:`BURST_KEYS`): more requests per second, more clients or bigger clumps only ever make latency worse,
    so the bisection would find "no answer" past the first failing value, or the range's lowest value as the "cheapest". ``fleetsim saturation`` finds the most
    load within the SLO; values listed (``16,64,256``) are each evaluated.

        >>> check_bisected_knob(parse_knobs(["workload.arrival.concurrency=1..512"]))
        Traceback (most recent call last):
        ...
        sim.planning.knobs.KnobError: workload.arrival.concurrency=1..512: plan bisects its first range assuming more of it never breaks a constraint, and more of workload.arrival.concurrency is more load (it only ever makes latency worse); for the most load within the SLO use fleetsim saturation, or list the values (as workload.arrival.concurrency=1,512) to evaluate each
        >>> check_bisected_knob(parse_knobs(["fleet.pools.0.replicas=1..8", "workload.arrival.rate=1..9"]))
        >>> check_bisected_knob(parse_knobs(["workload.arrival.count=1..64"]))
        Traceback (most recent call last):
        ...
        sim.planning.knobs.KnobError: workload.arrival.count=1..64: plan bisects its first range assuming more of it never breaks a constraint, and more of workload.arrival.count is more load (it only ever makes latency worse); for the most load within the SLO use fleetsim saturation, or list the values (as workload.arrival.count=1,64) to evaluate each
    """
    first = next((k for k in knobs if k.is_range), None)
    if first is None:
        return
    for path in first.paths:
        parts = path.split(".")
        last = parts[-2] if len(parts) > 2 and parts[-1].isdigit() else parts[-1]
        if parts[0] == "workload" and last in LOAD_KEYS + BURST_KEYS:
            more = "more load" if last in LOAD_KEYS else "burstier arrivals at the same rate"
            raise KnobError(f"{path}={first.low}..{first.high}: plan bisects its first range assuming more of it "
                            f"never breaks a constraint, and more of {path} is {more} (it only ever makes "
                            f"latency worse); for the most load within the SLO use fleetsim saturation, or list "
                            f"the values (as {path}={first.low},{first.high}) to evaluate each")


@holds_out("plan")
def plan(scenario: Any, vary: Mapping[str, Sequence[Any]] | Sequence[str], *,
         constraints: Sequence[str | Constraint] = (), objective: str = "cost", seeds: int = 1,
         overrides: Sequence[str] = (), executor: str | SerialExecutor = "local",
         workers: int | None = None, scheduler: str | None = None, out: Path | str | None = None,
         runner: Runner | None = None, progress: bool = False, figures: bool = True,
         validate: bool | None = None, capacity_band: float | None = None,
         columns: Sequence[str] | None = None) -> PlanResult:
    """Cheapest configuration meeting every constraint (see the module docstring).

    Parameters are those of :func:`sim.planning.sweep` plus ``constraints`` (strings such as
    ``"latency.ttft.p99<=2.0"``) and ``objective`` (``"cost"`` or a summary key, minimised).
    ``capacity_band`` (per cent, ``0 < pct <= 50``) also finds the cheapest configuration meeting
    them with the model's capacity that much lower (``PlanResult.robust``; module docstring).
    ``columns`` (``fleetsim plan --columns``: summary keys and planner columns, a text split at commas)
    are kept in ``plan.json`` as ``shown_columns`` for the report page's table; nothing runs differently.
    """
    shown = named_columns(columns)
    pct = None if capacity_band is None else check_pct(capacity_band, "capacity_band")
    source = ScenarioSource.from_any(scenario, overrides)
    seeds = seed_count(seeds)
    workers = worker_count(workers)
    knobs = parse_knobs(vary, "vary")
    check_bisected_knob(knobs)
    cons = distinct_bounds([c if isinstance(c, Constraint) else parse_constraint(c)
                            for c in constraint_list(constraints)])
    if not isinstance(objective, str):
        raise TypeError(f"objective: give a text: {objective_names()}, or a summary key such as 'latency.ttft.p99' "
                        f"(got {clipped(repr(objective), 60)}, of type {type(objective).__name__})")
    obj = objective_key(objective)
    varied = [p for k in knobs for p in k.paths]
    check_metric_names([obj, *(c.metric for c in cons)], source.data, varied)
    check_column_names(shown, source.data, varied, band=pct is not None)
    check_points(most_configurations(knobs, pct is not None), seeds, source=source.source, knobs="--vary",
                 most=True)     # before a group is built: enumerated knobs multiply
    check_spellings(source, knobs)      # 60 and 1m: one configuration, not two
    runner, validate = resolve_runner(runner, validate, source.source, source.base_dir)
    if pct is not None:
        check_scales_capacity(runner)
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        claim_folder(out_path, "plan", figures=figures, source=source)     # before any point runs: another command's folder is refused
    with executor_for(executor, workers, scheduler) as ex:
        evaluate = Evaluator(source, runner, ex, seeds, out_path, validate, progress, "plan", "plan", pct is not None)
        judged = Judged(evaluate, cons, pct)
        group_rows, robust_rows, skipped = _search(knobs, cons, obj, judged)
        evaluated = judged([tuple(r["overrides"]) for r in judged.evaluate.rows()])    # all stored: nothing runs
    ranked = lambda key: (lambda r: (not key(r), _num(r.get(f"{obj}.mean"))))
    group_rows.sort(key=ranked(lambda r: r["feasible"]))
    best = group_rows[0] if group_rows and group_rows[0]["feasible"] else None
    robust_rows.sort(key=ranked(robust_feasible))
    robust = robust_rows[0] if pct is not None and robust_rows and robust_feasible(robust_rows[0]) else None
    result = PlanResult(group_rows, best, evaluated, cons, obj, knobs, seeds, out_path,
                        robust=robust, robust_groups=robust_rows if pct is not None else [], band=pct,
                        runs=(judged.evaluate.runs, judged.evaluate.reused), skipped=skipped)
    if out_path is not None:
        write_plan_folder(out_path, result, source, shown, figures)
    return result


@dataclass
class Judged:
    """Configurations evaluated and judged: at the model's capacity, and with the band at ``1 - pct/100``
    times it too (in the same batch), the slower side's row, judged, under :data:`SLOWER`."""

    evaluate: Evaluator
    constraints: list[Constraint]
    pct: float | None = None

    def __call__(self, configs: Sequence[tuple[str, ...]],
                 ahead: Sequence[tuple[str, ...]] = ()) -> list[dict[str, Any]]:
        """Judged rows of ``configs``; ``ahead``: configurations likely asked for next, run on workers
        the batch leaves idle (:meth:`Evaluator.at`)."""
        caps = (1.0,) if self.pct is None else (1.0, capacities(self.pct)["slower"])
        rows = self.evaluate.at([(c, cap) for cap in caps for c in configs],
                                ahead=[[(c, cap) for cap in caps] for c in ahead])
        if self.pct is None:
            return [judge(dict(r), self.constraints) for r in rows]
        slower = caps[1]
        out = []
        for config, point, slow in zip(configs, rows[:len(configs)], rows[len(configs):]):
            row = judge(dict(point), self.constraints)
            same = {"overrides", *labels(config)}        # the configuration's own columns, once
            row.update({SLOWER + k: v for k, v in judge(dict(slow), self.constraints).items() if k not in same})
            row.update({"capacity_band.pct": self.pct, SLOWER + "capacity": slower})
            out.append(row)
        return out


def most_configurations(knobs: Sequence[Knob], band: bool = False) -> int:
    """The most configurations a plan over ``knobs`` runs (counted, not built): every group (a
    combination of the enumerated knobs) times the rounds of its bisection, ``1 + ceil(log2(hi - lo + 1))``
    (the top, then the halvings), twice with the capacity band (each at two capacities).

        >>> from sim.planning.knobs import parse_knobs
        >>> most_configurations(parse_knobs(["r=1..64", "gpu=a,b"]))      # 2 groups x (1 + 6) rounds
        14
        >>> most_configurations(parse_knobs(["gpu=a,b,c"]), band=True)
        6
    """
    mono = next((k for k in knobs if k.is_range), None)
    groups = math.prod(len(k.values) for k in knobs if k is not mono)
    rounds = 1 + math.ceil(math.log2(mono.high - mono.low + 1)) if mono is not None else 1
    return groups * rounds * (2 if band else 1)


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.inf


def _search(knobs: list[Knob], cons: list[Constraint], obj: str,
            judged: Judged) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Each group's cheapest feasible row, its cheapest robustly feasible row (the same rows without
    the band), and the groups skipped as their layout cannot hold the model (:mod:`sim.planning.unfit`)."""
    metrics = [c.metric for c in cons] + [obj]
    mono = next((k for k in knobs if k.is_range), None)
    others = [k for k in knobs if k is not mono]
    groups = configurations(others)
    order = columns(knobs)

    def config(group: tuple[str, ...], value: int) -> tuple[str, ...]:
        parts = dict(o.split("=", 1) for o in group)
        parts[mono.path] = str(value)
        return tuple(f"{p}={parts[p]}" for p in order)

    skipped = unfit_groups(groups, mono, config, judged.evaluate.refused, judged.evaluate.source.source)
    gone = {tuple(s["group"]) for s in skipped}
    groups = [g for g in groups if g not in gone]
    if mono is None:
        rows = judged(groups)
        check_metrics(rows, metrics)
        for r, g in zip(rows, groups):
            r["group"] = list(g)
        return rows, list(rows), skipped

    # per group: the point's bisection, and with the band the robust one (on the slower side's verdict)
    searches = {g: [Bisection(mono.low, mono.high)] + ([Bisection(mono.low, mono.high)] if judged.pct else [])
                for g in groups}
    verdicts = (lambda r: r["feasible"], robust_feasible)
    checked = False
    rounds = most_configurations([mono])     # the top, then the bisection
    desc = judged.evaluate.desc
    for round_ in itertools.count(1):
        asked = {(g, i): v for g, bs in searches.items() for i, b in enumerate(bs) if (v := b.probe()) is not None}
        if not asked:
            break
        judged.evaluate.desc = f"{desc} round {round_} of at most {rounds}"     # the progress bar's label
        tried = list(dict.fromkeys((g, v) for (g, _), v in asked.items()))
        rows = judged([config(g, v) for g, v in tried], ahead=[config(g, v) for g, v in next_probes(searches, asked)])
        if not checked:
            check_metrics(rows, metrics)
            checked = True
        for (g, v), row in zip(tried, rows):
            for i, b in enumerate(searches[g]):
                if asked.get((g, i)) == v:
                    b.update(v, verdicts[i](row))
        for (g, v), row in zip(tried, rows):     # then what the other search of the group learnt
            for i, b in enumerate(searches[g]):
                if asked.get((g, i)) != v:
                    b.learn(v, verdicts[i](row))
    judged.evaluate.desc = desc
    result: list[list[dict[str, Any]]] = [[], []]
    for g, bs in searches.items():
        for i, b in enumerate(bs):
            value = b.answer if b.answer is not None else mono.high
            row = dict(judged([config(g, value)])[0])
            row["group"] = list(g)
            row["probes"] = b.probes
            result[i].append(row)
    return result[0], result[1] if judged.pct else list(result[0]), skipped


def next_probes(searches: Mapping[Any, Sequence[Bisection]],
                asked: Mapping[tuple[Any, int], int]) -> list[tuple[Any, int]]:
    """``(group, value)`` of the probes each search asks for next, should the probe it is asked now
    (``asked``: ``(group, index) -> value``) be feasible, then should it not, in that order: what a
    round runs ahead on idle workers. Which comes true does not change the answer, only how soon.

        >>> b = Bisection(1, 16)
        >>> next_probes({"g": [b]}, {("g", 0): b.probe()})     # the top feasible: 8; infeasible: none
        [('g', 8)]
        >>> b.update(16, True); b.update(8, True)
        >>> next_probes({"g": [b]}, {("g", 0): b.probe()})     # 4 feasible: 2; infeasible: 6
        [('g', 2), ('g', 6)]
    """
    out: list[tuple[Any, int]] = []
    for verdict in (True, False):
        for (g, i), v in asked.items():
            b = dataclasses.replace(searches[g][i])
            b.update(v, verdict)
            if (n := b.probe()) is not None and (g, n) not in out:
                out.append((g, n))
    return out
