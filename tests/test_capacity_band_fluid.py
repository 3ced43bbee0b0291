"""The capacity band in the fluid tier: capacity curves rescaled in time, against the engine and by hand.

The argument (:mod:`sim.fluid.scaled_curve`): dividing every step time by ``c`` and stretching time
by ``c`` turns a replica at arrival rate ``λ`` into the measured replica at ``λ / c``. Checked here

* on the request-level engine itself, record by record: a run at capacity ``c`` and rate ``λ`` for
  ``D`` seconds is the run at capacity 1, rate ``λ / c``, for ``c D`` seconds, every latency ``c``
  times as long (Poisson gaps are standard exponentials over the rate, so the arrivals are the
  same ones, stretched, up to the last bits of a float division);
* on a capacity curve: rescaled, it is the curve measured with a step-time model ``c`` times as fast
  (within the two measurements' noise);
* by hand, on a curve of two points;
* end to end: the fluid tier's band moves latency and SLO attainment as the request-level band does.
"""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import yaml

import sim
from sim.cli import main
from sim.errors import ScenarioError
from sim.fluid import CalibrationSettings, capacity_curve
from sim.fluid.curve import CapacityCurve
from sim.fluid.scaled_curve import at_capacity, attainment_at, ratio_row, rescale_rows
from sim.metrics.histogram import LogHistogram
from sim.scenario.load import load_scenario

from conftest import LINEAR, curve_cache, scenario

CURVE = CalibrationSettings(fractions=(0.1, 0.3, 0.5, 0.7, 0.8, 0.9), min_duration_s=300.0, min_requests=3000)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


def _steady(rate: float, *, hours: float = 1.0, speed: float = 1.0, warmup: float = 0.0) -> dict:
    """One replica, linear step times (``speed`` times as fast), lognormal lengths, Poisson arrivals."""
    sc = scenario(duration=hours * 3600, warmup=warmup, seed=5)
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rate},
                      "prompt_tokens": {"dist": "lognormal", "mean": 200, "cv": 1.0, "max": 2000},
                      "output_tokens": {"dist": "lognormal", "mean": 50, "cv": 1.0, "max": 500}}
    sc["slo"] = {"ttft_s": 0.3, "tpot_s": 0.06}
    sc["perf"] = {k: (v / speed if isinstance(v, float) else v) for k, v in LINEAR.items()}
    return sc


# ---------------------------------------------------------------- the argument, on the engine


def test_a_scaled_capacity_is_the_measured_replica_at_a_scaled_rate_with_time_stretched():
    c, lam, d = 0.8, 9.0, 600.0
    scaled = sim.run(_steady(lam, hours=d / 3600), capacity=c)
    plain = sim.run(_steady(lam / c, hours=c * d / 3600))
    a, b = scaled.records, plain.records
    assert len(a) == len(b) > 4000
    assert np.array_equal(a["prompt_tokens"], b["prompt_tokens"]) and np.array_equal(a["status"], b["status"])
    for col in ("arrival_s", "first_token_s", "completion_s", "sched_s"):
        known = a[col] >= 0                               # -1: not reached by the end of the run
        assert np.array_equal(known, b[col] >= 0), col
        assert np.allclose(a[col][known] * c, b[col][known], rtol=1e-9, atol=1e-9), col
    # hence the summaries: latency / c, throughput x c, busy share and KV use unchanged
    sa, sb = scaled.summary, plain.summary
    for key in ("ttft", "tpot", "e2e", "queue"):
        assert sa["latency"][key]["p99"] * c == pytest.approx(sb["latency"][key]["p99"], rel=1e-9), key
    assert sa["throughput"]["requests_per_s"] == pytest.approx(sb["throughput"]["requests_per_s"] * c, rel=1e-9)
    assert sa["utilization"]["gpu_busy"] == pytest.approx(sb["utilization"]["gpu_busy"], abs=1e-3)


# ---------------------------------------------------------------- by hand


