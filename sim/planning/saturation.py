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

Where no rate is sustained (a TTFT target below one prefill, say), the halving stops at a floor
(:func:`floor_reason`): before a rate that brings less than one request into the run, after a rate
that completed no request, or :data:`HALVINGS_PAST_KEPT_UP` halvings below the highest rate that
failed while the fleet kept up. :attr:`SaturationResult.why_none` then says which constraint fails
and its value at the lowest rate tried (:func:`why_no_rate`).

A closed loop (``workload.arrival: {process: closed, ...}``) has no arrival rate: its clients send as
fast as the fleet serves them. There the search varies the client count ``workload.arrival.concurrency``
(:data:`CONCURRENCY_PATH`) on the integers, with the same bracketing and bisection (:func:`highest`
with ``integer``), down to one client, and stops when the bracket is two adjacent counts or within
``rel_tol``. A closed loop never grows a backlog past its clients (always ``stable``), so the SLO
(and any extra constraint) is the whole criterion, and a scenario that sets none is refused
(:func:`check_closed_search`). Each probe's ``rate`` is then the throughput it reached (requests/s)
and ``concurrency`` its client count.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import text_list
from sim.limits import check_points
from sim.metrics.band import SIDES, capacities, check_pct
from sim.planning.constraints import Constraint, ConstraintError, distinct_bounds, parse_constraint
from sim.metrics.names import amount, said
from sim.planning.bracketing import fmt_rate as _fmt, highest
from sim.planning.evaluator import Evaluator, check_metric_names, check_metrics, ci_of, judge
from sim.planning.executors import SerialExecutor, executor_for, worker_count
from sim.planning.knobs import scalar
from sim.planning.points import seed_count
from sim.planning.runner import Runner, check_scales_capacity, resolve_runner
from sim.planning.source import ScenarioSource
from sim.planning.store import claim_folder, drop_earlier_result, holds_out
from sim.planning.table import write_csv, write_json

RATE_PATH = "workload.arrival.rate"
CONCURRENCY_PATH = "workload.arrival.concurrency"
"""What a closed loop's search varies: its client count."""
MAX_CLIENTS = 1_000_000
"""The most clients a closed loop takes (``workload.arrival.concurrency``'s limit)."""

#: the fields a search may vary: under ``workload``, a rate in requests/s (``rate``, a diurnal
#: ``mean_rate``, a piecewise ``rates.N``) or a trace's ``rate_scale``
RATE_KEYS = ("rate", "mean_rate", "rate_scale")


def check_rate_path(path: str) -> str:
    """``path`` if it names an arrival rate (:data:`RATE_KEYS` under ``workload``), else ``ValueError``.

    The search doubles the field it varies while the SLO holds: any other number (``duration``, a
    replica count) doubles the run's work at every probe and never stops being met, each probe of
    the 40 twice the last.

        >>> check_rate_path("workload.classes.0.arrival.rate")
        'workload.classes.0.arrival.rate'
        >>> check_rate_path("duration")
        Traceback (most recent call last):
        ...
        ValueError: must name an arrival rate: a field rate, mean_rate, rates.N or rate_scale under workload, e.g. workload.arrival.rate (got 'duration')
    """
    parts = path.split(".")
    last = "rates" if len(parts) > 2 and parts[-1].isdigit() and parts[-2] == "rates" else parts[-1]
    if len(parts) < 2 or parts[0] != "workload" or last not in (*RATE_KEYS, "rates") or "" in parts:
        raise ValueError(f"must name an arrival rate: a field {', '.join(RATE_KEYS[:2])}, rates.N or "
                         f"{RATE_KEYS[2]} under workload, e.g. {RATE_PATH} (got {path!r})")
    return path

HALVINGS_PAST_KEPT_UP = 6
"""How many halvings below the highest rate that failed while the fleet kept up (``stability.stable``
true: no queue building) the search still tries, 2**6 = 64 times lower. A queue at load factor
``rho`` delays about a share ``rho`` of the requests (M/M/1: P(wait) = rho), so 64 times less load
delays 64 times fewer: a target still missed there is missed by requests that meet no queue, and
lower rates cannot help them (``--start`` searches lower all the same)."""


