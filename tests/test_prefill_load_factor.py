"""A disaggregated prefill pool's load factor against hand-worked arithmetic.

A linear step model (``step = 0.02 s + 0.5 ms x prompt tokens`` for a prefill iteration), fixed
2,000-token prompts and a 8,192-token budget: the closed form prefills ``k = 8192 // 2000 = 4``
prompts an iteration, so a prompt costs ``(0.02 + 0.0005 x 4 x 2000) / 4 = 1.005`` replica-seconds
and four prefill replicas run at most ``4 / 1.005 = 3.98`` prompts/s. At 2 requests/s they are at
about half that: load factor ``2 x 1.005 / 4 = 0.5025`` within the Poisson error of the arrivals.
"""
from __future__ import annotations

import math

import pytest

import sim
from sim.serving import autoscaler as autoscaler_mod

PROMPT_S = (0.02 + 0.0005 * 4 * 2000) / 4          # 1.005 s of replica time per prompt
RATE, PREFILL_REPLICAS, DURATION_S = 2.0, 4, 1800.0


def _scenario(autoscale: bool = False) -> dict:
    def scale(n: int) -> dict:
        return {"autoscale": {"metric": "load_factor", "target": 0.5, "min": n, "max": n, "interval": 60}} if autoscale else {}
    return {"name": "prefill-lf", "seed": 3, "duration": DURATION_S, "warmup": 0, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "poisson", "rate": RATE},
                         "prompt_tokens": {"dist": "fixed", "value": 2000},
                         "output_tokens": {"dist": "fixed", "value": 10}},
            "fleet": {"pools": [
                {"name": "prefill", "gpu": "h100-sxm", "replicas": PREFILL_REPLICAS,
                 "batching": {"max_num_seqs": 64, "max_batched_tokens": 8192}, **scale(PREFILL_REPLICAS)},
                {"name": "decode", "gpu": "h100-sxm", "replicas": 2,
                 "batching": {"max_num_seqs": 64, "max_batched_tokens": 8192}, **scale(2)}],
                "disaggregated": {"prefill_pool": "prefill", "decode_pool": "decode", "link_gbps": 400}},
            "perf": {"model": "linear", "base_s": 0.02, "per_prefill_token_s": 0.0005, "per_decode_token_s": 0.0001},
            "metrics": {"records": "none"}}


def test_a_prefill_pool_reads_its_prompts_work_over_its_capacity():
    from sim.scenario.load import scenario_from_dict

    res = sim.run(scenario_from_dict(_scenario()))
    s = res.summary
    lf = s["pools"]["prefill"]["load_factor"]
    # the definition: prompts it ran x their hand-worked cost / its replica-seconds (every prompt
    # that reached its first token was handed off: one output token never completes on it)
    prompts = s["disaggregation"]["transfers"]
    assert lf == pytest.approx(prompts * PROMPT_S / (PREFILL_REPLICAS * DURATION_S), rel=1e-12)
    # and what it reads at this arrival rate: rate x seconds / replicas, within 4 sigma of the
    # Poisson count of arrivals (sqrt(3600) = 60: 1.7 %)
    expected = RATE * PROMPT_S / PREFILL_REPLICAS
    assert lf == pytest.approx(expected, rel=4.0 / math.sqrt(RATE * DURATION_S))
    assert s["pools"]["prefill"]["mbu"] > 0.0        # its bytes: the prefill's, at the prompts it ran


def test_the_autoscaler_reads_each_role_s_load_factor(monkeypatch):
    """The autoscaler's ``load_factor`` (tokens its replicas processed over an interval) reads what
    the summary does for both roles: a prefill pool's tokens are its prompts, a decode pool's its
    decode tokens (9 a request here, against 2,010 prompt and output tokens: counted as a whole
    request's, the decode pool read 0.4 % of its load). Pools pinned at their size (min = max)."""
    from sim.scenario.load import scenario_from_dict

    seen: dict[str, list[float]] = {"prefill": [], "decode": []}
    real = autoscaler_mod.Autoscaler._load_factor

    def record(self, t):
        v = real(self, t)
        seen[self.pool.name].append(v)
        return v

    monkeypatch.setattr(autoscaler_mod.Autoscaler, "_load_factor", record)
    s = sim.run(scenario_from_dict(_scenario(autoscale=True))).summary
    for name in ("prefill", "decode"):
        readings = seen[name]
        assert len(readings) == DURATION_S // 60 - 1      # every minute before the end
        # each interval's reading is over its own 60 s; their mean is the run's to a few per cent
        assert sum(readings) / len(readings) == pytest.approx(s["pools"][name]["load_factor"], rel=0.05)
    assert sum(seen["prefill"]) / len(seen["prefill"]) == pytest.approx(RATE * PROMPT_S / PREFILL_REPLICAS, rel=0.08)
