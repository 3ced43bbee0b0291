"""The inter-token gap log (``records: all``) on adversarial pairs: its ITL figures are the same
bytes whatever order the pairs come in, and the same as the plain weighted sample's.

Independent of the code: numpy's ``unique``/``bincount`` for the distinct gaps and their totals,
Python's exact integers for counts near 2**53, and the order-free definition of the sample.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from sim.metrics.records import GapLog
from sim.metrics.summary import distinct_weighted, weighted_stats


def _log(gaps, counts, order, how: str) -> GapLog:
    log = GapLog("all")
    g, c = np.asarray(gaps, dtype=np.float64)[order], np.asarray(counts, dtype=np.int64)[order]
    if how == "one_by_one":
        for x, k in zip(g.tolist(), c.tolist()):
            log.add(x, k)
    else:                                   # arrays of one count each, as the fast engine's runs
        for k in np.unique(c).tolist():
            log.add_array(g[c == k], k)
    return log


def _itl_bytes(log: GapLog) -> str:
    return json.dumps(weighted_stats(*log.arrays()))


def _orders(n: int):
    rng = np.random.default_rng(11)
    return [np.arange(n), np.arange(n)[::-1], rng.permutation(n), rng.permutation(n)]


@pytest.mark.parametrize("how", ["one_by_one", "arrays"])
def test_every_gap_distinct_many_reductions(monkeypatch, how):
    monkeypatch.setattr(GapLog, "REDUCE_AT", 256)
    rng = np.random.default_rng(2)
    g = rng.gamma(3.0, 0.01, 5_000)
    c = rng.integers(1, 40, len(g))
    uniq, inv = np.unique(g, return_inverse=True)
    want = (uniq, np.bincount(inv, weights=c).astype(np.int64))
    seen = set()
    for order in _orders(len(g)):
        log = _log(g, c, order, how)
        v, w = log.arrays()
        assert np.array_equal(v, want[0]) and np.array_equal(w, want[1])
        seen.add(_itl_bytes(log))
    assert seen == {json.dumps(weighted_stats(g, c))}


def test_pairs_waiting_stay_bounded_by_reduce_at(monkeypatch):
    """The pairs not yet reduced never exceed REDUCE_AT and one array, however few the arrays (long
    decode runs came as a few long arrays, held until 4,096 of them); the tables stay ordered by
    size (a binary counter), so few; the end result is every pair's."""
    monkeypatch.setattr(GapLog, "REDUCE_AT", 512)
    rng = np.random.default_rng(4)
    log = GapLog("all")
    every = []
    for part in range(400):
        # first every gap distinct, then gaps from a pool of 50 values
        g = rng.random(100) if part < 200 else rng.integers(0, 50, 100) / 64.0
        every.append(g)
        log.add_array(g, 1)
        assert log._arr_n + sum(len(p) for p in log._pend_gaps) <= 512 + 100
        sizes = [len(t[0]) for t in log._tables]
        assert sizes == sorted(sizes, reverse=True) and len(sizes) <= 1 + np.log2(40_000 / 512)
    v, w = log.arrays()
    uniq, inv = np.unique(np.concatenate(every), return_inverse=True)
    assert np.array_equal(v, uniq) and np.array_equal(w, np.bincount(inv).astype(np.int64))


def test_equal_gaps_reached_by_different_float_paths_are_one_gap():
    a = 0.1 + 0.2 - 0.2            # 0.10000000000000003
    b = 0.30000000000000004 - 0.2  # the same float by another path
    assert a == b
    g = [a, b, 0.1, 1.969 - 0.551, 1.418, 0.0, -0.0, 0.0 * -1.0]
    c = [3, 4, 5, 6, 7, 1, 2, 3]
    seen = {(_itl_bytes(_log(g, c, o, how)), _log(g, c, o, how).arrays()[0].tobytes())
            for o in _orders(len(g)) for how in ("one_by_one", "arrays")}
    assert len(seen) == 1
    stats, v = next(iter(seen))
    v = np.frombuffer(v)
    # one entry per float value (numpy's unique: a and b one, -0.0 and 0.0 one), 0.0 shown unsigned
    assert len(v) == len(np.unique(np.array(g))) and not np.signbit(v).any()
    assert stats == json.dumps(weighted_stats(np.array(g) + 0.0, np.array(c)))


def test_minus_zero_first_or_last_gives_the_same_bytes():
    for values in ([-0.0, 0.0], [0.0, -0.0]):
        assert json.dumps(weighted_stats(np.array(values), np.array([5, 5]))) == \
            json.dumps({"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0})
        v, w = distinct_weighted(np.array(values), np.array([5, 5]))
        assert v.tobytes() == np.array([0.0]).tobytes() and w.tolist() == [10]


def test_counts_near_2_pow_53_are_summed_exactly_in_any_order():
    big = 2**52 + 1
    g = [0.5, 0.25, 0.5, 0.5, 0.75, 0.25, 0.5]
    c = [big, 3, big, big, 1, big - 2, 7]
    stats = {_itl_bytes(_log(g, c, o, how)) for o in _orders(len(g)) for how in ("one_by_one", "arrays")}
    assert stats == {json.dumps(weighted_stats(np.array(g), np.array(c)))}
    # the totals against Python's integers, and the mean against exact rational arithmetic
    v, w = distinct_weighted(np.array(g), np.array(c))
    assert w.tolist() == [3 + big - 2, 3 * big + 7, 1]
    from fractions import Fraction
    exact = sum(Fraction(x) * k for x, k in zip(g, c)) / sum(c)
    got = json.loads(stats.pop())
    assert abs(Fraction(got["mean"]) - exact) <= exact * Fraction(1, 2**50)
    assert (got["p50"], got["p90"], got["p99"]) == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("special", [[np.inf], [np.nan], [np.nan, np.inf, np.nan]])
def test_nan_and_inf_gaps_do_not_make_the_figures_depend_on_order(special):
    g = [0.02, 0.03, 0.02] + special
    c = [1, 2, 3] + [4] * len(special)
    seen = {_itl_bytes(_log(g, c, o, how)) for o in _orders(len(g)) for how in ("one_by_one", "arrays")}
    assert len(seen) == 1
    got = json.loads(seen.pop().replace("NaN", '"nan"').replace("Infinity", '"inf"'))
    assert got["mean"] == ("nan" if np.isnan(special).any() else "inf")
    # weights 4 on 0.02, 2 on 0.03, 4 on each special gap (inf sorts before NaN)
    assert got["p50"] == (0.03 if len(special) == 1 else "inf")


def test_empty_logs():
    log = GapLog("all")
    log.add_array([], 3)
    log.add_array(np.zeros(0), 3)
    log.add_run({}, 0.0, 0.0, 0.0, np.zeros(0), 5)
    log.add_run({}, 0.0, 0.0, 0.0, [0.1, 0.2], 0)     # a run seen by no sequence books nothing
    v, w = log.arrays()
    assert len(v) == 0 and len(w) == 0
    assert weighted_stats(v, w) == {"mean": None, "p50": None, "p90": None, "p99": None}
    assert log.arrays()[0].size == 0                 # asking twice
    log.add(0.5, 2)
    assert [a.tolist() for a in log.arrays()] == [[0.5], [2]]
