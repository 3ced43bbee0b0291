"""What the ``test_outside_audit23_*`` files share: an outside validator's audit, round 23, of
scenarios a queueing theorist would write, run through the command line (``fleetsim run SCENARIO
--set seed=k --out DIR``), the summary's keys and ``requests.csv.gz``/``timeseries.csv`` read back,
and the closed forms, worked here from the textbook, they are compared with.

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