@dataclass
class SaturationResult:
    """``rate``: highest sustained rate found (None if even the lowest probe failed);
    ``upper``: lowest rate seen to fail (None if none failed); ``probes``: every row evaluated
    in probe order (``rate``, ``feasible``, mean/CI columns); ``band``: with the capacity band, its
    width ``pct`` and each side's search, ``{"capacity", "rate", "upper", "probes"}`` under
    ``"slower"`` and ``"faster"`` (None without it); ``why_none``: when no rate was sustained, one
    sentence saying which constraint fails and its value at the lowest rate tried (:func:`why_no_rate`),
    else None. A closed loop's search (:data:`CONCURRENCY_PATH`) adds ``concurrency``, the most clients
    sustained, and ``concurrency_upper``, the fewest seen to fail above it (``rate`` and ``upper`` are then
    the throughputs they reached, requests/s; each band side has the same two keys)."""

    rate: float | None
    upper: float | None
    attainment: float
    probes: list[dict[str, Any]] = field(default_factory=list)
    band: dict[str, Any] | None = None
    why_none: str | None = None
    runs: int = 0               # runs asked for, and how many a rerun found stored (not written out)
    reused: int = 0
    closed: bool = False        # a closed loop's search: over client counts
    concurrency: int | None = None
    concurrency_upper: int | None = None
    #: the scenario's own value at the rate path (with the overrides), what the answer is headroom over;
    #: None when it has none there (not written out)
    scenario_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"rate": self.rate, "upper": self.upper, "attainment": self.attainment,
               "probes": self.probes}
        if self.closed:
            out.update(concurrency=self.concurrency, concurrency_upper=self.concurrency_upper)
        if self.why_none is not None:
            out["why_no_rate"] = self.why_none
        if self.band is not None:
            out["capacity_band"] = self.band
        return out


def _beside_attainment(constraints: list[Constraint], attainment: float) -> list[Constraint]:
    """``constraints`` (each metric bounded once from each side) without the attainment's own bound given again
    (``slo.attainment>=0.99`` beside ``--attainment 0.99``: one constraint, as :func:`distinct_bounds` makes one
    of a bound given twice); another lower bound on the attainment beside it is refused
    (:class:`ConstraintError`), as plan refuses a metric bounded twice from one side: only the tighter counted,
    silently, and the table said both ("needs >= 99 %; ... needs >= 95 %").

        >>> _beside_attainment([parse_constraint("slo.attainment>=0.99"), parse_constraint("latency.ttft.p99<=2")], 0.99)
        [Constraint(metric='latency.ttft.p99', op='<=', bound=2.0)]
        >>> _beside_attainment([parse_constraint("slo.attainment>=0.95")], 0.99)
        Traceback (most recent call last):
        ...
        sim.metrics.constraint_text.ConstraintError: slo.attainment>=0.95 bounds the SLO attainment from below beside the attainment searched for, 0.99 (--attainment, 0.99 unless given): only the tighter bound would count; give the bound once, as --attainment 0.95
    """
    kept = []
    for c in constraints:
        if c.metric == "slo.attainment" and not c.upper:
            if (c.op, c.bound) == (">=", attainment):
                continue
            raise ConstraintError(f"slo.attainment{c.op}{c.bound:g} bounds the SLO attainment from below beside the "
                                  f"attainment searched for, {attainment:g} (--attainment, 0.99 unless given): only "
                                  f"the tighter bound would count; give the bound once, as --attainment {c.bound:g}")
        kept.append(c)
    return kept


