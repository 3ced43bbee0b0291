"""The workload's random streams: the one place that knows how they are laid out under a seed.

``SeedSequence(seed)`` spawns three children: arrivals, class assignment and lengths. The arrivals
child spawns one stream for ``workload.arrival`` (index 0) and one per class (index ``1 + i``, used
when class ``i`` has its own arrival); the lengths child spawns one per class, each spawning
(prompt, output). So changing a length distribution never moves an arrival time, and changing one
class's lengths never moves another's. A closed loop, which has no arrival times of its own, draws
its think times from ``workload.arrival``'s stream (:func:`arrival_stream`).
"""
from __future__ import annotations

import numpy as np


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


__all__ = ["arrival_stream", "stream_seeds"]
