"""The pool of the ``test_theory_round18_*`` files, written as a scenario file and run through the
command line as an outside validator would.

Replicas that serve one request at a time (``max_num_seqs: 1``), one output token, the linear step
model at 1 ms a prompt token with nothing else (``base_s: 0``): a request's service is exactly its
prompt in milliseconds, so the fleet is a textbook queue. The model is Llama-3-8B's architecture with
a 128k context, so that no long prompt is refused.
"""
from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import yaml
from scipy import stats as sps

from sim.cli import main

LONG_CONTEXT_MODEL = {"name": "llama-3-8b-128k", "n_layers": 32, "hidden": 4096, "n_heads": 32, "n_kv_heads": 8,
                      "head_dim": 128, "ffn_hidden": 14336, "vocab": 128256, "max_context": 131072}
TOKEN_S = 0.001


def one_at_a_time(name: str, *, replicas: int, router: str, arrival: dict, prompt: dict, duration: float,
                  warmup: float, **extra) -> dict:
    data = {"name": name, "seed": 1, "duration": duration, "warmup": warmup, "model": LONG_CONTEXT_MODEL,
            "workload": {"arrival": arrival, "prompt_tokens": prompt, "output_tokens": {"dist": "fixed", "value": 1}},
            "fleet": {"router": router,
                      "pools": [{"name": "servers", "gpu": "h100-sxm", "replicas": replicas,
                                 "batching": {"max_num_seqs": 1, "max_batched_tokens": 200_000}}]},
            "perf": {"model": "linear", "base_s": 0.0, "per_prefill_token_s": TOKEN_S, "per_decode_token_s": 0.0,
                     "per_context_token_s": 0.0},
            "economics": {"gpu_hour_usd": 2.0}}
    data.update(extra)
    return data


def write(tmp: Path, data: dict) -> Path:
    path = tmp / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def sweep_rows(tmp: Path, data: dict, *, seeds: int, grid: str, sets: tuple[str, ...] = ()) -> list[dict]:
    """``fleetsim sweep SCENARIO --seeds N --grid GRID`` (serial, no figures); the rows of ``sweep.csv``,
    one per run, each checked to have run without error, ``seeds`` of them per configuration."""
    out = tmp / "sweep"
    args = ["sweep", str(write(tmp, data)), "--seeds", str(seeds), "--grid", grid, "--executor", "serial",
            "--out", str(out), "--quiet", "--no-figures"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    rows = read_csv(out / "sweep.csv")
    assert all(not r["error"] for r in rows)
    assert rows and len(rows) % seeds == 0
    return rows


def ci99(values) -> tuple[float, float]:
    """Mean and half-width of the 99 % Student-t interval of i.i.d. replications."""
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(sps.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def both_engines_write_the_same_requests(tmp: Path, data: dict, *sets: str) -> int:
    """``fleetsim run`` on the fast and the reference engine; their ``requests.csv.gz`` must be the same
    bytes. Returns the number of request rows."""
    path = write(tmp, data)
    for engine in ("fast", "reference"):
        args = ["run", str(path), "--engine", engine, "--out", str(tmp / engine), "--figures", "none", "--quiet"]
        for s in sets:
            args += ["--set", s]
        assert main(args) == 0
    fast, ref = ((tmp / e / "requests.csv.gz").read_bytes() for e in ("fast", "reference"))
    assert fast == ref
    return gzip.decompress(fast).count(b"\n") - 1
