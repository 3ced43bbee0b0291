"""Expected demand per time step: the workload's arrival intensity integrated over each step.

The fluid tier never draws arrivals; it needs, for every step ``[t_k, t_{k+1})`` and class ``c``,
the expected number of arrivals ``Lambda_c(k) = integral rate_c(t) dt``. ``rate_c`` follows the
request-level generator's definitions (:mod:`sim.workload.arrivals`):

* a class with a ``share`` gets ``share x`` the intensity of ``workload.arrival``; a class with its
  own ``arrival`` gets that process's intensity (without classes there is one class);
* ``poisson``, ``gamma`` and ``compound_poisson``: ``rate`` (a renewal process's long-run intensity is ``1 / mean gap``,
  a batch process's its clumps' rate times their mean size);
  ``diurnal``: :func:`~sim.workload.arrivals.diurnal_rate`; ``piecewise``:
  :func:`~sim.workload.arrivals.piecewise_rate`; all times ``growth`` when given;
* ``trace``: the generator's own arrivals (time- and rate-scaled, looped), counted per step.

A ``piecewise`` intensity and a constant one (``poisson``, ``gamma``, ``compound_poisson``) are
integrated exactly (:func:`_exact`): each step is split at the breakpoints inside it and every piece
holds a constant rate ``r`` times ``g(t) = e^{k t}`` (``k = ln(1 + monthly) / 30.4375 days``,
:func:`~sim.workload.arrivals.growth_factor`), whose integral over ``[u, v)`` is
``r g(u) (e^{k (v - u)} - 1) / k`` (``r (v - u)`` without growth: :func:`~sim.workload.growth.growth_integral`,
the generator's operational time too). Traffic at 5 requests/s from 1,830 s
to the hour's end is ``5 x 1,770 = 8,850`` arrivals whatever the step; before, a midpoint rule put the
breakpoint on a whole sub-interval (9,000 in hourly steps). Every reader of a step's or sub-step's arrivals
(the steps, :func:`sim.fluid.substep.sub_arrivals`, :mod:`sim.fluid.burst`) gets them from here, so
sub-steps sum to their step. ``diurnal`` keeps the midpoint rule on ``sub`` points per step (default 60:
one per minute of an hour step); the cosine's relative error is below ``(2 pi / 1440)^2 / 24`` ≈ 1e-6,
and a calendar midnight inside a step (the ``weekly`` factor's jump) falls on a sub-interval's edge only
when the step is a whole number of sub-intervals from it.

>>> from sim.scenario.workload import WorkloadConfig
>>> w = WorkloadConfig.model_validate({"arrival": {"process": "poisson", "rate": 2.0}})
>>> expected_arrivals(w, np.array([0.0, 3600.0, 7200.0])).tolist()
[[7200.0], [7200.0]]
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from sim.scenario.workload import WorkloadConfig
from sim.workload.arrivals import ArrivalCalendar, diurnal_rate, growth_factor, piecewise_rate
from sim.workload.growth import growth_integral


def rate_at(process, t_s: np.ndarray, *, growth=None, calendar: ArrivalCalendar = ArrivalCalendar()) -> np.ndarray:
    """Intensity (requests/s) of one synthetic arrival process at times ``t_s``."""
    t_s = np.asarray(t_s, dtype=np.float64)
    kind = process.process
    if kind in ("poisson", "gamma", "compound_poisson"):
        return process.rate * np.asarray(growth_factor(t_s, growth), dtype=np.float64) * np.ones_like(t_s)
    if kind == "diurnal":
        return diurnal_rate(process, t_s, calendar, growth)
    if kind == "piecewise":
        return piecewise_rate(process, t_s, growth)
    raise ValueError(f"rate_at: no closed-form intensity for a {kind!r} process")


def _exact(process, edges: np.ndarray, growth) -> np.ndarray:
    """The exact integral of a piecewise-constant intensity (times ``growth``) over each step between
    ``edges``: the steps cut at the breakpoints inside them, each piece's rate read at its start
    (:func:`~sim.workload.arrivals.piecewise_rate`; one rate for the others).

        >>> from sim.scenario.workload import PiecewiseArrival
        >>> p = PiecewiseArrival(process="piecewise", times=[0.0, 1830.0], rates=[0.0, 5.0])
        >>> _exact(p, np.array([0.0, 1800.0, 3600.0]), None).tolist()
        [0.0, 8850.0]
    """
    n = len(edges) - 1
    if n <= 0:
        return np.zeros(max(n, 0))
    if process.process == "piecewise":
        times = np.asarray(process.times, dtype=np.float64)
        inner = times[(times > edges[0]) & (times < edges[-1])]
    else:
        inner = np.zeros(0)
    cuts = np.union1d(edges, inner)                      # sorted, each breakpoint once
    u, v = cuts[:-1], cuts[1:]
    if process.process == "piecewise":
        rate = piecewise_rate(process, u)
    else:
        rate = np.full(len(u), float(process.rate))
    part = growth_integral(v, growth, u, rate)
    step = np.searchsorted(edges, u, side="right") - 1     # the step each piece lies in
    return np.bincount(step, weights=part, minlength=n)[:n]


def _integrate(process, edges: np.ndarray, growth, calendar: ArrivalCalendar, sub: int) -> np.ndarray:
    if process.process in ("poisson", "gamma", "compound_poisson", "piecewise"):
        return _exact(process, edges, growth)
    a, b = edges[:-1], edges[1:]
    frac = (np.arange(sub) + 0.5) / sub
    t = a[:, None] + (b - a)[:, None] * frac[None, :]
    r = rate_at(process, t.ravel(), growth=growth, calendar=calendar).reshape(t.shape)
    return r.mean(axis=1) * (b - a)


def _trace_counts(workload: WorkloadConfig, process, edges: np.ndarray, start, base_dir: Path,
                  seed: int) -> np.ndarray:
    from sim.workload import generate

    only = WorkloadConfig.model_validate({"arrival": process.model_dump(mode="json"),
                                          "prompt_tokens": {"dist": "fixed", "value": 1},
                                          "output_tokens": {"dist": "fixed", "value": 1},
                                          **({"growth": workload.growth.model_dump()} if workload.growth else {})})
    counts = np.zeros(len(edges) - 1)
    for ch in generate(only, float(edges[-1]), seed, start=start, base_dir=base_dir):
        idx = np.searchsorted(edges, ch.arrival_s, side="right") - 1
        ok = (idx >= 0) & (idx < len(counts))
        counts += np.bincount(idx[ok], minlength=len(counts))
    return counts


def expected_arrivals(workload: WorkloadConfig, edges_s: np.ndarray, *, start: dt.date | dt.datetime | None = None,
                      base_dir: Path = Path("."), seed: int = 1, sub: int = 60) -> np.ndarray:
    """Expected arrivals per step and class: shape ``(len(edges_s) - 1, n_classes)``."""
    edges = np.asarray(edges_s, dtype=np.float64)
    cal = ArrivalCalendar.from_start(start)
    growth = workload.growth

    def of(process) -> np.ndarray:
        if process.process in ("trace", "burst", "offline"):  # counted from the generated arrivals
            return _trace_counts(workload, process, edges, start, base_dir, seed)
        return _integrate(process, edges, growth, cal, sub)

    n_steps = len(edges) - 1
    if not workload.classes:
        return of(workload.arrival)[:, None] if workload.arrival is not None else np.zeros((n_steps, 1))
    shared = of(workload.arrival) if workload.arrival is not None else np.zeros(n_steps)
    cols = []
    for c in workload.classes:
        cols.append(of(c.arrival) if c.arrival is not None else shared * (c.share or 0.0))
    return np.stack(cols, axis=1)
