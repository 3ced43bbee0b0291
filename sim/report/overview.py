"""What a run simulated and whether it met its goal, in words: the head of ``report.html`` and of
the terminal summary.

:func:`overview` reads the run's ``summary.json`` and, when the folder has it, the resolved
scenario (``scenario.json``, written with every result) and returns

* ``paragraph``: one sentence or three saying what was simulated (model, GPUs, replicas, tensor
  parallelism, batching, arrivals, prompt and output lengths, duration, SLO);
* ``settings``: the same as a two-column table of key settings;
* ``verdict``: whether the fleet met its SLO (attainment against :data:`SLO_TARGET`, and a
  growing backlog when the summary reports one), the headroom the load factor leaves
  (``utilization.load_factor``: served work / what the pool could serve at its batch limits),
  the capacity band's ranges when the run has one (:mod:`sim.metrics.band`; near saturation
  without one, a suggestion to compute it), the cost per million output tokens and the compute
  bill per month;
* ``notes``: caveats a reader must know to read the numbers, e.g. that a pool with ``scale: K``
  is simulated as one shard of K (latency and throughput per shard, GPU-hours and money for the
  whole fleet).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import humanize
from sim.economics.calendar import HOURS_PER_MONTH
from sim.humanize import latency, money, share


class Varied(str):
    """A scenario field a sweep, plan or saturation search varies, standing in the described
    scenario for its values in words (``1–8``, ``h100-sxm, a100-80gb``): said as it is wherever the
    field's one value would be; ``note`` (``searched``) is said after the arrivals it varies."""

    note: str = ""

    def __new__(cls, words: str, note: str = "") -> "Varied":
        self = super().__new__(cls, words)
        self.note = note
        return self


def _said(words):
    """``words`` (a :mod:`sim.humanize` function) that says a :class:`Varied` field as it is."""
    return lambda v, *a, **k: str(v) if isinstance(v, Varied) else words(v, *a, **k)


count, duration, number = _said(humanize.count), _said(humanize.duration), _said(humanize.number)
from sim.metrics.band import verdict as band_verdict
from sim.metrics.names import amount

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
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    from sim.scenario.load import scenario_from_dict

    try:
        return scenario_from_dict(data, str(path), path.parent, check=False).scenario.model_dump(mode="json")
    except Exception:       # not a scenario (any more): describe the run from its summary alone
        return None


def value_at(d: Any, dotted: str) -> Any:
    """The value at a dotted key (``latency.ttft.p99``) of nested dicts, ``None`` where there is none."""
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ------------------------------------------------------------------------------ words for settings
def model_name(model: Any) -> str:
    """A catalog name as it is, an inline architecture as ``inline model (32 layers, hidden 4096)``."""
    if isinstance(model, str):
        return model
    if isinstance(model, dict):
        if model.get("name"):
            return str(model["name"])
        bits = [f"{model['n_layers']} layers" if "n_layers" in model else "",
                f"hidden {model['hidden']}" if "hidden" in model else ""]
        return "inline model (" + ", ".join(b for b in bits if b) + ")"
    return "?"


def arrivals(arr: Any, growth: Any = None) -> str:
    """The arrival process in words: ``Poisson arrivals at 12 req/s``."""
    if not isinstance(arr, dict):
        return "arrivals as configured"
    p = arr.get("process")
    if p == "poisson":
        text = f"Poisson arrivals at {number(arr.get('rate'))} req/s"
    elif p == "gamma":
        text = f"bursty arrivals (gamma, CV {number(arr.get('cv'))}) at {number(arr.get('rate'))} req/s"
    elif p == "diurnal":
        text = (f"diurnal arrivals averaging {number(arr.get('mean_rate'))} req/s (peak/trough "
                f"{number(arr.get('peak_to_trough'))}×, peak at {number(arr.get('peak_hour'))} h)")
    elif p == "piecewise":
        rates = [r for r in arr.get("rates") or [] if _num(r)]
        span = f"{number(min(rates))}–{number(max(rates))} req/s" if rates else "given rates"
        text = f"piecewise-constant arrivals ({span})"
    elif p == "trace":
        text = f"arrivals replayed from the trace {Path(str(arr.get('path'))).name}"
        scale = arr.get("rate_scale")
        if isinstance(scale, Varied) or (_num(scale) and scale != 1):
            text += f" at {number(scale)}× its rate"
    elif p == "closed":
        think = arr.get("think_time_s", 0)
        text = f"{count(arr.get('concurrency'))} closed-loop clients"
        if _num(think) and think:
            kind = " (exponential)" if arr.get("think") == "exponential" else ""
            mean = "a mean of " if kind else ""
            text += f", each thinking {mean}{number(think)} s{kind} after its last token"
        elif not isinstance(think, Varied):
            text += ", each sending its next request at its last token"
    else:
        text = f"{p} arrivals"
    text += "".join(f" ({v.note})" for v in arr.values() if isinstance(v, Varied) and v.note)
    monthly = growth.get("monthly") if isinstance(growth, dict) else None
    if _num(monthly) and monthly:
        text += f", growing {share(monthly)} a month"
    return text


