"""Bounded work: a small file that implies huge work is refused before it runs (exit 2, the field
and the estimate named), in a few seconds and a few hundred MB; ``--allow-large`` lets it through.

Estimates are checked against hand-worked arithmetic.
"""
from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.limits import (MAX_FAILURE_EVENTS, MAX_FLUID_REPLICAS, MAX_FLUID_STEPS, MAX_REPLICAS, MAX_REQUESTS, MAX_SWEEP_POINTS,
                        check_points, estimate, work_problems)
from sim.scenario.load import load_scenario
from sim.workload.arrivals import MONTH_S

from conftest import scenario

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "scenarios" / "traces" / "azure_code_2023_first2000.csv"


def _with(**over):
    sc = scenario()
    for path, value in over.items():
        node = sc
        parts = path.split("__")
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        node[parts[-1]] = value
    return sc


HUGE = {
    "fluid_step": ({"fidelity": "fluid", "fluid": {"step": 0.001}, "duration": "30d"}, "fluid.step",
                   "implies 2,592,000,000 fluid steps"),
    "replicas": ({"fleet__pools__0__replicas": 10**22}, "fleet.pools.0.replicas", "implies 1e+22 replicas"),
    "autoscaler": ({"fleet__pools__0__autoscale": {"target": 0.01, "max": 10_000_000, "interval": 1,
                                                   "cooldown": 0}},
                   "fleet.pools.0.autoscale.max", "implies 10,000,000 replicas"),
    "failures": ({"fleet__pools__0__failures": {"mtbf": 1e-9, "mttr": 1e-9}}, "fleet.pools.0.failures.mtbf",
                 "implies ~60,000,000,000 failure and repair events"),
    "growth": ({"workload__growth": {"monthly": 100}, "duration": "90d"}, "workload.arrival", "implies ~"),
    "rate": ({"workload__arrival": {"process": "poisson", "rate": 1e7}, "duration": "30d"}, "workload.arrival",
             "implies ~25,920,000,000,000 requests"),
    "trace_rate_scale": ({"workload__arrival": {"process": "trace", "path": str(TRACE), "format": "azure",
                                                "rate_scale": 1e7}, "duration": "1h"},     # (at most 1e7)
                         "workload.arrival", "implies ~"),
    "trace_loop": ({"workload__arrival": {"process": "trace", "path": str(TRACE), "format": "azure",
                                          "time_scale": 1e-300, "loop": True}},
                   "workload.arrival", "implies ~"),
}


@pytest.mark.parametrize("case", list(HUGE))
def test_huge_work_is_refused_naming_the_field(case):
    over, field, words = HUGE[case]
    sc = _with(**over)
    problems = work_problems(load_scenario(sc))
    assert len(problems) == 1, problems
    path, msg = problems[0]
    assert path == field and words in msg and "--allow-large" in msg


CPU_SECONDS = 20


def _limited(cmd: list[str], cwd: Path) -> tuple[int, str]:
    def limit():
        # bounded work, not a timing: 300 MB of address space and 20 s of CPU (a start-up and a refusal
        # take ~1-2 s; doing the huge work would take hours), so a run that starts the work is killed
        resource.setrlimit(resource.RLIMIT_AS, (300 * 2**20, 300 * 2**20))
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("FLEETSIM_ALLOW_LARGE", None)
    p = subprocess.run([sys.executable, "-m", "sim", *cmd], cwd=cwd, preexec_fn=limit, capture_output=True,
                       text=True, env=env, timeout=60)
    return p.returncode, p.stderr


@pytest.mark.parametrize("case", list(HUGE))
def test_huge_runs_exit_2_quickly_in_300_mb(tmp_path, case):
    over, field, words = HUGE[case]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_with(**over)))
    rc, err = _limited(["run", str(path), "--quiet"], tmp_path)     # validate: see the test above
    assert rc == 2 and "Traceback" not in err and f"{path}: {field}: {words}" in err


def test_alias_bomb_exits_2_quickly_in_300_mb(tmp_path):
    from test_hostile_input import _bomb

    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(10))
    for command in ("validate", "run"):
        rc, err = _limited([command, str(path)], tmp_path)
        assert rc == 2 and "aliases (*l3) expand to more than 10,000 values" in err