def _two_point_curve(**over) -> CapacityCurve:
    lat = {m: {s: np.array([0.1, 0.2]) for s in ("mean", "p50", "p90", "p99")}
           for m in ("ttft", "tpot", "itl", "e2e", "queue")}
    h = LogHistogram()
    one = np.zeros(h.n_bins)
    one[h.bin_index(np.array([0.5]))[0]] = 1.0
    hists = {m: np.vstack([one, one]) for m in ("ttft", "tpot", "e2e", "queue")}
    # SLO ratios: at the idle point all four requests at 0.5; at 8/s 0.5, 0.95, 1.04 and one refused
    ratios = np.vstack([ratio_row(np.full(4, 0.5), 4), ratio_row(np.array([0.5, 0.95, 1.04, np.inf]), 4)])
    base = dict(key="k", pool="p", max_rps=10.0, rates_rps=np.array([0.0, 8.0]), served_rps=np.array([0.0, 7.9]),
                attainment=np.array([1.0, 0.5]), busy=np.array([0.0, 0.9]), kv=np.array([0.0, 0.4]),
                mfu=np.array([0.0, 0.3]), latency=lat, hists=hists, prompt_tokens_mean=100.0, output_tokens_mean=10.0,
                reject_share=0.01, slo_ratio=ratios)
    return CapacityCurve(**{**base, **over})


def test_a_curve_rescaled_by_hand():
    curve = _two_point_curve()
    slow, fast = at_capacity(curve, 0.8), at_capacity(curve, 1.25)
    # rates, throughput and FLOPs per second x c; shares of time unchanged
    assert slow.rates_rps.tolist() == [0.0, 6.4] and slow.max_rps == 8.0
    assert slow.served_rps[1] == pytest.approx(6.32) and slow.mfu[1] == pytest.approx(0.24)
    assert slow.busy.tolist() == [0.0, 0.9] and slow.kv.tolist() == [0.0, 0.4] and slow.reject_share == 0.01
    # latency / c: 0.2 s at 8/s becomes 0.25 s at 6.4/s (0.8 capacity), 0.16 s at 10/s (1.25)
    assert slow.latency["e2e"]["p99"][1] == pytest.approx(0.25) and fast.latency["e2e"]["p99"][1] == pytest.approx(0.16)
    # SLO attainment: a request meets the objectives of a replica c times as fast when its ratio is at most c
    assert slow.attainment == pytest.approx([1.0, 0.25]) and fast.attainment == pytest.approx([1.0, 0.75])
    # the histogram of a 0.5 s latency moves to 0.625 s (0.8 capacity), within half a 1 % bin
    h = LogHistogram()
    h.counts, h.total, h.sum, h.min, h.max = slow.hists["ttft"][1].copy(), 1.0, 0.625, 0.0, h.hi
    assert h.quantile(50) == pytest.approx(0.625, rel=0.005)
    # capacity 1 is the curve itself
    assert at_capacity(curve, 1.0) is curve


def test_the_front_end_is_no_step_time():
    """``fleet.frontend_s`` (here 0.05 s) is added to TTFT and E2E after the engine: it does not scale."""
    curve = _two_point_curve()
    slow = at_capacity(curve, 0.5, frontend_s=0.05)
    assert slow.latency["ttft"]["p99"][1] == pytest.approx((0.2 - 0.05) / 0.5 + 0.05)
    assert slow.latency["tpot"]["p99"][1] == pytest.approx(0.4) and slow.latency["queue"]["p99"][1] == pytest.approx(0.4)
    row = rescale_rows(curve.hists["ttft"][1], 0.5, 0.05)
    h = LogHistogram()
    h.counts, h.total, h.sum, h.min, h.max = row, 1.0, 0.95, 0.0, h.hi
    assert h.quantile(50) == pytest.approx((0.5 - 0.05) / 0.5 + 0.05, rel=0.005)