def lengths(dist: Any) -> str:
    """A token-length distribution in words: ``lognormal, mean 1,000 (CV 1, max 8,192)``."""
    if not isinstance(dist, dict):
        return "–"
    d = dist.get("dist")
    if d == "fixed":
        return f"{count(dist.get('value'))} (fixed)"
    if d == "uniform":
        return f"uniform {count(dist.get('low'))}–{count(dist.get('high'))}"
    if d in ("lognormal", "exponential"):
        extra = [f"CV {number(dist['cv'])}" if _num(dist.get("cv")) else "",
                 f"max {count(dist['max'])}" if _num(dist.get("max")) else ""]
        extra_text = ", ".join(e for e in extra if e)
        return f"{d}, mean {count(dist.get('mean'))}" + (f" ({extra_text})" if extra_text else "")
    if d == "empirical":
        return f"empirical ({len(dist.get('values') or [])} values)"
    if d == "trace":
        return "from the trace"
    return str(d)


def batching(b: Any) -> str:
    """A pool's batching in words: ``continuous batching, no chunked prefill, ≤ 256 sequences``."""
    if not isinstance(b, dict):
        return "–"
    policy = b.get("policy", "continuous")
    if policy == "static":
        return f"static batches of {b.get('batch_size')} (timeout {latency(b.get('timeout_s'))})"
    words = [f"{policy} batching"]
    if b.get("scheduler"):
        words.append(f"{b['scheduler']} scheduler")
    words.append("chunked prefill" if b.get("chunked_prefill") else "no chunked prefill")
    if b.get("prefix_caching"):
        words.append("prefix caching")
    if _num(b.get("max_num_seqs")):
        words.append(f"≤ {count(b['max_num_seqs'])} sequences")
    if _num(b.get("max_batched_tokens")):
        words.append(f"≤ {count(b['max_batched_tokens'])} tokens per step")
    return ", ".join(words)


def _layout(pool: dict) -> str:
    """`` (TP 2 × PP 2, EP 8)`` of a pool entry (scenario or summary block; empty for one GPU)."""
    def part(key: str, label: str) -> list[str]:
        v = pool.get(key)
        return [f"{label} {v}"] if isinstance(v, Varied) or (_num(v) and v > 1) else []

    gpus = " × ".join(part("tensor_parallel", "TP") + part("pipeline_parallel", "PP"))
    words = ([gpus] if gpus else []) + part("expert_parallel", "EP")
    return f" ({', '.join(words)})" if words else ""


def _replicas_of(pool: dict, replicas: Any, gpu: Any) -> str:
    """``2 × 16 h200-sxm (TP 16, EP 16)``: replicas × GPUs per replica (when more than one; as
    ``fleetsim validate`` writes it, since "2 × h200-sxm" reads as two GPUs), the GPU, the layout."""
    per_replica = 1
    for key in ("tensor_parallel", "pipeline_parallel"):
        per_replica *= int(pool[key]) if _num(pool.get(key)) and pool[key] >= 1 else 1
    return f"{replicas} × {f'{per_replica} ' if per_replica > 1 else ''}{gpu}" + _layout(pool)


def _pool_line(pool: dict, default_model: Any, summary_pool: dict | None) -> str:
    gpus = pool.get("gpu", "?")
    replicas = count(pool["replicas"]) if _num(pool.get("replicas")) else pool.get("replicas", "?")
    mean = (summary_pool or {}).get("replicas_mean")
    auto = pool.get("autoscale")
    if isinstance(auto, dict) and _num(auto.get("min")) and _num(auto.get("max")):
        replicas = f"{count(auto['min'])}–{count(auto['max'])}"
    line = _replicas_of(pool, replicas, gpus)
    if auto:
        line += f", autoscaled ({auto.get('metric', 'utilization')} target {number(auto.get('target'))}"
        line += f"; mean {number(mean)} replicas)" if _num(mean) else ")"
    if _num(pool.get("scale")) and pool["scale"] != 1:
        line += f", one shard of {count(pool['scale'])}"
    line += f" serving {model_name(pool.get('model') or default_model)}"
    return line