@holds_out("saturation")
def saturation(scenario: Any, *, attainment: float = 0.99, constraints: Sequence[str] = (),
               rate_path: str | None = None, start: float | None = None, rel_tol: float = 0.02,
               max_probes: int = 40, seeds: int = 1, overrides: Sequence[str] = (),
               executor: str | SerialExecutor = "local", workers: int | None = None,
               scheduler: str | None = None, out: Path | str | None = None,
               runner: Runner | None = None, progress: bool = False,
               validate: bool | None = None, capacity_band: float | None = None) -> SaturationResult:
    """Highest arrival rate (requests/s) sustained within the SLO; see the module docstring.

    On a closed loop (``workload.arrival.process: closed``) it searches the client count instead
    (``start``: the first count, default the scenario's ``concurrency``; ``rate_path`` must not be given:
    ``None``, the default, is ``workload.arrival.rate`` on an open loop) and the result's ``concurrency``
    is the answer.

    ``capacity_band`` (per cent, ``0 < pct <= 50``) searches twice more, on replicas with ``1 ∓ pct/100``
    times the model's capacity (every step time scaled, :class:`sim.perf.scaled.ScaledCapacity`; the
    fluid tier reads its curves rescaled), each side starting from the point's answer scaled by its
    capacity; ``max_probes`` bounds each search.
    """
    seeds = seed_count(seeds)
    workers = worker_count(workers)
    if isinstance(attainment, bool) or not isinstance(attainment, (int, float)) or not 0 < attainment <= 1:
        raise ValueError(f"attainment must be a number in (0, 1] (got {attainment!r})")
    if isinstance(rel_tol, bool) or not isinstance(rel_tol, (int, float)) or not 0 < rel_tol < 1:
        # (as --tolerance: the search brackets by doubling, so 1 or more stops before any bisection; NaN
        # compared false with every width and stopped it there too)
        raise ValueError(f"rel_tol must be a number in (0, 1), e.g. 0.02 (got {rel_tol!r})")
    if rate_path is not None:
        check_rate_path(rate_path)
    pct = None if capacity_band is None else check_pct(capacity_band, "capacity_band")
    source = ScenarioSource.from_any(scenario, overrides)
    closed = is_closed_loop(source.data)
    if closed:
        check_closed_search(source, rate_path)
        rate_path = CONCURRENCY_PATH
    elif rate_path is None:
        rate_path = RATE_PATH
    cons = [Constraint("slo.attainment", ">=", attainment)]
    cons += _beside_attainment(distinct_bounds([parse_constraint(c)   # (as plan's: a metric bounded twice from one side)
                                                for c in text_list(constraints, "constraints", "latency.ttft.p99<=2")]),
                               attainment)
    check_metric_names([c.metric for c in cons], source.data)
    if closed:
        start = _start_clients(source, start)
    elif start is None:
        start = _current_rate(source, rate_path)
    elif not rate_path.endswith("rate_scale"):      # a rate in requests/s, not a multiplier
        below = floor_reason(start, [], _duration_s(source))
        if below:       # every probe would complete nothing, and the search ended in exit 1 after it
            from sim.errors import InputError
            raise InputError(f"--start: {_fmt(start)} req/s is too low to probe: {below}; start at "
                             f"{_fmt(1 / _duration_s(source))} req/s or more")
    if not start > 0:
        raise ValueError(f"start rate must be > 0 (got {start})")
    check_points(max_probes * (1 if pct is None else 3), seeds, source=source.source, knobs="--start", most=True)
    own = _own_rate(source, rate_path)
    runner, validate = resolve_runner(runner, validate, source.source, source.base_dir)
    if pct is not None:
        check_scales_capacity(runner)
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        claim_folder(out_path, "saturation", source=source)     # before any point runs: another command's folder is refused
    key = "concurrency" if closed else "rate"       # what a probe's searched value is stored as
    with executor_for(executor, workers, scheduler) as ex:
        evaluate = Evaluator(source, runner, ex, seeds, out_path, validate, progress, "saturation",
                             "saturation", pct is not None)
        checked: list[bool] = []

        def config(value: float) -> tuple[str, ...]:
            return (f"{rate_path}={value if closed else _fmt(value)}",)

        def prober(capacity: float, probes: list[dict[str, Any]]):
            def ok(value: float, nexts: Sequence[float | None] = ()) -> bool:
                at = f" at capacity {capacity:g}" if capacity != 1.0 else ""
                shown = f"{value} clients" if closed else f"{_fmt(value)} req/s"
                evaluate.desc = f"saturation: {shown}{at}"      # the progress bar's label
                # the values asked next if this one holds, and if it fails: run on the workers it leaves
                # idle, kept until (if) asked for (the search's files are those of one probe at a time)
                ahead = [[(config(v), capacity)] for v in nexts if v is not None]
                row = judge(dict(evaluate.at([(config(value), capacity)], ahead)[0]), cons)
                # (a probe that completed no request reports no latency or attainment: it says nothing of them)
                if not checked and row.get("requests.completed.mean") != 0:
                    check_metrics([row], [c.metric for c in cons])
                    checked.append(True)
                # a closed loop's rate is what its clients reached: the throughput
                rate = row.get("throughput.requests_per_s.mean") if closed else float(_fmt(value))
                probes.append({"rate": rate, **({"concurrency": value} if closed else {}),
                               **({"capacity": capacity} if capacity != 1.0 else {}), **row})
                return row["feasible"]
            return ok

        probes: list[dict[str, Any]] = []
        duration = _duration_s(source)
        # a closed loop halves down to one client: fewer clients only ever wait less
        lo, hi = highest(prober(1.0, probes), start, 2.0, rel_tol, max_probes, integer=closed,
                         top=MAX_CLIENTS if closed else math.inf,
                         worth=None if closed else lambda rate: floor_reason(rate, probes, duration) is None,
                         guesses=True)
        band = None
        if pct is not None:
            band = {"pct": pct}
            # each side starts at the point's answer scaled by its capacity, and steps by the point's
            # final bracket, widening (squared) each step: two probes when the rate scales with capacity
            ratio = max(hi / lo, 1.0 + rel_tol) if lo is not None and hi is not None else 2.0
            for name, capacity in capacities(pct).items():
                side: list[dict[str, Any]] = []
                first = capacity * (lo if lo is not None else hi if hi is not None else start)
                # no lower than the point went (scaled): where the point found no sustained rate, a
                # side's widening steps would otherwise square past any rate to 0 req/s
                lowest = capacity * min(p[key] for p in probes)
                floor = math.floor(lowest) if closed else float(_fmt(lowest))
                s_lo, s_hi = highest(prober(capacity, side), max(1, round(first)) if closed else first, ratio, rel_tol,
                                     max_probes, widen=True, floor=floor, integer=closed,
                                     top=MAX_CLIENTS if closed else math.inf, guesses=True)
                band[name] = {"capacity": capacity, **_answer(side, s_lo, s_hi, closed), "probes": side}
    if lo is not None:
        why_none = None
    elif closed:
        why_none = why_no_rate(probes, cons, None if len(probes) < max_probes else
                               f"the search's {max_probes} probes ran out", clients=True)
    else:
        why_none = why_no_rate(probes, cons, floor_reason(min(p["rate"] for p in probes) / 2, probes, duration)
                               if len(probes) < max_probes else f"the search's {max_probes} probes ran out")
    answer = _answer(probes, lo, hi, closed)
    result = SaturationResult(answer["rate"], answer["upper"], attainment, probes, band, why_none, evaluate.runs,
                              evaluate.reused, closed, answer.get("concurrency"), answer.get("concurrency_upper"), own)
    if out_path is not None:
        drop_earlier_result(out_path, "saturation")
        write_csv(out_path / "saturation.csv", probes + [p for s in SIDES if band for p in band[s]["probes"]])
        write_json(out_path / "scenario.json", source.data)     # the base, for the report's header
        write_json(out_path / "saturation.json", {"scenario": source.source, "rate_path": rate_path,
                                                  "seeds": seeds, **result.as_dict()})
    return result


