"""Two or more run results side by side: what differs between their scenarios and what moved.

``fleetsim compare DIR_A DIR_B ...`` reads each folder ``fleetsim run --out`` wrote (its
``summary.json``, checked as ``fleetsim report`` checks it, and ``scenario.json``), and
:func:`compare` returns a :class:`Comparison`: the flattened scenario keys whose values differ
(``fleet.pools.0.replicas: 4 → 6``), and one row per metric a planner compares (throughput,
latency, SLO, stability, load, utilization, GPU-hours, cost, and the cash flows when a run has
revenue), each with the change of every other folder against the first (the base), and the differing
settings that set the offered load (:func:`offered_load`: arrivals, clients, lengths; a note says
that throughput is then not judged)::

    change = value - base          relative = change / |base|   (none when the base is 0)

A share (SLO attainment, GPU busy) changes by percentage points (``pp``). Anything else in a
folder — a sweep's, plan's or saturation search's result, no summary, a damaged one — is refused
with one line naming the folder or file (:class:`~sim.errors.InputError`,
:class:`~sim.errors.ScenarioError`). The terminal table is drawn by ``sim/commands/compare.py``;
:meth:`Comparison.as_json` is the same comparison as raw numbers (seconds, dollars, fractions).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.economics.tiers import RATE_KEY, plain_rates
from sim.errors import InputError, ScenarioError, clipped
from sim.metrics.names import POOL_KEYS, name_of, unit_of
from sim.paths import loop_message, looping_link, looping_links
from sim.report.fingerprint import changed_scenario_note, scenario_changed
from sim.report.overview import repriced_overrides, scenario_json, scenario_of, unreadable_scenario, value_at
from sim.report.result_folder import SEARCH_FIELDS, read_summary
from sim.report.tier_settings import NotRead, unread
from sim.text_table import distinct_shortened

#: what a cell reads when the folder's summary has no such metric
MISSING = "—"
#: what the command reads, for the messages refusing anything else
READS = "fleetsim compare reads the folders fleetsim run --out DIR wrote"

_LATENCY = tuple(f"latency.{k}.{q}" for k in ("ttft", "tpot", "e2e", "queue") for q in ("mean", "p50", "p99"))
#: the rows compared, in order: summary keys (words and units: :data:`sim.metrics.names.METRICS`)
ROWS = ("requests.completed", "requests.rejected", "requests.refused_share", "requests.abandoned_share",
        "throughput.requests_per_s", "throughput.output_tokens_per_s", *_LATENCY,
        "slo.attainment", "slo.goodput_rps", "stability.verdict", "utilization.load_factor",
        "utilization.gpu_busy", "utilization.kv_cache_mean", "utilization.mfu", "utilization.mbu",
        "gpu_hours.provisioned", "gpu_hours.busy", "cost.compute_usd", "cost.per_million_output_tokens",
        "cashflow.revenue", "cashflow.revenue_share_paid", "cashflow.revenue_share_received",
        "cashflow.training_cost", "cashflow.energy_cost", "cashflow.sla_credits", "cashflow.compute_commit_shortfall",
        "cashflow.credits_applied", "cashflow.net", "cashflow.cash_net")
#: the rows of each request class (``classes.<name>.``), after the fleet's SLO rows
CLASS_ROWS = ("latency.ttft.p99", "latency.tpot.p99", "slo.attainment")
#: the rows of each pool (``pools.<name>.``) when a run has several, after the fleet's utilization
POOL_ROWS = ("load_factor", "gpu_hours_provisioned")
#: rows shown only when some folder has them not zero (most runs reject nothing, have no such costs)
ZERO_HIDDEN = ("requests.rejected", "requests.refused_share", "requests.abandoned_share", "cashflow.training_cost", "cashflow.energy_cost", "cashflow.sla_credits",
               "cashflow.compute_commit_shortfall", "cashflow.credits_applied")
#: the income of a run: the cash-flow rows are shown when some folder has one of them not zero (a run
#: without revenue has cash flows that are its costs, already in the compute cost row)
INCOME = ("cashflow.revenue", "cashflow.revenue_share_paid", "cashflow.revenue_share_received")
#: shorter words than :func:`~sim.metrics.names.name_of`'s for a table's first column
_LABELS = {"throughput.requests_per_s": "throughput", "cost.per_million_output_tokens": "$ per M output tokens",
           "cashflow.revenue_share_paid": "revenue share paid", "cashflow.revenue_share_received": "share received",
           "utilization.kv_cache_mean": "KV cache use (mean)", "requests.completed": "requests completed",
           "requests.refused_share": "refused (room full)", "requests.abandoned_share": "abandoned (gave up)"}
#: the widest a row's words are (a class's or pool's name is cut to fit)
LABEL_WIDTH = 26
#: the error bound of a latency percentile of a run keeping a sample of its records or none (sim.metrics.histogram)
HISTOGRAM_ERROR = math.sqrt(1.01) - 1


@dataclass
class RunFolder:
    """One result folder read: its path as given, summary, and scenario (``None``: the
    folder has no ``scenario.json``)."""

    path: Path
    summary: dict
    scenario: dict[str, Any] | None
    scenario_changed: bool = False      # scenario.json edited since the run (sim.report.fingerprint)


@dataclass
class Row:
    """One metric across the folders: its values (``None`` where a folder has none) and each other
    folder's change against the base (``None`` for the base, or where either value is missing)."""

    key: str
    values: list[Any]
    changes: list[dict | None] = field(default_factory=list)
    #: the names of the pools (a pool's row) or classes (a class's row) of the folders compared, from which
    #: the row's name is kept distinct when cut
    peers: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The metric's words, a class's or pool's named first (``chat: TTFT p99``), at most
        :data:`LABEL_WIDTH` characters: a long name is cut in its middle, apart from its :attr:`peers`
        (:func:`~sim.text_table.distinct_shortened`: ``prefill-h100-east`` and ``-west`` were both
        ``pool prefi...``).

            >>> Row("pools.prefill-h100-east.load_factor", [0.1], peers=("prefill-h100-west",)).label
            'pool p…-east: load factor'
            >>> Row("pools.prefill-h100-west.load_factor", [0.1], peers=("prefill-h100-east",)).label
            'pool p…-west: load factor'
        """
        parts = self.key.split(".")
        if parts[0] in ("classes", "pools") and len(parts) > 2:
            rest = ".".join(parts[2:])
            words = _LABELS.get(rest) or name_of(POOL_KEYS.get(rest, rest) if parts[0] == "pools" else rest)
            if parts[0] == "pools":
                words = words.removesuffix(" provisioned")
            prefix = "" if parts[0] == "classes" else "pool "
            room = max(LABEL_WIDTH - len(words) - 2 - len(prefix), 5)
            return prefix + distinct_shortened([parts[1], *self.peers], room)[parts[1]] + ": " + words
        return clipped(_LABELS.get(self.key) or name_of(self.key), LABEL_WIDTH)

    @property
    def unit(self) -> str:
        return unit_of(self.key)


@dataclass
class Comparison:
    """Folders (the first is the base), the scenario keys that differ (``(key, values)``, a value
    :data:`ABSENT` where a folder's scenario has no such key, :class:`NotRead` where its run's tier does not
    read it), notes, and the metric rows."""

    folders: list[RunFolder]
    differences: list[tuple[str, list[Any]]]
    notes: list[str]
    rows: list[Row]
    #: the folders (by number) whose latency percentiles are histogram estimates (metrics.records
    #: sample or none: within :data:`HISTOGRAM_ERROR` of the exact)
    estimated: list[int] = field(default_factory=list)
    #: the scenario settings that differ and set the offered load (:func:`offered_load`): with any, a
    #: higher throughput is more load, not a better fleet (:data:`LOAD_RATES` are not judged)
    load: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The comparison as one JSON object: raw numbers in the summary's units (seconds, USD,
        fractions); a change as ``{"absolute": ..., "relative": ...}`` (relative: a fraction of
        the base, ``null`` when the base is 0), a text metric's as ``{"changed": bool}``."""
        return {
            "base": str(self.folders[0].path),
            "folders": [{"path": str(f.path), "label": label(i), "scenario": f.summary.get("scenario"),
                         "seed": f.summary.get("seed"), "simulated_seconds": f.summary.get("simulated_seconds")}
                        for i, f in enumerate(self.folders)],
            "differences": [{"key": k, "values": [_raw(v) for v in vs],
                             **({"absent": [i for i, v in enumerate(vs) if v is ABSENT]}
                                if any(v is ABSENT for v in vs) else {}),
                             **({"not_read": [i for i, v in enumerate(vs) if isinstance(v, NotRead)],
                                 "read_by": next(v.reader for v in vs if isinstance(v, NotRead))}
                                if any(isinstance(v, NotRead) for v in vs) else {})}
                            for k, vs in self.differences],
            "notes": list(self.notes),
            "metrics": [{"key": r.key, "name": r.label, "unit": r.unit, "values": r.values, "changes": r.changes}
                        for r in self.rows],
        }


