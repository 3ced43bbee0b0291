"""The fluid tier's provisioned intervals per replica slot (``sim.fluid.intervals.replica_intervals``),
found from the replica count's changes, equal to the bit the slot-by-slot definition: slot ``j``
runs at ``clip(n - j, 0, 1)`` of a replica, an interval per run of steps at one nonzero value."""
from __future__ import annotations

import numpy as np
import pytest

from sim.fluid.intervals import replica_intervals


def _slot_by_slot(n: np.ndarray, edges: np.ndarray, gpus_per_replica: float) -> tuple[np.ndarray, ...]:
    """The definition, one slot at a time."""
    n = np.asarray(n, dtype=np.float64)
    top = int(np.ceil(n.max())) if len(n) else 0
    gpus, start, end = [], [], []
    for j in range(top):
        frac = np.clip(n - j, 0.0, 1.0)
        if not frac.any():
            continue
        change = np.flatnonzero(np.diff(frac)) + 1
        starts = np.concatenate(([0], change))
        ends = np.concatenate((change, [len(frac)]))
        up = frac[starts] > 0
        gpus.append(frac[starts[up]] * gpus_per_replica)
        start.append(edges[starts[up]])
        end.append(edges[ends[up]])
    return tuple(np.concatenate(c).astype(np.float64) if c else np.zeros(0) for c in (gpus, start, end))


def _counts() -> list[np.ndarray]:
    rng = np.random.default_rng(4)
    out = [np.zeros(0), np.zeros(5), np.full(7, 3.0), np.array([1.0]), np.array([0.4]), np.array([3.0, 0.0, 3.0]),
           np.array([0.0, 2.5, 2.5, 0.3, 4.0, 4.0, 0.0])]
    for k in range(60):
        size = int(rng.integers(1, 80))
        if k % 3 == 0:
            out.append(rng.integers(0, 12, size).astype(np.float64))            # whole replicas
        elif k % 3 == 1:
            out.append(rng.random(size) * 9.0)                                  # scaled, fractional
        else:
            out.append(np.round(rng.random(size) * 32.0) / 4.0)                 # quarters: ties at slot edges
    return out


@pytest.mark.parametrize("n", _counts())
def test_the_intervals_are_the_slot_by_slot_definitions_to_the_bit(n):
    edges = np.cumsum(np.random.default_rng(len(n)).random(len(n) + 1) * 300.0)
    got, want = replica_intervals(n, edges, 8.0), _slot_by_slot(n, edges, 8.0)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes()


def test_a_diurnal_year_of_five_minute_steps():
    t = np.arange(30_000)
    n = np.round(400 + 300 * np.sin(t / 288 * 2 * np.pi) + t / 100)
    edges = np.arange(len(n) + 1) * 300.0
    got, want = replica_intervals(n, edges, 4.0), _slot_by_slot(n, edges, 4.0)
    assert len(got[0]) > 30_000
    assert all(g.tobytes() == w.tobytes() for g, w in zip(got, want))


def test_hand_worked():
    # 2 replicas, then 1.5, then 0: slot 0 up whole for two steps; slot 1 whole, then half
    gpus, start, end = replica_intervals(np.array([2.0, 1.5, 0.0]), np.array([0.0, 10.0, 20.0, 30.0]), 8.0)
    assert gpus.tolist() == [8.0, 8.0, 4.0]
    assert start.tolist() == [0.0, 0.0, 10.0]
    assert end.tolist() == [20.0, 10.0, 20.0]