def test_attainment_at_a_scale_reads_the_ratio_distribution():
    row = ratio_row(np.array([0.2, 0.5, 0.99, 1.5, 3.0, np.inf, np.inf, np.inf]), 10)
    assert attainment_at(row, 1.0) == pytest.approx(0.3)
    assert attainment_at(row, 2.0) == pytest.approx(0.4)
    assert attainment_at(row, 1e6) == pytest.approx(0.5)     # refused and late ones miss at any capacity
    assert attainment_at(row, 0.1) == 0.0


# ---------------------------------------------------------------- against a curve measured at that capacity


def test_a_rescaled_curve_is_the_curve_measured_at_that_capacity():
    c = 0.8
    base, fast_model = load_scenario(_steady(5.0)), load_scenario(_steady(5.0, speed=c))
    measured = capacity_curve(fast_model.scenario, 0, fast_model.base_dir, CURVE)
    rescaled = at_capacity(capacity_curve(base.scenario, 0, base.base_dir, CURVE), c)
    # the two saturation probes and grids differ only by their own noise
    assert rescaled.max_rps == pytest.approx(measured.max_rps, rel=0.01)
    rates = measured.rates_rps[1:]
    for name, get, tol in (("served", lambda k: k.served_rps, 0.01), ("mfu", lambda k: k.mfu, 0.02)):
        assert np.allclose(rescaled.at(get(rescaled), rates), get(measured)[1:], rtol=tol), name
    assert np.allclose(rescaled.at(rescaled.busy, rates), measured.busy[1:], atol=0.002)
    # MBU's bytes per busy second: the same iterations' bytes (a step model's speed is no byte of the roofline's) in
    # 1 / c of the busy time, each against the rate its runs admitted (measured within 0.8 % of each other)
    assert rescaled.hbm_busy is not None and measured.hbm_busy is not None
    assert np.allclose(rescaled.hbm_at(measured.hbm_rps[1:]), measured.hbm_busy[1:], rtol=0.02)
    # latency and attainment below the top point: at 90 % of max_rps (measured within 0.05 % of each
    # other) two runs 0.05 % apart in rate differ by up to 4 % in TPOT p50 and 0.05 in attainment
    # (0.30 against 0.34), the chaos of a queue near saturation, not the rescaling
    below = rates[:-1]
    for name, get, tol in (("ttft mean", lambda k: k.latency["ttft"]["mean"], 0.02),
                           ("e2e mean", lambda k: k.latency["e2e"]["mean"], 0.02),
                           ("e2e p90", lambda k: k.latency["e2e"]["p90"], 0.02),
                           ("tpot p50", lambda k: k.latency["tpot"]["p50"], 0.03),
                           ("queue mean", lambda k: k.latency["queue"]["mean"], 0.05)):
        assert np.allclose(rescaled.at(get(rescaled), below), get(measured)[1:-1], rtol=tol), name
    assert np.allclose(rescaled.at(rescaled.attainment, below), measured.attainment[1:-1], atol=0.04)
    # the attainment the ratio rows give at capacity 1 is the runs' own (within a 1 % bin)
    plain = capacity_curve(base.scenario, 0, base.base_dir, CURVE)
    assert np.allclose(attainment_at(plain.slo_ratio, 1.0), plain.attainment, atol=0.005)
    # and the rows survive the cache's JSON
    again = CapacityCurve.from_json(json.loads(json.dumps(plain.to_json())))
    assert np.array_equal(again.slo_ratio, plain.slo_ratio) and np.array_equal(again.class_slo_ratio,
                                                                               plain.class_slo_ratio)


# ---------------------------------------------------------------- the band, in both tiers


def _bands(rate: float) -> tuple[dict, dict]:
    sc = _steady(rate, hours=2.0, warmup=300.0)
    sc["fluid"] = {"step": 600, "grid": [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9],
                   "calibration_duration": 300, "calibration_requests": 3000}
    fluid = sim.run({**copy.deepcopy(sc), "fidelity": "fluid"}, capacity_band=3).summary
    exact = sim.run(sc, capacity_band=3).summary
    return fluid, exact


