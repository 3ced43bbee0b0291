"""Regenerate the small synthetic sample traces in this folder (the Azure samples are copies).

    python scenarios/traces/make_samples.py     # after `pip install -e .` (or with PYTHONPATH=.)

* ``burstgpt_synthetic_sample.csv``: 500 requests in the BurstGPT column layout (github.com/HPMLL/BurstGPT),
  **synthetic**, not BurstGPT data: gamma arrivals (rate 2/s, cv 2, bursty like the
  gamma fits in Wang et al., arXiv:2401.17644), lognormal lengths, models ChatGPT / GPT-4 (3:1),
  log types "Conversation log" / "API log".
* ``fleetsim_sample.csv`` and ``fleetsim_sample.jsonl``: 200 requests in our own format, with tenants
  ``chat`` and ``batch``; the two files hold the same requests.
"""
from __future__ import annotations

import csv
import pathlib

import numpy as np

from sim.workload import WorkloadConfig, generate, write_trace

HERE = pathlib.Path(__file__).resolve().parent


def requests(cfg: dict, n: int, seed: int):
    chunks = list(generate(WorkloadConfig.model_validate(cfg), 10_000.0, seed, chunk_size=n))
    c = chunks[0]
    return c.arrival_s[:n], c.prompt_tokens[:n], c.output_tokens[:n]


def main() -> None:
    t, p, o = requests({"arrival": {"process": "gamma", "rate": 2.0, "cv": 2.0},
                        "prompt_tokens": {"dist": "lognormal", "mean": 600, "cv": 1.5, "max": 16000},
                        "output_tokens": {"dist": "lognormal", "mean": 280, "cv": 1.0, "max": 4000}}, 500, 2024)
    rng = np.random.default_rng(7)
    model = np.where(rng.random(t.size) < 0.75, "ChatGPT", "GPT-4")
    log = np.where(rng.random(t.size) < 0.6, "Conversation log", "API log")
    with open(HERE / "burstgpt_synthetic_sample.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["Timestamp", "Model", "Request tokens", "Response tokens", "Total tokens", "Log Type"])
        for ti, mi, pi, oi, li in zip(np.round(t, 3), model, p, o, log):
            w.writerow([f"{ti:.3f}", mi, int(pi), int(oi), int(pi + oi), li])

    t, p, o = requests({"arrival": {"process": "poisson", "rate": 4.0},
                        "prompt_tokens": {"dist": "lognormal", "mean": 1000, "cv": 1.0, "max": 8192},
                        "output_tokens": {"dist": "lognormal", "mean": 250, "cv": 1.0, "max": 2048}}, 200, 11)
    t = np.round(t, 4)
    tenants = np.where(np.random.default_rng(3).random(t.size) < 0.7, "chat", "batch")
    write_trace(HERE / "fleetsim_sample.csv", t, p, o, tenants)
    write_trace(HERE / "fleetsim_sample.jsonl", t, p, o, tenants)


if __name__ == "__main__":
    main()
