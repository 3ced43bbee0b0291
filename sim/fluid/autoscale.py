"""The autoscaler in the fluid tier: the replicas the request-level autoscaler settles at.

The request-level autoscaler (:mod:`sim.serving.autoscaler`) applies the Kubernetes HPA rule
``desired = ceil(n x metric / target)`` every interval; it stops moving at the smallest ``n`` whose
metric is at or below the target. The fluid tier runs that ``n`` in each step, with the metric
read the same way, from the capacity curve at the per-replica load ``rate / n``:

* ``load_factor``: ``rate x s / n`` with ``s`` the seconds one request costs at the batch limits
  (:func:`sim.metrics.utilization.pool_seconds_per_request`: the closed form times the pool's
  measured scheduler factor, as the request-level autoscaler prices it), so ``n = ceil(rate x s / target)``;
* ``utilization``: the busy share of ``n`` replicas at ``rate / n`` each (the curve's, spread over ``n``
  behind the scenario's router: :func:`sim.fluid.busy.busy_on`; 1 beyond the curve's saturation);
* ``kv``: the curve's mean KV-cache use at ``rate / n``;
* ``ttft``: the curve's mean TTFT at ``rate / n`` plus the wait behind the backlog carried into
  the step, ``backlog / (n max_rps)``;
* ``queue``: requests in the system per replica, ``(rate / n) x E2E(rate / n)`` (Little's law on
  the curve's mean E2E) plus the backlog carried into the step over ``n``.

``rate`` is the step's admitted demand plus the backlog to clear, per second. Clamped to
``[min, max]``.

The HPA's ``tolerance`` band (:func:`hpa_settled`) makes that ``n`` path dependent: the first
decision on a step's load reads the metric on the replicas then serving; while ``1 - tolerance <=
metric / target <= 1 + tolerance`` the pool keeps its current size (warming replicas counted), so
on a rising load it stays at ``n`` while the metric at ``n`` is at most ``target (1 + tolerance)``
and on a falling one while it is at least ``target (1 - tolerance)``. Outside the band it moves to
the ``n`` above (``ceil(n x metric / target)``, computed without the band, lands there for
``load_factor``; the scale-down then waits out the stabilization window); a climb run one
``interval`` at a time (below) stops at the decision whose reading falls in the band
(:func:`hpa_holds`). ``tolerance: 0``: the ``n`` above, step for step.

Replicas still starting are read as the HPA reads pods not yet ready (:mod:`sim.serving.hpa`, the
request level's rule): a decision whose reading on the serving replicas asks for more is re-read
with the starting ones at 0 and keeps the pool's size unless that still passes the band
(:func:`hpa_holds`); one that asks for fewer reads the serving replicas alone. Each scale-up is
capped by the ``behavior.scaleUp`` policies (``max_scale_up_pods``, ``max_scale_up_percent`` per
``scale_up_period``, :meth:`Replicas.up_limit`): a step whose answer is past the cap is run one
``interval`` at a time, as a ramp is.

The HPA measures its metric on the replicas already serving, so in one decision it can ask for
at most ``ceil(n_serving x m_sat / target)`` replicas, ``m_sat`` the metric of a saturated replica
(``load_factor``: ``max_rps x s``, about 1: both measure the replica's capacity, docs/scaling.md
"One load factor in both tiers"; ``utilization``: 1; ``kv``: the curve's KV use at saturation;
``ttft`` and ``queue`` grow with the backlog, so they have no such bound). While the answer
above is out of that reach (a ramp), the step is run one ``interval`` at a time, each decision
reaching only as far as the replicas then ready (:func:`scale_step`): a pool climbs by a factor
``~1 / target`` per decision, and, with a ``scale_up_delay``, waits for each round to come up.

What the pool then runs (:class:`Replicas`), as the request-level autoscaler does it. The HPA's
metric covers the interval before each decision, so the first decision that sees a step's load
comes one ``interval`` into the step; in a step shorter than the ``interval``, at the request
level's decision times, the multiples of ``interval``, and a step holding none keeps the pool as
it is (:func:`decision_lag`). When the answer rises, the missing
replicas are provisioned then (they cost money from then on) and serve ``scale_up_delay``
seconds later (the same key, default provisioning plus weight loading:
:func:`sim.serving.autoscaler.default_scale_up_delay_s`), possibly several steps later. When it
falls, the pool shrinks to the largest recommendation of the last ``cooldown`` seconds (the
HPA's scale-down stabilization window; the decisions up to a step's end read that step's load),
so a surplus leaves ``cooldown`` after the load fell, still-warming replicas
first, newest first. Each step has its time-weighted mean of replicas provisioned (billed) and
of replicas serving (capacity).

The request level reads its metric from the requests of each ``interval``, with their sampling
noise, and the HPA acts on single readings: one past the band scales up, and the stabilization
window keeps the largest recommendation, so both sides follow the largest reading. The fluid tier
reads, for ``utilization``, the median of the largest of a step's readings (the band's upper side;
a scale-up goes on while it passes the band) or of the window's (the band's lower side; a
scale-down stops where it reaches the target): the expected value plus
``z_k`` standard deviations of one reading (:func:`noisy_reading`, :mod:`sim.fluid.reading_noise`,
which derives that deviation); every other metric at its expected value. ``fluid.reading_noise:
false``: the expected value throughout. What the fluid tier leaves out: the transient of a pool
starting far from where it settles.

    >>> r = Replicas(2, delay_s=90.0, cooldown_s=0.0)
    >>> [r.step(t, 60.0, n, lag_s=30.0) for t, n in ((0.0, 2), (60.0, 4), (120.0, 4), (180.0, 4))]
    [(2.0, 2.0), (3.0, 2.0), (4.0, 2.0), (4.0, 4.0)]
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np

from sim.fluid.busy import busy_on
from sim.fluid.reading_noise import busy_reading_sd, readings, z_largest
from sim.serving.hpa import keeps_current, period_changes, scale_up_limit


class Replicas:
    """An autoscaled pool's replicas across fluid steps: ready ones, warming groups
    ``[ready_at_s, count]`` and the recent recommendations ``[(until_s, replicas)]`` that the
    stabilization window keeps (see the module docstring). As at request level, a scale-up provisions
    new replicas and a scale-down releases some, never taking one back; ``moves`` logs each decision
    that raises or lowers the replicas provisioned, ``(time, replicas added or removed)``, which
    :meth:`summary` counts as the request level does; ``readies`` each change of the replicas serving,
    ``(time, replicas come ready or taken out)``, whose integral over a step is :meth:`step`'s mean
    serving (read within a step by :mod:`sim.fluid.no_replica`, and cleared once read)."""

    def __init__(self, n0: float, delay_s: float, cooldown_s: float) -> None:
        self.ready = self.n0 = float(n0)
        self.warming: list[list[float]] = []
        self.delay_s, self.cooldown_s = float(delay_s), float(cooldown_s)
        self.recs: deque[tuple[float, float]] = deque()   # times rising, so the first expire first
        self._peaks: deque[tuple[float, float]] = deque()  # those no later one is at least as large as
        self.events: list[tuple[float, float]] = []    # (time, replicas added or removed), for the rate limits
        self.moves: list[tuple[float, float]] = []     # every such event, kept (summary)
        self.readies: list[tuple[float, float]] = []   # (time, change of the replicas serving)

    @property
    def total(self) -> float:
        return self.ready + sum(c for _, c in self.warming)

    def summary(self, end_s: float = math.inf) -> dict:
        """The decisions before ``end_s`` (the run's end: the request level decides nothing at its
        horizon, :meth:`sim.serving.autoscaler.Autoscaler.summary`): scale-ups and -downs, the
        replicas they provisioned and drained, and the delay before a new replica serves.

            >>> r = Replicas(2, delay_s=90.0, cooldown_s=0.0)
            >>> [r.step(t, 60.0, n, lag_s=30.0) for t, n in ((0.0, 5), (60.0, 5), (120.0, 3), (180.0, 1))][-1]
            (2.0, 2.0)
            >>> r.summary()
            {'scale_ups': 1, 'scale_downs': 2, 'replicas_provisioned': 3, 'replicas_drained': 4, 'scale_up_delay_s': 90.0}
            >>> r.step(240.0, 60.0, 4, lag_s=60.0), r.summary(end_s=300.0)["scale_ups"]    # at the horizon
            ((1.0, 1.0), 1)
        """
        cut = end_s - 1e-9 * max(end_s, 1.0) if math.isfinite(end_s) else end_s     # (a ramp's sums of steps)
        ups = [c for t, c in self.moves if c > 0 and t < cut]
        downs = [-c for t, c in self.moves if c < 0 and t < cut]
        return {"scale_ups": len(ups), "scale_downs": len(downs), "replicas_provisioned": round(sum(ups)),
                "replicas_drained": round(sum(downs)), "scale_up_delay_s": self.delay_s}

    def ready_by(self, t: float) -> float:
        """Replicas serving at ``t`` (those warming now included once ready)."""
        return self.ready + sum(c for ready_at, c in self.warming if ready_at <= t)

    def up_limit(self, t: float, cfg) -> float:
        """The most replicas a scale-up at ``t`` may reach under ``cfg``'s scale-up policies
        (:func:`sim.serving.hpa.scale_up_limit`; a ``cfg`` without them: no limit)."""
        period = float(getattr(cfg, "scale_up_period", 15.0))
        self.events = [(u, c) for u, c in self.events if u > t - period]
        return scale_up_limit(self.total, *period_changes(self.events), getattr(cfg, "max_scale_up_pods", None),
                              getattr(cfg, "max_scale_up_percent", None))

    def floor(self, t: float) -> float:
        """The largest recommendation still inside the stabilization window at ``t`` (0 if none); ``t`` never
        goes back (a step reads it at its decisions, in order), so those gone by then are dropped for good."""
        peaks = self._peaks
        while peaks and peaks[0][0] + self.cooldown_s <= t:
            peaks.popleft()
        return peaks[0][1] if peaks else 0.0

    def remember(self, t: float, recommendation: float) -> None:
        """Keep ``recommendation``, made at ``t`` (no earlier than the last), for the stabilization window:
        in :attr:`recs`, whose times cut a step where one leaves it, and among the peaks :meth:`floor` reads
        (as :class:`sim.serving.hpa.StabilizationWindow` keeps them), dropping those it is at least as large as."""
        self.recs.append((t, recommendation))
        peaks = self._peaks
        while peaks and peaks[-1][1] <= recommendation:
            peaks.pop()
        peaks.append((t, recommendation))

    def step(self, t0: float, dt: float, target: float, lag_s: float = 0.0) -> tuple[float, float]:
        """Move to ``target`` replicas ``lag_s`` into ``[t0, t0 + dt)`` (a scale-up is billed from
        then, serves ``delay_s`` later; a scale-down drops still-warming replicas first, newest
        first); returns the mean replicas ``(provisioned, serving)`` over the interval."""
        t1 = t0 + dt
        at = t0 + min(lag_s, dt)
        cur = self.total
        prov_s = cur * (at - t0) + target * (t1 - at)
        serve_s = 0.0
        if target != cur:
            self.events.append((at, target - cur))
            self.moves.append((at, target - cur))
        if target > cur:
            self.warming.append([at + self.delay_s, target - cur])
        elif target < cur:
            surplus = cur - target
            while surplus > 0 and self.warming:
                ready_at, c = self.warming[-1]
                gone = min(c, surplus)
                serve_s += gone * max(0.0, at - max(ready_at, t0))
                if at > max(ready_at, t0):              # came ready before this decision took it out
                    self.readies += [(max(ready_at, t0), gone), (at, -gone)]
                surplus -= gone
                if gone < c:
                    self.warming[-1][1] = c - gone
                else:
                    self.warming.pop()
            serve_s += surplus * (at - t0)
            self.ready -= surplus
            if surplus > 0:
                self.readies.append((at, -surplus))
        serve_s += self.ready * dt
        still = []
        for ready_at, c in self.warming:
            serve_s += c * max(0.0, t1 - max(ready_at, t0))
            if ready_at <= t1:
                self.ready += c
                self.readies.append((max(ready_at, t0), c))
            else:
                still.append([ready_at, c])
        self.warming = still
        return prov_s / dt, serve_s / dt


def saturated_metric(kind: str, curve, s_each: float) -> float:
    """``m_sat``: the metric a saturated replica reports (``inf`` for ``ttft`` and ``queue``)."""
    if kind == "load_factor":
        return curve.max_rps * s_each
    if kind == "utilization":
        return 1.0
    if kind == "kv":
        return float(curve.kv[-1])
    return math.inf


def decision_lag(t0: float, dt: float, interval: float) -> float | None:
    """How far into the step ``[t0, t0 + dt)`` the autoscaler's first decision on its load comes:
    ``interval`` when the step is at least that long; in a shorter step, at the request level's
    decision times, the multiples of ``interval`` from the run's start, or ``None`` when none falls
    in it (the step runs without a decision: the pool as it is, replicas coming ready). A fluid step
    shorter than the interval decided at each step's end would decide more often than the
    autoscaler does (a 20 s step against a 60 s interval: three decisions, three capped scale-ups,
    where the request level makes one).

        >>> decision_lag(0.0, 3600.0, 60.0), decision_lag(0.0, 20.0, 60.0), decision_lag(40.0, 20.0, 60.0)
        (60.0, None, 20.0)
        >>> decision_lag(60.0, 20.0, 60.0), decision_lag(100.0, 30.0, 60.0)
        (None, 20.0)
    """
    if dt >= interval:
        return interval
    d = (math.floor(t0 / interval + 1e-9) + 1) * interval
    return d - t0 if d <= t0 + dt + 1e-9 * max(interval, 1.0) else None


def scale_step(replicas: Replicas, cfg, m_sat: float, t0: float, dt: float, settled: int,
               held: Callable[[float, float], bool] | None = None) -> tuple[float, float]:
    """Run one fluid step of an autoscaled pool whose autoscaler settles at ``settled`` replicas
    for the step's load; returns the mean replicas ``(provisioned, serving)`` over the step (see
    the module docstring). ``cfg`` is the pool's ``autoscale`` block; ``held(ready, total)``
    (:func:`hpa_holds`): whether a decision reading the step's load on ``ready`` serving replicas
    of ``total`` keeps the pool's size (the tolerance band; replicas still starting read as 0 on
    a scale-up), which stops a ramp there. Each scale-up is capped by ``cfg``'s scale-up policies
    (:meth:`Replicas.up_limit`; a ``cfg`` without them, as below, has none).

        >>> cfg = type("A", (), dict(min=1, max=16, target=0.5, interval=60.0))
        >>> r = Replicas(4, delay_s=0.0, cooldown_s=0.0)       # saturated reads 1: x2 a decision
        >>> scale_step(r, cfg, 1.0, 0.0, 180.0, 12, held=lambda ready, total: ready >= 8), r.total
        ((6.666666666666667, 6.666666666666667), 8.0)
        >>> r = Replicas(4, delay_s=0.0, cooldown_s=0.0)
        >>> scale_step(r, cfg, 1.0, 0.0, 180.0, 12), r.total       # 4, 8, 12 over three intervals
        ((8.0, 8.0), 12.0)
    """
    def reach(ready: float, at: float) -> float:
        up = replicas.up_limit(at, cfg)   # the behavior.scaleUp policies
        if ready <= 0:               # nothing serving: the autoscaler brings one replica back
            return min(max(cfg.min, 1), up)
        if math.isinf(m_sat):
            return up
        return min(max(math.ceil(ready * m_sat / cfg.target - 1e-9), cfg.min), cfg.max, up)

    interval = float(cfg.interval)
    lag = decision_lag(t0, dt, interval)     # the first decision that sees this step's load
    t1 = t0 + dt
    if lag is None:                  # no decision in a step shorter than the interval
        return replicas.step(t0, dt, replicas.total)
    parts: list[tuple[float, float, float]] = []
    if settled < replicas.total:     # down, as far as the stabilization window lets it, step by step
        cuts = sorted(_expiring(replicas, t0 + lag, t1) if dt >= interval else ())
        edges = [t0, *cuts, t1]
        for j, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            at = a + (lag if j == 0 else 0.0)
            target = min(max(settled, replicas.floor(at)), replicas.total)
            parts.append((b - a, *replicas.step(a, b - a, target, lag_s=at - a)))
    elif settled <= max(reach(replicas.ready_by(t0 + lag), t0 + lag), replicas.total):
        parts.append((dt, *replicas.step(t0, dt, settled, lag_s=lag)))
    else:                            # a ramp: one decision per interval, each from the replicas ready
        t = t0
        while t < t1:
            h = min(interval, t1 - t)
            at = min(lag, h)         # in a step shorter than the interval, its one decision
            ready = replicas.ready_by(t + at)
            if held is not None and held(ready, replicas.total):   # the HPA keeps the pool's size
                target = replicas.total
            else:
                target = min(settled, max(reach(ready, t + at), replicas.total))
            parts.append((h, *replicas.step(t, h, target, lag_s=at)))
            t += h
    recs = replicas.recs     # (the recommendations expire in the order they were made: drop those gone by t1)
    while recs and recs[0][0] + replicas.cooldown_s <= t1:
        recs.popleft()
    # this step's recommendation (as far as it could reach): the decisions up to its end read its load
    replicas.remember(t1 if dt >= interval else t0 + lag, min(float(settled), replicas.total))
    prov = sum(h * p for h, p, _ in parts) / dt
    serve = sum(h * s for h, _, s in parts) / dt
    return prov, serve


def _expiring(replicas: Replicas, after: float, before: float) -> set[float]:
    """The times in ``(after, before)`` at which a recommendation leaves the stabilization window: read from
    the oldest and stopped at the first leaving at ``before`` or later, as they leave in the order they were
    made (a step reads those of its own span, not the whole window: ``cooldown / fluid.step`` of them).

        >>> r = Replicas(1, delay_s=0.0, cooldown_s=10.0)
        >>> for t, rec in [(0.0, 3.0), (2.0, 2.0), (5.0, 1.0), (9.0, 4.0)]:
        ...     r.remember(t, rec)
        >>> sorted(_expiring(r, 10.0, 15.0)), r.floor(10.0), r.floor(19.0), r.floor(19.5)
        ([12.0], 4.0, 0.0, 0.0)
    """
    out = set()
    for u, _ in replicas.recs:
        leaves = u + replicas.cooldown_s
        if leaves >= before:
            break
        if after < leaves:
            out.add(leaves)
    return out


def _metric(kind: str, curve, rate: float, n: int, backlog: float, s_each: float, z: float = 0.0,
            window_s: float = 0.0) -> float:
    """The metric read on ``n`` replicas at ``rate``: its expected value (see the module docstring),
    or, with ``z``, the reading ``z`` standard deviations of one ``window_s`` reading above it where
    the fluid tier derives that noise (``utilization``: :func:`sim.fluid.reading_noise.busy_reading_sd`,
    at most 1), the median of the largest of the readings the HPA acts on (:func:`noisy_reading`)."""
    m = _expected(kind, curve, rate, n, backlog, s_each)
    if z and kind == "utilization" and m < 1.0 and rate > 0:
        m = min(m + z * busy_reading_sd(curve, rate / n, n, window_s), 1.0)
    return m


def _expected(kind: str, curve, rate: float, n: int, backlog: float, s_each: float) -> float:
    per = rate / n
    if kind == "load_factor":
        return per * s_each
    if per > curve.rates_rps[-1] * (1 + 1e-9) and kind in ("utilization", "kv"):
        return 1.0 if kind == "utilization" else float(curve.kv[-1])
    if kind == "utilization":
        return min(float(busy_on(curve, per, n)), 1.0)     # on n replicas behind the router (sim.fluid.busy)
    if kind == "kv":
        return float(curve.at(curve.kv, per))
    if kind in ("ttft", "queue") and per > curve.max_rps:
        return math.inf                        # this many replicas cannot keep up: the queue grows
    if kind == "ttft":
        return float(curve.at(np.nan_to_num(curve.latency["ttft"]["mean"]), per)) + backlog / (n * curve.max_rps)
    e2e = float(curve.at(np.nan_to_num(curve.latency["e2e"]["mean"]), per))
    return per * e2e + backlog / n


def settled_replicas(kind: str, target: float, lo: int, hi: int, curve, rate_rps: float, backlog: float = 0.0,
                     s_each: float = 0.0, z: float = 0.0, window_s: float = 0.0) -> int:
    """Smallest ``n`` in ``[lo, hi]`` whose metric at ``rate_rps`` is at or below ``target`` (``hi`` if
    none is); see the module docstring. ``z``, ``window_s``: the metric read as the reading the HPA
    acts on (:func:`_metric`). The metric falls as ``n`` grows, so this bisects."""
    if rate_rps <= 0 and backlog <= 0:
        return lo
    if kind == "load_factor":
        return int(min(max(math.ceil(rate_rps * s_each / target - 1e-9), lo), hi))
    if z and kind == "utilization":      # at or above the expected value's answer: search up from it
        return _gallop(lambda n: _metric(kind, curve, rate_rps, n, backlog, s_each, z, window_s) <= target,
                       settled_replicas(kind, target, lo, hi, curve, rate_rps, backlog, s_each), hi)
    a, b = max(lo, 1), hi
    if _metric(kind, curve, rate_rps, b, backlog, s_each, z, window_s) > target:
        return hi
    while a < b:
        mid = (a + b) // 2
        if _metric(kind, curve, rate_rps, mid, backlog, s_each, z, window_s) <= target:
            b = mid
        else:
            a = mid + 1
    return max(a, lo)


def noisy_reading(cfg, step_s: float | None) -> tuple[float, float, float]:
    """``(z_up, z_down, window_s)``: how far above its expected value, in standard deviations of one
    reading over ``window_s`` (the ``interval``), the fluid tier reads the metric for a step of
    ``step_s`` seconds (:mod:`sim.fluid.reading_noise`): the median of the largest of the step's
    ``k`` readings, any of which past the band scales the pool up (``z_up``), and of the ``w``
    readings whose largest recommendation the stabilization window keeps (``z_down``). ``step_s``
    ``None`` (``fluid.reading_noise: false``): the expected value, ``(0, 0, 0)``.

        >>> from types import SimpleNamespace as NS
        >>> [round(x, 4) for x in noisy_reading(NS(interval=300.0, cooldown=1800.0), 3600.0)]
        [1.5882, 1.2313, 300.0]
        >>> noisy_reading(NS(interval=300.0, cooldown=0.0), 300.0), noisy_reading(NS(interval=60.0, cooldown=0.0), None)
        ((0.0, 0.0, 300.0), (0.0, 0.0, 0.0))
    """
    if step_s is None:
        return 0.0, 0.0, 0.0
    interval = float(cfg.interval)
    k, w = readings(step_s, interval, float(cfg.cooldown))
    return z_largest(k), z_largest(w), interval


def _gallop(ok: Callable[[int], bool], a: int, hi: int) -> int:
    """The smallest ``n`` in ``[a, hi]`` with ``ok(n)`` (``hi`` if none), ``ok`` false then true as ``n``
    grows: steps of 1, 2, 4, ... from ``a``, then bisection of the last one, so an answer ``d`` above
    ``a`` costs about ``2 log2(d)`` reads (a noisy reading's answer is usually ``a`` or ``a + 1``).

        >>> _gallop(lambda n: n >= 7, 3, 100), _gallop(lambda n: n >= 3, 3, 100), _gallop(lambda n: False, 3, 9)
        (7, 3, 9)
    """
    if a >= hi or ok(a):
        return min(a, hi)
    bad, step = a, 1
    while True:
        b = min(bad + step, hi)
        if ok(b):
            break
        if b >= hi:
            return hi
        bad, step = b, 2 * step
    lo_, top = bad + 1, b
    while lo_ < top:
        mid = (lo_ + top) // 2
        if ok(mid):
            top = mid
        else:
            lo_ = mid + 1
    return lo_


def hpa_settled(cfg, curve, rate_rps: float, backlog: float, s_each: float, replicas: Replicas, t: float,
                step_s: float | None = None) -> int:
    """The replicas the autoscaler ``cfg`` settles at for a step's load, its ``tolerance`` band
    included: the pool's current size (``replicas.total``, clamped to ``[min, max]``) while the
    metric read at ``t`` on the replicas then serving lies within the band of the target, else
    :func:`settled_replicas` (see the module docstring). With no replica serving the band is not
    read (the metric is unknown). ``step_s``: the step's length, whose readings' noise the metric is
    read with (:func:`noisy_reading`: a scale-up settles where the expected reading is at or below
    the target and the step's largest reading within the band, a scale-down where the stabilization
    window's largest reading is at or below the target); ``None``: the expected value.

        >>> from types import SimpleNamespace as NS
        >>> cfg = NS(metric="load_factor", target=0.5, min=1, max=20, tolerance=0.1)
        >>> def at(rate, n):             # 0.1 s a request: metric = rate x 0.1 / n
        ...     return hpa_settled(cfg, None, rate, 0.0, 0.1, Replicas(n, 0.0, 0.0), 0.0)
        >>> at(21.5, 4), at(23.0, 4)      # ratios 1.075 (kept; without the band ceil(4.3) = 5), 1.15
        (4, 5)
        >>> at(15.5, 3), at(15.5, 4)      # one load, two pools: 1.033 (kept), 0.775 (to ceil(3.1) = 4)
        (3, 4)
        >>> at(54.5, 12)                  # 0.908: kept at 12 where the rule alone asks for ceil(10.9) = 11
        12
    """
    z_up, z_down, window_s = noisy_reading(cfg, step_s)
    ready = replicas.ready_by(t)
    if hpa_holds(cfg, curve, rate_rps, backlog, s_each, step_s)(ready, replicas.total):
        return int(min(max(round(replicas.total), cfg.min), cfg.max))
    args = (cfg.min, cfg.max, curve, rate_rps, backlog, s_each)
    if ready > 0 and _metric(cfg.metric, curve, rate_rps, ready, backlog, s_each, z_up, window_s) > cfg.target:
        # up: where the rule settles on the expected reading, and further while a reading of the step
        # on it would still pass the band (one does in at least half of the runs)
        band = cfg.target * (1.0 + float(cfg.tolerance or 0.0))
        return max(settled_replicas(cfg.metric, cfg.target, *args),
                   settled_replicas(cfg.metric, band, *args, z_up, window_s))
    return settled_replicas(cfg.metric, cfg.target, *args, z_down, window_s)


def hpa_holds(cfg, curve, rate_rps: float, backlog: float, s_each: float,
              step_s: float | None = None) -> Callable[[float, float], bool]:
    """``held(ready, total)``: whether a decision reading the step's load on ``ready`` serving replicas,
    of ``total`` (the rest still starting), keeps the pool's size, by the HPA's rule
    (:func:`sim.serving.hpa.keeps_current`): the metric within ``1 +- tolerance`` of the target, or a
    scale-up reading that, re-read with the starting replicas at 0, no longer passes the band
    (``ttft``, an ``Object`` metric: the band only). ``False`` with none serving (the metric is
    unknown). The metric read is capped at a saturated replica's (:func:`saturated_metric`), as a
    replica cannot report more work than it does. ``step_s`` (:func:`noisy_reading`): the upper side
    of the band is read on the step's largest reading, the lower side on the stabilization window's
    (at ``None`` both are the expected value)."""
    tol = float(cfg.tolerance or 0.0)
    rebalance = cfg.metric != "ttft"
    z_up, z_down, window_s = noisy_reading(cfg, step_s)
    m_sat = None

    def read(ready: float, z: float) -> float:
        if rate_rps <= 0 and backlog <= 0:
            return 0.0
        return _metric(cfg.metric, curve, rate_rps, ready, backlog, s_each, z, window_s)

    def held(ready: float, total: float) -> bool:
        nonlocal m_sat
        unready = total - ready if rebalance else 0.0
        if ready <= 0 or (tol <= 0 and unready <= 0):
            return False
        up = read(ready, z_up)
        down = up if z_down == z_up else read(ready, z_down)
        if unready > 0:
            if m_sat is None:
                m_sat = saturated_metric(cfg.metric, curve, s_each) if curve is not None else math.inf
            up, down = min(up, m_sat), min(down, m_sat)
        if up > cfg.target:                  # a reading of the step asks for more
            return keeps_current(up / cfg.target, ready, unready, tol, rebalance) and down >= cfg.target * (1 - tol)
        return keeps_current(down / cfg.target, ready, unready, tol, rebalance)
    return held
