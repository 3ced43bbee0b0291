"""``autoscale.tolerance`` settings that hold a pool in one direction at any load, and bad values.

The band ``1 - tolerance <= metric / target <= 1 + tolerance`` (Kubernetes' ``replica_calculator.go``)
holds every reading down to 0 once ``tolerance >= 1``: the pool never shrinks, not even with no load.
On a metric that reads at most 1 (``utilization``, ``kv``), a target with ``target x (1 + tolerance) >= 1``
puts ``1 / target``, the largest ratio, inside the band: the pool never grows (the default 0.1 does
that to any target above 1 / 1.1 = 0.909, which grew before the band existed). Both are legal and
warned about, naming the field; the runs below check that the warnings say what the runs do.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

import sim
from sim.cli import main
from sim.errors import ScenarioWarning

from conftest import scenario


def _run(autoscale: dict, rate: float, replicas: int) -> tuple[dict, list[str]]:
    sc = scenario(duration=120, workload={"arrival": {"process": "poisson", "rate": rate},
                                          "prompt_tokens": {"dist": "fixed", "value": 100},
                                          "output_tokens": {"dist": "fixed", "value": 10}})
    sc["fleet"]["pools"][0]["replicas"] = replicas
    sc["fleet"]["pools"][0]["autoscale"] = {"interval": 10, "min": 1, "max": 4, "scale_up_delay": 0,
                                            "cooldown": 0, **autoscale}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sim.run(sc)
    said = [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)
            and "autoscale.tolerance" in str(w.message)]
    return res.summary["autoscale"]["main"], said


def test_a_tolerance_of_one_or_more_never_shrinks_the_pool_and_is_warned_about():
    # 4 replicas, 2 short requests a second: a load factor of a few per cent, far below 0.7
    shrinks, quiet = _run({"target": 0.7}, rate=2.0, replicas=4)
    assert shrinks["scale_downs"] >= 1 and shrinks["replicas_drained"] == 3 and quiet == []
    for tol in (1.0, 2.5):
        held, said = _run({"target": 0.7, "tolerance": tol}, rate=2.0, replicas=4)
        assert held["scale_downs"] == 0 and held["replicas_drained"] == 0
        assert len(said) == 1 and said[0].startswith("fleet.pools.0.autoscale.tolerance: ")
        assert "keeps the pool from ever shrinking" in said[0]


def test_a_bounded_metric_whose_target_sits_inside_the_band_never_grows_and_is_warned_about():
    # one replica busy all the time (utilization reads 1, its ceiling): against a target of 0.95
    # the ratio is 1 / 0.95 = 1.053: ceil(1.053) = 2 without the band, inside a band of 0.1
    grows, quiet = _run({"metric": "utilization", "target": 0.95, "tolerance": 0}, rate=40.0, replicas=1)
    held, said = _run({"metric": "utilization", "target": 0.95}, rate=40.0, replicas=1)
    assert grows["scale_ups"] >= 1 and quiet == []
    assert held["scale_ups"] == 0
    assert len(said) == 1 and "metric / target is at most 1.053" in said[0] and "never grows" in said[0]
    # a target below 1 / 1.1 = 0.909 reads 1.1 at saturation: beyond the band, so it grows, unwarned
    grows, quiet = _run({"metric": "utilization", "target": 0.9}, rate=40.0, replicas=1)
    assert grows["scale_ups"] >= 1 and quiet == []


@pytest.mark.parametrize("value, says", [
    ("abc", "must be a number (got 'abc')"),
    (float("nan"), "must be a finite number (got nan)"),
    (float("inf"), "must be a finite number (got inf)"),
    (True, "must be a number, not true"),
    ([0.1], "must be a number (got [0.1])"),
])
def test_a_tolerance_that_is_not_a_finite_number_is_refused_naming_the_field(tmp_path: Path, capsys, value, says):
    sc = scenario(duration=600)
    sc["fleet"]["pools"][0]["autoscale"] = {"max": 4, "tolerance": value}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"fleet.pools.0.autoscale.tolerance: {says}" in err and "Traceback" not in err


def test_a_reading_inside_the_band_renews_the_current_count_in_the_stabilization_window(monkeypatch):
    # The HPA records its recommendation every sync and, inside the band, that is the current
    # replicas (replica_calculator.go returns them); the scale-down goes to the largest record of
    # the window. 4 replicas, target 4, window 30 s, a decision every 10 s; readings by hand:
    #  t=10 4.0 (ratio 1: inside, record 4)   t=20 2.0 (ceil(4 x 0.5) = 2; the window holds 4)
    #  t=30 4.2 (inside: record 4)            t=40, 50 2.0 (record 2; 4 of t=30 still in the window)
    #  t=60 2.0: the window (30, 60] holds 2, 2, 2: down to 2, 30 s after the last reading inside
    # (a band that recorded nothing would fall at t=40, its window holding only the 2 of t=20)
    from sim.serving.autoscaler import Autoscaler
    script = iter([4.0, 2.0, 4.2, 2.0, 2.0, 2.0])
    monkeypatch.setattr(Autoscaler, "metric", lambda self, serving: next(script, 2.0))
    sizes: list[tuple[float, int]] = []
    real = Autoscaler.tick

    def tick(self):
        real(self)
        sizes.append((self.fleet.env.now, sum(1 for r in self.pool.live if not r.draining)))

    monkeypatch.setattr(Autoscaler, "tick", tick)
    sc = scenario(duration=75)
    sc["fleet"]["pools"][0]["replicas"] = 4
    sc["fleet"]["pools"][0]["autoscale"] = {"metric": "queue", "target": 4, "interval": 10, "min": 1, "max": 8,
                                            "scale_up_delay": 0, "cooldown": 30}
    sim.run(sc)
    assert sizes[:6] == [(10.0, 4), (20.0, 4), (30.0, 4), (40.0, 4), (50.0, 4), (60.0, 2)]