def test_the_fluid_band_moves_latency_and_attainment_as_the_request_level_band_does():
    fluid, exact = _bands(8.0)          # load factor ~0.6 on one replica (~12.5 requests/s at saturation)
    for tier in (fluid, exact):
        b = tier["capacity_band"]
        for key in ("ttft", "tpot", "e2e", "queue"):
            assert b["faster"]["latency"][key]["mean"] < tier["latency"][key]["mean"] < \
                b["slower"]["latency"][key]["mean"], key
        assert b["slower"]["load_factor"] > tier["utilization"]["load_factor"] > b["faster"]["load_factor"]
    fb, eb = fluid["capacity_band"], exact["capacity_band"]
    for side in ("slower", "faster"):
        # SLO attainment within the fluid tier's tolerance (0.02 of request level)
        assert abs(fb[side]["slo"]["attainment"] - eb[side]["slo"]["attainment"]) <= 0.02, side
        # each side's latency moves from its point by the same factor in both tiers: means within 3 %
        # (the sides move them by 6-9 %), the p90 of TTFT, TPOT and E2E within 4 % (the fluid tier's
        # percentiles are read off mixed 1 % bins of its grid points, so a ratio of two of them moves
        # in steps of about a bin; TTFT p99, read off the top of the mixture, differed by 6-12 %)
        for key, stat, tol in [(k, "mean", 0.03) for k in ("ttft", "tpot", "e2e", "queue", "itl")] + \
                [(k, "p90", 0.04) for k in ("ttft", "tpot", "e2e")]:
            f = fb[side]["latency"][key][stat] / fluid["latency"][key][stat]
            e = eb[side]["latency"][key][stat] / exact["latency"][key][stat]
            assert f == pytest.approx(e, rel=tol), (side, key, stat)


def test_the_fluid_band_bills_the_same_gpu_hours_and_reads_the_curves_measured_once(monkeypatch):
    from sim.fluid import capacity as capacity_mod

    sc = _steady(6.0, hours=3.0)
    sc["fidelity"] = "fluid"
    calls = []
    real = capacity_mod.capacity_curve
    monkeypatch.setattr("sim.fluid.run.capacity_curve", lambda *a, **k: calls.append(1) or real(*a, **k))
    point = sim.run(copy.deepcopy(sc))
    calls.clear()
    banded = sim.run(copy.deepcopy(sc), capacity_band=10)
    assert len(calls) == 1                                  # one pool, one curve, for all three runs
    slow = sim.run(copy.deepcopy(sc), capacity=0.9).summary
    assert banded.summary["latency"] == point.summary["latency"]
    assert banded.summary["capacity_band"]["slower"]["latency"] == slow["latency"]
    # provisioning does not depend on speed; the busy share does
    assert slow["gpu_hours"]["provisioned"] == point.summary["gpu_hours"]["provisioned"]
    assert slow["gpu_hours"]["busy"] >= point.summary["gpu_hours"]["busy"]


def test_the_command_line_band_at_fidelity_fluid(tmp_path, capsys):
    sc = _steady(8.0, hours=2.0)
    sc["fidelity"] = "fluid"
    path = tmp_path / "fluid.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["run", str(path), "--quiet", "--json", "--capacity-band", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["capacity_band"]["pct"] == 5 and out["capacity_band"]["slower"]["capacity"] == 0.95
    assert math.isfinite(out["capacity_band"]["slower"]["latency"]["e2e"]["p99"])


def test_a_static_pool_is_refused_at_a_scaled_capacity_in_the_fluid_tier(tmp_path, capsys):
    sc = _steady(2.0)
    sc["fidelity"] = "fluid"
    sc["fleet"]["pools"][0]["batching"] = {"policy": "static", "batch_size": 8, "timeout_s": 0.5,
                                           "max_num_seqs": 64, "max_batched_tokens": 4096}
    path = tmp_path / "static.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["run", str(path), "--capacity-band"]) == 2
    err = capsys.readouterr().err
    assert "fleet.pools.0.batching.policy" in err and "timeout_s" in err and "fidelity: request" in err
    with pytest.raises(ScenarioError, match="batching.policy"):
        sim.run(sc, capacity=0.9)


