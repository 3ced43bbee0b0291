"""The capacity band: a run's latency and SLO attainment at ±p % of the model's capacity.

Near saturation a queue's latency is fragile: in M/D/1 at load ρ the mean wait is
``ρ D / (2 (1 - ρ))`` (Pollaczek–Khinchine), so at ρ = 0.92 a 3 % error in the service rate moves
it by about 40 %, and at ρ = 0.97 it can turn a stable queue into an overloaded one. The step-time
model's throughput is itself within a few per cent of published measurements (median 3.1 % over the
throughput rows of the validation report), so a single number is more precise than the model is.
``fleetsim run --capacity-band [PCT]`` runs the scenario twice more, with the same seed and hence the
same arrivals (common random numbers), on replicas with ``1 - PCT/100`` and ``1 + PCT/100`` times the
modelled capacity (:class:`sim.perf.scaled.ScaledCapacity`), and reports what each side gives:

``capacity_band = {"pct", "slower": side, "faster": side}``, each side
``{"capacity", "latency": {ttft, tpot, itl, e2e, queue: {mean, p50, p90, p99}}, "slo": {attainment,
goodput_rps}, "stability": {stable, verdict, offered_load_factor}, "load_factor"}`` in the summary's
own units (seconds, shares), with ``"gpu_hours": {provisioned, busy}`` and ``"cost": {compute_usd,
per_million_output_tokens}`` (a fixed fleet provisions the same GPU-hours on either side; an
autoscaled one does not), and, when the run has request classes, ``"classes": {name: {"latency",
"slo"}}`` (each class's own blocks; :func:`class_band` reads one as a band of its own). A side whose verdict is ``"unstable"`` describes a growing queue, not a
steady state: it reads ``overload``.

    >>> point = {"latency": {"ttft": {"p99": 0.412}}, "stability": {"verdict": "stable"}}
    >>> slow = {"latency": {"ttft": {"p99": 2.0}}, "stability": {"verdict": "unstable"}}
    >>> fast = {"latency": {"ttft": {"p99": 0.19}}, "stability": {"verdict": "stable"}}
    >>> b = band(3, slower=slow, faster=fast)
    >>> b["slower"]["capacity"], b["faster"]["capacity"]
    (0.97, 1.03)
    >>> latency_range(b, "ttft", "p99")
    '190.0 – overload'
"""
from __future__ import annotations

import math

from sim import humanize
from sim.errors import InputError
from sim.metrics.stability import overload

DEFAULT_PCT = 3.0
"""The default band, per cent of capacity: about the step-time model's median throughput error (3.1 %
over the throughput rows of the validation report)."""
MAX_PCT = 50.0
"""The widest band accepted, per cent (a replica at half its capacity is a different question)."""
MIN_PCT = 1e-12
"""The narrowest band accepted, per cent: from about 1e-14, ``1 - pct/100`` is 1.0, no band at all."""
NEAR_SATURATION = 0.85
"""Above this load factor a run's latency is read as a range (the validation report's advice): the
command line suggests the band when it was not asked for."""
LATENCY_KEYS = ("ttft", "tpot", "itl", "e2e", "queue")
"""The latency blocks a band side carries (the summary's own)."""
SIDES = ("faster", "slower")


def pct_problem(value) -> str | None:
    """What is wrong with ``value`` as a band width in per cent (``0 < pct <= 50``), or ``None``.

        >>> pct_problem("5") is None, pct_problem(0)
        (True, 'give a percentage of capacity greater than 0 and at most 50 (e.g. 3 for ±3 %); got 0')
    """
    try:
        pct = float(value)
    except (TypeError, ValueError):
        pct = math.nan
    if isinstance(value, bool) or not math.isfinite(pct) or not 0.0 < pct <= MAX_PCT:
        return (f"give a percentage of capacity greater than 0 and at most {MAX_PCT:g} "
                f"(e.g. {DEFAULT_PCT:g} for ±{DEFAULT_PCT:g} %); got {value!r}")
    if pct < MIN_PCT:       # 1e-300: 1 - pct/100 is 1.0, both sides' capacity the nominal one, a band of width 0
        return (f"give a percentage of capacity of at least {MIN_PCT:g} (below ~1e-14, 1 - pct/100 is 1 in floating "
                f"point: no band at all); e.g. {DEFAULT_PCT:g} for ±{DEFAULT_PCT:g} %; got {value!r}")
    return None