def _answer(probes: Sequence[dict[str, Any]], lo: float | None, hi: float | None, closed: bool) -> dict[str, Any]:
    """A search's ``rate`` and ``upper`` (the values :func:`highest` found, or for a closed loop the
    throughputs its probes at those client counts reached, with the counts as ``concurrency`` and
    ``concurrency_upper``)."""
    if not closed:
        return {"rate": lo, "upper": hi}
    reached = {p["concurrency"]: p["rate"] for p in probes}
    return {"rate": reached.get(lo), "upper": reached.get(hi), "concurrency": lo, "concurrency_upper": hi}


def is_closed_loop(data: Any) -> bool:
    """Whether scenario ``data`` (a mapping) gives a closed loop: ``workload.arrival.process: closed``."""
    workload = data.get("workload") if isinstance(data, dict) else None
    arrival = workload.get("arrival") if isinstance(workload, dict) else None
    return isinstance(arrival, dict) and arrival.get("process") == "closed"


def check_closed_search(source: ScenarioSource, rate_path: str | None) -> None:
    """Refuse (:class:`~sim.errors.ScenarioError`) a closed loop's search that cannot be judged or
    aimed: any ``rate_path``, the open loop's default named too (a closed loop has no rate; the client count is
    searched), or a scenario that sets no ``slo:`` block (whose defaults judge ``slo.attainment``, a
    class's own ``slo`` only its class's), since a closed loop is always stable and the SLO is then its
    whole criterion."""
    from sim.errors import ScenarioError

    if rate_path is not None:
        raise ScenarioError([("workload.arrival.process", f"closed: the search varies the client count "
                              f"({CONCURRENCY_PATH}), there is no arrival rate to search; drop --rate-path "
                              f"(got {rate_path})")], source.source)
    if source.data.get("slo") is None:
        raise ScenarioError([("slo", "a closed loop never builds a backlog past its clients, so its saturation "
                                     "is judged by the SLO alone, and the scenario sets none: add an slo: block "
                                     "(ttft_s, tpot_s) or --set slo.ttft_s=... (the defaults, 2 s and 0.1 s, are "
                                     "not assumed)")], source.source)