def _raw(v: Any) -> Any:
    """A difference's value in JSON: the scenario's (an unread one's too), ``None`` where it has none."""
    return _raw(v.value) if isinstance(v, NotRead) else None if v is ABSENT else v


class _Absent:
    """A scenario key one folder has and another has not."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def label(i: int) -> str:
    """The column letter of the ``i``-th folder: ``A`` (the base), ``B``, ... ``Z``, ``AA``, ..."""
    return label(i // 26 - 1) + chr(65 + i % 26) if i >= 26 else chr(65 + i)


def read_run(folder: Path | str) -> RunFolder:
    """A run's result folder: its summary (checked by :func:`~sim.report.result_folder.read_summary`) and
    its scenario; anything else refused with one line naming the folder and what is expected."""
    path = Path(folder)
    link = looping_link(path)
    if link is not None:
        raise InputError(loop_message(path, link, f"{READS}: point the link at one"))
    if not path.exists():
        raise InputError(f"{path}: no such result folder ({READS})")
    if not path.is_dir():
        raise InputError(f"{path}: a file, not a result folder ({READS})")
    for entry in looping_links(path):
        if entry.name in ("summary.json", "scenario.json"):
            raise InputError(loop_message(entry, entry, "remove the link, or point it at the file it stands for"))
    try:
        summary = read_summary(path)
    except RecursionError:
        raise InputError(f"{path / 'summary.json'}: not a fleetsim summary (nested too deeply)") from None
    except ScenarioError as exc:       # the reader's advice is the report's: here the folder has to be written again
        problems = [p for p in exc.problems if not p[1].startswith("not as fleetsim writes it")]
        raise ScenarioError([*problems, ("", f"not as fleetsim writes it: write the folder again (fleetsim run "
                                             f"SCENARIO --out {path})")], exc.source) from None
    if summary is None:
        kind = next((name for name in SEARCH_FIELDS if (path / name).exists()), None)
        if kind is not None:
            what = kind.removesuffix(".json")
            raise InputError(f"{path}: the result of a fleetsim {what} ({kind}), not of one run: {READS} "
                             f"(fleetsim report {path} shows the {what})")
        if (path / "points").is_dir():
            raise InputError(f"{path}: the points of a fleetsim sweep, plan or saturation search, not one run's "
                             f"result: {READS}")
        raise InputError(f"{path}: no summary.json, so not a run's result folder ({READS})")
    scenario_path = path / "scenario.json"
    data, why = scenario_json(scenario_path)     # read and parsed once
    if why is not None:
        raise InputError(unreadable_scenario(scenario_path, why, "to compare without it"))
    if data is None:
        return RunFolder(path, summary, None)
    scenario = scenario_of(data, scenario_path)  # validated, every default filled in (an earlier version's file too)
    return RunFolder(path, summary, data if scenario is None else scenario,   # else as it is (a JSON object)
                     scenario_changed(summary, data))


def differences(scenarios: Sequence[Any], prefix: str = "") -> list[tuple[str, list[Any]]]:
    """The dotted keys (list items by index, as ``--set`` names them) whose values are not the same in every
    scenario, in the order the first (then the others) has them, with each scenario's value (:data:`ABSENT`
    where it has none). A block or list item only some scenarios have is one difference, not one per key
    in it (``fleet.pools.1: — → {...}``).

        >>> differences([{"seed": 1, "a": {"b": 2}}, {"seed": 1, "a": {"b": 3}, "c": [1]}])
        [('a.b', [2, 3]), ('c', [ABSENT, [1]])]
        >>> differences([{"pools": [{"n": 4}]}, {"pools": [{"n": 6}, {"n": 1}]}])
        [('pools.0.n', [4, 6]), ('pools.1', [ABSENT, {'n': 1}])]
    """
    if all(isinstance(s, dict) for s in scenarios):
        keys: list = list(dict.fromkeys(k for s in scenarios for k in s))
    elif all(isinstance(s, list) for s in scenarios):
        keys = list(range(max(len(s) for s in scenarios)))
    else:
        keys = None
    if RATE_KEY.fullmatch(prefix.removesuffix(".")):    # a share's rate (brackets too) is one setting
        keys = None
    if keys is None or not keys:        # values, or empty blocks and lists
        same = all(_same(scenarios[0], v) for v in scenarios[1:])
        return [] if same else [(prefix.removesuffix("."), list(scenarios))]
    out = []
    for key in keys:
        values = [s.get(key, ABSENT) if isinstance(s, dict) else s[key] if key < len(s) else ABSENT
                  for s in scenarios]
        if any(v is ABSENT for v in values):
            if any(not _same(values[0], v) for v in values[1:]):
                out.append((f"{prefix}{key}", values))
        else:
            out += differences(values, f"{prefix}{key}.")
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: ``true`` is not ``1``, ``600`` is ``600.0``; unset (``null``) is absent (both
    read ``—``)."""
    if a is ABSENT or b is ABSENT:
        return (a if a is not ABSENT else None) is (b if b is not ABSENT else None)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def tiers_note(runs: Sequence[RunFolder]) -> str:
    """What a comparison across the two tiers means, in words; empty when every run is of one tier.

        >>> class R:
        ...     def __init__(self, engine): self.summary = {"engine": engine}
        >>> tiers_note([R("fast"), R("fluid")])[:73]
        'A ran at request level and B in the fluid tier: their differences are the'
        >>> tiers_note([R("fast"), R("reference")])
        ''
    """
    fluid = [s.summary.get("engine") == "fluid" for s in runs]
    if all(fluid) or not any(fluid):
        return ""
    said = {tier: " and ".join(label(i) for i, f in enumerate(fluid) if f == tier) for tier in (False, True)}
    return (f"{said[False]} ran at request level and {said[True]} in the fluid tier: their differences are the "
            f"fluid tier's approximation (each step's mean load served through capacity curves measured by short "
            f"request-level runs: docs/scaling.md, 'What each tier models') as well as their scenarios'")


