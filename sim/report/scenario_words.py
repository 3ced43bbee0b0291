"""A scenario in words: what a run (or each configuration of a sweep, plan or saturation search)
simulated, for the head of ``report.html`` and of the terminal summary (:mod:`sim.report.overview`).

:func:`scenario_described` says it from the resolved scenario (``scenario.json``) as sentences and
as key settings: each pool (replicas × GPUs per replica, the GPU, its parallel layout, autoscaling,
shards, the model), its batching, the router, disaggregation, the arrivals, prompt and output
lengths, request classes, duration and warm-up, the step-time model and the fidelity;
:func:`summary_described` says what it can from a summary alone (a folder written without
``scenario.json``). A field a sweep varies stands in the scenario as its values in words
(:class:`Varied`) and is said as it is wherever its one value would be.

    >>> arrivals({"process": "poisson", "rate": 12}), lengths({"dist": "fixed", "value": 1000})
    ('Poisson arrivals at 12 req/s', '1,000 (fixed)')
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sim import humanize
from sim.humanize import latency, share

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


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)

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


def req_rate(rate: Any) -> str:
    """An arrival rate with its unit: per second, or one too small to read so (under 0.005 req/s,
    :func:`sim.humanize.small_rate_below`, the rule the run's throughput line and page follow) per hour or
    per day.

        >>> req_rate(12), req_rate(1e-06), req_rate(0.002), req_rate(Varied("12–96"))
        ('12 req/s', '0.0864 req/day', '7.2 req/h', '12–96 req/s')
    """
    if isinstance(rate, Varied) or not _num(rate):
        return f"{number(rate)} req/s"
    shown, per = humanize.per_longer(rate, "req/s")
    return f"{number(shown)} {per}"


def arrivals(arr: Any, growth: Any = None) -> str:
    """The arrival process in words: ``Poisson arrivals at 12 req/s``."""
    if not isinstance(arr, dict):
        return "arrivals as configured"
    p = arr.get("process")
    if p == "poisson":
        text = f"Poisson arrivals at {req_rate(arr.get('rate'))}"
    elif p == "gamma":
        text = f"bursty arrivals (gamma, CV {number(arr.get('cv'))}) at {req_rate(arr.get('rate'))}"
    elif p == "compound_poisson":
        text = (f"clumped Poisson arrivals ({number(arr.get('clump_mean'))} requests a clump on average) at "
                f"{req_rate(arr.get('rate'))}")
    elif p == "diurnal":
        text = (f"diurnal arrivals averaging {req_rate(arr.get('mean_rate'))} (peak/trough "
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
        ramp = arr.get("ramp_up_s", 0)
        if isinstance(ramp, Varied) or (_num(ramp) and ramp):
            text += f" (started one after another over {number(ramp)} s)"    # (not ", ... over 45 s for 2 m")
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
        return f"as in the trace {Path(str(dist.get('path'))).name}" if dist.get("path") else "as in the trace"
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
        if isinstance(v, Varied):       # a plan's or sweep's sizes: one of them ("TP 4 or 8")
            return [f"{label} {v.replace(', ', ' or ') if _varied_ints(v) else v}"]
        return [f"{label} {v}"] if _num(v) and v > 1 else []

    gpus = " × ".join(part("tensor_parallel", "TP") + part("pipeline_parallel", "PP"))
    words = ([gpus] if gpus else []) + part("expert_parallel", "EP")
    return f" ({', '.join(words)})" if words else ""


def _varied_ints(words: str) -> list[int] | None:
    """The whole numbers a :class:`Varied` field's words list (``4, 8``; ``1–4``), else None."""
    parts = words.split(", ")
    if len(parts) == 1 and "–" in words:
        lo, _, hi = words.partition("–")
        parts = [str(v) for v in range(int(lo), int(hi) + 1)] if lo.isdigit() and hi.isdigit() else parts
    return [int(p) for p in parts] if all(p.isdigit() for p in parts) else None


def _gpus_each(pool: dict) -> str:
    """``: 4 or 8 GPUs each`` when a plan or sweep varies the tensor (or pipeline) parallelism of the pool,
    whose replicas then have that many GPUs (the varied size times the other); empty otherwise."""
    varied = [k for k in ("tensor_parallel", "pipeline_parallel") if isinstance(pool.get(k), Varied)]
    sizes = _varied_ints(pool[varied[0]]) if len(varied) == 1 else None
    if not sizes:
        return ""
    other = next(k for k in ("tensor_parallel", "pipeline_parallel") if k != varied[0])
    gpus = [n * (int(pool[other]) if _num(pool.get(other)) and pool[other] >= 1 else 1) for n in sizes]
    said = " or ".join(map(str, gpus)) if len(gpus) <= 3 else f"{min(gpus)}–{max(gpus)}"
    return f": {said} GPUs each"


def _replicas_of(pool: dict, replicas: Any, gpu: Any) -> str:
    """``2 × 16 h200-sxm (TP 16, EP 16)``: replicas × GPUs per replica (when more than one; as
    ``fleetsim validate`` writes it, since "2 × h200-sxm" reads as two GPUs), the GPU, the layout; with the
    parallelism varied, the GPUs per replica in the layout.

        >>> _replicas_of({"tensor_parallel": Varied("4, 8")}, Varied("2–9"), "h100-sxm")
        '2–9 × h100-sxm (TP 4 or 8: 4 or 8 GPUs each)'
        >>> _replicas_of({"tensor_parallel": Varied("1–4"), "pipeline_parallel": 2}, 3, "h100-sxm")
        '3 × h100-sxm (TP 1–4 × PP 2: 2–8 GPUs each)'
    """
    per_replica = 1
    for key in ("tensor_parallel", "pipeline_parallel"):
        per_replica *= int(pool[key]) if _num(pool.get(key)) and pool[key] >= 1 else 1
    if per_replica > 1 and any(isinstance(pool.get(k), Varied) for k in ("tensor_parallel", "pipeline_parallel")):
        per_replica = 1                  # (a varied layout: the GPUs per replica are said in it)
    layout, each = _layout(pool), _gpus_each(pool)
    if each and layout.endswith(")"):
        layout = layout[:-1] + each + ")"
    return f"{replicas} × {f'{per_replica} ' if per_replica > 1 else ''}{gpu}" + layout


def _off(pool: dict, replicas: Any, gpu: Any) -> str | None:
    """``pool tp8-1node off (0 replicas of 8 h200-sxm, TP 8)`` for a pool set to 0 replicas without
    autoscaling (it serves nothing: a planner switches a layout off to size another alone); None for
    any other pool. "0 × 8 h200-sxm (TP 8) serving ..." read as if it served.

        >>> _off({"name": "b", "tensor_parallel": 8}, 0, "h200-sxm"), _off({"name": "b"}, 2, "h100-sxm")
        ('pool b off (0 replicas of 8 h200-sxm, TP 8)', None)
    """
    if not (_num(replicas) and replicas == 0) or pool.get("autoscale"):
        return None
    shape = _replicas_of(pool, 0, gpu).removeprefix("0 × ")
    if shape.endswith(")") and " (" in shape:        # the layout inside the same parentheses
        head, _, layout = shape.partition(" (")
        shape = f"{head}, {layout[:-1]}"
    return f"pool {pool.get('name', '?')} off (0 replicas of {shape})"


def _pool_line(pool: dict, default_model: Any, summary_pool: dict | None) -> str:
    gpus = pool.get("gpu", "?")
    if (off := _off(pool, pool.get("replicas"), gpus)) is not None:
        return off
    replicas = count(pool["replicas"]) if _num(pool.get("replicas")) else pool.get("replicas", "?")
    mean = (summary_pool or {}).get("replicas_mean")
    auto = pool.get("autoscale")
    if isinstance(auto, dict) and _num(auto.get("min")) and _num(auto.get("max")):
        replicas = f"{count(auto['min'])}–{count(auto['max'])}"
    line = _replicas_of(pool, replicas, gpus)
    if auto:
        line += f", autoscaled ({auto.get('metric', 'utilization')} target {number(auto.get('target'))}"
        line += f"; mean {number(mean)} replicas)" if _num(mean) else ")"
    line += f" serving {model_name(pool.get('model') or default_model)}"
    if _num(pool.get("scale")) and pool["scale"] != 1:
        line += f" ({_shards(pool['scale'])})"
    return line


def _shards(scale: float) -> str:
    """What a sharded pool's line (``scale: K``) says, in brackets: the pool it describes is one shard of K,
    said where the word is first met (the note under the paragraph,
    :func:`~sim.report.overview.shard_notes`, says which numbers are that shard's); the summary's sentence
    says it after a comma.

        >>> _shards(10316.0)
        'one of 10,316 identical shards'
    """
    return f"one of {count(scale)} identical shards"


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
    if isinstance(dist, dict) and dist.get("dist") == "trace":    # "from the trace tokens" said no file
        return lengths(dist)
    replaced = trace and isinstance(dist, dict)
    return f"{lengths(dist)} tokens" + (" (not the trace's lengths)" if replaced else "")


def _one_trace(wl: dict) -> str | None:
    """The file both lengths are drawn from, when they name the same one in the same format (each request's
    prompt and output then come from one of its rows: docs/workload.md), else None."""
    dists = [wl.get(k) for k in ("prompt_tokens", "output_tokens")]
    if all(isinstance(d, dict) and d.get("dist") == "trace" and d.get("path") for d in dists) and \
            (dists[0].get("path"), dists[0].get("format")) == (dists[1].get("path"), dists[1].get("format")):
        return Path(str(dists[0]["path"])).name
    return None


def scenario_described(name: str, scenario: dict, pools_sum: dict) -> tuple[list[str], list[tuple[str, str]]]:
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
    if (both := _one_trace(wl)) is not None:
        sentences.append(f"Prompt and output lengths as in the trace {both}, each request's from one of its rows.")
    elif wl.get("prompt_tokens") or wl.get("output_tokens"):
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
    if (words := _patience(wl)) is not None:
        settings.append(("patience", words))
    for c in classes:
        if isinstance(c, dict) and (words := _patience(c)) is not None:
            settings.append((f"class {c.get('name')} patience", words))
    settings.append(("duration", duration(scenario.get("duration"))
                     + (f", warm-up {duration(warmup)}" if warmup else "")))
    perf = scenario.get("perf") or {}
    if isinstance(perf, dict) and perf.get("model"):
        settings.append(("step-time model", str(perf["model"])))
    if scenario.get("fidelity") == "fluid":
        fluid = scenario.get("fluid")
        step = fluid.get("step", 3600.0) if isinstance(fluid, dict) else 3600.0   # (the schema's default)
        settings.append(("fidelity", f"fluid (capacity curves, {duration(step)} steps)"))
    return sentences, settings


def _fleet_settings(fleet: dict, pools: list, lines: list[str]) -> list[tuple[str, str]]:
    """Each pool and its batching; the router unless it is the default for one pool, and the classes
    it pins to pools; disaggregation."""
    settings = []
    for p, line in zip(pools, lines):
        settings.append((f"pool {p.get('name')}", line.removeprefix(f"pool {p.get('name')} ")))   # (off: "off (...)")
        settings.append((f"pool {p.get('name')} batching", batching(p.get("batching"))))
        if _num(p.get("max_waiting")):
            settings.append((f"pool {p.get('name')} waiting room", _room(p["max_waiting"], "per replica")))
    router = fleet.get("router")
    policy = router.get("policy") if isinstance(router, dict) else router
    if len(pools) > 1 or policy not in (None, "least_outstanding"):
        settings.append(("router", str(policy)))
    if isinstance(router, dict) and _num(router.get("max_waiting")):
        settings.append(("waiting room", _room(router["max_waiting"], "in the fleet's central queue")))
    pins = router.get("classes") if isinstance(router, dict) else None
    if isinstance(pins, dict) and pins:
        settings.append(("classes pinned to pools", "; ".join(
            f"{c} → {', '.join(map(str, p)) if isinstance(p, list) else p}" for c, p in pins.items())))
    if fleet.get("disaggregated"):
        d = fleet["disaggregated"]
        settings.append(("disaggregation", f"prefill on {d.get('prefill_pool')}, decode on "
                                           f"{d.get('decode_pool')}"))
    return settings


def _room(k, where: str) -> str:
    """A waiting room (``max_waiting``) in words.

        >>> _room(16, "per replica")
        'at most 16 requests waiting per replica; the next is refused at once'
    """
    return f"at most {k:,} {humanize.plural(k, 'request')} waiting {where}; the next is refused at once"


def _patience(owner: dict) -> str | None:
    """Clients' patience (``patience_s`` and ``patience``) in words; None when they wait however long.

        >>> _patience({"patience_s": 5, "patience": "exponential"})
        'clients give up after an exponential wait of mean 5 s unless admitted'
        >>> _patience({"patience_s": 30})
        'clients give up after 30 s waiting unless admitted'
    """
    s = owner.get("patience_s")
    if not _num(s):
        return None
    if owner.get("patience") == "exponential":
        return f"clients give up after an exponential wait of mean {duration(s)} unless admitted"
    return f"clients give up after {duration(s)} waiting unless admitted"


def _served(pool_sum: dict) -> bool:
    """Whether a summary's pool had a replica at some time (an autoscaled pool that starts at 0 does)."""
    return any(_num(pool_sum.get(k)) and pool_sum[k] > 0 for k in ("replicas_mean", "replicas_provisioned_total"))


def summary_described(name: str, pools_sum: dict, horizon) -> tuple[list[str], list[tuple[str, str]]]:
    """What ran, from the summary alone (no scenario.json): each pool's replicas, GPU, parallel layout and
    shard scale, and the simulated time."""
    lines = [_off({"name": n, **p, "autoscale": _served(p)}, p.get("replicas"), p.get("gpu", "?"))
             or _replicas_of(p, p.get("replicas", "?"), p.get("gpu", "?"))
             + (f", {_shards(p['scale'])}" if _num(p.get("scale")) and p["scale"] != 1 else "")
             for n, p in pools_sum.items()]
    sentences = [f"{name}: " + ("; ".join(lines) or "fleet as configured")
                 + (f", {duration(horizon)} simulated." if _num(horizon) else ".")]
    settings = [(f"pool {n}", line) for n, line in zip(pools_sum, lines)]
    if _num(horizon):
        settings.append(("simulated", duration(horizon)))
    return sentences, settings