# ------------------------------------------------------------------------------ the overview
def overview(summary: dict, scenario: dict | None = None) -> Overview:
    """The header of a run's report: title, paragraph, key settings, verdict and notes."""
    name = str(summary.get("scenario") or (scenario or {}).get("name") or "run")
    pools_sum = summary.get("pools") or {}
    if scenario is not None:
        sentences, settings = _scenario_described(name, scenario, pools_sum)
    else:
        sentences, settings = _summary_described(name, pools_sum, summary.get("simulated_seconds"))
    slo = summary.get("slo") or {}
    slo_words = _slo_words(slo)
    if slo_words:
        sentences.append(f"SLO: {slo_words} per request.")
        settings.append(("SLO", slo_words))
    if summary.get("seed") is not None:
        settings.append(("seed", str(summary["seed"])))
    gpu = ", ".join(dict.fromkeys(str(p.get("gpu")) for p in pools_sum.values() if p.get("gpu")))
    model = model_name(scenario.get("model")) if scenario else ""
    title = " · ".join(x for x in (name, model, gpu) if x)
    verdict, met = _verdict(summary, slo_words)
    return Overview(title=title, paragraph=" ".join(sentences), settings=settings, verdict=verdict,
                    met=met, notes=shard_notes(summary))


def _warmup_s(scenario: dict) -> float | None:
    """The scenario's warm-up when it has one (> 0)."""
    return scenario["warmup"] if _num(scenario.get("warmup")) and scenario["warmup"] > 0 else None


def _lengths_of(wl: dict, key: str) -> str:
    """The workload's ``prompt_tokens`` or ``output_tokens`` in words. Under trace arrivals a length
    left out is the trace's own, and one given replaces the trace's (a run draws it, whatever the
    trace's rows say): both said, since the arrivals sentence names the trace."""
    dist = wl.get(key)
    arr = wl.get("arrival")
    trace = isinstance(arr, dict) and arr.get("process") == "trace"
    if not dist:
        return "as in the trace" if trace else "–"
    replaced = trace and isinstance(dist, dict) and dist.get("dist") != "trace"
    return f"{lengths(dist)} tokens" + (" (not the trace's lengths)" if replaced else "")


