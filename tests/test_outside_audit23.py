"""An outside validator's audit, round 23: scenarios a queueing theorist would write, run through the
command line (``fleetsim run SCENARIO --set seed=k --out DIR``, ``fleetsim plan``), the summary's keys
and ``requests.csv.gz``/``timeseries.csv`` compared with closed forms worked here from the textbook.

The servers: replicas taking one request at a time (``max_num_seqs: 1``), one output token, the
``linear`` step model with only a price per prompt token (``base_s: 0``), so a request's service is its
prompt times that price, exactly (one prefill iteration that also yields its only token). Prompts
``{dist: exponential, mean: m}`` are ``ceil(X)``, ``X ~ Exp(m)`` (docs/workload.md): a geometric number
of tokens, whose moments are exact here (``geometric_moments``); at ``m = 1000`` tokens of 1 ms the
service is an exponential of mean 1 s to within its 1-ms rounding, so M/M/1 and M/M/c closed forms
apply to within that millisecond. ``{dist: fixed}`` prompts give deterministic service (M/D/1).

Every statistical comparison runs ``R`` seeds and asks the 99 % Student-t interval of the per-seed
estimates to hold the theory (plus, where stated, a deterministic allowance such as the 1-ms
rounding) and to be narrower than a stated share of it, so that a wide interval cannot pass by
being wide. Identities (GPU-hours, cost per token, busy time from the rows, same bytes on both
engines) are checked to rounding.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats as sps

from sim.cli import main

MODEL = {"name": "llama-3-8b-128k", "n_layers": 32, "hidden": 4096, "n_heads": 32, "n_kv_heads": 8,
         "head_dim": 128, "ffn_hidden": 14336, "vocab": 128256, "max_context": 131072}
TOKEN_S = 0.001          # seconds per prompt token: 1,000-token prompts are 1-s services
MEAN_TOKENS = 1000
PRICE = 2.5              # USD per GPU-hour


# ---------------------------------------------------------------- theory, from the textbook formulas

def geometric_moments(mean_tokens: float, token_s: float) -> tuple[float, float]:
    """``E[S]``, ``E[S²]`` of ``S = token_s · ceil(X)``, ``X ~ Exp(mean_tokens)``: ``ceil(X)`` is
    geometric on 1, 2, ... with ``q = e^(-1/m)``: ``E[K] = 1 / (1 - q)``, ``E[K²] = (1 + q) / (1 - q)²``."""
    q = math.exp(-1.0 / mean_tokens)
    return token_s / (1.0 - q), token_s ** 2 * (1.0 + q) / (1.0 - q) ** 2


def pk_wait(lam: float, es: float, es2: float) -> float:
    """Pollaczek-Khinchine: the M/G/1 mean wait ``λ E[S²] / (2 (1 - ρ))``."""
    return lam * es2 / (2.0 * (1.0 - lam * es))


def erlang_b(c: int, a: float) -> float:
    """Erlang's loss formula by the recursion ``B(k) = a B(k-1) / (k + a B(k-1))``, ``B(0) = 1``."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """The M/M/c probability of waiting from Erlang B: ``C = B / (1 - ρ (1 - B))``."""
    b = erlang_b(c, a)
    return b / (1.0 - (a / c) * (1.0 - b))


def mmck_law(c: int, a: float, room: int) -> np.ndarray:
    """M/M/c/c+K: ``p_n ∝ a^n / n!`` for ``n <= c``, ``a^c / c! (a/c)^(n-c)`` above, up to ``c + K``."""
    w = [a ** n / math.factorial(n) if n <= c else a ** c / math.factorial(c) * (a / c) ** (n - c)
         for n in range(c + room + 1)]
    return np.array(w) / sum(w)


def repairman(clients: int, think_s: float, service_s: float) -> tuple[float, float]:
    """The machine-repairman model (M/M/1//N): ``N`` clients thinking an exponential ``Z``, one
    exponential server of mean ``S``. ``p_k ∝ N! / (N - k)! (S / Z)^k``; throughput
    ``X = (1 - p_0) / S``; response time ``R = N / X - Z`` (the interactive response-time law)."""
    w = [math.factorial(clients) / math.factorial(clients - k) * (service_s / think_s) ** k
         for k in range(clients + 1)]
    p0 = 1.0 / sum(w)
    x = (1.0 - p0) / service_s
    return x, clients / x - think_s


