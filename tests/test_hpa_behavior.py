"""The HPA's reading of replicas still starting and its default scale-up policies, in both tiers.

Kubernetes' ``replica_calculator.go`` re-reads a scale-up with the pods not yet ready at 0 and keeps
the current replicas if that no longer passes the tolerance band (or turns below 1); a scale-down
reads the ready pods only. ``horizontal.go`` caps a scale-up at the larger of ``start + 4`` and
``2 x start`` replicas, ``start`` the replicas at the beginning of the 15 s period (the default
``behavior.scaleUp`` policies). Each rule is checked on a timeline worked by hand, in each tier, and
the tiers against each other on a load step where the cap binds.
"""
from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

import sim
from sim.cli import main
from sim.fluid import run_fluid
from sim.fluid.autoscale import Replicas, hpa_holds, hpa_settled, scale_step
from sim.scenario.load import load_scenario
from sim.scenario.schema import Autoscale
from sim.serving.autoscaler import Autoscaler

from conftest import curve_cache, scenario
from test_autoscale_tolerance import _scripted
from test_fluid import QUICK


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


# ------------------------------------------------------------------ request level, metric scripted
def test_request_level_replicas_starting_read_as_zero_on_a_scale_up_only(monkeypatch):
    # 3 replicas, `queue` target 4, decisions every 10 s, replicas serve 25 s after their decision,
    # no stabilization window. (n_serving, current, recommendation) by hand:
    #  t=10  8.0, ratio 2                 -> ceil(6) = 6: +3, serving at 35 s
    #  t=20  6.0, ratio 1.5, 3 starting   -> re-read 1.5 x 3 / 6 = 0.75 < 1: keep 6
    #                                        (read on the 3 serving alone: ceil(4.5) = 5, one taken back)
    #  t=30  10.0, ratio 2.5, 3 starting  -> 2.5 x 3 / 6 = 1.25 > 1.1: ceil(7.5) = 8, +2 serving at 55 s
    #  t=40  4.0, 6 serving, 2 starting   -> ratio 1: keep 8
    #  t=50  2.0, ratio 0.5: a scale-down -> the 6 serving only: ceil(3) = 3 (the 2 starting go first)
    #  t=60  4.0 on 3                     -> 3
    seen = _scripted(monkeypatch, [8.0, 6.0, 10.0, 4.0, 2.0], after=4.0, scale_up_delay=25, max=16)
    assert seen[:6] == [(3, 3, 6), (3, 6, 6), (3, 6, 8), (6, 8, 8), (6, 8, 3), (3, 3, 3)]


def test_request_level_ttft_is_read_on_the_serving_replicas_alone(monkeypatch):
    # an Object metric (getUsageRatioReplicaCount): ceil(ratio x ready), no re-reading: at t=20 the
    # recommendation is ceil(1.5 x 3) = 5, which, with no window, takes one starting replica back;
    # at t=30, 4.0 (ratio 1) is inside the band: keep 5
    seen = _scripted(monkeypatch, [8.0, 6.0], after=4.0, scale_up_delay=25, max=16, metric="ttft")
    assert seen[:3] == [(3, 3, 6), (3, 6, 5), (3, 5, 5)]


def _current(seen):
    return [cur for _, cur, _ in seen]


