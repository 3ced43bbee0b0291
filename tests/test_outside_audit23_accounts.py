"""An outside validator's audit, round 23: the accounts and the agreements. A request alone timed by hand
under the ``linear`` step model, utilization and load factor against the rows' busy time, GPU-hours
and cost by hand, hourly billing; both engines writing the same folder and every router the same
single server (:mod:`outside_audit23_pool` runs the scenarios through ``fleetsim run``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from outside_audit23_pool import MEAN_TOKENS, PRICE, TOKEN_S, geometric_moments, holds, run, scenario, seeds


def test_a_request_alone_takes_the_linear_models_hand_worked_time(tmp_path):
    """One request at a time, no wait (``queue_s`` 0): a 100-token prompt and 11 output tokens under
    ``step = base + p·prefill + d·decode_seqs + c·context`` (docs/performance_model.md) take the
    prefill ``0.002 + 0.1`` (it yields the first token) and ten decode steps each ``0.002 + 0.003 +
    1e-5·(100 + k)``, ``k = 1..10`` (the context read: the prompt and the ``k`` tokens so far):
    TTFT 0.102 s, E2E 0.16255 s, TPOT 6.055 ms; ``throughput.output_tokens_per_s`` = 11 × requests/s."""
    data = scenario("hand", rate=0.3, prompt={"dist": "fixed", "value": 100}, output=11, duration=3000.0)
    data["perf"] = {"model": "linear", "base_s": 0.002, "per_prefill_token_s": 0.001, "per_decode_token_s": 0.003,
                    "per_context_token_s": 1e-5}
    r = run(tmp_path, data)
    decode = [0.002 + 0.003 + 1e-5 * (100 + k) for k in range(1, 11)]
    alone = [x for x in r.rows if x["status"] == "completed" and float(x["queue_s"]) == 0.0]
    assert len(alone) > 500
    for x in alone:
        assert float(x["ttft_s"]) == pytest.approx(0.102, abs=1e-9)
        assert float(x["e2e_s"]) == pytest.approx(0.102 + sum(decode), abs=1e-9)
    assert r.summary["latency"]["tpot"]["mean"] == pytest.approx(sum(decode) / 10, abs=1e-9)
    t = r.summary["throughput"]
    assert t["output_tokens_per_s"] == pytest.approx(11 * t["requests_per_s"], rel=1e-12)


# ---------------------------------------------------------------- utilization for 1, 4, 16 replicas

@pytest.mark.parametrize("replicas", [1, 4, 16])
@pytest.mark.parametrize("rho", [0.2, 0.5, 0.8])
def test_utilization_is_rho_and_the_busy_time_of_the_rows(tmp_path, replicas, rho):
    """One-at-a-time servers at 20/50/80 % load on 1, 4 and 16 replicas (~3,000 requests each):
    ``utilization.gpu_busy`` (and the pool's, and ``cost.utilization``) is exactly the busy time
    the rows hold (each request's service from its admission to its completion, or to the run's end)
    over ``replicas × duration``, and ``load_factor`` reads the same ρ. Against the offered
    ``ρ = λ E[S] / c``: the work of ``N`` Poisson arrivals of exponential size has a relative
    standard deviation of ``√(2/N)``, so they agree within ``2.576 √(2/N)`` (99 %)."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    duration = 3000.0 / (rho * replicas / es)
    r = run(tmp_path, scenario(f"u{replicas}-{rho}", replicas=replicas, router="least_outstanding",
                               rate=rho * replicas / es, duration=duration, warmup=0.0))
    busy = math.fsum(min(float(x["completion_s"]) if x["completion_s"] else duration, duration) - float(x["sched_s"])
                     for x in r.rows if x["sched_s"])
    from_rows = busy / (replicas * duration)
    u = r.summary["utilization"]
    assert u["gpu_busy"] == pytest.approx(from_rows, rel=1e-9)
    assert r.summary["pools"]["servers"]["gpu_busy"] == pytest.approx(from_rows, rel=1e-9)
    assert r.summary["cost"]["utilization"] == pytest.approx(from_rows, rel=1e-9)
    assert r.summary["gpu_hours"]["busy"] == pytest.approx(busy / 3600, rel=1e-9)
    n = len(r.rows)
    tol = 2.576 * math.sqrt(2.0 / n) * rho
    assert abs(u["gpu_busy"] - rho) <= tol, (u["gpu_busy"], rho, tol)
    assert abs(u["load_factor"] - u["gpu_busy"]) <= 0.01 * rho


def test_batching_replica_busy_is_not_rho_but_the_load_factor_is(tmp_path):
    """A replica batching up to 8 requests (a flat 10-ms iteration, exponential outputs of mean 100
    tokens: an M/M/8 of 1.005-s services) at ρ = 0.2: ``gpu_busy`` is the share of time with any
    request in it, ``1 - p_0`` of M/M/8 (0.798), as README's key table says ("busy whenever any
    request is in it"), not ρ; ``load_factor`` is ρ (served work over the batch limits). The
    iteration clock (a request waits up to 10 ms for a boundary, 1 % of a service) is the allowance."""
    es = 0.01 / (1.0 - math.exp(-0.01))
    data = scenario("batch8", rate=0.2 * 8 / es, prompt={"dist": "fixed", "value": 1}, duration=4000.0,
                    pool={"batching": {"max_num_seqs": 8, "max_batched_tokens": 200_000}})
    data["workload"]["output_tokens"] = {"dist": "exponential", "mean": 100}
    data["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
                    "per_context_token_s": 0.0}
    runs = seeds(tmp_path, data, 4)
    a = 1.6
    p0 = 1.0 / (math.fsum(a ** k / math.factorial(k) for k in range(8)) + a ** 8 / math.factorial(8) * 8 / (8 - a))
    busy = 1.0 - p0
    holds([r.summary["utilization"]["gpu_busy"] for r in runs], busy, allowance=0.01, width=0.02)
    holds([r.summary["utilization"]["load_factor"] for r in runs], 0.2, allowance=0.002, width=0.05)


# ---------------------------------------------------------------- GPU-hours and cost by hand

def test_gpu_hours_and_cost_per_token_by_hand(tmp_path):
    """Three replicas of two GPUs (``tensor_parallel: 2``) for 3,000 s at $2.50 an hour: 5 GPU-hours,
    $12.50; per million output tokens = $12.50 over the completed rows' output tokens × 10⁶ (prompts
    counted too for ``per_million_tokens``), per request over the completed rows."""
    data = scenario("money", replicas=3, rate=2.0, output=4, duration=3000.0,
                    pool={"tensor_parallel": 2})
    r = run(tmp_path, data)
    s = r.summary
    assert s["pools"]["servers"]["gpus_per_replica"] == 2
    assert s["gpu_hours"]["provisioned"] == pytest.approx(3 * 2 * 3000 / 3600, rel=1e-12)
    assert s["cost"]["compute_usd"] == pytest.approx(5.0 * PRICE, rel=1e-12)
    done = [x for x in r.rows if x["status"] == "completed"]
    out_tokens = sum(int(x["output_tokens"]) for x in done)
    in_tokens = sum(int(x["prompt_tokens"]) for x in done)
    assert out_tokens == 4 * len(done)
    assert s["cost"]["per_million_output_tokens"] == pytest.approx(12.5 / out_tokens * 1e6, rel=1e-9)
    assert s["cost"]["per_million_tokens"] == pytest.approx(12.5 / (out_tokens + in_tokens) * 1e6, rel=1e-9)
    assert s["cost"]["per_request"] == pytest.approx(12.5 / len(done), rel=1e-9)


def test_hourly_billing_rounds_each_replica_up(tmp_path):
    """``billing_granularity: hour`` rounds each provisioned interval up: 3,000 s on two replicas of
    one GPU bill 2 × 1 h = 2 GPU-hours ($5.00) while 1.667 are provisioned."""
    data = scenario("hourly", replicas=2, rate=0.5, duration=3000.0,
                    economics={"gpu_hour_usd": PRICE, "billing_granularity": "hour"})
    s = run(tmp_path, data).summary
    assert s["gpu_hours"]["provisioned"] == pytest.approx(2 * 3000 / 3600, rel=1e-12)
    assert s["cost"]["gpu_hours_billed"] == pytest.approx(2.0, rel=1e-12)
    assert s["cost"]["compute_usd"] == pytest.approx(2.0 * PRICE, rel=1e-12)


# ---------------------------------------------------------------- engines and routers agree

def _folder_bytes(folder: Path) -> dict:
    out = {}
    for f in sorted(folder.iterdir()):
        if f.name in ("summary.json", "scenario.json"):
            d = json.loads(f.read_text())
            for k in ("wall_seconds", "engine"):
                d.pop(k, None)
            out[f.name] = d
        elif f.is_file():
            out[f.name] = f.read_bytes()
    return out


def _cases() -> dict:
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    room = scenario("e-room", replicas=3, rate=2.7 / es, duration=1500.0, pool={"max_waiting": 1})
    room["workload"]["patience_s"] = 1.0
    closed = scenario("e-closed", replicas=2, router="central_queue", duration=1500.0)
    closed["workload"]["arrival"] = {"process": "closed", "concurrency": 8, "think_time_s": 2.0, "think": "exponential"}
    batch = scenario("e-batch", replicas=2, router="round_robin", rate=10.0, prompt={"dist": "exponential", "mean": 200}, duration=300.0,
                     warmup=20.0, pool={"batching": {"max_num_seqs": 8, "max_batched_tokens": 512}})
    batch["workload"]["output_tokens"] = {"dist": "exponential", "mean": 50}
    batch["perf"] = {"model": "linear", "base_s": 0.005, "per_prefill_token_s": 2e-5, "per_decode_token_s": 1e-4,
                     "per_context_token_s": 1e-7}
    return {"central-room": scenario("e-cq", replicas=4, router={"policy": "central_queue", "max_waiting": 3},
                                     rate=3.6 / es, duration=1500.0),
            "room-patience": room, "closed": closed, "batching": batch}


@pytest.mark.parametrize("case", ["central-room", "room-patience", "closed", "batching"])
def test_both_engines_write_the_same_result(tmp_path, case):
    """``--engine fast`` and ``--engine reference`` write the same folder: every file's bytes, and
    the same summary and scenario but for ``engine`` and ``wall_seconds`` (README, ``fingerprints``).
    The cases: a central queue with a room; rooms and patience behind ``least_outstanding``; a
    closed loop; batching with chunked prefill behind ``round_robin``, where the fast engine runs
    replicas ahead of the clock. (The closed loop once differed: its load factor's saturated
    measurement ran the clients, and the cache served that factor to both engines' keys unequally.)"""
    data = _cases()[case]
    fast = _folder_bytes(run(tmp_path, data, engine="fast", tag="fast").folder)
    ref = _folder_bytes(run(tmp_path, data, engine="reference", tag="ref").folder)
    assert fast.keys() == ref.keys()
    for name in fast:
        assert fast[name] == ref[name], name


def test_every_router_is_the_same_single_server(tmp_path):
    """On one replica there is nothing to choose: ``least_outstanding``, ``round_robin``, ``random``
    and ``central_queue`` write the same request rows."""
    es, _ = geometric_moments(MEAN_TOKENS, TOKEN_S)
    texts = set()
    for router in ("least_outstanding", "round_robin", "random", "central_queue"):
        r = run(tmp_path, scenario(f"one-{router}", router=router, rate=0.8 / es, duration=2000.0))
        texts.add((r.folder / "requests.csv.gz").read_bytes())
    assert len(texts) == 1