def test_the_fluid_band_has_each_classs_range_under_its_own_slo():
    """Two classes, the tight one's TTFT objective (0.06 s) near its latency: its attainment moves
    with capacity, read off its own SLO-ratio rows."""
    sc = _steady(9.0, hours=2.0)
    sc["fidelity"] = "fluid"
    sc["workload"]["classes"] = [{"name": "tight", "share": 0.4, "slo": {"ttft_s": 0.06}},
                                 {"name": "loose", "share": 0.6}]
    s = sim.run(sc, capacity_band=10).summary
    b = s["capacity_band"]
    tight = [b["slower"]["classes"]["tight"], s["classes"]["tight"], b["faster"]["classes"]["tight"]]
    att = [c["slo"]["attainment"] for c in tight]
    assert att[0] < att[1] < att[2] and att[2] - att[0] > 0.05
    assert tight[0]["latency"]["ttft"]["mean"] > tight[1]["latency"]["ttft"]["mean"] > tight[2]["latency"]["ttft"]["mean"]
    assert b["slower"]["classes"]["loose"]["slo"]["attainment"] >= att[0]


def test_the_fluid_bands_words_say_what_its_sides_are(tmp_path, capsys):
    sc = _steady(8.0, hours=2.0)
    sc["fidelity"] = "fluid"
    path = tmp_path / "fluid.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["run", str(path), "--quiet", "--capacity-band"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "ranges: the same demand, read off the capacity curves rescaled, with the model's capacity 3 % higher" in out
    assert "ttft" in out and "(+3 % – −3 %)" in out


def test_an_autoscaled_fleet_buys_its_band_in_gpu_hours(tmp_path, capsys):
    """With a load-factor autoscaler a slower replica makes the pool run more replicas: the band
    moves GPU-hours (and cost) where a fixed fleet's stay put."""
    sc = _steady(24.0, hours=4.0)
    sc["fidelity"] = "fluid"
    # a coarse curve (the autoscaler reads its capacity, the band rescales it; ~1.6 s less than the default one)
    sc["fluid"] = {"grid": [0.2, 0.5, 0.8, 0.9], "calibration_duration": 120, "calibration_requests": 500}
    sc["fleet"]["pools"][0].update(replicas=2, autoscale={"target": 0.6, "interval": 60, "min": 1, "max": 30,
                                                          "cooldown": 300, "scale_up_delay": 60})
    path = tmp_path / "autoscaled.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["run", str(path), "--quiet", "--json", "--capacity-band", "10"]) == 0
    s = json.loads(capsys.readouterr().out)
    b = s["capacity_band"]
    gh = [b["faster"]["gpu_hours"]["provisioned"], s["gpu_hours"]["provisioned"], b["slower"]["gpu_hours"]["provisioned"]]
    # whole replicas: a side may settle where the point does, but 20 % of capacity apart they differ
    assert gh[0] <= gh[1] <= gh[2] and gh[0] < gh[2]
    cost = [b["faster"]["cost"]["compute_usd"], s["cost"]["compute_usd"], b["slower"]["cost"]["compute_usd"]]
    assert cost[0] <= cost[1] <= cost[2] and cost[0] < cost[2]
    assert main(["run", str(path), "--quiet", "--capacity-band", "10"]) == 0
    assert "GPU-hours" in next(line for line in capsys.readouterr().out.splitlines() if "provisioned" in line
                               and "–" in line)
    # a fixed fleet provisions the same GPU-hours on both sides, and the table says nothing of them
    fixed = sim.run(_steady(8.0, hours=2.0) | {"fidelity": "fluid"}, capacity_band=10).summary
    assert {fixed["capacity_band"][k]["gpu_hours"]["provisioned"] for k in ("faster", "slower")} == \
        {fixed["gpu_hours"]["provisioned"]}
