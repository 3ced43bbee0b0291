"""Trace arrivals burstier than Poisson inside a sub-step: measured, modelled where the curves allow, said where not.

The fluid tier reads a trace replay's rate per sub-step (:mod:`sim.fluid.substep`: twelve per step)
and prices each instant's load with a capacity curve measured under Poisson arrivals
(:mod:`sim.fluid.capacity`). Inside a sub-step it takes the arrivals to be as random as Poisson's
and no more. A trace whose requests come in clumps shorter than a sub-step (a conversation service's
bursts of seconds) queues far longer than that: the bundled Azure conversation sample at ten times
its rate on three H100 replicas reads a TTFT p99 of 0.30 s in the fluid tier against 1.4 s replayed
request by request (``docs/scaling.md``, "Trace arrivals burstier than Poisson").

This module measures it. Above :func:`threshold` the curves are measured under the trace's own arrivals
instead (:mod:`sim.fluid.replay`: the same case then reads 1.68 s), or batch Poisson clumps of its index
(:func:`clump_mean`, :func:`pool_clumps`); a run on curves that were not says so (:func:`warn_bursty`). The trace's arrivals are counted in windows of about
:data:`WINDOW_S` tiling each sub-step, and :func:`dispersion` gives the index of dispersion of those
counts (their variance over their mean), each window against its own sub-step's mean, so that the
rate swings the sub-steps already follow are not counted. Poisson arrivals at a rate constant within
each sub-step have an index of 1 whatever the rate; compound arrivals in clumps of ``b`` requests
have ``E[b^2] / E[b]`` (2 for pairs). Its sampling noise for Poisson counts is :func:`dispersion`'s
second value (the variance of a Poisson sample variance, ``lambda / K + 2 lambda^2 / (K - 1)`` for
``K`` windows of mean ``lambda``). A fluid run warns (:func:`warn_bursty`) when the index is above
both ``1 + SIGMAS x noise`` (Poisson arrivals exceed it about once in 30,000 runs) and
:data:`MATERIAL`: for a queue, the mean wait grows with ``(c_a^2 + c_s^2) / 2`` (Kingman), and for
arrivals whose gaps are independent the index over windows of many gaps is ``c_a^2``, Poisson's
1; at 1.5 the arrivals' part of that is half as large again, beyond what a step-time model's errors move.

    >>> rng = np.random.default_rng(1)
    >>> d, sd = dispersion(rng.poisson(5.0, size=(200, 30)))      # Poisson counts: 1 within the noise
    >>> abs(d - 1.0) < 4 * sd, round(sd, 3)
    (True, 0.02)
    >>> d, _ = dispersion(2 * rng.poisson(2.5, size=(200, 30)))   # pairs: E[b^2] / E[b] = 2
    >>> round(d, 1)
    2.0
"""
from __future__ import annotations

import math

import numpy as np

WINDOW_S = 1.0
"""The counting window (s): the scale of a request's service and of a TTFT objective; each sub-step is
tiled by a whole number of windows as near this as the run's length allows (:func:`window_count`)."""

SIGMAS = 4.0
"""The noise band, in standard deviations of Poisson counts' index (:func:`dispersion`)."""

MATERIAL = 1.5
"""The least index that warns: the arrivals' part ``c_a^2`` of a queue's wait half as large again as
Poisson's (module docstring)."""

MAX_WINDOWS = 1_000_000
"""The most windows counted (a year of hourly steps: windows of about 33 s)."""

COUNTED = ("trace",)
"""The arrival processes whose arrivals are counted (the others' rate is known, and Poisson's or
renewal within a step)."""


def dispersion(counts: np.ndarray, smooth: np.ndarray | None = None) -> tuple[float, float]:
    """``(index, noise)``: the index of dispersion of ``counts`` (``(sub-steps, K)`` windows), each
    window against its own sub-step's mean, and the standard deviation that index has for Poisson
    counts of the same means; ``smooth`` (per sub-step, per window): expected arrivals of Poisson
    processes beside the counted ones, whose variance is their mean. ``(nan, nan)`` without two
    windows in a sub-step or without arrivals."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] < 2:
        return float("nan"), float("nan")
    k = counts.shape[1]
    m = counts.mean(axis=1)
    other = np.zeros_like(m) if smooth is None else np.asarray(smooth, dtype=np.float64)
    lam = m + other
    den = float(np.sum((k - 1) * lam))
    if not den > 0:
        return float("nan"), float("nan")
    ss = float(np.sum((counts - m[:, None]) ** 2)) + float(np.sum((k - 1) * other))
    var = float(np.sum((k - 1) ** 2 * (lam / k + 2.0 * lam ** 2 / (k - 1)))) / den ** 2
    return ss / den, math.sqrt(var)


def threshold(noise: float) -> float:
    """The index above which a fluid run warns: beyond Poisson's noise band and material."""
    return max(1.0 + SIGMAS * noise, MATERIAL)