def mm1_fixed_patience(lam: float, mu: float, tau: float) -> float:
    """M/M/1+D (a client leaves once it has waited ``τ``): the offered wait has an atom ``P_0`` at 0
    and density ``λ P_0 e^(-(μ-λ)x)`` below ``τ``, ``λ P_0 e^(-(μ-λ)τ) e^(-μ(x-τ))`` above (only the
    work of those who stay is offered); the share abandoned is the mass above ``τ`` (PASTA)."""
    d = mu - lam
    below = lam * (1.0 - math.exp(-d * tau)) / d if d != 0 else lam * tau
    above = lam * math.exp(-d * tau) / mu
    p0 = 1.0 / (1.0 + below + above)
    return p0 * above


def ci99(values) -> tuple[float, float]:
    """Mean and 99 % Student-t half-width of independent replications."""
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(sps.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def holds(values, theory: float, *, allowance: float = 0.0, width: float = 0.15) -> None:
    """The 99 % interval of ``values`` holds ``theory`` (give or take ``allowance``) and its half-width
    is under ``width`` of the theory: narrow enough to have failed on a real gap."""
    mean, hw = ci99(values)
    assert abs(mean - theory) <= hw + allowance, (mean, hw, theory)
    assert hw <= width * abs(theory), (mean, hw, theory)


# ---------------------------------------------------------------- scenarios and the command line

def scenario(name: str, *, replicas: int = 1, router="least_outstanding", rate: float = 0.5,
             prompt: dict | None = None, output: int = 1, duration: float = 10_000.0, warmup: float = 200.0,
             pool: dict | None = None, **extra) -> dict:
    data = {"name": name, "seed": 1, "duration": duration, "warmup": warmup, "model": MODEL,
            "workload": {"arrival": {"process": "poisson", "rate": rate},
                         "prompt_tokens": prompt or {"dist": "exponential", "mean": MEAN_TOKENS},
                         "output_tokens": {"dist": "fixed", "value": output}},
            "fleet": {"router": router,
                      "pools": [{"name": "servers", "gpu": "h100-sxm", "replicas": replicas,
                                 "batching": {"max_num_seqs": 1, "max_batched_tokens": 200_000}, **(pool or {})}]},
            "perf": {"model": "linear", "base_s": 0.0, "per_prefill_token_s": TOKEN_S, "per_decode_token_s": 0.0,
                     "per_context_token_s": 0.0},
            "economics": {"gpu_hour_usd": PRICE}}
    data.update(extra)
    return data


class Run:
    def __init__(self, folder: Path):
        self.folder = folder
        self.summary = json.loads((folder / "summary.json").read_text())
        with open(folder / "timeseries.csv", newline="") as f:
            self.series = list(csv.DictReader(f))
        text = gzip.decompress((folder / "requests.csv.gz").read_bytes()).decode()
        self.rows = list(csv.DictReader(io.StringIO(text)))

    def measured(self) -> list[dict]:
        warmup = float(json.loads((self.folder / "scenario.json").read_text())["warmup"])
        return [r for r in self.rows if float(r["arrival_s"]) >= warmup]


def run(tmp: Path, data: dict, *, seed: int = 1, engine: str | None = None, tag: str = "") -> Run:
    """``fleetsim run SCENARIO --set seed=k --out DIR --figures none --quiet`` (exit code 0)."""
    path = tmp / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    folder = tmp / f"{data['name']}-{seed}{tag}"
    args = ["run", str(path), "--set", f"seed={seed}", "--out", str(folder), "--figures", "none", "--quiet"]
    if engine:
        args += ["--engine", engine]
    assert main(args) == 0
    return Run(folder)


def seeds(tmp: Path, data: dict, count: int) -> list[Run]:
    return [run(tmp, data, seed=k) for k in range(1, count + 1)]


def waits(r: Run) -> np.ndarray:
    return np.array([float(x["queue_s"]) for x in r.measured() if x["status"] == "completed"])


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
