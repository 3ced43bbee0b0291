"""What every arrival process yields: :class:`ArrivalBlock` s of consecutive arrival times, generated
:data:`BLOCK` draws at a time (:mod:`sim.workload.arrivals` for the synthetic processes,
:mod:`sim.workload.trace_replay` for a trace file's).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK = 65536
"""Internal block size (draws per numpy call); fixed so that results do not depend on chunking."""


@dataclass(frozen=True)
class ArrivalBlock:
    """Arrival times of consecutive requests, plus what a trace file says about them.

    ``prompt_tokens`` / ``output_tokens`` / ``tenant`` are ``None`` for synthetic processes;
    for traces they hold the row's lengths and tenant index (``-1`` for no tenant).
    """

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None
    tenant: np.ndarray | None = None


__all__ = ["ArrivalBlock", "BLOCK"]