def window_count(sub_s: float, n_subs: int) -> int:
    """Windows per sub-step: about :data:`WINDOW_S` each, at most :data:`MAX_WINDOWS` in all; 0 where
    fewer than 2 fit (a sub-step within two windows already follows the rate at that scale).

        >>> window_count(425 / 12, 12), window_count(300.0, 8760 * 12), window_count(1.2, 12)
        (35, 9, 0)
    """
    k = min(int(round(sub_s / WINDOW_S)), MAX_WINDOWS // max(n_subs, 1))
    return k if k >= 2 else 0


def _sources(workload) -> list[tuple[str, object, list[int]]]:
    """``(field, arrival process, class columns)`` of each arrival process of the workload: the shared one
    (``workload.arrival``, sending the classes without their own; column 0 without classes) and each class's
    own, in :func:`sim.fluid.demand.expected_arrivals`' column order."""
    classes = workload.classes or ()
    out = []
    if workload.arrival is not None:
        out.append(("workload.arrival", workload.arrival,
                    [c for c, cls in enumerate(classes) if cls.arrival is None] if classes else [0]))
    for c, cls in enumerate(classes):
        if cls.arrival is not None:
            out.append((f"workload.classes.{c}.arrival", cls.arrival, [c]))
    return out


def _counted(workload) -> tuple[list[int], str | None]:
    """The classes whose arrivals are a trace's, and the field of the first such class's arrival."""
    found = [(cols, field) for field, arrival, cols in _sources(workload) if arrival.process in COUNTED]
    first = min(((cols[0], field) for cols, field in found if cols), default=(None, None))
    return sorted(c for cols, _ in found for c in cols), first[1]


def _pinned(sc) -> bool:
    """Whether the scenario pins classes to pools (``fleet.router.classes``)."""
    return bool(getattr(getattr(sc.fleet, "router", None), "classes", None))


def measure(sc, edges: np.ndarray, fine: np.ndarray | None, base_dir) -> dict | None:
    """The trace's index of dispersion in windows tiling the sub-steps of the steps between ``edges``:
    ``{"field", "window_s", "windows", "index", "noise", "threshold"}``, or ``None`` when the scenario
    replays no trace or its sub-steps are too short to count in (:func:`window_count`); ``fine``:
    each class's arrivals per sub-step (:func:`sim.fluid.substep.sub_arrivals`), the other classes'
    part (none where classes are pinned to pools: a pinned class may have a pool to itself)."""
    from sim.fluid.demand import expected_arrivals
    from sim.fluid.substep import SUB, sub_edges

    cols, field = _counted(sc.workload)
    edges = np.asarray(edges, dtype=np.float64)
    if not cols or fine is None or len(edges) < 2:
        return None
    n_subs = (len(edges) - 1) * SUB
    sub_s = float(edges[1] - edges[0]) / SUB
    k = window_count(sub_s, n_subs)
    if not k:
        return None
    counts = expected_arrivals(sc.workload, sub_edges(edges, SUB * k), start=sc.start, base_dir=base_dir,
                               seed=sc.seed, sub=1)[:, cols].sum(axis=1).reshape(n_subs, k)
    # the other classes' arrivals dilute the trace's, unless classes are pinned to pools (fleet.router.classes:
    # a pinned class may have a pool to itself, whose queue sees its arrivals alone)
    rest = [] if _pinned(sc) else [c for c in range(fine.shape[2]) if c not in cols]
    smooth = fine[:, :, rest].sum(axis=2).ravel() / k if rest else None
    index, noise = dispersion(counts, smooth)
    if math.isnan(index):
        return None
    return {"field": field, "window_s": sub_s / k, "windows": int(counts.size), "index": index, "noise": noise,
            "threshold": threshold(noise)}


def burst_message(m: dict, sub_s: float) -> str | None:
    """The warning for a trace measured as ``m`` (:func:`measure`) on sub-steps of ``sub_s``, or ``None``
    when its index is within :func:`threshold`."""
    from sim.humanize import duration

    if not m["index"] > m["threshold"]:
        return None
    return (f"{m['field']}: the trace's arrivals are burstier than Poisson within the fluid tier's "
            f"{duration(sub_s)} sub-steps: counted in {m['window_s']:.3g} s windows, their index of dispersion "
            f"(variance / mean, each window against its sub-step's mean) is {m['index']:.2f}, where Poisson "
            f"arrivals, on which the capacity curves are measured, have 1 ± {m['noise']:.2f} over these "
            f"{m['windows']:,} windows (this warns above {m['threshold']:.2f}); the fluid tier reads its queues, "
            f"TTFT and TPOT tails too mildly (e.g. the Azure conversation sample at 10x on 3 H100s: TTFT p99 0.30 s "
            f"against 1.4 s); run it at fidelity: request")


CLUMPED = "compound_poisson"
"""The process the capacity curves of a clumped workload are measured under (:func:`pool_clumps`)."""


def clump_mean(index: float, share: float = 1.0) -> float | None:
    """The mean clump size of batch Poisson arrivals with geometric clumps whose counts have ``index``
    (``E[b^2] / E[b] = 2 m - 1`` for a geometric ``b`` of mean ``m``), after a ``share`` of them is kept,
    each request on its own (a replica group's part of a pool: a geometric clump thinned to ``q`` is,
    where anything is left, geometric again, of mean ``1 + q (m - 1)``); rounded to two significant digits
    (it is part of the capacity curve's cache key, and an index's sampling noise is about 0.1); ``None``
    where that is 1, Poisson.

        >>> clump_mean(9.87), clump_mean(9.87, 1 / 3), clump_mean(1.09), clump_mean(80.5)
        (5.4, 2.5, None, 41.0)
    """
    m = 1.0 + share * ((index + 1.0) / 2.0 - 1.0)
    m = float(f"{m:.2g}")
    return m if m > 1.0 else None


def _compound_index(workload, arrivals: np.ndarray | None) -> float | None:
    """The index of dispersion of all the workload's arrivals where some come from ``compound_poisson``
    processes (each ``2 clump_mean - 1``, the others' 1, weighed by ``arrivals``, each class's expected
    arrivals; each process alone without them), or ``None`` without such a process."""
    found = [(2.0 * arrival.clump_mean - 1.0, cols) for _, arrival, cols in _sources(workload)
             if arrival.process == CLUMPED]
    if not found:
        return None
    mixed = _mixed_index(found, arrivals)
    return max(index for index, _ in found) if mixed is None else mixed


def _mixed_index(found: list[tuple[float, list[int]]], arrivals: np.ndarray | None) -> float | None:
    """The index of dispersion of all the workload's arrivals, ``found`` holding ``(index, class columns)`` of
    the processes burstier than Poisson and ``arrivals`` each class's expected arrivals, the others' counting
    as Poisson's (index 1): independent streams add their variances and means, ``sum(n_i I_i) / sum(n_i)``;
    ``None`` without arrivals (or none expected)."""
    if arrivals is None:
        return None
    arrivals = np.asarray(arrivals, dtype=np.float64)
    total = float(arrivals.sum())
    if not total > 0:
        return None
    sent = [float(arrivals[cols].sum()) for _, cols in found]
    return (total - sum(sent) + sum(index * n for (index, _), n in zip(found, sent))) / total


COUNT = object()
"""``measured=COUNT`` (the default of :func:`modelled_index` and :func:`warn_bursty`): the trace's arrivals
are counted there (:func:`measure`); a fluid run that counted them already passes what it found instead."""


def modelled_index(sc, edges: np.ndarray, fine: np.ndarray | None, base_dir, measured=COUNT
                   ) -> tuple[float | None, dict | None]:
    """``(index, measured)``: the index of dispersion the capacity curves are measured under (``None``:
    Poisson's) and the trace's measurement (:func:`measure`, ``None`` without one; ``measured``: that
    measurement, made already, or :data:`COUNT`): a trace's measured index where it is above
    :func:`threshold`, else that of the workload's ``compound_poisson`` processes (:func:`_compound_index`),
    known exactly."""
    m = measure(sc, edges, fine, base_dir) if measured is COUNT else measured
    if m is not None and m["index"] > m["threshold"]:
        return m["index"], m
    mix = fine.sum(axis=(0, 1)) if fine is not None and not _pinned(sc) else None
    return _compound_index(sc.workload, mix), m


def pool_clumps(sc, index: float | None, groups: list[int]) -> list[float | None]:
    """The mean clump each pool's curve is measured under (:func:`clump_mean`; ``None``: Poisson), for a
    workload whose arrivals have ``index``: a pool's curve is measured on ``groups[i]`` replicas, which see
    their part of the fleet's arrivals, ``g / sum(replicas)`` (each request routed on its own: random routing
    splits a clump among the replicas, the state-aware routers spread it over the emptiest)."""
    if index is None:
        return [None] * len(groups)
    total = sum(int(p.replicas) for p in sc.fleet.pools)
    return [clump_mean(index, min(1.0, g / total)) for g in groups]


def _gammas(workload) -> list[tuple[str, float, list[int]]]:
    """``(field, cv, classes)`` of every ``gamma`` arrival process of the workload (shared or a class's own),
    with the class columns whose arrivals it sends (:func:`_sources`)."""
    return [(field, arrival.cv, cols) for field, arrival, cols in _sources(workload) if arrival.process == "gamma"]


def gamma_message(workload, arrivals: np.ndarray | None = None) -> str | None:
    """The warning for ``gamma`` arrival processes whose gaps' ``cv**2`` (the index of dispersion of their
    counts over windows of many gaps) makes the index of all the workload's arrivals exceed :data:`MATERIAL`,
    or ``None``: the fluid tier prices it on Poisson's capacity curves, as it does a bursty trace.
    ``arrivals``: each class's expected arrivals over the run; the other classes' arrivals count as
    Poisson's (index 1), as beside a trace (:func:`dispersion`): independent streams add their variances and
    means, ``sum(n_i cv_i^2) / sum(n_i)``. ``None``: each process alone (the fleet sees nothing else).

    >>> from types import SimpleNamespace as NS
    >>> gamma_message(NS(arrival=NS(process="gamma", cv=1.2), classes=None)) is None    # 1.44 <= 1.5
    True
    >>> gamma_message(NS(arrival=NS(process="gamma", cv=2.0), classes=None))[:61]
    'workload.arrival: a gamma arrival process of cv 2 is burstier'
    >>> two = NS(arrival=None, classes=[NS(arrival=NS(process="poisson")), NS(arrival=NS(process="gamma", cv=2.0))])
    >>> gamma_message(two, np.array([99.0, 1.0])) is None                   # (99 + 4 x 1) / 100 = 1.03
    True
    >>> "with the workload's other arrivals 2.5)" in gamma_message(two, np.array([10.0, 10.0]))   # 50 / 20
    True
    """
    found = _gammas(workload)
    if not found:
        return None
    mixed = _mixed_index([(cv * cv, cols) for _, cv, cols in found], arrivals)
    for field, cv, _ in found:
        if cv * cv > MATERIAL and (mixed is None or mixed > MATERIAL):
            among = "" if mixed is None or mixed == cv * cv else f", with the workload's other arrivals {mixed:.3g}"
            return (f"{field}: a gamma arrival process of cv {cv:g} is burstier than Poisson (index of dispersion "
                    f"cv^2 = {cv * cv:.3g}, Poisson's 1; this warns above {MATERIAL:g}{among}); the fluid tier "
                    f"prices every load on capacity curves measured under Poisson arrivals and reads its queues, "
                    f"TTFT and TPOT tails too mildly; run it at fidelity: request")
    return None


def modelled_message(m: dict, sub_s: float, clump: float) -> str:
    """The warning for a trace measured as ``m`` (:func:`measure`) above :func:`threshold` whose curves were
    measured under batch Poisson clumps of mean ``clump`` (:mod:`sim.fluid.replay`: a trace with classes, or whose
    rows all share one instant, which cannot be replayed looped)."""
    from sim.humanize import duration

    return (f"{m['field']}: the trace's arrivals are burstier than Poisson within the fluid tier's "
            f"{duration(sub_s)} sub-steps (index of dispersion {m['index']:.2f} in {m['window_s']:.3g} s windows, "
            f"Poisson's 1 ± {m['noise']:.2f}); the capacity curves are measured under batch Poisson "
            f"arrivals of that index (clumps of {clump:g} requests on average, the largest pool's), not the trace's "
            f"own: bursts longer than a window and clumps whose requests share their lengths are left out, and the "
            f"tails may still read too mildly; run it at fidelity: request to check")


def compound_message(workload, arrivals: np.ndarray | None = None) -> str | None:
    """The warning for a ``compound_poisson`` process whose clumps the capacity curves are not measured under:
    the curves are measured under one batch Poisson process of all the workload's arrivals' index
    (:func:`_compound_index`; ``arrivals``: each class's expected arrivals, ``None``: each process alone, the
    largest), so a class's own clumps merged with other arrivals are measured smaller (their index diluted),
    or another's larger; ``None`` where each such process's clump is the one measured (one process sending
    every request).

    >>> from types import SimpleNamespace as NS
    >>> one = NS(arrival=NS(process="compound_poisson", clump_mean=12.0), classes=None)
    >>> compound_message(one, np.array([100.0])) is None
    True
    >>> two = NS(arrival=NS(process="poisson"), classes=[NS(arrival=None, name="steady"),
    ...          NS(arrival=NS(process="compound_poisson", clump_mean=12.0), name="batch")])
    >>> compound_message(two, np.array([6.0, 2.0])).startswith("workload.classes.1.arrival: class batch's clumps of 12")
    True
    >>> "one batch Poisson process of index 6.5 (clumps of 3.8" in compound_message(two, np.array([6.0, 2.0]))  # 3.75
    True
    """
    found = [(field, arrival.clump_mean, cols) for field, arrival, cols in _sources(workload)
             if arrival.process == CLUMPED]
    index = _compound_index(workload, arrivals)
    if not found or index is None:
        return None
    merged = clump_mean(index) or 1.0
    for field, m, cols in found:
        own = clump_mean(2.0 * m - 1.0) or 1.0
        if own == merged:
            continue
        classes = workload.classes or ()
        who = (f"class {classes[cols[0]].name}'s" if field.startswith("workload.classes.") and classes
               else "the workload's")
        head = (f"{field}: {who} clumps of {m:g} requests on average (index of dispersion {2.0 * m - 1.0:.3g}) "
                f"are measured with the workload's other arrivals as one batch Poisson process of index "
                f"{index:.3g} (clumps of {merged:g} on average): ")
        if merged > own:        # classes pinned to pools: the largest process's clumps, for every pool
            return head + ("the capacity curves hold larger clumps than it sends, so the fluid tier may read its "
                           "pool's queues and tails too harshly; run it at fidelity: request to check")
        return head + ("the capacity curves hold smaller clumps than it sends, so the fluid tier reads the queues, "
                       "TTFT and TPOT tails too mildly, its class's most (one H100 at 6 req/s of Poisson arrivals "
                       "and 2 req/s in clumps of 12, seed 1: TTFT p99 0.47 s, the clumped class's 0.50 s, against "
                       "1.30 and 1.48 s at request level); run it at fidelity: request to check")
    return None


def compound_warning(sc, fine: np.ndarray | None) -> None:
    """Warn (:class:`~sim.errors.ScenarioWarning`) where a ``compound_poisson`` process's clumps are merged
    with other arrivals into the one the curves are measured under (:func:`compound_message`; ``fine``: each
    class's arrivals per sub-step, whose totals weigh the classes, unless classes are pinned to pools)."""
    import warnings

    from sim.errors import ScenarioWarning

    said = compound_message(sc.workload, fine.sum(axis=(0, 1)) if fine is not None and not _pinned(sc) else None)
    if said:
        warnings.warn(said, ScenarioWarning, stacklevel=3)


def gamma_warning(sc, fine: np.ndarray | None) -> None:
    """Warn (:class:`~sim.errors.ScenarioWarning`) for a ``gamma`` process burstier than :data:`MATERIAL`
    (:func:`gamma_message`; ``fine``: each class's arrivals per sub-step, whose totals weigh the classes,
    :func:`sim.fluid.substep.sub_arrivals`). A fluid scenario's checks before a sweep's points say it
    (:meth:`sim.planning.source.ScenarioSource.validate`), which then run without it, so that a sweep says it
    once (:data:`GAMMA_SAID`)."""
    import warnings

    from sim.errors import ScenarioWarning

    # other classes' arrivals dilute a gamma process's burstiness, unless classes are pinned to pools
    renewal = gamma_message(sc.workload, fine.sum(axis=(0, 1)) if fine is not None and not _pinned(sc) else None)
    if renewal:
        warnings.warn(renewal, ScenarioWarning, stacklevel=3)


GAMMA_SAID = r".*: a gamma arrival process of cv .* is burstier than Poisson"
"""The gamma warning's text (a ``warnings.filterwarnings`` message pattern), which a sweep's points, checked
first (:func:`gamma_warning`), leave unsaid."""

COMPOUND_SAID = r".*: .* clumps of .* requests on average \(index of dispersion .*\) are measured with the workload's"
"""The merged-clumps warning's text (:func:`compound_message`; a ``warnings.filterwarnings`` message pattern),
which a sweep's points leave unsaid where the checks said it first (:func:`compound_said_first`)."""


def compound_said_first(workload) -> bool:
    """Whether a sweep's checks say the merged-clumps warning (:func:`compound_warning`, where it applies) for its
    points: a workload with a ``compound_poisson`` process and no trace, which a run otherwise measures first (a
    trace burstier than Poisson has its curves measured under its own arrivals, and the run then says nothing of
    the clumps: :func:`warn_bursty`)."""
    kinds = {arrival.process for _, arrival, _ in _sources(workload)}
    return CLUMPED in kinds and not kinds & set(COUNTED)


def warn_bursty(sc, edges: np.ndarray, fine: np.ndarray | None, base_dir, modelled: dict | None = None,
                measured=COUNT) -> dict | None:
    """Warn for a ``gamma`` process burstier than :data:`MATERIAL` (:func:`gamma_warning`), then measure the
    trace's dispersion (:func:`measure`) and, above :func:`threshold`, warn (:class:`~sim.errors.ScenarioWarning`)
    unless the curves were measured under the trace's own arrivals (``modelled``: the ``workload.arrival`` of
    the curves' grid runs, :func:`sim.fluid.replay.curve_arrivals`; ``None`` for Poisson's); returns what the
    summary's ``fidelity.arrival_dispersion`` holds (``window_s``, ``index``, ``threshold``, ``overdispersed``,
    and ``modelled``: the process the curves were measured under, ``trace`` or ``compound_poisson``, or
    ``None``), or ``None`` without a trace or where its sub-steps are too short to count in
    (:func:`window_count`); ``measured``: :func:`measure`'s result on these steps where the run has it
    already (:func:`sim.fluid.replay.counted_arrivals`), else :data:`COUNT`."""
    import warnings

    from sim.errors import ScenarioWarning
    from sim.fluid.substep import SUB

    gamma_warning(sc, fine)
    m = measure(sc, edges, fine, base_dir) if measured is COUNT else measured
    if m is None or not m["index"] > m["threshold"]:     # the curves measured under compound_poisson's clumps
        compound_warning(sc, fine)
    if m is None:
        return None
    sub_s = float(edges[1] - edges[0]) / SUB
    over = m["index"] > m["threshold"]
    kind = modelled.get("process") if over and modelled else None
    if kind == CLUMPED:
        warnings.warn(modelled_message(m, sub_s, float(modelled["clump_mean"])), ScenarioWarning, stacklevel=3)
    elif kind is None and over:
        warnings.warn(burst_message(m, sub_s), ScenarioWarning, stacklevel=3)
    return {"window_s": m["window_s"], "index": m["index"], "threshold": m["threshold"], "overdispersed": over,
            "modelled": kind}


__all__ = ["COMPOUND_SAID", "COUNT", "GAMMA_SAID", "clump_mean", "compound_message", "compound_said_first",
           "compound_warning", "dispersion", "gamma_message",
           "gamma_warning", "measure",
           "modelled_index", "modelled_message", "pool_clumps", "threshold", "warn_bursty", "window_count"]
