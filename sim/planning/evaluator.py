"""Evaluate configurations on demand (with replications, caching and resume) for searches.

A search (``plan``, ``saturation``) asks for a few configurations at a time; each is run with
``seeds`` replications on the executor, stored in the point store as it finishes, summarised as
a mean/CI row and cached, so asking again costs nothing and a rerun of a killed search resumes.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.economics.summary_keys import CASHFLOW_KEYS, COST_KEYS, TEXT_KEYS
from sim.errors import ScenarioError
from sim.metrics.names import amount, bound_words, name_of
from sim.metrics.schema import CLASS_BLOCKS, FIXED_KEYS, PER_RUN_KEYS, SUMMARY_BLOCKS, summary_key_problem
from sim.metrics.stability import factor_words
from sim.planning.constraints import Constraint, UnknownMetricError
from sim.planning.executors import SerialExecutor
from sim.planning.knobs import labels
from sim.planning.planner import headroom_fields, headroom_words
from sim.planning.points import at_capacity, check_traces, make_points, run_points
from sim.planning.runner import Runner
from sim.planning.source import ScenarioSource
from sim.planning.stats import MeanCI
from sim.planning.store import PointStore
from sim.planning.sweep import configuration_rows, point_row
from sim.report.planner_columns import COLUMNS as PLANNER_COLUMNS


class Evaluator:
    """Runs configurations (override tuples) with ``seeds`` replications, at the model's capacity or a
    scaled one (the capacity band's sides); rows are cached by configuration and capacity."""

    def __init__(self, source: ScenarioSource, runner: Runner, executor: SerialExecutor,
                 seeds: int, out: Path | None, validate: bool, progress: bool = False,
                 desc: str = "runs", command: str | None = None, scaled: bool = False) -> None:
        self.source = source
        self.runner = runner
        self.executor = executor
        self.seeds = seeds
        self.store = PointStore(out, command)     # (``command``: whose result folder ``out`` is)
        self.validate = validate
        self.scaled = scaled        # some configurations run at a scaled capacity: each must allow it
        self.progress = progress
        self.desc = desc
        self.cache: dict[tuple[tuple[str, ...], float], dict[str, Any]] = {}
        self.kept: dict[str, dict[str, Any]] = {}      # results of points run ahead, by key (:meth:`at`)
        self.point_rows: list[dict[str, Any]] = []
        self.runs = 0           # points asked for, and how many of them came from the store
        self.reused = 0
        self.traces_checked: set[tuple[str, str]] = set()     # the trace files read before a batch ran
        self.warned: set[tuple[type, str]] = set()          # the warnings said (:meth:`_points`)

    def __call__(self, configs: Sequence[tuple[str, ...]], capacity: float = 1.0) -> list[dict[str, Any]]:
        """Mean/CI rows (see :func:`sim.planning.sweep.configuration_rows`) for ``configs`` at ``capacity``."""
        return self.at([(c, capacity) for c in configs])

    def at(self, items: Sequence[tuple[tuple[str, ...], float]],
           ahead: Sequence[Sequence[tuple[tuple[str, ...], float]]] = ()) -> list[dict[str, Any]]:
        """Rows for ``(configuration, capacity)`` pairs, every missing one run in one batch (so a round's
        runs at every capacity share the executor's workers). ``ahead``: groups of pairs likely asked for
        next, run on the workers the batch leaves idle and kept until asked for
        (:func:`~sim.planning.points.run_points`; a configuration that is not valid is not run ahead)."""
        items = [(tuple(c), float(cap)) for c, cap in items]
        todo = [i for i in dict.fromkeys(items) if i not in self.cache]
        if todo:
            configs = list(dict.fromkeys(c for c, _ in todo))
            plain: dict[tuple[str, ...], list] = {}
            for p in self._points(configs):
                plain.setdefault(p.config, []).append(p)
            points = [q for c, cap in todo for q in at_capacity(plain[c], cap)]
            check_traces(points, self.store, self.source.source, self.traces_checked)
            records = run_points(points, self.runner, executor=self.executor, store=self.store,
                                 progress=self.progress, desc=self.desc, ahead=self._ahead(ahead, todo),
                                 kept=self.kept)
            self.runs += len(records)
            self.reused += sum(1 for rec in records if rec.get("reused"))
            by_item: dict[tuple[tuple[str, ...], float], list[dict]] = {}
            for rec in records:
                by_item.setdefault((tuple(rec["overrides"]), rec.get("capacity", 1.0)), []).append(point_row(rec))
            for (config, cap), rows in by_item.items():
                self.point_rows.extend(rows)
                row = configuration_rows(rows, list(labels(config)))[0]
                row["overrides"] = list(config)
                row["error"] = next((r["error"] for r in rows if r.get("error")), "")
                self.cache[(config, cap)] = row
        return [self.cache[i] for i in items]

    def _ahead(self, groups: Sequence[Sequence[tuple[tuple[str, ...], float]]],
               todo: Sequence[tuple[tuple[str, ...], float]]) -> list[list]:
        """The points of each group of ``(configuration, capacity)`` pairs to run ahead (none cached or
        asked for now), made silently: a configuration's warnings are said when it is asked for, and
        one that is not valid (or whose trace files were not read yet) is left out."""
        if getattr(self.executor, "slots", 1) <= 1:
            return []
        out = []
        for group in groups:
            pairs = [(tuple(c), float(cap)) for c, cap in group]
            pairs = [i for i in dict.fromkeys(pairs) if i not in self.cache and i not in todo]
            if not pairs:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    plain = make_points(self.source, list(dict.fromkeys(c for c, _ in pairs)), self.seeds,
                                        validate=self.validate, scaled=self.scaled)
            except Exception:  # noqa: BLE001 - said when (if) the configuration is asked for
                continue
            points = [q for c, cap in pairs for q in at_capacity([p for p in plain if p.config == c], cap)]
            if all((t[2], t[3]) in self.traces_checked for p in points for t in p.traces):
                out.append(points)
        return out

    def _points(self, configs: list[tuple[str, ...]]) -> list:
        """:func:`make_points` of ``configs``, each warning their checks give said once per search: a
        search checks each round's (or probe's) configurations as it goes, and a warning that does not
        depend on the value searched (a closed loop's ramp-up ending after the warm-up, a pool's setting)
        would otherwise be said again at every probe."""
        caught: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                return make_points(self.source, configs, self.seeds, validate=self.validate, scaled=self.scaled)
        finally:        # (said also when a configuration's problems stop the search)
            for w in caught:
                if (w.category, str(w.message)) not in self.warned:
                    self.warned.add((w.category, str(w.message)))
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    def refused(self, configs: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], Any]:
        """The :class:`~sim.errors.ScenarioError` of each of ``configs`` the scenario's checks refuse
        (none without validation), checked silently: a configuration's warnings are said when it runs."""
        if not self.validate:
            return {}
        out = {}
        for config in dict.fromkeys(tuple(c) for c in configs):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.source.validate(self.source.resolve(config), self.scaled)
            except ScenarioError as exc:
                out[config] = exc
        return out

    def rows(self, capacity: float = 1.0) -> list[dict[str, Any]]:
        """Every configuration evaluated at ``capacity``, in the order first asked for."""
        return [row for (_, cap), row in self.cache.items() if cap == capacity]


