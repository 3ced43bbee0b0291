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
"""
from __future__ import annotations

from heapq import heappush

import simpy
from simpy.events import NORMAL, Timeout


class At(Timeout):
    """A :class:`~simpy.events.Timeout` that fires at the absolute time ``t`` (at once if ``t`` is
    not after ``env.now``)."""

    def __init__(self, env: simpy.Environment, t: float, value=None):
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
        heappush(env._queue, (t, NORMAL, next(env._eid), self))


at = At
