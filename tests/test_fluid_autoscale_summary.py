"""The fluid tier counts its autoscaler's decisions in ``summary["autoscale"]``, as the request level does.

On ``test_hpa_behavior``'s load step with a 90 s boot delay (0.1 to 4 requests/s at 600 s, a saturated
replica reading 1 against a ``load_factor`` target of 0.2, decisions every 60 s), worked by hand:

    660  1 serving                  -> 5, capped at max(1 + 4, 2) = 5: +4
    720  1 serving, 4 starting      -> re-read 1.0, inside the band: kept
    780  5 serving                  -> 25, capped at max(5 + 4, 10) = 10: +5
    840  5 serving, 5 starting      -> re-read 2.5: 25, capped at max(10 + 4, 20) = 20: +10

three scale-ups adding 19 replicas and none down before the run ends at 900 s (the request level
decides nothing at its horizon), in both tiers and whatever the fluid step. The terminal then has the
same ``autoscale`` line in both tiers, and a fluid result folder stays readable by ``report`` and
``compare``.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

import sim
from sim.cli import main
from sim.fluid import run_fluid
from sim.report_text import format_summary
from sim.scenario.load import load_scenario

from test_fluid import QUICK
from test_hpa_behavior import _step_load

from conftest import curve_cache

BY_HAND = {"scale_ups": 3, "scale_downs": 0, "replicas_provisioned": 19, "replicas_drained": 0,
           "scale_up_delay_s": 90.0}
LINE = ("autoscale main  3 scale-ups adding 19 replicas, 0 scale-downs removing 0; "
        "a replica serves 90 s after it is provisioned")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def test_both_tiers_count_the_hand_worked_scale_ups_and_print_the_same_line():
    sc = _step_load(scale_up_delay=90)
    exact = sim.run(copy.deepcopy(sc))
    assert exact.summary["autoscale"] == {"main": BY_HAND}
    assert LINE in format_summary(exact).splitlines()
    for step_s in (60.0, 20.0, 30.0):
        fluid = run_fluid(load_scenario(sc), step_s=step_s, settings=QUICK)
        assert fluid.summary["autoscale"] == {"main": BY_HAND}, step_s
        assert LINE in format_summary(fluid).splitlines(), step_s
        # every replica ever provisioned: the pool's 1 plus the scale-ups' 19, as at request level
        assert fluid.summary["pools"]["main"]["replicas_provisioned_total"] == 20
    assert exact.summary["pools"]["main"]["replicas_provisioned_total"] == 20


def test_a_decision_at_the_runs_end_is_not_counted():
    # 60 s steps, the run ending at 840 s: the decision at 840 (+10) falls on the horizon, where the
    # request level makes none; the fluid tier's still takes it (its replicas are billed for no time)
    sc = _step_load(scale_up_delay=90)
    sc["duration"] = 840
    a = run_fluid(load_scenario(sc), step_s=60.0, settings=QUICK).summary
    assert a["autoscale"]["main"] == {**BY_HAND, "scale_ups": 2, "replicas_provisioned": 9}
    assert a["pools"]["main"]["replicas_provisioned_total"] == 10
    assert sim.run(copy.deepcopy(sc)).summary["autoscale"]["main"] == a["autoscale"]["main"]


def test_a_fixed_fluid_pool_has_no_autoscale_key():
    sc = _step_load()
    del sc["fleet"]["pools"][0]["autoscale"]
    assert "autoscale" not in run_fluid(load_scenario(sc), step_s=60.0, settings=QUICK).summary


def test_a_fluid_folder_with_the_key_is_read_by_report_and_compare(tmp_path: Path, capsys):
    sc = _step_load(scale_up_delay=90)
    sc.update(fidelity="fluid", fluid={"step": 60, "calibration_duration": 120, "calibration_requests": 1000})
    path = tmp_path / "step.yaml"
    path.write_text(yaml.safe_dump(sc))
    fluid, exact = tmp_path / "fluid", tmp_path / "exact"
    argv = ["--figures", "none"]
    assert main(["run", str(path), "--out", str(fluid), *argv]) == 0
    assert LINE in capsys.readouterr().out.splitlines()
    assert main(["run", str(path), "--out", str(exact), "--quiet", *argv, "--set", "fidelity=request"]) == 0
    assert json.loads((fluid / "summary.json").read_text())["autoscale"] == {"main": BY_HAND}
    assert main(["report", str(fluid)]) == 0
    capsys.readouterr()
    assert main(["compare", str(exact), str(fluid), "--json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)["metrics"]}
    # billed by hand: 1 replica for 900 s, 4 from 660 s, 5 from 780 s, 10 from 840 s = 3,060 s
    assert rows["gpu_hours.provisioned"]["values"] == pytest.approx([3060 / 3600] * 2, rel=1e-12)
