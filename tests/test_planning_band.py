"""The capacity band of ``plan`` and ``saturation``, against queueing theory written out here.

* Erlang C (M/M/c, the analytic runner): the saturation rate at capacity ``c`` is the root of the
  attainment curve with service time ``s / c``; the plan's robust answer is the least server count
  whose mean wait holds with service ``s / 0.97``, which differs from the point answer by construction.
* Pollaczek–Khinchine (M/D/1, the simulator): with a bound ``W`` on the mean wait and service ``D / c``,
  ``W_q = λ D_c² / (2 (1 - λ D_c))``, so the highest rate is ``λ* = 2 W / (D_c (D_c + 2 W))``.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import yaml
from scipy.optimize import brentq

import sim
from sim.cli import main
from sim.errors import InputError
from sim.planning import MMcRunner, plan, saturation
from sim.planning.capacity import Bisection

from conftest import curve_cache, mmc_scenario_file
from test_capacity_band import queue_scenario
from test_planning_search import BASE, erlang_c, first_c, mean_wait


def attainment_root(c: int, s: float, slo: float, target: float = 0.99) -> float:
    """The rate at which M/M/c attainment ``1 - C(c, a) exp(-(c/s - λ)(slo - s))`` falls to ``target``."""
    f = lambda lam: 1 - erlang_c(c, lam * s) * math.exp(-(c / s - lam) * (slo - s)) - target
    return brentq(f, 1e-6, c / s - 1e-9)


# ---------------------------------------------------------------- saturation, Erlang C

@pytest.mark.parametrize("pct", [3.0, 10.0])
def test_each_sides_saturation_rate_brackets_the_erlang_c_root_at_its_capacity(pct):
    s, c, slo = 0.2, 4, 1.0
    res = saturation(BASE, runner=MMcRunner(service_s=s, slo_ttft_s=slo), rel_tol=0.005, capacity_band=pct,
                     overrides=[f"fleet.pools.0.replicas={c}"], executor="serial")
    assert res.rate <= attainment_root(c, s, slo) <= res.upper
    for side, cap in (("slower", 1 - pct / 100), ("faster", 1 + pct / 100)):
        b = res.band[side]
        assert b["capacity"] == cap
        assert b["rate"] <= attainment_root(c, s / cap, slo) <= b["upper"], side
        assert (b["upper"] - b["rate"]) / b["rate"] <= 0.005
        assert all(p["capacity"] == cap for p in b["probes"])
    assert res.band["slower"]["rate"] < res.rate < res.band["faster"]["rate"]
    # each side starts from the point's answer scaled by its capacity: no more probes than the point's search
    assert max(len(res.band[s]["probes"]) for s in ("slower", "faster")) <= len(res.probes)


def test_saturation_without_the_band_is_unchanged():
    res = saturation(BASE, runner=MMcRunner(service_s=0.2), overrides=["fleet.pools.0.replicas=4"], executor="serial")
    assert res.band is None and "capacity_band" not in res.as_dict()


# ---------------------------------------------------------------- plan, Erlang C

def _servers(row) -> int:
    return int(row["overrides"][0].split("=")[1])


@pytest.mark.parametrize("rate,bound", [(2.0, 0.1), (4.0, 0.05), (6.0, 0.2)])
def test_the_robust_answer_is_the_erlang_c_minimum_at_the_slower_capacity(rate, bound):
    s = 1.0005
    point = first_c(lambda c: mean_wait(c, rate, s) <= bound)
    robust = first_c(lambda c: mean_wait(c, rate, s / 0.97) <= bound)
    assert robust == point + 1                       # the cases are chosen so: a 3 % error flips the answer
    res = plan(BASE, ["fleet.pools.0.replicas=1..64"], constraints=[f"latency.queue.mean<={bound}"],
               overrides=[f"workload.arrival.rate={rate}"], runner=MMcRunner(service_s=s), executor="serial",
               capacity_band=3)
    assert _servers(res.best) == point and _servers(res.robust) == robust
    assert res.best["feasible"] and not res.best["capacity_band.slower.feasible"]
    assert res.robust["capacity_band.slower.feasible"]
    assert res.robust["capacity_band.slower.latency.queue.mean.mean"] == pytest.approx(
        mean_wait(robust, rate, s / 0.97), rel=1e-12)
    # each probe serves both bisections: fewer probes than two searches of their own
    assert sum(r["probes"] for r in (res[0], res.robust_groups[0])) <= 2 * (1 + math.ceil(math.log2(64)))


def test_a_robust_answer_equal_to_the_point_answer_and_one_per_gpu():
    prices = {"a100-80gb": 1.8, "h100-sxm": 2.5}
    res = plan(BASE, ["fleet.pools.0.replicas=1..32", "fleet.pools.0.gpu=a100-80gb,h100-sxm"],
               constraints=["latency.queue.mean<=0.2"], overrides=["workload.arrival.rate=10"],
               runner=MMcRunner(service_s=1.0, price_per_gpu_hour_usd=prices), executor="serial", capacity_band=3)
    c = first_c(lambda c: mean_wait(c, 10.0, 1.0) <= 0.2)
    assert first_c(lambda c: mean_wait(c, 10.0, 1 / 0.97) <= 0.2) == c          # 3 % does not flip this one
    assert res.robust["overrides"] == res.best["overrides"] == [f"fleet.pools.0.replicas={c}",
                                                                "fleet.pools.0.gpu=a100-80gb"]
    assert [g["overrides"][1] for g in res.robust_groups] == ["fleet.pools.0.gpu=a100-80gb",
                                                              "fleet.pools.0.gpu=h100-sxm"]


def test_no_robust_answer_within_the_range():
    point = first_c(lambda c: mean_wait(c, 2.0, 1.0005) <= 0.1)
    res = plan(BASE, [f"fleet.pools.0.replicas=1..{point}"], constraints=["latency.queue.mean<=0.1"],
               overrides=["workload.arrival.rate=2"], runner=MMcRunner(service_s=1.0005), executor="serial",
               capacity_band=3)
    assert _servers(res.best) == point and res.robust is None


def test_the_robust_verdict_is_judged_at_the_unfavourable_confidence_bound():
    res = plan(BASE, ["fleet.pools.0.replicas=1..64"], constraints=["latency.queue.mean<=0.1"], seeds=5,
               runner=MMcRunner(service_s=1.0, noise_cv=0.3), executor="serial", capacity_band=3)
    r = res.robust
    assert r["capacity_band.slower.judged:latency.queue.mean<=0.1"] == \
        r["capacity_band.slower.latency.queue.mean.ci_high"] <= 0.1
    assert r["capacity_band.slower.n"] == 5 and _servers(r) >= _servers(res.best)


def test_bisection_learns_from_verdicts_it_did_not_ask_for():
    b = Bisection(1, 64)
    b.learn(30, True)                     # the top need not be tried
    b.learn(10, False)
    while (v := b.probe()) is not None:
        assert 11 <= v <= 30
        b.update(v, v >= 17)
    assert b.answer == 17 and b.probes <= math.ceil(math.log2(20))
    top = Bisection(1, 8)
    top.learn(8, False)                   # the top fails: no answer, without a probe
    assert top.probe() is None and top.answer is None


# ---------------------------------------------------------------- stored runs

class Refuses:
    """A runner that fails every point: what a rerun asks of it must all come from the store."""

    scales_capacity = True

    def __call__(self, scenario, seed, capacity=1.0):
        raise RuntimeError(f"ran at capacity {capacity}")


def test_the_bands_runs_are_stored_apart_and_reused(tmp_path):
    kw = dict(constraints=["latency.queue.mean<=0.1"], overrides=["workload.arrival.rate=2"], executor="serial")
    plain = plan(BASE, ["fleet.pools.0.replicas=1..16"], runner=MMcRunner(service_s=1.0005), out=tmp_path, **kw)
    banded = plan(BASE, ["fleet.pools.0.replicas=1..16"], runner=MMcRunner(service_s=1.0005), out=tmp_path,
                  capacity_band=3, **kw)
    again = plan(BASE, ["fleet.pools.0.replicas=1..16"], runner=Refuses(), out=tmp_path, capacity_band=3, **kw)
    assert again.best["overrides"] == banded.best["overrides"] == plain.best["overrides"]
    assert again.robust["overrides"] == banded.robust["overrides"] != plain.best["overrides"]
    other = plan(BASE, ["fleet.pools.0.replicas=1..16"], runner=Refuses(), out=tmp_path, capacity_band=5, **kw)
    assert other.robust is None and "ran at capacity 0.95" in other.robust_groups[0]["capacity_band.slower.error"]
    assert other.best["overrides"] == plain.best["overrides"]       # its capacity-1 runs are the stored ones


# ---------------------------------------------------------------- the simulator: Pollaczek–Khinchine

def md1_rate(capacity: float, wait_s: float, service_s: float = 1.0) -> float:
    d = service_s / capacity
    return 2 * wait_s / (d * (d + 2 * wait_s))


def test_saturation_band_on_the_simulator_matches_pollaczek_khinchine():
    sc = queue_scenario(lam=0.5, duration=4 * 3600.0, warmup=600.0)
    sc["slo"] = {"ttft_s": 1000.0, "tpot_s": 1000.0}
    res = saturation(sc, attainment=0.5, constraints=["latency.queue.mean<=2"], rel_tol=0.01, executor="serial",
                     capacity_band=3)
    for lo, hi, cap in ((res.rate, res.upper, 1.0), *((res.band[s]["rate"], res.band[s]["upper"], c)
                                                       for s, c in (("slower", 0.97), ("faster", 1.03)))):
        # one 4-hour run's mean wait is within a few per cent; near rho = 0.8 that moves the rate ~1 %
        assert lo * 0.97 <= md1_rate(cap, 2.0) <= hi * 1.03, cap
    assert res.band["slower"]["rate"] < res.rate < res.band["faster"]["rate"]


# ---------------------------------------------------------------- the command line, executors, determinism

def _mmc(tmp_path: Path, rate: float = 2.0) -> Path:
    return mmc_scenario_file(tmp_path, rate, duration="10m")


PLAN = ["--vary", "fleet.pools.0.replicas=1..8", "--constraint", "latency.queue.mean<=0.1", "--quiet"]


@pytest.mark.parametrize("command,extra", [("plan", PLAN), ("saturation", ["--quiet"])])
@pytest.mark.parametrize("value", ["0", "-3", "60", "abc", "nan"])
def test_a_bad_band_exits_2_naming_the_flag(tmp_path, capsys, command, extra, value):
    with pytest.raises(SystemExit) as exc:
        main([command, str(_mmc(tmp_path)), *extra, "--out", str(tmp_path / "o"), "--capacity-band", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--capacity-band" in err and "at most 50" in err and "Traceback" not in err


def test_the_python_api_names_its_argument_and_needs_a_runner_that_scales():
    with pytest.raises(InputError, match="capacity_band: give a percentage"):
        plan(BASE, ["fleet.pools.0.replicas=1..4"], runner=MMcRunner(service_s=1.0), capacity_band=0)
    with pytest.raises(InputError, match="capacity_band: needs the simulator"):
        saturation(BASE, runner=lambda sc, seed: {}, capacity_band=3, executor="serial")


def test_plan_says_plainly_when_the_robust_answer_differs(tmp_path, capsys):
    path = _mmc(tmp_path)
    code = main(["plan", str(path), *PLAN, "--set", "duration=1h", "--executor", "serial", "--capacity-band",
                 "--out", str(tmp_path / "p")])
    out, err = capsys.readouterr()
    assert code == 0
    data = json.loads((tmp_path / "p" / "plan.json").read_text())
    point, robust = (int(data[k]["overrides"][0].split("=")[1]) for k in ("best", "robust"))
    assert (point, robust) == (4, 5)                 # Erlang C: 4 and 5 servers (see the analytic test)
    assert data["capacity_band"] == {"pct": 3.0, "capacity": 0.97}
    assert "with capacity 3 % lower than modelled you need: fleet.pools.0.replicas=5" in out
    table = out.splitlines()
    assert any(line.split()[:2] == ["4", "point"] and "at -3 %: " in line for line in table)   # (a column per knob)
    assert any(line.split()[:2] == ["5", "robust"] for line in table)
    assert "at two capacities (1 and 0.97)" in err


def test_saturation_prints_the_rate_with_its_range(tmp_path, capsys):
    path = _mmc(tmp_path, 0.5)     # TTFT <= 10 s for 99 %: M/M/1 sojourn, P(T > 10) = exp(-10 (1 - rate))
    assert main(["saturation", str(path), "--quiet", "--executor", "serial", "--capacity-band", "10",
                 "--set", "slo.ttft_s=10", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "s" / "saturation.json").read_text())
    b = data["capacity_band"]
    line = next(l for l in out.splitlines() if l.startswith("saturation rate:"))
    assert line.startswith(f"saturation rate: {data['rate']:.4g} req/s ({b['slower']['rate']:.4g} – "
                           f"{b['faster']['rate']:.4g} at ±10 % capacity; fails at")
    assert b["pct"] == 10 and b["slower"]["capacity"] == 0.9 and b["faster"]["capacity"] == 1.1
    assert {p.get("capacity", 1.0) for p in data["probes"]} == {1.0}
    rows = (tmp_path / "s" / "saturation.csv").read_text().splitlines()
    assert len(rows) == 1 + len(data["probes"]) + len(b["slower"]["probes"]) + len(b["faster"]["probes"])


def _tables(folder: Path, names) -> dict:
    return {n: (folder / n).read_bytes() for n in names}


def test_same_seed_same_bytes_and_every_executor_agrees(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    # 3 minutes, not 10: the tables are compared byte for byte across executors, which holds at any horizon;
    # the plan still evaluates 4 fleet sizes and the saturation search 9 probe rates (10 at 10 minutes)
    path = mmc_scenario_file(tmp_path, 2.0, duration="3m")
    got = {}

    def plan_and_saturation(ex: str, how: list[str]) -> None:
        out = tmp_path / f"{ex}-{len(got)}"
        assert main(["plan", str(path), *PLAN, "--seeds", "2", "--executor", ex, *how,
                     "--capacity-band", "--no-figures", "--out", str(out / "plan")]) == 0
        assert main(["saturation", str(path), "--quiet", "--seeds", "2", "--executor", ex, *how,
                     "--capacity-band", "--set", "slo.ttft_s=10", "--out", str(out / "sat")]) == 0
        got[f"{ex}-{len(got)}"] = {**_tables(out / "plan", ("plan.json", "plan.csv")),
                                   **_tables(out / "sat", ("saturation.json", "saturation.csv"))}

    for ex in ("serial", "local", "dask", "serial"):
        if ex != "dask":
            plan_and_saturation(ex, ["--workers", "2"])
            continue
        # both commands on one cluster, the one the executor starts without --scheduler (two single-threaded
        # worker processes), reached by --scheduler: one cluster start where each command made its own (~2.3 CPU
        # s); the executor starting its own LocalCluster is test_planning_sweep's dask test
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster:
            plan_and_saturation(ex, ["--scheduler", cluster.scheduler_address])
    first = next(iter(got.values()))
    for name, tables in got.items():
        assert tables == first, name
    capsys.readouterr()


# ---------------------------------------------------------------- fidelity: fluid

def test_the_fluid_tiers_saturation_band_reads_one_measured_curve(monkeypatch, tmp_path_factory):
    from sim.fluid import capacity as capacity_mod
    from test_capacity_band_fluid import _steady

    monkeypatch.setenv("FLEETSIM_CACHE", str(curve_cache(tmp_path_factory)))
    sc = _steady(6.0, hours=2.0)
    sc["fidelity"] = "fluid"
    # a coarse curve (what is checked is that it is measured once and read rescaled on each side)
    sc["fluid"] = {"grid": [0.2, 0.5, 0.8, 0.9], "calibration_duration": 120, "calibration_requests": 500}
    measured = []
    real = capacity_mod.measure_curve
    monkeypatch.setattr(capacity_mod, "measure_curve", lambda *a, **k: measured.append(1) or real(*a, **k))
    res = saturation(copy.deepcopy(sc), executor="serial", capacity_band=5, rel_tol=0.02)
    assert len(measured) <= 1                 # at most once (the curve has no rate in it), then read rescaled

    probe = res.band["slower"]["probes"][0]
    alone = sim.run(copy.deepcopy(sc), overrides=[f"workload.arrival.rate={probe['rate']}"], capacity=0.95).summary
    assert probe["slo.attainment.mean"] == alone["slo"]["attainment"]
    assert res.band["slower"]["rate"] < res.rate < res.band["faster"]["rate"]


# ---------------------------------------------------------------- the report pages

def test_the_plan_and_saturation_pages_show_the_band(tmp_path):
    from sim.report import write_report

    kw = dict(constraints=["latency.queue.mean<=0.1"], overrides=["workload.arrival.rate=2"], executor="serial",
              runner=MMcRunner(service_s=1.0005), capacity_band=3)
    plan(BASE, ["fleet.pools.0.replicas=1..16"], out=tmp_path / "p", **kw)
    page = write_report(tmp_path / "p").read_text()
    assert "With capacity 3 % lower than modelled you need:</b> fleet.pools.0.replicas=5 (robust)" in page
    assert "<th>feasible at −3\u00a0%</th>" in page and "<th>queue wait mean at −3\u00a0%</th>" in page
    res = saturation(BASE, runner=MMcRunner(service_s=0.2), overrides=["fleet.pools.0.replicas=4"],
                     executor="serial", capacity_band=3, out=tmp_path / "s")
    page = write_report(tmp_path / "s").read_text()
    assert (f"{res.rate:.4g} req/s</b> ({res.band['slower']['rate']:.4g} – {res.band['faster']['rate']:.4g} "
            f"at ±3 % capacity)") in page
    assert "<th>capacity</th>" in page


def test_a_damaged_band_in_a_plan_folder_is_named(tmp_path, capsys):
    plan(BASE, ["fleet.pools.0.replicas=1..4"], constraints=["latency.queue.mean<=0.1"], executor="serial",
         runner=MMcRunner(service_s=1.0), capacity_band=3, out=tmp_path, figures=False)
    data = json.loads((tmp_path / "plan.json").read_text())
    data["robust"] = "five replicas"
    (tmp_path / "plan.json").write_text(json.dumps(data))
    assert main(["report", str(tmp_path)]) == 2
    assert "robust: expected an object, got" in capsys.readouterr().err


def test_a_saturation_whose_point_sustains_no_rate_ends_its_band_where_the_point_ended():
    """A bound no rate meets (p99 TTFT at most 0.01 s, where the 0.2 s exponential service alone has
    a p99 of 0.92 s): the point halves its rate for all its probes; each side starts at that lowest
    rate scaled and goes no lower. Its widening steps squared past every float to a rate of
    0 req/s, which the run refused as bad input (exit 2 from the command)."""
    res = saturation(BASE, runner=MMcRunner(service_s=0.2), capacity_band=5.0,
                     constraints=["latency.ttft.p99<=0.01"],
                     overrides=["fleet.pools.0.replicas=4"], executor="serial", max_probes=12)
    assert res.rate is None and len(res.probes) == 12
    lowest = min(p["rate"] for p in res.probes)
    for side, cap in (("slower", 0.95), ("faster", 1.05)):
        b = res.band[side]
        assert b["rate"] is None and [p["rate"] for p in b["probes"]] == [float(f"{cap * lowest:.6g}")], side