def compare(folders: Sequence[Path | str]) -> Comparison:
    """Read ``folders`` (the first is the base; the same folder may be given twice) and compare them."""
    runs = [read_run(f) for f in folders]
    notes = []
    if all(r.scenario is not None for r in runs):
        scenarios = [dict(r.scenario) for r in runs]
    else:                                   # without every scenario, what every summary says
        lacking = [str(r.path) for r in runs if r.scenario is None]
        notes.append(f"no scenario.json in {', '.join(lacking)}: only the seed and the run length are compared")
        scenarios = [{"seed": r.summary.get("seed"), "duration": r.summary.get("simulated_seconds")} for r in runs]
    changed = [str(r.path) for r in runs if r.scenario_changed]
    if changed:
        notes.append(changed_scenario_note(", ".join(dict.fromkeys(changed))))
    # a share's rate in its plainest form: one open bracket, [{rate: 0.2}], is the contract rate: 0.2 is, no difference
    scenarios = [plain_rates(_class_prefixes(s)) for s in scenarios]
    estimated = [i for i, s in enumerate(scenarios) if value_at(s, "metrics.records") in ("sample", "none")]
    if estimated:
        which = ", ".join(f"{label(i)} ({value_at(scenarios[i], 'metrics.records')})" for i in estimated)
        notes.append(f"the latency percentiles of {which} are estimated from histograms (metrics."
                     f"records), each within {HISTOGRAM_ERROR * 100:.1f} % of the exact: a change of a percentile "
                     f"smaller than that may be the estimate's alone")
    for run, scenario in zip(runs, scenarios):   # fleetsim reprice keeps the run's scenario.json: its overrides
        overrides = repriced_overrides(run.summary)
        if overrides:
            scenario["repriced with"] = " ".join(str(o) for o in overrides)
    diff, unseen = unread(differences(scenarios), runs)
    if unseen:
        more = f" and {len(unseen) - 3} more" if len(unseen) > 3 else ""
        verbs = ("differs", "is") if len(unseen) == 1 else ("differ", "are")
        notes.append(f"{', '.join(unseen[:3])}{more} {verbs[0]} in the scenarios but {verbs[1]} read by the fluid "
                     f"tier only, and no folder ran in it: not listed among the settings that differ")
    tiers = tiers_note(runs)
    if tiers:
        notes.append(tiers)
    load = [key for key, _ in diff if offered_load(key)]
    if load:
        more = f" and {len(load) - 3} more" if len(load) > 3 else ""
        notes.append(f"the offered load differs ({', '.join(load[:3])}{more}): a higher throughput or goodput is "
                     f"then more load served, not a better fleet, so their changes are not judged better or worse")
    summaries = [r.summary for r in runs]
    rows = []
    income = any(_nonzero(value_at(s, k)) for s in summaries for k in INCOME)
    peers = {kind: tuple(dict.fromkeys(n for s in summaries for n in (s.get(kind) or {})))
             for kind in ("pools", "classes")}      # (each row's name kept apart from the others')
    for key in row_keys(summaries):
        values = [_plain(value_at(s, key)) for s in summaries]
        if all(v is None for v in values):
            continue
        if key in ZERO_HIDDEN and not any(_nonzero(v) for v in values):
            continue
        if key.startswith("cashflow.") and not income and key not in ZERO_HIDDEN:
            continue
        rows.append(Row(key, values, [None] + [change(values[0], v) for v in values[1:]],
                        peers.get(key.split(".", 1)[0], ())))
    return Comparison(runs, diff, notes, rows, estimated, load)


