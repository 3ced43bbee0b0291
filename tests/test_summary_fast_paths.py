"""Shortcuts in the request summary give the same numbers as the plain computation."""
from __future__ import annotations

import numpy as np
import pytest

from sim.metrics.records import RECORD_DTYPE, RequestLog
from sim.metrics.summary import weighted_stats


def _row(rid: int, t: float) -> tuple:
    return (rid, t, t, t + 0.1, t + 1.0, 10, 5, 5, 0, 0, 0, 0, 0, 1, 0)


@pytest.mark.parametrize("rids", [[0, 1, 2, 3, 4], [3, 0, 4, 1, 2], [0, 2, 1, 2, 4]])
@pytest.mark.parametrize("extra", [[], [5, 6], [7, -1]])
def test_array_sorted_by_rid_with_in_flight_rows(rids, extra):
    log = RequestLog(chunk=2)
    for rid in rids:
        log.append(_row(rid, float(rid)))
    rows = [_row(rid, 10.0 + rid) for rid in extra]
    got = log.array(rows)
    every = np.array([_row(rid, float(rid)) for rid in rids] + rows, dtype=RECORD_DTYPE)
    want = every[np.argsort(every["rid"], kind="stable")]
    assert got.tobytes() == want.tobytes()
    # the log keeps its own rows only, and a caller's copy does not alias them
    assert len(log.array()) == len(rids)
    log.array()["arrival_s"] = -1.0
    assert (log.array()["arrival_s"] >= 0).all()


@pytest.mark.parametrize("values", [
    np.array([0.3, 0.1, 0.2, 0.1, 0.0, 0.3, 0.2]),
    np.array([0.3, -0.1, 0.2, -0.0, 0.0, 0.3]),          # negative and -0.0: plain float sort
    np.array([0.3, np.nan, 0.2, 0.1]),
    np.random.default_rng(3).integers(0, 50, 2000) / 7.0,  # many ties
])
def test_weighted_stats_matches_float_sort(values):
    w = np.random.default_rng(1).integers(1, 9, len(values))
    order = np.argsort(values, kind="stable")
    v, ww = values[order], w[order].astype(np.float64)
    cw = np.cumsum(ww)
    # the mean's definition: each distinct value times the total weight of its ties (so the order in
    # which tied pairs were recorded does not matter), added in value order by numpy's fixed-order
    # sum (not BLAS's dot, whose last digits depend on the thread count)
    uniq, inverse = np.unique(v, return_inverse=True)
    want = {"mean": float(np.add.reduce(uniq * np.bincount(inverse, weights=ww))) / float(cw[-1])}
    for q in (50, 90, 99):
        want[f"p{q}"] = float(v[min(int(np.searchsorted(cw, q / 100.0 * cw[-1])), len(v) - 1)])
    got = weighted_stats(values, w)
    assert np.array_equal(np.array(list(got.values())), np.array([want[k] for k in got]), equal_nan=True)


def _tied_pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Step-time-like gaps drawn from a small pool (many exact ties), counts 1-12."""
    rng = np.random.default_rng(seed)
    pool = rng.gamma(3.0, 0.01, 300)
    return pool[rng.integers(0, len(pool), n)], rng.integers(1, 13, n)


def test_distinct_weighted_keeps_weighted_stats_bit_for_bit():
    from sim.metrics.summary import distinct_weighted

    g, c = _tied_pairs(20_000, 5)
    v, w = distinct_weighted(g, c)
    # independent of the function: numpy's unique values and a bincount of the weights
    uniq, inverse = np.unique(g, return_inverse=True)
    assert np.array_equal(v, uniq) and np.array_equal(w, np.bincount(inverse, weights=c).astype(np.int64))
    assert weighted_stats(v, w) == weighted_stats(g, c)
    # a reduced table reduced again with more pairs is the reduction of all of them at once
    g2, c2 = _tied_pairs(5_000, 6)
    again = distinct_weighted(np.concatenate([v, g2]), np.concatenate([w, c2]))
    at_once = distinct_weighted(np.concatenate([g, g2]), np.concatenate([c, c2]))
    assert all(np.array_equal(a, b) for a, b in zip(again, at_once))


def test_gap_log_gives_the_same_itl_whatever_the_order_and_the_reductions(monkeypatch):
    from sim.metrics.records import GapLog

    g, c = _tied_pairs(30_000, 7)
    monkeypatch.setattr(GapLog, "REDUCE_AT", 1_000)    # many reductions, tables merged more than once
    logs = []
    for order in (np.arange(len(g)), np.random.default_rng(8).permutation(len(g))):
        log = GapLog("all")
        gs, cs = g[order], c[order]
        for i in range(0, len(gs), 100):   # every way pairs come in: one by one, lists, arrays, runs
            part, counts = gs[i:i + 100], cs[i:i + 100]
            kind = (i // 100) % 4
            for j in range(len(part)):
                if kind == 0:
                    log.add(float(part[j]), int(counts[j]))
                elif kind == 1:
                    log.add_array([float(part[j])], int(counts[j]))
                elif kind == 2:
                    log.add_array(part[j:j + 1], int(counts[j]))
                else:
                    log.add_run({}, 0.0, 0.0, 0.0, part[j:j + 1], int(counts[j]))
        logs.append(log.arrays())
    uniq, inverse = np.unique(g, return_inverse=True)
    want = (uniq, np.bincount(inverse, weights=c).astype(np.int64))
    for got in logs:
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert weighted_stats(*got) == weighted_stats(g, c)
