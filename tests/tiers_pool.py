"""The pool the ``test_tiers_*`` files run in both tiers, and the fluid limit worked by hand.

One replica serving one request at a time; every request has 1,000 prompt tokens at 1 ms a token
and one output token, so its service is exactly 1 s and the capacity is ``mu = 1`` request/s (a
deterministic server: the curve's ``max_rps`` is 1 to the bit, so the hand numbers need no
measured input). Under ``random`` routing the fluid tier measures this one replica's curve.
"""
from __future__ import annotations

import numpy as np

from conftest import scenario
from test_queueing_theory import LONG_CONTEXT_MODEL

MU = 1.0                                   # requests/s: 1,000 tokens x 1 ms, one at a time
PRICE = 2.0                                # $/GPU-hour (conftest's scenario)


def pool(fidelity: str, arrival: dict, *, seed: int = 1, duration: float, step_s: float = 60.0,
         records: str = "all") -> dict:
    """The one-replica deterministic pool under ``arrival``, at ``fidelity`` (fluid steps of ``step_s``)."""
    sc = scenario(seed=seed, duration=duration, warmup=0, model=LONG_CONTEXT_MODEL,
                  metrics={"interval": 60.0, "records": records})
    sc["workload"] = {"arrival": arrival, "prompt_tokens": {"dist": "fixed", "value": 1000},
                      "output_tokens": {"dist": "fixed", "value": 1}}
    sc["fleet"] = {"router": "random", "pools": [{"name": "servers", "gpu": "h100-sxm", "replicas": 1,
                                                  "batching": {"max_num_seqs": 1, "max_batched_tokens": 200_000}}]}
    sc["perf"] = {"model": "linear", "base_s": 0.0, "per_prefill_token_s": 0.001, "per_decode_token_s": 0.0,
                  "per_context_token_s": 0.0}
    sc["slo"] = {"ttft_s": 5.0, "tpot_s": 0.1}
    sc["fidelity"] = fidelity
    if fidelity == "fluid":
        sc["fluid"] = {"step": step_s}
    return sc


def in_system(rec: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Requests of a request-level run in the system at each ``t``: arrived at or before it, not
    completed by then (an unfinished request's completion time is negative)."""
    done = np.sort(rec["completion_s"][rec["completion_s"] >= 0])
    return np.searchsorted(np.sort(rec["arrival_s"]), t, side="right") - np.searchsorted(done, t, side="right")


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: list[float]) -> np.ndarray:
    """Quantiles (in %) of ``values`` under ``weights`` (the inverse of the weighted CDF)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cdf = np.cumsum(w) / w.sum()
    return np.array([v[min(np.searchsorted(cdf, x / 100.0), len(v) - 1)] for x in q])
