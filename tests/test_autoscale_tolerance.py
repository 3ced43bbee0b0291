"""The autoscaler's tolerance band (``autoscale.tolerance``), the Kubernetes HPA's.

The HPA leaves a workload at its current replicas while ``1 - tolerance <= metric / target <= 1 +
tolerance`` (``--horizontal-pod-autoscaler-tolerance``, default 0.1; Kubernetes'
``replica_calculator.go`` checks the ratio before ``ceil`` and returns the current replicas,
unready ones included). Decisions are checked here against that rule worked by hand, with the
metric scripted; and on a steady Poisson load whose ``n x metric / target`` sits near a whole
number, where the rule without the band flaps on the metric's noise.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

import sim
from sim.cli import main
from sim.scenario.schema import Autoscale
from sim.serving.autoscaler import Autoscaler

from conftest import scenario

FIXED = {"prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 10}}


def _scripted(monkeypatch, readings: list[float], after: float, **autoscale) -> list[tuple[int, int, int]]:
    """Run a 3-replica pool whose autoscaler reads ``readings`` (then ``after``) every 10 s, target 4;
    returns ``(n_serving, current, recommendation)`` at each decision."""
    script = iter(readings)
    monkeypatch.setattr(Autoscaler, "metric", lambda self, serving: next(script, after))
    seen: list[tuple[int, int, int]] = []
    real = Autoscaler.recommendation

    def spy(self):
        n = len(self.serving())
        cur = sum(1 for r in self.pool.live if not r.draining)
        want = real(self)
        seen.append((n, cur, want))
        return want

    monkeypatch.setattr(Autoscaler, "recommendation", spy)
    sc = scenario(duration=200, workload={"arrival": {"process": "poisson", "rate": 2.0}, **FIXED})
    sc["fleet"]["pools"][0]["replicas"] = 3
    sc["fleet"]["pools"][0]["autoscale"] = {"metric": "queue", "target": 4, "interval": 10, "min": 1, "max": 8,
                                            "scale_up_delay": 0, "cooldown": 0, **autoscale}
    sim.run(sc)
    return seen


READINGS = [4.4, 4.5, 3.6, 3.5, 2.8, 0.4]


def test_the_band_leaves_the_pool_as_it_is_on_the_ratio_before_ceil(monkeypatch):
    seen = _scripted(monkeypatch, READINGS, after=4.0)
    # target 4, tolerance 0.1, by hand:
    #  3 replicas, 4.4: ratio 1.1, inside (bounds included)   -> 3  (ceil(3 x 1.1) = 4 without the band)
    #  3, 4.5: ratio 1.125, outside                            -> ceil(3.375) = 4
    #  4, 3.6: ratio 0.9, inside                               -> 4
    #  4, 3.5: ratio 0.875, outside                            -> ceil(3.5) = 4
    #  4, 2.8: ratio 0.7                                       -> ceil(2.8) = 3
    #  3, 0.4: ratio 0.1                                       -> ceil(0.3) = 1
    #  then 4.0, ratio 1: stays at 1
    assert [w for _, _, w in seen[:7]] == [3, 4, 4, 4, 3, 1, 1]
    assert [n for n, _, _ in seen[:7]] == [3, 3, 4, 4, 4, 3, 1]


def test_tolerance_zero_is_the_rule_without_the_band(monkeypatch):
    seen = _scripted(monkeypatch, READINGS, after=4.0, tolerance=0)
    # every decision is ceil(n x m / 4), clamped to [1, 8] (by hand: 4, 5, 5, 5, 4, 1)
    assert [w for _, _, w in seen[:6]] == [4, 5, 5, 5, 4, 1]
    for (n, _, want), m in zip(seen, READINGS + [4.0] * len(seen)):
        assert want == min(max(math.ceil(n * m / 4 - 1e-9), 1), 8)


def test_inside_the_band_the_warming_replicas_are_kept(monkeypatch):
    # 3 serving; 6.0 (ratio 1.5) asks ceil(4.5) = 5: two replicas provisioned, warming 100 s.
    # Then 4.2 (ratio 1.05): the HPA returns its current replicas (5, the warming ones counted),
    # where ceil(3 serving x 1.05) = 4 would take one of the warming replicas back at once. Without
    # the band too: a scale-up reading with replicas starting is re-read with them at 0,
    # 1.05 x 3 / 5 = 0.63, below 1 (the direction would flip), so the HPA keeps 5.
    with_band = _scripted(monkeypatch, [6.0, 4.2], after=4.0, scale_up_delay=100)
    without = _scripted(monkeypatch, [6.0, 4.2], after=4.0, scale_up_delay=100, tolerance=0)
    assert with_band[:2] == [(3, 3, 5), (3, 5, 5)]
    assert without[:2] == [(3, 3, 5), (3, 5, 5)]


def test_the_default_is_the_hpas_and_a_negative_tolerance_is_refused(tmp_path: Path, capsys):
    assert Autoscale().tolerance == 0.1
    sc = scenario(duration=60)
    sc["fleet"]["pools"][0]["autoscale"] = {"max": 4, "tolerance": -0.1}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "fleet.pools.0.autoscale.tolerance" in err and "tolerance: must be >= 0 (got -0.1)" in err and "Traceback" not in err


# ------------------------------------------------------------------ a steady load at a ceil boundary
def _steady(tolerance: float, seed: int = 1) -> tuple[dict, list[tuple[int, float]]]:
    """Llama-3-8B on H100s (16 sequences a batch), 11.5 requests/s of 500 + 100 tokens for 30 min:
    one replica reads a load factor ~0.68 against a target of 0.7, so ``n x metric / target`` is
    ~0.97 +- 0.04 at one replica; returns the autoscale summary and ``(n_serving, ratio)`` per decision."""
    readings: list[tuple[int, float]] = []
    real = Autoscaler.metric

    def spy(self, serving):
        m = real(self, serving)
        readings.append((len(serving), m / self.cfg.target))
        return m

    sc = {"name": "steady", "seed": seed, "duration": "30m", "warmup": 0, "model": "llama-3-8b",
          "workload": {"arrival": {"process": "poisson", "rate": 11.5},
                       "prompt_tokens": {"dist": "fixed", "value": 500},
                       "output_tokens": {"dist": "fixed", "value": 100}},
          "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 2, "batching": {"max_num_seqs": 16},
                               "autoscale": {"target": 0.7, "interval": "1m", "min": 1, "max": 16,
                                             "scale_up_delay": 60, "tolerance": tolerance}}]},
          "perf": {"model": "roofline"}, "economics": {"gpu_hour_usd": 2.0}}
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(Autoscaler, "metric", spy)
        res = sim.run(sc)
    finally:
        mp.undo()
    return res.summary["autoscale"]["main"], readings


def test_a_steady_load_at_a_ceil_boundary_flaps_without_the_band_and_settles_with_it():
    flap, r0 = _steady(0.0)
    calm, r1 = _steady(0.1)
    # the metric's noise at one replica straddles 1: without the band every reading above 1 adds a
    # replica (ceil), and the stabilization window takes it back 5 min later
    at_one = [x for n, x in r0 if n == 1]
    assert min(at_one) < 1.0 < max(at_one) < 1.1
    assert flap["scale_ups"] >= 2 and flap["scale_downs"] >= flap["scale_ups"]
    # with the band, a reading at one replica asks for more only beyond 1.1: none does, so the pool
    # leaves its start of 2 once (2 x ~0.5 is outside the band) and stays at 1
    assert all(x <= 1.1 for n, x in r1 if n == 1)
    assert calm == {**calm, "scale_ups": 0, "scale_downs": 1, "replicas_drained": 1}