def check_pct(value, name: str = "--capacity-band") -> float:
    """``value`` as a band width in per cent; :class:`~sim.errors.InputError` naming ``name`` when
    :func:`pct_problem` finds one.

        >>> check_pct("5"), check_pct(2.5)
        (5.0, 2.5)
    """
    problem = pct_problem(value)
    if problem:
        raise InputError(f"{name}: {problem}")
    return float(value)


def capacities(pct: float) -> dict[str, float]:
    """The capacity scale of each side: ``{"faster": 1 + pct/100, "slower": 1 - pct/100}``."""
    return {"faster": 1.0 + pct / 100.0, "slower": 1.0 - pct / 100.0}


def capacities_text(pct: float) -> str:
    """The two sides' capacity scales, slower first, with the digits that tell them from 1 (a band of
    ``1e-06`` % is not "1 and 1").

        >>> capacities_text(3), capacities_text(1e-6)
        ('0.97 and 1.03', '0.99999999 and 1.00000001')
    """
    digits = max(4, 3 - math.floor(math.log10(pct / 100.0)))
    return " and ".join(f"{c:.{digits}g}" for c in sorted(capacities(pct).values()))


def side(summary: dict, capacity: float) -> dict:
    """What one side of the band keeps of its run's summary (see the module docstring)."""
    st = summary.get("stability") or {}
    cost = summary.get("cost") or {}
    out = {"capacity": capacity, **_blocks(summary),
           "stability": {k: st.get(k) for k in ("stable", "verdict", "offered_load_factor")},
           "load_factor": (summary.get("utilization") or {}).get("load_factor"),
           "gpu_hours": {k: (summary.get("gpu_hours") or {}).get(k) for k in ("provisioned", "busy")},
           "cost": {k: cost.get(k) for k in ("compute_usd", "per_million_output_tokens")}}
    if summary.get("classes"):
        out["classes"] = {name: _blocks(c) for name, c in summary["classes"].items()}
    return out


def _blocks(summary: dict) -> dict:
    """The latency and SLO blocks a band side keeps of a summary (or of one class's block)."""
    lat = summary.get("latency") or {}
    slo = summary.get("slo") or {}
    return {"latency": {k: dict(lat[k]) for k in LATENCY_KEYS if k in lat},
            "slo": {k: slo.get(k) for k in ("attainment", "goodput_rps")}}


def class_band(b: dict, name: str) -> dict | None:
    """Class ``name``'s part of band ``b`` as a band of its own (each side's class blocks with the
    side's stability verdict, which is the fleet's), for :func:`latency_range` and
    :func:`attainment_range`; ``None`` when a side has no such class.

        >>> sides = {s: {"classes": {"chat": {"latency": {"ttft": {"p99": v}}}}, "stability": {"verdict": "stable"}}
        ...          for s, v in (("slower", 0.5), ("faster", 0.3))}
        >>> latency_range(class_band({"pct": 3, **sides}, "chat"), "ttft", "p99")
        '300.0 – 500.0'
    """
    sides = {}
    for name_side in SIDES:
        own = ((b.get(name_side) or {}).get("classes") or {}).get(name)
        if own is None:
            return None
        sides[name_side] = {**own, "stability": b[name_side].get("stability")}
    return {"pct": b["pct"], **sides}


def band(pct: float, *, slower: dict, faster: dict) -> dict:
    """The summary's ``capacity_band`` block from the two sides' summaries."""
    caps = capacities(pct)
    return {"pct": pct, "slower": side(slower, caps["slower"]), "faster": side(faster, caps["faster"])}


def overloaded(band_side: dict) -> bool:
    """Whether a side did not keep up (its stability verdict is ``"unstable"``)."""
    return (band_side.get("stability") or {}).get("verdict") == "unstable"


def _value(band_side: dict, key: str, stat: str, fmt) -> str:
    if overloaded(band_side):
        return "overload"
    v = ((band_side.get("latency") or {}).get(key) or {}).get(stat) if key != "slo" else \
        (band_side.get("slo") or {}).get(stat)
    text = fmt(v)
    if undecided(band_side):
        text += "?"
    return text


