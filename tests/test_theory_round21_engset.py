"""Finite-source loss: closed-loop clients on servers with no waiting room (the Engset system),
through the command line: the share of requests refused (call congestion) is not the share of time
every server is busy (time congestion), and both are Engset's.

``N`` clients (``arrival: {process: closed, concurrency: N, think: exponential, think_time_s: Z}``)
on ``c`` replicas serving one request at a time behind ``central_queue`` with
``fleet.router.max_waiting: 0``: a request finding every replica busy is refused at once, and its
client (freed at that instant) thinks again. Round 18's M/M/c//N row checks the same clients with
an unbounded queue; the Erlang B rows an infinite (Poisson) source.

Theory (``theory_round21_pool.engset``; Engset 1918, Cooper, Introduction to Queueing Theory §3.4):
the number busy has the truncated binomial law ``p_n ∝ C(N, n) β^n``, ``β = S / Z`` (time
congestion ``p_c``); an arriving request sees the other ``N - 1`` clients' system (the arrival
theorem), so the share refused is the same law for ``N - 1``. The law does not depend on the
service time's distribution beyond its mean: exponential prompts of mean 1,000 tokens (geometric,
``S`` = 1.0005 s) and fixed ones (1,000 tokens, ``S`` = 1 s) alike. Checked first against Erlang B
(infinitely many sources at a fixed offered load) and against the carried load balance
``μ E[n] = γ (N - E[n]) (1 - call)``.

Ten seeds of 2,000 s after a 200-s warm-up (6 clients on 2 replicas, ``β`` = 0.4): the share
refused from ``requests.csv.gz`` and ``summary.json`` (``requests.refused_share``); the time
congestion and the mean number busy from ``timeseries.csv`` sampled each second; the completed
requests per second. The 99 % Student-t interval must contain the theory and be narrower than a
tenth of it, and the refused share's interval must exclude the time congestion. (Runs of 10,000 s gave
intervals of at most 0.19 of that tenth; at 2,000 s, sqrt(9,800 / 1,800) = 2.3 times fewer measured
seconds, at most 0.24 of it, and the refused share's half-width, 0.008, keeps it 8 half-widths from the
time congestion: an error of 10 % in any quantity, let alone 2x, falls outside its interval.)
"""
from __future__ import annotations

import pytest

from admission_pool import EXP_PROMPT, S, birth_death
from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time
from theory_round19_pool import in_system, run_seeds
from theory_round21_pool import engset

R = 10
DURATION, WARMUP = 2_000.0, 200.0
N, C, BETA = 6, 2, 0.4
PROMPTS = {"exponential": (EXP_PROMPT, S), "fixed": ({"dist": "fixed", "value": 1000}, 1.0)}


def scenario(name: str, prompt: dict, service: float, duration: float, warmup: float) -> dict:
    arrival = {"process": "closed", "concurrency": N, "think": "exponential", "think_time_s": service / BETA}
    data = one_at_a_time(name, replicas=C, router="central_queue", arrival=arrival, prompt=prompt,
                         duration=duration, warmup=warmup, metrics={"interval": 1.0})
    data["fleet"]["router"] = {"policy": "central_queue", "max_waiting": 0}
    return data


def test_engset_tends_to_erlang_b_and_balances_the_carried_load():
    for c, a in ((2, 1.5), (3, 2.0)):
        b = birth_death(lambda k: a, lambda k: float(k), c)[c]
        for law in ("time", "call"):
            assert engset(100_000, c, a / 100_000)[law] == pytest.approx(b, rel=1e-4)
    for sources, servers, beta in ((6, 2, 0.4), (10, 3, 0.3), (4, 3, 1.5)):
        got = engset(sources, servers, beta)
        assert got["busy"] == pytest.approx(beta * (sources - got["busy"]) * (1.0 - got["call"]), rel=1e-12)
        assert got["call"] < got["time"]                  # an arrival's own source is never among the busy
    assert engset(6, 2, 0.4)["time"] == pytest.approx(0.4137931, rel=1e-6)   # 15 × 0.16 / (1 + 2.4 + 2.4)


@pytest.mark.parametrize("law", ["exponential", "fixed"])
def test_refused_share_is_call_congestion_and_busy_time_is_time_congestion(tmp_path, law):
    """6 clients on 2, β 0.4: refused 0.348 (call), all busy 0.414 of the time, 1.241 busy."""
    prompt, service = PROMPTS[law]
    theory = engset(N, C, BETA)
    theory["summary call"] = theory["call"]
    theory["throughput"] = theory["busy"] / service
    got = {k: [] for k in ("call", "summary call", "time", "busy", "throughput")}
    for run in run_seeds(tmp_path, scenario(f"engset-{law}", prompt, service, DURATION, WARMUP), R):
        rows = [r for r in run.requests if float(r["arrival_s"]) >= WARMUP]
        assert {r["reason"] for r in rows if r["status"] == "rejected"} == {"queue_full"}
        assert all(float(r["queue_s"]) == 0.0 for r in rows if r["status"] == "completed")
        got["call"].append(sum(r["status"] == "rejected" for r in rows) / len(rows))
        got["summary call"].append(run.summary["requests"]["refused_share"])
        busy = in_system(run, after=WARMUP)
        assert busy.max() <= C
        got["time"].append(float((busy == C).mean()))
        got["busy"].append(float(busy.mean()))
        done = sum(r["status"] == "completed" and float(r["completion_s"]) <= DURATION for r in rows)
        got["throughput"].append(done / (DURATION - WARMUP))
    for what, values in got.items():
        m, half = ci99(values)
        print(f"table: engset {law} {what}: {m:.4f} ± {half:.4f} [{theory[what]:.4f}]")
        assert abs(m - theory[what]) <= half < 0.1 * theory[what], (what, m, half, theory[what])
    m, half = ci99(got["call"])
    assert abs(m - theory["time"]) > 3 * half


def test_fast_and_reference_engines_refuse_the_same_clients(tmp_path):
    prompt, service = PROMPTS["exponential"]
    assert both_engines_write_the_same_requests(tmp_path, scenario("engset-engines", prompt, service, 1500.0, 0.0)) > 1500