#: the ``workload`` settings (and a class's) that set the load a fleet is offered: arrival process and
#: rate (or a closed loop's clients and think time), growth, request lengths, a class's share
LOAD_SETTINGS = ("arrival", "growth", "prompt_tokens", "output_tokens", "share")
#: rows that rise with the offered load (requests or tokens served per second): with a different
#: offered load, a higher value is more load, not better
LOAD_RATES = ("throughput.", "slo.goodput_rps")


def offered_load(key: str) -> bool:
    """Whether the scenario setting ``key`` (dotted, as :func:`differences` names it) sets the offered
    load: a ``workload`` block or a class of :data:`LOAD_SETTINGS`, or a class only one folder has.

        >>> [offered_load(k) for k in ("workload.arrival.rate", "workload.arrival.concurrency", "workload.classes.1",
        ...                            "workload.classes.0.share", "workload.classes.0.slo.ttft_s", "fleet.pools.0.replicas")]
        [True, True, True, True, False, False]
    """
    parts = key.split(".")
    if parts[0] != "workload" or len(parts) < 2:
        return False
    if parts[1] == "classes":
        return len(parts) <= 3 or parts[3] in LOAD_SETTINGS
    return parts[1] in LOAD_SETTINGS


def _class_prefixes(scenario: dict) -> dict:
    """``scenario`` with each class's unset (``null``) ``shared_prefix_tokens`` the workload's
    (:func:`sim.workload.classes.class_prefix`): a folder written before that default has ``0`` there.

        >>> _class_prefixes({"workload": {"shared_prefix_tokens": 64, "classes": [
        ...     {"name": "a", "shared_prefix_tokens": None}, {"name": "b", "shared_prefix_tokens": 0}]}})
        {'workload': {'shared_prefix_tokens': 64, 'classes': [{'name': 'a', 'shared_prefix_tokens': 64}, {'name': 'b', 'shared_prefix_tokens': 0}]}}
    """
    workload = scenario.get("workload")
    if not isinstance(workload, dict) or not isinstance(workload.get("classes"), list):
        return scenario
    inherited = workload.get("shared_prefix_tokens") or 0
    classes = [dict(c, shared_prefix_tokens=inherited)
               if isinstance(c, dict) and "shared_prefix_tokens" in c and c["shared_prefix_tokens"] is None else c
               for c in workload["classes"]]
    return {**scenario, "workload": {**workload, "classes": classes}}


