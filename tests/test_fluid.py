"""The fluid tier against closed forms (demand integrals) and against request-level runs.

Request-level comparisons: the fluid tier returns expectations while a request-level run is one
random realisation (Poisson arrivals, random lengths), so agreement is limited by that noise:
with ~90,000 requests the arrival count has a relative sd of 0.33 % and the mean output length
(cv 1) 0.33 %, together ~0.5 %: the 2 % tolerance on served tokens is four of those sd.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import sim
from sim.fluid import CalibrationSettings, capacity_curve, expected_arrivals, rate_at, run_fluid
from sim.fluid import capacity as capacity_mod
from sim.io import package_files
from sim.scenario.load import load_scenario
from sim.scenario.workload import WorkloadConfig
from sim.workload.arrivals import growth_integral

from conftest import curve_cache, scenario

QUICK = CalibrationSettings(fractions=(0.05, 0.2, 0.4, 0.6, 0.75, 0.9), min_duration_s=120.0, min_requests=1000)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))


# --------------------------------------------------------------------------------- demand
def test_diurnal_demand_over_whole_days_is_mean_rate_times_time():
    w = WorkloadConfig.model_validate({"arrival": {"process": "diurnal", "mean_rate": 5.0, "peak_to_trough": 4}})
    edges = np.arange(0.0, 2 * 86400.0 + 1, 3600.0)
    per_hour = expected_arrivals(w, edges)[:, 0]
    assert per_hour.sum() == pytest.approx(5.0 * 2 * 86400, rel=1e-9)
    # peak hour (14:00-15:00 by default) vs the cosine's closed-form integral over that hour
    amp = (4 - 1) / (4 + 1)
    exact = 5.0 * (3600 + amp * 86400 / (2 * math.pi) * (math.sin(2 * math.pi * 3600 / 86400) - 0))
    assert per_hour[14] == pytest.approx(exact, rel=1e-6)


def test_piecewise_demand_with_growth_and_class_shares():
    w = WorkloadConfig.model_validate({
        "arrival": {"process": "piecewise", "times": [0, 1800], "rates": [2.0, 6.0]},
        "growth": {"monthly": 0.5},
        "classes": [{"name": "a", "share": 0.25}, {"name": "b", "share": 0.75},
                    {"name": "own", "arrival": {"process": "poisson", "rate": 1.0}}]})
    edges = np.array([0.0, 3600.0, 7200.0])
    got = expected_arrivals(w, edges)
    g = w.growth
    shared_h1 = 2.0 * growth_integral(1800, g) + 6.0 * (growth_integral(3600, g) - growth_integral(1800, g))
    shared_h2 = 6.0 * (growth_integral(7200, g) - growth_integral(3600, g))
    assert got[0, 0] == pytest.approx(0.25 * shared_h1, rel=1e-6)
    assert got[1, 1] == pytest.approx(0.75 * shared_h2, rel=1e-6)
    assert got[1, 2] == pytest.approx(growth_integral(7200, g) - growth_integral(3600, g), rel=1e-6)
    assert rate_at(w.arrival, np.array([100.0, 2000.0])).tolist() == [2.0, 6.0]


def test_trace_demand_counts_the_generators_arrivals(tmp_path):
    from conftest import write_trace

    rows = [(t, 100, 10) for t in (1.0, 2.0, 3500.0, 3601.0, 3602.0, 3603.0)]
    trace = write_trace(tmp_path / "t.csv", rows)
    w = WorkloadConfig.model_validate({"arrival": {"process": "trace", "path": str(trace), "format": "fleetsim"}})
    got = expected_arrivals(w, np.array([0.0, 3600.0, 7200.0]), base_dir=tmp_path)
    assert got[:, 0].tolist() == [3.0, 3.0]


# --------------------------------------------------------------------------------- curves
def _linear_scenario(hours: float, rate: float, period_s: float, replicas: int = 1, seed: int = 5) -> dict:
    sc = scenario(duration=hours * 3600, warmup=0, seed=seed)
    sc["workload"] = {"arrival": {"process": "diurnal", "mean_rate": rate, "peak_to_trough": 3,
                                  "period": period_s, "peak_hour": 0.25},
                      "prompt_tokens": {"dist": "lognormal", "mean": 200, "cv": 1.0, "max": 2000},
                      "output_tokens": {"dist": "lognormal", "mean": 50, "cv": 1.0, "max": 500}}
    sc["fleet"]["pools"][0]["replicas"] = replicas
    sc["slo"] = {"ttft_s": 0.3, "tpot_s": 0.06}
    return sc


def test_capacity_curve_is_measured_then_read_from_the_cache(monkeypatch):
    loaded = load_scenario(_linear_scenario(1, 4.0, 3600))
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    # below saturation a replica completes what it is offered (within the runs' Poisson noise)
    lo = curve.rates_rps[1:4]
    assert np.allclose(curve.served_rps[1:4], lo, rtol=0.1)
    assert curve.rates_rps[0] == 0 and curve.busy[0] == 0
    assert np.all(np.diff(curve.latency["e2e"]["mean"][1:]) > -0.05 * curve.latency["e2e"]["mean"][1:-1])
    # the linear step model's decode iteration (0.01 s + 1 ms per sequence) bounds throughput:
    # 50-token outputs at n sequences take >= 50 * (0.01 + 0.001 n) s per n requests -> < 20/s
    assert 1.0 < curve.max_rps < 20.0
    monkeypatch.setattr(capacity_mod, "measure_curve", lambda *a, **k: pytest.fail("re-measured"))
    again = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    assert again.key == curve.key and np.array_equal(again.served_rps, curve.served_rps)
    assert np.array_equal(again.hists["ttft"], curve.hists["ttft"])


def test_a_cached_curve_is_not_reused_by_another_version_of_the_simulator(monkeypatch):
    """The cache key covers the simulator's source: a curve measured before a change to the step
    model or the engine (same scenario, same settings) is measured again, not read back."""
    loaded = load_scenario(_linear_scenario(1, 4.0, 3600))
    template = capacity_mod.pool_template(loaded.scenario, 0, loaded.base_dir)
    key = capacity_mod.curve_key(template, QUICK)
    assert capacity_mod.curve_key(template, QUICK) == key
    monkeypatch.setattr(capacity_mod, "code_fingerprint", lambda: "another-version")
    assert capacity_mod.curve_key(template, QUICK) != key
    # the fingerprint covers the catalogs a curve depends on (efficiency factors), not only the code
    names = {f.relative_to(capacity_mod.Path(sim.__file__).parent).as_posix() for f in package_files()}
    assert {"scenario/data/gpus.yaml", "scenario/data/models.yaml", "perf/pipeline.py"} <= names
    assert not any("__pycache__" in n for n in names)


# --------------------------------------------------------------------------------- against request level
def _compare(sc: dict, step_s: float, settings: CalibrationSettings) -> tuple[dict, dict]:
    fluid = run_fluid(load_scenario(sc), step_s=step_s, settings=settings).summary
    exact = sim.run(sc).summary
    return fluid, exact


def _assert_agree(fluid: dict, exact: dict) -> None:
    gh_f, gh_r = fluid["gpu_hours"], exact["gpu_hours"]
    assert gh_f["provisioned"] == pytest.approx(gh_r["provisioned"], rel=0.02)
    assert gh_f["busy"] == pytest.approx(gh_r["busy"], rel=0.02)
    for k in ("input_tokens", "output_tokens", "requests"):
        assert fluid["cost"][k] == pytest.approx(exact["cost"][k], rel=0.02), k
    assert abs(fluid["slo"]["attainment"] - exact["slo"]["attainment"]) <= 0.02
    assert fluid["cost"]["compute_usd"] == pytest.approx(exact["cost"]["compute_usd"], rel=0.02)


def test_fluid_agrees_with_request_level_on_a_short_cycle():
    """4 h of a 1 h 'day' (peak 9/s against ~12/s per replica), 10-minute steps, two classes
    with different TTFT objectives."""
    sc = _linear_scenario(4, 6.0, 3600.0)
    sc["workload"]["classes"] = [{"name": "tight", "share": 0.4, "slo": {"ttft_s": 0.06}},
                                 {"name": "loose", "share": 0.6}]
    fluid, exact = _compare(sc, 600.0, QUICK)
    _assert_agree(fluid, exact)
    for name in ("tight", "loose"):
        f, r = fluid["classes"][name], exact["classes"][name]
        assert abs(f["slo"]["attainment"] - r["slo"]["attainment"]) <= 0.02, name
        assert f["throughput"]["output_tokens_per_s"] == pytest.approx(r["throughput"]["output_tokens_per_s"],
                                                                       rel=0.03), name
    # the tight class really is harder to satisfy, in both tiers
    assert exact["classes"]["tight"]["slo"]["attainment"] < exact["classes"]["loose"]["slo"]["attainment"] - 0.05
    assert fluid["classes"]["tight"]["slo"]["attainment"] < fluid["classes"]["loose"]["slo"]["attainment"] - 0.05
    # the same summary keys as a request-level run
    for block in ("requests", "latency", "throughput", "slo", "utilization", "gpu_hours", "cost", "cashflow"):
        assert set(exact[block]) - set(fluid[block]) <= {"records_kept"}, block


def test_fluid_result_writes_a_result_folder(tmp_path):
    res = run_fluid(load_scenario(_linear_scenario(2, 4.0, 3600.0)), step_s=900.0, settings=QUICK)
    out = res.write(tmp_path / "fluid")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fidelity"]["tier"] == "fluid" and summary["fidelity"]["steps"] == 8
    ts = (out / "timeseries.csv").read_text().splitlines()
    assert len(ts) == 1 + 8
    assert (out / "cashflow.csv").exists()


def test_fluid_is_selected_by_the_scenario():
    sc = dict(_linear_scenario(1, 4.0, 3600.0), fidelity="fluid")
    res = sim.run(sc)
    assert res.summary["engine"] == "fluid" and len(res.records) == 0


@pytest.mark.slow
def test_fluid_agrees_with_request_level_over_two_diurnal_days():
    """2 calendar days of diurnal traffic (mean 6/s, peak 9/s), hourly steps, default calibration."""
    sc = _linear_scenario(48, 6.0, 86400.0)
    sc["workload"]["arrival"]["peak_hour"] = 14.0
    fluid, exact = _compare(sc, 3600.0, CalibrationSettings())
    _assert_agree(fluid, exact)


def test_fluid_two_pools_and_an_autoscaled_one_account_gpu_hours_by_the_step():
    """A fixed pool costs replicas x TP x hours x scale exactly; an autoscaled pool's replicas
    stay within [min, max] and its GPU-hours are the sum of its per-step replicas."""
    sc = _linear_scenario(3, 10.0, 3600.0)
    main = sc["fleet"]["pools"][0]
    main.update(replicas=2, tensor_parallel=2, scale=3.0)
    sc["fleet"]["pools"].append({"name": "burst", "gpu": "h100-sxm", "replicas": 1,
                                 "batching": dict(main["batching"]),
                                 "autoscale": {"metric": "utilization", "target": 0.5, "min": 1, "max": 3}})
    res = run_fluid(load_scenario(sc), step_s=1800.0, settings=QUICK)
    s = res.summary
    assert s["pools"]["main"]["gpu_hours_provisioned"] == pytest.approx(2 * 2 * 3 * 3.0)
    ts = res.timeseries
    burst = ts[ts[:, 1] == 1]
    assert len(burst) == 6 and burst[:, 2].min() >= 1 and burst[:, 2].max() <= 3
    assert s["pools"]["burst"]["gpu_hours_provisioned"] == pytest.approx(burst[:, 2].sum() * 0.5)
    assert s["gpu_hours"]["provisioned"] == pytest.approx(2 * 2 * 3 * 3.0 + burst[:, 2].sum() * 0.5)
    assert s["requests"]["completed"] + s["requests"]["rejected"] + s["requests"]["in_flight"] == \
        pytest.approx(s["requests"]["arrived"], abs=3)


def test_fluid_backlog_carries_overload_into_the_next_steps():
    """An hour at 3x capacity, then silence: the fluid queue serves capacity x hours until the
    backlog is gone (hand arithmetic on the measured max_rps), and requests wait meanwhile."""
    sc = _linear_scenario(4, 1.0, 3600.0)
    loaded = load_scenario(sc)
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK)
    cap_h = curve.max_rps * 3600.0
    sc["workload"]["arrival"] = {"process": "piecewise", "times": [0, 3600], "rates": [3 * curve.max_rps, 0.0]}
    res = run_fluid(load_scenario(sc), step_s=3600.0, settings=QUICK, curves=[curve])
    s = res.summary
    admitted = 3 * cap_h * (1 - curve.reject_share)
    # hours 1..3 serve at capacity: cap, cap, then the rest (admitted - 2 cap < cap)
    assert s["requests"]["completed"] == pytest.approx(admitted, rel=1e-6, abs=1)
    assert s["requests"]["in_flight"] == 0
    queue = res.timeseries[:, 3]           # each step's mean backlog (a straight line within it)
    assert queue[0] == pytest.approx((admitted - cap_h) / 2, rel=1e-3)                        # rising from 0
    assert queue[1] == pytest.approx((2 * admitted - 3 * cap_h) / 2, rel=1e-3)                # draining by cap_h
    assert s["stability"]["in_flight_at_end"] < 10                                            # gone by the end
    assert queue[3] == pytest.approx(0.0, abs=1e-9)
    assert s["latency"]["queue"]["mean"] > 600.0          # waits of the order of the backlog / capacity
    assert s["slo"]["attainment"] < 0.5


def test_fluid_bills_each_replica_lifetime_not_each_step():
    """Hour billing granularity with 10-minute fluid steps: 2 replicas x 1 h, not 6 rounded-up steps each."""
    sc = {"name": "t", "seed": 1, "duration": "1h", "warmup": 0, "model": "llama-3-8b", "fidelity": "fluid",
          # (a coarse capacity curve: the bill does not depend on it, and the default one was ~10 CPU s)
          "fluid": {"step": "10m", "grid": [0.5, 0.9], "calibration_duration": 60, "calibration_requests": 100},
          "workload": {"arrival": {"process": "poisson", "rate": 0.5},
                       "prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 50}},
          "fleet": {"router": "round_robin", "pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 2}]},
          "perf": {"model": "linear", "base_s": 0.01},
          "economics": {"gpu_hour_usd": 1.0, "billing_granularity": "hour"}}
    assert sim.run(sc).summary["cashflow"]["compute_cost"] == pytest.approx(2.0)


def test_fluid_class_with_its_own_trace_resolves_the_path_beside_the_scenario(tmp_path, monkeypatch):
    """A class replaying its own trace, named relative to the scenario file: the capacity curve's
    class shares read it from there too (not from the working directory)."""
    import yaml

    from conftest import write_trace

    write_trace(tmp_path / "batch.csv", [(float(t), 200, 20) for t in range(0, 3600, 2)])  # 0.5/s
    sc = scenario(duration=3600, fidelity="fluid")
    sc["workload"]["classes"] = [{"name": "chat", "share": 1.0},
                                 {"name": "batch", "arrival": {"process": "trace", "path": "batch.csv",
                                                               "format": "fleetsim"}}]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    monkeypatch.chdir(tmp_path.parent)   # the trace is not in the working directory
    res = run_fluid(load_scenario(str(path)), step_s=600.0, settings=QUICK)
    arrived = res.summary["classes"]["batch"]["requests"]["arrived"]
    assert arrived == pytest.approx(1800, rel=0.01)


def test_a_groups_calibration_runs_measure_one_replicas_replica_seconds():
    """Hand-worked: one replica at 20/s runs max(300 s, 3000 / 20 = 150 s) = 300 s, 30 s warmup.
    A group of 4 at 80/s keeps the 30 s warmup, then measures max(300 / 4, 3000 / 80) = 75 s of
    which 90 % (67.5 s) counts -- 4 x 67.5 = 270 replica-seconds, as one replica's 0.9 x 300.
    At 2/s the 3000 requests set the length for any group: 1500 s, 150 s warmup."""
    s = CalibrationSettings()
    assert capacity_mod.grid_run_length(s, 20.0, 1) == (30.0, 300.0)
    assert capacity_mod.grid_run_length(s, 80.0, 4) == pytest.approx((30.0, 97.5))
    assert capacity_mod.grid_run_length(s, 2.0, 4) == pytest.approx((150.0, 1500.0))
    assert capacity_mod.grid_run_length(s, 2.0, 1) == pytest.approx((150.0, 1500.0))


def test_a_group_curve_is_measured_with_those_run_lengths(monkeypatch):
    runs = []

    def recording(orig):            # the probes' runs (_run) and the grid's (_grid_run)
        def record(template, base_dir, rate, duration, warmup, seed):
            runs.append((int(template["fleet"]["pools"][0]["replicas"]), rate, duration, warmup))
            return orig(template, base_dir, rate, duration, warmup, seed)
        return record

    monkeypatch.setattr(capacity_mod, "_run", recording(capacity_mod._run))
    monkeypatch.setattr(capacity_mod, "_grid_run", recording(capacity_mod._grid_run))
    sc = _linear_scenario(1, 4.0, 3600, replicas=3)
    sc["fleet"]["router"] = "least_outstanding"
    loaded = load_scenario(sc)
    curve = capacity_curve(loaded.scenario, 0, loaded.base_dir, QUICK, use_cache=False)
    assert curve.meta["group_replicas"] == 3 and {g for g, *_ in runs} == {3}
    grid = runs[-len(QUICK.fractions):]
    assert [r for _, r, _, _ in grid] == pytest.approx([f * curve.max_rps * 3 for f in QUICK.fractions])
    for g, rate, duration, warmup in grid:
        assert (warmup, duration) == capacity_mod.grid_run_length(QUICK, rate, g)
        # never fewer requests after the warmup than the settings ask for (within a rounding)
        assert (duration - warmup) * rate >= 0.9 * QUICK.min_requests - 1e-9
