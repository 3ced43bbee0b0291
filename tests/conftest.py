"""Shared fixtures: small scenarios built as dicts, and a helper to write request traces."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

LINEAR = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 1e-4, "per_decode_token_s": 1e-3,
          "per_context_token_s": 0.0}


def scenario(**over) -> dict:
    """A small single-pool scenario with the linear step-time model (times easy to work by hand)."""
    base = {
        "name": "test", "seed": 3, "duration": 60, "warmup": 0,
        "model": "llama-2-7b",
        "workload": {"arrival": {"process": "poisson", "rate": 2.0},
                     "prompt_tokens": {"dist": "fixed", "value": 100},
                     "output_tokens": {"dist": "fixed", "value": 10}},
        "fleet": {"router": "least_outstanding",
                  "pools": [{"name": "main", "gpu": "a100-80gb", "replicas": 1,
                             "batching": {"max_num_seqs": 64, "max_batched_tokens": 4096}}]},
        "perf": dict(LINEAR),
        "slo": {"ttft_s": 1.0, "tpot_s": 0.05},
        "economics": {"gpu_hour_usd": 2.0},
    }
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = v
    return out


def write_trace(path: Path, rows: list[tuple[float, int, int]]) -> Path:
    """A trace in fleetsim's own CSV format (timestamp_s, prompt_tokens, output_tokens)."""
    lines = ["timestamp_s,prompt_tokens,output_tokens"] + [f"{t},{p},{o}" for t, p, o in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def trace_scenario(tmp_path):
    """Build a scenario replaying exactly the given (time, prompt, output) requests."""
    def make(rows, **over):
        trace = write_trace(tmp_path / "trace.csv", rows)
        sc = scenario(**over)
        sc["workload"] = {"arrival": {"process": "trace", "path": str(trace), "format": "fleetsim"}}
        return sc
    return make


@pytest.fixture(scope="session", autouse=True)
def _private_curve_cache(tmp_path_factory):
    """Fluid-tier capacity curves go to a per-session folder (tests never read a user's cache)."""
    import os

    old = os.environ.get("FLEETSIM_CACHE")
    os.environ["FLEETSIM_CACHE"] = str(tmp_path_factory.mktemp("fleetsim-cache"))
    yield
    if old is None:
        os.environ.pop("FLEETSIM_CACHE", None)
    else:
        os.environ["FLEETSIM_CACHE"] = old
