"""Priority classes against Cobham's formula for non-preemptive priority queues.

A pool serving one request at a time (``max_num_seqs: 1``, one output token, the linear step model
at 1 ms a prompt token: service is the prompt's prefill) with ``batching.policy: priority`` takes
the waiting request of the highest class first and never interrupts one in service: the
non-preemptive priority queue. Classes with their own Poisson ``arrival`` merge into one Poisson
stream. Class ``k`` (1 the highest) waits on average (Cobham 1954; Kleinrock, Queueing Systems II,
§3.6)

* one server (M/G/1):  ``W_k = W_0 / ((1 - σ_{k-1}) (1 - σ_k))``, ``W_0 = Σ_i λ_i E[S_i²] / 2``;
* ``c`` servers fed from one queue, every class the same exponential service of rate ``μ``
  (M/M/c):  ``W_k = C(c, a) / (c μ - λ) × (1 - ρ) / ((1 - σ_{k-1}) (1 - σ_k))``, with ``C`` the
  Erlang C probability of waiting at the total load ``a = λ / μ``, ``ρ = a / c``;

where ``σ_k`` is the load of classes 1..k (``Σ λ_i E[S_i]`` on one server, ``Σ λ_i / (c μ)`` on
``c``). The second case needs the fleet's central queue (``router: central_queue``) to take the
highest class first too, which it does when every pool's policy is ``priority``.

Service of an exponential prompt: ``ceil(X)`` tokens, ``X ~ Exp(1000)``, a geometric count on
{1, 2, ...} with ``p = 1 - exp(-1/1000)``: ``E[S] = 0.001 / p = 1.0005 s`` and
``E[S²] = 10⁻⁶ (2 - p) / p²``, used exactly in the M/G/1 case. In the M/M/c case the geometric
shape moves the exponential theory by ~0.05 % (its squared coefficient of variation is 0.999), far
inside the interval.

Confidence bounds as in ``test_queueing_theory``: ``R`` replications (seeds 1..R) give i.i.d.
estimates of each class's mean wait after the warm-up; the 99 % Student-t interval must contain the
theory and be narrower than 10 % of it (15 % for the low class on c servers, the noisiest), so a wide
interval cannot pass vacuously.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import sim

from test_queueing_theory import _ci99, _queue_scenario, erlang_c

EXP_PROMPT = {"dist": "exponential", "mean": 1000, "max": 100_000}
P = 1.0 - math.exp(-1.0 / 1000.0)
S1 = 0.001 / P                              # E[S], 1.0005 s
S2 = 1e-6 * (2.0 - P) / P ** 2              # E[S²] of the geometric service
R = 16
DURATION, WARMUP = 8000.0, 300.0


def _priority_scenario(*, c: int, router: str, classes: list[dict], seed: int, duration: float = DURATION,
                       warmup: float = WARMUP, engine: str = "fast") -> dict:
    sc = _queue_scenario(c=c, lam=1.0, prompt=EXP_PROMPT, seed=seed, duration=duration, warmup=warmup)
    sc["engine"] = engine
    sc["fleet"]["router"] = router
    sc["fleet"]["pools"][0]["batching"]["policy"] = "priority"
    sc["workload"] = {"prompt_tokens": EXP_PROMPT, "output_tokens": {"dist": "fixed", "value": 1}, "classes": classes}
    return sc


def cobham(w0: float, sigmas: list[float]) -> list[float]:
    """Mean waits of classes 1..n (highest first) given ``W_0`` and the cumulative loads ``σ_k``."""
    out, prev = [], 0.0
    for s in sigmas:
        out.append(w0 / ((1.0 - prev) * (1.0 - s)))
        prev = s
    return out


# ---------------------------------------------------------------- M/G/1: one replica, two service laws
# "hi": 0.4 req/s of fixed 500-token prompts (0.5 s); "lo": 0.5 req/s of exponential ones (1.0005 s).
MG1_CLASSES = [
    {"name": "lo", "priority": 0, "arrival": {"process": "poisson", "rate": 0.5}, "prompt_tokens": EXP_PROMPT},
    {"name": "hi", "priority": 3, "arrival": {"process": "poisson", "rate": 0.4},
     "prompt_tokens": {"dist": "fixed", "value": 500}},
]


@pytest.mark.slow
def test_one_replica_waits_by_class_as_cobham():
    """Slow: ``test_theory_round21_cobham3`` checks the same formula on one replica in the default run,
    with three classes of three service laws (this file's two are its fixed and exponential ones)
    and each interval narrower than a tenth of the theory, as here."""
    w0 = (0.4 * 0.5 ** 2 + 0.5 * S2) / 2.0
    hi_th, lo_th = cobham(w0, [0.4 * 0.5, 0.4 * 0.5 + 0.5 * S1])      # 0.688 s, 2.295 s (ρ = 0.70)
    waits = np.array([[r.summary["classes"][k]["latency"]["queue"]["mean"] for k in ("hi", "lo")]
                      for r in (sim.run(_priority_scenario(c=1, router="round_robin", classes=MG1_CLASSES, seed=s))
                                for s in range(1, R + 1))])
    for col, theory in ((0, hi_th), (1, lo_th)):
        m, half = _ci99(waits[:, col])
        assert half < 0.10 * theory, (col, m, half, theory)
        assert abs(m - theory) <= half, f"class {col}: W = {m:.4f} ± {half:.4f} s, Cobham {theory:.4f} s"


# ---------------------------------------------------------------- M/M/c: a central queue on c replicas
C = 2
LAM_HI, LAM_LO = 0.6, 0.8                    # ρ = 1.4 × 1.0005 / 2 = 0.70


def _mmc_classes(lam_hi: float = LAM_HI, lam_lo: float = LAM_LO) -> list[dict]:
    return [{"name": "hi", "priority": 1, "arrival": {"process": "poisson", "rate": lam_hi}},
            {"name": "lo", "priority": 0, "arrival": {"process": "poisson", "rate": lam_lo}}]


@pytest.mark.slow
def test_central_queue_takes_the_highest_class_first_as_cobham_on_c_servers():
    """Before the central queue ordered by priority, both classes waited the FCFS M/M/c wait
    (0.963 s): the policy ordered only replica queues, which a central queue keeps empty.

    Slow: ``test_theory_round21_cobham3`` (its last test) checks Cobham on two servers behind the
    central queue in the default run, with three classes, every interval narrower than a tenth of
    the theory (here 15 % for the low class) and the FCFS wait: a central queue taken first come,
    first served would give its high class 0.963 s against Cobham's 0.361 s."""
    mu = 1.0 / S1
    lam = LAM_HI + LAM_LO
    rho = lam / (C * mu)
    fcfs = erlang_c(C, lam / mu) / (C * mu - lam)
    hi_th, lo_th = cobham(fcfs * (1.0 - rho), [LAM_HI / (C * mu), rho])    # 0.412 s, 1.376 s
    runs = [sim.run(_priority_scenario(c=C, router="central_queue", classes=_mmc_classes(), seed=s))
            for s in range(1, R + 1)]
    waits = np.array([[r.summary["classes"][k]["latency"]["queue"]["mean"] for k in ("hi", "lo")] for r in runs])
    for col, theory, width in ((0, hi_th, 0.10), (1, lo_th, 0.15)):
        # (the low class's interval is 8 % of its wait on these seeds: 15 % leaves room for its own noise)
        m, half = _ci99(waits[:, col])
        assert half < width * theory, (col, m, half, theory)
        assert abs(m - theory) <= half, f"class {col}: W = {m:.4f} ± {half:.4f} s, Cobham {theory:.4f} s"
    # Kleinrock's conservation law: the load-weighted mean wait is the FCFS queue's
    overall = np.array([r.summary["latency"]["queue"]["mean"] for r in runs])
    m, half = _ci99(overall)
    assert abs(m - fcfs) <= half, (m, half, fcfs)


# ---------------------------------------------------------------- by hand, and both engines
@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("policy, order", [("priority", ["lo", "lo", "hi", "hi", "lo"]),
                                           ("continuous", ["lo", "lo", "lo", "hi", "hi"])])
def test_central_queue_order_by_hand(engine, policy, order):
    """Two replicas, 1 s requests (1,000 prompt tokens, one output token). Three "lo" requests at
    t = 0: two start at once, the third waits. Two "hi" at t = 0.5. At t = 1 both replicas free up:
    by priority they take the two "hi" (start 1, 1) and the last "lo" starts at 2; FCFS takes the
    "lo" and the first "hi" at 1, the second "hi" at 2."""
    sc = _priority_scenario(c=2, router="central_queue", seed=1, duration=10.0, warmup=0.0, engine=engine,
                            classes=[
        {"name": "lo", "priority": 0, "arrival": {"process": "burst", "count": 3, "at": 0.0}},
        {"name": "hi", "priority": 5, "arrival": {"process": "burst", "count": 2, "at": 0.5}}])
    sc["workload"]["prompt_tokens"] = {"dist": "fixed", "value": 1000}
    sc["fleet"]["pools"][0]["batching"]["policy"] = policy
    rec = sim.run(sc).records
    rec = rec[np.lexsort((rec["arrival_s"], rec["sched_s"]))]
    names = ["lo", "hi"]
    assert [names[int(k)] for k in rec["cls"]] == order
    assert rec["sched_s"].tolist() == [0.0, 0.0, 1.0, 1.0, 2.0]
    assert np.allclose(rec["completion_s"] - rec["sched_s"], 1.0)


@pytest.mark.parametrize("pins", [None, {"hi": ["a", "b"], "lo": "b"}])
def test_fast_and_reference_engines_agree_on_a_batching_priority_fleet(pins):
    """Continuous batching (up to 8 sequences, lognormal lengths, many output tokens) behind a
    central queue ordered by priority, with and without pins: the same requests, bit for bit."""
    from test_equivalence import _assert_same

    sc = _priority_scenario(c=2, router="central_queue", seed=5, duration=300.0, warmup=0.0,
                            classes=_mmc_classes(6.0, 8.0))
    sc["workload"]["prompt_tokens"] = {"dist": "lognormal", "mean": 300, "cv": 1.0, "max": 2000}
    sc["workload"]["output_tokens"] = {"dist": "lognormal", "mean": 40, "cv": 1.0, "max": 300}
    sc["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 1e-4, "per_decode_token_s": 1e-3,
                  "per_context_token_s": 0.0}
    pool = sc["fleet"]["pools"][0]
    pool["batching"].update(max_num_seqs=8, max_batched_tokens=4096)
    if pins is not None:
        sc["fleet"]["pools"] = [dict(pool, name="a", replicas=1), dict(pool, name="b", replicas=1)]
        sc["fleet"]["router"] = {"policy": "central_queue", "classes": pins}
    fast, ref = sim.run(dict(sc, engine="fast")), sim.run(dict(sc, engine="reference"))
    assert len(fast.records) > 3000
    _assert_same(fast.records, ref.records)
    hi, lo = (fast.summary["classes"][k]["latency"]["queue"]["mean"] for k in ("hi", "lo"))
    assert hi < lo      # the load is high enough that the order shows