def _ms(v) -> str:
    return "-" if v is None else f"{v * 1000:,.1f}"


def latency_range(b: dict, key: str, stat: str, fmt=_ms) -> str:
    """``faster – slower`` for ``latency.<key>.<stat>`` (milliseconds by default); ``overload``
    for a side that did not keep up, ``?`` after a value whose side the run could not judge."""
    return f"{_value(b['faster'], key, stat, fmt)} – {_value(b['slower'], key, stat, fmt)}"


def attainment_range(b: dict, fmt=humanize.attainment) -> str:
    """SLO attainment, ``slower – faster`` (low to high), as shares."""
    return f"{_value(b['slower'], 'slo', 'attainment', fmt)} – {_value(b['faster'], 'slo', 'attainment', fmt)}"


def explanation(b: dict, fluid: bool = False, summary: dict | None = None) -> str:
    """One line saying what the ranges are (``fluid``: of a fluid-tier run, whose sides read the
    same capacity curves rescaled in time rather than run the same arrivals again); with the run's
    ``summary``, the latencies that lie outside their own range said as such (:func:`outside`).

        >>> side = lambda v: {"latency": {"queue": {"p99": v}}, "stability": {"verdict": "stable"}}
        >>> b = {"pct": 3.0, "faster": side(0.0313), "slower": side(0.0371)}
        >>> explanation(b, summary={"latency": {"queue": {"p99": 0.0391}}}).split("did; ")[-1]
        'queue p99 lies outside its range: chance (which requests arrive when) moves it more than 3 % of capacity does; read the difference as noise'
    """
    pct = b["pct"]
    same = "the same demand, read off the capacity curves rescaled," if fluid else "the same arrivals"
    off = outside(summary, b) if summary is not None else []
    return (f"ranges: {same} with the model's capacity {pct:g} % higher (lower latency) and {pct:g} % "
            f"lower{_why(pct)}; 'overload': that side did not keep up; '?': too short to tell whether it did"
            + (f"; {', '.join(off)} {'lies' if len(off) == 1 else 'lie'} outside {'its' if len(off) == 1 else 'their'}"
               f" range: chance (which requests arrive when) moves {'it' if len(off) == 1 else 'them'} more than "
               f"{pct:g} % of capacity does; read the difference as noise" if off else ""))


#: the latencies and percentiles a band shows (``latency.<key>.<stat>``)
BAND_LATENCIES = tuple((k, q) for k in ("ttft", "tpot", "e2e", "queue") for q in ("p50", "p90", "p99"))


def outside(summary: dict, b: dict) -> list[str]:
    """The band's latencies (``ttft p99``) whose value in ``summary`` lies outside the range its two sides
    span (a side that did not keep up spans to overload): with the same arrivals, a percentile of a few
    requests can move more with the sample path than with the capacity. Compared at the 0.1 ms shown.

        >>> side = lambda v: {"latency": {"ttft": {"p99": v}}, "stability": {"verdict": "stable"}}
        >>> outside({"latency": {"ttft": {"p99": 0.140}}}, {"faster": side(0.131), "slower": side(0.148)})
        []
        >>> outside({"latency": {"ttft": {"p99": 4.122}}}, {"faster": side(4.3278), "slower": side(4.3531)})
        ['ttft p99']
        >>> docs = lambda v: {"classes": {"docs": {"latency": {"ttft": {"p99": v}}}}, "stability": {"verdict": "stable"}}
        >>> outside(docs(4.122), {"pct": 3, "faster": docs(4.3278), "slower": docs(4.3531)})
        ['class docs: ttft p99']
    """
    if any(overloaded(b[side]) for side in SIDES):
        return []
    runs = [("", summary, b, BAND_LATENCIES)]
    runs += [(f"class {name}: ", c, class_band(b, name), (("ttft", "p99"), ("tpot", "p99")))
             for name, c in (summary.get("classes") or {}).items() if isinstance(c, dict)]
    out = []
    for label, run, own, shown_stats in runs:
        for key, stat in shown_stats if own is not None else ():
            values = [((x.get("latency") or {}).get(key) or {}).get(stat) for x in (run, own["faster"], own["slower"])]
            if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in values):
                continue
            v, *ends = (round(x * 1000, 1) for x in values)
            if not min(ends) <= v <= max(ends):
                out.append(f"{label}{key} {stat}")
    return out


