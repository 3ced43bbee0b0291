"""The served mix's token means the fluid tier's capacity curve is measured with (:func:`sim.fluid.capacity.length_stats`)
are a sample of :data:`~sim.fluid.capacity.LENGTH_SAMPLE` requests, not a closed form: the served mix applies a pool's
admission rules (context, token budget, KV cache) to the joint lengths of every class, trace rows included, which no
distribution's mean gives. The sample size is held to what its docstring claims, a 0.1 % standard error of the
mean for exponential lengths, against the exact mean of the lengths the generator draws."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from sim.fluid.capacity import LENGTH_SAMPLE, length_stats, pool_template
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _ceil_exponential(mean: float) -> tuple[float, float]:
    """Mean and standard deviation of ``ceil(mean * E)``, ``E`` a unit exponential (what ``dist: exponential`` draws):
    a geometric count on 1, 2, ... with ``P(> k) = exp(-k / mean)``, so mean ``1 / q``, variance ``(1 - q) / q**2``,
    ``q = 1 - exp(-1 / mean)``."""
    q = -math.expm1(-1.0 / mean)
    return 1.0 / q, math.sqrt(1.0 - q) / q


@pytest.mark.slow
def test_a_million_exponential_lengths_give_their_mean_within_a_tenth_of_a_percent():
    loaded = load_scenario(ROOT / "scenarios" / "baseline.yaml",
                           ["workload.prompt_tokens={dist: exponential, mean: 400}",
                            "workload.output_tokens={dist: exponential, mean: 100}",
                            "fleet.pools.0.batching.max_batched_tokens=65536"])
    stats = length_stats(pool_template(loaded.scenario, 0, loaded.base_dir), loaded.base_dir)
    n = stats["n"]      # (the arrivals of a Poisson process at 1,000/s over LENGTH_SAMPLE / 1,000 s)
    assert LENGTH_SAMPLE == 1_000_000 and abs(n - LENGTH_SAMPLE) < 5 * math.sqrt(LENGTH_SAMPLE)
    # (refusals and outputs cut at the context are rare here: a prompt over the 8,192-token context is exp(-20) of
    # them; the means are of the requests served, so those few move them by far less than the tolerance)
    assert stats["reject_share"] < 1e-5
    for key, mean in (("prompt_tokens_mean", 400.0), ("output_tokens_mean", 100.0)):
        exact, sd = _ceil_exponential(mean)
        se = sd / math.sqrt(n)
        assert se / exact < 0.001                               # the claim: a 0.1 % standard error
        assert abs(stats[key] - exact) < 4 * se, (key, stats[key], exact, se)
