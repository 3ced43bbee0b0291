"""Non-preemptive priority with three classes of three service laws on one server (M/G/1), through
the command line: each class's mean wait against Cobham's formula, and the load-weighted mean wait
against Kleinrock's conservation law; and three classes of one exponential service on two servers
behind the central queue (M/M/2, Cobham on ``c`` servers, the last test).

``test_theory_priority`` checks two classes; with three the middle class is the one the formula
says most about: it waits for the residual work in service and the high class's queue as the low
class does (the ``1 - σ_{k-1}`` factor), yet is overtaken only by the high class's arrivals during
its wait (the ``1 - σ_k`` factor), which neither end class shows apart.

One replica serving one request at a time (round 18's pool), ``batching.policy: priority``, three
classes with their own Poisson ``arrival``: ``hi`` (priority 2) 0.4 req/s of fixed 500-token prompts
(0.5 s), ``mid`` (priority 1) 0.3 req/s of exponential prompts of mean 1,000 tokens (``ceil(X)``: a
geometric service of mean 1.0005 s on the millisecond grid, its moments exact), ``lo`` (priority 0)
0.2 req/s of a bimodal 200 / 5,000 tokens (5/6, 1/6: mean 1 s, ``E[S²]`` 4.2 s²). Load 0.70.

Theory: ``theory_round21_pool.cobham`` (``W_k = W_0 / ((1 - σ_{k-1}) (1 - σ_k))``) and
``kleinrock_conserved`` (``Σ ρ_k W_k / ρ`` = the FCFS wait of the merged stream, whatever the
order). Ten seeds of 30,000 s after a 500-s warm-up, the waits of the requests arriving in the
measured window before its last 300 s (all of them completed) read from ``requests.csv.gz``; the
99 % Student-t interval of the per-run means must contain the theory and be narrower than a tenth of it.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from admission_pool import EXP_PROMPT
from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time
from theory_round19_pool import run_seeds
from theory_round20_pool import erlang_c
from theory_round21_pool import cobham, kleinrock_conserved

R = 10
DURATION, WARMUP, TAIL = 30_000.0, 500.0, 300.0
P = 1.0 - math.exp(-1.0 / 1000.0)            # the geometric service of an exponential prompt
CLASSES = {   # name: priority, rate, prompt, E[S], E[S²]
    "hi": (2, 0.4, {"dist": "fixed", "value": 500}, 0.5, 0.25),
    "mid": (1, 0.3, EXP_PROMPT, 0.001 / P, 1e-6 * (2.0 - P) / P ** 2),
    "lo": (0, 0.2, {"dist": "empirical", "values": [200, 5000], "weights": [5, 1]}, 1.0, 5 / 6 * 0.04 + 25 / 6),
}
ORDER = ["hi", "mid", "lo"]


def scenario(name: str, duration: float, warmup: float) -> dict:
    data = one_at_a_time(name, replicas=1, router="round_robin", arrival={"process": "poisson", "rate": 1.0},
                         prompt=EXP_PROMPT, duration=duration, warmup=warmup)
    data["fleet"]["pools"][0]["batching"]["policy"] = "priority"
    data["workload"] = {"prompt_tokens": EXP_PROMPT, "output_tokens": {"dist": "fixed", "value": 1},
                        "classes": [{"name": k, "priority": pr, "arrival": {"process": "poisson", "rate": lam},
                                     "prompt_tokens": prompt} for k, (pr, lam, prompt, _, _) in CLASSES.items()]}
    return data


def moments():
    return ([CLASSES[k][1] for k in ORDER], [CLASSES[k][3] for k in ORDER], [CLASSES[k][4] for k in ORDER])


def test_cobham_with_one_class_is_pollaczek_khinchine_and_conserves_work():
    lams, means, second = moments()
    # one class, or all classes at one priority: P-K
    pk = 0.7 * 2.0 / (2.0 * (1.0 - 0.7))
    assert cobham([0.7], [1.0], [2.0]) == pytest.approx([pk], rel=1e-12)
    waits = cobham(lams, means, second)
    rho = [lam * s for lam, s in zip(lams, means)]
    weighted = math.fsum(r * w for r, w in zip(rho, waits)) / sum(rho)
    assert weighted == pytest.approx(kleinrock_conserved(lams, means, second), rel=1e-12)
    # every order of the three classes conserves it too, and gives each class a different wait
    for order in ([2, 1, 0], [1, 0, 2], [0, 2, 1]):
        w = cobham(*([x[i] for i in order] for x in (lams, means, second)))
        assert math.fsum(rho[i] * wi for i, wi in zip(order, w)) / sum(rho) == pytest.approx(weighted, rel=1e-12)
    assert waits[0] < waits[1] < waits[2]


def test_three_classes_wait_as_cobham_and_conserve_the_fcfs_wait(tmp_path):
    """Cobham: hi 0.963 s, mid 1.926 s, lo 5.138 s; conserved (P-K of the merged stream) 2.568 s."""
    lams, means, second = moments()
    theory = dict(zip(ORDER, cobham(lams, means, second)))
    theory["conserved"] = kleinrock_conserved(lams, means, second)
    rho = dict(zip(ORDER, (lam * s for lam, s in zip(lams, means))))
    got = {k: [] for k in theory}
    for run in run_seeds(tmp_path, scenario("cobham3", DURATION, WARMUP), R):
        rows = [r for r in run.requests if WARMUP <= float(r["arrival_s"]) < DURATION - TAIL]
        assert all(r["status"] == "completed" for r in rows)
        for k in ORDER:
            waits = [float(r["queue_s"]) for r in rows if r["class"] == k]
            got[k].append(sum(waits) / len(waits))
        got["conserved"].append(math.fsum(rho[k] * got[k][-1] for k in ORDER) / sum(rho.values()))
    for what, value in theory.items():
        m, half = ci99(got[what])
        print(f"table: cobham3 {what}: {m:.4f} ± {half:.4f} [{value:.4f}]")
        assert abs(m - value) <= half < 0.1 * value, (what, m, half, value)
    # the middle class tells the formula from its neighbours: (1 - σ1)(1 - σ2) is neither end's factor
    assert np.mean(got["hi"]) < np.mean(got["mid"]) < np.mean(got["lo"])


def test_fast_and_reference_engines_serve_three_priorities_alike(tmp_path):
    assert both_engines_write_the_same_requests(tmp_path, scenario("cobham3-engines", 2000.0, 0.0)) > 1500


def test_three_classes_on_two_servers_behind_the_central_queue_wait_as_cobham_on_c(tmp_path):
    """Two replicas behind ``central_queue``, every pool ``priority``, the same exponential prompts for
    the three classes (0.4, 0.5, 0.5 req/s; ρ 0.70): Cobham on ``c`` servers,
    ``W_k = C(c, a) / (c μ - λ) (1 - ρ) / ((1 - σ_{k-1}) (1 - σ_k))``, ``σ_k`` the load of classes
    1..k over ``c μ`` (Kleinrock, Queueing Systems II, §3.6; ``test_theory_priority`` checks two
    classes): 0.361, 0.656, 1.752 s; their mean weighted by rate is the FCFS M/M/2 wait (0.963 s)."""
    mean = CLASSES["mid"][3]
    mu, c = 1.0 / mean, 2
    rates = {"hi": 0.4, "mid": 0.5, "lo": 0.5}
    lam = sum(rates.values())
    rho = lam / (c * mu)
    fcfs = erlang_c(c, lam / mu) / (c * mu - lam)
    sigmas = np.cumsum([rates[k] for k in ORDER]) / (c * mu)
    theory = dict(zip(ORDER, (fcfs * (1.0 - rho) / ((1.0 - prev) * (1.0 - s))
                              for prev, s in zip(np.concatenate([[0.0], sigmas[:-1]]), sigmas))))
    theory["fcfs"] = fcfs
    data = scenario("cobham3-c2", 10_000.0, 300.0)
    data["fleet"]["router"] = "central_queue"
    data["fleet"]["pools"][0]["replicas"] = c
    for cls in data["workload"]["classes"]:
        cls["arrival"]["rate"] = rates[cls["name"]]
        cls["prompt_tokens"] = EXP_PROMPT
    got = {k: [] for k in theory}
    for run in run_seeds(tmp_path, data, R):
        rows = [r for r in run.requests if 300.0 <= float(r["arrival_s"]) < 10_000.0 - TAIL]
        assert all(r["status"] == "completed" for r in rows)
        for k in ORDER:
            got[k].append(float(np.mean([float(r["queue_s"]) for r in rows if r["class"] == k])))
        got["fcfs"].append(float(np.mean([float(r["queue_s"]) for r in rows])))
    for what, value in theory.items():
        m, half = ci99(got[what])
        print(f"table: cobham3 c=2 {what}: {m:.4f} ± {half:.4f} [{value:.4f}]")
        assert abs(m - value) <= half < 0.1 * value, (what, m, half, value)