def _why(pct: float) -> str:
    """Why the default width, said only of the default."""
    return " (about the step-time model's throughput error)" if pct == DEFAULT_PCT else ""


def verdict(summary: dict) -> str:
    """One sentence for a run's verdict: the band's TTFT p99 and SLO attainment ranges (or that the
    slower side does not keep up); without a band, a suggestion when the run is near saturation;
    ``""`` otherwise.

        >>> verdict({"capacity_band": band(3, slower={"stability": {"verdict": "unstable"}}, faster={})})
        "With 3 % less capacity (about the step-time model's throughput error) the fleet would not keep up: read this run's latency as a range that reaches overload."
    """
    b = summary.get("capacity_band")
    if not b:
        near = _near_saturation(summary)
        return "" if near is None else (
            f"Near saturation ({near[1]}load factor {near[0]:.2f}) a few per cent of capacity moves latency by "
            f"tens of per cent: fleetsim run --capacity-band gives the range.")
    pct = f"{b['pct']:g} %"
    if overloaded(b["slower"]):
        return (f"With {pct} less capacity{_why(b['pct'])} the fleet would not keep up: read this run's latency "
                f"as a range that reaches overload.")
    unsure = [name for name in ("faster", "slower") if undecided(b[name])]
    note = (f" ('?': the run is too short to tell whether the fleet keeps up with {pct} "
            f"{'more' if unsure == ['faster'] else 'less'} capacity)" if len(unsure) == 1 else
            " ('?': the run is too short to tell whether the fleet keeps up on either side)" if unsure else "")
    return (f"At ±{pct} of the model's capacity TTFT p99 ranges {latency_range(b, 'ttft', 'p99', humanize.latency)}"
            f" and SLO attainment {attainment_range(b)}{note}.")


def undecided(band_side: dict) -> bool:
    """Whether the run was too short to tell if a side kept up (its stability verdict is ``"cannot tell"``)."""
    return (band_side.get("stability") or {}).get("verdict") == "cannot tell"


def near_saturation(summary: dict) -> float | None:
    """The highest load factor of the run (any pool's, or the fleet's offered) when it exceeds
    :data:`NEAR_SATURATION`, else ``None``: where the band is worth its two extra runs. ``None`` too for a
    run that does not keep up (``stability.stable`` false) or is overloaded and turns requests away
    (:func:`sim.metrics.stability.overload`): it is past saturation, and its latency is no point a
    range could be read around.

        >>> near_saturation({"pools": {"a": {"load_factor": 0.92}}, "stability": {"offered_load_factor": 0.9}})
        0.92
        >>> near_saturation({"utilization": {"load_factor": 0.5}}) is None
        True
        >>> near_saturation({"stability": {"stable": False, "offered_load_factor": 11.2}}) is None
        True
    """
    found = _near_saturation(summary)
    return None if found is None else found[0]


def _near_saturation(summary: dict) -> tuple[float, str] | None:
    """:func:`near_saturation` with what the load factor is of: ``'pool NAME at '`` (one of several
    pools), ``'offered '`` (the fleet's offered load) or ``''`` (the fleet's)."""
    if (summary.get("stability") or {}).get("stable") is False or overload(summary) is not None:
        return None     # past saturation: a growing backlog, or an overload met by refusals
    pools = summary.get("pools") or {}
    found = [(p.get("load_factor"), f"pool {name} at " if len(pools) > 1 else "") for name, p in pools.items()]
    found += [((summary.get("stability") or {}).get("offered_load_factor"), "offered "),
              ((summary.get("utilization") or {}).get("load_factor"), "")]
    top = max(((v, of) for v, of in found if isinstance(v, (int, float)) and math.isfinite(v)),
              key=lambda t: t[0], default=None)
    return top if top is not None and top[0] > NEAR_SATURATION else None


def band_key(metric: str, side: str) -> str | None:
    """The flat key of summary ``metric`` on a band side (latency blocks, SLO attainment and goodput),
    or ``None`` when a side does not carry it.

        >>> band_key("latency.ttft.p99", "slower"), band_key("utilization.load_factor", "slower")
        ('capacity_band.slower.latency.ttft.p99', None)
    """
    parts = metric.split(".")
    if (parts[0] == "latency" and len(parts) == 3) or metric in ("slo.attainment", "slo.goodput_rps"):
        return f"capacity_band.{side}.{metric}"
    return None


