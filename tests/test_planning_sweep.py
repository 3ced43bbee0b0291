"""Sweeps: one row per point, resume after a crash, failures recorded, executors agree."""
import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
from scipy import stats

from sim.planning import MMcRunner, sweep
from sim.planning.executors import DaskExecutor, LocalExecutor, SerialExecutor

from conftest import mmc_scenario_file

BASE = {"seed": 1, "workload": {"arrival": {"rate": 10.0}},
        "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}}


def mmc_scenario(tmp_path: Path, rate=4.0, replicas=6, duration="10m") -> Path:
    """M/M/c in the simulator (conftest.mmc_scenario_file): service ~ Exp(mean 1 s)."""
    return mmc_scenario_file(tmp_path, rate, seed=1, duration=duration, replicas=replicas,
                             slo={"ttft_s": 2.0, "tpot_s": 0.1})


class Crash(BaseException):
    """Stands in for the process being killed (not an Exception, so nothing catches it)."""


@dataclass(frozen=True)
class CountingRunner:
    """Analytic runner that logs every call; crashes on the ``crash_at``-th call if set."""

    log: str
    crash_at: int | None = None

    def __call__(self, scenario, seed):
        path = Path(self.log)
        calls = path.read_text().splitlines() if path.exists() else []
        if self.crash_at is not None and len(calls) + 1 == self.crash_at:
            raise Crash()
        with open(path, "a") as fh:
            fh.write(f"{scenario['fleet']['pools'][0]['replicas']},{seed}\n")
        return MMcRunner(service_s=1.0, noise_cv=0.1)(scenario, seed)


def test_one_row_per_point_with_seed_offsets_and_ci_per_configuration(tmp_path):
    res = sweep(BASE, ["fleet.pools.0.replicas=11,12,14", "fleet.pools.0.gpu=a,b"], seeds=3,
                runner=MMcRunner(service_s=1.0, noise_cv=0.2), executor="serial", out=tmp_path)
    assert len(res) == 3 * 2 * 3
    assert [r["seed"] for r in res[:3]] == [1, 2, 3]          # scenario seed + i
    assert len(res.configurations) == 6
    cfg = res.configurations[0]
    assert cfg["n"] == 3 and cfg["fleet.pools.0.replicas"] == 11 and cfg["fleet.pools.0.gpu"] == "a"
    vals = [r["latency.queue.mean"] for r in res[:3]]
    half = stats.t.ppf(0.975, 2) * stats.tstd(vals) / math.sqrt(3)
    assert cfg["latency.queue.mean.ci_high"] - cfg["latency.queue.mean.mean"] == pytest.approx(half)
    header = (tmp_path / "sweep.csv").read_text().splitlines()[0].split(",")
    assert "latency.ttft.p99" in header and "wall_seconds" not in header
    assert len((tmp_path / "sweep.csv").read_text().splitlines()) == 1 + 18
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert len(data["points"]) == 18 and data["seeds"] == 3
    assert (tmp_path / "figures" / "sweep_pools_0_replicas.png").exists()
    assert (tmp_path / "figures" / "pareto.svg").exists()


def test_killed_sweep_resumes_without_recomputing_finished_points(tmp_path):
    grid = ["fleet.pools.0.replicas=11..16"]
    log = tmp_path / "calls.log"
    with pytest.raises(Crash):
        sweep(BASE, grid, seeds=2, runner=CountingRunner(str(log), crash_at=7),
              executor=SerialExecutor(), out=tmp_path / "out", figures=False)
    finished = log.read_text().splitlines()
    assert len(finished) == 6
    assert len(list((tmp_path / "out" / "points").glob("*.json"))) == 6
    assert not list((tmp_path / "out" / "points").glob(".*tmp"))   # no half-written files
    log.unlink()
    res = sweep(BASE, grid, seeds=2, runner=CountingRunner(str(log)), executor=SerialExecutor(),
                out=tmp_path / "out", figures=False)
    rerun = log.read_text().splitlines()
    assert len(rerun) == 12 - 6 and not set(rerun) & set(finished)
    assert sum(r["reused"] for r in res.records) == 6 and len(res) == 12 and not res.errors
    # and once complete, nothing runs again
    log.unlink()
    sweep(BASE, grid, seeds=2, runner=CountingRunner(str(log)), executor=SerialExecutor(),
          out=tmp_path / "out", figures=False)
    assert not log.exists()


def test_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    res = sweep(BASE, ["fleet.pools.0.replicas=11..14"], seeds=2,
                runner=MMcRunner(service_s=1.0, fail_when_servers=13),
                executor=LocalExecutor(2), out=tmp_path, figures=False)
    assert len(res) == 8
    failed = [r for r in res if r["error"]]
    assert [r["fleet.pools.0.replicas"] for r in failed] == [13, 13]
    assert "injected failure at 13 servers" in failed[0]["error"]
    ok = [c for c in res.configurations if c["fleet.pools.0.replicas"] != 13]
    assert all(c["n"] == 2 and c["errors"] == 0 for c in ok)
    bad = next(c for c in res.configurations if c["fleet.pools.0.replicas"] == 13)
    assert bad["n"] == 0 and bad["errors"] == 2
    # failed points are retried on the next run (the failure may have been transient)
    again = sweep(BASE, ["fleet.pools.0.replicas=11..14"], seeds=2,
                  runner=MMcRunner(service_s=1.0), executor="serial", out=tmp_path, figures=False)
    assert not again.errors
    assert sum(not r["reused"] for r in again.records) == 2


def test_simulated_sweep_matches_erlang_c_and_pool_equals_serial(tmp_path):
    scn = mmc_scenario(tmp_path)
    grid = ["fleet.pools.0.replicas=5,6,8"]
    serial = sweep(scn, grid, seeds=2, executor="serial", out=tmp_path / "serial", figures=False)
    pool = sweep(scn, grid, seeds=2, executor=LocalExecutor(2), out=tmp_path / "pool", figures=False)
    assert (tmp_path / "serial" / "sweep.csv").read_bytes() == (tmp_path / "pool" / "sweep.csv").read_bytes()
    assert list(serial) == list(pool)
    # mean wait against Erlang C (offered load 4 Erlangs, service mean ~1 s): loose, 2 x 10 min
    from sim.planning.erlang import mean_wait_s
    for cfg in serial.configurations:
        c = cfg["fleet.pools.0.replicas"]
        assert cfg["latency.queue.mean.mean"] == pytest.approx(mean_wait_s(c, 4.0, 1.0), rel=0.35, abs=0.01)


def test_dask_local_cluster_gives_the_same_table_as_local(tmp_path):
    pytest.importorskip("distributed")
    scn = mmc_scenario(tmp_path, duration="5m")
    grid = ["fleet.pools.0.replicas=5,7"]
    sweep(scn, grid, seeds=2, executor=LocalExecutor(2), out=tmp_path / "local", figures=False)
    with DaskExecutor(workers=2) as ex:
        sweep(scn, grid, seeds=2, executor=ex, out=tmp_path / "dask", figures=False)
    assert (tmp_path / "local" / "sweep.csv").read_bytes() == (tmp_path / "dask" / "sweep.csv").read_bytes()
    assert (tmp_path / "local" / "sweep_ci.csv").read_bytes() == (tmp_path / "dask" / "sweep_ci.csv").read_bytes()


def test_ci_half_width_shrinks_as_one_over_sqrt_seeds(tmp_path):
    """32 runs seen as 8 disjoint groups of 4 seeds and 2 groups of 16 (shifting the base seed).

    Half-width = t(n-1) s / sqrt(n) and E[s] = c4(n) sigma, so the mean half-width ratio is
    (t3 c4(4) / 2) / (t15 c4(16) / 4) ~ 2.80 -- about sqrt(16/4) = 2 times the t-quantile ratio.
    """
    scn = mmc_scenario(tmp_path, duration="5m")
    out = tmp_path / "reps"
    with LocalExecutor(2) as ex:
        groups = {n: [sweep(scn, ["fleet.pools.0.replicas=6"], seeds=n, overrides=[f"seed={first}"],
                            executor=ex, out=out, figures=False).configurations[0]
                      for first in range(1, 33, n)]
                  for n in (4, 16)}
    assert len(list((out / "points").glob("*.json"))) == 32          # seeds shared, never rerun

    def c4(n):
        return math.sqrt(2 / (n - 1)) * math.gamma(n / 2) / math.gamma((n - 1) / 2)

    expected = (stats.t.ppf(0.975, 3) * c4(4) / 2) / (stats.t.ppf(0.975, 15) * c4(16) / 4)
    for metric in ("latency.ttft.mean", "latency.queue.mean", "utilization.gpu_busy"):
        mean_hw = {n: sum((g[f"{metric}.ci_high"] - g[f"{metric}.ci_low"]) / 2 for g in gs) / len(gs)
                   for n, gs in groups.items()}
        assert expected / 1.6 < mean_hw[4] / mean_hw[16] < expected * 1.6, metric


def test_python_api_sweep_shows_a_progress_bar_unless_asked_not_to(capsys):
    import sim

    scn = {"name": "bar", "seed": 1, "duration": "30s", "model": "llama-3-8b",
           "workload": {"arrival": {"process": "poisson", "rate": 1.0},
                        "prompt_tokens": {"dist": "fixed", "value": 100},
                        "output_tokens": {"dist": "fixed", "value": 10}},
           "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]}}
    sim.sweep(scn, {"fleet.pools.0.replicas": [1, 2]}, executor="serial")
    err = capsys.readouterr().err
    assert "sweep" in err and "2/2" in err                      # tqdm's bar on stderr
    sim.sweep(scn, {"fleet.pools.0.replicas": [1, 2]}, executor="serial", progress=False)
    assert capsys.readouterr().err == ""


def test_a_dated_scenario_writes_its_json_with_the_date_as_iso_text(tmp_path):
    # a YAML `start: 2024-01-01` loads as a date, which json cannot write by itself
    from sim.planning.table import write_json
    write_json(tmp_path / "scenario.json", {"start": datetime.date(2024, 1, 1), "x": [float("nan")]})
    assert json.loads((tmp_path / "scenario.json").read_text()) == {"start": "2024-01-01", "x": [None]}


def _sweep_warnings(grid: dict, executor: str = "serial") -> list[str]:
    import warnings

    from conftest import scenario

    from sim.errors import ScenarioWarning

    base = scenario(economics={"compute": [{"pool": "main", "usd_per_gpu_hour": 1},
                                           {"pool": "main", "usd_per_gpu_hour": 2}]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")      # no de-duplication by Python's warning registry
        sweep(base, grid, seeds=2, executor=executor, progress=False)
    return [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]


def test_a_warning_every_configuration_gives_is_shown_once_per_sweep():
    # 2 configurations x 2 seeds: checked once each, run twice each; the scenario warns the same every time
    said = _sweep_warnings({"fleet.pools.0.replicas": [1, 2]})
    assert said == ["economics.compute.1: pool main already has an uncapped on_demand tier (compute.0) that "
                    "takes all GPUs beyond the reservation; this tier is never used"]


def test_a_warning_of_some_configurations_names_each_once():
    # a second on-demand tier capped at 4 GPUs is used; an uncapped one never is
    said = _sweep_warnings({"economics.compute.1.gpus": [4, None]})
    tier = ("economics.compute.1: pool main already has an uncapped on_demand tier (compute.0) that takes all "
            "GPUs beyond the reservation; this tier is never used")
    assert said == [f"{tier} (with economics.compute.1.gpus=null)"]


def test_a_problem_every_configuration_has_is_said_once_and_others_per_configuration():
    from conftest import scenario

    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError) as exc:      # a misspelt key: every value of the grid has it
        sweep(scenario(), {"fleet.pools.0.replcas": [1, 2, 3]}, seeds=1, progress=False)
    assert len(exc.value.problems) == 1
    path, msg = exc.value.problems[0]
    assert path == "fleet.pools.0.replcas" and msg.endswith("(every one of the 3 configurations)")
    with pytest.raises(ScenarioError) as exc:      # two of three values are bad: each is named
        sweep(scenario(), {"fleet.pools.0.replicas": [-1, 2, -3]}, seeds=1, progress=False)
    wheres = [m[m.index("(with"):] for _, m in exc.value.problems]
    assert wheres == ["(with fleet.pools.0.replicas=-1)", "(with fleet.pools.0.replicas=-3)"]
