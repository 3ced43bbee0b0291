"""One load factor for a saturated replica, whichever tier runs it.

The M/M/1 pool of ``test_queueing_theory`` (one replica serving one request at a time, ``ceil(X)``
prompt tokens with ``X ~ Exp(1000)`` at 1 ms a token, one output token): its capacity is known in
closed form, ``mu = (1 - e^{-1/1000}) / 0.001 = 0.9995`` requests/s, and a request costs the
closed form ``s`` exactly (linear in its tokens, batch of one: scheduler factor 1). Offered twice
``mu``, the replica never idles, so its load factor is 1 at request level (served work over
replica time), and in the fluid tier, where a saturated replica serves ``max_rps`` a second, it is
``max_rps x s``: 1 only if the curve's ``max_rps`` is the capacity the load factor prices.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

import sim
import sim.api
from sim.api import build_pools
from sim.fluid.autoscale import saturated_metric
from sim.fluid.capacity import capacity_curve
from sim.metrics.utilization import pool_seconds_per_request
from sim.scenario.load import scenario_from_dict

from test_queueing_theory import _queue_scenario

ROOT = Path(__file__).resolve().parents[1]
MU = (1.0 - math.exp(-1.0 / 1000.0)) / 0.001
DURATION = 7200.0


def _mm1(fidelity: str, rho: float) -> dict:
    sc = _queue_scenario(c=1, lam=rho * MU, prompt={"dist": "exponential", "mean": 1000, "max": 100_000}, seed=1,
                         duration=DURATION, warmup=0.0)
    sc["fidelity"] = fidelity
    sc["metrics"] = {"interval": 60.0, "records": "none"}
    return sc


def test_a_saturated_mm1_replica_reads_one_at_request_level():
    lf = sim.run(_mm1("request", 2.0)).summary["utilization"]["load_factor"]
    assert lf == pytest.approx(1.0, abs=0.003)


def test_a_saturated_mm1_replica_reads_one_in_the_fluid_tier(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path))
    sc = _mm1("fluid", 2.0)
    lf = sim.run(sc).summary["utilization"]["load_factor"]
    loaded = scenario_from_dict(sc)
    pool = build_pools(loaded, scheduler_factors=True)[0]
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir)
    s_each = pool_seconds_per_request(pool, curve.prompt_tokens_mean, curve.output_tokens_mean)
    assert pool.scheduler_factor == pytest.approx(1.0, abs=0.001)
    assert curve.max_rps == pytest.approx(MU, rel=0.005)              # the capacity, from theory
    assert s_each == pytest.approx(1.0 / MU, rel=0.001)               # what the load factor prices a request at
    # the autoscaler's saturated reading and the summary's are the same product
    assert saturated_metric("load_factor", curve, s_each) == curve.max_rps * s_each
    assert lf == pytest.approx(curve.max_rps * s_each, rel=1e-9)
    assert lf == pytest.approx(1.0, abs=0.005)


@pytest.mark.slow
def test_the_partner_pools_saturated_replica_reads_one_in_the_fluid_tier(tmp_path, monkeypatch):
    """A batching pool (Llama-3-70B on 8 A100s, 256 sequences, a group of four behind least outstanding):
    a 40,000-second saturated run completes 4.813 requests per replica-second (one replica: 4.825),
    the closed form times the scheduler factor prices a request at 1 / 4.817 s; the curve's
    ``max_rps`` read 4.671 (``max_rps x s`` = 0.970) over 3,000 completions after five turnovers."""
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path))
    loaded = sim.api.load_scenario(str(ROOT / "scenarios" / "provider_partner_derived.yaml"))
    pool = build_pools(loaded, scheduler_factors=True)[0]
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir)
    s_each = pool_seconds_per_request(pool, curve.prompt_tokens_mean, curve.output_tokens_mean)
    assert 1.0 / s_each == pytest.approx(4.813, rel=0.005)
    assert curve.max_rps == pytest.approx(4.813, rel=0.01)
    assert curve.max_rps * s_each == pytest.approx(1.0, abs=0.01)
