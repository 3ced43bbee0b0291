"""``stability.in_flight_at_end``: every request in the system at the end, each once, in both tiers.

Below capacity the fluid tier's count is Little's law at the step's load, ``L = λ W``: its rows' queue
(rate x the curve's queue time) plus running (rate x the service time) is the rate times the E2E mean, its
own numbers; for the one deterministic server of ``tiers_pool`` (M/D/1, ``μ = 1``/s) at ``ρ = 0.8`` theory
reads ``L = ρ + ρ² / (2 (1 - ρ)) = 2.4``, and the request level's end counts average it over seeds.

Behind a backlog the fluid queue's served requests are those entering service (their latencies are the wait
to that instant plus the service after it), so the backlog is the requests waiting and the running ones,
a saturated replica's batch, add to it (``docs/scaling.md``, "Requests in the system at the end, above
capacity"): a replica of 256 sequences pushed to 1.5 times its capacity for 120 s ends with 3,060 +- 21 in
the system at request level (6 seeds), where the backlog alone is 2,867 (``slow``).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import sim
from conftest import curve_cache, scenario
from sim.report_text import peak_words
from tiers_pool import pool

RHO = 0.8
MD1_L = RHO + RHO ** 2 / (2 * (1 - RHO))        # M/D/1: in service plus waiting


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _run(sc: dict) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sim.run(sc).summary


def test_below_capacity_both_tiers_count_littles_law_in_the_system():
    arrival = {"process": "poisson", "rate": RHO}
    fluid = _run(pool("fluid", arrival, duration=7200.0, step_s=600.0, records="none"))
    # the fluid tier's own numbers: throughput x E2E mean, and M/D/1 theory
    little = fluid["throughput"]["requests_per_s"] * fluid["latency"]["e2e"]["mean"]
    assert fluid["stability"]["in_flight_at_end"] == round(little)
    assert little == pytest.approx(MD1_L, rel=0.1)
    assert fluid["requests"]["in_flight"] == 0                  # no backlog: nothing of it counted twice
    # its peak is the steps' largest count, an estimate, and said so
    assert fluid["stability"]["in_flight_peak_basis"] == "estimate"
    assert peak_words(fluid["stability"]).startswith(f"mean-load peak {fluid['stability']['in_flight_peak']:,} in system")
    # the request level's count at the end, one sample of the stationary queue per seed: its mean over 40
    # seeds is theory's within 3 standard errors, and so the fluid tier's
    ends = np.array([_run(pool("request", arrival, duration=1200.0, seed=s, records="none"))
                     ["stability"]["in_flight_at_end"] for s in range(1, 41)])
    se = ends.std(ddof=1) / np.sqrt(len(ends))
    assert abs(ends.mean() - MD1_L) < 3 * se
    assert abs(ends.mean() - fluid["stability"]["in_flight_at_end"]) < 3 * se + 0.5     # its count is rounded


MU = 50.0           # requests/s, about the batching replica's capacity (its curve measures 51.1)


def _batching(fidelity: str, seed: int = 1) -> dict:
    """One replica of 256 sequences (10 prompt and 50 output tokens; a ``linear`` step of 0.05 s + 0.2 ms per
    decoding sequence) at ``0.5 MU`` for 600 s, then ``1.5 MU`` for 120 s, the run ending behind the backlog."""
    sc = scenario(seed=seed, duration=720.0, warmup=0, metrics={"interval": 60.0, "records": "none"})
    sc["workload"] = {"arrival": {"process": "piecewise", "times": [0, 600], "rates": [0.5 * MU, 1.5 * MU]},
                      "prompt_tokens": {"dist": "fixed", "value": 10}, "output_tokens": {"dist": "fixed", "value": 50}}
    sc["fleet"] = {"router": "random", "pools": [{"name": "b", "gpu": "h100-sxm", "replicas": 1,
                                                  "batching": {"max_num_seqs": 256, "max_batched_tokens": 8192}}]}
    sc["perf"] = {"model": "linear", "base_s": 0.05, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0002,
                  "per_context_token_s": 0.0}
    sc["fidelity"] = fidelity
    if fidelity == "fluid":
        sc["fluid"] = {"step": 60.0}
    return sc


@pytest.mark.slow
def test_behind_a_backlog_the_running_batch_counts_once():
    fluid = _run(_batching("fluid"))
    backlog, at_end = fluid["requests"]["in_flight"], fluid["stability"]["in_flight_at_end"]
    assert at_end - backlog == 256                                   # the saturated replica's full batch
    ends = np.array([_run(_batching("request", s))["stability"]["in_flight_at_end"] for s in range(1, 7)])
    se = ends.std(ddof=1) / np.sqrt(len(ends))
    # the backlog alone is short of the request level by many standard errors; with the batch, within 5
    assert ends.mean() - backlog > 6 * se
    assert abs(ends.mean() - at_end) < 5 * se
