"""The offered load factor and throughput of a drained run (``drain: true``) against hand-worked
arithmetic and queueing theory.

M/D/1: one replica, ``max_num_seqs: 1``, the linear step-time model at 1 ms per prompt token,
1,000-token prompts and one output token, so every request is one 1.000 s prefill (the scenario of
``test_queueing_theory``'s M/D/1 case). Poisson arrivals at ``rate = rho`` over ``T = 2,000 s``
offer ``rho`` seconds of work per second: the offered load factor is the ``N`` arrivals x 1 s over
the ``T`` replica-seconds of the arrival window, ``N / T``, whose expectation is ``rho`` and whose
sampling error is that of the Poisson count, ``sqrt(rho T) / T`` (1.6 % of ``rho`` at 0.5, 1.1 % at
1.2). A drained run serves on after ``T`` until its backlog is gone (at ``rho = 1.2`` about
``0.2 T`` more); priced over that drain too, the overloaded fleet read 0.999.
"""
from __future__ import annotations

import math

import pytest

import sim

from test_queueing_theory import LONG_CONTEXT_MODEL  # noqa: F401  (the M/D/1 model)
from test_queueing_theory import _queue_scenario

T = 2000.0
SERVICE_S = 1.0


def _md1(rho: float, drain: bool) -> dict:
    sc = _queue_scenario(c=1, lam=rho / SERVICE_S, prompt={"dist": "fixed", "value": 1000}, seed=1, duration=T,
                         warmup=200.0)
    return {**sc, "drain": drain}


@pytest.mark.parametrize("rho", [0.5, 0.9, 1.2])
def test_drained_md1_offers_rho(rho):
    plain = sim.run(_md1(rho, drain=False)).summary
    drained = sim.run(_md1(rho, drain=True)).summary
    n = drained["requests"]["arrived"]
    assert drained["requests"]["completed"] == n and drained["requests"]["in_flight"] == 0
    assert drained["simulated_seconds"] > T
    olf = drained["stability"]["offered_load_factor"]
    # hand-worked: N requests of 1 s over T replica-seconds of the arrival window
    assert olf == pytest.approx(n * SERVICE_S / T, rel=1e-12)
    # queueing theory: lambda E[S] = rho, within 4 standard errors of the Poisson count
    assert abs(olf - rho) <= 4.0 * math.sqrt(rho * T) / T
    # the undrained run saw the same arrivals over the same capacity: the same number (up to the
    # rounding of the served count it is formed through)
    assert plain["requests"]["arrived"] == n
    assert plain["stability"]["offered_load_factor"] == pytest.approx(olf, rel=1e-12)
    assert abs(plain["stability"]["offered_load_factor"] - olf) <= math.sqrt(rho * T) / T


def test_drained_overload_is_not_read_as_saturation():
    # the audit's reproducer: rate 1.2 with drain read 0.9988, now ~1.2; the load factor (what the
    # fleet did over the whole run, drain included) stays ~1.0: saturated while it drained
    s = sim.run(_md1(1.2, drain=True)).summary
    assert s["stability"]["offered_load_factor"] > 1.15
    assert s["stability"]["verdict"] == "unstable"
    assert s["utilization"]["load_factor"] == pytest.approx(1.0, abs=0.005)
    # delivered throughput over [warmup, end of the drain]: the server's capacity, 1 request/s
    assert s["throughput"]["requests_per_s"] == pytest.approx(1.0 / SERVICE_S, abs=0.005)


def _burst(c: int, count: int) -> dict:
    sc = _queue_scenario(c=c, lam=1.0, prompt={"dist": "fixed", "value": 1000}, seed=1, duration=10.0, warmup=0.0)
    sc["workload"]["arrival"] = {"process": "burst", "count": count}
    return {**sc, "drain": True}


@pytest.mark.parametrize("c,count", [(1, 100), (2, 101)])
def test_offline_burst_offers_its_work_over_the_job(c, count):
    """MLPerf-Offline style: ``count`` requests at t = 0 on ``c`` servers of 1 s each, FCFS from one
    queue. The job ends when its last request does, at ``ceil(count / c)`` s; an offline job's
    arrival window is the whole job, so its offered load factor is its work over the capacity of
    that time, ``count / (c ceil(count / c))`` (1.0 when the last wave is full, 101/102 for 101
    requests on 2 servers), and its throughput the offline throughput, ``count / ceil(count / c)``
    requests/s."""
    s = sim.run(_burst(c, count)).summary
    end = math.ceil(count / c) * SERVICE_S
    assert s["simulated_seconds"] == pytest.approx(end, rel=1e-9)
    assert s["requests"]["completed"] == count
    assert s["stability"]["offered_load_factor"] == pytest.approx(count * SERVICE_S / (c * end), rel=1e-9)
    assert s["utilization"]["load_factor"] == pytest.approx(count * SERVICE_S / (c * end), rel=1e-9)
    assert s["throughput"]["requests_per_s"] == pytest.approx(count / end, rel=1e-9)