def row_keys(summaries: Sequence[dict]) -> list[str]:
    """:data:`ROWS`, with each request class's :data:`CLASS_ROWS` after the fleet's SLO rows and, when a
    run has several pools, each pool's :data:`POOL_ROWS` after the fleet's utilization (classes and pools
    in the order the folders have them)."""
    def names(block: str) -> list[str]:
        return list(dict.fromkeys(n for s in summaries if isinstance(s.get(block), dict) for n in s[block]))

    classes, pools = names("classes"), names("pools")
    several = any(isinstance(s.get("pools"), dict) and len(s["pools"]) > 1 for s in summaries)
    keys = []
    for key in ROWS:
        keys.append(key)
        if key == "slo.goodput_rps":
            keys += [f"classes.{c}.{k}" for c in classes for k in CLASS_ROWS]
        if key == "utilization.mbu" and several:
            keys += [f"pools.{p}.{k}" for p in pools for k in POOL_ROWS]
    return keys


def _plain(v: Any) -> Any:
    """A number or a text as the summary holds it; anything else (an object where a number was) ``None``."""
    return v if isinstance(v, (int, float, str)) and not isinstance(v, bool) else None


def is_number(v: Any) -> bool:
    """A finite number (not a bool): what a change is worked out between."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _nonzero(v: Any) -> bool:
    return is_number(v) and v != 0


#: a change this small a part of the larger value is float rounding, not a change (:func:`change`)
ROUNDING = 1e-12


def change(base: Any, value: Any) -> dict | None:
    """``value`` against ``base``: ``{"absolute": value - base, "relative": (value - base) / |base|}``
    (relative ``None`` when the base is 0); for texts ``{"changed": ...}``; ``None`` when either is missing.
    A difference within rounding of the two (10⁻¹² of the larger: sums taken in another order) is none.

        >>> change(0.2, 0.25), change(0, 3), change("stable", "unstable"), change(None, 1)
        ({'absolute': 0.04999999999999999, 'relative': 0.24999999999999994}, {'absolute': 3, 'relative': None}, {'changed': True}, None)
        >>> change(0.1 + 0.2, 0.3)
        {'absolute': 0, 'relative': 0.0}
    """
    if is_number(base) and is_number(value):
        diff = value - base
        if not math.isfinite(diff):         # (two numbers near the largest a float holds)
            return None
        if abs(diff) <= ROUNDING * max(abs(base), abs(value)):
            diff = 0
        relative = diff / abs(base) if base != 0 else None
        return {"absolute": diff, "relative": relative if relative is None or math.isfinite(relative) else None}
    if isinstance(base, str) and isinstance(value, str):
        return {"changed": base != value}
    return None
