"""A run's random streams: the one place that knows how they are laid out under a seed.

Each is a ``SeedSequence(seed)`` child by the first number of its spawn key: the workload's arrivals
(0), class assignment (1) and lengths (2), replica failures (3, then the pool's and the replica's
index: :func:`failure_stream`), the router (4: :func:`router_stream`) and the clients' patience
(5: :func:`patience_stream`), so that no stream's draws
move another's. The arrivals
child spawns one stream for ``workload.arrival`` (index 0) and one per class (index ``1 + i``, used
when class ``i`` has its own arrival); the lengths child spawns one per class, each spawning
(prompt, output). So changing a length distribution never moves an arrival time, and changing one
class's lengths never moves another's. A closed loop, which has no arrival times of its own, draws
its think times from ``workload.arrival``'s stream (:func:`arrival_stream`).
"""
from __future__ import annotations

import numpy as np

#: the first number of each stream's spawn key (:func:`stream_seeds` spawns the first three in order)
ARRIVALS, CLASSES, LENGTHS, FAILURES, ROUTER, PATIENCE = range(6)


def stream_seeds(seed: int, n_classes: int) -> tuple[list[np.random.SeedSequence], np.random.SeedSequence,
                                                list[tuple[np.random.SeedSequence, np.random.SeedSequence]]]:
    """The seeds of the streams under ``seed`` of a workload with ``n_classes`` classes (one without classes has
    one): the arrival streams (``workload.arrival``'s, then each class's own), the class-assignment
    stream, and each class's (prompt, output) length streams.

        >>> arrivals, _, lengths = stream_seeds(7, 2)
        >>> len(arrivals), len(lengths), arrivals[0].spawn_key, arrivals[2].spawn_key, lengths[1][0].spawn_key
        (3, 2, (0, 0), (0, 2), (2, 1, 0))
    """
    arr_ss, cls_ss, len_ss = np.random.SeedSequence(seed).spawn(3)
    return arr_ss.spawn(1 + n_classes), cls_ss, [tuple(child.spawn(2)) for child in len_ss.spawn(n_classes)]


def arrival_stream(seed: int) -> np.random.Generator:
    """A generator on ``workload.arrival``'s stream under ``seed`` (the same for any number of classes).

        >>> arrival_stream(7).random() == arrival_stream(7).random()
        True
    """
    return np.random.default_rng(stream_seeds(seed, 0)[0][0])


def failure_stream(seed: int, pool_index: int, replica_index: int) -> np.random.Generator:
    """The failure stream of replica ``replica_index`` of pool ``pool_index`` (one per replica, so failure
    times depend neither on the engine, the load nor other replicas: :mod:`sim.serving.failures`)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(FAILURES, pool_index, replica_index)))


def router_stream(seed: int) -> np.random.Generator:
    """The routers' stream (``random``, ``weighted``: :mod:`sim.serving.router`)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ROUTER,)))


def patience_stream(seed: int) -> np.random.Generator:
    """The clients' patience stream (``workload.patience``: :mod:`sim.serving.patience`)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PATIENCE,)))


__all__ = ["ARRIVALS", "CLASSES", "FAILURES", "LENGTHS", "PATIENCE", "ROUTER", "arrival_stream", "failure_stream",
           "patience_stream", "router_stream", "stream_seeds"]