def _start_clients(source: ScenarioSource, start: float | None) -> int:
    """The client count a closed loop's search starts at: ``start`` (a whole number >= 1), else the
    scenario's ``concurrency``."""
    if start is None:
        start = _current_rate(source, CONCURRENCY_PATH)
    if not (float(start).is_integer() and 1 <= start <= MAX_CLIENTS):
        from sim.errors import InputError

        raise InputError(f"--start: a closed loop's search starts at a client count, a whole number from 1 to "
                         f"{MAX_CLIENTS:,} (got {start:g})")
    return int(start)


def floor_reason(rate: float, probes: Sequence[dict[str, Any]], duration_s: float | None) -> str | None:
    """Why the halving of a search that has sustained no rate yet stops before ``rate`` (below every
    rate in ``probes``), or None to try it: ``rate`` brings less than one request into a run of
    ``duration_s`` seconds (None: unknown), the last probe completed no request, or ``rate`` is more
    than :data:`HALVINGS_PAST_KEPT_UP` halvings below the highest rate that failed while the fleet kept
    up (its run's stability verdict says so; a runner that reports none never counts as keeping up).

        >>> kept = [{"rate": 12.0, "feasible": False, "stable": True, "requests.completed.mean": 3600.0,
        ...          "stability.backlog_growth_per_s.mean": 0.0}]
        >>> floor_reason(0.1875, kept, 300.0) is None, floor_reason(0.09375, kept, 300.0)
        (True, 'it would be more than 64× below 12 req/s, a rate the fleet kept up with')
        >>> floor_reason(0.002, kept, 300.0)
        'it would bring less than one request into the 300 s run'
    """
    if duration_s is not None and rate * duration_s < 1:
        return f"it would bring less than one request into the {duration_s:,.6g} s run"
    if probes and probes[-1].get("requests.completed.mean") == 0:
        return f"{_fmt(probes[-1]['rate'])} req/s completed no request"
    # kept up: the run's stability verdict said so (a runner reporting none, such as an analytic one, never does)
    kept = [p["rate"] for p in probes if not p.get("feasible") and p.get("stable") is True
            and "stability.backlog_growth_per_s.mean" in p]
    if kept and rate < max(kept) / 2 ** HALVINGS_PAST_KEPT_UP:
        return (f"it would be more than {2 ** HALVINGS_PAST_KEPT_UP}× below {_fmt(max(kept))} req/s, a rate the "
                f"fleet kept up with")
    return None


