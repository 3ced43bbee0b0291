"""Waiting until a time on the SimPy clock, exactly.

SimPy schedules a timeout at ``env.now + delay``. The engines mostly know the absolute time they
wait for (an iteration's end, an arrival, a client's next send), and ``env.timeout(t - env.now)``
lands at ``now + (t - now)``, which in floating point is ``t`` when ``now`` and ``t`` are within a
factor of two of each other (Sterbenz's lemma) and otherwise can be an ulp away, or even no delay
lands on ``t``:

>>> now, t = 0.551, 1.969
>>> now + (t - now) == t
False

Two engines that reach one instant by different paths (one iteration per timeout, or a run of
iterations summed ahead and waited for at once) would then read clocks an ulp apart, and what they
record there (a request's send, admission, first token) would differ in its last bit. :func:`at`
schedules the event at ``t`` itself, as SimPy's own :class:`~simpy.events.Timeout` does at
``now + delay`` (its initialisation, with the absolute time in place of the sum):

>>> import simpy
>>> env = simpy.Environment()
>>> def wait():
...     yield env.timeout(now)
...     yield at(env, t)
>>> _ = env.process(wait())
>>> env.run()
>>> env.now == t
True

:class:`At` pushes on SimPy's event queue (``Environment._queue``, ``_eid``) the entry
``Environment.schedule`` would push, as SimPy 4's ``Timeout`` does; ``pyproject.toml`` allows
SimPy 4 only, and ``tests/test_clock.py`` checks the entry's shape and that :class:`At` behaves
as a ``Timeout`` in conditions, interrupts and ``run(until=...)``. A NaN time is refused.

**Arrivals first at a tie.** SimPy takes two events of one instant in the order they were scheduled,
and the engines schedule an iteration's end at different times (the reference engine at the
iteration's start, the fast one at the start of a whole decode run), so an arrival at the very
instant an iteration ends would come before it on one engine and after it on the other.
:func:`arrival_at` schedules an arrival (the open-loop feed's, a batcher's dispatch, a closed-loop
client's next send) ahead of every ordinary event of its instant (SimPy's ``URGENT`` priority, which
``run(until=...)`` also takes): a request arriving as an iteration ends reaches the router and its
queue before that boundary is booked, as a request that reached vLLM's waiting queue before the
scheduler forms the next batch; it finds the replica busy (:meth:`~sim.serving.replica.Replica.room_full`)
and is admitted at that boundary if it is queued. The ends of iterations come next
(:func:`boundary_at`), in replica order whichever engine scheduled them first (two replicas freeing
slots at one instant take from the central queue in that order), then every other event of the
instant (a time-series row, an autoscaler's check), which so reads the replicas after the iterations
ending then, as the fast engine's state inside a decode run reads; last an idle replica woken by an
arrival (the reference engine wakes it with an event triggered at the arrival, after those scheduled
before; a pre-routed replica waits for its next arrival with :func:`wake_at`), so a time-series row
at that instant finds the request waiting, not running.

**What else comes first.** Two more events put requests into a replica's queue from outside it, and
are taken as arrivals (:func:`arrival_at`), for the same reason: a KV cache landing on the decode pool
(:meth:`~sim.serving.fleet.Fleet.hand_off`; vLLM V1's scheduler takes a request whose remote KV
receive has finished at its next ``schedule()``, so a transfer done by the time a decode step ends
joins the next step), and a replica's failure (:func:`~sim.serving.failures.failure_process`), whose
requests are routed again at once and reach the other replicas before their boundaries of that
instant. A failure at the instant the failing replica ends an iteration so loses that iteration (its
tokens never came back to the scheduler) on both engines; taken after the boundaries, the reference
engine had booked it while the fast engine, inside a decode run with no event at that boundary, had
not, and the retried requests joined a fast run at that boundary but the reference engine's replica
one iteration later. Everything that only reads the replicas or changes which replicas exist stays
among the ordinary events, after the iteration ends of its instant, on both engines: a time-series
row, an autoscaler's check (its ``load_factor`` reads the tokens of a fast run's iterations ended by
then, :meth:`~sim.serving.replica.Replica.tokens_at`, as the reference engine has booked them) and
the drains it decides, a replica becoming ready, a repair. A client's deadline is no event: it is
checked whenever a queue is read, and a request whose deadline is at or before a boundary is gone
there (:mod:`sim.serving.patience`).
Events taken first keep their own order (the order they were scheduled in, which no engine decides):

>>> env = simpy.Environment()
>>> seen = []
>>> def engine():
...     yield at(env, 1.0)                  # scheduled first, at 0
...     seen.append("iteration end")
>>> def feed():
...     yield env.timeout(0.5)
...     yield arrival_at(env, 1.0)          # scheduled later, at 0.5
...     seen.append("arrival")
>>> _ = env.process(engine()), env.process(feed())
>>> env.run()
>>> seen
['arrival', 'iteration end']
>>> [boundary_priority(i) for i in range(3)]    # between URGENT (0) and NORMAL (1)
[0.5, 0.75, 0.8333333333333334]
>>> WAKE > NORMAL
True
"""
from __future__ import annotations

from heapq import heappush

import simpy
from simpy.events import NORMAL, URGENT, Timeout


class At(Timeout):
    """A :class:`~simpy.events.Timeout` that fires at the absolute time ``t`` (at once if ``t`` is
    not after ``env.now``), after the events of that instant scheduled before it (``priority``
    ``NORMAL``), or before every ordinary one (``URGENT``: :func:`arrival_at`; an iteration's end:
    :func:`boundary_at`, between the two), or after every ordinary one (:data:`WAKE`: :func:`wake_at`)."""

    def __init__(self, env: simpy.Environment, t: float, value=None, priority: float = NORMAL):
        now = env.now
        if t != t:      # (a NaN time would sit in SimPy's queue and break its order)
            raise ValueError(f"a time to wait for must be a number, not {t}")
        if not t > now:
            t = now
        # Timeout.__init__ with the time given rather than summed (simpy.core.Environment.schedule)
        self.env = env
        self.callbacks = []
        self._value = value
        self._delay = t - now
        self._ok = True
        heappush(env._queue, (t, priority, next(env._eid), self))


at = At


def arrival_at(env: simpy.Environment, t: float) -> At:
    """An arrival at ``t``: an :class:`At` taken before the ordinary events of its instant (an
    iteration's end, a time-series row), in the order the arrivals were scheduled. Also a KV transfer's
    landing and a replica's failure (see the module docstring)."""
    return At(env, t, priority=URGENT)


WAKE = NORMAL + 1
"""The priority of an idle pre-routed replica's wake-up at its next arrival (:func:`wake_at`)."""


def boundary_priority(replica: int) -> float:
    """The priority of replica number ``replica``'s iteration ends: after the arrivals (``URGENT``,
    0), before the ordinary events (``NORMAL``, 1), lower replica numbers first."""
    return 1.0 - 0.5 / (replica + 1)


def boundary_at(env: simpy.Environment, t: float, replica: int) -> At:
    """The end at ``t`` of an iteration (or of a fast engine's run, or the boundary where it is cut)
    of replica number ``replica``: after the arrivals of its instant, before its ordinary events,
    and after the ends of lower-numbered replicas at that instant, on both engines."""
    return At(env, t, priority=boundary_priority(replica))


def wake_at(env: simpy.Environment, t: float) -> At:
    """An idle pre-routed replica's wait for its next arrival at ``t``: after every ordinary event of
    the instant, as the reference engine's replica, woken by an event the arrival triggers then."""
    return At(env, t, priority=WAKE)
