"""Replica lifecycle: provisioning, readiness, draining, release, failure, repair and the retries of
what a failed replica held -- the part of :class:`~sim.serving.fleet.Fleet` that adds and removes
replicas (a base class of it, driven by the fleet itself, the autoscalers of
:mod:`sim.serving.autoscaler` and the failure processes of :mod:`sim.serving.failures`).

Replica lifecycle and money: a replica is provisioned from the moment it is requested (warming,
serving, idle, draining and failed-and-held time all count) until it is released; each lifetime
is one ``(start_s, end_s)`` entry of :attr:`PoolRuntime.intervals` (filled by
:meth:`Fleet.close`). ``Fleet.events`` logs every lifecycle change as ``(time_s, pool, replica,
kind)`` with ``kind`` an index into :data:`~sim.serving.outcome.EVENT_KINDS`.

Failures: the requests a failed replica held (queued, running, or with their KV cache in transfer
from it) are retried (``Req.retries`` += 1, routed again as new arrivals but keeping the tokens
already emitted) or, past the pool's ``max_retries``, finished with status FAILED. A queued request
whose client had given up by the failure (:meth:`Replica.expire` at that instant, the rule every
read of a queue applies) is not retried: it has gone (``timeout``).
"""
from __future__ import annotations

from sim.serving.failures import failure_process, failure_rng
from sim.serving.mid_cycle import start_taken
from sim.serving.outcome import EV_DRAIN, EV_FAIL, EV_PROVISION, EV_READY, EV_RELEASE, EV_REPAIR
from sim.serving.pool import PoolRuntime
from sim.serving.replica import Replica
from sim.serving.request import FAILED, R_RETRIES, R_TIMEOUT, Req


class ReplicaLifecycle:
    """Adding, draining, releasing, failing and repairing replicas of a :class:`~sim.serving.fleet.Fleet`
    (its state: ``env``, ``replicas``, ``live``, ``pool_sets``, ``events``, the central queue, the
    request log)."""

    def add_replica(self, p: PoolRuntime, ready: bool) -> Replica:
        """Provision a replica in pool ``p`` now (``ready``: serving at once, else warming)."""
        t = self.env.now
        rep = Replica(self.env, self, p, len(self.replicas), len(p.replicas), self.fast, role=p.role, ready=ready)
        p.replicas.append(rep)
        p.live.append(rep)
        self.replicas.append(rep)
        self.live.append(rep)
        for s in self.pool_sets:
            if p.index in s.index:
                s.live.append(rep)
        p.provision_change(t, +1)
        self.events.append((t, p.index, rep.index, EV_PROVISION))
        if ready:
            self._on_ready(rep)
        return rep

    def mark_ready(self, rep: Replica) -> None:
        """A warming replica finished provisioning and loading weights."""
        if rep.released or rep.ready:
            return
        rep.become_ready()
        self._on_ready(rep)
        if self.central is not None:
            self.pull(rep)

    def _on_ready(self, rep: Replica) -> None:
        self.events.append((self.env.now, rep.pool.index, rep.index, EV_READY))
        fcfg = rep.pool.cfg.failures
        if fcfg is not None:
            self.env.process(failure_process(self, rep, fcfg, failure_rng(self.seed, rep.pool.index, rep.local_index)))

    def drain(self, rep: Replica) -> None:
        """Scale down ``rep``: no new requests; released when it holds nothing."""
        if rep.draining or rep.released:
            return
        self.events.append((self.env.now, rep.pool.index, rep.index, EV_DRAIN))
        rep.start_drain()

    def release(self, rep: Replica) -> None:
        """Give ``rep`` back: its provisioned interval ends now."""
        if rep.released:
            return
        t = self.env.now
        p = rep.pool
        rep.released = True
        rep.alive = False
        rep.accepting = False
        rep.prov_end_s = t
        rep.close_books(t)
        p.live.remove(rep)
        self.live.remove(rep)
        for s in self.pool_sets:
            if p.index in s.index:
                s.live.remove(rep)
        p.provision_change(t, -1)
        p.released_busy_s += rep.busy_at(t)
        p.released_up_s += rep.up_s
        p.released_down_s += rep.down_s
        self.events.append((t, p.index, rep.index, EV_RELEASE))
        if rep._idle is not None and not rep._idle.triggered:
            rep._idle.succeed()

    def fail_replica(self, rep: Replica) -> None:
        """``rep`` fails now; what it held is retried elsewhere (or failed past ``max_retries``)."""
        if rep.released or not rep.alive:
            return
        self.events.append((self.env.now, rep.pool.index, rep.index, EV_FAIL))
        now = self.env.now
        if rep.slots > 1:
            # a micro-batch of the cycle the failure cuts short took these: they were running, and are
            # retried as running requests (first admitted at its boundary; their clients no longer give up)
            start_taken(rep, now)
        if rep.patient:
            # clients who gave up by now have left, not retried: a queue is read for them only when
            # something reads it (a boundary, a routing, a time-series row), and the fast engine,
            # inside a decode run, had not stopped at the boundary where the reference engine did; on a
            # pipelined replica that includes the cycle's requests no micro-batch took before it
            if rep.slots > 1:
                for r in rep.waiting.expire(now):
                    self.reject(r, R_TIMEOUT)
            else:
                rep.expire(now)
        evicted = rep.fail()
        max_retries = rep.pool.cfg.failures.max_retries if rep.pool.cfg.failures is not None else 0
        if rep.draining:
            self.release(rep)
        for r in sorted(evicted, key=lambda q: q.rid):
            self.retry(r, max_retries)

    def repair_replica(self, rep: Replica) -> None:
        if rep.released or rep.alive:
            return
        self.events.append((self.env.now, rep.pool.index, rep.index, EV_REPAIR))
        rep.repair()
        if self.central is not None:
            self.pull(rep)

    def retry(self, r: Req, max_retries: int) -> None:
        """Route a request again after the replica holding it failed."""
        r.retries += 1
        self.retry_events += 1
        if r.retries == 1:
            self.requests_retried += 1
        if r.retries > max_retries:
            self.fail_request(r)
            return
        self.route(r)

    def fail_request(self, r: Req) -> None:
        r.reason = R_RETRIES
        self.requests_failed += 1
        self.in_flight.pop(r.rid, None)
        self.in_system.depart(self.env.now)
        self.log.append(self._row(r, FAILED, -1.0))
        if self.on_done is not None:
            self.on_done(r, self.env.now)
