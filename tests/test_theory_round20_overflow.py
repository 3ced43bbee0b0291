"""The traffic a loss group overflows is peaked (Riordan's variance), through the command line.

``router: {policy: spillover, primary, overflow, threshold: 1}`` sends a request to an idle replica
of the primary pool and to the overflow pool when none is idle (``test_theory_split`` checks the
share that overflows, Erlang B). The overflow pool has far more replicas than it ever has busy
(12, each serving one request at a time), so it carries the overflow as infinitely many servers
would. Exponential service of mean ``S`` (``admission_pool.queue``), Poisson arrivals at ``a / S``.

Theory: the number busy in the primary pool is Erlang's truncated Poisson law on ``0..c`` (mean
``a (1 - B)``, variance ``a (1 - B) - a B (c - a (1 - B))``); the number on the overflow servers has
mean ``M = a B(c, a)`` and variance ``V = M (1 - M + a / (c + 1 + M - a))`` (Riordan): more than its
mean, unlike the Poisson number a Poisson stream of the same rate would keep busy (``V = M``). Riordan's
moments are checked first against the two-group Markov chain (Kosten) solved numerically.

Measured on ``timeseries.csv`` at a 1-s ``metrics.interval`` (a sample's ``queue_len + running`` of
each pool after a 100-s warm-up): the time-average and the variance of each pool's count, per run.
Ten seeds of 3,000 s; the 99 % Student-t interval of the per-run values must contain the theory
and be narrower than a tenth of it.
"""
from __future__ import annotations

import numpy as np
import pytest

from admission_pool import S, queue
from test_theory_round19_erlang_b import erlang_b
from theory_round18_pool import both_engines_write_the_same_requests, ci99
from theory_round19_pool import in_system, run_seeds
from theory_round20_pool import overflow_chain, riordan

R = 10
DURATION, WARMUP = 3000.0, 100.0
OVERFLOW = 12


def test_riordan_is_the_two_group_chain():
    for c, a in ((3, 2.0), (5, 4.0), (1, 0.5), (8, 9.0)):
        m, v = riordan(c, a, erlang_b)
        m2, v2 = overflow_chain(c, a)
        assert m == pytest.approx(m2, rel=1e-9) and v == pytest.approx(v2, rel=1e-9)
        assert v > m                                            # peaked


def spillover(c: int, a: float) -> dict:
    data = queue(f"overflow-{c}", c=c, lam=a / S, duration=DURATION, warmup=WARMUP)
    primary = dict(data["fleet"]["pools"][0], name="primary")
    data["fleet"] = {"router": {"policy": "spillover", "primary": "primary", "overflow": "overflow", "threshold": 1},
                     "pools": [primary, dict(primary, name="overflow", replicas=OVERFLOW)]}
    data["metrics"] = {"interval": 1.0}
    return data


# five primaries are slow (~4 CPU s): three check the same Riordan moments and peakedness in the default run
@pytest.mark.parametrize("c,a", [(3, 2.0), pytest.param(5, 4.0, marks=pytest.mark.slow)])
def test_overflow_is_peaked_as_riordan_says(tmp_path, c, a):
    """``c = 3``, ``a = 2`` (primary ``ρ = 0.67``): ``M = 0.421``, ``V = 0.592``;
    ``c = 5``, ``a = 4`` (``ρ = 0.8``): ``M = 0.796``, ``V = 1.301``."""
    b = erlang_b(c, a)
    m, v = riordan(c, a, erlang_b)
    carried = a * (1.0 - b)
    theory = {"primary mean": carried, "primary variance": carried - a * b * (c - carried),
              "overflow mean": m, "overflow variance": v}
    got = {k: [] for k in theory}
    for run in run_seeds(tmp_path, spillover(c, a), R):
        first = in_system(run, "primary", WARMUP)
        second = in_system(run, "overflow", WARMUP)
        assert len(first) == len(second) > 0.9 * (DURATION - WARMUP)
        assert first.max() <= c                                  # a loss group: nobody waits there
        assert second.max() < OVERFLOW                           # the overflow never ran out of servers
        got["primary mean"].append(first.mean())
        got["primary variance"].append(first.var())
        got["overflow mean"].append(second.mean())
        got["overflow variance"].append(second.var())
    for what, value in theory.items():
        mean, half = ci99(got[what])
        assert abs(mean - value) <= half < 0.1 * value, (what, mean, half, value)
    peak, half = ci99(np.array(got["overflow variance"]) / np.array(got["overflow mean"]))
    assert abs(peak - v / m) <= half and peak - half > 1.0, (peak, half, v / m)   # peakedness Z > 1


def test_fast_and_reference_engines_spill_the_same_requests(tmp_path):
    data = spillover(3, 2.0)
    data["duration"] = 600.0
    assert both_engines_write_the_same_requests(tmp_path, data) > 1000