def test_request_level_scale_up_policies(monkeypatch):
    # 3 replicas serving at once (delay 0), decisions every 10 s, max 40; readings 40 (ratio 10) then
    # 20 (ratio 5). Default policies, max(start + 4, 2 x start) from the replicas at the start of the
    # last 15 s, by hand (a decision every 10 s: the one after a scale-up still has it in its period):
    #  t=10  want ceil(30) = 30, capped at max(3 + 4, 6) = 7
    #  t=20  want 35; +4 at t=10 is inside (5, 20]: start 3, cap 7, no change
    #  t=30  want 35; nothing in (15, 30]: cap max(11, 14) = 14
    #  t=40  want 70 -> 40 (max); +7 at t=30 inside: start 7, cap 14
    #  t=50  want 40; cap max(18, 28) = 28
    #  t=60  4.0: ratio 1, keep 28
    readings = [40.0, 20.0, 20.0, 20.0, 20.0]
    ups: list[int] = []
    tick = Autoscaler.tick
    monkeypatch.setattr(Autoscaler, "tick", lambda self: (tick(self), ups.append(self.scale_ups)))
    seen = _scripted(monkeypatch, readings, after=4.0, max=40)
    assert _current(seen[:7]) == [3, 7, 7, 14, 14, 28, 28]
    assert ups[:6] == [1, 1, 2, 2, 3, 3]       # a decision the cap holds at its size is no scale-up
    monkeypatch.setattr(Autoscaler, "tick", tick)
    assert [w for _, _, w in seen[:5]] == [30, 35, 35, 40, 40]   # the window keeps what the rule asked
    # a 5 s period: each scale-up is out of it by the next decision (3, 7, 14, 28, then 40 = max)
    assert _current(_scripted(monkeypatch, readings, after=4.0, max=40, scale_up_period=5)[:5]) == [3, 7, 14, 28, 40]
    # the Pods policy alone (Percent unset): +4 every other decision
    assert _current(_scripted(monkeypatch, readings, after=4.0, max=40,
                              max_scale_up_percent=None)[:6]) == [3, 7, 7, 11, 11, 15]
    # no policy: the rule's answer at once (3, 30, then ceil(30 x 5) -> 40)
    free = _scripted(monkeypatch, readings, after=4.0, max=40, max_scale_up_pods=None, max_scale_up_percent=None)
    assert _current(free[:3]) == [3, 30, 40]


