"""What a run simulated and whether it met its goal, in words: the head of ``report.html`` and of
the terminal summary.

:func:`overview` reads the run's ``summary.json`` and, when the folder has it, the resolved
scenario (``scenario.json``, written with every result) and returns

* ``paragraph``: one sentence or three saying what was simulated (model, GPUs, replicas, tensor
  parallelism, batching, arrivals, prompt and output lengths, duration: :mod:`sim.report.scenario_words`;
  SLO; a re-priced folder's overrides, which ``scenario.json``, the scenario as run, does not hold);
* ``settings``: the same as a two-column table of key settings;
* ``verdict``: whether the fleet met its SLO (attainment against :data:`SLO_TARGET`, and a
  growing backlog when the summary reports one), the headroom the load factor leaves
  (``utilization.load_factor``: served work / what the pool could serve at its batch limits; none
  when a material share was turned away for want of capacity: :func:`turned_away_first`),
  the capacity band's ranges when the run has one (:mod:`sim.metrics.band`; near saturation
  without one, a suggestion to compute it), the cost per million output tokens and the compute
  bill per month (and a compute commit's shortfall, when there is one);
* ``notes``: caveats a reader must know to read the numbers, e.g. that a pool with ``scale: K``
  is simulated as one shard of K (latency and throughput per shard, GPU-hours and money for the
  whole fleet); the page and the terminal put them right under the paragraph, which names the
  shard, before the settings and the verdict that use it.

Without ``scenario.json`` (a folder written by an older version) the settings come from the
summary alone (GPU, replicas, TP, SLO). Keys a summary may lack (``utilization.load_factor``,
``utilization.mbu``, ``stability``) are left out of the text, never shown as zero.

    >>> o = overview({"scenario": "x", "slo": {"attainment": 1.0, "ttft_s": 2.0, "tpot_s": 0.1},
    ...               "cost": {"compute_usd": 10.0, "per_million_output_tokens": 0.93},
    ...               "simulated_seconds": 3600.0, "pools": {}})
    >>> o.met, o.verdict
    (True, 'SLO met: 100.0% of requests within TTFT ≤ 2 s and TPOT ≤ 100 ms (target 99%). Cost $0.93 per million output tokens; compute $10.00 for 1 h, about $7,300 per month.')
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import humanize
from sim.economics.calendar import HOURS_PER_MONTH
from sim.errors import json_kind
from sim.humanize import money, share
from sim.metrics.band import verdict as band_verdict
from sim.metrics.names import amount
from sim.metrics.stability import overload_words as stability_overload_words
from sim.report.scenario_words import count, duration, model_name, scenario_described, summary_described
from sim.text_table import distinct_shortened

#: attainment at or above which the SLO counts as met (the default of ``fleetsim saturation``)
SLO_TARGET = 0.99


@dataclass(frozen=True)
class Overview:
    title: str
    paragraph: str
    settings: list[tuple[str, str]]
    verdict: str
    met: bool | None
    notes: list[str] = field(default_factory=list)


def read_scenario(folder: Path | str) -> dict | None:
    """The scenario kept in a result folder (``scenario.json``), validated and with every default
    filled in; ``None`` when there is none or it is not a valid scenario (the header then falls
    back on the summary)."""
    path = Path(folder) / "scenario.json"
    data, why = scenario_json(path)
    return None if why is not None else scenario_of(data, path)


def scenario_of(data: Any, path: Path) -> dict | None:
    """``data``, the JSON value of a result folder's ``scenario.json`` at ``path``, as a scenario
    validated with every default filled in (an earlier version's file too); ``None`` when it is not a
    valid scenario (or no JSON object). ``data`` is not changed."""
    if not isinstance(data, dict):
        return None
    from sim.scenario.load import scenario_from_dict

    try:
        loaded = scenario_from_dict(data, str(path), path.parent, check=False)
        return loaded.scenario.model_dump(mode="json", by_alias=True)
    except Exception:       # not a scenario (any more): describe the run from its summary alone
        return None


def scenario_json(path: Path) -> tuple[Any, str | None]:
    """A result folder's ``scenario.json`` (at ``path``) read and parsed once: ``(data, why)``, ``why``
    what is wrong with it as a file fleetsim wrote (not JSON, not UTF-8, nested too deeply, not a JSON
    object, a folder, unreadable; ``data`` then ``None``), or ``None`` when it is absent (``data``
    ``None`` too) or a JSON object (``data``)."""
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except RecursionError:
        return None, "nested too deeply"
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"
    except OSError as exc:
        return None, "a folder, not a file" if path.is_dir() else f"cannot read it: {exc.strerror or exc}"
    if not isinstance(data, dict):
        return None, f"expected a JSON object, got {json_kind(data)}"
    return data, None


def scenario_file_problem(folder: Path | str, without: str) -> str | None:
    """What is wrong with a result folder's ``scenario.json`` as a file fleetsim wrote, one line naming it
    (not JSON, not UTF-8, nested too deeply, not a JSON object, a folder, unreadable) and the way out
    (``without``: what the command does once the file is moved out); ``None`` when it is absent or a
    JSON object (one that is no valid scenario any more is described from the summary)."""
    path = Path(folder) / "scenario.json"
    _, why = scenario_json(path)
    return None if why is None else unreadable_scenario(path, why, without)


def unreadable_scenario(path: Path, why: str, without: str) -> str:
    """The line of :func:`scenario_file_problem` for a ``scenario.json`` at ``path`` that is not as
    fleetsim writes it (``why``, from :func:`scenario_json`)."""
    return (f"{path}: not a scenario as fleetsim writes it ({why}); write the folder again, or move the file out "
            f"of the folder {without}")


def value_at(d: Any, dotted: str) -> Any:
    """The value at a dotted key (``latency.ttft.p99``) of nested dicts, ``None`` where there is none."""
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def repriced_overrides(summary: Any) -> list[str]:
    """The ``economics.*`` overrides a re-priced folder's money was priced with, against its ``scenario.json``
    (the scenario as run): ``repriced.since_run`` when it was re-priced from a folder re-priced before (every
    override since the run, in order), else ``repriced.overrides``; empty for a run's own folder.

        >>> repriced_overrides({"repriced": {"overrides": ["b=2"], "since_run": ["a=1", "b=2"]}})
        ['a=1', 'b=2']
    """
    for key in ("repriced.since_run", "repriced.overrides"):
        found = value_at(summary, key)
        if isinstance(found, list):
            return [str(o) for o in found]
    return []


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ------------------------------------------------------------------------------ the overview
def overview(summary: dict, scenario: dict | None = None) -> Overview:
    """The header of a run's report: title, paragraph, key settings, verdict and notes."""
    name = str(summary.get("scenario") or (scenario or {}).get("name") or "run")
    pools_sum = summary.get("pools") or {}
    if scenario is not None:
        sentences, settings = scenario_described(name, scenario, pools_sum)
    else:
        sentences, settings = summary_described(name, pools_sum, summary.get("simulated_seconds"))
    slo = summary.get("slo") or {}
    slo_words = _slo_words(slo)
    if slo_words:
        sentences.append(f"SLO: {slo_words} per request.")
        settings.append(("SLO", slo_words))
    if summary.get("seed") is not None:
        settings.append(("seed", str(summary["seed"])))
    repriced = repriced_overrides(summary)     # fleetsim reprice --out: money the scenario does not say
    if repriced:
        said = " ".join(str(o) for o in repriced)
        sentences.append(f"Its money was re-priced (fleetsim reprice) with {said}; the settings shown are "
                         "the scenario's, without them.")
        settings.append(("re-priced with", said))
    gpu = ", ".join(dict.fromkeys(str(p.get("gpu")) for p in pools_sum.values() if p.get("gpu")))
    model = model_name(scenario.get("model")) if scenario else ""
    title = " · ".join(x for x in (name, model, gpu) if x)
    verdict, met = _verdict(summary, slo_words)
    return Overview(title=title, paragraph=" ".join(sentences), settings=settings, verdict=verdict,
                    met=met, notes=shard_notes(summary))


def slo_bound(s: float) -> str:
    """An SLO bound as written by a person: ``2 s``, ``100 ms``."""
    return f"{s:g} s" if s >= 1 else f"{s * 1000:.4g} ms"


def _slo_words(slo: dict) -> str:
    parts = [f"TTFT ≤ {slo_bound(slo['ttft_s'])}" if _num(slo.get("ttft_s")) else "",
             f"TPOT ≤ {slo_bound(slo['tpot_s'])}" if _num(slo.get("tpot_s")) else ""]
    return " and ".join(p for p in parts if p)


def headroom(load_factor: float | None) -> str:
    """The load factor in words: how much more traffic the pools' batch limits would take.

        >>> headroom(0.5)
        'load factor 0.50: room for about 100% more traffic at the batch limits'
        >>> headroom(0.041)
        'load factor 0.04: room for about 24x this traffic at the batch limits'
        >>> headroom(1.2)
        'load factor 1.20: over capacity (the batch limits are reached)'
        >>> headroom(0.996)
        'load factor 1.00: at capacity (no room for more traffic at the batch limits)'
        >>> headroom(0.0)
        'load factor 0.00: idle'
    """
    if not _num(load_factor) or load_factor < 0:
        return ""
    if load_factor >= 1:
        return f"load factor {load_factor:.2f}: over capacity (the batch limits are reached)"
    if load_factor == 0:
        return "load factor 0.00: idle"
    if 1 / load_factor - 1 < 0.005:     # 'room for about 0% more' of a load factor written 1.00
        return f"load factor {load_factor:.2f}: at capacity (no room for more traffic at the batch limits)"
    if load_factor < 0.5:               # 'room for about 2340% more' reads better as a multiple
        return (f"load factor {load_factor:.2f}: room for about {humanize.number(1 / load_factor, digits=2)}x "
                f"this traffic at the batch limits")
    return (f"load factor {load_factor:.2f}: room for about {share(1 / load_factor - 1, 0)} more "
            f"traffic at the batch limits")


def fleet_headroom(summary: dict) -> str:
    """:func:`headroom` of a run: its fleet's load factor, or where several pools report theirs, the
    busiest pool's, named beside the fleet's mean. The fleet's is a mean over the pools weighted by their
    replica-seconds, and a request passes every stage of a disaggregated fleet, so the busiest stage's batch
    limits come first: one prefill replica at 0.78 beside decode replicas at 0.12 read 0.29 for the fleet,
    "about 3.5x this traffic", where the prefill pool takes 28 % more. Behind a router that spreads load
    over pools in parallel the room lies between the two: the busiest pool's is the one not overstated.

        >>> fleet_headroom({"utilization": {"load_factor": 0.29},
        ...                 "pools": {"prefill": {"load_factor": 0.78}, "decode": {"load_factor": 0.12}}})
        "load factor 0.78 in pool prefill, the busiest of 2 (the fleet's mean 0.29): room for about 28% more traffic at the batch limits"
        >>> fleet_headroom({"utilization": {"load_factor": 0.5}, "pools": {"only": {"load_factor": 0.5}}})
        'load factor 0.50: room for about 100% more traffic at the batch limits'
    """
    fleet = value_at(summary, "utilization.load_factor")
    pools = {name: p["load_factor"] for name, p in (summary.get("pools") or {}).items()
             if isinstance(p, dict) and _num(p.get("load_factor")) and math.isfinite(p["load_factor"])}
    found = busiest_pool(pools)
    if found is None or not _num(fleet):
        return headroom(fleet)
    name, lf, n = found
    words = headroom(lf)
    if not words:                               # (a negative load factor: no words)
        return words
    head = f"load factor {lf:.2f}"
    name = distinct_shortened(pools)[name]      # a 200-character name shortened, as the tables shorten it
    return f"{head} in pool {name}, the busiest of {n} (the fleet's mean {fleet:.2f}){words[len(head):]}"


def busiest_pool(load_factors: Mapping[str, Any]) -> tuple[str, float, int] | None:
    """``(name, load factor, pools)`` of the pool with the highest load factor among ``load_factors``
    (name -> load factor; those not a finite number left out) when several have one (ties to the first
    name in order), else ``None``: the room of a fleet of several pools (:func:`fleet_headroom`, and a
    plan's traffic line, :func:`sim.report.planner_columns.traffic_line`).

        >>> busiest_pool({"a": 0.2, "b.c": 0.5, "d": None}), busiest_pool({"a": 0.2})
        (('b.c', 0.5, 2), None)
    """
    found = sorted((name, float(v)) for name, v in load_factors.items() if _num(v) and math.isfinite(v))
    if len(found) < 2:
        return None
    name, lf = max(found, key=lambda f: f[1])
    return name, lf, len(found)


def overload_words(offered: float | None) -> str:
    """A fleet that does not keep up, in words: the work offered against what its batch limits serve
    (the served load factor of such a run says nothing about headroom: it is what got through).

        >>> overload_words(11.2)
        'offered load factor 11.20: about 11.2x the work the batch limits serve'
        >>> overload_words(None)
        ''
    """
    if not _num(offered) or offered <= 0:
        return ""
    return f"offered load factor {offered:.2f}: about {offered:.3g}x the work the batch limits serve"


#: why a request was turned away, in words (keys of ``requests.rejected_by_reason``)
REJECTION_WORDS = {
    "prompt_exceeds_max_context": "a prompt longer than the context (max_model_len)",
    "prompt_exceeds_max_batched_tokens": "a prompt longer than the token budget (max_batched_tokens) "
                                         "without chunked prefill",
    "kv_capacity": "more KV cache than a replica holds",
    "no_replica": "no replica up to take it",
    "max_retries": "no retries left after replica failures",
    "queue_full": "a full waiting room (max_waiting: refused at once, an HTTP 429 or 503)",
    "timeout": "their client giving up before a batch took them (workload.patience_s)",
}


def rejections(summary: dict) -> str:
    """Requests turned away, in words, with why; ``''`` when none were.

        >>> rejections({"requests": {"arrived": 10, "rejected": 10,
        ...             "rejected_by_reason": {"prompt_exceeds_max_context": 10}}})
        'Every request was rejected (10 of 10): 10 with a prompt longer than the context (max_model_len); they count as SLO misses.'
        >>> rejections({"requests": {"arrived": 10, "rejected": 0}})
        ''
    """
    req = summary.get("requests") or {}
    rejected, arrived = req.get("rejected"), req.get("arrived")
    if not _num(rejected) or rejected <= 0:
        return ""
    why = "; ".join(f"{count(n)} with {REJECTION_WORDS.get(k, k)}"
                    for k, n in (req.get("rejected_by_reason") or {}).items() if _num(n) and n > 0)
    of = f" of {count(arrived)}" if _num(arrived) else ""
    head = (f"Every request was rejected ({count(rejected)}{of})" if _num(arrived) and rejected >= arrived
            else f"{count(rejected)}{of} requests were rejected")
    return head + (f": {why}" if why else "") + "; they count as SLO misses."


#: reasons a fleet short of capacity (down replicas, a full waiting room, impatient clients, spent
#: retries) turns requests away; a prompt too long for the context, the token budget or a replica's
#: KV cache is turned away at any fleet size, so it takes nothing from the headroom
SHORT_OF_CAPACITY = ("no_replica", "queue_full", "timeout", "max_retries")


def turned_away_first(summary: dict, room: str) -> str:
    """``room`` (:func:`headroom`'s words) led by the share of requests the fleet turned away for want
    of capacity, when that share is material (above the ``1 - SLO_TARGET`` of requests the SLO target
    lets miss), and with no claim of room: the load factor counts the work served only, and a fleet
    that rejects what it is sent has no room for more. ``room`` unchanged otherwise.

        >>> s = {"requests": {"arrived": 100, "rejected": 40, "failed": 2,
        ...                   "rejected_by_reason": {"no_replica": 30, "queue_full": 10}}}
        >>> turned_away_first(s, headroom(0.38))
        '42.0% of requests were rejected or failed, mainly with no replica up to take it: load factor 0.38 counts the work served only, not room for more traffic'
        >>> turned_away_first({"requests": {"arrived": 100, "rejected": 1,
        ...                    "rejected_by_reason": {"no_replica": 1}}}, headroom(0.5))
        'load factor 0.50: room for about 100% more traffic at the batch limits'
    """
    req = summary.get("requests") or {}
    arrived = req.get("arrived")
    if not ("room for about" in room or room.endswith(": idle")) or not _num(arrived) or arrived <= 0:
        return room
    by = {k: n for k, n in (req.get("rejected_by_reason") or {}).items() if k in SHORT_OF_CAPACITY and _num(n) and n > 0}
    failed = req.get("failed") if _num(req.get("failed")) and req.get("failed") > 0 else 0
    lost = sum(by.values()) + failed
    if lost / arrived <= 1 - SLO_TARGET:
        return room
    if failed:
        by["max_retries"] = by.get("max_retries", 0) + failed   # failed: no retries left after failures
    main = max(by, key=lambda k: (by[k], k))
    factor = room.split(":", 1)[0]
    return (f"{share(lost / arrived)} of requests were {'rejected or failed' if failed else 'rejected'}, "
            f"{'mainly' if len(by) > 1 else 'all'} with {REJECTION_WORDS.get(main, main)}: {factor} counts the "
            "work served only, not room for more traffic")


def _verdict(summary: dict, slo_words: str) -> tuple[str, bool | None]:
    att = value_at(summary, "slo.attainment")
    stable = value_at(summary, "stability.stable")
    met: bool | None = None
    parts: list[str] = []
    if _num(att):
        met = att >= SLO_TARGET and stable is not False
        within = f" within {slo_words}" if slo_words else ""
        parts.append(f"SLO {'met' if met else 'NOT met'}: {share(att, apart=(SLO_TARGET, 1.0))} of requests{within} "
                     f"(target {share(SLO_TARGET, 0)}).")
    else:
        parts.append("SLO attainment unknown (no measured requests).")
    turned_away = rejections(summary)
    if turned_away:
        parts.append(turned_away)
    classes = {n: value_at(c, "slo.attainment") for n, c in (summary.get("classes") or {}).items()}
    if any(_num(v) for v in classes.values()):
        parts.append("Per class, within its own SLO: " + ", ".join(
            f"{n} {share(v, apart=(SLO_TARGET, 1.0))}" for n, v in classes.items() if _num(v)) + ".")
    overloaded = stability_overload_words(summary)
    if overloaded:
        parts.append(f"The fleet is {overloaded}: the backlog is bounded by what it turned away, and the "
                     "latencies describe the admitted requests only.")
    elif stable is False:
        growth = value_at(summary, "stability.backlog_growth_per_s")
        parts.append("The backlog grows" + (f" by {amount('stability.backlog_growth_per_s', growth)}" if _num(growth) else "")
                     + ": the fleet does not keep up.")
    elif value_at(summary, "stability.verdict") == "cannot tell":
        parts.append("The run is too short to tell whether the fleet keeps up at this load: "
                     "lengthen it before trusting its latency.")
    served = value_at(summary, "requests.completed")
    room = "" if served == 0 and turned_away else \
        fleet_headroom(summary) if stable is not False else \
        overload_words(value_at(summary, "stability.offered_load_factor"))
    room = turned_away_first(summary, room) if stable is not False else room
    if room and met is False and not turned_away and stable is not False and "room for" in room:
        # an average over the run: a peak of a time-varying load (or a bound too tight for the longest
        # requests) misses the SLO although the whole run's load factor leaves room
        room += (" on average over the run, yet the SLO is missed: a peak or burst above the average, or "
                 "latency bounds too tight for the longest requests (the report's time series show when)")
    if room:
        parts.append(room[0].upper() + room[1:] + ".")
    band = band_verdict(summary)
    if band:
        parts.append(band)
    cost = summary.get("cost") or {}
    currency = value_at(summary, "cashflow.currency") or "USD"
    money_bits = []
    if _num(cost.get("per_million_output_tokens")):
        money_bits.append(f"Cost {money(cost['per_million_output_tokens'], currency, compact=None)} per million output tokens")
    horizon = summary.get("simulated_seconds")
    if _num(cost.get("compute_usd")) and _num(horizon) and horizon > 0:
        monthly = cost["compute_usd"] * HOURS_PER_MONTH * 3600 / horizon
        money_bits.append(f"compute {money(cost['compute_usd'], currency, compact=None)} for {duration(horizon)}, "
                          f"about {money(monthly, currency, compact=None, whole=True)} per month"
                          + (f", plus {money(short, currency, compact=None)} of commit shortfall"
                             if _num(short := cost.get("compute_commit_shortfall_usd")) and short > 0 else ""))
    if money_bits:
        text = "; ".join(money_bits)
        parts.append(text[0].upper() + text[1:] + ".")
    return " ".join(parts), met


def shard_notes(summary: dict) -> list[str]:
    """What a sharded pool (``scale: K``) means for the numbers: which are one shard's, which the fleet's; with
    the replicas and GPUs of the whole fleet (the shard's times K) when the summary has them.

        >>> print(shard_notes({"pools": {"a100": {"scale": 10316.0, "replicas": 4, "gpus_per_replica": 8}}})[0])
        Sharded pool a100: the pool described is one of 10,316 identical shards (41,264 replicas, 330,112 GPUs in all). Requests, arrivals, latency and throughput are those of the one simulated shard; GPU-hours, cost and cash flows are for the whole fleet.

    An autoscaled shard's count is its mean (``replicas_mean``), not the count it started at:

        >>> print(shard_notes({"pools": {"a100": {"scale": 25.0, "replicas": 1, "replicas_mean": 2.288,
        ...                                      "gpus_per_replica": 4}}})[0])
        Sharded pool a100: the pool described is one of 25 identical shards (57.2 replicas, 229 GPUs in all on average). Requests, arrivals, latency and throughput are those of the one simulated shard; GPU-hours, cost and cash flows are for the whole fleet.
    """
    shards = {n: p for n, p in (summary.get("pools") or {}).items() if _num(p.get("scale")) and p["scale"] != 1}
    if not shards:
        return []

    def one(p: dict) -> str:
        text = f"one of {count(p['scale'])} identical shards"
        mean = p.get("replicas_mean")
        if _num(mean) and _num(p.get("gpus_per_replica")) and mean != p.get("replicas"):
            # an autoscaled shard: its starting count times K is no size the fleet had
            text += (f" ({humanize.number(mean * p['scale'])} replicas, "
                     f"{humanize.number(mean * p['gpus_per_replica'] * p['scale'])} GPUs in all on average)")
        elif _num(p.get("replicas")) and _num(p.get("gpus_per_replica")):
            text += (f" ({count(p['replicas'] * p['scale'])} replicas, "
                     f"{count(p['replicas'] * p['gpus_per_replica'] * p['scale'])} GPUs in all)")
        return text

    which = (f"Sharded pool {next(iter(shards))}: the pool described is {one(next(iter(shards.values())))}"
             if len(shards) == 1 else
             "Sharded pools: " + "; ".join(f"{n} is {one(p)}" for n, p in shards.items()))
    return [f"{which}. Requests, arrivals, latency and throughput are those of the one simulated shard; "
            f"GPU-hours, cost and cash flows are for the whole fleet."]
