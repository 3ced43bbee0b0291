"""Shared pieces of the ``test_admission_*`` files: a textbook queue written as a scenario file and run
through the command line, and the birth-death chains whose stationary laws are the theory.

The pool is the one of ``theory_round18_pool``: replicas serving one request at a time
(``max_num_seqs: 1``), one output token, the linear step model at 1 ms a prompt token and nothing
else, so a request's service is exactly its prompt in milliseconds. Exponential prompts of mean 1,000
tokens are ``ceil(X)``, a geometric service on the 1 ms grid of mean ``S = 0.001 / (1 - e^(-1/1000))``
= 1.0005 s (squared coefficient of variation 0.9995): the exponential service of rate ``1 / S``.
"""
from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from sim.cli import main
from theory_round18_pool import one_at_a_time, read_csv, write

S = 0.001 / (1.0 - math.exp(-1.0 / 1000.0))
EXP_PROMPT = {"dist": "exponential", "mean": 1000, "max": 100_000}


def queue(name: str, *, c: int, lam: float, duration: float, warmup: float, router: str = "round_robin",
          **extra) -> dict:
    """``c`` replicas, Poisson arrivals at ``lam``, exponential service of mean ``S``."""
    return one_at_a_time(name, replicas=c, router=router, arrival={"process": "poisson", "rate": lam},
                         prompt=EXP_PROMPT, duration=duration, warmup=warmup, **extra)


def batching_overload(name: str, *, c: int, duration: float, router: str) -> dict:
    """:func:`queue`'s ``c`` replicas under real batching (the default vLLM V1 scheduler, 8 sequences,
    2,048 tokens per step), overloaded: 12 req/s a replica, exponential outputs of mean 50 tokens and a
    linear step model (10 ms + 0.1 ms a prompt token + 2 ms a decoding sequence). The scenario the
    engines' same-bytes checks of waiting rooms and patience run."""
    data = queue(name, c=c, lam=12.0 * c, duration=duration, warmup=0.0, router=router)
    data["fleet"]["pools"][0]["batching"] = {"max_num_seqs": 8, "max_batched_tokens": 2048}
    data["workload"]["output_tokens"] = {"dist": "exponential", "mean": 50, "max": 400}
    data["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 1e-4, "per_decode_token_s": 2e-3,
                    "per_context_token_s": 0.0}
    return data


def run_rows(tmp: Path, data: dict, seed: int, engine: str = "fast") -> list[dict]:
    """``fleetsim run`` of ``data`` at ``seed``; the rows of its ``requests.csv.gz``."""
    out = tmp / f"{data['name']}-{engine}-{seed}"
    args = ["run", str(write(tmp, data)), "--set", f"seed={seed}", "--engine", engine, "--out", str(out),
            "--figures", "none", "--quiet"]
    assert main(args) == 0
    path = out / "requests.csv"
    path.write_bytes(gzip.decompress((out / "requests.csv.gz").read_bytes()))
    return read_csv(path)


def after_warmup(rows: list[dict], warmup: float) -> list[dict]:
    """The rows of requests that arrived after the warm-up and whose outcome is known."""
    return [r for r in rows if float(r["arrival_s"]) >= warmup and r["status"] != "in_flight"]


def shares_and_waits(tmp: Path, data: dict, reason: str, seeds: int, warmup: float,
                     check=None) -> tuple[list[float], list[float]]:
    """Per seed ``1..seeds``: the share of the requests (after ``warmup``) turned away for ``reason`` (the
    only reason allowed) and the mean queue time of those completed; ``check(rows)`` asserts more of each run."""
    shares, waits = [], []
    for seed in range(1, seeds + 1):
        rows = after_warmup(run_rows(tmp, data, seed), warmup)
        done = [r for r in rows if r["status"] == "completed"]
        assert {r["reason"] for r in rows if r["status"] == "rejected"} <= {reason}
        if check is not None:
            check(rows)
        shares.append(sum(r["reason"] == reason for r in rows) / len(rows))
        waits.append(sum(float(r["queue_s"]) for r in done) / len(done))
    return shares, waits


def birth_death(birth, death, n: int) -> np.ndarray:
    """Stationary law of a birth-death chain on ``0..n`` with rates ``birth(k)`` (k -> k+1) and
    ``death(k)`` (k -> k-1), by detailed balance."""
    p = np.ones(n + 1)
    for k in range(1, n + 1):
        p[k] = p[k - 1] * birth(k - 1) / death(k)
    return p / p.sum()


def served_and_wait(p: np.ndarray, c: int, mu: float, theta: float, states: int) -> tuple[float, float]:
    """``(P(served), E[wait; served])`` of a tagged arrival to an M/M/c+M queue whose number in system
    it finds is ``k`` with probability ``p[k]`` for ``k < states``: with ``j = k - c + 1`` ahead of it
    (``k >= c``) it moves up at ``c mu + i theta`` (``i = j - 1 .. 0``) and gives up at ``theta``."""
    served = wait = 0.0
    for k in range(states):
        if k < c:
            served += p[k]
            continue
        a = np.array([c * mu + i * theta for i in range(k - c + 1)])
        ps = float(np.prod(a / (a + theta)))
        served += p[k] * ps
        wait += p[k] * ps * float(np.sum(1.0 / (a + theta)))
    return served, wait