def test_the_policy_keys_default_to_the_hpas_and_bad_values_are_refused(tmp_path: Path, capsys):
    a = Autoscale()
    assert (a.max_scale_up_pods, a.max_scale_up_percent, a.scale_up_period) == (4, 100, 15.0)
    for key, value, allowed in (("max_scale_up_pods", 0, ">= 1"), ("max_scale_up_percent", 2.5, "whole number"),
                                ("scale_up_period", 0, "> 0")):
        sc = scenario(duration=60)
        sc["fleet"]["pools"][0]["autoscale"] = {"max": 4, key: value}
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(sc))
        assert main(["validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"fleet.pools.0.autoscale.{key}" in err and allowed in err and "Traceback" not in err, err


# ------------------------------------------------------------------ fluid tier, by hand
def test_fluid_replicas_starting_read_as_zero_on_a_scale_up_only():
    """``load_factor`` target 0.5, 0.1 s a request (metric = rate x 0.1 / ready), 60 s steps, each
    decided at its end, replicas serve 100 s after their decision, no window, tolerance 0.1:

    ====  ====  =====================  ==============================================  =======
    step  rate  at the decision        the HPA                                         replicas
    ====  ====  =====================  ==============================================  =======
    0     30    3 serving              ratio 2: ceil(6) = 6, +3 serving at 160 s       6
    1     20    3 serving, 3 starting  ratio 1.33, re-read 0.67 < 1: keep             6
    2     42    6 serving              ratio 1.4: ceil(8.4) = 9                        9
    3     10    6 serving, 3 starting  ratio 0.33, a scale-down: ceil(2) = 2           2
    ====  ====  =====================  ==============================================  =======

    Step 1 read on the serving replicas alone asks for ceil(4) = 4 and takes two starting ones back."""
    cfg = SimpleNamespace(metric="load_factor", target=0.5, min=1, max=20, tolerance=0.1, interval=60.0,
                          max_scale_up_pods=4, max_scale_up_percent=100, scale_up_period=15.0)
    r = Replicas(3, delay_s=100.0, cooldown_s=0.0)
    totals = []
    for k, rate in enumerate((30.0, 20.0, 42.0, 10.0)):
        t0 = 60.0 * k
        settled = hpa_settled(cfg, None, rate, 0.0, 0.1, r, t0 + 60.0)
        scale_step(r, cfg, 1.0, t0, 60.0, settled, held=hpa_holds(cfg, None, rate, 0.0, 0.1))
        totals.append(r.total)
    assert totals == [6, 6, 9, 2]
    # the re-reading at step 1 is the whole difference: the ready replicas alone give 4
    assert not hpa_holds(cfg, None, 20.0, 0.0, 0.1)(3.0, 3.0)
    assert hpa_holds(cfg, None, 20.0, 0.0, 0.1)(3.0, 6.0)


def test_fluid_scale_up_policies_cap_each_decision():
    """A saturated replica reads 1 against a target 0.2, so one decision could reach 5 x the replicas
    serving; the default policies allow max(n + 4, 2n): 1 -> 5 -> 10 -> 20 -> 30 on a load that settles
    at 30 (delay 0, decisions every 60 s, at the ends of a 240 s step's minutes). Without policies:
    1 -> 5 -> 25 -> 30 -> 30."""
    cfg = SimpleNamespace(min=1, max=30, target=0.2, interval=60.0, max_scale_up_pods=4, max_scale_up_percent=100,
                          scale_up_period=15.0)
    r = Replicas(1, delay_s=0.0, cooldown_s=0.0)
    prov, _ = scale_step(r, cfg, 1.0, 0.0, 240.0, 30)
    assert r.total == 30 and prov == (1 + 5 + 10 + 20) / 4
    free = SimpleNamespace(**{**vars(cfg), "max_scale_up_pods": None, "max_scale_up_percent": None})
    r = Replicas(1, delay_s=0.0, cooldown_s=0.0)
    prov, _ = scale_step(r, free, 1.0, 0.0, 240.0, 30)
    assert r.total == 30 and prov == (1 + 5 + 25 + 30) / 4


# ------------------------------------------------------------------ the tiers, where the cap binds
def _step_load(**autoscale) -> dict:
    """Replicas serving one 1 s request at a time (a saturated replica's load factor is 1), a
    ``load_factor`` target of 0.2 and no scale-up delay: a load step from 0.1 to 4 requests/s at
    600 s asks each decision for ~5 x the replicas serving, more than the default policies allow."""
    sc = scenario(duration=900, warmup=0, seed=3)
    sc["workload"] = {"arrival": {"process": "piecewise", "times": [0, 600], "rates": [0.1, 4.0]},
                      "prompt_tokens": {"dist": "fixed", "value": 1000},
                      "output_tokens": {"dist": "fixed", "value": 1}}
    sc["perf"] = {"model": "linear", "base_s": 0.0, "per_prefill_token_s": 0.001, "per_decode_token_s": 0.0,
                  "per_context_token_s": 0.0}
    sc["fleet"]["pools"][0].update(replicas=1, batching={"max_num_seqs": 1}, autoscale={
        "target": 0.2, "interval": 60, "min": 1, "max": 30, "cooldown": 300, "scale_up_delay": 0, **autoscale})
    sc["metrics"] = {"interval": 30}
    return sc


def _replicas_after_each_decision(step_s: float = 60.0, **autoscale) -> tuple[list[float], list[float]]:
    """The replicas in [600, 840) s, 30 s after each decision: request level's time series, and the
    fluid tier's steps of ``step_s`` holding those instants (a 60 s step is decided at its end, so its
    replicas are its decision's)."""
    sc = _step_load(**autoscale)
    exact = sim.run(copy.deepcopy(sc)).timeseries
    fluid = run_fluid(load_scenario(sc), step_s=step_s, settings=QUICK).timeseries
    times = (630.0, 690.0, 750.0, 810.0)
    rq = [float(exact[np.isclose(exact[:, 0], t), 2][0]) for t in times]
    return rq, [float(fluid[int(t // step_s), 2]) for t in times]


def test_the_tiers_take_the_same_capped_steps_on_a_load_step():
    rq, fl = _replicas_after_each_decision()
    assert rq == fl == [1, 5, 10, 20]        # 1 -> max(1 + 4, 2) -> max(9, 10) -> max(14, 20)
    rq, fl = _replicas_after_each_decision(max_scale_up_pods=None, max_scale_up_percent=None)
    assert rq[:2] == fl[:2] == [1, 5]         # the first reach: 5 x 1 serving, under the cap either way
    assert rq[2] >= 20 and fl[2] == 25        # then ~5 x 5 at once (the request level reads ~1 each)


def test_a_fluid_step_shorter_than_the_interval_decides_at_the_intervals_only():
    # 20 s steps, decisions every 60 s (at 60, 120, 180 s: the request level's clock), a saturated replica
    # reading 1 against 0.2, no delay: 1 -> 5 -> 10 -> 20 -> 30, one capped scale-up a decision. Decided at
    # each step's end, the pool took three capped scale-ups a minute: 5, 10, 20 by the first minute's end.
    cfg = SimpleNamespace(min=1, max=30, target=0.2, interval=60.0, max_scale_up_pods=4, max_scale_up_percent=100,
                          scale_up_period=15.0)
    r = Replicas(1, delay_s=0.0, cooldown_s=0.0)
    totals = []
    for k in range(12):
        scale_step(r, cfg, 1.0, 20.0 * k, 20.0, 30)
        totals.append(r.total)
    assert totals == [1, 1, 5, 5, 5, 10, 10, 10, 20, 20, 20, 30]
    # and on the load step, 20 s fluid steps take the request level's (and 60 s steps') capped steps
    rq, fl = _replicas_after_each_decision(step_s=20.0)
    assert rq == fl == [1, 5, 10, 20]


def test_the_tiers_agree_on_a_load_step_with_a_boot_delay():
    # The load step above with replicas serving 90 s after their decision. By hand, each decision reading
    # ~1 a serving replica against 0.2 (ratio 5):
    #   660  1 serving                  -> ceil(5) = 5, capped at max(1 + 4, 2) = 5: +4, serving at 750
    #   720  1 serving, 4 starting      -> re-read 5 x 1 / 5 = 1.0, inside the band: keep 5
    #   780  5 serving                  -> 25, capped at max(9, 10) = 10: +5, serving at 870
    #   840  5 serving, 5 starting      -> re-read 2.5: ceil(25) = 25, capped at max(14, 20) = 20
    # in both tiers, whatever the fluid step (60 s, or 20 s and 30 s, shorter than the interval)
    sc = _step_load(scale_up_delay=90)
    times = (630.0, 690.0, 750.0, 810.0, 870.0)
    exact = sim.run(copy.deepcopy(sc)).timeseries
    assert [float(exact[np.isclose(exact[:, 0], t), 2][0]) for t in times] == [1, 5, 5, 10, 20]
    for step_s in (60.0, 20.0, 30.0):
        fluid = run_fluid(load_scenario(sc), step_s=step_s, settings=QUICK).timeseries
        assert [float(fluid[int(t // step_s), 2]) for t in times] == [1, 5, 5, 10, 20], step_s


# ------------------------------------------------------------------ a pool at zero, Percent policy alone
def _from_zero(**policy) -> dict:
    """A pool at zero (``min: 0``), decisions every 30 s, no scale-up delay, 2 requests/s."""
    sc = scenario(duration=300)
    sc["fleet"]["pools"][0].update(replicas=0, autoscale={"min": 0, "max": 4, "interval": 30, "scale_up_delay": 0,
                                                          **policy})
    return sc


def test_a_pool_at_zero_gets_its_first_replica_under_the_percent_policy_alone():
    # The Percent policy of 0 replicas allows ceil(0 x 2) = 0; the replica a pool at zero gets back is
    # the activation (KEDA's, not the HPA's), which no scale-up policy holds: with the Pods policy unset
    # the pool comes back exactly as under the defaults (whose Pods policy allows 0 + 4 >= 1), in both
    # tiers; the fluid pool serves from the first decision, at the end of the first 30 s step.
    percent_only, default = _from_zero(max_scale_up_pods=None), _from_zero()
    a, b = sim.run(copy.deepcopy(percent_only)).summary, sim.run(copy.deepcopy(default)).summary
    assert a["autoscale"]["main"]["scale_ups"] == 1 and a["requests"]["completed"] > 0
    a.pop("wall_seconds"), b.pop("wall_seconds")
    assert a == b
    fa = run_fluid(load_scenario(percent_only), step_s=30.0, settings=QUICK).timeseries
    fb = run_fluid(load_scenario(default), step_s=30.0, settings=QUICK).timeseries
    assert fa[:, 2].tolist() == fb[:, 2].tolist() and fa[0, 2] == 0.0 and fa[1:, 2].tolist() == [1.0] * (len(fa) - 1)


# ------------------------------------------------------------------ failed replicas are pods not ready too
def _deciding(replicas: list[tuple[bool, bool]], reading: float, metric: str = "queue", tolerance: float = 0.1) -> int:
    """The recommendation of an autoscaler (target 4, ``tolerance``, [1, 8]) over a pool of replicas
    ``(ready, alive)`` reading ``reading``: one decision, no run around it."""
    a = object.__new__(Autoscaler)
    a.cfg = Autoscale(metric=metric, target=4, min=1, max=8, tolerance=tolerance)
    a.pool = SimpleNamespace(live=[SimpleNamespace(ready=r, alive=al, draining=False) for r, al in replicas])
    a.fleet = SimpleNamespace(no_replica_rejects=0)
    a._prev_rejects = 0
    a.metric = lambda serving: reading
    return a.recommendation()


def test_a_failed_replica_under_repair_reads_as_0_on_a_scale_up():
    # A failed replica's pod is not ready while it is repaired (its container restarting: no metric, read
    # as 0 on a scale-up; or replaced by a new pod still Pending: the same), so the HPA re-reads a scale-up
    # with it at 0 as it does a replica still starting. 5 replicas, 3 serving, 4.6 (ratio 1.15):
    #   2 failed:             1.15 x 3 / 5 = 0.69, below 1: keep 5 (read on the 3 alone: ceil(3.45) = 4)
    #   1 failed, 1 starting: the same 5
    #   2 failed, 6.0 (1.5):  1.5 x 3 / 5 = 0.9: keep 5;   8.0 (2.0): 1.2, past the band: ceil(6) = 6
    #   a scale-down reading (2.0, ratio 0.5) leaves them out: ceil(1.5) = 2
    #   ttft (an Object metric) counts ready pods only: ceil(3.45) = 4
    ok, failed, starting = (True, True), (True, False), (False, True)
    assert _deciding([ok] * 3 + [failed] * 2, 4.6) == 5
    assert _deciding([ok] * 3 + [failed, starting], 4.6) == 5
    assert _deciding([ok] * 3 + [failed] * 2, 6.0) == 5
    assert _deciding([ok] * 3 + [failed] * 2, 8.0) == 6
    assert _deciding([ok] * 3 + [failed] * 2, 2.0) == 2
    assert _deciding([ok] * 3 + [failed] * 2, 4.6, metric="ttft") == 4


# ------------------------------------------------------------------ tolerance 0: a reading at the target
def test_tolerance_0_keeps_the_pool_on_a_reading_exactly_at_the_target_with_replicas_starting():
    # replica_calculator.go keeps the current replicas while |1 - ratio| <= tolerance, bounds included,
    # so at tolerance 0 a reading exactly at the target (ratio 1, neither a scale-up nor re-read) keeps
    # them; without pods starting that is ceil(1 x ready) = ready anyway, with 2 starting it is not: 3
    # serving at the queue target 4.0 keep 5, where ceil(3) = 3 would take the 2 starting replicas back.
    ok, starting, failed = (True, True), (False, True), (True, False)
    assert _deciding([ok] * 3 + [starting] * 2, 4.0, tolerance=0.0) == 5
    assert _deciding([ok] * 3 + [failed, starting], 4.0, tolerance=0.0) == 5
    assert _deciding([ok] * 3, 4.0, tolerance=0.0) == 3
    assert _deciding([ok] * 3 + [starting] * 2, 3.9, tolerance=0.0) == 3      # below: a scale-down
    # the fluid tier's decision the same: load_factor 12 requests/s x 0.125 s / 3 = 0.5, the target
    cfg = SimpleNamespace(metric="load_factor", target=0.5, min=1, max=20, tolerance=0.0)
    assert hpa_holds(cfg, None, 12.0, 0.0, 0.125)(3.0, 5.0)
    assert not hpa_holds(cfg, None, 11.5, 0.0, 0.125)(3.0, 5.0)
    r = Replicas(3, delay_s=100.0, cooldown_s=0.0)
    r.step(0.0, 10.0, 5)                          # 2 more, serving at 100 s
    assert (r.ready_by(10.0), r.total) == (3.0, 5.0)
    assert hpa_settled(cfg, None, 12.0, 0.0, 0.125, r, 10.0) == 5
