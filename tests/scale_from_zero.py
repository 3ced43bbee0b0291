"""Shared set-up of the tests of demand turned away for want of a replica (``no_replica``): a trace of
identical requests (100-token prompts, 4 output tokens) on one pool at ``replicas: 0`` that its
autoscaler scales up from zero, on the linear step model of exactly 0.25 s an iteration (a request
served alone takes 1 s: a prefill iteration, then three decode iterations).
"""
from __future__ import annotations

from pathlib import Path

FLAT = {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
        "per_context_token_s": 0.0}


def from_zero(tmp_path: Path, name: str, arrivals: list[float], engine: str, *, duration: float,
              max_num_seqs: int, autoscale: dict, slo: dict | None = None) -> dict:
    """The scenario: ``arrivals`` written as a trace in ``tmp_path``, one pool ``p`` (one H100, no replica
    at the start, ``autoscale`` with ``min: 0``)."""
    trace = tmp_path / f"{name}.csv"
    trace.write_text("timestamp_s,prompt_tokens,output_tokens\n" + "".join(f"{t},100,4\n" for t in arrivals))
    sc = {"name": name, "seed": 1, "duration": duration, "model": "llama-3-8b", "engine": engine,
          "workload": {"arrival": {"process": "trace", "path": str(trace)}},
          "perf": dict(FLAT),
          "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 0,
                               "batching": {"max_num_seqs": max_num_seqs},
                               "autoscale": {"min": 0, **autoscale}}]}}
    if slo is not None:
        sc["slo"] = slo
    return sc