def ci_of(row: dict[str, Any], metric: str) -> MeanCI:
    """The :class:`MeanCI` of ``metric`` stored in a configuration row (NaN when absent)."""
    nan = float("nan")
    def num(key: str) -> float:
        v = row.get(key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else nan
    return MeanCI(num(f"{metric}.mean"), num(f"{metric}.ci_low"), num(f"{metric}.ci_high"),
                  int(row.get("n", 0)))


def judge(row: dict[str, Any], constraints: Sequence[Constraint]) -> dict[str, Any]:
    """Annotate a configuration row: ``feasible``, per constraint the judged value, and ``why``
    (the reasons it is not feasible, ``""`` when it is).

    A configuration with any failed replication is not feasible (it cannot be confirmed), nor is
    one where any replication did not keep up (``stability.stable`` false: its backlog grew, so its
    latencies describe a growing queue) or could not tell (``stability.stable`` None: a run too
    short to see an overload of a few per cent while its load factor is that close to capacity),
    whatever the constraints say. Nor is one offered more work than it serves that turned requests away
    (:func:`overload_of`): a waiting room or clients who give up keep its backlog bounded, so its verdict
    may read stable, but it is overloaded as surely as one whose backlog grows.
    """
    why = []
    if row.get("error"):
        why.append(f"failed: {row['error']}")
    elif row.get("n", 0) <= 0:
        why.append("no successful replication")
    if row.get("stable") is False:
        g = ci_of(row, "stability.backlog_growth_per_s").mean
        why.append("unstable: the backlog grows" + (f" by {amount('stability.backlog_growth_per_s', g)}" if g == g else ""))
    elif row.get("n", 0) > 0 and (over := overload_of(row)):
        why.append(over)       # a waiting room or impatient clients bound the backlog of an overloaded fleet
    elif row.get("stable", True) is None and row.get("n", 0) > 0:
        lf = ci_of(row, "stability.offered_load_factor").mean
        why.append("cannot tell whether it keeps up: the run is too short for its load"
                   + (f" (offered load factor {lf:.3g})" if lf == lf else "") + "; lengthen duration")
    for c in constraints:
        ci = ci_of(row, c.metric)
        v = c.judged_value(ci)
        row[f"judged:{c}"] = v
        if not c.holds(ci):
            # with replications the judged value is a bound of the 95 % interval: say so, beside the mean
            why.append(miss_words(c, ci.mean, v))
    row["feasible"] = not why
    row["why"] = "; ".join(why)
    row.update(headroom_fields(row, constraints))
    return row


def miss_words(c: Constraint, mean: float, judged: float) -> str:
    """Why constraint ``c`` fails, in words with the metric's unit: its value (with replications the
    judged value is a bound of the 95 % interval: said beside the mean) and what it needs.

        >>> from sim.planning.constraints import parse_constraint
        >>> miss_words(parse_constraint("latency.ttft.p99<=2"), 485.0, 485.0)
        'TTFT p99 485 s, needs <= 2 s'
        >>> miss_words(parse_constraint("slo.attainment>=0.99"), 0.0196, -0.0499)
        'SLO attainment 1.96 % mean, -4.99 % at the 95 % bound, needs >= 99 %'
    """
    if judged != judged:
        return f"{name_of(c.metric)} missing ({c.metric})"
    value = amount(c.metric, judged, c.bound)
    if judged != mean and mean == mean:
        value = f"{amount(c.metric, mean, c.bound)} mean, {value} at the 95 % bound"
    return f"{name_of(c.metric)} {value}, {bound_words(c.metric, c.op, c.bound)}"


def unmet(rows: Sequence[dict[str, Any]], constraints: Sequence[Constraint]) -> list[dict[str, Any]]:
    """The constraints no judged row meets (rows without a successful run aside), each with the best
    judged value a row gave it: ``{"constraint", "best", "at" (that row's overrides), "headroom",
    "headroom.text"}`` (:func:`sim.planning.planner.headroom_words`); ``[]`` when no row ran.

        >>> from sim.planning.constraints import parse_constraint
        >>> c = parse_constraint("latency.ttft.p99<=0.001")
        >>> rows = [{"n": 1, "overrides": [f"r={r}"], f"judged:{c}": v} for r, v in ((4, 0.13), (8, 0.1254))]
        >>> [(u["best"], u["at"], u["headroom.text"]) for u in unmet(rows, [c])]
        [(0.1254, ['r=8'], '×125 over')]
    """
    ran = [r for r in rows if r.get("n", 0) > 0]
    out = []
    for c in constraints:
        values = [(float(v), r) for r in ran if isinstance(v := r.get(f"judged:{c}"), (int, float)) and v == v]
        if not ran or any(c.met(v) for v, _ in values):
            continue
        if not values:
            out.append({"constraint": str(c), "best": None, "at": [], "headroom": None, "headroom.text": "missing"})
            continue
        v, r = max(values, key=lambda vr: c.slack(vr[0]) if c.bound else (-vr[0] if c.upper else vr[0]))
        s = c.slack(v)
        out.append({"constraint": str(c), "best": v, "at": list(r.get("overrides", [])),
                    "headroom": s if s == s else None, "headroom.text": headroom_words(c, v, s)})
    return out


def overload_of(row: dict[str, Any]) -> str | None:
    """Why a point is out whose fleet turned requests away (a full waiting room, clients who gave up,
    no live replica to take them: ``requests.refused_share``, ``abandoned_share``, and
    ``requests.rejected_by_reason.no_replica`` of ``requests.arrived``) at an offered load factor above
    1: overloaded, whatever its bounded backlog's verdict (stable, or too short to tell;
    :func:`sim.metrics.stability.overload`, whose offered work counts the same three).

        >>> overload_of({"stability.offered_load_factor.mean": 1.03, "requests.refused_share.mean": 0.135})
        'overloaded: offered load factor 1.03, 13.5% refused'
        >>> overload_of({"stability.offered_load_factor.mean": 1.2, "requests.arrived.mean": 400.0,
        ...              "requests.rejected_by_reason.no_replica.mean": 30.0})
        'overloaded: offered load factor 1.2, 7.5% turned away (no replica up)'
        >>> overload_of({"stability.offered_load_factor.mean": 1.004, "requests.abandoned_share.mean": 0.01})
        'overloaded: offered load factor 1.004, 1.0% abandoned'
        >>> overload_of({"stability.offered_load_factor.mean": 0.8, "requests.abandoned_share.mean": 0.02}) is None
        True
    """
    lf = ci_of(row, "stability.offered_load_factor").mean
    arrived = ci_of(row, "requests.arrived").mean
    none_up = ci_of(row, "requests.rejected_by_reason.no_replica").mean / arrived if arrived > 0 else float("nan")
    shares = [(v, words) for v, words in ((ci_of(row, "requests.refused_share").mean, "refused"),
                                          (ci_of(row, "requests.abandoned_share").mean, "abandoned"),
                                          (none_up, "turned away (no replica up)"))
              if v == v and v > 0]
    if not (lf == lf and lf > 1.0 and shares):
        return None
    return f"overloaded: offered load factor {factor_words(lf)}, " + ", ".join(f"{v:.1%} {w}" for v, w in shares)


def check_metrics(rows: Sequence[dict[str, Any]], metrics: Sequence[str]) -> None:
    """Raise :class:`~sim.planning.constraints.UnknownMetricError` naming metrics that no successful run reported."""
    done = [r for r in rows if r.get("n", 0) > 0]
    if not done:
        return
    known = sorted(k[: -len(".mean")] for k in done[0] if k.endswith(".mean"))
    missing = [m for m in metrics if f"{m}.mean" not in done[0]]
    if missing:
        hints = [f"{m} (did you mean {' or '.join(close)}?)" if (close := similar_metrics(m, known)) else m
                 for m in missing]
        examples = [k for k in EXAMPLE_METRICS if k in known]
        raise UnknownMetricError(
            f"unknown metric {', '.join(hints)}: must be a numeric summary key such as {', '.join(examples)} "
            f"(all {len(known)}: the keys of summary.json, dotted, or the columns of sweep.csv without '.mean')",
            missing)


def check_column_names(columns: Sequence[str] | None, data: Any, varied: Sequence[str] = (),
                       band: bool | None = None) -> None:
    """Before any run: the summary keys among ``columns`` (the Python API's ``columns=``; planner columns
    such as ``$/hour`` are no keys) checked as :func:`check_metric_names` checks a constraint's, the error
    starting ``columns:`` (``fleetsim plan/sweep --columns`` checks them in the command line's own words)."""
    keys = [c for c in columns or () if c not in PLANNER_COLUMNS]
    try:
        check_metric_names(keys, data, varied, band=band)
    except UnknownMetricError as exc:
        raise UnknownMetricError(f"columns: {exc}", exc.metrics) from None


def check_metric_names(metrics: Sequence[str], data: Any, varied: Sequence[str] = (),
                       band: bool | None = None) -> None:
    """Before any run: raise :class:`~sim.planning.constraints.UnknownMetricError` naming the metrics
    that can be no summary key of scenario ``data`` (a mapping; :func:`sim.metrics.schema.summary_key_problem`),
    each with why and the keys it may have meant; the rest are checked against the first run
    (:func:`check_metrics`). Pool and class names are not checked where a knob (``varied``: its
    paths) may rename them; ``band`` False refuses ``capacity_band.*`` keys (no band is run)."""
    pools, classes = scenario_names(data)
    renamed = lambda block: any(block.startswith(p) or p.startswith(block + ".") and p.endswith(".name")
                                for p in varied)
    pools = None if renamed("fleet.pools") else pools
    classes = None if renamed("workload.classes") else classes

    def problem(m: str) -> str | None:
        if band is False and m.split(".")[0] == "capacity_band":
            return "the capacity band's keys are there only with --capacity-band"
        return summary_key_problem(m, pools, classes) or admission_key_problem(m, data, varied)

    bad = [(m, why) for m in dict.fromkeys(metrics) if (why := problem(m))]
    if not bad:
        return
    known = sorted({*FIXED_KEYS, *EXAMPLE_METRICS, *MONEY_KEYS,
                    *(f"pools.{p}.{k}" for p in pools or () for k in POOL_EXAMPLES),
                    *(f"classes.{c}.{k}" for c in classes or () for k in FIXED_KEYS
                      if k.split(".")[0] in CLASS_BLOCKS and not k.startswith("latency.itl"))})
    close = lambda m: similar_metrics(m, known) or similar_metrics(m.replace("_", "."), known)   # ttft_p99

    def hint(m: str, why: str) -> str:
        # a name outside every block is said as the late check says it: the examples follow
        said = [*([why] if m.split(".")[0] in (*SUMMARY_BLOCKS, *PER_RUN_KEYS) else []),
                *([f"did you mean {' or '.join(c)}?"] if m not in TEXT_KEYS
                   and (c := [k for k in close(m) if k != m]) else [])]
        return f"{m} ({'; '.join(said)})" if said else m

    hints = [hint(m, why) for m, why in bad]
    examples = ", ".join(EXAMPLE_METRICS[:4])
    raise UnknownMetricError(f"unknown metric {', '.join(hints)}: must be a numeric summary key such as {examples} "
                             f"(the keys of summary.json, dotted, or the columns of sweep.csv without '.mean')",
                             [m for m, _ in bad])


def admission_key_problem(metric: str, data: Any, varied: Sequence[str] = ()) -> str | None:
    """Why ``metric`` can be no key of scenario ``data``'s summary for want of the setting that puts it
    there: ``requests.abandoned`` and ``abandoned_share`` (a class's too) need clients' patience
    (``workload.patience_s`` or a class's), ``requests.refused_share`` a waiting room
    (``fleet.pools[].max_waiting`` or ``fleet.router.max_waiting``); ``None`` when it may be one
    (also when a knob in ``varied`` sets such a key).

        >>> print(admission_key_problem("requests.abandoned", {"workload": {}}))
        the summary has requests.abandoned only when clients have a patience (workload.patience_s, or a class's)
        >>> admission_key_problem("requests.abandoned", {"workload": {"patience_s": 30}}) is None
        True
    """
    last = metric.split(".")
    if len(last) < 2 or last[-2] != "requests" or last[-1] not in ("abandoned", "abandoned_share", "refused_share"):
        return None
    if not isinstance(data, dict):
        return None
    wl = data.get("workload") if isinstance(data.get("workload"), dict) else {}
    fleet = data.get("fleet") if isinstance(data.get("fleet"), dict) else {}
    if last[-1] == "refused_share":
        if any("max_waiting" in p for p in varied):
            return None
        router = fleet.get("router") if isinstance(fleet.get("router"), dict) else {}
        pools = fleet.get("pools") if isinstance(fleet.get("pools"), list) else []
        if router.get("max_waiting") is not None or any(isinstance(p, dict) and p.get("max_waiting") is not None
                                                         for p in pools):
            return None
        return ("the summary has requests.refused_share only with a waiting room "
                "(fleet.pools[].max_waiting, or fleet.router.max_waiting behind central_queue)")
    if any("patience" in p for p in varied):
        return None
    classes = wl.get("classes") if isinstance(wl.get("classes"), list) else []
    if wl.get("patience_s") is not None or any(isinstance(c, dict) and c.get("patience_s") is not None for c in classes):
        return None
    return f"the summary has requests.{last[-1]} only when clients have a patience (workload.patience_s, or a class's)"


#: the money blocks' fixed keys, offered when a cost or cashflow metric looks misspelt
MONEY_KEYS = (*(f"cost.{k}" for k in sorted(COST_KEYS)), *(f"cashflow.{k}" for k in sorted(CASHFLOW_KEYS)))
#: a pool's keys offered when a pool metric looks misspelt
POOL_EXAMPLES = ("load_factor", "gpu_busy", "replicas", "replicas_mean", "kv_cache_mean")


def scenario_names(data: Any) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The names of scenario ``data``'s pools and workload classes (``None`` for either when not every
    one is a name written out: the run decides); ``()`` when the workload lists no classes.

        >>> scenario_names({"fleet": {"pools": [{"name": "a"}, {"name": "b"}]}, "workload": {}})
        (('a', 'b'), ())
    """
    def names(items: Any) -> tuple[str, ...] | None:
        if items is None:
            return ()
        if not isinstance(items, list):
            return None
        out = tuple(i.get("name") for i in items if isinstance(i, dict))
        return out if len(out) == len(items) and all(isinstance(n, str) and n for n in out) else None

    data = data if isinstance(data, dict) else {}
    fleet, workload = data.get("fleet"), data.get("workload")
    return ((names(fleet.get("pools")) or None) if isinstance(fleet, dict) else None,   # (none: not valid)
            names(workload.get("classes")) if isinstance(workload, dict) else None)


EXAMPLE_METRICS = ("latency.ttft.p99", "latency.tpot.p99", "latency.e2e.p99", "slo.attainment",
                   "cost.per_million_output_tokens", "cost.compute_usd", "utilization.load_factor")
"""Metrics a constraint's error offers as examples (those a run reported)."""


def similar_metrics(metric: str, known: Sequence[str]) -> list[str]:
    """Known metrics ``metric`` may have meant: those it ends (``ttft.p99`` -> ``latency.ttft.p99``),
    else those holding it as whole parts (``ttft`` -> ``latency.ttft.p99``, the examples of
    :data:`EXAMPLE_METRICS` first), else the closest spellings.

        >>> similar_metrics("ttft.p99", ["latency.ttft.p99", "latency.tpot.p99"])
        ['latency.ttft.p99']
        >>> similar_metrics("ttft", ["latency.ttft.mean", "latency.ttft.p50", "latency.ttft.p90", "latency.ttft.p99"])
        ['latency.ttft.p99', 'latency.ttft.mean', 'latency.ttft.p50']
        >>> similar_metrics("slo.atainment", ["slo.attainment", "slo.goodput_rps"])
        ['slo.attainment']
    """
    import difflib

    ends = [k for k in known if k.endswith("." + metric)]
    parts = sorted((k for k in known if f".{metric}." in f".{k}."), key=lambda k: (k not in EXAMPLE_METRICS, k))
    return ends[:3] or parts[:3] or difflib.get_close_matches(metric, known, n=3, cutoff=0.75)