def _scenario_described(name: str, scenario: dict, pools_sum: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """What the scenario simulated, in sentences (fleet and arrivals, lengths, classes) and as
    key settings (model, pools, batching, router, disaggregation, workload, duration, step-time
    model, fidelity)."""
    fleet = scenario.get("fleet") or {}
    pools = fleet.get("pools") or []
    lines = [_pool_line(p, scenario.get("model"), pools_sum.get(p.get("name"))) for p in pools]
    wl = scenario.get("workload") or {}
    arr = arrivals(wl.get("arrival"), wl.get("growth"))
    classes = wl.get("classes") or []
    warmup = _warmup_s(scenario)
    sentences = [f"{name}: {'; '.join(lines) or 'no pools'}, {arr} for {duration(scenario.get('duration'))}"
                 + (f" (first {duration(warmup)} excluded as warm-up)" if warmup else "") + "."]
    prompt, output = _lengths_of(wl, "prompt_tokens"), _lengths_of(wl, "output_tokens")
    if wl.get("prompt_tokens") or wl.get("output_tokens"):
        sentences.append(f"Prompts {prompt}; outputs {output}.")
    if classes:
        sentences.append(f"{len(classes)} request classes: " + ", ".join(
            f"{c.get('name')}" + (f" ({share(c['share'], 0)})" if _num(c.get("share")) else "")
            for c in classes) + ".")
    settings = [("model", model_name(scenario.get("model")))]
    settings += _fleet_settings(fleet, pools, lines)
    settings.append(("arrivals", arr))
    if wl.get("prompt_tokens"):
        settings.append(("prompt tokens", prompt))
    if wl.get("output_tokens"):
        settings.append(("output tokens", output))
    if classes:
        settings.append(("request classes", ", ".join(str(c.get("name")) for c in classes)))
    settings.append(("duration", duration(scenario.get("duration"))
                     + (f", warm-up {duration(warmup)}" if warmup else "")))
    perf = scenario.get("perf") or {}
    if isinstance(perf, dict) and perf.get("model"):
        settings.append(("step-time model", str(perf["model"])))
    if scenario.get("fidelity") == "fluid":
        settings.append(("fidelity", "fluid (hourly capacity curves)"))
    return sentences, settings


def _fleet_settings(fleet: dict, pools: list, lines: list[str]) -> list[tuple[str, str]]:
    """Each pool and its batching; the router unless it is the default for one pool, and the classes
    it pins to pools; disaggregation."""
    settings = []
    for p, line in zip(pools, lines):
        settings.append((f"pool {p.get('name')}", line))
        settings.append((f"pool {p.get('name')} batching", batching(p.get("batching"))))
    router = fleet.get("router")
    policy = router.get("policy") if isinstance(router, dict) else router
    if len(pools) > 1 or policy not in (None, "least_outstanding"):
        settings.append(("router", str(policy)))
    pins = router.get("classes") if isinstance(router, dict) else None
    if isinstance(pins, dict) and pins:
        settings.append(("classes pinned to pools", "; ".join(
            f"{c} → {', '.join(map(str, p)) if isinstance(p, list) else p}" for c, p in pins.items())))
    if fleet.get("disaggregated"):
        d = fleet["disaggregated"]
        settings.append(("disaggregation", f"prefill on {d.get('prefill_pool')}, decode on "
                                           f"{d.get('decode_pool')}"))
    return settings


def _summary_described(name: str, pools_sum: dict, horizon) -> tuple[list[str], list[tuple[str, str]]]:
    """What ran, from the summary alone (no scenario.json): each pool's replicas, GPU, parallel layout and
    shard scale, and the simulated time."""
    lines = [_replicas_of(p, p.get("replicas", "?"), p.get("gpu", "?"))
             + (f", one shard of {count(p['scale'])}" if _num(p.get("scale")) and p["scale"] != 1 else "")
             for p in pools_sum.values()]
    sentences = [f"{name}: " + ("; ".join(lines) or "fleet as configured")
                 + (f", {duration(horizon)} simulated." if _num(horizon) else ".")]
    settings = [(f"pool {n}", line) for n, line in zip(pools_sum, lines)]
    if _num(horizon):
        settings.append(("simulated", duration(horizon)))
    return sentences, settings


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


def _verdict(summary: dict, slo_words: str) -> tuple[str, bool | None]:
    att = value_at(summary, "slo.attainment")
    stable = value_at(summary, "stability.stable")
    met: bool | None = None
    parts: list[str] = []
    if _num(att):
        met = att >= SLO_TARGET and stable is not False
        within = f" within {slo_words}" if slo_words else ""
        parts.append(f"SLO {'met' if met else 'NOT met'}: {share(att)} of requests{within} "
                     f"(target {share(SLO_TARGET, 0)}).")
    else:
        parts.append("SLO attainment unknown (no measured requests).")
    turned_away = rejections(summary)
    if turned_away:
        parts.append(turned_away)
    classes = {n: value_at(c, "slo.attainment") for n, c in (summary.get("classes") or {}).items()}
    if any(_num(v) for v in classes.values()):
        parts.append("Per class, within its own SLO: " + ", ".join(
            f"{n} {share(v)}" for n, v in classes.items() if _num(v)) + ".")
    if stable is False:
        growth = value_at(summary, "stability.backlog_growth_per_s")
        parts.append("The backlog grows" + (f" by {amount('stability.backlog_growth_per_s', growth)}" if _num(growth) else "")
                     + ": the fleet does not keep up.")
    elif value_at(summary, "stability.verdict") == "cannot tell":
        parts.append("The run is too short to tell whether the fleet keeps up at this load: "
                     "lengthen it before trusting its latency.")
    served = value_at(summary, "requests.completed")
    room = "" if served == 0 and turned_away else \
        headroom(value_at(summary, "utilization.load_factor")) if stable is not False else \
        overload_words(value_at(summary, "stability.offered_load_factor"))
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
                          f"about {money(monthly, currency, compact=None, whole=True)} per month")
    if money_bits:
        text = "; ".join(money_bits)
        parts.append(text[0].upper() + text[1:] + ".")
    return " ".join(parts), met


def shard_notes(summary: dict) -> list[str]:
    """What a sharded pool (``scale: K``) means for the numbers: which are one shard's, which the fleet's."""
    notes = []
    shards = {n: p["scale"] for n, p in (summary.get("pools") or {}).items()
              if _num(p.get("scale")) and p["scale"] != 1}
    if shards:
        which = ", ".join(f"{n} (× {count(k)})" for n, k in shards.items())
        notes.append(f"Sharded pools: {which}. Requests, latency and throughput are those of the one "
                     f"simulated shard; GPU-hours, cost and cash flows are for the whole fleet.")
    return notes