def test_sweep_grid_and_seeds_refused_before_the_grid_is_built(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario()))
    grid = ["--grid", "fleet.pools.0.replicas=1..10000", "--grid", "workload.arrival.rate=1..10000",
            "--grid", "seed=1..10000"]
    rc, err = _limited(["sweep", str(path), *grid, "--out", str(tmp_path / "o"), "--quiet"], tmp_path)
    assert rc == 2 and err.strip() == (f"{path}: --grid: 1,000,000,000,000 configurations x 1 seeds = "
                                       f"1,000,000,000,000 points (at most {MAX_SWEEP_POINTS:,}); "
                                       "pass --allow-large to run it anyway")
    rc, err = _limited(["sweep", str(path), "--grid", "fleet.pools.0.replicas=1,2", "--seeds", "1000000000",
                           "--out", str(tmp_path / "o"), "--quiet"], tmp_path)
    assert rc == 2 and "--seeds: 2 configurations x 1,000,000,000 seeds = 2,000,000,000 points" in err


def test_check_points_at_the_limit():
    check_points(MAX_SWEEP_POINTS, 1)
    check_points(MAX_SWEEP_POINTS // 10, 10)
    with pytest.raises(Exception):
        check_points(MAX_SWEEP_POINTS + 1, 1)
    check_points(MAX_SWEEP_POINTS + 1, 1, allow_large=True)


# ------------------------------------------------------------------ estimates by hand
def test_poisson_estimate():
    assert estimate(load_scenario(_with(duration=3600))).requests == 2.0 * 3600


def test_growth_estimate_is_the_integral():
    # rate 2/s growing 10 %/month for 60 days: 2 * M/ln(1.1) * (1.1**(60 d / M) - 1)
    sc = _with(duration="60d", workload__growth={"monthly": 0.1})
    expected = 2.0 * MONTH_S / math.log(1.1) * (1.1 ** (60 * 86400 / MONTH_S) - 1)
    assert estimate(load_scenario(sc)).requests == pytest.approx(expected, rel=1e-12)


def test_piecewise_and_classes_estimate():
    sc = _with(duration=100)
    sc["workload"]["arrival"] = {"process": "piecewise", "times": [0, 30, 80], "rates": [1, 0, 4]}
    assert estimate(load_scenario(sc)).requests == 30 * 1 + 0 + 20 * 4
    sc["workload"]["classes"] = [{"name": "a", "share": 0.25}, {"name": "b", "share": 0.75},
                                 {"name": "c", "arrival": {"process": "poisson", "rate": 3}}]
    assert estimate(load_scenario(sc)).requests == 110 + 300


def test_trace_estimate_counts_rows_and_loops():
    # 2,000 rows looped over 10^6 s: 2,000 per whole period, then the rows of the last, partial one
    sc = _with(duration=10**6)
    sc["workload"]["arrival"] = {"process": "trace", "path": str(TRACE), "format": "azure", "loop": True}
    from sim.workload.traces import read_trace
    t = read_trace(TRACE, "azure").arrival_s
    period = t[-1] + (t[-1] - t[0]) / (len(t) - 1)
    whole = math.floor(10**6 / period)
    assert estimate(load_scenario(sc)).requests == 2000 * whole + int((t + whole * period < 10**6).sum())


def _replayed(sc) -> int:
    """The requests the run's arrival feed replays for ``sc``'s trace (drawn, not counted)."""
    import numpy as np

    from sim.workload.arrivals import trace_blocks
    from sim.workload.traces import read_trace

    w = load_scenario(sc).scenario.workload
    data = read_trace(w.arrival.path, w.arrival.format)
    return sum(b.arrival_s.size for b in trace_blocks(data, w.arrival, float(sc["duration"]),
                                                       np.random.default_rng(0), growth=w.growth))


@pytest.mark.parametrize("duration, loop, time_scale", [(60, False, 1.0), (10**4, False, 1.0), (5000, True, 1.0),
                                                        (5000, True, 0.3), (90, False, 2.5)])
def test_counted_trace_estimate_is_what_the_run_replays(duration, loop, time_scale):
    # rate_scale 1, no growth: the count is exact, the rows whose replayed times fall inside the window
    sc = _with(duration=duration)
    sc["workload"]["arrival"] = {"process": "trace", "path": str(TRACE), "format": "azure", "loop": loop,
                                 "time_scale": time_scale}
    assert estimate(load_scenario(sc), count_traces=True).requests == _replayed(sc)


def test_counted_trace_estimate_with_growth_is_the_sum_over_each_loop():
    # growth multiplies each replayed row's expected copies by g(t); the closed form (a geometric
    # series over the whole periods) against the sum written out, one period at a time
    import numpy as np

    from sim.workload.traces import read_trace
    sc = _with(duration=20 * 86400, workload__growth={"monthly": 0.5})
    sc["workload"]["arrival"] = {"process": "trace", "path": str(TRACE), "format": "azure", "loop": True,
                                 "rate_scale": 0.5}
    t = read_trace(TRACE, "azure").arrival_s
    period = t[-1] + (t[-1] - t[0]) / (len(t) - 1)
    total, k = 0.0, 0
    while k * period < 20 * 86400:
        x = t + k * period
        total += float((0.5 * 1.5 ** (x[x < 20 * 86400] / MONTH_S)).sum())
        k += 1
    assert estimate(load_scenario(sc), count_traces=True).requests == pytest.approx(total, rel=1e-9)
    assert np.isfinite(total) and k > 2000


def test_validate_counts_a_trace_not_its_size_bound(capsys):
    # the sample replays its 2,000 rows in 425 s (the file's 74,611 bytes bound it at 12,435)
    assert main(["validate", str(ROOT / "scenarios" / "azure_conv_replay.yaml")]) == 0
    assert "work: ~2,000 requests" in capsys.readouterr().out
    assert main(["validate", str(ROOT / "scenarios" / "azure_conv_replay.yaml"), "--set", "duration=100s"]) == 0
    from sim.workload.traces import read_trace
    inside = int((read_trace(ROOT / "scenarios" / "traces" / "azure_conv_2023_first2000.csv", "azure")
                  .arrival_s < 100).sum())
    assert f"work: ~{inside:,} requests" in capsys.readouterr().out and 100 < inside < 2000


def test_failure_and_replica_estimates():
    sc = _with(duration=1000)
    sc["fleet"]["pools"][0]["replicas"] = 3
    sc["fleet"]["pools"][0]["failures"] = {"mtbf": 90, "mttr": 10}
    e = estimate(load_scenario(sc))
    assert e.replicas == 3 and e.failure_events == 2 * 3 * 1000 / 100


def test_limits_are_not_hit_by_the_bundled_scenarios():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        assert work_problems(load_scenario(path)) == [], path


def test_allow_large_lets_validate_pass(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FLEETSIM_ALLOW_LARGE", raising=False)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_with(fleet__pools__0__replicas=MAX_REPLICAS + 1)))
    assert main(["validate", str(path)]) == 2
    assert f"implies {MAX_REPLICAS + 1:,} replicas" in capsys.readouterr().err
    assert main(["validate", str(path), "--allow-large"]) == 0
    assert f"up to {MAX_REPLICAS + 1:,} replicas" in capsys.readouterr().out
    os.environ.pop("FLEETSIM_ALLOW_LARGE", None)


def test_documented_limits_match_the_code():
    text = (ROOT / "README.md").read_text()
    for n in (MAX_REQUESTS, MAX_FLUID_STEPS, MAX_REPLICAS, MAX_FAILURE_EVENTS, MAX_SWEEP_POINTS):
        assert f"{n:,}" in text


def test_the_fluid_tier_allows_more_replicas_than_the_request_level_but_not_without_bound():
    from sim.limits import work_problems
    from sim.scenario.load import load_scenario

    base = {"name": "f", "duration": "2d", "fidelity": "fluid", "model": "llama-3-8b",
            "workload": {"arrival": {"process": "poisson", "rate": 1.0},
                         "prompt_tokens": {"dist": "fixed", "value": 100},
                         "output_tokens": {"dist": "fixed", "value": 10}},
            "fleet": {"pools": [{"name": "a", "gpu": "h100-sxm", "replicas": MAX_REPLICAS + 1}]}}
    assert work_problems(load_scenario(base)) == []
    base["fleet"]["pools"][0]["replicas"] = MAX_FLUID_REPLICAS + 1
    (field, message), = work_problems(load_scenario(base))
    assert field == "fleet.pools.0.replicas" and f"at most {MAX_FLUID_REPLICAS:,}" in message
    base["fidelity"] = "request"
    base["fleet"]["pools"][0]["replicas"] = MAX_REPLICAS + 1
    assert [f for f, _ in work_problems(load_scenario(base))] == ["fleet.pools.0.replicas"]


# ------------------------------------------------------------------ what --allow-large cannot lift
def test_allow_large_still_refuses_replicas_past_the_memory():
    from sim.limits import REPLICA_BYTES, memory_problems, refusals

    loaded = load_scenario(_with(fleet__pools__0__replicas=10_000_000))
    # 10,000,000 replicas x 8,000 bytes = 80 GB, more than 25 GB
    (field, msg), = memory_problems(loaded, memory_bytes=25e9)
    assert REPLICA_BYTES == 8_000 and field == "fleet.pools.0.replicas"
    assert msg.startswith("implies 10,000,000 replicas in all pools, ~80 GB of memory") and "more than this machine's 25 GB" in msg
    assert memory_problems(loaded, memory_bytes=80e9) == []            # exactly the need: it fits
    # past the work limit but within memory: --allow-large runs it, as documented
    within = load_scenario(_with(fleet__pools__0__replicas=MAX_REPLICAS + 1))
    assert refusals(within, allow_large=True) == [] and len(refusals(within, allow_large=False)) == 1


def test_allow_large_still_refuses_all_records_past_the_memory():
    from sim.limits import memory_problems

    loaded = load_scenario(_with(duration=1000, workload__arrival={"process": "poisson", "rate": 1e6},
                                 metrics={"records": "all"}))
    # 10^9 requests x 82 bytes = 82 GB
    (field, msg), = memory_problems(loaded, memory_bytes=25e9)
    assert field == "metrics.records" and "~1,000,000,000 requests, ~82 GB" in msg
    loaded = load_scenario(_with(duration=1000, workload__arrival={"process": "poisson", "rate": 1e6},
                                 metrics={"records": "sample"}))
    assert memory_problems(loaded, memory_bytes=25e9) == []


def test_allow_large_run_past_any_memory_exits_2_at_once(tmp_path):
    # 10^12 replicas (8 PB of state): it used to build replicas until the system killed it
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_with(fleet__pools__0__replicas=10**12)))
    for cmd in (["run", str(path), "--quiet", "--allow-large"], ["validate", str(path), "--allow-large"]):
        rc, err = _limited(cmd, tmp_path)
        assert rc == 2 and "Traceback" not in err
        assert (f"{path}: fleet.pools.0.replicas: implies 1,000,000,000,000 replicas in all pools, ~8,000,000 GB of memory"
                in err) and "even --allow-large cannot run it" in err


def test_a_fleet_falling_behind_without_bound_stops_with_an_error_not_the_memory(tmp_path, capsys, monkeypatch):
    # 10^7 requests/s on one replica, --allow-large: the waiting requests (~510 bytes each) grew until the
    # system killed the process; a run now stops once more are in the system than half the memory holds
    import sim.api
    from sim.limits import REQUEST_BYTES, max_in_flight

    assert max_in_flight(2 * 510 * 1000) == 1000 and REQUEST_BYTES == 510
    monkeypatch.setattr(sim.api, "max_in_flight", lambda: 50_000)
    sc = _with(duration=10, workload__arrival={"process": "poisson", "rate": 1e7})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    for engine in ("fast", "reference"):
        assert main(["run", str(path), "--allow-large", "--quiet", "--json", "--engine", engine]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(f"{path}: workload.arrival: the fleet falls behind: ") and "(50,000)" in err, err
    # a fleet that keeps up never comes near it
    path.write_text(yaml.safe_dump(_with(duration=60)))
    assert main(["run", str(path), "--quiet", "--json"]) == 0
