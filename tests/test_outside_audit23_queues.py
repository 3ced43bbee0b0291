"""An outside validator's audit, round 23: the queueing laws. M/M/1 and M/D/1, M/M/c (Erlang C,
Little's law), loss systems (Erlang B, M/M/c/c+K), the closed loop (the machine repairman) and a
fixed patience (M/M/1+D), each run through ``fleetsim run`` over several seeds and held to its closed
form by a 99 % interval narrow enough to have failed (:mod:`outside_audit23_pool`).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from outside_audit23_pool import (MEAN_TOKENS, TOKEN_S, erlang_b, erlang_c, geometric_moments, holds,
                                  mm1_fixed_patience, mmck_law, pk_wait, repairman, run, scenario, seeds,
                                  waits)


# ---------------------------------------------------------------- M/M/1 and M/D/1

def test_mm1_mean_wait_sojourn_quantiles_and_wait_probability(tmp_path):
    """M/M/1 at ρ = 0.5 (8 seeds of 10,000 s): the mean wait (Pollaczek-Khinchine with the geometric
    prompt's own moments: 1.000 s), the sojourn's p50/p90/p99 (exponential of rate μ - λ: ln 2, ln 10,
    ln 100 over 0.5/s = 1.386, 4.605, 9.210 s; the 1-ms token rounding moves them by < 2 ms, the
    allowance), ``P(W > 0) = ρ``, ``utilization.gpu_busy = ρ`` and ``slo.attainment`` at the default
    TTFT bound of 2 s, ``1 - e^(-(μ-λ) 2)`` = 0.632."""
    es, es2 = geometric_moments(MEAN_TOKENS, TOKEN_S)
    lam = 0.5 / es
    runs = seeds(tmp_path, scenario("mm1", rate=lam), 8)
    holds([r.summary["latency"]["queue"]["mean"] for r in runs], pk_wait(lam, es, es2))
    rate = 1.0 / es - lam
    for p, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        holds([r.summary["latency"]["e2e"][p] for r in runs], -math.log(1 - q) / rate, allowance=0.002)
    holds([float(np.mean(waits(r) > 0)) for r in runs], 0.5, width=0.05)
    holds([r.summary["utilization"]["gpu_busy"] for r in runs], 0.5, width=0.05)
    # SLO attainment (TTFT <= 2 s, the default; one-token requests have no TPOT): P(T <= 2) = 1 - e^-1
    holds([r.summary["slo"]["attainment"] for r in runs], 1.0 - math.exp(-rate * 2.0), width=0.05)


def test_md1_mean_wait(tmp_path):
    """M/D/1 at ρ = 0.7, 1-s services (fixed 1,000-token prompts): ``W = ρ D / (2 (1 - ρ)) = 1.1667 s``
    (half M/M/1's); and TTFT = wait + D exactly, request by request."""
    runs = seeds(tmp_path, scenario("md1", rate=0.7, prompt={"dist": "fixed", "value": 1000}), 8)
    holds([r.summary["latency"]["queue"]["mean"] for r in runs], 0.7 / (2 * 0.3))
    for r in runs:
        done = [x for x in r.rows if x["status"] == "completed"]
        assert max(abs(float(x["ttft_s"]) - float(x["queue_s"]) - 1.0) for x in done) < 1e-9


# ---------------------------------------------------------------- M/M/c, Erlang C, Little

@pytest.fixture(scope="module")
def mm4(tmp_path_factory):
    """Four servers behind ``central_queue`` at ρ = 0.8 (6 seeds of 5,000 s, ~16,000 requests each)."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    tmp = tmp_path_factory.mktemp("mm4")
    return es, seeds(tmp, scenario("mm4", replicas=4, router="central_queue", rate=3.2 / es, duration=5000.0), 6)


def test_erlang_c_wait_probability_and_mean(mm4):
    """M/M/4 at ρ = 0.8: ``C(4, 3.2) = 0.5964`` wait, ``E[W] = C / (cμ - λ) = 0.746 s``; busy share and
    load factor ρ."""
    es, runs = mm4
    lam, c = 3.2 / es, 4
    pc, gap = erlang_c(c, 3.2), c / es - lam
    holds([float(np.mean(waits(r) > 0)) for r in runs], pc, width=0.1)
    holds([r.summary["latency"]["queue"]["mean"] for r in runs], pc / gap, width=0.25)
    holds([r.summary["utilization"]["gpu_busy"] for r in runs], 0.8, width=0.03)
    holds([r.summary["utilization"]["load_factor"] for r in runs], 0.8, width=0.03)


def test_littles_law_between_time_series_and_summary(mm4):
    """Little: the time-average number in the system (``queue_len + central_queue + running`` of
    every replica at each 10-s row after warm-up) against ``throughput.requests_per_s ×
    latency.e2e.mean``; the mean of their per-seed ratios is 1 within its 99 % interval. The peak
    (``stability.in_flight_peak``, exact) is at least every sampled count."""
    _, runs = mm4
    ratios = []
    for r in runs:
        warmup = 200.0
        count: dict[float, int] = {}
        for row in r.series:
            t = float(row["time_s"])
            if t > warmup:
                count[t] = count.get(t, 0) + int(row["queue_len"]) + int(row["central_queue"]) + int(row["running"])
        little = r.summary["throughput"]["requests_per_s"] * r.summary["latency"]["e2e"]["mean"]
        ratios.append(np.mean(list(count.values())) / little)
        assert r.summary["stability"]["in_flight_peak"] >= max(count.values())
    holds(ratios, 1.0, width=0.05)


@pytest.mark.slow
def test_erlang_c_on_sixteen_servers(tmp_path):
    """M/M/16 at ρ = 0.8 (6 seeds of 1,500 s, ~19,000 requests each): ``C(16, 12.8) = 0.3049``;
    ``E[W] = C / (16 μ - λ) = 0.0953 s``."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    lam = 12.8 / es
    runs = seeds(tmp_path, scenario("mm16", replicas=16, router="central_queue", rate=lam, duration=1500.0,
                                    warmup=100.0), 6)
    pc = erlang_c(16, 12.8)
    holds([float(np.mean(waits(r) > 0)) for r in runs], pc, width=0.15)
    holds([r.summary["latency"]["queue"]["mean"] for r in runs], pc / (16 / es - lam), width=0.3)


# ---------------------------------------------------------------- loss systems: Erlang B, M/M/c/c+K

@pytest.mark.parametrize("room,c,a,expected", [(0, 4, 3.0, 0.2061), pytest.param(2, 3, 2.7, 0.1637, marks=pytest.mark.slow)])
def test_refused_share_matches_mmck(tmp_path, room, c, a, expected):
    """``central_queue`` with ``fleet.router.max_waiting: K`` on ``c`` servers is M/M/c/c+K: the share
    refused is ``p_{c+K}`` (PASTA). ``K = 0``: Erlang B(4, 3) = 0.2061; ``K = 2``, ``c = 3``, ρ = 0.9:
    0.1637. Both the rows and ``requests.refused_share``."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    theory = float(mmck_law(c, a, room)[-1])
    assert theory == pytest.approx(expected, abs=5e-5)
    if room == 0:
        assert theory == pytest.approx(erlang_b(c, a), rel=1e-12)
    runs = seeds(tmp_path, scenario(f"room{room}", replicas=c, router={"policy": "central_queue", "max_waiting": room},
                                    rate=a / es, duration=4000.0), 6)
    shares = []
    for r in runs:
        rows = r.measured()
        refused = sum(x["reason"] == "queue_full" for x in rows)
        shares.append(refused / len(rows))
        assert r.summary["requests"]["refused_share"] == pytest.approx(
            r.summary["requests"]["rejected_by_reason"]["queue_full"] / r.summary["requests"]["arrived"])
    holds(shares, theory, width=0.12)
    holds([r.summary["requests"]["refused_share"] for r in runs], theory, width=0.12)


def test_a_loss_system_refuses_the_same_requests_behind_either_router(tmp_path):
    """Erlang's loss system on 4 one-at-a-time servers (``a = 3``): ``central_queue`` with a fleet room
    of 0 and ``least_outstanding`` with a room of 0 on each replica (which passes over a busy one) are
    the same system, so they refuse the very same requests and complete the rest at the same times
    (a request's service is its own, whichever server takes it); the share is Erlang B's 0.2061 to
    within one run's noise: the binomial 99 % ``2.576 √(B (1 - B) / N)`` (N ~ 11,000) doubled, as
    refusals within a holding time of each other are correlated (a variance up to 4 times the
    binomial's at this load)."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    cq = run(tmp_path, scenario("loss-cq", replicas=4, router={"policy": "central_queue", "max_waiting": 0},
                                rate=3.0 / es, duration=4000.0))
    lo = run(tmp_path, scenario("loss-lo", replicas=4, router="least_outstanding", pool={"max_waiting": 0},
                                rate=3.0 / es, duration=4000.0))
    outcome = (lambda r: [(x["rid"], x["status"], x["reason"], x["completion_s"]) for x in r.rows])
    assert outcome(cq) == outcome(lo)
    b, n = erlang_b(4, 3.0), len(cq.measured())
    share = cq.summary["requests"]["refused_share"]
    assert share == lo.summary["requests"]["refused_share"]
    assert abs(share - b) <= 2 * 2.576 * math.sqrt(b * (1 - b) / n), (share, b)


# ---------------------------------------------------------------- closed loop, patience

def test_closed_loop_is_the_machine_repairman(tmp_path):
    """Five clients thinking an exponential 4 s on one server of exponential 1-s services (8 seeds of
    5,000 s): throughput ``X = (1 - p_0) / S`` = 0.8007/s, response ``N / X - Z`` = 2.244 s, and both
    ``gpu_busy`` and ``load_factor`` read ``X S`` = 0.801."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    data = scenario("repair", duration=5000.0)
    data["workload"]["arrival"] = {"process": "closed", "concurrency": 5, "think_time_s": 4.0, "think": "exponential"}
    x, resp = repairman(5, 4.0, es)
    runs = seeds(tmp_path, data, 8)
    holds([r.summary["throughput"]["requests_per_s"] for r in runs], x, width=0.03)
    holds([r.summary["latency"]["e2e"]["mean"] for r in runs], resp, width=0.08)
    # the server is busy X S of the time, and that is its load factor: five clients never saturate
    # it (the load factor's saturated measurement once ran these clients instead, and read 0.975)
    holds([r.summary["utilization"]["gpu_busy"] for r in runs], x * es, width=0.03)
    holds([r.summary["utilization"]["load_factor"] for r in runs], x * es, width=0.03)


def test_fixed_patience_on_one_server_is_mm1_d(tmp_path):
    """M/M/1+D at ρ = 0.9 with a 2-s patience: the share giving up (``requests.abandoned_share`` of the
    measured rows, reason ``timeout``) is the offered wait's mass above τ: 0.2188."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    lam = 0.9 / es
    data = scenario("patience", rate=lam)
    data["workload"]["patience_s"] = 2.0
    theory = mm1_fixed_patience(lam, 1.0 / es, 2.0)
    runs = seeds(tmp_path, data, 6)
    shares = []
    for r in runs:
        rows = r.measured()
        shares.append(sum(x["reason"] == "timeout" for x in rows) / len(rows))
    holds(shares, theory, width=0.1)
    holds([r.summary["requests"]["abandoned_share"] for r in runs], theory, width=0.1)


@pytest.mark.slow
def test_random_routing_splits_into_independent_mm1(tmp_path):
    """``random`` on 4 replicas at ρ = 0.7: Poisson splitting, four M/M/1 queues, each waiting the
    M/M/1 mean ``ρ / (μ - λ_i)`` = 2.33 s, while ``central_queue`` waits Erlang C's 0.357 s."""
    es, es2 = geometric_moments(MEAN_TOKENS, TOKEN_S)
    lam = 2.8 / es
    rnd = seeds(tmp_path, scenario("rnd", replicas=4, router="random", rate=lam, duration=10_000.0), 8)
    holds([r.summary["latency"]["queue"]["mean"] for r in rnd], pk_wait(lam / 4, es, es2))
    cq = seeds(tmp_path, scenario("cq", replicas=4, router="central_queue", rate=lam, duration=10_000.0), 8)
    holds([r.summary["latency"]["queue"]["mean"] for r in cq], erlang_c(4, 2.8) / (4 / es - lam))


@pytest.mark.slow
def test_erlang_c_wait_quantiles(tmp_path):
    """M/M/4 at ρ = 0.8 (12 seeds of 20,000 s): the wait's p90 and p99 from
    ``P(W > t) = C e^(-(cμ-λ) t)``: ``ln(10 C) / (cμ - λ) = 2.23 s``, ``ln(100 C) / (cμ - λ) = 5.11 s``."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    runs = seeds(tmp_path, scenario("mm4-tail", replicas=4, router="central_queue", rate=3.2 / es,
                                    duration=20_000.0, warmup=500.0), 12)
    pc, gap = erlang_c(4, 3.2), 0.8 / es
    holds([r.summary["latency"]["queue"]["p90"] for r in runs], math.log(10 * pc) / gap, allowance=0.002)
    holds([r.summary["latency"]["queue"]["p99"] for r in runs], math.log(100 * pc) / gap, allowance=0.002)


@pytest.mark.slow
def test_mm1_at_eighty_percent(tmp_path):
    """M/M/1 at ρ = 0.8 (20 seeds of 40,000 s): mean wait 4.0 s, sojourn p50/p90/p99 3.47, 11.5, 23.0 s."""
    es, es2 = geometric_moments(MEAN_TOKENS, TOKEN_S)
    lam = 0.8 / es
    runs = seeds(tmp_path, scenario("mm1-80", rate=lam, duration=40_000.0, warmup=1000.0), 20)
    holds([r.summary["latency"]["queue"]["mean"] for r in runs], pk_wait(lam, es, es2))
    for p, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        holds([r.summary["latency"]["e2e"][p] for r in runs], -math.log(1 - q) / (1.0 / es - lam), allowance=0.002)
