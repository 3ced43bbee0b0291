"""Capacity search and saturation against queueing theory (Erlang C) written out in the test."""
import math
from pathlib import Path

import pytest
from scipy.optimize import brentq

from sim.planning import MMcRunner, plan, saturation
from sim.planning.capacity import Bisection
from sim.planning.constraints import ConstraintError

from conftest import mmc_scenario_file

BASE = {"seed": 1, "workload": {"arrival": {"rate": 10.0}},
        "fleet": {"pools": [{"replicas": 1, "gpu": "a100-80gb"}]}}


def erlang_c(c: int, a: float) -> float:
    """P(wait) in M/M/c, direct factorial form (Kleinrock 1975, eq. 3.40)."""
    if a >= c:
        return 1.0
    top = a ** c / math.factorial(c) * c / (c - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)


def mean_wait(c, lam, s):
    return math.inf if lam * s >= c else erlang_c(c, lam * s) / (c / s - lam)


def wait_p99(c, lam, s):
    if lam * s >= c:
        return math.inf
    return max(0.0, math.log(erlang_c(c, lam * s) / 0.01) / (c / s - lam))


def first_c(ok):
    return next(c for c in range(1, 500) if ok(c))


@pytest.mark.parametrize("answer", [1, 2, 23, 63, 64])
def test_bisection_finds_the_threshold_in_log_probes(answer):
    b = Bisection(1, 64)
    while (v := b.probe()) is not None:
        b.update(v, v >= answer)
    assert b.answer == answer and b.probes <= 1 + math.ceil(math.log2(64))


def test_bisection_reports_no_answer_when_the_top_fails():
    b = Bisection(1, 64)
    while (v := b.probe()) is not None:
        b.update(v, False)
    assert b.answer is None and b.probes == 1


@pytest.mark.parametrize("rate,bound", [(10.0, 0.1), (37.0, 0.05), (3.0, 0.5)])
def test_plan_finds_the_erlang_c_minimum_and_the_cheaper_gpu(rate, bound):
    prices = {"a100-80gb": 1.8, "h100-sxm": 2.5}
    res = plan(BASE, ["fleet.pools.0.replicas=1..128", "fleet.pools.0.gpu=a100-80gb,h100-sxm"],
               constraints=[f"latency.queue.mean<={bound}"], overrides=[f"workload.arrival.rate={rate}"],
               runner=MMcRunner(service_s=1.0, price_per_gpu_hour_usd=prices), executor="serial")
    c_star = first_c(lambda c: mean_wait(c, rate, 1.0) <= bound)
    assert res.best["overrides"] == [f"fleet.pools.0.replicas={c_star}", "fleet.pools.0.gpu=a100-80gb"]
    assert res.best["cost.compute_usd.mean"] == pytest.approx(c_star * 1.8)
    runner_up = res[1]
    assert runner_up["overrides"][1] == "fleet.pools.0.gpu=h100-sxm" and runner_up["feasible"]
    assert all(r["probes"] <= 1 + math.ceil(math.log2(128)) for r in res)


def test_plan_without_a_range_enumerates_and_reports_infeasible(tmp_path):
    res = plan(BASE, {"fleet.pools.0.replicas": [8, 9, 10]}, constraints=["latency.queue.p99<=1"],
               runner=MMcRunner(service_s=1.0), executor="serial", out=tmp_path)
    assert res.best is None and len(res.evaluated) == 3          # 10 servers at 10 req/s: unstable
    assert (tmp_path / "plan.json").exists() and (tmp_path / "figures" / "pareto.png").exists()


def test_unknown_constraint_metric_is_a_user_error():
    with pytest.raises(ConstraintError, match="latency.ttft.p999"):
        plan(BASE, ["fleet.pools.0.replicas=1..8"], constraints=["latency.ttft.p999<=1"],
             runner=MMcRunner(service_s=1.0), executor="serial")


def test_replications_must_confirm_the_constraint_at_the_ci_bound():
    """With noisy runs the answer is never below the exact-theory answer (upper CI bound)."""
    exact = plan(BASE, ["fleet.pools.0.replicas=1..64"], constraints=["latency.queue.mean<=0.1"],
                 runner=MMcRunner(service_s=1.0), executor="serial").best
    noisy = plan(BASE, ["fleet.pools.0.replicas=1..64"], constraints=["latency.queue.mean<=0.1"],
                 seeds=5, runner=MMcRunner(service_s=1.0, noise_cv=0.3), executor="serial").best
    c = lambda row: int(row["overrides"][0].split("=")[1])
    assert c(noisy) >= c(exact)
    assert noisy["judged:latency.queue.mean<=0.1"] == noisy["latency.queue.mean.ci_high"] <= 0.1


def mmc_scenario(tmp_path: Path, rate: float) -> Path:
    """An M/M/c queue with mean service ~1.0005 s (see conftest.mmc_scenario_file)."""
    return mmc_scenario_file(tmp_path, rate)


@pytest.mark.parametrize("constraint,theory,seeds", [
    ("latency.queue.mean<=0.1", lambda c: mean_wait(c, 4.0, 1.0) <= 0.1, 3),
    # a p99 from 20 simulated minutes varies ~0.1 s between seeds: 8 seeds keep the upper
    # confidence bound at c* (theory 0.44 s) under 0.6 s
    ("latency.queue.p99<=0.6", lambda c: wait_p99(c, 4.0, 1.0) <= 0.6, 8),
])
def test_plan_on_the_simulator_finds_the_erlang_c_answer(tmp_path, constraint, theory, seeds):
    c_star = first_c(theory)
    res = plan(mmc_scenario(tmp_path, 4.0), ["fleet.pools.0.replicas=1..16"], constraints=[constraint],
               seeds=seeds, executor="local", workers=2, out=tmp_path / "plan")
    assert res.best["overrides"] == [f"fleet.pools.0.replicas={c_star}"]
    assert res.best["cost.compute_usd.mean"] == pytest.approx(c_star * 2.0 * 20 / 60)
    assert res.best["feasible"] and all(r["feasible"] is False for r in res.evaluated
                                        if int(r["overrides"][0].split("=")[1]) < c_star)


def test_saturation_matches_the_analytic_attainment_curve():
    # 4 servers, service 0.2 s, SLO 1 s on TTFT = wait + service; the analytic runner's
    # attainment is 1 - C(c, a) exp(-(c/s - lambda) (slo - s)); solve for 0.99 independently
    s, c, slo = 0.2, 4, 1.0
    f = lambda lam: 1 - erlang_c(c, lam * s) * math.exp(-(c / s - lam) * (slo - s)) - 0.99
    lam_star = brentq(f, 0.1, c / s - 1e-9)
    res = saturation(BASE, runner=MMcRunner(service_s=s, slo_ttft_s=slo), rel_tol=0.005,
                     overrides=[f"fleet.pools.0.replicas={c}"], executor="serial")
    assert res.rate <= lam_star <= res.upper
    assert (res.upper - res.rate) / res.rate <= 0.005
