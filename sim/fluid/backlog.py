"""What a fluid backlog does to latency percentiles.

A step of the fluid tier serves its requests through the capacity curve at the step's load; while
a backlog ``B`` is carried, each of them also waits ``W = (B_start + B_end) / 2 / (n max_rps)``
seconds first (Little's law on the fluid queue). So the step's TTFT, E2E and queue-time
distributions are the curve's **shifted by W**: a value in histogram bin ``b`` (geometric centre
``c_b``) moves to the bin of ``c_b + W``. Mixing the shifted rows over steps gives percentiles that
include the backlog, as a request-level run's do.

Requests still in the backlog at the end of the run are counted as the request-level tier counts
its in-flight requests (:mod:`sim.metrics.summary`): those waiting longer than the TTFT objective
enter TTFT and queue percentiles at their age at the end — a lower bound. In a FCFS fluid queue
drained at ``n max_rps`` the ``B`` waiting requests have ages spread evenly over
``[0, B / (n max_rps)]``.

    >>> from sim.metrics.histogram import LogHistogram
    >>> h = LogHistogram()
    >>> row = np.zeros(h.n_bins); row[h.bin_index(np.array([0.5]))[0]] = 1.0
    >>> rows = np.vstack([row, row])              # a two-point curve, the same at both loads
    >>> out = mix_rows(rows, np.array([0]), np.array([0.0]), np.array([10.0]), np.array([100.0]))
    >>> h.counts = out; h.total = 10.0; h.sum = 1005.0; h.min, h.max = 0.0, 1e7
    >>> abs(h.quantile(50) - 100.5) / 100.5 < 0.01
    True
"""
from __future__ import annotations

import math

import numpy as np

from sim.metrics.histogram import LogHistogram

REF = LogHistogram()
AGE_POINTS = 64
"""Evenly spaced ages that stand for the end-of-run backlog's spread of ages."""


def _centres() -> np.ndarray:
    k = np.arange(REF.n_bins, dtype=np.float64)
    c = REF.lo * np.exp((k - 0.5) * REF._log_g)
    c[0] = 0.0
    return c


CENTRES = _centres()
"""The geometric centre of each reference bin (0 for bin 0): where a bin's values are taken to lie."""


def mix_rows(hists: np.ndarray, i: np.ndarray, w: np.ndarray, weight: np.ndarray, shift_s: np.ndarray) -> np.ndarray:
    """Counts of the mixture ``sum_k weight_k ((1 - w_k) hists[i_k] + w_k hists[i_k + 1])`` with step
    ``k``'s values shifted by ``shift_s[k]`` seconds (see the module docstring).

    ``hists`` is ``(grid, bins)`` of normalised rows; the other arguments are per step.
    """
    g, bins = hists.shape
    i = np.asarray(i)
    w = np.asarray(w, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    shift = np.asarray(shift_s, dtype=np.float64)
    plain = ~(shift > 0)
    hw = np.bincount(i[plain], weights=(weight * (1 - w))[plain], minlength=g) \
        + np.bincount(i[plain] + 1, weights=(weight * w)[plain], minlength=g)
    out = (hw[:, None] * hists).sum(axis=0)     # not BLAS `@`: same bytes whatever the thread count
    for k in np.flatnonzero(~plain & (weight > 0)):
        row = weight[k] * ((1 - w[k]) * hists[i[k]] + w[k] * hists[i[k] + 1])
        nz = np.flatnonzero(row)
        out += np.bincount(REF.bin_index(CENTRES[nz] + shift[k]), weights=row[nz], minlength=bins)
    return out


def backlog_ages(backlog: float, drain_rps: float, ttft_slo_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Ages (s) and weights (requests) of the end-of-run backlog that already missed the TTFT
    objective: ``backlog`` requests spread evenly over ``[0, backlog / drain_rps]``."""
    if not backlog > 0 or not drain_rps > 0 or not math.isfinite(backlog / drain_rps):
        return np.zeros(0), np.zeros(0)
    oldest = backlog / drain_rps
    ages = (np.arange(AGE_POINTS) + 0.5) / AGE_POINTS * oldest
    keep = ages > ttft_slo_s
    return ages[keep], np.full(int(keep.sum()), backlog / AGE_POINTS)
