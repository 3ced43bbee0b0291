"""The most requests in the system at once over a request-level run, exact (``stability.in_flight_peak``).

A request is in the system from its arrival until it completes, is refused or fails (what the
summary's ``requests.in_flight`` counts at the end). The count only rises at an arrival, so its
maximum is reached at one; it is counted at every arrival and departure, not read off the time
series' samples (one every ``metrics.interval``, which a burst between two samples escapes).

The engine's events are not booked in time order (a replica runs ahead of the clock and books its
completions up to the next sync point; a pre-routed feed registers a chunk's arrivals before they
happen), so arrivals and departures are kept with their times and counted in time order at points
where every event before them is known: each time-series row and the run's end
(:meth:`InSystemPeak.settle`). The cost per request is one append per departure (arrivals come
as the generator's arrays, a closed loop's one at a time) and a few array operations per row; what it
holds is the departures booked since the last settled row, 8 bytes each (all of a run's where
``metrics.interval`` is as long as the run: 80 MB for 10 million requests).
At equal times departures count first: a request refused at its arrival is never in the system (a
pre-routed one a full waiting room refuses too, though the replica decides it at its next boundary: the
rows settle only up to before such an arrival, and before the departures a pipelined replica books at its
cycle's end, :func:`sim.serving.sampler.settled_before`).

    >>> p = InSystemPeak()
    >>> p.arrive_many([0.0, 0.0, 0.0, 1.0, 5.0])    # three at once, one at 1 s, one at 5 s
    >>> for t in (2.0, 3.0, 4.0, 6.0, 7.0):
    ...     p.depart(t)
    >>> p.settle(4.5), p.peak, p.settle(10.0), p.peak   # in the system: 3, 4 at 1 s, then 1 at 5 s
    (1, 4, 0, 4)
"""
from __future__ import annotations

from array import array

import numpy as np


class InSystemPeak:
    """Arrivals and departures with their times, counted in time order up to a settled instant."""

    def __init__(self) -> None:
        self._arrivals: list[np.ndarray] = []     # arrays of arrival times (ascending each)
        self._one: list[float] = []               # arrivals booked one at a time
        self._departures = array("d")             # 8 bytes each (a list's float objects: 32)
        self.depart = self._departures.append     # (t): a request left the system at t
        self.arrive = self._one.append            # (t): a request arrived at t
        self.count = 0                            # in the system at the last settled instant
        self.peak = 0

    def arrive_many(self, times) -> None:
        """Requests arriving at ``times`` (seconds, ascending), booked ahead of the clock or not."""
        if len(times):
            self._arrivals.append(np.asarray(times, dtype=np.float64))

    def settle(self, t: float) -> int:
        """Count every arrival and departure at or before ``t`` (each one known by then) into the peak;
        those after ``t`` wait for the next call. Returns the requests in the system at ``t``."""
        if self._one:                              # a closed loop's, booked at the clock: ascending too
            self.arrive_many(self._one)
            self._one.clear()
        now, later = [], []
        for arr in self._arrivals:                 # each ascending: its first k are due
            k = int(np.searchsorted(arr, t, side="right"))
            now.append(arr[:k])
            if k < len(arr):
                later.append(arr[k:])
        self._arrivals = later
        a_now = np.concatenate(now) if now else np.zeros(0)
        dep = np.array(self._departures, dtype=np.float64)
        d_now = dep[dep <= t]
        del self._departures[:]                    # in place: ``depart`` is its ``append``
        if len(d_now) < len(dep):
            self._departures.frombytes(dep[dep > t].tobytes())
        if self.count + len(a_now) <= self.peak:     # even every arrival first would not pass the peak
            self.count += len(a_now) - len(d_now)
        elif len(a_now) or len(d_now):
            times = np.concatenate((d_now, a_now))
            step = np.concatenate((np.full(len(d_now), -1, dtype=np.int64), np.ones(len(a_now), dtype=np.int64)))
            order = np.lexsort((step, times))          # by time, departures first at equal times
            level = self.count + np.cumsum(step[order])
            self.peak = max(self.peak, int(level.max()))
            self.count = int(level[-1])
        return self.count