def why_no_rate(probes: Sequence[dict[str, Any]], constraints: Sequence[Constraint],
                stopped: str | None = None, clients: bool = False) -> str:
    """One sentence on why no rate probed was sustained: the lowest rate that completed requests, what
    fails there (its ``why``) and, when it is the SLO's attainment, which latency misses its target;
    ``stopped`` says why no lower rate was tried (:func:`floor_reason`). With ``clients`` (a closed
    loop's search) the probes are client counts (their ``concurrency``).

        >>> row = {"rate": 0.1875, "n": 1, "requests.completed.mean": 49.0, "feasible": False,
        ...        "why": "SLO attainment 0 %, needs >= 99 %", "slo.attainment.mean": 0.0, "slo.ttft_s.mean": 0.001,
        ...        "latency.ttft.p99.mean": 0.1042, "slo.tpot_s.mean": 0.1, "latency.tpot.p99.mean": 0.0076}
        >>> att = Constraint("slo.attainment", ">=", 0.99)
        >>> print(why_no_rate([row], [att], "it would be more than 64× below 12 req/s"))   # doctest: +NORMALIZE_WHITESPACE
        no rate meets the SLO: at 0.1875 req/s, the lowest rate tried (no lower rate tried: it would be
        more than 64× below 12 req/s), SLO attainment 0 %, needs >= 99 %, with TTFT p99 104.2 ms
        against the SLO's 1 ms (ttft_s)
    """
    key, what = ("concurrency", "client count") if clients else ("rate", "rate")
    shown = (lambda n: f"{n:,} {'client' if n == 1 else 'clients'}") if clients else lambda r: f"{_fmt(r)} req/s"
    ran = [p for p in probes if p.get("n", 0) > 0 and (p.get("requests.completed.mean") or 0) > 0]
    lowest_tried = min((p[key] for p in probes), default=math.nan)
    if not ran:
        return f"no {what} tried completed a request (lowest tried {shown(lowest_tried)})"
    low = min(ran, key=lambda p: p[key])
    which = f"the lowest {what} tried" + ("" if low[key] == lowest_tried else " that completed requests")
    note = f" (no lower {what} tried: {stopped})" if stopped else ""
    text = f"no {what} meets the SLO: at {shown(low[key])}, {which}{note}, {low.get('why') or 'not sustained'}"
    att = next((c for c in constraints if c.metric == "slo.attainment"), None)
    if att is not None and not att.holds(ci_of(low, att.metric)):
        q = next((q for q in (99, 90, 50) if q <= att.bound * 100 + 1e-9), 50)
        missed = [f"{said(f'latency.{k}.p{q}', v, t)} against the SLO's {amount('slo.ttft_s', t, t)} ({k}_s)"
                  for k in ("ttft", "tpot")
                  if isinstance(v := low.get(f"latency.{k}.p{q}.mean"), (int, float))
                  and isinstance(t := low.get(f"slo.{k}_s.mean"), (int, float)) and v > t]
        if missed:
            text += ", with " + " and ".join(missed)
    return text


def _duration_s(source: ScenarioSource) -> float | None:
    """The scenario's ``duration`` in seconds (None when it has none a run would accept)."""
    from sim.scenario.types import parse_duration

    try:
        value = parse_duration(source.data.get("duration"))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, (int, float)) and math.isfinite(value) and value > 0 else None


def _own_rate(source: ScenarioSource, path: str) -> float | None:
    """The scenario's value at ``path`` (:func:`_current_rate`), None when it has none there (a search
    started with ``--start`` on a field the scenario leaves out)."""
    from sim.errors import ScenarioError

    try:
        return _current_rate(source, path)
    except ScenarioError:
        return None


def _current_rate(source: ScenarioSource, path: str) -> float:
    node: Any = source.data
    try:
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
    except (KeyError, IndexError, ValueError, TypeError):
        from sim.errors import ScenarioError

        if path == CONCURRENCY_PATH:
            raise ScenarioError([(path, "a closed loop's search starts from its client count: set it (or pass "
                                        "--start N); got no such field")], source.source) from None
        raise ScenarioError([(path, "saturation needs an arrival rate here (set it, or pass a "
                                    "start rate); got no such field")], source.source) from None
    value = scalar(str(node)) if isinstance(node, str) else node
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        from sim.errors import ScenarioError

        unit = "clients" if path == CONCURRENCY_PATH else "requests/s"
        raise ScenarioError([(path, f"must be a number of {unit} (got {node!r})")], source.source)
    return float(value)