def configuration_range(row: dict, metric: str, fmt) -> str:
    """A sweep configuration's range of ``metric``: the means over its replications of each side,
    ``faster – slower`` (an SLO number low to high, ``slower – faster``); ``overload`` for a side some
    replication of which did not keep up (``capacity_band.<side>.stable`` false), ``?`` after one
    that could not tell (``None``).

        >>> row = {"capacity_band.faster.latency.ttft.p99.mean": 0.2, "capacity_band.faster.stable": True,
        ...        "capacity_band.slower.latency.ttft.p99.mean": 9.0, "capacity_band.slower.stable": False}
        >>> configuration_range(row, "latency.ttft.p99", str)
        '0.2 – overload'
    """
    def one(name: str) -> str:
        stable = row.get(f"capacity_band.{name}.stable")
        if stable is False:
            return "overload"
        return fmt(row.get(f"{band_key(metric, name)}.mean")) + ("?" if stable is None else "")

    low, high = ("slower", "faster") if metric.startswith("slo.") else ("faster", "slower")
    return f"{one(low)} – {one(high)}"


SLOWER = "capacity_band.slower."
"""The prefix of a plan's configuration row's keys on the band's slower side (as a banded sweep's rows
name them): ``capacity_band.slower.feasible``, ``capacity_band.slower.latency.ttft.p99.mean``."""


def robust_feasible(row: dict) -> bool:
    """Whether a plan's judged configuration row meets every constraint on the band's slower side (at
    the model's capacity when the plan had no band).

        >>> robust_feasible({"feasible": True, "capacity_band.slower.feasible": False})
        False
    """
    return bool(row.get(SLOWER + "feasible", row.get("feasible")))


def answer_rows(groups: list[dict], robust_groups: list[dict]) -> list[tuple[dict, str]]:
    """A plan's rows as its table shows them, with what each answers: each group's cheapest feasible
    configuration (``point``) and its cheapest robustly feasible one (``robust``; ``both`` when the
    same), in the groups' order; without a band (no ``robust_groups``), the groups with ``""``.

        >>> rows = answer_rows([{"overrides": ["r=5"]}], [{"overrides": ["r=6"], "feasible": True}])
        >>> [(r["overrides"][0], a) for r, a in rows]
        [('r=5', 'point'), ('r=6', 'robust')]
    """
    if not robust_groups:
        return [(r, "") for r in groups]
    robust = {tuple(r.get("overrides") or ()): r for r in robust_groups if robust_feasible(r)}
    points = {tuple(r.get("overrides") or ()) for r in groups}
    return ([(r, "both" if tuple(r.get("overrides") or ()) in robust else "point") for r in groups]
            + [(r, "robust") for k, r in robust.items() if k not in points])


def rate_range(b: dict, fmt=lambda v: f"{v:.4g}", key: str = "rate", unit: str = "") -> str:
    """``81 – 87 at ±3 % capacity``: a saturation search's band, each side's highest sustained rate,
    slower first (``none`` for a side that sustained no rate tried); ``key`` ``concurrency`` and ``unit``
    `` clients`` say a closed loop's client counts instead.

        >>> rate_range({"pct": 3.0, "slower": {"rate": None}, "faster": {"rate": 87.5}})
        'none – 87.5 at ±3 % capacity'
        >>> rate_range({"pct": 3.0, "slower": {"concurrency": 19}, "faster": {"concurrency": 21}}, str,
        ...            "concurrency", " clients")
        '19 – 21 clients at ±3 % capacity'
        >>> rate_range({"pct": 3.0, "slower": {"concurrency": None}, "faster": {}}, str, "concurrency", " clients")
        'none sustained at ±3 % capacity'
    """
    ends = [fmt(b[s][key]) if isinstance(b[s].get(key), (int, float)) else "none" for s in ("slower", "faster")]
    if ends == ["none", "none"]:
        return f"none sustained at ±{b['pct']:g} % capacity"
    return f"{ends[0]} – {ends[1]}{unit} at ±{b['pct']:g} % capacity"
