"""Per-pool autoscaler: every ``interval`` it measures a load metric and resizes the pool.

The rule is the Kubernetes Horizontal Pod Autoscaler's
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details)::

    desired = ceil(n_serving * metric / target)        clamped to [min, max]

where ``n_serving`` counts replicas that are ready, not failed and not draining, except that,
as the HPA does, the pool is left at its current size (warming, serving and failed replicas, not
draining ones; then clamped) while the ratio is within ``tolerance`` of 1::

    1 - tolerance <= metric / target <= 1 + tolerance    (default 0.1: the HPA's
                                                          --horizontal-pod-autoscaler-tolerance)

The check is on the ratio, before ``ceil`` (Kubernetes' ``replica_calculator.go``: within the band
it returns the current replicas). Without it a pool at a steady load whose ``n x metric / target``
sits near a whole number flaps: the metric's noise over one interval (a few per cent at a steady
Poisson load) moves ``ceil`` one replica either way, the scale-down waits out the stabilization
window, the scale-up does not. ``tolerance: 0`` turns the band off (the rule without it), but for
its bounds: a ratio of exactly 1 keeps the current replicas, those still starting included.
Replicas still warming, and failed ones under repair, are read as the HPA reads pods not ready
(``Resource`` and ``Pods`` metrics: ``utilization``, ``load_factor``, ``kv``, ``queue`` here): a
scale-up reading is re-read with them at 0 and the pool kept at its size unless that still passes
the band; a scale-down reading leaves them out (:mod:`sim.serving.hpa`; ``ttft``, an ``Object`` metric, is read on the
serving replicas alone). Not modelled: Kubernetes 1.33's separate
``behavior.scaleUp/scaleDown.tolerance`` (one band here). The band does not stop a metric that is
not proportional to load per replica (``queue``, ``ttft``: they rise faster than ``1 / n`` as
replicas go) from overshooting, as it would not in Kubernetes (docs/fleet_dynamics.md). ``metric`` is

* ``load_factor`` (the default): work done over the last interval / what the serving replicas
  could have done at their batch limits (:mod:`sim.perf.utilization`: tokens processed, at the
  mix of the pool's requests completed so far, priced at the step-time model's cost per request at the
  batch limits times the pool's scheduler factor, :mod:`sim.serving.saturated`; 1.0 = saturated). It rises with batch occupancy, so it moves with the load.
  Under disaggregation a prefill pool's requests are the prompts it ran (one output token each) and
  its tokens their prompts; a decode pool's tokens are its requests' decode tokens (output - 1);
* ``utilization``: busy time / up time of the pool's replicas over the last interval (0..1); a
  replica running one sequence is busy, so under continuous batching this reads ~1 at almost any
  load and the pool climbs to ``max``: prefer ``load_factor``;
* ``ttft``: mean time to first token (s) of the pool's requests over the last interval: those
  completed in it, and those still waiting for a first token at their age, the requests in the
  fleet's central queue the pool may take included (so a growing queue shows at once): with
  ``fleet.router.classes``, those of the classes pinned to it and of the classes not pinned, so a
  class flooding its own pools does not scale another class's pool;
* ``queue``: outstanding (queued + running) requests per serving replica (Knative's concurrency
  target), plus the fleet's central queue when the router is ``central_queue`` (the requests in it
  the pool may take, when ``fleet.router.classes`` pins classes to pools);

A waiting request several pools may take (a class not pinned, or pinned to several pools) counts
in full in each of their ``ttft`` and ``queue`` metrics, not a share: each pool's HPA reads the
shared queue as an external metric, whole, as a Kubernetes deployment's would, and which pool will
take the request is not known until one of its replicas has a free slot (sharing it would invent a
split the router does not make). A request a pool may take but cannot hold (a prompt past its
context) still counts: the pin, not the length, decides where a request waits.
* ``kv``: mean KV-cache block occupancy of the serving replicas (0..1);

``queue`` and ``kv`` are averaged over ``SUBSAMPLES`` evenly spaced samples in the interval (the
last at the decision), so one idle instant does not read as an idle pool.

Scale-up is immediate: ``desired - current`` replicas are provisioned (``current`` counts warming,
serving and failed replicas, not draining ones) and become ready ``scale_up_delay`` later;
they cost money from the decision on. ``desired`` is capped by the HPA's ``behavior.scaleUp``
policies (:func:`sim.serving.hpa.scale_up_limit`): at most ``max_scale_up_pods`` (4) more, or
``max_scale_up_percent`` (100) % more, whichever is larger, than the replicas at the start of the
last ``scale_up_period`` (15 s); the stabilization window keeps the uncapped recommendation, as the
HPA's does. Scale-down uses the HPA's stabilization window: the pool
shrinks to the largest recommendation of the last ``cooldown`` seconds, so it falls ``cooldown``
after the load does. Replicas removed are, in order: still-warming ones (newest first), failed
ones, then serving ones with the fewest outstanding requests; a serving replica drains (no new
requests) and is released when empty. With no serving replica the metric is unknown and the
pool is left as it is, except that a pool scaled to zero gets one replica back when requests were
turned away for lack of a replica.

Default ``scale_up_delay`` (provisioning plus model load)::

    delay_s = PROVISION_S + weight_bytes / LOAD_BYTES_PER_S

ASSUMPTIONS (stated, not measured): ``PROVISION_S = 60`` s to obtain a node and start the serving
container; ``LOAD_BYTES_PER_S = 2e9`` (2 GB/s sustained read of safetensors weights from a local
NVMe or network volume into GPU memory). Llama-3-8B in bf16 (16 GB): 68 s; a 70B model: 130 s.
Set ``scale_up_delay`` explicitly for a measured value.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from sim.perf.memory import BYTES_PER_ELEMENT
from sim.metrics.utilization import pool_seconds_per_request, tokens_per_request
from sim.perf.utilization import load_factor
from sim.serving.clock import at
from sim.serving.hpa import StabilizationWindow, desired_replicas, period_changes, scale_up_limit

if TYPE_CHECKING:
    from sim.scenario.schema import Autoscale
    from sim.serving.fleet import Fleet
    from sim.serving.pool import PoolRuntime
    from sim.serving.replica import Replica

PROVISION_S = 60.0
"""Assumed time to obtain a GPU node and start the serving container (seconds)."""
LOAD_BYTES_PER_S = 2e9
"""Assumed sustained weight-loading bandwidth per replica (bytes/s)."""
SUBSAMPLES = 10
"""Samples per interval averaged by the ``queue`` and ``kv`` metrics."""


def default_scale_up_delay_s(pool: "PoolRuntime") -> float:
    """Provisioning plus weight load time of one replica of ``pool`` (see module docstring)."""
    weight_bytes = pool.model.n_params * BYTES_PER_ELEMENT.get(pool.weight_dtype, 2.0)
    return PROVISION_S + weight_bytes / LOAD_BYTES_PER_S


class Autoscaler:
    """The autoscaler of one pool; a SimPy process started on construction."""

    def __init__(self, fleet: "Fleet", pool: "PoolRuntime", cfg: "Autoscale") -> None:
        self.fleet = fleet
        self.pool = pool
        self.cfg = cfg
        self.delay_s = cfg.scale_up_delay if cfg.scale_up_delay is not None else default_scale_up_delay_s(pool)
        self.window = StabilizationWindow(cfg.cooldown)   # the recommendations of the last cooldown seconds
        self.events: deque[tuple[float, int]] = deque()  # (time, replicas added or removed) within scale_up_period
        self.scale_ups = 0
        self.scale_downs = 0
        self.provisioned = 0
        self.drained = 0
        self._prev_busy = 0.0
        self._prev_up = 0.0
        self._prev_tokens = 0.0
        self._prev_done = (0, 0.0)
        self._prev_lf_up = 0.0
        self._prev_rejects = 0
        self._acc = 0.0
        self._n = 0
        # the classes whose waiting requests this pool's replicas may take (None: every class)
        self._classes = None if not fleet.class_sets else frozenset(
            c for c, s in enumerate(fleet.class_sets) if s is None or pool.index in s.index)
        self.proc = fleet.env.process(self._run())

    def _run(self):
        env = self.fleet.env
        step = self.cfg.interval / SUBSAMPLES
        j = 0
        while True:
            j += 1
            yield at(env, j * step)
            if self.cfg.metric not in ("utilization", "load_factor", "ttft"):
                self._acc += self._instant(self.serving())
                self._n += 1
            if j % SUBSAMPLES == 0:
                self.tick()

    # ------------------------------------------------------------------ measuring
    def serving(self) -> list["Replica"]:
        return [r for r in self.pool.live if r.ready and r.alive and not r.draining]

    def metric(self, serving: list["Replica"]) -> float:
        """The configured metric now (see module docstring)."""
        t = self.fleet.env.now
        p = self.pool
        kind = self.cfg.metric
        if kind == "utilization":
            busy = p.busy_seconds(t)
            up = p.up_seconds(t)
            d_busy, d_up = busy - self._prev_busy, up - self._prev_up
            self._prev_busy, self._prev_up = busy, up
            return min(d_busy / d_up, 1.0) if d_up > 0 else 0.0
        if kind == "load_factor":
            return self._load_factor(t)
        if kind == "ttft":
            return self._ttft(t)
        m = self._acc / self._n if self._n else 0.0
        self._acc, self._n = 0.0, 0
        return m

    def _load_factor(self, t: float) -> float:
        """Load factor of the pool over the last interval (see the module docstring)."""
        p = self.pool
        tokens = float(sum(r.tokens_at(t) for r in p.replicas))    # a fast run's iterations ended by t too
        up = p.up_seconds(t)
        d_tok, d_up = tokens - self._prev_tokens, up - self._prev_lf_up
        self._prev_tokens, self._prev_lf_up = tokens, up
        prefill = p.role == "prefill"
        n, pin, pout, _ = self.fleet.pool_done[p.index]
        if prefill:    # a prefill pool's requests: the prompts it ran, one output token each
            n, pin = self.fleet.pool_prefilled[p.index]
            pout = n
        if n:      # the mix of the requests completed so far (the in-system ones over-represent long ones)
            mix = (pin / n, pout / n)
        else:      # nothing completed yet: the requests in the system
            mine = [r for r in self.fleet.in_flight.values() if r.pool == p.index]
            mix = (sum(r.prompt for r in mine) / len(mine),
                   1.0 if prefill else sum(r.output for r in mine) / len(mine)) if mine else None
        if mix is None or d_up <= 0:
            return 0.0
        # the tokens its replicas processed, in requests of the mix: a prefill pool runs their
        # prompts, a decode pool their decode tokens, a pool of both roles both
        return load_factor(d_tok / tokens_per_request(p, *mix), d_up, pool_seconds_per_request(p, *mix))

    def _ttft(self, t: float) -> float:
        """Mean TTFT over the last interval (see the module docstring)."""
        n, _, _, ttft_sum = self.fleet.pool_done[self.pool.index]
        d_n, d_sum = n - self._prev_done[0], ttft_sum - self._prev_done[1]
        self._prev_done = (n, ttft_sum)
        me, classes = self.pool.index, self._classes
        # pool -1: not routed yet (the central queue), counted where it may go, as the queue metric counts it
        ages = [t - r.arrival for r in self.fleet.in_flight.values()
                if r.first_tok < 0 and (r.pool == me or r.pool == -1 and (classes is None or r.cls in classes))]
        count = d_n + len(ages)
        return (d_sum + sum(ages)) / count if count else 0.0

    def _instant(self, serving: list["Replica"]) -> float:
        """``queue`` or ``kv`` now."""
        t = self.fleet.env.now
        p = self.pool
        if not serving:
            return 0.0
        if self.cfg.metric == "queue":
            total = sum(r.outstanding for r in serving)
            total += self.fleet.central_waiting(self.pool)
            return total / len(serving)
        return sum(r.kv_used_at(t) for r in serving) / (len(serving) * p.kv_blocks) if p.kv_blocks else 0.0

    def recommendation(self) -> int:
        """Replicas the pool should have now, before the stabilization window."""
        cfg = self.cfg
        serving = self.serving()
        current = sum(1 for r in self.pool.live if not r.draining)
        m = self.metric(serving)
        rejects = self.fleet.no_replica_rejects
        turned_away = rejects > self._prev_rejects
        self._prev_rejects = rejects
        if serving:      # the HPA's tolerance band and its reading of pods not ready (sim.serving.hpa):
            unready = current - len(serving)     # replicas still starting, and failed ones under repair
            desired = desired_replicas(m / cfg.target, len(serving), unready, current, cfg.tolerance,
                                       rebalance=cfg.metric != "ttft")
        else:
            desired = max(current, 1 if turned_away else 0)
        return min(max(desired, cfg.min), cfg.max)

    # ------------------------------------------------------------------ acting
    def tick(self) -> None:
        t = self.fleet.env.now
        if self.fleet.patience is not None:
            self.fleet.expire_all(t)     # clients who gave up by now are out of the queues it reads
        want = self.recommendation()
        floor = self.window.add(t, want)   # cooldown 0: only the current recommendation
        current = [r for r in self.pool.live if not r.draining]
        n = len(current)
        events = self.events
        while events and events[0][0] <= t - self.cfg.scale_up_period:
            events.popleft()
        if want > n:    # the behavior.scaleUp policies cap the raw recommendation, which the window keeps
            want = min(want, scale_up_limit(n, *period_changes(events), self.cfg.max_scale_up_pods,
                                            self.cfg.max_scale_up_percent))
            if want <= n:   # the period's allowance is spent: no scale-up now (and none down: it asked for more)
                return
            self.scale_ups += 1
            events.append((t, want - n))
            for _ in range(want - n):
                self._provision()
            return
        if floor < n:
            self.scale_downs += 1
            events.append((t, floor - n))
            for rep in self._victims(current, n - floor):
                self.drained += 1
                self.fleet.drain(rep)

    def _provision(self) -> None:
        fleet = self.fleet
        self.provisioned += 1
        if self.delay_s <= 0:
            fleet.add_replica(self.pool, ready=True)
            return
        rep = fleet.add_replica(self.pool, ready=False)
        ev = fleet.env.timeout(self.delay_s)
        ev.callbacks.append(lambda _ev: fleet.mark_ready(rep))

    @staticmethod
    def _victims(current: list["Replica"], k: int) -> list["Replica"]:
        warming = [r for r in reversed(current) if not r.ready]
        failed = [r for r in current if r.ready and not r.alive]
        serving = sorted((r for r in current if r.ready and r.alive), key=lambda r: (r.outstanding, -r.index))
        return (warming + failed + serving)[:k]

    def summary(self) -> dict:
        return {"scale_ups": self.scale_ups, "scale_downs": self.scale_downs, "replicas_provisioned": self.provisioned,
                "replicas_drained": self.drained, "scale_up_delay_s": self.delay_s}
